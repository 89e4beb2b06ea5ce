// The leaves of a run: container templates run as step executables with
// their container paths mapped to local folders, suspend templates as
// approval gates.
#include "ir/evidence/archive.hpp"
#include "retry.hpp"
#include "runner.hpp"
#include "vars.hpp"

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <deque>
#include <filesystem>
#include <iostream>

namespace playbook {
namespace {

namespace fs = std::filesystem;
using ir::invalid;

// What approving a gate supplies to its supplied outputs; the playbooks test
// for it with when: "'{{steps.GATE.outputs.parameters.approved}}' == 'approved'".
constexpr std::string_view approved_value = "approved";

std::string trim_right(std::string text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())) != 0) text.pop_back();
  return text;
}

// The step's log lines are JSON objects; their message is what a person needs.
std::string log_message(const std::string& line) {
  auto parsed = ir::parse_json(line, "log line");
  if (parsed && parsed->is_object()) {
    const std::string message = ir::string_at(*parsed, {"message"});
    if (!message.empty()) return message;
  }
  return line.size() > 300 ? line.substr(0, 300) + "..." : line;
}

json::object result_summary(const json::object& document) {
  json::object summary;
  summary["status"] = ir::string_at(document, {"status"});
  const auto* actions = document.if_contains("actions");
  summary["actions"] = actions != nullptr && actions->is_array() ? actions->get_array().size() : 0;
  const auto* warnings = document.if_contains("warnings");
  summary["warnings"] = warnings != nullptr && warnings->is_array() ? *warnings : json::array();
  if (const auto* dry = document.if_contains("dryRun"); dry != nullptr && dry->is_bool())
    summary["dryRun"] = *dry;
  if (const auto* error = ir::find(document, {"error", "message"}); error != nullptr && error->is_string()) {
    summary["error"] = *error;
  }
  return summary;
}

}  // namespace

std::string Runner::volume_dir(const std::string& name) {
  const std::string dir = work_dir_ + "/volumes/" + name;
  std::error_code ec;
  fs::create_directories(dir, ec);
  return dir;
}

Result<PathMap> Runner::path_map(const Template& t, const NodeRecord& node, const std::string& node_dir) {
  PathMap map;
  bool tmp_mounted = false;
  for (const auto& m : t.container.mounts) {
    const auto given = std::find_if(options_.mounts.begin(), options_.mounts.end(),
                                    [&](const auto& entry) { return entry.first == m.mount_path; });
    std::string local;
    if (given != options_.mounts.end()) {
      local = given->second;
    } else if (m.mount_path == "/tmp") {
      local = node_dir + "/tmp";  // every node has /tmp of its own, whatever backs it in Argo
    } else {
      const auto own =
          std::find_if(t.volumes.begin(), t.volumes.end(), [&](const Volume& v) { return v.name == m.name; });
      const auto shared = std::find_if(root_.volumes.begin(), root_.volumes.end(),
                                       [&](const Volume& v) { return v.name == m.name; });
      // A template's own volumes belong to its pod; the workflow's scratch
      // volumes are shared by the nodes, as a PVC would be.
      if (own == t.volumes.end() && shared != root_.volumes.end() && shared->scratch) {
        local = volume_dir(m.name);
      } else {
        local = node_dir + "/volumes/" + m.name;
        std::error_code ec;
        std::filesystem::create_directories(local, ec);
        if (ec) return invalid("cannot create " + local + ": " + ec.message());
      }
    }
    map.emplace_back(m.mount_path, local);
    tmp_mounted = tmp_mounted || m.mount_path == "/tmp";
  }
  if (!tmp_mounted) map.emplace_back("/tmp", node_dir + "/tmp");
  // inputs.artifacts at their path: the file or folder given (Argo's
  // executor downloads it there, executor.go loadArtifact). One that is
  // optional and was not supplied is not there in the pod (loadArtifact
  // skips it), so its path maps to one under the node's folder that is never
  // created: the step must not find a host file at the container's path.
  for (const auto& a : t.input_artifacts) {
    const auto it = node.input_artifacts.find(a.name);
    map.emplace_back(a.path, it != node.input_artifacts.end()
                                 ? it->second
                                 : node_dir + "/artifacts-not-supplied/" + a.name);
  }
  return sorted_path_map(std::move(map));
}

