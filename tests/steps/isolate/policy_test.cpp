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
