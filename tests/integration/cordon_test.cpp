// cordon against the test control plane. The nodes are Node objects this test
// creates and deletes (no kubelet behind them: cordon reads and patches the
// API objects only), so the cluster's own node is never taken out of
// scheduling under the other tests; the pods name them in spec.nodeName and
// stay Pending.
#include "support/catch.hpp"
#include "support/cluster.hpp"
#include "support/step_runner.hpp"

#include <unistd.h>

using namespace ir;
using namespace ir::test;

namespace {

const std::string first_incident = "INC-2026-12-07-301";
const std::string second_incident = "INC-2026-12-07-302";
// Each test case its own incident: `cordon --release` without --node
// releases every node the incident holds, so tests run at once must not
// share one.
const std::string host_access_incident = "INC-2026-12-07-303";
const std::string evict_incident = "INC-2026-12-07-304";

// Node objects of this test, deleted at the end.
struct TestNodes {
  std::vector<std::string> names;
  explicit TestNodes(const std::vector<std::pair<std::string, std::string>>& nodes_with_spec) {
    for (const auto& [suffix, spec] : nodes_with_spec) {
      const std::string name = "irsteps-cordon-" + std::to_string(::getpid()) + "-" + suffix;
      names.push_back(name);
      Cluster::get().kubectl({"delete", "node", name, "--ignore-not-found"});
      auto created = Cluster::get().kubectl(
          {"apply", "-f", "-"}, "apiVersion: v1\nkind: Node\nmetadata:\n  name: " + name +
                                    "\n  labels: {irsteps.io/test: cordon}\nspec: " + spec + "\n");
      INFO(created.err);
      REQUIRE(created.exit_status == 0);
    }
  }
  ~TestNodes() {
    for (const auto& name : names) Cluster::get().kubectl({"delete", "node", name, "--ignore-not-found"});
  }
};

json::object node(const std::string& name) {
  auto got = Cluster::get().kubectl({"get", "node", name, "-o", "json"});
  REQUIRE(got.exit_status == 0);
  auto parsed = parse_json(got.out, "node");
  REQUIRE(parsed);
  return parsed->as_object();
}

bool unschedulable(const json::object& n) {
  const auto* value = find(n, {"spec", "unschedulable"});
  return value != nullptr && value->is_bool() && value->get_bool();
}

// "key=value:effect" of every taint, in order; the node lifecycle
// controller's own (node.kubernetes.io/*, for a node no kubelet reports on)
// are left out.
std::vector<std::string> taints(const json::object& n) {
  std::vector<std::string> out;
  if (const auto* list = find(n, {"spec", "taints"}); list != nullptr && list->is_array()) {
    for (const auto& t : list->get_array()) {
      if (string_at(t, {"key"}).starts_with("node.kubernetes.io/")) continue;
      out.push_back(string_at(t, {"key"}) + "=" + string_at(t, {"value"}) + ":" + string_at(t, {"effect"}));
    }
  }
  return out;
}

bool has_annotation(const json::object& n, const std::string& key) {
  const auto* annotations = find(n, {"metadata", "annotations"});
  return annotations != nullptr && annotations->is_object() && annotations->get_object().contains(key);
}

// A pod of `name`'s ReplicaSet (one replica, selecting app=<name>), bound to
// `node` as the scheduler binds (the binding subresource): the scheduler
// itself places no pod on a node with no kubelet, and the nodeSelector no
// node carries keeps the replacement the ReplicaSet makes after an
// eviction unscheduled, as a cordoned node would in a real cluster. With
// `running` its status says Running and Ready, so that a
// PodDisruptionBudget counts it (the API server evicts a Pending pod past
// any budget: pkg/registry/core/pod/storage/eviction.go, canIgnorePDB).
std::string bound_replica(const std::string& ns, const std::string& name, const std::string& node,
                          bool running) {
  Cluster::get().apply_yaml(ns, "apiVersion: apps/v1\nkind: ReplicaSet\nmetadata: {name: " + name +
                                    "}\nspec:\n  replicas: 1\n  selector: {matchLabels: {app: " + name +
                                    "}}\n  template:\n    metadata: {labels: {app: " + name +
                                    "}}\n    spec:\n      nodeSelector: {irsteps.io/nowhere: \"true\"}\n"
                                    "      containers: [{name: app, image: registry.example/app:1}]\n");
  std::string pod;
  REQUIRE(eventually([&] {
    auto got = Cluster::get().kubectl(
        {"get", "pods", "-n", ns, "-l", "app=" + name, "-o", "jsonpath={.items[0].metadata.name}"});
    pod = got.out;
    return got.exit_status == 0 && !pod.empty();
  }));
  auto& client = Cluster::get().client();
  auto bound =
      client.raw("POST", "/api/v1/namespaces/" + ns + "/pods/" + pod + "/binding",
                 json::serialize(json::object{
                     {"apiVersion", "v1"},
                     {"kind", "Binding"},
                     {"metadata", json::object{{"name", pod}}},
                     {"target", json::object{{"apiVersion", "v1"}, {"kind", "Node"}, {"name", node}}}}),
                 "application/json");
  REQUIRE(bound);
  INFO(bound->body);
  REQUIRE(bound->status == 201);
  if (running) {
    auto patched = client.patch(
        k8s::resources::pods, ns, pod, k8s::PatchType::merge,
        json::object{{"status", json::object{{"phase", "Running"},
                                             {"conditions", json::array{json::object{{"type", "Ready"},
                                                                                     {"status", "True"}}}}}}},
        false, "status");
    REQUIRE(patched);
  }
  return pod;
}

StepRun cordon(const std::string& incident, std::vector<std::string> args) {
  args.insert(args.begin(), {"--incident-id", incident, "--kubeconfig", Cluster::get().kubeconfig()});
  return run_step_binary("cordon", args);
}

}  // namespace

