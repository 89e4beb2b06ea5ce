#include "audit_log.hpp"

#include "access_audit.hpp"
#include "support/catch.hpp"

#include <fmt/format.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <random>

using namespace ir;
using namespace ir::steps::access_audit;
namespace fs = std::filesystem;

namespace {

std::string event(const std::string& time, const std::string& user, const std::string& verb,
                  const std::string& name, int code = 200, const std::string& ns = "shop",
                  const std::string& stage = "ResponseComplete", const std::string& id = "") {
  const std::string name_field = name.empty() ? "" : fmt::format(R"(,"name":"{}")", name);
  return fmt::format(
      R"({{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"{}","stage":"{}",)"
      R"("requestURI":"/api/v1/namespaces/{}/secrets","verb":"{}","user":{{"username":"{}","groups":["g1"]}},)"
      R"("sourceIPs":["10.0.0.7"],"userAgent":"curl/8","objectRef":{{"resource":"secrets","namespace":"{}"{},)"
      R"("apiVersion":"v1"}},"responseStatus":{{"code":{}}},"requestReceivedTimestamp":"{}","stageTimestamp":"{}"}})",
      id.empty() ? user + time : id, stage, ns, verb, user, ns, name_field, code, time, time);
}

class TempDir {
 public:
  TempDir() {
    static std::mt19937 random{std::random_device{}()};
    path_ = fs::temp_directory_path() / fmt::format("access-audit-test-{:08x}", random());
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  [[nodiscard]] std::string file(const std::string& name) const { return (path_ / name).string(); }
  [[nodiscard]] std::string path() const { return path_.string(); }

 private:
  fs::path path_;
};

void write_plain(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

void write_gzip(const std::string& path, const std::string& text) {
  gzFile gz = gzopen(path.c_str(), "wb");
  REQUIRE(gz != nullptr);
  REQUIRE(gzwrite(gz, text.data(), static_cast<unsigned>(text.size())) == static_cast<int>(text.size()));
  REQUIRE(gzclose(gz) == Z_OK);
}

AuditFilter secret_filter() {
  return {{"", "secrets", "", "shop", "db"}, {"get", "list", "watch"}, std::nullopt, std::nullopt};
}

struct Collected {
  ReadStats stats;
  std::vector<AuditEvent> events;
};

Collected collect(const std::vector<std::string>& sources, const AuditFilter& filter = secret_filter()) {
  auto files = expand_sources(sources);
  REQUIRE(files);
  Collected out;
  auto stats = read_audit_logs(*files, filter, [&](const AuditEvent& e) { out.events.push_back(e); });
  REQUIRE(stats);
  out.stats = *stats;
  return out;
}

}  // namespace

TEST_CASE("rotated files are read oldest first: dated, then numbered, then the live file",
          "[unit][access-audit]") {
  const std::vector<std::string> names{"audit.log",      "audit-2026-11-26T10-00-00.000.log.gz",
                                       "audit.log.1",    "audit-2026-11-25T23-59-59.999.log",
                                       "audit.log.2.gz", "audit.log.10.gz"};
  CHECK(rotation_order(names) ==
        std::vector<std::string>{"audit-2026-11-25T23-59-59.999.log", "audit-2026-11-26T10-00-00.000.log.gz",
                                 "audit.log.10.gz", "audit.log.2.gz", "audit.log.1", "audit.log"});
}

TEST_CASE("a folder of plain and gzip rotations is read in order, with reads, lists and changes",
          "[unit][access-audit]") {
  TempDir dir;
  write_gzip(dir.file("audit.log.2.gz"), event("2026-11-26T10:00:00.000001Z", "alice", "get", "db") + "\n" +
                                             event("2026-11-26T10:00:01Z", "bob", "get", "other") + "\n");
  write_plain(dir.file("audit.log.1"), event("2026-11-26T11:00:00Z", "carol", "list", "") + "\n" +
                                           event("2026-11-26T11:00:01Z", "dave", "list", "", 200, "prod") +
                                           "\n");
  write_plain(dir.file("audit.log"),
              event("2026-11-26T12:00:00Z", "erin", "patch", "db") + "\n" +
                  event("2026-11-26T12:00:01Z", "mallory", "get", "db", 403));  // no newline
  write_plain(dir.file(".hidden"), "not a log\n");
  const auto got = collect({dir.path()});
  REQUIRE(got.events.size() == 4);
  CHECK(got.events[0].user == "alice");
  CHECK(got.events[0].source_ips == std::vector<std::string>{"10.0.0.7"});
  CHECK(got.events[0].groups == std::vector<std::string>{"g1"});
  CHECK(got.events[0].user_agent == "curl/8");
  CHECK(got.events[1].user == "carol");
  CHECK(got.events[1].collection);
  CHECK(got.events[2].user == "erin");
  CHECK_FALSE(got.events[2].access);  // a change, for the timeline
  CHECK(got.events[3].user == "mallory");
  CHECK(got.events[3].code == 403);
  CHECK(got.stats.files == 3);
  CHECK(got.stats.lines == 6);
  CHECK(got.stats.malformed == 0);
}

TEST_CASE("malformed lines are counted with file and line, never fatal", "[unit][access-audit]") {
  TempDir dir;
  const std::string good = event("2026-11-26T10:00:00Z", "alice", "get", "db");
  write_plain(dir.file("audit.log"), good + "\n" + "garbage\n" +                   // not JSON at all
                                         good.substr(0, good.size() / 2) + "\n" +  // truncated, mentions db
                                         R"({"kind":"EventList","resource":"secrets","db":1})" +
                                         "\n" +  // not an Event
                                         "\n" +  // blank: fine
                                         event("2026-11-26T10:00:01Z", "bob", "get", "db") + "\n");
  const auto got = collect({dir.file("audit.log")});
  CHECK(got.events.size() == 2);
  CHECK(got.stats.malformed == 3);
  REQUIRE(got.stats.problems.size() == 3);
  CHECK(got.stats.problems[0].find("audit.log:2: not a JSON object") != std::string::npos);
  CHECK(got.stats.problems[1].find("audit.log:3: not") != std::string::npos);
  CHECK(got.stats.problems[2].find("audit.log:4: not an audit.k8s.io Event") != std::string::npos);
}

TEST_CASE("a truncated gzip file keeps what it had and the reading goes on", "[unit][access-audit]") {
  TempDir dir;
  std::string text;
  for (int i = 0; i < 2000; ++i)
    text +=
        event(fmt::format("2026-11-26T10:00:{:02}Z", i % 60), "u" + std::to_string(i), "get", "db") + "\n";
  write_gzip(dir.file("full.gz"), text);
  auto bytes = read_file(dir.file("full.gz"));
  REQUIRE(bytes);
  write_plain(dir.file("audit.log.1.gz"), bytes->substr(0, bytes->size() / 2));
  write_plain(dir.file("audit.log"), event("2026-11-26T12:00:00Z", "last", "get", "db") + "\n");
  fs::remove(dir.file("full.gz"));
  const auto got = collect({dir.path()});
  CHECK(got.events.size() > 100);
  CHECK(got.events.size() < 2000);
  CHECK(got.events.back().user == "last");
  REQUIRE_FALSE(got.stats.problems.empty());
  CHECK(got.stats.problems[0].find("damaged after line") != std::string::npos);
}

TEST_CASE("filters: time window, verbs, namespace, name, and watch recorded once", "[unit][access-audit]") {
  TempDir dir;
  write_plain(dir.file("audit.log"),
              event("2026-11-26T09:00:00Z", "early", "get", "db") + "\n" +
                  event("2026-11-26T10:00:00Z", "w", "watch", "", 200, "shop", "ResponseStarted", "w1") +
                  "\n" +
                  event("2026-11-26T10:30:00Z", "w", "watch", "", 200, "shop", "ResponseComplete", "w1") +
                  "\n" + event("2026-11-26T10:40:00Z", "r", "get", "db", 200, "shop", "RequestReceived") +
                  "\n" + event("2026-11-26T10:41:00Z", "all", "list", "", 200, "") + "\n" +
                  event("2026-11-26T10:42:00Z", "other-ns", "get", "db", 200, "prod") + "\n" +
                  event("2026-11-26T10:43:00Z", "deleter", "delete", "db") + "\n" +
                  event("2026-11-26T13:00:00Z", "late", "get", "db") + "\n");
  auto filter = secret_filter();
  filter.since = *parse_utc("2026-11-26T09:30:00Z");
  filter.until = *parse_utc("2026-11-26T12:00:00Z");
  auto got = collect({dir.file("audit.log")}, filter);
  std::vector<std::string> users;
  for (const auto& e : got.events) users.push_back(e.user + ":" + e.verb);
  CHECK(users == std::vector<std::string>{"w:watch", "all:list", "deleter:delete"});

  filter.verbs = {"get"};
  got = collect({dir.file("audit.log")}, filter);
  users.clear();
  for (const auto& e : got.events) users.push_back(e.user + ":" + e.verb);
  CHECK(users == std::vector<std::string>{"deleter:delete"});
}

TEST_CASE("a line longer than the limit is one malformed line", "[unit][access-audit]") {
  TempDir dir;
  std::string huge = R"({"kind":"Event","x":")" + std::string(max_line_bytes + 10, 'a') + "\"}";
  write_gzip(dir.file("audit.log.gz"),
             huge + "\n" + event("2026-11-26T10:00:00Z", "alice", "get", "db") + "\n" + huge);
  const auto got = collect({dir.file("audit.log.gz")});
  CHECK(got.events.size() == 1);
  CHECK(got.stats.malformed == 2);
  CHECK(got.stats.lines == 3);
}

TEST_CASE("a missing audit log is bad input", "[unit][access-audit]") {
  auto files = expand_sources({"/nonexistent/audit.log"});
  REQUIRE_FALSE(files);
  CHECK(files.error().code() == Code::invalid_input);
}

TEST_CASE("accesses are summarised per user and make the timeline", "[unit][access-audit]") {
  AccessLog log(1);
  AuditFilter filter = secret_filter();
  for (const auto& line : {event("2026-11-26T10:00:00Z", "alice", "get", "db"),
                           event("2026-11-26T11:00:00Z", "alice", "get", "db", 403),
                           event("2026-11-26T10:30:00Z", "bob", "list", ""),
                           event("2026-11-26T10:15:00Z", "erin", "update", "db")}) {
    auto parsed = parse_event_line(line, filter);
    REQUIRE(parsed);
    REQUIRE(*parsed);
    log.add(**parsed);
  }
  CHECK(log.total() == 3);
  CHECK(log.omitted() == 2);
  const json::value users(log.users_json());
  REQUIRE(users.as_array().size() == 2);
  CHECK(users.as_array()[0].at("accesses").as_uint64() == 2);
  CHECK(users.as_array()[0].at("denied").as_uint64() == 1);
  CHECK(string_at(users.as_array()[0], {"firstAccess"}) == "2026-11-26T10:00:00Z");
  CHECK(string_at(users.as_array()[0], {"lastAccess"}) == "2026-11-26T11:00:00Z");

  const auto object = parse_json(R"({"metadata":{"creationTimestamp":"2026-11-20T08:00:00Z",
    "annotations":{"irsteps.io/rotated-at":"2026-11-26T10:20:00Z"},
    "managedFields":[{"manager":"kubectl-create","operation":"Update","time":"2026-11-20T08:00:00Z"}]}})",
                                 "object");
  REQUIRE(object);
  const auto timeline = build_timeline(&object->as_object(), log);
  std::vector<std::string> events;
  for (const auto& entry : timeline)
    events.push_back(string_at(entry, {"event"}) + "@" + string_at(entry, {"time"}));
  CHECK(events ==
        std::vector<std::string>{"created@2026-11-20T08:00:00Z", "fields-managed@2026-11-20T08:00:00Z",
                                 "first-access@2026-11-26T10:00:00Z", "audited-update@2026-11-26T10:15:00Z",
                                 "rotated@2026-11-26T10:20:00Z", "first-access@2026-11-26T10:30:00Z",
                                 "last-access@2026-11-26T11:00:00Z"});
}

TEST_CASE("targets: kinds, groups, subresources and namespaces", "[unit][access-audit]") {
  auto target = parse_target("secret/db", "shop");
  REQUIRE(target);
  CHECK(target->resource == "secrets");
  CHECK(target->name == "db");
  target = parse_target("deployments.apps/web/scale", "shop");
  REQUIRE(target);
  CHECK(target->group == "apps");
  CHECK(target->subresource == "scale");
  CHECK(parse_target("secrets", "").has_value());  // every Secret everywhere
  CHECK(parse_target("secrets/db", "").error().code() == Code::invalid_input);
  CHECK(parse_target("nodes/n1", "shop").error().code() == Code::invalid_input);
  CHECK_FALSE(parse_target("a/b/c/d", "shop"));
  const auto reference = *parse_utc("2026-11-26T12:00:00Z");
  CHECK(*parse_time_bound("2h", reference) == *parse_utc("2026-11-26T10:00:00Z"));
  CHECK(*parse_time_bound("2026-11-26T01:00:00Z", reference) == *parse_utc("2026-11-26T01:00:00Z"));
  CHECK_FALSE(parse_time_bound("yesterday", reference));
}
