// access-audit: the data-exposure playbook's investigation. Who could reach a
// resource (RBAC resolved here and checked against the API server's own
// SubjectAccessReview decisions), who did (the audit log), and since when
// (the object's timeline). It changes nothing on the cluster.
#pragma once

#include "audit_log.hpp"
#include "rbac.hpp"
#include "who_could.hpp"

#include "ir/driver/step.hpp"

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace ir::steps::access_audit {

// Written by rotate-secret on the Secrets it rotates.
inline constexpr std::string_view rotated_at_annotation = "irsteps.io/rotated-at";

struct Options : CommonOptions {
  // One target, or one per --name: the same TYPE in the same namespace.
  std::vector<Target> targets;
  std::vector<std::string> verbs;
  std::vector<std::string> audit_logs;  // files, folders, "-" for stdin
  // --audit-log-artifact: where Argo puts the input artifact audit-log
  // (workflows/argo/steps.yaml). When it exists it is one of audit_logs;
  // when it does not, the artifact was not given, which is no error.
  std::string audit_log_artifact;
  bool audit_log_artifact_absent = false;
  std::optional<TimePoint> since;
  std::optional<TimePoint> until;
  bool offline = false;  // the audit log only: no cluster
  int sar_sample = 5;
  std::size_t max_accesses = 1000;
};

// "secrets/db", "secret/db", "deployments.apps/web", "pods/web/log",
// "secrets" (the whole collection); plus the namespace.
[[nodiscard]] Result<Target> parse_target(std::string_view resource, std::string_view ns);
// RFC 3339, or a duration back from `reference` ("24h").
[[nodiscard]] Result<TimePoint> parse_time_bound(std::string_view text, TimePoint reference);

[[nodiscard]] Result<Options> options_from(const json::object& params);
[[nodiscard]] Result<void> run(const Options& options, Context& context);
[[nodiscard]] const StepDef& step();

// Who did: each access (up to a limit) and a summary per user of all of them.
struct UserSummary {
  std::string user;
  std::uint64_t count = 0;
  std::uint64_t denied = 0;
  std::map<std::string, std::uint64_t> verbs;
  std::set<std::string> groups;
  std::set<std::string> user_agents;
  std::set<std::string> source_ips;
  TimePoint first;
  std::string first_text;
  TimePoint last;
  std::string last_text;
};

class AccessLog {
 public:
  explicit AccessLog(std::size_t max_accesses) : max_accesses_(max_accesses) {}
  void add(const AuditEvent& event);
  [[nodiscard]] std::uint64_t total() const { return total_; }
  [[nodiscard]] std::uint64_t omitted() const { return total_ - accesses_.size(); }
  [[nodiscard]] const std::map<std::string, UserSummary>& users() const { return users_; }
  [[nodiscard]] const std::vector<AuditEvent>& changes() const { return changes_; }
  [[nodiscard]] json::array accesses_json() const;
  [[nodiscard]] json::array users_json() const;

 private:
  std::size_t max_accesses_;
  std::uint64_t total_ = 0;
  std::vector<AuditEvent> accesses_;
  std::vector<AuditEvent> changes_;  // writes on the object, for the timeline (bounded like accesses)
  std::map<std::string, UserSummary> users_;
};

// Since when: creation, managedFields, rotation, audited changes, and the
// first and last access of each user, oldest first. `object` is the target's
// metadata (PartialObjectMetadata), absent when unknown.
[[nodiscard]] json::array build_timeline(const json::object* object, const AccessLog& log);

}  // namespace ir::steps::access_audit
