// isolate against the real control plane: applied and read back, re-runs,
// release, detach, workload scope, dry-run, bad input, RBAC, an API outage in
// the middle of a run, and no credential in any output.
#include "support/skip.hpp"
#include "support/spawn.hpp"
#include "support/step_runner.hpp"

#include "ir/core/encoding.hpp"

#include <boost/json/serialize.hpp>

#include <fmt/format.h>
#include <filesystem>

using namespace ir;
using namespace ir::test;

namespace {

const std::string incident = "INC-2026-11-26-101";
const std::string policy = "irsteps-isolate-inc-2026-11-26-101";

std::vector<std::string> base_args(const std::string& ns) {
  return {"--incident-id", incident, "--namespace", ns, "--kubeconfig", Cluster::get().kubeconfig()};
}

template <class... More>
std::vector<std::string> args(const std::string& ns, More... more) {
  auto list = base_args(ns);
  (list.push_back(more), ...);
  return list;
}

json::object get_or_fail(const k8s::Resource& resource, const std::string& ns, const std::string& name) {
  auto object = Cluster::get().client().get(resource, ns, name);
  if (!object) FAIL(object.error().describe());
  return *object;
}

std::string label_of(const json::object& object, const std::string& key) {
  return string_at(object, {"metadata", "labels", key});
}

bool exists(const k8s::Resource& resource, const std::string& ns, const std::string& name) {
  auto object = Cluster::get().client().get(resource, ns, name);
  return bool(object);
}

}  // namespace

TEST_CASE("isolate quarantines exactly the named pod and reads it back", "[integration][isolate]") {
  TestNamespace ns("isolate");
  auto& cluster = Cluster::get();
  cluster.apply_yaml(ns.name(), deployment_yaml("web", 2));
  const auto pods = running_pods(ns.name(), "app=web", 2);
  const auto outputs_dir = std::filesystem::temp_directory_path() / ("isolate-outputs-" + ns.name());

  auto run =
      run_step_binary("isolate", args(ns.name(), "--pod", pods[0], "--outputs-dir", outputs_dir.string()));
  REQUIRE_EXIT(run, 0);
  CHECK(run.output("policy") == policy);
  CHECK(run.output("pods") == pods[0]);
  CHECK(run.output("isolated") == "full");
  CHECK(*read_file((outputs_dir / "policy").string()) == policy);
  std::filesystem::remove_all(outputs_dir);

  const auto live = get_or_fail(k8s::resources::networkpolicies, ns.name(), policy);
  const json::value spec = live.at("spec");
  CHECK(string_at(spec, {"podSelector", "matchLabels", "irsteps.io/quarantine"}) == incident);
  CHECK(*find(spec, {"policyTypes"}) == json::array{"Ingress", "Egress"});
  CHECK(find(spec, {"ingress"}) == nullptr);  // no rule: deny all
  CHECK(label_of(get_or_fail(k8s::resources::pods, ns.name(), pods[0]), "irsteps.io/quarantine") == incident);
  CHECK(label_of(get_or_fail(k8s::resources::pods, ns.name(), pods[1]), "irsteps.io/quarantine").empty());
  auto event =
      cluster.client().get(k8s::resources::events, ns.name(), pods[0] + ".inc-2026-11-26-101.isolated");
  REQUIRE(event);
  CHECK(string_at(*event, {"reason"}) == "Isolated");
  // The warnings a responder needs: no enforcing network plugin here, and
  // established connections.
  const auto& warnings = run.result.at("warnings").as_array();
  CHECK(std::any_of(warnings.begin(), warnings.end(), [](const json::value& w) {
    return w.as_string().find("no NetworkPolicy-enforcing") != json::string::npos;
  }));

  SECTION("a re-run changes nothing and succeeds") {
    const auto before_policy = string_at(live, {"metadata", "resourceVersion"});
    const auto before_pod = string_at(json::value(get_or_fail(k8s::resources::pods, ns.name(), pods[0])),
                                      {"metadata", "resourceVersion"});
    auto again = run_step_binary("isolate", args(ns.name(), "--pod", pods[0]));
    REQUIRE_EXIT(again, 0);
    CHECK(string_at(json::value(get_or_fail(k8s::resources::networkpolicies, ns.name(), policy)),
                    {"metadata", "resourceVersion"}) == before_policy);
    CHECK(string_at(json::value(get_or_fail(k8s::resources::pods, ns.name(), pods[0])),
                    {"metadata", "resourceVersion"}) == before_pod);
  }

  SECTION("release undoes it, and a second release is safe") {
    auto released = run_step_binary("isolate", args(ns.name(), "--release"));
    REQUIRE_EXIT(released, 0);
    CHECK(released.output("released-pods") == pods[0]);
    CHECK(released.output("deleted-policies") == policy);
    CHECK_FALSE(exists(k8s::resources::networkpolicies, ns.name(), policy));
    CHECK(label_of(get_or_fail(k8s::resources::pods, ns.name(), pods[0]), "irsteps.io/quarantine").empty());
    auto again = run_step_binary("isolate", args(ns.name(), "--release"));
    REQUIRE_EXIT(again, 0);
    CHECK(again.output("released-pods").empty());
  }
}

