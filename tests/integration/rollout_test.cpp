// rollout against the real control plane: every verb, awaited rollouts, the
// failing-workload report, dry-run and bad input.
#include "support/step_runner.hpp"

#include "ir/core/encoding.hpp"
#include "ir/core/time.hpp"

#include <fmt/format.h>

#include <map>
#include <thread>

using namespace ir;
using namespace ir::test;

namespace {

const std::string incident = "INC-2026-11-26-301";

// The step's arguments, as the cluster's admin or, given its kubeconfig, as
// the step's own ServiceAccount under the shipped Role.
std::vector<std::string> args(const std::string& ns, std::vector<std::string> more,
                              const std::string& kubeconfig = Cluster::get().kubeconfig()) {
  std::vector<std::string> list{"--incident-id", incident, "--kubeconfig", kubeconfig};
  if (!ns.empty()) {
    list.push_back("--namespace");
    list.push_back(ns);
  }
  list.insert(list.end(), more.begin(), more.end());
  return list;
}

json::object deployment(const std::string& ns, const std::string& name) {
  auto object = Cluster::get().client().get(k8s::resources::deployments, ns, name);
  if (!object) FAIL(object.error().describe());
  return *object;
}

}  // namespace

TEST_CASE("rollout restart makes new pods and waits for them, status agrees", "[integration][rollout]") {
  TestNamespace ns("rollout-restart");
  Cluster::get().apply_yaml(ns.name(), deployment_yaml("web", 2));
  const auto before = running_pods(ns.name(), "app=web", 2);

  auto dry = run_step_binary("rollout", args(ns.name(), {"restart", "deployment/web", "--dry-run"}));
  REQUIRE_EXIT(dry, 0);
  CHECK(string_at(deployment(ns.name(), "web"),
                  {"spec", "template", "metadata", "annotations", "irsteps.io/restartedAt"})
            .empty());

  auto run = run_step_binary("rollout", args(ns.name(), {"restart", "deploy/web", "--timeout", "120s"}));
  REQUIRE_EXIT(run, 0);
  CHECK(run.output("rollouts").find("\"healthy\":true") != std::string::npos);
  const auto after = running_pods(ns.name(), "app=web", 2);
  for (const auto& pod : after) CHECK(std::find(before.begin(), before.end(), pod) == before.end());

  auto status = run_step_binary("rollout", args(ns.name(), {"status", "deployment/web", "--timeout", "30s"}));
  REQUIRE_EXIT(status, 0);
  auto missing = run_step_binary("rollout", args(ns.name(), {"status", "deployment/nope"}));
  REQUIRE_EXIT(missing, 2);
  auto unsupported = run_step_binary("rollout", args(ns.name(), {"restart", "cronjob/nightly"}));
  REQUIRE_EXIT(unsupported, 2);
}

TEST_CASE("rollout status names an unhealthy workload with its pods' reasons, exit 1",
          "[integration][rollout]") {
  TestNamespace ns("rollout-fail");
  Cluster::get().apply_yaml(ns.name(), R"(
apiVersion: apps/v1
kind: Deployment
metadata: {name: broken}
spec:
  replicas: 1
  selector: {matchLabels: {app: broken}}
  template:
    metadata: {labels: {app: broken}, annotations: {irsteps.io/test-fail: CrashLoopBackOff}}
    spec: {containers: [{name: app, image: registry.example/shop/broken:1.0}]}
)");
  auto run = run_step_binary("rollout", args(ns.name(), {"status", "deployment/broken", "--timeout", "8s"}));
  REQUIRE_EXIT(run, 1);
  CHECK(run.out.find("deployment/broken not healthy") != std::string::npos);
  CHECK(run.out.find("CrashLoopBackOff") != std::string::npos);
}

TEST_CASE("rollout scale remembers the replica count and restores it", "[integration][rollout]") {
  TestNamespace ns("rollout-scale");
  Cluster::get().apply_yaml(ns.name(), deployment_yaml("api", 2));
  running_pods(ns.name(), "app=api", 2);
  auto down = run_step_binary(
      "rollout", args(ns.name(), {"scale", "deployment/api", "--replicas", "0", "--timeout", "60s"}));
  REQUIRE_EXIT(down, 0);
  CHECK(down.output("previous-replicas") == "2");
  const auto scaled = deployment(ns.name(), "api");
  CHECK(string_at(scaled, {"metadata", "annotations", "irsteps.io/previous-replicas"}) == "2");
  CHECK(eventually([&] {
    auto pods = Cluster::get().client().list(k8s::resources::pods, ns.name(), {"app=api", {}});
    return pods && pods->at("items").as_array().empty();
  }));
  auto again = run_step_binary("rollout", args(ns.name(), {"scale", "deployment/api", "--replicas", "0"}));
  REQUIRE_EXIT(again, 0);
  CHECK(string_at(deployment(ns.name(), "api"),
                  {"metadata", "annotations", "irsteps.io/previous-replicas"}) == "2");
  auto restore = run_step_binary(
      "rollout", args(ns.name(), {"scale", "deployment/api", "--restore", "--timeout", "60s"}));
  REQUIRE_EXIT(restore, 0);
  running_pods(ns.name(), "app=api", 2);
  CHECK(string_at(deployment(ns.name(), "api"), {"metadata", "annotations", "irsteps.io/previous-replicas"})
            .empty());
  auto daemonset = run_step_binary("rollout", args(ns.name(), {"scale", "daemonset/x", "--replicas", "0"}));
  REQUIRE_EXIT(daemonset, 2);
}

TEST_CASE("rollout delete-pod deletes exactly the pod, the controller replaces it",
          "[integration][rollout]") {
  TestNamespace ns("rollout-delete");
  Cluster::get().apply_yaml(ns.name(), deployment_yaml("cart", 2));
  const auto pods = running_pods(ns.name(), "app=cart", 2);
  auto run = run_step_binary("rollout", args(ns.name(), {"delete-pod", pods[0], "--force"}));
  REQUIRE_EXIT(run, 0);
  CHECK(run.output("deleted-pods") == pods[0]);
  CHECK(eventually([&] { return !Cluster::get().client().get(k8s::resources::pods, ns.name(), pods[0]); }));
  CHECK(Cluster::get().client().get(k8s::resources::pods, ns.name(), pods[1]));
  auto missing = run_step_binary("rollout", args(ns.name(), {"delete-pod", pods[0]}));
  REQUIRE_EXIT(missing, 2);
}

