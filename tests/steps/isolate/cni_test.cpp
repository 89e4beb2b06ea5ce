#include "isolate.hpp"

#include "support/catch.hpp"

using namespace ir::steps::isolate;
using ir::find;
using ir::string_at;
namespace json = ir::json;

namespace {
Options base() {
  Options options;
  options.incident_id = "INC-2026-11-26-001";
  options.ns = "shop";
  return options;
}
CniSeen served_with(std::vector<std::string> daemonsets) {
  CniSeen seen;
  seen.cilium_served = true;
  seen.calico_served = true;
  seen.daemonsets = std::move(daemonsets);
  return seen;
}
}  // namespace

TEST_CASE("the Cilium policy denies every peer in both directions for the quarantine label",
          "[unit][isolate]") {
  const json::value v(build_cilium_policy(base()));
  CHECK(string_at(v, {"apiVersion"}) == "cilium.io/v2");
  CHECK(string_at(v, {"kind"}) == "CiliumNetworkPolicy");
  CHECK(string_at(v, {"metadata", "name"}) == "irsteps-isolate-inc-2026-11-26-001");
  CHECK(string_at(v, {"metadata", "namespace"}) == "shop");
  CHECK(string_at(v, {"metadata", "labels", "irsteps.io/incident"}) == "INC-2026-11-26-001");
  CHECK(string_at(v, {"metadata", "labels", "app.kubernetes.io/managed-by"}) == "irsteps");
  CHECK(*find(v, {"spec", "endpointSelector"}) ==
        json::object{{"matchLabels", json::object{{"irsteps.io/quarantine", "INC-2026-11-26-001"}}}});
  CHECK(*find(v, {"spec", "ingressDeny"}) == json::array{json::object{{"fromEntities", json::array{"all"}}}});
  CHECK(*find(v, {"spec", "egressDeny"}) == json::array{json::object{{"toEntities", json::array{"all"}}}});
  // No allow rule, and default-deny left as Cilium sets it for rules present.
  CHECK(find(v, {"spec", "ingress"}) == nullptr);
  CHECK(find(v, {"spec", "egress"}) == nullptr);
  CHECK(find(v, {"spec", "enableDefaultDeny"}) == nullptr);
}

TEST_CASE("with deny-cidr the Cilium policy denies only those CIDRs and leaves the rest open",
          "[unit][isolate]") {
  auto options = base();
  options.deny_cidrs = {"203.0.113.7/32", "2001:db8::/64"};
  const json::value v(build_cilium_policy(options));
  const json::array cidrs{json::object{{"cidr", "203.0.113.7/32"}}, json::object{{"cidr", "2001:db8::/64"}}};
  CHECK(*find(v, {"spec", "ingressDeny"}) == json::array{json::object{{"fromCIDRSet", cidrs}}});
  CHECK(*find(v, {"spec", "egressDeny"}) == json::array{json::object{{"toCIDRSet", cidrs}}});
  CHECK(*find(v, {"spec", "enableDefaultDeny"}) == json::object{{"ingress", false}, {"egress", false}});
}

TEST_CASE("the Calico policy is first in the default tier and ends both directions with Deny",
          "[unit][isolate]") {
  const json::value v(build_calico_policy(base()));
  CHECK(string_at(v, {"apiVersion"}) == "crd.projectcalico.org/v1");
  CHECK(string_at(v, {"kind"}) == "NetworkPolicy");
  CHECK(string_at(v, {"metadata", "name"}) == "default.irsteps-isolate-inc-2026-11-26-001");
  CHECK(string_at(v, {"spec", "tier"}) == "default");
  CHECK(*find(v, {"spec", "order"}) == 0);
  CHECK(string_at(v, {"spec", "selector"}) == "irsteps.io/quarantine == 'INC-2026-11-26-001'");
  CHECK(*find(v, {"spec", "types"}) == json::array{"Ingress", "Egress"});
  CHECK(*find(v, {"spec", "ingress"}) == json::array{json::object{{"action", "Deny"}}});
  CHECK(*find(v, {"spec", "egress"}) == json::array{json::object{{"action", "Deny"}}});
}

TEST_CASE("the Calico policy allows the allow-list before its Deny", "[unit][isolate]") {
  auto options = base();
  options.allow_dns = true;
  options.allow_cidrs = {"10.1.0.0/16"};
  options.allow_namespaces = {"forensics"};
  const json::value v(build_calico_policy(options));
  const auto& ingress = find(v, {"spec", "ingress"})->as_array();
  const auto& egress = find(v, {"spec", "egress"})->as_array();
  REQUIRE(ingress.size() == 3);
  CHECK(ingress[0] ==
        json::object{{"action", "Allow"}, {"source", json::object{{"nets", json::array{"10.1.0.0/16"}}}}});
  CHECK(ingress[1] == json::object{{"action", "Allow"},
                                   {"source", json::object{{"namespaceSelector",
                                                            "projectcalico.org/name == 'forensics'"}}}});
  CHECK(ingress[2] == json::object{{"action", "Deny"}});
  REQUIRE(egress.size() == 5);  // CIDR, namespace, DNS over UDP and TCP, Deny
  CHECK(*find(egress[0], {"destination", "nets"}) == json::array{"10.1.0.0/16"});
  CHECK(string_at(egress[2], {"protocol"}) == "UDP");
  CHECK(string_at(egress[3], {"protocol"}) == "TCP");
  CHECK(string_at(egress[3], {"destination", "selector"}) == "k8s-app == 'kube-dns'");
  CHECK(*find(egress[3], {"destination", "ports"}) == json::array{53});
  CHECK(egress[4] == json::object{{"action", "Deny"}});
}

