#include "rbac.hpp"

#include "support/catch.hpp"

#include "ir/core/json.hpp"

#include <algorithm>

using namespace ir;
using namespace ir::steps::access_audit;

namespace {

json::value yaml(const std::string& text) {
  auto parsed = parse_yaml(text, "test");
  REQUIRE(parsed);
  return *parsed;
}

const Target secret{"", "secrets", "", "shop", "db"};
const std::vector<std::string> reads{"get", "list", "watch"};

// Every kind of grant: Role by RoleBinding, ClusterRole by RoleBinding and by
// ClusterRoleBinding, an aggregated ClusterRole whose .rules the controller
// has not filled in, resourceNames that include and exclude the secret,
// wildcards, a binding in another namespace, and one for configmaps only.
RbacSnapshot snapshot() {
  RbacSnapshot rbac;
  rbac.roles = yaml(R"(
- metadata: {name: read-db, namespace: shop}
  rules: [{apiGroups: [""], resources: [secrets], verbs: [get], resourceNames: [db]}]
- metadata: {name: read-other, namespace: shop}
  rules: [{apiGroups: [""], resources: [secrets], verbs: [get], resourceNames: [other]}]
- metadata: {name: config, namespace: shop}
  rules: [{apiGroups: [""], resources: [configmaps], verbs: ["*"]}]
- metadata: {name: read-db, namespace: elsewhere}
  rules: [{apiGroups: [""], resources: [secrets], verbs: [get]}]
)")
                   .as_array();
  rbac.cluster_roles = yaml(R"(
- metadata: {name: secret-lister}
  rules: [{apiGroups: [""], resources: [secrets], verbs: [list, watch]}]
- metadata: {name: everything}
  rules: [{apiGroups: ["*"], resources: ["*"], verbs: ["*"]}]
- metadata: {name: auditor}
  aggregationRule:
    clusterRoleSelectors: [{matchLabels: {irsteps.io/aggregate-to-auditor: "true"}}]
  rules: []
- metadata: {name: auditor-secrets, labels: {irsteps.io/aggregate-to-auditor: "true"}}
  rules: [{apiGroups: [""], resources: [secrets], verbs: [get]}]
- metadata: {name: not-aggregated, labels: {irsteps.io/aggregate-to-auditor: "false"}}
  rules: [{apiGroups: [""], resources: [secrets], verbs: [watch]}]
)")
                           .as_array();
  rbac.role_bindings = yaml(R"(
- metadata: {name: a, namespace: shop}
  roleRef: {kind: Role, name: read-db}
  subjects: [{kind: ServiceAccount, name: reader}, {kind: User, name: alice}]
- metadata: {name: b, namespace: shop}
  roleRef: {kind: ClusterRole, name: secret-lister}
  subjects: [{kind: Group, name: auditors}]
- metadata: {name: c, namespace: shop}
  roleRef: {kind: Role, name: read-other}
  subjects: [{kind: ServiceAccount, name: other-reader, namespace: shop}]
- metadata: {name: d, namespace: shop}
  roleRef: {kind: Role, name: config}
  subjects: [{kind: ServiceAccount, name: config-reader, namespace: shop}]
- metadata: {name: e, namespace: elsewhere}
  roleRef: {kind: Role, name: read-db}
  subjects: [{kind: ServiceAccount, name: far, namespace: elsewhere}]
)")
                           .as_array();
  rbac.cluster_role_bindings = yaml(R"(
- metadata: {name: ops-admin}
  roleRef: {kind: ClusterRole, name: everything}
  subjects: [{kind: Group, name: ops}]
- metadata: {name: audit}
  roleRef: {kind: ClusterRole, name: auditor}
  subjects: [{kind: ServiceAccount, name: auditor, namespace: tools}]
- metadata: {name: watcher}
  roleRef: {kind: ClusterRole, name: not-aggregated}
  subjects: []
- metadata: {name: every-sa}
  roleRef: {kind: ClusterRole, name: secret-lister}
  subjects: [{kind: Group, name: "system:serviceaccounts:ci"}]
)")
                                   .as_array();
  return rbac;
}

const SubjectAccess* find_subject(const std::vector<SubjectAccess>& found, const SubjectRef& subject) {
  const auto it =
      std::find_if(found.begin(), found.end(), [&](const SubjectAccess& a) { return a.subject == subject; });
  return it == found.end() ? nullptr : &*it;
}

}  // namespace

