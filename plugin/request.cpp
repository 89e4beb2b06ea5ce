#include "request.hpp"

#include "ir/core/encoding.hpp"
#include "ir/core/log.hpp"
#include "ir/driver/step.hpp"
#include "ir/git/repository.hpp"
#include "ir/params/params.hpp"
#include "ir/params/schema.hpp"

#include <boost/json/serialize.hpp>

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>

namespace ir::plugin {
namespace {

// Parameters that only make sense for a process of its own: the plugin's
// stdin, stdout files and log settings are not the step's.
constexpr std::string_view process_only[] = {"from-stdin", "outputs-dir", "log-format", "log-level"};

// Parameters that change the whole process, not the one run (security review
// finding 16): the git CA files go to git_libgit2_opts
// (GIT_OPT_SET_SSL_CERT_LOCATIONS), which adds to libgit2's one OpenSSL
// context for every later connection of every run, so one workflow's CA
// would be trusted for another's case record. libgit2 1.5 has no per-remote
// CA; its certificate_check callback sees only the leaf certificate.
constexpr std::string_view process_global[] = {"case-repo-ca-file", "expected-ca-file"};

const Schema& request_schema() {
  static const Schema schema = [] {
    const auto text = embedded_schema("plugin-request");
    if (!text) throw std::logic_error("no compiled-in schema plugin-request");
    auto parsed = Schema::from_text(*text, "plugin-request.schema.json");
    if (!parsed) throw std::logic_error(parsed.error().describe());
    return std::move(*parsed);
  }();
  return schema;
}

// Worded as a run's failure would be: the parameters are refused before
// anything runs, as the command line refuses them with exit code 2.
Refused refuse(std::string_view where, const std::string& detail) {
  return Refused{std::string(where) + " failed with exit code 2 (" + std::string(exit_code_meaning(2)) +
                 "): " + detail};
}

std::string known_steps() {
  std::string names;
  for (const auto name : step_names()) names += (names.empty() ? "" : ", ") + std::string(name);
  return names;
}

Call read_irsteps(const json::object& request, const json::object& irsteps, const Policy& policy) {
  const auto* step_value = irsteps.if_contains("step");
  if (step_value == nullptr || !step_value->is_string()) {
    return refuse("irsteps",
                  "plugin.irsteps.step: the step to run is missing (one of " + known_steps() + ")");
  }
  const std::string step_name(step_value->get_string());
  const StepEntry* entry = find_step(step_name);
  if (entry == nullptr) {
    return refuse("irsteps",
                  "plugin.irsteps.step: unknown step '" + step_name + "' (one of " + known_steps() + ")");
  }
  if (auto refused = policy.refuse_step(step_name)) return refuse(step_name, *refused);
  json::object params = irsteps;
  params.erase("step");
  // A string: the request's schema says so.
  const std::string node = string_at(params, {"node"});
  params.erase("node");
  for (const auto name : process_only) {
    if (params.contains(name)) {
      return refuse(step_name, "parameter " + std::string(name) +
                                   " is for the step's own process and cannot be used in a plugin template");
    }
  }
  for (const auto name : process_global) {
    if (const auto* value = params.if_contains(name);
        value != nullptr && !(value->is_string() && value->get_string().empty())) {
      return refuse(step_name,
                    "parameter " + std::string(name) +
                        " sets the CA of every git connection in the plugin's process, not of this "
                        "run's: it cannot be used in a plugin template (run the step as a pod, or "
                        "give the plugin's image the CA in its system store)");
    }
  }
  auto finalized = finalize_params(*entry->spec, params);
  if (!finalized) return refuse(step_name, finalized.error().describe());
  if (auto refused = policy.refuse(*entry, params, *finalized)) return refuse(step_name, *refused);
  if (const auto* repo = finalized->if_contains("case-repo");
      repo != nullptr && repo->is_string() && !repo->get_string().empty()) {
    // Refused before the step acts: a step that isolated a pod and then
    // could not record it would fail after the fact.
    if (auto problem = unwritable_cache()) {
      return refuse(step_name,
                    "case-repo: the plugin has no writable directory for the case record's clone (" +
                        *problem +
                        "); give its container a writable volume in IRSTEPS_CACHE_DIR (plugin.yaml "
                        "mounts one), leave case-repo empty, or run this step as a pod");
    }
  }

  StepCall call;
  call.entry = entry;
  call.params = std::move(*finalized);
  call.template_name = string_at(request, {"template", "name"});
  const std::string uid = string_at(request, {"workflow", "metadata", "uid"});
  const std::string ns = string_at(request, {"workflow", "metadata", "namespace"});
  const std::string name = string_at(request, {"workflow", "metadata", "name"});
  call.workflow = ns.empty() ? name : ns + "/" + name;
  if (const auto* outputs = find(request, {"template", "outputs", "parameters"});
      outputs != nullptr && outputs->is_array()) {
    for (const auto& parameter : outputs->get_array()) {
      const std::string output = string_at(parameter, {"name"});
      const auto* fallback = find(parameter, {"valueFrom", "default"});
      if (output.empty() || fallback == nullptr) continue;
      // Argo's default is a string (an IntOrString in older manifests).
      call.output_defaults.emplace_back(
          output, fallback->is_string() ? std::string(fallback->get_string()) : json::serialize(*fallback));
    }
  }
  // Argo sends no node id (ExecuteTemplateArgs is the workflow's name,
  // namespace and uid, and the template: pkg/plugins/executor/ and
  // executePluginTemplate in workflow/executor/agent.go of
  // argoproj/argo-workflows), but it substitutes {{node.name}} in the
  // template (executeTemplate in workflow/controller/operator.go): the
  // templates of workflows/argo/plugin/steps.yaml send it as `node`, so that
  // two nodes with the same arguments are two runs (security review finding
  // 19). Without it, such nodes share one run (plugin/README.md).
  const std::string digest = sha256_hex(to_sorted_json(json::value(irsteps))).substr(0, 16);
  call.node = node;
  call.key = (uid.empty() ? call.workflow : uid) + "/" +
             (node.empty() ? "template:" + call.template_name : "node:" + node) + "/" + digest;
  return call;
}

}  // namespace

std::optional<std::string> unwritable_cache() {
  auto usable = git::usable_cache_root();
  if (!usable) return usable.error().describe();
  return std::nullopt;
}

Result<Call> read_request(std::string_view body, const Policy& policy) {
  auto document = parse_json(body, "request body");
  if (!document) return document.error();
  const auto problems = request_schema().validate(*document);
  if (!problems.empty()) {
    const auto& first = problems.front();
    return invalid("request body: " + (first.path.empty() ? std::string() : first.path + ": ") +
                   first.message);
  }
  const json::object& request = document->get_object();
  const auto* irsteps = find(request, {"template", "plugin", "irsteps"});
  if (irsteps == nullptr) return Call{NotOurs{}};
  return read_irsteps(request, irsteps->get_object(), policy);
}

std::string_view exit_code_meaning(int code) {
  switch (code) {
    case 0:
      return "done";
    case 1:
      return "the step's action failed";
    case 2:
      return "bad parameters or input";
    case 3:
      return "negative verdict";
    case 4:
      return "transient, a retry may succeed";
    case 5:
      return "forbidden by RBAC";
    case 70:
      return "internal error";
    default:
      return "unknown";
  }
}

json::object failed_node(const std::string& message) {
  return json::object{{"phase", "Failed"}, {"message", message}};
}

json::object running_node(const std::string& message) {
  return json::object{{"phase", "Running"}, {"message", message}};
}

json::object node_from_run(const Report& report, int exit_code) {
  json::object node;
  json::array parameters;
  for (const auto& [name, value] : report.outputs()) {
    parameters.push_back(json::object{{"name", name}, {"value", value}});
  }
  const std::string step = report.step();
  if (exit_code == exit_ok) {
    node["phase"] = "Succeeded";
    node["message"] = step + " succeeded" + (report.warnings().empty() ? "" : " with warnings");
  } else {
    const json::value document(report.to_json());
    std::string message = step + " failed with exit code " + std::to_string(exit_code) + " (" +
                          std::string(exit_code_meaning(exit_code)) + ")";
    if (const std::string detail = string_at(document, {"error", "message"}); !detail.empty()) {
      message += ": " + detail;
    }
    node["phase"] = "Failed";
    node["message"] = std::move(message);
  }
  if (!parameters.empty()) node["outputs"] = json::object{{"parameters", std::move(parameters)}};
  return node;
}

void add_output_defaults(json::object& node,
                         const std::vector<std::pair<std::string, std::string>>& defaults) {
  if (defaults.empty()) return;
  json::array parameters;
  if (const auto* given = find(node, {"outputs", "parameters"}); given != nullptr && given->is_array()) {
    parameters = given->get_array();
  }
  for (const auto& [name, value] : defaults) {
    const bool set = std::any_of(parameters.begin(), parameters.end(),
                                 [&](const json::value& p) { return string_at(p, {"name"}) == name; });
    if (!set) parameters.push_back(json::object{{"name", name}, {"value", value}});
  }
  if (!parameters.empty()) node["outputs"] = json::object{{"parameters", std::move(parameters)}};
}

json::object run_call(const StepCall& call) {
  Report report(std::string(call.entry->step->name), std::string(irsteps_version()));
  try {
    Context context(report, call.params);
    const int code = run_step(*call.entry->step, context);
    auto node = node_from_run(report, code);
    add_output_defaults(node, call.output_defaults);
    return node;
  } catch (const std::exception& e) {
    // run_step catches the step's own exceptions; this is the set-up around it.
    log::error("job.internal_error", {{"key", call.key}, {"message", e.what()}});
    return failed_node(std::string(call.entry->step->name) +
                       " failed with exit code 70 (internal error): " + e.what());
  }
}

std::string format_duration(std::chrono::milliseconds duration) {
  using namespace std::chrono;
  if (duration.count() % 1000 != 0) return std::to_string(duration.count()) + "ms";
  auto seconds = duration_cast<std::chrono::seconds>(duration).count();
  std::string text;
  if (seconds >= 3600) {
    text += std::to_string(seconds / 3600) + "h";
    seconds %= 3600;
  }
  if (seconds >= 60) {
    text += std::to_string(seconds / 60) + "m";
    seconds %= 60;
  }
  if (seconds > 0 || text.empty()) text += std::to_string(seconds) + "s";
  return text;
}

json::object make_reply(json::object node, std::optional<std::chrono::milliseconds> requeue) {
  json::object reply{{"node", std::move(node)}};
  if (requeue) reply["requeue"] = format_duration(*requeue);
  return reply;
}

}  // namespace ir::plugin
