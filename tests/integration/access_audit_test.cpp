// access-audit against the real control plane and its own audit log: bindings
// of every kind, real reads of a Secret by several ServiceAccounts, the
// step's RBAC answers checked by SubjectAccessReview, a rotated, gzipped and
// partly corrupted copy of the audit log, bad input, RBAC, and the shipped
// least-privilege Role.
#include "support/git_server.hpp"
#include "support/step_runner.hpp"

#include <boost/json/serialize.hpp>

#include <fmt/format.h>
#include <zlib.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

using namespace ir;
using namespace ir::test;
namespace fs = std::filesystem;

namespace {

const std::string incident = "INC-2026-11-26-310";

// The local control plane's audit log, or one given for another cluster.
std::string audit_log_path() {
  if (const char* path = std::getenv("IRSTEPS_TEST_AUDIT_LOG")) return path;
  const auto& dir = Cluster::get().state_dir();
  if (dir.empty()) return {};
  const std::string path = dir + "/audit.log";
  if (!fs::exists(path)) FAIL("the local control plane has no audit log: start it with --audit (ctest does)");
  return path;
}

json::array output_array(const StepRun& run, const std::string& name) {
  auto parsed = parse_json(run.output(name), name);
  REQUIRE(parsed);
  REQUIRE(parsed->is_array());
  return parsed->as_array();
}

// Cluster-scoped objects do not go away with the test's namespace.
class ClusterObjects {
 public:
  ~ClusterObjects() {
    for (const auto& [resource, name] : made_) (void)Cluster::get().client().remove(*resource, {}, name);
  }
  void apply(const k8s::Resource& resource, const std::string& yaml) {
    auto object = parse_yaml(yaml, "object");
    REQUIRE(object);
    auto created = Cluster::get().client().create(resource, {}, object->as_object());
    if (!created) FAIL(created.error().describe());
    made_.emplace_back(&resource, string_at(*object, {"metadata", "name"}));
  }

