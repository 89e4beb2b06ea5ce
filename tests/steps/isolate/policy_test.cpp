#include "isolate.hpp"

#include "support/catch.hpp"

using namespace ir::steps::isolate;

namespace {
Options base() {
  Options options;
  options.incident_id = "INC-2026-11-26-001";
  options.ns = "shop";
  return options;
}
ir::json::object quarantine_selector(const Options& o) {
  return {{"matchLabels", ir::json::object{{quarantine_label, o.incident_id}}}};
}
}  // namespace

TEST_CASE("the default policy denies all ingress and egress of the quarantined pods", "[unit][isolate]") {
  const auto options = base();
  const auto policy = build_policy(options, policy_name(options), quarantine_selector(options));
  const ir::json::value v(policy);
  CHECK(ir::string_at(v, {"metadata", "name"}) == "irsteps-isolate-inc-2026-11-26-001");
  CHECK(ir::string_at(v, {"metadata", "labels", "irsteps.io/incident"}) == "INC-2026-11-26-001");
  CHECK(*ir::find(v, {"spec", "policyTypes"}) == ir::json::array{"Ingress", "Egress"});
  CHECK(ir::find(v, {"spec", "ingress"})->as_array().empty());
  CHECK(ir::find(v, {"spec", "egress"})->as_array().empty());
  CHECK(ir::string_at(v, {"spec", "podSelector", "matchLabels", "irsteps.io/quarantine"}) ==
        "INC-2026-11-26-001");
}

TEST_CASE("allow-lists add exactly their rules", "[unit][isolate]") {
  auto options = base();
  options.allow_dns = true;
  options.allow_cidrs = {"10.1.0.0/16"};
  options.allow_namespaces = {"forensics"};
  const ir::json::value v(build_policy(options, policy_name(options), quarantine_selector(options)));
  const auto& egress = ir::find(v, {"spec", "egress"})->as_array();
  const auto& ingress = ir::find(v, {"spec", "ingress"})->as_array();
  REQUIRE(egress.size() == 3);
  REQUIRE(ingress.size() == 2);
  CHECK(ir::string_at(egress[0].at("to").at(0), {"ipBlock", "cidr"}) == "10.1.0.0/16");
  CHECK(ir::string_at(egress[1].at("to").at(0),
                      {"namespaceSelector", "matchLabels", "kubernetes.io/metadata.name"}) == "forensics");
  const auto& dns = egress[2].as_object();
  CHECK(dns.at("ports").as_array().size() == 2);
  CHECK(ir::string_at(dns.at("to").at(0), {"podSelector", "matchLabels", "k8s-app"}) == "kube-dns");
}

TEST_CASE("deny-cidr blocks only the attacker", "[unit][isolate]") {
  auto options = base();
  options.deny_cidrs = {"203.0.113.7/32", "2001:db8::/32"};
  const ir::json::value v(build_policy(options, policy_name(options), quarantine_selector(options)));
  const auto& from = ir::find(v, {"spec", "ingress"})->as_array().at(0).at("from").as_array();
  REQUIRE(from.size() == 3);
  CHECK(ir::string_at(from[0], {"ipBlock", "cidr"}) == "0.0.0.0/0");
  CHECK(from[0].at("ipBlock").at("except") == ir::json::array{"203.0.113.7/32"});
  CHECK(ir::string_at(from[1], {"ipBlock", "cidr"}) == "::/0");
  CHECK(from[1].at("ipBlock").at("except") == ir::json::array{"2001:db8::/32"});
}

TEST_CASE("names are deterministic and stay within the API's limits", "[unit][isolate]") {
  const auto options = base();
  Workload workload{ir::k8s::resources::deployments, std::string(240, 'w'), {}};
  const auto name = policy_name(options, workload);
  CHECK(name.size() <= 253);
  CHECK(name == policy_name(options, workload));
  Workload other{ir::k8s::resources::deployments, std::string(239, 'w') + "x", {}};
  CHECK(policy_name(options, other) != name);
  CHECK(policy_name(options, Workload{ir::k8s::resources::deployments, "web", {}}) ==
        "irsteps-isolate-inc-2026-11-26-001-deployment-web");
}