void Runner::run_container(const Template& t, NodeRecord& node, int attempt,
                           std::optional<std::chrono::milliseconds> retry_deadline) {
  const auto& c = t.container;
  const Scope scope{&globals_, &node.inputs, "", nullptr, attempt};
  const auto fail = [&](const std::string& phase, const std::string& message) {
    node.phase = phase;
    node.message = message;
  };
  const std::string node_dir = work_dir_ + "/nodes/" + std::to_string(node_counter_++) + "-" + node.path;
  const std::string tmp_dir = node_dir + "/tmp";
  std::error_code ec;
  fs::create_directories(tmp_dir, ec);
  if (ec) return fail("Error", "cannot create " + tmp_dir + ": " + ec.message());
  auto map = path_map(t, node, node_dir);
  if (!map) return fail("Error", map.error().describe());

  ChildSpec spec;
  spec.argv.push_back(executables_.at(&t));
  std::vector<std::string> words(c.command.begin() + (c.command.empty() ? 0 : 1), c.command.end());
  words.insert(words.end(), c.args.begin(), c.args.end());
  // Container paths are rewritten in the template's own text, before the
  // variables are filled in: a parameter's value is the user's, a local path
  // here (e.g. a case repository under /tmp), and is passed as it is.
  for (const auto& word : words) {
    auto value = substitute(rewrite_argument(word, *map), scope);
    if (!value) return fail("Error", value.error().describe());
    spec.argv.push_back(*value);
  }
  spec.env.emplace_back("TMPDIR", tmp_dir);
  if (!options_.kubeconfig.empty()) spec.env.emplace_back("KUBECONFIG", options_.kubeconfig);
  if (options_.dry_run) spec.env.emplace_back("IRSTEPS_DRY_RUN", "true");
  for (const auto& e : c.env) {
    if (!e.value) {
      spec.env.emplace_back(e.name, options_.env.at(e.name));
      continue;
    }
    auto value = substitute(rewrite_path(*e.value, *map), scope);
    if (!value) return fail("Error", value.error().describe());
    spec.env.emplace_back(e.name, *value);
  }
  for (const auto* field : {&t.active_deadline_seconds, &t.timeout}) {
    if (field->empty()) continue;
    auto text = substitute(*field, scope);
    auto limit = text ? argo_duration(*text) : Result<std::chrono::milliseconds>(text.error());
    if (!limit) return fail("Error", limit.error().with(t.where).describe());
    if (!spec.deadline || *limit < *spec.deadline) spec.deadline = *limit;
  }
  // A retry runs at most what is left of backoff.maxDuration, as Argo's pod.
  const bool max_duration_bounds = retry_deadline && (!spec.deadline || *retry_deadline < *spec.deadline);
  if (max_duration_bounds) spec.deadline = *retry_deadline;

  slots_->acquire();
  if (supervisor_.cancelled()) {
    slots_->release();
    return fail("Failed", "stopped before it started");
  }
  timeline_.node_started(node, attempt);
  std::deque<std::string> tail;
  auto run = supervisor_.run(spec, [&](std::string_view line) {
    if (line.empty()) return;
    tail.emplace_back(line);
    if (tail.size() > 5) tail.pop_front();
    if (options_.step_logs) timeline_.step_log(node.path, line);
  });
  slots_->release();
  if (!run) return fail("Error", run.error().describe());

  node.exit_code = run->exit_status;
  node.phase = run->exit_status == 0 && !run->deadline_exceeded ? "Succeeded" : "Failed";
  node.stdout_text = run->out;
  node.result.reset();
  if (auto document = ir::parse_json(run->out, "stdout"); document && document->is_object()) {
    node.result = result_summary(document->as_object());
  }
  if (run->stopped) {
    fail("Failed", "stopped by the runner");
  } else if (run->deadline_exceeded) {
    const auto ms = spec.deadline->count();
    fail("Failed", "deadline of " +
                       (ms % 1000 == 0 ? std::to_string(ms / 1000) + "s" : std::to_string(ms) + "ms") +
                       (max_duration_bounds ? " (what was left of retryStrategy.backoff.maxDuration)" : "") +
                       " exceeded: step stopped");
  } else if (node.phase == "Failed") {
    const auto* error = node.result ? node.result->if_contains("error") : nullptr;
    node.message = error != nullptr && error->is_string() ? std::string(error->get_string())
                   : tail.empty()                         ? "exit code " + std::to_string(run->exit_status)
                                                          : log_message(tail.back());
  }
  for (const auto& p : t.outputs) {
    auto path = substitute(*p.from_path, scope);
    if (!path) return fail("Error", path.error().describe());
    const std::string local = rewrite_path(*path, *map);
    auto content = ir::read_file(local);
    if (content) {
      node.outputs[p.name] = trim_right(std::move(*content));
    } else if (p.default_value) {
      node.outputs[p.name] = *p.default_value;
    } else if (node.phase == "Succeeded") {
      fail("Error", "output parameter " + p.name + ": the step wrote no file " + *path + " (" + local + ")");
    }
  }
  save_artifacts(t, node, scope, *map);
}

