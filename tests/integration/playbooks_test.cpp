// The shipped playbooks (workflows/argo/playbooks) run from end to end by the
// `playbook` runner against the real control plane, exactly as Argo would run
// them: their effects checked in the cluster, the evidence folder, the
// notification receiver (HTTPS on 127.0.0.1), the case record (a bare git
// repository, checked with the git command) and, for the supply chain, images
// in Debian's docker-registry on 127.0.0.1.
#include "service/registry_fixture.hpp"
#include "support/git_server.hpp"
#include "support/http_server.hpp"
#include "support/pki.hpp"
#include "support/step_runner.hpp"

#include "ir/core/time.hpp"
#include "ir/k8s/workload.hpp"

#include <boost/json/serialize.hpp>

#include <filesystem>
#include <thread>

using namespace ir;
using namespace ir::test;
namespace fs = std::filesystem;

namespace {

struct Rig {
  TempDir dir;
  KeyPair ca = make_ca("playbooks test CA");
  HttpServer receiver{[](const SeenRequest&) {
                        return Reply{200, {}, "ok"};
                      },
                      ServerTls{issue(ca, {"receiver", {"localhost"}, {"127.0.0.1"}}), {}}};
  std::string case_repo = dir / "case.git";
  std::vector<std::string> mounts;
  std::string gate = "--approve-all";  // or --deny-all: every approval gate's answer
  bool with_case_repo = true;
  std::vector<std::string> extra;  // more options for `playbook run`, e.g. --deny STEP

  Rig() {
    make_bare_repo(case_repo);
    fs::create_directories(dir / "routing");
    fs::create_directories(dir / "evidence");
    fs::create_directories(dir / "empty");
    REQUIRE(write_file_atomic(dir / "routing/ca.pem", ca.cert_pem));
    REQUIRE(write_file_atomic(dir / "routing/hook-secret", "playbook-hook-secret-51d2\n"));
    REQUIRE(write_file_atomic(dir / "routing/routing.yaml",
                              "defaults: {ca-file: " + dir / "routing/ca.pem" +
                                  "}\nchannels:\n  - {name: siem, type: webhook, url: '" + receiver.url() +
                                  "/siem', secret-file: " + dir / "routing/hook-secret" + "}\n"));
    mounts = {"--mount", "/etc/irsteps/notify=" + dir / "routing",
              "--mount", "/var/run/secrets/irsteps/notify=" + dir / "empty",
              "--mount", "/var/run/secrets/irsteps/case-repo=" + dir / "empty",
              "--mount", "/evidence=" + dir / "evidence"};
  }

