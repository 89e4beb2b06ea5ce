// How the executor plugin takes calls: the token checked on the header, a
// bound on connections, loopback by default (security review finding 8),
// and one run per Argo node (finding 19). The real binary on 127.0.0.1,
// spoken to over raw sockets where the point is what happens before a
// request is complete.
#include "plugin/plugin_fixture.hpp"
#include "support/http_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

using namespace ir;
using namespace ir::test;
using namespace std::chrono_literals;

namespace {

class RawConnection {
 public:
  explicit RawConnection(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<std::uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  }
  ~RawConnection() { ::close(fd_); }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  void send(const std::string& bytes) const {
    REQUIRE(::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size()));
  }
  // What arrives within `wait` (until the peer closes or nothing more comes).
  [[nodiscard]] std::string receive(std::chrono::milliseconds wait) const {
    std::string got;
    const auto deadline = std::chrono::steady_clock::now() + wait;
    for (;;) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return got;
      pollfd entry{fd_, POLLIN, 0};
      if (::poll(&entry, 1, static_cast<int>(left.count())) <= 0) return got;
      char chunk[4096];
      const auto n = ::recv(fd_, chunk, sizeof chunk, 0);
      if (n <= 0) return got;
      got.append(chunk, static_cast<std::size_t>(n));
    }
  }

 private:
  int fd_ = -1;
};

std::string execute_header(const std::string& token, std::size_t content_length) {
  return "POST /api/v1/template.execute HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
         "Authorization: Bearer " +
         token + "\r\nContent-Length: " + std::to_string(content_length) + "\r\n\r\n";
}

}  // namespace

TEST_CASE("plugin: security review finding 8: the token is checked on the header, before the body is read",
          "[service][plugin][no-cluster]") {
  Plugin plugin;
  {
    // A wrong token and a body announced but never sent: 403 at once, not
    // after waiting for the body.
    RawConnection connection(plugin.port());
    connection.send(execute_header("wrong-token", 1000000));
    const std::string answer = connection.receive(3s);
    INFO(answer);
    CHECK(answer.rfind("HTTP/1.1 403", 0) == 0);
  }
  {
    // Over the body limit without the token: 403 as well, the size is the
    // agent's business.
    RawConnection connection(plugin.port());
    connection.send(execute_header("wrong-token", 64u << 20));
    CHECK(connection.receive(3s).rfind("HTTP/1.1 403", 0) == 0);
  }
  {
    // The right token: the plugin waits for the body, then answers it.
    RawConnection connection(plugin.port());
    const std::string body =
        R"({"workflow":{"metadata":{"name":"w"}},"template":{"name":"t","plugin":{"x":{}}}})";
    connection.send(execute_header(agent_token, body.size()));
    CHECK(connection.receive(500ms).empty());
    connection.send(body);
    const std::string answer = connection.receive(3s);
    INFO(answer);
    CHECK(answer.rfind("HTTP/1.1 200", 0) == 0);
  }
  CHECK(plugin.log_count("auth.denied") == 2);
  CHECK(plugin.terminate().exit_status == 0);
}

