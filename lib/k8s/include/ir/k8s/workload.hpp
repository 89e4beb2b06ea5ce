// Workloads as the steps see them (rollout, rotate-secret, isolate): KIND/NAME
// targets, an object's controller and pod spec, the pod-template restart
// annotation, and waiting for a rollout to be complete (observedGeneration
// caught up, every replica updated, ready and available, no pod of an old
// template left), with the failing pods' reasons when not.
#pragma once

#include "ir/core/error.hpp"
#include "ir/core/json.hpp"
#include "ir/k8s/writer.hpp"

#include <chrono>
#include <string>
#include <vector>

namespace ir::k8s {

inline constexpr std::string_view restarted_at_annotation = "irsteps.io/restartedAt";
inline constexpr std::string_view incident_annotation = "irsteps.io/incident";

struct Workload {
  Resource resource;
  std::string ns;
  std::string name;

  [[nodiscard]] std::string id() const;  // "deployment/web"
  friend bool operator==(const Workload& a, const Workload& b) {
    return a.resource.kind == b.resource.kind && a.ns == b.ns && a.name == b.name;
  }
};

// Which kinds parse_workload takes: those that roll out (Deployment,
// StatefulSet, DaemonSet), or those and CronJobs, whose pod template is their
// next Job's (rollout set-image and undo).
enum class WorkloadKinds { rolling, rolling_and_cronjobs };

// "deployment/web", "deploy/web", "sts/db", "DaemonSet/agent" (and
// "cronjob/nightly" where `kinds` allows), or NAMESPACE/KIND/NAME.
[[nodiscard]] Result<Workload> parse_workload(std::string_view target, std::string_view ns,
                                              WorkloadKinds kinds = WorkloadKinds::rolling);

// The merge patch that makes a new pod template, as `kubectl rollout restart` does.
[[nodiscard]] json::object restart_patch(std::string_view restarted_at, std::string_view incident_id);
[[nodiscard]] Result<void> restart(Writer& writer, const Workload& workload, std::string_view restarted_at,
                                   std::string_view incident_id, std::string detail);

struct RolloutState {
  bool complete = false;
  std::string summary;  // "2/2 updated, 2 ready, 2 available" or what is missing
};

// What status alone says (no pods looked at): generation, updated, ready,
// available; the unit tests drive it with objects.
[[nodiscard]] RolloutState status_state(const Resource& resource, const json::object& object);

struct RolloutResult {
  Workload workload;
  bool healthy = false;
  std::string message;
};

// Waits until every workload's rollout is complete or the deadline passes;
// polls each object every 500 ms.
[[nodiscard]] Result<std::vector<RolloutResult>> wait_for_rollouts(Client& client,
                                                                   const std::vector<Workload>& workloads,
                                                                   std::chrono::milliseconds timeout);

// Whether a pod runs nothing any more: it Succeeded or Failed (an evicted
// pod stays Failed until someone deletes it), or it is being deleted and the
// node reports every container terminated. Such a pod of an old template does
// not hold a rollout back: kubelet 1.20 removes a killed pod's object only
// once its sandbox is gone, which its container GC does once a minute
// (pkg/kubelet/kubelet_pods.go PodResourcesAreReclaimed, ContainerGCPeriod).
[[nodiscard]] bool pod_stopped(const json::object& pod);

// Why a pod is not ready: a container's waiting or terminated reason
// (CrashLoopBackOff, ErrImagePull, Error), "container web running but not
// ready (its readiness probe has not passed)" (or startup probe), else the
// reason of a False condition (Unschedulable), else the phase.
[[nodiscard]] std::string pod_reason(const json::object& pod);

// "pod web-1: CrashLoopBackOff; pod web-2: Unschedulable" for the pods of the
// workload that are not ready.
[[nodiscard]] std::string failing_pods(Client& client, const Workload& workload, const json::object& object);

// The ownerReference of `object` with controller: true, or nullptr. There is
// at most one (ValidateOwnerReferences in k8s.io/apimachinery's
// pkg/api/validation/objectmeta.go: "Only one reference can have Controller
// set to true"). Takes an object, not a value: a json::value made from an
// object would be a temporary copy, and the pointer would dangle.
[[nodiscard]] const json::object* controller_of(const json::object& object);

// The pod spec of a workload object (Deployment, StatefulSet, DaemonSet, Job,
// CronJob, Pod); nullptr when there is none.
[[nodiscard]] const json::object* pod_spec_of(const json::object& object);

// A JSON array of results, for an output.
[[nodiscard]] std::string results_json(const std::vector<RolloutResult>& results);

}  // namespace ir::k8s
