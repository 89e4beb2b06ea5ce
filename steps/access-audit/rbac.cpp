#include "rbac.hpp"

#include <boost/json/serialize.hpp>

#include <algorithm>
#include <functional>
#include <map>
#include <set>

namespace ir::steps::access_audit {
namespace {

std::vector<std::string> strings_of(const json::object& object, std::string_view key) {
  std::vector<std::string> values;
  if (const auto* array = object.if_contains(key); array != nullptr && array->is_array()) {
    for (const auto& item : array->get_array()) {
      if (item.is_string()) values.emplace_back(item.get_string());
    }
  }
  return values;
}

bool contains(const std::vector<std::string>& values, std::string_view value) {
  return std::find(values.begin(), values.end(), value) != values.end();
}

// A rule of a role, and the ClusterRole it came from when aggregated.
struct RuleRef {
  const json::object* rule;
  std::string aggregated_from;
};

struct RuleMatch {
  std::vector<std::string> verbs;
  std::vector<std::string> wildcards;
  bool by_resource_name = false;
};

// rbac.RuleAllows: API group, resource (with subresource), verb, resourceNames.
RuleMatch match_rule(const json::object& rule, const Target& target, const std::vector<std::string>& verbs) {
  RuleMatch match;
  const auto groups = strings_of(rule, "apiGroups");
  const auto resources = strings_of(rule, "resources");
  const auto rule_verbs = strings_of(rule, "verbs");
  const auto names = strings_of(rule, "resourceNames");
  if (!contains(groups, "*") && !contains(groups, target.group)) return match;
  const std::string combined =
      target.subresource.empty() ? target.resource : target.resource + "/" + target.subresource;
  const bool resource_ok = contains(resources, "*") || contains(resources, combined) ||
                           (!target.subresource.empty() && contains(resources, "*/" + target.subresource));
  if (!resource_ok) return match;
  if (!names.empty() && !contains(names, target.name)) return match;
  for (const auto& verb : verbs) {
    if (contains(rule_verbs, "*") || contains(rule_verbs, verb)) match.verbs.push_back(verb);
  }
  if (contains(rule_verbs, "*")) match.wildcards.emplace_back("verbs");
  if (contains(resources, "*")) match.wildcards.emplace_back("resources");
  if (contains(groups, "*")) match.wildcards.emplace_back("apiGroups");
  match.by_resource_name = !names.empty();
  return match;
}

class Resolver {
 public:
  explicit Resolver(const RbacSnapshot& rbac) : rbac_(rbac) {
    for (const auto& role : rbac.cluster_roles) {
      if (role.is_object()) cluster_roles_[string_at(role, {"metadata", "name"})] = &role.get_object();
    }
  }

  // Calls `on_grant` for each subject of each binding that applies to the
  // target with a rule granting at least one of `verbs`.
  void for_each_grant(const Target& target, const std::vector<std::string>& verbs,
                      const std::function<void(const SubjectRef&, Grant)>& on_grant) const {
    for (const auto& binding : rbac_.cluster_role_bindings) {
      if (binding.is_object()) visit(binding.get_object(), "ClusterRoleBinding", target, verbs, on_grant);
    }
    // RoleBindings grant only inside their namespace, never on cluster-scoped objects.
    if (target.ns.empty()) return;
    for (const auto& binding : rbac_.role_bindings) {
      if (binding.is_object() && string_at(binding, {"metadata", "namespace"}) == target.ns) {
        visit(binding.get_object(), "RoleBinding", target, verbs, on_grant);
      }
    }
  }

