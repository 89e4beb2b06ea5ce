// --case-repo on a real step against the real control plane: the result lands
// in the case record (over a path and over smart HTTP with a token), eight
// runs at once all land, a bad case-repo changes nothing, and a remote that
// is down keeps the record and exits 4 after the step did its work.
#include "support/git_server.hpp"
#include "support/step_runner.hpp"

#include <filesystem>
#include <set>
#include <thread>

using namespace ir;
using namespace ir::test;

namespace {

const std::string incident = "INC-2026-11-26-201";

std::vector<std::string> isolate_args(const std::string& ns, std::vector<std::string> more) {
  std::vector<std::string> list{"--incident-id", incident,  "--namespace",  ns,
                                "--selector",    "app=web", "--kubeconfig", Cluster::get().kubeconfig()};
  list.insert(list.end(), more.begin(), more.end());
  return list;
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (auto nl = text.find('\n'); nl != std::string::npos; start = nl + 1, nl = text.find('\n', start)) {
    out.push_back(text.substr(start, nl - start));
  }
  return out;
}

}  // namespace

TEST_CASE("a step's result is committed to the case record and the output names it", "[integration][case]") {
  TempDir tmp;
  make_bare_repo(tmp / "case.git");
  TestNamespace ns("case");
  Cluster::get().apply_yaml(ns.name(), deployment_yaml("web", 1));
  running_pods(ns.name(), "app=web", 1);

  auto run =
      run_step_binary("isolate", isolate_args(ns.name(), {"--dry-run", "--case-repo", tmp / "case.git"}),
                      {{"IRSTEPS_CACHE_DIR", tmp / "cache"}});
  REQUIRE_EXIT(run, 0);
  const std::string path = run.output("case-record");
  CHECK(path.starts_with("incidents/" + incident + "/"));
  CHECK(path.ends_with("-isolate.json"));
  CHECK(run_git(tmp / "case.git", {"rev-parse", "main"}).out == run.output("case-record-commit") + "\n");
  auto record = parse_json(run_git(tmp / "case.git", {"show", "main:" + path}).out, "record");
  REQUIRE(record);
  CHECK(string_at(*record, {"incidentId"}) == incident);
  CHECK(find(*record, {"dryRun"})->as_bool());
  CHECK(find(*record, {"actions"})->as_array() == run.result.at("actions").as_array());
  CHECK(run_git(tmp / "case.git", {"log", "-1", "--format=%s", "main"}).out ==
        incident + ": isolate succeeded (dry run)\n");
}

TEST_CASE("eight step runs append to one case over smart HTTP with a token at once, all land",
          "[integration][case]") {
  TempDir tmp;
  make_bare_repo(tmp / "srv/case.git");
  const std::string token = "case-token-7d1e9a0b44c2";
  REQUIRE(write_file_atomic(tmp / "token", token));
  GitHttpServer server(tmp / "srv", {tmp / "token"});
  TestNamespace ns("case8");
  Cluster::get().apply_yaml(ns.name(), deployment_yaml("web", 1));
  running_pods(ns.name(), "app=web", 1);

  constexpr int runs = 8;
  std::vector<Result<ProcessOutput>> outputs(runs, Error(Code::internal, "not run"));
  std::vector<std::thread> threads;
  for (int i = 0; i < runs; ++i) {
    threads.emplace_back([&, i] {
      // Half share this machine's mirror (they take turns on its lock), half
      // have their own, as separate pods would.
      const std::string cache = i % 2 == 0 ? tmp / "cache-shared" : tmp / ("cache-" + std::to_string(i));
      std::vector<std::string> argv{binary("isolate")};
      for (auto& a : isolate_args(ns.name(), {"--dry-run", "--case-repo", server.url("case.git"),
                                              "--case-repo-token-file", tmp / "token"})) {
        argv.push_back(a);
      }
      ProcessOptions options;
      options.extra_env = {{"IRSTEPS_CACHE_DIR", cache}};
      options.timeout = std::chrono::seconds(300);
      outputs[i] = run_process(argv, options);
    });
  }
  for (auto& t : threads) t.join();
  std::set<std::string> paths;
  std::string runs_seen;  // each run's record, commit and times, for a failure
  for (const auto& out : outputs) {
    REQUIRE(out);
    INFO(out->err);
    REQUIRE(out->exit_status == 0);
    CHECK((out->out + out->err).find(token) == std::string::npos);
    auto doc = parse_json(out->out, "stdout");
    REQUIRE(doc);
    paths.insert(string_at(*doc, {"outputs", "case-record"}));
    runs_seen += string_at(*doc, {"outputs", "case-record"}) + " " +
                 string_at(*doc, {"outputs", "case-record-commit"}) + " " + string_at(*doc, {"startTime"}) +
                 " " + string_at(*doc, {"endTime"}) + "\n";
  }
  INFO(runs_seen);
  CHECK(paths.size() == runs);
  const auto tree = lines(run_git(tmp / "srv/case.git", {"ls-tree", "-r", "--name-only", "main"}).out);
  CHECK(std::set<std::string>(tree.begin(), tree.end()) == paths);
  CHECK(run_git(tmp / "srv/case.git", {"fsck", "--strict"}).exit_status == 0);
  CHECK(server.request_log().find(token) == std::string::npos);
}