TEST_CASE(
    "plugin: security review finding 8: connections beyond --max-connections are answered 503 and closed",
    "[service][plugin][no-cluster]") {
  Plugin plugin({"--max-connections", "2"});
  auto first = std::make_unique<RawConnection>(plugin.port());
  const RawConnection second(plugin.port());
  first->send("GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n");
  CHECK(first->receive(1s).rfind("HTTP/1.1 200", 0) == 0);  // admitted, kept alive
  {
    const RawConnection third(plugin.port());
    const std::string answer = third.receive(3s);
    INFO(answer);
    CHECK(answer.rfind("HTTP/1.1 503", 0) == 0);
    // Argo's agent makes the body of its last 503 the node's message
    // (workflow/util/plugin/plugin.go: `case http.StatusServiceUnavailable:
    // ... return errors.NewErrTransient(string(data))`, and processTask in
    // workflow/executor/agent.go: `result.Message = err.Error()`): plain
    // words, which the templates' retry expression matches.
    const auto body_at = answer.find("\r\n\r\n");
    REQUIRE(body_at != std::string::npos);
    const std::string body = answer.substr(body_at + 4);
    CHECK(body ==
          "irsteps-plugin unavailable: too many connections (--max-connections 2); the step was not started");
    CHECK(answer.find("Content-Type: text/plain") != std::string::npos);
    for (const auto& [name, expression] : plugin_retry_expressions()) {
      INFO(name);
      CHECK(retry_expression_matches(expression, body));
    }
  }
  // One closes: the next connection is served.
  first.reset();
  std::this_thread::sleep_for(200ms);
  CHECK(plugin.send("GET", "/healthz", "", std::nullopt).status == 200);
  CHECK(plugin.log_count("http.refused") == 1);
  CHECK(plugin.terminate().exit_status == 0);
}

TEST_CASE("plugin: security review finding 8: loopback is the default address, and the probe asks there",
          "[service][plugin][no-cluster]") {
  TempDir tmp;
  const std::string token = tmp.file("token", agent_token + "\n");
  auto out = run_process({binary("irsteps-plugin"), "--dry-run", "--port", "0", "--token-file", token});
  REQUIRE(out);
  INFO(out->err);
  REQUIRE(out->exit_status == 0);
  const auto report = parse_json(out->out, "dry-run report");
  REQUIRE(report);
  CHECK(string_at(*report, {"address"}) == "127.0.0.1");
  CHECK(find(*report, {"maxConnections"})->to_number<int>() == 32);
  // The liveness probe (--probe) asks the plugin on loopback, in its container.
  {
    Plugin plugin;
    const std::string port = std::to_string(plugin.port());
    auto probe = run_process({binary("irsteps-plugin"), "--probe", "--port", port});
    REQUIRE(probe);
    CHECK(probe->exit_status == 0);
    CHECK(plugin.terminate().exit_status == 0);
    auto gone = run_process({binary("irsteps-plugin"), "--probe", "--port", port});
    REQUIRE(gone);
    CHECK(gone->exit_status != 0);
  }
  auto zero = run_process({binary("irsteps-plugin"), "--dry-run", "--port", "0", "--token-file", token,
                           "--max-connections", "0"});
  REQUIRE(zero);
  CHECK(zero->exit_status == 2);
  CHECK(zero->err.find("--max-connections") != std::string::npos);
  // A call must be answered well within the 30 s after which Argo's agent
  // abandons it (workflow/executor/plugins/rpc/plugin.go).
  auto long_wait = run_process(
      {binary("irsteps-plugin"), "--dry-run", "--port", "0", "--token-file", token, "--wait", "25s"});
  REQUIRE(long_wait);
  CHECK(long_wait->exit_status == 2);
  CHECK(long_wait->err.find("--wait: at most 20s") != std::string::npos);
  auto longest = run_process(
      {binary("irsteps-plugin"), "--dry-run", "--port", "0", "--token-file", token, "--wait", "20s"});
  REQUIRE(longest);
  CHECK(longest->exit_status == 0);
}

