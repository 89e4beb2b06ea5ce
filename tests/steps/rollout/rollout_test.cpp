#include "rollout.hpp"

#include "support/catch.hpp"

using namespace ir;
using namespace ir::steps::rollout;

namespace {
json::object object(std::string_view text) {
  auto parsed = parse_json(text, "test");
  REQUIRE(parsed);
  return parsed->as_object();
}
}  // namespace

TEST_CASE("KIND/NAME targets: aliases, and only kinds that roll out", "[unit][rollout]") {
  auto deployment = parse_workload("deploy/web", "shop");
  REQUIRE(deployment);
  CHECK(deployment->resource.kind == "Deployment");
  CHECK(deployment->id() == "deployment/web");
  CHECK(parse_workload("StatefulSet/db", "shop")->resource.kind == "StatefulSet");
  CHECK(parse_workload("ds/agent", "shop")->resource.kind == "DaemonSet");
  CHECK(parse_workload("cronjob/nightly", "shop").error().code() == Code::invalid_input);
  CHECK(parse_workload("web", "shop").error().code() == Code::invalid_input);
  CHECK(parse_workload("deployment/web", "").error().code() == Code::invalid_input);
}

TEST_CASE("NAMESPACE/KIND/NAME targets, as find-image writes them", "[unit][rollout]") {
  auto qualified = parse_workload("shop/deployment/web", "");
  REQUIRE(qualified);
  CHECK(qualified->ns == "shop");
  CHECK(qualified->name == "web");
  CHECK(parse_workload("shop/deployment/web", "shop")->ns == "shop");
  CHECK(parse_workload("shop/deployment/web", "bank").error().code() == Code::invalid_input);
  CHECK(parse_workload("shop/cronjob/nightly", "").error().code() == Code::invalid_input);
}

TEST_CASE("set-image and undo also take a CronJob, whose next Job runs its jobTemplate", "[unit][rollout]") {
  const auto both = k8s::WorkloadKinds::rolling_and_cronjobs;
  auto cronjob = parse_workload("shop/cj/nightly", "", both);
  REQUIRE(cronjob);
  CHECK(cronjob->resource.kind == "CronJob");
  CHECK(cronjob->id() == "cronjob/nightly");
  CHECK(parse_workload("deploy/web", "shop", both)->resource.kind == "Deployment");
  auto job = parse_workload("job/nightly-1", "shop", both);
  REQUIRE_FALSE(job);
  CHECK(job.error().message().find("(or a CronJob)") != std::string::npos);

  const json::object pod_spec{{"containers", json::array{json::object{{"name", "app"}}}}};
  const json::value cron_patch(template_patch(*cronjob, pod_spec));
  CHECK(find(cron_patch, {"jobTemplate", "spec", "template", "spec", "containers"}) != nullptr);
  CHECK(find(cron_patch, {"template"}) == nullptr);
  const json::value deployment_patch(template_patch(*parse_workload("deploy/web", "shop"), pod_spec));
  CHECK(find(deployment_patch, {"template", "spec", "containers"}) != nullptr);
}

TEST_CASE("the restart patch sets the pod-template annotation", "[unit][rollout]") {
  const json::value patch(restart_patch("2026-11-26T17:29:04Z", "INC-2026-11-26-001"));
  CHECK(string_at(patch, {"spec", "template", "metadata", "annotations", "irsteps.io/restartedAt"}) ==
        "2026-11-26T17:29:04Z");
  CHECK(string_at(patch, {"spec", "template", "metadata", "annotations", "irsteps.io/incident"}) ==
        "INC-2026-11-26-001");
}

