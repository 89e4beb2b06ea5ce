#include "support/cluster.hpp"

#include "support/catch.hpp"

#include <fmt/format.h>

#include "ir/core/encoding.hpp"

#include <boost/json/serialize.hpp>

#include <cstdlib>
#include <filesystem>
#include <random>
#include <thread>

namespace ir::test {
namespace {

std::string env_or_empty(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr ? value : "";
}

}  // namespace

Cluster& Cluster::get() {
  static std::unique_ptr<Cluster> instance;
  if (!instance) {
    auto cluster = std::unique_ptr<Cluster>(new Cluster());
    cluster->kubeconfig_ = env_or_empty("IRSTEPS_TEST_KUBECONFIG");
    if (cluster->kubeconfig_.empty()) {
      cluster->state_dir_ = env_or_empty("IRSTEPS_TEST_CLUSTER_DIR");
      if (!cluster->state_dir_.empty()) cluster->kubeconfig_ = cluster->state_dir_ + "/kubeconfig";
    }
    if (cluster->kubeconfig_.empty()) {
      FAIL(
          "no cluster for the integration tests: run them through ctest (which starts the local control "
          "plane) "
          "or set IRSTEPS_TEST_KUBECONFIG");
    }
    k8s::ConfigRequest request;
    request.kubeconfig = cluster->kubeconfig_;
    auto config = k8s::load_config(request);
    if (!config) FAIL("cannot load " << cluster->kubeconfig_ << ": " << config.error().describe());
    auto client = k8s::Client::connect(std::move(*config));
    if (!client) FAIL(client.error().describe());
    cluster->client_ = std::move(*client);
    instance = std::move(cluster);
  }
  return *instance;
}

std::string Cluster::admin_token() const {
  if (state_dir_.empty()) return {};
  auto token = read_file(state_dir_ + "/pki/admin.token");
  if (!token) return {};
  std::string value = *token;
  while (!value.empty() && (value.back() == '\n' || value.back() == ' ')) value.pop_back();
  return value;
}

ProcessOutput Cluster::kubectl(const std::vector<std::string>& args, const std::string& stdin_data) {
  std::vector<std::string> argv{"kubectl", "--kubeconfig", kubeconfig_};
  argv.insert(argv.end(), args.begin(), args.end());
  ProcessOptions options;
  options.stdin_data = stdin_data;
  options.timeout = std::chrono::seconds(120);
  auto output = run_process(argv, options);
  if (!output) FAIL("kubectl: " << output.error().describe());
  return *output;
}

void Cluster::apply_yaml(const std::string& ns, const std::string& yaml) {
  auto output = kubectl({"apply", "-n", ns, "-f", "-"}, yaml);
  INFO(output.err);
  REQUIRE(output.exit_status == 0);
}

void Cluster::apply_shipped_role(const std::string& step) {
  for (const std::string& file : {std::string("namespace.yaml"), step + ".yaml"}) {
    const std::string path = std::string(IRSTEPS_SOURCE_DIR) + "/workflows/argo/rbac/" + file;
    auto applied = kubectl({"apply", "-f", path});
    // Two tests applying the same file at once into a fresh cluster: the
    // second create is AlreadyExists, and a second apply then patches.
    if (applied.exit_status != 0 && applied.err.find("AlreadyExists") != std::string::npos)
      applied = kubectl({"apply", "-f", path});
    INFO(applied.err);
    REQUIRE(applied.exit_status == 0);
  }
}

void Cluster::control(const std::string& command) {
  REQUIRE_FALSE(state_dir_.empty());
  ProcessOptions options;
  options.timeout = std::chrono::seconds(180);
  auto output =
      run_process({std::string(IRSTEPS_SOURCE_DIR) + "/tests/cluster/ctl.sh", state_dir_, command}, options);
  REQUIRE(output);
  INFO(output->err);
  REQUIRE(output->exit_status == 0);
}

TestNamespace::TestNamespace(const std::string& prefix) {
  static std::mt19937 random{std::random_device{}()};
  name_ = fmt::format("{}-{:06x}", prefix, random() & 0xffffff);
  auto& cluster = Cluster::get();
  auto created = cluster.client().create(
      k8s::resources::namespaces, {},
      json::object{{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", json::object{{"name", name_}}}});
  if (!created) FAIL("create namespace " << name_ << ": " << created.error().describe());
  // The default ServiceAccount appears a moment after the namespace; pods
  // cannot be created before it.
  eventually([&] { return bool(cluster.client().get(k8s::resources::serviceaccounts, name_, "default")); });
}

TestNamespace::~TestNamespace() {
  (void)Cluster::get().client().remove(k8s::resources::namespaces, {}, name_);
}

int strip_cel_rules(json::value& node) {
  int removed = 0;
  if (node.is_object()) {
    auto& object = node.as_object();
    removed += static_cast<int>(object.erase("x-kubernetes-validations"));
    for (auto& entry : object) removed += strip_cel_rules(entry.value());
  } else if (node.is_array()) {
    for (auto& item : node.as_array()) removed += strip_cel_rules(item);
  }
  return removed;
}

bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return condition();
}

std::string deployment_yaml(const std::string& name, int replicas) {
  return fmt::format(R"(
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {0}}}
spec:
  replicas: {1}
  selector: {{matchLabels: {{app: {0}}}}}
  template:
    metadata: {{labels: {{app: {0}, tier: web}}}}
    spec:
      containers:
      - name: app
        image: registry.example/shop/{0}:1.0
---
apiVersion: v1
kind: Service
metadata: {{name: {0}}}
spec:
  selector: {{app: {0}}}
  ports: [{{port: 80}}]
)",
                     name, replicas);
}