// outputs.artifacts: each folder as <artifact dir>/<node>/<name>.tgz, as
// Argo's wait container tars and uploads it (workflow/executor/executor.go
// SaveArtifacts). Without an artifact repository Argo fails the node, and so
// does the runner; a missing path fails it unless the artifact is optional.
void Runner::save_artifacts(const Template& t, NodeRecord& node, const Scope& scope, const PathMap& map) {
  for (const auto& artifact : t.output_artifacts) {
    const auto fail_node = [&](const std::string& why) {
      node.phase = "Error";
      node.message = "output artifact " + artifact.name + ": " + why;
    };
    if (options_.artifact_dir.empty()) {
      fail_node("no artifact repository (on Argo: configure one; here: --artifact-dir)");
      return;
    }
    auto path = substitute(artifact.path, scope);
    if (!path) return fail_node(path.error().describe());
    const std::string local = rewrite_path(*path, map);
    std::error_code ec;
    if (!fs::exists(local, ec)) {
      if (!artifact.optional && node.phase == "Succeeded") fail_node(*path + " does not exist");
      continue;
    }
    if (!fs::is_directory(local, ec))
      return fail_node(*path + " is not a folder (the runner archives folders)");
    const fs::path key = fs::path(node.path) / (artifact.name + ".tgz");
    const fs::path target = fs::path(options_.artifact_dir) / key;
    fs::create_directories(target.parent_path(), ec);
    auto sha256 = ir::evidence::write_tar_gz(local, target.string());
    if (!sha256) return fail_node(sha256.error().describe());
    node.artifacts.push_back(
        json::object{{"name", artifact.name}, {"key", key.string()}, {"sha256", *sha256}});
  }
}