TEST_CASE("cordon takes the pods' nodes out of scheduling, records it, and a re-run changes nothing",
          "[integration][cordon]") {
  TestNamespace ns("cordon");
  TestNodes nodes(
      {{"a", "{}"}, {"b", "{unschedulable: true, taints: [{key: team, value: db, effect: NoSchedule}]}"}});
  const auto& a = nodes.names[0];
  const auto& b = nodes.names[1];
  Cluster::get().apply_yaml(ns.name(),
                            "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  nodeName: " + a +
                                "\n  containers: [{name: app, image: registry.example/app:1}]\n");
  Cluster::get().apply_yaml(ns.name(),
                            "apiVersion: v1\nkind: Pod\nmetadata: {name: db}\nspec:\n  nodeName: " + b +
                                "\n  containers: [{name: app, image: registry.example/db:1}]\n");

  // A dry run says what it would do and changes nothing.
  auto dry = cordon(first_incident, {"--namespace", ns.name(), "--pod", "web,db", "--dry-run"});
  REQUIRE_EXIT(dry, 0);
  CHECK_FALSE(unschedulable(node(a)));
  CHECK(taints(node(a)).empty());

  auto run = cordon(first_incident, {"--namespace", ns.name(), "--pod", "web,db"});
  REQUIRE_EXIT(run, 0);
  CHECK(run.output("nodes") == a + "," + b);
  CHECK(run.output("changed-nodes") == a + "," + b);
  CHECK(run.output("taint") == "irsteps.io/quarantine=" + first_incident + ":NoSchedule");
  const auto cordoned_a = node(a);
  CHECK(unschedulable(cordoned_a));
  CHECK(taints(cordoned_a) ==
        std::vector<std::string>{"irsteps.io/quarantine=" + first_incident + ":NoSchedule"});
  CHECK(has_annotation(cordoned_a, "cordon.irsteps.io/" + first_incident));
  CHECK(has_annotation(cordoned_a, "irsteps.io/cordoned"));
  // b was cordoned already: its own taint stays, and irsteps does not claim the cordon.
  const auto cordoned_b = node(b);
  CHECK(taints(cordoned_b) ==
        std::vector<std::string>{"team=db:NoSchedule",
                                 "irsteps.io/quarantine=" + first_incident + ":NoSchedule"});
  CHECK_FALSE(has_annotation(cordoned_b, "irsteps.io/cordoned"));
  // The Event on the node.
  auto events = Cluster::get().kubectl({"get", "events", "-n", "default", "--field-selector",
                                        "involvedObject.name=" + a + ",reason=Cordoned", "-o", "name"});
  CHECK(events.out.find("event/") != std::string::npos);

  // A re-run changes nothing, not even the resourceVersion.
  const std::string version = string_at(cordoned_a, {"metadata", "resourceVersion"});
  auto again = cordon(first_incident, {"--namespace", ns.name(), "--pod", "web,db"});
  REQUIRE_EXIT(again, 0);
  CHECK(again.output("changed-nodes").empty());
  CHECK(string_at(node(a), {"metadata", "resourceVersion"}) == version);

  // A second incident holds a as well; releasing the first leaves a cordoned
  // under the second, and b as its administrator had it.
  auto second = cordon(second_incident, {"--node", a});
  REQUIRE_EXIT(second, 0);
  auto release_first = cordon(first_incident, {"--release"});
  REQUIRE_EXIT(release_first, 0);
  CHECK(release_first.output("changed-nodes") == a + "," + b);
  const auto held_a = node(a);
  CHECK(unschedulable(held_a));
  CHECK(taints(held_a) ==
        std::vector<std::string>{"irsteps.io/quarantine=" + second_incident + ":NoSchedule"});
  CHECK_FALSE(has_annotation(held_a, "cordon.irsteps.io/" + first_incident));
  const auto released_b = node(b);
  CHECK(unschedulable(released_b));
  CHECK(taints(released_b) == std::vector<std::string>{"team=db:NoSchedule"});
  CHECK_FALSE(has_annotation(released_b, "cordon.irsteps.io/" + first_incident));

  // The last release uncordons a node irsteps cordoned, and a repeat is a no-op.
  auto release_second = cordon(second_incident, {"--release"});
  REQUIRE_EXIT(release_second, 0);
  const auto free_a = node(a);
  CHECK_FALSE(unschedulable(free_a));
  CHECK(taints(free_a).empty());
  CHECK_FALSE(has_annotation(free_a, "irsteps.io/cordoned"));
  auto release_again = cordon(second_incident, {"--release"});
  REQUIRE_EXIT(release_again, 0);
  CHECK(release_again.output("changed-nodes").empty());
}