 private:
  std::vector<RuleRef> rules_of(const std::string& kind, const std::string& name,
                                const std::string& ns) const {
    std::vector<RuleRef> rules;
    if (kind == "Role") {
      for (const auto& role : rbac_.roles) {
        if (role.is_object() && string_at(role, {"metadata", "name"}) == name &&
            string_at(role, {"metadata", "namespace"}) == ns) {
          add_own_rules(role.get_object(), {}, rules);
        }
      }
      return rules;
    }
    const auto found = cluster_roles_.find(name);
    if (found == cluster_roles_.end()) return rules;
    const json::object& role = *found->second;
    // The controller copies the selected roles' rules into .rules; resolve
    // the selectors too, so that the chain names where each rule comes from
    // and a role the controller has not caught up with is still right.
    std::set<std::string> aggregated;
    if (const auto* selectors = find(role, {"aggregationRule", "clusterRoleSelectors"});
        selectors != nullptr && selectors->is_array()) {
      for (const auto& [other_name, other] : cluster_roles_) {
        if (other_name == name) continue;
        const json::value* labels = find(*other, {"metadata", "labels"});
        const json::object no_labels;
        const json::object& label_map =
            labels != nullptr && labels->is_object() ? labels->get_object() : no_labels;
        for (const auto& selector : selectors->get_array()) {
          if (selector.is_object() && selector_matches(selector.get_object(), label_map)) {
            add_own_rules(*other, other_name, rules);
            break;
          }
        }
      }
      for (const auto& ref : rules) aggregated.insert(boost::json::serialize(*ref.rule));
    }
    if (const auto* own = role.if_contains("rules"); own != nullptr && own->is_array()) {
      for (const auto& rule : own->get_array()) {
        if (rule.is_object() && aggregated.count(boost::json::serialize(rule)) == 0) {
          rules.push_back({&rule.get_object(), {}});
        }
      }
    }
    return rules;
  }

  static void add_own_rules(const json::object& role, const std::string& from, std::vector<RuleRef>& rules) {
    if (const auto* own = role.if_contains("rules"); own != nullptr && own->is_array()) {
      for (const auto& rule : own->get_array()) {
        if (rule.is_object()) rules.push_back({&rule.get_object(), from});
      }
    }
  }

  void visit(const json::object& binding, const std::string& binding_kind, const Target& target,
             const std::vector<std::string>& verbs,
             const std::function<void(const SubjectRef&, Grant)>& on_grant) const {
    const std::string binding_ns = string_at(binding, {"metadata", "namespace"});
    const std::string role_kind = string_at(binding, {"roleRef", "kind"});
    const std::string role_name = string_at(binding, {"roleRef", "name"});
    if (binding_kind == "ClusterRoleBinding" && role_kind != "ClusterRole") return;
    const auto* subjects = binding.if_contains("subjects");
    if (subjects == nullptr || !subjects->is_array() || subjects->get_array().empty()) return;
    for (const auto& ref : rules_of(role_kind, role_name, binding_ns)) {
      auto match = match_rule(*ref.rule, target, verbs);
      if (match.verbs.empty()) continue;
      Grant grant{binding_kind,
                  string_at(binding, {"metadata", "name"}),
                  binding_ns,
                  role_kind,
                  role_name,
                  ref.aggregated_from,
                  std::move(match.verbs),
                  std::move(match.wildcards),
                  match.by_resource_name,
                  {},
                  *ref.rule};
      for (const auto& subject : subjects->get_array()) {
        SubjectRef who{string_at(subject, {"kind"}), string_at(subject, {"name"}), {}};
        if (who.kind == "ServiceAccount") {
          who.ns = string_at(subject, {"namespace"});
          if (who.ns.empty()) who.ns = binding_ns;  // as RBAC's appliesToUser does
        }
        on_grant(who, grant);
      }
    }
  }

