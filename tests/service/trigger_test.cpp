// `playbook trigger`: the shipped Falco Sensor (workflows/argo/events/)
// evaluated against the payloads falcosidekick's webhook output posts
// (tests/data/triggers/: its documented format, with the Deployment under
// Falco 0.37+'s k8smeta.* and under the older k8s.*), and the Alertmanager
// Sensor against the notifications Alertmanager 0.25 posted
// (tests/data/triggers/alertmanager-*.json, recorded by
// tests/triggers/alertmanager_e2e.py --record), through the real binaries
// (playbook and irsteps-sensor). No Argo Events runs here: the
// helper evaluates the Sensor with the libraries Argo Events uses (gjson,
// sprig, Go regexp); the API server's side of a repeated alert is in
// tests/integration/argo_crds_test.cpp.
#include "ir/core/json.hpp"
#include "ir/core/process.hpp"
#include "support/catch.hpp"
#include "support/cluster.hpp"

#include <boost/json/serialize.hpp>

#include <filesystem>
#include <fstream>
#include <functional>

#include <unistd.h>

using namespace ir;
using namespace ir::test;

namespace {

namespace fs = std::filesystem;

const std::string source_dir = IRSTEPS_SOURCE_DIR;
const std::string falco_sensor = source_dir + "/workflows/argo/events/falco.yaml";
const std::string payloads = source_dir + "/tests/data/triggers/";
// The webhook's shared secret in these tests: it must never be printed.
const std::string token = "irsteps-test-token-9c1f6e2a7b";

struct Outcome {
  int exit_status = -1;
  std::string out;
  std::string err;
  json::value document;