 private:
  std::vector<std::pair<const k8s::Resource*, std::string>> made_;
};

void create_in(const std::string& ns, const k8s::Resource& resource, const std::string& yaml) {
  auto object = parse_yaml(yaml, "object");
  REQUIRE(object);
  auto created = Cluster::get().client().create(resource, ns, object->as_object());
  if (!created) FAIL(created.error().describe());
}

std::unique_ptr<k8s::Client> client_as(const std::string& ns, const std::string& account,
                                       std::unique_ptr<TokenKubeconfig>& file) {
  file = std::make_unique<TokenKubeconfig>(service_account_token(ns, account), ns + "-" + account);
  k8s::ConfigRequest request;
  request.kubeconfig = file->path();
  auto config = k8s::load_config(request);
  REQUIRE(config);
  http::RetryPolicy retry;
  retry.max_attempts = 1;
  auto client = k8s::Client::connect(std::move(*config), retry);
  REQUIRE(client);
  return std::move(*client);
}

// RBAC's informers lag a moment behind new bindings: a read made too early
// would be a real (denied) access in the audit log.
void wait_until_allowed(const std::string& ns, const std::string& account, const std::string& verb) {
  const json::object review{
      {"apiVersion", "authorization.k8s.io/v1"},
      {"kind", "SubjectAccessReview"},
      {"spec", json::object{{"user", "system:serviceaccount:" + ns + ":" + account},
                            {"resourceAttributes", json::object{{"namespace", ns},
                                                                {"verb", verb},
                                                                {"resource", "secrets"},
                                                                {"name", verb == "get" ? "db" : ""}}}}}};
  const k8s::Resource reviews{"authorization.k8s.io", "v1", "subjectaccessreviews", "SubjectAccessReview",
                              false};
  const bool allowed = eventually([&] {
    auto answer = Cluster::get().client().create(reviews, {}, review);
    const auto* decision = answer ? find(*answer, {"status", "allowed"}) : nullptr;
    return decision != nullptr && decision->is_bool() && decision->get_bool();
  });
  if (!allowed) FAIL(account << " is never allowed to " << verb << " the secret");
}

// "user verb code" of every access by the namespace's ServiceAccounts.
std::multiset<std::string> accesses_by_namespace(const json::array& accesses, const std::string& ns) {
  std::multiset<std::string> found;
  const std::string prefix = "system:serviceaccount:" + ns + ":";
  for (const auto& access : accesses) {
    const std::string user = string_at(access, {"user"});
    if (!user.starts_with(prefix)) continue;
    found.insert(fmt::format("{} {} {}", user.substr(prefix.size()), string_at(access, {"verb"}),
                             access.at("code").as_int64()));
  }
  return found;
}

// The RBAC scenario: a Secret `db`, and a ServiceAccount (or user, or group)
// for each way of reaching it, and two that cannot.
struct Scenario {
  explicit Scenario(const std::string& name) : ns(name) {
    auto& cluster = Cluster::get();
    create_in(ns, k8s::resources::secrets,
              "{metadata: {name: db, annotations: {irsteps.io/rotated-at: '2026-11-26T10:00:00Z'}}, "
              "stringData: {password: hunter2}}");
    for (const char* account :
         {"via-role", "via-clusterrole", "via-aggregated", "other-name", "configmaps"}) {
      create_in(ns, k8s::resources::serviceaccounts, fmt::format("{{metadata: {{name: {}}}}}", account));
    }
    create_in(
        ns, k8s::resources::roles,
        R"({metadata: {name: read-db}, rules: [{apiGroups: [""], resources: [secrets], verbs: [get], resourceNames: [db]}]})");
    create_in(
        ns, k8s::resources::roles,
        R"({metadata: {name: read-other}, rules: [{apiGroups: [""], resources: [secrets], verbs: [get], resourceNames: [other]}]})");
    create_in(
        ns, k8s::resources::roles,
        R"({metadata: {name: configmaps}, rules: [{apiGroups: [""], resources: [configmaps], verbs: ["*"]}]})");
    cluster_objects.apply(
        k8s::resources::clusterroles,
        fmt::format(
            R"({{metadata: {{name: {0}-lister}}, rules: [{{apiGroups: [""], resources: [secrets], verbs: [get, list]}}]}})",
            ns));
    cluster_objects.apply(
        k8s::resources::clusterroles,
        fmt::format(
            R"({{metadata: {{name: {0}-aggregated}}, aggregationRule: {{clusterRoleSelectors: [{{matchLabels: {{irsteps.io/test-aggregate: {0}}}}}]}}, rules: []}})",
            ns));
    cluster_objects.apply(
        k8s::resources::clusterroles,
        fmt::format(
            R"({{metadata: {{name: {0}-part, labels: {{irsteps.io/test-aggregate: {0}}}}}, rules: [{{apiGroups: [""], resources: [secrets], verbs: [get]}}]}})",
            ns));
    cluster_objects.apply(
        k8s::resources::clusterrolebindings,
        fmt::format(
            R"({{metadata: {{name: {0}-aggregated}}, roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: {0}-aggregated}},
            subjects: [{{kind: ServiceAccount, name: via-aggregated, namespace: {0}}}]}})",
            ns));
    create_in(
        ns, k8s::resources::rolebindings,
        fmt::format(
            R"({{metadata: {{name: role}}, roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: read-db}},
            subjects: [{{kind: ServiceAccount, name: via-role}}, {{kind: User, name: alice-{0}, apiGroup: rbac.authorization.k8s.io}}]}})",
            ns));
    create_in(
        ns, k8s::resources::rolebindings,
        fmt::format(
            R"({{metadata: {{name: clusterrole}}, roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: {0}-lister}},
            subjects: [{{kind: ServiceAccount, name: via-clusterrole}}, {{kind: Group, name: auditors-{0}, apiGroup: rbac.authorization.k8s.io}}]}})",
            ns));
    create_in(
        ns, k8s::resources::rolebindings,
        R"({metadata: {name: other}, roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: read-other},
                 subjects: [{kind: ServiceAccount, name: other-name}]})");
    create_in(
        ns, k8s::resources::rolebindings,
        R"({metadata: {name: configmaps}, roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: configmaps},
                 subjects: [{kind: ServiceAccount, name: configmaps}]})");
    cluster.apply_yaml(ns, R"(
apiVersion: v1
kind: Pod
metadata: {name: worker}
spec:
  serviceAccountName: via-role
  containers: [{name: app, image: registry.example/worker:1}]
)");
    // The API server decides on the rules the aggregation controller copies in.
    wait_until_allowed(ns, "via-role", "get");
    wait_until_allowed(ns, "via-clusterrole", "get");
    wait_until_allowed(ns, "via-clusterrole", "list");
    wait_until_allowed(ns, "via-aggregated", "get");
  }

  std::string ns;
  ClusterObjects cluster_objects;
};

}  // namespace