TEST_CASE("rollout undo puts the previous or the named revision's template back", "[integration][rollout]") {
  TestNamespace ns("rollout-undo");
  auto& cluster = Cluster::get();
  cluster.apply_yaml(ns.name(), deployment_yaml("shop", 1));
  running_pods(ns.name(), "app=shop", 1);
  auto changed = cluster.kubectl(
      {"-n", ns.name(), "set", "image", "deployment/shop", "app=registry.example/shop/shop:2.0"});
  REQUIRE(changed.exit_status == 0);
  auto waited =
      run_step_binary("rollout", args(ns.name(), {"status", "deployment/shop", "--timeout", "60s"}));
  REQUIRE_EXIT(waited, 0);

  auto undo = run_step_binary("rollout", args(ns.name(), {"undo", "deployment/shop", "--timeout", "60s"}));
  REQUIRE_EXIT(undo, 0);
  CHECK(undo.output("revision") == "1");
  auto image = [&] {
    const json::value object(deployment(ns.name(), "shop"));
    return string_at(find(object, {"spec", "template", "spec", "containers"})->as_array().at(0), {"image"});
  };
  CHECK(image() == "registry.example/shop/shop:1.0");
  auto to_two =
      run_step_binary("rollout", args(ns.name(), {"undo", "deployment/shop", "--to-revision", "2"}));
  REQUIRE_EXIT(to_two, 0);
  CHECK(image() == "registry.example/shop/shop:2.0");
  auto absent =
      run_step_binary("rollout", args(ns.name(), {"undo", "deployment/shop", "--to-revision", "99"}));
  REQUIRE_EXIT(absent, 2);
}

TEST_CASE("rollout find-image by repository:tag and by digest", "[integration][rollout]") {
  TestNamespace ns("rollout-image");
  Cluster::get().apply_yaml(ns.name(), deployment_yaml("bad", 1));
  Cluster::get().apply_yaml(ns.name(), deployment_yaml("good", 1));
  const auto pods = running_pods(ns.name(), "app=bad", 1);
  running_pods(ns.name(), "app=good", 1);
  auto by_tag = run_step_binary("rollout", args(ns.name(), {"find-image", "registry.example/shop/bad:1.0"}));
  REQUIRE_EXIT(by_tag, 0);
  CHECK(by_tag.output("pods") == ns.name() + "/pod/" + pods[0]);
  CHECK(by_tag.output("workloads") == ns.name() + "/deployment/bad");
  const std::string digest = "sha256:" + sha256_hex("registry.example/shop/bad:1.0");
  CHECK(eventually([&] {
    auto by_digest = run_step_binary("rollout", args(ns.name(), {"find-image", digest}));
    return by_digest.exit_status == 0 && by_digest.output("pods") == ns.name() + "/pod/" + pods[0];
  }));
  auto none = run_step_binary("rollout", args(ns.name(), {"find-image", "registry.example/shop/bad:9.9"}));
  REQUIRE_EXIT(none, 0);
  CHECK(none.output("pod-count") == "0");
}

TEST_CASE("rollout check-persistence flags what was created after the incident began",
          "[integration][rollout]") {
  TestNamespace ns("rollout-persist");
  Cluster::get().apply_yaml(ns.name(), deployment_yaml("web", 1));
  running_pods(ns.name(), "app=web", 1);
  auto quiet = run_step_binary("rollout", args(ns.name(), {"check-persistence", "--selector", "app=web",
                                                           "--since", "2099-01-01T00:00:00Z"}));
  REQUIRE_EXIT(quiet, 0);
  CHECK(quiet.output("flagged-count") == "0");
  auto flagged = run_step_binary("rollout", args(ns.name(), {"check-persistence", "--selector", "app=web",
                                                             "--since", "2000-01-01T00:00:00Z"}));
  REQUIRE_EXIT(flagged, 0);
  // The Deployment of deployment_yaml carries no labels of its own: its pods are what the selector finds.
  CHECK(flagged.output("flagged").find(ns.name() + "/pod/web-") != std::string::npos);
  CHECK(flagged.output("flagged").find("/deployment/") == std::string::npos);
}

