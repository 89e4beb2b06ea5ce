// The table of every Kubernetes API the project uses (docs/kubernetes-apis.md),
// generated from the code's resource definitions (k8s::all_resources()) and
// the verbs of the shipped Roles (workflows/argo/rbac/*.yaml), and checked
// against Kubernetes 1.36's OpenAPI (tests/data/kubernetes-openapi): every
// resource, verb and subresource must exist there, or the table names the
// older version the client falls back to where the newer is not served.
// Regenerate the document after changing either source:
//   IRSTEPS_WRITE_API_TABLE=1 build/tests/unit_tests "[api-table]"
#include "ir/core/json.hpp"
#include "ir/k8s/client.hpp"

#include "support/catch.hpp"
#include "support/spawn.hpp"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>

using namespace ir;
namespace fs = std::filesystem;

namespace {

const std::string source_dir = IRSTEPS_SOURCE_DIR;
const std::string document_path = source_dir + "/docs/kubernetes-apis.md";

// What the shipped Roles grant, by "group/resource" (a subresource keeps
// its "pods/log" form).
using Grants = std::map<std::string, std::set<std::string>>;

Grants shipped_grants() {
  Grants grants;
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(source_dir + "/workflows/argo/rbac")) {
    if (entry.path().extension() == ".yaml") files.push_back(entry.path());
  }
  REQUIRE(files.size() >= 7);
  for (const auto& file : files) {
    const auto text = read_file(file.string());
    REQUIRE(text);
    auto documents = parse_yaml_documents(*text, file.string());
    REQUIRE(documents);
    for (const auto& document : *documents) {
      const auto* rules = find(document, {"rules"});
      if (rules == nullptr || !rules->is_array()) continue;
      for (const auto& rule : rules->as_array()) {
        const auto* groups = find(rule, {"apiGroups"});
        const auto* resources = find(rule, {"resources"});
        const auto* verbs = find(rule, {"verbs"});
        if (groups == nullptr || resources == nullptr || verbs == nullptr) continue;
        for (const auto& group : groups->as_array()) {
          for (const auto& resource : resources->as_array()) {
            auto& granted = grants[std::string(group.as_string()) + "/" + std::string(resource.as_string())];
            for (const auto& verb : verbs->as_array()) granted.insert(std::string(verb.as_string()));
          }
        }
      }
    }
  }
  return grants;
}

std::string api_root(const std::string& group, const std::string& version) {
  return group.empty() ? "/api/" + version : "/apis/" + group + "/" + version;
}

std::string collection_path(const k8s::Resource& resource) {
  return api_root(resource.group, resource.version) +
         (resource.namespaced ? "/namespaces/{namespace}/" : "/") + resource.plural;
}

// The OpenAPI operation a verb needs, as (path, method).
std::pair<std::string, std::string> operation_for(const k8s::Resource& resource, const std::string& verb) {
  const std::string collection = collection_path(resource);
  const std::string item = collection + "/{name}";
  if (verb == "get") return {item, "get"};
  if (verb == "list" || verb == "watch") return {collection, "get"};
  if (verb == "create") return {collection, "post"};
  if (verb == "update") return {item, "put"};
  if (verb == "patch") return {item, "patch"};
  if (verb == "delete") return {item, "delete"};
  if (verb == "deletecollection") return {collection, "delete"};
  return {collection, verb};
}

struct Row {
  k8s::Resource resource;
  std::set<std::string> verbs;  // granted by the shipped Roles
};

