// The network plugin's own deny policy beside the Kubernetes NetworkPolicy
// (--enforcement): what it looks like, and which plugin gets one.
#include "isolate.hpp"

#include "ir/core/encoding.hpp"

#include <algorithm>

namespace ir::steps::isolate {

namespace resources {
// The CRDs' names and scopes: tests/data/crds/cilium/ciliumnetworkpolicies.yaml
// and tests/data/crds/calico/crd.projectcalico.org_networkpolicies.yaml.
const k8s::Resource cilium_network_policies{"cilium.io", "v2", "ciliumnetworkpolicies",
                                            "CiliumNetworkPolicy"};
const k8s::Resource calico_network_policies{"crd.projectcalico.org", "v1", "networkpolicies",
                                            "NetworkPolicy"};
}  // namespace resources

namespace {

// The DaemonSets of each plugin's agent: Cilium's Helm chart and CLI name it
// cilium (in kube-system by default); Calico's manifests calico-node in
// kube-system, the Tigera operator in calico-system; Canal runs Calico's
// policy agent in the canal DaemonSet.
bool is_agent(Cni cni, const std::string& daemonset) {
  if (cni == Cni::cilium) return daemonset == "kube-system/cilium";
  return daemonset == "kube-system/calico-node" || daemonset == "calico-system/calico-node" ||
         daemonset == "kube-system/canal";
}

bool has_agent(Cni cni, const CniSeen& seen) {
  return std::any_of(seen.daemonsets.begin(), seen.daemonsets.end(),
                     [&](const std::string& name) { return is_agent(cni, name); });
}

bool allows_something(const Options& options) {
  return options.allow_dns || !options.allow_cidrs.empty() || !options.allow_namespaces.empty();
}

json::object metadata_of(const Options& options, std::string name) {
  return {{"name", std::move(name)},
          {"namespace", options.ns},
          {"labels", json::object{{incident_label, options.incident_id}, {managed_by_label, "irsteps"}}},
          {"annotations", json::object{{"irsteps.io/step", "isolate"},
                                       {"irsteps.io/purpose", "quarantine of compromised pods for incident " +
                                                                  options.incident_id}}}};
}

json::array cidr_set(const std::vector<std::string>& cidrs) {
  json::array set;
  for (const auto& cidr : cidrs) set.push_back(json::object{{"cidr", cidr}});
  return set;
}

json::array strings(const std::vector<std::string>& values) {
  json::array list;
  for (const auto& value : values) list.emplace_back(value);
  return list;
}

// Calico selects namespaces by the projectcalico.org/name label it gives
// every namespace (Calico's NetworkPolicy reference, namespaceSelector).
std::string calico_namespace(const std::string& ns) {
  return "projectcalico.org/name == '" + ns + "'";
}

// Allow rules for --allow-*, in the direction's peer field ("source" for
// ingress, "destination" for egress).
json::array calico_allowances(const Options& options, const char* peer, bool egress) {
  json::array rules;
  for (const auto& cidr : options.allow_cidrs) {
    rules.push_back(
        json::object{{"action", "Allow"}, {peer, json::object{{"nets", json::array{cidr.c_str()}}}}});
  }
  for (const auto& ns : options.allow_namespaces) {
    rules.push_back(
        json::object{{"action", "Allow"}, {peer, json::object{{"namespaceSelector", calico_namespace(ns)}}}});
  }
  if (egress && options.allow_dns) {
    for (const char* protocol : {"UDP", "TCP"}) {
      rules.push_back(
          json::object{{"action", "Allow"},
                       {"protocol", protocol},
                       {"destination", json::object{{"namespaceSelector", calico_namespace("kube-system")},
                                                    {"selector", "k8s-app == 'kube-dns'"},
                                                    {"ports", json::array{53}}}}});
    }
  }
  return rules;
}

}  // namespace

const k8s::Resource& cni_resource(Cni cni) {
  return cni == Cni::cilium ? resources::cilium_network_policies : resources::calico_network_policies;
}

std::string_view cni_name(Cni cni) {
  switch (cni) {
    case Cni::cilium:
      return "cilium";
    case Cni::calico:
      return "calico";
    case Cni::none:
      break;
  }
  return "";
}

std::string cni_policy_name(const Options& options, Cni cni) {
  // Calico's datastore (libcalico-go names.TieredPolicyName) keeps a policy
  // of the default tier as "default.<name>".
  return cni == Cni::calico ? "default." + policy_name(options) : policy_name(options);
}

json::object build_cilium_policy(const Options& options) {
  json::object spec{{"description", "irsteps quarantine of incident " + options.incident_id},
                    {"endpointSelector",
                     json::object{{"matchLabels", json::object{{quarantine_label, options.incident_id}}}}}};
  if (options.deny_cidrs.empty()) {
    // Deny rules win over every allow rule of any policy (Cilium's "Deny
    // Policies"); the entity "all" is every peer, in and out of the cluster.
    spec["ingressDeny"] = json::array{json::object{{"fromEntities", json::array{"all"}}}};
    spec["egressDeny"] = json::array{json::object{{"toEntities", json::array{"all"}}}};
  } else {
    spec["ingressDeny"] = json::array{json::object{{"fromCIDRSet", cidr_set(options.deny_cidrs)}}};
    spec["egressDeny"] = json::array{json::object{{"toCIDRSet", cidr_set(options.deny_cidrs)}}};
    // A policy with rules puts its endpoints in default-deny for that
    // direction; blocking one address must leave the rest open.
    spec["enableDefaultDeny"] = json::object{{"ingress", false}, {"egress", false}};
  }
  return {{"apiVersion", resources::cilium_network_policies.api_version()},
          {"kind", "CiliumNetworkPolicy"},
          {"metadata", metadata_of(options, cni_policy_name(options, Cni::cilium))},
          {"spec", std::move(spec)}};
}

json::object build_calico_policy(const Options& options) {
  json::array ingress;
  json::array egress;
  if (!options.deny_cidrs.empty()) {
    // No rule matches the rest: Calico goes on to the next policy, the
    // NetworkPolicy beside this one, which allows it.
    ingress.push_back(
        json::object{{"action", "Deny"}, {"source", json::object{{"nets", strings(options.deny_cidrs)}}}});
    egress.push_back(json::object{{"action", "Deny"},
                                  {"destination", json::object{{"nets", strings(options.deny_cidrs)}}}});
  } else {
    ingress = calico_allowances(options, "source", false);
    egress = calico_allowances(options, "destination", true);
    ingress.push_back(json::object{{"action", "Deny"}});
    egress.push_back(json::object{{"action", "Deny"}});
  }
  // Order 0 puts it before every policy of the default tier that has a
  // higher order or none (Kubernetes NetworkPolicies are 1000 there), so its
  // Deny decides first.
  json::object spec{{"tier", "default"},
                    {"order", 0},
                    {"selector", std::string(quarantine_label) + " == '" + options.incident_id + "'"},
                    {"types", json::array{"Ingress", "Egress"}},
                    {"ingress", std::move(ingress)},
                    {"egress", std::move(egress)}};
  return {{"apiVersion", resources::calico_network_policies.api_version()},
          {"kind", "NetworkPolicy"},
          {"metadata", metadata_of(options, cni_policy_name(options, Cni::calico))},
          {"spec", std::move(spec)}};
}

Result<Cni> choose_cni(const Options& options, const CniSeen& seen, std::vector<std::string>& notes) {
  const std::string missing = " is not served by this cluster (its CRD is not installed)";
  switch (options.enforcement) {
    case Enforcement::kubernetes:
      return Cni::none;
    case Enforcement::cilium:
      if (!seen.cilium_served)
        return Error(Code::invalid_input,
                     "enforcement: cilium: CiliumNetworkPolicy (cilium.io/v2)" + missing);
      if (allows_something(options))
        return Error(
            Code::invalid_input,
            "enforcement: cilium: Cilium's deny rules override every allow, so --allow-dns, "
            "--allow-cidr and --allow-namespace cannot hold; use --enforcement calico or kubernetes");
      return Cni::cilium;
    case Enforcement::calico:
      if (!seen.calico_served)
        return Error(Code::invalid_input,
                     "enforcement: calico: NetworkPolicy (crd.projectcalico.org/v1)" + missing);
      return Cni::calico;
    case Enforcement::auto_detect:
      break;
  }
  for (const Cni cni : {Cni::cilium, Cni::calico}) {
    const bool served = cni == Cni::cilium ? seen.cilium_served : seen.calico_served;
    if (!served) continue;
    const std::string name(cni_name(cni));
    if (!has_agent(cni, seen)) {
      notes.push_back("the " + name + " policy API is served but no " + name +
                      " agent DaemonSet was found: no " + name + " deny policy is written (--enforcement " +
                      name + " writes it anyway)");
      continue;
    }
    if (cni == Cni::cilium && allows_something(options)) {
      notes.push_back(
          "Cilium was found, but its deny rules would override --allow-*: only the Kubernetes "
          "NetworkPolicy is written, which another allow policy can defeat");
      continue;
    }
    return cni;
  }
  return Cni::none;
}

Result<bool> serves(k8s::Client& client, const k8s::Resource& resource) {
  auto response = client.raw("GET", "/apis/" + resource.api_version());
  if (!response) return response.error().with("discover whether the cluster serves " + resource.kind);
  if (response->status == 404) return false;
  if (response->status < 200 || response->status >= 300) {
    return k8s::error_from_response(*response, "discover whether the cluster serves " + resource.kind);
  }
  auto document = parse_json(response->body, "discovery of " + resource.api_version());
  if (!document) return document.error();
  const auto* listed = find(*document, {"resources"});
  if (listed == nullptr || !listed->is_array()) return false;
  return std::any_of(listed->get_array().begin(), listed->get_array().end(),
                     [&](const json::value& item) { return string_at(item, {"name"}) == resource.plural; });
}

}  // namespace ir::steps::isolate
