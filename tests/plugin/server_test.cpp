// The executor plugin as Argo's agent meets it: the real irsteps-plugin
// binary on 127.0.0.1 and real HTTP requests. Auth, every step through the
// plugin against the same step's command line, requeue and idempotence,
// foreign templates, bad bodies, concurrent calls, SIGTERM. Steps that need
// a cluster get a kubeconfig whose API server is a closed port (or a slow
// test server), so each takes a known failure path without a cluster.
#include "ir/core/time.hpp"
#include "irsteps/step_list.hpp"
#include "plugin/plugin_fixture.hpp"
#include "support/http_server.hpp"

#include <algorithm>
#include <atomic>
#include <regex>
#include <set>
#include <thread>

using namespace ir;
using namespace ir::test;
using namespace std::chrono_literals;

TEST_CASE("plugin: the bearer token decides, compared with the token file as it is now",
          "[service][plugin][no-cluster]") {
  Plugin plugin;
  const std::string body =
      R"({"workflow":{"metadata":{"name":"w","uid":"u"}},"template":{"name":"t","plugin":{"slack":{}}}})";
  CHECK(plugin.post(body, std::nullopt).status == 403);
  CHECK(plugin.post(body, "wrong-token").status == 403);
  CHECK(plugin.post(body, agent_token + "x").status == 403);
  CHECK(plugin.post(body, "").status == 403);
  CHECK(plugin.send("GET", "/api/v1/state", "", std::nullopt).status == 403);
  const auto ok = plugin.post(body);
  CHECK(ok.status == 200);
  CHECK(ok.body == "{}");

  // A rotated token: the old one stops working, the new one works, no restart.
  REQUIRE(write_file_atomic(plugin.token_file(), "rotated-token-22\n"));
  CHECK(plugin.post(body).status == 403);
  CHECK(plugin.post(body, "rotated-token-22").status == 200);
  // No token file: nobody gets in.
  std::filesystem::remove(plugin.token_file());
  CHECK(plugin.post(body, "rotated-token-22").status == 403);
  // The log is read as the plugin writes it: the last denial's line may
  // come a moment after its answer.
  for (int i = 0; i < 100 && plugin.log_count("auth.denied") < 7; ++i) std::this_thread::sleep_for(50ms);
  CHECK(plugin.log_count("auth.denied") >= 7);

  const auto finished = plugin.terminate();
  CHECK(finished.exit_status == 0);
  // The token never reaches the log.
  CHECK(finished.err.find(agent_token) == std::string::npos);
  CHECK(finished.err.find("rotated-token-22") == std::string::npos);
}

TEST_CASE("plugin: foreign templates, bad bodies, other paths", "[service][plugin][no-cluster]") {
  Plugin plugin;
  auto foreign = request_for("notify-slack", {});
  foreign["template"].as_object()["plugin"] = json::object{{"slack", json::object{{"text", "hi"}}}};
  CHECK(plugin.execute(foreign).empty());
  auto container = request_for("c", {});
  container["template"].as_object().erase("plugin");
  container["template"].as_object()["container"] = json::object{{"image", "busybox"}};
  CHECK(plugin.execute(container).empty());

  CHECK(plugin.post("{\"workflow\":").status == 400);
  CHECK(plugin.post("not json at all").status == 400);
  CHECK(plugin.post("[1,2,3]").status == 400);
  CHECK(plugin.post(R"({"workflow":{"metadata":{}}})").status == 400);  // no template
  CHECK(plugin.post(R"({"workflow":{"metadata":{}},"template":{"plugin":{"irsteps":"isolate"}}})").status ==
        400);
  CHECK(plugin.post(std::string(2 << 20, ' ')).status == 413);
  CHECK(plugin.send("GET", "/api/v1/template.execute", "").status == 405);
  CHECK(plugin.send("POST", "/api/v1/template.resolve", "{}").status == 404);
  CHECK(plugin.send("GET", "/healthz", "", std::nullopt).status == 200);
  CHECK(plugin.terminate().exit_status == 0);
}

