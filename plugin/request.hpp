// Argo's template.execute call: reading the request
// (schemas/plugin-request.schema.json) into what to run, running it, and
// writing the reply (schemas/plugin-reply.schema.json).
#pragma once

#include "ir/core/error.hpp"
#include "ir/core/json.hpp"
#include "ir/output/report.hpp"
#include "policy.hpp"
#include "steps_table.hpp"

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace ir::plugin {

// A step to run: schema-valid parameters, and the key under which repeated
// calls for the same node find the same run.
struct StepCall {
  // Workflow uid, the node's name (the template's `node` member, from
  // {{node.name}}; the template name without it) and a digest of the
  // parameters: Argo sends no node id of its own.
  std::string key;
  std::string workflow;  // namespace/name, for logs
  std::string template_name;
  std::string node;  // empty when the template sends none
  const StepEntry* entry = nullptr;
  json::object params;  // validated, defaults filled in
  // The template's output parameters with a default
  // (outputs.parameters[].valueFrom.default): Argo takes a plugin node's
  // outputs from the reply as they are, so the reply carries the default of
  // each one the step did not set, as Argo itself does for a pod.
  std::vector<std::pair<std::string, std::string>> output_defaults;
};

// A template for another plugin: the reply is `{}`.
struct NotOurs {};

// Our template, but it cannot run (unknown step, bad parameters, not
// allowed by the policy): a Failed node, and nothing starts.
struct Refused {
  std::string message;
};

using Call = std::variant<NotOurs, Refused, StepCall>;

// Code::invalid_input (HTTP 400) for malformed JSON or a body that is not a
// template.execute request. A call the policy does not allow is Refused.
[[nodiscard]] Result<Call> read_request(std::string_view body, const Policy& policy);

// Runs the step in this thread, through the same run_step as the binaries.
[[nodiscard]] json::object run_call(const StepCall& call);

// What a step's exit code means, for the node's message.
[[nodiscard]] std::string_view exit_code_meaning(int code);

[[nodiscard]] json::object node_from_run(const Report& report, int exit_code);
// Adds each default whose output the node does not have.
void add_output_defaults(json::object& node,
                         const std::vector<std::pair<std::string, std::string>>& defaults);
[[nodiscard]] json::object failed_node(const std::string& message);
[[nodiscard]] json::object running_node(const std::string& message);
[[nodiscard]] json::object make_reply(json::object node,
                                      std::optional<std::chrono::milliseconds> requeue = std::nullopt);

// Why there is no writable directory for case records' clones, if there is
// none: neither the configured one (IRSTEPS_CACHE_DIR) nor a private one
// under TMPDIR (git::usable_cache_root). The plugin's root filesystem is
// read-only in the agent pod; plugin.yaml gives it a writable folder.
[[nodiscard]] std::optional<std::string> unwritable_cache();

// "5s", "1m30s": Argo's metav1.Duration.
[[nodiscard]] std::string format_duration(std::chrono::milliseconds duration);

}  // namespace ir::plugin
