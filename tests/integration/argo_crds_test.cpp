// Everything shipped under workflows/argo/ and workflows/prometheus/ against
// the real CRDs: the full Argo Workflows v4.1.2 and Argo Events v1.9.11 CRDs
// and prometheus-operator v0.93.0's PrometheusRule (tests/data/crds/, byte for
// byte from upstream) are installed into the test control plane, and every
// manifest goes through `kubectl apply --dry-run=server`, so kubectl's check
// against the schemas the server publishes (unknown fields) and the API
// server's own structural validation (types, required fields) both see it.
// Nothing is created. A WorkflowTemplate with a field of the wrong type and
// one with an unknown field, and a PrometheusRule with an unknown field, show
// that both checks refuse what they should.
//
// The CRDs are cluster-scoped and stay installed for the other tests of the
// cluster: a CRD that is already there from an earlier run is accepted when it
// was installed from the same file (an annotation holds the file's hash), and
// never replaced.
#include "support/catch.hpp"
#include "support/cluster.hpp"

#include "ir/core/encoding.hpp"
#include "ir/core/process.hpp"

#include <fmt/format.h>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>

#include <unistd.h>

using namespace ir;
using namespace ir::test;
namespace fs = std::filesystem;

namespace {

const std::string source_dir = IRSTEPS_SOURCE_DIR;
const std::string hash_annotation = "irsteps.test/source-sha256";

// Manifests a 1.20 API server cannot take, each with its reason (paths
// relative to workflows/). The test checks that the reason still holds
// (kubectl finds no such kind), so an entry cannot outlive it.
struct Skipped {
  std::string kind;
  std::string reason;
};
const std::map<std::string, Skipped> skipped = {
    {"argo/plugin/admission.yaml",
     {"ValidatingAdmissionPolicy",
      "ValidatingAdmissionPolicy (admissionregistration.k8s.io/v1) needs Kubernetes 1.30, the test cluster "
      "is 1.20"}},
    {"argo/plugin/plugin.yaml",
     {"ExecutorPlugin",
      "ExecutorPlugin is no Kubernetes kind but the input of `argo executor-plugin build`, which makes "
      "plugin/configmap.yaml (applied here; tests/plugin/manifests_test.cpp checks that the two agree)"}},
};

// Files under workflows/prometheus/ that are no Kubernetes objects (no kind),
// and what checks them instead (tests/CMakeLists.txt). The test checks that
// they have no kind, so an object cannot hide here.
const std::map<std::string, std::string> not_objects = {
    {"prometheus/rules.yaml",
     "a plain Prometheus rules file, checked by promtool (prometheus.check-rules, prometheus.test-rules); "
     "prometheusrule.yaml is its PrometheusRule"},
    {"prometheus/alertmanager-receiver.yaml",
     "a part of an Alertmanager config, checked by amtool (prometheus.alertmanager-config)"},
};

// The CRD files and how many x-kubernetes-validations blocks each carries
// (tests/data/crds/README.md): counting them shows the whole file was read.
const std::map<std::string, int> crd_files = {
    {"argo-workflows/full/argoproj.io_clusterworkflowtemplates.yaml", 32},
    {"argo-workflows/full/argoproj.io_cronworkflows.yaml", 32},
    {"argo-workflows/full/argoproj.io_workflowartifactgctasks.yaml", 0},
    {"argo-workflows/full/argoproj.io_workfloweventbindings.yaml", 1},
    {"argo-workflows/full/argoproj.io_workflows.yaml", 32},
    {"argo-workflows/full/argoproj.io_workflowtaskresults.yaml", 1},
    {"argo-workflows/full/argoproj.io_workflowtasksets.yaml", 0},
    {"argo-workflows/full/argoproj.io_workflowtemplates.yaml", 32},
    {"argo-events/argoproj.io_eventbus.yaml", 0},
    {"argo-events/argoproj.io_eventsources.yaml", 0},
    {"argo-events/argoproj.io_sensors.yaml", 0},
    {"prometheus-operator/monitoring.coreos.com_prometheusrules.yaml", 0},
};

// CEL rules (x-kubernetes-validations) arrived in 1.25; a 1.20 server does
// not know the key. Only schema nodes carry it. Returns how many were removed.
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

// kubectl with a kubeconfig whose contexts default to one namespace (the
// objects that name none land there; those that name another keep it) and a
// discovery cache of its own, read fresh after the CRDs are installed.
class Kubectl {
 public:
  explicit Kubectl(const std::string& ns) {
    static int serial = 0;
    dir_ = fs::temp_directory_path() / fmt::format("irsteps-argo-crds-{}-{}-{}", ns, ::getpid(), serial++);
    fs::create_directories(dir_ / "cache");
    // The kubeconfig copy holds the admin's client key: only we may read it.
    fs::permissions(dir_, fs::perms::owner_all, fs::perm_options::replace);
    auto text = read_file(Cluster::get().kubeconfig());
    REQUIRE(text);
    auto config = parse_yaml(*text, "kubeconfig");
    REQUIRE(config);
    REQUIRE(find(*config, {"contexts"}) != nullptr);
    for (auto& context : config->as_object()["contexts"].as_array())
      context.as_object()["context"].as_object()["namespace"] = ns;
    kubeconfig_ = (dir_ / "kubeconfig").string();
    REQUIRE(write_file_atomic(kubeconfig_, boost::json::serialize(*config)));
  }
  ~Kubectl() {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }
  Kubectl(const Kubectl&) = delete;
  Kubectl& operator=(const Kubectl&) = delete;