TEST_CASE(
    "plugin: parameters are validated by the step's schema and errors are Failed nodes naming the field",
    "[service][plugin][no-cluster]") {
  Plugin plugin;
  auto check_failed = [&](json::object irsteps, const std::string& mentions) {
    const auto reply = plugin.execute(request_for("t-" + mentions, std::move(irsteps)));
    const std::string message = string_at(reply, {"node", "message"});
    INFO(message);
    CHECK(string_at(reply, {"node", "phase"}) == "Failed");
    CHECK(node_exit_code(reply) == 2);
    CHECK(message.find(mentions) != std::string::npos);
    CHECK(!reply.contains("requeue"));
  };
  check_failed({{"namespace", "x"}}, "plugin.irsteps.step");
  check_failed({{"step", "reboot-cluster"}, {"incident-id", incident}}, "unknown step 'reboot-cluster'");
  check_failed({{"step", "isolate"}, {"namespace", "x"}, {"pod", "p"}}, "incident-id");
  check_failed({{"step", "isolate"}, {"incident-id", "INC-26"}, {"namespace", "x"}, {"pod", "p"}},
               "incident-id");
  check_failed(
      {{"step", "isolate"}, {"incident-id", incident}, {"namespace", "x"}, {"pod", "p"}, {"scope", "all"}},
      "scope");
  check_failed({{"step", "isolate"}, {"incident-id", incident}, {"namespace", "x"}, {"no-such", "1"}},
               "no-such");
  check_failed({{"step", "rollout"}, {"incident-id", incident}, {"verb", "scale"}, {"replicas", "many"}},
               "replicas");
  check_failed(
      {{"step", "rotate-secret"}, {"incident-id", incident}, {"namespace", "x"}, {"from-stdin", true}},
      "from-stdin");
  // Nothing ran.
  CHECK(plugin.state().at("started").to_number<int>() == 0);
  CHECK(plugin.terminate().exit_status == 0);
}

TEST_CASE("plugin: --dry-run checks the token file, the port and the case records' directory without serving",
          "[service][plugin][no-cluster]") {
  TempDir tmp;
  const std::string token = tmp.file("token", agent_token + "\n");
  const std::string blocker = tmp.file("blocker", "a file, not a directory\n");
  auto dry_run = [&](std::vector<std::string> args, const std::string& cache,
                     const std::string& temp = std::filesystem::temp_directory_path().string()) {
    std::vector<std::string> argv{
        binary("irsteps-plugin"), "--dry-run", "--address", "127.0.0.1", "--port", "0"};
    argv.insert(argv.end(), args.begin(), args.end());
    ProcessOptions options;
    options.extra_env = {{"IRSTEPS_CACHE_DIR", cache}, {"TMPDIR", temp}};
    auto out = run_process(argv, options);
    REQUIRE(out);
    return *out;
  };

  const auto ready = dry_run({"--token-file", token}, tmp / "cache");
  INFO(ready.err);
  REQUIRE(ready.exit_status == 0);
  auto report = parse_json(ready.out, "dry-run report");
  REQUIRE(report);
  CHECK(string_at(*report, {"status"}) == "ready");
  CHECK(find(*report, {"steps"})->as_array().size() == std::size(ir::generated::step_list));
  CHECK(find(*report, {"caseRecordCache", "writable"})->as_bool());
  CHECK(string_at(*report, {"caseRecordCache", "using"}) == tmp / "cache");
  CHECK(string_at(*report, {"finishedRuns", "directory"}) == tmp / "cache/plugin-runs");
  CHECK(find(*report, {"finishedRuns", "writable"})->as_bool());
  CHECK(ready.out.find(agent_token) == std::string::npos);
  CHECK(ready.err.find(agent_token) == std::string::npos);

  // The cache folder cannot be written: a private one under TMPDIR would
  // be used, and the problem is reported.
  std::filesystem::create_directories(tmp / "tmp");
  const auto fallback = dry_run({"--token-file", token}, blocker + "/cache", tmp / "tmp");
  REQUIRE(fallback.exit_status == 0);
  report = parse_json(fallback.out, "dry-run report");
  REQUIRE(report);
  CHECK(find(*report, {"caseRecordCache", "writable"})->as_bool());
  CHECK(string_at(*report, {"caseRecordCache", "problem"}).find(blocker) != std::string::npos);
  CHECK(string_at(*report, {"caseRecordCache", "using"}).starts_with(tmp / "tmp/irsteps-cache-"));
  CHECK(!find(*report, {"finishedRuns", "writable"})->as_bool());
  CHECK(fallback.err.find("\"cache.fallback\"") != std::string::npos);

  // Neither (as in Argo's agent pod without plugin.yaml's volume: /tmp is
  // on the read-only root): reported, still ready.
  const auto no_cache = dry_run({"--token-file", token}, blocker + "/cache", blocker + "/tmp");
  REQUIRE(no_cache.exit_status == 0);
  report = parse_json(no_cache.out, "dry-run report");
  REQUIRE(report);
  CHECK(!find(*report, {"caseRecordCache", "writable"})->as_bool());
  CHECK(string_at(*report, {"caseRecordCache", "problem"}).find(blocker) != std::string::npos);

  // A token file it cannot read: every call would be refused, so exit 2
  // naming the option; an empty one too.
  const auto missing = dry_run({"--token-file", tmp / "absent"}, tmp / "cache");
  CHECK(missing.exit_status == 2);
  CHECK(missing.err.find("--token-file") != std::string::npos);
  CHECK(missing.out.empty());
  const auto empty = dry_run({"--token-file", tmp.file("empty", "\n")}, tmp / "cache");
  CHECK(empty.exit_status == 2);
  CHECK(empty.err.find("is empty") != std::string::npos);
}

