#include "audit_log.hpp"

#include "access_audit.hpp"
#include "support/catch.hpp"

#include <fmt/format.h>
#include <zlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>
#include <regex>

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

namespace {

// A line that never mentions the target, well framed or not.
std::string other_event(int i) {
  return fmt::format(
      R"({{"kind":"Event","apiVersion":"audit.k8s.io/v1","auditID":"other-{}","stage":"ResponseComplete",)"
      R"("verb":"get","user":{{"username":"app-{}"}},"objectRef":{{"resource":"pods","namespace":"shop",)"
      R"("name":"pod-{}","apiVersion":"v1"}},"stageTimestamp":"2026-11-26T10:00:00Z"}})",
      i, i % 7, i);
}

// What the reader must report for lines that are not parsed: a line is
// malformed unless, without surrounding spaces, tabs and carriage returns,
// it is empty or starts with '{' and ends with '}'.
std::vector<std::uint64_t> badly_framed_lines(const std::string& text) {
  std::vector<std::uint64_t> bad;
  std::uint64_t number = 0;
  std::size_t start = 0;
  while (start < text.size()) {
    auto end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    ++number;
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t'))
      line.pop_back();
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.erase(0, 1);
    if (!line.empty() && (line.front() != '{' || line.back() != '}')) bad.push_back(number);
    start = end + 1;
  }
  return bad;
}

std::vector<std::string> problems_without_file(const ReadStats& stats, const std::string& file) {
  std::vector<std::string> problems;
  for (auto problem : stats.problems) {
    if (problem.starts_with(file)) problem.erase(0, file.size());
    problems.push_back(problem);
  }
  return problems;
}

}  // namespace

TEST_CASE("a plain file and its gzip give the same result, across chunk boundaries", "[unit][access-audit]") {
  TempDir dir;
  std::string text;
  int expected_events = 0;
  for (int i = 0; text.size() < 3 * 1024 * 1024; ++i) {
    if (i % 500 == 0) {
      text += event(fmt::format("2026-11-26T10:{:02}:00Z", i % 60), "u" + std::to_string(i), "get", "db");
      ++expected_events;
    } else if (i % 1700 == 0) {
      text += "{garbage";
    } else if (i % 900 == 0) {
      text += "  " + other_event(i) + " \r";  // fine: spaces and a carriage return around it
    } else if (i % 1100 == 0) {
      text += "";  // a blank line
    } else {
      text += other_event(i);
    }
    text += '\n';
  }
  write_plain(dir.file("audit.log"), text);
  write_gzip(dir.file("audit.log.gz"), text);
  const auto plain = collect({dir.file("audit.log")});
  const auto gzip = collect({dir.file("audit.log.gz")});
  CHECK(plain.events.size() == static_cast<std::size_t>(expected_events));
  CHECK(gzip.events.size() == plain.events.size());
  CHECK(plain.stats.bytes == text.size());
  CHECK(gzip.stats.bytes == text.size());
  const auto bad = badly_framed_lines(text);
  CHECK(plain.stats.malformed == bad.size());
  CHECK(gzip.stats.malformed == bad.size());
  CHECK(plain.stats.lines == static_cast<std::uint64_t>(std::count(text.begin(), text.end(), '\n')));
  CHECK(gzip.stats.lines == plain.stats.lines);
  CHECK(gzip.stats.parsed == plain.stats.parsed);
  CHECK(problems_without_file(plain.stats, dir.file("audit.log")) ==
        problems_without_file(gzip.stats, dir.file("audit.log.gz")));
  REQUIRE_FALSE(plain.stats.problems.empty());
  CHECK(plain.stats.problems[0] ==
        dir.file("audit.log") + ":" + std::to_string(bad[0]) + ": not a JSON object");
}