  // Runs `playbook run NAME -p ... --approve-all` (or `gate`); returns the result document.
  json::object run(const std::string& name, const std::vector<std::string>& params, int expected_exit = 0) {
    std::vector<std::string> argv{binary("playbook"),
                                  "run",
                                  name,
                                  "--templates",
                                  std::string(IRSTEPS_SOURCE_DIR) + "/workflows/argo",
                                  gate,
                                  "--artifact-dir",
                                  dir / "artifacts"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.insert(argv.end(), mounts.begin(), mounts.end());
    for (const auto& p : params) argv.insert(argv.end(), {"-p", p});
    if (with_case_repo) argv.insert(argv.end(), {"-p", "case-repo=" + case_repo});
    ProcessOptions options;
    options.extra_env = {{"KUBECONFIG", Cluster::get().kubeconfig()}};
    options.timeout = std::chrono::seconds(400);
    auto out = run_process(argv, options);
    if (!out) FAIL(out.error().describe());
    INFO("stderr: " << out->err << "\nstdout: " << out->out);
    REQUIRE(out->exit_status == expected_exit);
    auto doc = parse_json(out->out, "playbook stdout");
    REQUIRE(doc);
    REQUIRE(doc->is_object());
    return doc->as_object();
  }

  // Steps recorded in the case record for the incident, in commit order.
  std::vector<std::string> recorded_steps(const std::string& incident) {
    std::vector<std::string> steps;
    const std::string log =
        run_git(case_repo, {"log", "--reverse", "--format=%s", "main", "--", "incidents/" + incident}).out;
    std::size_t start = 0;
    for (auto nl = log.find('\n'); nl != std::string::npos; start = nl + 1, nl = log.find('\n', start)) {
      const std::string line = log.substr(start, nl - start);  // "INC-...: isolate succeeded"
      const auto colon = line.find(": ");
      steps.push_back(line.substr(colon + 2, line.find(' ', colon + 2) - colon - 2));
    }
    return steps;
  }

  std::vector<json::object> notifications() const {
    std::vector<json::object> out;
    for (const auto& r : receiver.requests()) {
      auto doc = parse_json(r.body, "notification");
      if (doc && doc->is_object()) out.push_back(doc->as_object());
    }
    return out;
  }
};

std::string phase_of(const json::object& result, const std::string& node_suffix) {
  const auto* nodes = find(result, {"nodes"});
  if (nodes == nullptr || !nodes->is_array()) return "";
  for (const auto& node : nodes->as_array()) {
    const std::string name = string_at(node, {"name"});
    if (name.size() >= node_suffix.size() && name.ends_with("." + node_suffix))
      return string_at(node, {"phase"});
  }
  return "";
}

std::string output_of(const json::object& result, const std::string& node_suffix, const std::string& key) {
  const auto* nodes = find(result, {"nodes"});
  if (nodes == nullptr || !nodes->is_array()) return "";
  for (const auto& node : nodes->as_array()) {
    const std::string name = string_at(node, {"name"});
    if (name.size() >= node_suffix.size() && name.ends_with("." + node_suffix))
      return string_at(node, {"outputs", key});
  }
  return "";
}

// Kubernetes' times are whole seconds, and the persistence check flags what
// was created at or after the window's start: what the test set up before the
// incident must be a second older than the workflow (or detected-at).
void let_a_second_pass() {
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
}

std::string node_field(const json::object& result, const std::string& node_suffix, std::string_view key) {
  const auto* nodes = find(result, {"nodes"});
  if (nodes == nullptr || !nodes->is_array()) return "";
  for (const auto& node : nodes->as_array()) {
    const std::string name = string_at(node, {"name"});
    if (name.size() >= node_suffix.size() && name.ends_with("." + node_suffix)) return string_at(node, {key});
  }
  return "";
}

}  // namespace

TEST_CASE("container compromise: isolate, evidence, notice, approval, eradication, restart, report",
          "[integration][playbooks]") {
  Rig rig;
  TestNamespace ns("pbcc");
  Cluster::get().apply_yaml(ns.name(), deployment_yaml("web", 2));
  const auto pods = running_pods(ns.name(), "app=web", 2);
  const std::string incident = "INC-2026-11-26-501";
  let_a_second_pass();
  const auto result = rig.run("irsteps-container-compromise",
                              {"incident-id=" + incident, "namespace=" + ns.name(), "pod=" + pods[0],
                               "workload=deployment/web", "severity=critical", "title=Miner in web",
                               "summary=Falco saw a crypto miner", "impact=web tier", "contact=Alice"});
  CHECK(string_at(result, {"phase"}) == "Succeeded");
  for (const auto* node :
       {"isolate", "cordon-host-access", "snapshot", "initial-notification", "approve-eradication",
        "delete-pod", "check-persistence", "restart", "status-update", "post-incident-report"}) {
    INFO(node);
    CHECK(phase_of(result, node) == "Succeeded");
  }
  // The pod could not reach its host: its node stays in scheduling.
  CHECK(phase_of(result, "cordon-escape") == "Skipped");
  CHECK(output_of(result, "cordon-host-access", "spared-pods") == pods[0]);
  CHECK(output_of(result, "cordon-host-access", "changed-nodes").empty());
  // The cluster: the quarantine policy stands, the compromised pod is gone.
  auto policy = Cluster::get().client().get(k8s::resources::networkpolicies, ns.name(),
                                            "irsteps-isolate-inc-2026-11-26-501");
  CHECK(policy);
  CHECK(!Cluster::get().client().get(k8s::resources::pods, ns.name(), pods[0]));
  // Issue 16 item 3: without detected-at the persistence window starts when
  // the workflow was created, never empty. In it: the compromised pod
  // (quarantined) and the pod its ReplicaSet made to replace it (detached
  // by isolate): neither is persistence, so nothing gates the report.
  const std::string since = output_of(result, "check-persistence", "since");
  REQUIRE(since.size() == 20);  // 2026-12-07T09:06:19Z
  CHECK(since.substr(0, 19) <= node_field(result, "isolate", "startedAt").substr(0, 19));
  CHECK(output_of(result, "check-persistence", "flagged-count") == "0");
  CHECK(string_at(result, {"outputs", "parameters", "persistence-flagged"}) == "0");
  CHECK(phase_of(result, "persistence-found") == "Skipped");
  CHECK(phase_of(result, "approve-resolution") == "Skipped");
  // The evidence folder: a manifest for the pod, every item hashed.
  const std::string pod_dir = rig.dir / ("evidence/" + incident + "/" + ns.name() + "/" + pods[0]);
  CHECK(fs::exists(pod_dir + "/pod.json"));
  CHECK(fs::exists(rig.dir / ("evidence/" + incident + "/manifest.json")));
  // Issue 16 item 12: the evidence folder also went to the artifact
  // repository, and the workflow's output names its manifest's hash.
  const auto manifest = read_file(rig.dir / ("evidence/" + incident + "/manifest.json"));
  REQUIRE(manifest);
  CHECK(string_at(result, {"outputs", "parameters", "evidence-manifest-sha256"}) == sha256_hex(*manifest));
  bool archived = false;
  for (const auto& node : find(result, {"nodes"})->as_array()) {
    if (!string_at(node, {"name"}).ends_with(".snapshot")) continue;
    for (const auto& artifact : find(node, {"artifacts"})->as_array()) {
      const std::string archive = rig.dir / ("artifacts/" + string_at(artifact, {"key"}));
      const auto listed = run_process({"tar", "-tzf", archive});
      REQUIRE(listed);
      archived = string_at(artifact, {"name"}) == "evidence" &&
                 listed->out.find(incident + "/manifest.json") != std::string::npos;
    }
  }
  CHECK(archived);
  // The receiver: initial notification, status update, post-incident report.
  const auto sent = rig.notifications();
  REQUIRE(sent.size() == 3);
  CHECK(string_at(sent[0], {"template"}) == "initial-notification");
  CHECK(string_at(sent[1], {"template"}) == "status-update");
  CHECK(string_at(sent[2], {"template"}) == "post-incident-report");
  const std::string report = string_at(sent[2], {"text"});
  CHECK(report.find("isolate succeeded") != std::string::npos);
  CHECK(report.find(pods[0]) != std::string::npos);
  CHECK(report.find("TO BE WRITTEN BY THE INCIDENT TEAM") != std::string::npos);
  // The case record: one commit per step run, in order, and valid git.
  const auto steps = rig.recorded_steps(incident);
  CHECK(steps.front() == "isolate");
  CHECK(steps.back() == "notify");
  CHECK(steps.size() ==
        9);  // isolate, cordon, snapshot, notify, 3 rollout, 2 notify (the report reads, then records)
  CHECK(std::count(steps.begin(), steps.end(), "cordon") == 1);
  CHECK(run_git(rig.case_repo, {"fsck", "--strict"}).exit_status == 0);

  // Issue 16 item 10: Falco fired again for the same shell, a second
  // workflow with its own incident id, which ran once the pod's mutex was
  // free: the pod is gone, and the first run's quarantine names it. Nothing
  // is changed, nobody is told again, and the run succeeds (no exit-handler
  // failure notice either).
  const std::string second = "INC-2026-11-26-541";
  const auto again = rig.run(
      "irsteps-container-compromise",
      {"incident-id=" + second, "namespace=" + ns.name(), "pod=" + pods[0], "workload=deployment/web"});
  CHECK(string_at(again, {"phase"}) == "Succeeded");
  CHECK(string_at(again, {"outputs", "parameters", "outcome"}) == "already-handled");
  CHECK(string_at(again, {"outputs", "parameters", "handled-by"}) == incident);
  CHECK(phase_of(again, "isolate") == "Succeeded");
  for (const auto* node :
       {"snapshot", "initial-notification", "approve-eradication", "eradication-not-approved", "delete-pod",
        "check-persistence", "restart", "status-update", "post-incident-report"}) {
    INFO(node);
    CHECK(phase_of(again, node) == "Skipped");
  }
  CHECK(rig.notifications().size() == 3);
  CHECK(!Cluster::get().client().get(k8s::resources::networkpolicies, ns.name(),
                                     "irsteps-isolate-inc-2026-11-26-541"));
  CHECK(!fs::exists(rig.dir / ("evidence/" + second)));
}

// Issue 16 item 14: without a case record the playbook still runs to its
// end; the report's timeline and actions come from the workflow's own steps.
TEST_CASE("container compromise without a case record reports from its own steps",
          "[integration][playbooks]") {
  Rig rig;
  rig.with_case_repo = false;
  TestNamespace ns("pbccnorec");
  Cluster::get().apply_yaml(ns.name(), deployment_yaml("web", 1));
  const auto pods = running_pods(ns.name(), "app=web", 1);
  const std::string incident = "INC-2026-11-26-514";
  let_a_second_pass();
  const auto result = rig.run(
      "irsteps-container-compromise",
      {"incident-id=" + incident, "namespace=" + ns.name(), "pod=" + pods[0], "workload=deployment/web"});
  CHECK(string_at(result, {"phase"}) == "Succeeded");
  CHECK(phase_of(result, "post-incident-report") == "Succeeded");
  const auto sent = rig.notifications();
  REQUIRE(sent.size() == 3);
  CHECK(string_at(sent[2], {"template"}) == "post-incident-report");
  const std::string report = string_at(sent[2], {"text"});
  INFO(report);
  CHECK(report.find("isolate: pod " + ns.name() + "/" + pods[0] +
                    " isolated by policy irsteps-isolate-inc-2026-11-26-514") != std::string::npos);
  CHECK(report.find("compromised pod deleted") != std::string::npos);
  CHECK(report.find("restart of the workload 'deployment/web': Succeeded") != std::string::npos);
  CHECK(report.find("Evidence: " + rig.dir / ("evidence/" + incident)) != std::string::npos);
  // Each line starts with the node's time, in Argo's RFC 3339 form.
  const auto isolated = report.find("isolate: pod");
  REQUIRE(isolated != std::string::npos);
  REQUIRE(isolated > 22);
  CHECK(report.substr(isolated - 22, 22).find("Z") == 19);
  CHECK(report.find("{{") == std::string::npos);
  CHECK(run_git(rig.case_repo, {"for-each-ref"}).out.empty());  // no case record was written
}

// Issue 16 item 1: eradication not approved (denied, as a plain `argo
// resume` or no answer within approval-timeout leaves it): the pod stays
// isolated, nothing is deleted or restarted, and people are told.
TEST_CASE("container compromise not approved: contained, nothing deleted, people told",
          "[integration][playbooks]") {
  Rig rig;
  rig.gate = "--deny-all";
  TestNamespace ns("pbccno");
  Cluster::get().apply_yaml(ns.name(), deployment_yaml("web", 1));
  const auto pods = running_pods(ns.name(), "app=web", 1);
  const std::string incident = "INC-2026-11-26-509";
  const auto result = rig.run(
      "irsteps-container-compromise",
      {"incident-id=" + incident, "namespace=" + ns.name(), "pod=" + pods[0], "workload=deployment/web"});
  CHECK(string_at(result, {"phase"}) == "Succeeded");
  CHECK(phase_of(result, "approve-eradication") == "Succeeded");
  CHECK(phase_of(result, "eradication-not-approved") == "Succeeded");
  for (const auto* node :
       {"delete-pod", "check-persistence", "restart", "status-update", "post-incident-report"}) {
    INFO(node);
    CHECK(phase_of(result, node) == "Skipped");
  }
  CHECK(Cluster::get().client().get(k8s::resources::networkpolicies, ns.name(),
                                    "irsteps-isolate-inc-2026-11-26-509"));
  CHECK(Cluster::get().client().get(k8s::resources::pods, ns.name(), pods[0]));
  const auto sent = rig.notifications();
  REQUIRE(sent.size() == 2);
  CHECK(string_at(sent[0], {"template"}) == "initial-notification");
  CHECK(string_at(sent[1], {"text"}).find("eradication was not approved") != std::string::npos);
  const auto steps = rig.recorded_steps(incident);
  CHECK(std::count(steps.begin(), steps.end(), "rollout") == 0);
}

// Issue 18: a Falco alert below Critical starts the playbook with
// response=evidence: the evidence is captured and people are told, and
// nothing is isolated, deleted or restarted, with no approval asked.
TEST_CASE("container compromise with response=evidence: evidence and a notice, nothing contained",
          "[integration][playbooks]") {
  Rig rig;
  TestNamespace ns("pbccev");
  Cluster::get().apply_yaml(ns.name(), deployment_yaml("web", 1));
  const auto pods = running_pods(ns.name(), "app=web", 1);
  const std::string incident = "INC-2026-11-26-531";
  const auto result = rig.run("irsteps-container-compromise",
                              {"incident-id=" + incident, "namespace=" + ns.name(), "pod=" + pods[0],
                               "workload=deployment/web", "response=evidence"});
  CHECK(string_at(result, {"phase"}) == "Succeeded");
  CHECK(phase_of(result, "snapshot") == "Succeeded");
  CHECK(phase_of(result, "evidence-notification") == "Succeeded");
  for (const auto* node : {"isolate", "cordon-host-access", "cordon-escape", "initial-notification",
                           "approve-eradication", "eradication-not-approved", "delete-pod",
                           "check-persistence", "restart", "status-update", "post-incident-report"}) {
    INFO(node);
    CHECK(phase_of(result, node) == "Skipped");
  }
  CHECK(!Cluster::get().client().get(k8s::resources::networkpolicies, ns.name(),
                                     "irsteps-isolate-inc-2026-11-26-531"));
  const auto pod = Cluster::get().client().get(k8s::resources::pods, ns.name(), pods[0]);
  REQUIRE(pod);
  CHECK(string_at(*pod, {"metadata", "labels", "irsteps.io/quarantine"}).empty());
  CHECK(fs::exists(rig.dir / ("evidence/" + incident + "/manifest.json")));
  const auto sent = rig.notifications();
  REQUIRE(sent.size() == 1);
  CHECK(string_at(sent[0], {"text"}).find("nothing was isolated, deleted or restarted") != std::string::npos);
  const auto steps = rig.recorded_steps(incident);
  CHECK(std::count(steps.begin(), steps.end(), "isolate") == 0);
  CHECK(std::count(steps.begin(), steps.end(), "rollout") == 0);
}

// Issue 16 item 3: a CronJob made during the incident is persistence. People
// are told what was found, and the report does not go out as resolved while
// nobody has cleared it (here the review is denied; eradication approved).
TEST_CASE(
    "container compromise with persistence: a CronJob made in the incident is flagged, no resolved report",
    "[integration][playbooks]") {
  Rig rig;
  rig.extra = {"--deny", "approve-resolution"};
  TestNamespace ns("pbccpersist");
  Cluster::get().apply_yaml(ns.name(), deployment_yaml("web", 1));
  const auto pods = running_pods(ns.name(), "app=web", 1);
  let_a_second_pass();
  const std::string detected_at = format_utc(now());
  Cluster::get().apply_yaml(ns.name(), R"(
apiVersion: batch/v1beta1
kind: CronJob
metadata: {name: miner}
spec:
  schedule: "*/5 * * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers: [{name: miner, image: registry.example/evil/miner:1.0}]
)");
  const std::string incident = "INC-2026-11-26-521";
  const auto result = rig.run("irsteps-container-compromise",
                              {"incident-id=" + incident, "namespace=" + ns.name(), "pod=" + pods[0],
                               "workload=deployment/web", "detected-at=" + detected_at});
  CHECK(string_at(result, {"phase"}) == "Succeeded");
  CHECK(output_of(result, "check-persistence", "since") == detected_at);
  CHECK(output_of(result, "check-persistence", "flagged-count") == "1");
  CHECK(output_of(result, "check-persistence", "flagged") == ns.name() + "/cronjob/miner");
  CHECK(string_at(result, {"outputs", "parameters", "persistence-flagged"}) == "1");
  CHECK(phase_of(result, "persistence-found") == "Succeeded");
  CHECK(phase_of(result, "approve-resolution") == "Succeeded");
  CHECK(output_of(result, "approve-resolution", "approved") == "not approved");
  CHECK(phase_of(result, "persistence-not-cleared") == "Succeeded");
  CHECK(phase_of(result, "status-update") == "Skipped");
  CHECK(phase_of(result, "post-incident-report") == "Skipped");
  const auto sent = rig.notifications();
  REQUIRE(sent.size() == 3);
  CHECK(string_at(sent[0], {"template"}) == "initial-notification");
  for (const auto& notice : {sent[1], sent[2]}) {
    CHECK(string_at(notice, {"template"}) == "status-update");
    CHECK(string_at(notice, {"text"}).find(ns.name() + "/cronjob/miner") != std::string::npos);
  }
  CHECK(string_at(sent[1], {"text"}).find("possible persistence: 1 object(s)") != std::string::npos);
  CHECK(string_at(sent[2], {"text"}).find("no resolved report was sent") != std::string::npos);
  for (const auto& notice : sent) CHECK(string_at(notice, {"template"}) != "post-incident-report");
}

// The other path of the same gate: a person clears what was flagged, and
// the report goes out as resolved, naming the object.
TEST_CASE("container compromise with persistence cleared by a person: then the resolved report",
          "[integration][playbooks]") {
  Rig rig;
  TestNamespace ns("pbccpersistok");
  Cluster::get().apply_yaml(ns.name(), deployment_yaml("web", 1));
  const auto pods = running_pods(ns.name(), "app=web", 1);
  let_a_second_pass();
  const std::string detected_at = format_utc(now());
  Cluster::get().apply_yaml(ns.name(), R"(
apiVersion: v1
kind: Pod
metadata: {name: backdoor}
spec:
  containers: [{name: sh, image: registry.example/evil/shell:1.0}]
)");
  const auto result = rig.run("irsteps-container-compromise",
                              {"incident-id=INC-2026-11-26-522", "namespace=" + ns.name(), "pod=" + pods[0],
                               "workload=deployment/web", "detected-at=" + detected_at});
  CHECK(string_at(result, {"phase"}) == "Succeeded");
  CHECK(output_of(result, "check-persistence", "flagged") == ns.name() + "/pod/backdoor");
  CHECK(output_of(result, "approve-resolution", "approved") == "approved");
  CHECK(phase_of(result, "persistence-not-cleared") == "Skipped");
  CHECK(phase_of(result, "post-incident-report") == "Succeeded");
  const auto sent = rig.notifications();
  REQUIRE(sent.size() == 4);
  CHECK(string_at(sent[1], {"text"}).find(ns.name() + "/pod/backdoor") != std::string::npos);
  CHECK(string_at(sent[2], {"template"}) == "status-update");
  CHECK(string_at(sent[3], {"template"}) == "post-incident-report");
}

// Issue 16 item 3: with detected-at, the only new object is the pod the
// ReplicaSet made to replace the compromised one (no workload: no restart,
// so it is still there to look at): nothing is flagged, and the playbook
// ends as it did before the check learned to tell it apart.
TEST_CASE("container compromise with detected-at: the ReplicaSet's replacement pod is not flagged",
          "[integration][playbooks]") {
  Rig rig;
  TestNamespace ns("pbccreplace");
  Cluster::get().apply_yaml(ns.name(), deployment_yaml("web", 2));
  const auto pods = running_pods(ns.name(), "app=web", 2);
  let_a_second_pass();
  const std::string detected_at = format_utc(now());
  const auto result =
      rig.run("irsteps-container-compromise", {"incident-id=INC-2026-11-26-523", "namespace=" + ns.name(),
                                               "pod=" + pods[0], "detected-at=" + detected_at});
  CHECK(string_at(result, {"phase"}) == "Succeeded");
  CHECK(output_of(result, "check-persistence", "since") == detected_at);
  CHECK(output_of(result, "check-persistence", "flagged-count") == "0");
  // The replacement: made in the window, by the ReplicaSet, and not flagged.
  const auto now_running = running_pods(ns.name(), "app=web", 2);
  std::size_t replacements = 0;
  for (const auto& pod : now_running) {
    if (std::find(pods.begin(), pods.end(), pod) != pods.end()) continue;
    auto object = Cluster::get().client().get(k8s::resources::pods, ns.name(), pod);
    REQUIRE(object);
    CHECK(string_at(*object, {"metadata", "creationTimestamp"}) >= detected_at);
    ++replacements;
  }
  CHECK(replacements == 1);
  CHECK(phase_of(result, "persistence-found") == "Skipped");
  CHECK(phase_of(result, "approve-resolution") == "Skipped");
  CHECK(phase_of(result, "status-update") == "Succeeded");
  CHECK(phase_of(result, "post-incident-report") == "Succeeded");
  const auto sent = rig.notifications();
  REQUIRE(sent.size() == 3);
  CHECK(string_at(sent[2], {"template"}) == "post-incident-report");
}

// Issue 16 item 9: a failed playbook tells people, through its exit
// handler, which step failed and why.
TEST_CASE("container compromise with a failing step: the exit handler reports the failed node",
          "[integration][playbooks]") {
  Rig rig;
  TestNamespace ns("pbccfail");
  const auto result =
      rig.run("irsteps-container-compromise",
              {"incident-id=INC-2026-11-26-511", "namespace=" + ns.name(), "pod=no-such-pod"}, 1);
  CHECK(string_at(result, {"phase"}) == "Failed");
  CHECK(phase_of(result, "isolate") == "Failed");
  CHECK(phase_of(result, "failure-notification") == "Succeeded");
  CHECK(phase_of(result, "snapshot").empty());  // nothing after the failure ran
  const auto sent = rig.notifications();
  REQUIRE(sent.size() == 1);
  const std::string text = string_at(sent[0], {"text"});
  CHECK(text.find("ended Failed") != std::string::npos);
  CHECK(text.find(R"("displayName":"isolate")") != std::string::npos);
}

TEST_CASE("container compromise as a tabletop exercise: --dry-run changes nothing and still records",
          "[integration][playbooks]") {
  Rig rig;
  TestNamespace ns("pbdry");
  Cluster::get().apply_yaml(ns.name(), deployment_yaml("web", 1));
  const auto pods = running_pods(ns.name(), "app=web", 1);
  const std::string incident = "INC-2026-11-26-502";
  // escape=true: the node is cordoned whatever the pod's spec, here planned only.
  std::vector<std::string> argv_params{"incident-id=" + incident, "namespace=" + ns.name(), "pod=" + pods[0],
                                       "workload=deployment/web", "dry-run=true",           "escape=true"};
  const auto result = rig.run("irsteps-container-compromise", argv_params);
  CHECK(string_at(result, {"phase"}) == "Succeeded");
  CHECK(phase_of(result, "cordon-escape") == "Succeeded");
  CHECK(phase_of(result, "cordon-host-access") == "Skipped");
  const auto pod = Cluster::get().client().get(k8s::resources::pods, ns.name(), pods[0]);
  REQUIRE(pod);
  const std::string node_name = string_at(*pod, {"spec", "nodeName"});
  CHECK(output_of(result, "cordon-escape", "nodes") == node_name);
  const auto node = Cluster::get().client().get(k8s::resources::nodes, "", node_name);
  REQUIRE(node);
  CHECK(find(*node, {"spec", "unschedulable"}) == nullptr);
  CHECK(!Cluster::get().client().get(k8s::resources::networkpolicies, ns.name(),
                                     "irsteps-isolate-inc-2026-11-26-502"));
  CHECK(Cluster::get().client().get(k8s::resources::pods, ns.name(), pods[0]));
  CHECK(rig.notifications().empty());
  CHECK(!rig.recorded_steps(incident).empty());
}

// Issue 16 item 2: lists of two values (Secrets, keys, data classes) go
// through the WorkflowTemplate's one-argument parameters whole.
TEST_CASE("data exposure: rotate the secret and restart its consumers, audit trail, notify with deadlines",
          "[integration][playbooks]") {
  Rig rig;
  TestNamespace ns("pbdata");
  Cluster::get().apply_yaml(ns.name(), R"(apiVersion: v1
kind: Secret
metadata: {name: db-password}
stringData: {password: leaked-value-93c1, user: leaked-user-93c1}
---
apiVersion: v1
kind: Secret
metadata: {name: api-token}
stringData: {password: leaked-value-77d2, user: leaked-user-77d2}
)");
  const std::string incident = "INC-2026-11-26-503";
  const auto result = rig.run(
      "irsteps-data-exposure",
      {"incident-id=" + incident, "namespace=" + ns.name(), "secret=db-password,api-token",
       "key=password,user", "data-class=pci,personal", "detected-at=2026-11-26T09:00:00Z", "severity=high"});
  CHECK(string_at(result, {"phase"}) == "Succeeded");
  for (const auto& [name, old_values] : std::vector<std::pair<std::string, std::vector<std::string>>>{
           {"db-password", {"leaked-value-93c1", "leaked-user-93c1"}},
           {"api-token", {"leaked-value-77d2", "leaked-user-77d2"}}}) {
    auto secret = Cluster::get().client().get(k8s::resources::secrets, ns.name(), name);
    REQUIRE(secret);
    INFO(name);
    for (const auto& [key, old_value] :
         {std::pair{"password", old_values[0]}, std::pair{"user", old_values[1]}}) {
      const auto value = base64_decode(string_at(*secret, {"data", key}));
      REQUIRE(value);
      CHECK(*value != old_value);
    }
  }
  const auto sent = rig.notifications();
  REQUIRE(sent.size() == 1);
  CHECK(string_at(sent[0], {"text"}).find("db-password") != std::string::npos);
  CHECK(string_at(sent[0], {"text"}).find("api-token") != std::string::npos);
  const auto* deadlines = find(sent[0], {"deadlines"});
  REQUIRE(deadlines != nullptr);
  CHECK(json::serialize(*deadlines).find("2026-11-27T09:00:00Z") != std::string::npos);  // PCI: 24 h
  CHECK(json::serialize(*deadlines).find("2026-11-29T09:00:00Z") != std::string::npos);  // GDPR: 72 h
  const auto steps = rig.recorded_steps(incident);
  CHECK(std::count(steps.begin(), steps.end(), "rotate-secret") == 1);
  CHECK(std::count(steps.begin(), steps.end(), "access-audit") == 1);
  CHECK(steps.back() == "notify");
  for (const auto* leaked :
       {"leaked-value-93c1", "leaked-user-93c1", "leaked-value-77d2", "leaked-user-77d2"})
    CHECK(rig.receiver.requests()[0].body.find(leaked) == std::string::npos);
  // Issue 16 item 4: no audit-log artifact, no count: never "0 accesses".
  CHECK(output_of(result, "audit-trail", "access-count") == "audit log not read");
  CHECK(string_at(sent[0], {"text"}).find("recorded accesses under review: audit log not read") !=
        std::string::npos);
}

// Issue 16 item 4: the audit log reaches access-audit as the playbook's
// input artifact audit-log (on Argo from S3, GCS, HTTP or git; here
// --artifact), and who read the Secret is in the outputs and the notice.
TEST_CASE("data exposure with the audit-log artifact: the access is counted and named",
          "[integration][playbooks]") {
  Rig rig;
  TestNamespace ns("pbdataaudit");
  Cluster::get().apply_yaml(ns.name(), R"(apiVersion: v1
kind: Secret
metadata: {name: db-password}
stringData: {password: leaked-value-41e7}
)");
  const std::string at = format_utc(now() - std::chrono::hours(1));
  const std::string audit_log = rig.dir / "audit.log";
  REQUIRE(write_file_atomic(
      audit_log,
      R"({"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"9f1c",)"
      R"("stage":"ResponseComplete","requestURI":"/api/v1/namespaces/)" +
          ns.name() +
          R"(/secrets/db-password","verb":"get","user":{"username":"mallory@example.com","groups":["dev"]},)"
          R"("sourceIPs":["203.0.113.9"],"userAgent":"kubectl/v1.30","objectRef":{"resource":"secrets",)"
          R"("namespace":")" +
          ns.name() +
          R"(","name":"db-password","apiVersion":"v1"},"responseStatus":{"code":200},)"
          R"("requestReceivedTimestamp":")" +
          at + R"(","stageTimestamp":")" + at + "\"}\n"));
  rig.extra = {"--artifact", "audit-log=" + audit_log};
  const std::string incident = "INC-2026-11-26-514";
  const auto result =
      rig.run("irsteps-data-exposure", {"incident-id=" + incident, "namespace=" + ns.name(),
                                        "secret=db-password", "key=password", "severity=high"});
  CHECK(string_at(result, {"phase"}) == "Succeeded");
  CHECK(output_of(result, "audit-trail", "access-count") == "1");
  CHECK(output_of(result, "audit-trail", "users").find("mallory@example.com") != std::string::npos);
  const auto sent = rig.notifications();
  REQUIRE(sent.size() == 1);
  CHECK(string_at(sent[0], {"text"}).find("recorded accesses under review: 1") != std::string::npos);
}

