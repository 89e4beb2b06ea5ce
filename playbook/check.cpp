// prepare(): everything a run can reach is checked before the first step
// starts, with placeholder values standing for what is known only later.
#include "expr.hpp"
#include "retry.hpp"
#include "runner.hpp"
#include "vars.hpp"

#include <filesystem>
#include <random>

namespace playbook {
namespace {

using ir::invalid;

const std::string placeholder = "x";

Result<std::string> check_text(const std::string& text, const Scope& scope, const std::string& where) {
  auto substituted = substitute(text, scope);
  if (!substituted) return substituted.error().with(where);
  return substituted;
}

std::map<std::string, std::string> placeholder_inputs(const Template& t) {
  std::map<std::string, std::string> inputs;
  for (const auto& p : t.inputs) inputs[p.name] = placeholder;
  return inputs;
}

ChildState placeholder_child(const Template& callee) {
  ChildState state{"Succeeded", 0, {}, placeholder, placeholder, placeholder};
  for (const auto& p : callee.outputs) state.outputs[p.name] = placeholder;
  return state;
}

std::string random_text(std::size_t length) {
  static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::random_device device;
  std::mt19937 generator(device());
  std::uniform_int_distribution<std::size_t> pick(0, sizeof alphabet - 2);
  std::string text;
  for (std::size_t i = 0; i < length; ++i) text += alphabet[pick(generator)];
  return text;
}

std::string random_uid() {
  std::string hex;
  for (char c : random_text(32)) hex += "0123456789abcdef"[static_cast<unsigned char>(c) % 16];
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-4" + hex.substr(13, 3) + "-a" + hex.substr(17, 3) +
         "-" + hex.substr(20, 12);
}

Result<void> check_enum(const Parameter& p, const std::string& value, const std::string& what) {
  if (p.enum_values.empty() ||
      std::find(p.enum_values.begin(), p.enum_values.end(), value) != p.enum_values.end()) {
    return {};
  }
  std::string allowed;
  for (const auto& v : p.enum_values) allowed += (allowed.empty() ? "" : ", ") + v;
  return invalid(what + " " + p.name + ": '" + value + "' is not one of " + allowed);
}

}  // namespace

Result<void> check_parameter_enum(const Parameter& p, const std::string& value, const std::string& what) {
  return check_enum(p, value, what);
}

Result<void> Runner::check_parameters() {
  globals_.name = root_.name + "-" + random_text(5);
  globals_.namespace_name = options_.namespace_name;
  globals_.uid = random_uid();
  globals_.creation_timestamp = ir::format_utc(ir::now());
  std::map<std::string, std::string> given;
  for (const auto& [name, value] : options_.parameters) {
    const bool declared = std::any_of(root_.arguments.begin(), root_.arguments.end(),
                                      [&](const Parameter& p) { return p.name == name; });
    if (!declared) {
      std::string known;
      for (const auto& p : root_.arguments) known += (known.empty() ? "" : ", ") + p.name;
      return invalid("-p " + name + ": " + root_.name + " has no parameter " + name +
                     (known.empty() ? std::string(" (it takes none)") : " (it takes " + known + ")"));
    }
    given[name] = value;
  }
  if (options_.dry_run) {
    if (auto it = given.find("dry-run"); it != given.end() && it->second != "true") {
      return invalid("--dry-run and -p dry-run=" + it->second + " contradict each other");
    }
    given["dry-run"] = "true";
  }
  const Scope scope{&globals_, nullptr, "", nullptr, std::nullopt};
  for (const auto& p : root_.arguments) {
    std::string value;
    if (auto it = given.find(p.name); it != given.end()) {
      value = it->second;
    } else if (p.value || p.default_value) {
      auto substituted = check_text(p.value ? *p.value : *p.default_value, scope, p.where);
      if (!substituted) return substituted.error();
      value = *substituted;
    } else {
      return invalid(p.where + ": parameter " + p.name + " has no value: pass -p " + p.name + "=VALUE");
    }
    if (auto r = check_enum(p, value, "parameter"); !r) return r;
    globals_.parameters[p.name] = value;
  }
  return {};
}

// --artifact NAME=PATH: an input artifact of the entrypoint, from a file or
// folder that exists; a required one must be given, as Argo refuses to
// submit a workflow without it (validate.go validateTemplateHolder ->
// workflow/common/util.go ProcessArgs).
Result<void> Runner::check_artifacts() {
  const Template* entry = root_.find(root_.entrypoint);
  std::set<std::string> given;
  for (auto& [name, local] : options_.artifacts) {
    const auto declared = std::find_if(entry->input_artifacts.begin(), entry->input_artifacts.end(),
                                       [&](const Template::Artifact& a) { return a.name == name; });
    if (declared == entry->input_artifacts.end()) {
      std::string known;
      for (const auto& a : entry->input_artifacts) known += (known.empty() ? "" : ", ") + a.name;
      return invalid("--artifact " + name + ": " + root_.name + " has no input artifact " + name +
                     (known.empty() ? std::string(" (it takes none)") : " (it takes " + known + ")"));
    }
    if (!given.insert(name).second) return invalid("--artifact " + name + ": given twice");
    std::error_code ec;
    if (local.empty() || !std::filesystem::exists(local, ec))
      return invalid("--artifact " + name + "=" + local + ": no such file or folder");
    local = std::filesystem::absolute(local, ec).string();
  }
  for (const auto& a : entry->input_artifacts) {
    if (!a.optional && !given.contains(a.name)) {
      return invalid(a.where + ": inputs.artifacts." + a.name + " was not supplied: pass --artifact " +
                     a.name + "=LOCAL_PATH");
    }
  }
  return {};
}

Result<void> Runner::prepare() {
  if (auto r = check_parameters(); !r) return r;
  if (root_.entrypoint.empty()) return invalid(root_.where + ": spec.entrypoint: required to run it");
  if (auto r = check_artifacts(); !r) return r;
  const Template* entry = root_.find(root_.entrypoint);
  for (const auto& p : entry->inputs) {
    if (!globals_.parameters.contains(p.name) && !p.value && !p.default_value) {
      return invalid(p.where + ": the entrypoint's input " + p.name + " has no value: declare it in " +
                     "spec.arguments.parameters and pass -p " + p.name + "=VALUE");
    }
  }
  const Scope workflow_scope{&globals_, nullptr, "", nullptr, std::nullopt};
  for (std::size_t i = 0; i < root_.mutexes.size(); ++i) {
    const std::string where = root_.where + ": spec.synchronization.mutexes[" + std::to_string(i) + "].name";
    auto name = check_text(root_.mutexes[i], workflow_scope, where);
    if (!name) return name.error();
    if (name->empty()) return invalid(where + ": is empty once substituted");
  }
  if (auto r = check_template(*entry); !r) return r;
  if (!root_.on_exit.empty()) {
    // The exit handler sees workflow.status and workflow.failures; the rest do not.
    globals_.status = "Failed";
    globals_.failures = "null";
    auto r = check_template(*root_.find(root_.on_exit));
    globals_.status.reset();
    globals_.failures.reset();
    if (!r) return r.error().with(root_.where + ": spec.onExit");
  }
  for (const auto& name : options_.denied_gates) {
    if (gate_steps_.count(name) == 0) {
      std::string known;
      for (const auto& gate : gate_steps_) known += (known.empty() ? "" : ", ") + gate;
      return invalid("--deny " + name + ": no step of that name calls an approval gate (suspend template)" +
                     (known.empty() ? std::string() : "; the workflow's gates: " + known));
    }
  }
  if (!gates_.empty() && !options_.dry_run && !options_.approve_all && !options_.deny_all &&
      !options_.interactive) {
    return invalid("the workflow has approval gates (" + gates_.front() +
                   ") and stdin is not a terminal: pass --approve-all or --deny-all");
  }
  slots_ = std::make_unique<std::counting_semaphore<1024>>(std::clamp(options_.parallelism, 1, 1024));
  return {};
}

Result<void> Runner::check_template(const Template& t) {
  if (!checked_.insert(&t).second) return {};
  const auto inputs = placeholder_inputs(t);
  const Scope workflow_scope{&globals_, nullptr, "", nullptr, std::nullopt};
  const Scope scope{&globals_, &inputs, "", nullptr, 0};
  for (const auto& p : t.inputs) {
    if (p.value) {
      if (auto r = check_text(*p.value, workflow_scope, p.where + ".value"); !r) return r.error();
    }
  }
  if (t.retry) {
    const auto& retry = *t.retry;
    if (auto r = check_text(retry.limit, scope, retry.where + ".limit"); !r) return r.error();
    if (!retry.expression.empty()) {
      if (auto r = check_retry_expression(retry.expression); !r)
        return r.error().with(retry.where + ".expression");
    }
    if (retry.backoff) {
      for (const auto* field : {&retry.backoff->duration, &retry.backoff->max_duration}) {
        if (field->empty()) continue;
        if (auto r = argo_duration(*field); !r) return r.error().with(retry.where + ".backoff");
      }
    }
  }
  for (const auto* field : {&t.active_deadline_seconds, &t.timeout, &t.suspend_duration}) {
    if (field->empty()) continue;
    auto text = check_text(*field, scope, t.where);
    if (!text) return text.error();
    if (field->find("{{") == std::string::npos) {
      if (auto r = argo_duration(*field); !r) return r.error().with(t.where);
    }
  }
  switch (t.kind) {
    case Template::Kind::container:
      return check_container(t, scope);
    case Template::Kind::suspend:
      if (t.suspend_duration.empty()) gates_.push_back(t.where);
      return {};
    case Template::Kind::steps:
      return check_calls(t);
    case Template::Kind::dag:
      return check_dag(t);
  }
  return {};
}

Result<void> Runner::check_call(const Template& t, const Call& call, const Scope& scope) {
  auto callee = library_.resolve(*t.owner, call);
  if (!callee) return callee.error();
  if ((*callee)->kind == Template::Kind::suspend) gate_steps_.insert(call.name);
  if (!call.when.empty()) {
    auto text = check_text(call.when, scope, call.where + ".when");
    if (!text) return text.error();
    if (auto r = expr::check(*text, expr::Dialect::govaluate); !r)
      return r.error().with(call.where + ".when");
  }
  for (const auto& a : call.arguments) {
    const bool declared = std::any_of((*callee)->inputs.begin(), (*callee)->inputs.end(),
                                      [&](const Parameter& p) { return p.name == a.name; });
    if (!declared)
      return invalid(a.where + ": template " + (*callee)->name + " has no input parameter " + a.name);
    if (auto r = check_text(*a.value, scope, a.where + ".value"); !r) return r.error();
  }
  for (const auto& p : (*callee)->inputs) {
    const bool passed = std::any_of(call.arguments.begin(), call.arguments.end(),
                                    [&](const Parameter& a) { return a.name == p.name; });
    if (!passed && !p.value && !p.default_value) {
      return invalid(call.where + ".arguments: template " + (*callee)->name + " needs input parameter " +
                     p.name);
    }
  }
  const auto declares = [](const Template& in, const std::string& name) {
    return std::any_of(in.input_artifacts.begin(), in.input_artifacts.end(),
                       [&](const Template::Artifact& a) { return a.name == name; });
  };
  for (const auto& a : call.artifact_arguments) {
    if (!declares(**callee, a.name))
      return invalid(a.where + ": template " + (*callee)->name + " has no input artifact " + a.name);
    // validate.go resolveAllVariables: {{inputs.artifacts.X}} must be an
    // input artifact of the template the call is in.
    if (!declares(t, a.from_input))
      return invalid(a.where + ".from: {{inputs.artifacts." + a.from_input + "}}: template " + t.name +
                     " has no input artifact " + a.from_input);
  }
  for (const auto& in : (*callee)->input_artifacts) {
    const bool passed = std::any_of(call.artifact_arguments.begin(), call.artifact_arguments.end(),
                                    [&](const ArtifactArgument& a) { return a.name == in.name; });
    // workflow/common/util.go ProcessArgs, which validate.go runs on every call.
    if (!passed && !in.optional)
      return invalid(call.where + ".arguments: inputs.artifacts." + in.name + " was not supplied (template " +
                     (*callee)->name + " needs it)");
  }
  return check_template(**callee);
}

Result<void> Runner::check_calls(const Template& t) {
  const auto inputs = placeholder_inputs(t);
  std::map<std::string, ChildState> children;
  for (const auto& group : t.steps) {
    const Scope scope{&globals_, &inputs, "steps", &children, std::nullopt};
    std::map<std::string, ChildState> group_states;
    for (const auto& call : group) {
      if (children.contains(call.name) || group_states.contains(call.name)) {
        return invalid(call.where + ".name: step " + call.name + " appears twice in " + t.name);
      }
      if (auto r = check_call(t, call, scope); !r) return r;
      group_states[call.name] = placeholder_child(**library_.resolve(*t.owner, call));
    }
    children.merge(group_states);
  }
  const Scope scope{&globals_, &inputs, "steps", &children, std::nullopt};
  for (const auto& p : t.outputs) {
    if (auto r = check_text(*p.from_parameter, scope, p.where + ".valueFrom.parameter"); !r) return r.error();
  }
  return {};
}

Result<void> Runner::check_dag(const Template& t) {
  auto dependencies = dag_dependencies(t.tasks);
  if (!dependencies) return dependencies.error().with(t.where + ".dag");
  const auto inputs = placeholder_inputs(t);
  std::map<std::string, ChildState> all;
  for (const auto& task : t.tasks) {
    // A task sees the outputs of its ancestors only, which surely ran before it.
    std::map<std::string, ChildState> ancestors;
    std::vector<std::string> todo((*dependencies)[task.name].begin(), (*dependencies)[task.name].end());
    while (!todo.empty()) {
      const std::string name = todo.back();
      todo.pop_back();
      if (ancestors.contains(name)) continue;
      const auto& other =
          *std::find_if(t.tasks.begin(), t.tasks.end(), [&](const Call& c) { return c.name == name; });
      auto callee = library_.resolve(*t.owner, other);
      if (!callee) return callee.error();
      ancestors[name] = placeholder_child(**callee);
      for (const auto& d : (*dependencies)[name]) todo.push_back(d);
    }
    const Scope scope{&globals_, &inputs, "tasks", &ancestors, std::nullopt};
    if (auto r = check_call(t, task, scope); !r) return r;
    all[task.name] = placeholder_child(**library_.resolve(*t.owner, task));
  }
  const Scope scope{&globals_, &inputs, "tasks", &all, std::nullopt};
  for (const auto& p : t.outputs) {
    if (auto r = check_text(*p.from_parameter, scope, p.where + ".valueFrom.parameter"); !r) return r.error();
  }
  return {};
}

Result<void> Runner::check_container(const Template& t, const Scope& scope) {
  const auto& c = t.container;
  auto step = step_name(c);
  if (!step) return step.error();
  auto executable = find_step_executable(*step, options_.bin_dirs);
  if (!executable) return executable.error().with(c.where);
  executables_[&t] = *executable;
  for (std::size_t i = 1; i < c.command.size(); ++i) {
    if (auto r = check_text(c.command[i], scope, c.where + ".command[" + std::to_string(i) + "]"); !r) {
      return r.error();
    }
  }
  for (std::size_t i = 0; i < c.args.size(); ++i) {
    if (auto r = check_text(c.args[i], scope, c.where + ".args[" + std::to_string(i) + "]"); !r)
      return r.error();
  }
  for (std::size_t i = 0; i < c.env.size(); ++i) {
    const auto& e = c.env[i];
    const std::string at = c.where + ".env[" + std::to_string(i) + "]";
    if (e.value) {
      if (auto r = check_text(*e.value, scope, at + ".value"); !r) return r.error();
    } else if (!options_.env.contains(e.name)) {
      return invalid(at + ".valueFrom: " + e.name + " comes from the cluster in Argo: set " + e.name +
                     " in this environment and pass --env " + e.name);
    }
  }
  for (std::size_t i = 0; i < c.mounts.size(); ++i) {
    const auto& m = c.mounts[i];
    const std::string at = c.where + ".volumeMounts[" + std::to_string(i) + "]";
    const Volume* volume = nullptr;
    for (const auto* list : {&t.volumes, &root_.volumes, &t.owner->volumes}) {
      for (const auto& v : *list) {
        if (volume == nullptr && v.name == m.name) volume = &v;
      }
    }
    if (volume == nullptr) return invalid(at + ": no volume named " + m.name);
    const bool mapped = std::any_of(options_.mounts.begin(), options_.mounts.end(),
                                    [&](const auto& entry) { return entry.first == m.mount_path; });
    if (!mapped && !volume->scratch && !volume->optional && m.mount_path != "/tmp") {
      return invalid(at + ": volume " + m.name + " has no local equivalent: pass --mount " + m.mount_path +
                     "=LOCAL_PATH");
    }
  }
  for (const auto& p : t.outputs) {
    if (p.from_path->empty() || p.from_path->front() != '/') {
      return invalid(p.where + ".valueFrom.path: must be an absolute path");
    }
    if (auto r = check_text(*p.from_path, scope, p.where + ".valueFrom.path"); !r) return r.error();
  }
  for (const auto& a : t.input_artifacts) {
    if (a.path.front() != '/') return invalid(a.where + ".path: must be an absolute path");
    if (a.path.find("{{") != std::string::npos)
      return invalid(a.where +
                     ".path: variables in an input artifact's path are not supported by the local " +
                     "playbook runner");
    // validate.go validateLeaf: an artifact's path may not be a mountPath.
    for (const auto& m : c.mounts) {
      if (m.mount_path == a.path) return invalid(a.where + ".path: '" + a.path + "' already mounted");
    }
  }
  for (const auto& a : t.output_artifacts) {
    if (a.path.front() != '/') return invalid(a.where + ".path: must be an absolute path");
    if (auto r = check_text(a.path, scope, a.where + ".path"); !r) return r.error();
  }
  return {};
}

}  // namespace playbook
