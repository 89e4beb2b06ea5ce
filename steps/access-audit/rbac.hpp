// Who could: RBAC resolution in memory, the same way the API server's RBAC
// authorizer decides (kubernetes/plugin/pkg/auth/authorizer/rbac), over a
// snapshot of Roles, ClusterRoles (aggregation rules resolved here too),
// RoleBindings and ClusterRoleBindings. No I/O: the step lists the objects,
// the tests build them by hand.
#pragma once

#include "ir/core/json.hpp"
#include "ir/k8s/client.hpp"

#include <compare>
#include <string>
#include <string_view>
#include <vector>

namespace ir::steps::access_audit {

// One object or a whole collection: `name` empty means every object of the
// resource in `ns` (all namespaces when `ns` is empty and the resource is
// namespaced, the cluster-scoped objects otherwise).
struct Target {
  std::string group;  // "" for the core group
  std::string resource;
  std::string subresource;
  std::string ns;
  std::string name;
};

struct SubjectRef {
  std::string kind;  // User, Group, ServiceAccount
  std::string name;
  std::string ns;  // ServiceAccount only
  auto operator<=>(const SubjectRef&) const = default;
};

// "ServiceAccount shop/web", "User alice", "Group auditors".
[[nodiscard]] std::string describe(const SubjectRef& subject);

// One link of a chain: this binding gives this role, whose rule (perhaps
// aggregated from another ClusterRole) grants these of the requested verbs.
struct Grant {
  std::string binding_kind;  // RoleBinding, ClusterRoleBinding; empty for the superuser group
  std::string binding_name;
  std::string binding_ns;
  std::string role_kind;
  std::string role_name;
  std::string aggregated_from;  // the ClusterRole whose rule this is, via aggregationRule
  std::vector<std::string> verbs;
  std::vector<std::string> wildcards;  // "verbs", "resources", "apiGroups" where the rule says "*"
  bool by_resource_name = false;       // the rule is limited to resourceNames
  std::string note;
  json::object rule;
};

struct SubjectAccess {
  SubjectRef subject;
  std::vector<std::string> verbs;  // union over the grants, in the requested order
  std::vector<Grant> grants;
  // superuser (system:masters), broad-group (everyone, every service
  // account...), cluster-admin-like (all verbs on all resources), wildcard.
  std::vector<std::string> flags;
  std::vector<std::string> pods;  // ServiceAccounts: the pods that run as it (filled in by the step)
};

struct RbacSnapshot {
  json::array roles;
  json::array cluster_roles;
  json::array role_bindings;
  json::array cluster_role_bindings;
};

inline constexpr std::string_view superuser_group = "system:masters";

// Every subject that bindings allow at least one of `verbs` on the target,
// sorted by kind and name, plus the superuser group (the API server allows
// it everything before RBAC is asked).
[[nodiscard]] std::vector<SubjectAccess> who_can(const RbacSnapshot& rbac, const Target& target,
                                                 const std::vector<std::string>& verbs);

// The identity a SubjectAccessReview asks about for a subject: a
// ServiceAccount's user name and the groups its tokens carry.
struct Identity {
  std::string user;
  std::vector<std::string> groups;
};
[[nodiscard]] Identity identity_of(const SubjectRef& subject);

// RBAC's own decision for one identity (superuser group included).
[[nodiscard]] bool rbac_allows(const RbacSnapshot& rbac, const Target& target, std::string_view verb,
                               const Identity& identity);

// The SubjectAccessReview (authorization.k8s.io/v1) that asks the same.
[[nodiscard]] json::object access_review(const Identity& identity, const Target& target,
                                         std::string_view verb);

using k8s::selector_matches;
[[nodiscard]] json::object to_json(const SubjectAccess& access);

}  // namespace ir::steps::access_audit