TEST_CASE("malformed lines and events of the target that straddle a chunk boundary", "[unit][access-audit]") {
  TempDir dir;
  const std::string target = event("2026-11-26T10:00:00Z", "alice", "get", "db");
  // A malformed line, then an event of the target, beginning a few bytes
  // before or after every multiple of 16 KiB: every read size that is a
  // power of two from 16 KiB up puts a boundary inside, before or after one.
  for (const int shift : {-700, -3, -1, 0, 1, 2}) {
    std::string text;
    std::vector<std::uint64_t> bad;
    std::uint64_t lines = 0;
    int targets = 0;
    for (std::size_t boundary = 16 * 1024; boundary <= 1024 * 1024; boundary += 16 * 1024) {
      const auto at = static_cast<std::size_t>(static_cast<long>(boundary) + shift);
      for (int i = 0; text.size() + other_event(i).size() + 1 < at; ++i) {
        text += other_event(i) + '\n';
        ++lines;
      }
      text += std::string(at - text.size(), ' ') + "not json}\n";  // spaces, then the bad part from `at`
      bad.push_back(++lines);
      text += target + "\n";
      ++lines;
      ++targets;
    }
    text += "{last line, no newline";
    bad.push_back(++lines);
    INFO("shift " << shift);
    for (const auto& name : {std::string("audit.log"), std::string("audit.log.gz")}) {
      if (name.ends_with(".gz")) {
        write_gzip(dir.file(name), text);
      } else {
        write_plain(dir.file(name), text);
      }
      const auto got = collect({dir.file(name)});
      CHECK(got.events.size() == static_cast<std::size_t>(targets));
      CHECK(got.stats.lines == lines);
      CHECK(got.stats.malformed == bad.size());
      REQUIRE(got.stats.problems.size() == 10);
      for (std::size_t k = 0; k < got.stats.problems.size(); ++k)
        CHECK(got.stats.problems[k] == dir.file(name) + ":" + std::to_string(bad[k]) + ": not a JSON object");
    }
  }
}

TEST_CASE("the framing check of runs of lines agrees with the check of each line", "[unit][access-audit]") {
  TempDir dir;
  std::mt19937 random(20261127);
  // Lines of braces, quotes, spaces, tabs and carriage returns: none can
  // concern the target, so only their framing decides.
  const std::string alphabet = "{{{}}} \t\r\"a:,";
  for (int round = 0; round < 20; ++round) {
    std::string text;
    const std::size_t size = 1000 + random() % 600000;
    while (text.size() < size) {
      switch (random() % 8) {
        case 0:
          for (std::size_t n = random() % 12; n > 0; --n) text += alphabet[random() % alphabet.size()];
          break;
        case 1:
          text += "{" + std::string(random() % 3000, 'a') + "}";
          break;
        default:
          text += "{\"a\":" + std::string(random() % 40, ' ') + "1}";
      }
      if (random() % 50 != 0) text += '\n';
    }
    write_plain(dir.file("audit.log"), text);
    const auto got = collect({dir.file("audit.log")});
    const auto bad = badly_framed_lines(text);
    INFO("round " << round << ", " << text.size() << " bytes");
    CHECK(got.stats.malformed == bad.size());
    CHECK(got.stats.lines == static_cast<std::uint64_t>(std::count(text.begin(), text.end(), '\n')) +
                                 (text.ends_with('\n') ? 0 : 1));
    REQUIRE(got.stats.problems.size() == std::min<std::size_t>(bad.size(), 10));
    for (std::size_t k = 0; k < got.stats.problems.size(); ++k)
      CHECK(got.stats.problems[k] ==
            dir.file("audit.log") + ":" + std::to_string(bad[k]) + ": not a JSON object");
  }
}

