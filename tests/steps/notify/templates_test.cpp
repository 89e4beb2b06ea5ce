// The communication templates: filled from the incident, a missing field an
// error naming it, custom templates and their syntax errors.
#include "templates.hpp"

#include "support/catch.hpp"

using namespace ir;
using namespace ir::steps::notify;

namespace {

Fields initial_fields() {
  return {{"incident-id", "INC-2026-11-26-001"},
          {"severity", "Critical"},
          {"status", "Investigating"},
          {"title", "Crypto miner in shop/web"},
          {"summary", "A miner ran in web-7d4b9."},
          {"impact", "shop web pods"},
          {"current-actions", "- isolated\n- evidence captured"},
          {"next-update", "2026-11-26T10:15:00Z"},
          {"contact", "Alice (IC)"}};
}

}  // namespace

TEST_CASE("the initial notification follows the playbook's template", "[unit][notify]") {
  auto message = render("initial-notification", *builtin_template("initial-notification"), initial_fields());
  REQUIRE(message);
  CHECK(message->subject == "[SECURITY INCIDENT] Critical - Crypto miner in shop/web");
  CHECK(message->body.rfind("Incident ID: INC-2026-11-26-001\nSeverity: Critical\nStatus: Investigating",
                            0) == 0);
  CHECK(message->body.find("Current Actions:\n- isolated\n- evidence captured") != std::string::npos);
  CHECK(message->body.find("Next Update: 2026-11-26T10:15:00Z") != std::string::npos);
  CHECK(message->body.find("Contact: Alice (IC)") != std::string::npos);
  CHECK(message->body.find("{{") == std::string::npos);
  CHECK(message->body.find("Regulatory") == std::string::npos);
}

TEST_CASE("a field the template needs and the incident lacks is an error naming it", "[unit][notify]") {
  auto fields = initial_fields();
  fields.erase("impact");
  fields.erase("contact");
  auto message = render("initial-notification", *builtin_template("initial-notification"), fields);
  REQUIRE_FALSE(message);
  CHECK(message.error().code() == Code::invalid_input);
  CHECK(message.error().message().find("impact (give --impact") != std::string::npos);
  CHECK(message.error().message().find("contact (give --contact") != std::string::npos);
  // An empty value is missing too, never an empty hole.
  fields = initial_fields();
  fields["summary"] = "";
  CHECK_FALSE(render("initial-notification", *builtin_template("initial-notification"), fields));
}

TEST_CASE("the status update knows an unknown ETA, deadlines are appended", "[unit][notify]") {
  Fields fields{{"incident-id", "INC-2026-11-26-001"},
                {"title", "miner"},
                {"status", "Contained"},
                {"progress", "- pod isolated"},
                {"next-steps", "- rotate"},
                {"next-update", "soon"},
                {"deadlines", "- GDPR: notify the supervisory authority by X"}};
  auto message = render("status-update", *builtin_template("status-update"), fields);
  REQUIRE(message);
  CHECK(message->subject == "[UPDATE] INC-2026-11-26-001 - miner");
  CHECK(message->body.find("ETA for resolution: not yet known") != std::string::npos);
  CHECK(message->body.find("Progress since last update:\n- pod isolated") != std::string::npos);
  CHECK(message->body.find("Regulatory Deadlines:\n- GDPR") != std::string::npos);
  fields["eta"] = "2026-11-26T18:00:00Z";
  CHECK(render("status-update", *builtin_template("status-update"), fields)
            ->body.find("ETA for resolution: 2026") != std::string::npos);
}

TEST_CASE("the post-incident report marks what only people can write and needs the timeline",
          "[unit][notify]") {
  Fields fields{{"incident-id", "INC-2026-11-26-001"},
                {"title", "miner"},
                {"severity", "High"},
                {"status", "Resolved"},
                {"summary", "done"}};
  auto missing = render("post-incident-report", *builtin_template("post-incident-report"), fields);
  REQUIRE_FALSE(missing);
  CHECK(missing.error().message().find("timeline (give --case-repo") != std::string::npos);
  fields["timeline"] = "- t1 isolate";
  fields["response-actions"] = "- t1 isolate: label";
  auto report = render("post-incident-report", *builtin_template("post-incident-report"), fields);
  REQUIRE(report);
  CHECK(report->body.find("2. Timeline of Events\n- t1 isolate") != std::string::npos);
  CHECK(report->body.find("3. Root Cause Analysis\n" + std::string(to_be_written)) != std::string::npos);
  CHECK(report->body.find("6. Lessons Learned\n" + std::string(to_be_written)) != std::string::npos);
  CHECK(report->body.find("7. Recommendations\n" + std::string(to_be_written)) != std::string::npos);
}

TEST_CASE("custom templates: placeholders, defaults, syntax errors with the line", "[unit][notify]") {
  const std::string text =
      "Subject: {{incident-id}} on {{ service }}\n\nOwner: {{owner|nobody yet}}\n{{deadlines}}\n";
  auto names = placeholders(text);
  REQUIRE(names);
  CHECK(*names == std::vector<std::string>{"incident-id", "service", "owner", "deadlines"});
  auto message = render("mine.txt", text,
                        {{"incident-id", "INC-2026-11-26-001"}, {"service", "shop"}, {"deadlines", "- d"}});
  REQUIRE(message);
  CHECK(message->subject == "INC-2026-11-26-001 on shop");
  CHECK(message->body == "Owner: nobody yet\n- d");  // placed by the template: not appended again

  auto unclosed = render("bad.txt", "line one\nline {{two", {});
  REQUIRE_FALSE(unclosed);
  CHECK(unclosed.error().describe().find("line 2") != std::string::npos);
  auto bad_name = render("bad.txt", "{{Not A Name}}", {});
  REQUIRE_FALSE(bad_name);
  CHECK(bad_name.error().code() == Code::invalid_input);
  auto no_subject = render("plain.txt", "hello {{incident-id}}", {{"incident-id", "INC-2026-11-26-001"}});
  REQUIRE(no_subject);
  CHECK(no_subject->subject == "[SECURITY INCIDENT] INC-2026-11-26-001");
}