TEST_CASE("the event names the pod, the incident and the reason", "[unit][isolate]") {
  const auto options = base();
  ir::json::object pod{{"metadata", ir::json::object{{"name", "web-1"}, {"uid", "u-1"}}}};
  const ir::json::value v(build_event(options, pod, "Isolated", "because"));
  CHECK(ir::string_at(v, {"metadata", "name"}) == "web-1.inc-2026-11-26-001.isolated");
  CHECK(ir::string_at(v, {"involvedObject", "uid"}) == "u-1");
  CHECK(ir::string_at(v, {"reason"}) == "Isolated");
  CHECK(ir::string_at(v, {"type"}) == "Warning");
}

namespace {
ir::json::array objects_of(std::string_view yaml) {
  auto parsed = ir::parse_yaml(yaml, "test");
  REQUIRE(parsed);
  return parsed->as_array();
}
}  // namespace

// Security review finding 3: which other policies still open a direction for
// a quarantined pod, read as the API defines policyTypes and empty rules.
TEST_CASE("open paths: the policies beside the quarantine that still allow traffic", "[unit][isolate]") {
  using ir::steps::isolate::open_paths;
  const auto policies = objects_of(R"(
- metadata: {name: quarantine}
  spec: {podSelector: {}, policyTypes: [Ingress, Egress]}
- metadata: {name: types-from-rules}
  spec: {podSelector: {}, egress: [{}]}
- metadata: {name: types-absent}
  spec: {podSelector: {matchExpressions: [{key: app, operator: In, values: [web]}]}, ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/8}}]}]}
- metadata: {name: deny-only}
  spec: {podSelector: {}, policyTypes: [Ingress], ingress: []}
- metadata: {name: egress-only}
  spec: {podSelector: {matchLabels: {app: web}}, policyTypes: [Egress], ingress: [{}], egress: [{to: [{podSelector: {}}], ports: [{port: 53, protocol: UDP}]}]}
- metadata: {name: not-this-pod}
  spec: {podSelector: {matchLabels: {app: db}}, ingress: [{}]}
)");
  const auto pods = objects_of(R"(
- metadata: {name: web-1, labels: {app: web}}
)");
  const std::vector<ir::json::object> pod_objects{pods[0].as_object()};
  const auto paths = open_paths(policies, {"quarantine"}, pod_objects);
  REQUIRE(paths.size() == 3);
  CHECK(paths[0].policy == "types-from-rules");  // policyTypes absent, egress rules: both directions
  CHECK(paths[0].direction == "Egress");         // no ingress rules: ingress denied, only egress open
  CHECK(paths[0].peers == "any peer on all ports");
  CHECK(paths[1].policy == "types-absent");
  CHECK(paths[1].direction == "Ingress");
  CHECK(paths[1].peers == "ipBlock 10.0.0.0/8 on all ports");
  CHECK(paths[1].pods == "web-1");
  CHECK(paths[2].policy == "egress-only");  // its ingress rules do not apply: Egress only
  CHECK(paths[2].direction == "Egress");
  CHECK(paths[2].peers == "pods(all) on 53/UDP");
}

TEST_CASE("services that still select a detached pod", "[unit][isolate]") {
  const auto services = objects_of(R"(
- metadata: {name: web}
  spec: {selector: {app: web}}
- metadata: {name: trap}
  spec: {selector: {irsteps.io/quarantine: INC-2026-11-26-101}}
- metadata: {name: headless}
  spec: {}
)");
  const auto pods = objects_of(R"(
- metadata: {name: web-1, labels: {tier: web, irsteps.io/quarantine: INC-2026-11-26-101}}
)");
  const std::vector<ir::json::object> pod_objects{pods[0].as_object()};
  const auto found = ir::steps::isolate::services_still_selecting(services, pod_objects);
  REQUIRE(found.size() == 1);
  CHECK(found[0] == "Service trap still selects pod web-1");
}
