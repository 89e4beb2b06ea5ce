// rotate-secret against the real control plane: consumers through every kind
// of reference restarted and awaited, a consumer that never becomes healthy,
// a conflicting writer, token revocation, dry-run, and the new value searched
// for in every output.
#include "support/step_runner.hpp"

#include "rotate_secret.hpp"

#include "ir/core/encoding.hpp"

#include <fmt/format.h>
#include <boost/json/serialize.hpp>

#include <filesystem>

using namespace ir;
using namespace ir::test;

namespace {

const std::string incident = "INC-2026-11-26-201";

std::vector<std::string> args(const std::string& ns, std::vector<std::string> more) {
  std::vector<std::string> list{
      "--incident-id", incident, "--namespace", ns, "--kubeconfig", Cluster::get().kubeconfig()};
  list.insert(list.end(), more.begin(), more.end());
  return list;
}

std::string consumer_yaml(const std::string& name, const std::string& pod_spec_extra,
                          const std::string& template_annotations = "{}") {
  return fmt::format(R"(
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {0}}}
spec:
  replicas: 1
  selector: {{matchLabels: {{app: {0}}}}}
  template:
    metadata: {{labels: {{app: {0}}}, annotations: {2}}}
    spec:
{1}
)",
                     name, pod_spec_extra, template_annotations);
}

const std::string db_secret = R"(
apiVersion: v1
kind: Secret
metadata: {name: db}
type: Opaque
stringData: {password: old-password-value}
)";

std::string secret_value(const std::string& ns, const std::string& name, const std::string& key) {
  auto secret = Cluster::get().client().get(k8s::resources::secrets, ns, name);
  REQUIRE(secret);
  auto decoded = base64_decode(string_at(*secret, {"data", key}));
  REQUIRE(decoded);
  return *decoded;
}

std::string read_all(const std::filesystem::path& dir) {
  std::string text;
  if (!std::filesystem::exists(dir)) return text;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (entry.is_regular_file()) text += *read_file(entry.path().string());
  }
  return text;
}

}  // namespace