  ProcessOutput operator()(const std::vector<std::string>& args, const std::string& stdin_data = {}) const {
    std::vector<std::string> argv{
        "kubectl",           "--kubeconfig", kubeconfig_, "--cache-dir", (dir_ / "cache").string(),
        "--request-timeout", "60s"};
    argv.insert(argv.end(), args.begin(), args.end());
    ProcessOptions options;
    options.stdin_data = stdin_data;
    options.timeout = std::chrono::seconds(180);
    auto output = run_process(argv, options);
    if (!output) FAIL("kubectl: " << output.error().describe());
    return *output;
  }

 private:
  fs::path dir_;
  std::string kubeconfig_;
};

// A WorkflowTemplate of one container; `extra_template_field` goes into its
// template.
std::string workflow_template(const std::string& command, const std::string& extra_template_field) {
  return fmt::format(R"(apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata: {{name: probe}}
spec:
  entrypoint: main
  arguments:
    parameters: [{{name: note, value: ""}}]
  templates:
  - name: main
    container: {{image: registry.example/probe:1, command: {}}}
{})",
                     command, extra_template_field);
}

// A template field that is not in Argo's schema.
const std::string misspelt_field = "    retryStrategyy: {limit: 2}\n";

// A PrometheusRule of one alert; `extra_rule_field` goes into its rule.
std::string prometheus_rule(const std::string& extra_rule_field) {
  return fmt::format(R"(apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata: {{name: probe}}
spec:
  groups:
  - name: probe
    rules:
    - alert: Probe
      expr: vector(1)
{})",
                     extra_rule_field);
}

// The hash annotation of an installed CRD: empty when there is no such CRD,
// "<none>" when it has no annotation (not installed by this test).
std::string installed_hash(const Kubectl& kubectl, const std::string& crd) {
  // jsonpath, not JSON: the full CRDs nest deeper than parse_json allows.
  auto got = kubectl({"get", "crd", crd, "--ignore-not-found", "-o",
                      "jsonpath={.metadata.name}/{.metadata.annotations.irsteps\\.test/source-sha256}"});
  INFO(got.err);
  REQUIRE(got.exit_status == 0);
  if (got.out.empty()) return {};
  REQUIRE(got.out.rfind(crd + "/", 0) == 0);
  const std::string hash = got.out.substr(crd.size() + 1);
  return hash.empty() ? "<none>" : hash;
}

