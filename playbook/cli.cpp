#include "cli.hpp"

#include "retry.hpp"

#include <boost/program_options.hpp>

#include <unistd.h>
#include <csignal>
#include <cstdlib>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <optional>
#include <sstream>
#include <thread>

#ifndef IRSTEPS_VERSION
#define IRSTEPS_VERSION "0.0.0-dev"
#endif

namespace playbook {
namespace {

namespace fs = std::filesystem;
namespace po = boost::program_options;

const char* const usage = R"(Usage: playbook run FILE|NAME [-p NAME=VALUE]... [options]
       playbook trigger SENSOR.yaml EVENT.json [--header 'Name: value']... [--run [options]]
       playbook list [--templates DIR]

Runs an Argo WorkflowTemplate (or Workflow) locally: steps and dag templates,
parameters, when, retryStrategy, continueOn, suspend gates, parallel branches,
each container template run as the step executable its image stands for
(command[0]'s basename, else the image's last path component), against the
cluster of the kubeconfig. stderr: the timeline; stdout: one JSON document.
Exit 0 Succeeded, 1 Failed, 2 bad template or parameters (nothing ran).

trigger evaluates an Argo Events Sensor against EVENT.json, the body of one
webhook request, as the Sensor's pod would (its EventSource's authSecret,
dependencies, filters, conditions and parameters) and prints what it would
submit (stdout: one SensorTrigger document; exit 0 whether or not anything
fired). With --run, the one Workflow it submits (workflowTemplateRef and
arguments) is run here as `playbook run` runs it.

Options)";

std::string own_dir() {
  std::error_code ec;
  const auto exe = fs::read_symlink("/proc/self/exe", ec);
  return ec ? std::string() : exe.parent_path().string();
}

std::string env_or_empty(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? std::string() : std::string(value);
}

Result<std::pair<std::string, std::string>> split_pair(const std::string& text, const std::string& flag) {
  const auto equals = text.find('=');
  if (equals == std::string::npos || equals == 0) {
    return ir::invalid(flag + " " + text + ": expected NAME=VALUE");
  }
  return std::make_pair(text.substr(0, equals), text.substr(equals + 1));
}

// A value given as NAME=VALUE on the command line would be in this
// process's argv, which every user of the machine reads (ps,
// /proc/PID/cmdline): values come from the runner's own environment instead
// (security review finding 14).
Result<std::vector<std::pair<std::string, std::string>>> env_values(const std::vector<std::string>& names) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& name : names) {
    if (name.empty()) return ir::invalid("--env: expected the NAME of a variable");
    if (const auto equals = name.find('='); equals != std::string::npos) {
      const std::string variable = name.substr(0, equals);
      return ir::invalid(
          "--env " + variable +
          "=...: a value on the command line is visible to every user of this machine; export " + variable +
          " and pass --env " + variable);
    }
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) return ir::invalid("--env " + name + ": the variable " + name + " is not set");
    out.emplace_back(name, value);
  }
  return out;
}

