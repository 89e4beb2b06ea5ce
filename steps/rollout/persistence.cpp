// check-persistence: the objects of a namespace (or selector) created or
// changed in the incident's window, less what a controller made from a
// template that did not change in the window (issue 16 item 3): the pod a
// ReplicaSet makes to replace a deleted one is the controller doing its job,
// a new CronJob or a changed pod template is what an attacker leaves behind.
//
// How Kubernetes marks what a controller made, and what we compare:
// - a Pod of a ReplicaSet carries the ReplicaSet's pod-template-hash label
//   (pkg/controller/deployment/sync.go); a ReplicaSet's template never changes
//   under a Deployment (a new template makes a new ReplicaSet), so the pod of
//   a ReplicaSet that predates the window and whose template nobody edited in
//   it is made from the template as it was before the incident;
// - a Pod of a DaemonSet or StatefulSet carries controller-revision-hash, the
//   ControllerRevision of the template it was made from
//   (pkg/controller/history): that revision must predate the window;
// - a Pod of a Job carries controller-uid, the Job's uid; a Job's template is
//   immutable; a Job of a CronJob is made from its jobTemplate.
// "Changed in the window" is read from metadata.managedFields: the time of the
// last write of each field manager. On our 1.20 API server one manager's spec
// and status writes share one entry, so the controllers' own entries
// (kube-controller-manager) count as changes only where they own the spec of
// an object no other controller owns.
#include "rollout.hpp"

#include <boost/json/serialize.hpp>

#include <algorithm>
#include <map>
#include <memory>

namespace ir::steps::rollout {
namespace {

constexpr std::string_view controller_manager = "kube-controller-manager";
constexpr std::string_view quarantine_label = "irsteps.io/quarantine";  // set by isolate

std::string joined(const std::vector<std::string>& items) {
  std::string text;
  for (const auto& item : items) text += (text.empty() ? "" : ",") + item;
  return text;
}

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text;
}

std::string qualified(const json::value& object, std::string_view kind) {
  const std::string ns = string_at(object, {"metadata", "namespace"});
  return (ns.empty() ? "" : ns + "/") + lower(std::string(kind)) + "/" +
         string_at(object, {"metadata", "name"});
}

bool touches(const json::value& entry, std::initializer_list<std::string_view> path) {
  return find(entry, path) != nullptr;
}

// When the object was last changed by anyone but a controller keeping its
// books: status-only entries and the controllers' entries that own no spec
// (a Deployment's revision annotation and status) are left out; else creation.
std::string changed_at(const json::value& object) {
  std::string latest = string_at(object, {"metadata", "creationTimestamp"});
  const auto* fields = find(object, {"metadata", "managedFields"});
  if (fields == nullptr || !fields->is_array()) return latest;
  for (const auto& entry : fields->get_array()) {
    const auto* touched = find(entry, {"fieldsV1"});
    if (touched == nullptr || !touched->is_object()) continue;
    const bool status_only = touched->get_object().size() == 1 && touched->get_object().contains("f:status");
    const bool bookkeeping =
        string_at(entry, {"manager"}) == controller_manager && !touched->get_object().contains("f:spec");
    const std::string time = string_at(entry, {"time"});
    if (!status_only && !bookkeeping && time > latest) latest = time;
  }
  return latest;
}

// Whether the owner's pod template (a CronJob's jobTemplate) was written in
// the window, or the owner is itself new. The controller's own entry is left
// out for an owner that a controller owns in turn (a Deployment's ReplicaSet:
// the deployment controller scales it, never rewrites its template).
bool template_changed_since(const json::object& owner, const std::string& since) {
  if (string_at(owner, {"metadata", "creationTimestamp"}) >= since) return true;
  const bool controlled = k8s::controller_of(owner) != nullptr;
  const auto* fields = find(owner, {"metadata", "managedFields"});
  if (fields == nullptr || !fields->is_array()) return false;
  for (const auto& entry : fields->get_array()) {
    if (string_at(entry, {"time"}) < since) continue;
    if (controlled && string_at(entry, {"manager"}) == controller_manager) continue;
    if (touches(entry, {"fieldsV1", "f:spec", "f:template"}) ||
        touches(entry, {"fieldsV1", "f:spec", "f:jobTemplate"}))
      return true;
  }
  return false;
}

std::vector<std::string> images_of(const json::object* pod_spec) {
  std::vector<std::string> images;
  if (pod_spec == nullptr) return images;
  for (const auto* list : {"initContainers", "containers"}) {
    const auto* containers = pod_spec->if_contains(list);
    if (containers == nullptr || !containers->is_array()) continue;
    for (const auto& container : containers->get_array())
      images.push_back(string_at(container, {"name"}) + "=" + string_at(container, {"image"}));
  }
  return images;
}

// A pod template without the pod-template-hash label its controller adds.
json::value template_without_hash(const json::value& pod_template) {
  json::value copy = pod_template;
  if (auto* labels = copy.is_object() ? copy.get_object().if_contains("metadata") : nullptr;
      labels != nullptr && labels->is_object()) {
    if (auto* map = labels->get_object().if_contains("labels"); map != nullptr && map->is_object())
      map->get_object().erase("pod-template-hash");
  }
  return copy;
}

// The owners of what is checked, fetched once each.
class Owners {
 public:
  explicit Owners(const OwnerLookup& lookup) : lookup_(lookup) {}

