// stop: take what runs a bad image out of service, each kind the way it
// allows, and remember on the object what --restore needs:
//
//   Deployment, StatefulSet, ReplicaSet  spec.replicas = 0 (irsteps.io/previous-replicas, as scale)
//   CronJob                              spec.suspend = true (irsteps.io/previous-suspend)
//   Job                                  spec.suspend = true (1.21+ with SuspendJob, on by default from
//                                        1.22; irsteps.io/previous-suspend), else spec.parallelism = 0
//                                        (irsteps.io/previous-parallelism), then its running pods deleted
//   DaemonSet                            a pod-template nodeSelector irsteps.io/stopped-by=<incident> that no
//                                        node has (the old one in irsteps.io/previous-node-selector)
//   Pod (bare)                           deleted; --restore cannot bring it back
//
// It does not wait for the pods to go: their controllers remove them (the
// kube-controller-manager's ReplicaSet, StatefulSet, DaemonSet and Job
// controllers), and a Job's running pods and a bare pod are deleted here.
// Every target is read before anything changes, so a bad or missing target
// changes nothing. A second run changes nothing more; --restore undoes what
// the annotations remember and warns about what it cannot.
#include "rollout.hpp"

#include "ir/core/log.hpp"
#include "ir/k8s/names.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>

namespace ir::steps::rollout {
namespace {

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text;
}

std::int64_t int_at(const json::object& object, std::initializer_list<std::string_view> path,
                    std::int64_t fallback) {
  const auto* value = find(object, path);
  return value != nullptr && value->is_number() ? value->to_number<std::int64_t>() : fallback;
}

bool bool_at(const json::object& object, std::initializer_list<std::string_view> path) {
  const auto* value = find(object, path);
  return value != nullptr && value->is_bool() && value->get_bool();
}

std::string annotation(const json::object& object, std::string_view key) {
  return string_at(object, {"metadata", "annotations", key});
}

json::object annotations_patch(json::object annotations) {
  return {{"annotations", std::move(annotations)}};
}

// A label value that names the incident (63 characters of [A-Za-z0-9._-],
// alphanumeric at both ends), "irsteps" when there is none.
std::string stopped_by_value(std::string_view incident) {
  std::string value;
  for (char c : incident) {
    if (value.size() == 63) break;
    value += (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.') ? c : '-';
  }
  while (!value.empty() && !std::isalnum(static_cast<unsigned char>(value.back()))) value.pop_back();
  while (!value.empty() && !std::isalnum(static_cast<unsigned char>(value.front()))) value.erase(0, 1);
  return value.empty() ? "irsteps" : value;
}

struct Stopping {
  const Options& options;
  Context& context;
  k8s::Client& client;
  k8s::Writer writer;
  std::vector<std::string> changed;

  Result<void> patch(const StopTarget& target, const json::object& body, std::string detail) {
    auto patched = writer.merge_patch(target.resource, target.ns, target.name, body, std::move(detail));
    if (!patched) return patched.error().with((options.restore ? "restore " : "stop ") + target.id());
    changed.push_back(target.ns + "/" + target.id());
    return {};
  }

  Result<void> replicas(const StopTarget& target, const json::object& object) {
    const std::int64_t current = int_at(object, {"spec", "replicas"}, 1);
    const std::string remembered = annotation(object, previous_replicas_annotation);
    if (options.restore) {
      if (remembered.empty()) return nothing_to_restore(target, previous_replicas_annotation);
      return patch(target,
                   {{"metadata", annotations_patch({{previous_replicas_annotation, nullptr}})},
                    {"spec", json::object{{"replicas", std::stoll(remembered)}}}},
                   "restore replicas " + remembered);
    }
    if (current == 0) return already(target, "has 0 replicas");
    return patch(
        target,
        {{"metadata", annotations_patch({{previous_replicas_annotation,
                                          remembered.empty() ? std::to_string(current) : remembered}})},
         {"spec", json::object{{"replicas", 0}}}},
        "scale from " + std::to_string(current) + " to 0");
  }

  Result<void> cronjob(const StopTarget& target, const json::object& object) {
    const std::string remembered = annotation(object, previous_suspend_annotation);
    if (options.restore) {
      if (remembered.empty()) return nothing_to_restore(target, previous_suspend_annotation);
      return patch(target,
                   {{"metadata", annotations_patch({{previous_suspend_annotation, nullptr}})},
                    {"spec", json::object{{"suspend", remembered == "true"}}}},
                   "restore suspend " + remembered);
    }
    if (bool_at(object, {"spec", "suspend"})) return already(target, "is suspended");
    return patch(target,
                 {{"metadata", annotations_patch({{previous_suspend_annotation, "false"}})},
                  {"spec", json::object{{"suspend", true}}}},
                 "suspend: no new Jobs");
  }

  Result<void> job(const StopTarget& target, const json::object& object) {
    if (options.restore) return restore_job(target, object);
    const bool suspended = bool_at(object, {"spec", "suspend"});
    const bool paused = !annotation(object, previous_parallelism_annotation).empty() &&
                        int_at(object, {"spec", "parallelism"}, 1) == 0;
    if (suspended || paused) {
      log::info("rollout.stop.already", {{"target", target.ns + "/" + target.id()},
                                         {"state", suspended ? "is suspended" : "has parallelism 0"}});
    } else {
      // Does the server know spec.suspend? A server-side dry run answers
      // without changing anything: a server before 1.21 (or with the
      // SuspendJob gate off) drops the field it does not know.
      const json::object suspend{{"metadata", annotations_patch({{previous_suspend_annotation, "false"}})},
                                 {"spec", json::object{{"suspend", true}}}};
      auto probe =
          client.patch(target.resource, target.ns, target.name, k8s::PatchType::merge, suspend, true);
      if (!probe) return probe.error().with("stop " + target.id());
      if (bool_at(*probe, {"spec", "suspend"})) {
        if (auto done = patch(target, suspend, "suspend: no new pods"); !done) return done;
      } else {
        context.warn(
            "this cluster cannot suspend Jobs (spec.suspend needs Kubernetes 1.21+ with SuspendJob): " +
            target.id() + " gets parallelism 0 instead");
        const std::string parallelism = std::to_string(int_at(object, {"spec", "parallelism"}, 1));
        if (auto done =
                patch(target,
                      {{"metadata", annotations_patch({{previous_parallelism_annotation, parallelism}})},
                       {"spec", json::object{{"parallelism", 0}}}},
                      "parallelism from " + parallelism + " to 0: no new pods");
            !done) {
          return done;
        }
      }
    }
    return delete_job_pods(target, object);
  }

  // The Job's pods that still run: its controller would stop them too, but
  // not at once, and not at all when it is down.
  Result<void> delete_job_pods(const StopTarget& target, const json::object& object) {
    const auto* selector = find(object, {"spec", "selector"});
    if (selector == nullptr || !selector->is_object()) return {};
    auto pods =
        client.list(k8s::resources::pods, target.ns, {k8s::selector_string(selector->get_object()), {}});
    if (!pods) return pods.error().with("list pods of " + target.id());
    for (const auto& pod : pods->at("items").as_array()) {
      const std::string phase = string_at(pod, {"status", "phase"});
      if (phase == "Succeeded" || phase == "Failed" ||
          find(pod, {"metadata", "deletionTimestamp"}) != nullptr)
        continue;
      const std::string name = string_at(pod, {"metadata", "name"});
      k8s::DeleteOptions precondition;
      precondition.uid = string_at(pod, {"metadata", "uid"});
      auto removed = writer.remove(k8s::resources::pods, target.ns, name, precondition,
                                   "a running pod of " + target.id(), true);
      if (!removed) return removed.error().with("delete pod " + name + " of " + target.id());
      if (*removed) changed.push_back(target.ns + "/pod/" + name);
    }
    return {};
  }

  Result<void> restore_job(const StopTarget& target, const json::object& object) {
    const std::string suspend = annotation(object, previous_suspend_annotation);
    const std::string parallelism = annotation(object, previous_parallelism_annotation);
    if (suspend.empty() && parallelism.empty())
      return nothing_to_restore(target, previous_suspend_annotation);
    json::object annotations, spec;
    if (!suspend.empty()) {
      annotations[previous_suspend_annotation] = nullptr;
      spec["suspend"] = suspend == "true";
    }
    if (!parallelism.empty()) {
      annotations[previous_parallelism_annotation] = nullptr;
      spec["parallelism"] = std::stoll(parallelism);
    }
    return patch(target, {{"metadata", annotations_patch(std::move(annotations))}, {"spec", std::move(spec)}},
                 "resume: the Job makes its pods again");
  }

  Result<void> daemonset(const StopTarget& target, const json::object& object) {
    const auto* live = find(object, {"spec", "template", "spec", "nodeSelector"});
    const json::object current = live != nullptr && live->is_object() ? live->get_object() : json::object{};
    const std::string remembered = annotation(object, previous_node_selector_annotation);
    if (options.restore) {
      if (remembered.empty()) return nothing_to_restore(target, previous_node_selector_annotation);
      boost::system::error_code error;
      auto old = boost::json::parse(remembered, error);
      if (error || !old.is_object()) {
        return Error(Code::action_failed, target.id() + ": " +
                                              std::string(previous_node_selector_annotation) +
                                              " is not a JSON object: restore its nodeSelector by hand");
      }
      // A merge patch merges maps: remove what the old selector lacks.
      json::object selector = old.as_object();
      for (const auto& [key, value] : current) {
        if (!selector.contains(key)) selector[key] = nullptr;
      }
      return patch(
          target,
          {{"metadata", annotations_patch({{previous_node_selector_annotation, nullptr}})},
           {"spec",
            json::object{{"template", json::object{{"spec", json::object{{"nodeSelector", selector}}}}}}}},
          "restore nodeSelector " + remembered);
    }
    if (current.contains(stopped_by_label))
      return already(target, "has the nodeSelector that matches no node");
    return patch(
        target,
        {{"metadata",
          annotations_patch({{previous_node_selector_annotation, boost::json::serialize(current)}})},
         {"spec",
          json::object{{"template",
                        json::object{{"spec", json::object{{"nodeSelector",
                                                            json::object{{stopped_by_label,
                                                                          stopped_by_value(
                                                                              options.incident_id)}}}}}}}}}},
        "nodeSelector " + std::string(stopped_by_label) + "=" + stopped_by_value(options.incident_id) +
            ", which no node has: its pods leave every node");
  }

  Result<void> pod(const StopTarget& target, const json::object& object) {
    if (options.restore) {
      context.warn(target.ns + "/" + target.id() +
                   " was deleted and cannot be restored: create it again from its manifest");
      return {};
    }
    k8s::DeleteOptions precondition;
    precondition.uid = string_at(object, {"metadata", "uid"});
    auto removed = writer.remove(target.resource, target.ns, target.name, precondition,
                                 "a bare pod: nothing would replace it", true);
    if (!removed) return removed.error().with("delete " + target.id());
    if (*removed) changed.push_back(target.ns + "/" + target.id());
    return {};
  }

  // A re-run: what the first run remembered stays.
  Result<void> already(const StopTarget& target, std::string_view state) {
    log::info("rollout.stop.already", {{"target", target.ns + "/" + target.id()}, {"state", state}});
    return {};
  }

  // Never stopped, or restored already: a warning, so that --restore can be re-run.
  Result<void> nothing_to_restore(const StopTarget& target, std::string_view key) {
    context.warn(target.ns + "/" + target.id() + " has no " + std::string(key) +
                 " annotation: nothing to restore");
    return {};
  }
};

// GETs the target (a CronJob from the version the API server serves).
Result<std::optional<json::object>> read_target(k8s::Client& client, StopTarget& target) {
  auto object = client.get(target.resource, target.ns, target.name);
  if (object) return std::optional<json::object>(std::move(*object));
  if (object.error().code() == Code::not_found) return std::optional<json::object>();
  return object.error();
}

}  // namespace

std::string StopTarget::id() const {
  return lower(resource.kind) + "/" + name;
}

Result<StopTarget> parse_stop_target(std::string_view target, std::string_view ns) {
  const std::string text(target);
  if (std::count(target.begin(), target.end(), '/') == 2) {
    const auto first = target.find('/');
    const std::string_view own = target.substr(0, first);
    if (!ns.empty() && own != ns)
      return invalid("'" + text + "' is in namespace " + std::string(own) + ", not " + std::string(ns));
    ns = own;
    target.remove_prefix(first + 1);
  }
  const auto slash = target.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == target.size()) {
    return invalid("'" + text + "' is not [NAMESPACE/]KIND/NAME (e.g. deployment/web)");
  }
  auto resource = k8s::resource_for(target.substr(0, slash));
  if (!resource) return resource.error().with("target '" + text + "'");
  static const std::string_view kinds[] = {"Deployment", "StatefulSet", "ReplicaSet", "DaemonSet",
                                           "Job",        "CronJob",     "Pod"};
  if (std::find(std::begin(kinds), std::end(kinds), resource->kind) == std::end(kinds)) {
    return invalid("target '" + text +
                   "': stop takes a Deployment, StatefulSet, ReplicaSet, DaemonSet, Job, " +
                   "CronJob or Pod, not a " + resource->kind);
  }
  if (ns.empty()) return invalid("--namespace is required for " + text);
  if (auto valid = k8s::check_namespace_name(ns, "target"); !valid) return valid.error();
  const std::string_view name = target.substr(slash + 1);
  if (auto valid = k8s::check_object_name(name, "target"); !valid) return valid.error();
  return StopTarget{*resource, std::string(ns), std::string(name)};
}