po::options_description flags() {
  po::options_description flags(usage);
  // clang-format off
  flags.add_options()
    ("help,h", "this text")
    ("version", "print the version")
    ("parameter,p", po::value<std::vector<std::string>>()->composing(), "NAME=VALUE: a workflow parameter")
    ("dry-run", "run every step with --dry-run (workflow parameter dry-run=true, IRSTEPS_DRY_RUN=true); approval gates pass")
    ("approve-all", "approve every suspend gate: its supplied outputs get \"approved\" (argo node set --output-parameter, then argo resume)")
    ("deny-all", "deny every suspend gate: its supplied outputs take their defaults (a plain argo resume); a gate without any fails")
    ("deny", po::value<std::vector<std::string>>()->composing(),
     "STEP: deny the approval gate of this step (its node's displayName; repeatable), as a plain argo resume of that node; the other gates as --approve-all, --deny-all or the terminal")
    ("parallelism", po::value<int>()->default_value(4), "steps that run at the same time")
    ("bin-dir", po::value<std::vector<std::string>>()->composing(),
     "where the step executables are (repeatable; default: next to playbook, then IRSTEPS_BIN_DIR)")
    ("templates", po::value<std::string>(),
     "folder of WorkflowTemplates for NAME and templateRef (default IRSTEPS_TEMPLATES, else the installed share/irsteps/workflows/argo)")
    ("mount", po::value<std::vector<std::string>>()->composing(), "MOUNT_PATH=LOCAL_PATH for a volumeMount")
    ("env", po::value<std::vector<std::string>>()->composing(),
     "NAME: a container env entry with valueFrom takes the value of this process's variable NAME (never printed)")
    ("kubeconfig", po::value<std::string>(), "kubeconfig the steps use (default KUBECONFIG, ~/.kube/config)")
    ("namespace", po::value<std::string>()->default_value("default"), "{{workflow.namespace}}")
    ("work-dir", po::value<std::string>(), "folder for the nodes' /tmp and emptyDir volumes (kept)")
    ("keep-work-dir", "keep the temporary work folder and name it in the output")
    ("step-logs", "copy every step's stderr into the timeline")
    ("artifact-dir", po::value<std::string>(),
     "the artifact repository: outputs.artifacts are saved here as <node>/<name>.tgz (without it a template with output artifacts fails, as on an Argo without one)")
    ("artifact", po::value<std::vector<std::string>>()->composing(),
     "NAME=LOCAL_PATH: an input artifact of the entrypoint (a file or folder), as a Workflow's spec.arguments.artifacts with a location supplies it (repeatable)")
    ("lock-dir", po::value<std::string>(),
     "folder of spec.synchronization's lock files (default IRSTEPS_PLAYBOOK_LOCK_DIR, XDG_RUNTIME_DIR, or the temporary folder)")
    ("log-format", po::value<std::string>()->default_value("text"), "timeline format: text or json");
  po::options_description trigger("trigger");
  trigger.add_options()
    ("header", po::value<std::vector<std::string>>()->composing(),
     "'Name: value': a header of the webhook request (repeatable; Content-Type defaults to application/json)")
    ("auth-token-file", po::value<std::string>(),
     "the webhook's shared secret (the value of the EventSource's authSecret); the request carries it as its bearer token, as the configured sender does. Without it a webhook with authSecret answers 401")
    ("event-source", po::value<std::vector<std::string>>()->composing(),
     "FILE with the EventSource that receives the request, when SENSOR.yaml has none (repeatable)")
    ("sensor", po::value<std::string>(), "NAME: the Sensor to evaluate, when the file has several")
    ("run", "run the Workflow the Sensor submits");
  // clang-format on
  flags.add(trigger);
  return flags;
}

std::vector<std::string> strings(const po::variables_map& vm, const char* flag) {
  return vm.count(flag) ? vm[flag].as<std::vector<std::string>>() : std::vector<std::string>{};
}

Result<std::vector<std::pair<std::string, std::string>>> pairs(const po::variables_map& vm,
                                                               const char* flag) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& text : strings(vm, flag)) {
    auto pair = split_pair(text, std::string("--") + flag);
    if (!pair) return pair.error();
    out.push_back(std::move(*pair));
  }
  return out;
}

