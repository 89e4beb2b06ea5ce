// drift against the real control plane and real git repositories (made with
// the git command in a temporary folder, read through file:// URLs and plain
// paths): no drift right after an apply, drift found with its paths, --apply
// and --patch verified, --commit-fix confirmed with git log and git show, bad
// input refused with nothing changed, and the shipped Role.
#include "support/step_runner.hpp"

#include <boost/json/serialize.hpp>

#include <filesystem>
#include <fstream>

using namespace ir;
using namespace ir::test;
namespace fs = std::filesystem;

namespace {

const std::string incident = "INC-2026-11-26-501";
const std::string manifest_path = "apps/web/deployment.yaml";

// Within the restricted profile; `insecure` leaves allowPrivilegeEscalation out.
std::string web_manifest(const std::string& image = "registry.example/shop/web:1.0", int replicas = 2,
                         bool insecure = false) {
  return R"(# the web tier, as reviewed
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: )" +
         std::to_string(replicas) + R"(
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      securityContext:
        runAsNonRoot: true
        seccompProfile: {type: RuntimeDefault}
      containers:
      - name: app
        image: )" +
         image + R"(
        ports: [{containerPort: 8080}]
        securityContext:
)" + (insecure ? "" : "          allowPrivilegeEscalation: false\n") +
         R"(          capabilities: {drop: [ALL]}
---
# the Service in front of it
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
)";
}

struct Scratch {
  fs::path dir;
  explicit Scratch(const std::string& name) : dir(fs::temp_directory_path() / ("drift-" + name)) {
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  ~Scratch() { fs::remove_all(dir); }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  [[nodiscard]] std::string file(const std::string& name, const std::string& content) const {
    const auto path = dir / name;
    fs::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary) << content;
    return path.string();
  }
  [[nodiscard]] std::string cache() const { return (dir / "cache").string(); }
};

ProcessOutput git(const std::vector<std::string>& args) {
  std::vector<std::string> argv{"git",
                                "-c",
                                "user.name=Config Owner",
                                "-c",
                                "user.email=owner@example.com",
                                "-c",
                                "init.defaultBranch=main"};
  argv.insert(argv.end(), args.begin(), args.end());
  auto output =
      run_process(argv, {{{"GIT_CONFIG_NOSYSTEM", "1"}, {"HOME", fs::temp_directory_path().string()}}});
  if (!output) FAIL(output.error().describe());
  INFO("git " << args.front() << ": " << output->err);
  REQUIRE(output->exit_status == 0);
  return *output;
}

// A configuration repository: a bare one, as a git server holds it, and a
// working clone that commits and pushes to it.
struct ConfigRepo {
  fs::path bare, work;
  explicit ConfigRepo(const Scratch& scratch) : bare(scratch.dir / "config.git"), work(scratch.dir / "work") {
    git({"init", "--quiet", "--bare", bare.string()});
    git({"clone", "--quiet", bare.string(), work.string()});
  }
  [[nodiscard]] std::string url() const { return "file://" + bare.string(); }
  std::string commit(const std::string& path, const std::string& content, const std::string& message) {
    fs::create_directories((work / path).parent_path());
    std::ofstream(work / path, std::ios::binary) << content;
    git({"-C", work.string(), "add", path});
    git({"-C", work.string(), "commit", "--quiet", "-m", message});
    git({"-C", work.string(), "push", "--quiet", "origin", "HEAD:main"});
    return trimmed(git({"-C", work.string(), "rev-parse", "HEAD"}).out);
  }
  std::string in_bare(std::vector<std::string> args) const {
    args.insert(args.begin(), "--git-dir=" + bare.string());
    return git(args).out;
  }
  static std::string trimmed(std::string text) {
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
    return text;
  }
};

StepRun drift(const std::string& ns, const Scratch& scratch, std::vector<std::string> more,
              const std::string& kubeconfig = {}) {
  std::vector<std::string> args{
      "--incident-id", incident,
      "--namespace",   ns,
      "--kubeconfig",  kubeconfig.empty() ? Cluster::get().kubeconfig() : kubeconfig};
  args.insert(args.end(), more.begin(), more.end());
  return run_step_binary("drift", args, {{"IRSTEPS_CACHE_DIR", scratch.cache()}});
}

