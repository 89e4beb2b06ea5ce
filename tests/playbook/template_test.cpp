// Parsing WorkflowTemplates into the runner's model: the supported subset,
// and every other field refused with its location.
#include "model.hpp"

#include "container.hpp"
#include "support/catch.hpp"

using namespace playbook;

namespace {

Result<std::unique_ptr<Workflow>> parse(const std::string& yaml) {
  auto doc = ir::parse_yaml(yaml, "test.yaml");
  REQUIRE(doc);
  return parse_workflow(*doc, "test.yaml");
}

std::string error_of(const std::string& yaml) {
  auto w = parse(yaml);
  REQUIRE_FALSE(w);
  return w.error().describe();
}

const std::string header = R"(apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata: {name: t}
spec:
  entrypoint: main
)";

}  // namespace

TEST_CASE("a WorkflowTemplate with steps, dag, container, suspend and retries parses", "[playbook]") {
  auto w = parse(header + R"(  serviceAccountName: irsteps
  podGC: {strategy: OnPodCompletion}
  arguments:
    parameters:
      - {name: severity, value: high, enum: [critical, high], description: how bad}
      - {name: replicas, value: 3}
  templates:
    - name: main
      steps:
        - - {name: a, template: leaf, continueOn: {failed: true}}
          - {name: b, templateRef: {name: irsteps-steps, template: isolate}, when: "x == y"}
    - name: flow
      dag:
        tasks:
          - {name: one, template: leaf}
          - {name: two, template: leaf, depends: "one.Succeeded"}
    - name: gate
      suspend: {duration: 30m}
    - name: leaf
      retryStrategy:
        limit: 3
        retryPolicy: OnFailure
        expression: asInt(lastRetry.exitCode) == 4
        backoff: {duration: 5s, factor: 2, maxDuration: 2m}
      activeDeadlineSeconds: 600
      container:
        image: ghcr.io/irsteps/isolate:0.1.0
        args: ["--pod={{inputs.parameters.pod}}"]
        securityContext: {readOnlyRootFilesystem: true}
      inputs:
        parameters: [{name: pod, default: web}]
      outputs:
        parameters: [{name: policy, valueFrom: {path: /tmp/outputs/policy, default: ""}}]
)");
  REQUIRE(w);
  const auto& wf = **w;
  CHECK(wf.name == "t");
  CHECK(wf.arguments.size() == 2);
  CHECK(*wf.arguments[1].value == "3");  // YAML's integer is Argo's string
  CHECK(wf.arguments[0].enum_values == std::vector<std::string>{"critical", "high"});
  const auto* main = wf.find("main");
  REQUIRE(main != nullptr);
  CHECK(main->kind == Template::Kind::steps);
  CHECK(main->steps[0].size() == 2);
  CHECK(main->steps[0][0].continue_on_failed);
  CHECK(main->steps[0][1].template_ref->template_name == "isolate");
  CHECK(wf.find("flow")->tasks[1].depends == "one.Succeeded");
  CHECK(wf.find("gate")->suspend_duration == "30m");
  const auto* leaf = wf.find("leaf");
  CHECK(leaf->retry->limit == "3");
  CHECK(leaf->retry->backoff->factor == "2");
  CHECK(leaf->active_deadline_seconds == "600");
  CHECK(*leaf->outputs[0].from_path == "/tmp/outputs/policy");
  CHECK(*step_name(leaf->container) == "isolate");
}

TEST_CASE("unsupported fields are errors that name the field and where it is", "[playbook]") {
  CHECK(error_of(header + "  hooks: {}\n  templates: []\n") ==
        "test.yaml: WorkflowTemplate t: spec.hooks: not supported by the local playbook runner");
  // Issue 16 item 9: onExit is run now, and must name a template.
  CHECK(error_of(header + "  onExit: cleanup\n  templates: [{name: main, suspend: {}}]\n") ==
        "test.yaml: WorkflowTemplate t: spec.onExit: no template named cleanup");
  CHECK(error_of(header + "  templates:\n    - {name: main, script: {image: x, source: y}}\n") ==
        "test.yaml: WorkflowTemplate t: spec.templates[0] (main).script: not supported by the local playbook "
        "runner");
  CHECK(
      error_of(header + "  templates:\n    - {name: main, container: {image: x, envFrom: []}}\n") ==
      "test.yaml: WorkflowTemplate t: spec.templates[0] (main).container.envFrom: not supported by the local "
      "playbook runner");
  CHECK(
      error_of(header + R"(  templates:
    - name: main
      steps: [[{name: a, template: main, withParam: "[1]"}]]
)")
          .ends_with(
              "spec.templates[0] (main).steps[0][0].withParam: not supported by the local playbook runner"));
  CHECK(error_of(header + R"(  templates:
    - name: main
      dag: {failFast: false, tasks: []}
)")
            .ends_with("spec.templates[0] (main).dag.failFast: not supported by the local playbook runner"));
  CHECK(error_of(header + R"(  templates:
    - name: main
      retryStrategy: {retryPolicy: OnTransientError}
      container: {image: x}
)")
            .find("OnTransientError is not supported") != std::string::npos);
  CHECK(error_of(header + "  templates:\n    - {name: main, container: {image: x}, suspend: {}}\n")
            .ends_with("needs exactly one of steps, dag, container, suspend"));
  CHECK(error_of(header + "  templates:\n    - {name: other, suspend: {}}\n")
            .ends_with("spec.entrypoint: no template named main"));
  CHECK(
      error_of(header + R"(  templates:
    - name: main
      outputs: {parameters: [{name: x, valueFrom: {jsonPath: "{.a}"}}]}
      container: {image: x}
)")
          .ends_with("outputs.parameters[0].valueFrom.jsonPath: not supported by the local playbook runner"));
}