// Issue 16 item 9: a failed step reaches people through the exit handler.
TEST_CASE("data exposure with a failing step: the exit handler reports the failed node",
          "[integration][playbooks]") {
  Rig rig;
  TestNamespace ns("pbdatafail");
  const auto result = rig.run("irsteps-data-exposure",
                              {"incident-id=INC-2026-11-26-512", "namespace=" + ns.name(),
                               "secret=no-such-secret", "key=password", "data-class=pci", "severity=high"},
                              1);
  CHECK(string_at(result, {"phase"}) == "Failed");
  CHECK(phase_of(result, "rotate") == "Failed");
  CHECK(phase_of(result, "notify") != "Succeeded");  // the deadlines notice never went out
  CHECK(phase_of(result, "failure-notification") == "Succeeded");
  const auto sent = rig.notifications();
  REQUIRE(sent.size() == 1);
  const std::string text = string_at(sent[0], {"text"});
  CHECK(text.find("ended Failed") != std::string::npos);
  CHECK(text.find(R"("displayName":"rotate")") != std::string::npos);
}

TEST_CASE("misconfiguration with a failing step: the exit handler reports the failed node",
          "[integration][playbooks]") {
  Rig rig;
  TestNamespace ns("pbmisfail");
  const auto result = rig.run("irsteps-misconfiguration",
                              {"incident-id=INC-2026-11-26-513", "expected=" + rig.dir / "no-such-config.git",
                               "path=apps/web.yaml", "namespace=" + ns.name()},
                              1);
  CHECK(string_at(result, {"phase"}) == "Failed");
  CHECK(phase_of(result, "detect") == "Failed");
  CHECK(phase_of(result, "failure-notification") == "Succeeded");
  const auto sent = rig.notifications();
  REQUIRE(sent.size() == 1);
  CHECK(string_at(sent[0], {"text"}).find(R"("displayName":"detect")") != std::string::npos);
}

