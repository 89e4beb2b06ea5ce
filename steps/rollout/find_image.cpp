// find-image: which workloads run an image. A rejected image is known by the
// digest its verification resolved, and it runs under three guises: a spec
// pinned by that digest (repo@sha256:...), a spec naming its tag, and a spec
// naming any tag (or another repository) whose pods the node reports running
// that digest (status.*ContainerStatuses[].imageID). Every match is walked up
// its controller ownerReferences to what can be taken out of service: Pod ->
// ReplicaSet -> Deployment, StatefulSet, DaemonSet, Job (and its CronJob), or
// the bare pod itself.
#include "rollout.hpp"

#include <algorithm>
#include <map>
#include <set>

namespace ir::steps::rollout {
namespace {

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text;
}

std::string joined(const std::set<std::string>& items) {
  std::string text;
  for (const auto& item : items) text += (text.empty() ? "" : ",") + item;
  return text;
}

bool ends_with(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

struct Owner {
  std::string kind;  // as in ownerReferences: "ReplicaSet"
  std::string name;
  std::string uid;
};

// An object found in the cluster, as the walk up the owners needs it.
struct Node {
  std::string kind;  // lower case: "replicaset"
  std::string ns;
  std::string name;
  std::optional<Owner> controller;  // the ownerReference with controller: true
  [[nodiscard]] std::string id() const { return ns + "/" + kind + "/" + name; }
};

Node node_of(const json::value& object, std::string_view kind) {
  Node node{lower(std::string(kind)), string_at(object, {"metadata", "namespace"}),
            string_at(object, {"metadata", "name"}), std::nullopt};
  if (const auto* owner = object.is_object() ? k8s::controller_of(object.get_object()) : nullptr) {
    node.controller =
        Owner{string_at(*owner, {"kind"}), string_at(*owner, {"name"}), string_at(*owner, {"uid"})};
  }
  return node;
}

bool spec_runs(const ImageQuery& query, const json::object& pod_spec) {
  for (const auto* list : {"containers", "initContainers", "ephemeralContainers"}) {
    const auto* containers = pod_spec.if_contains(list);
    if (containers == nullptr || !containers->is_array()) continue;
    for (const auto& container : containers->get_array()) {
      if (runs_image(query, string_at(container, {"image"}))) return true;
    }
  }
  return false;
}

bool status_runs(const ImageQuery& query, const json::value& pod) {
  for (const auto* list :
       {find(pod, {"status", "containerStatuses"}), find(pod, {"status", "initContainerStatuses"}),
        find(pod, {"status", "ephemeralContainerStatuses"})}) {
    if (list == nullptr || !list->is_array()) continue;
    for (const auto& status : list->get_array()) {
      if (runs_image(query, string_at(status, {"image"}), string_at(status, {"imageID"}))) return true;
    }
  }
  return false;
}

// What runs nothing any more: a finished pod or Job, a ReplicaSet scaled to
// nothing (a Deployment's old revision keeps its template).
bool idle(const json::value& object, std::string_view kind) {
  if (kind == "Pod") {
    const std::string phase = string_at(object, {"status", "phase"});
    return phase == "Succeeded" || phase == "Failed";
  }
  if (kind == "ReplicaSet") {
    const auto* wanted = find(object, {"spec", "replicas"});
    const auto* running = find(object, {"status", "replicas"});
    return wanted != nullptr && wanted->is_number() && wanted->to_number<std::int64_t>() == 0 &&
           (running == nullptr || (running->is_number() && running->to_number<std::int64_t>() == 0));
  }
  if (kind == "Job") {
    const auto* conditions = find(object, {"status", "conditions"});
    if (conditions == nullptr || !conditions->is_array()) return false;
    return std::any_of(conditions->get_array().begin(), conditions->get_array().end(), [](const auto& c) {
      const std::string type = string_at(c, {"type"});
      return (type == "Complete" || type == "Failed") && string_at(c, {"status"}) == "True";
    });
  }
  return false;
}

// The kinds the walk knows, and whether `stop` takes each one itself.
// A ReplicaSet owned by a Deployment, and a pod owned by anything, are
// stopped through their owner; a Job is stopped itself (its running pods)
// and through its CronJob (the next runs).
bool known_kind(std::string_view kind) {
  return kind == "pod" || kind == "replicaset" || kind == "deployment" || kind == "statefulset" ||
         kind == "daemonset" || kind == "job" || kind == "cronjob";
}

class Walk {
 public:
  explicit Walk(Context& context) : context_(context) {}

  void add(const json::value& object, std::string_view kind) {
    const std::string uid = string_at(object, {"metadata", "uid"});
    nodes_[uid] = node_of(object, kind);
  }

  // Adds to `workloads` what takes the object out of service.
  void resolve(const json::value& object) { resolve(nodes_.at(string_at(object, {"metadata", "uid"})), 0); }

  std::set<std::string> workloads;

 private:
  void resolve(const Node& node, int depth) {
    if (depth > 8) return;  // ownerReferences cannot loop, but a bound costs nothing
    if (!node.controller) {
      workloads.insert(node.id());
      return;
    }
    if (node.kind == "job") workloads.insert(node.id());
    const Owner& owner = *node.controller;
    if (auto found = nodes_.find(owner.uid); found != nodes_.end()) {
      resolve(found->second, depth + 1);
      return;
    }
    const std::string kind = lower(owner.kind);
    if (known_kind(kind)) {
      // Listed before its owner was created, or read past: name it as the reference does.
      workloads.insert(node.ns + "/" + kind + "/" + owner.name);
      return;
    }
    if (warned_.insert(node.id()).second) {
      context_.warn(node.id() + " runs the image and is controlled by " + owner.kind + "/" + owner.name +
                    ", which rollout cannot stop: take it out of service by hand");
    }
  }

  Context& context_;
  std::map<std::string, Node> nodes_;  // by uid
  std::set<std::string> warned_;
};

}  // namespace

Result<ImageQuery> image_query(std::string_view reference, std::string_view digest,
                               std::string_view parameter) {
  auto ref = parse_image_ref(reference);
  if (!ref) return ref.error().with("parameter " + std::string(parameter));
  ImageQuery query{*ref, {}};
  if (!ref->digest.empty()) query.digests.push_back(ref->digest);
  if (!digest.empty()) {
    const bool hex = digest.size() == 71 && digest.rfind("sha256:", 0) == 0 &&
                     digest.substr(7).find_first_not_of("0123456789abcdef") == std::string_view::npos;
    if (!hex) {
      return invalid("parameter digest: '" + std::string(digest) +
                     "' is not a digest (sha256: and 64 lower-case hex digits)");
    }
    if (std::find(query.digests.begin(), query.digests.end(), digest) == query.digests.end())
      query.digests.emplace_back(digest);
  }
  return query;
}

bool runs_image(const ImageQuery& query, std::string_view image, std::string_view image_id) {
  // imageID: "docker-pullable://repo@sha256:...", "repo@sha256:..." (containerd), or the bare digest.
  for (const auto& digest : query.digests) {
    if (!image_id.empty() && (ends_with(image_id, "@" + digest) || image_id == digest)) return true;
  }
  auto actual = parse_image_ref(image);
  if (!actual) return false;
  if (!actual->digest.empty() && !query.digests.empty()) {
    // A pinned spec runs its digest whatever its tag says.
    return std::find(query.digests.begin(), query.digests.end(), actual->digest) != query.digests.end();
  }
  if (query.ref.tag.empty()) return false;  // asked for by digest only
  return actual->repository == query.ref.repository && actual->tag == query.ref.tag;
}

Result<void> find_image(const Options& options, Context& context, k8s::Client& client) {
  auto query = image_query(options.targets.front(), options.digest);
  if (!query) return query.error();
  // Read everything first: the walk up the owners needs them all.
  std::vector<std::pair<json::object, std::string>> lists;
  for (const auto* resource :
       {&k8s::resources::pods, &k8s::resources::replicasets, &k8s::resources::deployments,
        &k8s::resources::statefulsets, &k8s::resources::daemonsets, &k8s::resources::jobs}) {
    auto items = client.list(*resource, options.ns);
    if (!items) return items.error().with("list " + resource->plural);
    lists.emplace_back(std::move(*items), resource->kind);
  }
  auto cronjobs = client.list(k8s::resources::cronjobs, options.ns);
  if (!cronjobs) return cronjobs.error().with("list cronjobs");
  lists.emplace_back(std::move(*cronjobs), "CronJob");

  Walk walk(context);
  for (const auto& [listed, kind] : lists) {
    for (const auto& item : listed.at("items").as_array()) walk.add(item, kind);
  }
  std::set<std::string> pods;
  for (const auto& [listed, kind] : lists) {
    for (const auto& item : listed.at("items").as_array()) {
      const auto* spec = pod_spec_of(item.as_object());
      const bool runs =
          (spec != nullptr && spec_runs(*query, *spec)) || (kind == "Pod" && status_runs(*query, item));
      if (!runs) continue;
      if (kind == "Pod")
        pods.insert(Node{"pod", string_at(item, {"metadata", "namespace"}),
                         string_at(item, {"metadata", "name"}), std::nullopt}
                        .id());
      if (!idle(item, kind)) walk.resolve(item);
    }
  }
  context.report().set_output("pods", joined(pods));
  context.report().set_output("workloads", joined(walk.workloads));
  context.report().set_output("pod-count", std::to_string(pods.size()));
  context.report().set_output("workload-count", std::to_string(walk.workloads.size()));
  // For a roll back: what has a revision history (`undo`), and what has
  // none and can only be stopped.
  std::set<std::string> with_history, without_history;
  for (const auto& workload : walk.workloads) {
    const bool history = workload.find("/deployment/") != std::string::npos ||
                         workload.find("/statefulset/") != std::string::npos ||
                         workload.find("/daemonset/") != std::string::npos;
    (history ? with_history : without_history).insert(workload);
  }
  context.report().set_output("with-history", joined(with_history));
  context.report().set_output("with-history-count", std::to_string(with_history.size()));
  context.report().set_output("without-history", joined(without_history));
  context.report().set_output("without-history-count", std::to_string(without_history.size()));
  // For a replacement by a verified image (`set-image`): what has a pod
  // template for later pods (the above and CronJobs), and what does not.
  std::set<std::string> with_template = with_history, without_template;
  for (const auto& workload : without_history) {
    (workload.find("/cronjob/") != std::string::npos ? with_template : without_template).insert(workload);
  }
  context.report().set_output("with-template", joined(with_template));
  context.report().set_output("with-template-count", std::to_string(with_template.size()));
  context.report().set_output("without-template", joined(without_template));
  context.report().set_output("without-template-count", std::to_string(without_template.size()));
  context.report().set_output("digests", [&] {
    std::string text;
    for (const auto& digest : query->digests) text += (text.empty() ? "" : ",") + digest;
    return text;
  }());
  return {};
}

}  // namespace ir::steps::rollout
