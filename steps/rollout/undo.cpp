#include "rollout.hpp"

#include "ir/core/log.hpp"

#include <algorithm>
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

// ControllerRevisions number themselves; ReplicaSets carry the annotation.
std::int64_t controller_revision_of(const json::value& object) {
  const auto* revision = find(object, {"revision"});
  return revision != nullptr && revision->is_number() ? revision->to_number<std::int64_t>() : 0;
}

struct Revision {
  std::int64_t number = 0;
  const json::value* object = nullptr;
};

// The workload as read now, and the revisions of its history (ReplicaSets of
// a Deployment, ControllerRevisions of a StatefulSet or DaemonSet) that it
// owns, oldest first.
struct History {
  json::object workload;
  json::object listed;  // owns the objects the revisions point into
  std::vector<Revision> revisions;
};

Result<History> read_history(k8s::Client& client, const Workload& workload, const k8s::Resource& kept_in,
                             std::int64_t (*number_of)(const json::value&)) {
  History history;
  auto object = client.get(workload.resource, workload.ns, workload.name);
  if (!object) {
    if (object.error().code() == Code::not_found) {
      return Error(Code::not_found, workload.id() + " not found in namespace " + workload.ns);
    }
    return object.error();
  }
  history.workload = std::move(*object);
  const std::string uid = string_at(history.workload, {"metadata", "uid"});
  const auto* selector = find(history.workload, {"spec", "selector"});
  auto listed = client.list(kept_in, workload.ns,
                            {selector ? k8s::selector_string(selector->as_object()) : std::string(), {}});
  if (!listed) return listed.error().with("list " + kept_in.kind + "s of " + workload.id());
  history.listed = std::move(*listed);
  for (const auto& item : history.listed.at("items").as_array()) {
    const auto* owners = find(item, {"metadata", "ownerReferences"});
    bool owned = false;
    if (owners != nullptr && owners->is_array()) {
      for (const auto& owner : owners->get_array()) owned = owned || string_at(owner, {"uid"}) == uid;
    }
    const std::int64_t number = number_of(item);
    if (owned && number > 0) history.revisions.push_back({number, &item});
  }
  std::sort(history.revisions.begin(), history.revisions.end(),
            [](const Revision& a, const Revision& b) { return a.number < b.number; });
  return history;
}

// --to-revision, or the newest revision before the current one; nullptr
// when the wanted one is already current (a warning, nothing to do).
Result<const Revision*> choose(const History& history, std::int64_t current, const Options& options,
                               const Workload& workload, Context& context) {
  const Revision* chosen = nullptr;
  for (const auto& revision : history.revisions) {
    if (options.to_revision > 0 ? revision.number == options.to_revision : revision.number < current) {
      chosen = &revision;
    }
  }
  if (chosen == nullptr) {
    return Error(Code::not_found,
                 options.to_revision > 0
                     ? workload.id() + " has no revision " + std::to_string(options.to_revision)
                     : workload.id() + " has no previous revision to go back to");
  }
  if (chosen->number == current) {
    context.warn(workload.id() + " already runs revision " + std::to_string(current) + ": nothing to undo");
    return nullptr;
  }
  return chosen;
}

// A CronJob keeps no revisions: its undo puts back the images set-image
// replaced (the irsteps.io/previous-image-<container> annotations set-image
// wrote) and drops those annotations. A re-run finds none: nothing to undo.
Result<void> undo_set_image(const Options& options, Context& context, k8s::Client& client,
                            const Workload& workload) {
  auto object = get_workload(client, workload);
  if (!object) return object.error();
  const auto* pod_spec = pod_spec_of(*object);
  if (pod_spec == nullptr) return Error(Code::action_failed, workload.id() + " has no pod template");
  json::object annotations;
  std::vector<ContainerImage> restored;
  std::string detail;
  for (const auto& container : containers_of(*pod_spec)) {
    const std::string key = previous_image_annotation(container.container);
    const std::string previous = string_at(*object, {"metadata", "annotations", key});
    if (previous.empty()) continue;
    annotations[key] = nullptr;
    restored.push_back({container.list, container.container, previous});
    detail += " " + container.container + "=" + previous + " (was " + container.image + ")";
  }
  if (restored.empty()) {
    context.warn(workload.id() + " has no irsteps.io/previous-image-<container> annotation: set-image " +
                 "changed nothing there, or its undo already ran; nothing to undo");
    return {};
  }
  auto patch = images_patch(workload, string_at(*object, {"metadata", "resourceVersion"}),
                            std::move(annotations), restored);
  k8s::Writer writer(client, context.report(), options.dry_run);
  auto patched = writer.patch(workload.resource, workload.ns, workload.name, k8s::PatchType::strategic,
                              std::move(patch), "undo set-image:" + detail);
  if (!patched) return patched.error().with("undo " + workload.id());
  return {};
}

}  // namespace

