// playbook: runs an Argo Workflow(Template) locally, the step executables
// standing for their container images. Exit 0 when the workflow Succeeded,
// 1 when it Failed, 2 for a bad template or bad parameters (nothing ran),
// 70 for a bug of ours.
#include "retry.hpp"
#include "runner.hpp"

#include <boost/program_options.hpp>

#include <unistd.h>
#include <csignal>
#include <cstdlib>

#include <filesystem>
#include <iostream>
#include <thread>

namespace {

namespace fs = std::filesystem;
namespace po = boost::program_options;
using playbook::Result;

constexpr int exit_failed = 1;
constexpr int exit_bad_input = 2;

const char* const usage = R"(Usage: playbook run FILE|NAME [-p NAME=VALUE]... [options]
       playbook list [--templates DIR]

Runs an Argo WorkflowTemplate (or Workflow) locally: steps and dag templates,
parameters, when, retryStrategy, continueOn, suspend gates, parallel branches,
each container template run as the step executable its image stands for
(command[0]'s basename, else the image's last path component), against the
cluster of the kubeconfig. stderr: the timeline; stdout: one JSON document.
Exit 0 Succeeded, 1 Failed, 2 bad template or parameters (nothing ran).

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

std::string default_templates_dir() {
  if (auto dir = env_or_empty("IRSTEPS_TEMPLATES"); !dir.empty()) return dir;
  std::error_code ec;
  const std::string installed = own_dir() + "/../share/irsteps/workflows/argo";
  if (fs::is_directory(installed, ec)) return installed;
  return std::string(IRSTEPS_SOURCE_DIR) + "/workflows/argo";
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
    if (name.find('=') != std::string::npos) {
      return ir::invalid(
          "--env " + name.substr(0, name.find('=')) +
          "=...: a value on the command line is visible to every user of this machine; export " +
          name.substr(0, name.find('=')) + " and pass --env " + name.substr(0, name.find('=')));
    }
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) return ir::invalid("--env " + name + ": the variable " + name + " is not set");
    out.emplace_back(name, value);
  }
  return out;
}

void print_error_document(const std::string& message) {
  ir::json::object document{
      {"apiVersion", "irsteps.io/v1"}, {"kind", "PlaybookRun"}, {"phase", "Error"}, {"message", message}};
  std::cout << ir::to_pretty_json(document) << std::endl;
}

int list_templates(const std::string& dir) {
  playbook::Library library;
  if (auto r = library.load_dir(dir); !r) {
    std::cerr << "playbook: " << r.error().describe() << '\n';
    return exit_bad_input;
  }
  for (const auto& name : library.runnable_names()) std::cout << name << '\n';
  return 0;
}

int run(const po::variables_map& vm, playbook::RunOptions options) {
  const std::string target = vm["target"].as<std::string>();
  const std::string templates =
      vm.count("templates") ? vm["templates"].as<std::string>() : default_templates_dir();
  if (std::error_code ec; vm.count("templates") && !fs::is_directory(templates, ec)) {
    std::cerr << "playbook: --templates " << templates << ": no such folder\n";
    return exit_bad_input;
  }
  playbook::Library library;
  Result<const playbook::Workflow*> root = ir::invalid("nothing to run");
  std::error_code ec;
  const bool is_file =
      fs::is_regular_file(target, ec) || target.ends_with(".yaml") || target.ends_with(".yml");
  if (auto r = is_file ? library.load_file(target, true) : Result<void>(); !r) {
    root = r.error();
  } else if (auto d = library.load_dir(templates); !d) {
    root = d.error();
  } else {
    root = is_file ? library.runnable_in(target) : library.get(target);
  }
  if (root && (*root)->entrypoint.empty())
    root = ir::invalid((*root)->where + ": has no spec.entrypoint to run");

  playbook::Timeline timeline(vm["log-format"].as<std::string>() == "json" ? playbook::Timeline::Format::json
                                                                           : playbook::Timeline::Format::text,
                              std::cerr);
  playbook::Supervisor supervisor;
  std::optional<playbook::Runner> runner;
  if (root) {
    runner.emplace(library, **root, std::move(options), timeline, supervisor);
    if (auto prepared = runner->prepare(); !prepared) root = prepared.error();
  }
  if (!root) {
    std::cerr << "playbook: " << root.error().describe() << '\n';
    print_error_document(root.error().describe());
    return exit_bad_input;
  }

  // spec.activeDeadlineSeconds: when the whole run has taken that long, its
  // running steps are stopped and the workflow fails, as Argo does.
  std::optional<std::chrono::steady_clock::time_point> deadline_at;
  const std::string deadline_text = (*root)->active_deadline_seconds;
  if (!deadline_text.empty()) {
    auto limit = playbook::argo_duration(deadline_text);
    if (!limit) {
      const auto error = limit.error().with((*root)->where + ": spec.activeDeadlineSeconds");
      std::cerr << "playbook: " << error.describe() << '\n';
      print_error_document(error.describe());
      return exit_bad_input;
    }
    deadline_at = std::chrono::steady_clock::now() + *limit;
  }
  bool deadline_exceeded = false;

  // SIGINT and SIGTERM are taken here, by this thread, and forwarded to the
  // running steps; the worker threads never see them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::atomic<bool> finished{false};
  ir::json::object document;
  std::thread worker([&] {
    document = runner->run();
    finished = true;
  });
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
  return runner->succeeded() && !deadline_exceeded ? 0 : exit_failed;
}

}  // namespace