  [[nodiscard]] const json::value& trigger(std::size_t index = 0) const {
    const auto* triggers = find(document, {"triggers"});
    REQUIRE(triggers != nullptr);
    REQUIRE(triggers->as_array().size() > index);
    return triggers->as_array().at(index);
  }
  [[nodiscard]] bool fired(std::size_t index = 0) const {
    const auto* f = find(trigger(index), {"fired"});
    return f != nullptr && f->is_bool() && f->as_bool();
  }
  [[nodiscard]] std::string argument(const std::string& name) const {
    const auto* parameters = find(trigger(), {"resource", "spec", "arguments", "parameters"});
    REQUIRE(parameters != nullptr);
    for (const auto& p : parameters->as_array()) {
      if (string_at(p, {"name"}) == name) return string_at(p, {"value"});
    }
    FAIL("no argument " << name << " in " << out);
    return {};
  }
  [[nodiscard]] std::string name() const { return string_at(trigger(), {"resource", "metadata", "name"}); }
};

// A folder of this test process: ctest runs the test cases at once, each in
// a process of its own, and one's token file must not vanish under another.
std::string scratch(const std::string& name) {
  const std::string dir =
      std::string(IRSTEPS_BINARY_DIR) + "/tests/trigger-work/" + std::to_string(::getpid()) + "/" + name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

std::string write(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
  return path;
}

std::string token_file() {
  const std::string dir = scratch("token");
  return write(dir + "/token", token + "\n");
}

Outcome trigger(std::vector<std::string> args) {
  std::vector<std::string> argv{binary("playbook"), "trigger"};
  argv.insert(argv.end(), args.begin(), args.end());
  ProcessOptions options;
  options.timeout = std::chrono::seconds(120);
  auto output = run_process(argv, options);
  if (!output) FAIL(output.error().describe());
  Outcome outcome{output->exit_status, output->out, output->err, {}};
  INFO("stderr: " << outcome.err << "\nstdout: " << outcome.out);
  CHECK(outcome.out.find(token) == std::string::npos);
  CHECK(outcome.err.find(token) == std::string::npos);
  if (outcome.exit_status == 0) {
    auto doc = parse_json(outcome.out, "stdout");
    if (!doc) FAIL("stdout is not one JSON document: " << outcome.out);
    outcome.document = std::move(*doc);
  }
  return outcome;
}

Outcome falco(const std::string& payload, std::vector<std::string> more = {}) {
  std::vector<std::string> args{falco_sensor, payload, "--auth-token-file", token_file()};
  args.insert(args.end(), more.begin(), more.end());
  return trigger(args);
}

// A falcosidekick payload with fields replaced.
std::string payload_with(const std::string& name,
                         const std::vector<std::pair<std::string, std::string>>& edits) {
  auto text = read_file(payloads + "falco-critical-k8smeta.json");
  REQUIRE(text);
  std::string body = *text;
  for (const auto& [from, to] : edits) {
    const auto at = body.find(from);
    REQUIRE(at != std::string::npos);
    body.replace(at, from.size(), to);
  }
  return write(scratch(name) + "/payload.json", body);
}

}  // namespace

TEST_CASE(
    "playbook trigger: a Critical Falco alert submits the containing playbook for its pod, with either "
    "spelling of the Deployment field",
    "[trigger][service]") {
  for (const std::string file : {"falco-critical-k8smeta.json", "falco-critical-k8s.json"}) {
    INFO(file);
    const auto outcome = falco(payloads + file);
    REQUIRE(outcome.exit_status == 0);
    REQUIRE(outcome.fired());
    CHECK(string_at(outcome.trigger(), {"resource", "kind"}) == "Workflow");
    CHECK(string_at(outcome.trigger(), {"resource", "metadata", "namespace"}) == "irsteps");
    CHECK(string_at(outcome.trigger(), {"resource", "spec", "workflowTemplateRef", "name"}) ==
          "irsteps-container-compromise");
    CHECK(outcome.argument("response") == "contain");
    CHECK(outcome.argument("namespace") == "shop");
    CHECK(outcome.argument("pod") == "web-7d9c-x2x1");
    CHECK(outcome.argument("workload") == "deployment/web");
    CHECK(outcome.argument("severity") == "critical");
    CHECK(outcome.argument("incident-id") == "INC-2026-12-07-120417");
    CHECK(outcome.argument("title") == "Terminal shell in container");
    // The labels the argo-workflow trigger adds to what it submits.
    CHECK(string_at(outcome.trigger(), {"resource", "metadata", "labels", "events.argoproj.io/sensor"}) ==
          "falco-container-compromise");
    CHECK(outcome.name().starts_with("falco-contain-"));
  }
}

TEST_CASE("playbook trigger: a Falco rule tagged T1611 (Escape to Host) sets escape, others do not",
          "[trigger][service]") {
  CHECK(falco(payloads + "falco-critical-k8smeta.json").argument("escape") == "false");
  const auto escape = falco(payload_with(
      "escape",
      {{R"("rule": "Terminal shell in container")",
        R"("rule": "Detect release_agent File Container Escapes")"},
       {R"("tags": ["container", "mitre_execution", "shell"])",
        R"("tags": ["maturity_stable", "container", "process", "mitre_privilege_escalation", "T1611"])"}}));
  REQUIRE(escape.exit_status == 0);
  REQUIRE(escape.fired());
  CHECK(escape.argument("escape") == "true");
  CHECK(escape.argument("response") == "contain");
  // No tags, or tags that are not a list (a hostile payload): not an escape.
  for (const std::string tags : {R"("tags": null)", R"("tags": "T1611")", R"("tags": ["T16111"])"}) {
    INFO(tags);
    const auto other =
        falco(payload_with("tags", {{R"("tags": ["container", "mitre_execution", "shell"])", tags}}));
    REQUIRE(other.exit_status == 0);
    REQUIRE(other.fired());
    CHECK(other.argument("escape") == "false");
  }
}

TEST_CASE("playbook trigger: a Warning Falco alert gathers evidence and contains nothing",
          "[trigger][service]") {
  const auto outcome = falco(payloads + "falco-warning.json");
  REQUIRE(outcome.exit_status == 0);
  REQUIRE(outcome.fired());
  CHECK(outcome.argument("response") == "evidence");
  CHECK(outcome.argument("severity") == "medium");
  CHECK(outcome.name().starts_with("falco-evidence-"));
}

TEST_CASE("playbook trigger: without the webhook's token, or with a wrong one, nothing fires",
          "[trigger][service]") {
  // No token: the request carries no Authorization header.
  const auto none = trigger({falco_sensor, payloads + "falco-critical-k8smeta.json"});
  REQUIRE(none.exit_status == 0);
  CHECK(string_at(none.document, {"webhook", "message"}) == "Invalid Authorization Header");
  CHECK_FALSE(none.fired());
  const auto forged =
      falco(payloads + "falco-critical-k8smeta.json", {"--header", "Authorization: Bearer forged"});
  REQUIRE(forged.exit_status == 0);
  CHECK(string_at(forged.document, {"webhook", "message"}) == "Invalid Auth token");
  CHECK_FALSE(forged.fired());
  CHECK(find(forged.trigger(), {"resource"}) == nullptr);
}

TEST_CASE("playbook trigger: a repeated Falco alert names the same Workflow, a later one another",
          "[trigger][service]") {
  const auto first = falco(payloads + "falco-critical-k8smeta.json");
  // A second delivery of the same rule on the same pod, minutes later, in
  // the same ten minutes.
  const auto again = falco(payload_with(
      "again", {{"2026-12-07T12:04:17", "2026-12-07T12:08:59"}, {"5f4e3c1a-8a0b", "0e0e0e0e-8a0b"}}));
  const auto later = falco(payload_with("later", {{"2026-12-07T12:04:17", "2026-12-07T12:14:02"}}));
  const auto other_pod = falco(payload_with("other-pod", {{"\"web-7d9c-x2x1\"", "\"web-7d9c-q8z4\""}}));
  REQUIRE(first.fired());
  REQUIRE(again.fired());
  REQUIRE(later.fired());
  REQUIRE(other_pod.fired());
  CHECK(again.name() == first.name());
  CHECK(later.name() != first.name());
  CHECK(other_pod.name() != first.name());
}

TEST_CASE("playbook trigger: alerts about the cluster's own namespaces, or naming no valid pod, fire nothing",
          "[trigger][service]") {
  for (const auto& [label, edits] :
       std::vector<std::pair<std::string, std::vector<std::pair<std::string, std::string>>>>{
           {"kube-system", {{"\"k8s.ns.name\": \"shop\"", "\"k8s.ns.name\": \"kube-system\""}}},
           {"irsteps", {{"\"k8s.ns.name\": \"shop\"", "\"k8s.ns.name\": \"irsteps\""}}},
           {"argo-events", {{"\"k8s.ns.name\": \"shop\"", "\"k8s.ns.name\": \"argo-events\""}}},
           {"falco", {{"\"k8s.ns.name\": \"shop\"", "\"k8s.ns.name\": \"falco\""}}},
           {"ns-traversal", {{"\"k8s.ns.name\": \"shop\"", "\"k8s.ns.name\": \"shop/../kube-system\""}}},
           {"empty-ns", {{"\"k8s.ns.name\": \"shop\"", "\"k8s.ns.name\": \"\""}}},
           {"pod-newline", {{"\"web-7d9c-x2x1\"", "\"web-1\\nkube-system\""}}},
           {"pod-traversal", {{"\"web-7d9c-x2x1\"", "\"../secrets\""}}},
           {"pod-injection", {{"\"web-7d9c-x2x1\"", "\"web-1 --all\""}}},
           {"no-pod", {{"\"k8s.pod.name\": \"web-7d9c-x2x1\",", ""}}},
           {"notice", {{"\"Critical\"", "\"Notice\""}}},
           // Without a time every such alert would share one default name.
           {"untimed", {{"\"time\": \"2026-12-07T12:04:17.413792345Z\",", ""}}}}) {
    INFO(label);
    const auto outcome = falco(payload_with(label, edits));
    REQUIRE(outcome.exit_status == 0);
    CHECK_FALSE(outcome.fired());
    const auto* dependencies = find(outcome.document, {"dependencies"});
    REQUIRE(dependencies != nullptr);
    CHECK(string_at(dependencies->as_array().at(0), {"reason"}).starts_with("filtered out"));
  }
}

TEST_CASE("playbook trigger: the protected namespaces are matched as whole names", "[trigger][service]") {
  const auto outcome = falco(payload_with(
      "kube-system-apps", {{"\"k8s.ns.name\": \"shop\"", "\"k8s.ns.name\": \"kube-system-apps\""}}));
  REQUIRE(outcome.exit_status == 0);
  CHECK(outcome.fired());
  CHECK(outcome.argument("namespace") == "kube-system-apps");
}

TEST_CASE("playbook trigger refuses what it cannot evaluate, naming it, exit 2", "[trigger][service]") {
  const std::string dir = scratch("refused");
  const auto not_json = falco(write(dir + "/text.json", "shell in pod web-1"));
  CHECK(not_json.exit_status == 2);
  CHECK(not_json.err.find("is not JSON") != std::string::npos);
  const auto no_sensor =
      trigger({source_dir + "/workflows/argo/events/eventbus.yaml", payloads + "falco-warning.json"});
  CHECK(no_sensor.exit_status == 2);
  CHECK(no_sensor.err.find("has no Sensor") != std::string::npos);
  const auto exprs = trigger({write(dir + "/exprs.yaml", R"(apiVersion: argoproj.io/v1alpha1
kind: Sensor
metadata: {name: s, namespace: irsteps}
spec:
  dependencies:
    - name: d
      eventSourceName: e
      eventName: e
      filters:
        exprs:
          - {expr: 'a == "x"', fields: [{name: a, path: body.a}]}
  triggers: []
)"),
                              payloads + "falco-warning.json"});
  CHECK(exprs.exit_status == 2);
  CHECK(exprs.err.find("filters.exprs") != std::string::npos);
  const auto missing = trigger({falco_sensor});
  CHECK(missing.exit_status == 2);
}

TEST_CASE("playbook trigger --run runs the Workflow the Sensor submits, with its arguments",
          "[trigger][service]") {
  const std::string dir = scratch("run");
  std::string respond = R"(apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata: {name: respond}
spec:
  entrypoint: main
  arguments:
    parameters: [{name: pod}, {name: response, value: evidence}]
  templates:
    - name: main
      container:
        image: irsteps-test-echo
        args: ["--record", "RECORD", "--name", "{{workflow.parameters.pod}}/{{workflow.parameters.response}}/{{workflow.namespace}}"]
)";
  respond.replace(respond.find("RECORD"), 6, dir + "/record");
  write(dir + "/template.yaml", respond);
  const std::string sensor = write(dir + "/sensor.yaml", R"(apiVersion: argoproj.io/v1alpha1
kind: Sensor
metadata: {name: s, namespace: responders}
spec:
  dependencies:
    - {name: alert, eventSourceName: hook, eventName: alert}
  triggers:
    - template:
        name: respond
        argoWorkflow:
          operation: submit
          source:
            resource:
              apiVersion: argoproj.io/v1alpha1
              kind: Workflow
              metadata: {generateName: respond-}
              spec:
                workflowTemplateRef: {name: respond}
                arguments:
                  parameters: [{name: pod, value: none}, {name: response, value: evidence}]
          parameters:
            - src: {dependencyName: alert, dataKey: body.pod, value: none}
              dest: spec.arguments.parameters.0.value
            - src: {dependencyName: alert, dataTemplate: '{{ if eq .Input.body.level "high" }}contain{{ end }}', value: evidence}
              dest: spec.arguments.parameters.1.value
)");
  const std::string event = write(dir + "/event.json", R"({"pod": "web-1", "level": "high"})");
  ProcessOptions options;
  options.timeout = std::chrono::seconds(120);
  auto output = run_process({binary("playbook"), "trigger", sensor, event, "--run", "--templates", dir,
                             "--bin-dir", IRSTEPS_TEST_BIN_DIR, "--work-dir", dir + "/work"},
                            options);
  REQUIRE(output);
  INFO("stderr: " << output->err << "\nstdout: " << output->out);
  REQUIRE(output->exit_status == 0);
  auto doc = parse_json(output->out, "stdout");
  REQUIRE(doc);
  CHECK(string_at(*doc, {"phase"}) == "Succeeded");
  // The echo step's record names what it was given: the Sensor's values, in
  // the Sensor's namespace.
  auto record = read_file(dir + "/record");
  REQUIRE(record);
  CHECK(record->starts_with("web-1/contain/responders "));