TEST_CASE("plugin: a case record with nowhere to clone it is refused before the step acts",
          "[service][plugin][no-cluster]") {
  // As in Argo's agent pod: the root filesystem is read-only. A path under a
  // regular file cannot be made even by root, which CI runs as.
  TempDir tmp;
  const std::string blocker = tmp.file("blocker", "a file, not a directory\n");
  Plugin plugin({}, {{"IRSTEPS_CACHE_DIR", blocker + "/cache"}, {"TMPDIR", blocker + "/tmp"}});
  const auto reply = plugin.execute(request_for("isolate", {{"step", "isolate"},
                                                            {"incident-id", incident},
                                                            {"namespace", "shop"},
                                                            {"pod", "web-7d4b9"},
                                                            {"case-repo", "https://git.example/ir/cases.git"},
                                                            {"dry-run", "true"}}));
  const std::string message = string_at(reply, {"node", "message"});
  INFO(message);
  CHECK(string_at(reply, {"node", "phase"}) == "Failed");
  CHECK(node_exit_code(reply) == 2);
  CHECK(message.find("case-repo") != std::string::npos);
  CHECK(message.find(blocker) != std::string::npos);
  CHECK(plugin.state().at("started").to_number<int>() == 0);
  CHECK(plugin.terminate().exit_status == 0);
}

namespace {

// The outputs with each UTC time replaced by a placeholder, and the times
// themselves in the order they appeared.
struct Timeless {
  std::map<std::string, std::string> outputs;
  std::vector<TimePoint> times;
};

Timeless with_times_taken_out(std::map<std::string, std::string> outputs) {
  static const std::regex utc(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z)");
  Timeless out;
  for (auto& [name, value] : outputs) {
    for (std::sregex_iterator it(value.begin(), value.end(), utc), end; it != end; ++it) {
      auto parsed = parse_utc(it->str());
      REQUIRE(parsed);
      out.times.push_back(*parsed);
    }
    out.outputs[name] = std::regex_replace(value, utc, "<time>");
  }
  return out;
}

}  // namespace