// As kubectl does: a Deployment's ReplicaSet of the wanted revision holds the
// pod template to put back (without its pod-template-hash label); a
// StatefulSet's or DaemonSet's ControllerRevision holds, in `data`, the
// strategic-merge patch that restores it.
static Result<void> undo_once(const Options& options, Context& context, k8s::Client& client,
                              const Workload& workload) {
  if (workload.resource.kind == "CronJob") return undo_set_image(options, context, client, workload);
  const bool deployment = workload.resource.kind == "Deployment";
  auto history = read_history(client, workload,
                              deployment ? k8s::resources::replicasets : k8s::resources::controllerrevisions,
                              deployment ? revision_of : controller_revision_of);
  if (!history) return history.error();
  if (!deployment && history->revisions.empty()) {
    return Error(Code::not_found, workload.id() + " has no revision history");
  }
  const std::int64_t current =
      deployment ? revision_of(json::value(history->workload)) : history->revisions.back().number;
  auto chosen = choose(*history, current, options, workload, context);
  if (!chosen) return chosen.error();
  if (*chosen == nullptr) return {};
  const Revision& revision = **chosen;
  const std::string uid = string_at(history->workload, {"metadata", "uid"});
  const std::string resource_version = string_at(history->workload, {"metadata", "resourceVersion"});
  if (deployment) {
    json::object template_object = revision.object->at("spec").at("template").as_object();
    if (auto* labels = template_object["metadata"].as_object().if_contains("labels")) {
      labels->as_object().erase("pod-template-hash");
    }
    // A stale resourceVersion in the patch is a 409 Conflict, which undo()
    // retries; a failed JSON-patch "test" would be a 422.
    const json::array patch{
        json::object{{"op", "replace"}, {"path", "/metadata/resourceVersion"}, {"value", resource_version}},
        json::object{{"op", "replace"}, {"path", "/spec/template"}, {"value", template_object}}};
    return apply_revision(options, context, client, workload, uid, k8s::PatchType::json, patch, current,
                          revision.number);
  }
  const auto* data = find(*revision.object, {"data"});
  if (data == nullptr || !data->is_object()) {
    return Error(Code::action_failed, "revision " + std::to_string(revision.number) + " of " + workload.id() +
                                          " holds no template");
  }
  json::object patch = data->as_object();
  // The resourceVersion makes the patch conditional on the object we read.
  patch["metadata"] = json::object{{"resourceVersion", resource_version}};
  return apply_revision(options, context, client, workload, uid, k8s::PatchType::strategic,
                        json::value(std::move(patch)), current, revision.number);
}

// The patch is conditional on the resourceVersion read, and controllers
// update the workload's status all the time: on a conflict, read again and
// choose again, a bounded number of times.
Result<void> undo(const Options& options, Context& context, k8s::Client& client, const Workload& workload) {
  constexpr int attempts = 5;
  for (int attempt = 1;; ++attempt) {
    auto done = undo_once(options, context, client, workload);
    if (done || done.error().code() != Code::conflict || attempt == attempts) return done;
    log::warn("rollout.undo.conflict", {{"workload", workload.id()}, {"attempt", attempt}});
  }
}

}  // namespace ir::steps::rollout
