#include "rollout.hpp"

#include "ir/k8s/names.hpp"
#include "ir/params/params.hpp"

#include <boost/json/serialize.hpp>

#include <algorithm>

namespace ir::steps::rollout {
namespace {

constexpr std::pair<std::string_view, Verb> verbs[] = {{"restart", Verb::restart},
                                                       {"status", Verb::status},
                                                       {"undo", Verb::undo},
                                                       {"scale", Verb::scale},
                                                       {"set-image", Verb::set_image},
                                                       {"delete-pod", Verb::delete_pod},
                                                       {"find-image", Verb::find_image},
                                                       {"check-persistence", Verb::check_persistence},
                                                       {"stop", Verb::stop}};

std::string joined(const std::vector<std::string>& items) {
  std::string text;
  for (const auto& item : items) text += (text.empty() ? "" : ",") + item;
  return text;
}

Result<std::vector<Workload>> workloads_of(const Options& options) {
  if (options.targets.empty())
    return invalid("name at least one workload as KIND/NAME (e.g. deployment/web)");
  // A CronJob has no rollout, but its jobTemplate is what its next Job runs:
  // set-image pins it, undo puts the image set-image replaced back.
  const auto kinds = options.verb == Verb::set_image || options.verb == Verb::undo
                         ? k8s::WorkloadKinds::rolling_and_cronjobs
                         : k8s::WorkloadKinds::rolling;
  std::vector<Workload> workloads;
  for (const auto& target : options.targets) {
    auto workload = parse_workload(target, options.ns, kinds);
    if (!workload) return workload.error();
    if (std::find(workloads.begin(), workloads.end(), *workload) == workloads.end())
      workloads.push_back(*workload);
  }
  return workloads;
}

// Waits (unless --wait=false or --dry-run) and turns unhealthy rollouts into
// exit 1. CronJobs have no rollout to wait for: their next Job runs the new
// template (set-image says what runs meanwhile).
Result<void> await(const Options& options, Context& context, k8s::Client& client,
                   const std::vector<Workload>& all) {
  std::vector<Workload> workloads;
  std::copy_if(all.begin(), all.end(), std::back_inserter(workloads),
               [](const Workload& workload) { return workload.resource.kind != "CronJob"; });
  if (options.dry_run || !options.wait || workloads.empty()) return {};
  auto results = wait_for_rollouts(client, workloads, options.timeout);
  if (!results) return results.error();
  context.report().set_output("rollouts", results_json(*results));
  std::string unhealthy;
  for (const auto& result : *results) {
    if (!result.healthy) unhealthy += (unhealthy.empty() ? "" : " | ") + result.message;
  }
  if (!unhealthy.empty()) return Error(Code::action_failed, unhealthy);
  return {};
}

Result<void> scale(const Options& options, Context& context, k8s::Client& client, const Workload& workload) {
  if (workload.resource.kind == "DaemonSet") {
    return invalid(
        "a DaemonSet cannot be scaled: it runs one pod per node (delete it, or give it a nodeSelector)");
  }
  auto object = get_workload(client, workload);
  if (!object) return object.error();
  const auto* current_value = find(*object, {"spec", "replicas"});
  const std::int64_t current =
      current_value != nullptr && current_value->is_int64() ? current_value->get_int64() : 1;
  const std::string remembered =
      string_at(*object, {"metadata", "annotations", previous_replicas_annotation});
  json::object patch;
  std::int64_t wanted = 0;
  if (options.restore) {
    if (remembered.empty()) {
      return invalid(workload.id() + " has no " + std::string(previous_replicas_annotation) +
                     " annotation: nothing to restore");
    }
    wanted = std::stoll(remembered);
    patch = {
        {"metadata", json::object{{"annotations", json::object{{previous_replicas_annotation, nullptr}}}}},
        {"spec", json::object{{"replicas", wanted}}}};
  } else {
    wanted = *options.replicas;
    if (wanted == current) {
      context.report().set_output("previous-replicas",
                                  remembered.empty() ? std::to_string(current) : remembered);
      context.report().set_output("replicas", std::to_string(wanted));
      return {};  // a re-run: keep what the first run remembered
    }
    // Remember the count from before the incident, not an intermediate one.
    const std::string previous = remembered.empty() ? std::to_string(current) : remembered;
    patch = {
        {"metadata", json::object{{"annotations", json::object{{previous_replicas_annotation, previous}}}}},
        {"spec", json::object{{"replicas", wanted}}}};
  }
  k8s::Writer writer(client, context.report(), options.dry_run);
  auto patched =
      writer.merge_patch(workload.resource, workload.ns, workload.name, patch,
                         "scale from " + std::to_string(current) + " to " + std::to_string(wanted));
  if (!patched) return patched.error().with("scale " + workload.id());
  context.report().set_output("previous-replicas", std::to_string(current));
  context.report().set_output("replicas", std::to_string(wanted));
  return await(options, context, client, {workload});
}

Result<void> delete_pods(const Options& options, Context& context, k8s::Client& client) {
  if (options.targets.empty()) return invalid("name at least one pod to delete");
  if (options.ns.empty()) return invalid("--namespace is required for delete-pod");
  for (const auto& name : options.targets) {
    if (auto valid = k8s::check_object_name(name, "target"); !valid) return valid.error();
  }
  k8s::Writer writer(client, context.report(), options.dry_run);
  std::vector<std::string> deleted;
  for (const auto& name : options.targets) {
    auto pod = client.get(k8s::resources::pods, options.ns, name);
    if (!pod) {
      if (pod.error().code() == Code::not_found) {
        return Error(Code::not_found, "pod " + name + " not found in namespace " + options.ns);
      }
      return pod.error();
    }
    k8s::DeleteOptions delete_options;
    delete_options.uid = string_at(*pod, {"metadata", "uid"});
    if (options.force) {
      delete_options.grace_period_seconds = 0;
    } else if (options.grace_period) {
      delete_options.grace_period_seconds = static_cast<int>(*options.grace_period);
    }
    if (options.force) {
      context.warn(
          "--force: pod " + name +
          " is removed from the API at once; its containers may still run on the node until the kubelet "
          "stops them");
    }
    auto removed = writer.remove(k8s::resources::pods, options.ns, name, delete_options,
                                 options.force ? "force delete (grace 0)" : "delete", false);
    if (!removed) return removed.error().with("delete pod " + name);
    deleted.push_back(name);
  }
  context.report().set_output("deleted-pods", joined(deleted));
  return {};
}

Result<void> run_workload_verb(const Options& options, Context& context, k8s::Client& client) {
  auto workloads = workloads_of(options);
  if (!workloads) return workloads.error();
  std::vector<std::string> ids;
  for (const auto& workload : *workloads) ids.push_back(workload.id());
  context.report().set_output("workloads", joined(ids));
  switch (options.verb) {
    case Verb::restart: {
      k8s::Writer writer(client, context.report(), options.dry_run);
      const std::string restarted_at = format_utc(now());
      for (const auto& workload : *workloads) {
        if (auto done = restart(writer, workload, restarted_at, options.incident_id, "rollout restart");
            !done) {
          return done.error();
        }
      }
      return await(options, context, client, *workloads);
    }
    case Verb::status: {
      for (const auto& workload : *workloads) {
        if (auto object = get_workload(client, workload); !object) return object.error();
      }
      Options waiting = options;
      waiting.wait = true;
      waiting.dry_run = false;
      return await(waiting, context, client, *workloads);
    }
    case Verb::scale:
      if (!options.replicas && !options.restore) return invalid("scale needs --replicas N or --restore");
      for (const auto& workload : *workloads) {
        if (auto done = scale(options, context, client, workload); !done) return done;
      }
      return {};
    case Verb::set_image:
      if (auto done = set_image(options, context, client, *workloads); !done) return done;
      return await(options, context, client, *workloads);
    case Verb::undo:
      for (const auto& workload : *workloads) {
        if (workload.resource.kind == "CronJob" && options.to_revision > 0) {
          return invalid("parameter to-revision: " + workload.id() +
                         " has no revisions; its undo puts back the images set-image replaced");
        }
      }
      for (const auto& workload : *workloads) {
        if (auto done = undo(options, context, client, workload); !done) return done;
      }
      return await(options, context, client, *workloads);
    default:
      return internal_error("not a workload verb");
  }
}

}  // namespace

Result<json::object> get_workload(k8s::Client& client, const Workload& workload) {
  auto object = client.get(workload.resource, workload.ns, workload.name);
  if (!object && object.error().code() == Code::not_found) {
    return Error(Code::not_found, workload.id() + " not found in namespace " + workload.ns);
  }
  if (!object) return object.error().with("read " + workload.id());
  return object;
}

Result<Options> options_from(const json::object& params) {
  Options options;
  auto args = param_strings(params, "args");
  std::string verb = param_string(params, "verb");
  if (verb.empty() && !args.empty()) {
    verb = args.front();
    args.erase(args.begin());
  }
  if (verb.empty())
    return invalid(
        "give a verb: restart, status, undo, scale, set-image, delete-pod, find-image, check-persistence, "
        "stop");
  const auto* match =
      std::find_if(std::begin(verbs), std::end(verbs), [&](const auto& v) { return v.first == verb; });
  if (match == std::end(verbs)) {
    return invalid(
        "unknown verb '" + verb +
        "': use restart, status, undo, scale, set-image, delete-pod, find-image, check-persistence "
        "or stop");
  }
  options.verb = match->second;
  options.targets = param_strings(params, "target");
  options.targets.insert(options.targets.end(), args.begin(), args.end());
  options.ns = param_string(params, "namespace");
  auto timeout = parse_duration(param_string(params, "timeout", "5m"));
  if (!timeout) return timeout.error().with("parameter timeout");
  options.timeout = *timeout;
  options.wait = params.contains("wait") ? param_bool(params, "wait") : true;
  if (params.contains("replicas")) options.replicas = param_int(params, "replicas");
  options.restore = param_bool(params, "restore");
  options.to_revision = param_int(params, "to-revision", 0);
  if (params.contains("grace-period")) options.grace_period = param_int(params, "grace-period");
  options.force = param_bool(params, "force");
  options.selector = param_string(params, "selector");
  // since, else since-default (a playbook passes detected-at, else the
  // workflow's creation time).
  for (const auto* name : {"since", "since-default"}) {
    const std::string since = param_string(params, name);
    if (since.empty()) continue;
    auto parsed = parse_utc(since);
    if (!parsed) return parsed.error().with(std::string("parameter ") + name);
    if (!options.since) options.since = *parsed;
  }
  options.container = param_string(params, "container");
  if (options.verb == Verb::set_image) {
    auto image = pinned_image(param_string(params, "image"));
    if (!image) return image.error();
    options.image = std::move(*image);
  } else if (!param_string(params, "image").empty() || !options.container.empty() ||
             !param_string(params, "replacing").empty()) {
    return invalid("parameters image, container and replacing belong to set-image");
  }
  options.replacing = param_string(params, "replacing");
  options.digest = param_string(params, "digest");
  // A whole namespace is a fair scope for persistence (a new CronJob, a
  // changed DaemonSet); the whole cluster without a selector is not.
  if (options.verb == Verb::check_persistence && options.selector.empty() && options.ns.empty()) {
    return invalid("check-persistence needs --selector or --namespace");
  }
  // An empty window flags nothing and would pass for "no persistence found".
  if (options.verb == Verb::check_persistence && !options.since) {
    return invalid(
        "parameter since: check-persistence needs the start of the incident's window (RFC 3339, "
        "e.g. 2026-11-26T17:29:04Z), as --since or --since-default; an empty window would "
        "flag nothing");
  }
  if (options.verb == Verb::find_image && options.targets.size() != 1) {
    return invalid("find-image takes exactly one image reference");
  }
  if (options.verb == Verb::find_image) {
    if (auto query = image_query(options.targets.front(), options.digest); !query) return query.error();
  } else if (!options.replacing.empty()) {
    auto query = image_query(options.replacing, options.digest, "replacing");
    if (!query) return query.error();
  } else if (!options.digest.empty()) {
    return invalid("parameter digest: only find-image, and set-image with replacing, take a digest");
  }
  return options;
}

Result<void> run(const Options& options, Context& context) {
  auto kube = context.kube();
  if (!kube) return kube.error();
  k8s::Client& client = **kube;
  switch (options.verb) {
    case Verb::delete_pod:
      return delete_pods(options, context, client);
    case Verb::find_image:
      return find_image(options, context, client);
    case Verb::check_persistence:
      return check_persistence(options, context, client);
    case Verb::stop:
      return stop(options, context, client);
    default:
      return run_workload_verb(options, context, client);
  }
}

const StepDef& step() {
  static const StepDef def = define_step<Options>(
      "rollout",
      "restart, await, undo, scale, set the image of, stop workloads; delete pods; find images; check "
      "persistence",
      options_from, run);
  return def;
}

}  // namespace ir::steps::rollout