TEST_CASE(
    "plugin: security review finding 19: two nodes with the same arguments are two runs, one node asked "
    "again is one",
    "[service][plugin][no-cluster]") {
  Plugin plugin({"--wait", "5s"}, {}, [](const TempDir& dir) {
    return policy_allowing({{"notify", {{"routing", {dir / "routing.yaml"}}}}});
  });
  const std::string hook_secret = plugin.dir().file("hook-secret", "hook-signing-secret\n");
  const std::string routing = plugin.dir().file(
      "routing.yaml",
      "channels:\n  - {name: siem, type: webhook, url: 'https://127.0.0.1:9/irsteps', secret-file: " +
          hook_secret + "}\n");
  // The same template called twice with the same arguments, as a playbook
  // does for the same status update at two points: Argo's two nodes.
  auto call = [&](const std::string& node) { return request_for("notify", notify_call(routing, node)); };
  const auto first = plugin.until_done(call("ir-x7k2p[0].notify"));
  INFO(json::serialize(first));
  REQUIRE(string_at(first, {"node", "phase"}) == "Succeeded");
  const auto second = plugin.until_done(call("ir-x7k2p[3].notify"));
  CHECK(string_at(second, {"node", "phase"}) == "Succeeded");
  CHECK(plugin.state().at("started").to_number<int>() == 2);

  // The first node asked again (its agent restarted): its node, no run.
  CHECK(plugin.execute(call("ir-x7k2p[0].notify")) == first);
  CHECK(plugin.state().at("started").to_number<int>() == 2);
  CHECK(plugin.log_count("job.started") == 2);

  // node must be a string (schemas/plugin-request.schema.json).
  auto bad = call("n");
  bad["template"].as_object()["plugin"].as_object()["irsteps"].as_object()["node"] = 7;
  const auto refused = plugin.post(json::serialize(bad));
  CHECK(refused.status == 400);
  CHECK(refused.body.find("/template/plugin/irsteps/node") != std::string::npos);
  CHECK(plugin.terminate().exit_status == 0);
}

TEST_CASE("plugin: Argo retries a plugin node exactly when the step did not run or may succeed again",
          "[service][plugin][workflows][no-cluster]") {
  // What Argo's agent makes a node's message (workflow/executor/agent.go,
  // processTask: `result.Phase = wfv1.NodeFailed; result.Message =
  // err.Error()` when the call failed; the plugin's node as it is when it
  // answered), matched by every plugin template's retryStrategy.expression.
  const auto expressions = plugin_retry_expressions();
  auto retried = [&](const std::string& message) {
    INFO(message);
    bool all = true, none = true;
    for (const auto& [name, expression] : expressions) {
      const bool matches = retry_expression_matches(expression, message);
      all = all && matches;
      none = none && !matches;
    }
    REQUIRE((all || none));  // every template decides alike
    return all;
  };

  Plugin plugin({"--wait", "10s"}, {}, [](const TempDir& dir) {
    return policy_allowing({{"isolate", {{"kubeconfig", {kubeconfig_path(dir, closed_server())}}}}});
  });
  const std::string kc = kubeconfig(plugin.dir(), closed_server());
  // A step that failed with exit code 4 (the API server unreachable): its
  // own node, as the plugin answered it.
  const auto transient = plugin.until_done(request_for("isolate", {{"step", "isolate"},
                                                                   {"incident-id", incident},
                                                                   {"namespace", "shop"},
                                                                   {"pod", "web-7d4b9"},
                                                                   {"kubeconfig", kc},
                                                                   {"max-attempts", "1"}}));
  REQUIRE(node_exit_code(transient) == 4);
  CHECK(retried(string_at(transient, {"node", "message"})));
  // Bad parameters (exit 2): a retry would fail the same way.
  const auto bad = plugin.until_done(
      request_for("isolate", {{"step", "isolate"}, {"incident-id", "INC-26"}, {"namespace", "shop"}}));
  REQUIRE(node_exit_code(bad) == 2);
  CHECK(!retried(string_at(bad, {"node", "message"})));

  // The sidecar not listening (restarting, or gone at shutdown) for all five
  // calls: Go's *url.Error, `fmt.Sprintf("%s %q: %s", e.Op, e.URL, e.Err)`
  // (net/url/url.go) around the dial's *net.OpError, as the agent's
  // http.Client reports it for http://localhost:<port>
  // (workflow/controller/agent.go addresses()).
  CHECK(
      retried("Post \"http://localhost:7355/api/v1/template.execute\": dial tcp [::1]:7355: connect: "
              "connection refused"));
  CHECK(
      retried("Post \"http://localhost:7355/api/v1/template.execute\": dial tcp 127.0.0.1:7355: connect: "
              "connection refused"));
  // The sidecar hung past the agent's 30 s client timeout, or died while
  // answering, five times: Go's errors (net/http/client.go, net/url/url.go),
  // which Client.Call retries as temporary, or as transient network errors
  // (util/errors/errors.go isTransientNetworkErr), before they become the
  // node's message.
  CHECK(
      retried("Post \"http://localhost:7355/api/v1/template.execute\": context deadline exceeded "
              "(Client.Timeout exceeded "
              "while awaiting headers)"));
  CHECK(retried("context deadline exceeded (Client.Timeout or context cancellation while reading body)"));
  CHECK(
      retried("Post \"http://localhost:7355/api/v1/template.execute\": read tcp [::1]:51414->[::1]:7355: "
              "read: connection "
              "reset by peer"));
  CHECK(retried("Post \"http://localhost:7355/api/v1/template.execute\": EOF"));
  // Any other status: `fmt.Errorf("%s: %s", resp.Status, string(data))`
  // (workflow/util/plugin/plugin.go), and no plugin taking the template
  // (executePluginTemplate): retrying cannot help.
  CHECK(!retried("403 Forbidden: {\"error\":\"forbidden\"}"));
  CHECK(!retried("400 Bad Request: {\"error\":\"request body: not JSON\"}"));
  CHECK(!retried("no plugin executed the template"));
  CHECK(plugin.terminate().exit_status == 0);
}

