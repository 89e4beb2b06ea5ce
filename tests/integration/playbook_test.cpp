// The playbook runner against the real control plane: a small template whose
// container templates are the real isolate (dry run) and rollout status,
// found next to the playbook binary as the released layout has them.
#include "support/step_runner.hpp"

#include <filesystem>
#include <fstream>

using namespace ir;
using namespace ir::test;

namespace {

const std::string contain_yaml = R"(apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata: {name: contain}
spec:
  entrypoint: main
  serviceAccountName: irsteps-container-compromise
  arguments:
    parameters:
      - {name: incident-id, value: INC-2026-11-26-801}
      - {name: namespace}
      - {name: pod}
      - {name: dry-run, value: "false"}
  templates:
    - name: main
      steps:
        - - name: isolate
            template: isolate
        - - name: status
            template: rollout-status
            arguments:
              parameters: [{name: pods, value: "{{steps.isolate.outputs.parameters.pod-count}}"}]
    - name: isolate
      retryStrategy: {limit: "2", expression: "asInt(lastRetry.exitCode) == 4", backoff: {duration: 1s}}
      container:
        image: ghcr.io/irsteps/isolate:0.1.0
        command: [/usr/local/bin/isolate]
        args: ["--incident-id={{workflow.parameters.incident-id}}", "--namespace={{workflow.parameters.namespace}}",
               "--pod={{workflow.parameters.pod}}", "--dry-run={{workflow.parameters.dry-run}}",
               --outputs-dir=/tmp/outputs]
        securityContext: {runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false}
      outputs:
        parameters:
          - {name: pod-count, valueFrom: {path: /tmp/outputs/pod-count}}
    - name: rollout-status
      inputs:
        parameters: [{name: pods}]
      container:
        image: ghcr.io/irsteps/rollout:0.1.0
        args: [status, deployment/web, "--incident-id={{workflow.parameters.incident-id}}",
               "--namespace={{workflow.parameters.namespace}}", --timeout=60s, --outputs-dir=/tmp/outputs]
)";

}  // namespace

TEST_CASE("playbook runs isolate --dry-run and rollout status against the cluster",
          "[integration][playbook]") {
  TestNamespace ns("playbook");
  Cluster::get().apply_yaml(ns.name(), deployment_yaml("web", 1));
  const auto pods = running_pods(ns.name(), "app=web", 1);

  const auto dir = std::filesystem::path(IRSTEPS_BINARY_DIR) / "tests" / "playbook-work" / ns.name();
  std::filesystem::create_directories(dir);
  const auto file = (dir / "contain.yaml").string();
  std::ofstream(file) << contain_yaml;

  ProcessOptions options;
  options.timeout = std::chrono::seconds(300);
  auto output =
      run_process({binary("playbook"), "run", file, "--dry-run", "--kubeconfig", Cluster::get().kubeconfig(),
                   "-p", "namespace=" + ns.name(), "-p", "pod=" + pods[0], "--log-format", "json"},
                  options);
  REQUIRE(output);
  INFO("stderr: " << output->err << "\nstdout: " << output->out);
  REQUIRE(output->exit_status == 0);
  auto doc = parse_json(output->out, "stdout");
  REQUIRE(doc);
  CHECK(string_at(*doc, {"phase"}) == "Succeeded");
  CHECK(string_at(*doc, {"parameters", "dry-run"}) == "true");
  const auto& nodes = doc->at("nodes").as_array();
  REQUIRE(nodes.size() == 3);
  const auto& isolate = nodes[1];
  CHECK(string_at(isolate, {"name"}) == "contain.isolate");
  CHECK(string_at(isolate, {"step"}) == "isolate");
  CHECK(string_at(isolate, {"result", "status"}) == "succeeded");
  CHECK(isolate.at("result").at("dryRun").as_bool());
  CHECK(isolate.at("result").at("actions").as_int64() > 0);
  CHECK(string_at(isolate, {"outputs", "pod-count"}) == "1");
  const auto& status = nodes[2];
  CHECK(string_at(status, {"name"}) == "contain.status");
  CHECK(string_at(status, {"step"}) == "rollout");
  CHECK(string_at(status, {"phase"}) == "Succeeded");
  CHECK(string_at(status, {"inputs", "pods"}) == "1");
  // The stderr timeline is JSON lines, one per event.
  CHECK(output->err.find(R"("event":"node.finished","node":"contain.isolate")") != std::string::npos);

  // A dry run changed nothing: no quarantine label on the pod.
  auto pod = Cluster::get().client().get(k8s::resources::pods, ns.name(), pods[0]);
  REQUIRE(pod);
  CHECK(string_at(*pod, {"metadata", "labels", "irsteps.io/quarantine"}).empty());

  // rollout status of a Deployment that does not exist fails the workflow, exit 1.
  auto missing = run_process({binary("playbook"), "run", file, "--kubeconfig", Cluster::get().kubeconfig(),
                              "-p", "namespace=" + ns.name() + "-gone", "-p", "pod=nope"},
                             options);
  REQUIRE(missing);
  CHECK(missing->exit_status == 1);
}
