#include "server.hpp"

#include "ir/core/log.hpp"
#include "ir/git/repository.hpp"
#include "request.hpp"
#include "steps_table.hpp"
#include "token.hpp"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json/serialize.hpp>

#include <array>
#include <atomic>
#include <condition_variable>
#include <csignal>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <thread>

namespace ir::plugin {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using steady = std::chrono::steady_clock;

namespace {

constexpr std::string_view execute_path = "/api/v1/template.execute";
constexpr std::string_view state_path = "/api/v1/state";
constexpr std::chrono::seconds write_timeout{30};

// What a 503 means to Argo. Its agent calls a plugin through
// workflow/util/plugin/plugin.go (Client.Call) with the backoff of
// workflow/executor/plugins/rpc/plugin.go: a 503 becomes
// errors.NewErrTransient(body), which is retried, as is any error containing
// "connection refused", 5 calls in all, about 1, 2, 4 and 8 s apart (jitter
// 0.2), to the same sidecar: the agent knows only http://localhost:<port>.
// After the fifth, executePluginTemplate returns the error and processTask
// (workflow/executor/agent.go) fails the node with the error's text as its
// message: for a 503, exactly the response body. So a 503 is no hand-over to
// another agent: the body must make sense as a node's message, and is sent
// only where running the step (again) is what a retry should do, in words
// the templates' retryStrategy.expression (workflows/argo/plugin/steps.yaml)
// matches, so that Argo retries the node.
constexpr std::string_view unavailable_prefix = "irsteps-plugin unavailable: ";

std::shared_ptr<const FinishedRuns> open_finished_runs(const ServerOptions& options) {
  const std::string dir = finished_runs_dir(options);
  auto runs = std::make_shared<const FinishedRuns>(dir, options.jobs.keep_for, options.jobs.max_kept);
  if (auto prepared = runs->prepare(); !prepared) {
    log::warn("runs.memory_only",
              {{"message", prepared.error().describe() +
                               ": Succeeded runs are kept in memory only, and a restarted plugin would run "
                               "them again (set IRSTEPS_CACHE_DIR or --state-dir to a writable folder)"}});
    return nullptr;
  }
  return runs;
}

struct Server {
  Server(const ServerOptions& opts, std::shared_ptr<const FinishedRuns> finished)
      : options(opts), token(opts.token_file), jobs(opts.jobs, std::move(finished)) {}

  void accept();
  void request_stop(int signal) {
    {
      std::lock_guard lock(stop_mutex);
      stop_signal = signal;
    }
    stop_cv.notify_all();
  }

  const ServerOptions& options;
  asio::io_context io;
  tcp::acceptor acceptor{io};
  TokenFile token;
  Jobs jobs;
  std::atomic<bool> stopping{false};
  std::atomic<int> in_flight{0};            // requests read and not yet answered
  std::atomic<std::size_t> connections{0};  // sessions admitted and still open
  std::mutex stop_mutex;
  std::condition_variable stop_cv;
  int stop_signal = 0;
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  // `admitted` false: over --max-connections, answered 503 and closed.
  Session(tcp::socket socket, Server& server, bool admitted)
      : stream_(std::move(socket)), server_(server), admitted_(admitted) {}
  ~Session() {
    if (admitted_) server_.connections.fetch_sub(1);
  }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;
  void start();

