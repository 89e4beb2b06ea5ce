// The executor plugin's binary as a test fixture: started on 127.0.0.1 with a
// token file of its own, its stderr read all along, and the calls Argo's
// agent makes (template.execute until the node is no longer Running).
#pragma once

#include "ir/core/json.hpp"
#include "ir/core/process.hpp"
#include "ir/http/client.hpp"
#include "ir/params/params.hpp"
#include "ir/params/schema.hpp"
#include "irsteps/step_list.hpp"
#include "support/catch.hpp"
#include "support/cluster.hpp"
#include "support/git_server.hpp"
#include "support/spawn.hpp"

#include <boost/json/serialize.hpp>

#include <algorithm>
#include <csignal>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <regex>
#include <string>
#include <thread>
#include <vector>

namespace ir::test {

using namespace std::chrono_literals;

inline const std::string incident = "INC-2026-11-26-001";
inline const std::string agent_token = "argo-agent-token-7f3c9e";

inline const Schema& reply_schema() {
  static const Schema schema = [] {
    auto parsed = Schema::from_text(*embedded_schema("plugin-reply"), "plugin-reply.schema.json");
    REQUIRE(parsed);
    return std::move(*parsed);
  }();
  return schema;
}

// The real binary, its stderr read all along (a full pipe would stall it).
class Plugin {
 public:
  // `policy`, given this plugin's folder (where kubeconfig() and the tests
  // put their files), returns the text of its --policy file.
  explicit Plugin(std::vector<std::string> extra = {},
                  const std::vector<std::pair<std::string, std::string>>& env = {},
                  const std::function<std::string(const TempDir&)>& policy = {}) {
    token_file_ = dir_.file("token", agent_token + "\n");
    std::vector<std::string> argv{
        binary("irsteps-plugin"), "--address", "127.0.0.1", "--port", "0", "--port-file", dir_ / "port",
        "--token-file",           token_file_};
    if (policy) {
      argv.emplace_back("--policy");
      argv.push_back(dir_.file("policy.yaml", policy(dir_)));
    }
    argv.insert(argv.end(), extra.begin(), extra.end());
    // Its finished runs in a folder of its own unless the test gives one:
    // ctest runs tests side by side, and a plugin restores the runs it
    // finds there by their node and argument digest.
    auto environment = env;
    if (std::none_of(env.begin(), env.end(), [](const auto& e) { return e.first == "IRSTEPS_CACHE_DIR"; }))
      environment.emplace_back("IRSTEPS_CACHE_DIR", dir_ / "cache");
    process_ = std::make_unique<Spawned>(argv, environment);
    REQUIRE(process_->wait_for_line(
        [](const std::string& line) { return line.find("\"plugin.listening\"") != std::string::npos; }));
    port_ = std::stoi(read_file(dir_ / "port").value());
    reader_ = std::thread([this] {
      (void)process_->wait_for_line([this](const std::string& line) {
        std::lock_guard lock(mutex_);
        lines_.push_back(line);
        return false;
      });
    });
  }
  ~Plugin() {
    if (!stopped_) {
      ::kill(process_->pid(), SIGKILL);
      reader_.join();
      (void)process_->finish();
    }
  }
  Plugin(const Plugin&) = delete;
  Plugin& operator=(const Plugin&) = delete;

  [[nodiscard]] const TempDir& dir() const { return dir_; }
  [[nodiscard]] const std::string& token_file() const { return token_file_; }
  [[nodiscard]] pid_t pid() const { return process_->pid(); }
  [[nodiscard]] int port() const { return port_; }

  // No Catch2 macros here: the concurrent callers use it from their threads.
  [[nodiscard]] Result<http::Response> try_send(
      const std::string& method, const std::string& path, const std::string& body,
      const std::optional<std::string>& bearer = agent_token) const {
    http::Client client({}, http::RetryPolicy{1});
    http::Request request;
    request.method = method;
    request.url = "http://127.0.0.1:" + std::to_string(port_) + path;
    request.body = body;
    request.retry = false;
    request.timeout = 20s;
    request.headers.emplace_back("Content-Type", "application/json");
    if (bearer) request.headers.emplace_back("Authorization", "Bearer " + *bearer);
    return client.send(request);
  }
  [[nodiscard]] http::Response send(const std::string& method, const std::string& path,
                                    const std::string& body,
                                    const std::optional<std::string>& bearer = agent_token) const {
    auto response = try_send(method, path, body, bearer);
    if (!response) FAIL(response.error().describe());
    return std::move(*response);
  }
  [[nodiscard]] http::Response post(const std::string& body,
                                    const std::optional<std::string>& bearer = agent_token) const {
    return send("POST", "/api/v1/template.execute", body, bearer);
  }