// Issue 16 item 3: the pod a ReplicaSet makes to replace a deleted one is not
// persistence; a new CronJob, DaemonSet, bare pod or a changed pod template is.
TEST_CASE("rollout check-persistence leaves out a ReplicaSet's replacement pod, flags what is new or changed",
          "[integration][rollout]") {
  TestNamespace ns("rollout-persist-window");
  auto& cluster = Cluster::get();
  cluster.apply_yaml(ns.name(), deployment_yaml("web", 2));
  const auto before = running_pods(ns.name(), "app=web", 2);
  // Kubernetes' times are whole seconds: the window starts in the next one.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  const std::string since = format_utc(now());
  const auto check = [&] {
    return run_step_binary("rollout", args(ns.name(), {"check-persistence", "--since", since}));
  };

  // The incident: a pod deleted; its ReplicaSet makes a replacement.
  REQUIRE(cluster.client().remove(k8s::resources::pods, ns.name(), before[0]));
  std::vector<std::string> after;
  REQUIRE(eventually([&] {
    after = running_pods(ns.name(), "app=web", 2);
    return std::find(after.begin(), after.end(), before[0]) == after.end();
  }));
  const std::string replacement = after[0] == before[1] ? after[1] : after[0];
  auto quiet = check();
  REQUIRE_EXIT(quiet, 0);
  CHECK(quiet.output("flagged-count") == "0");
  CHECK(quiet.output("flagged").empty());
  CHECK(quiet.output("since") == since);
  const std::string objects = quiet.output("objects");
  INFO(objects);
  const auto entry = objects.find("\"object\":\"" + ns.name() + "/pod/" + replacement + "\"");
  REQUIRE(entry != std::string::npos);  // it was looked at, in the window, and left out
  const std::string replacement_entry = objects.substr(entry, objects.find('}', entry) - entry);
  CHECK(replacement_entry.find("\"flagged\":false") != std::string::npos);
  CHECK(replacement_entry.find("made by " + ns.name() + "/replicaset/web-") != std::string::npos);

  // What an attacker leaves: a CronJob, a DaemonSet (on no node), a bare pod.
  cluster.apply_yaml(ns.name(), R"(
apiVersion: batch/v1beta1
kind: CronJob
metadata: {name: miner}
spec:
  schedule: "*/5 * * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers: [{name: miner, image: registry.example/evil/miner:1.0}]
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: node-miner}
spec:
  selector: {matchLabels: {app: node-miner}}
  template:
    metadata: {labels: {app: node-miner}}
    spec:
      nodeSelector: {irsteps.io/no-such-node: "true"}
      containers: [{name: miner, image: registry.example/evil/miner:1.0}]
---
apiVersion: v1
kind: Pod
metadata: {name: shell}
spec:
  containers: [{name: sh, image: registry.example/evil/shell:1.0}]
)");
  auto found = check();
  REQUIRE_EXIT(found, 0);
  INFO(found.output("objects"));
  CHECK(found.output("flagged-count") == "3");
  for (const auto& object : {"/cronjob/miner", "/daemonset/node-miner", "/pod/shell"})
    CHECK(found.output("flagged").find(ns.name() + object) != std::string::npos);

  // A workload whose pod template changed in the window: it, its new
  // ReplicaSet and the pods made from the new template are flagged.
  REQUIRE(cluster.client().patch(
      k8s::resources::deployments, ns.name(), "web", k8s::PatchType::merge,
      json::object{
          {"spec", json::object{
                       {"template",
                        json::object{
                            {"spec", json::object{{"containers",
                                                   json::array{json::object{
                                                       {"name", "app"},
                                                       {"image", "registry.example/evil/web:6.6"}}}}}}}}}}}));
  std::vector<std::string> changed_pods;
  REQUIRE(eventually(
      [&] {
        changed_pods = running_pods(ns.name(), "app=web", 2);
        return std::none_of(changed_pods.begin(), changed_pods.end(),
                            [&](const std::string& pod) { return pod == replacement || pod == before[1]; });
      },
      std::chrono::seconds(90)));
  auto changed = check();
  REQUIRE_EXIT(changed, 0);
  const std::string flagged = changed.output("flagged");
  INFO(flagged);
  CHECK(flagged.find(ns.name() + "/deployment/web") != std::string::npos);
  CHECK(flagged.find(ns.name() + "/replicaset/web-") != std::string::npos);
  for (const auto& pod : changed_pods) CHECK(flagged.find(ns.name() + "/pod/" + pod) != std::string::npos);
}

// The pods that a ReplicaSet, a StatefulSet and a DaemonSet make again after
// their pods were deleted, checked with the shipped ClusterRole (the owners
// and ControllerRevisions are read with get): none is flagged.
TEST_CASE("rollout check-persistence with its shipped role: controllers' replacement pods are not flagged",
          "[integration][rollout][rbac]") {
  auto& cluster = Cluster::get();
  cluster.apply_shipped_role("rollout");
  TokenKubeconfig step_identity(service_account_token("irsteps", "irsteps-rollout"), "irsteps-rollout");
  TestNamespace ns("rollout-persist-rbac");
  cluster.apply_yaml(ns.name(), deployment_yaml("web", 1) + R"(
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  serviceName: db
  replicas: 1
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: db, image: "registry.example/shop/db:1.0"}]}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec: {containers: [{name: agent, image: "registry.example/shop/agent:1.0"}]}
)");
  std::map<std::string, std::string> old_uids;
  for (const auto* app : {"web", "db", "agent"}) {
    const auto pod = running_pods(ns.name(), std::string("app=") + app, 1).at(0);
    auto object = cluster.client().get(k8s::resources::pods, ns.name(), pod);
    REQUIRE(object);
    old_uids[app] = string_at(*object, {"metadata", "uid"});
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // whole seconds: see above
  const std::string since = format_utc(now());
  for (const auto* app : {"web", "db", "agent"}) {
    const auto pod = running_pods(ns.name(), std::string("app=") + app, 1).at(0);
    REQUIRE(cluster.client().remove(k8s::resources::pods, ns.name(), pod));
  }
  for (const auto* app : {"web", "db", "agent"}) {
    INFO(app);
    CHECK(eventually(
        [&] {
          auto pods = cluster.client().list(k8s::resources::pods, ns.name(), {std::string("app=") + app, {}});
          if (!pods) return false;
          for (const auto& pod : pods->at("items").as_array()) {
            if (string_at(pod, {"metadata", "uid"}) != old_uids[app] &&
                string_at(pod, {"status", "phase"}) == "Running")
              return true;
          }
          return false;
        },
        std::chrono::seconds(90)));
  }
  auto run = run_step_binary("rollout", {"--incident-id", incident, "--kubeconfig", step_identity.path(),
                                         "--namespace", ns.name(), "check-persistence", "--since", since});
  REQUIRE_EXIT(run, 0);
  INFO(run.output("objects"));
  CHECK(run.output("flagged-count") == "0");
  for (const auto* made_by : {"/replicaset/web-", "/statefulset/db ", "/daemonset/agent "})
    CHECK(run.output("objects").find("made by " + ns.name() + made_by) != std::string::npos);
}

TEST_CASE("rollout check-persistence refuses an empty window", "[integration][rollout]") {
  auto empty = run_step_binary("rollout", args("default", {"check-persistence", "--since="}));
  REQUIRE_EXIT(empty, 2);
  CHECK(empty.err.find("parameter since") != std::string::npos);
}

