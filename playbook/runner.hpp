// Runs a Workflow(Template) locally: steps and dag templates with their
// parallel branches, container templates as step executables, suspend
// templates as approval gates. prepare() checks everything a run can reach
// (parameters, templates, variables, expressions, executables, mounts)
// before the first step starts, so that a bad template costs nothing.
#pragma once

#include "child.hpp"
#include "container.hpp"
#include "model.hpp"
#include "timeline.hpp"

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <semaphore>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace playbook {

struct RunOptions {
  std::vector<std::pair<std::string, std::string>> parameters;  // -p, in order
  bool dry_run = false;
  bool approve_all = false;
  bool deny_all = false;
  // --deny STEP: the gates of these step names (a node's displayName) are
  // denied; the others follow approve_all, deny_all or the terminal.
  std::set<std::string> denied_gates;
  bool interactive = false;  // stdin is a terminal: gates ask there
  int parallelism = 4;
  std::vector<std::string> bin_dirs;
  std::vector<std::pair<std::string, std::string>> mounts;  // container path -> local path
  std::map<std::string, std::string> env;                   // for env valueFrom; never printed
  std::string kubeconfig;
  std::string namespace_name = "default";
  std::string work_dir;  // empty: a fresh one under the temporary folder, removed at the end
  bool keep_work_dir = false;
  bool step_logs = false;    // stream each step's stderr into the timeline
  std::string lock_dir;      // spec.synchronization's lock files; empty: default_lock_dir()
  std::string artifact_dir;  // the artifact repository for outputs.artifacts; empty: none, as in Argo
  // --artifact NAME=PATH: the entrypoint's input artifacts, as a Workflow's
  // spec.arguments.artifacts with a location would supply them.
  std::vector<std::pair<std::string, std::string>> artifacts;
};

// What a call passes to a template: its parameters, and its artifacts as
// local paths; nullopt: the argument is there but has no location (the
// caller's own optional input artifact, not supplied).
struct Arguments {
  std::map<std::string, std::string> parameters;
  std::map<std::string, std::optional<std::string>> artifacts;
};

// What a finished node offers to later ones: {{steps.X.status}} and friends.
struct ChildState {
  std::string phase;
  std::optional<int> exit_code;
  std::map<std::string, std::string> outputs;
  std::string result;
  // {{steps.X.startedAt}}, {{steps.X.finishedAt}}: RFC 3339 in seconds, as
  // Argo formats a node's times (operator.go buildLocalScope: time.RFC3339).
  std::string started_at;
  std::string finished_at;
};

struct Globals {
  std::map<std::string, std::string> parameters;
  std::string name;
  std::string namespace_name;
  std::string uid;
  std::string creation_timestamp;
  // Set for spec.onExit's templates only, as Argo sets them after the
  // entrypoint ended (workflow/controller/operator.go).
  std::optional<std::string> status;    // {{workflow.status}}: Succeeded, Failed, Error
  std::optional<std::string> failures;  // {{workflow.failures}}: JSON list of the failed nodes
};

// The variables visible at one place of a template.
struct Scope {
  const Globals* globals = nullptr;
  const std::map<std::string, std::string>* inputs = nullptr;
  std::string children_kind;  // "steps" or "tasks"
  const std::map<std::string, ChildState>* children = nullptr;
  std::optional<int> retries;

  [[nodiscard]] Result<std::string> operator()(const std::string& name) const;
};

// dag: each task's name -> the tasks it waits for (its dependencies, or the
// tasks its depends names); unknown names and cycles are errors.
[[nodiscard]] Result<std::map<std::string, std::set<std::string>>> dag_dependencies(
    const std::vector<Call>& tasks);

// One operand of depends: "a" or "a.Succeeded" (.Failed, .Errored, .Skipped).
struct DependsRef {
  std::string task;
  std::string state;  // empty for a bare task name
};
[[nodiscard]] Result<DependsRef> parse_depends_ref(const std::string& word, const std::vector<Call>& tasks);
// A bare name holds when the task succeeded or was skipped, or failed with
// continueOn; Omitted counts as Skipped.
[[nodiscard]] bool depends_holds(const DependsRef& ref, const ChildState& state, const Call& task);

[[nodiscard]] Result<void> check_parameter_enum(const Parameter& p, const std::string& value,
                                                const std::string& what);

class Runner {
 public:
  Runner(Library& library, const Workflow& root, RunOptions options, Timeline& timeline,
         Supervisor& supervisor);
  ~Runner();
  Runner(const Runner&) = delete;
  Runner& operator=(const Runner&) = delete;

  [[nodiscard]] Result<void> prepare();
  // Runs the entrypoint and returns the final document; after prepare().
  [[nodiscard]] json::object run();
  [[nodiscard]] bool succeeded() const { return succeeded_; }
  [[nodiscard]] const Globals& globals() const { return globals_; }

 private:
  // check.cpp
  Result<void> check_parameters();
  Result<void> check_artifacts();
  Result<void> check_template(const Template& t);
  Result<void> check_calls(const Template& t);
  Result<void> check_dag(const Template& t);
  Result<void> check_call(const Template& t, const Call& call, const Scope& scope);
  Result<void> check_container(const Template& t, const Scope& scope);
  // runner.cpp
  ChildState execute(const Template& t, const Arguments& given, const std::string& path);
  // retry_deadline: how long a retry may run (backoff.maxDuration's rest).
  void execute_once(const Template& t, NodeRecord& node, int attempt,
                    std::optional<std::chrono::milliseconds> retry_deadline);
  void run_steps(const Template& t, NodeRecord& node);
  void run_dag(const Template& t, NodeRecord& node);
  // Evaluates `when`, substitutes the arguments; nullopt when the call does not run.
  std::optional<Arguments> prepare_call(const Template& caller, const NodeRecord& caller_node,
                                        const Call& call, const Scope& scope, const std::string& path,
                                        ChildState& not_run);
  void template_outputs(const Template& t, NodeRecord& node, const Scope& scope);
  // spec.onExit after the entrypoint ended in `phase`.
  ChildState run_exit_handler(const std::string& phase);
  NodeRecord& new_node(const std::string& path, const std::string& type, const Template* t);
  void finish_node(NodeRecord& node);
  // nodes.cpp
  void run_container(const Template& t, NodeRecord& node, int attempt,
                     std::optional<std::chrono::milliseconds> retry_deadline);
  void save_artifacts(const Template& t, NodeRecord& node, const Scope& scope, const PathMap& map);
  void run_suspend(const Template& t, NodeRecord& node);
  enum class Answer { yes, no, timed_out, stopped };
  Answer ask_at_terminal(const NodeRecord& node, std::optional<std::chrono::milliseconds> duration,
                         const std::string& resume_text);
  Result<PathMap> path_map(const Template& t, const NodeRecord& node, const std::string& node_dir);
  std::string volume_dir(const std::string& name);

  Library& library_;
  const Workflow& root_;
  RunOptions options_;
  Timeline& timeline_;
  Supervisor& supervisor_;
  Globals globals_;
  std::map<const Template*, std::string> executables_;  // filled by prepare()
  std::set<const Template*> checked_;
  std::vector<std::string> gates_;    // suspend templates without a duration
  std::set<std::string> gate_steps_;  // names of the steps that call a suspend template
  std::unique_ptr<std::counting_semaphore<1024>> slots_;
  std::mutex nodes_mutex_;
  std::vector<std::unique_ptr<NodeRecord>> nodes_;
  std::mutex prompt_mutex_;
  std::atomic<int> node_counter_{0};
  std::string work_dir_;
  bool succeeded_ = false;
};

}  // namespace playbook