TEST_CASE("the step comes from command[0], else the image, container paths map to local folders",
          "[playbook]") {
  Container c;
  c.image = "ghcr.io/irsteps/rotate-secret:0.1.0";
  CHECK(*step_name(c) == "rotate-secret");
  c.image = "registry.local:5000/irsteps/snapshot@sha256:abcd";
  CHECK(*step_name(c) == "snapshot");
  c.image = "localhost:5000/drift";
  CHECK(*step_name(c) == "drift");
  c.command = {"/usr/local/bin/rollout", "status"};
  CHECK(*step_name(c) == "rollout");

  const auto map =
      sorted_path_map({{"/tmp", "/node/tmp"}, {"/tmp/evidence", "/case/evidence"}, {"/work", "/w"}});
  CHECK(rewrite_argument("--outputs-dir=/tmp/outputs", map) == "--outputs-dir=/node/tmp/outputs");
  CHECK(rewrite_argument("/tmp/evidence/pod.json", map) == "/case/evidence/pod.json");
  CHECK(rewrite_argument("/tmp", map) == "/node/tmp");
  CHECK(rewrite_argument("/tmpfoo", map) == "/tmpfoo");
  CHECK(rewrite_argument("--selector=app=/tmp/x", map) ==
        "--selector=app=/tmp/x");  // only after the first '='
  CHECK(rewrite_argument("--flag", map) == "--flag");
  CHECK(rewrite_argument("x/tmp/y", map) == "x/tmp/y");
  CHECK(rewrite_path("/work", map) == "/w");
}

// Issue 16 item 1: approval gates as Argo enforces them.
TEST_CASE("a suspend template takes supplied outputs, and refuses a timeout Argo would never enforce",
          "[playbook]") {
  auto w = parse(header + R"(  templates:
    - name: main
      suspend: {duration: "{{workflow.parameters.approval-timeout}}"}
      outputs:
        parameters:
          - {name: approved, valueFrom: {supplied: {}, default: "not approved"}}
)");
  REQUIRE(w);
  const auto& gate = *(*w)->find("main");
  REQUIRE(gate.outputs.size() == 1);
  CHECK(gate.outputs[0].supplied);
  CHECK(*gate.outputs[0].default_value == "not approved");
  CHECK(gate.suspend_duration == "{{workflow.parameters.approval-timeout}}");

  // operator.go checkTemplateTimeouts acts on Pending nodes; a suspend node is Running.
  CHECK(error_of(header + "  templates:\n    - {name: main, suspend: {}, timeout: 4h}\n")
            .find("spec.templates[0] (main).timeout: Argo never enforces a timeout on a suspend template") !=
        std::string::npos);
  CHECK(error_of(header + R"(  templates:
    - name: main
      suspend: {}
      outputs: {parameters: [{name: approved, valueFrom: {path: /tmp/x}}]}
)")
            .ends_with("outputs.parameters[0].valueFrom.path: not supported by the local playbook runner"));
}

TEST_CASE("input artifacts: inputs of dag and container templates, from {{inputs.artifacts.X}} in calls",
          "[playbook]") {
  auto w = parse(header + R"(  templates:
    - name: main
      inputs:
        artifacts:
          - {name: log, optional: true}
      dag:
        tasks:
          - name: read
            template: leaf
            arguments:
              artifacts:
                - {name: audit-log, from: "{{inputs.artifacts.log}}", optional: true}
    - name: leaf
      inputs:
        artifacts:
          - {name: audit-log, path: /var/run/irsteps/audit-log, optional: true}
          - {name: rules, path: /etc/rules}
      container: {image: irsteps-test-echo}
)");
  REQUIRE(w);
  const auto& main = *(*w)->find("main");
  REQUIRE(main.input_artifacts.size() == 1);
  CHECK(main.input_artifacts[0].name == "log");
  CHECK(main.input_artifacts[0].optional);
  CHECK(main.input_artifacts[0].path.empty());
  const auto& call = main.tasks.at(0);
  REQUIRE(call.artifact_arguments.size() == 1);
  CHECK(call.artifact_arguments[0].name == "audit-log");
  CHECK(call.artifact_arguments[0].from_input == "log");
  CHECK(call.artifact_arguments[0].optional);
  const auto& leaf = *(*w)->find("leaf");
  REQUIRE(leaf.input_artifacts.size() == 2);
  CHECK(leaf.input_artifacts[0].path == "/var/run/irsteps/audit-log");
  CHECK_FALSE(leaf.input_artifacts[1].optional);
}

