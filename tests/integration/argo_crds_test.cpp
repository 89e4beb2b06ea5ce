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
#include <set>
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

bool is_kustomize_file(const fs::path& root, const fs::path& file);

// The manifests under workflows/argo/ and workflows/prometheus/, relative to
// workflows/, sorted. Kustomize's own files are no Kubernetes objects and are
// left out (is_kustomize_file); what they render is dry-run by the kustomize
// test case below.
std::vector<std::string> shipped_manifests() {
  const fs::path root = source_dir + "/workflows";
  std::vector<std::string> files;
  for (const char* dir : {"argo", "prometheus"}) {
    for (const auto& entry : fs::recursive_directory_iterator(root / dir)) {
      const auto ext = entry.path().extension();
      if (entry.is_regular_file() && (ext == ".yaml" || ext == ".yml" || ext == ".json") &&
          !is_kustomize_file(root, entry.path()))
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

namespace {

// A scratch folder for the trigger tests, with a webhook token file.
std::string trigger_scratch(const std::string& name) {
  const std::string dir = std::string(IRSTEPS_BINARY_DIR) + "/tests/" + name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::ofstream(dir + "/token") << "irsteps-test-token\n";
  return dir;
}

// The Workflow the shipped Sensor in `sensor` (under workflows/argo/events/)
// submits for the webhook body `payload_file`, as `playbook trigger` makes
// it, moved into the test's namespace.
std::string submitted_workflow(const std::string& sensor, const std::string& payload_file,
                               const std::string& dir, const std::string& ns) {
  auto run = run_process({binary("playbook"), "trigger", source_dir + "/workflows/argo/events/" + sensor,
                          payload_file, "--auth-token-file", dir + "/token"});
  REQUIRE(run);
  INFO(run->err);
  REQUIRE(run->exit_status == 0);
  auto doc = parse_json(run->out, "playbook trigger");
  REQUIRE(doc);
  auto* resource = doc->as_object().at("triggers").as_array().at(0).as_object().if_contains("resource");
  REQUIRE(resource != nullptr);
  resource->as_object()["metadata"].as_object()["namespace"] = ns;
  return boost::json::serialize(*resource);
}

}  // namespace

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
  const std::string dir = trigger_scratch("falco-repeat");
  auto payload = read_file(source_dir + "/tests/data/triggers/falco-critical-k8smeta.json");
  REQUIRE(payload);
  std::string again = *payload;
  again.replace(again.find("12:04:17.413792345Z"), 19, "12:07:41.000000001Z");
  again.replace(again.find("5f4e3c1a"), 8, "0d0d0d0d");
  std::ofstream(dir + "/again.json") << again;

  auto submitted = [&](const std::string& payload_file) {
    return submitted_workflow("falco.yaml", payload_file, dir, ns.name());
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
  const std::string dir = trigger_scratch("alertmanager-repeat");
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
    return submitted_workflow("alertmanager.yaml", payload_file, dir, ns.name());
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

// The kustomize package (workflows/argo/kustomization.yaml, its components
// plugin/ and events/, the overlays under workflows/overlays/): rendered with
// the kustomize built into kubectl, dry-run against the CRDs, and installed
// for real, twice, then removed.
namespace {

// kustomization.yaml files, and the transformer configurations a
// kustomization under `root` names (`configurations:`): kustomize reads them,
// the API server never sees them.
bool is_kustomize_file(const fs::path& root, const fs::path& file) {
  if (file.filename() == "kustomization.yaml") return true;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    if (entry.path().filename() != "kustomization.yaml") continue;
    auto text = read_file(entry.path().string());
    REQUIRE(text);
    auto doc = parse_yaml(*text, entry.path().string());
    REQUIRE(doc);
    const auto* configurations = find(*doc, {"configurations"});
    if (configurations == nullptr) continue;
    for (const auto& name : configurations->as_array())
      if (fs::equivalent(entry.path().parent_path() / std::string(name.as_string()), file)) return true;
  }
  return false;
}

// `kubectl kustomize DIR` (kustomize as kubectl has it: no other tool).
std::string kustomize(const fs::path& dir) {
  auto run = run_process({"kubectl", "kustomize", dir.string()});
  if (!run) FAIL("kubectl kustomize: " << run.error().describe());
  INFO("kubectl kustomize " << dir.string() << ": " << run->err);
  REQUIRE(run->exit_status == 0);
  return run->out;
}

std::vector<json::value> documents_of(const std::string& yaml, const std::string& what) {
  auto docs = parse_yaml_documents(yaml, what);
  REQUIRE(docs);
  return *docs;
}

// A kustomization of the test's own, in the build tree; `@WORKFLOWS@` in the
// text stands for the source's workflows/ folder, relative to it (kustomize
// takes no absolute paths).
fs::path write_kustomization(const std::string& name, std::string text) {
  const fs::path dir = fs::path(IRSTEPS_BINARY_DIR) / "tests" / "kustomize" / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string workflows = fs::relative(fs::path(source_dir) / "workflows", dir).string();
  for (auto at = text.find("@WORKFLOWS@"); at != std::string::npos; at = text.find("@WORKFLOWS@"))
    text.replace(at, 11, workflows);
  std::ofstream(dir / "kustomization.yaml") << text;
  return dir;
}

// workflows/overlays/staging as its header says to use it: a copy for
// namespace `ns`. The test cluster is Kubernetes 1.20, which has no
// ValidatingAdmissionPolicy (1.30): the copy deletes the plugin's admission
// policy, as the dry run of every manifest skips plugin/admission.yaml.
fs::path namespace_overlay(const std::string& ns) {
  auto text = read_file(source_dir + "/workflows/overlays/staging/kustomization.yaml");
  REQUIRE(text);
  std::string overlay = std::regex_replace(*text, std::regex(R"(\.\./\.\./argo)"), "@WORKFLOWS@/argo");
  overlay = std::regex_replace(overlay, std::regex("irsteps-staging"), ns);
  REQUIRE(overlay.find(ns) != std::string::npos);
  overlay += R"(patches:
  - patch: |-
      $patch: delete
      apiVersion: admissionregistration.k8s.io/v1
      kind: ValidatingAdmissionPolicy
      metadata: {name: irsteps-plugin-no-pod-spec-patch}
  - patch: |-
      $patch: delete
      apiVersion: admissionregistration.k8s.io/v1
      kind: ValidatingAdmissionPolicyBinding
      metadata: {name: irsteps-plugin-no-pod-spec-patch}
)";
  return write_kustomization("install-" + ns, overlay);
}

bool is_admission_policy(const json::value& doc) {
  const auto kind = string_at(doc, {"kind"});
  return kind == "ValidatingAdmissionPolicy" || kind == "ValidatingAdmissionPolicyBinding";
}

// Every `image` string in the documents (Argo's `{{...}}` parameters left
// out), and the image in the executor plugin's sidecar string.
void collect_images(const json::value& node, std::set<std::string>& out) {
  if (node.is_object()) {
    for (const auto& [key, value] : node.as_object()) {
      if (key == "image" && value.is_string() && std::string(value.as_string()).rfind("{{", 0) != 0)
        out.insert(std::string(value.as_string()));
      else
        collect_images(value, out);
    }
  } else if (node.is_array()) {
    for (const auto& item : node.as_array()) collect_images(item, out);
  }
}

const json::value* find_object(const std::vector<json::value>& docs, const std::string& kind,
                               const std::string& name) {
  for (const auto& doc : docs)
    if (string_at(doc, {"kind"}) == kind && string_at(doc, {"metadata", "name"}) == name) return &doc;
  return nullptr;
}

// The images the base's list makes: newName:newTag of each entry.
std::set<std::string> listed_images() {
  auto text = read_file(source_dir + "/workflows/argo/kustomization.yaml");
  REQUIRE(text);
  auto doc = parse_yaml(*text, "kustomization.yaml");
  REQUIRE(doc);
  std::set<std::string> out;
  for (const auto& entry : doc->as_object().at("images").as_array()) {
    const auto name = string_at(entry, {"name"});
    CHECK(name.rfind("irsteps/", 0) == 0);
    out.insert(string_at(entry, {"newName"}) + ":" + string_at(entry, {"newTag"}));
  }
  return out;
}

// The rendered documents as one List, for one kubectl call.
std::string as_list(const std::vector<json::value>& docs) {
  json::array items;
  for (const auto& doc : docs)
    if (!is_admission_policy(doc)) items.push_back(doc);
  return boost::json::serialize(json::object{{"apiVersion", "v1"}, {"kind", "List"}, {"items", items}});
}

// Cluster-scoped objects, and those in kube-system and default, that an
// install makes (kind/name, namespace-qualified for the namespaced ones).
std::set<std::string> shared_objects(const Kubectl& kubectl) {
  std::set<std::string> out;
  auto add = [&](const std::vector<std::string>& args, const std::string& prefix) {
    auto got = kubectl(args);
    INFO(got.err);
    REQUIRE(got.exit_status == 0);
    std::istringstream lines(got.out);
    for (std::string line; std::getline(lines, line);)
      if (!line.empty()) out.insert(prefix + line);
  };
  add({"get", "clusterroles,clusterrolebindings", "-o", "name"}, "");
  add({"-n", "kube-system", "get", "roles,rolebindings", "-o", "name"}, "kube-system/");
  add({"-n", "default", "get", "roles,rolebindings", "-o", "name"}, "default/");
  return out;
}

std::set<std::string> with_suffix(const std::set<std::string>& objects, const std::string& suffix) {
  std::set<std::string> out;
  for (const auto& object : objects)
    if (object.size() > suffix.size() &&
        object.compare(object.size() - suffix.size(), suffix.size(), suffix) == 0)
      out.insert(object);
  return out;
}

}  // namespace

TEST_CASE(
    "Argo CRDs: the kustomize package renders every combination with the images of its one list, and each "
    "passes the dry run",
    "[integration][argo-crds][kustomize]") {
  TestNamespace ns("kustomize-dry");
  Kubectl kubectl(ns.name());
  install_argo_crds(kubectl);
  const auto listed = listed_images();
  REQUIRE(listed.size() >= 9);

  struct Combination {
    std::string name;
    fs::path dir;
    bool plugin;
    bool events;
  };
  const fs::path workflows = fs::path(source_dir) / "workflows";
  const std::string component =
      "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
      "resources: [@WORKFLOWS@/argo]\ncomponents: [@WORKFLOWS@/argo/";
  const std::vector<Combination> combinations = {
      {"base", workflows / "argo", false, false},
      {"base + plugin", write_kustomization("plugin", component + "plugin]\n"), true, false},
      {"base + events", write_kustomization("events", component + "events]\n"), false, true},
      {"overlays/all", workflows / "overlays" / "all", true, true},
      {"overlays/staging", workflows / "overlays" / "staging", true, true},
  };
  for (const auto& combination : combinations) {
    INFO(combination.name);
    const auto docs = documents_of(kustomize(combination.dir), combination.name);
    // What each brings.
    CHECK(find_object(docs, "WorkflowTemplate", "irsteps-steps") != nullptr);
    CHECK(find_object(docs, "WorkflowTemplate", "irsteps-container-compromise") != nullptr);
    CHECK(find_object(docs, "PersistentVolumeClaim", "irsteps-evidence") != nullptr);
    CHECK((find_object(docs, "WorkflowTemplate", "irsteps-plugin-steps") != nullptr) == combination.plugin);
    CHECK((find_object(docs, "EventBus", "default") != nullptr) == combination.events);
    CHECK((find_object(docs, "Sensor", "falco-container-compromise") != nullptr) == combination.events);

    // Every image is one the list makes; no `irsteps/<name>` is left.
    std::set<std::string> images;
    for (const auto& doc : docs) collect_images(doc, images);
    for (const auto& image : images) {
      INFO("image " << image);
      CHECK(listed.count(image) == 1);
    }
    const auto* recorded = find_object(docs, "ConfigMap", "irsteps-images");
    REQUIRE(recorded != nullptr);
    const auto plugin_image = string_at(*recorded, {"data", "irsteps-plugin"});
    CHECK(listed.count(plugin_image) == 1);
    if (combination.plugin) {
      // The sidecar's image, inside the ExecutorPlugin's string, is the
      // list's too (the component's replacement; the images transformer
      // does not look into strings).
      const auto* plugin = find_object(docs, "ConfigMap", "irsteps-executor-plugin");
      REQUIRE(plugin != nullptr);
      auto sidecar = parse_yaml(string_at(*plugin, {"data", "sidecar.container"}), "sidecar.container");
      REQUIRE(sidecar);
      CHECK(string_at(*sidecar, {"image"}) == plugin_image);
      CHECK(string_at(*sidecar, {"name"}) == "irsteps-plugin");
      // The pod templates of the plugin flavour run the base's images.
      std::set<std::string> plugin_steps;
      collect_images(*find_object(docs, "WorkflowTemplate", "irsteps-plugin-steps"), plugin_steps);
      // the four KEEP_POD steps, block-image and cordon, which the plugin's policy does not run
      CHECK(plugin_steps.size() == 6);
      for (const auto& image : plugin_steps) CHECK(listed.count(image) == 1);
    }

    // The dry run, in the test's namespace: the staging overlay's copy for
    // it, the others with their `namespace: irsteps` moved there. The
    // admission policy needs Kubernetes 1.30 (the skip list above).
    std::vector<json::value> applied = docs;
    if (combination.name == "overlays/staging")
      applied = documents_of(kustomize(namespace_overlay(ns.name())), "staging for " + ns.name());
    else
      applied = documents_of(into_namespace(kustomize(combination.dir), ns.name()), combination.name);
    std::size_t policies = 0;
    for (const auto& doc : applied) {
      if (!is_admission_policy(doc)) continue;
      ++policies;
      auto refused = kubectl({"apply", "--dry-run=server", "-f", "-"}, boost::json::serialize(doc));
      CHECK(refused.exit_status != 0);
      CHECK(refused.err.find("no matches for kind \"ValidatingAdmissionPolicy") != std::string::npos);
    }
    CHECK(policies == (combination.plugin && combination.name != "overlays/staging" ? 2U : 0U));
    auto run = kubectl({"apply", "--dry-run=server", "-f", "-"}, as_list(applied));
    INFO("kubectl: " << run.out << run.err);
    CHECK(run.exit_status == 0);
    CHECK(count(run.out, "(server dry run)") == applied.size() - policies);
  }
}

// Two installs through workflows/overlays/staging's copies, one per test
// namespace: both apply with nothing else done first, each keeps its own
// cluster-scoped objects and those in kube-system and default (suffixed with
// its namespace), and `kubectl delete -k` removes what it made: first with
// the selector that keeps the evidence claim and its namespace, then all of
// it. An install of the shipped isolate Role (unsuffixed, as the base
// installs it) is there throughout and must survive both.
TEST_CASE(
    "Argo CRDs: kubectl apply -k installs irsteps in two namespaces side by side, and kubectl delete -k "
    "removes what it made",
    "[integration][argo-crds][kustomize]") {
  TestNamespace first("kustomize-a");
  TestNamespace second("kustomize-b");
  Kubectl kubectl(first.name());
  install_argo_crds(kubectl);
  Cluster::get().apply_shipped_role("isolate");
  const auto before = shared_objects(kubectl);
  REQUIRE(before.count("clusterrole.rbac.authorization.k8s.io/irsteps-isolate") == 1);

  const auto a = namespace_overlay(first.name());
  const auto b = namespace_overlay(second.name());
  const auto rendered_a = documents_of(kustomize(a), "overlay a");
  std::size_t shared_a = 0;
  for (const auto& doc : rendered_a) {
    const auto ns = string_at(doc, {"metadata", "namespace"});
    if (ns.empty() || ns == "kube-system" || ns == "default") ++shared_a;
  }
  const std::string suffix_a = "-" + first.name();
  const std::string suffix_b = "-" + second.name();

  for (const auto& dir : {a, b}) {
    auto applied = kubectl({"apply", "-k", dir.string()});
    INFO("kubectl apply -k " << dir.string() << ": " << applied.out << applied.err);
    REQUIRE(applied.exit_status == 0);
  }
  const auto installed = shared_objects(kubectl);
  // The Namespace is cluster-scoped but not suffixed: it is the namespace.
  CHECK(with_suffix(installed, suffix_a).size() == shared_a - 1);
  CHECK(with_suffix(installed, suffix_b).size() == shared_a - 1);
  CHECK(installed.count("kube-system/role.rbac.authorization.k8s.io/irsteps-isolate-network-plugin-check" +
                        suffix_b) == 1);
  // Each binding names its own install's ServiceAccount.
  auto subject =
      kubectl({"get", "clusterrolebinding", "irsteps-playbook-container-compromise-isolate" + suffix_a, "-o",
               "jsonpath={.roleRef.name} {.subjects[0].namespace}"});
  CHECK(subject.out == "irsteps-isolate" + suffix_a + " " + first.name());
  subject =
      kubectl({"-n", "kube-system", "get", "rolebinding", "irsteps-isolate-network-plugin-check" + suffix_b,
               "-o", "jsonpath={.subjects[0].namespace}"});
  CHECK(subject.out == second.name());
  auto images = kubectl(
      {"-n", second.name(), "get", "configmap", "irsteps-images", "-o", "jsonpath={.data.irsteps-plugin}"});
  CHECK(images.out.rfind("ghcr.io/irsteps/irsteps-plugin:", 0) == 0);

  // The install check (scripts/check-install.py) against the first install:
  // what a cluster without Argo's controller, storage and the webhook's
  // Secret lacks, each named; then with them, all holds; then a binding
  // taken away is named with the ServiceAccount and what it lacks.
  auto check = [&] {
    auto run = run_process({"python3", source_dir + "/scripts/check-install.py", first.name(), "--kubeconfig",
                            Cluster::get().kubeconfig()});
    if (!run) FAIL("check-install.py: " << run.error().describe());
    return *run;
  };
  auto lacking = check();
  INFO("check-install.py: " << lacking.out << lacking.err);
  CHECK(lacking.exit_status == 1);
  CHECK(lacking.out.find("MISSING  Argo Workflows' controller") != std::string::npos);
  CHECK(lacking.out.find("MISSING  evidence claim irsteps-evidence Bound (is: Pending)") !=
        std::string::npos);
  CHECK(lacking.out.find("MISSING  ARGO_EXECUTOR_PLUGINS=true") != std::string::npos);
  CHECK(lacking.out.find("MISSING  Secret irsteps-falco-webhook") != std::string::npos);
  CHECK(lacking.out.find("MISSING  Secret irsteps-alertmanager-webhook") != std::string::npos);
  CHECK(lacking.out.find("ok       ServiceAccount irsteps-playbook-data-exposure: ") != std::string::npos);
  CHECK(lacking.out.find("MISSING  an artifact repository for " + first.name()) != std::string::npos);
  CHECK(count(lacking.out, "MISSING") == 6);
  // No workflow controller runs here: a stand-in Deployment carries the spec
  // the check reads (scaled to 0); a PersistentVolume for the claim.
  const std::string volume = "irsteps-evidence-" + first.name();
  Cluster::get().apply_yaml(first.name(), fmt::format(R"(apiVersion: apps/v1
kind: Deployment
metadata: {{name: workflow-controller, labels: {{app: workflow-controller}}}}
spec:
  replicas: 0
  selector: {{matchLabels: {{app: workflow-controller}}}}
  template:
    metadata: {{labels: {{app: workflow-controller}}}}
    spec:
      containers:
        - name: workflow-controller
          image: registry.example/workflow-controller:v4.1.2
          env: [{{name: ARGO_EXECUTOR_PLUGINS, value: "true"}}]
---
apiVersion: v1
kind: PersistentVolume
metadata: {{name: {0}}}
spec:
  capacity: {{storage: 20Gi}}
  accessModes: [ReadWriteMany]
  hostPath: {{path: /tmp/{0}}}
  claimRef: {{namespace: {1}, name: irsteps-evidence}}
)",
                                                      volume, first.name()));
  // Argo's artifact repository for the namespace, where Argo looks for one.
  Cluster::get().apply_yaml(first.name(), R"(apiVersion: v1
kind: ConfigMap
metadata:
  name: artifact-repositories
  annotations: {workflows.argoproj.io/default-artifact-repository: evidence}
data:
  evidence: |
    s3: {bucket: evidence, endpoint: 127.0.0.1:9, insecure: true}
)");
  for (const char* webhook : {"irsteps-falco-webhook", "irsteps-alertmanager-webhook"}) {
    auto secret = kubectl({"create", "secret", "generic", webhook, "--from-literal=token=t"});
    CHECK(secret.exit_status == 0);
  }
  CHECK(eventually([&] {
    return kubectl({"get", "pvc", "irsteps-evidence", "-o", "jsonpath={.status.phase}"}).out == "Bound";
  }));
  auto holds = check();
  INFO("check-install.py: " << holds.out << holds.err);
  CHECK(holds.exit_status == 0);
  CHECK(holds.out.find("ok       Argo Workflows v4.1.2 (") != std::string::npos);
  CHECK(holds.out.find("ok       artifact repository: ConfigMap " + first.name() +
                       "/artifact-repositories") != std::string::npos);
  CHECK(holds.out.find("MISSING") == std::string::npos);
  CHECK(holds.out.find("all checks hold") != std::string::npos);
  auto unbound =
      kubectl({"delete", "clusterrolebinding", "irsteps-playbook-data-exposure-rotate-secret" + suffix_a});
  CHECK(unbound.exit_status == 0);
  auto lost = check();
  INFO("check-install.py: " << lost.out << lost.err);
  CHECK(lost.exit_status == 1);
  CHECK(lost.out.find("MISSING  ServiceAccount irsteps-playbook-data-exposure: ") != std::string::npos);
  CHECK(lost.out.find("patch secrets in every namespace") != std::string::npos);
  CHECK(count(lost.out, "MISSING") == 1);
  // Applying the install again restores it.
  CHECK(kubectl({"apply", "-k", a.string()}).exit_status == 0);
  CHECK(check().exit_status == 0);

  // Uninstall keeping the evidence: the claim and its namespace stay.
  auto kept =
      kubectl({"delete", "-k", a.string(), "-l", "irsteps.io/keep-on-uninstall!=true", "--wait=false"});
  INFO(kept.out << kept.err);
  CHECK(kept.exit_status == 0);
  CHECK(kubectl({"-n", first.name(), "get", "pvc", "irsteps-evidence"}).exit_status == 0);
  CHECK(kubectl({"-n", first.name(), "get", "workflowtemplates", "-o", "name"}).out.empty());
  CHECK(with_suffix(shared_objects(kubectl), suffix_a).empty());
  // The other install is whole.
  auto other = kubectl({"get", "-k", b.string(), "-o", "name"});
  INFO(other.err);
  CHECK(other.exit_status == 0);
  CHECK(count(other.out, "\n") == rendered_a.size());

  // Then all of both.
  for (const auto& dir : {a, b}) {
    auto removed = kubectl({"delete", "-k", dir.string(), "--ignore-not-found", "--wait=false"});
    INFO("kubectl delete -k " << dir.string() << ": " << removed.out << removed.err);
    CHECK(removed.exit_status == 0);
  }
  const auto after = shared_objects(kubectl);
  CHECK(with_suffix(after, suffix_a).empty());
  CHECK(with_suffix(after, suffix_b).empty());
  for (const auto& object : before) {
    INFO(object << " was there before the installs");
    CHECK(after.count(object) == 1);
  }
  CHECK(kubectl({"delete", "persistentvolume", volume, "--wait=false"}).exit_status == 0);
  CHECK(eventually([&] {
    auto ns = kubectl({"get", "namespace", second.name(), "-o", "jsonpath={.status.phase}"});
    return ns.exit_status != 0 || ns.out == "Terminating";
  }));
}

// containers/pin-digests.py, as release.yml runs it after the push: an
// overlay that pins every image of the list by digest. With the plugin and
// the triggers on top of it, every image (the sidecar's string too) is the
// pinned one, and the whole passes the dry run. What it refuses: a missing
// image, an unknown one, a digest that is not sha256.
TEST_CASE(
    "Argo CRDs: the overlay containers/pin-digests.py writes pins every image by digest, under the "
    "components "
    "too",
    "[integration][argo-crds][kustomize]") {
  TestNamespace ns("kustomize-pinned");
  Kubectl kubectl(ns.name());
  install_argo_crds(kubectl);
  auto text = read_file(source_dir + "/workflows/argo/kustomization.yaml");
  REQUIRE(text);
  auto base = parse_yaml(*text, "kustomization.yaml");
  REQUIRE(base);
  std::string digests;
  std::set<std::string> pinned;
  for (const auto& entry : base->as_object().at("images").as_array()) {
    const auto name = string_at(entry, {"name"}).substr(std::string("irsteps/").size());
    const auto digest = "sha256:" + sha256_hex(name);
    digests += name + " " + digest + "\n";
    pinned.insert("registry.example/sec/" + name + "@" + digest);
  }
  REQUIRE(pinned.size() >= 9);
  const fs::path release = fs::path(IRSTEPS_BINARY_DIR) / "tests" / "kustomize" / "release";
  fs::remove_all(release);
  auto pin = [&](const fs::path& out, const std::string& input) {
    ProcessOptions options;
    options.stdin_data = input;
    auto run = run_process(
        {"python3", source_dir + "/containers/pin-digests.py", out.string(), "registry.example/sec"},
        options);
    if (!run) FAIL("pin-digests.py: " << run.error().describe());
    return *run;
  };
  auto written = pin(release, digests);
  INFO(written.err);
  REQUIRE(written.exit_status == 0);
  const auto on_top = write_kustomization("release-all", R"(apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources: [../release]
components: [@WORKFLOWS@/argo/plugin, @WORKFLOWS@/argo/events]
)");
  const std::string rendered = kustomize(on_top);
  const auto docs = documents_of(rendered, "release-all");
  std::set<std::string> images;
  for (const auto& doc : docs) collect_images(doc, images);
  const auto* plugin = find_object(docs, "ConfigMap", "irsteps-executor-plugin");
  REQUIRE(plugin != nullptr);
  auto sidecar = parse_yaml(string_at(*plugin, {"data", "sidecar.container"}), "sidecar.container");
  REQUIRE(sidecar);
  images.insert(string_at(*sidecar, {"image"}));
  CHECK(images == pinned);
  CHECK(rendered.find("ghcr.io/") == std::string::npos);

  const auto applied = documents_of(into_namespace(rendered, ns.name()), "release-all");
  auto run = kubectl({"apply", "--dry-run=server", "-f", "-"}, as_list(applied));
  INFO("kubectl: " << run.out << run.err);
  CHECK(run.exit_status == 0);
  CHECK(count(run.out, "(server dry run)") == applied.size() - 2);  // the admission policy needs 1.30

  const fs::path refused = fs::path(IRSTEPS_BINARY_DIR) / "tests" / "kustomize" / "release-refused";
  fs::remove_all(refused);
  const auto first_line = digests.substr(0, digests.find('\n') + 1);
  auto missing = pin(refused, first_line);
  CHECK(missing.exit_status == 2);
  CHECK(missing.err.find("no digest for ") != std::string::npos);
  auto unknown = pin(refused, digests + "no-such-image sha256:" + sha256_hex("x") + "\n");
  CHECK(unknown.exit_status == 2);
  CHECK(unknown.err.find("no-such-image is not an image of workflows/argo/kustomization.yaml") !=
        std::string::npos);
  std::string tagged = digests;
  tagged.replace(tagged.find("sha256:"), 7, "sha512:");
  auto bad = pin(refused, tagged);
  CHECK(bad.exit_status == 2);
  CHECK(bad.err.find("is not sha256:<64 hex>") != std::string::npos);
  CHECK_FALSE(fs::exists(refused));
}
