// The executor plugin's policy (plugin/policy.hpp): what a workflow may ask
// of the plugin, which acts with a ServiceAccount of its own. Security
// review findings 4 and 16. The real binary on 127.0.0.1; "the attacker's
// registry" is a listening socket on 127.0.0.1 that only counts who
// connects.
#include "ir/params/params.hpp"
#include "irsteps/step_list.hpp"
#include "plugin/plugin_fixture.hpp"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <map>
#include <set>

using namespace ir;
using namespace ir::test;
using namespace std::chrono_literals;

namespace {

// A TCP listener that accepts nothing: a connection attempt shows as a
// pending connection in its backlog.
class Listener {
 public:
  Listener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    REQUIRE(::listen(fd_, 16) == 0);
    socklen_t length = sizeof address;
    REQUIRE(::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length) == 0);
    port_ = ntohs(address.sin_port);
  }
  ~Listener() { ::close(fd_); }
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  [[nodiscard]] unsigned short port() const { return port_; }
  [[nodiscard]] bool connected() const {
    pollfd entry{fd_, POLLIN, 0};
    return ::poll(&entry, 1, 0) > 0;
  }

 private:
  int fd_ = -1;
  unsigned short port_ = 0;
};

json::object exfiltration(const Listener& registry, const std::string& token_file) {
  return {{"step", "verify-image"},
          {"incident-id", incident},
          {"image", "127.0.0.1:" + std::to_string(registry.port()) + "/x"},
          {"registry-username", "a"},
          {"registry-password-file", token_file},
          {"certificate-identity", "ci@example.com"},
          {"certificate-oidc-issuer", "https://token.actions.githubusercontent.com"},
          {"max-attempts", "1"}};
}

std::string failed_message(const json::object& reply) {
  CHECK(string_at(reply, {"node", "phase"}) == "Failed");
  CHECK(!reply.contains("requeue"));
  return string_at(reply, {"node", "message"});
}

}  // namespace

TEST_CASE(
    "plugin: security review finding 4: the token exfiltration through registry-password-file is refused",
    "[service][plugin][no-cluster]") {
  Listener registry;
  SECTION(
      "without a policy, parameters naming local files are refused, and the log says no policy is loaded") {
    Plugin plugin;
    // The plugin's own token file stands for its ServiceAccount's token.
    const auto reply = plugin.execute(request_for("verify", exfiltration(registry, plugin.token_file())));
    const std::string message = failed_message(reply);
    INFO(message);
    CHECK(message.find("registry-password-file") != std::string::npos);
    CHECK(message.find("no policy is loaded") != std::string::npos);
    CHECK(plugin.state().at("started").to_number<int>() == 0);
    const auto finished = plugin.terminate();
    CHECK(finished.err.find("\"policy.none\"") != std::string::npos);
  }
  SECTION("with a policy that allows the step but lists no such file") {
    Plugin plugin({}, {}, [](const TempDir&) { return std::string("steps:\n  verify-image: {}\n"); });
    const auto reply = plugin.execute(request_for("verify", exfiltration(registry, plugin.token_file())));
    const std::string message = failed_message(reply);
    INFO(message);
    CHECK(message.find("registry-password-file") != std::string::npos);
    CHECK(message.find("steps.verify-image.files.registry-password-file") != std::string::npos);
    CHECK(plugin.state().at("started").to_number<int>() == 0);
    CHECK(plugin.terminate().exit_status == 0);
  }
  // Nothing reached the attacker's registry.
  CHECK(!registry.connected());
}

TEST_CASE(
    "plugin: security review finding 4: steps, namespaces and parameters outside the policy are refused, "
    "listed files accepted",
    "[service][plugin][no-cluster]") {
  Plugin plugin({"--wait", "5s"}, {}, [](const TempDir& dir) {
    return "steps:\n"
           "  isolate:\n"
           "    namespaces: [shop]\n"
           "    parameters: [incident-id, namespace, pod, dry-run, max-attempts]\n"
           "    files: {kubeconfig: ['" +
           kubeconfig_path(dir, closed_server()) + "']}\n";
  });
  const std::string listed = kubeconfig(plugin.dir(), closed_server());
  const std::string other = plugin.dir().file("other-kubeconfig", "apiVersion: v1\nkind: Config\n");
  const json::object allowed{{"step", "isolate"},  {"incident-id", incident}, {"namespace", "shop"},
                             {"pod", "web-7d4b9"}, {"dry-run", "true"},       {"kubeconfig", listed},
                             {"max-attempts", "1"}};
  auto with = [&](const std::string& name, const std::string& value) {
    json::object call = allowed;
    call[name] = value;
    return call;
  };
  auto refused = [&](const std::string& name, const json::object& irsteps, const std::string& mentions) {
    const std::string message = failed_message(plugin.execute(request_for(name, irsteps)));
    INFO(message);
    CHECK(message.find(mentions) != std::string::npos);
    CHECK(message.find("policy") != std::string::npos);
  };

  refused("rollout",
          {{"step", "rollout"}, {"incident-id", incident}, {"verb", "restart"}, {"namespace", "shop"}},
          "does not allow step rollout");
  refused("isolate-payments", with("namespace", "payments"), "namespace: payments is not allowed");
  refused("isolate-other-kubeconfig", with("kubeconfig", other), "parameter kubeconfig");
  refused("isolate-detach", with("detach", "true"), "parameter detach is not allowed");
  CHECK(plugin.state().at("started").to_number<int>() == 0);

  // The listed file, in the listed namespace: the step runs and reaches the
  // (closed) API server of that kubeconfig, a transient failure.
  const auto ran = plugin.until_done(request_for("isolate", allowed));
  INFO(json::serialize(ran));
  CHECK(node_exit_code(ran) == 4);
  CHECK(plugin.state().at("started").to_number<int>() == 1);
  CHECK(plugin.terminate().exit_status == 0);
}