// Installs the CRDs (without their CEL rules) unless they are there from the
// same files, and waits until they are Established. Once per process.
void install_argo_crds(const Kubectl& kubectl) {
  static bool installed = false;
  if (installed) return;
  std::vector<std::string> names;
  for (const auto& [file, cel_rules] : crd_files) {
    INFO(file);
    auto text = read_file(source_dir + "/tests/data/crds/" + file);
    REQUIRE(text);
    const std::string hash = sha256_hex(*text);
    // <group>_<plural>.yaml holds <plural>.<group>.
    const std::string stem = fs::path(file).stem().string();
    const std::string name = stem.substr(stem.find('_') + 1) + "." + stem.substr(0, stem.find('_'));
    names.push_back("crd/" + name);
    std::string existing = installed_hash(kubectl, name);
    if (existing.empty()) {
      auto crd = parse_yaml(*text, file);
      REQUIRE(crd);
      REQUIRE(string_at(*crd, {"kind"}) == "CustomResourceDefinition");
      REQUIRE(string_at(*crd, {"metadata", "name"}) == name);
      CHECK(strip_cel_rules(*crd) == cel_rules);
      crd->as_object()["metadata"].as_object()["annotations"].emplace_object()[hash_annotation] = hash;
      // create, not apply: the big ones exceed the last-applied annotation's limit.
      auto created = kubectl({"create", "-f", "-"}, boost::json::serialize(*crd));
      INFO(created.err);
      if (created.exit_status == 0) continue;
      // Another test process may have created it meanwhile.
      REQUIRE(created.err.find("AlreadyExists") != std::string::npos);
      existing = installed_hash(kubectl, name);
    }
    if (existing != hash)
      FAIL("CRD " << name << " in the cluster was not installed from tests/data/crds/" << file << " (its "
                  << hash_annotation << " is " << existing
                  << "); it is left alone: delete it or use a fresh cluster");
  }
  std::vector<std::string> wait{"wait", "--for", "condition=established", "--timeout", "120s"};
  wait.insert(wait.end(), names.begin(), names.end());
  auto established = kubectl(wait);
  INFO(established.out << established.err);
  REQUIRE(established.exit_status == 0);
  // kubectl checks objects against the OpenAPI schema the server publishes,
  // which for a new CRD follows a while after Established (and, when a CRD of
  // the same name was deleted just before, can vanish again for some
  // seconds); without it kubectl would check nothing. Wait until kubectl
  // refuses an unknown field, in a WorkflowTemplate and in a PrometheusRule.
  const bool published = eventually(
      [&] {
        return kubectl({"apply", "--dry-run=server", "-f", "-"}, workflow_template("[echo]", misspelt_field))
                       .exit_status != 0 &&
               kubectl({"apply", "--dry-run=server", "-f", "-"}, prometheus_rule("      forr: 1m\n"))
                       .err.find("unknown field \"forr\"") != std::string::npos;
      },
      std::chrono::seconds(120));
  if (!published)
    FAIL(
        "kubectl did not get the WorkflowTemplate and PrometheusRule schemas from the API server within 120 "
        "s");
  installed = true;
}

