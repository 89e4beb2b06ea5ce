// The playbook runner's command line: the real binary on small templates
// (tests/playbook/templates/) whose container steps are irsteps-test-echo,
// mapped with --bin-dir. No cluster. Work folders live under the build tree,
// not /tmp, since the runner rewrites /tmp paths to each node's own folder.
#include "ir/core/json.hpp"
#include "ir/core/process.hpp"
#include "support/catch.hpp"
#include "support/cluster.hpp"
#include "support/spawn.hpp"

#include <poll.h>
#include <pty.h>
#include <sys/wait.h>
#include <unistd.h>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>

using namespace ir;
using namespace ir::test;

namespace {

namespace fs = std::filesystem;

const std::string templates = std::string(IRSTEPS_SOURCE_DIR) + "/tests/playbook/templates/";

struct PlaybookRun {
  int exit_status = -1;
  std::string out;
  std::string err;
  json::object document;

  [[nodiscard]] const json::object& node(const std::string& name) const {
    for (const auto& n : document.at("nodes").as_array()) {
      if (string_at(n, {"name"}) == name) return n.as_object();
    }
    FAIL("no node " << name << " in " << out);
    throw std::logic_error("unreachable");
  }
  [[nodiscard]] bool has_node(const std::string& name) const {
    for (const auto& n : document.at("nodes").as_array()) {
      if (string_at(n, {"name"}) == name) return true;
    }
    return false;
  }
  [[nodiscard]] std::string phase(const std::string& name) const { return string_at(node(name), {"phase"}); }
  [[nodiscard]] std::string output(const std::string& name, const std::string& key) const {
    return string_at(node(name), {"outputs", key});
  }
};

#define REQUIRE_PLAYBOOK_EXIT(run, code)                        \
  do {                                                          \
    INFO("stderr: " << (run).err << "\nstdout: " << (run).out); \
    REQUIRE((run).exit_status == (code));                       \
  } while (false)

std::vector<std::string> command(std::vector<std::string> args) {
  std::vector<std::string> argv{binary("playbook"), "run"};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.push_back("--bin-dir");
  argv.push_back(IRSTEPS_TEST_BIN_DIR);
  return argv;
}

PlaybookRun run_playbook(std::vector<std::string> args,
                         std::vector<std::pair<std::string, std::string>> env = {}) {
  ProcessOptions options;
  options.extra_env = std::move(env);
  options.timeout = std::chrono::seconds(300);
  auto output = run_process(command(std::move(args)), options);
  if (!output) FAIL(output.error().describe());
  PlaybookRun run{output->exit_status, output->out, output->err, {}};
  auto doc = parse_json(run.out, "stdout");
  if (!doc || !doc->is_object())
    FAIL("stdout is not one JSON document: " << run.out << "\nstderr: " << run.err);
  run.document = doc->as_object();
  return run;
}

// A fresh folder under the build tree for one test.
std::string work_dir(const std::string& name) {
  const std::string dir = std::string(IRSTEPS_BINARY_DIR) + "/tests/playbook-work/" + name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string write_template(const std::string& dir, const std::string& yaml) {
  const std::string path = dir + "/template.yaml";
  std::ofstream(path) << yaml;
  return path;
}

// A one-step workflow around a container template body, for the error cases.
std::string single_step(const std::string& container_extra, const std::string& template_extra = "") {
  return R"(apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata: {name: single}
spec:
  entrypoint: main
  templates:
    - name: main
      steps:
        - - {name: only, template: echo}
    - name: echo
)" + template_extra +
         R"(      container:
        image: irsteps-test-echo
)" + container_extra;
}

}  // namespace

TEST_CASE("playbook runs steps groups: outputs flow, parallel entries, when, continueOn, -p",
          "[playbook][service]") {
  const auto dir = work_dir("steps");
  auto run = run_playbook({templates + "basic.yaml", "-p", "record=" + dir + "/record", "-p", "greeting=hi"});
  REQUIRE_PLAYBOOK_EXIT(run, 0);
  CHECK(string_at(run.document, {"phase"}) == "Succeeded");
  CHECK(string_at(run.document, {"parameters", "greeting"}) == "hi");
  CHECK(run.output("basic.left", "word") == "hi-left");
  CHECK(run.output("basic.right", "word") == "hi-right");
  CHECK(run.phase("basic.only-slow") == "Skipped");
  CHECK(run.phase("basic.failing") == "Failed");
  CHECK(run.node("basic.failing").at("exitCode").as_int64() == 3);
  CHECK(string_at(run.document, {"outputs", "parameters", "result"}) == "hi-left+hi-right+Failed+3+Skipped");
  CHECK(string_at(run.node("basic.first"), {"step"}) == "irsteps-test-echo");
  CHECK(run.node("basic.first").at("result").at("actions").as_int64() == 1);
  CHECK(run.err.find("basic.left  Succeeded  exit 0") != std::string::npos);

  const auto record = read_text(dir + "/record");
  CHECK(record.find("only-slow") == std::string::npos);
  CHECK(record.find("first dry-run= --incident-id=INC-2026-11-26-001 --dry-run=false") != std::string::npos);

  auto slow = run_playbook({templates + "basic.yaml", "-p", "record=" + dir + "/record2", "-p", "mode=slow"});
  REQUIRE_PLAYBOOK_EXIT(slow, 0);
  CHECK(slow.phase("basic.only-slow") == "Succeeded");
}

TEST_CASE("playbook runs a dag: parallel tasks, depends, handled failures", "[playbook][service]") {
  const auto dir = work_dir("dag");
  // b and c wait for each other at a barrier: they only finish if they run at once.
  auto run = run_playbook({templates + "dag.yaml", "-p", "barrier=" + dir + "/one"});
  REQUIRE_PLAYBOOK_EXIT(run, 0);
  CHECK(run.phase("dag-demo.b") == "Succeeded");
  CHECK(run.phase("dag-demo.c") == "Succeeded");
  CHECK(run.phase("dag-demo.on-failure") == "Omitted");
  CHECK(string_at(run.document, {"outputs", "parameters", "d"}) == "A-Succeeded-c");

  auto failing = run_playbook({templates + "dag.yaml", "-p", "barrier=" + dir + "/two", "-p", "fail-b=1"});
  REQUIRE_PLAYBOOK_EXIT(failing, 0);  // b's failure is handled by on-failure
  CHECK(failing.phase("dag-demo.b") == "Failed");
  CHECK(failing.phase("dag-demo.d") == "Omitted");
  CHECK(failing.phase("dag-demo.on-failure") == "Succeeded");
  CHECK(string_at(failing.document, {"outputs", "parameters", "d"}) == "none");
}