TEST_CASE("rollout state from status: generation, updated, ready, available, old replicas",
          "[unit][rollout]") {
  const auto& deployments = k8s::resources::deployments;
  CHECK(status_state(deployments, object(R"({"metadata":{"generation":3},"spec":{"replicas":2},
      "status":{"observedGeneration":3,"replicas":2,"updatedReplicas":2,"readyReplicas":2,"availableReplicas":2}})"))
            .complete);
  CHECK_FALSE(status_state(deployments, object(R"({"metadata":{"generation":4},"spec":{"replicas":2},
      "status":{"observedGeneration":3,"replicas":2,"updatedReplicas":2,"readyReplicas":2,"availableReplicas":2}})"))
                  .complete);
  const auto old_left =
      status_state(deployments, object(R"({"metadata":{"generation":3},"spec":{"replicas":2},
      "status":{"observedGeneration":3,"replicas":3,"updatedReplicas":2,"readyReplicas":2,"availableReplicas":2}})"));
  CHECK_FALSE(old_left.complete);
  CHECK(old_left.summary.find("1 old replicas left") != std::string::npos);
  CHECK_FALSE(
      status_state(k8s::resources::statefulsets, object(R"({"metadata":{"generation":2},"spec":{"replicas":1},
      "status":{"observedGeneration":2,"replicas":1,"updatedReplicas":1,"readyReplicas":1,
                "currentRevision":"db-1","updateRevision":"db-2"}})"))
          .complete);
  CHECK(status_state(k8s::resources::daemonsets, object(R"({"metadata":{"generation":1},
      "status":{"observedGeneration":1,"desiredNumberScheduled":1,"currentNumberScheduled":1,
                "updatedNumberScheduled":1,"numberReady":1,"numberAvailable":1}})"))
            .complete);
}

TEST_CASE("a pod's reason for not being ready names a failing readiness or startup probe",
          "[unit][rollout]") {
  // As a real kubelet reports a running container whose readiness probe
  // fails: the conditions only say ContainersNotReady.
  const std::string conditions =
      R"("conditions":[{"type":"Ready","status":"False","reason":"ContainersNotReady",
         "message":"containers with unready status: [main]"}])";
  CHECK(k8s::pod_reason(object(R"({"status":{"phase":"Running",)" + conditions + R"(,
          "containerStatuses":[{"name":"main","ready":false,"started":true,
                                "state":{"running":{"startedAt":"2026-12-07T22:35:01Z"}}}]}})")) ==
        "container main running but not ready (its readiness probe has not passed)");
  CHECK(k8s::pod_reason(object(R"({"status":{"phase":"Running",)" + conditions + R"(,
          "containerStatuses":[{"name":"main","ready":false,"started":false,
                                "state":{"running":{"startedAt":"2026-12-07T22:35:01Z"}}}]}})")) ==
        "container main running but not ready (its startup probe has not passed)");
  // A ready sidecar is passed over for the container that is not.
  CHECK(k8s::pod_reason(object(R"({"status":{"phase":"Running",)" + conditions + R"(,
          "containerStatuses":[{"name":"proxy","ready":true,"state":{"running":{}}},
                               {"name":"main","ready":false,"state":{"running":{}}}]}})")) ==
        "container main running but not ready (its readiness probe has not passed)");
  // Waiting and terminated reasons first, then conditions, then the phase.
  CHECK(k8s::pod_reason(object(R"({"status":{"phase":"Running",)" + conditions + R"(,
          "containerStatuses":[{"name":"main","ready":false,
                                "state":{"waiting":{"reason":"CrashLoopBackOff"}}}]}})")) ==
        "CrashLoopBackOff");
  CHECK(k8s::pod_reason(object(R"({"status":{"phase":"Pending","conditions":[{"type":"PodScheduled",
          "status":"False","reason":"Unschedulable"}]}})")) == "Unschedulable");
  CHECK(k8s::pod_reason(object(R"({"status":{"phase":"Pending"}})")) == "Pending");
}

