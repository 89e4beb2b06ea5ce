// Who could: the RBAC objects listed from the cluster, resolved in memory,
// the pods behind each ServiceAccount, and every answer checked against the
// API server's own SubjectAccessReview.
#include "who_could.hpp"

#include "ir/core/log.hpp"

#include <algorithm>

namespace ir::steps::access_audit {
namespace {

Result<json::array> items(k8s::Client& client, const k8s::Resource& resource, std::string_view ns) {
  auto listed = client.list(resource, ns);
  if (!listed) return listed.error().with("list " + resource.plural);
  auto* array = listed->if_contains("items");
  if (array == nullptr || !array->is_array()) return json::array();
  return std::move(array->get_array());
}

Result<bool> server_allows(k8s::Client& client, const Identity& identity, const Target& target,
                           std::string_view verb) {
  auto review =
      client.create(k8s::resources::subjectaccessreviews, {}, access_review(identity, target, verb));
  if (!review) return review.error().with("SubjectAccessReview");
  const auto* allowed = find(*review, {"status", "allowed"});
  return allowed != nullptr && allowed->is_bool() && allowed->get_bool();
}

std::string identity_text(const Identity& identity) {
  std::string text = identity.user.empty() ? "(no user)" : identity.user;
  if (!identity.groups.empty()) {
    text += " in groups ";
    for (std::size_t i = 0; i < identity.groups.size(); ++i) text += (i ? "," : "") + identity.groups[i];
  }
  return text;
}

}  // namespace

Result<RbacSnapshot> load_rbac(k8s::Client& client, const Target& target) {
  RbacSnapshot rbac;
  auto cluster_roles = items(client, k8s::resources::clusterroles, {});
  if (!cluster_roles) return cluster_roles.error();
  rbac.cluster_roles = std::move(*cluster_roles);
  auto cluster_bindings = items(client, k8s::resources::clusterrolebindings, {});
  if (!cluster_bindings) return cluster_bindings.error();
  rbac.cluster_role_bindings = std::move(*cluster_bindings);
  // Roles and RoleBindings only count in the object's own namespace.
  if (!target.ns.empty()) {
    auto roles = items(client, k8s::resources::roles, target.ns);
    if (!roles) return roles.error();
    rbac.roles = std::move(*roles);
    auto bindings = items(client, k8s::resources::rolebindings, target.ns);
    if (!bindings) return bindings.error();
    rbac.role_bindings = std::move(*bindings);
  }
  return rbac;
}

Result<void> add_pods(k8s::Client& client, std::vector<SubjectAccess>& subjects) {
  for (auto& access : subjects) {
    if (access.subject.kind != "ServiceAccount") continue;
    k8s::ListOptions options;
    options.field_selector = "spec.serviceAccountName=" + access.subject.name;
    auto listed = client.list(k8s::resources::pods, access.subject.ns, options);
    if (!listed) return listed.error().with("pods of " + describe(access.subject));
    for (const auto& pod : listed->at("items").as_array()) {
      access.pods.push_back(string_at(pod, {"metadata", "name"}));
    }
  }
  return {};
}

Result<std::vector<Disagreement>> check_with_api_server(k8s::Client& client, const RbacSnapshot& rbac,
                                                        const Target& target,
                                                        const std::vector<std::string>& verbs,
                                                        const std::vector<SubjectAccess>& found,
                                                        const std::vector<SubjectRef>& sample, Stats& stats) {
  std::vector<Disagreement> disagreements;
  auto check = [&](const SubjectRef& subject) -> Result<void> {
    const Identity identity = identity_of(subject);
    for (const auto& verb : verbs) {
      const bool expected = rbac_allows(rbac, target, verb, identity);
      auto actual = server_allows(client, identity, target, verb);
      if (!actual) return actual.error();
      ++stats.reviews;
      if (expected != *actual) {
        disagreements.push_back({subject, verb, expected, *actual});
        log::warn("access-audit.disagreement", {{"subject", describe(subject)},
                                                {"identity", identity_text(identity)},
                                                {"verb", verb},
                                                {"rbac", expected},
                                                {"api_server", *actual}});
      }
    }
    return {};
  };
  for (const auto& access : found) {
    if (auto checked = check(access.subject); !checked) return checked.error();
  }
  for (const auto& subject : sample) {
    if (auto checked = check(subject); !checked) return checked.error();
  }
  return disagreements;
}

Result<std::vector<SubjectRef>> sample_not_found(k8s::Client& client, const Target& target,
                                                 const std::vector<SubjectAccess>& found, int count) {
  std::vector<SubjectRef> sample;
  if (count <= 0) return sample;
  auto is_found = [&](const SubjectRef& subject) {
    return std::any_of(found.begin(), found.end(),
                       [&](const SubjectAccess& a) { return a.subject == subject; });
  };
  // The object's neighbours first: other ServiceAccounts of its namespace.
  auto accounts = items(client, k8s::resources::serviceaccounts, target.ns.empty() ? "default" : target.ns);
  if (!accounts) return accounts.error();
  for (const auto& account : *accounts) {
    SubjectRef subject{"ServiceAccount", string_at(account, {"metadata", "name"}),
                       string_at(account, {"metadata", "namespace"})};
    if (static_cast<int>(sample.size()) + 2 >= count) break;
    if (!is_found(subject)) sample.push_back(std::move(subject));
  }
  for (SubjectRef subject : {SubjectRef{"User", "irsteps:access-audit:nobody", {}},
                             SubjectRef{"Group", "irsteps:access-audit:nobody", {}}}) {
    if (static_cast<int>(sample.size()) < count && !is_found(subject)) sample.push_back(std::move(subject));
  }
  return sample;
}

}  // namespace ir::steps::access_audit