TEST_CASE("plugin: every step gives the verdict its command line gives", "[service][plugin][no-cluster]") {
  // The local files these calls name, allowed by the plugin's policy.
  Plugin plugin({"--wait", "5s"}, {}, [](const TempDir& dir) {
    const std::vector<std::string> kc{kubeconfig_path(dir, closed_server())};
    return policy_allowing({{"isolate", {{"kubeconfig", kc}}},
                            {"snapshot", {{"kubeconfig", kc}, {"out", {dir / "evidence"}}}},
                            {"rollout", {{"kubeconfig", kc}}},
                            {"rotate-secret", {{"kubeconfig", kc}}},
                            {"access-audit", {{"kubeconfig", kc}}},
                            {"drift", {{"kubeconfig", kc}, {"expected", {dir / "expected.yaml"}}}},
                            {"notify", {{"routing", {dir / "routing.yaml"}}}},
                            {"verify-image", {{"bundle", {dir / "bundle.json"}}}},
                            {"cordon", {{"kubeconfig", kc}}}});
  });
  const TempDir& dir = plugin.dir();
  const std::string kc = kubeconfig(dir, closed_server());
  const std::string manifest =
      dir.file("expected.yaml",
               "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app-config, namespace: "
               "shop}\ndata: {mode: safe}\n");
  const std::string hook_secret = dir.file("hook-secret", "hook-signing-secret\n");
  const std::string routing = dir.file(
      "routing.yaml",
      "channels:\n  - {name: siem, type: webhook, url: 'https://127.0.0.1:9/irsteps', secret-file: " +
          hook_secret + "}\n");
  const std::string bundle = dir.file("bundle.json", "{\"mediaType\": \"not a bundle\"}");
  const json::object cluster{{"kubeconfig", kc}, {"max-attempts", "1"}};
  struct Case {
    std::string step;
    json::object params;
  };
  auto with = [&](json::object params, bool needs_cluster) {
    params["incident-id"] = incident;
    if (needs_cluster) {
      for (const auto& entry : cluster) params[entry.key()] = entry.value();
    }
    return params;
  };
  std::vector<Case> cases{
      {"isolate", with({{"namespace", "shop"}, {"pod", "web-7d4b9"}, {"dry-run", "true"}}, true)},
      {"cordon", with({{"namespace", "shop"}, {"pod", json::array{"web-7d4b9"}}, {"dry-run", "true"}}, true)},
      {"snapshot",
       with({{"namespace", "shop"}, {"pod", "web-7d4b9"}, {"out", dir / "evidence"}, {"dry-run", "true"}},
            true)},
      {"rollout", with({{"verb", "restart"},
                        {"target", json::array{"deployment/web"}},
                        {"namespace", "shop"},
                        {"dry-run", true}},
                       true)},
      {"rotate-secret",
       with({{"namespace", "shop"}, {"secret", "db"}, {"key", "password"}, {"dry-run", "true"}}, true)},
      {"access-audit", with({{"resource", "secrets/db"}, {"namespace", "shop"}}, true)},
      {"drift", with({{"expected", manifest}, {"namespace", "shop"}, {"dry-run", "true"}}, true)},
      {"notify", with({{"routing", routing},
                       {"severity", "critical"},
                       {"title", "Crypto miner in shop/web"},
                       {"summary", "A miner ran in web-7d4b9"},
                       {"impact", "shop web pods"},
                       {"current-actions", "pod isolated"},
                       {"contact", "Alice (IC)"},
                       {"dry-run", "true"}},
                      false)},
      {"verify-image", with({{"command", json::array{"bundle", "sha256:" + std::string(64, '0')}},
                             {"bundle", bundle},
                             {"certificate-identity", "ci@example.com"},
                             {"certificate-oidc-issuer", "https://token.actions.githubusercontent.com"}},
                            false)},
  };
  // A step without a case of its own here (a new one, docs/adding-a-step.md)
  // is still called both ways, with no parameters of its own: the two must
  // refuse it alike.
  for (const auto& entry : ir::generated::step_list) {
    if (std::none_of(cases.begin(), cases.end(), [&](const Case& c) { return c.step == entry.name; }))
      cases.push_back({std::string(entry.name), with({{"dry-run", "true"}}, entry.kubernetes)});
  }
  std::set<std::string> steps_seen;
  std::set<int> verdicts;
  for (const auto& c : cases) {
    INFO("step " << c.step);
    json::object irsteps = c.params;
    irsteps["step"] = c.step;
    const auto reply = plugin.until_done(request_for(c.step, irsteps));
    const auto cli = run_cli(c.step, c.params);
    INFO("plugin: " << json::serialize(reply) << "\ncli: " << json::serialize(cli.result));
    CHECK(cli.exit_status != 70);
    CHECK(node_exit_code(reply) == cli.exit_status);
    CHECK((string_at(reply, {"node", "phase"}) == "Succeeded") == (cli.exit_status == 0));
    if (cli.exit_status != 0) {
      // The same error as the command line's result document.
      CHECK(string_at(reply, {"node", "message"}).find(string_at(cli.result, {"error", "message"})) !=
            std::string::npos);
    }
    // Outputs are equal but for the times that count from the moment each
    // run began (notify's next update due, its escalation plan): the command
    // line ran after the plugin, never before, and not minutes later.
    auto from_plugin = with_times_taken_out(outputs_of_reply(reply));
    auto from_cli = with_times_taken_out(outputs_of_result(cli.result));
    CHECK(from_plugin.outputs == from_cli.outputs);
    REQUIRE(from_plugin.times.size() == from_cli.times.size());
    for (std::size_t i = 0; i < from_cli.times.size(); ++i) {
      CHECK(from_cli.times[i] >= from_plugin.times[i]);
      CHECK(from_cli.times[i] - from_plugin.times[i] < std::chrono::minutes(2));
    }
    steps_seen.insert(c.step);
    verdicts.insert(cli.exit_status);
  }
  // Every step of the plugin's table, and more than one kind of verdict.
  CHECK(steps_seen.size() == std::size(ir::generated::step_list));
  CHECK(verdicts.contains(0));
  CHECK(verdicts.contains(3));
  CHECK(verdicts.contains(4));
  CHECK(plugin.terminate().exit_status == 0);
}