TEST_CASE("playbook retries exit code 4 only, up to the limit", "[playbook][service]") {
  const auto dir = work_dir("retry");
  auto run = run_playbook({templates + "retry.yaml", "-p", "state-dir=" + dir});
  REQUIRE_PLAYBOOK_EXIT(run, 0);
  const auto& transient = run.node("retry-demo.transient");
  CHECK(string_at(transient, {"phase"}) == "Succeeded");
  CHECK(transient.at("attempts").as_int64() == 3);
  CHECK(run.output("retry-demo.transient", "attempt") == "2");  // {{retries}}
  const auto& permanent = run.node("retry-demo.permanent");
  CHECK(string_at(permanent, {"phase"}) == "Failed");
  CHECK(permanent.at("attempts").as_int64() == 1);
  const auto& exhausted = run.node("retry-demo.exhausted");
  CHECK(exhausted.at("attempts").as_int64() == 3);
  CHECK(string_at(exhausted, {"message"}).find("retry limit 2 reached") != std::string::npos);
  CHECK(read_text(dir + "/transient") == "run\nrun\nrun\n");
  CHECK(read_text(dir + "/permanent") == "run\n");
}

// Issue 16 item 8: a retry runs at most what is left of backoff.maxDuration
// since the first attempt started, as Argo's retry pod
// (workflow/controller/operator.go processNodeRetries, executionDeadline).
TEST_CASE("playbook stops a retry at what is left of maxDuration", "[playbook][service]") {
  const auto dir = work_dir("max-duration");
  const auto path = write_template(dir, R"(kind: Workflow
metadata: {generateName: bounded-}
spec:
  entrypoint: main
  arguments:
    parameters: [{name: state}]
  templates:
    - name: main
      steps:
        - - {name: slow, template: slow}
    - name: slow
      retryStrategy:
        limit: "3"
        expression: asInt(lastRetry.exitCode) == 4
        backoff: {duration: 1s, maxDuration: 4s}
      container:
        image: irsteps-test-echo
        args: ["--sleep=2", "--exit-sequence=4,0", "--state={{workflow.parameters.state}}"]
)");
  // The first attempt takes 2s and exits 4; after 1s of backoff the retry
  // has 1s of the 4s left, not the 2s it needs to succeed.
  auto run = run_playbook({path, "-p", "state=" + dir + "/state"});
  REQUIRE_PLAYBOOK_EXIT(run, 1);
  const auto& slow = run.node("bounded.slow");
  CHECK(slow.at("attempts").as_int64() == 2);
  CHECK(string_at(slow, {"message"}).find("maxDuration") != std::string::npos);
}

TEST_CASE("playbook approval gates: --approve-all, --deny-all, none without a terminal, dry run",
          "[playbook][service]") {
  const auto dir = work_dir("gate");
  auto approved =
      run_playbook({templates + "gate.yaml", "-p", "record=" + dir + "/approved", "--approve-all"});
  REQUIRE_PLAYBOOK_EXIT(approved, 0);
  CHECK(approved.phase("gate-demo.after") == "Succeeded");

  auto denied = run_playbook({templates + "gate.yaml", "-p", "record=" + dir + "/denied", "--deny-all"});
  REQUIRE_PLAYBOOK_EXIT(denied, 1);
  CHECK(denied.phase("gate-demo.approve") == "Failed");
  CHECK_FALSE(denied.has_node("gate-demo.after"));
  CHECK(read_text(dir + "/denied").find("after") == std::string::npos);
  CHECK(string_at(denied.document, {"phase"}) == "Failed");

  auto unattended = run_playbook({templates + "gate.yaml", "-p", "record=" + dir + "/none"});
  REQUIRE_PLAYBOOK_EXIT(unattended, 2);
  CHECK(unattended.err.find("--approve-all or --deny-all") != std::string::npos);
  CHECK_FALSE(fs::exists(dir + "/none"));  // nothing ran

  auto dry = run_playbook({templates + "gate.yaml", "-p", "record=" + dir + "/dry", "--dry-run"});
  REQUIRE_PLAYBOOK_EXIT(dry, 0);
  CHECK(dry.document.at("dryRun").as_bool());
  CHECK(string_at(dry.node("gate-demo.approve"), {"message"}).find("dry run") != std::string::npos);
  const auto record = read_text(dir + "/dry");
  CHECK(record.find("before dry-run=true --name=before --dry-run=true") != std::string::npos);
  CHECK(record.find("after dry-run=true --name=after --dry-run=true") != std::string::npos);

  auto contradiction =
      run_playbook({templates + "gate.yaml", "-p", "record=x", "-p", "dry-run=false", "--dry-run"});
  REQUIRE_PLAYBOOK_EXIT(contradiction, 2);
}