// The manifests under workflows/argo/ and workflows/prometheus/, relative to
// workflows/, sorted.
std::vector<std::string> shipped_manifests() {
  const fs::path root = source_dir + "/workflows";
  std::vector<std::string> files;
  for (const char* dir : {"argo", "prometheus"}) {
    for (const auto& entry : fs::recursive_directory_iterator(root / dir)) {
      const auto ext = entry.path().extension();
      if (entry.is_regular_file() && (ext == ".yaml" || ext == ".yml" || ext == ".json"))
        files.push_back(fs::relative(entry.path(), root).string());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

// The shipped manifests put their objects in namespace irsteps; here they go
// to the test's namespace (`namespace: irsteps` lines, block style, which is
// how every metadata.namespace in them is written; any left over names a
// namespace the dry run refuses as missing, unless another test made it).
std::string into_namespace(const std::string& text, const std::string& ns) {
  static const std::regex line(R"(^(\s*(?:-\s+)?namespace:\s*)irsteps(\s*(?:#.*)?)$)");
  std::istringstream in(text);
  std::string out;
  for (std::string current; std::getline(in, current);) {
    out += std::regex_replace(current, line, "$1" + ns + "$2");
    out += '\n';
  }
  return out;
}

std::size_t count(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + needle.size())) ++n;
  return n;
}

}  // namespace

TEST_CASE(
    "Argo CRDs: every manifest under workflows/argo/ and workflows/prometheus/ passes kubectl's and the API "
    "server's dry run",
    "[integration][argo-crds]") {
  TestNamespace ns("argo-crds");
  Kubectl kubectl(ns.name());
  install_argo_crds(kubectl);

  const auto files = shipped_manifests();
  REQUIRE(files.size() >= 20);
  CHECK(std::find(files.begin(), files.end(), "prometheus/prometheusrule.yaml") != files.end());
  for (const auto& [file, skip] : skipped) {
    INFO("skip list names " << file << ", which must be under workflows/argo/");
    CHECK(std::find(files.begin(), files.end(), file) != files.end());
  }

  int applied = 0;
  for (const auto& file : files) {
    INFO("workflows/" << file);
    auto text = read_file(source_dir + "/workflows/" + file);
    REQUIRE(text);
    if (auto other = not_objects.find(file); other != not_objects.end()) {
      // No Kubernetes object: no document has a kind.
      auto documents = parse_yaml_documents(*text, file);
      REQUIRE(documents);
      for (const auto& document : *documents) CHECK(find(document, {"kind"}) == nullptr);
      WARN("not applied: workflows/" << file << ": " << other->second);
      continue;
    }
    const auto manifest = into_namespace(*text, ns.name());
    auto run = kubectl({"apply", "--dry-run=server", "-f", "-"}, manifest);
    INFO("kubectl: " << run.out << run.err);
    if (auto skip = skipped.find(file); skip != skipped.end()) {
      WARN("skipped workflows/" << file << ": " << skip->second.reason);
      // The reason still holds: the cluster has no such kind.
      CHECK(run.exit_status != 0);
      CHECK(run.err.find("no matches for kind \"" + skip->second.kind + "\"") != std::string::npos);
      continue;
    }
    CHECK(run.exit_status == 0);
    // One "(server dry run)" line per object: none was left out.
    auto documents = parse_yaml_documents(*text, file);
    REQUIRE(documents);
    CHECK(count(run.out, "(server dry run)") == documents->size());
    ++applied;
  }
  CHECK(applied == static_cast<int>(files.size() - skipped.size() - not_objects.size()));
}

TEST_CASE("Argo CRDs: the dry run refuses a WorkflowTemplate with a wrong type or an unknown field",
          "[integration][argo-crds]") {
  TestNamespace ns("argo-crds-bad");
  Kubectl kubectl(ns.name());
  install_argo_crds(kubectl);

  // The same template, well formed: accepted, its "" parameter value too.
  auto good = kubectl({"apply", "--dry-run=server", "-f", "-"}, workflow_template("[echo, hi]", ""));
  INFO(good.out << good.err);
  CHECK(good.exit_status == 0);
  CHECK(good.out.find("workflowtemplate.argoproj.io/probe created (server dry run)") != std::string::npos);

  // A string where the schema wants an array: the API server refuses it
  // (kubectl's own check is off, so this is the server's verdict).
  auto wrong_type =
      kubectl({"apply", "--dry-run=server", "--validate=false", "-f", "-"}, workflow_template("echo hi", ""));
  INFO(wrong_type.out << wrong_type.err);
  CHECK(wrong_type.exit_status != 0);
  CHECK(wrong_type.err.find("spec.templates.container.command") != std::string::npos);
  CHECK(wrong_type.err.find("must be of type array") != std::string::npos);

  // A misspelt field: a 1.20 server drops unknown fields of a custom resource
  // without a word, so kubectl's check against the schema the server
  // publishes for the CRD is what catches it.
  auto unknown =
      kubectl({"apply", "--dry-run=server", "-f", "-"}, workflow_template("[echo, hi]", misspelt_field));
  INFO(unknown.out << unknown.err);
  CHECK(unknown.exit_status != 0);
  CHECK(unknown.err.find("unknown field \"retryStrategyy\"") != std::string::npos);
}

