#include "ir/k8s/workload.hpp"

#include "ir/core/log.hpp"
#include "ir/core/time.hpp"
#include "ir/k8s/names.hpp"

#include <boost/json/serialize.hpp>

#include <algorithm>
#include <thread>

namespace ir::k8s {
namespace {

using SteadyClock = std::chrono::steady_clock;

std::int64_t int_at(const json::object& object, std::initializer_list<std::string_view> path,
                    std::int64_t fallback = 0) {
  const auto* value = find(object, path);
  if (value == nullptr) return fallback;
  if (const auto* i = value->if_int64()) return *i;
  if (const auto* u = value->if_uint64()) return static_cast<std::int64_t>(*u);
  return fallback;
}

std::string name_of(const json::object& object) {
  return string_at(object, {"metadata", "name"});
}

bool pod_ready(const json::object& pod) {
  const auto* conditions = find(pod, {"status", "conditions"});
  if (conditions == nullptr || !conditions->is_array()) return false;
  return std::any_of(conditions->get_array().begin(), conditions->get_array().end(),
                     [](const json::value& c) {
                       return string_at(c, {"type"}) == "Ready" && string_at(c, {"status"}) == "True";
                     });
}

Result<json::array> pods_of(Client& client, const Workload& workload, const json::object& object) {
  const auto* selector = find(object, {"spec", "selector"});
  if (selector == nullptr || !selector->is_object()) return json::array{};
  auto listed = client.list(resources::pods, workload.ns, {selector_string(selector->get_object()), {}});
  if (!listed) return listed.error().with("list pods of " + workload.id());
  return std::move(listed->at("items").as_array());
}

// Pods that belong to an older pod template than the workload's current one
// and still run.
Result<std::vector<std::string>> old_pods(Client& client, const Workload& workload,
                                          const json::object& object) {
  auto pods = pods_of(client, workload, object);
  if (!pods) return pods.error();
  std::string label, current;
  const std::string kind = workload.resource.kind;
  if (kind == "Deployment") {
    label = "pod-template-hash";
    const std::string revision =
        string_at(object, {"metadata", "annotations", "deployment.kubernetes.io/revision"});
    const std::string uid = string_at(object, {"metadata", "uid"});
    auto sets = client.list(resources::replicasets, workload.ns,
                            {selector_string(object.at("spec").at("selector").as_object()), {}});
    if (!sets) return sets.error().with("list ReplicaSets of " + workload.id());
    for (const auto& item : sets->at("items").as_array()) {
      const auto* owners = find(item, {"metadata", "ownerReferences"});
      const bool owned = owners && owners->is_array() &&
                         std::any_of(owners->get_array().begin(), owners->get_array().end(),
                                     [&](const json::value& o) { return string_at(o, {"uid"}) == uid; });
      if (owned &&
          string_at(item, {"metadata", "annotations", "deployment.kubernetes.io/revision"}) == revision) {
        current = string_at(item, {"metadata", "labels", "pod-template-hash"});
      }
    }
  } else if (kind == "StatefulSet") {
    label = "controller-revision-hash";
    current = string_at(object, {"status", "updateRevision"});
  } else {
    label = "pod-template-generation";
    current = std::to_string(int_at(object, {"metadata", "generation"}));
  }
  std::vector<std::string> old;
  if (current.empty()) return old;
  for (const auto& pod : *pods) {
    if (pod_stopped(pod.as_object())) continue;
    const std::string value = string_at(pod, {"metadata", "labels", label});
    if (!value.empty() && value != current) old.push_back(name_of(pod.as_object()));
  }
  return old;
}

}  // namespace

bool pod_stopped(const json::object& pod) {
  const std::string phase = string_at(pod, {"status", "phase"});
  if (phase == "Succeeded" || phase == "Failed") return true;
  if (find(pod, {"metadata", "deletionTimestamp"}) == nullptr) return false;
  const auto* statuses = find(pod, {"status", "containerStatuses"});
  if (statuses == nullptr || !statuses->is_array() || statuses->get_array().empty()) return false;
  return std::all_of(statuses->get_array().begin(), statuses->get_array().end(),
                     [](const json::value& status) {
                       return find(status, {"state", "terminated"}) != nullptr;
                     });
}

std::string pod_reason(const json::object& pod) {
  for (const auto* list :
       {find(pod, {"status", "initContainerStatuses"}), find(pod, {"status", "containerStatuses"})}) {
    if (list == nullptr || !list->is_array()) continue;
    for (const auto& status : list->get_array()) {
      const std::string waiting = string_at(status, {"state", "waiting", "reason"});
      if (!waiting.empty()) return waiting;
      const std::string terminated = string_at(status, {"state", "terminated", "reason"});
      if (!terminated.empty()) return terminated;
    }
  }
  // A running container is ready once its readiness probe passed, at once
  // without one; a startup probe holds started (and ready) false before
  // (pkg/kubelet/prober/prober_manager.go UpdatePodStatus). Else the
  // condition would only say ContainersNotReady.
  if (const auto* list = find(pod, {"status", "containerStatuses"}); list != nullptr && list->is_array()) {
    for (const auto& status : list->get_array()) {
      const auto* ready = find(status, {"ready"});
      if (find(status, {"state", "running"}) == nullptr || ready == nullptr || !ready->is_bool() ||
          ready->get_bool())
        continue;
      const std::string container = "container " + string_at(status, {"name"}) + " running but not ready";
      const auto* started = find(status, {"started"});
      if (started != nullptr && started->is_bool() && !started->get_bool())
        return container + " (its startup probe has not passed)";
      return container + " (its readiness probe has not passed)";
    }
  }
  if (const auto* conditions = find(pod, {"status", "conditions"}); conditions && conditions->is_array()) {
    for (const auto& condition : conditions->get_array()) {
      if (string_at(condition, {"status"}) == "False" && !string_at(condition, {"reason"}).empty()) {
        return string_at(condition, {"reason"});
      }
    }
  }
  return string_at(pod, {"status", "phase"}, "Unknown");
}

std::string Workload::id() const {
  std::string kind = resource.kind;
  std::transform(kind.begin(), kind.end(), kind.begin(), [](unsigned char c) { return std::tolower(c); });
  return kind + "/" + name;
}

Result<Workload> parse_workload(std::string_view target, std::string_view ns, WorkloadKinds kinds) {
  // NAMESPACE/KIND/NAME, as find-image names what it finds.
  if (std::count(target.begin(), target.end(), '/') == 2) {
    const auto first = target.find('/');
    const std::string_view own = target.substr(0, first);
    if (!ns.empty() && own != ns)
      return invalid("'" + std::string(target) + "' is in namespace " + std::string(own) + ", not " +
                     std::string(ns));
    ns = own;
    target.remove_prefix(first + 1);
  }
  const auto slash = target.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == target.size()) {
    return invalid("'" + std::string(target) + "' is not KIND/NAME (e.g. deployment/web)");
  }
  auto resource = resource_for(target.substr(0, slash));
  if (!resource) return resource.error();
  const bool cronjob = resource->kind == "CronJob" && kinds == WorkloadKinds::rolling_and_cronjobs;
  if (resource->kind != "Deployment" && resource->kind != "StatefulSet" && resource->kind != "DaemonSet" &&
      !cronjob) {
    return invalid("kind " + resource->kind +
                   " does not roll out: use a Deployment, StatefulSet or DaemonSet" +
                   (kinds == WorkloadKinds::rolling_and_cronjobs ? " (or a CronJob)" : ""));
  }
  if (ns.empty()) return invalid("--namespace is required for " + std::string(target));
  if (auto valid = check_namespace_name(ns, "target"); !valid) return valid.error();
  const std::string_view name = target.substr(slash + 1);
  if (auto valid = check_object_name(name, "target"); !valid) return valid.error();
  return Workload{*resource, std::string(ns), std::string(name)};
}