// The run's options from the flags; nothing has run yet.
Result<RunOptions> run_options(const po::variables_map& vm) {
  RunOptions options;
  auto parameters = pairs(vm, "parameter");
  if (!parameters) return parameters.error();
  auto mounts = pairs(vm, "mount");
  if (!mounts) return mounts.error();
  auto artifacts = pairs(vm, "artifact");
  if (!artifacts) return artifacts.error();
  auto env = env_values(strings(vm, "env"));
  if (!env) return env.error();
  options.parameters = std::move(*parameters);
  options.artifacts = std::move(*artifacts);
  for (auto& [path, local] : *mounts) {
    while (path.size() > 1 && path.back() == '/') path.pop_back();
    std::error_code ec;
    options.mounts.emplace_back(path, fs::absolute(local, ec).string());
  }
  for (auto& [name, value] : *env) options.env[name] = std::move(value);
  if (vm.count("lock-dir")) options.lock_dir = vm["lock-dir"].as<std::string>();
  if (vm.count("artifact-dir")) {
    std::error_code ec;
    options.artifact_dir = fs::absolute(vm["artifact-dir"].as<std::string>(), ec).string();
  }
  options.dry_run = vm.count("dry-run") > 0;
  options.approve_all = vm.count("approve-all") > 0;
  options.deny_all = vm.count("deny-all") > 0;
  for (const auto& name : strings(vm, "deny")) options.denied_gates.insert(name);
  if (options.approve_all && options.deny_all)
    return ir::invalid("--approve-all and --deny-all exclude each other");
  options.interactive = ::isatty(0) != 0;
  options.parallelism = vm["parallelism"].as<int>();
  if (options.parallelism < 1) return ir::invalid("--parallelism must be at least 1");
  options.bin_dirs = vm.count("bin-dir")
                         ? strings(vm, "bin-dir")
                         : std::vector<std::string>{own_dir(), env_or_empty("IRSTEPS_BIN_DIR")};
  if (vm.count("kubeconfig")) options.kubeconfig = fs::absolute(vm["kubeconfig"].as<std::string>()).string();
  options.namespace_name = vm["namespace"].as<std::string>();
  if (vm.count("work-dir")) options.work_dir = fs::absolute(vm["work-dir"].as<std::string>()).string();
  options.keep_work_dir = vm.count("keep-work-dir") > 0;
  options.step_logs = vm.count("step-logs") > 0;
  return options;
}

json::object error_document(const std::string& message) {
  return {{"apiVersion", "irsteps.io/v1"}, {"kind", "PlaybookRun"}, {"phase", "Error"}, {"message", message}};
}

Result<void> list_templates(const Command& command) {
  Library library;
  if (auto r = library.load_dir(command.templates); !r) return r.error();
  for (const auto& name : library.runnable_names()) std::cout << name << '\n';
  return {};
}

// Loads the templates and the workflow to run, and prepares the run: every
// check a run can fail before its first step.
Result<const Workflow*> load(const Command& command, Library& library) {
  std::error_code ec;
  const std::string& target = command.target;
  const bool is_file =
      fs::is_regular_file(target, ec) || target.ends_with(".yaml") || target.ends_with(".yml");
  if (is_file) {
    if (auto r = library.load_file(target, true); !r) return r.error();
  }
  // A FILE may stand alone; a NAME needs the folder of WorkflowTemplates.
  if (command.templates_given || !is_file || fs::is_directory(command.templates, ec)) {
    if (!fs::is_directory(command.templates, ec)) {
      return ir::invalid(command.templates_given ? "--templates " + command.templates + ": no such folder"
                                                 : "no folder of WorkflowTemplates at " + command.templates +
                                                       ": give --templates DIR or set IRSTEPS_TEMPLATES");
    }
    if (auto r = library.load_dir(command.templates); !r) return r.error();
  }
  auto root = is_file ? library.runnable_in(target) : library.get(target);
  if (!root) return root.error();
  if ((*root)->entrypoint.empty()) return ir::invalid((*root)->where + ": has no spec.entrypoint to run");
  return root;
}

