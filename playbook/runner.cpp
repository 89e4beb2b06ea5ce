#include "runner.hpp"

#include "expr.hpp"
#include "mutex.hpp"
#include "retry.hpp"
#include "vars.hpp"

#include <boost/json/serialize.hpp>

#include <condition_variable>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <thread>

namespace playbook {
namespace {

namespace fs = std::filesystem;
using ir::invalid;

bool failed_phase(const std::string& phase) {
  return phase == "Failed" || phase == "Error";
}

bool continued(const Call& call, const std::string& phase) {
  return (phase == "Failed" && call.continue_on_failed) || (phase == "Error" && call.continue_on_error);
}

std::string type_of(const Template& t) {
  switch (t.kind) {
    case Template::Kind::steps:
      return "Steps";
    case Template::Kind::dag:
      return "DAG";
    case Template::Kind::suspend:
      return "Suspend";
    case Template::Kind::container:
      return "Pod";
  }
  return "Pod";
}

std::string duration_text(std::chrono::milliseconds wait) {
  if (wait.count() % 1000 == 0) return std::to_string(wait.count() / 1000) + "s";
  return std::to_string(wait.count()) + "ms";
}

ChildState state_of(const NodeRecord& node) {
  return {node.phase,
          node.exit_code,
          node.outputs,
          node.stdout_text,
          ir::format_utc(node.start),
          ir::format_utc(node.end)};
}

// Parallel branches really run in parallel: one thread each (the container
// slots bound how many steps run at once).
void run_parallel(std::vector<std::function<void()>>& jobs) {
  if (jobs.size() == 1) {
    jobs.front()();
    return;
  }
  std::vector<std::thread> threads;
  threads.reserve(jobs.size());
  for (auto& job : jobs) threads.emplace_back(job);
  for (auto& thread : threads) thread.join();
}

}  // namespace

Runner::Runner(Library& library, const Workflow& root, RunOptions options, Timeline& timeline,
               Supervisor& supervisor)
    : library_(library),
      root_(root),
      options_(std::move(options)),
      timeline_(timeline),
      supervisor_(supervisor) {}

Runner::~Runner() {
  if (!work_dir_.empty() && !options_.keep_work_dir && options_.work_dir.empty()) {
    std::error_code ec;
    fs::remove_all(work_dir_, ec);
  }
}

NodeRecord& Runner::new_node(const std::string& path, const std::string& type, const Template* t) {
  auto node = std::make_unique<NodeRecord>();
  node->path = path;
  node->type = type;
  if (t != nullptr) {
    node->template_name = t->name;
    if (t->owner != &root_) node->template_ref = t->owner->name + "/" + t->name;
    if (const auto it = executables_.find(t); it != executables_.end()) {
      node->step = fs::path(it->second).filename().string();
    }
  }
  const std::lock_guard lock(nodes_mutex_);
  nodes_.push_back(std::move(node));
  return *nodes_.back();
}

void Runner::finish_node(NodeRecord& node) {
  node.end = ir::now();
  timeline_.node_finished(node);
}

json::object Runner::run() {
  const auto started = ir::now();
  std::error_code ec;
  if (!options_.work_dir.empty()) {
    work_dir_ = options_.work_dir;
    fs::create_directories(work_dir_, ec);
  } else {
    std::string pattern = (fs::temp_directory_path(ec) / "playbook-XXXXXX").string();
    if (::mkdtemp(pattern.data()) != nullptr) work_dir_ = pattern;
  }
  std::string header = "workflow " + globals_.name + " (" + root_.kind + " " + root_.name + ")";
  if (options_.dry_run) header += ", dry run";
  timeline_.event("workflow.started", "", header);

  const Template& entry = *root_.find(root_.entrypoint);
  Arguments inputs;
  for (const auto& p : entry.inputs) {
    if (const auto it = globals_.parameters.find(p.name); it != globals_.parameters.end())
      inputs.parameters[p.name] = it->second;
  }
  // The entrypoint gets the workflow's arguments, artifacts included
  // (operator.go operate: execWf.Spec.Arguments; util/merge.go
  // JoinWorkflowSpec adds a Workflow's to its WorkflowTemplate's).
  for (const auto& [name, local] : options_.artifacts) inputs.artifacts[name] = local;
  // spec.synchronization: held from before the entrypoint until after the
  // exit handler. A run that cannot get its locks runs nothing.
  std::vector<HeldMutex> held;
  std::string lock_failure;
  for (const auto& pattern : root_.mutexes) {
    const Scope workflow_scope{&globals_, nullptr, "", nullptr, std::nullopt};
    auto name = substitute(pattern, workflow_scope);  // checked by prepare()
    if (!name) {
      lock_failure = name.error().describe();
      break;
    }
    const std::string key = globals_.namespace_name + "/Mutex/" + *name;
    auto lock = HeldMutex::acquire(
        options_.lock_dir.empty() ? default_lock_dir() : options_.lock_dir, key,
        [&] {
          timeline_.event("workflow.waiting", "", "waiting for the lock " + key + ", held by another run");
        },
        [&] { return !supervisor_.cancelled(); });
    if (!lock) {
      lock_failure = lock.error().describe();
      break;
    }
    timeline_.event("workflow.locked", "", "holding the lock " + key);
    held.push_back(std::move(*lock));
  }
  ChildState state;
  if (lock_failure.empty()) {
    state = execute(entry, inputs, root_.name);
    succeeded_ = state.phase == "Succeeded" && !supervisor_.cancelled();
    // Argo runs the exit handler whatever the outcome, and a failed handler
    // fails a workflow that had succeeded. Stopped runs skip it here.
    if (!root_.on_exit.empty() && !supervisor_.cancelled()) {
      const ChildState handler = run_exit_handler(state.phase);
      succeeded_ = succeeded_ && handler.phase == "Succeeded" && !supervisor_.cancelled();
    }
  } else {
    succeeded_ = false;
  }
  held.clear();

  json::object document;
  document["apiVersion"] = "irsteps.io/v1";
  document["kind"] = "PlaybookRun";
  document["workflow"] = globals_.name;
  document["template"] = root_.name;
  document["file"] = root_.file;
  document["namespace"] = globals_.namespace_name;
  document["uid"] = globals_.uid;
  document["dryRun"] = options_.dry_run;
  json::object parameters;
  for (const auto& [k, v] : globals_.parameters) parameters[k] = v;
  document["parameters"] = std::move(parameters);
  document["phase"] = succeeded_ ? "Succeeded" : "Failed";
  std::string message;
  if (!lock_failure.empty()) {
    message = lock_failure;
  } else if (supervisor_.cancelled()) {
    message = std::string("stopped by ") + (supervisor_.signal_number() == SIGINT ? "SIGINT" : "SIGTERM");
  } else if (!succeeded_) {
    for (const auto& node : nodes_) {
      if (failed_phase(node->phase) && node->type != "Steps" && node->type != "DAG") {
        message = node->path + " " + node->phase + (node->message.empty() ? "" : ": " + node->message);
        break;
      }
    }
  }
  if (!message.empty()) document["message"] = message;
  document["startedAt"] = ir::format_utc(started, true);
  document["finishedAt"] = ir::format_utc(ir::now(), true);
  json::array nodes;
  for (const auto& node : nodes_) nodes.push_back(node_json(*node));
  document["nodes"] = std::move(nodes);
  json::object outputs;
  for (const auto& [k, v] : state.outputs) outputs[k] = v;
  document["outputs"] = json::object{{"parameters", std::move(outputs)}};
  if (options_.keep_work_dir || !options_.work_dir.empty()) document["workDir"] = work_dir_;
  timeline_.event("workflow.finished", "",
                  "workflow " + globals_.name + " " + (succeeded_ ? "Succeeded" : "Failed") +
                      (message.empty() ? "" : ": " + message));
  return document;
}

ChildState Runner::execute(const Template& t, const Arguments& given, const std::string& path) {
  NodeRecord& node = new_node(path, type_of(t), &t);
  const Scope workflow_scope{&globals_, nullptr, "", nullptr, std::nullopt};
  for (const auto& p : t.inputs) {
    Result<std::string> value = std::string();
    if (const auto it = given.parameters.find(p.name); it != given.parameters.end()) {
      value = it->second;
    } else if (p.value) {
      value = substitute(*p.value, workflow_scope);
    } else if (p.default_value) {
      value = *p.default_value;
    } else {
      value = invalid("input parameter " + p.name + " has no value");
    }
    if (value) {
      if (auto r = check_parameter_enum(p, *value, "input parameter"); !r) value = r.error();
    }
    if (!value) {
      node.phase = "Error";
      node.message = value.error().describe();
      finish_node(node);
      return state_of(node);
    }
    node.inputs[p.name] = *value;
  }
  // inputs.artifacts, as Argo's workflow/common/util.go ProcessArgs: a
  // required one that no argument names was not supplied, one named without
  // a location is missing it; an optional one may be absent either way (the
  // executor skips it: workflow/executor/executor.go loadArtifact).
  for (const auto& a : t.input_artifacts) {
    const auto it = given.artifacts.find(a.name);
    std::string error;
    if (it != given.artifacts.end() && it->second) {
      node.input_artifacts[a.name] = *it->second;
    } else if (!a.optional) {
      error = "inputs.artifacts." + a.name +
              (it == given.artifacts.end() ? " was not supplied" : " missing location information");
    }
    if (!error.empty()) {
      node.phase = "Error";
      node.message = error;
      finish_node(node);
      return state_of(node);
    }
  }
  if (t.kind != Template::Kind::container) timeline_.node_started(node, 0);
  const auto first_start = std::chrono::steady_clock::now();
  std::optional<std::chrono::milliseconds> retry_deadline;
  for (int attempt = 0;; ++attempt) {
    const auto attempt_start = std::chrono::steady_clock::now();
    execute_once(t, node, attempt, retry_deadline);
    node.attempts = attempt + 1;
    if (node.phase == "Succeeded" || !t.retry || supervisor_.cancelled()) break;
    const Scope scope{&globals_, &node.inputs, "", nullptr, attempt};
    auto limit = substitute(t.retry->limit, scope);
    const auto now = std::chrono::steady_clock::now();
    const AttemptOutcome outcome{node.phase, node.exit_code,
                                 std::chrono::duration_cast<std::chrono::milliseconds>(now - attempt_start)};
    auto decision =
        limit ? decide_retry(*t.retry, *limit, attempt + 1, outcome,
                             std::chrono::duration_cast<std::chrono::milliseconds>(now - first_start))
              : Result<RetryDecision>(limit.error());
    if (!decision) {
      node.phase = "Error";
      node.message = decision.error().describe();
      break;
    }
    if (!decision->retry) {
      if (attempt > 0) node.message += (node.message.empty() ? "" : "; ") + decision->reason;
      break;
    }
    timeline_.event("node.retrying", node.path,
                    "retrying in " + duration_text(decision->wait) + " after " + node.phase +
                        (node.exit_code ? " (exit " + std::to_string(*node.exit_code) + ")" : ""));
    retry_deadline = decision->deadline;
    if (!supervisor_.sleep_for(decision->wait)) break;
  }
  finish_node(node);
  return state_of(node);
}

void Runner::execute_once(const Template& t, NodeRecord& node, int attempt,
                          std::optional<std::chrono::milliseconds> retry_deadline) {
  node.message.clear();
  node.exit_code.reset();
  node.outputs.clear();
  switch (t.kind) {
    case Template::Kind::container:
      run_container(t, node, attempt, retry_deadline);
      return;
    case Template::Kind::suspend:
      run_suspend(t, node);
      return;
    case Template::Kind::steps:
      run_steps(t, node);
      return;
    case Template::Kind::dag:
      run_dag(t, node);
      return;
  }
}

std::optional<Arguments> Runner::prepare_call(const Template& caller, const NodeRecord& caller_node,
                                              const Call& call, const Scope& scope, const std::string& path,
                                              ChildState& not_run) {
  auto callee = library_.resolve(*caller.owner, call);
  const auto fail = [&](const ir::Error& error) {
    NodeRecord& failed = new_node(path, "Pod", callee ? *callee : nullptr);
    failed.phase = "Error";
    failed.message = error.describe();
    finish_node(failed);
    not_run = state_of(failed);
  };
  if (!callee) {
    fail(callee.error());
    return std::nullopt;
  }
  if (!call.when.empty()) {
    auto text = substitute(call.when, scope);
    auto holds = text ? expr::evaluate(*text, expr::Dialect::govaluate) : Result<bool>(text.error());
    if (!holds) {
      fail(holds.error().with(call.where + ".when"));
      return std::nullopt;
    }
    if (!*holds) {
      NodeRecord& skipped = new_node(path, "Skipped", *callee);
      skipped.phase = "Skipped";
      skipped.message = "when '" + *text + "' is false";
      // Argo gives a skipped node's declared output parameters their
      // valueFrom.default, so that a `when` or an argument reading them
      // resolves; without a default they stay absent (workflow/controller/
      // scope.go addSkippedNodeOutputsToScope).
      for (const auto& p : (*callee)->outputs) {
        if (p.default_value) skipped.outputs[p.name] = *p.default_value;
      }
      finish_node(skipped);
      not_run = state_of(skipped);
      return std::nullopt;
    }
  }
  Arguments arguments;
  for (const auto& a : call.arguments) {
    auto value = substitute(*a.value, scope);
    if (!value) {
      fail(value.error().with(a.where));
      return std::nullopt;
    }
    arguments.parameters[a.name] = *value;
  }
  // from: {{inputs.artifacts.NAME}} resolves to the caller's input artifact
  // as declared, with its location only when it was supplied (scope.go
  // resolveVar; dag.go resolveDependencyReferences, steps.go
  // resolveReferences). prepare() made sure the caller declares it.
  for (const auto& a : call.artifact_arguments) {
    const auto it = caller_node.input_artifacts.find(a.from_input);
    arguments.artifacts[a.name] =
        it == caller_node.input_artifacts.end() ? std::nullopt : std::optional<std::string>(it->second);
  }
  return arguments;
}

ChildState Runner::run_exit_handler(const std::string& phase) {
  // operator.go: workflow.status from the entry node's phase, and
  // workflow.failures every Failed or Error node as JSON ("null" for none).
  globals_.status = phase == "Succeeded" || phase == "Skipped" || phase == "Omitted" ? "Succeeded"
                    : phase == "Error"                                               ? "Error"
                                                                                     : "Failed";
  json::array failures;
  {
    const std::lock_guard lock(nodes_mutex_);
    for (const auto& node : nodes_) {
      if (!failed_phase(node->phase)) continue;
      const auto dot = node->path.rfind('.');
      failures.push_back(
          json::object{{"displayName", dot == std::string::npos ? node->path : node->path.substr(dot + 1)},
                       {"message", node->message},
                       {"templateName", node->template_name},
                       {"phase", node->phase},
                       {"podName", node->type == "Pod" ? globals_.name + "-" + node->template_name : ""},
                       {"finishedAt", ir::format_utc(node->end)}});
    }
  }
  globals_.failures = failures.empty() ? "null" : json::serialize(failures);
  timeline_.event("workflow.onExit", "",
                  "running the exit handler " + root_.on_exit + " (workflow " + *globals_.status + ")");
  return execute(*root_.find(root_.on_exit), {}, root_.name + ".onExit");
}

void Runner::template_outputs(const Template& t, NodeRecord& node, const Scope& scope) {
  for (const auto& p : t.outputs) {
    auto value = substitute(*p.from_parameter, scope);
    if (value) {
      node.outputs[p.name] = *value;
    } else if (p.default_value) {
      node.outputs[p.name] = *p.default_value;
    } else if (node.phase == "Succeeded") {
      node.phase = "Error";
      node.message = "output parameter " + p.name + ": " + value.error().describe();
    }
  }
}

void Runner::run_steps(const Template& t, NodeRecord& node) {
  std::map<std::string, ChildState> children;
  node.phase = "Succeeded";
  for (const auto& group : t.steps) {
    if (supervisor_.cancelled()) {
      node.phase = "Failed";
      node.message = "stopped";
      break;
    }
    const Scope scope{&globals_, &node.inputs, "steps", &children, std::nullopt};
    std::vector<std::optional<ChildState>> results(group.size());
    std::vector<std::function<void()>> jobs;
    for (std::size_t i = 0; i < group.size(); ++i) {
      const Call& call = group[i];
      const std::string path = node.path + "." + call.name;
      ChildState not_run;
      auto arguments = prepare_call(t, node, call, scope, path, not_run);
      if (!arguments) {
        results[i] = not_run;
        continue;
      }
      const Template* callee = *library_.resolve(*t.owner, call);
      jobs.push_back([this, callee, path, args = std::move(*arguments), &results, i] {
        results[i] = execute(*callee, args, path);
      });
    }
    if (!jobs.empty()) run_parallel(jobs);
    for (std::size_t i = 0; i < group.size(); ++i) {
      const auto& state = *results[i];
      if (failed_phase(state.phase) && !continued(group[i], state.phase) && node.phase == "Succeeded") {
        node.phase = "Failed";
        node.message = "step " + group[i].name + " " + state.phase;
      }
      children[group[i].name] = state;
    }
    if (node.phase != "Succeeded") break;
  }
  const Scope scope{&globals_, &node.inputs, "steps", &children, std::nullopt};
  template_outputs(t, node, scope);
}

}  // namespace playbook