namespace {

// The misconfiguration playbook on a Deployment whose expected state (one
// replica) is in git and that someone scaled to three by hand: drift.
json::object run_on_drift(Rig& rig, const std::string& ns, const std::string& incident) {
  const std::string expected = deployment_yaml("web", 1);
  make_bare_repo(rig.dir / "config.git", {{"apps/web.yaml", expected}});
  Cluster::get().apply_yaml(ns, expected);
  running_pods(ns, "app=web", 1);
  auto scaled = Cluster::get().client().patch(k8s::resources::deployments, ns, "web", k8s::PatchType::merge,
                                              json::object{{"spec", json::object{{"replicas", 3}}}});
  REQUIRE(scaled);
  return rig.run("irsteps-misconfiguration", {"incident-id=" + incident, "expected=" + rig.dir / "config.git",
                                              "path=apps/web.yaml", "namespace=" + ns});
}

}  // namespace

TEST_CASE("misconfiguration: drift from git found, approved, fixed, verified, notified",
          "[integration][playbooks]") {
  Rig rig;
  TestNamespace ns("pbmis");
  const std::string incident = "INC-2026-11-26-504";
  const auto result = run_on_drift(rig, ns.name(), incident);
  CHECK(string_at(result, {"phase"}) == "Succeeded");
  CHECK(phase_of(result, "apply") == "Succeeded");
  auto live = Cluster::get().client().get(k8s::resources::deployments, ns.name(), "web");
  REQUIRE(live);
  CHECK(find(*live, {"spec", "replicas"})->to_number<int>() == 1);
  // The Deployment also fails the security checks (no securityContext): the
  // fix is patched in and committed to the incident's branch.
  CHECK(phase_of(result, "patch-findings") == "Succeeded");
  CHECK(phase_of(result, "commit-fix") == "Skipped");
  CHECK(phase_of(result, "commit-fix-to-incident-branch") == "Succeeded");
  CHECK(run_git(rig.dir / "config.git", {"rev-parse", "--verify", "refs/heads/irsteps/" + incident})
            .exit_status == 0);
  const auto sent = rig.notifications();
  REQUIRE(sent.size() == 1);
  CHECK(string_at(sent[0], {"text"}).find("drift found: true") != std::string::npos);
  const auto steps = rig.recorded_steps(incident);
  CHECK(std::count(steps.begin(), steps.end(), "drift") == 4);  // detect, apply, patch, commit
}

