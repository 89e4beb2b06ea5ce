// check-persistence's judgement on objects as the API server returns them
// (managedFields as a 1.20 server writes them: one entry per manager, spec
// and status together), with owners from a map instead of a cluster.
#include "rollout.hpp"

#include "support/catch.hpp"

#include <map>

using namespace ir;
using namespace ir::steps::rollout;

namespace {

const std::string since = "2026-11-26T10:00:00Z";
const std::string incident = "INC-2026-11-26-001";

json::object object(std::string_view text) {
  auto parsed = parse_json(text, "test");
  REQUIRE(parsed);
  return parsed->as_object();
}

struct Cluster {
  std::map<std::string, json::object> objects;  // "Kind/name"
  int lookups = 0;
  bool broken = false;

  void add(const std::string& kind, const json::object& o) {
    objects[kind + "/" + string_at(o, {"metadata", "name"})] = o;
  }
  OwnerLookup lookup() {
    return [this](std::string_view kind, const std::string& ns,
                  const std::string& name) -> Result<std::optional<json::object>> {
      ++lookups;
      if (broken) return Error(Code::transient, "the API server is down");
      CHECK(ns == "shop");
      const auto it = objects.find(std::string(kind) + "/" + name);
      if (it == objects.end()) return std::optional<json::object>();
      return std::optional<json::object>(it->second);
    };
  }
};

const char* const deployment = R"({"metadata": {"name": "web", "namespace": "shop", "uid": "d-1",
  "creationTimestamp": "2026-11-26T09:00:00Z", "managedFields": [
    {"manager": "kubectl-client-side-apply", "operation": "Update", "time": "2026-11-26T09:00:00Z",
     "fieldsV1": {"f:metadata": {}, "f:spec": {"f:template": {}}}},
    {"manager": "kube-controller-manager", "operation": "Update", "time": "2026-11-26T10:05:00Z",
     "fieldsV1": {"f:metadata": {"f:annotations": {}}, "f:status": {}}}]},
  "spec": {"template": {"metadata": {"labels": {"app": "web"}},
                        "spec": {"containers": [{"name": "app", "image": "shop/web:1"}]}}}})";

const char* const replicaset = R"({"metadata": {"name": "web-abc", "namespace": "shop", "uid": "rs-1",
  "creationTimestamp": "2026-11-26T09:00:00Z", "labels": {"app": "web", "pod-template-hash": "abc"},
  "ownerReferences": [{"kind": "Deployment", "name": "web", "uid": "d-1", "controller": true}],
  "managedFields": [
    {"manager": "kube-controller-manager", "operation": "Update", "time": "2026-11-26T10:05:00Z",
     "fieldsV1": {"f:spec": {"f:replicas": {}, "f:template": {}}, "f:status": {}}}]},
  "spec": {"template": {"metadata": {"labels": {"app": "web", "pod-template-hash": "abc"}},
                        "spec": {"containers": [{"name": "app", "image": "shop/web:1"}]}}}})";

std::string pod(const std::string& name, const std::string& created, const std::string& owner,
                const std::string& labels, const std::string& image) {
  return R"({"metadata": {"name": ")" + name + R"(", "namespace": "shop", "creationTimestamp": ")" + created +
         R"(", "labels": {)" + labels + R"(}, "ownerReferences": [)" + owner +
         R"(]}, "spec": {"containers": [{"name": "app", "image": ")" + image + R"("}]}})";
}

const std::string by_replicaset =
    R"({"kind": "ReplicaSet", "name": "web-abc", "uid": "rs-1", "controller": true})";

}  // namespace

