// isolate --enforcement cilium|calico against the real control plane with
// Cilium's and Calico's own CRDs (tests/data/crds/cilium, calico; upstream
// files, CEL rules stripped for the 1.20 API server): the deny policy is
// created for real and accepted by the API server's validation against the
// CRD schema, selects exactly the quarantined pod, is read back, left alone
// by a re-run, removed by --release; without the CRD the explicit plugin is
// exit 2 with nothing changed. Runs as the shipped least-privilege identity.
//
// Each test case installs its plugin's CRD itself and deletes it at the end,
// so the cluster is as before. Other isolate tests running meanwhile (ctest
// -j) are not affected: --enforcement auto writes a plugin policy only when
// the plugin's agent DaemonSet runs too (cilium, calico-node or canal), and
// the test cluster has none; they see at most a warning. The two cases use
// different CRDs and can run at once.
#include "support/step_runner.hpp"

#include "ir/core/encoding.hpp"

#include <boost/json/serialize.hpp>

#include <regex>
#include <set>

using namespace ir;
using namespace ir::test;

namespace {

const std::string incident = "INC-2026-12-07-301";
const std::string policy = "irsteps-isolate-inc-2026-12-07-301";
const std::string source_dir = IRSTEPS_SOURCE_DIR;

struct Plugin {
  std::string name;  // --enforcement
  std::string crd;   // CRD name
  std::string file;  // under tests/data/crds/
  int cel_rules;     // x-kubernetes-validations blocks (tests/data/crds/<plugin>/ORIGIN.md)
  k8s::Resource resource;
  std::string object_name;  // what isolate names its policy
};

const Plugin cilium{"cilium",
                    "ciliumnetworkpolicies.cilium.io",
                    "cilium/ciliumnetworkpolicies.yaml",
                    1,
                    {"cilium.io", "v2", "ciliumnetworkpolicies", "CiliumNetworkPolicy"},
                    policy};
const Plugin calico{"calico",
                    "networkpolicies.crd.projectcalico.org",
                    "calico/crd.projectcalico.org_networkpolicies.yaml",
                    11,
                    {"crd.projectcalico.org", "v1", "networkpolicies", "NetworkPolicy"},
                    "default." + policy};

bool served(const Plugin& plugin) {
  auto response = Cluster::get().client().raw("GET", "/apis/" + plugin.resource.api_version());
  return response && response->status == 200 &&
         response->body.find("\"" + plugin.resource.plural + "\"") != std::string::npos;
}

void delete_crd(const Plugin& plugin) {
  auto deleted = Cluster::get().kubectl(
      {"delete", "crd", plugin.crd, "--ignore-not-found", "--wait=true", "--timeout=120s"});
  INFO(deleted.err);
  CHECK(deleted.exit_status == 0);
  CHECK(eventually([&] { return !served(plugin); }, std::chrono::seconds(60)));
}

// The plugin's CRD, installed for one test case and deleted after it (also
// when the test fails).
class InstalledCrd {
 public:
  explicit InstalledCrd(const Plugin& plugin) : plugin_(plugin) {
    auto text = read_file(source_dir + "/tests/data/crds/" + plugin.file);
    REQUIRE(text);
    auto crd = parse_yaml(*text, plugin.file);
    REQUIRE(crd);
    REQUIRE(string_at(*crd, {"metadata", "name"}) == plugin.crd);
    CHECK(strip_cel_rules(*crd) == plugin.cel_rules);
    installed_ = true;
    auto created = Cluster::get().kubectl({"create", "-f", "-"}, boost::json::serialize(*crd));
    INFO(created.err);
    REQUIRE(created.exit_status == 0);
    // Polled, not `kubectl wait`: right after the create the CRD has no
    // conditions yet, which kubectl wait takes for an error.
    const bool established = eventually(
        [&] {
          auto got =
              Cluster::get().kubectl({"get", "crd", plugin.crd, "-o",
                                      R"(jsonpath={.status.conditions[?(@.type=="Established")].status})"});
          return got.exit_status == 0 && got.out == "True";
        },
        std::chrono::seconds(120));
    REQUIRE(established);
    REQUIRE(eventually([&] { return served(plugin); }, std::chrono::seconds(60)));
  }
  ~InstalledCrd() {
    if (installed_) delete_crd(plugin_);
  }
  InstalledCrd(const InstalledCrd&) = delete;
  InstalledCrd& operator=(const InstalledCrd&) = delete;

