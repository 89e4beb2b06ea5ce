// The post-incident report's timeline and response actions from case
// records built in memory: who did what, when, with which evidence hashes.
#include "case_report.hpp"

#include "ir/core/text_diff.hpp"
#include "support/catch.hpp"

#include <boost/json/serialize.hpp>

#include <cstdio>

using namespace ir;
using namespace ir::steps::notify;

namespace {

record::Entry entry(std::string path, std::string author, std::string commit, const std::string& document) {
  return {std::move(path), std::move(commit), std::move(author), "2026-11-26T10:05:00Z",
          parse_json(document, "record").value().as_object()};
}

}  // namespace

TEST_CASE("timeline and response actions come from the case records", "[unit][notify]") {
  const std::string hash(64, 'a');
  const std::vector<record::Entry> entries = {
      entry("incidents/INC-2026-11-26-001/20261126T100100Z-isolate.json", "argo <argo@ci>",
            "0123456789abcdef0123",
            R"({"step":"isolate","status":"succeeded","startTime":"2026-11-26T10:01:00Z",
               "dryRun":false,"actions":[{"verb":"apply","target":{"kind":"NetworkPolicy","namespace":"shop",
               "name":"irsteps-isolate"},"detail":"deny all","dryRun":false}],"evidence":[]})"),
      entry("incidents/INC-2026-11-26-001/20261126T100300Z-snapshot.json", "alice <alice@example.com>",
            "fedcba9876543210fedc",
            R"({"step":"snapshot","status":"partial","startTime":"2026-11-26T10:03:00Z",
               "actions":[],"evidence":[{"path":"pod.json","sha256":")" +
                hash + R"(","size":10,"status":"complete"}],
               "error":{"message":"log cut short"}})")};
  const auto sections = case_sections(entries);
  CHECK(sections.timeline ==
        "- 2026-11-26T10:01:00Z  isolate succeeded, by argo <argo@ci> (record "
        "incidents/INC-2026-11-26-001/20261126T100100Z-isolate.json, commit 0123456789ab)\n"
        "- 2026-11-26T10:03:00Z  snapshot partial, by alice <alice@example.com> (record "
        "incidents/INC-2026-11-26-001/20261126T100300Z-snapshot.json, commit fedcba987654): log cut short");
  CHECK(sections.response_actions.find(
            "- 2026-11-26T10:01:00Z  isolate: apply NetworkPolicy shop/irsteps-isolate — "
            "deny all; by argo <argo@ci>") != std::string::npos);
  CHECK(sections.response_actions.find(
            "snapshot: evidence collected by alice <alice@example.com>\n    pod.json  sha256:" + hash) !=
        std::string::npos);
}

TEST_CASE("an incident without records says so instead of leaving the sections empty", "[unit][notify]") {
  const auto sections = case_sections({});
  CHECK(sections.timeline.find("no records") != std::string::npos);
  CHECK(sections.response_actions.find("no actions") != std::string::npos);
}

TEST_CASE("access-audit's exposure timeline joins the incident's timeline in time order", "[unit][notify]") {
  // The timeline output as access-audit writes it: a JSON array in a string.
  const std::string exposure =
      R"([{"time":"2026-11-20T08:00:00Z","event":"created"},)"
      R"({"time":"2026-11-21T09:30:00.123456Z","event":"first-access","user":"system:serviceaccount:shop:web"},)"
      R"({"time":"2026-11-24T12:00:00Z","event":"audited-update","user":"mallory","code":200},)"
      R"({"time":"2026-11-26T10:02:00Z","event":"rotated","by":"rotate-secret"},)"
      R"({"time":"not a time","event":"last-access","user":"mallory"}])";
  json::object audit_doc{
      {"step", "access-audit"},
      {"status", "succeeded"},
      {"startTime", "2026-11-26T10:04:00Z"},
      {"outputs", json::object{{"resource", "secrets/db in shop"}, {"timeline", exposure}}}};
  const std::vector<record::Entry> entries = {
      entry("incidents/INC-2026-11-26-001/20261126T100100Z-rotate-secret.json", "argo <argo@ci>", "aaaa",
            R"({"step":"rotate-secret","status":"succeeded","startTime":"2026-11-26T10:01:00Z"})"),
      {"incidents/INC-2026-11-26-001/20261126T100400Z-access-audit.json", "bbbb", "argo <argo@ci>",
       "2026-11-26T10:05:00Z", audit_doc}};
  const auto sections = case_sections(entries);
  const auto lines = split_lines(sections.timeline);
  const std::string from =
      " (exposure timeline of access-audit, record "
      "incidents/INC-2026-11-26-001/20261126T100400Z-access-audit.json)";
  REQUIRE(lines.size() == 7);
  CHECK(lines[0] == "- 2026-11-20T08:00:00Z  secrets/db in shop: created" + from);
  CHECK(lines[1] ==
        "- 2026-11-21T09:30:00.123456Z  secrets/db in shop: first access by system:serviceaccount:shop:web" +
            from);
  CHECK(lines[2] == "- 2026-11-24T12:00:00Z  secrets/db in shop: update by mallory (HTTP 200)" + from);
  CHECK(lines[3].starts_with("- 2026-11-26T10:01:00Z  rotate-secret succeeded"));
  CHECK(lines[4] == "- 2026-11-26T10:02:00Z  secrets/db in shop: rotated by rotate-secret" + from);
  CHECK(lines[5].starts_with("- 2026-11-26T10:04:00Z  access-audit succeeded"));
  // An event whose time cannot be read stays with its record.
  CHECK(lines[6] == "- not a time  secrets/db in shop: last access by mallory" + from);
}

TEST_CASE("a long exposure timeline keeps its earliest and latest events and says how many are left out",
          "[unit][notify]") {
  json::array events;
  for (int i = 0; i < 100; ++i) {
    char when[32];
    std::snprintf(when, sizeof when, "2026-11-20T%02d:%02d:00Z", i / 60, i % 60);
    events.push_back(
        json::object{{"time", when}, {"event", "first-access"}, {"user", "user-" + std::to_string(i)}});
  }
  json::object audit_doc{
      {"step", "access-audit"},
      {"status", "succeeded"},
      {"startTime", "2026-11-26T10:04:00Z"},
      {"outputs", json::object{{"resource", "secrets/db in shop"}, {"timeline", json::serialize(events)}}}};
  const std::vector<record::Entry> entries = {
      {"incidents/INC-2026-11-26-001/a.json", "bbbb", "argo <argo@ci>", "2026-11-26T10:05:00Z", audit_doc}};
  const auto sections = case_sections(entries);
  const auto lines = split_lines(sections.timeline);
  REQUIRE(lines.size() == 42);  // 20 earliest, the marker, 20 latest, the run itself
  CHECK(lines[0].find("first access by user-0 ") != std::string_view::npos);
  CHECK(lines[19].find("first access by user-19 ") != std::string_view::npos);
  CHECK(lines[20] ==
        "- ...  secrets/db in shop: 60 more events left out here; all are in record "
        "incidents/INC-2026-11-26-001/a.json");
  CHECK(lines[21].find("first access by user-80 ") != std::string_view::npos);
  CHECK(lines[40].find("first access by user-99 ") != std::string_view::npos);
  CHECK(lines[41].find("access-audit succeeded") != std::string_view::npos);
}