// Issue 16 item 7: the live object matches git, and git itself fails the
// security checks (playbooks.md's own runAsNonRoot example): that is a
// finding, and it takes the fix path (approval, patch, verify, commit), never
// the "resolved, no drift" notice.
TEST_CASE("misconfiguration: no drift but a failed security check is fixed after approval and committed",
          "[integration][playbooks]") {
  Rig rig;
  TestNamespace ns("pbmissec");
  const std::string incident = "INC-2026-11-26-515";
  const std::string expected = deployment_yaml("web", 1);
  make_bare_repo(rig.dir / "config.git", {{"apps/web.yaml", expected}});
  Cluster::get().apply_yaml(ns.name(), expected);
  running_pods(ns.name(), "app=web", 1);
  const auto result =
      rig.run("irsteps-misconfiguration", {"incident-id=" + incident, "expected=" + rig.dir / "config.git",
                                           "path=apps/web.yaml", "namespace=" + ns.name()});
  CHECK(string_at(result, {"phase"}) == "Succeeded");
  CHECK(phase_of(result, "no-drift") == "Skipped");
  CHECK(phase_of(result, "approve-fix") == "Succeeded");
  CHECK(phase_of(result, "apply") == "Skipped");  // nothing drifted
  CHECK(phase_of(result, "patch-findings") == "Succeeded");
  auto live = Cluster::get().client().get(k8s::resources::deployments, ns.name(), "web");
  REQUIRE(live);
  const auto* non_root = find(*live, {"spec", "template", "spec", "securityContext", "runAsNonRoot"});
  REQUIRE(non_root != nullptr);
  CHECK(*non_root == true);
  // The fixed manifest on irsteps/<incident-id>, for review.
  const std::string fixed =
      run_git(rig.dir / "config.git", {"show", "refs/heads/irsteps/" + incident + ":apps/web.yaml"}).out;
  CHECK(fixed.find("runAsNonRoot: true") != std::string::npos);
  const auto sent = rig.notifications();
  REQUIRE(sent.size() == 1);
  const std::string text = string_at(sent[0], {"text"});
  INFO(text);
  CHECK(text.find("drift found: false") != std::string::npos);
  CHECK(text.find("no drift, no findings") == std::string::npos);
}

// Issue 16 item 1: the fix not approved leaves the drift in place and says so.
TEST_CASE("misconfiguration not approved: drift found, nothing changed, people told",
          "[integration][playbooks]") {
  Rig rig;
  rig.gate = "--deny-all";
  TestNamespace ns("pbmisno");
  const std::string incident = "INC-2026-11-26-510";
  const auto result = run_on_drift(rig, ns.name(), incident);
  CHECK(string_at(result, {"phase"}) == "Succeeded");
  CHECK(phase_of(result, "apply") == "Skipped");
  CHECK(phase_of(result, "fix-not-approved") == "Succeeded");
  auto live = Cluster::get().client().get(k8s::resources::deployments, ns.name(), "web");
  REQUIRE(live);
  CHECK(find(*live, {"spec", "replicas"})->to_number<int>() == 3);
  const auto sent = rig.notifications();
  REQUIRE(sent.size() == 1);
  CHECK(string_at(sent[0], {"text"}).find("the fix was not approved") != std::string::npos);
  const auto steps = rig.recorded_steps(incident);
  CHECK(std::count(steps.begin(), steps.end(), "drift") == 1);  // detect only
}

namespace {

int replicas_of(const std::string& ns, const std::string& name) {
  auto live = Cluster::get().client().get(k8s::resources::deployments, ns, name);
  REQUIRE(live);
  return find(*live, {"spec", "replicas"})->to_number<int>();
}

// A keyless cosign signature in the legacy .sig format on `image`, made by
// a private test Sigstore (tests/support/sigstore-sign.py, which writes its
// trusted root to `sigstore`/trusted_root.json) for `who`. Security review
// finding 2: the real cosign fixture this test used before is an
// attestation, and an attestation is no signature.
void sign_image(oci::Registry& registry, const TempDir& sigstore, const std::string& repository,
                const std::string& docker_reference, const PushedImage& image, const std::string& who) {
  const std::string script = std::string(IRSTEPS_SOURCE_DIR) + "/tests/support/sigstore-sign.py";
  const auto signer = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"/usr/bin/python3", script});
    auto out = run_process(args);
    REQUIRE(out);
    INFO(out->err);
    REQUIRE(out->exit_status == 0);
    return out->out;
  };
  signer({"init", sigstore.path()});
  const std::string payload =
      boost::json::serialize(boost::json::object{{"critical",
                                                  {{"identity", {{"docker-reference", docker_reference}}},
                                                   {"image", {{"docker-manifest-digest", image.digest}}},
                                                   {"type", "cosign container image signature"}}}});
  REQUIRE(write_file_atomic(sigstore / "payload.json", payload));
  auto annotations =
      parse_json(signer({"legacy", sigstore.path(), "--payload", sigstore / "payload.json", "--identity", who,
                         "--issuer", "https://token.actions.githubusercontent.com"}),
                 "annotations");
  REQUIRE(annotations);
  push_legacy_signature(registry, repository, image.digest, payload, annotations->as_object());
}

