// The playbooks' incident classification as data: the four severity levels
// with their response times, the escalation matrix, the PagerDuty severity
// each maps to, and the regulators' notification deadlines by data class.
#pragma once

#include "notify.hpp"

#include <string_view>
#include <vector>

namespace ir::steps::notify {

struct SeverityLevel {
  Severity severity;
  std::string_view id;    // "critical"
  std::string_view name;  // "Critical"
  std::chrono::minutes response_time;
  std::string_view pagerduty;  // critical, error, warning, info
  std::string_view initial_responder;
  std::vector<std::string_view> escalation_path;
  std::string_view executive_notify;  // as the matrix says it
  // When executives must hear of it: zero means now; nullopt means they get
  // the periodic summary instead of a message of their own.
  std::optional<std::chrono::minutes> executives_within;
};

[[nodiscard]] const SeverityLevel& level_of(Severity severity);
[[nodiscard]] Result<Severity> parse_severity(std::string_view text);

inline constexpr std::string_view executives_role = "executives";
[[nodiscard]] const std::vector<std::string_view>& all_roles();

// The roles to notify now: the initial responder and the escalation path,
// and the executives when the matrix says "Immediate".
[[nodiscard]] std::vector<std::string> roles_to_notify(Severity severity);

// The escalation matrix for one severity with its times resolved, as JSON:
// [{"role":"ciso","notify":"now"}, {"role":"executives","notify":"by 2026-..."}].
[[nodiscard]] json::array escalation_plan(Severity severity, TimePoint at);

struct RegulatoryDeadline {
  std::string_view data_class;  // "pci"
  std::string_view regulation;  // "PCI DSS"
  std::string_view notify;      // "the payment brands"
  std::chrono::hours within;
  TimePoint due;
};
[[nodiscard]] std::vector<RegulatoryDeadline> regulatory_deadlines(const std::vector<DataClass>& classes,
                                                                   TimePoint detected);
[[nodiscard]] json::array deadlines_json(const std::vector<RegulatoryDeadline>& deadlines);
[[nodiscard]] std::string deadlines_text(const std::vector<RegulatoryDeadline>& deadlines);

// PagerDuty's dedup_key: the same for every run about the same incident and
// target, so a retried trigger never pages twice and a resolve finds it.
inline constexpr std::size_t max_dedup_key = 255;
[[nodiscard]] std::string dedup_key(std::string_view incident_id, std::string_view target);

}  // namespace ir::steps::notify