 private:
  const Plugin& plugin_;
  bool installed_ = false;
};

json::object get_or_fail(const k8s::Resource& resource, const std::string& ns, const std::string& name) {
  auto object = Cluster::get().client().get(resource, ns, name);
  if (!object) FAIL(object.error().describe());
  return *object;
}

bool exists(const k8s::Resource& resource, const std::string& ns, const std::string& name) {
  return bool(Cluster::get().client().get(resource, ns, name));
}

// The pods the plugin policy's selector picks, as a Kubernetes label
// selector: Cilium's endpointSelector is one; Calico's selector is an
// expression, here of the form key == 'value'.
std::set<std::string> selected_pods(const Plugin& plugin, const std::string& ns, const json::object& live) {
  std::string selector;
  if (plugin.name == "cilium") {
    selector = k8s::selector_string(live.at("spec").at("endpointSelector").as_object());
  } else {
    static const std::regex equals(R"(^([A-Za-z0-9./_-]+) == '([A-Za-z0-9._-]+)'$)");
    std::smatch match;
    const std::string expression = string_at(live, {"spec", "selector"});
    REQUIRE(std::regex_match(expression, match, equals));
    selector = match[1].str() + "=" + match[2].str();
  }
  REQUIRE_FALSE(selector.empty());
  auto listed = Cluster::get().client().list(k8s::resources::pods, ns, {selector, {}});
  REQUIRE(listed);
  std::set<std::string> names;
  for (const auto& item : listed->at("items").as_array()) names.insert(string_at(item, {"metadata", "name"}));
  return names;
}

// An object of the plugin's kind that its schema refuses: an entity or an
// action the enum does not have.
json::object invalid_object(const Plugin& plugin, const std::string& ns) {
  json::object metadata{{"name", "irsteps-invalid"}, {"namespace", ns}};
  if (plugin.name == "cilium") {
    return {{"apiVersion", "cilium.io/v2"},
            {"kind", "CiliumNetworkPolicy"},
            {"metadata", metadata},
            {"spec", json::object{{"endpointSelector", json::object{}},
                                  {"ingressDeny",
                                   json::array{json::object{{"fromEntities", json::array{"everyone"}}}}}}}};
  }
  return {{"apiVersion", "crd.projectcalico.org/v1"},
          {"kind", "NetworkPolicy"},
          {"metadata", metadata},
          {"spec",
           json::object{{"selector", "all()"}, {"ingress", json::array{json::object{{"action", "Block"}}}}}}};
}

void check_enforcement(const Plugin& plugin) {
  auto& cluster = Cluster::get();
  delete_crd(plugin);  // left by an interrupted earlier run
  cluster.apply_shipped_role("isolate");
  TokenKubeconfig step_identity(service_account_token("irsteps", "irsteps-isolate"),
                                "irsteps-isolate-" + plugin.name);
  TestNamespace ns("cni-" + plugin.name);
  // An allow-all policy beside the quarantine: the NetworkPolicy alone is
  // defeated by it (isolated=partial); the plugin's deny is not.
  cluster.apply_yaml(ns.name(), deployment_yaml("web", 2) + R"(
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-all}
spec:
  podSelector: {}
  policyTypes: [Ingress]
  ingress: [{}]
)");
  const auto pods = running_pods(ns.name(), "app=web", 2);
  auto args = [&](std::vector<std::string> more) {
    std::vector<std::string> list{"--incident-id", incident,       "--namespace",
                                  ns.name(),       "--kubeconfig", step_identity.path()};
    list.insert(list.end(), more.begin(), more.end());
    return list;
  };

  // Without the CRD: exit 2 naming the field, nothing changed.
  auto refused = run_step_binary("isolate", args({"--pod", pods[0], "--enforcement", plugin.name}));
  REQUIRE_EXIT(refused, 2);
  CHECK(refused.err.find("enforcement: " + plugin.name) != std::string::npos);
  CHECK_FALSE(exists(k8s::resources::networkpolicies, ns.name(), policy));
  CHECK(string_at(get_or_fail(k8s::resources::pods, ns.name(), pods[0]),
                  {"metadata", "labels", "irsteps.io/quarantine"})
            .empty());