  // One call, answered 200 with a reply valid against its schema.
  [[nodiscard]] json::object execute(const json::object& request) const {
    const auto response = post(json::serialize(request));
    INFO(response.body);
    REQUIRE(response.status == 200);
    auto reply = parse_json(response.body, "reply");
    REQUIRE(reply);
    const auto problems = reply_schema().validate(*reply);
    for (const auto& p : problems) INFO(p.path << ": " << p.message);
    CHECK(problems.empty());
    return reply->as_object();
  }

  // Calls again, as Argo does on requeue, until the node is no longer Running.
  [[nodiscard]] json::object until_done(const json::object& request) const {
    const auto deadline = std::chrono::steady_clock::now() + 120s;
    for (;;) {
      auto reply = execute(request);
      if (string_at(reply, {"node", "phase"}) != "Running") return reply;
      REQUIRE(std::chrono::steady_clock::now() < deadline);
      std::this_thread::sleep_for(50ms);
    }
  }

  [[nodiscard]] json::object state() const {
    const auto response = send("GET", "/api/v1/state", "");
    REQUIRE(response.status == 200);
    return parse_json(response.body, "state").value().as_object();
  }

  [[nodiscard]] int log_count(const std::string& event) const {
    std::lock_guard lock(mutex_);
    return static_cast<int>(std::count_if(lines_.begin(), lines_.end(), [&](const std::string& line) {
      return line.find("\"event\":\"" + event + "\"") != std::string::npos;
    }));
  }

  // SIGTERM; the exit status and the whole stderr.
  Finished terminate() {
    ::kill(process_->pid(), SIGTERM);
    reader_.join();
    stopped_ = true;
    Finished finished = process_->finish();
    std::lock_guard lock(mutex_);
    for (const auto& line : lines_) finished.err += line + "\n";
    return finished;
  }