TEST_CASE("persistence: a ReplicaSet's replacement pod is left out, new and changed objects are flagged",
          "[unit][rollout]") {
  Cluster cluster;
  cluster.add("Deployment", object(deployment));
  cluster.add("ReplicaSet", object(replicaset));
  PersistenceJudge judge(since, incident, cluster.lookup());

  // The replacement: made in the window by a ReplicaSet older than it.
  auto replacement = judge.judge(object(pod("web-abc-new", "2026-11-26T10:01:00Z", by_replicaset,
                                            R"("app": "web", "pod-template-hash": "abc")", "shop/web:1")),
                                 "Pod");
  REQUIRE(replacement);
  CHECK_FALSE(replacement->flagged);
  CHECK(replacement->reason ==
        "made by shop/replicaset/web-abc from its template, unchanged since before the window");
  // The Deployment's controller updating its status and revision annotation
  // in the window is bookkeeping, not a change.
  auto workload = judge.judge(object(deployment), "Deployment");
  REQUIRE(workload);
  CHECK_FALSE(workload->flagged);
  CHECK(workload->changed == "2026-11-26T09:00:00Z");
  // The ReplicaSet, scaled (and its status written) by the controller in
  // the window, still holds the Deployment's unchanged template.
  auto replicas = judge.judge(object(replicaset), "ReplicaSet");
  REQUIRE(replicas);
  CHECK_FALSE(replicas->flagged);
  CHECK(replicas->changed == "2026-11-26T10:05:00Z");

  // Another image than the template's, another hash, no owner: flagged.
  for (const auto& [text, reason] : std::vector<std::pair<std::string, std::string>>{
           {pod("web-abc-swapped", "2026-11-26T10:01:00Z", by_replicaset,
                R"("app": "web", "pod-template-hash": "abc")", "evil/miner:1"),
            "created in the window"},
           {pod("web-abc-other", "2026-11-26T10:01:00Z", by_replicaset,
                R"("app": "web", "pod-template-hash": "xyz")", "shop/web:1"),
            "created in the window"},
           {pod("shell", "2026-11-26T10:02:00Z", "", R"("app": "web")", "evil/shell:1"),
            "created in the window"}}) {
    INFO(text);
    auto verdict = judge.judge(object(text), "Pod");
    REQUIRE(verdict);
    CHECK(verdict->flagged);
    CHECK(verdict->reason == reason);
  }
  // The compromised pod, quarantined for this incident; not for another one.
  auto quarantined =
      judge.judge(object(pod("web-abc-bad", "2026-11-26T10:01:00Z", "",
                             R"("irsteps.io/quarantine": "INC-2026-11-26-001")", "shop/web:1")),
                  "Pod");
  REQUIRE(quarantined);
  CHECK_FALSE(quarantined->flagged);
  auto other = judge.judge(object(pod("web-abc-bad", "2026-11-26T10:01:00Z", "",
                                      R"("irsteps.io/quarantine": "INC-2026-11-26-999")", "shop/web:1")),
                           "Pod");
  REQUIRE(other);
  CHECK(other->flagged);
  CHECK(cluster.lookups == 2);  // each owner once

  // Someone edited the ReplicaSet's template in the window: its pods are flagged.
  Cluster edited;
  edited.add("Deployment", object(deployment));
  auto rs = object(replicaset);
  rs["metadata"].as_object()["managedFields"].as_array().push_back(
      object(R"({"manager": "kubectl-edit", "operation": "Update", "time": "2026-11-26T10:03:00Z",
                 "fieldsV1": {"f:spec": {"f:template": {"f:spec": {}}}}})"));
  edited.add("ReplicaSet", rs);
  PersistenceJudge after_edit(since, incident, edited.lookup());
  auto made_after_edit =
      after_edit.judge(object(pod("web-abc-new", "2026-11-26T10:04:00Z", by_replicaset,
                                  R"("app": "web", "pod-template-hash": "abc")", "shop/web:1")),
                       "Pod");
  REQUIRE(made_after_edit);
  CHECK(made_after_edit->flagged);
}