// The other kinds that can run an image, for the supply chain (issue 16
// item 5): a CronJob, a Job, a DaemonSet and a bare pod, labelled app=NAME.
std::string other_kinds_of(const std::string& name, const std::string& image) {
  const std::string containers = "{restartPolicy: Never, containers: [{name: main, image: '" + image + "'}]}";
  return "apiVersion: batch/v1beta1\nkind: CronJob\nmetadata: {name: " + name +
         "-nightly}\nspec:\n  schedule: '0 3 * * *'\n  jobTemplate: {spec: {template: {spec: " + containers +
         "}}}\n---\napiVersion: batch/v1\nkind: Job\nmetadata: {name: " + name +
         "-once}\nspec:\n  template: {metadata: {labels: {app: " + name + "-once}}, spec: " + containers +
         "}\n---\napiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: " + name +
         "-agent}\nspec:\n  selector: {matchLabels: {app: " + name +
         "-agent}}\n  template: {metadata: {labels: {app: " + name +
         "-agent}}, spec: {containers: [{name: main, image: '" + image +
         "'}]}}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: " + name +
         "-lonely, labels: {app: " + name + "-lonely}}\nspec: {containers: [{name: main, image: '" + image +
         "'}]}\n";
}

std::size_t pods_labelled(const std::string& ns, const std::string& app) {
  auto pods = Cluster::get().client().list(k8s::resources::pods, ns, {"app=" + app, {}});
  REQUIRE(pods);
  return pods->at("items").as_array().size();
}

}  // namespace

