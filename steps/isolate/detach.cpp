// Owner chains and selectors: what --scope workload selects and what
// --detach relabels.
#include "isolate.hpp"

#include "ir/k8s/workload.hpp"

namespace ir::steps::isolate {
namespace {

struct OwnerRef {
  std::string kind;
  std::string name;
};

std::optional<OwnerRef> controller_of(const json::object& object) {
  const auto* owner = k8s::controller_of(object);
  if (owner == nullptr) return std::nullopt;
  return OwnerRef{string_at(*owner, {"kind"}), string_at(*owner, {"name"})};
}

Result<k8s::Resource> resource_of_owner(const std::string& kind) {
  if (kind == "ReplicaSet") return k8s::resources::replicasets;
  if (kind == "Deployment") return k8s::resources::deployments;
  if (kind == "StatefulSet") return k8s::resources::statefulsets;
  if (kind == "DaemonSet") return k8s::resources::daemonsets;
  if (kind == "Job") return k8s::resources::jobs;
  return invalid("owner kind " + kind + " is not supported");
}

// Label keys a LabelSelector constrains.
std::vector<std::string> selector_keys(const json::value& selector) {
  std::vector<std::string> keys;
  if (const auto* labels = find(selector, {"matchLabels"}); labels != nullptr && labels->is_object()) {
    for (const auto& entry : labels->get_object()) keys.emplace_back(entry.key());
  }
  if (const auto* expressions = find(selector, {"matchExpressions"});
      expressions != nullptr && expressions->is_array()) {
    for (const auto& expression : expressions->get_array()) {
      const std::string op = string_at(expression, {"operator"});
      if (op == "In" || op == "Exists") keys.push_back(string_at(expression, {"key"}));
    }
  }
  return keys;
}

}  // namespace

Result<Workload> top_workload(k8s::Client& client, const json::object& pod) {
  const json::object& pod_value = pod;
  const std::string ns = string_at(pod_value, {"metadata", "namespace"});
  const std::string pod_name = string_at(pod_value, {"metadata", "name"});
  auto owner = controller_of(pod_value);
  if (!owner) {
    return invalid("pod " + pod_name +
                   " has no controller; --scope workload needs a Deployment, ReplicaSet, "
                   "StatefulSet, DaemonSet or Job");
  }
  auto resource = resource_of_owner(owner->kind);
  if (!resource) return resource.error().with("pod " + pod_name);
  auto object = client.get(*resource, ns, owner->name);
  if (!object) return object.error();
  // A ReplicaSet of a Deployment: the Deployment is the workload, so that
  // the policy keeps covering pods of later rollouts.
  if (owner->kind == "ReplicaSet") {
    if (auto parent = controller_of(*object); parent && parent->kind == "Deployment") {
      auto deployment = client.get(k8s::resources::deployments, ns, parent->name);
      if (!deployment) return deployment.error();
      object = std::move(deployment);
      resource = k8s::resources::deployments;
      owner = parent;
    }
  }
  const auto* selector = find(*object, {"spec", "selector"});
  if (selector == nullptr || !selector->is_object() || selector->get_object().empty()) {
    return invalid(owner->kind + " " + owner->name + " has no pod selector");
  }
  return Workload{*resource, owner->name, selector->get_object()};
}

Result<json::object> labels_to_detach(k8s::Client& client, const json::object& pod,
                                      const json::array& services) {
  const json::object& pod_value = pod;
  const std::string ns = string_at(pod_value, {"metadata", "namespace"});
  const auto* labels_value = find(pod_value, {"metadata", "labels"});
  json::object labels =
      labels_value != nullptr && labels_value->is_object() ? labels_value->get_object() : json::object{};
  std::vector<std::string> keys;
  if (auto owner = controller_of(pod_value)) {
    auto resource = resource_of_owner(owner->kind);
    if (resource) {
      auto object = client.get(*resource, ns, owner->name);
      if (!object && object.error().code() != Code::not_found) return object.error();
      if (object) {
        if (const auto* selector = find(*object, {"spec", "selector"})) {
          for (auto& key : selector_keys(*selector)) keys.push_back(std::move(key));
        }
      }
    }
  }
  for (const auto& service : services) {
    const auto* selector = find(service, {"spec", "selector"});
    if (selector == nullptr || !selector->is_object() || selector->get_object().empty()) continue;
    bool selects = true;
    for (const auto& entry : selector->get_object()) {
      const auto it = labels.find(entry.key());
      selects = selects && it != labels.end() && it->value() == entry.value();
    }
    if (!selects) continue;
    for (const auto& entry : selector->get_object()) keys.emplace_back(entry.key());
  }
  json::object removed;
  for (const auto& key : keys) {
    if (key == quarantine_label) continue;
    if (const auto it = labels.find(key); it != labels.end()) removed[key] = it->value();
  }
  return removed;
}

}  // namespace ir::steps::isolate