TEST_CASE("persistence: a CronJob's Jobs, DaemonSet revisions, a gone owner and a failed lookup",
          "[unit][rollout]") {
  const std::string cronjob = R"({"metadata": {"name": "nightly", "namespace": "shop", "uid": "cj-1",
    "creationTimestamp": "2026-11-26T09:00:00Z", "managedFields": [
      {"manager": "kubectl", "operation": "Update", "time": "2026-11-26T09:00:00Z",
       "fieldsV1": {"f:spec": {"f:jobTemplate": {}}}}]},
    "spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "job", "image": "shop/job:2"}]}}}}}})";
  const std::string job = R"({"metadata": {"name": "nightly-1", "namespace": "shop", "uid": "j-1",
    "creationTimestamp": "2026-11-26T10:05:00Z",
    "ownerReferences": [{"kind": "CronJob", "name": "nightly", "uid": "cj-1", "controller": true}]},
    "spec": {"template": {"spec": {"containers": [{"name": "job", "image": "shop/job:2"}]}}}})";
  const std::string job_pod = R"({"metadata": {"name": "nightly-1-x", "namespace": "shop",
    "creationTimestamp": "2026-11-26T10:05:00Z", "labels": {"controller-uid": "j-1"},
    "ownerReferences": [{"kind": "Job", "name": "nightly-1", "uid": "j-1", "controller": true}]},
    "spec": {"containers": [{"name": "job", "image": "shop/job:2"}]}})";
  Cluster cluster;
  cluster.add("CronJob", object(cronjob));
  cluster.add("Job", object(job));
  {
    PersistenceJudge judge(since, incident, cluster.lookup());
    for (const auto& [text, kind] : {std::pair{job, "Job"}, std::pair{job_pod, "Pod"}}) {
      auto verdict = judge.judge(object(text), kind);
      REQUIRE(verdict);
      CHECK_FALSE(verdict->flagged);
    }
  }
  // The CronJob's jobTemplate changed in the window: its new Job and pod are flagged.
  auto changed = object(cronjob);
  changed["metadata"].as_object()["managedFields"].as_array().push_back(
      object(R"({"manager": "kubectl-edit", "operation": "Update", "time": "2026-11-26T10:02:00Z",
                 "fieldsV1": {"f:spec": {"f:jobTemplate": {"f:spec": {}}}}})"));
  cluster.add("CronJob", changed);
  {
    PersistenceJudge judge(since, incident, cluster.lookup());
    for (const auto& [text, kind] : {std::pair{job, "Job"}, std::pair{job_pod, "Pod"}}) {
      auto verdict = judge.judge(object(text), kind);
      REQUIRE(verdict);
      CHECK(verdict->flagged);
    }
  }

  // A DaemonSet's pod from a revision older than the window, and from a new one.
  cluster.add("DaemonSet", object(R"({"metadata": {"name": "agent", "namespace": "shop", "uid": "ds-1",
    "creationTimestamp": "2026-11-26T09:00:00Z"},
    "spec": {"template": {"spec": {"containers": [{"name": "app", "image": "shop/agent:1"}]}}}})"));
  for (const auto& [hash, created] :
       {std::pair{"h1", "2026-11-26T09:00:00Z"}, std::pair{"h2", "2026-11-26T10:03:00Z"}}) {
    cluster.add(
        "ControllerRevision",
        object(
            R"({"metadata": {"name": "agent-)" + std::string(hash) +
            R"(", "namespace": "shop", "creationTimestamp": ")" + created +
            R"(", "ownerReferences": [{"kind": "DaemonSet", "name": "agent", "uid": "ds-1", "controller": true}]}})"));
  }
  PersistenceJudge judge(since, incident, cluster.lookup());
  const std::string by_daemonset =
      R"({"kind": "DaemonSet", "name": "agent", "uid": "ds-1", "controller": true})";
  auto old_revision = judge.judge(object(pod("agent-a", "2026-11-26T10:04:00Z", by_daemonset,
                                             R"("controller-revision-hash": "h1")", "shop/agent:1")),
                                  "Pod");
  REQUIRE(old_revision);
  CHECK_FALSE(old_revision->flagged);
  auto new_revision = judge.judge(object(pod("agent-b", "2026-11-26T10:04:00Z", by_daemonset,
                                             R"("controller-revision-hash": "h2")", "shop/agent:1")),
                                  "Pod");
  REQUIRE(new_revision);
  CHECK(new_revision->flagged);
  // The owner is gone, or another object of the same name (uid): flagged.
  auto orphan =
      judge.judge(object(pod("agent-c", "2026-11-26T10:04:00Z",
                             R"({"kind": "DaemonSet", "name": "agent", "uid": "ds-0", "controller": true})",
                             R"("controller-revision-hash": "h1")", "shop/agent:1")),
                  "Pod");
  REQUIRE(orphan);
  CHECK(orphan->flagged);

  // A lookup that fails is an error, never "not persistence".
  Cluster down;
  down.broken = true;
  PersistenceJudge blind(since, incident, down.lookup());
  auto failed = blind.judge(object(pod("web-abc-new", "2026-11-26T10:01:00Z", by_replicaset,
                                       R"("pod-template-hash": "abc")", "shop/web:1")),
                            "Pod");
  REQUIRE_FALSE(failed);
  CHECK(failed.error().describe().find("get ReplicaSet/shop/web-abc") != std::string::npos);
}