std::string deployment_running(const std::string& name, const std::string& image,
                               const std::string& container) {
  return fmt::format(R"(
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {0}}}
spec:
  replicas: 1
  selector: {{matchLabels: {{app: {0}}}}}
  template:
    metadata: {{labels: {{app: {0}}}}}
    spec: {{containers: [{{name: {2}, image: "{1}"}}]}}
)",
                     name, image, container);
}

void await_running(const std::string& ns, const std::string& name) {
  const bool running = eventually([&] {
    auto pod = Cluster::get().client().get(k8s::resources::pods, ns, name);
    return pod && string_at(*pod, {"status", "phase"}) == "Running";
  });
  if (!running) FAIL("pod " << ns << "/" << name << " did not become Running");
}

std::vector<std::string> running_pods(const std::string& ns, const std::string& selector, std::size_t count) {
  std::vector<std::string> names;
  const bool ready = eventually([&] {
    names.clear();
    auto pods = Cluster::get().client().list(k8s::resources::pods, ns, {selector, {}});
    if (!pods) return false;
    for (const auto& pod : pods->at("items").as_array()) {
      if (string_at(pod, {"status", "phase"}) == "Running" &&
          find(pod, {"metadata", "deletionTimestamp"}) == nullptr) {
        names.push_back(string_at(pod, {"metadata", "name"}));
      }
    }
    return names.size() == count;
  });
  if (!ready)
    FAIL("pods " << selector << " in " << ns << " did not become Running: " << names.size() << " of "
                 << count);
  return names;
}

std::string service_account_token(const std::string& ns, const std::string& account) {
  std::string token;
  const bool found = eventually([&] {
    auto secrets = Cluster::get().client().list(k8s::resources::secrets, ns);
    if (!secrets) return false;
    for (const auto& secret : secrets->at("items").as_array()) {
      if (string_at(secret, {"type"}) == "kubernetes.io/service-account-token" &&
          string_at(secret, {"metadata", "annotations", "kubernetes.io/service-account.name"}) == account) {
        auto decoded = base64_decode(string_at(secret, {"data", "token"}));
        if (decoded) token = *decoded;
        return !token.empty();
      }
    }
    return false;
  });
  if (!found) FAIL("no token Secret for ServiceAccount " << ns << "/" << account);
  return token;
}

TokenKubeconfig::TokenKubeconfig(const std::string& token, const std::string& name) {
  auto text = read_file(Cluster::get().kubeconfig());
  REQUIRE(text);
  auto config = parse_yaml(*text, "kubeconfig");
  REQUIRE(config);
  for (auto& user : config->as_object()["users"].as_array())
    user.as_object()["user"] = json::object{{"token", token}};
  path_ = (std::filesystem::temp_directory_path() / (name + ".kubeconfig")).string();
  REQUIRE(write_file_atomic(path_, boost::json::serialize(*config)));
}

TokenKubeconfig::~TokenKubeconfig() {
  std::filesystem::remove(path_);
}

std::string binary(const std::string& name) {
  const std::string dir = env_or_empty("IRSTEPS_BIN_DIR");
  return (dir.empty() ? std::string(IRSTEPS_BINARY_DIR) + "/bin" : dir) + "/" + name;
}

}  // namespace ir::test