TEST_CASE("plugin: a long step replies Running with a requeue, and repeated calls never start it twice",
          "[service][plugin][no-cluster]") {
  // An API server that answers every request slowly with 503: `rollout
  // status` retries, so the run takes seconds.
  HttpServer api([](const SeenRequest&) { return Reply{503, {{"Retry-After", "0"}}, "busy", 400ms}; });
  Plugin plugin({"--wait", "150ms", "--requeue", "3s"}, {}, [&api](const TempDir& dir) {
    return policy_allowing({{"rollout", {{"kubeconfig", {kubeconfig_path(dir, api.url())}}}}});
  });
  const json::object irsteps{
      {"step", "rollout"},   {"incident-id", incident}, {"args", json::array{"status", "deployment/web"}},
      {"namespace", "shop"}, {"timeout", "30s"},        {"kubeconfig", kubeconfig(plugin.dir(), api.url())},
      {"max-attempts", "4"}};
  const auto request = request_for("rollout-status", irsteps);
  const auto first = plugin.execute(request);
  CHECK(string_at(first, {"node", "phase"}) == "Running");
  CHECK(string_at(first, {"requeue"}) == "3s");
  const auto second = plugin.execute(request);
  CHECK(string_at(second, {"node", "phase"}) == "Running");
  CHECK(plugin.state().at("started").to_number<int>() == 1);

  const auto done = plugin.until_done(request);
  INFO(json::serialize(done));
  CHECK(string_at(done, {"node", "phase"}) == "Failed");
  CHECK(node_exit_code(done) == 4);
  CHECK(string_at(done, {"node", "message"}).find("transient") != std::string::npos);
  const auto state = plugin.state();
  CHECK(state.at("started").to_number<int>() == 1);
  CHECK(state.at("finished").to_number<int>() == 1);
  CHECK(plugin.log_count("job.started") == 1);
  // One run: the API server saw exactly its attempts.
  CHECK(api.requests().size() == 4);

  // The Failed node was handed out; the same call again is Argo's retry and
  // runs again.
  const auto retry = plugin.execute(request);
  CHECK(string_at(retry, {"node", "phase"}) == "Running");
  CHECK(plugin.state().at("started").to_number<int>() == 2);
  // Other arguments in the same workflow are another run.
  json::object other = irsteps;
  other["namespace"] = "payments";
  CHECK(string_at(plugin.execute(request_for("rollout-status", other)), {"node", "phase"}) == "Running");
  CHECK(plugin.state().at("started").to_number<int>() == 3);
  const auto finished = plugin.terminate();
  CHECK(finished.exit_status == 0);
  CHECK(finished.err.find("\"plugin.stopped\"") != std::string::npos);
}