TEST_CASE("who_can finds exactly the subjects that bindings of every kind allow", "[unit][access-audit]") {
  const auto rbac = snapshot();
  const auto found = who_can(rbac, secret, reads);
  std::vector<std::string> names;
  for (const auto& access : found) names.push_back(describe(access.subject));
  CHECK(names == std::vector<std::string>{"Group auditors", "Group ops", "Group system:masters",
                                          "Group system:serviceaccounts:ci", "ServiceAccount tools/auditor",
                                          "ServiceAccount shop/reader", "User alice"});

  const auto* reader = find_subject(found, {"ServiceAccount", "reader", "shop"});
  REQUIRE(reader != nullptr);
  CHECK(reader->verbs == std::vector<std::string>{"get"});
  REQUIRE(reader->grants.size() == 1);
  CHECK(reader->grants[0].binding_kind == "RoleBinding");
  CHECK(reader->grants[0].role_kind == "Role");
  CHECK(reader->grants[0].by_resource_name);

  const auto* auditors = find_subject(found, {"Group", "auditors", {}});
  REQUIRE(auditors != nullptr);
  CHECK(auditors->verbs == std::vector<std::string>{"list", "watch"});
  CHECK(auditors->grants[0].role_kind == "ClusterRole");
}

TEST_CASE("aggregated ClusterRoles are resolved and name the role each rule comes from",
          "[unit][access-audit]") {
  const auto found = who_can(snapshot(), secret, reads);
  const auto* auditor = find_subject(found, {"ServiceAccount", "auditor", "tools"});
  REQUIRE(auditor != nullptr);
  CHECK(auditor->verbs == std::vector<std::string>{"get"});  // not-aggregated's watch is not selected
  REQUIRE(auditor->grants.size() == 1);
  CHECK(auditor->grants[0].binding_kind == "ClusterRoleBinding");
  CHECK(auditor->grants[0].aggregated_from == "auditor-secrets");
  // Once the controller has copied the rule in, it is reported once, still by its origin.
  auto rbac = snapshot();
  for (auto& role : rbac.cluster_roles) {
    if (string_at(role, {"metadata", "name"}) == "auditor") {
      role.as_object()["rules"] = yaml(R"([{apiGroups: [""], resources: [secrets], verbs: [get]}])");
    }
  }
  const auto again = who_can(rbac, secret, reads);
  const auto* materialised = find_subject(again, {"ServiceAccount", "auditor", "tools"});
  REQUIRE(materialised != nullptr);
  REQUIRE(materialised->grants.size() == 1);
  CHECK(materialised->grants[0].aggregated_from == "auditor-secrets");
}

TEST_CASE("wildcards, the superuser group and broad groups are flagged", "[unit][access-audit]") {
  const auto found = who_can(snapshot(), secret, reads);
  const auto* ops = find_subject(found, {"Group", "ops", {}});
  REQUIRE(ops != nullptr);
  CHECK(ops->flags == std::vector<std::string>{"cluster-admin-like", "wildcard"});
  CHECK(ops->grants[0].wildcards == std::vector<std::string>{"verbs", "resources", "apiGroups"});
  const auto* masters = find_subject(found, {"Group", "system:masters", {}});
  REQUIRE(masters != nullptr);
  CHECK(masters->flags == std::vector<std::string>{"superuser"});
  CHECK(masters->verbs == reads);
  const auto* ci = find_subject(found, {"Group", "system:serviceaccounts:ci", {}});
  REQUIRE(ci != nullptr);
  CHECK(ci->flags == std::vector<std::string>{"broad-group"});
  const auto doc = json::value(to_json(*ops));
  CHECK(string_at(doc, {"chain"}).empty());  // an array, not a string
  CHECK(find(doc, {"chain"})->as_array().size() == 1);
  CHECK(find(doc, {"flags"})->as_array().size() == 2);
}

