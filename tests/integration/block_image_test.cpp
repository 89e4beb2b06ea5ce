// block-image against the test control plane (Kubernetes 1.20, no admission
// engine of its own), with the real CRDs of each engine installed for the
// test (tests/data/crds/kyverno, sigstore-policy-controller): the API server
// validates the ClusterPolicy against Kyverno's schema, and discovery is
// what the step reads to choose an engine. Nothing runs Kyverno's webhook,
// so nothing is refused here: these tests check what the step writes.
//
// A CRD is cluster-wide: while one is installed every other test sees that
// engine. The test cases that install CRDs or depend on there being no
// engine carry the tag [admission-engines] (the supply-chain playbook's case
// with block-image on is one of them); like every test of the shared
// cluster they hold RESOURCE_LOCK cluster (tests/CMakeLists.txt), so no
// other cluster test runs meanwhile; each removes what it installed.
#include "support/catch.hpp"
#include "support/cluster.hpp"
#include "support/step_runner.hpp"

#include "ir/core/json.hpp"

#include <boost/json/serialize.hpp>

using namespace ir;
using namespace ir::test;

namespace {

const std::string hex = "5d2c7b1e9f0a3c4d6e8f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d";
const std::string digest = "sha256:" + hex;

StepRun block(const std::string& incident, std::vector<std::string> args) {
  args.insert(args.begin(), {"--incident-id", incident, "--kubeconfig", Cluster::get().kubeconfig()});
  return run_step_binary("block-image", args);
}

const std::vector<std::string> engine_crds = {"clusterpolicies.kyverno.io",
                                              "clusterimagepolicies.policy.sigstore.dev"};

// No engine's CRD left from an earlier run that stopped half-way.
void remove_engine_crds() {
  for (const auto& name : engine_crds)
    Cluster::get().kubectl({"delete", "crd", name, "--ignore-not-found", "--wait"});
}

// Installs a CRD file of tests/data/crds (with conversion strategy None when
// asked) and waits until it is Established; removes it at the end, and at
// once when it never gets there.
class InstalledCrd {
 public:
  InstalledCrd(const std::string& file, const std::string& name, bool conversion_none = false) : name_(name) {
    auto text = read_file(std::string(IRSTEPS_SOURCE_DIR) + "/tests/data/crds/" + file);
    REQUIRE(text);
    auto crd = parse_yaml(*text, file);
    REQUIRE(crd);
    REQUIRE(string_at(*crd, {"metadata", "name"}) == name);
    // No conversion webhook runs here; only one version is stored anyway.
    if (conversion_none)
      crd->as_object()["spec"].as_object()["conversion"] = json::object{{"strategy", "None"}};
    remove_engine_crds();
    // create, not apply: Kyverno's CRD exceeds the last-applied annotation's limit.
    auto created = Cluster::get().kubectl({"create", "-f", "-"}, boost::json::serialize(*crd));
    INFO(created.err);
    REQUIRE(created.exit_status == 0);
    // Polled: kubectl 1.20's wait fails on a CRD whose status has no conditions yet.
    const bool established = eventually([&] {
      auto got = Cluster::get().kubectl(
          {"get", "crd", name, "-o", R"(jsonpath={.status.conditions[?(@.type=="Established")].status})"});
      return got.exit_status == 0 && got.out == "True";
    });
    if (!established) {
      Cluster::get().kubectl({"delete", "crd", name, "--ignore-not-found", "--wait"});
      FAIL("CRD " + name + " did not become Established");
    }
  }
  ~InstalledCrd() { Cluster::get().kubectl({"delete", "crd", name_, "--ignore-not-found", "--wait"}); }
  InstalledCrd(const InstalledCrd&) = delete;
  InstalledCrd& operator=(const InstalledCrd&) = delete;

 private:
  std::string name_;
};

std::optional<json::object> cluster_policy(const std::string& name) {
  auto got = Cluster::get().kubectl({"get", "clusterpolicies.kyverno.io", name, "-o", "json"});
  if (got.exit_status != 0) return std::nullopt;
  auto parsed = parse_json(got.out, "ClusterPolicy");
  REQUIRE(parsed);
  return parsed->as_object();
}

}  // namespace

TEST_CASE(
    "block-image without an admission engine fails with exit 1 naming what it looked for, changing nothing",
    "[integration][block-image][admission-engines]") {
  remove_engine_crds();
  const std::string incident = "INC-2026-12-07-401";
  for (const std::string engine : {"auto", "kyverno", "vap"}) {
    INFO(engine);
    auto run = block(incident, {"--image", "ghcr.io/acme/api@" + digest, "--engine", engine});
    REQUIRE_EXIT(run, 1);
    CHECK(run.err.find("nothing blocks the image") != std::string::npos);
    // 1.20 serves no ValidatingAdmissionPolicy, and discovery says so.
    if (engine != "kyverno") CHECK(run.err.find("ValidatingAdmissionPolicy") != std::string::npos);
    if (engine != "vap") CHECK(run.err.find("Kyverno") != std::string::npos);
  }
  // Nothing was written: no Event of the step's.
  auto events = Cluster::get().kubectl(
      {"get", "events", "-n", "default", "-l", "irsteps.io/incident=" + incident, "-o", "name"});
  CHECK(events.out.empty());
  // Hostile input never reaches the cluster: exit 2 naming the field.
  auto hostile = block(incident, {"--image", "x@sha256:" + hex + "') || true || ('"});
  REQUIRE_EXIT(hostile, 2);
  CHECK(hostile.err.find("image") != std::string::npos);
}