TEST_CASE("a bad case-repo is exit 2 before the step changes anything", "[integration][case]") {
  TempDir tmp;
  TestNamespace ns("casebad");
  Cluster::get().apply_yaml(ns.name(), deployment_yaml("web", 1));
  running_pods(ns.name(), "app=web", 1);
  auto missing =
      run_step_binary("isolate", isolate_args(ns.name(), {"--case-repo", tmp / "nothing-here.git"}));
  REQUIRE_EXIT(missing, 2);
  CHECK(missing.err.find("case-repo") != std::string::npos);
  CHECK(missing.err.find("git init --bare") != std::string::npos);
  auto policies = Cluster::get().client().list(k8s::resources::networkpolicies, ns.name());
  REQUIRE(policies);
  CHECK(policies->at("items").as_array().empty());

  auto leaky = run_step_binary(
      "isolate",
      isolate_args(ns.name(), {"--case-repo", "https://bot:hunter2-s3cret@git.example.test/c.git"}));
  REQUIRE_EXIT(leaky, 2);
  CHECK(leaky.all_text().find("hunter2-s3cret") == std::string::npos);

  auto no_token_file =
      run_step_binary("isolate", isolate_args(ns.name(), {"--case-repo", "https://git.example.test/c.git",
                                                          "--case-repo-token-file", tmp / "absent"}));
  REQUIRE_EXIT(no_token_file, 2);
  CHECK(no_token_file.err.find("case-repo-token-file") != std::string::npos);
}

TEST_CASE("with the case repository down the step still acts, keeps the record and exits 4",
          "[integration][case]") {
  TempDir tmp;
  make_bare_repo(tmp / "srv/case.git");
  auto server = std::make_unique<GitHttpServer>(tmp / "srv");
  const std::string url = server->url("case.git");
  server->stop();
  TestNamespace ns("casedown");
  Cluster::get().apply_yaml(ns.name(), deployment_yaml("web", 1));
  running_pods(ns.name(), "app=web", 1);

  auto run = run_step_binary("isolate", isolate_args(ns.name(), {"--case-repo", url}),
                             {{"IRSTEPS_CACHE_DIR", tmp / "cache"}});
  REQUIRE_EXIT(run, 4);
  CHECK(string_at(run.result, {"status"}) == "succeeded");
  const std::string kept = run.output("case-record-pending");
  REQUIRE(std::filesystem::exists(kept));
  CHECK(run.out.find("kept at " + kept) != std::string::npos);
  auto policies = Cluster::get().client().list(k8s::resources::networkpolicies, ns.name());
  REQUIRE(policies);
  CHECK(policies->at("items").as_array().size() == 1);
}