 private:
  TempDir dir_;
  std::string token_file_;
  std::unique_ptr<Spawned> process_;
  int port_ = 0;
  std::thread reader_;
  mutable std::mutex mutex_;
  std::vector<std::string> lines_;
  bool stopped_ = false;
};

inline json::object request_for(const std::string& template_name, json::object irsteps,
                                const std::string& uid = "0b7e4c7e-5a7e-4f3b-9d61-1f2e3d4c5b6a") {
  return json::object{
      {"workflow", json::object{{"metadata", json::object{{"name", "ir-container-compromise-x7k2p"},
                                                          {"namespace", "irsteps"},
                                                          {"uid", uid}}}}},
      {"template", json::object{{"name", template_name},
                                {"inputs", json::object{}},
                                {"outputs", json::object{}},
                                {"plugin", json::object{{"irsteps", std::move(irsteps)}}}}}};
}

// The plugin.irsteps fields of a dry-run notify call (the status notice the
// tests send): `node` empty leaves it out, `more` adds or replaces fields.
inline json::object notify_call(const std::string& routing, const std::string& node = {},
                                const json::object& more = {}) {
  json::object irsteps{{"step", "notify"},
                       {"incident-id", incident},
                       {"routing", routing},
                       {"severity", "high"},
                       {"title", "Secret read by an unknown client"},
                       {"summary", "db-password was read"},
                       {"impact", "payments database"},
                       {"current-actions", "Secret rotated"},
                       {"contact", "Alice (IC)"},
                       {"dry-run", "true"}};
  if (!node.empty()) irsteps["node"] = node;
  for (const auto& entry : more) irsteps[entry.key()] = entry.value();
  return irsteps;
}

// A policy (plugin/policy.hpp) that allows every step in every namespace,
// and the given local files: {step, {parameter, {paths}}}.
using PolicyFiles = std::map<std::string, std::map<std::string, std::vector<std::string>>>;
inline std::string policy_allowing(const PolicyFiles& files) {
  json::object steps;
  for (const auto& entry : ir::generated::step_list) {
    const std::string step(entry.name);
    json::object rule{{"namespaces", json::array{"*"}}};
    if (const auto it = files.find(step); it != files.end()) {
      json::object allowed;
      for (const auto& [parameter, paths] : it->second) {
        json::array list;
        for (const auto& path : paths) list.emplace_back(path);
        allowed[parameter] = std::move(list);
      }
      rule["files"] = std::move(allowed);
    }
    steps[step] = std::move(rule);
  }
  return json::serialize(json::object{{"steps", std::move(steps)}});
}

// The exit code a node stands for: 0 when it succeeded, else the one its
// message names.
inline int node_exit_code(const json::object& reply) {
  const std::string phase = string_at(reply, {"node", "phase"});
  if (phase == "Succeeded") return 0;
  const std::string message = string_at(reply, {"node", "message"});
  static const std::regex code(R"(failed with exit code (\d+) )");
  std::smatch m;
  if (phase != "Failed" || !std::regex_search(message, m, code)) return -1;
  return std::stoi(m[1]);
}

// Whether Argo retries a plugin node whose message is `message`, by the
// retryStrategy.expression of a template of workflows/argo/plugin/steps.yaml.
// The expressions there are `lastRetry.message contains '...'` terms joined
// by ||; any other form fails the test (it would need a real expr-lang).
inline bool retry_expression_matches(const std::string& expression, const std::string& message) {
  static const std::regex term(R"(^lastRetry\.message contains '([^'\\]*)'( \|\| |$))");
  bool matches = false;
  std::string rest = expression;
  std::smatch m;
  while (!rest.empty()) {
    INFO("expression: " << expression);
    REQUIRE(std::regex_search(rest, m, term));
    matches = matches || message.find(m[1].str()) != std::string::npos;
    rest = m.suffix().str();
  }
  return matches;
}

// The retryStrategy.expression of every plugin template of
// workflows/argo/plugin/steps.yaml, by template.
inline std::map<std::string, std::string> plugin_retry_expressions() {
  const auto text = read_file(std::string(IRSTEPS_SOURCE_DIR) + "/workflows/argo/plugin/steps.yaml");
  REQUIRE(text);
  const auto doc = parse_yaml(*text, "plugin/steps.yaml");
  REQUIRE(doc);
  std::map<std::string, std::string> out;
  for (const auto& t : find(*doc, {"spec", "templates"})->as_array()) {
    if (find(t, {"plugin"}) == nullptr) continue;
    out[string_at(t, {"name"})] = string_at(t, {"retryStrategy", "expression"});
  }
  // isolate, rollout, rotate-secret, verify-image: the others stay pods.
  REQUIRE(out.size() >= 4);
  return out;
}

inline std::string kubeconfig_name(const std::string& server) {
  return "kubeconfig-" + std::to_string(std::hash<std::string>{}(server));
}

// Where kubeconfig(dir, server) writes, for a policy written before it.
inline std::string kubeconfig_path(const TempDir& dir, const std::string& server) {
  return dir / kubeconfig_name(server);
}

inline std::string kubeconfig(const TempDir& dir, const std::string& server) {
  return dir.file(kubeconfig_name(server),
                  "apiVersion: v1\nkind: Config\n"
                  "clusters: [{name: c, cluster: {server: '" +
                      server +
                      "'}}]\n"
                      "contexts: [{name: c, context: {cluster: c, user: u}}]\n"
                      "current-context: c\n"
                      "users: [{name: u, user: {token: not-a-real-token}}]\n");
}

// An API server address nothing listens on.
inline std::string closed_server() {
  return "https://127.0.0.1:1";
}

struct CliRun {
  int exit_status = -1;
  json::object result;
};

// The same parameters as flags of the step's own binary.
inline CliRun run_cli(const std::string& step, const json::object& params) {
  std::vector<std::string> argv{binary(step)};
  for (const auto& entry : params) {
    const std::string flag = "--" + std::string(entry.key()) + "=";
    if (const auto* items = entry.value().if_array()) {
      for (const auto& item : *items) argv.push_back(flag + std::string(item.as_string()));
    } else if (entry.value().is_string()) {
      argv.push_back(flag + std::string(entry.value().as_string()));
    } else {
      argv.push_back(flag + json::serialize(entry.value()));
    }
  }
  ProcessOptions options;
  options.timeout = 120s;
  auto output = run_process(argv, options);
  REQUIRE(output);
  auto doc = parse_json(output->out, "stdout");
  INFO(output->err);
  REQUIRE(doc);
  return {output->exit_status, doc->as_object()};
}

inline std::map<std::string, std::string> outputs_of_reply(const json::object& reply) {
  std::map<std::string, std::string> out;
  if (const auto* list = find(reply, {"node", "outputs", "parameters"}); list != nullptr) {
    for (const auto& p : list->as_array()) out[string_at(p, {"name"})] = string_at(p, {"value"});
  }
  return out;
}

inline std::map<std::string, std::string> outputs_of_result(const json::object& result) {
  std::map<std::string, std::string> out;
  if (const auto* outputs = find(result, {"outputs"}); outputs != nullptr && outputs->is_object()) {
    for (const auto& entry : outputs->as_object()) out[entry.key()] = std::string(entry.value().as_string());
  }
  return out;
}

}  // namespace ir::test
