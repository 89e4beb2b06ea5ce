#include "options.hpp"

#include "ir/core/log.hpp"
#include "ir/core/time.hpp"
#include "ir/driver/step.hpp"
#include "ir/http/client.hpp"

#include <boost/json/serialize.hpp>
#include <boost/program_options.hpp>

#include <cstdlib>
#include <iostream>
#include <memory>
#include <sstream>

namespace ir::plugin {
namespace po = boost::program_options;

namespace {

constexpr std::chrono::milliseconds max_wait = std::chrono::seconds(20);

Result<std::chrono::milliseconds> duration_option(const po::variables_map& vm, const std::string& name,
                                                  std::chrono::milliseconds fallback) {
  if (vm.count(name) == 0) return fallback;
  auto parsed = parse_duration(vm[name].as<std::string>());
  if (!parsed) return parsed.error().with("--" + name);
  return *parsed;
}

// A policy that cannot be read or is not valid stops the plugin (exit 2):
// serving without the policy the cluster's administrator wrote would allow
// more than they meant.
Result<std::shared_ptr<const Policy>> policy_option(const po::variables_map& vm) {
  if (vm.count("policy") != 0 && vm.count("policy-env") != 0) {
    return invalid("--policy and --policy-env: give one of them");
  }
  if (vm.count("policy") != 0) {
    auto loaded = Policy::load(vm["policy"].as<std::string>());
    if (!loaded) return loaded.error().with("--policy");
    return std::make_shared<const Policy>(std::move(*loaded));
  }
  if (vm.count("policy-env") != 0) {
    const std::string name = vm["policy-env"].as<std::string>();
    const char* text = std::getenv(name.c_str());
    if (text == nullptr || *text == '\0') return invalid("--policy-env: " + name + " is not set or empty");
    auto parsed = Policy::parse(text, "$" + name);
    if (!parsed) return parsed.error().with("--policy-env");
    return std::make_shared<const Policy>(std::move(*parsed));
  }
  return std::make_shared<const Policy>();
}

}  // namespace

Result<Command> parse_command_line(const std::vector<std::string>& args) {
  Command command;
  ServerOptions& o = command.options;
  po::options_description options("Options");
  // clang-format off
  options.add_options()
    ("help", "print this help and exit")
    ("version", "print the version and exit")
    ("dry-run", "check the options, the address, the token file and the case records' directory, print what "
                "would be served, and exit without serving")
    ("probe", "ask the plugin at --address and --port for /healthz and exit 0 if it is serving (an exec "
              "livenessProbe: the kubelet's httpGet goes to the pod's IP, where the plugin does not listen)")
    ("address", po::value<std::string>()->default_value(o.address),
     "address to listen on (Argo's agent calls localhost in its own pod)")
    ("port", po::value<unsigned short>()->default_value(o.port), "port to listen on (0: any free port)")
    ("port-file", po::value<std::string>(), "write the bound port to this file")
    ("policy", po::value<std::string>(), "the policy file (YAML or JSON, schemas/plugin-policy.schema.json): the "
                                         "steps, namespaces, parameters and local files templates may use")
    ("policy-env", po::value<std::string>(), "the policy's text in this environment variable instead (a "
                                             "ConfigMap key given to the sidecar with configMapKeyRef)")
    ("token-file", po::value<std::string>()->default_value(o.token_file),
     "the agent's bearer token, read again when it changes")
    ("wait", po::value<std::string>()->default_value("2s"), "how long a call waits for its step before replying Running (at most 20s)")
    ("requeue", po::value<std::string>()->default_value("5s"), "when Argo should call again for a running step")
    ("max-concurrent", po::value<std::size_t>()->default_value(o.jobs.max_concurrent), "steps running at once")
    ("max-queued", po::value<std::size_t>()->default_value(o.jobs.max_queued),
     "steps waiting for a worker; beyond, calls reply Running and are not queued")
    ("keep-results", po::value<std::string>()->default_value("10m"), "how long a finished run's result is kept (a Succeeded one answers the same call again)")
    ("max-results", po::value<std::size_t>()->default_value(o.jobs.max_kept), "finished runs' results kept at most")
    ("state-dir", po::value<std::string>(), "where Succeeded runs are kept, so that a restarted plugin does not "
                                            "run them again (default: plugin-runs in IRSTEPS_CACHE_DIR)")
    ("shutdown-grace", po::value<std::string>()->default_value("20s"),
     "on SIGTERM, how long running steps may take to finish")
    ("io-threads", po::value<std::size_t>()->default_value(o.io_threads), "threads serving HTTP")
    ("max-connections", po::value<std::size_t>()->default_value(o.max_connections),
     "connections open at once; beyond, a connection is answered 503 and closed")
    ("log-format", po::value<std::string>()->default_value("json"), "stderr log format: json or text")
    ("log-level", po::value<std::string>()->default_value("info"), "debug, info, warn, error or off");
  // clang-format on
  po::variables_map vm;
  try {
    const int style = po::command_line_style::unix_style & ~po::command_line_style::allow_guessing;
    po::store(po::command_line_parser(args).options(options).style(style).run(), vm);
  } catch (const po::error& e) {
    return invalid(e.what());
  }
  std::ostringstream help;
  help << "Usage: irsteps-plugin [options]\n\nThe Argo Workflows executor plugin of irsteps: runs any step "
          "from a\n"
          "`plugin: {irsteps: {step: NAME, ...parameters}}` template.\n\n"
       << options;
  command.help = help.str();
  if (vm.count("help") != 0) {
    command.action = Command::Action::help;
    return command;
  }
  if (vm.count("version") != 0) {
    command.action = Command::Action::version;
    return command;
  }
  o.address = vm["address"].as<std::string>();
  o.port = vm["port"].as<unsigned short>();
  if (vm.count("port-file") != 0) o.port_file = vm["port-file"].as<std::string>();
  if (vm.count("state-dir") != 0) o.state_dir = vm["state-dir"].as<std::string>();
  o.token_file = vm["token-file"].as<std::string>();
  o.jobs.max_concurrent = vm["max-concurrent"].as<std::size_t>();
  o.jobs.max_queued = vm["max-queued"].as<std::size_t>();
  o.jobs.max_kept = vm["max-results"].as<std::size_t>();
  o.io_threads = vm["io-threads"].as<std::size_t>();
  o.max_connections = vm["max-connections"].as<std::size_t>();
  if (o.max_connections == 0) return invalid("--max-connections: must be at least 1");
  if (o.jobs.max_concurrent == 0) return invalid("--max-concurrent: must be at least 1");
  if (o.io_threads == 0) return invalid("--io-threads: must be at least 1");
  for (auto [name, target] :
       {std::pair{"wait", &o.wait}, std::pair{"requeue", &o.requeue},
        std::pair{"keep-results", &o.jobs.keep_for}, std::pair{"shutdown-grace", &o.shutdown_grace}}) {
    auto value = duration_option(vm, name, *target);
    if (!value) return value.error();
    *target = *value;
  }
  if (o.requeue.count() < 1000) return invalid("--requeue: at least 1s");
  // Argo's agent gives up on a call after 30 s (workflow/executor/plugins/
  // rpc/plugin.go: rpc.New(..., 30*time.Second, ...)) and fails the node
  // after five such calls; an answer must always come well before that.
  if (o.wait > max_wait) return invalid("--wait: at most 20s: Argo's agent abandons a call after 30s");
  if (auto policy = policy_option(vm); !policy) {
    return policy.error();
  } else {
    o.policy = std::move(*policy);
  }
  if (vm.count("dry-run") != 0) command.action = Command::Action::check;
  if (vm.count("probe") != 0) command.action = Command::Action::probe;
  const auto level = log::level_from_string(vm["log-level"].as<std::string>());
  if (!level) return level.error().with("--log-level");
  const std::string format = vm["log-format"].as<std::string>();
  if (format != "json" && format != "text") return invalid("--log-format: json or text");
  log::configure(format == "text" ? log::Format::text : log::Format::json, *level);
  return command;
}

namespace {

int failed(const Error& error) {
  log::error("plugin.failed", {{"code", code_name(error.code())}, {"message", error.describe()}});
  return exit_code(error.code());
}

// --probe: healthy when /healthz answers 200 within a few seconds.
int probe(const ServerOptions& options) {
  http::Client client({}, http::RetryPolicy{1});
  http::Request request;
  request.method = "GET";
  request.url = "http://" + options.address + ":" + std::to_string(options.port) + "/healthz";
  request.retry = false;
  request.timeout = std::chrono::seconds(3);
  request.connect_timeout = std::chrono::seconds(3);
  auto response = client.send(request);
  if (!response) return failed(response.error().with("--probe " + request.url));
  if (response->status != 200) {
    return failed(Error(Code::action_failed,
                        "--probe " + request.url + ": status " + std::to_string(response->status)));
  }
  return exit_ok;
}

}  // namespace

int plugin_main(int argc, char** argv) {
  log::configure(log::Format::json, log::Level::info);
  try {
    std::vector<std::string> args(argv + (argc > 0 ? 1 : 0), argv + argc);
    auto command = parse_command_line(args);
    if (!command) return failed(command.error());
    if (command->action == Command::Action::help) {
      std::cout << command->help;
      return exit_ok;
    }
    if (command->action == Command::Action::version) {
      std::cout << "irsteps-plugin (irsteps) " << irsteps_version() << "\n";
      return exit_ok;
    }
    if (command->action == Command::Action::probe) return probe(command->options);
    if (command->action == Command::Action::check) {
      auto checked = check(command->options);
      if (!checked) return failed(checked.error());
      std::cout << json::serialize(*checked) << "\n";
      return exit_ok;
    }
    return serve(command->options);
  } catch (const std::exception& e) {
    // The one catch-all: a bug of ours.
    log::error("plugin.failed",
               {{"code", "internal"}, {"message", std::string("internal error: ") + e.what()}});
    return exit_code(Code::internal);
  }
}

}  // namespace ir::plugin