json::array array_output(const StepRun& run, const std::string& name) {
  auto parsed = parse_json(run.output(name), name);
  REQUIRE(parsed);
  REQUIRE(parsed->is_array());
  return parsed->get_array();
}

const json::object* change_at(const json::array& changes, const std::string& path) {
  for (const auto& change : changes) {
    if (string_at(change, {"path"}) == path) return &change.get_object();
  }
  return nullptr;
}

json::object deployment(const std::string& ns) {
  auto object = Cluster::get().client().get(k8s::resources::deployments, ns, "web");
  if (!object) FAIL(object.error().describe());
  return *object;
}

std::int64_t generation_of(const std::string& ns) {
  const auto object = deployment(ns);
  return find(object, {"metadata", "generation"})->as_int64();
}

// What an incident finds: someone changed the image, the replica count, and
// took runAsNonRoot away.
void tamper(const std::string& ns) {
  auto& cluster = Cluster::get();
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"set", "image", "deployment/web", "app=registry.example/shop/web:6.6.6"},
        std::vector<std::string>{"scale", "deployment/web", "--replicas=5"},
        std::vector<std::string>{
            "patch", "deployment/web", "--type=json", "-p",
            R"([{"op":"remove","path":"/spec/template/spec/securityContext/runAsNonRoot"}])"}}) {
    std::vector<std::string> full{"-n", ns};
    full.insert(full.end(), args.begin(), args.end());
    auto done = cluster.kubectl(full);
    INFO(done.err);
    REQUIRE(done.exit_status == 0);
  }
}

}  // namespace

TEST_CASE("drift finds no drift right after the expected manifest is applied: defaults do not count",
          "[integration][drift]") {
  TestNamespace ns("drift-clean");
  Scratch scratch(ns.name());
  const auto file = scratch.file("web.yaml", web_manifest());
  Cluster::get().apply_yaml(ns.name(), web_manifest());
  auto run = drift(ns.name(), scratch, {"--expected", file, "--fail-on-drift"});
  REQUIRE_EXIT(run, 0);
  CHECK(run.output("drift") == "false");
  CHECK(run.output("changed-paths") == "[]");
  CHECK(run.output("diff").empty());
  CHECK(run.output("findings") == "[]");
  CHECK(run.output("objects") == ns.name() + "/deployment/web," + ns.name() + "/service/web");
  // The live objects do carry defaults the manifest does not state.
  CHECK(string_at(deployment(ns.name()), {"spec", "strategy", "type"}) == "RollingUpdate");
  CHECK(run.result.at("actions").as_array().empty());
}

TEST_CASE("drift finds a changed image, replica count and removed runAsNonRoot with their paths",
          "[integration][drift]") {
  TestNamespace ns("drift-found");
  Scratch scratch(ns.name());
  const auto file = scratch.file("web.yaml", web_manifest());
  Cluster::get().apply_yaml(ns.name(), web_manifest());
  tamper(ns.name());
  // The controllers keep writing status; the generation counts spec changes only.
  const auto generation = generation_of(ns.name());

  auto run = drift(ns.name(), scratch, {"--expected", file});
  REQUIRE_EXIT(run, 0);
  CHECK(run.output("drift") == "true");
  const auto changes = array_output(run, "changed-paths");
  CHECK(changes.size() == 3);
  const auto* replicas = change_at(changes, "spec.replicas");
  REQUIRE(replicas);
  CHECK(replicas->at("old") == 5);
  CHECK(replicas->at("new") == 2);
  CHECK(string_at(*replicas, {"object"}) == "deployment/web");
  const auto* image = change_at(changes, "spec.template.spec.containers[0].image");
  REQUIRE(image);
  CHECK(image->at("old") == "registry.example/shop/web:6.6.6");
  CHECK(image->at("new") == "registry.example/shop/web:1.0");
  const auto* non_root = change_at(changes, "spec.template.spec.securityContext.runAsNonRoot");
  REQUIRE(non_root);
  CHECK(string_at(*non_root, {"change"}) == "added");
  CHECK_FALSE(non_root->contains("old"));
  CHECK(non_root->at("new") == true);
  const std::string diff = run.output("diff");
  CHECK(diff.find("--- live/" + ns.name() + "/deployment/web\n") != std::string::npos);
  CHECK(diff.find("\n-  replicas: 5\n+  replicas: 2\n") != std::string::npos);
  CHECK(diff.find("\n+        runAsNonRoot: true\n") != std::string::npos);
  CHECK(diff.find("resourceVersion") == std::string::npos);
  CHECK(diff.find("managedFields") == std::string::npos);

  const auto findings = array_output(run, "findings");
  REQUIRE(findings.size() == 1);
  CHECK(string_at(findings[0], {"check"}) == "run-as-non-root");
  CHECK(string_at(findings[0], {"path"}) == "spec.template.spec.securityContext.runAsNonRoot");
  CHECK(run.output("fix-patch") ==
        R"({"spec":{"template":{"spec":{"securityContext":{"runAsNonRoot":true}}}}})");

  auto failing = drift(ns.name(), scratch, {"--expected", file, "--fail-on-drift"});
  REQUIRE_EXIT(failing, 3);
  CHECK(string_at(failing.result, {"status"}) == "rejected");
  CHECK(failing.output("drift") == "true");
  CHECK(string_at(failing.result, {"error", "message"}).find("3 changed paths (deployment/web)") !=
        std::string::npos);
  // Looking changed nothing: the dry run is the server's.
  CHECK(generation_of(ns.name()) == generation);
}