TEST_CASE(
    "plugin: a Succeeded node answers the same call again without a second run, with the outputs' defaults",
    "[service][plugin][no-cluster]") {
  Plugin plugin({"--wait", "5s"}, {}, [](const TempDir& dir) {
    return policy_allowing({{"notify", {{"routing", {dir / "routing.yaml"}}}}});
  });
  const TempDir& dir = plugin.dir();
  const std::string hook_secret = dir.file("hook-secret", "hook-signing-secret\n");
  const std::string routing = dir.file(
      "routing.yaml",
      "channels:\n  - {name: siem, type: webhook, url: 'https://127.0.0.1:9/irsteps', secret-file: " +
          hook_secret + "}\n");
  auto request = request_for("notify-stakeholders", notify_call(routing));
  // As the playbooks declare them: a default for outputs a run may leave unset.
  request["template"].as_object()["outputs"] = json::object{
      {"parameters",
       json::array{
           json::object{{"name", "dedup-key"}, {"valueFrom", json::object{{"default", "unset"}}}},
           json::object{{"name", "signatures-verified"},
                        {"valueFrom", json::object{{"supplied", json::object{}}, {"default", "0"}}}},
           json::object{{"name", "no-default"}, {"valueFrom", json::object{{"supplied", json::object{}}}}}}}};
  const auto first = plugin.until_done(request);
  INFO(json::serialize(first));
  REQUIRE(string_at(first, {"node", "phase"}) == "Succeeded");
  const auto outputs = outputs_of_reply(first);
  REQUIRE(outputs.contains("dedup-key"));
  CHECK(outputs.at("dedup-key") != "unset");  // set by the step: its value, not the default
  CHECK(outputs.at("signatures-verified") == "0");
  CHECK(!outputs.contains("no-default"));

  // Argo asks again (its agent restarted before it recorded the node): the
  // same node, and the step does not run again.
  const auto again = plugin.execute(request);
  CHECK(again == first);
  const auto state = plugin.state();
  CHECK(state.at("started").to_number<int>() == 1);
  CHECK(state.at("uncollected").to_number<int>() == 0);
  CHECK(plugin.log_count("job.started") == 1);
  CHECK(plugin.terminate().exit_status == 0);
}