 private:
  void read();
  void on_header(beast::error_code ec);
  void on_read(beast::error_code ec);
  void too_large();
  void handle();
  void execute(std::string_view body);
  void wait_for(const std::string& key);
  void answer_execute(const std::string& key);
  void answer_early(http::status status, const json::value& body);
  void reply(http::status status, const json::value& body);
  void unavailable(const std::string& reason);
  void send(http::status status, std::string body, std::string_view content_type);
  void on_write(beast::error_code ec, bool keep_alive);
  void drain();

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> response_;
  Server& server_;
  bool admitted_;
  steady::time_point started_;
  std::string method_;
  std::string path_;
  bool keep_alive_ = false;
  // A body that will not be used (refused before it was read, or too large)
  // is read and dropped after the answer, up to a bound: a client that sends
  // the whole request before reading would otherwise see a reset, not the
  // answer.
  bool drain_ = false;
  std::size_t drained_ = 0;
  std::size_t drain_limit_ = 0;
  std::array<char, 16384> scratch_{};
};

void Session::start() {
  if (admitted_) {
    read();
    return;
  }
  // Over the cap: Argo's agent calls again (a 503, see unavailable_prefix);
  // it makes at most ARGO_AGENT_TASK_WORKERS calls at once, fewer than the
  // cap, so this is for whoever else calls.
  server_.in_flight.fetch_add(1);
  started_ = steady::now();
  method_ = "?";
  path_ = "?";
  log::warn("http.refused",
            {{"reason", "too many connections"}, {"max_connections", server_.options.max_connections}});
  keep_alive_ = false;
  drain_ = true;
  drain_limit_ = 1u << 20;
  unavailable("too many connections (--max-connections " + std::to_string(server_.options.max_connections) +
              "); the step was not started");
}

// The header first: the token is checked before a byte of the body is
// read (security review finding 8), so a caller without it cannot make the
// plugin buffer a body.
void Session::read() {
  parser_.emplace();
  parser_->body_limit(server_.options.body_limit);
  stream_.expires_after(server_.options.idle_timeout);
  http::async_read_header(
      stream_, buffer_, *parser_,
      [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_header(ec); });
}

void Session::on_header(beast::error_code ec) {
  // A Content-Length over the limit fails the header read once every field
  // is parsed (finish_header in Beast's basic_parser.ipp): still the token
  // first, so that only the agent learns about sizes.
  const bool too_big = ec == http::error::body_limit;
  if (ec == http::error::header_limit) {
    too_large();
    return;
  }
  if (ec && !too_big) {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    return;
  }
  const auto& request = parser_->get();
  const std::string_view target = request.target();
  const std::string path(target.substr(0, target.find('?')));
  if (path != "/healthz" && !server_.token.accepts(request[http::field::authorization])) {
    server_.in_flight.fetch_add(1);
    started_ = steady::now();
    method_ = std::string(request.method_string());
    path_ = path;
    log::warn("auth.denied", {{"path", path_}});
    answer_early(http::status::forbidden, json::object{{"error", "forbidden"}});
    return;
  }
  if (too_big) {
    too_large();
    return;
  }
  http::async_read(
      stream_, buffer_, *parser_,
      [self = shared_from_this()](beast::error_code error, std::size_t) { self->on_read(error); });
}

void Session::on_read(beast::error_code ec) {
  if (ec == http::error::body_limit || ec == http::error::header_limit) {
    too_large();
    return;
  }
  if (ec) {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    return;
  }
  server_.in_flight.fetch_add(1);
  started_ = steady::now();
  handle();
}

void Session::too_large() {
  server_.in_flight.fetch_add(1);
  started_ = steady::now();
  method_ = parser_->is_header_done() ? std::string(parser_->get().method_string()) : "?";
  path_ = parser_->is_header_done() ? std::string(parser_->get().target()) : "?";
  keep_alive_ = false;
  drain_ = true;
  drain_limit_ = 64u << 20;
  reply(http::status::payload_too_large, json::object{{"error", "request too large"}});
}

// Answered before the body is read; the connection closes after it, and
// what the client already sent is dropped (a small bound: the caller is not
// known to be the agent).
void Session::answer_early(http::status status, const json::value& body) {
  keep_alive_ = false;
  drain_ = true;
  drain_limit_ = 1u << 20;
  reply(status, body);
}

void Session::handle() {
  const auto& request = parser_->get();
  method_ = std::string(request.method_string());
  const std::string_view target = request.target();
  path_ = std::string(target.substr(0, target.find('?')));
  keep_alive_ = request.keep_alive();
  if (path_ == "/healthz") {
    reply(http::status::ok, json::object{{"status", server_.stopping ? "stopping" : "ok"}});
    return;
  }
  if (path_ != execute_path && path_ != state_path) {
    // Argo does not call a method again after a 404.
    reply(http::status::not_found, json::object{{"error", "no such method"}});
    return;
  }
  // The token was checked on the header (on_header).
  if (path_ == state_path) {
    reply(http::status::ok, server_.jobs.stats());
    return;
  }
  if (request.method() != http::verb::post) {
    reply(http::status::method_not_allowed, json::object{{"error", "use POST"}});
    return;
  }
  execute(request.body());
}

void Session::execute(std::string_view body) {
  auto call = read_request(body, *server_.options.policy);
  if (!call) {
    log::warn("execute.bad_request", {{"message", call.error().describe()}});
    reply(http::status::bad_request, json::object{{"error", call.error().describe()}});
    return;
  }
  if (std::holds_alternative<NotOurs>(*call)) {
    reply(http::status::ok, json::object{});
    return;
  }
  if (const auto* refused = std::get_if<Refused>(&*call)) {
    log::warn("execute.refused", {{"message", refused->message}});
    reply(http::status::ok, make_reply(failed_node(refused->message)));
    return;
  }
  auto step_call = std::make_shared<StepCall>(std::move(std::get<StepCall>(*call)));
  const std::string key = step_call->key;
  const auto submitted = server_.jobs.submit(key, std::string(step_call->entry->step->name),
                                             [step_call] { return run_call(*step_call); });
  switch (submitted) {
    case Jobs::Submitted::stopping:
      // The pod is going away (SIGTERM): Argo calls this same sidecar again,
      // on a new connection, which is refused once the acceptor is closed,
      // then fails the node with that error's text (see
      // unavailable_prefix); the retry expression matches both.
      unavailable("shutting down; the step was not started");
      return;
    case Jobs::Submitted::busy:
      reply(http::status::ok, make_reply(running_node("waiting: every worker is busy and the queue is full"),
                                         server_.options.requeue));
      return;
    case Jobs::Submitted::started:
      log::info("execute.accepted", {{"key", key},
                                     {"step", step_call->entry->step->name},
                                     {"workflow", step_call->workflow},
                                     {"template", step_call->template_name},
                                     {"node", step_call->node},
                                     {"dry_run", step_call->params.contains("dry-run") &&
                                                     step_call->params.at("dry-run") == json::value(true)}});
      break;
    case Jobs::Submitted::existing:
      log::debug("execute.existing", {{"key", key}});
      break;
  }
  wait_for(key);
}

// Answers when the run finishes or after the wait bound, whichever is first.
void Session::wait_for(const std::string& key) {
  auto self = shared_from_this();
  auto timer = std::make_shared<asio::steady_timer>(stream_.get_executor(), server_.options.wait);
  auto answered = std::make_shared<std::atomic<bool>>(false);
  auto finish = [self, timer, answered, key] {
    if (answered->exchange(true)) return;
    asio::post(self->stream_.get_executor(), [self, timer, key] {
      timer->cancel();
      self->answer_execute(key);
    });
  };
  timer->async_wait([finish](beast::error_code) { finish(); });
  server_.jobs.when_done(key, finish);
}

void Session::answer_execute(const std::string& key) {
  auto state = server_.jobs.collect(key);
  if (!state) {
    // Dropped from the queue at shutdown before it started, or a finished
    // Failed run dropped as the oldest of too many: running it again is
    // what a retry of the node does (Succeeded ones are kept on disk).
    unavailable(
        "the run is no longer known here (dropped from the queue at shutdown, or expired); a retry runs the "
        "step "
        "again");
    return;
  }
  if (state->phase == Jobs::Phase::done) {
    reply(http::status::ok, make_reply(std::move(state->node)));
    return;
  }
  const std::string message =
      state->phase == Jobs::Phase::queued
          ? "queued: waiting for a free worker"
          : "running for " + format_duration(std::chrono::duration_cast<std::chrono::seconds>(state->age));
  reply(http::status::ok, make_reply(running_node(message), server_.options.requeue));
}

void Session::reply(http::status status, const json::value& body) {
  send(status, json::serialize(body), "application/json");
}

// 503 with a plain-text body: Argo makes the body the node's message.
void Session::unavailable(const std::string& reason) {
  send(http::status::service_unavailable, std::string(unavailable_prefix) + reason,
       "text/plain; charset=utf-8");
}

void Session::send(http::status status, std::string body, std::string_view content_type) {
  response_ = {};
  response_.version(11);
  response_.result(status);
  response_.set(http::field::server, "irsteps-plugin");
  response_.set(http::field::content_type, content_type);
  const bool keep_alive = keep_alive_ && !server_.stopping;
  response_.keep_alive(keep_alive);
  response_.body() = std::move(body);
  response_.prepare_payload();
  stream_.expires_after(write_timeout);
  http::async_write(stream_, response_,
                    [self = shared_from_this(), keep_alive](beast::error_code ec, std::size_t) {
                      self->on_write(ec, keep_alive);
                    });
}

void Session::on_write(beast::error_code ec, bool keep_alive) {
  const auto latency = std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - started_);
  log::info("http.request", {{"method", method_},
                             {"path", path_},
                             {"status", response_.result_int()},
                             {"latency_ms", latency.count()}});
  server_.in_flight.fetch_sub(1);
  if (!ec && drain_) {
    drain();
    return;
  }
  if (ec || !keep_alive) {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    return;
  }
  read();
}

void Session::drain() {
  const std::size_t most = drain_limit_;
  stream_.expires_after(std::chrono::seconds(admitted_ ? 5 : 1));
  stream_.async_read_some(asio::buffer(scratch_),
                          [self = shared_from_this(), most](beast::error_code ec, std::size_t n) {
                            self->drained_ += n;
                            if (ec || self->drained_ > most) {
                              beast::error_code ignored;
                              self->stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
                              return;
                            }
                            self->drain();
                          });
}

void Server::accept() {
  acceptor.async_accept(asio::make_strand(io), [this](beast::error_code ec, tcp::socket socket) {
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
      log::warn("http.accept_failed", {{"message", ec.message()}});
    } else {
      // At most --max-connections at once: each holds buffers and may hold
      // a body, and nothing but Argo's agent should be calling.
      const bool admitted = connections.fetch_add(1) < options.max_connections;
      if (!admitted) connections.fetch_sub(1);
      std::make_shared<Session>(std::move(socket), *this, admitted)->start();
    }
    accept();
  });
}