namespace {

// Runs the playbook on a pseudo-terminal, answers its first question, and
// returns the exit status and everything it printed.
std::pair<int, std::string> run_on_terminal(const std::vector<std::string>& args, const std::string& answer) {
  auto argv_strings = command(args);
  std::vector<char*> argv;
  for (auto& a : argv_strings) argv.push_back(a.data());
  argv.push_back(nullptr);
  int terminal = -1;
  const pid_t pid = ::forkpty(&terminal, nullptr, nullptr, nullptr);
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  std::string seen;
  bool answered = false;
  char buffer[4096];
  while (true) {
    pollfd fd{terminal, POLLIN, 0};
    if (::poll(&fd, 1, 60'000) <= 0) break;
    const auto n = ::read(terminal, buffer, sizeof buffer);
    if (n <= 0) break;
    seen.append(buffer, static_cast<std::size_t>(n));
    if (!answered && seen.find("[y/N]") != std::string::npos) {
      const std::string line = answer + "\n";
      REQUIRE(::write(terminal, line.data(), line.size()) == static_cast<ssize_t>(line.size()));
      answered = true;
    }
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  ::close(terminal);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, seen};
}

}  // namespace

TEST_CASE("playbook asks at the terminal: y approves, anything else denies", "[playbook][service]") {
  const auto dir = work_dir("terminal");
  const auto [approved_exit, approved] =
      run_on_terminal({templates + "gate.yaml", "-p", "record=" + dir + "/yes"}, "y");
  INFO(approved);
  CHECK(approved.find("Approve gate-demo.approve? [y/N]") != std::string::npos);
  CHECK(approved_exit == 0);
  CHECK(read_text(dir + "/yes").find("after") != std::string::npos);

  const auto [denied_exit, denied] =
      run_on_terminal({templates + "gate.yaml", "-p", "record=" + dir + "/no"}, "no");
  INFO(denied);
  CHECK(denied_exit == 1);
  CHECK(denied.find("denied at the terminal") != std::string::npos);
  CHECK(read_text(dir + "/no").find("after") == std::string::npos);

  // A gate with a supplied output: "no" resumes it with the default, as a
  // plain `argo resume` does (issue 16 item 1), and the "not approved" path runs.
  const auto [declined_exit, declined] =
      run_on_terminal({templates + "approval.yaml", "-p", "record=" + dir + "/declined"}, "n");
  INFO(declined);
  CHECK(declined_exit == 0);
  CHECK(read_text(dir + "/declined").find("--name=not-approved:not approved") != std::string::npos);
  CHECK(read_text(dir + "/declined").find("destroy") == std::string::npos);
}

// As Argo (scope.go addSkippedNodeOutputsToScope): a skipped step's outputs
// are their declared defaults, so a later `when` can read a gate that did not run.
TEST_CASE("playbook: a skipped step's outputs are their defaults, absent without one",
          "[playbook][service]") {
  const auto dir = work_dir("skipped-outputs");
  const auto path = write_template(dir, R"(kind: Workflow
metadata: {generateName: skipped-}
spec:
  entrypoint: main
  templates:
    - name: main
      steps:
        - - {name: gate, template: approval, when: "'a' == 'b'"}
        - - name: after
            when: "'{{steps.gate.outputs.parameters.approved}}' == 'not approved'"
            template: pause
        - - name: absent
            template: pause
            when: "'{{steps.gate.outputs.parameters.other}}' == ''"
    - name: approval
      suspend: {duration: "1"}
      outputs:
        parameters:
          - name: approved
            valueFrom: {supplied: {}, default: "not approved"}
          - name: other
            valueFrom: {supplied: {}}
    - name: pause
      suspend: {duration: "0"}
)");
  auto run = run_playbook({path});
  REQUIRE_PLAYBOOK_EXIT(run, 1);
  CHECK(run.phase("skipped.gate") == "Skipped");
  CHECK(run.output("skipped.gate", "approved") == "not approved");
  CHECK(run.phase("skipped.after") == "Succeeded");
  CHECK(run.phase("skipped.absent") == "Error");
}

TEST_CASE("playbook --deny STEP denies that gate alone, and refuses a step that is no gate",
          "[playbook][service]") {
  const auto dir = work_dir("deny-one");
  const auto path = write_template(dir, R"(kind: Workflow
metadata: {generateName: two-gates-}
spec:
  entrypoint: main
  templates:
    - name: main
      steps:
        - - {name: first, template: approval}
        - - {name: second, template: approval}
    - name: approval
      suspend: {duration: "1h"}
      outputs:
        parameters:
          - name: approved
            valueFrom: {supplied: {}, default: "not approved"}
)");
  auto run = run_playbook({path, "--approve-all", "--deny", "second"});
  REQUIRE_PLAYBOOK_EXIT(run, 0);
  CHECK(run.output("two-gates.first", "approved") == "approved");
  CHECK(run.output("two-gates.second", "approved") == "not approved");
  auto typo = run_playbook({path, "--approve-all", "--deny", "secnod"});
  REQUIRE_PLAYBOOK_EXIT(typo, 2);
  CHECK(typo.err.find("--deny secnod") != std::string::npos);
  CHECK(typo.err.find("first, second") != std::string::npos);
}

TEST_CASE("playbook gate with a duration resumes by itself", "[playbook][service]") {
  const auto dir = work_dir("timed-gate");
  const auto path = write_template(dir, R"(kind: Workflow
metadata: {generateName: timed-}
spec:
  entrypoint: main
  templates:
    - name: main
      steps:
        - - {name: wait, template: pause}
    - name: pause
      suspend: {duration: "1"}
)");
  auto run = run_playbook({path});
  REQUIRE_PLAYBOOK_EXIT(run, 0);
  CHECK(run.phase("timed.wait") == "Succeeded");
  CHECK(run.err.find("resumes by itself after 1s") != std::string::npos);
}

// Issue 16 item 1: an approval gate is a suspend duration and a supplied
// output with a default, as Argo enforces one (workflow/controller/operator.go
// executeSuspend, workflow/util/util.go ResumeWorkflow): approving supplies
// "approved"; denying, or no answer within the duration, resumes the gate
// with the default, and the playbook takes its "not approved" path.
TEST_CASE("playbook approval gate: supplied output, its default on denial and after the duration",
          "[playbook][service]") {
  const auto dir = work_dir("approval");
  auto approved =
      run_playbook({templates + "approval.yaml", "-p", "record=" + dir + "/approved", "--approve-all"});
  REQUIRE_PLAYBOOK_EXIT(approved, 0);
  CHECK(approved.phase("approval-demo.approve") == "Succeeded");
  CHECK(approved.output("approval-demo.approve", "approved") == "approved");
  CHECK(approved.phase("approval-demo.destroy") == "Succeeded");
  CHECK(approved.phase("approval-demo.not-approved") == "Skipped");

  auto denied = run_playbook({templates + "approval.yaml", "-p", "record=" + dir + "/denied", "--deny-all"});
  REQUIRE_PLAYBOOK_EXIT(denied, 0);
  CHECK(denied.phase("approval-demo.approve") == "Succeeded");
  CHECK(denied.output("approval-demo.approve", "approved") == "not approved");
  CHECK(denied.phase("approval-demo.destroy") == "Skipped");
  CHECK(read_text(dir + "/denied").find("destroy") == std::string::npos);
  CHECK(read_text(dir + "/denied").find("--name=not-approved:not approved") != std::string::npos);

  // Nobody answers (no terminal, no flag): the gate resumes after its
  // duration with the default, as Argo's does.
  const auto started = std::chrono::steady_clock::now();
  auto unanswered = run_playbook(
      {templates + "approval.yaml", "-p", "record=" + dir + "/unanswered", "-p", "approval-timeout=1s"});
  REQUIRE_PLAYBOOK_EXIT(unanswered, 0);
  CHECK(std::chrono::steady_clock::now() - started >= std::chrono::seconds(1));
  CHECK(unanswered.output("approval-demo.approve", "approved") == "not approved");
  CHECK(string_at(unanswered.node("approval-demo.approve"), {"message"}).find("after its duration") !=
        std::string::npos);
  CHECK(unanswered.phase("approval-demo.destroy") == "Skipped");
  CHECK(unanswered.phase("approval-demo.not-approved") == "Succeeded");
}

// Issue 16 item 1: Argo enforces a template's timeout only while its node is
// Pending (operator.go checkTemplateTimeouts); a suspend node is Running, so
// `suspend` with `timeout` waits forever there. The runner refuses it.
TEST_CASE("playbook refuses a suspend template with a timeout, naming it, exit 2", "[playbook][service]") {
  const auto dir = work_dir("suspend-timeout");
  const auto path = write_template(dir, R"(kind: Workflow
metadata: {generateName: forever-}
spec:
  entrypoint: main
  templates:
    - name: main
      steps:
        - - {name: wait, template: approval}
    - name: approval
      suspend: {}
      timeout: 1s
)");
  auto run = run_playbook({path, "--deny-all"});
  REQUIRE_PLAYBOOK_EXIT(run, 2);
  CHECK(run.err.find("spec.templates[1] (approval).timeout: Argo never enforces a timeout on a suspend "
                     "template") != std::string::npos);
}

// Issue 16 item 9: spec.onExit runs after the entrypoint whatever the
// outcome, with workflow.status and workflow.failures as Argo sets them
// (workflow/controller/operator.go); a failed handler fails a workflow that
// had succeeded.
TEST_CASE("playbook runs the exit handler with workflow.status and workflow.failures",
          "[playbook][service]") {
  const auto dir = work_dir("exit");
  auto failed = run_playbook({templates + "exit.yaml", "-p", "record=" + dir + "/failed", "-p", "fail=true"});
  REQUIRE_PLAYBOOK_EXIT(failed, 1);
  CHECK(string_at(failed.document, {"phase"}) == "Failed");
  CHECK(failed.phase("exit-demo.onExit") == "Succeeded");
  CHECK(failed.phase("exit-demo.onExit.tell") == "Succeeded");
  const auto record = read_text(dir + "/failed");
  CHECK(record.find("status=Failed failures=[") != std::string::npos);
  CHECK(record.find(R"("displayName":"boom")") != std::string::npos);
  CHECK(record.find(R"("templateName":"echo")") != std::string::npos);
  CHECK(record.find(R"("phase":"Failed")") != std::string::npos);
  CHECK(record.find(R"("displayName":"first")") == std::string::npos);

  auto succeeded = run_playbook({templates + "exit.yaml", "-p", "record=" + dir + "/succeeded"});
  REQUIRE_PLAYBOOK_EXIT(succeeded, 0);
  CHECK(read_text(dir + "/succeeded").find("status=Succeeded failures=null") != std::string::npos);

  auto handler_fails =
      run_playbook({templates + "exit.yaml", "-p", "record=" + dir + "/handler", "-p", "handler-exit=1"});
  REQUIRE_PLAYBOOK_EXIT(handler_fails, 1);
  CHECK(string_at(handler_fails.document, {"phase"}) == "Failed");
  CHECK(handler_fails.phase("exit-demo.first") == "Succeeded");
  CHECK(handler_fails.phase("exit-demo.onExit.tell") == "Failed");

  // Outside the exit handler the two are unknown, as in Argo.
  const auto path = write_template(dir, R"(kind: Workflow
metadata: {generateName: early-}
spec:
  entrypoint: main
  templates:
    - name: main
      container: {image: irsteps-test-echo, args: ["--name={{workflow.status}}"]}
)");
  auto early = run_playbook({path});
  REQUIRE_PLAYBOOK_EXIT(early, 2);
  CHECK(early.err.find("{{workflow.status}}: only the templates of spec.onExit see it") != std::string::npos);
}

TEST_CASE("playbook maps /tmp, volume mounts and env of container templates", "[playbook][service]") {
  const auto dir = work_dir("mounts");
  fs::create_directories(dir + "/evidence");
  const auto path = write_template(dir, R"(kind: WorkflowTemplate
metadata: {name: mounts}
spec:
  entrypoint: main
  volumes:
    - {name: shared, emptyDir: {}}
    - {name: evidence, persistentVolumeClaim: {claimName: evidence}}
  templates:
    - name: main
      steps:
        - - {name: write, template: write}
        - - {name: read, template: read}
    - name: write
      container:
        image: irsteps-test-echo
        args: [--out=word=shared-hello, --outputs-dir=/work/shared, --env-out=WHERE, --env-out=TOKEN]
        env:
          - {name: WHERE, value: /tmp/place}
          - name: TOKEN
            valueFrom: {secretKeyRef: {name: token, key: token}}
        volumeMounts: [{name: shared, mountPath: /work}]
      outputs:
        parameters:
          - {name: where, valueFrom: {path: /work/shared/env-WHERE}}
    - name: read
      container:
        image: irsteps-test-echo
        args: [--out=copied=yes, --outputs-dir, /evidence/out]
        volumeMounts: [{name: shared, mountPath: /work}, {name: evidence, mountPath: /evidence}]
      outputs:
        parameters:
          - {name: word, valueFrom: {path: /work/shared/word}}
)");
  auto missing = run_playbook({path});
  REQUIRE_PLAYBOOK_EXIT(missing, 2);
  CHECK(missing.err.find("set TOKEN in this environment and pass --env TOKEN") != std::string::npos);
  // Security review finding 14: a value in argv is readable by every user of
  // the machine; the runner takes it from its environment, never from argv.
  auto in_argv = run_playbook({path, "--env", "TOKEN=s3cr3t-value"});
  REQUIRE_PLAYBOOK_EXIT(in_argv, 2);
  CHECK(in_argv.err.find("visible to every user of this machine") != std::string::npos);
  CHECK((in_argv.out + in_argv.err).find("s3cr3t-value") == std::string::npos);
  auto unset = run_playbook({path, "--env", "TOKEN"});
  REQUIRE_PLAYBOOK_EXIT(unset, 2);
  CHECK(unset.err.find("the variable TOKEN is not set") != std::string::npos);
  const std::vector<std::pair<std::string, std::string>> token{{"TOKEN", "s3cr3t-value"}};
  auto unmapped = run_playbook({path, "--env", "TOKEN"}, token);
  REQUIRE_PLAYBOOK_EXIT(unmapped, 2);
  CHECK(unmapped.err.find("--mount /evidence=LOCAL_PATH") != std::string::npos);

  auto run = run_playbook({path, "--env", "TOKEN", "--mount", "/evidence=" + dir + "/evidence"}, token);
  REQUIRE_PLAYBOOK_EXIT(run, 0);
  // The emptyDir is shared between the nodes; each node's /tmp is its own folder.
  CHECK(run.output("mounts.read", "word") == "shared-hello");
  const auto where = run.output("mounts.write", "where");
  CHECK(where != "/tmp/place");
  CHECK(where.ends_with("/tmp/place"));
  CHECK(read_text(dir + "/evidence/out/copied") == "yes");
  CHECK((run.out + run.err).find("s3cr3t-value") == std::string::npos);
}

TEST_CASE("playbook gives a template's own volumes to each node, as a pod's, like steps.yaml does",
          "[playbook][service]") {
  const auto dir = work_dir("pod-volumes");
  const auto path = write_template(dir, R"(kind: WorkflowTemplate
metadata: {name: pod-volumes}
spec:
  entrypoint: main
  templates:
    - name: main
      steps:
        - - {name: one, template: echo, arguments: {parameters: [{name: word, value: one}]}}
          - {name: two, template: echo, arguments: {parameters: [{name: word, value: two}]}}
    - name: echo
      inputs:
        parameters: [{name: word}]
      volumes:
        - {name: tmp, emptyDir: {}}
        - {name: token, secret: {secretName: irsteps-case-repo, optional: true}}
      container:
        image: irsteps-test-echo
        args: ["--out=word={{inputs.parameters.word}}", --outputs-dir=/tmp/outputs,
               --record=/var/run/secrets/token/seen]
        volumeMounts:
          - {name: tmp, mountPath: /tmp}
          - {name: token, mountPath: /var/run/secrets/token, readOnly: true}
      outputs:
        parameters:
          - {name: word, valueFrom: {path: /tmp/outputs/word}}
)");
  // The optional Secret needs no --mount: it is an empty folder, as in Kubernetes.
  auto run = run_playbook({path});
  REQUIRE_PLAYBOOK_EXIT(run, 0);
  CHECK(run.output("pod-volumes.one", "word") == "one");
  CHECK(run.output("pod-volumes.two", "word") == "two");
}

TEST_CASE("playbook enforces activeDeadlineSeconds by stopping the step", "[playbook][service]") {
  const auto dir = work_dir("deadline");
  const auto path =
      write_template(dir, single_step("        args: [--sleep=120]\n", "      activeDeadlineSeconds: 1\n"));
  auto run = run_playbook({path});
  REQUIRE_PLAYBOOK_EXIT(run, 1);
  CHECK(run.phase("single.only") == "Failed");
  CHECK(string_at(run.node("single.only"), {"message"}).find("deadline") != std::string::npos);
}

TEST_CASE("playbook enforces the workflow's activeDeadlineSeconds over all its steps",
          "[playbook][service]") {
  const auto dir = work_dir("workflow-deadline");
  auto yaml = single_step("        args: [--sleep=120]\n");
  yaml.replace(yaml.find("  entrypoint: main\n"), 0, "  activeDeadlineSeconds: 1\n");
  const auto path = write_template(dir, yaml);
  auto run = run_playbook({path});
  REQUIRE_PLAYBOOK_EXIT(run, 1);
  CHECK(string_at(run.document, {"phase"}) == "Failed");
  CHECK(string_at(run.document, {"message"}).find("activeDeadlineSeconds (1)") != std::string::npos);
  CHECK(run.phase("single.only") == "Failed");
  CHECK(run.err.find("activeDeadlineSeconds 1 exceeded") != std::string::npos);
  // A value that is not a duration is refused before anything runs.
  auto bad = single_step("");
  bad.replace(bad.find("  entrypoint: main\n"), 0, "  activeDeadlineSeconds: soon\n");
  const auto refused = run_playbook({write_template(dir, bad)});
  REQUIRE_PLAYBOOK_EXIT(refused, 2);
}

TEST_CASE("playbook stops its running steps on SIGTERM and still reports", "[playbook][service]") {
  const auto dir = work_dir("signal");
  const auto path = write_template(dir, single_step("        args: [--sleep=120]\n"));
  Spawned playbook(command({path}));
  REQUIRE(playbook.wait_for_line(
      [](const std::string& line) { return line.find("single.only  Running") != std::string::npos; }));
  ::kill(playbook.pid(), SIGTERM);
  const auto finished = playbook.finish();
  INFO(finished.err);
  CHECK(finished.exit_status == 1);
  auto doc = parse_json(finished.out, "stdout");
  REQUIRE(doc);
  CHECK(string_at(*doc, {"message"}) == "stopped by SIGTERM");
  CHECK(finished.err.find("single.only  Failed") != std::string::npos);
}

TEST_CASE("playbook refuses what it does not support, naming the field, exit 2", "[playbook][service]") {
  const auto dir = work_dir("errors");
  struct Case {
    std::string yaml;
    std::string expected;
  };
  const std::vector<Case> cases{
      {single_step("", "      podSpecPatch: '{}'\n"), "spec.templates[1] (echo).podSpecPatch: not supported"},
      {single_step("        workingDir: /w\n"),
       "spec.templates[1] (echo).container.workingDir: not supported"},
      {single_step("        args: ['{{inputs.parameters.nope}}']\n"),
       "container.args[0]: {{inputs.parameters.nope}}: the template has no input parameter nope"},
      {single_step("        args: ['{{workflow.labels}}']\n"), "unknown variable {{workflow.labels}}"},
      {R"(kind: WorkflowTemplate
metadata: {name: loop}
spec:
  entrypoint: main
  templates:
    - name: main
      steps:
        - - {name: each, template: main, withItems: [a, b]}
)",
       "spec.templates[0] (main).steps[0][0].withItems: not supported"},
      {R"(kind: WorkflowTemplate
metadata: {name: noimage}
spec:
  entrypoint: main
  templates:
    - name: main
      container: {image: "ghcr.io/irsteps/no-such-step:0.1.0"}
)",
       "no executable for step 'no-such-step'"},
      {R"(kind: WorkflowTemplate
metadata: {name: cycle}
spec:
  entrypoint: main
  templates:
    - name: main
      dag:
        tasks:
          - {name: a, template: leaf, depends: b}
          - {name: b, template: leaf, dependencies: [a]}
    - name: leaf
      container: {image: irsteps-test-echo}
)",
       "form a cycle"},
      {R"(kind: WorkflowTemplate
metadata: {name: badwhen}
spec:
  entrypoint: main
  templates:
    - name: main
      steps:
        - - {name: a, template: leaf, when: "1 + 1 == 2"}
    - name: leaf
      container: {image: irsteps-test-echo}
)",
       "steps[0][0].when: expression '1 + 1 == 2': '+' is not supported"},
  };
  for (const auto& c : cases) {
    const auto path = write_template(dir, c.yaml);
    auto run = run_playbook({path});
    INFO(c.yaml);
    REQUIRE_PLAYBOOK_EXIT(run, 2);
    CHECK(run.err.find(c.expected) != std::string::npos);
    CHECK(string_at(run.document, {"phase"}) == "Error");
  }

  auto unknown = run_playbook({templates + "basic.yaml", "-p", "record=x", "-p", "colour=red"});
  REQUIRE_PLAYBOOK_EXIT(unknown, 2);
  CHECK(unknown.err.find("-p colour: basic has no parameter colour") != std::string::npos);
  auto missing = run_playbook({templates + "basic.yaml"});
  REQUIRE_PLAYBOOK_EXIT(missing, 2);
  CHECK(missing.err.find("parameter record has no value: pass -p record=VALUE") != std::string::npos);
  auto not_in_enum = run_playbook({templates + "basic.yaml", "-p", "record=x", "-p", "mode=medium"});
  REQUIRE_PLAYBOOK_EXIT(not_in_enum, 2);
  CHECK(not_in_enum.err.find("'medium' is not one of fast, slow") != std::string::npos);
}