TEST_CASE("plugin: 16 calls at once are all answered, at most --max-concurrent steps running",
          "[service][plugin][no-cluster]") {
  Plugin plugin({"--max-concurrent", "4", "--wait", "1s"}, {}, [](const TempDir& dir) {
    return policy_allowing({{"isolate", {{"kubeconfig", {kubeconfig_path(dir, closed_server())}}}}});
  });
  const std::string kc = kubeconfig(plugin.dir(), closed_server());
  std::vector<std::thread> callers;
  std::mutex mutex;
  std::vector<int> codes;
  std::vector<std::string> failures;
  for (int i = 0; i < 16; ++i) {
    callers.emplace_back([&, i] {
      try {
        const auto request = request_for("isolate-" + std::to_string(i), {{"step", "isolate"},
                                                                          {"incident-id", incident},
                                                                          {"namespace", "shop"},
                                                                          {"pod", "web-" + std::to_string(i)},
                                                                          {"dry-run", "true"},
                                                                          {"kubeconfig", kc},
                                                                          {"max-attempts", "1"}});
        const auto deadline = std::chrono::steady_clock::now() + 60s;
        for (;;) {
          const auto response =
              plugin.try_send("POST", "/api/v1/template.execute", json::serialize(request)).value();
          if (response.status != 200) throw std::runtime_error("status " + std::to_string(response.status));
          const auto reply = parse_json(response.body, "reply").value().as_object();
          if (string_at(reply, {"node", "phase"}) != "Running") {
            std::lock_guard lock(mutex);
            codes.push_back(node_exit_code(reply));
            return;
          }
          if (std::chrono::steady_clock::now() > deadline) throw std::runtime_error("still running");
          std::this_thread::sleep_for(50ms);
        }
      } catch (const std::exception& e) {
        std::lock_guard lock(mutex);
        failures.emplace_back(e.what());
      }
    });
  }
  // Samples how many steps run at once while the calls go on.
  std::atomic<bool> calling{true};
  int most_running = 0;
  std::thread sampler([&] {
    while (calling) {
      if (auto response = plugin.try_send("GET", "/api/v1/state", ""); response && response->status == 200) {
        if (auto state = parse_json(response->body, "state"); state && state->is_object()) {
          most_running = std::max(most_running, state->at("running").to_number<int>());
        }
      }
      std::this_thread::sleep_for(10ms);
    }
  });
  for (auto& caller : callers) caller.join();
  calling = false;
  sampler.join();
  CHECK(most_running <= 4);
  for (const auto& f : failures) INFO(f);
  CHECK(failures.empty());
  REQUIRE(codes.size() == 16);
  CHECK(std::all_of(codes.begin(), codes.end(), [](int code) { return code == 4; }));
  const auto state = plugin.state();
  CHECK(state.at("started").to_number<int>() == 16);
  CHECK(state.at("maxConcurrent").to_number<int>() == 4);
  CHECK(plugin.terminate().exit_status == 0);
}

TEST_CASE("plugin: SIGTERM lets the running step finish within the grace, then exits 0",
          "[service][plugin][no-cluster]") {
  HttpServer api([](const SeenRequest&) { return Reply{503, {{"Retry-After", "0"}}, "busy", 300ms}; });
  const auto allow_kubeconfig = [&api](const TempDir& dir) {
    return policy_allowing({{"rollout", {{"kubeconfig", {kubeconfig_path(dir, api.url())}}}}});
  };
  SECTION("the step finishes within the grace") {
    Plugin plugin({"--wait", "100ms", "--shutdown-grace", "30s"}, {}, allow_kubeconfig);
    const auto request = request_for("rollout-status", {{"step", "rollout"},
                                                        {"incident-id", incident},
                                                        {"args", json::array{"status", "deployment/web"}},
                                                        {"namespace", "shop"},
                                                        {"kubeconfig", kubeconfig(plugin.dir(), api.url())},
                                                        {"max-attempts", "3"}});
    CHECK(string_at(plugin.execute(request), {"node", "phase"}) == "Running");
    const auto finished = plugin.terminate();
    CHECK(finished.exit_status == 0);
    CHECK(finished.err.find("\"plugin.stopping\"") != std::string::npos);
    CHECK(finished.err.find("\"job.finished\"") != std::string::npos);
    CHECK(finished.err.find("\"plugin.stopped\"") != std::string::npos);
  }
  SECTION("a step that outlasts the grace is abandoned") {
    Plugin plugin({"--wait", "100ms", "--shutdown-grace", "300ms"}, {}, allow_kubeconfig);
    const auto request = request_for("rollout-status", {{"step", "rollout"},
                                                        {"incident-id", incident},
                                                        {"args", json::array{"status", "deployment/web"}},
                                                        {"namespace", "shop"},
                                                        {"kubeconfig", kubeconfig(plugin.dir(), api.url())},
                                                        {"max-attempts", "10"}});
    CHECK(string_at(plugin.execute(request), {"node", "phase"}) == "Running");
    const auto started = std::chrono::steady_clock::now();
    const auto finished = plugin.terminate();
    CHECK(finished.exit_status == 0);
    CHECK(std::chrono::steady_clock::now() - started < 10s);
    CHECK(finished.err.find("\"plugin.abandoned\"") != std::string::npos);
  }
  SECTION("idle") {
    Plugin plugin;
    const auto finished = plugin.terminate();
    CHECK(finished.exit_status == 0);
    CHECK(finished.err.find("\"plugin.stopped\"") != std::string::npos);
  }
}