TEST_CASE("access-audit finds exactly the subjects and reads, and the API server agrees",
          "[integration][access-audit]") {
  TestNamespace ns("access-audit");
  Scenario scenario(ns.name());
  std::unique_ptr<TokenKubeconfig> f1, f2, f3, f4;
  auto role_reader = client_as(ns.name(), "via-role", f1);
  auto cluster_reader = client_as(ns.name(), "via-clusterrole", f2);
  auto aggregated_reader = client_as(ns.name(), "via-aggregated", f3);
  auto other = client_as(ns.name(), "other-name", f4);
  REQUIRE(role_reader->get(k8s::resources::secrets, ns.name(), "db"));
  REQUIRE(cluster_reader->get(k8s::resources::secrets, ns.name(), "db"));
  REQUIRE(cluster_reader->list(k8s::resources::secrets, ns.name()));
  REQUIRE(aggregated_reader->get(k8s::resources::secrets, ns.name(), "db"));
  auto denied = other->get(k8s::resources::secrets, ns.name(), "db");
  REQUIRE_FALSE(denied);
  CHECK(denied.error().code() == Code::forbidden);

  const std::string audit_log = audit_log_path();
  std::vector<std::string> args{"--incident-id", incident,  "--resource",   "secrets/db",
                                "--namespace",   ns.name(), "--kubeconfig", Cluster::get().kubeconfig()};
  if (!audit_log.empty()) args.insert(args.end(), {"--audit-log", audit_log});
  const std::multiset<std::string> expected_reads{"via-role get 200", "via-clusterrole get 200",
                                                  "via-clusterrole list 200", "via-aggregated get 200",
                                                  "other-name get 403"};
  StepRun run;
  // The audit backend writes in batches: poll until the reads are in.
  const bool all_in = eventually(
      [&] {
        run = run_step_binary("access-audit", args);
        return audit_log.empty() || run.exit_status != 0 ||
               accesses_by_namespace(output_array(run, "accesses"), ns.name()) == expected_reads;
      },
      std::chrono::seconds(30));
  REQUIRE_EXIT(run, 0);
  CHECK(run.output("disagreement-count") == "0");
  CHECK(std::stoi(run.output("access-reviews")) >= 3 * 5);

  // Who could: exactly these of the test's own subjects, with their chains.
  std::map<std::string, json::object> mine;
  for (const auto& item : output_array(run, "subjects")) {
    const std::string kind = string_at(item, {"subject", "kind"});
    const std::string name = string_at(item, {"subject", "name"});
    const bool own = string_at(item, {"subject", "namespace"}) == ns.name() || name.ends_with(ns.name());
    if (own) mine[kind + " " + name] = item.as_object();
  }
  std::vector<std::string> names;
  for (const auto& [name, item] : mine) names.push_back(name);
  CHECK(names == std::vector<std::string>{"Group auditors-" + ns.name(), "ServiceAccount via-aggregated",
                                          "ServiceAccount via-clusterrole", "ServiceAccount via-role",
                                          "User alice-" + ns.name()});
  const json::value via_role(mine["ServiceAccount via-role"]);
  CHECK(*find(via_role, {"pods"}) == json::array{"worker"});
  CHECK(string_at(find(via_role, {"chain"})->as_array()[0], {"binding", "kind"}) == "RoleBinding");
  CHECK(find(via_role, {"chain"})->as_array()[0].at("byResourceName") == true);
  const json::value via_aggregated(mine["ServiceAccount via-aggregated"]);
  CHECK(string_at(find(via_aggregated, {"chain"})->as_array()[0], {"aggregatedFrom"}) == ns.name() + "-part");
  CHECK(mine["ServiceAccount via-clusterrole"].at("verbs") == json::array{"get", "list"});

  if (audit_log.empty()) {
    WARN("no audit log for this cluster (set IRSTEPS_TEST_AUDIT_LOG): who-did not checked");
    return;
  }
  REQUIRE(all_in);
  CHECK(run.output("malformed-lines") == "0");
  // Since when: creation, the test's own create, the rotation, the reads.
  std::set<std::string> events;
  for (const auto& entry : output_array(run, "timeline")) events.insert(string_at(entry, {"event"}));
  for (const char* event : {"created", "fields-managed", "audited-create", "rotated", "first-access"}) {
    CHECK(events.count(event) == 1);
  }
  CHECK(!run.output("exposed-since").empty());
  CHECK(run.output("resource") == "secrets/db in " + ns.name());
  // Secret values never reach any output.
  CHECK(run.all_text().find("hunter2") == std::string::npos);
  CHECK(run.all_text().find("aHVudGVyMg") == std::string::npos);

  // With --case-repo the exposure timeline goes into the case record, and
  // the post-incident report's timeline shows it among the steps' runs.
  TempDir tmp;
  make_bare_repo(tmp / "case.git");
  const std::vector<std::pair<std::string, std::string>> env{{"IRSTEPS_CACHE_DIR", tmp / "cache"}};
  args.insert(args.end(), {"--case-repo", tmp / "case.git"});
  auto recorded = run_step_binary("access-audit", args, env);
  REQUIRE_EXIT(recorded, 0);
  CHECK(!recorded.output("case-record").empty());
  const std::string routing =
      tmp.file("routing.yaml",
               "channels:\n  - {name: siem, type: webhook, url: 'https://127.0.0.1:9/h', "
               "secret-file: " +
                   tmp.file("hook-secret", "s3cret-hook\n") + "}\n");
  auto report = run_step_binary("notify", {"--incident-id",     incident,
                                           "--routing",         routing,
                                           "--severity",        "high",
                                           "--status",          "resolved",
                                           "--template",        "post-incident-report",
                                           "--title",           "Secret db exposed",
                                           "--summary",         "db was readable",
                                           "--impact",          "shop",
                                           "--current-actions", "rotated",
                                           "--contact",         "Alice (IC)",
                                           "--case-repo",       tmp / "case.git",
                                           "--dry-run"},
                                env);
  REQUIRE_EXIT(report, 0);
  const std::string text = report.out;
  INFO(text);
  const std::string resource = "secrets/db in " + ns.name();
  const auto created = text.find(resource + ": created (exposure timeline of access-audit");
  const auto first_read =
      text.find(resource + ": first access by system:serviceaccount:" + ns.name() + ":via-role");
  const auto rotated = text.find(resource + ": rotated by rotate-secret");
  const auto audit_run = text.find("access-audit succeeded, by ");
  CHECK(created != std::string::npos);
  CHECK(first_read != std::string::npos);
  CHECK(rotated != std::string::npos);
  CHECK(audit_run != std::string::npos);
  // In time order: the Secret was made and read before the audit ran.
  CHECK(created < first_read);
  CHECK(first_read < audit_run);
}