TEST_CASE("playbook runs a WorkflowTemplate by name, with templateRef into another one",
          "[playbook][service]") {
  const auto dir = work_dir("by-name");
  std::ofstream(dir + "/steps.yaml") << R"(apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata: {name: test-steps}
spec:
  templates:
    - name: echo
      inputs:
        parameters: [{name: word}]
      container:
        image: ghcr.io/irsteps/irsteps-test-echo:0.1.0
        command: [/usr/local/bin/irsteps-test-echo]
        args: ["--out=word={{inputs.parameters.word}}", --outputs-dir=/tmp/outputs]
      outputs:
        parameters:
          - {name: word, valueFrom: {path: /tmp/outputs/word}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: ignored}
)";
  fs::create_directories(dir + "/playbooks");
  std::ofstream(dir + "/playbooks/uses-ref.yaml") << R"(apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata: {name: uses-ref}
spec:
  entrypoint: main
  arguments:
    parameters: [{name: word, value: referenced}]
  templates:
    - name: main
      steps:
        - - name: call
            templateRef: {name: test-steps, template: echo}
            arguments:
              parameters: [{name: word, value: "{{workflow.parameters.word}}"}]
)";
  auto run = run_playbook({"uses-ref", "--templates", dir});
  REQUIRE_PLAYBOOK_EXIT(run, 0);
  CHECK(run.output("uses-ref.call", "word") == "referenced");
  CHECK(string_at(run.node("uses-ref.call"), {"templateRef"}) == "test-steps/echo");

  auto missing = run_playbook({"no-such-playbook", "--templates", dir});
  REQUIRE_PLAYBOOK_EXIT(missing, 2);
  CHECK(missing.err.find("no WorkflowTemplate named no-such-playbook") != std::string::npos);
}