TEST_CASE("rollout undo of StatefulSets and DaemonSets goes back through their ControllerRevisions",
          "[integration][rollout]") {
  TestNamespace ns("rollout-undo-revs");
  auto& cluster = Cluster::get();
  cluster.apply_yaml(ns.name(), R"(
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  serviceName: db
  replicas: 1
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: db, image: "registry.example/shop/db:1.0"}]}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec: {containers: [{name: agent, image: "registry.example/shop/agent:1.0"}]}
)");
  running_pods(ns.name(), "app=db", 1);
  running_pods(ns.name(), "app=agent", 1);
  auto image_of = [&](const k8s::Resource& resource, const std::string& name) {
    auto object = cluster.client().get(resource, ns.name(), name);
    REQUIRE(object);
    return string_at(find(*object, {"spec", "template", "spec", "containers"})->as_array().at(0), {"image"});
  };
  for (const auto& [kind, name] :
       std::vector<std::pair<std::string, std::string>>{{"statefulset", "db"}, {"daemonset", "agent"}}) {
    INFO(kind);
    auto changed = cluster.kubectl({"-n", ns.name(), "set", "image", kind + "/" + name,
                                    name + "=registry.example/shop/" + name + ":2.0"});
    REQUIRE(changed.exit_status == 0);
    const auto& resource = kind == "statefulset" ? k8s::resources::statefulsets : k8s::resources::daemonsets;
    // Wait for the controller to record revision 2.
    REQUIRE(eventually([&] {
      auto revisions = cluster.client().list(
          {"apps", "v1", "controllerrevisions", "ControllerRevision", true}, ns.name(), {"app=" + name, {}});
      return revisions && revisions->at("items").as_array().size() >= 2;
    }));
    auto dry = run_step_binary("rollout", args(ns.name(), {"undo", kind + "/" + name, "--dry-run"}));
    REQUIRE_EXIT(dry, 0);
    CHECK(image_of(resource, name) == "registry.example/shop/" + name + ":2.0");
    auto undo = run_step_binary("rollout", args(ns.name(), {"undo", kind + "/" + name}));
    REQUIRE_EXIT(undo, 0);
    CHECK(undo.output("revision") == "1");
    CHECK(image_of(resource, name) == "registry.example/shop/" + name + ":1.0");
    auto absent =
        run_step_binary("rollout", args(ns.name(), {"undo", kind + "/" + name, "--to-revision", "99"}));
    REQUIRE_EXIT(absent, 2);
  }
}

namespace {

std::string image_of(const json::object& workload, std::size_t index = 0) {
  const auto* containers = find(workload, {"spec", "template", "spec", "containers"});
  if (containers == nullptr)
    containers = find(workload, {"spec", "jobTemplate", "spec", "template", "spec", "containers"});
  REQUIRE(containers != nullptr);
  return string_at(containers->as_array().at(index), {"image"});
}

}  // namespace

TEST_CASE("rollout set-image pins a container to an image by digest, remembers the old one, waits",
          "[integration][rollout][rbac]") {
  auto& cluster = Cluster::get();
  cluster.apply_shipped_role("rollout");
  // Under the shipped Role: it must be enough for set-image and its wait.
  TokenKubeconfig step_identity(service_account_token("irsteps", "irsteps-rollout"), "irsteps-rollout");
  TestNamespace ns("rollout-set-image");
  cluster.apply_yaml(ns.name(), deployment_yaml("web", 2));
  const auto before = running_pods(ns.name(), "app=web", 2);
  const std::string digest = "sha256:" + sha256_hex("registry.example/shop/web:2.0");
  const std::string pinned = "registry.example/shop/web@" + digest;
  auto set_image = [&](std::vector<std::string> more) {
    return run_step_binary("rollout", args(ns.name(), std::move(more), step_identity.path()));
  };
  const auto generation = [&] {
    const auto live = deployment(ns.name(), "web");
    return find(live, {"metadata", "generation"})->to_number<std::int64_t>();
  };
  const auto first_generation = generation();

  SECTION("bad input is exit 2 naming the parameter, and nothing changes") {
    auto tag = set_image({"set-image", "deployment/web", "--image", "registry.example/shop/web:2.0"});
    REQUIRE_EXIT(tag, 2);
    CHECK(tag.all_text().find("parameter image") != std::string::npos);
    CHECK(tag.all_text().find("is a tag, not a digest") != std::string::npos);
    auto missing = set_image({"set-image", "deployment/web"});
    REQUIRE_EXIT(missing, 2);
    auto container = set_image({"set-image", "deployment/web", "--image", pinned, "--container", "nope"});
    REQUIRE_EXIT(container, 2);
    CHECK(container.all_text().find("parameter container: 'nope' is not a container of deployment/web") !=
          std::string::npos);
    auto job = set_image({"set-image", "job/nightly-1", "--image", pinned});
    REQUIRE_EXIT(job, 2);
    CHECK(job.all_text().find("kind Job does not roll out") != std::string::npos);
    CHECK(image_of(deployment(ns.name(), "web")) == "registry.example/shop/web:1.0");
    CHECK(generation() == first_generation);
  }

  SECTION("dry-run prints the exact request and changes nothing") {
    auto dry = set_image(
        {"set-image", "deployment/web", "--image", "registry.example/shop/web:2.0@" + digest, "--dry-run"});
    REQUIRE_EXIT(dry, 0);
    const auto& actions = dry.result.at("actions").as_array();
    REQUIRE(actions.size() == 1);
    const auto* request = find(actions[0], {"request"});
    REQUIRE(request != nullptr);
    CHECK(string_at(*request, {"method"}) == "PATCH");
    CHECK(string_at(*request, {"path"}) == "/apis/apps/v1/namespaces/" + ns.name() + "/deployments/web");
    CHECK(string_at(*request, {"contentType"}) == "application/strategic-merge-patch+json");
    const auto* containers = find(*request, {"body", "spec", "template", "spec", "containers"});
    REQUIRE(containers != nullptr);
    CHECK(string_at(containers->as_array().at(0), {"image"}) == pinned);  // the tag left out
    CHECK(string_at(*request, {"body", "metadata", "annotations", "irsteps.io/previous-image-app"}) ==
          "registry.example/shop/web:1.0");
    CHECK(image_of(deployment(ns.name(), "web")) == "registry.example/shop/web:1.0");
    CHECK(generation() == first_generation);
  }

  SECTION("the image is set, the old one kept, new pods run it; a re-run changes nothing and says so") {
    auto set = set_image({"set-image", "deployment/web", "--image", pinned, "--timeout", "120s"});
    REQUIRE_EXIT(set, 0);
    CHECK(set.output("changed") == "true");
    CHECK(set.output("rollouts").find("\"healthy\":true") != std::string::npos);
    const auto live = deployment(ns.name(), "web");
    CHECK(image_of(live) == pinned);
    CHECK(string_at(live, {"metadata", "annotations", "irsteps.io/previous-image-app"}) ==
          "registry.example/shop/web:1.0");
    CHECK(string_at(live, {"metadata", "annotations", "irsteps.io/incident"}) == incident);
    const auto after = running_pods(ns.name(), "app=web", 2);
    for (const auto& pod : after) {
      INFO(pod);
      CHECK(std::find(before.begin(), before.end(), pod) == before.end());
      auto object = cluster.client().get(k8s::resources::pods, ns.name(), pod);
      REQUIRE(object);
      CHECK(string_at(find(*object, {"spec", "containers"})->as_array().at(0), {"image"}) == pinned);
    }
    const auto set_generation = generation();
    auto again = set_image({"set-image", "deployment/web", "--image", pinned, "--timeout", "60s"});
    REQUIRE_EXIT(again, 0);
    CHECK(again.output("changed") == "false");
    CHECK(again.result.at("actions").as_array().empty());
    CHECK(again.all_text().find("already runs " + pinned + ": nothing changed") != std::string::npos);
    CHECK(generation() == set_generation);
    CHECK(string_at(deployment(ns.name(), "web"),
                    {"metadata", "annotations", "irsteps.io/previous-image-app"}) ==
          "registry.example/shop/web:1.0");
  }
}