Result<unsigned short> listen(Server& server) {
  beast::error_code ec;
  const auto address = asio::ip::make_address(server.options.address, ec);
  if (ec) return invalid("--address: '" + server.options.address + "' is not an IP address");
  const tcp::endpoint endpoint(address, server.options.port);
  server.acceptor.open(endpoint.protocol(), ec);
  if (!ec) server.acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) server.acceptor.bind(endpoint, ec);
  if (!ec) server.acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Error(Code::action_failed, "cannot listen on " + server.options.address + ":" +
                                          std::to_string(server.options.port) + ": " + ec.message());
  }
  return server.acceptor.local_endpoint().port();
}

json::array step_list() {
  json::array steps;
  for (const auto name : step_names()) steps.emplace_back(name);
  return steps;
}

// Lets answers already under way go out before the I/O stops.
void drain_requests(Server& server, steady::time_point deadline) {
  while (server.in_flight.load() > 0 && steady::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace

std::string finished_runs_dir(const ServerOptions& options) {
  return options.state_dir.empty() ? git::configured_cache_root() + "/plugin-runs" : options.state_dir;
}

Result<json::object> check(const ServerOptions& options) {
  Server server(options, nullptr);
  if (auto token = server.token.check(); !token) return token.error().with("--token-file");
  auto port = listen(server);
  if (!port) return port.error();
  beast::error_code ignored;
  server.acceptor.close(ignored);
  // The configured folder, and the one case records would really use (a
  // private one under TMPDIR when the configured one cannot be written).
  const std::string configured = git::configured_cache_root();
  json::object cache{{"directory", configured}};
  if (const std::string problem = git::cache_problem(configured); !problem.empty()) {
    cache["problem"] = configured + ": " + problem;
  }
  if (auto usable = git::usable_cache_root()) {
    cache["writable"] = true;
    cache["using"] = *usable;
  } else {
    cache["writable"] = false;
    cache["problem"] = usable.error().describe();
  }
  json::object runs{{"directory", finished_runs_dir(options)}};
  if (auto prepared =
          FinishedRuns(finished_runs_dir(options), options.jobs.keep_for, options.jobs.max_kept).prepare();
      !prepared) {
    runs["writable"] = false;
    runs["problem"] = prepared.error().describe();
  } else {
    runs["writable"] = true;
  }
  return json::object{{"dryRun", true},
                      {"status", "ready"},
                      {"address", options.address},
                      {"maxConnections", options.max_connections},
                      {"port", options.port},
                      {"tokenFile", options.token_file},
                      {"steps", step_list()},
                      {"maxConcurrent", options.jobs.max_concurrent},
                      {"policy", options.policy->describe()},
                      {"caseRecordCache", std::move(cache)},
                      {"finishedRuns", std::move(runs)}};
}

int serve(const ServerOptions& options) {
  std::signal(SIGPIPE, SIG_IGN);
  // The steps' table and schemas load here, not in the first request.
  json::array steps = step_list();
  Server server(options, open_finished_runs(options));
  auto port = listen(server);
  if (!port) {
    log::error("plugin.failed",
               {{"code", code_name(port.error().code())}, {"message", port.error().describe()}});
    return exit_code(port.error().code());
  }
  if (!options.port_file.empty()) {
    if (auto written = write_file_atomic(options.port_file, std::to_string(*port) + "\n"); !written) {
      log::error("plugin.failed", {{"message", written.error().with("--port-file").describe()}});
      return exit_code(written.error().code());
    }
  }
  asio::signal_set signals(server.io, SIGTERM, SIGINT);
  signals.async_wait([&server](beast::error_code ec, int signal) {
    if (ec) return;
    server.stopping = true;
    beast::error_code ignored;
    server.acceptor.close(ignored);
    server.request_stop(signal);
  });
  server.accept();
  if (options.policy->loaded()) {
    log::info("policy.loaded", {{"policy", options.policy->describe()}});
  } else {
    log::warn("policy.none", {{"message",
                               "no policy loaded (--policy): every step and namespace is allowed, and every "
                               "parameter naming a local file is refused"}});
  }
  log::info("plugin.listening", {{"address", options.address},
                                 {"port", *port},
                                 {"steps", std::move(steps)},
                                 {"max_concurrent", options.jobs.max_concurrent},
                                 {"max_connections", options.max_connections},
                                 {"wait_ms", options.wait.count()}});
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < options.io_threads; ++i) threads.emplace_back([&server] { server.io.run(); });

  int signal = 0;
  {
    std::unique_lock lock(server.stop_mutex);
    server.stop_cv.wait(lock, [&server] { return server.stop_signal != 0; });
    signal = server.stop_signal;
  }
  const auto deadline = steady::now() + options.shutdown_grace;
  log::info("plugin.stopping", {{"signal", signal}, {"grace_ms", options.shutdown_grace.count()}});
  const bool finished = server.jobs.shutdown(options.shutdown_grace);
  // Calls waiting for a run answer within the wait bound.
  drain_requests(server, std::min(deadline, steady::now() + options.wait + std::chrono::seconds(1)));
  server.io.stop();
  for (auto& thread : threads) thread.join();
  if (!finished) {
    // A step cannot be interrupted safely half-way; its run is abandoned and
    // Argo's next agent runs it again (every step can be re-run).
    log::warn("plugin.abandoned", {{"running", server.jobs.stats()["running"]}});
    std::_Exit(exit_ok);
  }
  log::info("plugin.stopped", {});
  return exit_ok;
}

}  // namespace ir::plugin
