#include "drift.hpp"

#include "ir/params/params.hpp"
#include "support/catch.hpp"

#include <boost/json/serialize.hpp>

using namespace ir;
using namespace ir::steps::drift;

namespace {

json::value json_of(std::string_view text) {
  auto parsed = parse_json(text, "test");
  REQUIRE(parsed);
  return *parsed;
}

Result<Options> options(std::vector<std::string> args) {
  auto spec = ParamSpec::load("drift");
  REQUIRE(spec);
  args.insert(args.begin(), {"--incident-id", "INC-2026-11-26-001"});
  auto parsed = parse_args(*spec, args, [](const std::string&) { return std::optional<std::string>(); });
  if (!parsed) return parsed.error();
  return options_from(parsed->params);
}

const char* const web_manifest = R"(# the web tier
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web   # keep this comment
spec:
  replicas: 2
  template:
    spec:
      containers:
      - name: app
        image: registry.example/shop/web:1.0
---
# the service
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  ports: [{port: 80}]
)";

// A pod spec that the restricted profile accepts.
const char* const restricted_pod = R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{
  "securityContext":{"runAsNonRoot":true,"seccompProfile":{"type":"RuntimeDefault"}},
  "containers":[{"name":"app","image":"x","securityContext":{"allowPrivilegeEscalation":false,
                 "capabilities":{"drop":["ALL"],"add":["NET_BIND_SERVICE"]}}}]}})";

std::vector<std::string> paths_of(const std::vector<Finding>& findings) {
  std::vector<std::string> paths;
  for (const auto& finding : findings) paths.push_back(finding.check + " " + finding.path);
  return paths;
}

}  // namespace

TEST_CASE("drift parameters: errors name the parameter", "[unit][drift]") {
  auto plain = options({"--expected", "web.yaml"});
  REQUIRE(plain);
  CHECK_FALSE(plain->from_git());
  CHECK(plain->checks == all_checks);
  CHECK(plain->ref == "main");
  auto git = options({"--expected", "https://git.example/config.git", "--path", "apps/web.yaml", "--ref",
                      "v2", "--commit-fix", "fix/INC-2026-11-26-001", "--checks", "privileged,host-pid"});
  REQUIRE(git);
  CHECK(git->from_git());
  CHECK(git->checks == std::vector<std::string>{"privileged", "host-pid"});

  auto both = options({"--expected", "w.yaml", "--apply", "--patch", "{}"});
  REQUIRE_FALSE(both);
  CHECK(both.error().message().find("apply and patch") != std::string::npos);
  auto commit = options({"--expected", "w.yaml", "--commit-fix", "fix/x"});
  REQUIRE_FALSE(commit);
  CHECK(commit.error().message().find("commit-fix") != std::string::npos);
  auto patch = options({"--expected", "w.yaml", "--patch", "{spec:"});
  REQUIRE_FALSE(patch);
  CHECK(patch.error().describe().find("parameter patch") != std::string::npos);
  CHECK(options({"--expected", "w.yaml", "--patch", "[1]"}).error().describe().find("parameter patch") !=
        std::string::npos);
  auto check = options({"--expected", "w.yaml", "--checks", "privileged,rootless"});
  REQUIRE_FALSE(check);
  CHECK(check.error().describe().find("parameter checks: unknown check 'rootless'") != std::string::npos);
  CHECK_FALSE(options({"--expected", "w.yaml", "--path", "/abs.yaml"}));
  CHECK_FALSE(options({"--expected", "w.yaml", "--path", "a.yaml", "--commit-fix", "bad..branch"}));
  CHECK_FALSE(options({"--path", "a.yaml"}));
  auto password = options({"--expected", "https://me:hunter2@git.example/c.git", "--path", "a.yaml"});
  REQUIRE_FALSE(password);
  CHECK(password.error().describe().find("hunter2") == std::string::npos);
  CHECK(options({"--expected", "ssh://git@git.example/c.git", "--path", "a.yaml"}));
}

