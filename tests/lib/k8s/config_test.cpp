#include "ir/k8s/config.hpp"

#include "ir/core/encoding.hpp"
#include "ir/core/json.hpp"

#include <fmt/format.h>
#include "support/catch.hpp"

#include <filesystem>
#include <fstream>
#include <map>

namespace fs = std::filesystem;

namespace {

struct TempDir {
  fs::path path;
  TempDir() : path(fs::temp_directory_path() / ("irsteps-kubeconfig-" + std::to_string(::getpid()))) {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
  std::string write(const std::string& name, const std::string& text) const {
    std::ofstream(path / name) << text;
    return (path / name).string();
  }
};

ir::EnvLookup env_of(std::map<std::string, std::string> vars) {
  return [vars](const std::string& name) -> std::optional<std::string> {
    if (auto it = vars.find(name); it != vars.end()) return it->second;
    return std::nullopt;
  };
}

const char* first_config = R"(
apiVersion: v1
kind: Config
current-context: dev
clusters:
- name: dev
  cluster: {server: "https://127.0.0.1:6443/", certificate-authority: ca.pem}
- name: shared
  cluster: {server: "https://first.example:6443"}
users:
- name: alice
  user: {token: alice-token-1234}
contexts:
- name: dev
  context: {cluster: dev, user: alice, namespace: shop}
)";

const char* second_config = R"(
apiVersion: v1
kind: Config
current-context: other
clusters:
- name: shared
  cluster: {server: "https://second.example:6443", insecure-skip-tls-verify: true}
users:
- name: bob
  user: {client-certificate-data: Q0VSVA==, client-key-data: S0VZ}
contexts:
- name: prod
  context: {cluster: shared, user: bob}
)";

}  // namespace

TEST_CASE("KUBECONFIG files merge as kubectl merges them", "[unit][kubeconfig]") {
  TempDir dir;
  dir.write("ca.pem", "CA PEM");
  const auto first = dir.write("first", first_config);
  const auto second = dir.write("second", second_config);
  ir::k8s::ConfigRequest request;
  request.env = env_of({{"KUBECONFIG", first + ":" + second + ":/nonexistent"}});
  auto config = ir::k8s::load_config(request);
  REQUIRE(config);
  CHECK(config->server == "https://127.0.0.1:6443");
  CHECK(config->tls.ca_pem == "CA PEM");  // relative to the file that named it
  CHECK(config->default_namespace == "shop");
  REQUIRE(config->token);
  CHECK(config->token->reveal() == "alice-token-1234");

  request.context = "prod";
  auto prod = ir::k8s::load_config(request);
  REQUIRE(prod);
  CHECK(prod->server == "https://first.example:6443");  // the first file's "shared" wins
  CHECK(prod->tls.client_cert_pem == "CERT");
  CHECK(prod->tls.client_key_pem.reveal() == "KEY");
  CHECK(prod->default_namespace == "default");
}

TEST_CASE("insecure-skip-tls-verify is honoured only when set, with a warning", "[unit][kubeconfig]") {
  TempDir dir;
  const auto file = dir.write("config", second_config);
  auto config = ir::k8s::kubeconfig_config({file}, "prod");
  REQUIRE(config);
  CHECK(config->tls.insecure_skip_verify);
  REQUIRE(config->warnings.size() == 1);
  CHECK(config->warnings[0].find("NOT checked") != std::string::npos);
}

TEST_CASE("kubeconfig mistakes are clear errors", "[unit][kubeconfig]") {
  TempDir dir;
  const auto file = dir.write("config", first_config);
  auto missing = ir::k8s::kubeconfig_config({file}, "staging");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().describe() == "context 'staging' is not in " + file);
  const auto legacy = dir.write("legacy", R"(
current-context: c
clusters: [{name: k, cluster: {server: "https://k:443"}}]
users: [{name: u, user: {auth-provider: {name: gcp}}}]
contexts: [{name: c, context: {cluster: k, user: u}}]
)");
  auto provider = ir::k8s::kubeconfig_config({legacy}, "");
  REQUIRE_FALSE(provider);
  CHECK(provider.error().describe().find("legacy auth-provider") != std::string::npos);
  auto none = ir::k8s::load_config({"", "", env_of({}), (dir.path / "no-sa").string()});
  REQUIRE_FALSE(none);
  CHECK(none.error().describe().find("KUBERNETES_SERVICE_HOST") != std::string::npos);
}

