// The objects isolate writes: the NetworkPolicy and the Events.
#include "isolate.hpp"

#include "ir/k8s/event.hpp"

#include "ir/core/encoding.hpp"
#include "ir/core/time.hpp"

#include <boost/json/serialize.hpp>

#include <algorithm>
#include <cctype>

namespace ir::steps::isolate {
namespace {

using k8s::bounded_name;

std::string lower(std::string_view text) {
  return k8s::lower_ascii(text);
}

json::object peer_namespace(const std::string& ns) {
  return {{"namespaceSelector",
           json::object{{"matchLabels", json::object{{"kubernetes.io/metadata.name", ns}}}}}};
}

json::object peer_cidr(const std::string& cidr, const std::vector<std::string>& except = {}) {
  json::object block{{"cidr", cidr}};
  if (!except.empty()) {
    json::array list;
    for (const auto& e : except) list.emplace_back(e);
    block["except"] = std::move(list);
  }
  return {{"ipBlock", std::move(block)}};
}

}  // namespace

std::string policy_name(const Options& options) {
  return bounded_name("irsteps-isolate-" + lower(options.incident_id), 253);
}

std::string policy_name(const Options& options, const Workload& workload) {
  return bounded_name("irsteps-isolate-" + lower(options.incident_id) + "-" + lower(workload.resource.kind) +
                          "-" + workload.name,
                      253);
}

json::object build_policy(const Options& options, const std::string& name, const json::object& pod_selector) {
  json::array ingress;
  json::array egress;
  if (!options.deny_cidrs.empty()) {
    // Block only the attacker: everything else stays allowed.
    std::vector<std::string> v4, v6;
    for (const auto& cidr : options.deny_cidrs)
      (cidr.find(':') == std::string::npos ? v4 : v6).push_back(cidr);
    json::array from;
    if (!v4.empty() || v6.empty()) from.push_back(peer_cidr("0.0.0.0/0", v4));
    if (!v6.empty()) from.push_back(peer_cidr("::/0", v6));
    // Pods of the cluster are reached through namespace selectors, which
    // ipBlock does not cover reliably on every network plugin.
    from.push_back(json::object{{"namespaceSelector", json::object{}}});
    ingress.push_back(json::object{{"from", from}});
    egress.push_back(json::object{{"to", from}});
  }
  for (const auto& cidr : options.allow_cidrs) {
    ingress.push_back(json::object{{"from", json::array{peer_cidr(cidr)}}});
    egress.push_back(json::object{{"to", json::array{peer_cidr(cidr)}}});
  }
  for (const auto& ns : options.allow_namespaces) {
    ingress.push_back(json::object{{"from", json::array{peer_namespace(ns)}}});
    egress.push_back(json::object{{"to", json::array{peer_namespace(ns)}}});
  }
  if (options.allow_dns) {
    json::object dns_peer = peer_namespace("kube-system");
    dns_peer["podSelector"] = json::object{{"matchLabels", json::object{{"k8s-app", "kube-dns"}}}};
    egress.push_back(json::object{{"to", json::array{dns_peer}},
                                  {"ports", json::array{json::object{{"protocol", "UDP"}, {"port", 53}},
                                                        json::object{{"protocol", "TCP"}, {"port", 53}}}}});
  }
  json::object spec{{"podSelector", pod_selector},
                    {"policyTypes", json::array{"Ingress", "Egress"}},
                    {"ingress", std::move(ingress)},
                    {"egress", std::move(egress)}};
  json::object metadata{
      {"name", name},
      {"namespace", options.ns},
      {"labels", json::object{{incident_label, options.incident_id}, {managed_by_label, "irsteps"}}},
      {"annotations", json::object{{"irsteps.io/step", "isolate"},
                                   {"irsteps.io/purpose",
                                    "quarantine of compromised pods for incident " + options.incident_id}}}};
  return {{"apiVersion", "networking.k8s.io/v1"},
          {"kind", "NetworkPolicy"},
          {"metadata", std::move(metadata)},
          {"spec", std::move(spec)}};
}

json::object build_event(const Options& options, const json::object& pod, std::string_view reason,
                         std::string message) {
  return k8s::build_event(
      {.involved = k8s::reference_of(k8s::resources::pods, options.ns, string_at(pod, {"metadata", "name"}),
                                     string_at(pod, {"metadata", "uid"})),
       .ns = options.ns,
       .step = "isolate",
       .incident_id = options.incident_id,
       .reason = std::string(reason),
       .message = std::move(message)});
}

}  // namespace ir::steps::isolate

namespace ir::steps::isolate {

std::vector<std::string> isolated_pods(const json::object& policy) {
  std::vector<std::string> names;
  const std::string text = string_at(policy, {"metadata", "annotations", isolated_pods_annotation});
  if (text.empty()) return names;
  auto parsed = parse_json(text, "annotation");
  if (!parsed || !parsed->is_array()) return names;
  for (const auto& item : parsed->get_array()) {
    if (item.is_string()) names.emplace_back(item.get_string());
  }
  return names;
}

void set_isolated_pods(json::object& policy, const std::vector<std::string>& names) {
  json::array list;
  for (const auto& name : names) list.emplace_back(name);
  policy["metadata"].as_object()["annotations"].as_object()[isolated_pods_annotation] =
      boost::json::serialize(list);
}

std::optional<Handled> find_handled(const json::array& policies, const std::string& pod) {
  for (const auto& item : policies) {
    if (!item.is_object()) continue;
    const auto& policy = item.get_object();
    if (string_at(policy, {"metadata", "labels", managed_by_label}) != "irsteps") continue;
    const std::string incident = string_at(policy, {"metadata", "labels", incident_label});
    if (incident.empty()) continue;
    const auto names = isolated_pods(policy);
    if (std::find(names.begin(), names.end(), pod) != names.end()) {
      return Handled{incident, string_at(policy, {"metadata", "name"})};
    }
  }
  return std::nullopt;
}

}  // namespace ir::steps::isolate
