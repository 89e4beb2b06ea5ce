// Step parameters from three sources, one schema: kebab-case flags, a
// --params FILE (JSON or YAML) and IRSTEPS_* environment variables, merged
// (flags over environment over file over schema defaults), converted to the
// schema's types and validated against it. The executor plugin validates its
// template arguments through the same function.
#pragma once

#include "ir/core/env.hpp"
#include "ir/core/error.hpp"
#include "ir/core/json.hpp"
#include "ir/params/schema.hpp"

#include <boost/json/serialize.hpp>

#include <concepts>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ir {

// A step's schema merged with the common parameters every step takes.
class ParamSpec {
 public:
  [[nodiscard]] static Result<ParamSpec> load(std::string_view step_name);
  [[nodiscard]] static Result<ParamSpec> from_documents(std::string_view step_name,
                                                        const json::value& step_schema,
                                                        const json::value& common_schema);

  [[nodiscard]] const std::string& step() const { return step_; }
  [[nodiscard]] const json::object& properties() const;
  [[nodiscard]] const Schema& schema() const { return schema_; }
  [[nodiscard]] std::string description() const;
  // The name of the property that takes positional arguments, if any.
  [[nodiscard]] std::optional<std::string> positional() const;
  [[nodiscard]] std::string help_text() const;

 private:
  ParamSpec(std::string step, Schema schema) : step_(std::move(step)), schema_(std::move(schema)) {}
  std::string step_;
  Schema schema_;
};

struct ParsedArgs {
  enum class Action { run, help, version };
  Action action = Action::run;
  json::object params;
};

// argv[0] is skipped. Unknown flags, bad values and schema violations are
// Code::invalid_input errors naming the parameter.
[[nodiscard]] Result<ParsedArgs> parse_args(const ParamSpec& spec, const std::vector<std::string>& args,
                                            const EnvLookup& env);

// Converts strings (from flags and environment) to the property's type, then
// validates the whole object and fills in defaults. Also used for the plugin.
// An empty string value means the parameter is not given.
[[nodiscard]] Result<json::object> finalize_params(const ParamSpec& spec, json::object params);

// "IRSTEPS_ALLOW_CIDR" for "allow-cidr".
[[nodiscard]] std::string env_name(std::string_view param);

// Typed access for steps, after finalize_params has run.
[[nodiscard]] std::string param_string(const json::object& params, std::string_view name,
                                       std::string_view fallback = {});
[[nodiscard]] bool param_bool(const json::object& params, std::string_view name);
[[nodiscard]] std::int64_t param_int(const json::object& params, std::string_view name,
                                     std::int64_t fallback = 0);
// An integer parameter as T: invalid input naming the parameter when the
// value does not fit T, never a silent cast (security review finding 6:
// --threshold 4294967296 became int 0 and verified an unsigned image). The
// schema's minimum and maximum are the first guard; this is the last.
template <std::integral T>
[[nodiscard]] Result<T> param_integer(const json::object& params, std::string_view name, T fallback) {
  const auto it = params.find(name);
  if (it == params.end()) return fallback;
  const auto& value = it->value();
  if (value.is_int64() && std::in_range<T>(value.get_int64())) return static_cast<T>(value.get_int64());
  if (value.is_uint64() && std::in_range<T>(value.get_uint64())) return static_cast<T>(value.get_uint64());
  if (!value.is_int64() && !value.is_uint64())
    return invalid("parameter " + std::string(name) + ": not a whole number");
  return invalid("parameter " + std::string(name) + ": " + json::serialize(value) + " is out of range");
}
[[nodiscard]] std::vector<std::string> param_strings(const json::object& params, std::string_view name);

// Whether `id` has the incident-id format. The format's one definition is
// common.schema.json's "incident-id" (result.schema.json refers to it).
[[nodiscard]] bool valid_incident_id(std::string_view id);

// Compiled-in copies of schemas/*.json, by file stem ("isolate", "common", "result").
[[nodiscard]] std::optional<std::string_view> embedded_schema(std::string_view name);

}  // namespace ir