TEST_CASE("a pod of an old template that runs nothing any more does not hold a rollout back",
          "[unit][rollout]") {
  // Killed, its object left until the kubelet's next container GC.
  CHECK(k8s::pod_stopped(object(R"({"metadata":{"deletionTimestamp":"2026-12-07T23:01:00Z"},
      "status":{"phase":"Running","containerStatuses":[
        {"name":"main","state":{"terminated":{"exitCode":137,"reason":"Error"}}}]}})")));
  // Evicted: Failed for good.
  CHECK(k8s::pod_stopped(object(R"({"status":{"phase":"Failed","reason":"Evicted"}})")));
  // Being deleted, but a container still runs (its grace period).
  CHECK_FALSE(k8s::pod_stopped(object(R"({"metadata":{"deletionTimestamp":"2026-12-07T23:01:00Z"},
      "status":{"phase":"Running","containerStatuses":[
        {"name":"main","state":{"terminated":{"exitCode":0}}},
        {"name":"proxy","state":{"running":{}}}]}})")));
  // Being deleted, nothing reported by the node yet.
  CHECK_FALSE(k8s::pod_stopped(object(R"({"metadata":{"deletionTimestamp":"2026-12-07T23:01:00Z"},
      "status":{"phase":"Pending"}})")));
  // Running, or with a container terminated and restarting, not being deleted.
  CHECK_FALSE(k8s::pod_stopped(object(R"({"status":{"phase":"Running","containerStatuses":[
        {"name":"main","state":{"terminated":{"exitCode":1}}}]}})")));
}

TEST_CASE("image references match by repository and tag, or by digest", "[unit][rollout]") {
  auto nginx = parse_image_ref("nginx:1.25");
  REQUIRE(nginx);
  CHECK(nginx->repository == "docker.io/library/nginx");
  CHECK(image_matches(*nginx, "docker.io/library/nginx:1.25"));
  CHECK(image_matches(*nginx, "nginx:1.25"));
  CHECK_FALSE(image_matches(*nginx, "nginx:1.26"));
  CHECK_FALSE(image_matches(*nginx, "registry.example.com/nginx:1.25"));
  CHECK(image_matches(*parse_image_ref("busybox"), "busybox:latest"));
  const std::string digest = "sha256:" + std::string(64, 'a');
  auto by_digest = parse_image_ref(digest);
  REQUIRE(by_digest);
  CHECK(image_matches(*by_digest, "nginx:1.25", "docker-pullable://nginx@" + digest));
  CHECK_FALSE(
      image_matches(*by_digest, "nginx:1.25", "docker-pullable://nginx@sha256:" + std::string(64, 'b')));
}

TEST_CASE("options: positional verb and targets, unknown verbs refused", "[unit][rollout]") {
  json::object params{{"incident-id", "INC-2026-11-26-001"},
                      {"args", json::array{"restart", "deployment/web", "sts/db"}},
                      {"namespace", "shop"}};
  auto options = options_from(params);
  REQUIRE(options);
  CHECK(options->verb == Verb::restart);
  CHECK(options->targets == std::vector<std::string>{"deployment/web", "sts/db"});
  params["args"] = json::array{"explode"};
  CHECK(options_from(params).error().code() == Code::invalid_input);
}

TEST_CASE("check-persistence covers a selector or a whole namespace, never the whole cluster unasked",
          "[unit][rollout]") {
  json::object params{{"incident-id", "INC-2026-11-26-001"},
                      {"verb", "check-persistence"},
                      {"namespace", "shop"},
                      {"since", "2026-11-26T09:00:00Z"}};
  auto namespace_only = options_from(params);
  REQUIRE(namespace_only);
  CHECK(namespace_only->selector.empty());
  params.erase("namespace");
  auto nothing = options_from(params);
  REQUIRE(!nothing);
  CHECK(nothing.error().describe().find("--selector or --namespace") != std::string::npos);
  params["selector"] = "app=web";
  CHECK(options_from(params));
}

// Issue 16 item 3: an empty window flagged nothing, and the playbook then
// reported the incident resolved.
TEST_CASE("check-persistence refuses an empty window, naming since, and falls back to since-default",
          "[unit][rollout]") {
  json::object params{
      {"incident-id", "INC-2026-11-26-001"}, {"verb", "check-persistence"}, {"namespace", "shop"}};
  for (const auto* empty : {"", "absent"}) {
    INFO(empty);
    if (std::string(empty).empty()) params["since"] = "";
    auto refused = options_from(params);
    REQUIRE_FALSE(refused);
    CHECK(refused.error().code() == Code::invalid_input);
    CHECK(refused.error().describe().find("parameter since") != std::string::npos);
    params.erase("since");
  }
  params["since-default"] = "2026-11-26T08:00:00Z";
  auto fallback = options_from(params);
  REQUIRE(fallback);
  CHECK(format_utc(*fallback->since) == "2026-11-26T08:00:00Z");
  params["since"] = "2026-11-26T09:30:00Z";  // detected-at, when given, wins
  auto detected = options_from(params);
  REQUIRE(detected);
  CHECK(format_utc(*detected->since) == "2026-11-26T09:30:00Z");
  params["since"] = "yesterday";
  auto bad = options_from(params);
  REQUIRE_FALSE(bad);
  CHECK(bad.error().describe().find("parameter since") != std::string::npos);
  // The other verbs take no window.
  json::object status{
      {"incident-id", "INC-2026-11-26-001"}, {"verb", "status"}, {"target", "deployment/web"}};
  CHECK(options_from(status));
}

// Security review finding 22: a target reaches an API path, so its name and
// namespace must be names, not path or query text.
TEST_CASE("targets whose name or namespace is not a Kubernetes name are refused", "[unit][rollout]") {
  for (const char* target :
       {"deployment/web?dryRun=All", "deployment/web%2F..%2Fsecrets", "deployment/Web", "deployment/web#x",
        "deployment/-web", "Shop/deployment/web", "../deployment/web", "deployment/web\n"}) {
    INFO(target);
    auto parsed = parse_workload(target, "");
    REQUIRE_FALSE(parsed);
    CHECK(parsed.error().code() == Code::invalid_input);
  }
  const auto named = parse_workload("deployment/web?x", "shop");
  REQUIRE_FALSE(named);
  CHECK(named.error().message().find("target: 'web?x' is not a Kubernetes object name") == 0);
  CHECK(parse_workload("deployment/web-1.v2", "shop"));
}

TEST_CASE("rollout set-image takes an image by digest only, and leaves a tag beside the digest out",
          "[unit][rollout]") {
  const std::string digest = "sha256:" + std::string(64, 'a');
  CHECK(*pinned_image("registry.example:5000/shop/web@" + digest) ==
        "registry.example:5000/shop/web@" + digest);
  CHECK(*pinned_image("registry.example:5000/shop/web:1.0@" + digest) ==
        "registry.example:5000/shop/web@" + digest);
  CHECK(*pinned_image("nginx@" + digest) == "nginx@" + digest);
  for (const std::string refused : {"registry.example/shop/web:1.0", "registry.example/shop/web", "",
                                    "registry.example/shop/web@sha256:abc"}) {
    INFO(refused);
    auto pinned = pinned_image(refused);
    REQUIRE_FALSE(pinned);
    CHECK(pinned.error().code() == Code::invalid_input);
    CHECK(pinned.error().message().find("parameter image") != std::string::npos);
  }
  json::object params{{"incident-id", "INC-2026-11-26-001"},
                      {"args", json::array{"set-image", "deployment/web"}},
                      {"namespace", "shop"},
                      {"image", "registry.example/shop/web:2.0@" + digest}};
  auto options = options_from(params);
  REQUIRE(options);
  CHECK(options->verb == Verb::set_image);
  CHECK(options->image == "registry.example/shop/web@" + digest);
  params["image"] = "registry.example/shop/web:2.0";
  CHECK(options_from(params).error().message().find("is a tag, not a digest") != std::string::npos);
  params["args"] = json::array{"restart", "deployment/web"};
  CHECK(options_from(params).error().code() == Code::invalid_input);  // --image belongs to set-image
}

TEST_CASE(
    "rollout set-image --replacing changes the containers that run the replaced image, not the new one's",
    "[unit][rollout]") {
  const std::string fixed = "registry.example/shop/fixed@sha256:" + std::string(64, 'a');
  const std::string bad_digest = "sha256:" + std::string(64, 'b');
  // The rejected image in an init container, by tag; the main container
  // runs something else: only the init container is changed.
  const auto pod = object(R"({"initContainers": [{"name": "init", "image": "registry.example/shop/bad:1.0"}],
    "containers": [{"name": "web", "image": "registry.example/shop/web:1.0"}]})");
  auto by_tag = image_query("registry.example/shop/bad:1.0", bad_digest, "replacing");
  REQUIRE(by_tag);
  auto chosen = choose_containers(pod, fixed, "", "deployment/web", &*by_tag);
  REQUIRE(chosen);
  REQUIRE(chosen->size() == 1);
  CHECK(chosen->front().container == "init");
  // Pinned to the rejected digest under another name: found by the digest.
  const auto pinned = object(R"({"containers": [{"name": "web", "image": "registry.example/shop/web:1.0"},
    {"name": "side", "image": "registry.example/mirror/bad@)" +
                             bad_digest + R"("}]})");
  auto by_digest = choose_containers(pinned, fixed, "", "deployment/web", &*by_tag);
  REQUIRE(by_digest);
  REQUIRE(by_digest->size() == 1);
  CHECK(by_digest->front().container == "side");
  // Nothing in the spec names it (found by its node's imageID): the only
  // container, else the person names one.
  const auto single =
      object(R"({"containers": [{"name": "app", "image": "registry.example/shop/alias:2.0"}]})");
  auto only = choose_containers(single, fixed, "", "deployment/web", &*by_tag);
  REQUIRE(only);
  CHECK(only->front().container == "app");
  auto elsewhere = image_query("registry.example/x/y:1", "");
  REQUIRE(elsewhere);
  auto ambiguous = choose_containers(pinned, fixed, "", "deployment/web", &*elsewhere);
  REQUIRE_FALSE(ambiguous);
  CHECK(ambiguous.error().code() == Code::invalid_input);
  CHECK(ambiguous.error().message().find("none names the image being replaced") != std::string::npos);

  json::object params{
      {"verb", "set-image"}, {"target", json::array{"deployment/web"}},      {"namespace", "shop"},
      {"image", fixed},      {"replacing", "registry.example/shop/bad:1.0"}, {"digest", bad_digest}};
  auto options = options_from(params);
  REQUIRE(options);
  CHECK(options->replacing == "registry.example/shop/bad:1.0");
  params["replacing"] = "registry.example/shop/bad@md5:0123";
  CHECK(options_from(params).error().describe().find("parameter replacing") != std::string::npos);
  params["verb"] = "restart";
  params.erase("image");
  params["replacing"] = "registry.example/shop/bad:1.0";
  CHECK(options_from(params).error().code() == Code::invalid_input);  // replacing belongs to set-image
}

