#include "ir/output/report.hpp"

#include "ir/core/encoding.hpp"

#include <openssl/rand.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>

namespace ir {

std::string_view status_name(Status status) {
  switch (status) {
    case Status::succeeded:
      return "succeeded";
    case Status::failed:
      return "failed";
    case Status::rejected:
      return "rejected";
    case Status::partial:
      return "partial";
  }
  return "failed";
}

void Report::set_output(const std::string& name, std::string value) {
  for (auto& [key, existing] : outputs_) {
    if (key == name) {
      existing = std::move(value);
      return;
    }
  }
  outputs_.emplace_back(name, std::move(value));
}

void Report::finish(Status status, const std::optional<Error>& error) {
  status_ = status;
  error_ = error;
  finished_ = now();
}

std::string random_run_id() {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof bytes) != 1) {
    // No randomness from OpenSSL: the clock and the process still tell runs apart.
    const auto stamp = std::to_string(now().time_since_epoch().count()) + "-" + std::to_string(::getpid());
    return sha256_hex(stamp).substr(0, 32);
  }
  return hex_encode(std::string_view(reinterpret_cast<const char*>(bytes), sizeof bytes));
}

json::object Report::to_json() const {
  json::object doc;
  doc["apiVersion"] = "irsteps.io/v1";
  doc["kind"] = "StepResult";
  doc["step"] = step_;
  doc["version"] = version_;
  doc["runId"] = run_id_;
  if (!incident_.empty()) doc["incidentId"] = incident_;
  doc["status"] = status_name(status_);
  doc["dryRun"] = dry_run_;
  doc["startTime"] = format_utc(started_, true);
  doc["endTime"] = format_utc(finished_, true);
  json::array actions;
  for (const auto& action : actions_) {
    json::object entry{{"verb", action.verb}, {"target", action.target}, {"dryRun", action.dry_run}};
    if (!action.detail.empty()) entry["detail"] = action.detail;
    if (action.request) entry["request"] = *action.request;
    actions.push_back(std::move(entry));
  }
  doc["actions"] = std::move(actions);
  json::object outputs;
  for (const auto& [name, value] : outputs_) outputs[name] = value;
  doc["outputs"] = std::move(outputs);
  json::array evidence;
  for (const auto& item : evidence_) {
    evidence.push_back(json::object{
        {"path", item.path}, {"sha256", item.sha256}, {"size", item.size}, {"status", item.status}});
  }
  doc["evidence"] = std::move(evidence);
  json::array warnings;
  for (const auto& warning : warnings_) warnings.emplace_back(warning);
  doc["warnings"] = std::move(warnings);
  if (error_) {
    doc["error"] = json::object{{"code", code_name(error_->code())},
                                {"exitCode", exit_code(error_->code())},
                                {"message", error_->describe()}};
  }
  return doc;
}

Result<void> write_outputs_dir(const Report& report, const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Error(Code::action_failed, "cannot create " + dir + ": " + ec.message()).with("outputs-dir");
  for (const auto& [name, value] : report.outputs()) {
    if (auto written = write_file_atomic(dir + "/" + name, value); !written)
      return written.error().with("outputs-dir");
  }
  return {};
}

namespace {

// The job summary is Markdown that GitHub renders: a value from a registry,
// an object name or an error message must stay text in its place
// (security review finding 13). One line: CR and LF become spaces.
std::string markdown_line(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) out += (c == '\r' || c == '\n') ? ' ' : c;
  return out;
}

// A table cell: one line, and a "|" would end the cell (GFM tables split on
// it even inside a code span unless it is escaped).
std::string markdown_cell(std::string_view text) {
  std::string out;
  for (const char c : markdown_line(text)) {
    if (c == '|') out += '\\';
    out += c;
  }
  return out;
}

// A code span that holds any backticks of the value: CommonMark ends a span
// at a run of backticks as long as the one that opened it, so the fence is
// one longer than the longest run inside, padded with spaces.
std::string markdown_code(std::string_view text) {
  std::size_t longest = 0;
  std::size_t run = 0;
  for (const char c : text) {
    run = c == '`' ? run + 1 : 0;
    longest = std::max(longest, run);
  }
  const std::string fence(longest + 1, '`');
  const std::string pad = longest > 0 ? " " : "";
  return fence + pad + markdown_cell(text) + pad + fence;
}

}  // namespace

std::string github_summary_markdown(const Report& report) {
  const auto doc = report.to_json();
  std::string md = "### irsteps " + report.step() + ": " + std::string(status_name(report.status())) + "\n\n";
  if (const auto* incident = doc.if_contains("incidentId")) {
    md += "Incident " + markdown_code(incident->get_string()) + "\n\n";
  }
  if (!report.actions().empty()) {
    md += "| action | kind | namespace | name |\n|---|---|---|---|\n";
    for (const auto& action : report.actions()) {
      const json::value target(action.target);
      md += "| " + markdown_cell(action.verb) + (action.dry_run ? " (dry run)" : "") + " | " +
            markdown_cell(string_at(target, {"kind"})) + " | " +
            markdown_cell(string_at(target, {"namespace"})) + " | " +
            markdown_cell(string_at(target, {"name"})) + " |\n";
    }
    md += "\n";
  }
  if (!report.outputs().empty()) {
    md += "| output | value |\n|---|---|\n";
    for (const auto& [name, value] : report.outputs()) {
      md += "| " + markdown_cell(name) + " | " + markdown_code(value) + " |\n";
    }
    md += "\n";
  }
  for (const auto& warning : report.warnings()) md += "> **Warning:** " + markdown_line(warning) + "\n";
  if (const auto* error = doc.if_contains("error")) {
    md += "\n**Error:** " + markdown_line(string_at(*error, {"message"})) + "\n";
  }
  return md;
}

namespace {
Result<void> append_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::app | std::ios::binary);
  out << text;
  out.flush();
  if (!out) return Error(Code::action_failed, "cannot append to " + path);
  return {};
}
}  // namespace

Result<void> write_github_outputs(const Report& report, const std::string& output_file,
                                  const std::string& summary_file) {
  if (!output_file.empty()) {
    std::string text;
    for (const auto& [name, value] : report.outputs()) {
      // A random delimiter that no value can contain, as GitHub recommends.
      unsigned char random[12];
      RAND_bytes(random, sizeof random);
      const std::string delimiter =
          "ghadelimiter_" + hex_encode(std::string_view(reinterpret_cast<char*>(random), sizeof random));
      text += name + "<<" + delimiter + "\n" + value + "\n" + delimiter + "\n";
    }
    if (auto appended = append_file(output_file, text); !appended)
      return appended.error().with("GITHUB_OUTPUT");
  }
  if (!summary_file.empty()) {
    if (auto appended = append_file(summary_file, github_summary_markdown(report)); !appended) {
      return appended.error().with("GITHUB_STEP_SUMMARY");
    }
  }
  return {};
}

std::string github_annotation(std::string_view level, std::string_view title, std::string_view message) {
  auto escape = [](std::string_view text, bool property) {
    std::string out;
    for (char c : text) {
      switch (c) {
        case '%':
          out += "%25";
          break;
        case '\r':
          out += "%0D";
          break;
        case '\n':
          out += "%0A";
          break;
        case ':':
          out += property ? "%3A" : ":";
          break;
        case ',':
          out += property ? "%2C" : ",";
          break;
        default:
          out += c;
      }
    }
    return out;
  };
  return "::" + std::string(level) + " title=" + escape(title, true) + "::" + escape(message, false);
}

}  // namespace ir