TEST_CASE("access-audit reads a rotated, gzipped and partly corrupted copy of the real audit log",
          "[integration][access-audit]") {
  const std::string audit_log = audit_log_path();
  if (audit_log.empty()) {
    WARN("no audit log for this cluster (set IRSTEPS_TEST_AUDIT_LOG): not checked");
    return;
  }
  TestNamespace ns("access-audit-rot");
  create_in(ns.name(), k8s::resources::secrets, "{metadata: {name: db}, stringData: {password: hunter2}}");
  create_in(ns.name(), k8s::resources::serviceaccounts, "{metadata: {name: reader}}");
  create_in(ns.name(), k8s::resources::roles,
            R"({metadata: {name: read}, rules: [{apiGroups: [""], resources: [secrets], verbs: [get]}]})");
  create_in(
      ns.name(), k8s::resources::rolebindings,
      R"({metadata: {name: read}, roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: read},
               subjects: [{kind: ServiceAccount, name: reader}]})");
  std::unique_ptr<TokenKubeconfig> file;
  auto reader = client_as(ns.name(), "reader", file);
  wait_until_allowed(ns.name(), "reader", "get");
  for (int i = 0; i < 3; ++i) REQUIRE(reader->get(k8s::resources::secrets, ns.name(), "db"));

  const std::vector<std::string> offline{"--incident-id", incident,  "--resource", "secrets/db",
                                         "--namespace",   ns.name(), "--offline"};
  auto with_log = [&](const std::string& path) {
    auto list = offline;
    list.insert(list.end(), {"--audit-log", path});
    return list;
  };
  const std::multiset<std::string> three_reads{"reader get 200", "reader get 200", "reader get 200"};
  REQUIRE(eventually([&] {
    auto live = run_step_binary("access-audit", with_log(audit_log));
    return live.exit_status == 0 &&
           accesses_by_namespace(output_array(live, "accesses"), ns.name()) == three_reads;
  }));

  // A snapshot that ends at a line end (the API server keeps writing), split
  // in three: a dated gzip rotation, a numbered gzip rotation with garbage
  // lines, and the live file cut in the middle of its last line.
  auto text = read_file(audit_log);
  REQUIRE(text);
  std::string snapshot = text->substr(0, text->rfind('\n') + 1);
  const fs::path dir = fs::temp_directory_path() / ("access-audit-" + ns.name());
  fs::create_directories(dir);
  const std::string reference_file = (dir.parent_path() / ("access-audit-" + ns.name() + ".log")).string();
  REQUIRE(write_file_atomic(reference_file, snapshot));
  const std::size_t third = snapshot.size() / 3;
  const std::size_t cut1 = snapshot.find('\n', third) + 1;
  const std::size_t cut2 = snapshot.find('\n', 2 * third) + 1;
  auto gzip = [](const fs::path& path, const std::string& content) {
    gzFile gz = gzopen(path.c_str(), "wb");
    REQUIRE(gz != nullptr);
    REQUIRE(gzwrite(gz, content.data(), static_cast<unsigned>(content.size())) ==
            static_cast<int>(content.size()));
    REQUIRE(gzclose(gz) == Z_OK);
  };
  gzip(dir / "audit-2026-01-01T00-00-00.000.log.gz", snapshot.substr(0, cut1));
  std::string middle = snapshot.substr(cut1, cut2 - cut1);
  const std::size_t halfway = middle.find('\n', middle.size() / 2) + 1;
  middle.insert(halfway,
                "\x01\x02 binary garbage\n{\"kind\":\"Event\",\"objectRef\":{\"resource\":\"secrets\"\n");
  middle.insert(0, "not json at all\n");
  gzip(dir / "audit.log.1.gz", middle);
  REQUIRE(write_file_atomic(
      (dir / "audit.log").string(),
      snapshot.substr(cut2) + "{\"kind\":\"Event\",\"verb\":\"get\",\"objectRef\":{\"reso"));

  auto reference = run_step_binary("access-audit", with_log(reference_file));
  REQUIRE_EXIT(reference, 0);
  auto rotated = run_step_binary("access-audit", with_log(dir.string()));
  REQUIRE_EXIT(rotated, 0);
  CHECK(accesses_by_namespace(output_array(rotated, "accesses"), ns.name()) == three_reads);
  CHECK(rotated.output("accesses") == reference.output("accesses"));
  CHECK(rotated.output("users") == reference.output("users"));
  CHECK(reference.output("malformed-lines") == "0");
  CHECK(rotated.output("malformed-lines") == "4");
  const auto& warnings = rotated.result.at("warnings").as_array();
  CHECK(std::any_of(warnings.begin(), warnings.end(), [](const json::value& w) {
    return w.as_string().find("4 malformed audit log line(s) skipped") != json::string::npos;
  }));

  // Standard input: the same answer.
  ProcessOptions options;
  options.stdin_data = snapshot;
  options.timeout = std::chrono::seconds(120);
  std::vector<std::string> argv{binary("access-audit")};
  for (const auto& arg : with_log("-")) argv.push_back(arg);
  auto piped = run_process(argv, options);
  REQUIRE(piped);
  CHECK(piped->exit_status == 0);
  auto piped_doc = parse_json(piped->out, "stdout");
  REQUIRE(piped_doc);
  CHECK(string_at(*piped_doc, {"outputs", "accesses"}) == reference.output("accesses"));
  fs::remove_all(dir);
  fs::remove(reference_file);
}