TEST_CASE("a manifest's documents, their namespaces and the --object filter", "[unit][drift]") {
  auto manifest = parse_manifest(web_manifest, "web.yaml");
  REQUIRE(manifest);
  REQUIRE(manifest->documents.size() == 2);
  auto parsed = options({"--expected", "web.yaml", "--namespace", "shop"});
  REQUIRE(parsed);
  auto targets = targets_of(*manifest, *parsed);
  REQUIRE(targets);
  REQUIRE(targets->size() == 2);
  CHECK((*targets)[0].id() == "deployment/web");
  CHECK((*targets)[0].ns == "shop");
  CHECK(string_at((*targets)[0].expected, {"metadata", "namespace"}) == "shop");
  CHECK((*targets)[1].id() == "service/web");
  // Old API servers need the protocol of a Service port for a server-side apply.
  CHECK(boost::json::serialize((*targets)[1].expected).find("\"protocol\":\"TCP\"") != std::string::npos);

  auto other = targets_of(*manifest, *options({"--expected", "web.yaml", "--namespace", "dev"}));
  REQUIRE_FALSE(other);
  CHECK(other.error().describe().find("namespace shop, not in dev (parameter namespace)") !=
        std::string::npos);
  auto defaulted = targets_of(*manifest, *options({"--expected", "web.yaml", "--object", "deploy/web"}));
  REQUIRE(defaulted);
  REQUIRE(defaulted->size() == 1);
  CHECK(defaulted->front().ns == "default");
  auto missing = targets_of(*manifest, *options({"--expected", "web.yaml", "--object", "deployment/api"}));
  REQUIRE_FALSE(missing);
  CHECK(missing.error().describe().find("parameter object") != std::string::npos);
}

TEST_CASE("manifests drift refuses, with the document named", "[unit][drift]") {
  auto opts = *options({"--expected", "x.yaml"});
  auto secret = parse_manifest("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n", "x.yaml");
  REQUIRE(secret);
  CHECK(targets_of(*secret, opts).error().describe().find("does not compare Secrets") != std::string::npos);
  auto unknown = parse_manifest("apiVersion: example.io/v1\nkind: Widget\nmetadata: {name: w}\n", "x.yaml");
  CHECK(targets_of(*unknown, opts).error().describe().find("x.yaml: document 1: example.io/v1 Widget") !=
        std::string::npos);
  auto nameless = parse_manifest("apiVersion: v1\nkind: ConfigMap\n", "x.yaml");
  CHECK(targets_of(*nameless, opts).error().describe().find("no metadata.name") != std::string::npos);
  CHECK(parse_manifest("- a\n- b\n", "x.yaml").error().describe().find("not a YAML mapping") !=
        std::string::npos);
  CHECK(parse_manifest("a: [1,\n", "x.yaml").error().describe().find("x.yaml: not valid YAML: line") !=
        std::string::npos);
  CHECK(parse_manifest("# nothing\n", "x.yaml").error().code() == Code::invalid_input);
}

TEST_CASE("a fixed document replaces only its own text, comments elsewhere stay", "[unit][drift]") {
  auto manifest = parse_manifest(web_manifest, "web.yaml");
  REQUIRE(manifest);
  json::object service = manifest->documents[1];
  service["spec"].get_object()["type"] = "ClusterIP";
  const std::string text = render_manifest(*manifest, {{1, service}});
  CHECK(text.starts_with("# the web tier\napiVersion: apps/v1\n"));
  CHECK(text.find("name: web   # keep this comment") != std::string::npos);
  CHECK(text.find("---\napiVersion: v1\nkind: Service\n") != std::string::npos);
  CHECK(text.find("type: ClusterIP") != std::string::npos);
  auto reread = parse_manifest(text, "again");
  REQUIRE(reread);
  CHECK(reread->documents[0] == manifest->documents[0]);
  CHECK(reread->documents[1] == service);
  CHECK(render_manifest(*manifest, {}) == web_manifest);
}

