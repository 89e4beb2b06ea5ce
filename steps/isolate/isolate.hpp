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

// Which deny the quarantine gets besides the Kubernetes NetworkPolicy:
// auto_detect adds the network plugin's own deny policy where the plugin is
// found (its policy API served and its agent DaemonSet present); kubernetes
// adds none; cilium and calico add theirs or refuse (exit 2) when the
// cluster does not serve its API.
enum class Enforcement { auto_detect, kubernetes, cilium, calico };

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
  Enforcement enforcement = Enforcement::auto_detect;
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

// The network plugin's deny policy (cni.cpp). Kubernetes NetworkPolicies
// only add allowances, so another policy that allows traffic to a
// quarantined pod opens it again; Cilium's deny rules and Calico's ordered
// Deny rules win over such allowances.
enum class Cni { none, cilium, calico };
namespace resources {
extern const k8s::Resource cilium_network_policies;  // cilium.io/v2 CiliumNetworkPolicy
extern const k8s::Resource calico_network_policies;  // crd.projectcalico.org/v1 NetworkPolicy
}  // namespace resources
[[nodiscard]] const k8s::Resource& cni_resource(Cni cni);
[[nodiscard]] std::string_view cni_name(Cni cni);  // "cilium", "calico", "" for none
// Cilium: the NetworkPolicy's name. Calico: the same in the default tier,
// "default.<name>", as Calico's datastore names a policy of that tier.
[[nodiscard]] std::string cni_policy_name(const Options& options, Cni cni);
// Deny all ingress and egress of the pods labelled with the incident's
// quarantine label (with --deny-cidr: only those CIDRs). Calico's keeps the
// allowances (--allow-*) as Allow rules before its Deny.
[[nodiscard]] json::object build_cilium_policy(const Options& options);
[[nodiscard]] json::object build_calico_policy(const Options& options);

// What the cluster has: whether it serves each plugin's policy resource,
// and the names of the network plugin DaemonSets found.
struct CniSeen {
  bool cilium_served = false;
  bool calico_served = false;
  std::vector<std::string> daemonsets;
};
// The plugin whose deny policy to write. Explicit cilium/calico without
// its served API, or cilium with an --allow-* option (Cilium's deny wins
// over every allow, so the allowances could not hold): invalid input.
// `notes` gets why auto chose none when a plugin API is served.
[[nodiscard]] Result<Cni> choose_cni(const Options& options, const CniSeen& seen,
                                     std::vector<std::string>& notes);
// Whether the API server serves `resource` (its group version's discovery
// document lists it); discovery needs no RBAC rights.
[[nodiscard]] Result<bool> serves(k8s::Client& client, const k8s::Resource& resource);

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
