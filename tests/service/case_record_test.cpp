// The incident case record against real git: records appended over a local
// path and over smart HTTP, eight writers at once, a remote that is down (the
// record is kept, then pushed by the next append), and the timeline read back.
#include "ir/record/case_record.hpp"
#include "service/case_record_fixture.hpp"
#include "support/catch.hpp"
#include "support/git_server.hpp"

#include "ir/core/json.hpp"
#include "ir/output/report.hpp"

#include <filesystem>
#include <set>
#include <thread>

using namespace ir;
using namespace ir::test;

TEST_CASE(
    "a record lands as incidents/<id>/<time>-<step>.json with author and message naming step and incident",
    "[case]") {
  TempDir tmp;
  make_bare_repo(tmp / "case.git");
  record::Target target{tmp / "case.git", "main", {}, tmp / "cache"};
  const auto doc = result_document("isolate", "INC-2026-11-26-001", "2026-11-26T03:04:05.678Z");
  auto appended = record::append(target, doc);
  REQUIRE(appended);
  CHECK(appended->pushed);
  CHECK(appended->path == "incidents/INC-2026-11-26-001/20261126T030405.678Z-isolate.json");
  CHECK(tree_of(tmp / "case.git") == std::vector<std::string>{appended->path});
  CHECK(run_git(tmp / "case.git", {"rev-parse", "main"}).out.substr(0, 40) == appended->commit);
  CHECK(run_git(tmp / "case.git", {"log", "-1", "--format=%an <%ae>|%s", "main"}).out ==
        "irsteps isolate <isolate@irsteps.invalid>|INC-2026-11-26-001: isolate succeeded\n");
  const std::string body = run_git(tmp / "case.git", {"log", "-1", "--format=%b", "main"}).out;
  CHECK(body.find("Incident: INC-2026-11-26-001\n") != std::string::npos);
  CHECK(body.find("Actions: 1\n") != std::string::npos);
  auto stored = parse_json(run_git(tmp / "case.git", {"show", "main:" + appended->path}).out, "record");
  REQUIRE(stored);
  CHECK(*stored == json::value(doc));
  CHECK(run_git(tmp / "case.git", {"fsck", "--strict"}).exit_status == 0);

  // The same document again (a retried push) adds nothing; another run of
  // the step that started in the same millisecond gets its own name.
  auto again = record::append(target, doc);
  REQUIRE(again);
  CHECK(again->commit == appended->commit);
  auto other = doc;
  other["status"] = "failed";
  auto twin = record::append(target, other);
  REQUIRE(twin);
  CHECK(twin->path == "incidents/INC-2026-11-26-001/20261126T030405.678Z-isolate-2.json");
  CHECK(tree_of(tmp / "case.git").size() == 2);
}

// Security review, "Also": a --dry-run still pushes its record; the record
// must say it was a dry run, in the document and in the commit.
TEST_CASE("a dry run's record says it was a dry run, in the document and the commit message", "[case]") {
  TempDir tmp;
  make_bare_repo(tmp / "case.git");
  record::Target target{tmp / "case.git", "main", {}, tmp / "cache"};
  auto doc = result_document("isolate", "INC-2026-11-26-001", "2026-11-26T03:04:05.678Z");
  doc["dryRun"] = true;
  auto appended = record::append(target, doc);
  REQUIRE(appended);
  CHECK(run_git(tmp / "case.git", {"log", "-1", "--format=%s", "main"}).out ==
        "INC-2026-11-26-001: isolate succeeded (dry run)\n");
  CHECK(run_git(tmp / "case.git", {"log", "-1", "--format=%b", "main"}).out.find("Dry-run: true\n") !=
        std::string::npos);
  auto stored = parse_json(run_git(tmp / "case.git", {"show", "main:" + appended->path}).out, "record");
  REQUIRE(stored);
  CHECK(find(*stored, {"dryRun"})->as_bool());
}

TEST_CASE("a record without an incident id, or with a malformed one, is refused", "[case]") {
  TempDir tmp;
  make_bare_repo(tmp / "case.git");
  record::Target target{tmp / "case.git", "main", {}, tmp / "cache"};
  auto doc = result_document("isolate", "INC-2026-11-26-001", "2026-11-26T03:04:05.678Z");
  doc.erase("incidentId");
  auto missing = record::append(target, doc);
  REQUIRE(!missing);
  CHECK(missing.error().code() == Code::invalid_input);
  CHECK(missing.error().describe().find("incident-id") != std::string::npos);
  doc["incidentId"] = "INC-2026-11-26-001/../../x";
  auto malformed = record::append(target, doc);
  REQUIRE(!malformed);
  CHECK(malformed.error().code() == Code::invalid_input);
  CHECK(run_git(tmp / "case.git", {"for-each-ref"}).out.empty());
}