TEST_CASE("plugin: a new run asked for while the plugin stops is a 503 whose body Argo's retry matches",
          "[service][plugin][no-cluster]") {
  // The agent keeps its connection open between calls (Go's http.Client):
  // a call can arrive after SIGTERM, while a running step finishes.
  HttpServer api([](const SeenRequest&) { return Reply{503, {{"Retry-After", "0"}}, "busy", 300ms}; });
  Plugin plugin({"--wait", "100ms", "--shutdown-grace", "30s"}, {}, [&api](const TempDir& dir) {
    return policy_allowing({{"rollout", {{"kubeconfig", {kubeconfig_path(dir, api.url())}}}}});
  });
  const std::string kc = kubeconfig(plugin.dir(), api.url());
  const auto running = request_for("rollout-status", {{"step", "rollout"},
                                                      {"incident-id", incident},
                                                      {"args", json::array{"status", "deployment/web"}},
                                                      {"namespace", "shop"},
                                                      {"kubeconfig", kc},
                                                      {"max-attempts", "6"}});
  CHECK(string_at(plugin.execute(running), {"node", "phase"}) == "Running");
  const RawConnection kept(plugin.port());
  kept.send("GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n");
  CHECK(kept.receive(1s).rfind("HTTP/1.1 200", 0) == 0);

  ::kill(plugin.pid(), SIGTERM);
  std::this_thread::sleep_for(300ms);
  auto other = running;
  other["template"].as_object()["plugin"].as_object()["irsteps"].as_object()["namespace"] = "payments";
  const std::string body = json::serialize(other);
  kept.send(execute_header(agent_token, body.size()) + body);
  const std::string answer = kept.receive(3s);
  INFO(answer);
  CHECK(answer.rfind("HTTP/1.1 503", 0) == 0);
  const auto body_at = answer.find("\r\n\r\n");
  REQUIRE(body_at != std::string::npos);
  const std::string message = answer.substr(body_at + 4);
  CHECK(message == "irsteps-plugin unavailable: shutting down; the step was not started");
  for (const auto& [name, expression] : plugin_retry_expressions()) {
    INFO(name);
    CHECK(retry_expression_matches(expression, message));
  }
  // Only the first run was accepted.
  CHECK(plugin.log_count("execute.accepted") == 1);
  CHECK(plugin.log_count("job.started") == 1);
  CHECK(plugin.terminate().exit_status == 0);
}
