// The API side of a capture: objects around the pod, and the logs.
#include "ir/core/log.hpp"
#include "snapshot.hpp"

#include <fmt/format.h>
#include <boost/json/serialize.hpp>

#include <algorithm>

namespace ir::steps::snapshot {
namespace {

std::string pod_dir(const json::object& pod) {
  return string_at(pod, {"metadata", "namespace"}) + "/" + string_at(pod, {"metadata", "name"});
}

evidence::Provenance provenance_of(const json::object& object) {
  return {string_at(object, {"metadata", "uid"}), string_at(object, {"metadata", "resourceVersion"})};
}

void write_json(const json::value& document, const std::string& path, const std::string& source,
                evidence::Provenance provenance, evidence::Folder& folder, Tally& tally) {
  auto writer = folder.begin(path, source, std::move(provenance));
  if (!writer) return count_failure(tally, writer.error(), folder, path, source);
  if (auto written = writer->write(to_pretty_json(document) + "\n"); !written) {
    return count_failure(tally, written.error(), folder, path, source);
  }
  count(tally, writer->commit(), folder, path, source);
}

// Owner references up to the top controller: Pod → ReplicaSet → Deployment.
std::vector<std::string> owner_chain(k8s::Client& client, const json::object& pod) {
  std::vector<std::string> chain;
  const std::string ns = string_at(pod, {"metadata", "namespace"});
  json::object current = pod;
  for (int depth = 0; depth < 5; ++depth) {
    const auto* owners = find(current, {"metadata", "ownerReferences"});
    if (owners == nullptr || !owners->is_array() || owners->get_array().empty()) break;
    const auto& owner = owners->get_array().front();
    const std::string kind = string_at(owner, {"kind"});
    const std::string name = string_at(owner, {"name"});
    chain.push_back(kind + "/" + name);
    auto resource = k8s::resource_for(kind);
    if (!resource) break;
    auto next = client.get(*resource, ns, name);
    if (!next) break;
    current = std::move(*next);
  }
  return chain;
}

bool binding_names(const json::value& binding, const std::string& ns, const std::string& account) {
  const auto* subjects = find(binding, {"subjects"});
  if (subjects == nullptr || !subjects->is_array()) return false;
  for (const auto& subject : subjects->get_array()) {
    const std::string kind = string_at(subject, {"kind"});
    const std::string name = string_at(subject, {"name"});
    if (kind == "ServiceAccount" && name == account && string_at(subject, {"namespace"}, ns) == ns)
      return true;
    if (kind == "Group" && (name == "system:serviceaccounts" || name == "system:serviceaccounts:" + ns ||
                            name == "system:authenticated")) {
      return true;
    }
  }
  return false;
}

}  // namespace

// The NetworkPolicies that select the pod: the client's LabelSelector
// matching, as isolate and access-audit use it.
bool selects(const json::value& selector, const json::object& labels) {
  return !selector.is_object() || k8s::selector_matches(selector.get_object(), labels);
}

std::string describe_pod(const json::object& pod, const std::vector<std::string>& chain) {
  std::string text;
  auto line = [&](std::string_view key, std::string_view value) {
    text += fmt::format("{:<16}{}\n", key, value);
  };
  line("Name:", string_at(pod, {"metadata", "name"}));
  line("Namespace:", string_at(pod, {"metadata", "namespace"}));
  line("UID:", string_at(pod, {"metadata", "uid"}));
  line("Node:", string_at(pod, {"spec", "nodeName"}, "<none>"));
  line("Service account:", string_at(pod, {"spec", "serviceAccountName"}, "default"));
  line("Start time:", string_at(pod, {"status", "startTime"}, "<unknown>"));
  line("Phase:", string_at(pod, {"status", "phase"}, "<unknown>"));
  line("Pod IP:", string_at(pod, {"status", "podIP"}, "<none>"));
  std::string owners;
  for (const auto& owner : chain) owners += (owners.empty() ? "" : " <- ") + owner;
  line("Controlled by:", owners.empty() ? "<none>" : owners);
  text += "Conditions:\n";
  if (const auto* conditions = find(pod, {"status", "conditions"});
      conditions != nullptr && conditions->is_array()) {
    for (const auto& c : conditions->get_array()) {
      text += fmt::format("  {:<16}{}\n", string_at(c, {"type"}), string_at(c, {"status"}));
    }
  }
  for (const char* kind : {"initContainerStatuses", "containerStatuses", "ephemeralContainerStatuses"}) {
    const auto* statuses = find(pod, {"status", kind});
    if (statuses == nullptr || !statuses->is_array()) continue;
    for (const auto& s : statuses->get_array()) {
      text += "Container " + string_at(s, {"name"}) +
              (std::string_view(kind) == "containerStatuses" ? "" : " (" + std::string(kind) + ")") + ":\n";
      text += fmt::format("  {:<14}{}\n", "Image:", string_at(s, {"image"}));
      text += fmt::format("  {:<14}{}\n", "Image ID:", string_at(s, {"imageID"}));
      text += fmt::format("  {:<14}{}\n", "Container ID:", string_at(s, {"containerID"}));
      std::string state = "unknown";
      if (const auto* st = find(s, {"state"});
          st != nullptr && st->is_object() && !st->get_object().empty()) {
        state = std::string(st->get_object().begin()->key());
        const std::string reason = string_at(st->get_object().begin()->value(), {"reason"});
        if (!reason.empty()) state += " (" + reason + ")";
      }
      text += fmt::format("  {:<14}{}\n", "State:", state);
      text +=
          fmt::format("  {:<14}{}\n",
                      "Ready:", find(s, {"ready"}) ? boost::json::serialize(*find(s, {"ready"})) : "false");
      text += fmt::format(
          "  {:<14}{}\n",
          "Restarts:", find(s, {"restartCount"}) ? boost::json::serialize(*find(s, {"restartCount"})) : "0");
    }
  }
  return text;
}

void collect_objects(k8s::Client& client, const json::object& pod, evidence::Folder& folder, Tally& tally) {
  const std::string dir = pod_dir(pod);
  const std::string ns = string_at(pod, {"metadata", "namespace"});
  const std::string name = string_at(pod, {"metadata", "name"});
  const std::string uid = string_at(pod, {"metadata", "uid"});
  const auto provenance = provenance_of(pod);
  write_json(json::value(pod), dir + "/pod.json", "GET " + k8s::Client::path(k8s::resources::pods, ns, name),
             provenance, folder, tally);

  {
    const std::string path = dir + "/describe.txt";
    auto writer = folder.begin(path, "describe from the pod and its owner chain", provenance);
    if (writer && writer->write(describe_pod(pod, owner_chain(client, pod)))) {
      count(tally, writer->commit(), folder, path, "describe");
    } else {
      count_failure(tally, writer ? Error(Code::action_failed, "write failed") : writer.error(), folder, path,
                    "describe");
    }
  }

  const std::string events_source =
      "GET " + k8s::Client::path(k8s::resources::events, ns) + "?fieldSelector=involvedObject.uid=" + uid;
  if (auto events = client.list(k8s::resources::events, ns, {{}, "involvedObject.uid=" + uid})) {
    write_json(events->at("items"), dir + "/events.json", events_source, provenance, folder, tally);
  } else {
    count_failure(tally, events.error(), folder, dir + "/events.json", events_source);
  }

  const std::string policies_source = "GET " + k8s::Client::path(k8s::resources::networkpolicies, ns);
  if (auto policies = client.list(k8s::resources::networkpolicies, ns)) {
    json::array selecting;
    const auto* labels = find(pod, {"metadata", "labels"});
    const json::object empty;
    for (const auto& policy : policies->at("items").as_array()) {
      const auto* selector = find(policy, {"spec", "podSelector"});
      if (selector != nullptr &&
          selects(*selector, labels != nullptr && labels->is_object() ? labels->get_object() : empty)) {
        selecting.push_back(policy);
      }
    }
    write_json(selecting, dir + "/networkpolicies.json", policies_source, provenance, folder, tally);
  } else {
    count_failure(tally, policies.error(), folder, dir + "/networkpolicies.json", policies_source);
  }

  // What an attacker inside the pod could do with its credentials.
  const std::string account = string_at(pod, {"spec", "serviceAccountName"}, "default");
  json::object access{{"serviceAccount", account}};
  std::optional<Error> access_error;
  if (auto sa = client.get(k8s::resources::serviceaccounts, ns, account))
    access["object"] = *sa;
  else
    access_error = sa.error();
  json::array bindings;
  for (const auto* resource : {&k8s::resources::rolebindings, &k8s::resources::clusterrolebindings}) {
    auto listed = client.list(*resource, resource->namespaced ? ns : "");
    if (!listed) {
      access_error = listed.error();
      continue;
    }
    for (const auto& binding : listed->at("items").as_array()) {
      if (binding_names(binding, ns, account)) bindings.push_back(binding);
    }
  }
  access["bindings"] = std::move(bindings);
  const std::string access_path = dir + "/serviceaccount.json";
  if (access_error)
    count_failure(tally, *access_error, folder, access_path, "ServiceAccount and RBAC bindings");
  else
    write_json(json::value(access), access_path,
               "GET ServiceAccount " + account + ", RoleBindings, ClusterRoleBindings", provenance, folder,
               tally);

  const std::string node = string_at(pod, {"spec", "nodeName"});
  if (!node.empty()) {
    if (auto object = client.get(k8s::resources::nodes, {}, node)) {
      json::object summary{
          {"name", node},
          {"labels",
           find(*object, {"metadata", "labels"}) ? *find(*object, {"metadata", "labels"}) : json::value()},
          {"nodeInfo",
           find(*object, {"status", "nodeInfo"}) ? *find(*object, {"status", "nodeInfo"}) : json::value()},
          {"conditions", find(*object, {"status", "conditions"}) ? *find(*object, {"status", "conditions"})
                                                                 : json::value()},
          {"addresses",
           find(*object, {"status", "addresses"}) ? *find(*object, {"status", "addresses"}) : json::value()}};
      write_json(json::value(summary), dir + "/node.json",
                 "GET " + k8s::Client::path(k8s::resources::nodes, {}, node), provenance_of(*object), folder,
                 tally);
    } else {
      count_failure(tally, object.error(), folder, dir + "/node.json", "GET node " + node);
    }
  }
}

void collect_logs(k8s::Client& client, const Options& options, const json::object& pod,
                  const std::vector<std::string>& containers, evidence::Folder& folder, Tally& tally) {
  const std::string ns = string_at(pod, {"metadata", "namespace"});
  const std::string name = string_at(pod, {"metadata", "name"});
  auto restarts_of = [&](const std::string& container) -> std::int64_t {
    for (const char* kind : {"initContainerStatuses", "containerStatuses", "ephemeralContainerStatuses"}) {
      if (const auto* statuses = find(pod, {"status", kind}); statuses != nullptr && statuses->is_array()) {
        for (const auto& s : statuses->get_array()) {
          if (string_at(s, {"name"}) == container && find(s, {"restartCount"}) != nullptr)
            return find(s, {"restartCount"})->to_number<std::int64_t>();
        }
      }
    }
    return 0;
  };
  for (const auto& container : containers) {
    for (const bool previous : {false, true}) {
      if (previous && restarts_of(container) == 0) continue;  // there is no previous instance
      const std::string path = pod_dir(pod) + "/logs/" + container + (previous ? ".previous.log" : ".log");
      k8s::LogOptions log_options;
      log_options.container = container;
      log_options.previous = previous;
      log_options.timestamps = true;
      log_options.since_time = options.since;
      const std::string source = "GET " + k8s::Client::path(k8s::resources::pods, ns, name, "log") +
                                 "?container=" + container + "&timestamps=true" +
                                 (previous ? "&previous=true" : "");
      auto writer = folder.begin(path, source, provenance_of(pod));
      if (!writer) {
        count_failure(tally, writer.error(), folder, path, source);
        continue;
      }
      std::optional<Error> write_error;
      // Streamed to disk as it arrives: a log is never held whole in memory,
      // and its lines never reach our own logs.
      auto streamed = client.logs(ns, name, log_options, [&](std::string_view chunk) {
        if (auto written = writer->write(chunk); !written) {
          write_error = written.error();
          return false;
        }
        return true;
      });
      if (write_error) {
        count_failure(tally, *write_error, folder, path, source);
      } else if (!streamed && writer->size() > 0) {
        // What arrived is kept, marked partial with the reason.
        ++tally.interrupted;
        count(tally, writer->commit(evidence::ItemStatus::partial, streamed.error().describe()), folder, path,
              source);
      } else if (!streamed) {
        count_failure(tally, streamed.error(), folder, path, source);
      } else {
        count(tally, writer->commit(), folder, path, source);
      }
    }
  }
}

void collect_checkpoint(k8s::Client& client, const json::object& pod, const std::string& container,
                        evidence::Folder& folder, Tally& tally, Context& context) {
  const std::string ns = string_at(pod, {"metadata", "namespace"});
  const std::string name = string_at(pod, {"metadata", "name"});
  const std::string node = string_at(pod, {"spec", "nodeName"});
  const std::string path = pod_dir(pod) + "/checkpoint/" + container + ".json";
  // The kubelet's checkpoint API (ContainerCheckpoint); the archive stays on
  // the node, its location is the evidence here.
  const std::string request =
      "/api/v1/nodes/" + node + "/proxy/checkpoint/" + ns + "/" + name + "/" + container;
  const std::string source = "POST " + request;
  auto response = client.raw("POST", request + "?timeout=120");
  if (!response) return count_failure(tally, response.error(), folder, path, source);
  if (response->status == 404 || response->status == 405) {
    context.warn("the cluster cannot checkpoint container " + container + " of pod " + name +
                 " (the kubelet's ContainerCheckpoint feature is off or missing); the rest was collected");
    return;
  }
  if (response->status < 200 || response->status >= 300) {
    return count_failure(tally, k8s::error_from_response(*response, "checkpoint"), folder, path, source);
  }
  auto parsed = parse_json(response->body, "checkpoint reply");
  if (!parsed) return count_failure(tally, parsed.error(), folder, path, source);
  write_json(json::object{{"node", node}, {"reply", *parsed}}, path, source, provenance_of(pod), folder,
             tally);
}

}  // namespace ir::steps::snapshot