TEST_CASE("cordon --if-host-access cordons only the nodes of pods that could reach the host, naming why",
          "[integration][cordon]") {
  TestNamespace ns("cordonhost");
  TestNodes nodes({{"h", "{}"}, {"p", "{}"}});
  Cluster::get().apply_yaml(
      ns.name(),
      "apiVersion: v1\nkind: Pod\nmetadata: {name: escaper}\nspec:\n  nodeName: " + nodes.names[0] +
          "\n  hostPID: true\n  containers: [{name: app, image: registry.example/app:1}]\n");
  Cluster::get().apply_yaml(
      ns.name(), "apiVersion: v1\nkind: Pod\nmetadata: {name: plain}\nspec:\n  nodeName: " + nodes.names[1] +
                     "\n  containers: [{name: app, image: registry.example/app:1}]\n");
  auto run =
      cordon(host_access_incident, {"--namespace", ns.name(), "--pod", "escaper,plain", "--if-host-access"});
  REQUIRE_EXIT(run, 0);
  CHECK(run.output("nodes") == nodes.names[0]);
  CHECK(run.output("host-access") == ns.name() + "/escaper: hostPID");
  CHECK(run.output("spared-pods") == "plain");
  CHECK(unschedulable(node(nodes.names[0])));
  CHECK_FALSE(unschedulable(node(nodes.names[1])));
  auto release = cordon(host_access_incident, {"--release", "--node", nodes.names[0]});
  REQUIRE_EXIT(release, 0);
  CHECK_FALSE(unschedulable(node(nodes.names[0])));
}

TEST_CASE("cordon: a pod that does not exist exits 2 and changes nothing", "[integration][cordon]") {
  TestNamespace ns("cordonmissing");
  TestNodes nodes(std::vector<std::pair<std::string, std::string>>{{"m", "{}"}});
  auto run = cordon(first_incident, {"--namespace", ns.name(), "--pod", "ghost"});
  REQUIRE_EXIT(run, 2);
  CHECK(run.err.find("ghost") != std::string::npos);
  CHECK_FALSE(unschedulable(node(nodes.names[0])));
}