TEST_CASE("rotate-secret restarts every consumer once, awaits them, and the value appears nowhere",
          "[integration][rotate-secret]") {
  TestNamespace ns("rotate");
  auto& cluster = Cluster::get();
  cluster.apply_yaml(ns.name(), db_secret);
  cluster.apply_yaml(ns.name(), consumer_yaml("by-env", R"(
      containers:
      - name: app
        image: registry.example/shop/app:1.0
        env: [{name: P, valueFrom: {secretKeyRef: {name: db, key: password}}}]
        envFrom: [{secretRef: {name: db}}])"));
  cluster.apply_yaml(ns.name(), consumer_yaml("by-volume", R"(
      containers: [{name: app, image: registry.example/shop/app:1.0}]
      volumes:
      - {name: s, secret: {secretName: db}}
      - name: p
        projected: {sources: [{secret: {name: db}}]})"));
  cluster.apply_yaml(ns.name(), consumer_yaml("by-pull", R"(
      containers: [{name: app, image: registry.example/shop/app:1.0}]
      imagePullSecrets: [{name: db}])"));
  cluster.apply_yaml(ns.name(), deployment_yaml("unrelated", 1));
  running_pods(ns.name(), "app", 4);
  const auto before = running_pods(ns.name(), "app=by-env", 1);

  const auto dir = std::filesystem::temp_directory_path() / ("rotate-" + ns.name());
  std::filesystem::create_directories(dir);
  const auto github_output = dir / "github-output";
  const auto github_summary = dir / "github-summary";
  auto run =
      run_step_binary("rotate-secret",
                      args(ns.name(), {"--secret", "db", "--key", "password", "--key", "api-key",
                                       "--outputs-dir", (dir / "outputs").string(), "--timeout", "120s"}),
                      {{"GITHUB_ACTIONS", "true"},
                       {"GITHUB_OUTPUT", github_output.string()},
                       {"GITHUB_STEP_SUMMARY", github_summary.string()}});
  REQUIRE_EXIT(run, 0);
  CHECK(run.output("restarted") == "deployment/by-env,deployment/by-pull,deployment/by-volume");
  CHECK(run.output("consumers").find("deployment/by-volume (projected, volume)") != std::string::npos);
  CHECK(run.output("rollouts").find("\"healthy\":false") == std::string::npos);

  const std::string password = secret_value(ns.name(), "db", "password");
  const std::string api_key = secret_value(ns.name(), "db", "api-key");
  CHECK(password.size() == 32);
  CHECK(password != "old-password-value");
  CHECK(api_key != password);
  const std::string everything = run.all_text() + read_all(dir);
  for (const auto& value : {password, api_key}) {
    CHECK(everything.find(value) == std::string::npos);
    CHECK(everything.find(base64_encode(value)) == std::string::npos);
  }
  std::filesystem::remove_all(dir);

  auto secret = cluster.client().get(k8s::resources::secrets, ns.name(), "db");
  REQUIRE(secret);
  CHECK(string_at(*secret, {"metadata", "annotations", "irsteps.io/incident"}) == incident);
  CHECK_FALSE(string_at(*secret, {"metadata", "annotations", "irsteps.io/rotatedAt"}).empty());
  CHECK(run.output("resource-version") == string_at(*secret, {"metadata", "resourceVersion"}));
  // New pods replaced the old ones; the unrelated workload was left alone.
  const auto after = running_pods(ns.name(), "app=by-env", 1);
  CHECK(after != before);
  auto unrelated = cluster.client().get(k8s::resources::deployments, ns.name(), "unrelated");
  REQUIRE(unrelated);
  CHECK(string_at(*unrelated, {"spec", "template", "metadata", "annotations", "irsteps.io/restartedAt"})
            .empty());
}

TEST_CASE("rotate-secret names a consumer that never becomes healthy, with its pods' reasons, exit 1",
          "[integration][rotate-secret]") {
  TestNamespace ns("rotate-fail");
  auto& cluster = Cluster::get();
  cluster.apply_yaml(ns.name(), db_secret);
  cluster.apply_yaml(ns.name(), consumer_yaml("broken", R"(
      containers:
      - name: app
        image: registry.example/shop/app:1.0
        envFrom: [{secretRef: {name: db}}])",
                                              "{irsteps.io/test-fail: CrashLoopBackOff}"));
  auto run = run_step_binary("rotate-secret",
                             args(ns.name(), {"--secret", "db", "--key", "password", "--timeout", "10s"}));
  REQUIRE_EXIT(run, 1);
  const std::string message = string_at(run.result, {"error", "message"});
  INFO(run.out);
  CHECK(run.out.find("deployment/broken not healthy") != std::string::npos);
  CHECK(run.out.find("CrashLoopBackOff") != std::string::npos);
  CHECK(run.all_text().find(secret_value(ns.name(), "db", "password")) == std::string::npos);
}

TEST_CASE("rotate-secret: a conflicting writer is outlasted, dry-run and unknown Secrets change nothing",
          "[integration][rotate-secret]") {
  TestNamespace ns("rotate-conflict");
  auto& cluster = Cluster::get();
  cluster.apply_yaml(ns.name(), db_secret);

  namespace rs = ir::steps::rotate_secret;
  rs::Options options;
  options.incident_id = incident;
  options.ns = ns.name();
  std::map<std::string, Secret> values;
  values.emplace("password", Secret("new-value-after-conflict"));
  Report report("rotate-secret", "test");
  int writes = 0;
  auto rotation = rs::update_secret(cluster.client(), report, options, "db", values, [&](int attempt) {
    if (attempt > 2) return;
    ++writes;  // another writer changes the Secret between our read and our write
    auto changed = cluster.client().patch(
        k8s::resources::secrets, ns.name(), "db", k8s::PatchType::merge,
        json::object{
            {"metadata", json::object{{"labels", json::object{{"writer", std::to_string(attempt)}}}}}});
    REQUIRE(changed);
  });
  REQUIRE(rotation);
  CHECK(writes == 2);
  CHECK(secret_value(ns.name(), "db", "password") == "new-value-after-conflict");
  auto live = cluster.client().get(k8s::resources::secrets, ns.name(), "db");
  REQUIRE(live);
  CHECK(string_at(*live, {"metadata", "labels", "writer"}) == "2");  // the other writer's change survives

  const std::string version = string_at(*live, {"metadata", "resourceVersion"});
  auto dry =
      run_step_binary("rotate-secret", args(ns.name(), {"--secret", "db", "--key", "password", "--dry-run"}));
  REQUIRE_EXIT(dry, 0);
  CHECK(dry.out.find("<redacted>") != std::string::npos);
  CHECK(dry.out.find("\"PATCH\"") != std::string::npos);
  live = cluster.client().get(k8s::resources::secrets, ns.name(), "db");
  REQUIRE(live);
  CHECK(string_at(*live, {"metadata", "resourceVersion"}) == version);

  auto missing = run_step_binary("rotate-secret", args(ns.name(), {"--secret", "nope", "--key", "password"}));
  REQUIRE_EXIT(missing, 2);
  auto bad = run_step_binary("rotate-secret", args(ns.name(), {"--secret", "db"}));
  REQUIRE_EXIT(bad, 2);
}

TEST_CASE("rotate-secret from stdin, and revocation of a ServiceAccount's tokens",
          "[integration][rotate-secret]") {
  TestNamespace ns("rotate-revoke");
  auto& cluster = Cluster::get();
  cluster.apply_yaml(ns.name(), "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: app}\n");
  cluster.apply_yaml(ns.name(), consumer_yaml("runs-as-app", R"(
      serviceAccountName: app
      containers: [{name: app, image: registry.example/shop/app:1.0}])"));
  running_pods(ns.name(), "app=runs-as-app", 1);
  const std::string token = service_account_token(ns.name(), "app");

  const std::string value = "value-from-the-database-change-42";
  ProcessOptions process;
  process.stdin_data = value + "\n";
  process.timeout = std::chrono::seconds(120);
  std::vector<std::string> argv{binary("rotate-secret")};
  for (const auto& a : args(ns.name(), {"--secret", "db", "--key", "password", "--from-stdin", "--create",
                                        "--revoke-service-account-tokens", "app", "--timeout", "60s"})) {
    argv.push_back(a);
  }
  auto output = run_process(argv, process);
  REQUIRE(output);
  INFO(output->err << output->out);
  REQUIRE(output->exit_status == 0);
  CHECK(secret_value(ns.name(), "db", "password") == value);
  CHECK((output->out + output->err).find(value) == std::string::npos);
  CHECK(output->out.find("deployment/runs-as-app") != std::string::npos);
  auto denied = cluster.kubectl({"--token", token, "get", "pods", "-n", ns.name()});
  CHECK(denied.exit_status != 0);
}

TEST_CASE(
    "rotate-secret --keep-previous keeps the old data aside, with a warning, batches restart all consumers",
    "[integration][rotate-secret]") {
  TestNamespace ns("rotate-keep");
  auto& cluster = Cluster::get();
  cluster.apply_yaml(ns.name(), db_secret);
  for (const char* name : {"api", "worker", "cron-like"}) {
    cluster.apply_yaml(ns.name(), consumer_yaml(name, R"(
      containers:
      - name: app
        image: registry.example/shop/app:1.0
        env: [{name: DB_PASSWORD, valueFrom: {secretKeyRef: {name: db, key: password}}}])"));
    running_pods(ns.name(), std::string("app=") + name, 1);
  }
  auto run = run_step_binary("rotate-secret",
                             args(ns.name(), {"--secret", "db", "--key", "password", "--keep-previous",
                                              "--max-concurrent-restarts", "1", "--timeout", "90s"}));
  REQUIRE_EXIT(run, 0);
  const std::string previous = run.output("previous-secret");
  REQUIRE_FALSE(previous.empty());
  // The old value lives on only in the kept Secret; the live one has a new value.
  CHECK(secret_value(ns.name(), previous, "password") == "old-password-value");
  const std::string fresh = secret_value(ns.name(), "db", "password");
  CHECK(fresh != "old-password-value");
  CHECK(run.all_text().find(fresh) == std::string::npos);
  CHECK(run.all_text().find("old-password-value") == std::string::npos);
  const auto& warnings = run.result.at("warnings").as_array();
  CHECK(std::any_of(warnings.begin(), warnings.end(), [&](const json::value& w) {
    return w.as_string().find(previous) != json::string::npos;
  }));
  for (const char* name : {"api", "worker", "cron-like"}) {
    INFO(name);
    CHECK(run.output("restarted").find(std::string("deployment/") + name) != std::string::npos);
  }
  // An Event on the Secret says when and for which incident, never what.
  auto events = cluster.client().list(k8s::resources::events, ns.name(), {{}, "involvedObject.name=db"});
  REQUIRE(events);
  const auto& items = events->at("items").as_array();
  REQUIRE(std::any_of(items.begin(), items.end(), [](const json::value& e) {
    return string_at(e, {"reason"}) == "Rotated" &&
           string_at(e, {"message"}).find("INC-2026-11-26-201") != std::string::npos;
  }));
  for (const auto& e : items) CHECK(boost::json::serialize(e).find(fresh) == std::string::npos);
}

TEST_CASE("the shipped rotate-secret Role is enough for a rotation with consumers",
          "[integration][rotate-secret][rbac]") {
  auto& cluster = Cluster::get();
  cluster.apply_shipped_role("rotate-secret");
  TokenKubeconfig identity(service_account_token("irsteps", "irsteps-rotate-secret"),
                           "irsteps-rotate-secret");
  TestNamespace ns("rotate-role");
  cluster.apply_yaml(ns.name(), db_secret);
  cluster.apply_yaml(ns.name(), consumer_yaml("api", R"(
      containers:
      - name: app
        image: registry.example/shop/app:1.0
        envFrom: [{secretRef: {name: db}}])"));
  running_pods(ns.name(), "app=api", 1);
  auto run = run_step_binary(
      "rotate-secret", {"--incident-id", incident, "--namespace", ns.name(), "--kubeconfig", identity.path(),
                        "--secret", "db", "--key", "password", "--timeout", "90s"});
  REQUIRE_EXIT(run, 0);
  CHECK(run.result.at("warnings").as_array().empty());
  CHECK(run.output("restarted").find("deployment/api") != std::string::npos);
}