TEST_CASE("access-audit: bad input is exit 2, missing rights exit 5, the shipped Role is enough",
          "[integration][access-audit][rbac]") {
  auto& cluster = Cluster::get();
  TestNamespace ns("access-audit-rbac");
  create_in(ns.name(), k8s::resources::secrets, "{metadata: {name: db}, stringData: {password: hunter2}}");
  const std::vector<std::string> base{"--incident-id", incident, "--kubeconfig", cluster.kubeconfig()};
  auto with = [&](std::vector<std::string> more) {
    auto list = base;
    list.insert(list.end(), more.begin(), more.end());
    return list;
  };
  REQUIRE_EXIT(run_step_binary("access-audit", with({"--resource", "secrets/db"})), 2);  // no namespace
  REQUIRE_EXIT(run_step_binary("access-audit", with({"--resource", "secrets/db", "--namespace", ns.name(),
                                                     "--audit-log", "/nonexistent/audit.log"})),
               2);
  REQUIRE_EXIT(run_step_binary("access-audit", with({"--resource", "secrets/db", "--namespace", ns.name(),
                                                     "--since", "yesterday"})),
               2);

  create_in(ns.name(), k8s::resources::serviceaccounts, "{metadata: {name: nobody}}");
  TokenKubeconfig nobody(service_account_token(ns.name(), "nobody"), ns.name() + "-nobody");
  REQUIRE_EXIT(run_step_binary("access-audit", {"--incident-id", incident, "--kubeconfig", nobody.path(),
                                                "--resource", "secrets/db", "--namespace", ns.name()}),
               5);

  cluster.apply_shipped_role("access-audit");
  TokenKubeconfig step_identity(service_account_token("irsteps", "irsteps-access-audit"),
                                "irsteps-access-audit");
  auto run = run_step_binary("access-audit", {"--incident-id", incident, "--kubeconfig", step_identity.path(),
                                              "--resource", "secrets/db", "--namespace", ns.name()});
  REQUIRE_EXIT(run, 0);
  CHECK(run.output("disagreement-count") == "0");
  CHECK(run.result.at("warnings").as_array().empty());
  CHECK(run.all_text().find("hunter2") == std::string::npos);
}