TEST_CASE(
    "rollout set-image chooses the named container, else those of the image's repository, else the only one",
    "[unit][rollout]") {
  const std::string image = "registry.example/shop/web@sha256:" + std::string(64, 'a');
  const auto two = object(R"({"initContainers": [{"name": "init", "image": "registry.example/shop/web:0.9"}],
    "containers": [{"name": "web", "image": "registry.example/shop/web:1.0"},
                   {"name": "proxy", "image": "docker.io/library/nginx:1.25"}]})");
  auto by_repository = choose_containers(two, image, "", "deployment/web");
  REQUIRE(by_repository);
  REQUIRE(by_repository->size() == 2);
  CHECK((*by_repository)[0].container == "web");
  CHECK((*by_repository)[1].container == "init");
  CHECK((*by_repository)[1].list == "initContainers");
  auto named = choose_containers(two, image, "proxy", "deployment/web");
  REQUIRE(named);
  REQUIRE(named->size() == 1);
  CHECK(named->front().image == "docker.io/library/nginx:1.25");
  auto absent = choose_containers(two, image, "sidecar", "deployment/web");
  REQUIRE_FALSE(absent);
  CHECK(absent.error().message().find("parameter container: 'sidecar' is not a container") == 0);
  // Another repository: only a single container is unambiguous.
  const std::string other = "registry.example/shop/api@sha256:" + std::string(64, 'b');
  auto ambiguous = choose_containers(two, other, "", "deployment/web");
  REQUIRE_FALSE(ambiguous);
  CHECK(ambiguous.error().code() == Code::invalid_input);
  CHECK(ambiguous.error().message().find("--container") != std::string::npos);
  const auto one = object(R"({"containers": [{"name": "app", "image": "registry.example/shop/old:1.0"}]})");
  auto only = choose_containers(one, other, "", "deployment/web");
  REQUIRE(only);
  CHECK(only->front().container == "app");
  // Docker Hub's short names are the same repository as their long form.
  auto short_name = choose_containers(two, "nginx@sha256:" + std::string(64, 'c'), "", "deployment/web");
  REQUIRE(short_name);
  CHECK(short_name->front().container == "proxy");
}