// A repeated alert starts nothing: the Falco Sensor names the Workflow after
// the rule, the pod and the alert's ten minutes, and the argo-workflow
// trigger creates it (argo-events pkg/sensors/triggers/argo-workflow: `argo
// submit` of the object with its name), so the API server refuses the second
// delivery as AlreadyExists. Here the Workflows `playbook trigger` makes of
// two deliveries of the same alert (falcosidekick retried: another uuid, a
// later time in the same window) are created in a test namespace; no
// workflow controller runs, so nothing executes either way.
TEST_CASE("Argo CRDs: the API server refuses the Workflow of a repeated Falco alert as AlreadyExists",
          "[integration][argo-crds]") {
  TestNamespace ns("falco-repeat");
  Kubectl kubectl(ns.name());
  install_argo_crds(kubectl);
  const std::string dir = std::string(IRSTEPS_BINARY_DIR) + "/tests/falco-repeat";
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::ofstream(dir + "/token") << "irsteps-test-token\n";
  auto payload = read_file(source_dir + "/tests/data/triggers/falco-critical-k8smeta.json");
  REQUIRE(payload);
  std::string again = *payload;
  again.replace(again.find("12:04:17.413792345Z"), 19, "12:07:41.000000001Z");
  again.replace(again.find("5f4e3c1a"), 8, "0d0d0d0d");
  std::ofstream(dir + "/again.json") << again;

  auto submitted = [&](const std::string& payload_file) {
    auto run = run_process({binary("playbook"), "trigger", source_dir + "/workflows/argo/events/falco.yaml",
                            payload_file, "--auth-token-file", dir + "/token"});
    REQUIRE(run);
    INFO(run->err);
    REQUIRE(run->exit_status == 0);
    auto doc = parse_json(run->out, "playbook trigger");
    REQUIRE(doc);
    auto* resource = doc->as_object().at("triggers").as_array().at(0).as_object().if_contains("resource");
    REQUIRE(resource != nullptr);
    resource->as_object()["metadata"].as_object()["namespace"] = ns.name();
    return boost::json::serialize(*resource);
  };
  const std::string first = submitted(source_dir + "/tests/data/triggers/falco-critical-k8smeta.json");
  const std::string second = submitted(dir + "/again.json");

  auto created = kubectl({"create", "-f", "-"}, first);
  INFO(created.out << created.err);
  REQUIRE(created.exit_status == 0);
  CHECK(created.out.find("workflow.argoproj.io/falco-contain-") != std::string::npos);
  auto repeated = kubectl({"create", "-f", "-"}, second);
  INFO(repeated.out << repeated.err);
  CHECK(repeated.exit_status != 0);
  CHECK(repeated.err.find("AlreadyExists") != std::string::npos);
  auto listed = kubectl({"get", "workflows", "-o", "name"});
  CHECK(count(listed.out, "workflow.argoproj.io/") == 1);
}