// Issue 16 items 2 and 4: the data-exposure playbook audits every Secret it
// rotates in one run, and a run that read no audit log never says "0".
TEST_CASE("access-audit over several named Secrets tells each one's subjects apart, and no log is not 0",
          "[integration][access-audit]") {
  TestNamespace ns("access-audit-many");
  Scenario scenario(ns.name());
  create_in(ns.name(), k8s::resources::secrets, "{metadata: {name: other}, stringData: {password: hunter3}}");
  const std::vector<std::string> base{"--incident-id", incident,  "--kubeconfig", Cluster::get().kubeconfig(),
                                      "--namespace",   ns.name(), "--resource",   "secrets"};
  auto with = [&](std::vector<std::string> more) {
    auto list = base;
    list.insert(list.end(), more.begin(), more.end());
    return list;
  };
  auto run = run_step_binary("access-audit", with({"--name=db,other"}));
  REQUIRE_EXIT(run, 0);
  CHECK(run.output("resource") == "secrets/db in " + ns.name() + ", secrets/other in " + ns.name());
  std::map<std::string, std::set<std::string>> by_resource;
  std::set<std::string> distinct;
  std::size_t listed = 0;
  for (const auto& item : output_array(run, "subjects")) {
    ++listed;
    distinct.insert(string_at(item, {"subject", "kind"}) + " " + string_at(item, {"subject", "namespace"}) +
                    "/" + string_at(item, {"subject", "name"}));
    if (string_at(item, {"subject", "namespace"}) != ns.name()) continue;
    by_resource[string_at(item, {"resource"})].insert(string_at(item, {"subject", "name"}));
  }
  const auto& db = by_resource["secrets/db in " + ns.name()];
  const auto& other = by_resource["secrets/other in " + ns.name()];
  CHECK(db.count("via-role") == 1);
  CHECK(db.count("other-name") == 0);
  CHECK(other.count("other-name") == 1);
  CHECK(other.count("via-role") == 0);
  CHECK(db.count("via-clusterrole") == 1);
  CHECK(other.count("via-clusterrole") == 1);
  // Listed per Secret, counted once however many of them it can read.
  CHECK(run.output("subject-count") == std::to_string(distinct.size()));
  CHECK(listed > distinct.size());
  CHECK(run.output("access-count") == "audit log not read");
  CHECK(run.output("user-count") == "audit log not read");
  CHECK(run.all_text().find("hunter3") == std::string::npos);

  // A JSON array is the same list; a resource that names its object already
  // cannot take --name.
  auto as_json = run_step_binary("access-audit", with({R"(--name=["db","other"])"}));
  REQUIRE_EXIT(as_json, 0);
  CHECK(as_json.output("resource") == run.output("resource"));
  auto both = run_step_binary(
      "access-audit", {"--incident-id", incident, "--kubeconfig", Cluster::get().kubeconfig(), "--namespace",
                       ns.name(), "--resource", "secrets/db", "--name", "other"});
  REQUIRE_EXIT(both, 2);
  CHECK(both.err.find("--name") != std::string::npos);
}