// Issue 16 item 10: Falco fires again for the same pod; the second playbook
// waits on the pod's mutex and runs after the first deleted the pod. The
// quarantine policy names the pods it isolated, so the second run finds the
// work done instead of failing (and paging) for a missing pod.
TEST_CASE("a pod deleted after an earlier run isolated it is already handled, and nothing changes",
          "[integration][isolate]") {
  TestNamespace ns("handled");
  auto& cluster = Cluster::get();
  cluster.apply_yaml(ns.name(), deployment_yaml("web", 2));
  const auto pods = running_pods(ns.name(), "app=web", 2);
  REQUIRE_EXIT(run_step_binary("isolate", args(ns.name(), "--pod", pods[0])), 0);
  // The same incident, another pod: the policy now names both.
  REQUIRE_EXIT(run_step_binary("isolate", args(ns.name(), "--pod", pods[1])), 0);
  const auto recorded = string_at(get_or_fail(k8s::resources::networkpolicies, ns.name(), policy),
                                  {"metadata", "annotations", "irsteps.io/isolated-pods"});
  CHECK(recorded == "[\"" + pods[0] + "\",\"" + pods[1] + "\"]");
  k8s::DeleteOptions now;
  now.grace_period_seconds = 0;
  REQUIRE(cluster.client().remove(k8s::resources::pods, ns.name(), pods[0], now));
  REQUIRE(eventually([&] { return !exists(k8s::resources::pods, ns.name(), pods[0]); }));

  const std::string second = "INC-2026-11-26-102";
  auto again = run_step_binary("isolate", {"--incident-id", second, "--namespace", ns.name(), "--pod",
                                           pods[0], "--kubeconfig", cluster.kubeconfig()});
  REQUIRE_EXIT(again, 0);
  CHECK(again.output("outcome") == "already-handled");
  CHECK(again.output("handled-by") == incident);
  CHECK(again.output("policy") == policy);
  CHECK(again.output("pod-count") == "0");
  CHECK_FALSE(exists(k8s::resources::networkpolicies, ns.name(), "irsteps-isolate-inc-2026-11-26-102"));

  // One pod gone and handled, one still there: the one there is isolated.
  auto mixed = run_step_binary("isolate", {"--incident-id", second, "--namespace", ns.name(), "--pod",
                                           pods[0], "--pod", pods[1], "--kubeconfig", cluster.kubeconfig()});
  REQUIRE_EXIT(mixed, 0);
  CHECK(mixed.output("outcome") == "isolated");
  CHECK(mixed.output("handled-by") == incident);
  CHECK(mixed.output("pods") == pods[1]);
  CHECK(label_of(get_or_fail(k8s::resources::pods, ns.name(), pods[1]), "irsteps.io/quarantine") == second);

  // A pod no quarantine names is missing, as before: exit 2, nothing made.
  auto unknown =
      run_step_binary("isolate", {"--incident-id", "INC-2026-11-26-103", "--namespace", ns.name(), "--pod",
                                  pods[0] + "-other", "--kubeconfig", cluster.kubeconfig()});
  REQUIRE_EXIT(unknown, 2);
  CHECK(unknown.err.find("not found in namespace " + ns.name()) != std::string::npos);
  CHECK_FALSE(exists(k8s::resources::networkpolicies, ns.name(), "irsteps-isolate-inc-2026-11-26-103"));
}