  // Nothing fired: nothing runs, and the Sensor's answer is the document.
  const std::string quiet = write(dir + "/quiet.json", R"({"level": "high"})");
  write(dir + "/strict.yaml", R"(apiVersion: argoproj.io/v1alpha1
kind: Sensor
metadata: {name: s, namespace: responders}
spec:
  dependencies:
    - name: alert
      eventSourceName: hook
      eventName: alert
      filters:
        data: [{path: body.pod, type: string, value: ['^web-']}]
  triggers:
    - template: {name: respond, argoWorkflow: {operation: submit, source: {resource: {kind: Workflow}}}}
)");
  auto none = run_process({binary("playbook"), "trigger", dir + "/strict.yaml", quiet, "--run", "--templates",
                           dir, "--bin-dir", IRSTEPS_TEST_BIN_DIR},
                          options);
  REQUIRE(none);
  CHECK(none->exit_status == 0);
  CHECK(none->out.find("\"SensorTrigger\"") != std::string::npos);
  CHECK(none->err.find("nothing to run") != std::string::npos);
}

namespace {

const std::string alertmanager_sensor = source_dir + "/workflows/argo/events/alertmanager.yaml";

Outcome alertmanager(const std::string& payload) {
  return trigger({alertmanager_sensor, payload, "--auth-token-file", token_file()});
}

// Alertmanager's recorded firing notification, changed by `edit` (given the
// whole body and its first alert's labels).
std::string notification_with(const std::string& name,
                              const std::function<void(json::object& body, json::object& labels)>& edit) {
  auto text = read_file(payloads + "alertmanager-firing.json");
  REQUIRE(text);
  auto body = parse_json(*text, "alertmanager-firing.json");
  REQUIRE(body);
  auto& object = body->as_object();
  edit(object, object["alerts"].as_array().at(0).as_object()["labels"].as_object());
  return write(scratch(name) + "/payload.json", boost::json::serialize(*body));
}

}  // namespace