std::vector<Row> table_rows(const std::vector<const k8s::Resource*>& resources, const Grants& grants) {
  std::vector<Row> rows;
  for (const auto* resource : resources) {
    Row row{*resource, {}};
    if (const auto it = grants.find(resource->group + "/" + resource->plural); it != grants.end()) {
      row.verbs = it->second;
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

// Everything in the table that Kubernetes 1.36 does not serve: each is a
// problem unless it is the older version of a resource whose newer one it
// does serve.
std::vector<std::string> problems_on(const json::value& openapi, const std::vector<Row>& rows,
                                     const Grants& grants) {
  std::vector<std::string> problems;
  const auto& paths = find(openapi, {"paths"})->as_object();
  auto serves = [&](const std::string& path, const std::string& method) {
    const auto* operations = paths.if_contains(path);
    return operations != nullptr && operations->is_object() && operations->as_object().contains(method);
  };
  for (const auto& row : rows) {
    const auto& r = row.resource;
    if (!serves(collection_path(r), "get") && !serves(collection_path(r), "post")) {
      problems.push_back(r.api_version() + " " + r.plural + ": not served by Kubernetes 1.36");
      continue;
    }
    for (const auto& verb : row.verbs) {
      const auto [path, method] = operation_for(r, verb);
      if (!serves(path, method)) {
        problems.push_back(r.api_version() + " " + r.plural + ": no " + method + " " + path + " for verb " +
                           verb);
      }
    }
  }
  // Subresources the Roles grant: pods/log is /api/v1/namespaces/{namespace}/pods/{name}/log.
  for (const auto& [key, verbs] : grants) {
    const auto slash = key.find('/', key.find('/') + 1);
    if (slash == std::string::npos) continue;
    const std::string group = key.substr(0, key.find('/'));
    const std::string plural = key.substr(key.find('/') + 1, slash - key.find('/') - 1);
    const std::string sub = key.substr(slash + 1);
    const auto owner = std::find_if(rows.begin(), rows.end(), [&](const Row& row) {
      return row.resource.group == group && row.resource.plural == plural;
    });
    if (owner == rows.end()) {
      problems.push_back(key + ": a subresource of a resource the code does not define");
      continue;
    }
    const std::string path = collection_path(owner->resource) + "/{name}/" + sub;
    for (const auto& verb : verbs) {
      // exec and ephemeralcontainers: exec is create (POST, or GET for the
      // WebSocket upgrade); ephemeralcontainers is patch.
      const std::string method = verb == "create" ? "post" : operation_for(owner->resource, verb).second;
      if (!serves(path, method))
        problems.push_back(key + ": no " + method + " " + path + " for verb " + verb);
    }
  }
  return problems;
}

json::value openapi_136() {
  const auto text = read_file(source_dir + "/tests/data/kubernetes-openapi/swagger.json");
  REQUIRE(text);
  auto parsed = parse_json(*text, "swagger.json");
  REQUIRE(parsed);
  return std::move(*parsed);
}

std::string joined(const std::set<std::string>& verbs) {
  std::string out;
  for (const auto& verb : verbs) out += (out.empty() ? "" : ", ") + verb;
  return out.empty() ? "— (no shipped Role grants it)" : out;
}

std::string render(const std::vector<Row>& rows, const Grants& grants) {
  std::string out =
      "# The Kubernetes APIs irsteps uses\n\n"
      "Generated from the code, not written by hand: the resources of\n"
      "`k8s::all_resources()` (`lib/k8s/src/client.cpp`) and the verbs of the\n"
      "shipped Roles (`workflows/argo/rbac/*.yaml`). `tests/lib/k8s/api_table_test.cpp`\n"
      "checks that this file is what they say and that Kubernetes 1.36's OpenAPI\n"
      "(`tests/data/kubernetes-openapi`) serves every resource, verb and\n"
      "subresource here; the integration tests run every step on 1.20. Regenerate:\n\n"
      "    IRSTEPS_WRITE_API_TABLE=1 build/tests/unit_tests \"[api-table]\"\n\n"
      "A resource with an older version is requested at the version the API\n"
      "server's discovery lists it under (`/apis/GROUP/VERSION`, asked once per\n"
      "run; `k8s::Client::served`): the newer where it is served, else the older.\n"
      "What else changes with the version (the ephemeral containers' form, token\n"
      "Secrets, the kubelet's checkpoint API): the README, \"Kubernetes versions\".\n\n"
      "| kind | API version | resource | scope | verbs in the shipped Roles | older version, used where the "
      "newer is not served |\n"
      "|---|---|---|---|---|---|\n";
  for (const auto& row : rows) {
    const auto& r = row.resource;
    out += "| " + r.kind + " | " + r.api_version() + " | " + r.plural + " | " +
           (r.namespaced ? "namespaced" : "cluster") + " | " + joined(row.verbs) + " | " +
           (r.older_version.empty() ? "—" : (r.group.empty() ? "" : r.group + "/") + r.older_version) +
           " |\n";
  }
  auto group_of = [](const std::string& key) {
    const std::string group = key.substr(0, key.find('/'));
    return group.empty() ? std::string("core") : group;
  };
  out += "\n## Subresources\n\n| subresource | API group | verbs in the shipped Roles |\n|---|---|---|\n";
  for (const auto& [key, verbs] : grants) {
    if (std::count(key.begin(), key.end(), '/') != 2) continue;
    out += "| " + key.substr(key.find('/') + 1) + " | " + group_of(key) + " | " + joined(verbs) + " |\n";
  }
  out +=
      "\n## Granted by the Roles, not Kubernetes resources\n\n| API group | resource | verbs "
      "|\n|---|---|---|\n";
  for (const auto& [key, verbs] : grants) {
    if (std::count(key.begin(), key.end(), '/') != 1) continue;
    const bool defined = std::any_of(rows.begin(), rows.end(), [&](const Row& row) {
      return row.resource.group + "/" + row.resource.plural == key;
    });
    if (!defined)
      out += "| " + group_of(key) + " | " + key.substr(key.find('/') + 1) + " | " + joined(verbs) + " |\n";
  }
  return out;
}

}  // namespace

TEST_CASE("the API table is generated from the code and the shipped Roles", "[unit][k8s][api-table]") {
  const auto grants = shipped_grants();
  const auto rows = table_rows(k8s::all_resources(), grants);
  const std::string generated = render(rows, grants);
  if (const char* write = std::getenv("IRSTEPS_WRITE_API_TABLE");
      write != nullptr && std::string(write) == "1") {
    REQUIRE(write_file_atomic(document_path, generated));
  }
  const auto shipped = read_file(document_path);
  REQUIRE(shipped);
  CHECK(*shipped == generated);
  // Every Kubernetes resource the Roles grant is one the code defines: a
  // verb on anything else would be a version nobody checked.
  for (const auto& [key, verbs] : grants) {
    const std::string group = key.substr(0, key.find('/'));
    if (group == "argoproj.io") continue;  // Argo's CRDs: tests/integration/argo_crds_test.cpp
    // Cilium's and Calico's policy CRDs (isolate --enforcement):
    // tests/integration/isolate_cni_test.cpp installs and uses them.
    if (group == "cilium.io" || group == "crd.projectcalico.org") continue;
    if (group == "kyverno.io") continue;  // Kyverno's CRD: tests/integration/block_image_test.cpp
    const std::string plural =
        key.substr(key.find('/') + 1, key.find('/', key.find('/') + 1) - key.find('/') - 1);
    INFO(key);
    CHECK(std::any_of(rows.begin(), rows.end(), [&](const Row& row) {
      return row.resource.group == group && row.resource.plural == plural;
    }));
  }
}

TEST_CASE("every API in the table is served by Kubernetes 1.36", "[unit][k8s][api-table]") {
  const auto openapi = openapi_136();
  const auto grants = shipped_grants();
  const auto problems = problems_on(openapi, table_rows(k8s::all_resources(), grants), grants);
  for (const auto& problem : problems) FAIL_CHECK(problem);
  CHECK(problems.empty());
}

TEST_CASE("the 1.36 check fails for an API that current clusters removed", "[unit][k8s][api-table]") {
  // The test of the test: CronJobs named only at batch/v1beta1 (removed in
  // 1.25), PodSecurityPolicy (policy/v1beta1, removed in 1.25), and a verb
  // 1.36 has no operation for.
  const auto openapi = openapi_136();
  const k8s::Resource old_cronjobs{"batch", "v1beta1", "cronjobs", "CronJob", true};
  const k8s::Resource psp{"policy", "v1beta1", "podsecuritypolicies", "PodSecurityPolicy", false};
  const k8s::Resource reviews = k8s::resources::subjectaccessreviews;
  Grants grants{{"authorization.k8s.io/subjectaccessreviews", {"create", "delete"}}};
  const auto problems = problems_on(openapi, table_rows({&old_cronjobs, &psp, &reviews}, grants), grants);
  REQUIRE(problems.size() == 3);
  CHECK(problems[0] == "batch/v1beta1 cronjobs: not served by Kubernetes 1.36");
  CHECK(problems[1] == "policy/v1beta1 podsecuritypolicies: not served by Kubernetes 1.36");
  CHECK(problems[2].find("for verb delete") != std::string::npos);
  // The shipped definition: batch/v1, with v1beta1 only as the older version.
  CHECK(k8s::resources::cronjobs.version == "v1");
  CHECK(k8s::resources::cronjobs.older_version == "v1beta1");
  CHECK(problems_on(openapi, table_rows({&k8s::resources::cronjobs}, {}), {}).empty());
}
