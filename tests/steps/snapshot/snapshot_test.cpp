// snapshot's logic in this process, against an API server the test scripts
// (support/step_harness.hpp): what it asks for, what it writes, and the exit
// code and result document the driver makes of it. The same run against a
// real control plane, with exec and the kubelet, is
// tests/integration/snapshot_test.cpp.
#include "snapshot.hpp"

#include "ir/core/encoding.hpp"
#include "support/catch.hpp"
#include "support/step_harness.hpp"

#include <filesystem>

using namespace ir;
using ir::test::api_list;
using ir::test::api_object;
using ir::test::api_status;
using ir::test::Reply;
using ir::test::run_step_in_process;
using ir::test::ScriptedApi;
using ir::test::SeenRequest;
using ir::test::StepOutcome;
using ir::test::TempDir;

namespace {

const std::string pod_path = "/api/v1/namespaces/shop/pods/web-1";
const std::string log_path = pod_path + "/log";
const std::string rolebindings_path = "/apis/rbac.authorization.k8s.io/v1/namespaces/shop/rolebindings";

json::object pod() {
  return json::object{
      {"apiVersion", "v1"},
      {"kind", "Pod"},
      {"metadata", json::object{{"name", "web-1"},
                                {"namespace", "shop"},
                                {"uid", "uid-web-1"},
                                {"resourceVersion", "42"},
                                {"labels", json::object{{"app", "web"}}}}},
      {"spec", json::object{{"nodeName", "node-a"},
                            {"serviceAccountName", "web"},
                            {"containers", json::array{json::object{{"name", "app"}, {"image", "nginx"}}}}}},
      {"status",
       json::object{{"phase", "Running"},
                    {"containerStatuses",
                     json::array{json::object{{"name", "app"}, {"image", "nginx"}, {"restartCount", 0}}}}}}};
}

json::object policy(const std::string& name, const std::string& app) {
  return json::object{
      {"metadata", json::object{{"name", name}, {"namespace", "shop"}}},
      {"spec", json::object{{"podSelector", json::object{{"matchLabels", json::object{{"app", app}}}}}}}};
}

// An API server that has everything snapshot asks for about shop/web-1.
void script_cluster(ScriptedApi& api) {
  api.on("GET", pod_path, api_object(pod()));
  api.on("GET", "/api/v1/namespaces/shop/events",
         api_list("EventList", {json::object{{"reason", "Started"}, {"message", "Started container app"}}}));
  api.on("GET", "/apis/networking.k8s.io/v1/namespaces/shop/networkpolicies",
         api_list("NetworkPolicyList", {policy("web-ingress", "web"), policy("db-ingress", "db")}));
  api.on("GET", "/api/v1/namespaces/shop/serviceaccounts/web",
         api_object(json::object{{"metadata", json::object{{"name", "web"}, {"namespace", "shop"}}}}));
  api.on("GET", rolebindings_path, api_list("RoleBindingList"));
  api.on("GET", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", api_list("ClusterRoleBindingList"));
  api.on("GET", "/api/v1/nodes/node-a",
         api_object(json::object{
             {"metadata", json::object{{"name", "node-a"}, {"uid", "uid-node-a"}}},
             {"status", json::object{{"nodeInfo", json::object{{"kubeletVersion", "v1.30.0"}}}}}}));
  api.on("GET", log_path,
         Reply{200,
               {{"Content-Type", "text/plain"}},
               "2026-11-26T10:00:00Z started\n2026-11-26T10:00:01Z ready\n"});
}

std::vector<std::string> args_for(const TempDir& dir, std::vector<std::string> more = {}) {
  std::vector<std::string> args{
      "--incident-id", "INC-2026-11-26-001", "--namespace", "shop",          "--pod",
      "web-1",         "--triage=false",     "--out",       dir / "evidence"};
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

const json::object* evidence_entry(const StepOutcome& run, const std::string& suffix) {
  const auto* list = find(run.result, {"evidence"});
  if (list == nullptr || !list->is_array()) return nullptr;
  for (const auto& entry : list->get_array()) {
    if (string_at(entry, {"path"}).ends_with(suffix)) return &entry.get_object();
  }
  return nullptr;
}

std::string read(const std::string& path) {
  auto text = read_file(path);
  REQUIRE(text);
  return *text;
}

}  // namespace

TEST_CASE("snapshot in process: every item of a pod is collected, hashed as the result and the manifest say",
          "[unit][snapshot][harness]") {
  ScriptedApi api;
  script_cluster(api);
  TempDir dir;
  auto run = run_step_in_process(steps::snapshot::step(), args_for(dir), &api);
  REQUIRE_STEP_EXIT(run, 0);
  CHECK(run.output("complete") == "7");
  CHECK(run.output("partial") == "0");
  CHECK(run.output("failed") == "0");
  CHECK(run.output("evidence-path") == dir / "evidence");

  const std::string pod_dir = dir / "evidence/shop/web-1";
  for (const char* item : {"pod.json", "describe.txt", "events.json", "networkpolicies.json",
                           "serviceaccount.json", "node.json", "logs/app.log"}) {
    INFO(item);
    const auto* entry = evidence_entry(run, std::string("shop/web-1/") + item);
    REQUIRE(entry != nullptr);
    CHECK(string_at(*entry, {"status"}) == "complete");
    CHECK(string_at(*entry, {"sha256"}) == sha256_hex(read(pod_dir + "/" + item)));
  }
  CHECK(read(pod_dir + "/logs/app.log") == "2026-11-26T10:00:00Z started\n2026-11-26T10:00:01Z ready\n");
  // Only the policy that selects the pod.
  const std::string policies = read(pod_dir + "/networkpolicies.json");
  CHECK(policies.find("web-ingress") != std::string::npos);
  CHECK(policies.find("db-ingress") == std::string::npos);
  // The manifest's hash is the one the result gives.
  CHECK(run.output("manifest-sha256") == sha256_hex(read(dir / "evidence/manifest.json")));

  // Evidence is read, never changed: every request is a GET, with the
  // kubeconfig's token, and the token is in no output.
  const auto requests = api.requests();
  REQUIRE_FALSE(requests.empty());
  for (const auto& request : requests) {
    INFO(request.method << " " << request.target);
    CHECK(request.method == "GET");
    CHECK(request.tls);
    CHECK(request.header("Authorization") == "Bearer " + api.token());
  }
  CHECK(run.all_text().find(api.token()) == std::string::npos);
  CHECK(read(dir / "evidence/manifest.json").find(api.token()) == std::string::npos);
}

TEST_CASE("snapshot in process: bad input exits 2 naming the field, before any request",
          "[unit][snapshot][harness]") {
  ScriptedApi api;
  script_cluster(api);
  TempDir dir;
  struct Case {
    std::vector<std::string> args;
    std::string field;
  };
  const std::vector<Case> cases{
      {{"--incident-id", "INC-2026-11-26-001", "--pod", "web-1", "--out", dir / "e"}, "namespace"},
      {{"--incident-id", "INC-26-11-26-1", "--namespace", "shop", "--pod", "web-1", "--out", dir / "e"},
       "incident-id"},
      {{"--incident-id", "INC-2026-11-26-001", "--namespace", "Shop!", "--pod", "web-1", "--out", dir / "e"},
       "namespace"},
      {{"--incident-id", "INC-2026-11-26-001", "--namespace", "shop", "--out", dir / "e"}, "pod"},
      // Past the schema: a path that climbs out of the container's root.
      {args_for(dir, {"--filesystem", "--paths", "/srv/../../etc"}), "paths"},
      {args_for(dir, {"--sign-key", dir / "no-such-key.pem"}), "sign-key"},
  };
  for (const auto& c : cases) {
    std::string shown;
    for (const auto& arg : c.args) shown += arg + " ";
    INFO("snapshot " << shown);
    auto run = run_step_in_process(steps::snapshot::step(), c.args, &api);
    REQUIRE_STEP_EXIT(run, 2);
    CHECK(run.status() == "failed");
    CHECK(string_at(run.result, {"error", "code"}) == "invalid_input");
    CHECK(run.error_message().find(c.field) != std::string::npos);
    CHECK(run.log.find(c.field) != std::string::npos);
  }
  CHECK(api.requests().empty());
  CHECK_FALSE(std::filesystem::exists(dir / "e"));
  CHECK_FALSE(std::filesystem::exists(dir / "evidence"));
}

TEST_CASE("snapshot in process: a pod that does not exist exits 2 and leaves no evidence folder",
          "[unit][snapshot][harness]") {
  ScriptedApi api;
  script_cluster(api);
  api.on("GET", "/api/v1/namespaces/shop/pods/web-9",
         api_status(404, "NotFound", "pods \"web-9\" not found"));
  TempDir dir;
  auto run = run_step_in_process(steps::snapshot::step(),
                                 {"--incident-id", "INC-2026-11-26-001", "--namespace", "shop", "--pod",
                                  "web-9", "--triage=false", "--out", dir / "evidence"},
                                 &api);
  REQUIRE_STEP_EXIT(run, 2);
  CHECK(string_at(run.result, {"error", "code"}) == "not_found");
  CHECK(run.error_message().find("pod web-9 not found in namespace shop") != std::string::npos);
  CHECK(api.count("GET", "/api/v1/namespaces/shop/pods/web-9") == 1);  // a 404 is an answer, not retried
  CHECK(api.requests().size() == 1);
  CHECK_FALSE(std::filesystem::exists(dir / "evidence"));
}

TEST_CASE("snapshot in process: an API server that keeps failing gets --max-attempts tries, then exit 4",
          "[unit][snapshot][harness]") {
  for (const bool reset : {false, true}) {
    INFO((reset ? "connection reset" : "503"));
    ScriptedApi api;
    script_cluster(api);
    Reply failing = api_status(503, "ServiceUnavailable", "etcd is down");
    failing.reset = reset;
    api.on("GET", pod_path, failing);
    TempDir dir;
    auto run = run_step_in_process(steps::snapshot::step(), args_for(dir, {"--max-attempts", "3"}), &api);
    REQUIRE_STEP_EXIT(run, 4);
    CHECK(string_at(run.result, {"error", "code"}) == "transient");
    CHECK(api.count("GET", pod_path) == 3);
    CHECK(api.requests().size() == 3);
    CHECK_FALSE(std::filesystem::exists(dir / "evidence"));
    CHECK(run.all_text().find(api.token()) == std::string::npos);
  }
}

TEST_CASE("snapshot in process: a log the API server dies in the middle of is kept, marked partial, exit 1",
          "[unit][snapshot][harness]") {
  ScriptedApi api;
  script_cluster(api);
  Reply cut{200, {{"Content-Type", "text/plain"}}, {}};
  cut.chunks = {"2026-11-26T10:00:00Z started\n"};
  cut.cut_after_chunks = true;
  api.on("GET", log_path, cut);
  TempDir dir;
  auto run = run_step_in_process(steps::snapshot::step(), args_for(dir), &api);
  REQUIRE_STEP_EXIT(run, 1);
  CHECK(run.status() == "partial");
  CHECK(run.output("complete") == "6");
  CHECK(run.output("partial") == "1");
  CHECK(run.output("failed") == "0");
  const auto* entry = evidence_entry(run, "shop/web-1/logs/app.log");
  REQUIRE(entry != nullptr);
  CHECK(string_at(*entry, {"status"}) == "partial");
  const std::string kept = read(dir / "evidence/shop/web-1/logs/app.log");
  CHECK(kept == "2026-11-26T10:00:00Z started\n");
  CHECK(string_at(*entry, {"sha256"}) == sha256_hex(kept));
  // A stream is not retried once its body has started: one request.
  CHECK(api.count("GET", log_path) == 1);
  // The manifest says why.
  auto manifest = parse_json(read(dir / "evidence/manifest.json"), "manifest");
  REQUIRE(manifest);
  CHECK(to_sorted_json(*manifest).find("partial") != std::string::npos);
  const auto* warnings = find(run.result, {"warnings"});
  REQUIRE(warnings != nullptr);
  CHECK_FALSE(warnings->get_array().empty());
}

TEST_CASE("snapshot in process: an item the API forbids exits 5 after collecting the others",
          "[unit][snapshot][harness]") {
  ScriptedApi api;
  script_cluster(api);
  api.on("GET", rolebindings_path,
         api_status(403, "Forbidden", "rolebindings is forbidden: cannot list resource \"rolebindings\""));
  TempDir dir;
  auto run = run_step_in_process(steps::snapshot::step(), args_for(dir), &api);
  REQUIRE_STEP_EXIT(run, 5);
  CHECK(string_at(run.result, {"error", "code"}) == "forbidden");
  CHECK(run.error_message().find("1 items failed") != std::string::npos);
  CHECK(api.count("GET", rolebindings_path) == 1);  // a refusal is not retried
  // Everything else is on disk and in the manifest; the refused item is
  // recorded as failed, not left out.
  CHECK(run.output("complete") == "6");
  CHECK(run.output("failed") == "1");
  CHECK(std::filesystem::exists(dir / "evidence/shop/web-1/pod.json"));
  CHECK(std::filesystem::exists(dir / "evidence/shop/web-1/logs/app.log"));
  CHECK_FALSE(std::filesystem::exists(dir / "evidence/shop/web-1/serviceaccount.json"));
  CHECK(evidence_entry(run, "serviceaccount.json") == nullptr);
  const std::string manifest = read(dir / "evidence/manifest.json");
  CHECK(manifest.find("serviceaccount.json") != std::string::npos);
  CHECK(manifest.find("failed") != std::string::npos);
}

TEST_CASE("snapshot in process: --dry-run plans every item, asks only for the pod and writes nothing",
          "[unit][snapshot][harness]") {
  ScriptedApi api;
  script_cluster(api);
  TempDir dir;
  auto run = run_step_in_process(steps::snapshot::step(), args_for(dir, {"--dry-run"}), &api);
  REQUIRE_STEP_EXIT(run, 0);
  const auto* actions = find(run.result, {"actions"});
  REQUIRE(actions != nullptr);
  REQUIRE(actions->get_array().size() == 7);
  for (const auto& action : actions->get_array()) {
    CHECK(string_at(action, {"verb"}) == "collect");
    CHECK(string_at(action, {"detail"}).starts_with("shop/web-1/"));
  }
  CHECK(api.requests().size() == 1);
  CHECK(api.count("GET", pod_path) == 1);
  CHECK_FALSE(std::filesystem::exists(dir / "evidence"));
}