// Security review finding 3: NetworkPolicies add up, so an allow policy
// beside the quarantine's deny-all still lets traffic reach the pod. isolate
// reads the namespace's other policies and says the pod is only partly
// isolated; --strict makes that exit 3, the quarantine staying in place.
TEST_CASE("another policy that still allows traffic makes the isolation partial", "[integration][isolate]") {
  TestNamespace ns("isolate-open");
  auto& cluster = Cluster::get();
  cluster.apply_yaml(ns.name(), deployment_yaml("shop", 1));
  cluster.apply_yaml(ns.name(), R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-all-ingress}
spec:
  podSelector: {}
  ingress: [{}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-from-ingress}
spec:
  podSelector: {matchLabels: {tier: web}}
  policyTypes: [Ingress, Egress]
  ingress:
    - from: [{namespaceSelector: {matchLabels: {name: ingress}}}]
      ports: [{port: 8080, protocol: TCP}]
  egress: []
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: other-app}
spec:
  podSelector: {matchLabels: {app: other}}
  ingress: [{}]
)");
  const auto pods = running_pods(ns.name(), "app=shop", 1);

  auto run = run_step_binary("isolate", args(ns.name(), "--pod", pods[0]));
  REQUIRE_EXIT(run, 0);
  CHECK(run.output("isolated") == "partial");
  CHECK(run.output("open-policies") == "allow-all-ingress,allow-from-ingress");
  const std::string warnings = boost::json::serialize(run.result.at("warnings"));
  CHECK(warnings.find(
            "NetworkPolicy allow-all-ingress still allows ingress from any peer on all ports for pods " +
            pods[0]) != std::string::npos);
  CHECK(
      warnings.find("NetworkPolicy allow-from-ingress still allows ingress from namespaces(name=ingress) on "
                    "8080/TCP") != std::string::npos);
  CHECK(warnings.find("other-app") == std::string::npos);  // selects no quarantined pod
  CHECK(warnings.find("egress") == std::string::npos);     // an empty egress list allows nothing

  auto strict = run_step_binary("isolate", args(ns.name(), "--pod", pods[0], "--strict"));
  REQUIRE_EXIT(strict, 3);
  CHECK(strict.err.find("only partly isolated") != std::string::npos);
  CHECK(exists(k8s::resources::networkpolicies, ns.name(), policy));
  CHECK(label_of(get_or_fail(k8s::resources::pods, ns.name(), pods[0]), "irsteps.io/quarantine") == incident);

  // With the allowing policies gone the same pod is fully isolated.
  REQUIRE(cluster.client().remove(k8s::resources::networkpolicies, ns.name(), "allow-all-ingress"));
  REQUIRE(cluster.client().remove(k8s::resources::networkpolicies, ns.name(), "allow-from-ingress"));
  auto full = run_step_binary("isolate", args(ns.name(), "--pod", pods[0], "--strict"));
  REQUIRE_EXIT(full, 0);
  CHECK(full.output("isolated") == "full");
  CHECK(full.output("open-policies").empty());
}

