#include "rotate_secret.hpp"

#include "ir/k8s/event.hpp"

#include "ir/core/log.hpp"
#include "ir/core/time.hpp"
#include "ir/params/params.hpp"

#include <algorithm>
#include <cctype>
#include <iostream>
#include <sstream>

namespace ir::steps::rotate_secret {
namespace {

Charset charset_from(std::string_view name) {
  if (name == "hex") return Charset::hex;
  if (name == "base64") return Charset::base64;
  if (name == "urlsafe") return Charset::urlsafe;
  if (name == "printable") return Charset::printable;
  return Charset::alnum;
}

std::string joined(const std::vector<std::string>& items) {
  std::string text;
  for (const auto& item : items) text += (text.empty() ? "" : ",") + item;
  return text;
}

void add_once(std::vector<k8s::Workload>& list, const k8s::Workload& workload) {
  if (std::find(list.begin(), list.end(), workload) == list.end()) list.push_back(workload);
}

Result<std::vector<k8s::Workload>> workloads_to_restart(const Options& options, const Consumers& consumers) {
  std::vector<k8s::Workload> chosen;
  if (options.restart == "none") return chosen;
  if (options.restart == "auto") {
    for (const auto& workload : consumers.workloads) add_once(chosen, workload);
    return chosen;
  }
  std::stringstream list(options.restart);
  std::string target;
  while (std::getline(list, target, ',')) {
    auto workload = k8s::parse_workload(target, options.ns);
    if (!workload) return workload.error().with("parameter restart");
    add_once(chosen, *workload);
  }
  return chosen;
}

// Deletes the legacy token Secrets of the ServiceAccount; its bound tokens
// die with the pods, which the caller restarts.
Result<std::vector<std::string>> revoke_tokens(const Options& options, k8s::Client& client,
                                               k8s::Writer& writer) {
  const std::string& account = options.revoke_service_account;
  auto found = client.get(k8s::resources::serviceaccounts, options.ns, account);
  if (!found) {
    if (found.error().code() == Code::not_found) {
      return Error(Code::not_found, "ServiceAccount " + account + " not found in namespace " + options.ns);
    }
    return found.error().with("read ServiceAccount " + account);
  }
  auto listed = client.list(k8s::resources::secrets, options.ns, {{}, "type=" + std::string(token_type)});
  if (!listed) return listed.error().with("list token Secrets");
  std::vector<std::string> revoked;
  for (const auto& item : listed->at("items").as_array()) {
    if (string_at(item, {"metadata", "annotations", "kubernetes.io/service-account.name"}) != account)
      continue;
    const std::string name = string_at(item, {"metadata", "name"});
    k8s::DeleteOptions precondition;
    precondition.uid = string_at(item, {"metadata", "uid"});
    auto removed = writer.remove(k8s::resources::secrets, options.ns, name, precondition,
                                 "revoke a token of ServiceAccount " + account, true);
    if (!removed) return removed.error().with("revoke token Secret " + name);
    revoked.push_back(name);
  }
  return revoked;
}

Result<std::vector<k8s::RolloutResult>> restart_all(const Options& options, k8s::Client& client,
                                                    k8s::Writer& writer,
                                                    const std::vector<k8s::Workload>& workloads) {
  const std::string restarted_at = format_utc(now());
  const std::size_t batch_size =
      options.max_concurrent_restarts == 0 ? workloads.size() : options.max_concurrent_restarts;
  const auto deadline = std::chrono::steady_clock::now() + options.timeout;
  std::vector<k8s::RolloutResult> results;
  for (std::size_t start = 0; start < workloads.size(); start += batch_size) {
    const std::vector<k8s::Workload> batch(
        workloads.begin() + static_cast<std::ptrdiff_t>(start),
        workloads.begin() + static_cast<std::ptrdiff_t>(std::min(workloads.size(), start + batch_size)));
    for (const auto& workload : batch) {
      auto restarted = k8s::restart(writer, workload, restarted_at, options.incident_id,
                                    "restart to pick up the rotated Secret");
      if (!restarted) return restarted.error();
    }
    if (options.dry_run) continue;
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    auto waited = k8s::wait_for_rollouts(client, batch, std::max(left, std::chrono::milliseconds(0)));
    if (!waited) return waited.error();
    results.insert(results.end(), waited->begin(), waited->end());
  }
  return results;
}

}  // namespace

Result<Options> options_from(const json::object& params) {
  Options options;
  options.ns = param_string(params, "namespace");
  options.secrets = param_strings(params, "secret");
  options.keys = param_strings(params, "key");
  if (!param_string(params, "from-file").empty()) {
    options.source = Source::file;
    options.from_file = param_string(params, "from-file");
  } else if (!param_string(params, "from-env").empty()) {
    options.source = Source::env;
    options.from_env = param_string(params, "from-env");
  } else if (param_bool(params, "from-stdin")) {
    options.source = Source::stdin_stream;
  }
  auto length = param_integer<std::size_t>(params, "length", 32);
  if (!length) return length.error();
  options.length = *length;
  options.charset = charset_from(param_string(params, "charset", "alnum"));
  options.create = param_bool(params, "create");
  options.keep_previous = param_bool(params, "keep-previous");
  options.restart = param_string(params, "restart", "auto");
  auto max_concurrent_restarts = param_integer<std::size_t>(params, "max-concurrent-restarts", 0);
  if (!max_concurrent_restarts) return max_concurrent_restarts.error();
  options.max_concurrent_restarts = *max_concurrent_restarts;
  auto timeout = parse_duration(param_string(params, "timeout", "5m"));
  if (!timeout) return timeout.error().with("parameter timeout");
  options.timeout = *timeout;
  options.revoke_service_account = param_string(params, "revoke-service-account-tokens");
  if (options.restart != "auto" && options.restart != "none") {
    if (auto checked = workloads_to_restart(options, {}); !checked) return checked.error();
  }
  return options;
}

Result<void> run(const Options& options, Context& context) {
  // Values first: a bad source fails before anything changes.
  std::map<std::string, Secret> values;
  std::optional<Secret> shared;
  if (!options.secrets.empty() && options.source != Source::generate) {
    auto value = read_value(options, std::cin);
    if (!value) return value.error();
    shared = std::move(*value);
  }
  auto kube = context.kube();
  if (!kube) return kube.error();
  k8s::Client& client = **kube;
  k8s::Writer writer(client, context.report(), options.dry_run);
  Report& report = context.report();

  std::vector<std::string> versions;
  for (const auto& name : options.secrets) {
    values.clear();
    for (const auto& key : options.keys) {
      if (shared) {
        values.emplace(key, *shared);
      } else {
        auto generated = generate_value(options.length, options.charset);
        if (!generated) return generated.error();
        values.emplace(key, std::move(*generated));
      }
    }
    auto rotation = update_secret(client, report, options, name, values);
    if (!rotation) return rotation.error();
    versions.push_back(rotation->resource_version);
    if (!rotation->previous_secret.empty()) {
      context.warn("--keep-previous: Secret " + rotation->previous_secret +
                   " keeps the old, possibly leaked value; delete it once the rollout is confirmed");
      report.set_output("previous-secret", rotation->previous_secret);
    }
    // The record on the Secret itself, for `kubectl describe`: when and for
    // which incident, never what.
    const json::object event = k8s::build_event(
        {.involved = k8s::reference_of(k8s::resources::secrets, options.ns, name, rotation->uid),
         .ns = options.ns,
         .step = "rotate-secret",
         .incident_id = options.incident_id,
         .reason = "Rotated",
         .message = "irsteps rotated " + std::to_string(values.size()) +
                    " key(s) of this Secret for incident " + options.incident_id,
         .type = "Normal",
         .name_suffix = rotation->resource_version.empty() ? "" : "-" + rotation->resource_version});
    if (auto recorded =
            writer.create(k8s::resources::events, options.ns, event, "event on Secret " + name, true);
        !recorded) {
      context.warn("the rotation of Secret " + name +
                   " is done but its Event could not be recorded: " + recorded.error().describe());
    }
    log::info(
        "secret.rotated",
        {{"name", name}, {"namespace", options.ns}, {"keys", static_cast<std::int64_t>(values.size())}});
  }
  values.clear();
  shared.reset();
  report.set_output("secrets", joined(options.secrets));
  report.set_output("resource-version", joined(versions));

  std::vector<std::string> revoked;
  if (!options.revoke_service_account.empty()) {
    auto done = revoke_tokens(options, client, writer);
    if (!done) return done.error();
    revoked = std::move(*done);
    report.set_output("revoked-tokens", joined(revoked));
  }

  auto consumers = find_consumers(client, options.ns, options.secrets, options.revoke_service_account);
  if (!consumers) return consumers.error();
  report.set_output("consumers", joined(consumers->described));
  report.set_output("cronjobs", joined(consumers->cronjobs));
  report.set_output("bare-pods", joined(consumers->bare_pods));
  for (const auto& cronjob : consumers->cronjobs) {
    context.warn("CronJob " + cronjob +
                 " uses the Secret: its next Job gets the new value; running Jobs keep the old one");
  }
  for (const auto& pod : consumers->bare_pods) {
    context.warn("pod " + pod + " has no controller and still holds the old value: delete and recreate it");
  }

  auto chosen = workloads_to_restart(options, *consumers);
  if (!chosen) return chosen.error();
  std::vector<std::string> ids;
  for (const auto& workload : *chosen) ids.push_back(workload.id());
  report.set_output("restarted", joined(ids));
  auto results = restart_all(options, client, writer, *chosen);
  if (!results) return results.error();
  report.set_output("rollouts", k8s::results_json(*results));

  std::string unhealthy;
  for (const auto& result : *results) {
    if (!result.healthy) unhealthy += (unhealthy.empty() ? "" : " | ") + result.message;
  }
  if (!unhealthy.empty()) {
    return Error(Code::action_failed,
                 "the Secret was rotated but not every consumer became healthy: " + unhealthy);
  }
  return {};
}

const StepDef& step() {
  static const StepDef def = define_step<Options>(
      "rotate-secret", "rotate a Secret's values, restart its consumers and await them", options_from, run);
  return def;
}

}  // namespace ir::steps::rotate_secret