  // The object, if it still exists and is the one referred to (same uid).
  Result<const json::object*> get(std::string_view kind, const std::string& ns, const std::string& name,
                                  const std::string& uid) {
    const std::string key = std::string(kind) + "/" + ns + "/" + name;
    auto found = cache_.find(key);
    if (found == cache_.end()) {
      auto fetched = lookup_(kind, ns, name);
      if (!fetched) return fetched.error().with("get " + key);
      found = cache_.emplace(key, std::move(*fetched)).first;
    }
    if (!found->second) return static_cast<const json::object*>(nullptr);
    if (!uid.empty() && string_at(*found->second, {"metadata", "uid"}) != uid)
      return static_cast<const json::object*>(nullptr);
    return &*found->second;
  }

 private:
  const OwnerLookup& lookup_;
  std::map<std::string, std::optional<json::object>> cache_;
};

// Why the object, created or changed in the window, was made by its controller
// from a template that did not change in the window; empty when it was not.
Result<std::string> made_by_unchanged_controller(const json::object& object, std::string_view kind,
                                                 const std::string& since, Owners& owners) {
  const auto* reference = k8s::controller_of(object);
  if (reference == nullptr) return std::string();
  const std::string owner_kind = string_at(*reference, {"kind"});
  const std::string ns = string_at(object, {"metadata", "namespace"});
  auto owner = owners.get(owner_kind, ns, string_at(*reference, {"name"}), string_at(*reference, {"uid"}));
  if (!owner) return owner.error();
  if (*owner == nullptr) return std::string();
  const json::object& by = **owner;
  const auto labels = [&](std::string_view key) { return string_at(object, {"metadata", "labels", key}); };
  // The containers' images of the owner's template against the object's (a
  // Pod's spec, or a Job's pod template).
  const auto same_images = [&](const json::value* pod_template) {
    const auto* spec = pod_template != nullptr ? find(*pod_template, {"spec"}) : nullptr;
    const auto* made = kind == "Job" ? find(object, {"spec", "template", "spec"}) : find(object, {"spec"});
    return spec != nullptr && spec->is_object() && made != nullptr && made->is_object() &&
           images_of(&spec->get_object()) == images_of(&made->get_object());
  };
  const std::string reason =
      "made by " + qualified(by, owner_kind) + " from its template, unchanged since before the window";

  if (kind == "Pod" && owner_kind == "Job") {
    // A Job's template is immutable: its pods are made from the template it
    // was created with. A Job created in the window is itself checked: made
    // by a CronJob whose jobTemplate did not change, or new.
    const std::string uid = string_at(by, {"metadata", "uid"});
    if (labels("controller-uid") != uid && labels("batch.kubernetes.io/controller-uid") != uid)
      return std::string();
    if (!same_images(find(by, {"spec", "template"}))) return std::string();
    if (string_at(by, {"metadata", "creationTimestamp"}) >= since) {
      auto above = made_by_unchanged_controller(by, "Job", since, owners);
      if (!above || above->empty()) return above;
    }
    return reason;
  }
  if (template_changed_since(by, since)) return std::string();
  if (kind == "Pod" && owner_kind == "ReplicaSet") {
    const std::string hash = labels("pod-template-hash");
    if (hash.empty() || hash != string_at(by, {"metadata", "labels", "pod-template-hash"}))
      return std::string();
    if (!same_images(find(by, {"spec", "template"}))) return std::string();
    return reason;
  }
  if (kind == "ReplicaSet" && owner_kind == "Deployment") {
    // The deployment controller finds a ReplicaSet by this comparison
    // (EqualIgnoreHash, pkg/controller/deployment/util/deployment_util.go).
    const auto* ours = find(object, {"spec", "template"});
    const auto* theirs = find(by, {"spec", "template"});
    if (ours == nullptr || theirs == nullptr ||
        template_without_hash(*ours) != template_without_hash(*theirs))
      return std::string();
    return reason;
  }
  if (kind == "Pod" && (owner_kind == "DaemonSet" || owner_kind == "StatefulSet")) {
    const std::string hash = labels("controller-revision-hash");
    if (hash.empty()) return std::string();
    // A StatefulSet's pods carry the revision's name, a DaemonSet's its hash.
    const std::string revision_name =
        owner_kind == "StatefulSet" ? hash : string_at(by, {"metadata", "name"}) + "-" + hash;
    auto revision = owners.get("ControllerRevision", ns, revision_name, "");
    if (!revision) return revision.error();
    if (*revision == nullptr) return std::string();
    const auto* revision_owner = k8s::controller_of(**revision);
    if (revision_owner == nullptr ||
        string_at(*revision_owner, {"uid"}) != string_at(by, {"metadata", "uid"}) ||
        string_at(**revision, {"metadata", "creationTimestamp"}) >= since)
      return std::string();
    if (!same_images(find(by, {"spec", "template"}))) return std::string();
    return reason;
  }
  if (kind == "Job" && owner_kind == "CronJob") {
    if (!same_images(find(by, {"spec", "jobTemplate", "spec", "template"}))) return std::string();
    return reason;
  }
  return std::string();
}

// Owners from the API server; a 404 (or a kind we do not know) is "gone".
OwnerLookup client_lookup(k8s::Client& client) {
  return [&client](std::string_view kind, const std::string& ns,
                   const std::string& name) -> Result<std::optional<json::object>> {
    Result<json::object> fetched = Error(Code::not_found, "no resource for kind " + std::string(kind));
    // CronJob: batch/v1, or v1beta1 before 1.21 (the client's discovery).
    if (auto resource = k8s::resource_for(kind); resource) {
      fetched = client.get(*resource, ns, name);
    }
    if (fetched) return std::optional<json::object>(std::move(*fetched));
    if (fetched.error().code() == Code::not_found) return std::optional<json::object>();
    return fetched.error();
  };
}

}  // namespace

