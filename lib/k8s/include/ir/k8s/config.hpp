// Where the cluster is and who we are to it: in-cluster service account, or
// kubeconfig (KUBECONFIG as a merged list, then ~/.kube/config) with
// contexts, tokens, token files, client certificates, CAs and exec credential
// plugins (client.authentication.k8s.io v1 and v1beta1).
#pragma once

#include "ir/core/env.hpp"
#include "ir/core/error.hpp"
#include "ir/core/secret.hpp"
#include "ir/http/client.hpp"

#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace ir::k8s {

struct ExecPlugin {
  std::string api_version;
  std::string command;
  std::vector<std::string> args;
  std::vector<std::pair<std::string, std::string>> env;
  bool provide_cluster_info = false;
  std::string install_hint;
};

struct ClusterConfig {
  std::string server;  // "https://host:port", IPv6 hosts in brackets
  http::Tls tls;
  std::optional<Secret> token;  // a fixed token (kubeconfig `token`)
  std::string token_file;       // re-read on every client build and after a 401
  std::optional<ExecPlugin> exec;
  std::string default_namespace = "default";
  std::string source;  // "in-cluster" or "<kubeconfig>, context <name>", for messages
  std::vector<std::string> warnings;
};

struct ConfigRequest {
  std::string kubeconfig;  // explicit path(s), ':'-separated; empty: environment
  std::string context;     // empty: current-context
  EnvLookup env = process_environment();
  std::string service_account_dir = "/var/run/secrets/kubernetes.io/serviceaccount";
};

[[nodiscard]] Result<ClusterConfig> load_config(const ConfigRequest& request);
[[nodiscard]] Result<ClusterConfig> in_cluster_config(const EnvLookup& env,
                                                      const std::string& service_account_dir);
[[nodiscard]] Result<ClusterConfig> kubeconfig_config(const std::vector<std::string>& files,
                                                      const std::string& context);

// The credentials to send now: a token (fixed, from a file, or from an exec
// plugin) and, from exec plugins, possibly a client certificate.
struct Credentials {
  std::optional<Secret> token;
  std::string client_cert_pem;
  Secret client_key_pem;
};

class CredentialSource {
 public:
  explicit CredentialSource(ClusterConfig config) : config_(std::move(config)) {}
  // Cached until it expires or until invalidate() (after a 401).
  [[nodiscard]] Result<Credentials> current();
  void invalidate();
  [[nodiscard]] const ClusterConfig& config() const { return config_; }

 private:
  [[nodiscard]] Result<Credentials> run_exec_plugin();
  ClusterConfig config_;
  std::mutex mutex_;
  std::optional<Credentials> cached_;
  std::optional<std::chrono::system_clock::time_point> expires_;
};

}  // namespace ir::k8s