TEST_CASE(
    "plugin: security review finding 4: a policy that is not valid stops the plugin with exit 2 naming "
    "the field",
    "[service][plugin][no-cluster]") {
  TempDir tmp;
  const std::string token = tmp.file("token", agent_token + "\n");
  auto start = [&](const std::string& policy) {
    std::vector<std::string> argv{
        binary("irsteps-plugin"), "--dry-run", "--address", "127.0.0.1", "--port", "0",
        "--token-file",           token,       "--policy",  policy};
    auto out = run_process(argv);
    REQUIRE(out);
    return *out;
  };
  const std::vector<std::pair<std::string, std::string>> cases{
      {"steps: {reboot: {}}", "steps.reboot: no such step"},
      {"steps: {isolate: {namespaces: shop}}", "steps.isolate.namespaces"},
      {"steps: {isolate: {}}", "steps.isolate.namespaces: required"},
      {"steps: {isolate: {namespaces: ['*'], parameters: [no-such]}}",
       "'no-such' is not a parameter of isolate"},
      {"steps: {isolate: {namespaces: ['*'], files: {pod: [/etc/passwd]}}}", "steps.isolate.files.pod"},
      {"steps: {}\nextra: 1", "extra"},
  };
  for (const auto& [text, mentions] : cases) {
    INFO(text);
    const auto run = start(tmp.file("policy.yaml", text));
    INFO(run.err);
    CHECK(run.exit_status == 2);
    CHECK(run.err.find("--policy") != std::string::npos);
    CHECK(run.err.find(mentions) != std::string::npos);
    CHECK(run.out.empty());
  }
  const auto missing = start(tmp / "absent.yaml");
  CHECK(missing.exit_status == 2);
  CHECK(missing.err.find("absent.yaml") != std::string::npos);

  const auto good = start(tmp.file("good.yaml", "steps: {verify-image: {}, isolate: {namespaces: [shop]}}"));
  INFO(good.err);
  REQUIRE(good.exit_status == 0);
  const auto report = parse_json(good.out, "dry-run report");
  REQUIRE(report);
  CHECK(find(*report, {"policy", "loaded"})->as_bool());
  CHECK(find(*report, {"policy", "steps"})->as_array().size() == 2);
}

TEST_CASE(
    "plugin: security review finding 4: every parameter that names a local file is marked in the schemas",
    "[service][plugin][no-cluster]") {
  // Reviewed by hand: a parameter the step reads from the plugin's own
  // filesystem or environment. A new one must be marked "x-local-path" (and
  // added here), or the policy cannot keep it from the workflows.
  const std::map<std::string, std::set<std::string>> expected{
      {"access-audit", {"audit-log", "audit-log-artifact"}},
      {"drift",
       {"expected", "expected-token-file", "expected-ssh-key", "expected-known-hosts", "expected-ca-file"}},
      {"notify", {"routing", "template-file"}},
      {"rotate-secret", {"from-file", "from-env"}},
      {"snapshot", {"command", "out", "sign-key", "key", "archive"}},
      {"verify-image",
       {"command", "bundle", "key", "trusted-root", "sbom-baseline", "sbom", "vulnerability-report",
        "registry-password-file", "registry-ca-file", "docker-config"}},
  };
  const std::set<std::string> common{"outputs-dir",          "kubeconfig",        "case-repo",
                                     "case-repo-token-file", "case-repo-ssh-key", "case-repo-known-hosts",
                                     "case-repo-ca-file"};
  for (const auto& listed : ir::generated::step_list) {
    const std::string step(listed.name);
    INFO(step);
    auto spec = ParamSpec::load(step);
    REQUIRE(spec);
    std::set<std::string> marked;
    for (const auto& [name, property] : spec->properties()) {
      if (property.is_object() && property.as_object().contains("x-local-path")) marked.emplace(name);
    }
    std::set<std::string> want = common;
    if (const auto it = expected.find(step); it != expected.end())
      want.insert(it->second.begin(), it->second.end());
    CHECK(marked == want);
  }
}

TEST_CASE("plugin: security review finding 16: a git CA file is refused, whatever the policy lists",
          "[service][plugin][no-cluster]") {
  Plugin plugin({}, {}, [](const TempDir& dir) {
    return "steps:\n  isolate:\n    namespaces: ['*']\n    files: {case-repo-ca-file: ['" + dir / "ca.pem" +
           "']}\n";
  });
  const std::string ca = plugin.dir().file("ca.pem", "-----BEGIN CERTIFICATE-----\n");
  const auto reply = plugin.execute(request_for("isolate", {{"step", "isolate"},
                                                            {"incident-id", incident},
                                                            {"namespace", "shop"},
                                                            {"pod", "web-7d4b9"},
                                                            {"dry-run", "true"},
                                                            {"case-repo", "https://127.0.0.1:1/cases.git"},
                                                            {"case-repo-ca-file", ca}}));
  const std::string message = failed_message(reply);
  INFO(message);
  CHECK(message.find("case-repo-ca-file") != std::string::npos);
  CHECK(message.find("every git connection") != std::string::npos);
  CHECK(plugin.state().at("started").to_number<int>() == 0);
  CHECK(plugin.terminate().exit_status == 0);
}