TEST_CASE("empty files, and files without a trailing newline", "[unit][access-audit]") {
  TempDir dir;
  write_plain(dir.file("empty.log"), "");
  write_gzip(dir.file("empty.log.gz"), "");
  auto got = collect({dir.file("empty.log"), dir.file("empty.log.gz")});
  CHECK(got.stats.files == 2);
  CHECK(got.stats.lines == 0);
  CHECK(got.stats.bytes == 0);
  CHECK(got.stats.problems.empty());

  write_plain(dir.file("framed.log"), other_event(1) + "\n" + other_event(2));
  got = collect({dir.file("framed.log")});
  CHECK(got.stats.lines == 2);
  CHECK(got.stats.malformed == 0);

  write_plain(dir.file("cut.log"), other_event(1) + "\n" + other_event(2).substr(0, 50));
  got = collect({dir.file("cut.log")});
  CHECK(got.stats.lines == 2);
  CHECK(got.stats.malformed == 1);
  REQUIRE(got.stats.problems.size() == 1);
  CHECK(got.stats.problems[0] == dir.file("cut.log") + ":2: not a JSON object");
}

TEST_CASE("a plain file with lines longer than the limit", "[unit][access-audit]") {
  TempDir dir;
  const std::string huge = R"({"kind":"Event","x":")" + std::string(max_line_bytes + 10, 'a') + "\"}";
  write_plain(dir.file("audit.log"), huge + "\n" + event("2026-11-26T10:00:00Z", "alice", "get", "db") +
                                         "\n" + other_event(1) + "\n" + huge);
  const auto got = collect({dir.file("audit.log")});
  CHECK(got.events.size() == 1);
  CHECK(got.stats.lines == 4);
  CHECK(got.stats.malformed == 2);
  REQUIRE(got.stats.problems.size() == 2);
  CHECK(got.stats.problems[0].find("audit.log:1: longer than") != std::string::npos);
  CHECK(got.stats.problems[1].find("audit.log:4: longer than") != std::string::npos);
}

TEST_CASE("lists and watches everywhere or nowhere: the events found are the same", "[unit][access-audit]") {
  // Which needles mark the lines worth parsing is chosen from the first
  // chunk (the name and the collection verbs, or the resource): both ways
  // must find the same events.
  TempDir dir;
  std::string few_lists;
  std::string many_lists;
  for (int i = 0; i < 3000; ++i) {
    const std::string other = other_event(i);
    few_lists += other + "\n";
    many_lists +=
        (i % 2 == 0 ? other : std::regex_replace(other, std::regex(R"("get")"), R"("list")")) + "\n";
    if (i % 100 == 0) {
      const std::string line = event("2026-11-26T10:00:00Z", "u" + std::to_string(i),
                                     i % 200 == 0 ? "get" : "list", i % 200 == 0 ? "db" : "") +
                               "\n";
      few_lists += line;
      many_lists += line;
    }
  }
  write_plain(dir.file("few.log"), few_lists);
  write_plain(dir.file("many.log"), many_lists);
  const auto few = collect({dir.file("few.log")});
  const auto many = collect({dir.file("many.log")});
  CHECK(few.events.size() == 30);
  CHECK(many.events.size() == 30);
  CHECK(few.stats.malformed == 0);
  CHECK(many.stats.malformed == 0);

  auto every_secret = secret_filter();
  every_secret.target.name.clear();
  CHECK(collect({dir.file("many.log")}, every_secret).events.size() == 30);
  auto one_letter = secret_filter();
  one_letter.target.name = "d";
  CHECK(collect({dir.file("few.log")}, one_letter).events.size() == 15);  // the lists of the collection
}