TEST_CASE("drift --apply puts the expected state back and verifies it, --dry-run and re-runs change nothing",
          "[integration][drift]") {
  TestNamespace ns("drift-apply");
  Scratch scratch(ns.name());
  const auto file = scratch.file("web.yaml", web_manifest());
  auto& cluster = Cluster::get();
  cluster.apply_yaml(ns.name(), web_manifest());
  tamper(ns.name());
  REQUIRE(cluster.kubectl({"-n", ns.name(), "delete", "service", "web"}).exit_status == 0);

  auto dry = drift(ns.name(), scratch, {"--expected", file, "--apply", "--dry-run"});
  REQUIRE_EXIT(dry, 0);
  const auto& planned = dry.result.at("actions").as_array();
  REQUIRE(planned.size() == 2);
  CHECK(planned[0].at("dryRun") == true);
  CHECK(string_at(planned[0], {"request", "method"}) == "PATCH");
  CHECK(string_at(planned[1], {"target", "kind"}) == "Service");
  const auto untouched = deployment(ns.name());
  CHECK(find(untouched, {"spec", "replicas"})->as_int64() == 5);
  CHECK_FALSE(cluster.client().get(k8s::resources::services, ns.name(), "web"));

  auto run = drift(ns.name(), scratch, {"--expected", file, "--apply", "--fail-on-drift"});
  REQUIRE_EXIT(run, 0);
  CHECK(run.output("drift") == "true");
  CHECK(run.output("verified") == "true");
  CHECK(run.output("remaining-changed-paths") == "[]");
  CHECK(run.output("remaining-findings") == "[]");
  const json::value live(deployment(ns.name()));
  CHECK(find(live, {"spec", "replicas"})->as_int64() == 2);
  CHECK(string_at(find(live, {"spec", "template", "spec", "containers"})->as_array().at(0), {"image"}) ==
        "registry.example/shop/web:1.0");
  CHECK(*find(live, {"spec", "template", "spec", "securityContext", "runAsNonRoot"}) == true);
  CHECK(cluster.client().get(k8s::resources::services, ns.name(), "web"));

  auto again = drift(ns.name(), scratch, {"--expected", file, "--apply", "--fail-on-drift"});
  REQUIRE_EXIT(again, 0);
  CHECK(again.output("drift") == "false");
  CHECK(again.result.at("actions").as_array().empty());
}