TEST_CASE(
    "rollout set-image: the previous-image annotation key stays a valid key for the longest container name",
    "[unit][rollout]") {
  CHECK(previous_image_annotation("web") == "irsteps.io/previous-image-web");
  const std::string longest(63, 'c');
  const std::string key = previous_image_annotation(longest);
  CHECK(key.size() - std::string("irsteps.io/").size() == 63);
  CHECK(key != previous_image_annotation(std::string(62, 'c') + "d"));
}

TEST_CASE(
    "rollout find-image matches a spec by tag, a pinned spec by the verified digest, a pod by its imageID",
    "[unit][rollout]") {
  const std::string bad = "sha256:" + std::string(64, 'a');
  const std::string good = "sha256:" + std::string(64, 'b');
  auto query = image_query("registry.example/shop/api:1.0", bad);
  REQUIRE(query);
  CHECK(query->digests == std::vector<std::string>{bad});
  CHECK(runs_image(*query, "registry.example/shop/api:1.0"));
  CHECK(runs_image(*query, "registry.example/shop/api@" + bad));
  CHECK(runs_image(*query, "registry.example/other/name:latest@" + bad));
  // Pinned to other content: whatever the tag says, it does not run the image.
  CHECK_FALSE(runs_image(*query, "registry.example/shop/api:1.0@" + good));
  CHECK_FALSE(runs_image(*query, "registry.example/shop/api:2.0"));
  // Another tag whose node reports the digest (docker and containerd forms).
  CHECK(runs_image(*query, "registry.example/shop/api:2.0",
                   "docker-pullable://registry.example/shop/api@" + bad));
  CHECK(runs_image(*query, "registry.example/shop/api:2.0", "registry.example/shop/api@" + bad));
  CHECK_FALSE(runs_image(*query, "registry.example/shop/api:2.0", "registry.example/shop/api@" + good));
  // Without a digest, the tag alone, as before.
  auto tag_only = image_query("registry.example/shop/api:1.0", "");
  REQUIRE(tag_only);
  CHECK(tag_only->digests.empty());
  CHECK(runs_image(*tag_only, "registry.example/shop/api:1.0@" + good));
  CHECK_FALSE(runs_image(*tag_only, "registry.example/shop/api@" + bad));
  for (const char* wrong : {"sha256:abc", "md5:0123", "SHA256:aaaa"}) {
    INFO(wrong);
    auto refused = image_query("registry.example/shop/api:1.0", wrong);
    REQUIRE_FALSE(refused);
    CHECK(refused.error().code() == Code::invalid_input);
    CHECK(refused.error().message().find("parameter digest") != std::string::npos);
  }
}

