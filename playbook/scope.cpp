// What the names in a template mean: {{variables}} in scope, and the dag's
// dependencies and depends operands.
#include "expr.hpp"
#include "runner.hpp"
#include "vars.hpp"

namespace playbook {
namespace {

using ir::invalid;

const char* const depends_states[] = {"Succeeded", "Failed", "Errored", "Skipped", "Daemoned"};

bool continued(const Call& call, const std::string& phase) {
  return (phase == "Failed" && call.continue_on_failed) || (phase == "Error" && call.continue_on_error);
}

}  // namespace

Result<std::string> Scope::operator()(const std::string& name) const {
  const auto parts = split_name(name);
  const auto unknown = [&] { return invalid("unknown variable {{" + name + "}}"); };
  if (parts[0] == "workflow" && globals != nullptr) {
    if (parts.size() == 3 && parts[1] == "parameters") {
      const auto it = globals->parameters.find(parts[2]);
      if (it == globals->parameters.end())
        return invalid("{{" + name + "}}: the workflow has no parameter " + parts[2]);
      return it->second;
    }
    if (parts.size() == 2 && parts[1] == "name") return globals->name;
    if (parts.size() == 2 && parts[1] == "namespace") return globals->namespace_name;
    if (parts.size() == 2 && parts[1] == "uid") return globals->uid;
    if (parts.size() == 2 && parts[1] == "creationTimestamp") return globals->creation_timestamp;
    for (const auto& [key, value] :
         {std::pair{"status", &globals->status}, std::pair{"failures", &globals->failures}}) {
      if (parts.size() != 2 || parts[1] != key) continue;
      if (!*value) return invalid("{{" + name + "}}: only the templates of spec.onExit see it, as in Argo");
      return **value;
    }
    return unknown();
  }
  if (parts[0] == "inputs" && parts.size() == 3 && parts[1] == "parameters" && inputs != nullptr) {
    const auto it = inputs->find(parts[2]);
    if (it == inputs->end())
      return invalid("{{" + name + "}}: the template has no input parameter " + parts[2]);
    return it->second;
  }
  if (parts[0] == "retries" && parts.size() == 1 && retries) return std::to_string(*retries);
  if (!children_kind.empty() && parts[0] == children_kind && parts.size() >= 3 && children != nullptr) {
    const auto it = children->find(parts[1]);
    if (it == children->end()) {
      return invalid("{{" + name + "}}: no " + (children_kind == "steps" ? "step " : "task ") + parts[1] +
                     " has run before this point");
    }
    const auto& child = it->second;
    if (parts.size() == 3 && parts[2] == "status") return child.phase;
    if (parts.size() == 3 && parts[2] == "startedAt") return child.started_at;
    if (parts.size() == 3 && parts[2] == "finishedAt") return child.finished_at;
    if (parts.size() == 3 && parts[2] == "exitCode") {
      if (!child.exit_code)
        return invalid("{{" + name + "}}: " + parts[1] + " has no exit code (" + child.phase + ")");
      return std::to_string(*child.exit_code);
    }
    if (parts.size() == 4 && parts[2] == "outputs" && parts[3] == "result") return child.result;
    if (parts.size() == 5 && parts[2] == "outputs" && parts[3] == "parameters") {
      const auto out = child.outputs.find(parts[4]);
      if (out == child.outputs.end()) {
        return invalid("{{" + name + "}}: " + parts[1] + " has no output parameter " + parts[4] + " (it " +
                       (child.phase == "Succeeded" ? "declares none of that name" : "ended " + child.phase) +
                       ")");
      }
      return out->second;
    }
  }
  return unknown();
}

Result<std::map<std::string, std::set<std::string>>> dag_dependencies(const std::vector<Call>& tasks) {
  std::map<std::string, std::set<std::string>> dependencies;
  for (const auto& task : tasks) {
    if (dependencies.contains(task.name))
      return invalid(task.where + ".name: task " + task.name + " appears twice");
    dependencies[task.name];
  }
  for (const auto& task : tasks) {
    auto& mine = dependencies[task.name];
    for (const auto& d : task.dependencies) {
      if (!dependencies.contains(d)) return invalid(task.where + ".dependencies: no task named " + d);
      mine.insert(d);
    }
    if (!task.depends.empty()) {
      auto ok = expr::check(task.depends, expr::Dialect::depends,
                            [&](const std::string& word) -> Result<expr::Value> {
                              auto ref = parse_depends_ref(word, tasks);
                              if (!ref) return ref.error();
                              mine.insert(ref->task);
                              return expr::Value(false);
                            });
      if (!ok) return ok.error().with(task.where + ".depends");
    }
    if (mine.contains(task.name)) return invalid(task.where + ": task " + task.name + " depends on itself");
  }
  // Kahn's algorithm: whatever is left has a cycle.
  std::map<std::string, std::size_t> waiting;
  for (const auto& [name, deps] : dependencies) waiting[name] = deps.size();
  std::vector<std::string> ready;
  for (const auto& [name, count] : waiting) {
    if (count == 0) ready.push_back(name);
  }
  std::size_t done = 0;
  while (!ready.empty()) {
    const std::string name = ready.back();
    ready.pop_back();
    ++done;
    for (const auto& [other, deps] : dependencies) {
      if (deps.contains(name) && --waiting[other] == 0) ready.push_back(other);
    }
  }
  if (done != dependencies.size()) {
    std::string cycle;
    for (const auto& [name, count] : waiting) {
      if (count > 0) cycle += (cycle.empty() ? "" : ", ") + name;
    }
    return invalid("the dependencies of tasks " + cycle + " form a cycle");
  }
  return dependencies;
}

Result<DependsRef> parse_depends_ref(const std::string& word, const std::vector<Call>& tasks) {
  const auto known = [&](const std::string& name) {
    return std::any_of(tasks.begin(), tasks.end(), [&](const Call& c) { return c.name == name; });
  };
  if (known(word)) return DependsRef{word, ""};
  const auto dot = word.rfind('.');
  if (dot != std::string::npos && known(word.substr(0, dot))) {
    const std::string state = word.substr(dot + 1);
    for (const char* s : depends_states) {
      if (state == s) return DependsRef{word.substr(0, dot), state};
    }
    return invalid("'" + word + "': " + state +
                   " is not supported in depends (Succeeded, Failed, Errored, Skipped, Daemoned)");
  }
  return invalid("'" + word + "': no task named " + (dot == std::string::npos ? word : word.substr(0, dot)));
}

bool depends_holds(const DependsRef& ref, const ChildState& state, const Call& task) {
  const bool skipped = state.phase == "Skipped" || state.phase == "Omitted";
  if (ref.state.empty()) return state.phase == "Succeeded" || skipped || continued(task, state.phase);
  if (ref.state == "Succeeded") return state.phase == "Succeeded";
  if (ref.state == "Failed") return state.phase == "Failed";
  if (ref.state == "Errored") return state.phase == "Error";
  if (ref.state == "Skipped") return skipped;
  return false;  // Daemoned: the runner has no daemons
}

}  // namespace playbook
