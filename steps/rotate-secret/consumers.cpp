#include "rotate_secret.hpp"

#include <algorithm>

namespace ir::steps::rotate_secret {
namespace {

bool is(const json::value* value, std::string_view wanted) {
  return value != nullptr && value->is_string() && value->get_string() == wanted;
}

const json::array& array_at(const json::object& object, std::string_view key) {
  static const json::array empty;
  const auto it = object.find(key);
  return it != object.end() && it->value().is_array() ? it->value().get_array() : empty;
}

void container_references(const json::array& containers, std::string_view secret,
                          std::set<std::string>& ways) {
  for (const auto& container : containers) {
    if (!container.is_object()) continue;
    for (const auto& env : array_at(container.get_object(), "env")) {
      if (is(find(env, {"valueFrom", "secretKeyRef", "name"}), secret)) ways.insert("env");
    }
    for (const auto& from : array_at(container.get_object(), "envFrom")) {
      if (is(find(from, {"secretRef", "name"}), secret)) ways.insert("envFrom");
    }
  }
}

std::string name_of(const json::value& object) {
  return string_at(object, {"metadata", "name"});
}

}  // namespace

std::set<std::string> secret_references(const json::object& pod_spec, std::string_view secret) {
  std::set<std::string> ways;
  for (const auto* list : {"containers", "initContainers", "ephemeralContainers"}) {
    container_references(array_at(pod_spec, list), secret, ways);
  }
  for (const auto& volume : array_at(pod_spec, "volumes")) {
    if (is(find(volume, {"secret", "secretName"}), secret)) ways.insert("volume");
    const auto* sources = find(volume, {"projected", "sources"});
    if (sources == nullptr || !sources->is_array()) continue;
    for (const auto& source : sources->get_array()) {
      if (is(find(source, {"secret", "name"}), secret)) ways.insert("projected");
    }
  }
  for (const auto& pull : array_at(pod_spec, "imagePullSecrets")) {
    if (is(find(pull, {"name"}), secret)) ways.insert("imagePullSecrets");
  }
  return ways;
}

bool runs_as(const json::object& pod_spec, std::string_view service_account) {
  const std::string name =
      string_at(pod_spec, {"serviceAccountName"}, string_at(pod_spec, {"serviceAccount"}));
  return name == service_account || (name.empty() && service_account == "default");
}

Result<Consumers> find_consumers(k8s::Client& client, const std::string& ns,
                                 const std::vector<std::string>& secrets,
                                 const std::string& service_account) {
  Consumers consumers;
  auto describe = [&](const json::object& pod_spec) {
    std::set<std::string> ways;
    for (const auto& secret : secrets) {
      for (auto& way : secret_references(pod_spec, secret)) ways.insert(way);
    }
    if (!service_account.empty() && runs_as(pod_spec, service_account)) ways.insert("serviceAccount");
    std::string text;
    for (const auto& way : ways) text += (text.empty() ? "" : ", ") + way;
    return text;
  };
  for (const auto* resource :
       {&k8s::resources::deployments, &k8s::resources::statefulsets, &k8s::resources::daemonsets}) {
    auto listed = client.list(*resource, ns);
    if (!listed) return listed.error().with("find consumers");
    for (const auto& item : listed->at("items").as_array()) {
      const auto* spec = k8s::pod_spec_of(item.as_object());
      if (spec == nullptr) continue;
      const std::string ways = describe(*spec);
      if (ways.empty()) continue;
      k8s::Workload workload{*resource, ns, name_of(item)};
      consumers.described.push_back(workload.id() + " (" + ways + ")");
      consumers.workloads.push_back(std::move(workload));
    }
  }
  auto cronjobs = client.list(k8s::resources::cronjobs, ns);
  if (!cronjobs) return cronjobs.error().with("find consumers");
  for (const auto& item : cronjobs->at("items").as_array()) {
    const auto* spec = k8s::pod_spec_of(item.as_object());
    if (spec != nullptr && !describe(*spec).empty()) consumers.cronjobs.push_back(name_of(item));
  }
  auto pods = client.list(k8s::resources::pods, ns);
  if (!pods) return pods.error().with("find consumers");
  for (const auto& item : pods->at("items").as_array()) {
    const auto* owners = find(item, {"metadata", "ownerReferences"});
    if (owners != nullptr && owners->is_array() && !owners->get_array().empty()) continue;
    const auto* spec = k8s::pod_spec_of(item.as_object());
    if (spec != nullptr && !describe(*spec).empty()) consumers.bare_pods.push_back(name_of(item));
  }
  return consumers;
}

}  // namespace ir::steps::rotate_secret
