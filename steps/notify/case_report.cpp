#include "case_report.hpp"

namespace ir::steps::notify {
namespace {

std::string target_text(const json::value& target) {
  const std::string kind = string_at(target, {"kind"});
  const std::string ns = string_at(target, {"namespace"});
  const std::string name = string_at(target, {"name"});
  return kind + " " + (ns.empty() ? "" : ns + "/") + name;
}

std::string short_commit(const std::string& commit) {
  return commit.substr(0, 12);
}

std::string when_of(const record::Entry& entry) {
  const std::string started = string_at(entry.document, {"startTime"});
  return started.empty() ? entry.committed : started;
}

}  // namespace

CaseSections case_sections(const std::vector<record::Entry>& entries) {
  CaseSections sections;
  for (const auto& entry : entries) {
    const auto& doc = entry.document;
    const std::string step = string_at(doc, {"step"}, "unknown step");
    const std::string status = string_at(doc, {"status"}, "unknown");
    const auto* actions = find(doc, {"actions"});
    const auto* evidence = find(doc, {"evidence"});
    const bool dry_run = find(doc, {"dryRun"}) != nullptr && find(doc, {"dryRun"})->is_bool() &&
                         find(doc, {"dryRun"})->get_bool();
    std::string line = "- " + when_of(entry) + "  " + step + " " + status + (dry_run ? " (dry run)" : "") +
                       ", by " + entry.author + " (record " + entry.path + ", commit " +
                       short_commit(entry.commit) + ")";
    if (const std::string error = string_at(doc, {"error", "message"}); !error.empty()) line += ": " + error;
    sections.timeline += (sections.timeline.empty() ? "" : "\n") + line;

    std::string done;
    if (actions != nullptr && actions->is_array()) {
      for (const auto& action : actions->get_array()) {
        const bool action_dry = find(action, {"dryRun"}) != nullptr && find(action, {"dryRun"})->is_bool() &&
                                find(action, {"dryRun"})->get_bool();
        std::string item = "- " + when_of(entry) + "  " + step + ": " + string_at(action, {"verb"}) + " ";
        if (const auto* target = find(action, {"target"}); target != nullptr) item += target_text(*target);
        if (const std::string detail = string_at(action, {"detail"}); !detail.empty()) item += " — " + detail;
        if (action_dry) item += " (dry run, nothing changed)";
        item += "; by " + entry.author;
        done += (done.empty() ? "" : "\n") + item;
      }
    }
    if (evidence != nullptr && evidence->is_array() && !evidence->get_array().empty()) {
      std::string header = "- " + when_of(entry) + "  " + step + ": evidence collected by " + entry.author;
      done += (done.empty() ? "" : "\n") + header;
      for (const auto& item : evidence->get_array()) {
        done += "\n    " + string_at(item, {"path"}) + "  sha256:" + string_at(item, {"sha256"}) +
                (string_at(item, {"status"}, "complete") == "complete"
                     ? ""
                     : " (" + string_at(item, {"status"}) + ")");
      }
    }
    if (!done.empty()) sections.response_actions += (sections.response_actions.empty() ? "" : "\n") + done;
  }
  if (sections.timeline.empty()) sections.timeline = "(the case record holds no records of this incident)";
  if (sections.response_actions.empty()) {
    sections.response_actions = "(the case record holds no actions of this incident)";
  }
  return sections;
}

}  // namespace ir::steps::notify