// Runs the prepared workflow to its end, or until spec.activeDeadlineSeconds
// or a signal stops it; prints the one document. Exit 0 or 1.
Result<int> execute(const Command& command) {
  Library library;
  auto root = load(command, library);
  if (!root) return root.error();
  // spec.activeDeadlineSeconds: when the whole run has taken that long, its
  // running steps are stopped and the workflow fails, as Argo does.
  std::optional<std::chrono::steady_clock::time_point> deadline_at;
  const std::string deadline_text = (*root)->active_deadline_seconds;
  if (!deadline_text.empty()) {
    auto limit = argo_duration(deadline_text);
    if (!limit) return limit.error().with((*root)->where + ": spec.activeDeadlineSeconds");
    deadline_at = std::chrono::steady_clock::now() + *limit;
  }
  Timeline timeline(command.log_format, std::cerr);
  Supervisor supervisor;
  Runner runner(library, **root, command.options, timeline, supervisor);
  if (auto prepared = runner.prepare(); !prepared) return prepared.error();

  // SIGINT and SIGTERM are taken here, by this thread, and forwarded to the
  // running steps; the worker threads never see them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::atomic<bool> finished{false};
  json::object document;
  std::thread worker([&] {
    document = runner.run();
    finished = true;
  });
  bool deadline_exceeded = false;
  while (!finished) {
    if (deadline_at && !deadline_exceeded && std::chrono::steady_clock::now() >= *deadline_at) {
      deadline_exceeded = true;
      timeline.event("workflow.deadline", "",
                     "activeDeadlineSeconds " + deadline_text + " exceeded: stopping the running steps");
      supervisor.cancel(SIGTERM);
    }
    const timespec tick{0, 100'000'000};
    const int received = sigtimedwait(&signals, nullptr, &tick);
    if (received > 0) {
      timeline.event("workflow.stopping", "",
                     std::string("received ") + (received == SIGINT ? "SIGINT" : "SIGTERM") +
                         ": stopping the running steps");
      supervisor.cancel(received);
    }
  }
  worker.join();
  if (deadline_exceeded) {
    document["phase"] = "Failed";
    document["message"] = "the workflow's activeDeadlineSeconds (" + deadline_text + ") was exceeded";
  }
  std::cout << ir::to_pretty_json(document) << std::endl;
  return runner.succeeded() && !deadline_exceeded ? ir::exit_ok : ir::exit_code(ir::Code::action_failed);
}

// The Workflow a fired trigger submits, as the NAME and parameters
// `playbook run` takes: only spec.workflowTemplateRef and spec.arguments'
// parameters, which is what the shipped Sensors submit; anything else is
// refused rather than run differently from Argo.
Result<void> take_workflow(const json::value& resource, Command& command) {
  const auto* object = resource.if_object();
  if (object == nullptr || ir::string_at(resource, {"kind"}) != "Workflow") {
    return ir::invalid("--run: the trigger's resource is not a Workflow");
  }
  const auto* spec = ir::find(resource, {"spec"});
  if (spec == nullptr || !spec->is_object()) return ir::invalid("--run: the Workflow has no spec");
  for (const auto& [key, value] : spec->as_object()) {
    if (key != "workflowTemplateRef" && key != "arguments") {
      return ir::invalid("--run: the Workflow's spec." + std::string(key) +
                         " is not run here (only workflowTemplateRef and arguments.parameters)");
    }
  }
  const std::string name = ir::string_at(resource, {"spec", "workflowTemplateRef", "name"});
  if (name.empty()) return ir::invalid("--run: the Workflow has no spec.workflowTemplateRef.name");
  if (const auto* cluster = ir::find(resource, {"spec", "workflowTemplateRef", "clusterScope"});
      cluster != nullptr && cluster->is_bool() && cluster->as_bool()) {
    return ir::invalid("--run: a ClusterWorkflowTemplate is not run here");
  }
  if (const auto* artifacts = ir::find(resource, {"spec", "arguments", "artifacts"}); artifacts != nullptr) {
    return ir::invalid("--run: the Workflow's spec.arguments.artifacts are not run here");
  }
  command.target = name;
  if (const auto* parameters = ir::find(resource, {"spec", "arguments", "parameters"});
      parameters != nullptr && parameters->is_array()) {
    for (const auto& p : parameters->as_array()) {
      command.options.parameters.emplace_back(ir::string_at(p, {"name"}), ir::string_at(p, {"value"}));
    }
  }
  if (!command.namespace_given) {
    const std::string ns = ir::string_at(resource, {"metadata", "namespace"});
    if (!ns.empty()) command.options.namespace_name = ns;
  }
  return {};
}