TEST_CASE("changed paths: nested keys, list items, quoted keys, absent sides", "[unit][drift]") {
  const auto live = json_of(R"({"spec":{"replicas":5,"template":{"spec":{"securityContext":{},
      "containers":[{"name":"app","image":"web:6.6.6"},{"name":"extra","image":"x"}]}}},
      "metadata":{"annotations":{"irsteps.io/incident":"a"}}})");
  const auto expected =
      json_of(R"({"spec":{"replicas":2,"template":{"spec":{"securityContext":{"runAsNonRoot":true},
      "containers":[{"name":"app","image":"web:1.0"}]}}},"metadata":{"annotations":{"irsteps.io/incident":"b"}}})");
  const auto changes = changed_paths(&live, &expected);
  REQUIRE(changes.size() == 5);
  CHECK(changes[0].path == R"(metadata.annotations["irsteps.io/incident"])");
  CHECK(changes[1].path == "spec.replicas");
  CHECK(changes[1].old_value == json::value(5));
  CHECK(changes[1].new_value == json::value(2));
  CHECK(changes[2].path == "spec.template.spec.containers[0].image");
  CHECK(changes[3].path == "spec.template.spec.containers[1]");
  CHECK_FALSE(changes[3].new_value);
  CHECK(changes[4].path == "spec.template.spec.securityContext.runAsNonRoot");
  CHECK_FALSE(changes[4].old_value);
  CHECK(changes[4].new_value == json::value(true));
  CHECK(changed_paths(&live, &live).empty());
}

TEST_CASE("server-managed fields are no drift, a missing object is one change", "[unit][drift]") {
  auto manifest =
      parse_manifest("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: '1'}\n", "c.yaml");
  auto targets = targets_of(*manifest, *options({"--expected", "c.yaml"}));
  REQUIRE(targets);
  const auto live =
      json_of(R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","namespace":"default",
      "uid":"1","resourceVersion":"10","creationTimestamp":"2026-01-01T00:00:00Z","managedFields":[{}]},
      "data":{"a":"1"}})");
  const auto merged =
      json_of(R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","namespace":"default",
      "uid":"1","resourceVersion":"11","generation":2,"creationTimestamp":"2026-01-01T00:00:00Z",
      "managedFields":[{"manager":"irsteps"}]},"data":{"a":"1"},"status":{"x":1}})");
  auto same = compare(targets->front(), live.get_object(), merged.get_object());
  CHECK(same.changes.empty());
  CHECK(same.diff.empty());
  auto absent = compare(targets->front(), std::nullopt, merged.get_object());
  REQUIRE(absent.changes.size() == 1);
  CHECK(absent.changes[0].path.empty());
  CHECK_FALSE(absent.changes[0].old_value);
  CHECK(absent.diff.starts_with("--- /dev/null\n+++ expected/default/configmap/c\n@@ -0,0 +1,"));
  CHECK(absent.diff.find("+  resourceVersion") == std::string::npos);
}

TEST_CASE("a pod spec within the restricted profile has no findings", "[unit][drift]") {
  CHECK(security_findings(json_of(restricted_pod).get_object(), all_checks).empty());
  CHECK(security_findings(json_of(R"({"kind":"ConfigMap","data":{}})").get_object(), all_checks).empty());
}