TEST_CASE("rollout stop targets: every kind it can stop, NAMESPACE/KIND/NAME as find-image writes them",
          "[unit][rollout]") {
  for (const auto& [text, kind] :
       std::vector<std::pair<std::string, std::string>>{{"shop/deployment/web", "Deployment"},
                                                        {"shop/sts/db", "StatefulSet"},
                                                        {"shop/rs/web-1", "ReplicaSet"},
                                                        {"shop/daemonset/agent", "DaemonSet"},
                                                        {"shop/job/once", "Job"},
                                                        {"shop/cronjob/nightly", "CronJob"},
                                                        {"shop/pod/lonely", "Pod"}}) {
    INFO(text);
    auto target = parse_stop_target(text, "");
    REQUIRE(target);
    CHECK(target->resource.kind == kind);
    CHECK(target->ns == "shop");
  }
  CHECK(parse_stop_target("job/once", "shop")->id() == "job/once");
  CHECK(parse_stop_target("shop/job/once", "bank").error().code() == Code::invalid_input);
  CHECK(parse_stop_target("job/once", "").error().code() == Code::invalid_input);
  CHECK(parse_stop_target("shop/secret/token", "").error().code() == Code::invalid_input);
  CHECK(parse_stop_target("shop/pod/Bad?x", "").error().code() == Code::invalid_input);
  json::object params{{"incident-id", "INC-2026-11-26-001"},
                      {"args", json::array{"stop", "shop/cronjob/nightly"}},
                      {"digest", "sha256:" + std::string(64, 'a')}};
  CHECK(options_from(params).error().code() == Code::invalid_input);  // a digest is for find-image
  params.erase("digest");
  REQUIRE(options_from(params));
  CHECK(options_from(params)->verb == Verb::stop);
}
