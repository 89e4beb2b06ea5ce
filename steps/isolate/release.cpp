// --release: undo exactly what isolate did for this incident in the
// namespace: quarantine labels, detached labels, policies. Safe to re-run.
#include "isolate.hpp"

#include <boost/json/serialize.hpp>

#include <algorithm>

namespace ir::steps::isolate {
namespace {

std::string name_of(const json::value& object) {
  return string_at(object, {"metadata", "name"});
}

json::object release_patch(const json::value& pod, bool& restored_any) {
  json::object labels{{quarantine_label, nullptr}};
  json::object metadata;
  const std::string detached = string_at(pod, {"metadata", "annotations", detached_annotation});
  restored_any = false;
  if (!detached.empty()) {
    if (auto parsed = parse_json(detached, "annotation"); parsed && parsed->is_object()) {
      for (const auto& entry : parsed->get_object()) labels[entry.key()] = entry.value();
      restored_any = !parsed->get_object().empty();
    }
    metadata["annotations"] = json::object{{detached_annotation, nullptr}};
  }
  metadata["labels"] = std::move(labels);
  return {{"metadata", std::move(metadata)}};
}

// Deletes the incident's policies of `resource` that irsteps made (by their
// labels, each with its uid as a precondition); their names.
Result<std::vector<std::string>> remove_policies(const Options& options, k8s::Writer& writer,
                                                 k8s::Client& client, const k8s::Resource& resource) {
  auto policies = client.list(resource, options.ns,
                              {std::string(incident_label) + "=" + options.incident_id + "," +
                                   std::string(managed_by_label) + "=irsteps",
                               {}});
  if (!policies) return policies.error();
  std::vector<std::string> names;
  for (const auto& policy : policies->at("items").as_array()) {
    const std::string name = name_of(policy);
    k8s::DeleteOptions precondition;
    precondition.uid = string_at(policy, {"metadata", "uid"});
    auto removed = writer.remove(resource, options.ns, name, precondition, "lift quarantine", true);
    if (!removed) return removed.error();
    names.push_back(name);
  }
  return names;
}

// The network plugins' deny policies of the incident, wherever the cluster
// serves their API (a plugin removed since leaves nothing to find).
Result<std::string> remove_cni_policies(const Options& options, k8s::Writer& writer, k8s::Client& client) {
  std::string deleted;
  for (const Cni cni : {Cni::cilium, Cni::calico}) {
    const auto& resource = cni_resource(cni);
    auto served = serves(client, resource);
    if (!served) return served.error();
    if (!*served) continue;
    auto names = remove_policies(options, writer, client, resource);
    if (!names) return names.error();
    for (const auto& name : *names) deleted += (deleted.empty() ? "" : ",") + resource.kind + "/" + name;
  }
  return deleted;
}

}  // namespace

Result<void> release(const Options& options, Context& context, k8s::Client& client) {
  k8s::Writer writer(client, context.report(), options.dry_run);
  const std::string incident_selector = std::string(quarantine_label) + "=" + options.incident_id;
  auto listed = client.list(
      k8s::resources::pods, options.ns,
      {options.selector.empty() ? incident_selector : incident_selector + "," + options.selector, {}});
  if (!listed) return listed.error();
  auto& items = listed->at("items").as_array();
  std::vector<json::value> pods;
  for (auto& item : items) {
    const std::string name = name_of(item);
    if (options.pods.empty() ||
        std::find(options.pods.begin(), options.pods.end(), name) != options.pods.end()) {
      pods.push_back(std::move(item));
    }
  }
  std::string released;
  for (const auto& pod : pods) {
    const std::string name = name_of(pod);
    bool restored = false;
    auto patched = writer.merge_patch(
        k8s::resources::pods, options.ns, name, release_patch(pod, restored),
        restored ? "remove quarantine label; restore detached labels" : "remove quarantine label");
    if (!patched) {
      if (patched.error().code() == Code::not_found) continue;  // deleted meanwhile: nothing to undo
      return patched.error();
    }
    if (restored) {
      context.warn("pod " + name +
                   " got its detached labels back: its controller may adopt it and scale "
                   "down one replica");
    }
    auto event = writer.create(
        k8s::resources::events, options.ns,
        build_event(options, pod.as_object(), "Released",
                    "irsteps released this pod from the quarantine of incident " + options.incident_id),
        "event on pod " + name, true);
    if (!event) return event.error();
    released += (released.empty() ? "" : ",") + name;
  }

  // The policies go only when no pod of the incident stays quarantined.
  std::string deleted;
  std::string deleted_cni;
  bool others_remain = false;
  if (!options.pods.empty() || !options.selector.empty()) {
    auto remaining = client.list(k8s::resources::pods, options.ns, {incident_selector, {}});
    if (!remaining) return remaining.error();
    for (const auto& item : remaining->at("items").as_array()) {
      // After a real release the released pods no longer carry the label;
      // under --dry-run they still do and must not count.
      const std::string name = name_of(item);
      const bool releasing =
          options.dry_run &&
          std::any_of(pods.begin(), pods.end(), [&](const json::value& p) { return name_of(p) == name; });
      others_remain = others_remain || !releasing;
    }
  }
  if (others_remain) {
    context.warn("other pods of incident " + options.incident_id +
                 " stay quarantined; the policies are kept");
  } else {
    auto names = remove_policies(options, writer, client, k8s::resources::networkpolicies);
    if (!names) return names.error();
    for (const auto& name : *names) deleted += (deleted.empty() ? "" : ",") + name;
    auto removed = remove_cni_policies(options, writer, client);
    if (!removed) return removed.error();
    deleted_cni = std::move(*removed);
  }
  if (released.empty() && deleted.empty() && deleted_cni.empty()) {
    context.warn("nothing to release: no pod or policy of incident " + options.incident_id +
                 " in namespace " + options.ns);
  }
  context.report().set_output("released-pods", released);
  context.report().set_output("deleted-policies", deleted);
  context.report().set_output("deleted-cni-policies", deleted_cni);
  return {};
}

}  // namespace ir::steps::isolate
