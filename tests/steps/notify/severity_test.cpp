// The playbooks' severity model, escalation matrix, regulatory deadlines and
// the PagerDuty dedup key.
#include "severity.hpp"

#include "support/catch.hpp"

using namespace ir;
using namespace ir::steps::notify;
using namespace std::chrono_literals;

TEST_CASE("severity levels carry the playbooks' response times and PagerDuty severities", "[unit][notify]") {
  CHECK(level_of(Severity::critical).response_time == 15min);
  CHECK(level_of(Severity::high).response_time == 1h);
  CHECK(level_of(Severity::medium).response_time == 4h);
  CHECK(level_of(Severity::low).response_time == 24h);
  CHECK(level_of(Severity::critical).pagerduty == "critical");
  CHECK(level_of(Severity::high).pagerduty == "error");
  CHECK(level_of(Severity::medium).pagerduty == "warning");
  CHECK(level_of(Severity::low).pagerduty == "info");
  CHECK(parse_severity("Critical").value() == Severity::critical);
  CHECK(parse_severity("LOW").value() == Severity::low);
  auto bad = parse_severity("urgent");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().code() == Code::invalid_input);
}

TEST_CASE("the escalation matrix decides who is notified now and who later", "[unit][notify]") {
  using V = std::vector<std::string>;
  CHECK(roles_to_notify(Severity::critical) ==
        V{"on-call-engineer", "security-lead", "ciso", "ceo", "executives"});
  CHECK(roles_to_notify(Severity::high) == V{"on-call-engineer", "security-lead", "ciso"});
  CHECK(roles_to_notify(Severity::medium) == V{"team-lead", "security-lead"});
  CHECK(roles_to_notify(Severity::low) == V{"assigned-engineer", "team-lead"});

  const auto at = parse_utc("2026-11-26T10:00:00Z").value();
  const auto high = escalation_plan(Severity::high, at);
  REQUIRE(high.size() == 4);
  CHECK(string_at(high.back(), {"role"}) == "executives");
  CHECK(string_at(high.back(), {"notify"}) == "by 2026-11-26T11:00:00Z");
  const auto medium = escalation_plan(Severity::medium, at);
  CHECK(string_at(medium.back(), {"notify"}) == "Daily summary");
  const auto low = escalation_plan(Severity::low, at);
  CHECK(string_at(low.back(), {"notify"}) == "Weekly summary");
}

TEST_CASE("regulatory deadlines count from detection: PCI 24 h, GDPR 72 h, HIPAA 60 days", "[unit][notify]") {
  const auto detected = parse_utc("2026-11-26T10:00:00Z").value();
  const auto deadlines =
      regulatory_deadlines({DataClass::phi, DataClass::personal, DataClass::pci, DataClass::pci}, detected);
  REQUIRE(deadlines.size() == 3);  // sorted by due time, duplicates once
  CHECK(deadlines[0].regulation == "PCI DSS");
  CHECK(format_utc(deadlines[0].due) == "2026-11-27T10:00:00Z");
  CHECK(deadlines[1].regulation == "GDPR");
  CHECK(format_utc(deadlines[1].due) == "2026-11-29T10:00:00Z");
  CHECK(deadlines[2].regulation == "HIPAA");
  CHECK(format_utc(deadlines[2].due) == "2027-01-25T10:00:00Z");
  const std::string text = deadlines_text(deadlines);
  CHECK(text.find("HHS by 2027-01-25T10:00:00Z (within 60 days of detection)") != std::string::npos);
  CHECK(text.find("payment brands by 2026-11-27T10:00:00Z (within 24 hours") != std::string::npos);
  CHECK(string_at(deadlines_json(deadlines)[1], {"dataClass"}) == "personal");
}

TEST_CASE("the dedup key is stable, names the incident and never exceeds 255 characters", "[unit][notify]") {
  CHECK(dedup_key("INC-2026-11-26-001", "shop/deployment/web") ==
        "irsteps/INC-2026-11-26-001/shop/deployment/web");
  CHECK(dedup_key("INC-2026-11-26-001", "") == "irsteps/INC-2026-11-26-001");
  const std::string long_target(400, 'x');
  const auto key = dedup_key("INC-2026-11-26-001", long_target);
  CHECK(key.size() <= max_dedup_key);
  CHECK(key == dedup_key("INC-2026-11-26-001", long_target));
  CHECK(key != dedup_key("INC-2026-11-26-001", long_target + "y"));
  CHECK(key.rfind("irsteps/INC-2026-11-26-001/", 0) == 0);
}
