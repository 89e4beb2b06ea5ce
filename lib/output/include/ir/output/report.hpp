// The result document every step prints on stdout (schemas/result.schema.json)
// and its other renderings: --outputs-dir files for Argo's valueFrom.path and,
// under GitHub Actions, GITHUB_OUTPUT, a Markdown job summary and ::error
// annotations.
#pragma once

#include "ir/core/error.hpp"
#include "ir/core/json.hpp"
#include "ir/core/time.hpp"

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace ir {

// What a step did (or, under --dry-run, would do) to one API object.
struct Action {
  std::string verb;     // "apply", "patch", "create", "delete", "label", ...
  json::object target;  // apiVersion, kind, namespace, name, uid when known
  std::string detail;
  bool dry_run = false;
  // The exact request (method, path, body) for --dry-run output.
  std::optional<json::object> request;
};

struct EvidenceItem {
  std::string path;
  std::string sha256;
  std::uint64_t size = 0;
  std::string status = "complete";
};

enum class Status { succeeded, failed, rejected, partial };

// 128 random bits as 32 hex digits: a run's id.
[[nodiscard]] std::string random_run_id();

class Report {
 public:
  Report(std::string step, std::string version) : step_(std::move(step)), version_(std::move(version)) {}

  void set_incident(std::string id) { incident_ = std::move(id); }
  void set_dry_run(bool dry_run) { dry_run_ = dry_run; }
  void add_action(Action action) { actions_.push_back(std::move(action)); }
  // Outputs are strings, as Argo parameters are; set again to replace.
  void set_output(const std::string& name, std::string value);
  void add_evidence(EvidenceItem item) { evidence_.push_back(std::move(item)); }
  void add_warning(std::string warning) { warnings_.push_back(std::move(warning)); }
  // Partial success: the driver then exits 1 with every item still reported.
  void mark_partial() { status_ = Status::partial; }
  void finish(Status status, const std::optional<Error>& error = std::nullopt);

  [[nodiscard]] const std::vector<Action>& actions() const { return actions_; }
  [[nodiscard]] const std::vector<std::pair<std::string, std::string>>& outputs() const { return outputs_; }
  [[nodiscard]] const std::vector<std::string>& warnings() const { return warnings_; }
  [[nodiscard]] Status status() const { return status_; }
  [[nodiscard]] const std::string& step() const { return step_; }
  [[nodiscard]] json::object to_json() const;
  [[nodiscard]] const std::string& run_id() const { return run_id_; }

 private:
  std::string step_;
  std::string version_;
  std::string incident_;
  // Tells this run apart from any other, even one with the same step,
  // incident, times to the millisecond and result (two case records).
  std::string run_id_ = random_run_id();
  bool dry_run_ = false;
  TimePoint started_ = now();
  TimePoint finished_ = started_;
  Status status_ = Status::succeeded;
  std::optional<Error> error_;
  std::vector<Action> actions_;
  std::vector<std::pair<std::string, std::string>> outputs_;
  std::vector<EvidenceItem> evidence_;
  std::vector<std::string> warnings_;
};

[[nodiscard]] std::string_view status_name(Status status);

// One file per output, written atomically, for `valueFrom.path`.
[[nodiscard]] Result<void> write_outputs_dir(const Report& report, const std::string& dir);

// GitHub Actions: outputs appended to GITHUB_OUTPUT (heredoc form, safe for
// any value), a Markdown summary appended to GITHUB_STEP_SUMMARY.
[[nodiscard]] Result<void> write_github_outputs(const Report& report, const std::string& output_file,
                                                const std::string& summary_file);
[[nodiscard]] std::string github_summary_markdown(const Report& report);
// "::error title=...::message" with the escaping GitHub's runner requires.
[[nodiscard]] std::string github_annotation(std::string_view level, std::string_view title,
                                            std::string_view message);

}  // namespace ir