struct PersistenceJudge::Impl {
  Impl(std::string since_, std::string incident_id_, OwnerLookup lookup_)
      : since(std::move(since_)), incident_id(std::move(incident_id_)), lookup(std::move(lookup_)) {}
  Impl(const Impl&) = delete;  // owners refers to lookup
  Impl& operator=(const Impl&) = delete;

  std::string since;
  std::string incident_id;
  OwnerLookup lookup;
  Owners owners{lookup};
};

PersistenceJudge::PersistenceJudge(std::string since, std::string incident_id, OwnerLookup lookup)
    : impl_(std::make_unique<Impl>(std::move(since), std::move(incident_id), std::move(lookup))) {}

PersistenceJudge::~PersistenceJudge() = default;

Result<PersistenceVerdict> PersistenceJudge::judge(const json::object& object, std::string_view kind) {
  const std::string& since = impl_->since;
  PersistenceVerdict verdict;
  verdict.created = string_at(object, {"metadata", "creationTimestamp"});
  verdict.changed = changed_at(object);
  // RFC 3339 UTC strings of one format compare as times.
  if (verdict.created < since && verdict.changed < since) {
    verdict.reason = "unchanged since before the window";
    return verdict;
  }
  if (kind == "Pod" && !impl_->incident_id.empty() &&
      string_at(object, {"metadata", "labels", quarantine_label}) == impl_->incident_id) {
    verdict.reason = "the compromised pod, quarantined for this incident";
    return verdict;
  }
  auto made = made_by_unchanged_controller(object, kind, since, impl_->owners);
  if (!made) return made.error();
  verdict.reason = *made;
  if (verdict.reason.empty()) {
    verdict.flagged = true;
    verdict.reason = verdict.created >= since ? "created in the window" : "changed in the window";
  }
  return verdict;
}

Result<void> check_persistence(const Options& options, Context& context, k8s::Client& client) {
  if (!options.since) return internal_error("check-persistence without a window");
  const std::string since = format_utc(*options.since);
  context.report().set_output("since", since);
  PersistenceJudge judge(since, options.incident_id, client_lookup(client));
  json::array objects;
  std::vector<std::string> flagged;
  auto inspect = [&](const json::object& listed, const std::string& kind) -> Result<void> {
    for (const auto& item : listed.at("items").as_array()) {
      const std::string name = qualified(item, kind);
      auto verdict = judge.judge(item.as_object(), kind);
      if (!verdict) return verdict.error();
      objects.push_back(json::object{{"object", name},
                                     {"created", verdict->created},
                                     {"changed", verdict->changed},
                                     {"flagged", verdict->flagged},
                                     {"reason", verdict->reason}});
      if (verdict->flagged) {
        flagged.push_back(name);
        context.warn(name + " was " + verdict->reason.substr(0, verdict->reason.find(' ')) + " after " +
                     since + " (created " + verdict->created + ", changed " + verdict->changed + ")");
      }
    }
    return {};
  };
  const k8s::ListOptions selector{options.selector, {}};
  for (const auto* resource :
       {&k8s::resources::pods, &k8s::resources::replicasets, &k8s::resources::deployments,
        &k8s::resources::daemonsets, &k8s::resources::statefulsets, &k8s::resources::jobs,
        &k8s::resources::cronjobs}) {
    auto listed = client.list(*resource, options.ns, selector);
    if (!listed) return listed.error().with("list " + resource->plural);
    if (auto done = inspect(*listed, resource->kind); !done) return done;
  }
  context.report().set_output("objects", boost::json::serialize(objects));
  context.report().set_output("flagged", joined(flagged));
  context.report().set_output("flagged-count", std::to_string(flagged.size()));
  return {};
}

}  // namespace ir::steps::rollout