TEST_CASE("detach takes the pod out of its ReplicaSet and Service, the controller replaces it",
          "[integration][isolate]") {
  TestNamespace ns("detach");
  auto& cluster = Cluster::get();
  cluster.apply_yaml(ns.name(), deployment_yaml("api", 2));
  const auto pods = running_pods(ns.name(), "app=api", 2);

  auto run = run_step_binary("isolate", args(ns.name(), "--pod", pods[0], "--detach"));
  REQUIRE_EXIT(run, 0);
  const auto detached = get_or_fail(k8s::resources::pods, ns.name(), pods[0]);
  CHECK(label_of(detached, "app").empty());
  CHECK(label_of(detached, "pod-template-hash").empty());
  CHECK(label_of(detached, "tier") == "web");  // not in any selector: kept
  CHECK(label_of(detached, "irsteps.io/quarantine") == incident);
  // The ReplicaSet lets go of it and makes a replacement; the pod lives on.
  const auto replacements = running_pods(ns.name(), "app=api", 2);
  CHECK(std::find(replacements.begin(), replacements.end(), pods[0]) == replacements.end());
  CHECK(eventually([&] {
    auto pod = cluster.client().get(k8s::resources::pods, ns.name(), pods[0]);
    return pod && find(*pod, {"metadata", "ownerReferences"}) == nullptr;
  }));

  auto released = run_step_binary("isolate", args(ns.name(), "--release"));
  REQUIRE_EXIT(released, 0);
  CHECK(released.output("released-pods").find(pods[0]) != std::string::npos);
  // With its labels back the pod matches its ReplicaSet again, which adopts
  // it and then has one pod too many: Kubernetes may remove any one of them,
  // this one included, at once. Where it is still there, it is restored.
  auto restored = cluster.client().get(k8s::resources::pods, ns.name(), pods[0]);
  if (restored) {
    CHECK(label_of(*restored, "app") == "api");
    CHECK(label_of(*restored, "irsteps.io/quarantine").empty());
    CHECK(string_at(*restored, {"metadata", "annotations", "irsteps.io/detached-labels"}).empty());
  } else {
    CHECK(restored.error().code() == Code::not_found);
  }
}

TEST_CASE("workload scope isolates every pod of the Deployment with its own selector",
          "[integration][isolate]") {
  TestNamespace ns("workload");
  Cluster::get().apply_yaml(ns.name(), deployment_yaml("cart", 3));
  const auto pods = running_pods(ns.name(), "app=cart", 3);
  auto run =
      run_step_binary("isolate", args(ns.name(), "--pod", pods[1], "--scope", "workload", "--allow-dns"));
  REQUIRE_EXIT(run, 0);
  const std::string name = policy + "-deployment-cart";
  CHECK(run.output("policy") == name);
  CHECK(run.output("pod-count") == "3");
  const auto live = get_or_fail(k8s::resources::networkpolicies, ns.name(), name);
  CHECK(string_at(live.at("spec"), {"podSelector", "matchLabels", "app"}) == "cart");
  CHECK(find(live.at("spec"), {"egress"})->as_array().size() == 1);
  for (const auto& pod : pods)
    CHECK(label_of(get_or_fail(k8s::resources::pods, ns.name(), pod), "irsteps.io/quarantine") == incident);
  auto released = run_step_binary("isolate", args(ns.name(), "--release"));
  REQUIRE_EXIT(released, 0);
  CHECK_FALSE(exists(k8s::resources::networkpolicies, ns.name(), name));
}

