// Who could, against a live cluster: the RBAC snapshot, the pods behind each
// ServiceAccount, and the SubjectAccessReview cross-check.
#pragma once

#include "rbac.hpp"

#include "ir/k8s/client.hpp"

#include <string>
#include <vector>

namespace ir::steps::access_audit {

struct Disagreement {
  SubjectRef subject;
  std::string verb;
  bool rbac = false;        // what the resolution here says
  bool api_server = false;  // what the SubjectAccessReview says
};

struct Stats {
  int reviews = 0;
};

// ClusterRoles and ClusterRoleBindings; Roles and RoleBindings of the
// target's namespace (no other namespace's can grant on it).
[[nodiscard]] Result<RbacSnapshot> load_rbac(k8s::Client& client, const Target& target);
[[nodiscard]] Result<void> add_pods(k8s::Client& client, std::vector<SubjectAccess>& subjects);
// Subjects not found, to check that the API server denies them too: other
// ServiceAccounts of the namespace, a user and a group bound to nothing.
[[nodiscard]] Result<std::vector<SubjectRef>> sample_not_found(k8s::Client& client, const Target& target,
                                                               const std::vector<SubjectAccess>& found,
                                                               int count);
// One review per subject and verb; every answer that differs from RBAC's
// resolution here is returned.
[[nodiscard]] Result<std::vector<Disagreement>> check_with_api_server(
    k8s::Client& client, const RbacSnapshot& rbac, const Target& target,
    const std::vector<std::string>& verbs, const std::vector<SubjectAccess>& found,
    const std::vector<SubjectRef>& sample, Stats& stats);

}  // namespace ir::steps::access_audit