TEST_CASE("an event of the target at the very end of a chunk, among near misses", "[unit][access-audit]") {
  // Near misses of the name (one byte changed) make the search stop and go
  // on many times per line. Each event of the target ends with its name and
  // ends 0 to 70 bytes before a multiple of 16 KiB, a different distance each
  // time, so that every power-of-two read size up to 256 KiB sees all of them.
  TempDir dir;
  const std::string name = "db-password";
  auto filter = secret_filter();
  filter.target.name = name;
  const std::string target =
      R"("kind":"Event","apiVersion":"audit.k8s.io/v1","auditID":"a","stage":"ResponseComplete","verb":"get",)"
      R"("user":{"username":"alice"},"stageTimestamp":"2026-11-26T10:00:00Z",)"
      R"("objectRef":{"resource":"secrets","namespace":"shop","name":")" +
      name + "\"}}\n";
  std::string text;
  std::size_t expected = 0;
  for (std::size_t k = 1; k <= 71 * 16; ++k) {
    const std::size_t line_end = k * 16 * 1024 - k % 71;
    for (int i = 0;; ++i) {
      std::string miss = name;
      miss[static_cast<std::size_t>(i) % name.size()] = 'X';
      const std::string filler =
          R"({"kind":"Event","note":")" + miss + R"(","n":)" + std::to_string(i) + "}\n";
      if (text.size() + filler.size() + target.size() + 60 > line_end) break;
      text += filler;
    }
    // Spaces after the brace put the end of the line where wanted.
    text += "{" + std::string(line_end - text.size() - target.size() - 1, ' ') + target;
    ++expected;
  }
  write_plain(dir.file("audit.log"), text);
  write_gzip(dir.file("audit.log.gz"), text);
  for (const auto& file : {dir.file("audit.log"), dir.file("audit.log.gz")}) {
    const auto got = collect({file}, filter);
    INFO(file);
    CHECK(got.events.size() == expected);
    CHECK(got.stats.malformed == 0);
  }
}

// Issue 16 item 4: the audit log as an Argo input artifact. Nothing at the
// path is the optional artifact not given; anything there is read as
// --audit-log reads it, errors included.
TEST_CASE(
    "access-audit reads --audit-log-artifact when something is at the path, and nothing there is no error",
    "[unit][access-audit]") {
  TempDir dir;
  const auto options_with = [](const std::string& artifact) {
    return options_from(json::object{{"incident-id", "INC-2026-11-26-001"},
                                     {"resource", "secrets/db"},
                                     {"namespace", "shop"},
                                     {"offline", true},
                                     {"audit-log-artifact", artifact}});
  };
  auto absent = options_with(dir.file("audit-log"));
  REQUIRE(absent);
  CHECK(absent->audit_logs.empty());
  CHECK(absent->audit_log_artifact_absent);

  write_plain(dir.file("audit-log"), event("2026-11-26T10:00:00Z", "alice", "get", "db") + "\n");
  auto file = options_with(dir.file("audit-log"));
  REQUIRE(file);
  CHECK(file->audit_logs == std::vector<std::string>{dir.file("audit-log")});
  CHECK_FALSE(file->audit_log_artifact_absent);
  CHECK(collect(file->audit_logs).events.size() == 1);

  // An extracted folder of rotated logs, gzipped or not.
  fs::create_directories(dir.file("extracted"));
  write_gzip(dir.file("extracted/audit-2026-11-25T00-00-00.000.log.gz"),
             event("2026-11-25T10:00:00Z", "bob", "get", "db") + "\n");
  write_plain(dir.file("extracted/audit.log"), event("2026-11-26T10:00:00Z", "alice", "get", "db") + "\n");
  auto folder = options_with(dir.file("extracted"));
  REQUIRE(folder);
  CHECK(collect(folder->audit_logs).events.size() == 2);

  // A link to nothing is something at the path: the same error as --audit-log.
  fs::create_symlink(dir.file("gone"), dir.file("dangling"));
  auto dangling = options_with(dir.file("dangling"));
  REQUIRE(dangling);
  CHECK_FALSE(dangling->audit_log_artifact_absent);
  auto files = expand_sources(dangling->audit_logs);
  REQUIRE_FALSE(files);
  CHECK(files.error().code() == Code::invalid_input);
  auto as_flag = expand_sources({dir.file("dangling")});
  REQUIRE_FALSE(as_flag);
  CHECK(as_flag.error().describe() == files.error().describe());
}