namespace {

// A workflow that holds the mutex "pod-<pod>" while its one step sleeps.
std::string locked_workflow(const std::string& sleep_seconds) {
  return R"(apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata: {name: locked}
spec:
  entrypoint: main
  synchronization:
    mutexes:
      - name: "pod-{{workflow.parameters.pod}}"
  arguments:
    parameters:
      - {name: pod}
  templates:
    - name: main
      steps:
        - - {name: only, template: echo}
    - name: echo
      container:
        image: irsteps-test-echo
        args: [--sleep=)" +
         sleep_seconds + "]\n";
}

}  // namespace

// Issue 16 item 10: runs for the same pod never overlap; the second waits
// for the first (Argo: a workflow-level mutex, operator.go TryAcquire, with
// its name substituted from the workflow's parameters).
TEST_CASE(
    "playbook holds spec.synchronization's mutexes: a second run for the same pod waits, another pod does "
    "not",
    "[playbook][service]") {
  const auto dir = work_dir("mutex");
  const auto path = write_template(dir, locked_workflow("2"));
  const std::string locks = dir + "/locks";
  const auto with = [&](const std::string& pod) {
    return command({path, "-p", "pod=" + pod, "--lock-dir", locks});
  };
  Spawned first(with("web-1"));
  REQUIRE(first.wait_for_line([](const std::string& line) {
    return line.find("holding the lock default/Mutex/pod-web-1") != std::string::npos;
  }));
  Spawned second(with("web-1"));
  CHECK(second.wait_for_line([](const std::string& line) {
    return line.find("waiting for the lock default/Mutex/pod-web-1") != std::string::npos;
  }));
  // Another pod's run goes ahead at once.
  auto other = run_playbook({path, "-p", "pod=web-2", "--lock-dir", locks});
  REQUIRE_PLAYBOOK_EXIT(other, 0);
  CHECK(other.err.find("waiting for the lock") == std::string::npos);
  const auto a = first.finish();
  const auto b = second.finish();
  INFO(a.err << "\n" << b.err);
  REQUIRE(a.exit_status == 0);
  REQUIRE(b.exit_status == 0);
  auto first_doc = parse_json(a.out, "first");
  auto second_doc = parse_json(b.out, "second");
  REQUIRE(first_doc);
  REQUIRE(second_doc);
  // The second run's step started only after the first run had ended.
  const auto started = [](const json::value& doc) {
    return string_at(doc.at("nodes").as_array()[1], {"startedAt"});
  };
  CHECK(string_at(*first_doc, {"finishedAt"}) <= started(*second_doc));
  CHECK(started(*first_doc) < started(*second_doc));
}