  const RbacSnapshot& rbac_;
  std::map<std::string, const json::object*> cluster_roles_;
};

bool broad_group(std::string_view name) {
  return name == "system:authenticated" || name == "system:unauthenticated" ||
         name == "system:serviceaccounts" || name.starts_with("system:serviceaccounts:");
}

void add_flag(std::vector<std::string>& flags, std::string flag) {
  if (!contains(flags, flag)) flags.push_back(std::move(flag));
}

void finish_flags(SubjectAccess& access) {
  if (access.subject.kind == "Group" && access.subject.name == superuser_group)
    add_flag(access.flags, "superuser");
  if (access.subject.kind == "Group" && broad_group(access.subject.name))
    add_flag(access.flags, "broad-group");
  for (const auto& grant : access.grants) {
    if (grant.wildcards.size() == 3) add_flag(access.flags, "cluster-admin-like");
    if (!grant.wildcards.empty()) add_flag(access.flags, "wildcard");
  }
}

bool applies_to(const SubjectRef& subject, const Identity& identity) {
  if (subject.kind == "User") return subject.name == identity.user;
  if (subject.kind == "Group") return contains(identity.groups, subject.name);
  if (subject.kind == "ServiceAccount") {
    return identity.user == "system:serviceaccount:" + subject.ns + ":" + subject.name;
  }
  return false;
}

json::array string_array(const std::vector<std::string>& values) {
  json::array array;
  for (const auto& value : values) array.emplace_back(value);
  return array;
}

}  // namespace

std::string describe(const SubjectRef& subject) {
  return subject.kind + " " + (subject.ns.empty() ? "" : subject.ns + "/") + subject.name;
}

std::vector<SubjectAccess> who_can(const RbacSnapshot& rbac, const Target& target,
                                   const std::vector<std::string>& verbs) {
  std::map<SubjectRef, SubjectAccess> found;
  Resolver(rbac).for_each_grant(target, verbs, [&](const SubjectRef& subject, Grant grant) {
    auto& access = found[subject];
    access.subject = subject;
    access.grants.push_back(std::move(grant));
  });
  Grant superuser;
  superuser.verbs = verbs;
  superuser.note = "system:masters is allowed everything by the API server before RBAC is consulted";
  auto& masters = found[SubjectRef{"Group", std::string(superuser_group), {}}];
  masters.subject = SubjectRef{"Group", std::string(superuser_group), {}};
  masters.grants.insert(masters.grants.begin(), std::move(superuser));

  std::vector<SubjectAccess> result;
  for (auto& [subject, access] : found) {
    for (const auto& verb : verbs) {
      const bool granted = std::any_of(access.grants.begin(), access.grants.end(),
                                       [&](const Grant& g) { return contains(g.verbs, verb); });
      if (granted) access.verbs.push_back(verb);
    }
    finish_flags(access);
    result.push_back(std::move(access));
  }
  return result;
}

Identity identity_of(const SubjectRef& subject) {
  if (subject.kind == "ServiceAccount") {
    return {"system:serviceaccount:" + subject.ns + ":" + subject.name,
            {"system:serviceaccounts", "system:serviceaccounts:" + subject.ns, "system:authenticated"}};
  }
  if (subject.kind == "Group") return {{}, {subject.name}};
  return {subject.name, {}};
}

bool rbac_allows(const RbacSnapshot& rbac, const Target& target, std::string_view verb,
                 const Identity& identity) {
  if (contains(identity.groups, superuser_group)) return true;
  bool allowed = false;
  Resolver(rbac).for_each_grant(target, {std::string(verb)}, [&](const SubjectRef& subject, const Grant&) {
    allowed = allowed || applies_to(subject, identity);
  });
  return allowed;
}

json::object access_review(const Identity& identity, const Target& target, std::string_view verb) {
  json::object attributes{{"verb", verb}, {"group", target.group}, {"resource", target.resource}};
  if (!target.ns.empty()) attributes["namespace"] = target.ns;
  if (!target.subresource.empty()) attributes["subresource"] = target.subresource;
  if (!target.name.empty()) attributes["name"] = target.name;
  json::object spec{{"resourceAttributes", std::move(attributes)}};
  if (!identity.user.empty()) spec["user"] = identity.user;
  if (!identity.groups.empty()) spec["groups"] = string_array(identity.groups);
  return {
      {"apiVersion", "authorization.k8s.io/v1"}, {"kind", "SubjectAccessReview"}, {"spec", std::move(spec)}};
}

json::object to_json(const SubjectAccess& access) {
  json::object subject{{"kind", access.subject.kind}, {"name", access.subject.name}};
  if (!access.subject.ns.empty()) subject["namespace"] = access.subject.ns;
  json::array chain;
  for (const auto& grant : access.grants) {
    json::object link;
    if (!grant.binding_kind.empty()) {
      json::object binding{{"kind", grant.binding_kind}, {"name", grant.binding_name}};
      if (!grant.binding_ns.empty()) binding["namespace"] = grant.binding_ns;
      link["binding"] = std::move(binding);
      link["role"] = json::object{{"kind", grant.role_kind}, {"name", grant.role_name}};
      if (!grant.aggregated_from.empty()) link["aggregatedFrom"] = grant.aggregated_from;
      link["rule"] = grant.rule;
    }
    link["verbs"] = string_array(grant.verbs);
    if (!grant.wildcards.empty()) link["wildcards"] = string_array(grant.wildcards);
    if (grant.by_resource_name) link["byResourceName"] = true;
    if (!grant.note.empty()) link["note"] = grant.note;
    chain.push_back(std::move(link));
  }
  json::object out{
      {"subject", std::move(subject)}, {"verbs", string_array(access.verbs)}, {"chain", std::move(chain)}};
  if (!access.flags.empty()) out["flags"] = string_array(access.flags);
  if (access.subject.kind == "ServiceAccount") out["pods"] = string_array(access.pods);
  return out;
}

}  // namespace ir::steps::access_audit