TEST_CASE("rollout set-image on StatefulSets and DaemonSets, and a container named when several could be",
          "[integration][rollout]") {
  TestNamespace ns("rollout-set-image-sets");
  auto& cluster = Cluster::get();
  cluster.apply_yaml(ns.name(), R"(
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  serviceName: db
  replicas: 1
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: db, image: "registry.example/shop/db:1.0"}]}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      containers:
        - {name: agent, image: "registry.example/shop/agent:1.0"}
        - {name: proxy, image: "registry.example/shop/proxy:1.0"}
)");
  running_pods(ns.name(), "app=db", 1);
  running_pods(ns.name(), "app=agent", 1);
  const std::string db_image = "registry.example/shop/db@sha256:" + sha256_hex("db:2.0");
  auto db = run_step_binary(
      "rollout", args(ns.name(), {"set-image", "statefulset/db", "--image", db_image, "--timeout", "120s"}));
  REQUIRE_EXIT(db, 0);
  auto statefulset = cluster.client().get(k8s::resources::statefulsets, ns.name(), "db");
  REQUIRE(statefulset);
  CHECK(image_of(*statefulset) == db_image);
  CHECK(string_at(*statefulset, {"metadata", "annotations", "irsteps.io/previous-image-db"}) ==
        "registry.example/shop/db:1.0");

  // Neither container runs the new repository: which one is for a person to say.
  const std::string sidecar = "registry.example/shop/sidecar@sha256:" + sha256_hex("sidecar:2.0");
  auto ambiguous =
      run_step_binary("rollout", args(ns.name(), {"set-image", "daemonset/agent", "--image", sidecar}));
  REQUIRE_EXIT(ambiguous, 2);
  CHECK(ambiguous.all_text().find("--container") != std::string::npos);
  auto named = run_step_binary("rollout", args(ns.name(), {"set-image", "daemonset/agent", "--image", sidecar,
                                                           "--container", "proxy", "--timeout", "120s"}));
  REQUIRE_EXIT(named, 0);
  auto daemonset = cluster.client().get(k8s::resources::daemonsets, ns.name(), "agent");
  REQUIRE(daemonset);
  CHECK(image_of(*daemonset, 0) == "registry.example/shop/agent:1.0");
  CHECK(image_of(*daemonset, 1) == sidecar);
  CHECK(string_at(*daemonset, {"metadata", "annotations", "irsteps.io/previous-image-proxy"}) ==
        "registry.example/shop/proxy:1.0");
}