TEST_CASE(
    "supply chain: a rejected image's workloads stopped by kind and people told, a verified one left alone",
    "[integration][playbooks][admission-engines]") {
  if (!have_docker_registry()) return;
  Rig rig;
  LocalRegistry local;
  oci::RegistryOptions options;
  options.plain_http = true;
  oci::Registry registry(local.host(), options);
  // An unsigned image, and an image signed as cosign signs one.
  const auto unsigned_image = push_image(registry, "shop/api", "1.0");
  const auto signed_image = push_image(registry, "shop/signed", "1.0");
  TempDir sigstore;
  const std::string identity = "https://github.com/shop/signed/.github/workflows/release.yml@refs/heads/main";
  sign_image(registry, sigstore, "shop/signed", local.host() + "/shop/signed", signed_image, identity);

  TestNamespace ns("pbsupply");
  const std::string api_ref = local.host() + "/shop/api:1.0";
  const std::string signed_ref = local.host() + "/shop/signed:1.0";
  Cluster::get().apply_yaml(ns.name(), deployment_running("api", api_ref, "main"));
  // Pinned by the digest the registry gives the unsigned image: found through
  // verify-image's digest output, not by the tag.
  Cluster::get().apply_yaml(
      ns.name(), deployment_running("pinned", local.host() + "/shop/api@" + unsigned_image.digest, "main"));
  Cluster::get().apply_yaml(ns.name(), other_kinds_of("api", api_ref));
  Cluster::get().apply_yaml(ns.name(), deployment_running("signed", signed_ref, "main"));
  for (const auto* app : {"api", "pinned", "api-once", "api-agent", "api-lonely", "signed"}) {
    running_pods(ns.name(), std::string("app=") + app, 1);
  }
  const std::vector<std::string> policy{"certificate-identity=" + identity,
                                        "certificate-oidc-issuer=https://token.actions.githubusercontent.com",
                                        "trusted-root=" + sigstore / "trusted_root.json",
                                        "namespace=" + ns.name(), "allow-http-registry=true",
                                        "upstream-contact=maintainers@shop.example",
                                        // The test cluster has no admission engine (see the last section).
                                        "block-image=false"};

  SECTION("the unsigned image is rejected: every kind that runs it stopped, the other untouched") {
    const std::string incident = "INC-2026-11-26-505";
    auto params = policy;
    params.insert(params.end(), {"incident-id=" + incident, "image=" + api_ref});
    const auto result = rig.run("irsteps-supply-chain", params);
    CHECK(string_at(result, {"phase"}) == "Succeeded");
    CHECK(phase_of(result, "scale-to-zero") == "Succeeded");
    CHECK(replicas_of(ns.name(), "api") == 0);
    CHECK(replicas_of(ns.name(), "pinned") == 0);
    CHECK(replicas_of(ns.name(), "signed") == 1);
    auto& client = Cluster::get().client();
    auto cronjob = client.get(k8s::resources::cronjobs, ns.name(), "api-nightly");
    REQUIRE(cronjob);
    CHECK(find(*cronjob, {"spec", "suspend"})->as_bool());
    auto job = client.get(k8s::resources::jobs, ns.name(), "api-once");
    REQUIRE(job);
    CHECK(find(*job, {"spec", "parallelism"})->to_number<int>() == 0);  // 1.20: no spec.suspend
    auto daemonset = client.get(k8s::resources::daemonsets, ns.name(), "api-agent");
    REQUIRE(daemonset);
    CHECK(string_at(*daemonset, {"spec", "template", "spec", "nodeSelector", "irsteps.io/stopped-by"}) ==
          incident);
    for (const auto* app : {"api-once", "api-agent", "api-lonely"}) {
      INFO(app);
      CHECK(eventually([&] { return pods_labelled(ns.name(), app) == 0; }));
    }
    CHECK(pods_labelled(ns.name(), "signed") == 1);
    const auto sent = rig.notifications();
    REQUIRE(sent.size() == 1);
    const std::string text = string_at(sent[0], {"text"});
    CHECK(text.find(unsigned_image.digest) != std::string::npos);
    for (const auto* workload : {"/deployment/api", "/deployment/pinned", "/cronjob/api-nightly",
                                 "/job/api-once", "/daemonset/api-agent", "/pod/api-lonely"}) {
      INFO(workload);
      CHECK(text.find(ns.name() + workload) != std::string::npos);
    }
    CHECK(text.find("/deployment/signed") == std::string::npos);
    CHECK(text.find("maintainers@shop.example") != std::string::npos);
    const auto steps = rig.recorded_steps(incident);
    CHECK(std::count(steps.begin(), steps.end(), "verify-image") == 1);
    CHECK(std::count(steps.begin(), steps.end(), "rollout") == 2);  // find-image, stop
    CHECK(steps.back() == "notify");
  }
  SECTION("the signed image verifies: nothing is touched, nobody is paged") {
    auto params = policy;
    params.insert(params.end(), {"incident-id=INC-2026-11-26-506", "image=" + signed_ref});
    const auto result = rig.run("irsteps-supply-chain", params);
    CHECK(string_at(result, {"phase"}) == "Succeeded");
    CHECK(phase_of(result, "verify") == "Succeeded");
    CHECK(replicas_of(ns.name(), "api") == 1);
    CHECK(replicas_of(ns.name(), "signed") == 1);
    CHECK(rig.notifications().empty());
  }
  SECTION("under a vulnerability gate the signed image without a vulnerability attestation is rejected") {
    // It has no cosign vuln attestation: no report, no pass.
    auto params = policy;
    params.insert(params.end(), {"incident-id=INC-2026-11-26-508", "image=" + signed_ref,
                                 "vulnerability-attestation=true", "max-severity=HIGH"});
    const auto result = rig.run("irsteps-supply-chain", params);
    CHECK(string_at(result, {"phase"}) == "Succeeded");
    CHECK(phase_of(result, "scale-to-zero") == "Succeeded");
    CHECK(replicas_of(ns.name(), "signed") == 0);
    CHECK(replicas_of(ns.name(), "api") == 1);
    const auto sent = rig.notifications();
    REQUIRE(sent.size() == 1);
    CHECK(string_at(sent[0], {"text"}).find("failed verification") != std::string::npos);
  }
  SECTION("response rollback: what has a revision history goes back, the rest is stopped") {
    // Give the Deployments and the DaemonSet a previous revision (the signed image) to go back to.
    auto& cluster = Cluster::get();
    for (const auto& [workload, image] : std::vector<std::pair<std::string, std::string>>{
             {"deployment/api", api_ref},
             {"deployment/pinned", local.host() + "/shop/api@" + unsigned_image.digest},
             {"daemonset/api-agent", api_ref}}) {
      INFO(workload);
      for (const auto& next : {signed_ref, image}) {
        REQUIRE(cluster.kubectl({"-n", ns.name(), "set", "image", workload, "main=" + next}).exit_status ==
                0);
        REQUIRE(
            cluster.kubectl({"-n", ns.name(), "rollout", "status", workload, "--timeout=60s"}).exit_status ==
            0);
      }
    }
    auto params = policy;
    params.insert(params.end(), {"incident-id=INC-2026-11-26-509", "image=" + api_ref, "response=rollback"});
    const auto result = rig.run("irsteps-supply-chain", params);
    CHECK(string_at(result, {"phase"}) == "Succeeded");
    CHECK(phase_of(result, "rollback") == "Succeeded");
    CHECK(phase_of(result, "stop-without-history") == "Succeeded");
    auto& client = cluster.client();
    const auto image_of = [&](const k8s::Resource& resource, const std::string& name) {
      auto live = client.get(resource, ns.name(), name);
      REQUIRE(live);
      return string_at(find(*live, {"spec", "template", "spec", "containers"})->as_array().at(0), {"image"});
    };
    CHECK(image_of(k8s::resources::deployments, "api") == signed_ref);
    CHECK(image_of(k8s::resources::deployments, "pinned") == signed_ref);
    CHECK(image_of(k8s::resources::daemonsets, "api-agent") == signed_ref);
    auto cronjob = client.get(k8s::resources::cronjobs, ns.name(), "api-nightly");
    REQUIRE(cronjob);
    CHECK(find(*cronjob, {"spec", "suspend"})->as_bool());
    auto job = client.get(k8s::resources::jobs, ns.name(), "api-once");
    REQUIRE(job);
    CHECK(find(*job, {"spec", "parallelism"})->to_number<int>() == 0);
    CHECK(eventually([&] { return pods_labelled(ns.name(), "api-lonely") == 0; }));
    CHECK(replicas_of(ns.name(), "signed") == 1);
  }
  SECTION("response replace: the replacement verified first, then set by its digest where a template is") {
    auto params = policy;
    params.insert(params.end(), {"incident-id=INC-2026-11-26-511", "image=" + api_ref, "response=replace",
                                 "replacement-image=" + signed_ref});
    const auto result = rig.run("irsteps-supply-chain", params);
    CHECK(string_at(result, {"phase"}) == "Succeeded");
    CHECK(phase_of(result, "verify-replacement") == "Succeeded");
    CHECK(phase_of(result, "set-image") == "Succeeded");
    CHECK(phase_of(result, "stop-unreplaced") == "Skipped");
    CHECK(phase_of(result, "stop-without-template") == "Succeeded");
    CHECK(phase_of(result, "scale-to-zero") == "Skipped");
    auto& client = Cluster::get().client();
    const std::string verified = local.host() + "/shop/signed@" + signed_image.digest;
    const auto image_of = [&](const k8s::Resource& resource, const std::string& name) {
      auto live = client.get(resource, ns.name(), name);
      REQUIRE(live);
      const auto* pod_spec = k8s::pod_spec_of(*live);
      REQUIRE(pod_spec != nullptr);
      return string_at(pod_spec->at("containers").as_array().at(0), {"image"});
    };
    CHECK(image_of(k8s::resources::deployments, "api") == verified);
    CHECK(image_of(k8s::resources::deployments, "pinned") == verified);
    CHECK(image_of(k8s::resources::daemonsets, "api-agent") == verified);
    CHECK(image_of(k8s::resources::cronjobs, "api-nightly") == verified);
    CHECK(image_of(k8s::resources::deployments, "signed") == signed_ref);  // never ran the rejected image
    CHECK(replicas_of(ns.name(), "api") == 1);                             // replaced, not scaled down
    auto job = client.get(k8s::resources::jobs, ns.name(), "api-once");
    REQUIRE(job);
    CHECK(find(*job, {"spec", "parallelism"})->to_number<int>() == 0);
    CHECK(eventually([&] { return pods_labelled(ns.name(), "api-lonely") == 0; }));
    const auto sent = rig.notifications();
    REQUIRE(sent.size() == 1);
    CHECK(string_at(sent[0], {"text"}).find("Response replace applied") != std::string::npos);
  }
  SECTION(
      "response replace with a replacement that fails verification: nothing replaced, all stopped, said") {
    auto params = policy;
    params.insert(params.end(), {"incident-id=INC-2026-11-26-512", "image=" + api_ref, "response=replace",
                                 "replacement-image=" + local.host() + "/shop/api:1.0"});
    const auto result = rig.run("irsteps-supply-chain", params);
    CHECK(string_at(result, {"phase"}) == "Succeeded");
    CHECK(phase_of(result, "verify-replacement") == "Succeeded");  // the verdict is an output
    CHECK(phase_of(result, "set-image") == "Skipped");
    CHECK(phase_of(result, "stop-unreplaced") == "Succeeded");
    CHECK(replicas_of(ns.name(), "api") == 0);
    CHECK(replicas_of(ns.name(), "pinned") == 0);
    CHECK(replicas_of(ns.name(), "signed") == 1);
    auto deployment = Cluster::get().client().get(k8s::resources::deployments, ns.name(), "api");
    REQUIRE(deployment);
    CHECK(string_at(*deployment, {"metadata", "annotations", "irsteps.io/previous-image-main"}).empty());
    auto job = Cluster::get().client().get(k8s::resources::jobs, ns.name(), "api-once");
    REQUIRE(job);
    CHECK(find(*job, {"spec", "parallelism"})->to_number<int>() == 0);
    const auto sent = rig.notifications();
    REQUIRE(sent.size() == 2);
    std::string texts;
    for (const auto& message : sent) texts += string_at(message, {"text"});
    INFO(texts);
    CHECK(texts.find("failed verification with") != std::string::npos);
    CHECK(texts.find("were stopped") != std::string::npos);
  }
  SECTION(
      "block-image on where the cluster has no admission engine: the workflow fails at the block, "
      "before anything is scaled down") {
    // This test case runs under RESOURCE_LOCK cluster: no block-image test
    // has an engine's CRDs installed meanwhile.
    auto params = policy;
    params.erase(std::find(params.begin(), params.end(), "block-image=false"));
    params.insert(params.end(), {"incident-id=INC-2026-11-26-510", "image=" + api_ref});
    const auto result = rig.run("irsteps-supply-chain", params, 1);
    CHECK(string_at(result, {"phase"}) == "Failed");
    CHECK(phase_of(result, "block") == "Failed");
    CHECK(replicas_of(ns.name(), "api") == 1);
    CHECK(replicas_of(ns.name(), "pinned") == 1);
    const auto sent = rig.notifications();
    REQUIRE(sent.size() == 1);
    CHECK(string_at(sent[0], {"text"}).find(R"("displayName":"block")") != std::string::npos);
  }
  SECTION("an unreachable registry is no verdict: the workflow fails and touches nothing") {
    auto params = policy;
    params.insert(params.end(), {"incident-id=INC-2026-11-26-507",
                                 "image=127.0.0.1:" + std::to_string(free_port()) + "/shop/api:1.0"});
    const auto result = rig.run("irsteps-supply-chain", params, 1);
    CHECK(string_at(result, {"phase"}) == "Failed");
    CHECK(replicas_of(ns.name(), "api") == 1);
    // Only the exit handler's notice: the verification failed (issue 16 item 9).
    const auto sent = rig.notifications();
    REQUIRE(sent.size() == 1);
    CHECK(string_at(sent[0], {"text"}).find(R"("displayName":"verify")") != std::string::npos);
  }
}

namespace {

const json::object* node_named(const json::object& result, const std::string& node_suffix) {
  for (const auto& node : result.at("nodes").as_array()) {
    const std::string name = string_at(node, {"name"});
    if (name.ends_with("." + node_suffix)) return &node.as_object();
  }
  return nullptr;
}

}  // namespace