TEST_CASE("drift --patch applies the fix of a finding and verifies it", "[integration][drift]") {
  TestNamespace ns("drift-patch");
  Scratch scratch(ns.name());
  const auto file = scratch.file("web.yaml", web_manifest("registry.example/shop/web:1.0", 2, true));
  Cluster::get().apply_yaml(ns.name(), web_manifest("registry.example/shop/web:1.0", 2, true));
  auto found = drift(ns.name(), scratch, {"--expected", file});
  REQUIRE_EXIT(found, 0);
  CHECK(found.output("drift") == "false");
  const auto findings = array_output(found, "findings");
  REQUIRE(findings.size() == 1);
  CHECK(string_at(findings[0], {"path"}) ==
        "spec.template.spec.containers[0].securityContext.allowPrivilegeEscalation");
  const std::string fix = found.output("fix-patch");
  REQUIRE_FALSE(fix.empty());

  auto several = drift(ns.name(), scratch, {"--expected", file, "--patch", fix});
  REQUIRE_EXIT(several, 2);
  CHECK(several.err.find("--object KIND/NAME") != std::string::npos);

  auto patched =
      drift(ns.name(), scratch, {"--expected", file, "--object", "deployment/web", "--patch", fix});
  REQUIRE_EXIT(patched, 0);
  CHECK(patched.output("verified") == "true");
  CHECK(patched.output("remaining-findings") == "[]");
  const json::value live(deployment(ns.name()));
  CHECK(*find(find(live, {"spec", "template", "spec", "containers"})->as_array().at(0),
              {"securityContext", "allowPrivilegeEscalation"}) == false);
  CHECK(string_at(patched.result.at("actions").as_array().at(0), {"verb"}) == "patch");
  const auto generation = generation_of(ns.name());
  auto again = drift(ns.name(), scratch, {"--expected", file, "--object", "deployment/web", "--patch", fix});
  REQUIRE_EXIT(again, 0);
  CHECK(again.output("verified") == "true");
  CHECK(again.result.at("actions").as_array().empty());
  CHECK(generation_of(ns.name()) == generation);
}

TEST_CASE("drift reads the expected state from a git repository at a branch, a tag or a commit",
          "[integration][drift][git]") {
  TestNamespace ns("drift-git");
  Scratch scratch(ns.name());
  ConfigRepo repo(scratch);
  const std::string first = repo.commit(manifest_path, web_manifest(), "web 1.0");
  git({"-C", repo.work.string(), "tag", "v1"});
  git({"-C", repo.work.string(), "push", "--quiet", "origin", "v1"});
  repo.commit(manifest_path, web_manifest("registry.example/shop/web:1.0", 3), "three replicas");
  Cluster::get().apply_yaml(ns.name(), web_manifest());

  auto at_tag = drift(ns.name(), scratch, {"--expected", repo.url(), "--path", manifest_path, "--ref", "v1"});
  REQUIRE_EXIT(at_tag, 0);
  CHECK(at_tag.output("drift") == "false");
  auto at_commit =
      drift(ns.name(), scratch, {"--expected", repo.bare.string(), "--path", manifest_path, "--ref", first});
  REQUIRE_EXIT(at_commit, 0);
  CHECK(at_commit.output("drift") == "false");
  auto at_main = drift(ns.name(), scratch, {"--expected", repo.url(), "--path", manifest_path});
  REQUIRE_EXIT(at_main, 0);
  CHECK(at_main.output("drift") == "true");
  const auto changes = array_output(at_main, "changed-paths");
  REQUIRE(changes.size() == 1);
  CHECK(string_at(changes[0], {"path"}) == "spec.replicas");
  CHECK(changes[0].at("old") == 2);
  CHECK(changes[0].at("new") == 3);
}

TEST_CASE("drift --commit-fix pushes the fixed manifest to a new branch that git log and git show confirm",
          "[integration][drift][git]") {
  TestNamespace ns("drift-commit");
  Scratch scratch(ns.name());
  ConfigRepo repo(scratch);
  const std::string insecure = web_manifest("registry.example/shop/web:1.0", 2, true);
  const std::string base = repo.commit(manifest_path, insecure, "web 1.0");
  Cluster::get().apply_yaml(ns.name(), insecure);
  const std::string fix =
      R"({"spec":{"template":{"spec":{"containers":[{"name":"app","securityContext":{"allowPrivilegeEscalation":false}}]}}}})";
  const std::string branch = "fix/" + incident;
  const std::vector<std::string> common{"--expected",     repo.url(), "--path", manifest_path,  "--object",
                                        "deployment/web", "--patch",  fix,      "--commit-fix", branch};

  auto dry = drift(ns.name(), scratch, [&] {
    auto args = common;
    args.push_back("--dry-run");
    return args;
  }());
  REQUIRE_EXIT(dry, 0);
  CHECK(repo.in_bare({"branch", "--list", branch}).empty());
  CHECK(dry.output("fix-commit").empty());

  auto run = drift(ns.name(), scratch, common);
  REQUIRE_EXIT(run, 0);
  CHECK(run.output("verified") == "true");
  // Against the fixed manifest nothing is left to do.
  CHECK(run.output("remaining-changed-paths") == "[]");
  CHECK(run.output("remaining-findings") == "[]");
  CHECK(run.output("fix-branch") == branch);
  const std::string commit = run.output("fix-commit");
  REQUIRE(commit.size() == 40);

  const std::string log = repo.in_bare({"log", "--format=%H%n%P%n%B", "-1", branch});
  CHECK(log.starts_with(commit + "\n" + base + "\n"));
  CHECK(log.find(incident) != std::string::npos);
  const std::string fixed = repo.in_bare({"show", branch + ":" + manifest_path});
  CHECK(fixed.find("allowPrivilegeEscalation: false") != std::string::npos);
  CHECK(fixed.find("# the Service in front of it\n") != std::string::npos);  // the other document untouched
  CHECK(repo.in_bare({"show", "--stat", "--format=", commit}).find(manifest_path) != std::string::npos);
  CHECK(repo.in_bare({"show", "main:" + manifest_path}) == insecure);

  auto again = drift(ns.name(), scratch, common);
  REQUIRE_EXIT(again, 0);
  CHECK(again.output("fix-commit") == commit);
  CHECK(ConfigRepo::trimmed(repo.in_bare({"rev-parse", branch})) == commit);
}