  InstalledCrd crd(plugin);
  // The API server validates this kind against the CRD's schema.
  auto invalid = cluster.client().create(plugin.resource, ns.name(), invalid_object(plugin, ns.name()));
  REQUIRE_FALSE(invalid);
  CHECK(invalid.error().describe().find("Unsupported value") != std::string::npos);

  auto run = run_step_binary("isolate", args({"--pod", pods[0], "--enforcement", plugin.name}));
  REQUIRE_EXIT(run, 0);
  CHECK(run.output("enforcement") == plugin.name);
  CHECK(run.output("cni-policy") == plugin.resource.kind + "/" + plugin.object_name);
  CHECK(run.output("policy") == policy);
  CHECK(run.output("isolated") == "full");
  const auto& overridden = run.result.at("warnings").as_array();
  CHECK(std::any_of(overridden.begin(), overridden.end(), [&](const json::value& w) {
    return w.as_string().find("NetworkPolicy allow-all would allow ingress") != json::string::npos &&
           w.as_string().find(plugin.object_name + " denies it first") != json::string::npos;
  }));
  const auto live = get_or_fail(plugin.resource, ns.name(), plugin.object_name);
  const json::value live_value(live);
  CHECK(string_at(live, {"metadata", "labels", "irsteps.io/incident"}) == incident);
  if (plugin.name == "cilium") {
    CHECK(*find(live_value, {"spec", "ingressDeny"}) ==
          json::array{json::object{{"fromEntities", json::array{"all"}}}});
    CHECK(*find(live_value, {"spec", "egressDeny"}) ==
          json::array{json::object{{"toEntities", json::array{"all"}}}});
  } else {
    CHECK(*find(live_value, {"spec", "order"}) == 0);
    CHECK(*find(live_value, {"spec", "ingress"}) == json::array{json::object{{"action", "Deny"}}});
    CHECK(*find(live_value, {"spec", "egress"}) == json::array{json::object{{"action", "Deny"}}});
  }
  // Exactly the quarantined pod, not its sibling.
  CHECK(selected_pods(plugin, ns.name(), live) == std::set<std::string>{pods[0]});

  // A re-run changes nothing, and auto without the plugin's agent leaves
  // the plugin policy alone and says why it wrote none.
  const std::string version = string_at(live, {"metadata", "resourceVersion"});
  REQUIRE_EXIT(run_step_binary("isolate", args({"--pod", pods[0], "--enforcement", plugin.name})), 0);
  auto automatic = run_step_binary("isolate", args({"--pod", pods[0]}));
  REQUIRE_EXIT(automatic, 0);
  CHECK(automatic.output("enforcement") == "kubernetes");
  CHECK(automatic.output("cni-policy").empty());
  CHECK(automatic.output("isolated") == "partial");  // the allow-all policy wins over the NetworkPolicy
  const auto& warnings = automatic.result.at("warnings").as_array();
  CHECK(std::any_of(warnings.begin(), warnings.end(), [&](const json::value& w) {
    return w.as_string().find("no " + plugin.name + " agent DaemonSet") != json::string::npos;
  }));
  CHECK(string_at(get_or_fail(plugin.resource, ns.name(), plugin.object_name),
                  {"metadata", "resourceVersion"}) == version);

  auto released = run_step_binary("isolate", args({"--release"}));
  REQUIRE_EXIT(released, 0);
  CHECK(released.output("deleted-policies") == policy);
  CHECK(released.output("deleted-cni-policies") == plugin.resource.kind + "/" + plugin.object_name);
  CHECK_FALSE(exists(plugin.resource, ns.name(), plugin.object_name));
  auto again = run_step_binary("isolate", args({"--release"}));
  REQUIRE_EXIT(again, 0);
  CHECK(again.output("deleted-cni-policies").empty());
}

}  // namespace

TEST_CASE("isolate with Cilium's CRD writes a CiliumNetworkPolicy deny the API server accepts",
          "[integration][isolate][cni]") {
  check_enforcement(cilium);
}

TEST_CASE("isolate with Calico's CRD writes a Calico NetworkPolicy deny the API server accepts",
          "[integration][isolate][cni]") {
  check_enforcement(calico);
}