// `playbook trigger`: irsteps-sensor (beside this executable, in Go like
// Argo Events, so that gjson paths, sprig templates and Go regular
// expressions mean what they mean there) evaluates the Sensor; its document
// is printed, or with --run its one Workflow is run.
Result<int> trigger(Command& command) {
  const std::string helper = (fs::path(own_dir()) / "irsteps-sensor").string();
  std::error_code ec;
  if (!fs::is_regular_file(helper, ec)) {
    return ir::Error(ir::Code::internal, "irsteps-sensor is not installed beside playbook (" + helper + ")");
  }
  ChildSpec spec;
  spec.argv = {helper, command.target, command.event};
  spec.argv.insert(spec.argv.end(), command.sensor_args.begin(), command.sensor_args.end());
  spec.deadline = std::chrono::seconds(60);
  Supervisor supervisor;
  // Its stderr is its error message, which this process prints once.
  std::string last_error;
  auto child = supervisor.run(spec, [&](std::string_view line) { last_error = std::string(line); });
  if (!child) return child.error();
  const std::string prefix = "irsteps-sensor: ";
  if (last_error.starts_with(prefix)) last_error.erase(0, prefix.size());
  if (child->exit_status == ir::exit_code(ir::Code::invalid_input)) return ir::invalid(last_error);
  if (child->exit_status != 0) {
    return ir::Error(ir::Code::internal, "irsteps-sensor exited with " + std::to_string(child->exit_status) +
                                             (last_error.empty() ? "" : ": " + last_error));
  }
  if (!command.run_fired) {
    std::cout << child->out << std::flush;
    return ir::exit_ok;
  }
  auto document = ir::parse_json(child->out, "irsteps-sensor's document");
  if (!document) return document.error();
  std::vector<const json::value*> fired;
  std::string names;
  if (const auto* triggers = ir::find(*document, {"triggers"}); triggers != nullptr && triggers->is_array()) {
    for (const auto& t : triggers->as_array()) {
      const auto* is_fired = ir::find(t, {"fired"});
      if (is_fired == nullptr || !is_fired->is_bool() || !is_fired->as_bool()) continue;
      fired.push_back(ir::find(t, {"resource"}));
      names += (names.empty() ? "" : ", ") + ir::string_at(t, {"name"});
    }
  }
  if (fired.empty()) {
    // Nothing to run: the Sensor's answer is the document.
    std::cerr << "playbook: no trigger fired: nothing to run\n";
    std::cout << child->out << std::flush;
    return ir::exit_ok;
  }
  if (fired.size() > 1) {
    return ir::invalid("--run: " + std::to_string(fired.size()) + " triggers fired (" + names +
                       "); run their Workflows one by one with playbook run");
  }
  if (fired.front() == nullptr) return ir::invalid("--run: the fired trigger has no resource");
  if (auto taken = take_workflow(*fired.front(), command); !taken) return taken.error();
  std::cerr << "playbook: trigger " << names << " fired: running " << command.target << '\n';
  return execute(command);
}

}  // namespace

std::string default_templates_dir() {
  if (auto dir = env_or_empty("IRSTEPS_TEMPLATES"); !dir.empty()) return dir;
  return (fs::path(own_dir()).parent_path() / "share" / "irsteps" / "workflows" / "argo").string();
}

