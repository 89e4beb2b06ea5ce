// The executor plugin's HTTP/1.1 server (Boost.Beast, asynchronous, a few
// I/O threads): POST /api/v1/template.execute behind the bearer token,
// GET /api/v1/state (the same token) for the runs' counters, and GET
// /healthz for probes. Steps run in the background (jobs.hpp); a call waits
// up to `wait` for its run, then answers Running with a requeue.
// SIGTERM or SIGINT: stop accepting, answer 503 to new runs on open
// connections (Argo calls the same sidecar again a few times, then fails the
// node with the body as its message: server.cpp, unavailable_prefix), let
// running steps finish within `shutdown_grace`, exit 0.
#pragma once

#include "ir/core/error.hpp"
#include "ir/core/json.hpp"
#include "jobs.hpp"
#include "policy.hpp"

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

namespace ir::plugin {

struct ServerOptions {
  // Argo's agent calls http://localhost:<port> (addresses() in
  // workflow/controller/agent.go of argoproj/argo-workflows), and the
  // sidecar shares the agent pod's network namespace: loopback is enough,
  // and nothing outside the pod reaches the plugin (finding 8).
  std::string address = "127.0.0.1";
  unsigned short port = 7355;
  std::string port_file;  // the bound port is written here (tests use port 0)
  std::string token_file = "/var/run/argo/token";
  std::chrono::milliseconds wait = std::chrono::seconds(2);
  std::chrono::milliseconds requeue = std::chrono::seconds(5);
  std::chrono::milliseconds shutdown_grace = std::chrono::seconds(20);
  std::chrono::milliseconds idle_timeout = std::chrono::seconds(60);
  std::size_t io_threads = 2;
  // Connections open at once; beyond, a connection is answered 503 and
  // closed (Argo's agent calls again a few times, then fails the node). The
  // agent makes at most ARGO_AGENT_TASK_WORKERS (16) calls at once.
  std::size_t max_connections = 32;
  std::size_t body_limit = 1 << 20;
  JobLimits jobs;
  // Where Succeeded runs are kept across restarts (finished_runs.hpp);
  // empty: plugin-runs in the cache folder (git::configured_cache_root).
  std::string state_dir;
  // What workflows may ask (policy.hpp); no policy file by default.
  std::shared_ptr<const Policy> policy = std::make_shared<const Policy>();
};

// The folder of FinishedRuns for these options.
[[nodiscard]] std::string finished_runs_dir(const ServerOptions& options);

// Serves until SIGTERM or SIGINT; the process's exit code.
[[nodiscard]] int serve(const ServerOptions& options);

// --dry-run: checks what serve() needs without serving (the address and
// port can be bound, the token file can be read and is not empty) and
// describes it, with whether case records have a writable directory. An
// unreadable token file is Code::invalid_input naming --token-file: inside
// Argo's agent pod every call would be answered 403.
[[nodiscard]] Result<json::object> check(const ServerOptions& options);

}  // namespace ir::plugin