TEST_CASE(
    "playbook trigger: Alertmanager's ContainerCompromise notification submits the containing playbook for "
    "the alert's pod, named after the alert's fingerprint and startsAt",
    "[trigger][service]") {
  const auto outcome = alertmanager(payloads + "alertmanager-firing.json");
  REQUIRE(outcome.exit_status == 0);
  CHECK(find(outcome.document, {"webhook", "status"})->to_number<int>() == 200);
  REQUIRE(outcome.fired());
  CHECK(string_at(outcome.trigger(), {"name"}) == "container-compromise");
  CHECK(string_at(outcome.trigger(), {"resource", "spec", "workflowTemplateRef", "name"}) ==
        "irsteps-container-compromise");
  CHECK(string_at(outcome.trigger(), {"resource", "metadata", "namespace"}) == "irsteps");
  CHECK(outcome.argument("response") == "contain");
  CHECK(outcome.argument("namespace") == "shop");
  CHECK(outcome.argument("pod") == "web-1");
  CHECK(outcome.argument("severity") == "critical");
  CHECK(outcome.argument("incident-id") == "INC-2026-12-07-191726");
  CHECK(outcome.argument("detected-at") == "2026-12-07T19:17:26.678Z");
  CHECK(outcome.argument("title") == "Critical security event in shop/web-1: Terminal shell in container");
  CHECK(outcome.argument("summary").starts_with("Falco reported 4 Critical"));
  CHECK(outcome.name() == "alertmanager-1200da4d91ff21a1-20261207t191726");
  // Alertmanager's repeat of the same firing (repeat_interval, another
  // replica): the same name, refused by the API server as AlreadyExists. The
  // same alert firing again later: a new startsAt, a new name.
  const auto repeat = alertmanager(notification_with("repeat", [](json::object& body, json::object&) {
    body["alerts"].as_array().at(0).as_object()["annotations"].as_object()["description"] = "again";
  }));
  const auto later = alertmanager(notification_with("later", [](json::object& body, json::object&) {
    body["alerts"].as_array().at(0).as_object()["startsAt"] = "2026-12-07T19:42:03.101Z";
  }));
  REQUIRE(repeat.fired());
  REQUIRE(later.fired());
  CHECK(repeat.name() == outcome.name());
  CHECK(later.name() == "alertmanager-1200da4d91ff21a1-20261207t194203");
}

