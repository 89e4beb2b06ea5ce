// dag templates: every task whose dependencies are done starts at once (its
// own thread); `depends` decides whether it runs or is Omitted. A failure
// that no continueOn and no depends on `.Failed`/`.Errored` handles stops the
// scheduling of new tasks (Argo's failFast) and fails the dag.
#include "expr.hpp"
#include "runner.hpp"

#include <condition_variable>
#include <thread>

namespace playbook {
namespace {

const Call& task_named(const std::vector<Call>& tasks, const std::string& name) {
  return *std::find_if(tasks.begin(), tasks.end(), [&](const Call& c) { return c.name == name; });
}

// The tasks whose failure some depends expression deals with.
std::set<std::string> handled_failures(const std::vector<Call>& tasks) {
  std::set<std::string> handled;
  for (const auto& task : tasks) {
    if (task.depends.empty()) continue;
    (void)expr::check(task.depends, expr::Dialect::depends,
                      [&](const std::string& word) -> Result<expr::Value> {
                        auto ref = parse_depends_ref(word, tasks);
                        if (ref && (ref->state == "Failed" || ref->state == "Errored"))
                          handled.insert(ref->task);
                        return expr::Value(false);
                      });
  }
  return handled;
}

}  // namespace

void Runner::run_dag(const Template& t, NodeRecord& node) {
  const auto dependencies = *dag_dependencies(t.tasks);  // checked by prepare()
  const auto handled = handled_failures(t.tasks);
  std::map<std::string, ChildState> done;
  std::set<std::string> started;
  std::mutex mutex;
  std::condition_variable changed;
  int running = 0;
  std::string failure;  // the first unhandled failure
  std::vector<std::thread> threads;

  const auto note_failure = [&](const Call& task, const ChildState& state) {
    if (failure.empty() && (state.phase == "Failed" || state.phase == "Error") &&
        !((state.phase == "Failed" && task.continue_on_failed) ||
          (state.phase == "Error" && task.continue_on_error)) &&
        !handled.contains(task.name)) {
      failure = "task " + task.name + " " + state.phase;
    }
  };

  std::unique_lock lock(mutex);
  while (true) {
    bool progressed = false;
    for (const auto& task : t.tasks) {
      if (started.contains(task.name) || !failure.empty() || supervisor_.cancelled()) continue;
      const auto& deps = dependencies.at(task.name);
      if (!std::all_of(deps.begin(), deps.end(), [&](const std::string& d) { return done.contains(d); }))
        continue;
      started.insert(task.name);
      progressed = true;
      const std::string path = node.path + "." + task.name;
      Result<bool> go = true;
      if (task.depends.empty()) {
        for (const auto& d : deps) {
          if (!depends_holds({d, ""}, done.at(d), task_named(t.tasks, d))) go = false;
        }
      } else {
        go = expr::evaluate(
            task.depends, expr::Dialect::depends, [&](const std::string& word) -> Result<expr::Value> {
              auto ref = parse_depends_ref(word, t.tasks);
              if (!ref) return ref.error();
              return expr::Value(depends_holds(*ref, done.at(ref->task), task_named(t.tasks, ref->task)));
            });
      }
      if (!go || !*go) {
        NodeRecord& omitted = new_node(path, "Omitted", nullptr);
        omitted.template_name = task.template_ref ? task.template_ref->template_name : task.template_name;
        omitted.phase = go ? "Omitted" : "Error";
        omitted.message = go ? (task.depends.empty() ? "a dependency did not succeed"
                                                     : "depends '" + task.depends + "' is false")
                             : go.error().describe();
        finish_node(omitted);
        done[task.name] = {omitted.phase, std::nullopt, {}, ""};
        note_failure(task, done[task.name]);
        continue;
      }
      const Scope scope{&globals_, &node.inputs, "tasks", &done, std::nullopt};
      ChildState not_run;
      auto arguments = prepare_call(t, node, task, scope, path, not_run);
      if (!arguments) {
        done[task.name] = not_run;
        note_failure(task, not_run);
        continue;
      }
      const Template* callee = *library_.resolve(*t.owner, task);
      ++running;
      threads.emplace_back([&, callee, path, args = std::move(*arguments)] {
        ChildState state = execute(*callee, args, path);
        const std::lock_guard guard(mutex);
        done[task.name] = std::move(state);
        note_failure(task, done[task.name]);
        --running;
        changed.notify_all();
      });
    }
    if (progressed) continue;
    if (running == 0) break;
    changed.wait(lock);
  }
  lock.unlock();
  for (auto& thread : threads) thread.join();

  for (const auto& task : t.tasks) {
    if (started.contains(task.name)) continue;
    NodeRecord& omitted = new_node(node.path + "." + task.name, "Omitted", nullptr);
    omitted.template_name = task.template_ref ? task.template_ref->template_name : task.template_name;
    omitted.phase = "Omitted";
    omitted.message =
        supervisor_.cancelled() ? "not started: the run was stopped" : "not started: " + failure;
    finish_node(omitted);
  }
  node.phase = failure.empty() && !supervisor_.cancelled() ? "Succeeded" : "Failed";
  node.message = supervisor_.cancelled() && failure.empty() ? "stopped" : failure;
  const Scope scope{&globals_, &node.inputs, "tasks", &done, std::nullopt};
  template_outputs(t, node, scope);
}

}  // namespace playbook
