#include "rollout.hpp"

#include <boost/json/serialize.hpp>

#include <algorithm>

namespace ir::steps::rollout {
namespace {

std::string joined(const std::vector<std::string>& items) {
  std::string text;
  for (const auto& item : items) text += (text.empty() ? "" : ",") + item;
  return text;
}

std::string normalise_repository(std::string name) {
  const auto slash = name.find('/');
  if (slash == std::string::npos) return "docker.io/library/" + name;
  const std::string first = name.substr(0, slash);
  if (first == "index.docker.io") return normalise_repository(name.substr(slash + 1));
  if (first.find('.') == std::string::npos && first.find(':') == std::string::npos && first != "localhost") {
    return "docker.io/" + name;
  }
  return name;
}

std::string qualified(const json::value& object, std::string_view kind) {
  const std::string ns = string_at(object, {"metadata", "namespace"});
  return (ns.empty() ? "" : ns + "/") + std::string(kind) + "/" + string_at(object, {"metadata", "name"});
}

bool spec_uses(const ImageRef& wanted, const json::object& pod_spec) {
  for (const auto* list : {"containers", "initContainers", "ephemeralContainers"}) {
    const auto* containers = pod_spec.if_contains(list);
    if (containers == nullptr || !containers->is_array()) continue;
    for (const auto& container : containers->get_array()) {
      if (image_matches(wanted, string_at(container, {"image"}))) return true;
    }
  }
  return false;
}

bool status_uses(const ImageRef& wanted, const json::value& pod) {
  for (const auto* list :
       {find(pod, {"status", "containerStatuses"}), find(pod, {"status", "initContainerStatuses"})}) {
    if (list == nullptr || !list->is_array()) continue;
    for (const auto& status : list->get_array()) {
      if (image_matches(wanted, string_at(status, {"image"}), string_at(status, {"imageID"}))) return true;
    }
  }
  return false;
}

bool has_owner(const json::value& object) {
  const auto* owners = find(object, {"metadata", "ownerReferences"});
  return owners != nullptr && owners->is_array() && !owners->get_array().empty();
}

}  // namespace

Result<ImageRef> parse_image_ref(std::string_view text) {
  ImageRef ref;
  std::string name(text);
  if (name.rfind("sha256:", 0) == 0) {
    ref.digest = name;
    return ref;
  }
  if (const auto at = name.find('@'); at != std::string::npos) {
    ref.digest = name.substr(at + 1);
    name = name.substr(0, at);
  }
  const auto colon = name.rfind(':');
  const auto slash = name.rfind('/');
  if (colon != std::string::npos && (slash == std::string::npos || colon > slash)) {
    ref.tag = name.substr(colon + 1);
    name = name.substr(0, colon);
  }
  if (name.empty() || (!ref.digest.empty() && ref.digest.rfind("sha256:", 0) != 0)) {
    return invalid("'" + std::string(text) +
                   "' is not an image reference (REPOSITORY[:TAG][@sha256:DIGEST])");
  }
  if (ref.tag.empty() && ref.digest.empty()) ref.tag = "latest";
  ref.repository = normalise_repository(name);
  return ref;
}

bool image_matches(const ImageRef& wanted, std::string_view image, std::string_view image_id) {
  if (!wanted.digest.empty()) {
    const std::string suffix = "@" + wanted.digest;
    auto ends_with = [&](std::string_view s) {
      return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
    };
    return ends_with(image_id) || ends_with(image) || image_id == wanted.digest;
  }
  auto actual = parse_image_ref(image);
  if (!actual) return false;
  return actual->repository == wanted.repository && actual->tag == wanted.tag;
}

Result<void> find_image(const Options& options, Context& context, k8s::Client& client) {
  auto wanted = parse_image_ref(options.targets.front());
  if (!wanted) return wanted.error();
  std::vector<std::string> pods, workloads;
  auto listed = client.list(k8s::resources::pods, options.ns);
  if (!listed) return listed.error().with("list pods");
  for (const auto& pod : listed->at("items").as_array()) {
    const auto* spec = pod_spec_of(pod.as_object());
    if ((spec != nullptr && spec_uses(*wanted, *spec)) || status_uses(*wanted, pod)) {
      pods.push_back(qualified(pod, "pod"));
    }
  }
  for (const auto* resource : {&k8s::resources::deployments, &k8s::resources::statefulsets,
                               &k8s::resources::daemonsets, &k8s::resources::jobs}) {
    auto items = client.list(*resource, options.ns);
    if (!items) return items.error().with("list " + resource->plural);
    std::string kind = resource->kind;
    std::transform(kind.begin(), kind.end(), kind.begin(), [](unsigned char c) { return std::tolower(c); });
    for (const auto& item : items->at("items").as_array()) {
      const auto* spec = pod_spec_of(item.as_object());
      if (!has_owner(item) && spec != nullptr && spec_uses(*wanted, *spec))
        workloads.push_back(qualified(item, kind));
    }
  }
  auto cronjobs = list_cronjobs(client, options.ns);
  if (!cronjobs) return cronjobs.error().with("list cronjobs");
  for (const auto& item : cronjobs->at("items").as_array()) {
    const auto* spec = pod_spec_of(item.as_object());
    if (spec != nullptr && spec_uses(*wanted, *spec)) workloads.push_back(qualified(item, "cronjob"));
  }
  context.report().set_output("pods", joined(pods));
  context.report().set_output("workloads", joined(workloads));
  context.report().set_output("pod-count", std::to_string(pods.size()));
  context.report().set_output("workload-count", std::to_string(workloads.size()));
  return {};
}

}  // namespace ir::steps::rollout
