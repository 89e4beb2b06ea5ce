#include "policy.hpp"

#include "ir/params/params.hpp"
#include "ir/params/schema.hpp"

#include <stdexcept>

namespace ir::plugin {
namespace {

const Schema& policy_schema() {
  static const Schema schema = [] {
    const auto text = embedded_schema("plugin-policy");
    if (!text) throw std::logic_error("no compiled-in schema plugin-policy");
    auto parsed = Schema::from_text(*text, "plugin-policy.schema.json");
    if (!parsed) throw std::logic_error(parsed.error().describe());
    return std::move(*parsed);
  }();
  return schema;
}

// "/steps/isolate/parameters/2" -> "steps.isolate.parameters[2]": the field
// as the policy file's author wrote it.
std::string field_name(const std::string& pointer) {
  std::string out;
  std::size_t at = pointer.empty() ? 0 : 1;
  while (at < pointer.size()) {
    auto next = pointer.find('/', at);
    if (next == std::string::npos) next = pointer.size();
    const std::string part = pointer.substr(at, next - at);
    const bool index = !part.empty() && part.find_first_not_of("0123456789") == std::string::npos;
    out += index ? "[" + part + "]" : (out.empty() ? "" : ".") + part;
    at = next + 1;
  }
  return out.empty() ? "(the document)" : out;
}

bool is_local(const json::value* property) {
  return property != nullptr && property->is_object() && property->as_object().contains("x-local-path");
}

bool remote_url(std::string_view value) {
  for (const std::string_view scheme : {"https://", "http://", "ssh://"}) {
    if (value.substr(0, scheme.size()) == scheme) return true;
  }
  return false;
}

bool digest(std::string_view value) {
  return value.size() == 71 && value.substr(0, 7) == "sha256:" &&
         value.find_first_not_of("0123456789abcdef", 7) == std::string_view::npos;
}

std::string joined(const std::set<std::string>& names) {
  std::string out;
  for (const auto& name : names) out += (out.empty() ? "" : ", ") + name;
  return out.empty() ? "none" : out;
}

// A parameter given by the template: an empty string or list is one left unset.
bool given_value(const json::value& value) {
  if (const auto* text = value.if_string()) return !text->empty();
  if (const auto* items = value.if_array()) return !items->empty();
  return !value.is_null();
}

std::set<std::string> string_set(const json::value* list) {
  std::set<std::string> out;
  if (list == nullptr || !list->is_array()) return out;
  for (const auto& item : list->as_array()) out.emplace(item.as_string());
  return out;
}

}  // namespace

std::vector<std::string> local_values(const json::value& property, const json::value& value) {
  const auto* mark = find(property, {"x-local-path"});
  if (mark == nullptr) return {};
  const std::string kind = mark->is_string() ? std::string(mark->get_string()) : "path";
  std::vector<std::string> items;
  if (const auto* text = value.if_string()) items.emplace_back(*text);
  if (const auto* list = value.if_array()) {
    for (const auto& item : *list) {
      if (item.is_string()) items.emplace_back(item.get_string());
    }
  }
  std::vector<std::string> out;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (items[i].empty()) continue;
    if (kind == "unless-remote" && remote_url(items[i])) continue;
    if (kind == "after-first" && (i == 0 || digest(items[i]))) continue;
    out.push_back(items[i]);
  }
  return out;
}

Result<Policy> Policy::load(const std::string& path) {
  auto text = read_file(path);
  // Missing or unreadable is bad input too: exit 2, not a fault to retry.
  if (!text) return invalid(text.error().describe());
  return parse(*text, path);
}

