// set-image: put an image, by digest, into a workload's pod template, so
// that recovery runs from the verified image and not from whatever its tag
// points at now.
#include "rollout.hpp"

#include "ir/core/encoding.hpp"
#include "ir/core/log.hpp"
#include "ir/oci/reference.hpp"

#include <boost/json/serialize.hpp>

#include <algorithm>
#include <optional>

namespace ir::steps::rollout {
namespace {

std::string names_of(const json::object& pod_spec) {
  std::string names;
  for (const auto& container : containers_of(pod_spec))
    names += (names.empty() ? "" : ", ") + container.container;
  return names;
}

bool same_repository(const oci::Reference& wanted, std::string_view image) {
  auto actual = oci::parse_reference(image);
  return actual && actual->registry == wanted.registry && actual->repository == wanted.repository;
}

// The strategic merge patch of `changes` (lists merge by container name),
// conditional on the resourceVersion that was read, for the workload's kind.
// A container's image from before the incident is kept: a second set-image
// does not overwrite what the first remembered (a CronJob's undo has
// nothing else to go back to).
json::object set_image_patch(const Workload& workload, const json::object& object,
                             const std::vector<ContainerImage>& changes, std::string_view image,
                             std::string_view incident_id) {
  json::object annotations;
  std::vector<ContainerImage> images;
  for (const auto& change : changes) {
    const std::string key = previous_image_annotation(change.container);
    if (string_at(object, {"metadata", "annotations", key}).empty()) annotations[key] = change.image;
    images.push_back({change.list, change.container, std::string(image)});
  }
  if (!incident_id.empty()) annotations[incident_annotation] = incident_id;
  return images_patch(workload, string_at(object, {"metadata", "resourceVersion"}), std::move(annotations),
                      images);
}

// A CronJob's running Jobs keep the image they started with: name them, so
// that nobody takes the CronJob's new template for what runs now.
void warn_of_running_jobs(Context& context, const Workload& workload, const json::object& object,
                          std::string_view image) {
  const auto* active = find(object, {"status", "active"});
  if (active == nullptr || !active->is_array() || active->get_array().empty()) return;
  std::string jobs;
  for (const auto& job : active->get_array()) jobs += (jobs.empty() ? "" : ", ") + string_at(job, {"name"});
  context.warn(workload.id() + ": its next Job runs " + std::string(image) +
               "; the Job(s) running now keep the image they started with: " + jobs +
               " (stop them with rollout stop job/NAME)");
}

struct Outcome {
  json::array images;  // one entry per chosen container
  bool changed = false;
};

// A workload as read, and the containers set-image changes in it.
struct Planned {
  json::object object;
  std::vector<ContainerImage> chosen;
};

Result<Planned> plan(const Options& options, k8s::Client& client, const Workload& workload) {
  auto object = get_workload(client, workload);
  if (!object) return object.error();
  const auto* pod_spec = pod_spec_of(*object);
  if (pod_spec == nullptr) return Error(Code::action_failed, workload.id() + " has no pod template");
  std::optional<ImageQuery> replacing;
  if (!options.replacing.empty()) {
    auto query = image_query(options.replacing, options.digest, "replacing");
    if (!query) return query.error();
    replacing = std::move(*query);
  }
  auto chosen = choose_containers(*pod_spec, options.image, options.container, workload.id(),
                                  replacing ? &*replacing : nullptr);
  if (!chosen) return chosen.error();
  return Planned{std::move(*object), std::move(*chosen)};
}

Result<void> set_image_once(const Options& options, Context& context, k8s::Client& client,
                            const Workload& workload, const Planned& planned, Outcome& outcome) {
  std::vector<ContainerImage> changes;
  for (const auto& current : planned.chosen) {
    const bool same = current.image == options.image;
    outcome.images.push_back(json::object{{"workload", workload.id()},
                                          {"namespace", workload.ns},
                                          {"container", current.container},
                                          {"previous", current.image},
                                          {"image", options.image},
                                          {"changed", !same}});
    if (!same) changes.push_back(current);
  }
  if (changes.empty()) {
    context.warn(workload.id() + " already runs " + options.image + ": nothing changed");
    return {};
  }
  std::string detail = "set image " + options.image + " (was";
  for (const auto& change : changes) detail += " " + change.container + "=" + change.image;
  detail += ")";
  k8s::Writer writer(client, context.report(), options.dry_run);
  auto patched =
      writer.patch(workload.resource, workload.ns, workload.name, k8s::PatchType::strategic,
                   set_image_patch(workload, planned.object, changes, options.image, options.incident_id),
                   std::move(detail));
  if (!patched) return patched.error().with("set image of " + workload.id());
  outcome.changed = true;
  return {};
}

}  // namespace

std::vector<ContainerImage> containers_of(const json::object& pod_spec) {
  std::vector<ContainerImage> all;
  for (const std::string_view list : {"containers", "initContainers"}) {
    const auto* containers = pod_spec.if_contains(list);
    if (containers == nullptr || !containers->is_array()) continue;
    for (const auto& item : containers->get_array())
      all.push_back({std::string(list), string_at(item, {"name"}), string_at(item, {"image"})});
  }
  return all;
}

json::object images_patch(const Workload& workload, std::string_view resource_version,
                          json::object annotations, const std::vector<ContainerImage>& images) {
  json::object pod_spec;
  for (const auto& container : images) {
    auto& list = pod_spec[container.list];
    if (!list.is_array()) list = json::array{};
    list.as_array().push_back(json::object{{"name", container.container}, {"image", container.image}});
  }
  return {{"metadata",
           json::object{{"resourceVersion", resource_version}, {"annotations", std::move(annotations)}}},
          {"spec", template_patch(workload, std::move(pod_spec))}};
}

json::object template_patch(const Workload& workload, json::object pod_spec) {
  json::object pod_template{{"template", json::object{{"spec", std::move(pod_spec)}}}};
  if (workload.resource.kind == "CronJob")
    return {{"jobTemplate", json::object{{"spec", std::move(pod_template)}}}};
  return pod_template;
}

std::string previous_image_annotation(std::string_view container) {
  constexpr std::string_view prefix = "irsteps.io/previous-image-";
  // The name part of an annotation key holds at most 63 characters; a
  // container name may have 63 itself.
  constexpr std::size_t room = 63 - (prefix.size() - std::string_view("irsteps.io/").size());
  if (container.size() <= room) return std::string(prefix) + std::string(container);
  return std::string(prefix) + std::string(container.substr(0, room - 9)) + "-" +
         sha256_hex(container).substr(0, 8);
}

Result<std::string> pinned_image(std::string_view text) {
  if (text.empty()) return invalid("parameter image: set-image needs --image REPOSITORY@sha256:DIGEST");
  auto reference = oci::parse_reference(text);
  if (!reference) return invalid("parameter image: " + reference.error().message());
  if (reference->digest.empty()) {
    return invalid("parameter image: '" + std::string(text) +
                   "' is a tag, not a digest: whoever can push to the registry can move a tag; give "
                   "REPOSITORY@sha256:DIGEST (verify-image's image output)");
  }
  // A tag beside the digest means nothing to the runtime: leave it out, so
  // that nobody reading the spec takes it for what runs.
  std::string name(text.substr(0, text.find('@')));
  if (!reference->tag.empty()) name.resize(name.size() - reference->tag.size() - 1);
  return name + "@" + reference->digest;
}

Result<std::vector<ContainerImage>> choose_containers(const json::object& pod_spec, std::string_view image,
                                                      std::string_view container,
                                                      std::string_view workload_id,
                                                      const ImageQuery* replacing) {
  const auto all = containers_of(pod_spec);
  if (!container.empty()) {
    for (const auto& candidate : all) {
      if (candidate.container == container) return std::vector<ContainerImage>{candidate};
    }
    return invalid("parameter container: '" + std::string(container) + "' is not a container of " +
                   std::string(workload_id) + " (it has: " + names_of(pod_spec) + ")");
  }
  const auto regular =
      std::count_if(all.begin(), all.end(), [](const ContainerImage& c) { return c.list == "containers"; });
  const bool only_one = regular == 1 && !all.empty() && all.front().list == "containers";
  if (replacing != nullptr) {
    std::vector<ContainerImage> running;
    std::copy_if(all.begin(), all.end(), std::back_inserter(running),
                 [&](const ContainerImage& c) { return runs_image(*replacing, c.image); });
    if (!running.empty()) return running;
    // Found by the digest its node reports (a tag that moved): the spec
    // does not say which container; the only one is.
    if (only_one) return std::vector<ContainerImage>{all.front()};
    return invalid("parameter container: " + std::string(workload_id) + " has several containers (" +
                   names_of(pod_spec) +
                   ") and none names the image being replaced in its spec: name the one " +
                   "to change with --container");
  }
  auto wanted = oci::parse_reference(image);
  if (!wanted) return wanted.error().with("parameter image");
  std::vector<ContainerImage> matching;
  std::copy_if(all.begin(), all.end(), std::back_inserter(matching),
               [&](const ContainerImage& c) { return same_repository(*wanted, c.image); });
  if (!matching.empty()) return matching;
  if (only_one) return std::vector<ContainerImage>{all.front()};
  return invalid("parameter container: " + std::string(workload_id) + " has several containers (" +
                 names_of(pod_spec) + ") and none runs " + wanted->registry + "/" + wanted->repository +
                 ": name the one to change with --container");
}

// Every workload is read and its containers chosen before any is changed:
// a target that is missing or ambiguous changes nothing. The patch is
// conditional on the resourceVersion read, and controllers write the
// workload's status all the time: on a conflict, read and choose again, a
// bounded number of times.
Result<void> set_image(const Options& options, Context& context, k8s::Client& client,
                       const std::vector<Workload>& workloads) {
  constexpr int attempts = 5;
  std::vector<Planned> plans;
  for (const auto& workload : workloads) {
    auto planned = plan(options, client, workload);
    if (!planned) return planned.error();
    plans.push_back(std::move(*planned));
  }
  Outcome outcome;
  for (std::size_t i = 0; i < workloads.size(); ++i) {
    const auto& workload = workloads[i];
    for (int attempt = 1;; ++attempt) {
      if (attempt > 1) {
        auto again = plan(options, client, workload);
        if (!again) return again.error();
        plans[i] = std::move(*again);
      }
      Outcome tried;
      auto done = set_image_once(options, context, client, workload, plans[i], tried);
      if (done) {
        for (auto& entry : tried.images) outcome.images.push_back(std::move(entry));
        outcome.changed = outcome.changed || tried.changed;
        break;
      }
      if (done.error().code() != Code::conflict || attempt == attempts) return done;
      log::warn("rollout.set_image.conflict", {{"workload", workload.id()}, {"attempt", attempt}});
    }
    if (workload.resource.kind == "CronJob")
      warn_of_running_jobs(context, workload, plans[i].object, options.image);
  }
  context.report().set_output("image", options.image);
  context.report().set_output("images", boost::json::serialize(outcome.images));
  context.report().set_output("changed", outcome.changed ? "true" : "false");
  return {};
}

}  // namespace ir::steps::rollout
