#include "cordon.hpp"

#include "ir/core/json.hpp"
#include "ir/core/time.hpp"
#include "ir/k8s/client.hpp"
#include "ir/k8s/event.hpp"
#include "ir/k8s/writer.hpp"
#include "ir/params/params.hpp"

#include <algorithm>
#include <functional>
#include <optional>

namespace ir::steps::cordon {
namespace {

std::string annotation_key(const std::string& incident_id) {
  return incident_annotation_prefix + incident_id;
}

const json::object* annotations_of(const json::object& node) {
  const auto* found = find(node, {"metadata", "annotations"});
  return found != nullptr && found->is_object() ? &found->get_object() : nullptr;
}

// The incidents whose cordon the node records.
std::vector<std::string> holders(const json::object& node) {
  std::vector<std::string> out;
  if (const auto* annotations = annotations_of(node)) {
    const std::string_view prefix = incident_annotation_prefix;
    for (const auto& [key, value] : *annotations) {
      if (std::string_view(key).starts_with(prefix))
        out.emplace_back(std::string_view(key).substr(prefix.size()));
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

bool unschedulable(const json::object& node) {
  const auto* value = find(node, {"spec", "unschedulable"});
  return value != nullptr && value->is_bool() && value->get_bool();
}

// The value of our taint, or nullopt when the node has none.
std::optional<std::string> our_taint(const json::object& node) {
  if (const auto* taints = find(node, {"spec", "taints"}); taints != nullptr && taints->is_array()) {
    for (const auto& taint : taints->get_array()) {
      if (string_at(taint, {"key"}) == taint_key && string_at(taint, {"effect"}) == "NoSchedule")
        return string_at(taint, {"value"});
    }
  }
  return std::nullopt;
}

json::object taint(const std::string& incident_id) {
  return {{"key", taint_key}, {"value", incident_id}, {"effect", "NoSchedule"}};
}

// The node's taints with ours set to `value`, or removed when it is empty;
// every other taint as it is.
json::array taints_with(const json::object& node, const std::string& value) {
  json::array out;
  bool placed = false;
  if (const auto* taints = find(node, {"spec", "taints"}); taints != nullptr && taints->is_array()) {
    for (const auto& t : taints->get_array()) {
      const bool ours = string_at(t, {"key"}) == taint_key && string_at(t, {"effect"}) == "NoSchedule";
      if (!ours) {
        out.push_back(t);
      } else if (!value.empty() && !placed) {
        out.push_back(taint(value));
        placed = true;
      }
    }
  }
  if (!value.empty() && !placed) out.push_back(taint(value));
  return out;
}

// Node taints are a plain list to every patch type (core/v1 NodeSpec has no
// patch strategy for them), so the whole list is written, and only onto the
// node as it was read: the patch carries its resourceVersion, which the API
// server takes as a precondition (409 Conflict when someone changed the
// node meanwhile). A conflict reads the node again, a few times.
constexpr int conflict_attempts = 5;

using Change = std::function<std::optional<json::object>(const json::object& node, std::string& detail)>;

// Applies `change` (the patch for the node as read, or nullopt for nothing
// to do); true when the node was patched, and then `read_node` (when given)
// is the node as it was read before the patch.
Result<bool> patch_node(k8s::Client& client, k8s::Writer& writer, const std::string& name,
                        const Change& change, json::object* read_node = nullptr) {
  for (int attempt = 1;; ++attempt) {
    auto node = client.get(k8s::resources::nodes, "", name);
    if (!node) return node.error();
    std::string detail;
    auto patch = change(*node, detail);
    if (!patch) return false;
    (*patch)["metadata"].as_object()["resourceVersion"] = string_at(*node, {"metadata", "resourceVersion"});
    auto patched = writer.merge_patch(k8s::resources::nodes, "", name, *patch, detail);
    if (patched) {
      if (read_node != nullptr) *read_node = std::move(*node);
      return true;
    }
    if (patched.error().code() != Code::conflict || attempt == conflict_attempts) return patched.error();
  }
}

Result<void> hold(const Options& options, k8s::Client& client, k8s::Writer& writer, const std::string& name,
                  Context& context, std::vector<std::string>& changed) {
  json::object node;
  auto done = patch_node(
      client, writer, name,
      [&](const json::object& live, std::string& detail) -> std::optional<json::object> {
        const auto held = holders(live);
        const bool already = std::find(held.begin(), held.end(), options.incident_id) != held.end();
        if (already && unschedulable(live) && our_taint(live)) return std::nullopt;  // a re-run
        json::object annotations{
            {annotation_key(options.incident_id), json::serialize(json::object{{"at", format_utc(now())}})}};
        // Only a node irsteps made unschedulable is made schedulable again.
        if (!unschedulable(live)) annotations[cordoned_annotation] = "true";
        json::object spec{{"unschedulable", true}};
        if (!our_taint(live)) spec["taints"] = taints_with(live, options.incident_id);
        detail = "cordon and taint " + std::string(taint_key) + "=" + options.incident_id + ":NoSchedule";
        return json::object{{"metadata", json::object{{"annotations", std::move(annotations)}}},
                            {"spec", std::move(spec)}};
      },
      &node);
  if (!done) return done.error();
  if (!*done) return {};
  changed.push_back(name);
  auto event = writer.create(
      k8s::resources::events, "default",
      k8s::build_event({.involved = k8s::reference_of(k8s::resources::nodes, "", name,
                                                      string_at(node, {"metadata", "uid"})),
                        .ns = "default",
                        .step = "cordon",
                        .incident_id = options.incident_id,
                        .reason = "Cordoned",
                        .message = "irsteps cordoned this node for incident " + options.incident_id +
                                   ": no new pods are scheduled here; the pods on it keep running"}),
      "event on node " + name, true);
  if (!event)
    context.warn("node " + name +
                 " is cordoned but its Event could not be recorded: " + event.error().describe());
  return {};
}

Result<void> let_go(const Options& options, k8s::Client& client, k8s::Writer& writer, const std::string& name,
                    std::vector<std::string>& changed) {
  auto done = patch_node(
      client, writer, name,
      [&](const json::object& live, std::string& detail) -> std::optional<json::object> {
        auto held = holders(live);
        const auto mine = std::find(held.begin(), held.end(), options.incident_id);
        if (mine == held.end()) return std::nullopt;  // nothing of this incident to undo
        held.erase(mine);
        json::object annotations{{annotation_key(options.incident_id), nullptr}};
        json::object spec;
        const auto taint_value = our_taint(live);
        if (held.empty()) {
          // The last holder: the taint goes, and the cordon if irsteps made it.
          if (taint_value) spec["taints"] = taints_with(live, "");
          const auto* now_annotations = annotations_of(live);
          if (now_annotations != nullptr && string_at(*now_annotations, {cordoned_annotation}) == "true") {
            spec["unschedulable"] = false;
            annotations[cordoned_annotation] = nullptr;
          }
          detail = "release the cordon of incident " + options.incident_id;
        } else {
          // Others still hold it: the taint stays, naming one of them.
          if (taint_value && *taint_value == options.incident_id)
            spec["taints"] = taints_with(live, held.front());
          detail = "release incident " + options.incident_id + "; still held by " + held.front();
        }
        json::object patch{{"metadata", json::object{{"annotations", std::move(annotations)}}}};
        if (!spec.empty()) patch["spec"] = std::move(spec);
        return patch;
      });
  if (!done) return done.error();
  if (*done) changed.push_back(name);
  return {};
}

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ",") + item;
  return out;
}

// --evict: every pod on the node but those kept_on_node spares, through the
// Eviction API. A pod a PodDisruptionBudget keeps (429 after the client's
// retries) or that cannot be evicted otherwise is named in `refused` and
// the others are still tried; the caller fails the step then, with
// `failure` the code to fail with: action_failed for budgets, transient
// when the API server failed otherwise.
Result<void> empty_node(const Options& options, k8s::Client& client, k8s::Writer& writer, Context& context,
                        const std::string& node, const std::vector<std::string>& named,
                        std::vector<std::string>& evicted, std::vector<std::string>& kept,
                        std::vector<std::string>& refused, Code& failure) {
  k8s::ListOptions list_options;
  list_options.field_selector = "spec.nodeName=" + node;
  auto pods = client.list(k8s::resources::pods, "", list_options);
  if (!pods) return pods.error();
  for (const auto& item : pods->at("items").as_array()) {
    const auto& pod = item.as_object();
    const std::string ns = string_at(pod, {"metadata", "namespace"});
    const std::string name = string_at(pod, {"metadata", "name"});
    const std::string id = ns + "/" + name;
    if (const std::string why = kept_on_node(pod, named); !why.empty()) {
      // Only the spared pods worth naming: not the terminal ones.
      if (why != "finished" && why != "terminating") kept.push_back(id + " (" + why + ")");
      continue;
    }
    auto done = writer.evict(ns, name, string_at(pod, {"metadata", "uid"}),
                             "evict from node " + node + " for incident " + options.incident_id);
    if (done) {
      if (*done) evicted.push_back(id);
      continue;
    }
    const Code code = done.error().code();
    if (code == Code::forbidden || code == Code::internal) return done.error();
    // 429 TooManyRequests is a PodDisruptionBudget's answer
    // (pkg/registry/core/pod/storage/eviction.go); anything else transient
    // is the API server failing.
    if (code == Code::transient && done.error().reason() != "TooManyRequests") failure = Code::transient;
    context.warn("pod " + id + " was not evicted: " + done.error().describe());
    refused.push_back(id + " (" + done.error().describe() + ")");
  }
  return {};
}

}  // namespace

std::string kept_on_node(const json::object& pod, const std::vector<std::string>& named) {
  const std::string phase = string_at(pod, {"status", "phase"});
  if (phase == "Succeeded" || phase == "Failed") return "finished";
  if (find(pod, {"metadata", "deletionTimestamp"}) != nullptr) return "terminating";
  if (const auto* labels = find(pod, {"metadata", "labels"}); labels != nullptr && labels->is_object()) {
    if (const auto* quarantine = labels->get_object().if_contains(taint_key);
        quarantine != nullptr && quarantine->is_string())
      return "quarantined by " + std::string(quarantine->get_string());
  }
  const std::string id =
      string_at(pod, {"metadata", "namespace"}) + "/" + string_at(pod, {"metadata", "name"});
  if (std::find(named.begin(), named.end(), id) != named.end()) return "named compromised pod";
  if (const auto* annotations = find(pod, {"metadata", "annotations"});
      annotations != nullptr && annotations->is_object() &&
      annotations->get_object().contains("kubernetes.io/config.mirror"))
    return "mirror pod";
  const auto* owners = find(pod, {"metadata", "ownerReferences"});
  if (owners != nullptr && owners->is_array()) {
    for (const auto& owner : owners->get_array()) {
      const auto* controller = find(owner, {"controller"});
      if (controller == nullptr || !controller->is_bool() || !controller->get_bool()) continue;
      if (string_at(owner, {"kind"}) == "DaemonSet") return "DaemonSet";
      return {};
    }
  }
  return "no controller would recreate it";
}

std::string host_access(const json::object& pod) {
  std::vector<std::string> why;
  for (const char* field : {"hostPID", "hostIPC", "hostNetwork"}) {
    const auto* value = find(pod, {"spec", field});
    if (value != nullptr && value->is_bool() && value->get_bool()) why.emplace_back(field);
  }
  if (const auto* volumes = find(pod, {"spec", "volumes"}); volumes != nullptr && volumes->is_array()) {
    for (const auto& volume : volumes->get_array()) {
      if (find(volume, {"hostPath"}) != nullptr)
        why.push_back("hostPath volume " + string_at(volume, {"name"}));
    }
  }
  for (const char* list : {"initContainers", "containers", "ephemeralContainers"}) {
    const auto* containers = find(pod, {"spec", list});
    if (containers == nullptr || !containers->is_array()) continue;
    for (const auto& container : containers->get_array()) {
      const std::string name = string_at(container, {"name"});
      const auto* privileged = find(container, {"securityContext", "privileged"});
      if (privileged != nullptr && privileged->is_bool() && privileged->get_bool())
        why.push_back("container " + name + " is privileged");
      const auto* added = find(container, {"securityContext", "capabilities", "add"});
      if (added == nullptr || !added->is_array()) continue;
      for (const auto& capability : added->get_array()) {
        if (!capability.is_string()) continue;
        std::string cap(capability.get_string());
        if (cap.starts_with("CAP_")) cap.erase(0, 4);
        if (cap == "SYS_ADMIN" || cap == "SYS_PTRACE" || cap == "SYS_MODULE" || cap == "ALL")
          why.push_back("container " + name + " adds " + cap);
      }
    }
  }
  return joined(why);
}

Result<Options> options_from(const json::object& params) {
  Options options;
  options.nodes = param_strings(params, "node");
  options.ns = param_string(params, "namespace");
  options.pods = param_strings(params, "pod");
  options.if_host_access = param_bool(params, "if-host-access");
  options.evict = param_bool(params, "evict");
  options.release = param_bool(params, "release");
  return options;
}

Result<void> run(const Options& options, Context& context) {
  auto kube = context.kube();
  if (!kube) return kube.error();
  k8s::Client& client = **kube;
  k8s::Writer writer(client, context.report(), context.dry_run());

  // The nodes: named, or those the pods run on.
  std::vector<std::string> nodes = options.nodes;
  std::vector<std::string> spared;
  std::vector<std::string> host_access_of;
  for (const auto& name : options.pods) {
    auto pod = client.get(k8s::resources::pods, options.ns, name);
    if (!pod) return pod.error();
    const std::string node = string_at(*pod, {"spec", "nodeName"});
    if (node.empty()) {
      context.warn("pod " + options.ns + "/" + name +
                   " is not scheduled on a node: no node to cordon for it");
      continue;
    }
    if (options.if_host_access) {
      const std::string why = host_access(*pod);
      if (why.empty()) {
        spared.push_back(name);
        continue;
      }
      host_access_of.push_back(options.ns + "/" + name + ": " + why);
    }
    if (std::find(nodes.begin(), nodes.end(), node) == nodes.end()) nodes.push_back(node);
  }
  if (options.release && nodes.empty() && options.pods.empty()) {
    // Every node this incident holds, found by its annotation.
    auto listed = client.list(k8s::resources::nodes, "");
    if (!listed) return listed.error();
    for (const auto& item : listed->at("items").as_array()) {
      const auto held = holders(item.as_object());
      if (std::find(held.begin(), held.end(), options.incident_id) != held.end())
        nodes.push_back(string_at(item, {"metadata", "name"}));
    }
  }

  std::vector<std::string> changed;
  for (const auto& name : nodes) {
    auto done = options.release ? let_go(options, client, writer, name, changed)
                                : hold(options, client, writer, name, context, changed);
    if (!done) return done.error();
  }
  if (!host_access_of.empty()) {
    // One pod per line: a reason lists several things, comma-separated.
    std::string text;
    for (const auto& line : host_access_of) text += (text.empty() ? "" : "\n") + line;
    context.report().set_output("host-access", text);
  }
  if (!spared.empty()) {
    context.report().set_output("spared-pods", joined(spared));
  }
  if (options.evict) {
    std::vector<std::string> named;
    for (const auto& pod : options.pods) named.push_back(options.ns + "/" + pod);
    std::vector<std::string> evicted, kept, refused;
    Code failure = Code::action_failed;
    for (const auto& name : nodes) {
      if (auto done =
              empty_node(options, client, writer, context, name, named, evicted, kept, refused, failure);
          !done)
        return done.error();
    }
    context.report().set_output("evicted-pods", joined(evicted));
    context.report().set_output("kept-pods", joined(kept));
    context.report().set_output("not-evicted-pods", joined(refused));
    if (!refused.empty()) {
      context.report().set_output("nodes", joined(nodes));
      context.report().set_output("changed-nodes", joined(changed));
      return Error(failure, "the nodes are cordoned, but " + std::to_string(refused.size()) +
                                " pod(s) could not be evicted: " + joined(refused));
    }
  }
  context.report().set_output("nodes", joined(nodes));
  context.report().set_output("changed-nodes", joined(changed));
  context.report().set_output(
      "taint",
      options.release ? std::string() : std::string(taint_key) + "=" + options.incident_id + ":NoSchedule");
  return {};
}

const StepDef& step() {
  static const StepDef def = define_step<Options>(
      "cordon", "take the nodes of compromised pods out of scheduling", options_from, run);
  return def;
}

}  // namespace ir::steps::cordon