TEST_CASE("playbook trigger: Alertmanager's resolved notification starts nothing", "[trigger][service]") {
  const auto outcome = alertmanager(payloads + "alertmanager-resolved.json");
  REQUIRE(outcome.exit_status == 0);
  CHECK_FALSE(outcome.fired());
  CHECK(string_at(find(outcome.document, {"dependencies"})->as_array().at(0), {"reason"})
            .starts_with("filtered out"));
  // Either status alone is enough.
  for (const char* where : {"body", "alert"}) {
    INFO(where);
    const auto one = alertmanager(
        notification_with(std::string("resolved-") + where, [&](json::object& body, json::object&) {
          auto& target = std::string(where) == "body" ? body : body["alerts"].as_array().at(0).as_object();
          target["status"] = "resolved";
        }));
    REQUIRE(one.exit_status == 0);
    CHECK_FALSE(one.fired());
  }
}

TEST_CASE("playbook trigger: an Alertmanager alert below critical, or without a severity, gathers evidence",
          "[trigger][service]") {
  const auto warning = alertmanager(notification_with(
      "warning", [](json::object&, json::object& labels) { labels["severity"] = "warning"; }));
  REQUIRE(warning.fired());
  CHECK(warning.argument("response") == "evidence");
  CHECK(warning.argument("severity") == "medium");
  const auto none = alertmanager(notification_with(
      "no-severity", [](json::object&, json::object& labels) { labels.erase("severity"); }));
  REQUIRE(none.fired());
  CHECK(none.argument("response") == "evidence");
  CHECK(none.argument("severity") == "low");
}