Result<void> parse_command_line(int argc, char** argv, Command& command) {
  const auto visible = flags();
  po::options_description hidden;
  hidden.add_options()("command", po::value<std::string>())("target", po::value<std::string>())(
      "event", po::value<std::string>());
  po::options_description all;
  all.add(visible).add(hidden);
  po::positional_options_description positional;
  positional.add("command", 1).add("target", 1).add("event", 1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(all).positional(positional).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    return ir::invalid(std::string(e.what()) + " (see playbook --help)");
  }
  if (vm.count("help")) {
    std::ostringstream text;
    text << visible;
    command.usage = text.str();
    return {};
  }
  if (vm.count("version")) {
    command.action = Command::Action::version;
    return {};
  }
  const std::string verb = vm.count("command") ? vm["command"].as<std::string>() : "";
  if (verb == "list") command.action = Command::Action::list;
  if (verb == "run") command.action = Command::Action::run;
  if (verb == "trigger") command.action = Command::Action::trigger;
  const std::string log_format = vm["log-format"].as<std::string>();
  if (log_format != "text" && log_format != "json") return ir::invalid("--log-format must be text or json");
  command.log_format = log_format == "json" ? Timeline::Format::json : Timeline::Format::text;
  command.templates_given = vm.count("templates") > 0;
  command.templates = command.templates_given ? vm["templates"].as<std::string>() : default_templates_dir();
  if (verb == "list") return {};
  if (verb == "trigger") {
    if (!vm.count("target") || !vm.count("event")) {
      return ir::invalid("expected `playbook trigger SENSOR.yaml EVENT.json` (see playbook --help)");
    }
    command.target = vm["target"].as<std::string>();
    command.event = vm["event"].as<std::string>();
    command.run_fired = vm.count("run") > 0;
    for (const auto& header : strings(vm, "header"))
      command.sensor_args.insert(command.sensor_args.end(), {"--header", header});
    for (const auto& file : strings(vm, "event-source"))
      command.sensor_args.insert(command.sensor_args.end(), {"--event-source", file});
    if (vm.count("auth-token-file"))
      command.sensor_args.insert(command.sensor_args.end(),
                                 {"--auth-token-file", vm["auth-token-file"].as<std::string>()});
    if (vm.count("sensor"))
      command.sensor_args.insert(command.sensor_args.end(), {"--sensor", vm["sensor"].as<std::string>()});
    if (vm.count("parameter"))
      return ir::invalid("-p: trigger takes the parameters from the Sensor's Workflow");
  } else {
    if (vm.count("run") || vm.count("header") || vm.count("auth-token-file") || vm.count("event-source") ||
        vm.count("sensor")) {
      return ir::invalid(
          "--run, --header, --auth-token-file, --event-source and --sensor are options of trigger");
    }
    if (verb != "run" || !vm.count("target") || vm.count("event")) {
      return ir::invalid("expected `playbook run FILE|NAME` (see playbook --help)");
    }
    command.target = vm["target"].as<std::string>();
  }
  command.namespace_given = !vm["namespace"].defaulted();
  auto options = run_options(vm);
  if (!options) return options.error();
  command.options = std::move(*options);
  return {};
}

int run_main(int argc, char** argv) {
  try {
    Command command;
    Result<int> status = ir::exit_ok;
    if (auto parsed = parse_command_line(argc, argv, command); !parsed) {
      status = parsed.error();
    } else if (command.action == Command::Action::help) {
      std::cout << command.usage << '\n';
    } else if (command.action == Command::Action::version) {
      std::cout << "playbook " << IRSTEPS_VERSION << '\n';
    } else if (command.action == Command::Action::list) {
      if (auto listed = list_templates(command); !listed) status = listed.error();
    } else if (command.action == Command::Action::trigger) {
      status = trigger(command);
    } else {
      status = execute(command);
    }
    if (status) return *status;
    std::cerr << "playbook: " << status.error().describe() << '\n';
    // A refused `run` still prints its one document on stdout, phase Error.
    if (command.action == Command::Action::run ||
        (command.action == Command::Action::trigger && command.run_fired))
      std::cout << ir::to_pretty_json(error_document(status.error().describe())) << std::endl;
    return ir::exit_code(status.error().code());
  } catch (const std::exception& e) {
    std::cerr << "playbook: internal error: " << e.what() << '\n';
    return ir::exit_code(ir::Code::internal);
  }
}

}  // namespace playbook