json::object restart_patch(std::string_view restarted_at, std::string_view incident_id) {
  json::object annotations{{restarted_at_annotation, restarted_at}};
  if (!incident_id.empty()) annotations[incident_annotation] = incident_id;
  return {{"spec", json::object{
                       {"template",
                        json::object{{"metadata", json::object{{"annotations", std::move(annotations)}}}}}}}};
}

Result<void> restart(Writer& writer, const Workload& workload, std::string_view restarted_at,
                     std::string_view incident_id, std::string detail) {
  auto patched = writer.merge_patch(workload.resource, workload.ns, workload.name,
                                    restart_patch(restarted_at, incident_id), std::move(detail));
  if (!patched) {
    if (patched.error().code() == Code::not_found) {
      return Error(Code::not_found, workload.id() + " not found in namespace " + workload.ns);
    }
    return patched.error().with("restart " + workload.id());
  }
  return {};
}

RolloutState status_state(const Resource& resource, const json::object& object) {
  const auto generation = int_at(object, {"metadata", "generation"});
  const auto observed = int_at(object, {"status", "observedGeneration"});
  if (observed < generation) {
    return {false, "the controller has not yet observed generation " + std::to_string(generation)};
  }
  std::int64_t desired = 0, updated = 0, ready = 0, available = 0, total = 0;
  if (resource.kind == "DaemonSet") {
    desired = int_at(object, {"status", "desiredNumberScheduled"});
    updated = int_at(object, {"status", "updatedNumberScheduled"});
    ready = int_at(object, {"status", "numberReady"});
    available = int_at(object, {"status", "numberAvailable"});
    total = int_at(object, {"status", "currentNumberScheduled"});
  } else {
    desired = int_at(object, {"spec", "replicas"}, 1);
    updated = int_at(object, {"status", "updatedReplicas"});
    ready = int_at(object, {"status", "readyReplicas"});
    total = int_at(object, {"status", "replicas"});
    // StatefulSets of 1.20 have no availableReplicas: ready is what they offer.
    available = resource.kind == "Deployment" ? int_at(object, {"status", "availableReplicas"}) : ready;
  }
  std::string summary = std::to_string(updated) + "/" + std::to_string(desired) + " updated, " +
                        std::to_string(ready) + " ready, " + std::to_string(available) + " available";
  bool complete = updated >= desired && ready >= desired && available >= desired && total <= desired;
  if (resource.kind == "StatefulSet") {
    const std::string update_revision = string_at(object, {"status", "updateRevision"});
    const std::string current_revision = string_at(object, {"status", "currentRevision"});
    if (desired > 0 && update_revision != current_revision) complete = false;
  }
  if (total > desired) summary += ", " + std::to_string(total - desired) + " old replicas left";
  return {complete, summary};
}