int main(int argc, char** argv) {
  try {
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
       "folder of WorkflowTemplates for NAME and templateRef (default IRSTEPS_TEMPLATES, else workflows/argo)")
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
    // clang-format on
    po::options_description hidden;
    hidden.add_options()("command", po::value<std::string>())("target", po::value<std::string>());
    po::options_description all;
    all.add(flags).add(hidden);
    po::positional_options_description positional;
    positional.add("command", 1).add("target", 1);
    po::variables_map vm;
    try {
      po::store(po::command_line_parser(argc, argv).options(all).positional(positional).run(), vm);
      po::notify(vm);
    } catch (const po::error& e) {
      std::cerr << "playbook: " << e.what() << "\n(see playbook --help)\n";
      return exit_bad_input;
    }
    if (vm.count("help")) {
      std::cout << flags << '\n';
      return 0;
    }
    if (vm.count("version")) {
      std::cout << "playbook " << IRSTEPS_VERSION << '\n';
      return 0;
    }
    const std::string command = vm.count("command") ? vm["command"].as<std::string>() : "";
    const std::string log_format = vm["log-format"].as<std::string>();
    if (log_format != "text" && log_format != "json") {
      std::cerr << "playbook: --log-format must be text or json\n";
      return exit_bad_input;
    }
    if (command == "list") {
      return list_templates(vm.count("templates") ? vm["templates"].as<std::string>()
                                                  : default_templates_dir());
    }
    if (command != "run" || !vm.count("target")) {
      std::cerr << "playbook: expected `playbook run FILE|NAME` (see playbook --help)\n";
      return exit_bad_input;
    }

    playbook::RunOptions options;
    const auto pairs = [&](const char* flag) -> Result<std::vector<std::pair<std::string, std::string>>> {
      std::vector<std::pair<std::string, std::string>> out;
      if (!vm.count(flag)) return out;
      for (const auto& text : vm[flag].as<std::vector<std::string>>()) {
        auto pair = split_pair(text, std::string("--") + flag);
        if (!pair) return pair.error();
        out.push_back(std::move(*pair));
      }
      return out;
    };
    auto parameters = pairs("parameter");
    auto mounts = pairs("mount");
    auto artifacts = pairs("artifact");
    auto env =
        env_values(vm.count("env") ? vm["env"].as<std::vector<std::string>>() : std::vector<std::string>{});
    for (auto* r : {&parameters, &mounts, &artifacts, &env}) {
      if (!*r) {
        // Refused before anything ran: the one document on stdout says so too.
        std::cerr << "playbook: " << r->error().describe() << '\n';
        print_error_document(r->error().describe());
        return exit_bad_input;
      }
    }
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
    if (vm.count("deny")) {
      for (const auto& name : vm["deny"].as<std::vector<std::string>>()) options.denied_gates.insert(name);
    }
    if (options.approve_all && options.deny_all) {
      std::cerr << "playbook: --approve-all and --deny-all exclude each other\n";
      return exit_bad_input;
    }
    options.interactive = ::isatty(0) != 0;
    options.parallelism = vm["parallelism"].as<int>();
    if (options.parallelism < 1) {
      std::cerr << "playbook: --parallelism must be at least 1\n";
      return exit_bad_input;
    }
    if (vm.count("bin-dir")) {
      options.bin_dirs = vm["bin-dir"].as<std::vector<std::string>>();
    } else {
      options.bin_dirs = {own_dir(), env_or_empty("IRSTEPS_BIN_DIR")};
    }
    if (vm.count("kubeconfig"))
      options.kubeconfig = fs::absolute(vm["kubeconfig"].as<std::string>()).string();
    options.namespace_name = vm["namespace"].as<std::string>();
    if (vm.count("work-dir")) options.work_dir = fs::absolute(vm["work-dir"].as<std::string>()).string();
    options.keep_work_dir = vm.count("keep-work-dir") > 0;
    options.step_logs = vm.count("step-logs") > 0;
    return run(vm, std::move(options));
  } catch (const std::exception& e) {
    std::cerr << "playbook: internal error: " << e.what() << '\n';
    return 70;
  }
}