TEST_CASE("eight writers appending to one case over smart HTTP at once: every record lands, none lost",
          "[case]") {
  TempDir tmp;
  make_bare_repo(tmp / "srv/case.git");
  GitHttpServer server(tmp / "srv");
  constexpr int writers = 8;
  std::vector<std::thread> threads;
  std::vector<Result<record::Appended>> results(writers, Error(Code::internal, "not run"));
  for (int i = 0; i < writers; ++i) {
    threads.emplace_back([&, i] {
      // Each writer has its own mirror, as separate pods would.
      record::Target target{server.url("case.git"), "main", {}, tmp / ("cache-" + std::to_string(i))};
      const std::string step = "step" + std::to_string(i);
      results[i] =
          record::append(target, result_document(step, "INC-2026-11-26-002", "2026-11-26T10:00:00.000Z"));
    });
  }
  for (auto& t : threads) t.join();
  std::set<std::string> paths;
  for (const auto& r : results) {
    REQUIRE(r);
    CHECK(r->pushed);
    paths.insert(r->path);
  }
  CHECK(paths.size() == writers);
  const auto tree = tree_of(tmp / "srv/case.git");
  CHECK(std::set<std::string>(tree.begin(), tree.end()) == paths);
  CHECK(run_git(tmp / "srv/case.git", {"rev-list", "--count", "main"}).out == "8\n");
  CHECK(run_git(tmp / "srv/case.git", {"fsck", "--strict"}).exit_status == 0);
}

TEST_CASE("eight writers sharing one machine's mirror, over a local path", "[case]") {
  TempDir tmp;
  make_bare_repo(tmp / "case.git");
  std::vector<std::thread> threads;
  std::vector<bool> pushed(8, false);
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      record::Target target{"file://" + tmp / "case.git", "main", {}, tmp / "cache"};
      auto r = record::append(target, result_document("s" + std::to_string(i), "INC-2026-11-26-003",
                                                      "2026-11-26T10:00:00.00" + std::to_string(i) + "Z"));
      pushed[i] = r && r->pushed;
    });
  }
  for (auto& t : threads) t.join();
  CHECK(std::count(pushed.begin(), pushed.end(), true) == 8);
  CHECK(tree_of(tmp / "case.git").size() == 8);
  CHECK(run_git(tmp / "case.git", {"fsck", "--strict"}).exit_status == 0);
}

TEST_CASE("a record that cannot be pushed is kept on this machine and pushed by the next append", "[case]") {
  TempDir tmp;
  make_bare_repo(tmp / "srv/case.git");
  auto server = std::make_unique<GitHttpServer>(tmp / "srv");
  const std::string url = server->url("case.git");
  const int port = server->port();
  record::Target target{url, "main", {}, tmp / "cache"};
  REQUIRE(
      record::append(target, result_document("isolate", "INC-2026-11-26-004", "2026-11-26T10:00:00.000Z")));
  server->stop();

  auto kept =
      record::append(target, result_document("snapshot", "INC-2026-11-26-004", "2026-11-26T10:01:00.000Z"));
  REQUIRE(kept);
  CHECK(!kept->pushed);
  CHECK(!kept->problem.empty());
  REQUIRE(std::filesystem::exists(kept->path));
  auto spooled = parse_json(*read_file(kept->path), "spool");
  REQUIRE(spooled);
  CHECK(string_at(*spooled, {"step"}) == "snapshot");

  // The server comes back on the same port; the next record pushes both.
  server.reset();
  GitHttpServer back(tmp / "srv", {.port = port});
  auto next =
      record::append(target, result_document("notify", "INC-2026-11-26-004", "2026-11-26T10:02:00.000Z"));
  REQUIRE(next);
  CHECK(next->pushed);
  CHECK(!std::filesystem::exists(kept->path));
  const auto tree = tree_of(tmp / "srv/case.git");
  CHECK(tree == std::vector<std::string>{"incidents/INC-2026-11-26-004/20261126T100000.000Z-isolate.json",
                                         "incidents/INC-2026-11-26-004/20261126T100100.000Z-snapshot.json",
                                         "incidents/INC-2026-11-26-004/20261126T100200.000Z-notify.json"});
}

TEST_CASE("an incident's records are read back in timeline order with their commits", "[case]") {
  TempDir tmp;
  make_bare_repo(tmp / "case.git");
  record::Target target{tmp / "case.git", "main", {}, tmp / "cache"};
  auto empty = record::read_incident(target, "INC-2026-11-26-005");
  REQUIRE(empty);
  CHECK(empty->empty());
  // Appended out of order: the timeline follows the steps' start times.
  REQUIRE(
      record::append(target, result_document("notify", "INC-2026-11-26-005", "2026-11-26T10:05:00.000Z")));
  REQUIRE(
      record::append(target, result_document("isolate", "INC-2026-11-26-005", "2026-11-26T10:00:00.000Z")));
  REQUIRE(
      record::append(target, result_document("isolate", "INC-2026-11-26-006", "2026-11-26T10:01:00.000Z")));
  auto entries = record::read_incident(target, "INC-2026-11-26-005");
  REQUIRE(entries);
  REQUIRE(entries->size() == 2);
  CHECK(string_at((*entries)[0].document, {"step"}) == "isolate");
  CHECK(string_at((*entries)[1].document, {"step"}) == "notify");
  CHECK((*entries)[0].author == "irsteps isolate <isolate@irsteps.invalid>");
  CHECK((*entries)[0].commit.size() == 40);
  CHECK(run_git(tmp / "case.git", {"cat-file", "-t", (*entries)[0].commit}).out == "commit\n");
  CHECK(!(*entries)[0].committed.empty());
  auto bad = record::read_incident(target, "../INC");
  REQUIRE(!bad);
  CHECK(bad.error().code() == Code::invalid_input);
}
