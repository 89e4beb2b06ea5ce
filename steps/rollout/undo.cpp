#include "rollout.hpp"

#include "ir/core/log.hpp"

#include <algorithm>
#include <utility>
#include <vector>

namespace ir::steps::rollout {
namespace {

constexpr std::string_view revision_annotation = "deployment.kubernetes.io/revision";

std::int64_t revision_of(const json::value& object) {
  const std::string text = string_at(object, {"metadata", "annotations", revision_annotation});
  try {
    return text.empty() ? 0 : std::stoll(text);
  } catch (const std::exception&) {
    return 0;
  }
}

// Sends (or, under --dry-run, records) the patch that puts a revision back.
Result<void> apply_revision(const Options& options, Context& context, k8s::Client& client,
                            const Workload& workload, const std::string& uid, k8s::PatchType type,
                            const json::value& patch, std::int64_t current, std::int64_t chosen) {
  const std::string detail =
      "undo from revision " + std::to_string(current) + " to revision " + std::to_string(chosen);
  Action action;
  action.verb = "patch";
  action.target = k8s::reference_of(workload.resource, workload.ns, workload.name, uid);
  action.detail = detail;
  action.dry_run = options.dry_run;
  if (options.dry_run) {
    action.request =
        json::object{{"method", "PATCH"},
                     {"path", k8s::Client::path(workload.resource, workload.ns, workload.name)},
                     {"contentType", type == k8s::PatchType::json ? "application/json-patch+json"
                                                                  : "application/strategic-merge-patch+json"},
                     {"body", patch}};
  } else {
    auto patched = client.patch(workload.resource, workload.ns, workload.name, type, patch);
    if (!patched) return patched.error().with("undo " + workload.id());
  }
  log::info(options.dry_run ? "k8s.planned" : "k8s.changed", {{"verb", "patch"},
                                                              {"kind", workload.resource.kind},
                                                              {"namespace", workload.ns},
                                                              {"name", workload.name}});
  context.report().add_action(std::move(action));
  context.report().set_output("revision", std::to_string(chosen));
  return {};
}

const k8s::Resource controller_revisions{"apps", "v1", "controllerrevisions", "ControllerRevision", true};

// StatefulSets and DaemonSets keep their history in ControllerRevisions,
// whose `data` is the strategic-merge patch that restores the template (what
// kubectl rollout undo applies).
Result<void> undo_from_controller_revisions(const Options& options, Context& context, k8s::Client& client,
                                            const Workload& workload) {
  auto object = client.get(workload.resource, workload.ns, workload.name);
  if (!object) {
    if (object.error().code() == Code::not_found) {
      return Error(Code::not_found, workload.id() + " not found in namespace " + workload.ns);
    }
    return object.error();
  }
  const std::string uid = string_at(*object, {"metadata", "uid"});
  const auto* selector = find(*object, {"spec", "selector"});
  auto revisions = client.list(controller_revisions, workload.ns,
                               {selector ? k8s::selector_string(selector->as_object()) : std::string(), {}});
  if (!revisions) return revisions.error().with("list ControllerRevisions of " + workload.id());
  std::vector<std::pair<std::int64_t, const json::value*>> owned;
  for (const auto& item : revisions->at("items").as_array()) {
    const auto* owners = find(item, {"metadata", "ownerReferences"});
    bool mine = false;
    if (owners != nullptr && owners->is_array()) {
      for (const auto& owner : owners->get_array()) mine = mine || string_at(owner, {"uid"}) == uid;
    }
    const auto* revision = find(item, {"revision"});
    if (mine && revision != nullptr && revision->is_number())
      owned.emplace_back(revision->to_number<std::int64_t>(), &item);
  }
  if (owned.empty()) return Error(Code::not_found, workload.id() + " has no revision history");
  std::sort(owned.begin(), owned.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  const std::int64_t current = owned.back().first;
  const json::value* chosen = nullptr;
  std::int64_t chosen_revision = 0;
  for (const auto& [revision, item] : owned) {
    if (options.to_revision > 0 ? revision == options.to_revision : revision < current) {
      chosen = item;
      chosen_revision = revision;
    }
  }
  if (chosen == nullptr) {
    return Error(Code::not_found,
                 options.to_revision > 0
                     ? workload.id() + " has no revision " + std::to_string(options.to_revision)
                     : workload.id() + " has no previous revision to go back to");
  }
  if (chosen_revision == current) {
    context.warn(workload.id() + " already runs revision " + std::to_string(current) + ": nothing to undo");
    return {};
  }
  const auto* data = find(*chosen, {"data"});
  if (data == nullptr || !data->is_object())
    return Error(Code::action_failed, "revision " + std::to_string(chosen_revision) + " of " + workload.id() +
                                          " holds no template");
  json::object patch = data->as_object();
  // The resourceVersion makes the patch conditional on the object we read.
  patch["metadata"] = json::object{{"resourceVersion", string_at(*object, {"metadata", "resourceVersion"})}};
  return apply_revision(options, context, client, workload, uid, k8s::PatchType::strategic,
                        json::value(std::move(patch)), current, chosen_revision);
}

}  // namespace

// As kubectl does for Deployments: the ReplicaSet of the wanted revision
// holds the pod template to put back (without its pod-template-hash label).
Result<void> undo(const Options& options, Context& context, k8s::Client& client, const Workload& workload) {
  if (workload.resource.kind != "Deployment")
    return undo_from_controller_revisions(options, context, client, workload);
  auto deployment = client.get(workload.resource, workload.ns, workload.name);
  if (!deployment) {
    if (deployment.error().code() == Code::not_found) {
      return Error(Code::not_found, workload.id() + " not found in namespace " + workload.ns);
    }
    return deployment.error();
  }
  const json::value deployment_value(*deployment);
  const std::int64_t current = revision_of(deployment_value);
  const std::string uid = string_at(*deployment, {"metadata", "uid"});
  const auto* selector = find(*deployment, {"spec", "selector"});
  auto sets = client.list(k8s::resources::replicasets, workload.ns,
                          {selector ? k8s::selector_string(selector->as_object()) : std::string(), {}});
  if (!sets) return sets.error().with("list ReplicaSets of " + workload.id());
  const json::object* chosen = nullptr;
  std::int64_t chosen_revision = 0;
  for (const auto& item : sets->at("items").as_array()) {
    const auto* owners = find(item, {"metadata", "ownerReferences"});
    bool owned = false;
    if (owners != nullptr && owners->is_array()) {
      for (const auto& owner : owners->get_array()) owned = owned || string_at(owner, {"uid"}) == uid;
    }
    const std::int64_t revision = revision_of(item);
    if (!owned || revision == 0) continue;
    const bool wanted = options.to_revision > 0 ? revision == options.to_revision
                                                : revision < current && revision > chosen_revision;
    if (wanted) {
      chosen = &item.as_object();
      chosen_revision = revision;
    }
  }
  if (chosen == nullptr) {
    return Error(Code::not_found,
                 options.to_revision > 0
                     ? workload.id() + " has no revision " + std::to_string(options.to_revision)
                     : workload.id() + " has no previous revision to go back to");
  }
  if (chosen_revision == current) {
    context.warn(workload.id() + " already runs revision " + std::to_string(current) + ": nothing to undo");
    return {};
  }
  json::object template_object = chosen->at("spec").at("template").as_object();
  if (auto* labels = template_object["metadata"].as_object().if_contains("labels")) {
    labels->as_object().erase("pod-template-hash");
  }
  const json::array patch{
      json::object{{"op", "test"},
                   {"path", "/metadata/resourceVersion"},
                   {"value", string_at(*deployment, {"metadata", "resourceVersion"})}},
      json::object{{"op", "replace"}, {"path", "/spec/template"}, {"value", template_object}}};
  return apply_revision(options, context, client, workload, uid, k8s::PatchType::json, patch, current,
                        chosen_revision);
}

}  // namespace ir::steps::rollout
