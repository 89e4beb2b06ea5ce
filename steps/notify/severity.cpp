#include "severity.hpp"

#include "ir/core/encoding.hpp"

#include <algorithm>
#include <cctype>

namespace ir::steps::notify {
namespace {

using std::chrono::hours;
using std::chrono::minutes;

const std::vector<SeverityLevel>& levels() {
  static const std::vector<SeverityLevel> table = {
      {Severity::critical,
       "critical",
       "Critical",
       minutes(15),
       "critical",
       "on-call-engineer",
       {"security-lead", "ciso", "ceo"},
       "Immediate",
       minutes(0)},
      {Severity::high,
       "high",
       "High",
       hours(1),
       "error",
       "on-call-engineer",
       {"security-lead", "ciso"},
       "1 hour",
       hours(1)},
      {Severity::medium,
       "medium",
       "Medium",
       hours(4),
       "warning",
       "team-lead",
       {"security-lead"},
       "Daily summary",
       std::nullopt},
      {Severity::low,
       "low",
       "Low",
       hours(24),
       "info",
       "assigned-engineer",
       {"team-lead"},
       "Weekly summary",
       std::nullopt},
  };
  return table;
}

}  // namespace

const SeverityLevel& level_of(Severity severity) {
  return levels()[static_cast<std::size_t>(severity)];
}

Result<Severity> parse_severity(std::string_view text) {
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (const auto& level : levels()) {
    if (level.id == lower) return level.severity;
  }
  return invalid("unknown severity '" + std::string(text) + "': use critical, high, medium or low");
}

const std::vector<std::string_view>& all_roles() {
  static const std::vector<std::string_view> roles = {
      "on-call-engineer", "team-lead", "assigned-engineer", "security-lead", "ciso", "ceo", executives_role};
  return roles;
}

std::vector<std::string> roles_to_notify(Severity severity) {
  const auto& level = level_of(severity);
  std::vector<std::string> roles{std::string(level.initial_responder)};
  for (const auto role : level.escalation_path) roles.emplace_back(role);
  if (level.executives_within && level.executives_within->count() == 0) roles.emplace_back(executives_role);
  return roles;
}

json::array escalation_plan(Severity severity, TimePoint at) {
  const auto& level = level_of(severity);
  json::array plan;
  for (const auto& role : roles_to_notify(severity))
    plan.push_back(json::object{{"role", role}, {"notify", "now"}});
  if (!level.executives_within) {
    plan.push_back(json::object{{"role", executives_role}, {"notify", level.executive_notify}});
  } else if (level.executives_within->count() > 0) {
    plan.push_back(json::object{{"role", executives_role},
                                {"notify", "by " + format_utc(at + *level.executives_within)}});
  }
  return plan;
}

std::vector<RegulatoryDeadline> regulatory_deadlines(const std::vector<DataClass>& classes,
                                                     TimePoint detected) {
  std::vector<RegulatoryDeadline> deadlines;
  for (const auto data_class : classes) {
    RegulatoryDeadline deadline{};
    switch (data_class) {
      case DataClass::pci:
        deadline = {"pci", "PCI DSS", "the payment brands", hours(24), {}};
        break;
      case DataClass::personal:
        deadline = {"personal", "GDPR", "the supervisory authority", hours(72), {}};
        break;
      case DataClass::phi:
        deadline = {"phi", "HIPAA", "HHS", hours(24 * 60), {}};
        break;
    }
    deadline.due = detected + deadline.within;
    const bool seen = std::any_of(deadlines.begin(), deadlines.end(),
                                  [&](const auto& d) { return d.data_class == deadline.data_class; });
    if (!seen) deadlines.push_back(deadline);
  }
  std::sort(deadlines.begin(), deadlines.end(), [](const auto& a, const auto& b) { return a.due < b.due; });
  return deadlines;
}

json::array deadlines_json(const std::vector<RegulatoryDeadline>& deadlines) {
  json::array list;
  for (const auto& d : deadlines) {
    list.push_back(json::object{{"dataClass", d.data_class},
                                {"regulation", d.regulation},
                                {"notify", d.notify},
                                {"withinHours", d.within.count()},
                                {"due", format_utc(d.due)}});
  }
  return list;
}

std::string deadlines_text(const std::vector<RegulatoryDeadline>& deadlines) {
  std::string text;
  for (const auto& d : deadlines) {
    const auto hours_count = d.within.count();
    const std::string within = hours_count % 24 == 0 && hours_count > 72
                                   ? std::to_string(hours_count / 24) + " days"
                                   : std::to_string(hours_count) + " hours";
    text += (text.empty() ? "" : "\n") + std::string("- ") + std::string(d.regulation) + ": notify " +
            std::string(d.notify) + " by " + format_utc(d.due) + " (within " + within + " of detection)";
  }
  return text;
}

std::string dedup_key(std::string_view incident_id, std::string_view target) {
  std::string key = "irsteps/" + std::string(incident_id);
  if (!target.empty()) key += "/" + std::string(target);
  if (key.size() <= max_dedup_key) return key;
  // Still stable, still naming the incident: the target's hash instead.
  return "irsteps/" + std::string(incident_id) + "/sha256:" + sha256_hex(target);
}

}  // namespace ir::steps::notify