TEST_CASE("with deny-cidr the Calico policy denies only those CIDRs", "[unit][isolate]") {
  auto options = base();
  options.deny_cidrs = {"203.0.113.7/32"};
  const json::value v(build_calico_policy(options));
  CHECK(*find(v, {"spec", "ingress"}) ==
        json::array{json::object{{"action", "Deny"},
                                 {"source", json::object{{"nets", json::array{"203.0.113.7/32"}}}}}});
  CHECK(*find(v, {"spec", "egress"}) ==
        json::array{json::object{{"action", "Deny"},
                                 {"destination", json::object{{"nets", json::array{"203.0.113.7/32"}}}}}});
}

TEST_CASE("auto picks the plugin whose API is served and whose agent runs", "[unit][isolate]") {
  auto options = base();
  std::vector<std::string> notes;
  CHECK(*choose_cni(options, served_with({"kube-system/cilium", "kube-system/coredns"}), notes) ==
        Cni::cilium);
  CHECK(notes.empty());
  auto calico_only = [](std::vector<std::string> daemonsets) {
    CniSeen seen = served_with(std::move(daemonsets));
    seen.cilium_served = false;
    return seen;
  };
  CHECK(*choose_cni(options, calico_only({"kube-system/calico-node"}), notes) == Cni::calico);
  CHECK(*choose_cni(options, calico_only({"calico-system/calico-node"}), notes) == Cni::calico);
  CHECK(*choose_cni(options, calico_only({"kube-system/canal"}), notes) == Cni::calico);
  CHECK(notes.empty());
  // Both agents (a migration between them): Cilium's deny is written.
  CHECK(*choose_cni(options, served_with({"kube-system/calico-node", "kube-system/cilium"}), notes) ==
        Cni::cilium);
  CHECK(*choose_cni(options, CniSeen{}, notes) == Cni::none);
  CHECK(notes.empty());
  // Both APIs served, only Calico's agent: Calico, and a note on Cilium's.
  CHECK(*choose_cni(options, served_with({"kube-system/calico-node"}), notes) == Cni::calico);
  REQUIRE(notes.size() == 1);
  CHECK(notes[0].find("no cilium agent DaemonSet") != std::string::npos);
}

TEST_CASE("auto writes no plugin policy when the API is served but no agent runs, and says so",
          "[unit][isolate]") {
  std::vector<std::string> notes;
  CHECK(*choose_cni(base(), served_with({"kube-system/kube-proxy", "other/cilium"}), notes) == Cni::none);
  REQUIRE(notes.size() == 2);
  CHECK(notes[0].find("no cilium agent DaemonSet") != std::string::npos);
  CHECK(notes[1].find("--enforcement calico writes it anyway") != std::string::npos);
}

TEST_CASE("auto with an allow-list skips Cilium, whose deny would override it", "[unit][isolate]") {
  auto options = base();
  options.allow_dns = true;
  std::vector<std::string> notes;
  CniSeen seen = served_with({"kube-system/cilium"});
  seen.calico_served = false;
  CHECK(*choose_cni(options, seen, notes) == Cni::none);
  REQUIRE(notes.size() == 1);
  CHECK(notes[0].find("would override --allow-*") != std::string::npos);
}

TEST_CASE("an explicit plugin needs its served API only, and kubernetes never adds one", "[unit][isolate]") {
  auto options = base();
  std::vector<std::string> notes;
  options.enforcement = Enforcement::cilium;
  CHECK(*choose_cni(options, served_with({}), notes) == Cni::cilium);
  auto refused = choose_cni(options, CniSeen{}, notes);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().code() == ir::Code::invalid_input);
  CHECK(refused.error().message().find("CiliumNetworkPolicy (cilium.io/v2) is not served") !=
        std::string::npos);
  options.allow_namespaces = {"forensics"};
  auto with_allowance = choose_cni(options, served_with({"kube-system/cilium"}), notes);
  REQUIRE_FALSE(with_allowance);
  CHECK(with_allowance.error().code() == ir::Code::invalid_input);

  options.enforcement = Enforcement::calico;
  CHECK(*choose_cni(options, served_with({}), notes) == Cni::calico);  // allow-list kept as Allow rules
  CHECK(choose_cni(options, CniSeen{}, notes).error().code() == ir::Code::invalid_input);

  options.enforcement = Enforcement::kubernetes;
  CHECK(*choose_cni(options, served_with({"kube-system/cilium", "kube-system/calico-node"}), notes) ==
        Cni::none);
  CHECK(notes.empty());
}

TEST_CASE("enforcement is parsed from the parameters, auto by default", "[unit][isolate]") {
  CHECK(options_from(json::object{})->enforcement == Enforcement::auto_detect);
  CHECK(options_from(json::object{{"enforcement", "kubernetes"}})->enforcement == Enforcement::kubernetes);
  CHECK(options_from(json::object{{"enforcement", "cilium"}})->enforcement == Enforcement::cilium);
  CHECK(options_from(json::object{{"enforcement", "calico"}})->enforcement == Enforcement::calico);
}