TEST_CASE("playbook refuses semaphores and a mutex name that substitutes to nothing, exit 2",
          "[playbook][service]") {
  const auto dir = work_dir("mutex-errors");
  auto semaphore = locked_workflow("0");
  semaphore.replace(semaphore.find("    mutexes:"), 0,
                    "    semaphores:\n      - configMapKeyRef: {name: limits, key: playbooks}\n");
  auto refused = run_playbook({write_template(dir, semaphore), "-p", "pod=x"});
  REQUIRE_PLAYBOOK_EXIT(refused, 2);
  CHECK(refused.err.find("spec.synchronization.semaphores: not supported") != std::string::npos);
  auto empty =
      run_playbook({write_template(dir, locked_workflow("0")), "-p", "pod=", "--lock-dir", dir + "/locks"});
  REQUIRE_PLAYBOOK_EXIT(empty, 0);  // "pod-" is a name
  auto unknown = locked_workflow("0");
  unknown.replace(unknown.find("pod-{{workflow.parameters.pod}}"), 31, "{{workflow.parameters.nope}}");
  auto bad = run_playbook({write_template(dir, unknown), "-p", "pod=x"});
  REQUIRE_PLAYBOOK_EXIT(bad, 2);
  CHECK(bad.err.find("spec.synchronization.mutexes[0].name") != std::string::npos);
}