std::string failing_pods(Client& client, const Workload& workload, const json::object& object) {
  auto pods = pods_of(client, workload, object);
  if (!pods) return "(pods not readable: " + pods.error().describe() + ")";
  std::string text;
  int shown = 0;
  for (const auto& pod : *pods) {
    if (pod_ready(pod.as_object()) && find(pod, {"metadata", "deletionTimestamp"}) == nullptr) continue;
    if (++shown > 5) {
      text += "; ...";
      break;
    }
    text +=
        (text.empty() ? "" : "; ") + ("pod " + name_of(pod.as_object()) + ": " + pod_reason(pod.as_object()));
  }
  return text;
}

namespace {

Result<RolloutResult> wait_one(Client& client, const Workload& workload, SteadyClock::time_point deadline,
                               std::chrono::milliseconds timeout) {
  while (true) {
    auto object = client.get(workload.resource, workload.ns, workload.name);
    if (!object) {
      if (object.error().code() == Code::not_found) {
        return Error(Code::not_found, workload.id() + " not found in namespace " + workload.ns);
      }
      return object.error().with("read " + workload.id());
    }
    auto state = status_state(workload.resource, *object);
    if (state.complete) {
      auto old = old_pods(client, workload, *object);
      if (!old) return old.error();
      if (old->empty()) return RolloutResult{workload, true, state.summary};
      state.summary += ", " + std::to_string(old->size()) + " pods of the old template left";
    }
    const auto remaining =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now());
    if (remaining.count() <= 0) {
      std::string message = workload.id() + " not healthy after " + std::to_string(timeout.count() / 1000) +
                            "s: " + state.summary;
      const std::string failing = failing_pods(client, workload, *object);
      if (!failing.empty()) message += "; " + failing;
      return RolloutResult{workload, false, message};
    }
    // Polled, not watched: Client::watch currently hands events over only when
    // the server ends the watch (see the report), which would wait out the timeout.
    std::this_thread::sleep_for(std::min(remaining, std::chrono::milliseconds(500)));
  }
}

}  // namespace

Result<std::vector<RolloutResult>> wait_for_rollouts(Client& client, const std::vector<Workload>& workloads,
                                                     std::chrono::milliseconds timeout) {
  const auto deadline = SteadyClock::now() + timeout;
  std::vector<RolloutResult> results;
  for (const auto& workload : workloads) {
    auto result = wait_one(client, workload, deadline, timeout);
    if (!result) return result.error();
    log::info(result->healthy ? "rollout.complete" : "rollout.unhealthy",
              {{"workload", workload.id()}, {"namespace", workload.ns}, {"message", result->message}});
    results.push_back(std::move(*result));
  }
  return results;
}

const json::object* controller_of(const json::object& object) {
  const auto* owners = find(object, {"metadata", "ownerReferences"});
  if (owners == nullptr || !owners->is_array()) return nullptr;
  for (const auto& owner : owners->get_array()) {
    const auto* controller = find(owner, {"controller"});
    if (controller != nullptr && controller->is_bool() && controller->get_bool() && owner.is_object())
      return &owner.get_object();
  }
  return nullptr;
}

const json::object* pod_spec_of(const json::object& object) {
  for (const auto* spec : {find(object, {"spec", "jobTemplate", "spec", "template", "spec"}),
                           find(object, {"spec", "template", "spec"})}) {
    if (spec != nullptr && spec->is_object()) return &spec->get_object();
  }
  const auto* spec = find(object, {"spec"});
  if (spec != nullptr && spec->is_object() && spec->get_object().contains("containers"))
    return &spec->get_object();
  return nullptr;
}

std::string results_json(const std::vector<RolloutResult>& results) {
  json::array items;
  for (const auto& result : results) {
    items.push_back(json::object{{"workload", result.workload.id()},
                                 {"namespace", result.workload.ns},
                                 {"healthy", result.healthy},
                                 {"message", result.message}});
  }
  return boost::json::serialize(items);
}

}  // namespace ir::k8s
