// What still reaches a quarantined pod. NetworkPolicies only add allowances:
// a pod selected by any policy is limited to the union of what they all
// allow, so another policy that allows traffic to the same pod defeats the
// quarantine's deny-all (security review finding 3). And a Service whose
// selector still picks a detached pod still sends it traffic.
#include "isolate.hpp"

#include "ir/k8s/client.hpp"

#include <boost/json/serialize.hpp>

#include <algorithm>

namespace ir::steps::isolate {
namespace {

std::string name_of(const json::value& object) {
  return string_at(object, {"metadata", "name"});
}

json::object labels_of(const json::object& pod) {
  const auto* labels = find(pod, {"metadata", "labels"});
  return labels != nullptr && labels->is_object() ? labels->get_object() : json::object{};
}

std::string selector_text(const json::value* selector) {
  if (selector == nullptr || !selector->is_object()) return "";
  const std::string text = k8s::selector_string(selector->get_object());
  return text.empty() ? "all" : text;
}

// One peer of a rule, as a person reads it.
std::string describe_peer(const json::value& peer) {
  if (const auto* block = find(peer, {"ipBlock", "cidr"}); block != nullptr && block->is_string()) {
    std::string text = "ipBlock " + std::string(block->get_string());
    if (const auto* except = find(peer, {"ipBlock", "except"}); except != nullptr) {
      text += " except " + boost::json::serialize(*except);
    }
    return text;
  }
  const auto* namespaces = find(peer, {"namespaceSelector"});
  const auto* pods = find(peer, {"podSelector"});
  std::string text;
  if (namespaces != nullptr) text += "namespaces(" + selector_text(namespaces) + ")";
  if (pods != nullptr) text += std::string(text.empty() ? "" : " ") + "pods(" + selector_text(pods) + ")";
  return text.empty() ? "any peer" : text;
}

std::string describe_ports(const json::value& rule) {
  const auto* ports = find(rule, {"ports"});
  if (ports == nullptr || !ports->is_array() || ports->get_array().empty()) return "all ports";
  std::string text;
  for (const auto& port : ports->get_array()) {
    const auto* number = find(port, {"port"});
    text += (text.empty() ? "" : ",") +
            (number == nullptr     ? std::string("all")
             : number->is_string() ? std::string(number->get_string())
                                   : boost::json::serialize(*number)) +
            "/" + string_at(port, {"protocol"}, "TCP");
  }
  return text;
}

// The rules of one direction a policy applies, or none when it does not
// govern that direction. policyTypes absent: Ingress always, Egress when the
// policy has egress rules (networking.k8s.io/v1 NetworkPolicySpec).
const json::array* rules_of(const json::object& policy, std::string_view direction) {
  const auto* types = find(policy, {"spec", "policyTypes"});
  bool applies = false;
  if (types != nullptr && types->is_array() && !types->get_array().empty()) {
    for (const auto& type : types->get_array())
      applies = applies || (type.is_string() && type.get_string() == direction);
  } else {
    applies = direction == "Ingress" || find(policy, {"spec", "egress"}) != nullptr;
  }
  if (!applies) return nullptr;
  const auto* rules = find(policy, {"spec", direction == "Ingress" ? "ingress" : "egress"});
  return rules != nullptr && rules->is_array() ? &rules->get_array() : nullptr;
}

}  // namespace

std::vector<OpenPath> open_paths(const json::array& policies, const std::vector<std::string>& ours,
                                 const std::vector<json::object>& pods) {
  std::vector<OpenPath> paths;
  for (const auto& item : policies) {
    if (!item.is_object()) continue;
    const json::object& policy = item.get_object();
    const std::string name = name_of(item);
    if (std::find(ours.begin(), ours.end(), name) != ours.end()) continue;
    const auto* selector = find(policy, {"spec", "podSelector"});
    if (selector == nullptr || !selector->is_object()) continue;
    std::string selected;
    for (const auto& pod : pods) {
      if (k8s::selector_matches(selector->get_object(), labels_of(pod))) {
        selected += (selected.empty() ? "" : ",") + string_at(pod, {"metadata", "name"});
      }
    }
    if (selected.empty()) continue;
    for (const std::string_view direction : {"Ingress", "Egress"}) {
      const auto* rules = rules_of(policy, direction);
      if (rules == nullptr) continue;
      const char* peers_key = direction == "Ingress" ? "from" : "to";
      for (const auto& rule : *rules) {
        const auto* peers = find(rule, {peers_key});
        std::string peer_text;
        if (peers == nullptr || !peers->is_array() || peers->get_array().empty()) {
          peer_text = "any peer";
        } else {
          for (const auto& peer : peers->get_array()) {
            peer_text += (peer_text.empty() ? "" : "; ") + describe_peer(peer);
          }
        }
        paths.push_back({name, std::string(direction), peer_text + " on " + describe_ports(rule), selected});
      }
    }
  }
  return paths;
}

std::vector<std::string> services_still_selecting(const json::array& services,
                                                  const std::vector<json::object>& pods) {
  std::vector<std::string> found;
  for (const auto& service : services) {
    const auto* selector = find(service, {"spec", "selector"});
    if (selector == nullptr || !selector->is_object() || selector->get_object().empty()) continue;
    for (const auto& pod : pods) {
      const json::object labels = labels_of(pod);
      bool selects = true;
      for (const auto& entry : selector->get_object()) {
        const auto* value = labels.if_contains(entry.key());
        selects = selects && value != nullptr && *value == entry.value();
      }
      if (selects)
        found.push_back("Service " + name_of(service) + " still selects pod " + name_of(json::value(pod)));
    }
  }
  return found;
}

}  // namespace ir::steps::isolate
