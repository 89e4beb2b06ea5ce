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
