// isolate: the container-compromise playbook's "Isolate the container".
// Quarantines exactly the named pods (or every pod of their workloads) with a
// NetworkPolicy that denies ingress and egress, optionally detaches them from
// their controller and Services, and undoes all of it with --release.
#pragma once

#include "ir/driver/step.hpp"
#include "ir/k8s/writer.hpp"

#include <optional>
#include <string>
#include <vector>

namespace ir::steps::isolate {

inline constexpr std::string_view quarantine_label = "irsteps.io/quarantine";
inline constexpr std::string_view incident_label = "irsteps.io/incident";
inline constexpr std::string_view detached_annotation = "irsteps.io/detached-labels";
inline constexpr std::string_view managed_by_label = "app.kubernetes.io/managed-by";
// On a quarantine NetworkPolicy: the names of the pods isolated with it, as
// a JSON array. A pod gone since (deleted after its evidence was captured)
// is then known as handled, not missing.
inline constexpr std::string_view isolated_pods_annotation = "irsteps.io/isolated-pods";

enum class Scope { pods, workload };

struct Options : CommonOptions {
  std::string ns;
  std::vector<std::string> pods;
  std::string selector;
  Scope scope = Scope::pods;
  bool allow_dns = false;
  std::vector<std::string> allow_cidrs;
  std::vector<std::string> allow_namespaces;
  std::vector<std::string> deny_cidrs;
  bool detach = false;
  bool release = false;
  bool strict = false;
};

[[nodiscard]] Result<Options> options_from(const json::object& params);
[[nodiscard]] Result<void> run(const Options& options, Context& context);
[[nodiscard]] const StepDef& step();

// A pod-selected workload: what the policy of --scope workload selects.
struct Workload {
  k8s::Resource resource;
  std::string name;
  json::object selector;  // the workload's spec.selector (a LabelSelector)
};

// Deterministic names, so that re-runs and --release find what a run made.
[[nodiscard]] std::string policy_name(const Options& options);
[[nodiscard]] std::string policy_name(const Options& options, const Workload& workload);
[[nodiscard]] json::object build_policy(const Options& options, const std::string& name,
                                        const json::object& pod_selector);
[[nodiscard]] json::object build_event(const Options& options, const json::object& pod,
                                       std::string_view reason, std::string message);

// Detach: the labels of `pod` that the controller's and Services' selectors
// use, which isolate removes (and --release restores).
[[nodiscard]] Result<json::object> labels_to_detach(k8s::Client& client, const json::object& pod,
                                                    const json::array& services);
[[nodiscard]] Result<Workload> top_workload(k8s::Client& client, const json::object& pod);

[[nodiscard]] Result<void> release(const Options& options, Context& context, k8s::Client& client);

// A pod that is gone but was isolated before: the earlier incident and the
// NetworkPolicy whose isolated_pods_annotation names it.
struct Handled {
  std::string incident;
  std::string policy;
};
// Among `policies` (a NetworkPolicyList's items), the irsteps quarantine
// that isolated `pod`, if any.
[[nodiscard]] std::optional<Handled> find_handled(const json::array& policies, const std::string& pod);
// The annotation's names, or none when it is absent or not a JSON array of strings.
[[nodiscard]] std::vector<std::string> isolated_pods(const json::object& policy);
// Sets the annotation to `names`.
void set_isolated_pods(json::object& policy, const std::vector<std::string>& names);

// A NetworkPolicy other than the quarantine's that still allows traffic to
// or from quarantined pods: its name, "Ingress" or "Egress", the peers and
// ports it allows, and the pods it selects.
struct OpenPath {
  std::string policy;
  std::string direction;
  std::string peers;
  std::string pods;
};
[[nodiscard]] std::vector<OpenPath> open_paths(const json::array& policies,
                                               const std::vector<std::string>& ours,
                                               const std::vector<json::object>& pods);
// "Service S still selects pod P" for each Service whose selector picks a pod.
[[nodiscard]] std::vector<std::string> services_still_selecting(const json::array& services,
                                                                const std::vector<json::object>& pods);

}  // namespace ir::steps::isolate