// Issue 16 item 6: the verified recovery image is what the workload runs
// afterwards, by the digest verified; the tag it was named by can be moved.
TEST_CASE("container compromise recovers the workload on the verified recovery image, by digest",
          "[integration][playbooks]") {
  if (!have_docker_registry()) return;
  Rig rig;
  rig.with_case_repo = false;  // the report's timeline from the workflow's own steps
  LocalRegistry local;
  oci::RegistryOptions options;
  options.plain_http = true;
  oci::Registry registry(local.host(), options);
  const auto image = push_image(registry, "shop/web", "1.0");
  TempDir sigstore;
  const std::string identity = "https://github.com/shop/web/.github/workflows/release.yml@refs/heads/main";
  sign_image(registry, sigstore, "shop/web", local.host() + "/shop/web", image, identity);

  TestNamespace ns("pbccrecover");
  const std::string by_tag = local.host() + "/shop/web:1.0";
  Cluster::get().apply_yaml(ns.name(), deployment_running("web", by_tag, "main"));
  const auto pods = running_pods(ns.name(), "app=web", 1);
  let_a_second_pass();  // the ReplicaSet predates the persistence window
  const auto result =
      rig.run("irsteps-container-compromise",
              {"incident-id=INC-2026-11-26-516", "namespace=" + ns.name(), "pod=" + pods[0],
               "workload=deployment/web", "recovery-image=" + by_tag, "certificate-identity=" + identity,
               "certificate-oidc-issuer=https://token.actions.githubusercontent.com",
               "trusted-root=" + sigstore / "trusted_root.json", "allow-http-registry=true"});
  CHECK(string_at(result, {"phase"}) == "Succeeded");
  CHECK(phase_of(result, "verify-recovery-image") == "Succeeded");
  CHECK(phase_of(result, "set-recovery-image") == "Succeeded");
  CHECK(phase_of(result, "restart") == "Skipped");
  // What verify-image verified is what the rollout step was given.
  const auto* set = node_named(result, "set-recovery-image");
  REQUIRE(set != nullptr);
  CHECK(string_at(*set, {"inputs", "verb"}) == "set-image");
  CHECK(string_at(*set, {"inputs", "image"}) == by_tag + "@" + image.digest);
  const std::string pinned = local.host() + "/shop/web@" + image.digest;
  CHECK(string_at(result, {"outputs", "parameters", "recovery-image"}) == pinned);
  auto live = Cluster::get().client().get(k8s::resources::deployments, ns.name(), "web");
  REQUIRE(live);
  CHECK(string_at(find(*live, {"spec", "template", "spec", "containers"})->as_array().at(0), {"image"}) ==
        pinned);
  CHECK(string_at(*live, {"metadata", "annotations", "irsteps.io/previous-image-main"}) == by_tag);
  const auto sent = rig.notifications();
  REQUIRE(sent.size() == 3);
  CHECK(string_at(sent[2], {"text"}).find("by its verified digest: Succeeded") != std::string::npos);
}

TEST_CASE("container compromise without a recovery image restarts the workload from its own images",
          "[integration][playbooks]") {
  Rig rig;
  rig.with_case_repo = false;
  TestNamespace ns("pbccnorecovery");
  Cluster::get().apply_yaml(ns.name(), deployment_yaml("web", 1));
  const auto pods = running_pods(ns.name(), "app=web", 1);
  let_a_second_pass();  // the ReplicaSet predates the persistence window
  const auto result =
      rig.run("irsteps-container-compromise", {"incident-id=INC-2026-11-26-517", "namespace=" + ns.name(),
                                               "pod=" + pods[0], "workload=deployment/web"});
  CHECK(string_at(result, {"phase"}) == "Succeeded");
  CHECK(phase_of(result, "verify-recovery-image") == "Skipped");
  CHECK(phase_of(result, "set-recovery-image") == "Skipped");
  CHECK(phase_of(result, "restart") == "Succeeded");
  // Skipped: its output is the step template's default, "" (Argo 4.1+).
  CHECK(string_at(result, {"outputs", "parameters", "recovery-image"}).empty());
  auto live = Cluster::get().client().get(k8s::resources::deployments, ns.name(), "web");
  REQUIRE(live);
  CHECK(string_at(find(*live, {"spec", "template", "spec", "containers"})->as_array().at(0), {"image"}) ==
        "registry.example/shop/web:1.0");
  CHECK(!string_at(*live, {"spec", "template", "metadata", "annotations", "irsteps.io/restartedAt"}).empty());
}

// Issue 16 item 6: filesystem capture and evidence signing are turned on
// from the playbook's parameters.
TEST_CASE("container compromise captures the filesystem and signs the evidence manifest when asked",
          "[integration][playbooks]") {
  Rig rig;
  rig.with_case_repo = false;
  // The test node runs no container: its exec runs on this host in the
  // pod's rootfs folder, so `tar -C /` would read this host's root. A `tar`
  // first on the container's PATH reads the rootfs in its place.
  fs::create_directories(rig.dir / "rootfs/etc");
  REQUIRE(write_file_atomic(rig.dir / "rootfs/etc/dropped-by-attacker", "xmrig --donate-level 0\n"));
  fs::create_directories(rig.dir / "bin");
  auto tar = run_process({"sh", "-c", "command -v tar"});
  REQUIRE(tar);
  const std::string real_tar = tar->out.substr(0, tar->out.find('\n'));
  REQUIRE(write_file_atomic(rig.dir / "bin/tar",
                            "#!/bin/sh\nn=$#\nprev=\nfor a do\n"
                            "  if [ \"$prev\" = -C ] && [ \"$a\" = / ]; then a=$(pwd); fi\n"
                            "  set -- \"$@\" \"$a\"\n  prev=$a\ndone\nshift \"$n\"\n"
                            "exec " +
                                real_tar + " \"$@\"\n"));
  fs::permissions(rig.dir / "bin/tar", fs::perms::owner_all);
  fs::create_directories(rig.dir / "keys");
  REQUIRE(run_process({"openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                       "-out", rig.dir / "keys/key.pem"}));
  REQUIRE(run_process(
      {"openssl", "pkey", "-in", rig.dir / "keys/key.pem", "-pubout", "-out", rig.dir / "keys/key.pub"}));

  TestNamespace ns("pbccfs");
  Cluster::get().apply_yaml(
      ns.name(),
      "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  replicas: 1\n"
      "  selector: {matchLabels: {app: web}}\n  template:\n    metadata:\n      labels: {app: web}\n"
      "      annotations: {irsteps.io/test-rootfs: \"" +
          rig.dir / "rootfs" +
          "\"}\n    spec:\n      containers:\n      - name: app\n"
          "        image: registry.example/shop/web:1.0\n"
          "        env: [{name: PATH, value: \"" +
          rig.dir / "bin" + ":/usr/sbin:/usr/bin:/sbin:/bin\"}]\n");
  const auto pods = running_pods(ns.name(), "app=web", 1);
  let_a_second_pass();  // the ReplicaSet predates the persistence window
  const std::string incident = "INC-2026-11-26-518";
  const auto result = rig.run("irsteps-container-compromise",
                              {"incident-id=" + incident, "namespace=" + ns.name(), "pod=" + pods[0],
                               "capture-filesystem=true", "evidence-sign-key=" + rig.dir / "keys/key.pem"});
  CHECK(string_at(result, {"phase"}) == "Succeeded");
  const auto* snapshot = node_named(result, "snapshot");
  REQUIRE(snapshot != nullptr);
  CHECK(string_at(*snapshot, {"inputs", "filesystem"}) == "true");
  const std::string evidence = rig.dir / ("evidence/" + incident);
  CHECK(string_at(*snapshot, {"outputs", "signature"}) == evidence + "/manifest.json.sig");
  // The filesystem tar is an item of the manifest, hashed, and holds the rootfs.
  auto manifest_text = read_file(evidence + "/manifest.json");
  REQUIRE(manifest_text);
  auto manifest = parse_json(*manifest_text, "manifest");
  REQUIRE(manifest);
  const json::value* item = nullptr;
  for (const auto& entry : manifest->at("items").as_array()) {
    if (string_at(entry, {"path"}).ends_with("/filesystem/app.tar")) item = &entry;
  }
  REQUIRE(item != nullptr);
  CHECK(string_at(*item, {"status"}) == "complete");
  const std::string tar_path = evidence + "/" + string_at(*item, {"path"});
  CHECK(sha256_hex(*read_file(tar_path)) == string_at(*item, {"sha256"}));
  auto listing = run_process({"tar", "tf", tar_path});
  REQUIRE(listing);
  CHECK(listing->out.find("etc/dropped-by-attacker") != std::string::npos);
  // The manifest's signature verifies with the public key, and not with another.
  auto verified = run_process({binary("snapshot"), "verify", evidence, "--key", rig.dir / "keys/key.pub"});
  REQUIRE(verified);
  INFO(verified->err);
  CHECK(verified->exit_status == 0);
  auto verdict = parse_json(verified->out, "snapshot verify stdout");
  REQUIRE(verdict);
  CHECK(string_at(*verdict, {"outputs", "signature"}) == "verified");
  REQUIRE(write_file_atomic(evidence + "/manifest.json", *manifest_text + "\n"));
  auto tampered = run_process({binary("snapshot"), "verify", evidence, "--key", rig.dir / "keys/key.pub"});
  REQUIRE(tampered);
  CHECK(tampered->exit_status != 0);
}