TEST_CASE(
    "input artifacts: locations, other sources and spec.arguments.artifacts are refused, naming the field",
    "[playbook]") {
  const auto dag_calling = [](const std::string& argument) {
    return header + R"(  templates:
    - name: main
      inputs:
        artifacts: [{name: log, optional: true}]
      dag:
        tasks:
          - name: read
            template: leaf
            arguments:
              artifacts:
                - )" +
           argument +
           R"(
    - name: leaf
      inputs:
        artifacts: [{name: log, path: /data/log, optional: true}]
      container: {image: irsteps-test-echo}
)";
  };
  // A location (s3, http, git, ...) would need an artifact repository.
  CHECK(
      error_of(dag_calling(R"({name: log, s3: {key: audit.log}})"))
          .find("spec.templates[0] (main).dag.tasks[0].arguments.artifacts[0].s3: not supported by the local "
                "playbook runner") != std::string::npos);
  CHECK(error_of(dag_calling(R"({name: log, from: "{{tasks.other.outputs.artifacts.log}}"})"))
            .find("arguments.artifacts[0].from: '{{tasks.other.outputs.artifacts.log}}' is not supported by "
                  "the local playbook runner (only {{inputs.artifacts.NAME}})") != std::string::npos);
  CHECK(error_of(dag_calling(R"({name: log, from: "{{inputs.artifacts.log}}x"})")).find(".from: ") !=
        std::string::npos);
  CHECK(error_of(dag_calling(R"({name: log, fromExpression: "inputs.artifacts.log"})"))
            .find("arguments.artifacts[0].fromExpression: not supported") != std::string::npos);
  CHECK(error_of(dag_calling(R"({name: log})")).find("arguments.artifacts[0].from: required") !=
        std::string::npos);
  // In a template: a location, a path outside a container, no path in one.
  const auto leaf_with = [](const std::string& artifact, const std::string& body) {
    return header + "  templates:\n    - name: main\n      inputs:\n        artifacts: [" + artifact + "]\n" +
           body;
  };
  const std::string container = "      container: {image: irsteps-test-echo}\n";
  const std::string steps = "      steps: [[{name: a, template: main}]]\n";
  CHECK(error_of(leaf_with("{name: log, path: /data/log, http: {url: 'https://example.com/a'}}", container))
            .find("(main).inputs.artifacts[0].http: not supported by the local playbook runner") !=
        std::string::npos);
  CHECK(error_of(leaf_with("{name: log}", container)).find("inputs.artifacts[0].path: required") !=
        std::string::npos);
  CHECK(error_of(leaf_with("{name: log, path: /data/log}", steps))
            .find("inputs.artifacts[0].path: only valid in container templates") != std::string::npos);
  CHECK(error_of(leaf_with("{name: log, path: /data/log, optional: yes-please}", container))
            .find("inputs.artifacts[0].optional: must be true or false") != std::string::npos);
  // Argo refuses spec.arguments.artifacts without a location (validate.go),
  // and the runner has no repository to read one from.
  const auto with_arguments = [](const std::string& artifact) {
    return header + "  arguments:\n    artifacts: [" + artifact +
           "]\n  templates:\n    - name: main\n      container: {image: irsteps-test-echo}\n";
  };
  CHECK(error_of(with_arguments("{name: audit-log, optional: true}"))
            .find("spec.arguments.artifacts[0]: Argo refuses an artifact argument without from, an artifact "
                  "location or a key") != std::string::npos);
  CHECK(error_of(with_arguments("{name: audit-log, s3: {key: a.log}}"))
            .find("spec.arguments.artifacts[0].s3: an artifact's source is not supported by the local "
                  "playbook runner: give the file or folder with --artifact audit-log=LOCAL_PATH") !=
        std::string::npos);
}

TEST_CASE("an input artifact's container path wins over a shorter mount, in arguments and paths under it",
          "[playbook]") {
  // The mapping the runner builds for a node (nodes.cpp path_map): the
  // artifact's path is longer than any mount above it, so it wins.
  const PathMap map = sorted_path_map({{"/tmp", "/work/node/tmp"},
                                       {"/var/run", "/work/node/volumes/run"},
                                       {"/var/run/irsteps/audit-log", "/home/me/audit.log"}});
  CHECK(rewrite_argument("--audit-log-artifact=/var/run/irsteps/audit-log", map) ==
        "--audit-log-artifact=/home/me/audit.log");
  CHECK(rewrite_path("/var/run/irsteps/audit-log/2026-11-26.log.gz", map) ==
        "/home/me/audit.log/2026-11-26.log.gz");
  CHECK(rewrite_path("/var/run/other", map) == "/work/node/volumes/run/other");
}