Result<Policy> Policy::parse(std::string_view text, const std::string& what) {
  auto document = parse_json_or_yaml(text, what);
  if (!document) return document.error();
  if (const auto problems = policy_schema().validate(*document); !problems.empty()) {
    return invalid(what + ": " + field_name(problems.front().path) + ": " + problems.front().message);
  }
  Policy policy;
  policy.source_ = what;
  for (const auto& [step_name, rule_value] : document->at("steps").as_object()) {
    const std::string field = "steps." + std::string(step_name);
    const StepEntry* entry = find_step(step_name);
    if (entry == nullptr) return invalid(what + ": " + field + ": no such step");
    const auto& properties = entry->spec->properties();
    StepRule rule;
    rule.namespaces = string_set(rule_value.as_object().if_contains("namespaces"));
    rule.any_namespace = rule.namespaces.contains("*");
    if (properties.contains("namespace") && !rule_value.as_object().contains("namespaces")) {
      return invalid(what + ": " + field + ".namespaces: required, " + std::string(step_name) +
                     " acts in a namespace (list them, or '*' for any)");
    }
    if (const auto* listed = rule_value.as_object().if_contains("parameters")) {
      rule.parameters = string_set(listed);
      for (const auto& name : *rule.parameters) {
        if (!properties.contains(name)) {
          return invalid(what + ": " + field + ".parameters: '" + name + "' is not a parameter of " +
                         std::string(step_name));
        }
      }
    }
    if (const auto* files = rule_value.as_object().if_contains("files")) {
      for (const auto& [name, paths] : files->as_object()) {
        if (!is_local(properties.if_contains(name))) {
          return invalid(what + ": " + field + ".files." + std::string(name) + ": not a parameter of " +
                         std::string(step_name) + " that names a local file");
        }
        rule.files[std::string(name)] = string_set(&paths);
      }
    }
    policy.steps_.emplace(std::string(step_name), std::move(rule));
  }
  return policy;
}

std::optional<std::string> Policy::refuse_step(std::string_view step) const {
  if (!loaded() || steps_.contains(step)) return std::nullopt;
  std::set<std::string> allowed;
  for (const auto& entry : steps_) allowed.insert(entry.first);
  return "the plugin's policy (" + source_ + ") does not allow step " + std::string(step) +
         " (it allows: " + joined(allowed) + ")";
}

std::optional<std::string> Policy::refuse(const StepEntry& entry, const json::object& given,
                                          const json::object& params) const {
  const std::string step(entry.step->name);
  const auto& properties = entry.spec->properties();
  const StepRule* rule = nullptr;
  if (loaded()) {
    if (auto refused = refuse_step(step)) return refused;
    rule = &steps_.find(step)->second;
  }
  const std::string by_policy = loaded() ? "the plugin's policy (" + source_ + ")" : "";
  for (const auto& [name, value] : given) {
    if (rule == nullptr || !rule->parameters || !given_value(value)) continue;
    const std::string key(name);
    if (!rule->parameters->contains(key) && !rule->files.contains(key)) {
      return "parameter " + key + " is not allowed by " + by_policy + " for " + step;
    }
  }
  for (const auto& [name, value] : params) {
    const std::string key(name);
    const auto* property = properties.if_contains(name);
    if (property == nullptr) continue;
    for (const auto& local : local_values(*property, value)) {
      if (rule != nullptr) {
        const auto files = rule->files.find(key);
        if (files != rule->files.end() && files->second.contains(local)) continue;
      }
      // Read by the plugin itself, with its ServiceAccount token beside it:
      // only what the cluster's administrator listed.
      return "parameter " + key + ": '" + local + "' names a local file or variable of the plugin, " +
             (rule == nullptr
                  ? std::string("and no policy is loaded (--policy) to allow it")
                  : "which " + by_policy + " does not list under steps." + step + ".files." + key);
    }
  }
  if (rule != nullptr && properties.contains("namespace") && !rule->any_namespace) {
    const std::string ns = param_string(params, "namespace");
    if (ns.empty()) {
      return "namespace: required by " + by_policy + ", which allows " + step + " only in " +
             joined(rule->namespaces);
    }
    if (!rule->namespaces.contains(ns)) {
      return "namespace: " + ns + " is not allowed by " + by_policy + " for " + step +
             " (allowed: " + joined(rule->namespaces) + ")";
    }
  }
  return std::nullopt;
}

json::object Policy::describe() const {
  if (!loaded()) {
    return json::object{{"loaded", false},
                        {"rule", "every step and namespace; parameters naming local files refused"}};
  }
  json::array steps;
  for (const auto& entry : steps_) steps.emplace_back(entry.first);
  return json::object{{"loaded", true}, {"source", source_}, {"steps", std::move(steps)}};
}

}  // namespace ir::plugin