TEST_CASE(
    "block-image writes a Kyverno ClusterPolicy the API server accepts, a re-run changes nothing, "
    "--release removes exactly it",
    "[integration][block-image][admission-engines]") {
  InstalledCrd kyverno("kyverno/kyverno.io_clusterpolicies.yaml", "clusterpolicies.kyverno.io");
  const std::string incident = "INC-2026-12-07-402";
  const std::string other_incident = "INC-2026-12-07-403";
  const std::string image = "ghcr.io/acme/api@" + digest;

  auto dry = block(incident, {"--image", image, "--dry-run"});
  REQUIRE_EXIT(dry, 0);
  const std::string name = dry.output("policy-name");
  CHECK(name == "irsteps-block-inc-2026-12-07-402-5d2c7b1e9f0a3c4d");
  CHECK_FALSE(cluster_policy(name));

  auto run = block(incident, {"--image", image});
  REQUIRE_EXIT(run, 0);
  CHECK(run.output("engine") == "kyverno");
  CHECK(run.output("policy-name") == name);
  CHECK(run.output("changed") == "true");
  const auto policy = cluster_policy(name);
  REQUIRE(policy);
  // As the API server stored it, after its structural schema's pruning.
  CHECK(string_at(*policy, {"metadata", "labels", "irsteps.io/incident"}) == incident);
  CHECK(string_at(*policy, {"spec", "validationFailureAction"}) == "Enforce");
  const auto* rules = find(*policy, {"spec", "rules"});
  REQUIRE(rules != nullptr);
  REQUIRE(rules->as_array().size() == 1);
  const auto& rule = rules->as_array()[0];
  CHECK(string_at(rule, {"validate", "failureAction"}) == "Enforce");
  CHECK(json::serialize(*find(rule, {"match"})) == R"({"any":[{"resources":{"kinds":["Pod"]}}]})");
  for (const char* list : {"containers", "=(initContainers)", "=(ephemeralContainers)"}) {
    INFO(list);
    const auto* items = find(rule, {"validate", "pattern", "spec", list});
    REQUIRE(items != nullptr);
    CHECK(json::serialize(*items) == R"([{"image":"!*@)" + digest + R"("}])");
  }
  auto events =
      Cluster::get().kubectl({"get", "events", "-n", "default", "--field-selector",
                              "involvedObject.name=" + name + ",reason=ImageBlocked", "-o", "name"});
  CHECK(events.out.find("event/") != std::string::npos);

  // A re-run changes nothing, not even the resourceVersion.
  const std::string version = string_at(*policy, {"metadata", "resourceVersion"});
  auto again = block(incident, {"--image", image});
  REQUIRE_EXIT(again, 0);
  CHECK(again.output("changed") == "false");
  CHECK(string_at(*cluster_policy(name), {"metadata", "resourceVersion"}) == version);

  // Another incident's block of the same digest is its own object, and
  // releasing one leaves the other.
  auto other = block(other_incident, {"--image", digest});
  REQUIRE_EXIT(other, 0);
  const std::string other_name = other.output("policy-name");
  CHECK(other_name != name);
  auto release = block(incident, {"--image", image, "--release"});
  REQUIRE_EXIT(release, 0);
  CHECK(release.output("engine") == "kyverno");
  CHECK_FALSE(cluster_policy(name));
  CHECK(cluster_policy(other_name));
  auto release_again = block(incident, {"--image", image, "--release"});
  REQUIRE_EXIT(release_again, 0);
  CHECK(release_again.output("engine").empty());
  auto release_other = block(other_incident, {"--image", digest, "--release"});
  REQUIRE_EXIT(release_other, 0);
  CHECK_FALSE(cluster_policy(other_name));
}

TEST_CASE("block-image with only sigstore policy-controller installed fails saying it cannot refuse a digest",
          "[integration][block-image][admission-engines]") {
  InstalledCrd sigstore("sigstore-policy-controller/300-clusterimagepolicy.yaml",
                        "clusterimagepolicies.policy.sigstore.dev", true);
  const std::string incident = "INC-2026-12-07-404";
  for (const std::string engine : {"auto", "policy-controller"}) {
    INFO(engine);
    auto run = block(incident, {"--image", digest, "--engine", engine});
    REQUIRE_EXIT(run, 1);
    CHECK(run.err.find("policy-controller cannot refuse one digest") != std::string::npos);
  }
  auto listed = Cluster::get().kubectl({"get", "clusterimagepolicies.policy.sigstore.dev", "-o", "name"});
  CHECK(listed.exit_status == 0);
  CHECK(listed.out.empty());
}
