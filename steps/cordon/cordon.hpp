// cordon: takes the nodes that run compromised pods out of scheduling.
// Each node is cordoned (spec.unschedulable) and tainted
// irsteps.io/quarantine=<incident>:NoSchedule, and records on itself, in an
// annotation per incident, what this step changed; --release undoes exactly
// that, and uncordons a node only when irsteps cordoned it and no other
// incident still holds it. Pods already on the node keep running (the
// evidence stays); new ones go elsewhere. With --evict the node is also
// emptied the way `kubectl drain --ignore-daemonsets` does it, through the
// Eviction API (PodDisruptionBudgets hold), sparing the quarantined and named
// pods (the evidence), DaemonSet pods and mirror pods, and pods no
// controller would recreate.
//
// Why evictions, not a NoExecute taint: the DaemonSet controller deletes
// every pod of a DaemonSet whose template does not tolerate a node's
// NoExecute taint (pkg/controller/daemon/daemon_controller.go,
// nodeShouldRunDaemonPod and podsShouldBeOnNode), so the taint would take the
// node's CNI agent, log shipper and Falco with it, and the taint manager's
// deletions ignore PodDisruptionBudgets.
#pragma once

#include "ir/driver/step.hpp"

#include <string>
#include <vector>

namespace ir::steps::cordon {

// The taint, and the annotations a node carries while irsteps holds it.
inline constexpr const char* taint_key = "irsteps.io/quarantine";
// One per incident: cordon.irsteps.io/<incident-id> = {"at": time}.
inline constexpr const char* incident_annotation_prefix = "cordon.irsteps.io/";
// "true" when the node was schedulable and irsteps cordoned it.
inline constexpr const char* cordoned_annotation = "irsteps.io/cordoned";

// incident_id and dry_run (CommonOptions) are filled in by define_step.
struct Options : CommonOptions {
  std::vector<std::string> nodes;
  std::string ns;
  std::vector<std::string> pods;
  bool if_host_access = false;
  bool evict = false;
  bool release = false;
};

// The parameters (already valid against schemas/cordon.schema.json) as
// Options; run() is what the tests call.
[[nodiscard]] Result<Options> options_from(const json::object& params);
[[nodiscard]] Result<void> run(const Options& options, Context& context);

// Why a pod could reach its node's host, or "" when nothing says so:
// privileged, hostPID, hostIPC, hostNetwork, a hostPath volume, or an added
// capability that breaks out (SYS_ADMIN, SYS_PTRACE, SYS_MODULE, ALL).
[[nodiscard]] std::string host_access(const json::object& pod);

// Why --evict leaves a pod on its node, or "" to evict it: terminal or
// terminating, quarantined (any incident's label), one of `named` (the
// compromised pods, "namespace/name"), a DaemonSet's or a mirror pod, or one
// no controller owns (nothing would recreate it elsewhere).
[[nodiscard]] std::string kept_on_node(const json::object& pod, const std::vector<std::string>& named);

[[nodiscard]] const StepDef& step();

}  // namespace ir::steps::cordon
