#include "snapshot.hpp"

#include "ir/core/log.hpp"
#include "ir/core/time.hpp"
#include "ir/crypto/signing.hpp"
#include "ir/evidence/archive.hpp"
#include "ir/k8s/writer.hpp"
#include "ir/params/params.hpp"

#include <filesystem>

namespace ir::steps::snapshot {
namespace {

std::string name_of(const json::object& object) {
  return string_at(object, {"metadata", "name"});
}

// Containers of every kind, narrowed to --container when given.
std::vector<std::string> containers_of(const json::object& pod, const std::vector<std::string>& wanted) {
  std::vector<std::string> names;
  for (const char* kind : {"initContainers", "containers", "ephemeralContainers"}) {
    if (const auto* list = find(pod, {"spec", kind}); list != nullptr && list->is_array()) {
      for (const auto& c : list->get_array()) {
        const std::string name = string_at(c, {"name"});
        if (wanted.empty() || std::find(wanted.begin(), wanted.end(), name) != wanted.end())
          names.push_back(name);
      }
    }
  }
  return names;
}

Result<std::vector<json::object>> find_pods(const Options& options, k8s::Client& client) {
  std::vector<json::object> pods;
  for (const auto& name : options.pods) {
    auto pod = client.get(k8s::resources::pods, options.ns, name);
    if (!pod) {
      if (pod.error().code() == Code::not_found)
        return Error(Code::not_found, "pod " + name + " not found in namespace " + options.ns);
      return pod.error();
    }
    pods.push_back(std::move(*pod));
  }
  if (!options.selector.empty()) {
    auto listed = client.list(k8s::resources::pods, options.ns, {options.selector, {}});
    if (!listed) return listed.error();
    for (auto& item : listed->at("items").as_array()) pods.push_back(std::move(item.as_object()));
    if (pods.empty())
      return Error(Code::not_found, "no pod in namespace " + options.ns + " matches " + options.selector);
  }
  return pods;
}

void plan(const Options& options, const std::vector<json::object>& pods, Report& report) {
  for (const auto& pod : pods) {
    std::vector<std::string> items{
        "pod.json", "describe.txt", "events.json", "networkpolicies.json", "serviceaccount.json",
        "node.json"};
    for (const auto& c : containers_of(pod, options.containers)) {
      items.push_back("logs/" + c + ".log");
      if (is_own_debug_container(pod, c)) continue;  // logs only: it is not evidence of the incident
      if (options.triage) {
        for (const char* t : {"processes.txt", "network.txt", "modified-files.txt"})
          items.push_back("triage/" + c + "/" + t);
      }
      if (options.filesystem) items.push_back("filesystem/" + c + (options.gzip ? ".tar.gz" : ".tar"));
      if (options.checkpoint) items.push_back("checkpoint/" + c + ".json");
      if (options.filesystem && !options.via_ephemeral.empty() && is_regular_container(pod, c))
        plan_ephemeral(options, pod, c, report);
    }
    for (const auto& item : items) {
      Action action;
      action.verb = "collect";
      action.target = k8s::reference_of(k8s::resources::pods, options.ns, name_of(pod),
                                        string_at(pod, {"metadata", "uid"}));
      action.detail = options.ns + "/" + name_of(pod) + "/" + item;
      action.dry_run = true;
      report.add_action(std::move(action));
    }
  }
}

}  // namespace

void count(Tally& tally, const Result<evidence::Item>& item, evidence::Folder& folder,
           const std::string& path, const std::string& source) {
  if (!item) return count_failure(tally, item.error(), folder, path, source);
  if (item->status == evidence::ItemStatus::partial) {
    ++tally.partial;
    log::warn("evidence.partial", {{"path", path}, {"reason", item->reason}});
  } else {
    ++tally.complete;
    log::info("evidence.collected", {{"path", path}, {"bytes", item->size}});
  }
}

void count_failure(Tally& tally, const Error& error, evidence::Folder& folder, const std::string& path,
                   const std::string& source) {
  ++tally.failed;
  if (error.code() == Code::forbidden && !tally.first_forbidden) tally.first_forbidden = error;
  log::warn("evidence.failed", {{"path", path}, {"reason", error.describe()}});
  if (auto recorded = folder.record_failure(path, source, error.describe()); !recorded) {
    log::error("evidence.manifest", {{"message", recorded.error().describe()}});
  }
}

namespace {

// A path inside the pod for tar or find: absolute (the schema says so too),
// with no line break or NUL (they would split the command's text in the
// manifest and the logs) and no ".." (which could climb out of
// /proc/<pid>/root).
Result<void> check_pod_path(const std::string& parameter, const std::string& path) {
  if (!path.starts_with('/'))
    return invalid("parameter " + parameter + ": '" + path + "' is not an absolute path");
  if (path.find_first_of(std::string_view("\n\r\0", 3)) != std::string::npos)
    return invalid("parameter " + parameter + ": a path holds a line break or a NUL");
  for (std::size_t start = 0; start <= path.size();) {
    const auto end = std::min(path.find('/', start), path.size());
    if (path.compare(start, end - start, "..") == 0)
      return invalid("parameter " + parameter + ": '" + path + "' climbs with '..'");
    start = end + 1;
  }
  return {};
}

}  // namespace

Result<Options> options_from(const json::object& params) {
  Options options;
  const auto command = param_strings(params, "command");
  if (!command.empty()) {
    if (command.front() != "verify" || command.size() != 2) {
      return invalid("the only command is `verify DIR` (got '" + command.front() + "')");
    }
    options.verify_dir = command[1];
    options.verify_key = param_string(params, "key");
    return options;
  }
  options.ns = param_string(params, "namespace");
  options.pods = param_strings(params, "pod");
  options.selector = param_string(params, "selector");
  options.containers = param_strings(params, "container");
  options.out = param_string(params, "out");
  options.since = param_string(params, "since");
  auto within = parse_duration(param_string(params, "modified-within", "60m"));
  if (!within) return within.error().with("parameter modified-within");
  options.modified_within = *within;
  options.modified_paths = param_strings(params, "modified-paths");
  options.triage = param_bool(params, "triage");
  options.via_ephemeral = param_string(params, "via-ephemeral");
  options.filesystem = param_bool(params, "filesystem") || !options.via_ephemeral.empty();
  options.paths = param_strings(params, "paths");
  auto max_bytes = param_integer<std::uint64_t>(params, "max-bytes", std::uint64_t{10} << 30);
  if (!max_bytes) return max_bytes.error();
  options.max_bytes = *max_bytes;
  options.checkpoint = param_bool(params, "checkpoint");
  options.gzip = param_bool(params, "gzip");
  options.archive = param_string(params, "archive");
  options.sign_key = param_string(params, "sign-key");
  for (const auto& [parameter, paths] :
       {std::pair{"paths", &options.paths}, {"modified-paths", &options.modified_paths}}) {
    for (const auto& path : *paths)
      if (auto ok = check_pod_path(parameter, path); !ok) return ok.error();
  }
  if (!options.sign_key.empty() && !std::filesystem::exists(options.sign_key)) {
    return invalid("parameter sign-key: " + options.sign_key + " does not exist");
  }
  return options;
}

Result<void> run(const Options& options, Context& context) {
  if (!options.verify_dir.empty()) return verify(options, context);
  auto kube = context.kube();
  if (!kube) return kube.error();
  k8s::Client& client = **kube;
  auto pods = find_pods(options, client);
  if (!pods) return pods.error();
  Report& report = context.report();
  if (options.dry_run) {
    plan(options, *pods, report);
    report.set_output("evidence-path", options.out_dir());
    return {};
  }
  json::object header{{"incidentId", options.incident_id},
                      {"tool", "irsteps snapshot " + std::string(irsteps_version())},
                      {"collector", client.config().source},
                      {"arguments", context.params()},
                      {"startTime", format_utc(now(), true)}};
  auto folder = evidence::Folder::open(options.out_dir(), std::move(header));
  if (!folder) return folder.error();
  Tally tally;
  EphemeralSession session;
  for (const auto& pod : *pods) {
    collect_objects(client, pod, *folder, tally);
    const auto containers = containers_of(pod, options.containers);
    collect_logs(client, options, pod, containers, *folder, tally);
    for (const auto& container : containers) {
      // A debug container this step added earlier is no evidence: its log is kept, nothing else.
      if (is_own_debug_container(pod, container)) continue;
      if (options.triage) collect_triage(client, options, pod, container, *folder, tally);
      if (options.filesystem && !options.via_ephemeral.empty() && is_regular_container(pod, container)) {
        collect_filesystem_via_ephemeral(client, options, pod, container, *folder, tally, context, session);
      } else if (options.filesystem) {
        collect_filesystem(client, options, pod, container, *folder, tally);
      }
      if (options.checkpoint) collect_checkpoint(client, pod, container, *folder, tally, context);
    }
  }
  for (const auto& item : folder->items()) {
    if (item.status == evidence::ItemStatus::failed) continue;
    report.add_evidence({options.out_dir() + "/" + item.path, item.sha256, item.size,
                         std::string(evidence::status_name(item.status))});
  }
  if (!options.sign_key.empty()) {
    auto key = read_file(options.sign_key);
    if (!key) return key.error().with("parameter sign-key");
    auto manifest = read_file(folder->dir() + "/manifest.json");
    if (!manifest) return manifest.error();
    auto signature = crypto::sign_blob(*manifest, Secret(std::move(*key)));
    if (!signature) return signature.error().with("sign the manifest");
    if (auto written = write_file_atomic(folder->dir() + "/manifest.json.sig", *signature); !written)
      return written.error();
    report.set_output("signature", folder->dir() + "/manifest.json.sig");
  }
  if (!options.archive.empty()) {
    auto archived = evidence::write_tar_gz(folder->dir(), options.archive);
    if (!archived) return archived.error().with("parameter archive");
    report.set_output("archive", options.archive);
    report.set_output("archive-sha256", *archived);
  }
  report.set_output("evidence-path", folder->dir());
  report.set_output("manifest-sha256", folder->manifest_sha256());
  report.set_output("complete", std::to_string(tally.complete));
  report.set_output("partial", std::to_string(tally.partial));
  report.set_output("failed", std::to_string(tally.failed));
  if (tally.first_forbidden) {
    return Error(Code::forbidden, tally.first_forbidden->describe() + " (" + std::to_string(tally.failed) +
                                      " items failed; the others were collected)");
  }
  if (tally.failed > 0 || tally.interrupted > 0) {
    context.warn(std::to_string(tally.failed) + " evidence items could not be collected and " +
                 std::to_string(tally.interrupted) + " were cut short; see manifest.json");
    report.mark_partial();
  }
  return {};
}

const StepDef& step() {
  static const StepDef def = define_step<Options>(
      "snapshot", "capture forensic evidence with a chain of custody", options_from, run);
  return def;
}

}  // namespace ir::steps::snapshot