// Argo's semantics, which the runner follows:
// - suspend.duration: after it the node Succeeds by itself, each supplied
//   output taking its default (workflow/controller/operator.go
//   executeSuspend, workflow/util/util.go OverrideOutputParametersWithDefault);
// - a plain `argo resume` does the same (util.go ResumeWorkflow): only
//   `argo node set --output-parameter NAME=VALUE` before it supplies a value
//   (util.go updateSuspendedNode). Approving here is that: every supplied
//   output gets "approved". Denying is a resume without a value, so the
//   defaults; a gate without supplied outputs has no way to say no but
//   failing (argo node set --phase Failed, or argo stop);
// - a template timeout is never enforced on a suspend node (parsing refuses it).
void Runner::run_suspend(const Template& t, NodeRecord& node) {
  std::optional<std::chrono::milliseconds> duration;
  if (!t.suspend_duration.empty()) {
    const Scope scope{&globals_, &node.inputs, "", nullptr, std::nullopt};
    auto text = substitute(t.suspend_duration, scope);
    auto parsed = text ? argo_duration(*text) : Result<std::chrono::milliseconds>(text.error());
    if (!parsed) {
      node.phase = "Error";
      node.message = parsed.error().with(t.where + ".suspend.duration").describe();
      return;
    }
    duration = *parsed;
  }
  const bool answers =
      std::any_of(t.outputs.begin(), t.outputs.end(), [](const Parameter& p) { return p.supplied; });
  // supplied: the value an approver sets; nullopt: each output's default.
  const auto resume = [&](const std::optional<std::string>& supplied, const std::string& how) {
    node.phase = "Succeeded";
    node.message = how;
    for (const auto& p : t.outputs) {
      std::optional<std::string> value = supplied;
      if (!value) value = p.default_value;
      if (!value) {
        // addRawOutputFields: an input of the same name lends its default.
        for (const auto& in : t.inputs) {
          if (in.name == p.name && in.default_value) value = in.default_value;
        }
      }
      if (!value) {
        node.phase = "Error";
        node.message =
            "raw output parameter '" + p.name + "' has not been set and does not have a default value";
        return;
      }
      node.outputs[p.name] = *value;
    }
    timeline_.event(supplied ? "gate.approved" : "gate.resumed", node.path,
                    "approval gate " + how + (supplied || !answers ? "" : ": outputs take their defaults"));
  };
  const auto fail = [&](const std::string& how) {
    node.phase = "Failed";
    node.message = how;
    timeline_.event("gate.denied", node.path, "approval gate " + how);
  };
  const auto deny = [&](const std::string& how) {
    if (answers) return resume(std::nullopt, how);
    fail(how);
  };
  const auto seconds = [](std::chrono::milliseconds d) { return std::to_string(d.count() / 1000) + "s"; };
  const std::string resume_text = duration ? "resumes by itself after " + seconds(*duration) : "";
  if (options_.dry_run) return resume(std::string(approved_value), "approved automatically (dry run)");
  const std::string step_name = node.path.substr(node.path.rfind('.') + 1);
  if (options_.denied_gates.count(step_name) != 0) return deny("denied (--deny " + step_name + ")");
  if (options_.deny_all) return deny("denied (--deny-all)");
  if (options_.approve_all) return resume(std::string(approved_value), "approved (--approve-all)");
  if (!options_.interactive) {
    // prepare() let only gates with a duration come this far.
    timeline_.event("gate.waiting", node.path, "approval gate " + resume_text);
    if (!supervisor_.sleep_for(*duration)) return fail("stopped while waiting");
    return resume(std::nullopt, "resumed after its duration of " + seconds(*duration));
  }
  switch (ask_at_terminal(node, duration, resume_text)) {
    case Answer::yes:
      return resume(std::string(approved_value), "approved at the terminal");
    case Answer::no:
      return deny("denied at the terminal");
    case Answer::timed_out:
      return resume(std::nullopt, "resumed after its duration of " + seconds(*duration));
    case Answer::stopped:
      return fail("stopped while waiting");
  }
}

Runner::Answer Runner::ask_at_terminal(const NodeRecord& node,
                                       std::optional<std::chrono::milliseconds> duration,
                                       const std::string& resume_text) {
  // One question at a time, whatever runs in parallel.
  const std::lock_guard lock(prompt_mutex_);
  std::cerr << "Approve " << node.path << "?" << (duration ? " (" + resume_text + ")" : "") << " [y/N] "
            << std::flush;
  const auto asked = std::chrono::steady_clock::now();
  std::string answer;
  while (true) {
    if (supervisor_.cancelled()) return Answer::stopped;
    if (duration && std::chrono::steady_clock::now() - asked >= *duration) {
      std::cerr << '\n';
      return Answer::timed_out;
    }
    pollfd fd{0, POLLIN, 0};
    if (::poll(&fd, 1, 200) <= 0) continue;
    char c = 0;
    if (::read(0, &c, 1) <= 0 || c == '\n') break;
    answer += c;
  }
  answer = trim_right(answer);
  const bool yes = answer == "y" || answer == "Y" || answer == "yes" || answer == "YES" || answer == "Yes";
  return yes ? Answer::yes : Answer::no;
}

}  // namespace playbook