// A CronJob has no rollout and no revisions: set-image pins what its next Job
// runs (and names the Jobs that keep running the old image), undo puts back
// what set-image replaced. Under the shipped Role. The CronJob is
// batch/v1beta1 on this 1.20 server (the client's discovery picks it).
TEST_CASE("rollout set-image and undo on a CronJob: its next Job's template, running Jobs named",
          "[integration][rollout][rbac]") {
  auto& cluster = Cluster::get();
  cluster.apply_shipped_role("rollout");
  TokenKubeconfig step_identity(service_account_token("irsteps", "irsteps-rollout"), "irsteps-rollout");
  TestNamespace ns("rollout-set-image-cron");
  cluster.apply_yaml(ns.name(), R"(
apiVersion: batch/v1beta1
kind: CronJob
metadata: {name: nightly}
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          initContainers: [{name: fetch, image: "registry.example/shop/fetch:1.0"}]
          containers: [{name: report, image: "registry.example/shop/report:1.0"}]
)");
  auto as_step = [&](std::vector<std::string> more) {
    return run_step_binary("rollout", args(ns.name(), std::move(more), step_identity.path()));
  };
  const auto read = [&] {
    auto object = cluster.client().get(k8s::resources::cronjobs, ns.name(), "nightly");
    if (!object) FAIL(object.error().describe());
    return *object;
  };
  const auto init_image = [&](const json::object& cronjob) {
    return string_at(find(cronjob, {"spec", "jobTemplate", "spec", "template", "spec", "initContainers"})
                         ->as_array()
                         .at(0),
                     {"image"});
  };
  // A Job the CronJob started, running: owned by it and in its
  // status.active, as its controller makes them (the 1.20 controller drops
  // an active entry whose Job it does not find among the CronJob's own:
  // pkg/controller/cronjob/cronjob_controller.go, syncOne).
  cluster.apply_yaml(ns.name(), fmt::format(R"(
apiVersion: batch/v1
kind: Job
metadata:
  name: nightly-27800000
  ownerReferences:
    - {{apiVersion: batch/v1beta1, kind: CronJob, name: nightly, uid: "{}", controller: true}}
spec:
  template:
    spec: {{restartPolicy: Never, containers: [{{name: report, image: "registry.example/shop/report:1.0"}}]}}
)",
                                            string_at(read(), {"metadata", "uid"})));
  auto job = cluster.client().get(k8s::resources::jobs, ns.name(), "nightly-27800000");
  REQUIRE(job);
  auto status = cluster.client().patch(
      k8s::resources::cronjobs, ns.name(), "nightly", k8s::PatchType::merge,
      json::object{{"status", json::object{{"active", json::array{json::object{
                                                          {"kind", "Job"},
                                                          {"namespace", ns.name()},
                                                          {"name", "nightly-27800000"},
                                                          {"uid", string_at(*job, {"metadata", "uid"})},
                                                          {"apiVersion", "batch/v1"}}}}}}},
      false, "status");
  REQUIRE(status);
  const std::string pinned = "registry.example/shop/report@sha256:" + sha256_hex("report:2.0");

  auto dry = as_step({"set-image", "cronjob/nightly", "--image", pinned, "--dry-run"});
  REQUIRE_EXIT(dry, 0);
  const auto& planned = dry.result.at("actions").as_array();
  REQUIRE(planned.size() == 1);
  CHECK(string_at(planned[0], {"request", "path"}) ==
        "/apis/batch/v1beta1/namespaces/" + ns.name() + "/cronjobs/nightly");
  CHECK(find(planned[0], {"request", "body", "spec", "jobTemplate", "spec", "template", "spec",
                          "containers"}) != nullptr);
  CHECK(image_of(read()) == "registry.example/shop/report:1.0");

  auto to_revision = as_step({"undo", "cronjob/nightly", "--to-revision", "2"});
  REQUIRE_EXIT(to_revision, 2);
  CHECK(to_revision.all_text().find("parameter to-revision: cronjob/nightly has no revisions") !=
        std::string::npos);
  auto restart = as_step({"restart", "cronjob/nightly"});
  REQUIRE_EXIT(restart, 2);

  auto set = as_step({"set-image", "cronjob/nightly", "--image", pinned});
  REQUIRE_EXIT(set, 0);
  CHECK(set.output("changed") == "true");
  CHECK(set.output("rollouts").empty());  // nothing rolls out
  CHECK(set.all_text().find("the Job(s) running now keep the image they started with: nightly-27800000") !=
        std::string::npos);
  auto live = read();
  CHECK(image_of(live) == pinned);
  CHECK(init_image(live) == "registry.example/shop/fetch:1.0");  // another repository: untouched
  CHECK(string_at(live, {"metadata", "annotations", "irsteps.io/previous-image-report"}) ==
        "registry.example/shop/report:1.0");
  CHECK(string_at(live, {"metadata", "annotations", "irsteps.io/incident"}) == incident);

  auto again = as_step({"set-image", "cronjob/nightly", "--image", pinned});
  REQUIRE_EXIT(again, 0);
  CHECK(again.output("changed") == "false");

  auto undo = as_step({"undo", "cronjob/nightly"});
  REQUIRE_EXIT(undo, 0);
  REQUIRE(undo.result.at("actions").as_array().size() == 1);
  live = read();
  CHECK(image_of(live) == "registry.example/shop/report:1.0");
  CHECK(init_image(live) == "registry.example/shop/fetch:1.0");
  CHECK(string_at(live, {"metadata", "annotations", "irsteps.io/previous-image-report"}).empty());
  const auto resource_version = string_at(live, {"metadata", "resourceVersion"});

  // A re-run (an Argo retry) finds nothing to undo and changes nothing.
  auto undo_again = as_step({"undo", "cronjob/nightly"});
  REQUIRE_EXIT(undo_again, 0);
  CHECK(undo_again.result.at("actions").as_array().empty());
  CHECK(undo_again.all_text().find("nothing to undo") != std::string::npos);
  CHECK(string_at(read(), {"metadata", "resourceVersion"}) == resource_version);
}

