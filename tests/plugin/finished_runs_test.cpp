// The plugin's writable folder in the agent pod (plugin.yaml mounts one at
// IRSTEPS_CACHE_DIR): Succeeded runs kept there so that a restarted plugin
// does not run them again, read back as untrusted input, and case records
// cloned there, so that the plugin flavour records as the pods do.
#include "ir/core/encoding.hpp"
#include "plugin/plugin_fixture.hpp"

#include <filesystem>

using namespace ir;
using namespace ir::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

// A notify run that succeeds without a cluster or a receiver (a dry run),
// its routing file in `dir`.
struct NotifyCall {
  explicit NotifyCall(const TempDir& dir)
      : routing(dir.file("routing.yaml",
                         "channels:\n  - {name: siem, type: webhook, url: 'https://127.0.0.1:9/irsteps', "
                         "secret-file: " +
                             dir.file("hook-secret", "hook-signing-secret\n") + "}\n")) {}

  [[nodiscard]] std::function<std::string(const TempDir&)> policy() const {
    return [routing = routing](const TempDir&) {
      return policy_allowing({{"notify", {{"routing", {routing}}}}});
    };
  }

  [[nodiscard]] json::object request(const std::string& node, json::object more = {}) const {
    json::object irsteps = notify_call(routing, node, more);
    return request_for("notify-stakeholders", std::move(irsteps));
  }

  std::string routing;
};

// The files on the main branch of a bare repository.
std::vector<std::string> tree_of(const std::string& bare) {
  std::vector<std::string> paths;
  const std::string out = run_git(bare, {"ls-tree", "-r", "--name-only", "main"}, true).out;
  std::size_t start = 0;
  for (auto nl = out.find('\n'); nl != std::string::npos; start = nl + 1, nl = out.find('\n', start)) {
    paths.push_back(out.substr(start, nl - start));
  }
  return paths;
}

