// The cluster integration tests run against: the local control plane that
// ctest starts (IRSTEPS_TEST_CLUSTER_DIR), or any cluster a user names with
// IRSTEPS_TEST_KUBECONFIG (kind, k3d, a dev cluster). Each test works in a
// namespace of its own, deleted at the end.
#pragma once

#include "ir/core/json.hpp"
#include "ir/core/process.hpp"
#include "ir/k8s/client.hpp"

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace ir::test {

class Cluster {
 public:
  // Fails the test (never skips it) when no cluster is configured.
  static Cluster& get();

  [[nodiscard]] const std::string& kubeconfig() const { return kubeconfig_; }
  // The local control plane's folder, empty for an external cluster: tests
  // that stop the API server need it.
  [[nodiscard]] const std::string& state_dir() const { return state_dir_; }
  [[nodiscard]] k8s::Client& client() { return *client_; }
  // The admin credential, to search outputs for it.
  [[nodiscard]] std::string admin_token() const;

  // kubectl against this cluster; stdin optional.
  ProcessOutput kubectl(const std::vector<std::string>& args, const std::string& stdin_data = {});
  void apply_yaml(const std::string& ns, const std::string& yaml);
  // The namespace irsteps and the Role of `step` as shipped in
  // workflows/argo/rbac/ (its ServiceAccount irsteps-<step> included).
  void apply_shipped_role(const std::string& step);
  // ctl.sh of the local control plane (stop-apiserver, start-apiserver...).
  void control(const std::string& command);

 private:
  Cluster() = default;
  std::string kubeconfig_;
  std::string state_dir_;
  std::unique_ptr<k8s::Client> client_;
};

// A namespace for one test, deleted (without waiting) when it goes away.
class TestNamespace {
 public:
  explicit TestNamespace(const std::string& prefix);
  ~TestNamespace();
  TestNamespace(const TestNamespace&) = delete;
  TestNamespace& operator=(const TestNamespace&) = delete;
  [[nodiscard]] const std::string& name() const { return name_; }

 private:
  std::string name_;
};

// Removes a CustomResourceDefinition's CEL rules (x-kubernetes-validations,
// 1.25 and later), which a 1.20 API server does not know; returns how many.
int strip_cel_rules(json::value& node);

// Polls until `condition` holds or the time is up; returns whether it held.
bool eventually(const std::function<bool()>& condition,
                std::chrono::milliseconds limit = std::chrono::seconds(60));

// A Deployment of `replicas` pods labelled app=<name>, with a Service.
std::string deployment_yaml(const std::string& name, int replicas);
// A one-replica Deployment `name` whose one container runs `image`.
std::string deployment_running(const std::string& name, const std::string& image,
                               const std::string& container = "app");
// Waits until the pod is Running (fails the test otherwise).
void await_running(const std::string& ns, const std::string& name);
// Waits until the Deployment's pods are Running and returns their names.
std::vector<std::string> running_pods(const std::string& ns, const std::string& selector, std::size_t count);

// The token of a ServiceAccount (its legacy token Secret, which the
// controller-manager of a 1.20 cluster makes), waiting for it to appear.
std::string service_account_token(const std::string& ns, const std::string& account);
// A copy of the cluster's kubeconfig that authenticates with `token`; the
// file is removed by the returned object.
class TokenKubeconfig {
 public:
  TokenKubeconfig(const std::string& token, const std::string& name);
  ~TokenKubeconfig();
  TokenKubeconfig(const TokenKubeconfig&) = delete;
  TokenKubeconfig& operator=(const TokenKubeconfig&) = delete;
  [[nodiscard]] const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// The built step binaries (IRSTEPS_BIN_DIR).
std::string binary(const std::string& name);

}  // namespace ir::test
