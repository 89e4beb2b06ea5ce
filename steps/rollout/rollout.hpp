// rollout: the workload actions the playbooks need, like `kubectl rollout`
// but awaited and verified: restart, status, undo, scale, set-image,
// delete-pod, find-image, check-persistence, stop.
#pragma once

#include "ir/core/time.hpp"
#include "ir/driver/step.hpp"
#include "ir/k8s/workload.hpp"

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace ir::steps::rollout {

// The workloads of lib/k8s/workload, as rollout names them.
using k8s::incident_annotation;
using k8s::parse_workload;
using k8s::pod_spec_of;
using k8s::restart;
using k8s::restart_patch;
using k8s::restarted_at_annotation;
using k8s::results_json;
using k8s::RolloutResult;
using k8s::RolloutState;
using k8s::status_state;
using k8s::wait_for_rollouts;
using k8s::Workload;

inline constexpr std::string_view previous_replicas_annotation = "irsteps.io/previous-replicas";

enum class Verb { restart, status, undo, scale, set_image, delete_pod, find_image, check_persistence, stop };

struct Options : CommonOptions {
  Verb verb = Verb::status;
  std::vector<std::string> targets;
  std::string ns;
  std::chrono::milliseconds timeout{std::chrono::minutes(5)};
  bool wait = true;
  std::optional<std::int64_t> replicas;
  bool restore = false;
  std::int64_t to_revision = 0;
  std::optional<std::int64_t> grace_period;
  bool force = false;
  std::string selector;
  std::optional<TimePoint> since;
  std::string image;      // set-image: REPOSITORY@sha256:DIGEST, its tag left out
  std::string container;  // set-image: the container to change
  std::string replacing;  // set-image: the image being replaced (its containers are the ones changed)
  std::string digest;     // find-image, set-image --replacing: the verified digest (sha256:...) as well
};

[[nodiscard]] Result<Options> options_from(const json::object& params);
// GETs a workload; not found is "KIND/NAME not found in namespace NS".
[[nodiscard]] Result<json::object> get_workload(k8s::Client& client, const Workload& workload);
[[nodiscard]] Result<void> run(const Options& options, Context& context);
[[nodiscard]] const StepDef& step();

// inspect.cpp: the verbs that only read.
struct ImageRef {
  std::string repository;  // "docker.io/library/nginx" form, normalised
  std::string tag;         // empty when the reference is by digest only
  std::string digest;      // "sha256:..." when given
};
[[nodiscard]] Result<ImageRef> parse_image_ref(std::string_view text);
[[nodiscard]] bool image_matches(const ImageRef& wanted, std::string_view image,
                                 std::string_view image_id = {});
[[nodiscard]] Result<void> check_persistence(const Options& options, Context& context, k8s::Client& client);

// find_image.cpp: the workloads that run an image, found by its tag, by
// its digest in a pod spec, and by the digest the node reports in pod
// status (imageID), each pod walked up its owners to the workload.
struct ImageQuery {
  ImageRef ref;                      // what the user named
  std::vector<std::string> digests;  // "sha256:..." from the reference and from --digest
};
// `parameter` names the reference's parameter in errors.
[[nodiscard]] Result<ImageQuery> image_query(std::string_view reference, std::string_view digest,
                                             std::string_view parameter = "target");
// A spec image (and the status imageID, when known) runs the image: by
// digest when the spec pins one or the imageID carries one; else by
// repository and tag.
[[nodiscard]] bool runs_image(const ImageQuery& query, std::string_view image,
                              std::string_view image_id = {});
[[nodiscard]] Result<void> find_image(const Options& options, Context& context, k8s::Client& client);

// stop.cpp: take workloads out of service, each by its kind, restorably
// where the kind allows.
inline constexpr std::string_view previous_suspend_annotation = "irsteps.io/previous-suspend";
inline constexpr std::string_view previous_parallelism_annotation = "irsteps.io/previous-parallelism";
inline constexpr std::string_view previous_node_selector_annotation = "irsteps.io/previous-node-selector";
inline constexpr std::string_view stopped_by_label = "irsteps.io/stopped-by";
struct StopTarget {
  k8s::Resource resource;  // Deployment, StatefulSet, ReplicaSet, DaemonSet, Job, CronJob or Pod
  std::string ns;
  std::string name;
  [[nodiscard]] std::string id() const;  // "cronjob/nightly"
};
// [NAMESPACE/]KIND/NAME, as find-image writes them.
[[nodiscard]] Result<StopTarget> parse_stop_target(std::string_view target, std::string_view ns);
[[nodiscard]] Result<void> stop(const Options& options, Context& context, k8s::Client& client);

// set_image.cpp
struct ContainerImage {
  std::string list;  // "containers" or "initContainers"
  std::string container;
  std::string image;
};
// A pod spec's containers and init containers, in that order.
[[nodiscard]] std::vector<ContainerImage> containers_of(const json::object& pod_spec);
// The strategic merge patch that gives each of `images` its image (lists
// merge by container name) and writes `annotations` (null deletes one),
// conditional on `resource_version`, in the workload's pod template.
[[nodiscard]] json::object images_patch(const Workload& workload, std::string_view resource_version,
                                        json::object annotations, const std::vector<ContainerImage>& images);
// The `spec` part of a patch that puts `pod_spec` into the workload's pod
// template (spec.template, a CronJob's spec.jobTemplate.spec.template).
[[nodiscard]] json::object template_patch(const Workload& workload, json::object pod_spec);
// The annotation on the workload that keeps a container's image from before
// set-image changed it: irsteps.io/previous-image-<container>.
[[nodiscard]] std::string previous_image_annotation(std::string_view container);
// The image by digest (a tag beside it left out); a tag alone is refused.
[[nodiscard]] Result<std::string> pinned_image(std::string_view text);
// The containers set-image changes: the one named; else, with `replacing`,
// those that run the image being replaced (by tag, or by digest when it
// pins one), else the only container; else those that run the new image's
// repository, else the only container. Ambiguity is refused.
[[nodiscard]] Result<std::vector<ContainerImage>> choose_containers(const json::object& pod_spec,
                                                                    std::string_view image,
                                                                    std::string_view container,
                                                                    std::string_view workload_id,
                                                                    const ImageQuery* replacing = nullptr);
[[nodiscard]] Result<void> set_image(const Options& options, Context& context, k8s::Client& client,
                                     const std::vector<Workload>& workloads);
// persistence.cpp: whether an object of the checked namespace is persistence.
// An owner lookup returns the object of that kind, namespace and name, or
// nullopt when it is gone.
using OwnerLookup = std::function<Result<std::optional<json::object>>(
    std::string_view kind, const std::string& ns, const std::string& name)>;
struct PersistenceVerdict {
  bool flagged = false;
  std::string reason;   // "created in the window", "made by ns/replicaset/web-1 from its template, ..."
  std::string created;  // RFC 3339
  std::string changed;  // the last write that was not a controller keeping its books
};
// Judges objects against one window [since, now), looking each owner up once.
class PersistenceJudge {
 public:
  PersistenceJudge(std::string since, std::string incident_id, OwnerLookup lookup);
  ~PersistenceJudge();
  PersistenceJudge(const PersistenceJudge&) = delete;
  PersistenceJudge& operator=(const PersistenceJudge&) = delete;
  [[nodiscard]] Result<PersistenceVerdict> judge(const json::object& object, std::string_view kind);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// undo.cpp
[[nodiscard]] Result<void> undo(const Options& options, Context& context, k8s::Client& client,
                                const Workload& workload);

}  // namespace ir::steps::rollout