std::vector<std::string> names_in(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    names.push_back(it->path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace

TEST_CASE(
    "plugin: a restarted plugin given the same node returns the finished result without running the step",
    "[service][plugin][no-cluster]") {
  TempDir shared;
  const NotifyCall notify(shared);
  const std::vector<std::pair<std::string, std::string>> env{{"IRSTEPS_CACHE_DIR", shared / "cache"}};
  const auto request = notify.request("ir-x7k2p[2].notify-stakeholders");
  json::object first;
  {
    Plugin plugin({"--wait", "5s"}, env, notify.policy());
    first = plugin.until_done(request);
    INFO(json::serialize(first));
    REQUIRE(string_at(first, {"node", "phase"}) == "Succeeded");
    CHECK(plugin.state().at("started").to_number<int>() == 1);
    // Killed, as the kubelet kills a sidecar that failed its liveness probe
    // or ran out of memory: the run was kept before its node was handed out.
  }
  REQUIRE(names_in(shared / "cache/plugin-runs").size() == 1);

  Plugin restarted({"--wait", "5s"}, env, notify.policy());
  const auto again = restarted.execute(request);
  CHECK(again == first);
  CHECK(restarted.state().at("started").to_number<int>() == 0);
  // Another node with the same arguments is another run, and is kept too.
  const auto other = restarted.until_done(notify.request("ir-x7k2p[5].notify-stakeholders"));
  CHECK(string_at(other, {"node", "phase"}) == "Succeeded");
  CHECK(restarted.state().at("started").to_number<int>() == 1);
  CHECK(names_in(shared / "cache/plugin-runs").size() == 2);
  CHECK(restarted.terminate().exit_status == 0);

  // Kept for --keep-results only: a plugin started after that runs it again.
  Plugin later({"--wait", "5s", "--keep-results", "1s"}, env, notify.policy());
  std::this_thread::sleep_for(1100ms);
  CHECK(string_at(later.until_done(request), {"node", "phase"}) == "Succeeded");
  CHECK(later.state().at("started").to_number<int>() == 1);
  CHECK(later.terminate().exit_status == 0);
}

TEST_CASE("plugin: the kept runs are read as untrusted input", "[service][plugin][no-cluster]") {
  TempDir shared;
  const NotifyCall notify(shared);
  const std::string runs = shared / "runs";
  fs::create_directories(runs);
  const auto named = [&](const std::string& key) { return runs + "/" + sha256_hex(key) + ".json"; };
  const auto write = [](const std::string& path, const std::string& text) {
    REQUIRE(write_file_atomic(path, text));
  };
  const std::string succeeded = R"({"phase":"Succeeded","message":"notify succeeded"})";
  const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  // Not JSON; JSON of another shape; a key that does not hash to its name;
  // a Failed node; a time in the future; over 256 KiB; a link; a write cut
  // short. All removed, none believed.
  write(named("garbage"), "{not json");
  write(named("array"), "[1,2,3]");
  write(named("impostor"),
        R"({"key":"someone-else","finished":)" + std::to_string(now_ms) + R"(,"node":)" + succeeded + "}");
  write(named("failed"), R"({"key":"failed","finished":)" + std::to_string(now_ms) +
                             R"(,"node":{"phase":"Failed","message":"x"}})");
  write(named("future"), R"({"key":"future","finished":)" + std::to_string(now_ms + 86400000) +
                             R"(,"node":)" + succeeded + "}");
  write(named("huge"), R"({"key":"huge","finished":)" + std::to_string(now_ms) +
                           R"(,"node":{"phase":"Succeeded","message":")" + std::string(300 * 1024, 'a') +
                           "\"}}");
  fs::create_symlink("/etc/hostname", named("link"));
  write(runs + "/" + sha256_hex("cut") + ".json.tmp.Ab12Cd", "{\"key\":");
  // Not a name of ours: left alone.
  write(runs + "/README", "kept runs of irsteps-plugin\n");
  // Hostile keys are only ever hashed: a path in a key names no file.
  const auto traversal = notify.request("../../../../etc/passwd");

  Plugin plugin({"--wait", "5s", "--state-dir", runs}, {}, notify.policy());
  CHECK(names_in(runs) == std::vector<std::string>{"README"});
  CHECK(fs::exists("/etc/hostname"));
  CHECK(string_at(plugin.until_done(traversal), {"node", "phase"}) == "Succeeded");
  CHECK(plugin.state().at("started").to_number<int>() == 1);
  const auto kept = names_in(runs);
  REQUIRE(kept.size() == 2);
  for (const auto& name : kept) {
    if (name == "README") continue;
    CHECK(name.size() == 64 + 5);
  }
  CHECK((fs::status(runs).permissions() & (fs::perms::group_all | fs::perms::others_all)) == fs::perms::none);
  CHECK(plugin.terminate().exit_status == 0);
}

TEST_CASE(
    "plugin: with a writable IRSTEPS_CACHE_DIR, as plugin.yaml mounts one, a call with case-repo records",
    "[service][plugin][case][no-cluster]") {
  TempDir shared;
  const NotifyCall notify(shared);
  make_bare_repo(shared / "srv/case.git");
  GitHttpServer server(shared / "srv");
  const std::string blocker = shared.file("blocker", "a file, not a folder\n");
  const auto request = notify.request("ir-x7k2p[1].notify", {{"case-repo", server.url("case.git")}});

  SECTION("the folder plugin.yaml mounts") {
    Plugin plugin({"--wait", "10s"}, {{"IRSTEPS_CACHE_DIR", shared / "cache"}}, notify.policy());
    const auto reply = plugin.until_done(request);
    INFO(json::serialize(reply));
    REQUIRE(string_at(reply, {"node", "phase"}) == "Succeeded");
    const auto tree = tree_of(shared / "srv/case.git");
    REQUIRE(tree.size() == 1);
    CHECK(outputs_of_reply(reply).at("case-record") == tree[0]);
    CHECK(fs::exists(shared / "cache/git"));
    CHECK(plugin.terminate().exit_status == 0);
  }
  SECTION("no such folder, but a writable TMPDIR: a private folder, said in the log") {
    fs::create_directories(shared / "tmp");
    Plugin plugin({"--wait", "10s"}, {{"IRSTEPS_CACHE_DIR", blocker + "/cache"}, {"TMPDIR", shared / "tmp"}},
                  notify.policy());
    const auto reply = plugin.until_done(request);
    INFO(json::serialize(reply));
    REQUIRE(string_at(reply, {"node", "phase"}) == "Succeeded");
    CHECK(tree_of(shared / "srv/case.git").size() == 1);
    CHECK(plugin.log_count("cache.fallback") == 1);
    const auto finished = plugin.terminate();
    CHECK(finished.exit_status == 0);
    CHECK(fs::is_empty(shared / "tmp"));  // removed at exit
  }
}

TEST_CASE("plugin: the kept runs are bounded by --max-results", "[service][plugin][no-cluster]") {
  TempDir shared;
  const NotifyCall notify(shared);
  const std::string runs = shared / "runs";
  Plugin plugin({"--wait", "5s", "--state-dir", runs, "--max-results", "2"}, {}, notify.policy());
  for (const char* node : {"ir-x7k2p[1].notify", "ir-x7k2p[2].notify", "ir-x7k2p[3].notify"}) {
    CHECK(string_at(plugin.until_done(notify.request(node)), {"node", "phase"}) == "Succeeded");
  }
  CHECK(plugin.state().at("started").to_number<int>() == 3);
  CHECK(names_in(runs).size() == 2);
  CHECK(plugin.terminate().exit_status == 0);
}