// Issue 16 item 5. The node agent reports imageID as
// docker-pullable://REPO@sha256:<sha256 of the spec's image string>, so the
// "verified digest" here is that of registry.example/shop/alias:2.0: the
// workloads that name that tag are found only through their pods' status.
TEST_CASE(
    "rollout find-image finds every kind by tag, pinned digest and imageID, stop takes each out, "
    "restore puts it back",
    "[integration][rollout]") {
  TestNamespace ns("rollout-stop");
  auto& cluster = Cluster::get();
  auto& client = cluster.client();
  const std::string bad_tag = "registry.example/shop/bad:1.0";
  const std::string alias = "registry.example/shop/alias:2.0";
  const std::string digest = "sha256:" + sha256_hex(alias);
  cluster.apply_yaml(ns.name(), deployment_running("tagged", bad_tag));
  cluster.apply_yaml(ns.name(), deployment_running("pinned", "registry.example/shop/bad@" + digest));
  cluster.apply_yaml(ns.name(), deployment_running("alias", alias));
  cluster.apply_yaml(ns.name(), deployment_running("good", "registry.example/shop/good:1.0"));
  cluster.apply_yaml(ns.name(), fmt::format(R"(
apiVersion: batch/v1beta1
kind: CronJob
metadata: {{name: nightly}}
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      template:
        spec: {{restartPolicy: Never, containers: [{{name: job, image: "{0}"}}]}}
---
apiVersion: batch/v1
kind: Job
metadata: {{name: once}}
spec:
  parallelism: 1
  template:
    metadata: {{labels: {{app: once}}}}
    spec: {{restartPolicy: Never, containers: [{{name: job, image: "{1}"}}]}}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {{name: agent}}
spec:
  selector: {{matchLabels: {{app: agent}}}}
  template:
    metadata: {{labels: {{app: agent}}}}
    spec: {{containers: [{{name: agent, image: "{0}"}}]}}
---
apiVersion: v1
kind: Pod
metadata: {{name: lonely, labels: {{app: lonely}}}}
spec: {{containers: [{{name: app, image: "{1}"}}]}}
)",
                                            bad_tag, alias));
  for (const auto* app : {"tagged", "pinned", "alias", "good", "once", "agent", "lonely"}) {
    running_pods(ns.name(), std::string("app=") + app, 1);
  }
  const std::string q = ns.name() + "/";
  const std::vector<std::string> expected{
      q + "cronjob/nightly",   q + "daemonset/agent", q + "deployment/alias", q + "deployment/pinned",
      q + "deployment/tagged", q + "job/once",        q + "pod/lonely"};
  std::string expected_text;
  for (const auto& item : expected) expected_text += (expected_text.empty() ? "" : ",") + item;

  // By the tag alone (no digest): what names the tag, nothing else.
  auto by_tag = run_step_binary("rollout", args(ns.name(), {"find-image", bad_tag}));
  REQUIRE_EXIT(by_tag, 0);
  CHECK(by_tag.output("workloads") ==
        q + "cronjob/nightly," + q + "daemonset/agent," + q + "deployment/tagged");
  // With the verified digest: pinned specs and pods whose node reports it, walked up to their owners.
  StepRun found;
  CHECK(eventually([&] {
    found = run_step_binary("rollout", args("", {"find-image", bad_tag, "--digest", digest}));
    return found.exit_status == 0 && found.output("workloads") == expected_text;
  }));
  INFO("found: " << found.output("workloads"));
  CHECK(found.output("workload-count") == "7");
  CHECK(found.output("workloads").find("/deployment/good") == std::string::npos);
  CHECK(found.output("workloads").find("replicaset") == std::string::npos);
  // The playbook's roll back: undo what has a revision history, stop the rest.
  CHECK(found.output("with-history") == q + "daemonset/agent," + q + "deployment/alias," + q +
                                            "deployment/pinned," + q + "deployment/tagged");
  CHECK(found.output("without-history") == q + "cronjob/nightly," + q + "job/once," + q + "pod/lonely");
  CHECK(found.output("without-history-count") == "3");
  // A replacement by a verified image: set-image what has a pod template.
  CHECK(found.output("with-template") == q + "cronjob/nightly," + q + "daemonset/agent," + q +
                                             "deployment/alias," + q + "deployment/pinned," + q +
                                             "deployment/tagged");
  CHECK(found.output("with-template-count") == "5");
  CHECK(found.output("without-template") == q + "job/once," + q + "pod/lonely");
  CHECK(found.output("without-template-count") == "2");

  std::vector<std::string> stop_args{"stop"};
  stop_args.insert(stop_args.end(), expected.begin(), expected.end());
  auto read = [&](const k8s::Resource& resource, const std::string& name) {
    auto object = client.get(resource, ns.name(), name);
    REQUIRE(object);
    return json::value(std::move(*object));
  };
  const k8s::Resource cronjobs = k8s::resources::cronjobs;  // batch/v1beta1 on this 1.20 cluster
  auto number = [&](const k8s::Resource& resource, const std::string& name,
                    std::initializer_list<std::string_view> path) {
    const auto object = read(resource, name);
    const auto* value = find(object, path);
    return value != nullptr && value->is_number() ? value->to_number<int>() : -1;
  };
  auto replicas = [&](const std::string& name) {
    return number(k8s::resources::deployments, name, {"spec", "replicas"});
  };
  auto suspended = [&] {
    const auto object = read(cronjobs, "nightly");
    const auto* value = find(object, {"spec", "suspend"});
    return value != nullptr && value->is_bool() && value->get_bool();
  };
  auto pods_of = [&](const std::string& app) {
    auto pods = client.list(k8s::resources::pods, ns.name(), {"app=" + app, {}});
    REQUIRE(pods);
    return pods->at("items").as_array().size();
  };

  {  // Bad input: exit 2 and nothing changed.
    auto wrong_kind =
        run_step_binary("rollout", args("", {"stop", q + "secret/token", q + "deployment/tagged"}));
    REQUIRE_EXIT(wrong_kind, 2);
    auto missing =
        run_step_binary("rollout", args("", {"stop", q + "deployment/tagged", q + "deployment/nope"}));
    REQUIRE_EXIT(missing, 2);
    auto other_ns = run_step_binary("rollout", args("default", {"stop", q + "deployment/tagged"}));
    REQUIRE_EXIT(other_ns, 2);
    auto bad_digest = run_step_binary("rollout", args("", {"find-image", bad_tag, "--digest", "sha256:12"}));
    REQUIRE_EXIT(bad_digest, 2);
    CHECK(replicas("tagged") == 1);
    CHECK(pods_of("lonely") == 1);
  }

  {  // A dry run prints the requests, stop takes each out by its kind, a re-run changes nothing, restore.
    auto dry = run_step_binary("rollout", args("", [&] {
                                 auto list = stop_args;
                                 list.push_back("--dry-run");
                                 return list;
                               }()));
    REQUIRE_EXIT(dry, 0);
    const auto& planned = dry.result.at("actions").as_array();
    // 3 Deployments, the CronJob, the Job and its pod, the DaemonSet, the pod.
    CHECK(planned.size() == 8);
    for (const auto& action : planned) {
      CHECK(action.at("dryRun") == true);
      CHECK(!string_at(action, {"request", "method"}).empty());
    }
    CHECK(replicas("tagged") == 1);
    CHECK(pods_of("lonely") == 1);
    CHECK_FALSE(suspended());

    auto stopped = run_step_binary("rollout", args("", stop_args));
    REQUIRE_EXIT(stopped, 0);
    for (const auto* name : {"tagged", "pinned", "alias"}) {
      INFO(name);
      CHECK(replicas(name) == 0);
      CHECK(string_at(read(k8s::resources::deployments, name),
                      {"metadata", "annotations", "irsteps.io/previous-replicas"}) == "1");
    }
    CHECK(replicas("good") == 1);
    CHECK(suspended());
    CHECK(string_at(read(cronjobs, "nightly"), {"metadata", "annotations", "irsteps.io/previous-suspend"}) ==
          "false");
    // 1.20 has no spec.suspend on Jobs: parallelism 0, and the step says so.
    const auto job = read(k8s::resources::jobs, "once");
    CHECK(find(job, {"spec", "parallelism"})->to_number<int>() == 0);
    CHECK(string_at(job, {"metadata", "annotations", "irsteps.io/previous-parallelism"}) == "1");
    CHECK(stopped.all_text().find("cannot suspend Jobs") != std::string::npos);
    CHECK(string_at(read(k8s::resources::daemonsets, "agent"),
                    {"spec", "template", "spec", "nodeSelector", "irsteps.io/stopped-by"}) == incident);
    CHECK(string_at(read(k8s::resources::daemonsets, "agent"),
                    {"metadata", "annotations", "irsteps.io/previous-node-selector"}) == "{}");
    for (const auto* app : {"tagged", "pinned", "alias", "once", "agent", "lonely"}) {
      INFO(app);
      CHECK(eventually([&] { return pods_of(app) == 0; }));
    }
    CHECK(pods_of("good") == 1);

    auto again = run_step_binary("rollout", args("", stop_args));
    REQUIRE_EXIT(again, 0);
    CHECK(again.output("stopped").empty());
    CHECK(string_at(read(k8s::resources::deployments, "tagged"),
                    {"metadata", "annotations", "irsteps.io/previous-replicas"}) == "1");

    auto restore_args = stop_args;
    restore_args.push_back("--restore");
    auto restored = run_step_binary("rollout", args("", restore_args));
    REQUIRE_EXIT(restored, 0);
    CHECK(restored.all_text().find("pod/lonely was deleted and cannot be restored") != std::string::npos);
    for (const auto* name : {"tagged", "pinned", "alias"}) CHECK(replicas(name) == 1);
    CHECK_FALSE(suspended());
    CHECK(number(k8s::resources::jobs, "once", {"spec", "parallelism"}) == 1);
    const auto selector = read(k8s::resources::daemonsets, "agent");
    const auto* node_selector = find(selector, {"spec", "template", "spec", "nodeSelector"});
    CHECK((node_selector == nullptr || node_selector->as_object().empty()));
    for (const auto* app : {"tagged", "once", "agent"}) {
      INFO(app);
      CHECK(eventually([&] { return pods_of(app) == 1; }));
    }
    CHECK(pods_of("lonely") == 0);
    auto restored_again = run_step_binary("rollout", args("", restore_args));
    REQUIRE_EXIT(restored_again, 0);
    CHECK(restored_again.all_text().find("nothing to restore") != std::string::npos);
  }
}

