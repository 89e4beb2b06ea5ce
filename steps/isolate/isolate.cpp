#include "isolate.hpp"

#include "ir/core/log.hpp"
#include "ir/k8s/workload.hpp"
#include "ir/params/params.hpp"

#include <boost/json/serialize.hpp>

#include <algorithm>
#include <set>

namespace ir::steps::isolate {
namespace {

// Network plugins that enforce NetworkPolicy, by the names of their agents.
constexpr std::string_view enforcing_plugins[] = {"calico",   "cilium",      "weave",
                                                  "antrea",   "kube-router", "canal",
                                                  "kube-ovn", "azure-npm",   "network-policy-agent",
                                                  "anetd"};

std::string name_of(const json::object& object) {
  return string_at(object, {"metadata", "name"});
}

json::object label_patch(const Options& options, const json::object& removed_labels,
                         const json::object& pod) {
  json::object labels{{quarantine_label, options.incident_id}};
  json::object patch_metadata;
  if (!removed_labels.empty()) {
    for (const auto& entry : removed_labels) labels[entry.key()] = nullptr;
    // Keep what an earlier run detached, so that --release restores it all.
    json::object detached = removed_labels;
    const std::string earlier = string_at(pod, {"metadata", "annotations", detached_annotation});
    if (auto parsed = parse_json(earlier, "annotation"); !earlier.empty() && parsed && parsed->is_object()) {
      for (const auto& entry : parsed->get_object()) detached[entry.key()] = entry.value();
    }
    patch_metadata["annotations"] = json::object{{detached_annotation, boost::json::serialize(detached)}};
  }
  patch_metadata["labels"] = std::move(labels);
  return {{"metadata", std::move(patch_metadata)}};
}

// The pods to isolate; a named pod that does not exist is `missing`, for
// the caller to tell a pod already handled from one that never was.
struct Found {
  std::vector<json::object> pods;
  std::vector<std::string> missing;
};

Result<Found> find_pods(const Options& options, k8s::Client& client) {
  Found found;
  if (!options.pods.empty()) {
    for (const auto& name : options.pods) {
      auto pod = client.get(k8s::resources::pods, options.ns, name);
      if (!pod) {
        if (pod.error().code() != Code::not_found) return pod.error();
        found.missing.push_back(name);
        continue;
      }
      found.pods.push_back(std::move(*pod));
    }
    return found;
  }
  auto listed = client.list(k8s::resources::pods, options.ns, {options.selector, {}});
  if (!listed) return listed.error();
  for (auto& item : listed->at("items").as_array()) found.pods.push_back(std::move(item.as_object()));
  if (found.pods.empty()) {
    return Error(Code::not_found,
                 "no pod in namespace " + options.ns + " matches the selector " + options.selector);
  }
  return found;
}

// Named pods that are gone: each must be one an earlier run isolated (a
// quarantine NetworkPolicy of irsteps names it), deleted since — a second
// alert for the same pod, run after the first playbook finished. Then there
// is nothing left to contain, and that is reported, not an error. A pod no
// quarantine names is missing: exit as before, with nothing changed. The
// record is only trusted for a pod that no longer exists.
Result<std::vector<Handled>> handled_elsewhere(const Options& options, k8s::Client& client,
                                               const std::vector<std::string>& missing) {
  std::vector<Handled> handled;
  if (missing.empty()) return handled;
  auto listed = client.list(k8s::resources::networkpolicies, options.ns,
                            {std::string(managed_by_label) + "=irsteps", {}});
  if (!listed) return listed.error().with("look for an earlier quarantine of the missing pods");
  for (const auto& name : missing) {
    auto found = find_handled(listed->at("items").as_array(), name);
    if (!found) return Error(Code::not_found, "pod " + name + " not found in namespace " + options.ns);
    log::info("isolate.already_handled",
              {{"pod", name}, {"incident", found->incident}, {"policy", found->policy}});
    handled.push_back(std::move(*found));
  }
  return handled;
}

// What a run reports about pods handled before: "incident" and "policy"
// each comma-joined, without repeats.
std::string joined(const std::vector<Handled>& handled, std::string Handled::*field) {
  std::string out;
  for (const auto& h : handled) {
    if (("," + out + ",").find("," + h.*field + ",") == std::string::npos)
      out += (out.empty() ? "" : ",") + h.*field;
  }
  return out;
}

// --scope workload: the owning workloads, and every pod they have now.
Result<std::vector<Workload>> expand_to_workloads(const Options& options, k8s::Client& client,
                                                  std::vector<json::object>& pods) {
  std::vector<Workload> workloads;
  for (const auto& pod : pods) {
    auto workload = top_workload(client, pod);
    if (!workload) return workload.error();
    const bool known = std::any_of(workloads.begin(), workloads.end(), [&](const Workload& w) {
      return w.resource.kind == workload->resource.kind && w.name == workload->name;
    });
    if (!known) workloads.push_back(std::move(*workload));
  }
  std::set<std::string> seen;
  for (const auto& pod : pods) seen.insert(name_of(pod));
  for (const auto& workload : workloads) {
    auto listed =
        client.list(k8s::resources::pods, options.ns, {k8s::selector_string(workload.selector), {}});
    if (!listed) return listed.error();
    for (auto& item : listed->at("items").as_array()) {
      if (seen.insert(name_of(item.as_object())).second) pods.push_back(std::move(item.as_object()));
    }
  }
  return workloads;
}

// A policy an earlier run of the same incident made keeps the pods it
// names (they may be gone by now) before the pods isolated now, so that none
// is forgotten once deleted.
void keep_recorded_pods(json::object& desired, const json::object& live) {
  auto names = isolated_pods(live);
  for (auto& name : isolated_pods(desired)) {
    if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(std::move(name));
  }
  set_isolated_pods(desired, names);
}

Result<void> verify(const Options& options, k8s::Client& client, const std::vector<json::object>& policies,
                    const std::vector<json::object>& pods, Cni cni, const json::object& cni_policy) {
  if (cni != Cni::none) {
    const std::string name = name_of(cni_policy);
    auto live = client.get(cni_resource(cni), options.ns, name);
    if (!live) return live.error().with("read back");
    const json::value live_value(*live);
    if (!k8s::contained_in(cni_policy.at("spec"), find(live_value, {"spec"}))) {
      return Error(Code::action_failed, std::string(cni_resource(cni).kind) + " " + name +
                                            " read back differs from what was applied");
    }
  }
  for (const auto& expected : policies) {
    const std::string name = name_of(expected);
    auto live = client.get(k8s::resources::networkpolicies, options.ns, name);
    if (!live) return live.error().with("read back");
    const json::value live_value(*live);
    const auto* selector = find(live_value, {"spec", "podSelector"});
    const auto* types = find(live_value, {"spec", "policyTypes"});
    const auto& wanted = expected.at("spec").as_object();
    if (selector == nullptr || *selector != wanted.at("podSelector") || types == nullptr ||
        *types != wanted.at("policyTypes")) {
      return Error(Code::action_failed, "NetworkPolicy " + name + " read back differs from what was applied");
    }
  }
  auto labelled = client.list(k8s::resources::pods, options.ns,
                              {std::string(quarantine_label) + "=" + options.incident_id, {}});
  if (!labelled) return labelled.error().with("read back");
  std::set<std::string> present;
  for (const auto& item : labelled->at("items").as_array()) present.insert(name_of(item.as_object()));
  for (const auto& pod : pods) {
    if (present.count(name_of(pod)) == 0) {
      return Error(Code::action_failed,
                   "pod " + name_of(pod) + " does not carry the quarantine label after labelling");
    }
  }
  return {};
}

void warn_about_enforcement(Context& context, const Result<json::object>& daemonsets,
                            const std::vector<json::object>& pods) {
  for (const auto& pod : pods) {
    const auto* host_network = find(pod, {"spec", "hostNetwork"});
    if (host_network != nullptr && host_network->is_bool() && host_network->get_bool()) {
      context.warn("pod " + name_of(pod) +
                   " uses hostNetwork: a NetworkPolicy cannot restrict it; "
                   "consider --detach and deleting it after the evidence is captured");
    }
  }
  if (!daemonsets) {
    context.warn("could not check for a NetworkPolicy-enforcing network plugin (" +
                 daemonsets.error().describe() + ")");
  } else {
    bool found = false;
    for (const auto& item : daemonsets->at("items").as_array()) {
      const auto* spec = k8s::pod_spec_of(item.as_object());
      const auto* containers = spec != nullptr ? spec->if_contains("containers") : nullptr;
      const std::string text = boost::json::serialize(item.at("metadata").at("name")) +
                               boost::json::serialize(containers != nullptr ? *containers : json::value());
      for (const auto plugin : enforcing_plugins) found = found || text.find(plugin) != std::string::npos;
    }
    if (!found) {
      context.warn(
          "no NetworkPolicy-enforcing network plugin was detected in kube-system: "
          "the policy exists but may not be enforced");
    }
  }
  context.warn("connections established before isolation may survive, depending on the network plugin");
}

// The quarantine holds only when nothing else lets traffic through: every
// other policy that selects a quarantined pod and allows a direction, and
// with --detach every Service that still selects one, is a finding; the
// pods are then only partly isolated (--strict: exit 3).
Result<void> check_exposure(const Options& options, Context& context, k8s::Client& client,
                            const std::vector<json::object>& policies, const std::vector<json::object>& pods,
                            const json::array& services, const std::string& overriding) {
  auto listed = client.list(k8s::resources::networkpolicies, options.ns);
  if (!listed) return listed.error().with("check the namespace's other NetworkPolicies");
  std::vector<std::string> ours;
  for (const auto& policy : policies) ours.push_back(name_of(policy));
  std::vector<std::string> findings;
  std::string open_policies;
  for (const auto& path : open_paths(listed->at("items").as_array(), ours, pods)) {
    if (!overriding.empty()) {
      // The network plugin's deny decides before any NetworkPolicy's allow.
      context.warn("NetworkPolicy " + path.policy + " would allow " +
                   (path.direction == "Ingress" ? "ingress from " : "egress to ") + path.peers +
                   " for pods " + path.pods + "; " + overriding + " denies it first");
      continue;
    }
    findings.push_back("NetworkPolicy " + path.policy + " still allows " +
                       (path.direction == "Ingress" ? "ingress from " : "egress to ") + path.peers +
                       " for pods " + path.pods);
    if (("," + open_policies + ",").find("," + path.policy + ",") == std::string::npos) {
      open_policies += (open_policies.empty() ? "" : ",") + path.policy;
    }
  }
  // A dry run relabels nothing, so every Service would still select the pods.
  if (options.detach && !options.dry_run) {
    for (auto& service : services_still_selecting(services, pods)) findings.push_back(std::move(service));
  }
  for (const auto& finding : findings) context.warn(finding);
  context.report().set_output("isolated", findings.empty() ? "full" : "partial");
  context.report().set_output("open-policies", open_policies);
  if (!findings.empty() && options.strict) {
    return Error(Code::rejected, "the pods are only partly isolated (" + std::to_string(findings.size()) +
                                     " finding" + (findings.size() == 1 ? "" : "s") +
                                     "; first: " + findings.front() + "); the quarantine stays in place");
  }
  return {};
}

// The network plugins' DaemonSets by "namespace/name": those of kube-system
// (listed once for this and for warn_about_enforcement), and the Tigera
// operator's calico-node when Calico's API is served.
Result<Cni> detect_cni(const Options& options, Context& context, k8s::Client& client,
                       const Result<json::object>& daemonsets) {
  CniSeen seen;
  if (options.enforcement == Enforcement::kubernetes) return Cni::none;
  if (options.enforcement != Enforcement::calico) {
    auto served = serves(client, resources::cilium_network_policies);
    if (!served) return served.error();
    seen.cilium_served = *served;
  }
  if (options.enforcement != Enforcement::cilium) {
    auto served = serves(client, resources::calico_network_policies);
    if (!served) return served.error();
    seen.calico_served = *served;
  }
  if (options.enforcement == Enforcement::auto_detect && (seen.cilium_served || seen.calico_served)) {
    if (daemonsets) {
      for (const auto& item : daemonsets->at("items").as_array())
        seen.daemonsets.push_back("kube-system/" + name_of(item.as_object()));
    }
    if (seen.calico_served) {
      auto operator_agent = client.get(k8s::resources::daemonsets, "calico-system", "calico-node");
      if (operator_agent) seen.daemonsets.emplace_back("calico-system/calico-node");
    }
  }
  std::vector<std::string> notes;
  auto cni = choose_cni(options, seen, notes);
  for (auto& note : notes) context.warn(std::move(note));
  return cni;
}

}  // namespace

Result<Options> options_from(const json::object& params) {
  Options options;
  options.ns = param_string(params, "namespace");
  options.pods = param_strings(params, "pod");
  options.selector = param_string(params, "selector");
  options.scope = param_string(params, "scope", "pods") == "workload" ? Scope::workload : Scope::pods;
  options.allow_dns = param_bool(params, "allow-dns");
  options.allow_cidrs = param_strings(params, "allow-cidr");
  options.allow_namespaces = param_strings(params, "allow-namespace");
  options.deny_cidrs = param_strings(params, "deny-cidr");
  options.detach = param_bool(params, "detach");
  options.release = param_bool(params, "release");
  options.strict = param_bool(params, "strict");
  const std::string enforcement = param_string(params, "enforcement", "auto");
  options.enforcement = enforcement == "kubernetes" ? Enforcement::kubernetes
                        : enforcement == "cilium"   ? Enforcement::cilium
                        : enforcement == "calico"   ? Enforcement::calico
                                                    : Enforcement::auto_detect;
  return options;
}

Result<void> run(const Options& options, Context& context) {
  auto kube = context.kube();
  if (!kube) return kube.error();
  k8s::Client& client = **kube;
  if (options.release) return release(options, context, client);
  k8s::Writer writer(client, context.report(), options.dry_run);
  // Which deny to add is settled before anything changes: an explicit
  // plugin the cluster lacks is bad input, with nothing touched.
  const auto daemonsets = client.list(k8s::resources::daemonsets, "kube-system");
  const auto cni = detect_cni(options, context, client, daemonsets);
  if (!cni) return cni.error();
  context.report().set_output("enforcement", *cni == Cni::none ? "kubernetes" : std::string(cni_name(*cni)));
  context.report().set_output("cni-policy", "");

  std::vector<json::object> pods;
  std::vector<std::string> missing;
  std::set<std::string> labelled;
  // One named pod, nothing else to learn first: the label patch doubles as
  // the existence check, so isolation costs three requests.
  const bool direct =
      !options.dry_run && options.pods.size() == 1 && options.scope == Scope::pods && !options.detach;
  if (direct) {
    auto patched = writer.merge_patch(k8s::resources::pods, options.ns, options.pods.front(),
                                      label_patch(options, {}, {}), "quarantine label");
    if (!patched) {
      if (patched.error().code() != Code::not_found) return patched.error();
      missing.push_back(options.pods.front());
    } else {
      pods.push_back(std::move(**patched));
      labelled.insert(options.pods.front());
    }
  } else {
    auto found = find_pods(options, client);
    if (!found) return found.error();
    pods = std::move(found->pods);
    missing = std::move(found->missing);
  }
  auto handled = handled_elsewhere(options, client, missing);
  if (!handled) return handled.error();
  context.report().set_output("handled-by", joined(*handled, &Handled::incident));
  if (pods.empty()) {
    // Every named pod was isolated by an earlier run and is gone: nothing
    // is changed, and the playbook skips what would act on the pod.
    context.report().set_output("outcome", "already-handled");
    context.report().set_output("policy", joined(*handled, &Handled::policy));
    context.report().set_output("pods", "");
    context.report().set_output("pod-count", "0");
    context.report().set_output("quarantine-label", "");
    return {};
  }
  context.report().set_output("outcome", "isolated");

  std::vector<json::object> policies;
  if (options.scope == Scope::workload) {
    auto workloads = expand_to_workloads(options, client, pods);
    if (!workloads) return workloads.error();
    for (const auto& workload : *workloads) {
      policies.push_back(build_policy(options, policy_name(options, workload), workload.selector));
    }
  } else {
    policies.push_back(
        build_policy(options, policy_name(options),
                     json::object{{"matchLabels", json::object{{quarantine_label, options.incident_id}}}}));
  }
  std::vector<std::string> names;
  for (const auto& pod : pods) names.push_back(name_of(pod));
  for (auto& policy : policies) set_isolated_pods(policy, names);
  for (const auto& policy : policies) {
    auto applied =
        writer.ensure(k8s::resources::networkpolicies, options.ns, policy,
                      "deny ingress and egress for incident " + options.incident_id, keep_recorded_pods);
    if (!applied) return applied.error();
  }
  json::object cni_policy;
  std::string overriding;
  if (*cni != Cni::none) {
    cni_policy = *cni == Cni::cilium ? build_cilium_policy(options) : build_calico_policy(options);
    const std::string kind(cni_resource(*cni).kind);
    auto applied = writer.ensure(cni_resource(*cni), options.ns, cni_policy,
                                 std::string(cni_name(*cni)) + " deny for incident " + options.incident_id);
    if (!applied) return applied.error();
    context.report().set_output("cni-policy", kind + "/" + name_of(cni_policy));
    if (options.deny_cidrs.empty()) overriding = kind + " " + name_of(cni_policy);
  }

  json::array services;
  if (options.detach) {
    auto listed = client.list(k8s::resources::services, options.ns);
    if (!listed) return listed.error();
    services = std::move(listed->at("items").as_array());
  }
  for (auto& pod : pods) {
    const std::string name = name_of(pod);
    if (labelled.count(name) != 0) continue;
    json::object removed;
    if (options.detach) {
      auto to_remove = labels_to_detach(client, pod, services);
      if (!to_remove) return to_remove.error();
      removed = std::move(*to_remove);
    }
    const bool has_label = string_at(pod, {"metadata", "labels", quarantine_label}) == options.incident_id;
    if (has_label && removed.empty()) continue;  // a re-run: nothing to change
    auto patched = writer.merge_patch(
        k8s::resources::pods, options.ns, name, label_patch(options, removed, pod),
        removed.empty() ? "quarantine label" : "quarantine label; detached from selectors");
    if (!patched) return patched.error();
    if (*patched) pod = std::move(**patched);
  }

  for (const auto& pod : pods) {
    auto event =
        writer.create(k8s::resources::events, options.ns,
                      build_event(options, pod, "Isolated",
                                  "irsteps isolated this pod for incident " + options.incident_id +
                                      ": NetworkPolicy " + name_of(policies.front()) + " denies its traffic"),
                      "event on pod " + name_of(pod), true);
    if (!event) return event.error();
  }

  if (!options.dry_run) {
    if (auto verified = verify(options, client, policies, pods, *cni, cni_policy); !verified)
      return verified.error();
  }
  warn_about_enforcement(context, daemonsets, pods);

  std::string pod_names, policy_names;
  for (const auto& pod : pods) pod_names += (pod_names.empty() ? "" : ",") + name_of(pod);
  for (const auto& policy : policies) policy_names += (policy_names.empty() ? "" : ",") + name_of(policy);
  context.report().set_output("policy", policy_names);
  context.report().set_output("pods", pod_names);
  context.report().set_output("pod-count", std::to_string(pods.size()));
  context.report().set_output("quarantine-label", std::string(quarantine_label) + "=" + options.incident_id);
  return check_exposure(options, context, client, policies, pods, services, overriding);
}

const StepDef& step() {
  static const StepDef def =
      define_step<Options>("isolate", "quarantine pods with a deny-all NetworkPolicy", options_from, run);
  return def;
}

}  // namespace ir::steps::isolate