// Security review, finding 15: an http:// server got the bearer token in
// clear. Only a server on this machine may be plain HTTP.
TEST_CASE("finding 15: an http:// API server is refused unless it is on this machine, saying why",
          "[unit][kubeconfig]") {
  TempDir dir;
  auto with_server = [&](const std::string& server) {
    const auto file = dir.write("config", R"(
current-context: c
clusters: [{name: k, cluster: {server: ")" + server +
                                              R"("}}]
users: [{name: u, user: {token: cluster-admin-t0ken}}]
contexts: [{name: c, context: {cluster: k, user: u}}]
)");
    return ir::k8s::kubeconfig_config({file}, "");
  };
  for (const std::string server :
       {"http://api.example.com:8080", "http://127.attacker.example:8080", "http://10.0.0.1",
        "http://[fd00::1]:6443", "http://localhost.example", "http://127.0.0.1.nip.io:8080",
        "http://127.0.0.1:8080.attacker.example"}) {
    INFO(server);
    auto refused = with_server(server);
    REQUIRE_FALSE(refused);
    CHECK(refused.error().code() == ir::Code::invalid_input);
    CHECK(refused.error().describe().find("in clear") != std::string::npos);
    CHECK(refused.error().describe().find("cluster-admin-t0ken") == std::string::npos);
  }
  for (const std::string server :
       {"http://127.0.0.1:8080", "http://127.3.2.1", "http://[::1]:8080", "http://localhost:8001"}) {
    INFO(server);
    auto accepted = with_server(server);
    REQUIRE(accepted);
    CHECK(accepted->server == server);
  }
  REQUIRE(with_server("https://api.example.com:6443"));
}

TEST_CASE("in-cluster configuration reads the service-account folder, IPv6 in brackets",
          "[unit][kubeconfig]") {
  TempDir dir;
  dir.write("ca.crt", "CLUSTER CA");
  dir.write("token", "projected-token-1\n");
  dir.write("namespace", "forensics\n");
  auto config = ir::k8s::in_cluster_config(
      env_of({{"KUBERNETES_SERVICE_HOST", "fd00::1"}, {"KUBERNETES_SERVICE_PORT", "443"}}),
      dir.path.string());
  REQUIRE(config);
  CHECK(config->server == "https://[fd00::1]:443");
  CHECK(config->default_namespace == "forensics");
  ir::k8s::CredentialSource source(*config);
  CHECK(source.current()->token->reveal() == "projected-token-1");
  // Projected tokens rotate: the next build reads the new one.
  dir.write("token", "projected-token-2\n");
  CHECK(source.current()->token->reveal() == "projected-token-2");
}

TEST_CASE("exec credential plugins are run, cached until expiry, and re-run after invalidate",
          "[unit][kubeconfig]") {
  TempDir dir;
  const auto counter = (dir.path / "count").string();
  const auto plugin = dir.write("plugin.sh", fmt::format(R"(#!/bin/sh
echo run >> {}
case "$KUBERNETES_EXEC_INFO" in *'"apiVersion":"client.authentication.k8s.io/v1"'*) ;; *) echo "bad exec info" >&2; exit 1;; esac
echo '{{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{{"token":"exec-token-'"$MY_SUFFIX"'","expirationTimestamp":"2200-01-01T00:00:00Z"}}}}'
)",
                                                         counter));
  fs::permissions(plugin, fs::perms::owner_all);
  const auto config_file = dir.write("config", fmt::format(R"(
current-context: c
clusters: [{{name: k, cluster: {{server: "https://k:443"}}}}]
users:
- name: u
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: {}
      env: [{{name: MY_SUFFIX, value: "42"}}]
contexts: [{{name: c, context: {{cluster: k, user: u}}}}]
)",
                                                           plugin));
  auto config = ir::k8s::kubeconfig_config({config_file}, "");
  REQUIRE(config);
  ir::k8s::CredentialSource source(*config);
  auto first = source.current();
  REQUIRE(first);
  CHECK(first->token->reveal() == "exec-token-42");
  REQUIRE(source.current());
  CHECK(*ir::read_file(counter) == "run\n");
  source.invalidate();
  REQUIRE(source.current());
  CHECK(*ir::read_file(counter) == "run\nrun\n");
}

TEST_CASE("a failing exec plugin is an error that shows its stderr but never its stdout",
          "[unit][kubeconfig]") {
  TempDir dir;
  const auto plugin =
      dir.write("plugin.sh", "#!/bin/sh\necho 'leaked-credential-xyz'\necho 'login expired' >&2\nexit 3\n");
  fs::permissions(plugin, fs::perms::owner_all);
  ir::k8s::ClusterConfig config;
  config.server = "https://k:443";
  config.exec =
      ir::k8s::ExecPlugin{"client.authentication.k8s.io/v1beta1", plugin, {}, {}, false, "install it"};
  ir::k8s::CredentialSource source(config);
  auto failed = source.current();
  REQUIRE_FALSE(failed);
  CHECK(failed.error().code() == ir::Code::forbidden);
  CHECK(failed.error().describe().find("login expired") != std::string::npos);
  CHECK(failed.error().describe().find("leaked-credential-xyz") == std::string::npos);
}