// The shipped ClusterRole (workflows/argo/rbac/rollout.yaml) holds what
// find-image and stop need, the Job's server-side dry-run probe and a bare
// ReplicaSet included: a missing right would be a 403 here.
TEST_CASE("rollout find-image and stop with their shipped role, a bare ReplicaSet included",
          "[integration][rollout][rbac]") {
  auto& cluster = Cluster::get();
  cluster.apply_shipped_role("rollout");
  TokenKubeconfig step_identity(service_account_token("irsteps", "irsteps-rollout"), "irsteps-rollout");
  TestNamespace ns("rollout-stop-rbac");
  const std::string image = "registry.example/shop/bad:3.0";
  cluster.apply_yaml(ns.name(), fmt::format(R"(
apiVersion: apps/v1
kind: ReplicaSet
metadata: {{name: bare}}
spec:
  replicas: 2
  selector: {{matchLabels: {{app: bare}}}}
  template:
    metadata: {{labels: {{app: bare}}}}
    spec: {{containers: [{{name: app, image: "{0}"}}]}}
---
apiVersion: batch/v1
kind: Job
metadata: {{name: once}}
spec:
  template:
    metadata: {{labels: {{app: once}}}}
    spec: {{restartPolicy: Never, containers: [{{name: job, image: "{0}"}}]}}
---
apiVersion: batch/v1beta1
kind: CronJob
metadata: {{name: nightly}}
spec:
  schedule: "0 3 * * *"
  jobTemplate: {{spec: {{template: {{spec: {{restartPolicy: Never, containers: [{{name: job, image: "{0}"}}]}}}}}}}}
)",
                                            image));
  running_pods(ns.name(), "app=bare", 2);
  running_pods(ns.name(), "app=once", 1);
  const auto as_step = [&](std::vector<std::string> more) {
    return run_step_binary("rollout", args("", std::move(more), step_identity.path()));
  };
  const std::string q = ns.name() + "/";
  auto found = as_step({"--namespace", ns.name(), "find-image", image});
  REQUIRE_EXIT(found, 0);
  CHECK(found.output("workloads") == q + "cronjob/nightly," + q + "job/once," + q + "replicaset/bare");
  auto stopped = as_step({"stop", q + "cronjob/nightly", q + "job/once", q + "replicaset/bare"});
  REQUIRE_EXIT(stopped, 0);
  auto replica_set = cluster.client().get(k8s::resources::replicasets, ns.name(), "bare");
  REQUIRE(replica_set);
  CHECK(find(*replica_set, {"spec", "replicas"})->to_number<int>() == 0);
  CHECK(string_at(*replica_set, {"metadata", "annotations", "irsteps.io/previous-replicas"}) == "2");
  for (const auto* app : {"bare", "once"}) {
    INFO(app);
    CHECK(eventually([&] {
      auto pods = cluster.client().list(k8s::resources::pods, ns.name(), {std::string("app=") + app, {}});
      return pods && pods->at("items").as_array().empty();
    }));
  }
  auto restored =
      as_step({"stop", q + "cronjob/nightly", q + "job/once", q + "replicaset/bare", "--restore"});
  REQUIRE_EXIT(restored, 0);
  running_pods(ns.name(), "app=bare", 2);
  running_pods(ns.name(), "app=once", 1);
}