TEST_CASE(
    "cordon --evict empties the node through evictions, sparing the evidence, and a budget holds its pod",
    "[integration][cordon]") {
  TestNamespace ns("cordonevict");
  TestNodes nodes(std::vector<std::pair<std::string, std::string>>{{"e", "{}"}});
  const auto& node_name = nodes.names[0];
  // The compromised pod (named), a quarantined one and a pod of no
  // controller stay; the ReplicaSet's pod goes; the guarded one has a
  // budget that allows no disruption.
  for (const auto& [name, labels] : std::vector<std::pair<std::string, std::string>>{
           {"implant", "{}"},
           {"evidence", "{irsteps.io/quarantine: " + evict_incident + "}"},
           {"loner", "{}"}}) {
    Cluster::get().apply_yaml(ns.name(),
                              "apiVersion: v1\nkind: Pod\nmetadata: {name: " + name + ", labels: " + labels +
                                  "}\nspec:\n  nodeName: " + node_name +
                                  "\n  containers: [{name: app, image: registry.example/app:1}]\n");
  }
  const auto web = bound_replica(ns.name(), "web", node_name, false);
  const auto guarded = bound_replica(ns.name(), "guarded", node_name, true);
  Cluster::get().apply_yaml(
      ns.name(),
      "apiVersion: policy/v1beta1\nkind: PodDisruptionBudget\nmetadata: {name: guarded}\n"
      "spec:\n  minAvailable: 1\n  selector: {matchLabels: {app: guarded}}\n");
  const auto pod_uid = [&](const std::string& pod) {
    return Cluster::get().kubectl({"get", "pod", pod, "-n", ns.name(), "-o", "jsonpath={.metadata.uid}"}).out;
  };
  const std::string web_uid = pod_uid(web);

  // A dry run plans the evictions and evicts nothing.
  auto dry = cordon(evict_incident, {"--namespace", ns.name(), "--pod", "implant", "--evict", "--dry-run",
                                     "--max-attempts", "1"});
  INFO(dry.err);
  CHECK(pod_uid(web) == web_uid);
  CHECK(dry.out.find("/pods/" + web + "/eviction") != std::string::npos);

  auto run = cordon(evict_incident,
                    {"--namespace", ns.name(), "--pod", "implant", "--evict", "--max-attempts", "2"});
  INFO(run.err);
  // The budget's pod could not go: the step fails naming it, after evicting the rest.
  REQUIRE_EXIT(run, 1);
  CHECK(run.err.find(ns.name() + "/" + guarded) != std::string::npos);
  CHECK(run.err.find("disruption budget") != std::string::npos);
  CHECK(run.output("evicted-pods") == ns.name() + "/" + web);
  CHECK(run.output("not-evicted-pods").find(ns.name() + "/" + guarded) != std::string::npos);
  const std::string kept = run.output("kept-pods");
  CHECK(kept.find(ns.name() + "/implant (named compromised pod)") != std::string::npos);
  CHECK(kept.find(ns.name() + "/evidence (quarantined by " + evict_incident + ")") != std::string::npos);
  CHECK(kept.find(ns.name() + "/loner (no controller would recreate it)") != std::string::npos);
  CHECK(unschedulable(node(node_name)));
  // Evicted: deleted with its grace period, which no kubelet finishes on a test node.
  CHECK_FALSE(
      Cluster::get()
          .kubectl({"get", "pod", web, "-n", ns.name(), "-o", "jsonpath={.metadata.deletionTimestamp}"})
          .out.empty());
  for (const auto* pod : {"implant", "evidence", "loner"}) {
    INFO(pod);
    CHECK(Cluster::get()
              .kubectl({"get", "pod", pod, "-n", ns.name(), "-o", "jsonpath={.metadata.deletionTimestamp}"})
              .out.empty());
  }
  CHECK(Cluster::get()
            .kubectl({"get", "pod", guarded, "-n", ns.name(), "-o", "jsonpath={.metadata.deletionTimestamp}"})
            .out.empty());

  // With the budget lifted, a re-run evicts what is left and nothing else:
  // the ReplicaSet's new pod is not on the node.
  Cluster::get().kubectl({"delete", "pdb", "guarded", "-n", ns.name()});
  auto again = cordon(evict_incident, {"--namespace", ns.name(), "--pod", "implant", "--evict"});
  INFO(again.err);
  REQUIRE_EXIT(again, 0);
  CHECK(again.output("evicted-pods") == ns.name() + "/" + guarded);
  CHECK(again.output("not-evicted-pods").empty());
  CHECK(again.output("changed-nodes").empty());
  auto third = cordon(evict_incident, {"--namespace", ns.name(), "--pod", "implant", "--evict"});
  REQUIRE_EXIT(third, 0);
  CHECK(third.output("evicted-pods").empty());

  auto release = cordon(evict_incident, {"--release"});
  REQUIRE_EXIT(release, 0);
  CHECK_FALSE(unschedulable(node(node_name)));
}