// Issue 16 item 12: outputs.artifacts go to the artifact repository; with
// none, Argo fails the node (its wait container cannot save them), and so
// does the runner.
TEST_CASE("playbook saves output artifacts to --artifact-dir as .tgz, and fails the node without one",
          "[playbook][service]") {
  const auto dir = work_dir("artifacts");
  const auto path =
      write_template(dir, single_step("        args: [--outputs-dir=/tmp/out, --out=report.txt=found]\n") +
                              "      outputs:\n        artifacts:\n"
                              "          - {name: report, path: /tmp/out, archive: {tar: {}}}\n"
                              "          - {name: absent, path: /tmp/none, optional: true}\n");
  auto saved = run_playbook({path, "--artifact-dir", dir + "/repository"});
  REQUIRE_PLAYBOOK_EXIT(saved, 0);
  const auto& artifacts = saved.node("single.only").at("artifacts").as_array();
  REQUIRE(artifacts.size() == 1);  // the optional one was not there
  CHECK(string_at(artifacts[0], {"name"}) == "report");
  const std::string archive = dir + "/repository/" + string_at(artifacts[0], {"key"});
  REQUIRE(fs::exists(archive));
  const auto listed = run_process({"tar", "-tzf", archive});
  REQUIRE(listed);
  CHECK(listed->out.find("out/report.txt") != std::string::npos);
  const auto hashed = run_process({"sha256sum", archive});
  REQUIRE(hashed);
  CHECK(hashed->out.substr(0, 64) == string_at(artifacts[0], {"sha256"}));

  auto without = run_playbook({path});
  REQUIRE_PLAYBOOK_EXIT(without, 1);
  CHECK(without.phase("single.only") == "Error");
  CHECK(string_at(without.node("single.only"), {"message"}).find("no artifact repository") !=
        std::string::npos);
}

namespace {

// A dag that passes its optional input artifact on to a container template
// that may go without it, and to one that needs it.
std::string artifact_workflow(const std::string& record) {
  return R"(kind: WorkflowTemplate
metadata: {name: artifacts-in}
spec:
  entrypoint: main
  templates:
    - name: main
      inputs:
        artifacts: [{name: audit-log, optional: true}]
      dag:
        tasks:
          - name: read
            template: read
            arguments:
              artifacts: [{name: audit-log, from: "{{inputs.artifacts.audit-log}}", optional: true}]
          - name: required
            template: required
            arguments:
              artifacts: [{name: rules, from: "{{inputs.artifacts.audit-log}}"}]
    - name: read
      inputs:
        artifacts: [{name: audit-log, path: /var/run/irsteps/audit-log, optional: true}]
      container:
        image: irsteps-test-echo
        args: [--name=read, --record=)" +
         record + R"(, --audit-log-artifact=/var/run/irsteps/audit-log]
    - name: required
      inputs:
        artifacts: [{name: rules, path: /etc/rules}]
      container:
        image: irsteps-test-echo
        args: [--name=required, --record=)" +
         record + R"(, --rules=/etc/rules]
)";
}

// The argument the step got for `flag` in its --record line.
std::string recorded_argument(const std::string& record, const std::string& step, const std::string& flag) {
  std::istringstream lines(read_text(record));
  for (std::string line; std::getline(lines, line);) {
    if (!line.starts_with(step + " ")) continue;
    const auto at = line.find(flag + "=");
    if (at == std::string::npos) continue;
    const auto start = at + flag.size() + 1;
    return line.substr(start, line.find(' ', start) - start);
  }
  return "";
}

}  // namespace

// Issue 16 item 4: inputs.artifacts as Argo gives them (workflow/common/
// util.go ProcessArgs, dag.go resolveDependencyReferences, executor.go
// loadArtifact).
TEST_CASE(
    "playbook gives input artifacts at their container path from --artifact, and goes without as Argo does",
    "[playbook][service]") {
  const auto dir = work_dir("input-artifacts");
  const std::string record = dir + "/record";
  const auto path = write_template(dir, artifact_workflow(record));
  std::ofstream(dir + "/audit.log") << "{}\n";

  auto given = run_playbook({path, "--artifact", "audit-log=" + dir + "/audit.log"});
  REQUIRE_PLAYBOOK_EXIT(given, 0);
  CHECK(recorded_argument(record, "read", "--audit-log-artifact") == dir + "/audit.log");
  CHECK(recorded_argument(record, "required", "--rules") == dir + "/audit.log");
  CHECK(string_at(given.node("artifacts-in.read"), {"inputArtifacts", "audit-log"}) == dir + "/audit.log");

  // Not given: the optional input reaches `read` without a location, so its
  // path holds nothing, and not the host's /var/run/irsteps/audit-log; the
  // template that needs it fails as ProcessArgs fails it.
  fs::remove(record);
  auto without = run_playbook({path});
  REQUIRE_PLAYBOOK_EXIT(without, 1);
  CHECK(without.phase("artifacts-in.read") == "Succeeded");
  const auto seen = recorded_argument(record, "read", "--audit-log-artifact");
  CHECK_FALSE(seen.empty());
  CHECK(seen != "/var/run/irsteps/audit-log");
  CHECK(seen.find("/var/run/irsteps") == std::string::npos);
  CHECK_FALSE(fs::exists(seen));
  CHECK(without.phase("artifacts-in.required") == "Error");
  CHECK(string_at(without.node("artifacts-in.required"), {"message"}) ==
        "inputs.artifacts.rules missing location information");
  CHECK(recorded_argument(record, "required", "--rules").empty());  // it never started

  // Refused before anything runs, exit 2.
  auto unknown = run_playbook({path, "--artifact", "rules=" + dir + "/audit.log"});
  REQUIRE_PLAYBOOK_EXIT(unknown, 2);
  CHECK(unknown.err.find("--artifact rules: artifacts-in has no input artifact rules (it takes audit-log)") !=
        std::string::npos);
  auto missing = run_playbook({path, "--artifact", "audit-log=" + dir + "/no-such.log"});
  REQUIRE_PLAYBOOK_EXIT(missing, 2);
  CHECK(missing.err.find("--artifact audit-log=" + dir + "/no-such.log: no such file or folder") !=
        std::string::npos);
  auto malformed = run_playbook({path, "--artifact", "audit-log"});
  REQUIRE_PLAYBOOK_EXIT(malformed, 2);

  const auto required_entry = write_template(dir, R"(kind: WorkflowTemplate
metadata: {name: needs}
spec:
  entrypoint: main
  templates:
    - name: main
      inputs:
        artifacts: [{name: rules, path: /etc/rules}]
      container: {image: irsteps-test-echo}
)");
  auto not_supplied = run_playbook({required_entry});
  REQUIRE_PLAYBOOK_EXIT(not_supplied, 2);
  CHECK(not_supplied.err.find("inputs.artifacts.rules was not supplied: pass --artifact rules=LOCAL_PATH") !=
        std::string::npos);

  const auto call_without = write_template(dir, R"(kind: WorkflowTemplate
metadata: {name: forgets}
spec:
  entrypoint: main
  templates:
    - name: main
      steps: [[{name: only, template: leaf}]]
    - name: leaf
      inputs:
        artifacts: [{name: rules, path: /etc/rules}]
      container: {image: irsteps-test-echo}
)");
  auto forgotten = run_playbook({call_without});
  REQUIRE_PLAYBOOK_EXIT(forgotten, 2);
  CHECK(forgotten.err.find("inputs.artifacts.rules was not supplied (template leaf needs it)") !=
        std::string::npos);

  const auto undeclared = write_template(dir, R"(kind: WorkflowTemplate
metadata: {name: undeclared}
spec:
  entrypoint: main
  templates:
    - name: main
      steps:
        - - name: only
            template: leaf
            arguments:
              artifacts: [{name: rules, from: "{{inputs.artifacts.rules}}", optional: true}]
    - name: leaf
      inputs:
        artifacts: [{name: rules, path: /etc/rules, optional: true}]
      container: {image: irsteps-test-echo}
)");
  auto no_input = run_playbook({undeclared});
  REQUIRE_PLAYBOOK_EXIT(no_input, 2);
  CHECK(no_input.err.find("{{inputs.artifacts.rules}}: template main has no input artifact rules") !=
        std::string::npos);
}