TEST_CASE(
    "playbook trigger: an Alertmanager notification that is not one firing alert naming the playbook and an "
    "allowed pod fires nothing",
    "[trigger][service]") {
  using Edit = std::function<void(json::object&, json::object&)>;
  auto label = [](const char* key, const char* value) {
    return Edit([=](json::object&, json::object& labels) { labels[key] = value; });
  };
  auto no_label = [](const char* key) {
    return Edit([=](json::object&, json::object& labels) { labels.erase(key); });
  };
  auto field = [](const char* key, json::value value) {
    return Edit([=](json::object& body, json::object&) { body[key] = value; });
  };
  auto alert_field = [](const char* key, const char* value) {
    return Edit(
        [=](json::object& body, json::object&) { body["alerts"].as_array().at(0).as_object()[key] = value; });
  };
  for (const auto& [name, edit] : std::vector<std::pair<std::string, Edit>>{
           {"two-alerts",
            [](json::object&body, json::object&) {
              auto& alerts = body["alerts"].as_array();
              alerts.push_back(alerts.at(0));
              alerts.at(1).as_object()["labels"].as_object()["pod"] = "web-2";
            }},
           {"no-alerts", [](json::object&body, json::object&) { body["alerts"].as_array().clear(); }},
           {"truncated", field("truncatedAlerts", 1)},
           {"version-3", field("version", "3")},
           {"other-playbook", label("irsteps_playbook", "supply-chain")},
           {"playbook-suffix", label("irsteps_playbook", "container-compromise-x")},
           {"playbook-prefix", label("irsteps_playbook", "x-container-compromise")},
           {"no-playbook", no_label("irsteps_playbook")},
           {"kube-system", label("namespace", "kube-system")},
           {"irsteps", label("namespace", "irsteps")},
           {"argo-events", label("namespace", "argo-events")},
           {"falco", label("namespace", "falco")},
           {"ns-traversal", label("namespace", "shop/../kube-system")},
           {"empty-ns", label("namespace", "")},
           {"no-ns", no_label("namespace")},
           {"pod-newline", label("pod", "web-1\nkube-system")},
           {"pod-traversal", label("pod", "../secrets")},
           {"pod-injection", label("pod", "web-1 --all")},
           {"no-pod", no_label("pod")},
           {"fingerprint-upper", alert_field("fingerprint", "1200DA4D91FF21A1")},
           {"starts-at-text", alert_field("startsAt", "yesterday")}}) {
    INFO(name);
    const auto outcome = alertmanager(notification_with(name, edit));
    REQUIRE(outcome.exit_status == 0);
    CHECK_FALSE(outcome.fired());
    CHECK(string_at(find(outcome.document, {"dependencies"})->as_array().at(0), {"reason"})
              .starts_with("filtered out"));
  }
  // The protected namespaces are whole names.
  const auto apps =
      alertmanager(notification_with("kube-system-apps", [](json::object&, json::object& labels) {
        labels["namespace"] = "kube-system-apps";
      }));
  REQUIRE(apps.fired());
  CHECK(apps.argument("namespace") == "kube-system-apps");
}

TEST_CASE("playbook trigger: Alertmanager's notification without the webhook's token fires nothing",
          "[trigger][service]") {
  const auto none = trigger({alertmanager_sensor, payloads + "alertmanager-firing.json"});
  REQUIRE(none.exit_status == 0);
  CHECK(find(none.document, {"webhook", "status"})->to_number<int>() == 401);
  CHECK_FALSE(none.fired());
}
