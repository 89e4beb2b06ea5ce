#include "rollout.hpp"

#include "ir/core/log.hpp"

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

}  // namespace

// As kubectl does for Deployments: the ReplicaSet of the wanted revision
// holds the pod template to put back (without its pod-template-hash label).
Result<void> undo(const Options& options, Context& context, k8s::Client& client, const Workload& workload) {
  if (workload.resource.kind != "Deployment") {
    return invalid(
        "undo supports Deployments (StatefulSets and DaemonSets keep revisions in ControllerRevisions, "
        "not handled yet)");
  }
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
  const std::string detail =
      "undo from revision " + std::to_string(current) + " to revision " + std::to_string(chosen_revision);
  Action action;
  action.verb = "patch";
  action.target = k8s::reference_of(workload.resource, workload.ns, workload.name, uid);
  action.detail = detail;
  action.dry_run = options.dry_run;
  if (options.dry_run) {
    action.request = json::object{{"method", "PATCH"},
                                  {"path", k8s::Client::path(workload.resource, workload.ns, workload.name)},
                                  {"contentType", "application/json-patch+json"},
                                  {"body", patch}};
  } else {
    auto patched = client.patch(workload.resource, workload.ns, workload.name, k8s::PatchType::json, patch);
    if (!patched) return patched.error().with("undo " + workload.id());
  }
  log::info(options.dry_run ? "k8s.planned" : "k8s.changed", {{"verb", "patch"},
                                                              {"kind", workload.resource.kind},
                                                              {"namespace", workload.ns},
                                                              {"name", workload.name}});
  context.report().add_action(std::move(action));
  context.report().set_output("revision", std::to_string(chosen_revision));
  return {};
}

}  // namespace ir::steps::rollout
