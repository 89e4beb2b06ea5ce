#include "case_report.hpp"

#include "ir/core/time.hpp"

#include <algorithm>

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

struct Line {
  TimePoint time;
  std::string text;
};

// A time that cannot be read sorts as `otherwise`.
TimePoint time_of(const std::string& text, TimePoint otherwise) {
  auto parsed = parse_utc(text);
  return parsed ? *parsed : otherwise;
}

std::string exposure_event_text(const json::value& event) {
  const std::string kind = string_at(event, {"event"});
  const std::string user = string_at(event, {"user"});
  if (kind == "created") return "created";
  if (kind == "rotated") return "rotated by " + string_at(event, {"by"}, "rotate-secret");
  if (kind == "first-access") return "first access by " + user;
  if (kind == "last-access") return "last access by " + user;
  if (kind == "fields-managed") {
    return "written by " + string_at(event, {"manager"}, "an unnamed manager") + " (" +
           string_at(event, {"operation"}) + ")";
  }
  if (kind.starts_with("audited-")) {
    std::string text = kind.substr(8) + " by " + user;
    if (const auto* code = find(event, {"code"}); code != nullptr && code->is_int64()) {
      text += " (HTTP " + std::to_string(code->get_int64()) + ")";
    }
    return text;
  }
  return kind;
}

// At most this many lines of one access-audit record's exposure timeline go
// into the report: the earliest and the latest half each, with a line that
// says how many are left out and where they are. A Secret read by thousands
// of users would otherwise crowd out the rest of the report.
constexpr std::size_t max_exposure_lines = 40;

// access-audit's exposure timeline (creation, writes, rotation, the first
// and last access of each user) as lines of the incident's timeline.
void add_exposure(std::vector<Line>& lines, const record::Entry& entry) {
  const auto* timeline = find(entry.document, {"outputs", "timeline"});
  if (timeline == nullptr || !timeline->is_string()) return;
  auto events = parse_json(std::string(timeline->get_string()), "timeline");
  if (!events || !events->is_array()) return;
  const std::string resource = string_at(entry.document, {"outputs", "resource"}, "the audited resource");
  const TimePoint recorded = time_of(when_of(entry), TimePoint::max());
  const std::string source = " (exposure timeline of access-audit, record " + entry.path + ")";
  std::vector<Line> exposure;
  for (const auto& event : events->get_array()) {
    const std::string when = string_at(event, {"time"});
    // A run over several objects names each event's own.
    const std::string about = string_at(event, {"resource"}, resource);
    exposure.push_back(
        {time_of(when, recorded), "- " + when + "  " + about + ": " + exposure_event_text(event) + source});
  }
  std::stable_sort(exposure.begin(), exposure.end(),
                   [](const Line& a, const Line& b) { return a.time < b.time; });
  if (exposure.size() > max_exposure_lines) {
    const std::size_t half = max_exposure_lines / 2;
    const std::size_t left_out = exposure.size() - 2 * half;
    Line marker{exposure[half - 1].time, "- ...  " + resource + ": " + std::to_string(left_out) +
                                             " more events left out here; all are in record " + entry.path};
    exposure.erase(exposure.begin() + static_cast<std::ptrdiff_t>(half),
                   exposure.end() - static_cast<std::ptrdiff_t>(half));
    exposure.insert(exposure.begin() + static_cast<std::ptrdiff_t>(half), std::move(marker));
  }
  for (auto& line : exposure) lines.push_back(std::move(line));
}

}  // namespace

CaseSections case_sections(const std::vector<record::Entry>& entries) {
  CaseSections sections;
  std::vector<Line> timeline;
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
    timeline.push_back({time_of(when_of(entry), TimePoint::max()), std::move(line)});
    if (step == "access-audit") add_exposure(timeline, entry);

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
  // In the order things happened: the exposure began long before the
  // response. Lines of the same time keep the order of the records.
  std::stable_sort(timeline.begin(), timeline.end(),
                   [](const Line& a, const Line& b) { return a.time < b.time; });
  for (const auto& line : timeline) sections.timeline += (sections.timeline.empty() ? "" : "\n") + line.text;
  if (sections.timeline.empty()) sections.timeline = "(the case record holds no records of this incident)";
  if (sections.response_actions.empty()) {
    sections.response_actions = "(the case record holds no actions of this incident)";
  }
  return sections;
}

}  // namespace ir::steps::notify