TEST_CASE("Argo CRDs: the dry run refuses a PrometheusRule with an unknown field",
          "[integration][argo-crds]") {
  TestNamespace ns("argo-crds-promrule");
  Kubectl kubectl(ns.name());
  install_argo_crds(kubectl);

  auto good = kubectl({"apply", "--dry-run=server", "-f", "-"}, prometheus_rule("      for: 1m\n"));
  INFO(good.out << good.err);
  CHECK(good.exit_status == 0);
  CHECK(good.out.find("prometheusrule.monitoring.coreos.com/probe created (server dry run)") !=
        std::string::npos);

  // `forr`, not in prometheus-operator's schema: kubectl refuses it.
  auto unknown = kubectl({"apply", "--dry-run=server", "-f", "-"}, prometheus_rule("      forr: 1m\n"));
  INFO(unknown.out << unknown.err);
  CHECK(unknown.exit_status != 0);
  CHECK(unknown.err.find("unknown field \"forr\"") != std::string::npos);
}

// The same for Alertmanager: it sends a firing alert again every
// repeat_interval, and each HA replica sends it. The Alertmanager Sensor
// names the Workflow after the alert's fingerprint and startsAt, so the
// API server refuses the repeat as AlreadyExists; the same alert firing again
// later (a new startsAt) makes a second Workflow.
TEST_CASE(
    "Argo CRDs: the API server refuses the Workflow of a repeated Alertmanager notification as AlreadyExists",
    "[integration][argo-crds]") {
  TestNamespace ns("alertmanager-repeat");
  Kubectl kubectl(ns.name());
  install_argo_crds(kubectl);
  const std::string dir = std::string(IRSTEPS_BINARY_DIR) + "/tests/alertmanager-repeat";
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::ofstream(dir + "/token") << "irsteps-test-token\n";
  auto payload = read_file(source_dir + "/tests/data/triggers/alertmanager-firing.json");
  REQUIRE(payload);
  // The repeat: the same alert, its annotation's count grown since.
  std::string again = *payload;
  again.replace(again.find("Falco reported 4 Critical"), 25, "Falco reported 9 Critical");
  std::ofstream(dir + "/again.json") << again;
  // Firing again later, after it resolved.
  std::string later = *payload;
  later.replace(later.find("\"startsAt\":\"2026-12-07T19:17:26.678Z\""), 37,
                "\"startsAt\":\"2026-12-07T19:42:03.101Z\"");
  std::ofstream(dir + "/later.json") << later;

  auto submitted = [&](const std::string& payload_file) {
    auto run =
        run_process({binary("playbook"), "trigger", source_dir + "/workflows/argo/events/alertmanager.yaml",
                     payload_file, "--auth-token-file", dir + "/token"});
    REQUIRE(run);
    INFO(run->err);
    REQUIRE(run->exit_status == 0);
    auto doc = parse_json(run->out, "playbook trigger");
    REQUIRE(doc);
    auto* resource = doc->as_object().at("triggers").as_array().at(0).as_object().if_contains("resource");
    REQUIRE(resource != nullptr);
    resource->as_object()["metadata"].as_object()["namespace"] = ns.name();
    return boost::json::serialize(*resource);
  };
  const std::string first = submitted(source_dir + "/tests/data/triggers/alertmanager-firing.json");

  auto created = kubectl({"create", "-f", "-"}, first);
  INFO(created.out << created.err);
  REQUIRE(created.exit_status == 0);
  CHECK(created.out.find("workflow.argoproj.io/alertmanager-1200da4d91ff21a1-20261207t191726 created") !=
        std::string::npos);
  auto repeated = kubectl({"create", "-f", "-"}, submitted(dir + "/again.json"));
  INFO(repeated.out << repeated.err);
  CHECK(repeated.exit_status != 0);
  CHECK(repeated.err.find("AlreadyExists") != std::string::npos);
  auto refired = kubectl({"create", "-f", "-"}, submitted(dir + "/later.json"));
  INFO(refired.out << refired.err);
  CHECK(refired.exit_status == 0);
  auto listed = kubectl({"get", "workflows", "-o", "name"});
  CHECK(count(listed.out, "workflow.argoproj.io/") == 2);
}