TEST_CASE("RoleBindings never grant on cluster-scoped objects or in another namespace",
          "[unit][access-audit]") {
  const auto rbac = snapshot();
  const Target elsewhere{"", "secrets", "", "elsewhere", "db"};
  const auto found = who_can(rbac, elsewhere, reads);
  CHECK(find_subject(found, {"ServiceAccount", "far", "elsewhere"}) != nullptr);
  CHECK(find_subject(found, {"ServiceAccount", "reader", "shop"}) == nullptr);
  const Target node{"", "nodes", "", "", "n1"};
  const auto on_node = who_can(rbac, node, {"get"});
  CHECK(find_subject(on_node, {"User", "alice", {}}) == nullptr);
  CHECK(find_subject(on_node, {"Group", "ops", {}}) != nullptr);
}

TEST_CASE("rbac_allows decides per identity, ServiceAccounts with their groups", "[unit][access-audit]") {
  const auto rbac = snapshot();
  CHECK(rbac_allows(rbac, secret, "get", identity_of({"ServiceAccount", "reader", "shop"})));
  CHECK_FALSE(rbac_allows(rbac, secret, "list", identity_of({"ServiceAccount", "reader", "shop"})));
  CHECK_FALSE(rbac_allows(rbac, secret, "get", identity_of({"ServiceAccount", "other-reader", "shop"})));
  CHECK_FALSE(rbac_allows(rbac, secret, "get", identity_of({"ServiceAccount", "config-reader", "shop"})));
  // Bound through its namespace's group only.
  CHECK(rbac_allows(rbac, secret, "list", identity_of({"ServiceAccount", "builder", "ci"})));
  CHECK(rbac_allows(rbac, secret, "delete", identity_of({"Group", "system:masters", {}})));
  CHECK_FALSE(rbac_allows(rbac, secret, "get", identity_of({"User", "mallory", {}})));
  // A list of the collection is no request for the named object.
  const Target collection{"", "secrets", "", "shop", ""};
  CHECK_FALSE(rbac_allows(rbac, collection, "get", identity_of({"User", "alice", {}})));
}

TEST_CASE("the SubjectAccessReview asks exactly about the identity and the object", "[unit][access-audit]") {
  const json::value review(access_review(identity_of({"ServiceAccount", "reader", "shop"}), secret, "get"));
  CHECK(string_at(review, {"apiVersion"}) == "authorization.k8s.io/v1");
  CHECK(string_at(review, {"spec", "user"}) == "system:serviceaccount:shop:reader");
  CHECK(find(review, {"spec", "groups"})->as_array().size() == 3);
  CHECK(string_at(review, {"spec", "resourceAttributes", "namespace"}) == "shop");
  CHECK(string_at(review, {"spec", "resourceAttributes", "name"}) == "db");
  CHECK(string_at(review, {"spec", "resourceAttributes", "resource"}) == "secrets");
  CHECK(find(review, {"spec", "resourceAttributes", "subresource"}) == nullptr);
}

TEST_CASE("label selectors: matchLabels and every matchExpressions operator", "[unit][access-audit]") {
  const json::object labels{{"a", "1"}, {"b", "2"}};
  auto selector = [](const std::string& text) { return yaml(text).as_object(); };
  CHECK(selector_matches(selector("{matchLabels: {a: '1'}}"), labels));
  CHECK_FALSE(selector_matches(selector("{matchLabels: {a: '2'}}"), labels));
  CHECK(
      selector_matches(selector("{matchExpressions: [{key: b, operator: In, values: ['2', '3']}]}"), labels));
  CHECK_FALSE(
      selector_matches(selector("{matchExpressions: [{key: b, operator: NotIn, values: ['2']}]}"), labels));
  CHECK(selector_matches(selector("{matchExpressions: [{key: a, operator: Exists}]}"), labels));
  CHECK_FALSE(selector_matches(selector("{matchExpressions: [{key: c, operator: Exists}]}"), labels));
  CHECK(selector_matches(selector("{matchExpressions: [{key: c, operator: DoesNotExist}]}"), labels));
  CHECK_FALSE(selector_matches(selector("{matchExpressions: [{key: a, operator: Bogus}]}"), labels));
  CHECK(selector_matches(selector("{}"), labels));
}