Result<void> stop(const Options& options, Context& context, k8s::Client& client) {
  if (options.targets.empty()) return invalid("name at least one target as [NAMESPACE/]KIND/NAME");
  std::vector<StopTarget> targets;
  for (const auto& text : options.targets) {
    auto target = parse_stop_target(text, options.ns);
    if (!target) return target.error();
    const bool seen = std::any_of(targets.begin(), targets.end(), [&](const StopTarget& t) {
      return t.ns == target->ns && t.id() == target->id();
    });
    if (!seen) targets.push_back(std::move(*target));
  }
  // Read them all before changing any: a missing target changes nothing.
  std::vector<std::optional<json::object>> objects;
  for (auto& target : targets) {
    auto object = read_target(client, target);
    if (!object) return object.error().with("read " + target.ns + "/" + target.id());
    if (!*object && target.resource.kind != "Pod") {
      return Error(Code::not_found, target.id() + " not found in namespace " + target.ns);
    }
    objects.push_back(std::move(*object));
  }
  Stopping stopping{options, context, client, k8s::Writer(client, context.report(), options.dry_run), {}};
  for (std::size_t i = 0; i < targets.size(); ++i) {
    const auto& target = targets[i];
    if (!objects[i]) {
      context.warn(target.ns + "/" + target.id() +
                   (options.restore ? " was deleted and cannot be restored: create it again from its manifest"
                                    : " is gone already"));
      continue;
    }
    const auto& object = *objects[i];
    const std::string& kind = target.resource.kind;
    Result<void> done;
    if (kind == "Deployment" || kind == "StatefulSet" || kind == "ReplicaSet") {
      done = stopping.replicas(target, object);
    } else if (kind == "CronJob") {
      done = stopping.cronjob(target, object);
    } else if (kind == "Job") {
      done = stopping.job(target, object);
    } else if (kind == "DaemonSet") {
      done = stopping.daemonset(target, object);
    } else {
      done = stopping.pod(target, object);
    }
    if (!done) return done;
  }
  std::string ids, changed;
  for (const auto& target : targets) ids += (ids.empty() ? "" : ",") + target.ns + "/" + target.id();
  for (const auto& item : stopping.changed) changed += (changed.empty() ? "" : ",") + item;
  context.report().set_output("workloads", ids);
  context.report().set_output("workload-count", std::to_string(targets.size()));
  context.report().set_output(options.restore ? "restored" : "stopped", changed);
  return {};
}

}  // namespace ir::steps::rollout
