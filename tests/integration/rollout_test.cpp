// rollout against the real control plane: every verb, awaited rollouts, the
// failing-workload report, dry-run and bad input.
#include "step_runner.hpp"

#include "ir/core/encoding.hpp"

#include <fmt/format.h>

using namespace ir;
using namespace ir::test;

namespace {

const std::string incident = "INC-2026-11-26-301";

std::vector<std::string> args(const std::string& ns, std::vector<std::string> more) {
  std::vector<std::string> list{"--incident-id", incident, "--kubeconfig", Cluster::get().kubeconfig()};
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
  const auto deployment_of = [](const std::string& name, const std::string& image) {
    return fmt::format(R"(
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {0}}}
spec:
  replicas: 1
  selector: {{matchLabels: {{app: {0}}}}}
  template:
    metadata: {{labels: {{app: {0}}}}}
    spec: {{containers: [{{name: app, image: "{1}"}}]}}
)",
                       name, image);
  };
  cluster.apply_yaml(ns.name(), deployment_of("tagged", bad_tag));
  cluster.apply_yaml(ns.name(), deployment_of("pinned", "registry.example/shop/bad@" + digest));
  cluster.apply_yaml(ns.name(), deployment_of("alias", alias));
  cluster.apply_yaml(ns.name(), deployment_of("good", "registry.example/shop/good:1.0"));
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