TEST_CASE("drift refuses bad input with exit 2 and changes nothing", "[integration][drift][git]") {
  TestNamespace ns("drift-bad");
  Scratch scratch(ns.name());
  ConfigRepo repo(scratch);
  repo.commit(manifest_path, web_manifest(), "web 1.0");
  repo.commit("apps/broken.yaml", "apiVersion: v1\nkind: [ConfigMap\n", "broken");
  Cluster::get().apply_yaml(ns.name(), web_manifest());
  tamper(ns.name());
  // The controllers keep writing status; the generation counts spec changes only.
  const auto generation = generation_of(ns.name());
  const auto broken =
      scratch.file("broken.yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web\n");

  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const std::vector<Case> cases{
      {{"--expected", broken}, "parameter expected: " + broken + ": not valid YAML: line"},
      {{"--expected", (scratch.dir / "absent.yaml").string()}, "parameter expected: cannot read"},
      {{"--expected", repo.url(), "--path", "apps/broken.yaml"}, "parameter path: apps/broken.yaml at main"},
      {{"--expected", repo.url(), "--path", "apps/none.yaml"},
       "parameter path: apps/none.yaml is not a file at main"},
      {{"--expected", repo.url(), "--path", manifest_path, "--ref", "release-9"}, "parameter ref: release-9"},
      {{"--expected",
        scratch.file("other.yaml",
                     "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: other}\n")},
       "is in namespace other, not in " + ns.name() + " (parameter namespace)"},
  };
  for (const auto& c : cases) {
    auto args = c.args;
    args.push_back("--apply");
    auto run = drift(ns.name(), scratch, args);
    INFO(c.message);
    REQUIRE_EXIT(run, 2);
    CHECK(run.err.find(c.message) != std::string::npos);
    CHECK(run.result.at("actions").as_array().empty());
  }
  CHECK(generation_of(ns.name()) == generation);
}

TEST_CASE("the shipped drift Role is enough to diff, apply and patch", "[integration][drift][rbac]") {
  auto& cluster = Cluster::get();
  cluster.apply_shipped_role("drift");
  TokenKubeconfig identity(service_account_token("irsteps", "irsteps-drift"), "irsteps-drift");
  TestNamespace ns("drift-role");
  Scratch scratch(ns.name());
  const auto file = scratch.file("web.yaml", web_manifest());
  cluster.apply_yaml(ns.name(), web_manifest());
  tamper(ns.name());
  REQUIRE(cluster.kubectl({"-n", ns.name(), "delete", "service", "web"}).exit_status == 0);
  auto run = drift(ns.name(), scratch, {"--expected", file, "--apply", "--fail-on-drift"}, identity.path());
  REQUIRE_EXIT(run, 0);
  CHECK(run.output("verified") == "true");
  auto patched = drift(ns.name(), scratch,
                       {"--expected", file, "--object", "deployment/web", "--patch",
                        R"({"metadata":{"annotations":{"irsteps.io/incident":")" + incident + R"("}}})"},
                       identity.path());
  REQUIRE_EXIT(patched, 0);
  CHECK(patched.output("verified") == "true");
}