TEST_CASE("each restricted-profile violation is found with its path and fix", "[unit][drift]") {
  const auto deployment = json_of(R"({"kind":"Deployment","spec":{"template":{"spec":{
      "hostNetwork":true,"hostPID":true,"hostIPC":false,
      "volumes":[{"name":"cfg","configMap":{"name":"c"}},{"name":"root","hostPath":{"path":"/"}}],
      "initContainers":[{"name":"init","securityContext":{"runAsNonRoot":false,"allowPrivilegeEscalation":false,
                         "capabilities":{"drop":["ALL"]},"seccompProfile":{"type":"Unconfined"}}}],
      "containers":[{"name":"app","securityContext":{"privileged":true,"runAsUser":0,
                     "capabilities":{"add":["SYS_ADMIN","NET_BIND_SERVICE"]}}}]}}}})");
  const auto findings = security_findings(deployment.get_object(), all_checks);
  const auto paths = paths_of(findings);
  const std::string pod = "spec.template.spec";
  for (const std::string& wanted : {
           "run-as-non-root " + pod + ".securityContext.runAsNonRoot",
           "run-as-non-root " + pod + ".initContainers[0].securityContext.runAsNonRoot",
           "run-as-non-root " + pod + ".containers[0].securityContext.runAsUser",
           "allow-privilege-escalation " + pod + ".containers[0].securityContext.allowPrivilegeEscalation",
           "capabilities " + pod + ".containers[0].securityContext.capabilities.drop",
           "capabilities " + pod + ".containers[0].securityContext.capabilities.add",
           "seccomp " + pod + ".securityContext.seccompProfile.type",
           "seccomp " + pod + ".initContainers[0].securityContext.seccompProfile.type",
           "privileged " + pod + ".containers[0].securityContext.privileged",
           "host-network " + pod + ".hostNetwork",
           "host-pid " + pod + ".hostPID",
           "host-path " + pod + ".volumes[1].hostPath",
       }) {
    INFO(wanted);
    CHECK(std::find(paths.begin(), paths.end(), wanted) != paths.end());
  }
  CHECK(paths.size() == 12);  // hostIPC false, the init container's escalation and drop are fine
  const auto only = security_findings(deployment.get_object(), {"privileged"});
  REQUIRE(only.size() == 1);
  CHECK(only[0].found == json::value(true));
  CHECK(only[0].fix.find("privileged: false") != std::string::npos);

  // All the fixes together, as one strategic merge patch, make a compliant object.
  const auto fix = combined_fix(findings);
  const auto fixed = strategic_patched(deployment, json::value(fix));
  const auto left = paths_of(security_findings(fixed.get_object(), all_checks));
  CHECK(left ==
        std::vector<std::string>{"run-as-non-root " + pod + ".containers[0].securityContext.runAsUser",
                                 "host-path " + pod + ".volumes[1].hostPath"});
}

TEST_CASE("the pod spec of a CronJob and of a Pod", "[unit][drift]") {
  const auto cronjob = json_of(R"({"kind":"CronJob","spec":{"jobTemplate":{"spec":{"template":{"spec":{
      "hostPID":true,"containers":[]}}}}}})");
  const auto found = security_findings(cronjob.get_object(), {"host-pid"});
  REQUIRE(found.size() == 1);
  CHECK(found[0].path == "spec.jobTemplate.spec.template.spec.hostPID");
  CHECK(boost::json::serialize(*found[0].patch) ==
        R"({"spec":{"jobTemplate":{"spec":{"template":{"spec":{"hostPID":false}}}}}})");
  const auto pod = json_of(R"({"kind":"Pod","spec":{"hostIPC":true}})");
  CHECK(security_findings(pod.get_object(), {"host-ipc"}).at(0).path == "spec.hostIPC");
}

TEST_CASE("strategic merge merges lists by their key, a merge patch replaces them", "[unit][drift]") {
  const auto target =
      json_of(R"({"spec":{"containers":[{"name":"a","image":"x","ports":[{"containerPort":80}]},
      {"name":"b","image":"y"}],"volumes":[{"name":"v"},{"name":"w"}],"args":["1","2"],"keep":1}})");
  const auto patch = json_of(R"({"spec":{"containers":[{"name":"b","securityContext":{"privileged":false}},
      {"name":"c","image":"z"}],"volumes":[{"name":"v","$patch":"delete"}],"args":["3"],"keep":null}})");
  const auto merged = strategic_patched(target, patch);
  CHECK(merged == json_of(R"({"spec":{"containers":[{"name":"a","image":"x","ports":[{"containerPort":80}]},
      {"name":"b","image":"y","securityContext":{"privileged":false}},{"name":"c","image":"z"}],
      "volumes":[{"name":"w"}],"args":["3"]}})"));
  const auto replaced =
      merge_patched(target, json_of(R"({"spec":{"containers":[{"name":"b"}],"keep":null}})"));
  CHECK(replaced == json_of(R"({"spec":{"containers":[{"name":"b"}],"volumes":[{"name":"v"},{"name":"w"}],
      "args":["1","2"]}})"));
}