// The real access-audit, offline: the artifact's log is read and counted;
// without it the run says "audit log not read", never 0.
TEST_CASE("playbook passes the audit log artifact to access-audit, which says audit log not read without it",
          "[playbook][service]") {
  const auto dir = work_dir("audit-artifact");
  const auto path = write_template(dir, R"(kind: WorkflowTemplate
metadata: {name: audit}
spec:
  entrypoint: main
  templates:
    - name: main
      inputs:
        artifacts: [{name: audit-log, optional: true}]
      steps:
        - - name: audit-trail
            template: access-audit
            arguments:
              artifacts: [{name: audit-log, from: "{{inputs.artifacts.audit-log}}", optional: true}]
    - name: access-audit
      inputs:
        artifacts: [{name: audit-log, path: /var/run/irsteps/audit-log, optional: true}]
      container:
        image: ghcr.io/irsteps/access-audit:0.1.0
        command: [/usr/local/bin/access-audit]
        args: [--incident-id=INC-2026-11-26-001, --offline, --resource=secrets/db, --namespace=shop,
               --audit-log-artifact=/var/run/irsteps/audit-log, --outputs-dir=/tmp/outputs]
      outputs:
        parameters:
          - {name: access-count, valueFrom: {path: /tmp/outputs/access-count, default: "audit log not read"}}
          - {name: users, valueFrom: {path: /tmp/outputs/users, default: ""}}
)");
  std::ofstream(dir + "/audit.log")
      << R"({"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"a1",)"
      << R"("stage":"ResponseComplete","requestURI":"/api/v1/namespaces/shop/secrets/db","verb":"get",)"
      << R"("user":{"username":"mallory","groups":["g1"]},"sourceIPs":["10.0.0.7"],"userAgent":"curl/8",)"
      << R"("objectRef":{"resource":"secrets","namespace":"shop","name":"db","apiVersion":"v1"},)"
      << R"("responseStatus":{"code":200},"requestReceivedTimestamp":"2026-11-26T10:00:00Z",)"
      << R"("stageTimestamp":"2026-11-26T10:00:00Z"})"
      << "\n";
  const std::string access_audit_dir = fs::path(binary("access-audit")).parent_path().string();

  auto read =
      run_playbook({path, "--bin-dir", access_audit_dir, "--artifact", "audit-log=" + dir + "/audit.log"});
  REQUIRE_PLAYBOOK_EXIT(read, 0);
  CHECK(read.output("audit.audit-trail", "access-count") == "1");
  CHECK(read.output("audit.audit-trail", "users").find("mallory") != std::string::npos);

  auto not_read = run_playbook({path, "--bin-dir", access_audit_dir});
  REQUIRE_PLAYBOOK_EXIT(not_read, 0);
  CHECK(not_read.output("audit.audit-trail", "access-count") == "audit log not read");
  const auto& warnings = not_read.node("audit.audit-trail").at("result").at("warnings").as_array();
  REQUIRE(warnings.size() == 1);
  CHECK(warnings[0].as_string() == "audit log not read (no audit-log artifact was given)");
  CHECK(not_read.out.find("\"0\"") == std::string::npos);
}

TEST_CASE(
    "playbook without --templates takes the templates beside its executable, and names the fix when none are",
    "[playbook][service]") {
  // The build tree mirrors the installed layout (bin/, share/irsteps/): no
  // source folder is built into the binary.
  const auto listed = run_process({binary("playbook"), "list"});
  REQUIRE(listed);
  INFO("stderr: " << listed->err);
  CHECK(listed->exit_status == 0);
  CHECK(listed->out.find("irsteps-container-compromise  (") != std::string::npos);
  CHECK(listed->out.find("/share/irsteps/workflows/argo/playbooks/container-compromise.yaml)") !=
        std::string::npos);

  ProcessOptions options;
  options.extra_env = {{"IRSTEPS_TEMPLATES", work_dir("no-templates") + "/absent"}};
  const auto named = run_process(
      {binary("playbook"), "run", "irsteps-container-compromise", "-p", "incident-id=INC-2026-11-26-001"},
      options);
  REQUIRE(named);
  CHECK(named->exit_status == 2);
  CHECK(named->err.find("no folder of WorkflowTemplates at " + work_dir("no-templates") + "/absent") !=
        std::string::npos);
  CHECK(named->err.find("give --templates DIR or set IRSTEPS_TEMPLATES") != std::string::npos);
  auto document = parse_json(named->out, "stdout");
  REQUIRE(document);
  CHECK(string_at(*document, {"phase"}) == "Error");

  // A file stands alone: no folder needed until it names a templateRef.
  const std::string dir = work_dir("standalone");
  const auto file = write_template(dir, R"(apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: alone}
spec:
  entrypoint: main
  templates:
  - name: main
    suspend: {duration: "0"}
)");
  auto alone = run_playbook({file}, {{"IRSTEPS_TEMPLATES", dir + "/absent"}});
  REQUIRE_PLAYBOOK_EXIT(alone, 0);
  CHECK(string_at(alone.document, {"phase"}) == "Succeeded");
}