TEST_CASE("dry-run prints the exact requests and changes nothing", "[integration][isolate]") {
  TestNamespace ns("dryrun");
  Cluster::get().apply_yaml(ns.name(), deployment_yaml("web", 1));
  const auto pods = running_pods(ns.name(), "app=web", 1);
  auto run = run_step_binary("isolate", args(ns.name(), "--selector", "app=web", "--dry-run"));
  REQUIRE_EXIT(run, 0);
  CHECK(run.result.at("dryRun").as_bool());
  const auto& actions = run.result.at("actions").as_array();
  REQUIRE(actions.size() == 3);  // apply policy, label pod, event
  CHECK(string_at(actions[0], {"request", "method"}) == "POST");
  CHECK(string_at(actions[0], {"request", "path"}) ==
        "/apis/networking.k8s.io/v1/namespaces/" + ns.name() + "/networkpolicies");
  CHECK(string_at(actions[0], {"request", "body", "spec", "podSelector", "matchLabels",
                               "irsteps.io/quarantine"}) == incident);
  CHECK(string_at(actions[1], {"request", "body", "metadata", "labels", "irsteps.io/quarantine"}) ==
        incident);
  CHECK_FALSE(exists(k8s::resources::networkpolicies, ns.name(), policy));
  CHECK(label_of(get_or_fail(k8s::resources::pods, ns.name(), pods[0]), "irsteps.io/quarantine").empty());
}

TEST_CASE("bad input is exit 2 with a clear message, and nothing changes", "[integration][isolate]") {
  TestNamespace ns("badinput");
  auto unknown_pod = run_step_binary("isolate", args(ns.name(), "--pod", "no-such-pod"));
  REQUIRE_EXIT(unknown_pod, 2);
  CHECK(unknown_pod.err.find("pod no-such-pod not found in namespace " + ns.name()) != std::string::npos);
  CHECK_FALSE(exists(k8s::resources::networkpolicies, ns.name(), policy));

  auto two_missing = run_step_binary("isolate", args(ns.name(), "--pod", "a", "--pod", "b"));
  REQUIRE_EXIT(two_missing, 2);
  CHECK_FALSE(exists(k8s::resources::networkpolicies, ns.name(), policy));

  auto no_match = run_step_binary("isolate", args(ns.name(), "--selector", "app=nothing"));
  REQUIRE_EXIT(no_match, 2);
  CHECK(no_match.err.find("no pod in namespace") != std::string::npos);

  auto bad_id = run_step_binary("isolate", {"--incident-id", "2026-11-26", "--namespace", ns.name(), "--pod",
                                            "x", "--kubeconfig", Cluster::get().kubeconfig()});
  REQUIRE_EXIT(bad_id, 2);
  CHECK(bad_id.err.find("parameter incident-id") != std::string::npos);

  auto unknown_ns = run_step_binary("isolate", args("no-such-namespace-xyz", "--pod", "x"));
  REQUIRE_EXIT(unknown_ns, 2);
}

TEST_CASE("a token without the rights gets exit 5 naming the permission, and no token leaks",
          "[integration][isolate][rbac]") {
  TestNamespace ns("rbac");
  auto& cluster = Cluster::get();
  cluster.apply_yaml(ns.name(), deployment_yaml("web", 1) + R"(
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: reader}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: pod-reader}
rules: [{apiGroups: [""], resources: [pods], verbs: [get, list]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: reader}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: pod-reader}
subjects: [{kind: ServiceAccount, name: reader}]
)");
  const auto pods = running_pods(ns.name(), "app=web", 1);
  const std::string token = service_account_token(ns.name(), "reader");
  TokenKubeconfig restricted(token, "restricted-" + ns.name());
  const auto github = std::filesystem::temp_directory_path() / ("github-" + ns.name());
  std::filesystem::create_directories(github);
  auto run = run_step_binary("isolate",
                             {"--incident-id", incident, "--namespace", ns.name(), "--pod", pods[0],
                              "--kubeconfig", restricted.path(), "--log-level", "debug"},
                             {{"GITHUB_OUTPUT", (github / "output").string()},
                              {"GITHUB_STEP_SUMMARY", (github / "summary").string()},
                              {"GITHUB_ACTIONS", "true"}});
  REQUIRE_EXIT(run, 5);
  CHECK(run.err.find("cannot patch resource \"pods\"") != std::string::npos);
  CHECK(run.err.find("::error title=irsteps isolate::") != std::string::npos);
  std::string everything = run.all_text();
  for (const char* file : {"output", "summary"}) {
    if (auto text = read_file((github / file).string())) everything += *text;
  }
  CHECK(everything.find(token) == std::string::npos);
  const auto admin = cluster.admin_token();
  if (!admin.empty()) CHECK(everything.find(admin) == std::string::npos);
  std::filesystem::remove_all(github);
  CHECK(label_of(get_or_fail(k8s::resources::pods, ns.name(), pods[0]), "irsteps.io/quarantine").empty());
}

