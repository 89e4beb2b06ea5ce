// What workflows may ask of the plugin (security review finding 4). The
// plugin acts with its own ServiceAccount for whoever can create a Workflow
// in its namespace, so a template chooses nothing the policy does not allow:
// the steps, per step the namespaces it acts in and the parameters a
// template may set, and the exact local paths of each parameter that names
// a file (or the environment) of the plugin's own. Those parameters are
// found from the steps' schemas ("x-local-path"), so a step that gains one
// is covered without a change here.
//
// Without a policy every step and namespace is allowed and every local path
// is refused: the steps act with the in-cluster account and read nothing of
// the plugin's.
// Schema: schemas/plugin-policy.schema.json.
#pragma once

#include "ir/core/error.hpp"
#include "ir/core/json.hpp"
#include "steps_table.hpp"

#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace ir::plugin {

class Policy {
 public:
  // No policy file: see above.
  Policy() = default;
  // Code::invalid_input naming `what` and the field for a policy that is not
  // valid against its schema or names a step, parameter or file parameter
  // that does not exist.
  [[nodiscard]] static Result<Policy> parse(std::string_view text, const std::string& what);
  [[nodiscard]] static Result<Policy> load(const std::string& path);

  [[nodiscard]] bool loaded() const { return !source_.empty(); }
  [[nodiscard]] const std::string& source() const { return source_; }

  // Whether a template may run `step` at all: why not, if not.
  [[nodiscard]] std::optional<std::string> refuse_step(std::string_view step) const;
  // Why the call is refused, if it is. `given` is the template's parameters
  // as sent (without "step"; an empty string is a parameter not given),
  // `params` the same after the step's schema (typed, defaults filled in).
  [[nodiscard]] std::optional<std::string> refuse(const StepEntry& entry, const json::object& given,
                                                  const json::object& params) const;

  // For --dry-run and the start-up log.
  [[nodiscard]] json::object describe() const;

 private:
  struct StepRule {
    bool any_namespace = false;
    std::set<std::string> namespaces;
    std::optional<std::set<std::string>> parameters;  // nullopt: all but local paths
    std::map<std::string, std::set<std::string>> files;
  };
  std::string source_;  // empty: no policy
  std::map<std::string, StepRule, std::less<>> steps_;
};

// The values in `value` of the parameter whose schema is `property` that
// name something local to the plugin (a file, a folder, an environment
// variable), by its "x-local-path" annotation: true (the value, or each
// item), "unless-remote" (unless an https://, http:// or ssh:// URL),
// "after-first" (the positional items after the verb, but a sha256:
// digest), "environment" (a variable of the plugin's environment).
[[nodiscard]] std::vector<std::string> local_values(const json::value& property, const json::value& value);

}  // namespace ir::plugin