TEST_CASE("an API server that goes away mid-run gives exit 4, and a re-run completes",
          "[integration][isolate][outage]") {
  auto& cluster = Cluster::get();
  if (cluster.state_dir().empty()) {
    skip_test("stopping the API server needs the local control plane, not IRSTEPS_TEST_KUBECONFIG");
    return;
  }
  TestNamespace ns("outage");
  cluster.apply_yaml(ns.name(), deployment_yaml("web", 1));
  const auto pods = running_pods(ns.name(), "app=web", 1);
  Spawned step({binary("isolate"), "--incident-id", incident, "--namespace", ns.name(), "--pod", pods[0],
                "--kubeconfig", cluster.kubeconfig(), "--max-attempts", "3"},
               {{"IRSTEPS_TEST_STOP_AFTER_CHANGES", "1"}});
  // The step stops itself right after its first change (the label); take
  // the API server away, then let the step go on.
  REQUIRE(eventually([&] { return step.stopped(); }, std::chrono::seconds(60)));
  cluster.control("kill-apiserver");  // a crash: open connections die too
  step.resume();
  const auto finished = step.finish();
  cluster.control("start-apiserver");
  INFO(finished.err);
  REQUIRE_EXIT(finished, 4);
  auto doc = parse_json(finished.out, "stdout");
  REQUIRE(doc);
  CHECK(string_at(*doc, {"error", "code"}) == "transient");
  CHECK(label_of(get_or_fail(k8s::resources::pods, ns.name(), pods[0]), "irsteps.io/quarantine") == incident);
  CHECK_FALSE(exists(k8s::resources::networkpolicies, ns.name(), policy));

  auto rerun = run_step_binary("isolate", args(ns.name(), "--pod", pods[0]));
  REQUIRE_EXIT(rerun, 0);
  CHECK(exists(k8s::resources::networkpolicies, ns.name(), policy));
}

TEST_CASE("the shipped least-privilege Role is enough for every mode of isolate",
          "[integration][isolate][rbac]") {
  auto& cluster = Cluster::get();
  cluster.apply_shipped_role("isolate");
  TokenKubeconfig step_identity(service_account_token("irsteps", "irsteps-isolate"), "irsteps-isolate");
  TestNamespace ns("leastpriv");
  cluster.apply_yaml(ns.name(), deployment_yaml("web", 2));
  const auto pods = running_pods(ns.name(), "app=web", 2);
  auto with_identity = [&](std::vector<std::string> more) {
    std::vector<std::string> list{"--incident-id", incident,       "--namespace",
                                  ns.name(),       "--kubeconfig", step_identity.path()};
    list.insert(list.end(), more.begin(), more.end());
    return list;
  };
  auto detached = run_step_binary("isolate", with_identity({"--pod", pods[0], "--detach"}));
  REQUIRE_EXIT(detached, 0);
  const auto& warnings = detached.result.at("warnings").as_array();
  CHECK(std::none_of(warnings.begin(), warnings.end(), [](const json::value& w) {
    return w.as_string().find("could not check") != json::string::npos;
  }));
  auto workload = run_step_binary("isolate", with_identity({"--pod", pods[1], "--scope", "workload"}));
  REQUIRE_EXIT(workload, 0);
  auto released = run_step_binary("isolate", with_identity({"--release"}));
  REQUIRE_EXIT(released, 0);
  CHECK_FALSE(exists(k8s::resources::networkpolicies, ns.name(), policy));
}
