// The Argo YAML under workflows/argo: every Workflows kind validates against
// Argo's own JSON Schema (tests/data/argo), and a project check
// catches what that schema cannot: unknown keys, templates and parameters
// referenced but not defined, step arguments that are not parameters of the
// step's schema, and playbook ServiceAccounts not bound to exactly the Roles
// of the steps they run.
#include "ir/core/json.hpp"
#include "ir/core/time.hpp"
#include "ir/params/params.hpp"
#include "ir/params/schema.hpp"
#include "irsteps/step_list.hpp"
#include "support/catch.hpp"

#include <boost/json/serialize.hpp>

#include <filesystem>
#include <map>
#include <regex>
#include <set>

using namespace ir;
namespace fs = std::filesystem;

namespace {

const std::string argo_dir = std::string(IRSTEPS_SOURCE_DIR) + "/workflows/argo";

struct Doc {
  std::string file;
  json::object object;
  [[nodiscard]] std::string kind() const { return string_at(object, {"kind"}); }
  [[nodiscard]] std::string name() const { return string_at(object, {"metadata", "name"}); }
  [[nodiscard]] std::string where() const { return file + ": " + kind() + " " + name(); }
};

const std::vector<Doc>& documents() {
  static const std::vector<Doc> docs = [] {
    std::vector<Doc> out;
    std::vector<fs::path> files;
    for (const auto& entry : fs::recursive_directory_iterator(argo_dir)) {
      if (entry.path().extension() == ".yaml") files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
    for (const auto& file : files) {
      auto text = read_file(file.string());
      REQUIRE(text);
      auto parsed = parse_yaml_documents(*text, file.string());
      if (!parsed) FAIL(parsed.error().describe());
      for (auto& value : *parsed) {
        REQUIRE(value.is_object());
        out.push_back({fs::relative(file, argo_dir).string(), value.as_object()});
      }
    }
    return out;
  }();
  return docs;
}

std::vector<const Doc*> workflow_templates() {
  std::vector<const Doc*> out;
  for (const auto& d : documents()) {
    if (d.kind() == "WorkflowTemplate") out.push_back(&d);
  }
  return out;
}

const json::array& array_at(const json::value& v, std::initializer_list<std::string_view> path) {
  static const json::array empty;
  const auto* found = find(v, path);
  return found != nullptr && found->is_array() ? found->as_array() : empty;
}
const json::array& array_at(const json::object& o, std::initializer_list<std::string_view> path) {
  static const json::array empty;
  const auto* found = find(o, path);
  return found != nullptr && found->is_array() ? found->as_array() : empty;
}
// A reference into a temporary would dangle (range-for over a copy).
const json::array& array_at(json::value&&, std::initializer_list<std::string_view>) = delete;

// Every template that runs a pod, in both flavours' step libraries: the
// document, the template and its container.
struct PodTemplate {
  const Doc* doc;
  const json::value* t;
  const json::value* container;
};
std::vector<PodTemplate> pod_templates() {
  std::vector<PodTemplate> out;
  for (const char* file : {"steps.yaml", "plugin/steps.yaml"}) {
    for (const auto* doc : workflow_templates()) {
      if (doc->file != file) continue;
      for (const auto& t : array_at(doc->object, {"spec", "templates"})) {
        if (const auto* container = find(t, {"container"})) out.push_back({doc, &t, container});
      }
    }
  }
  return out;
}

// Argo's schema with IntOrString widened to string-or-integer (its README's
// first known limit) and ExecutorPlugin given its type fields.
const Schema& argo_schema() {
  static const Schema schema = [] {
    const std::string path = std::string(IRSTEPS_SOURCE_DIR) + "/tests/data/argo/workflows-schema.json";
    auto text = read_file(path);
    REQUIRE(text);
    auto doc = parse_json(*text, path);
    REQUIRE(doc);
    auto& defs = doc->as_object()["definitions"].as_object();
    defs["io.k8s.apimachinery.pkg.util.intstr.IntOrString"] =
        json::object{{"type", json::array{"string", "integer"}}};
    // ExecutorPlugin's definition leaves out the apiVersion and kind that
    // plugin.yaml carries (and `argo executor-plugin build` reads).
    auto& plugin_properties =
        defs["io.argoproj.workflow.v1alpha1.ExecutorPlugin"].as_object()["properties"].as_object();
    plugin_properties["apiVersion"] = json::object{{"type", "string"}};
    plugin_properties["kind"] = json::object{{"type", "string"}};
    auto compiled = Schema::from_json(std::move(*doc));
    REQUIRE(compiled);
    return std::move(*compiled);
  }();
  return schema;
}

const json::value* resolve(const json::value& schema_root, const json::value* s) {
  for (int i = 0; i < 20 && s != nullptr && s->is_object(); ++i) {
    const auto* ref = s->as_object().if_contains("$ref");
    if (ref == nullptr || !ref->is_string()) return s;
    std::string target(ref->as_string());
    if (!target.starts_with("#/definitions/")) return nullptr;
    s = find(schema_root, {"definitions", target.substr(14)});
  }
  return s;
}

// Keys the schema does not define, anywhere in the document.
void unknown_keys(const json::value& root, const json::value* schema, const json::value& value,
                  const std::string& path, std::vector<std::string>& out) {
  schema = resolve(root, schema);
  if (schema == nullptr || !schema->is_object()) return;
  const auto& s = schema->as_object();
  if (value.is_object()) {
    const auto* properties = s.if_contains("properties");
    const auto* additional = s.if_contains("additionalProperties");
    for (const auto& entry : value.as_object()) {
      const std::string key(entry.key());
      const json::value* sub = nullptr;
      if (properties != nullptr && properties->is_object()) sub = properties->as_object().if_contains(key);
      if (sub == nullptr && additional != nullptr && additional->is_object()) sub = additional;
      if (sub == nullptr) {
        if (properties != nullptr) out.push_back(path + "/" + key);
        continue;
      }
      unknown_keys(root, sub, entry.value(), path + "/" + key, out);
    }
  } else if (value.is_array()) {
    if (const auto* items = s.if_contains("items")) {
      std::size_t i = 0;
      for (const auto& item : value.as_array())
        unknown_keys(root, items, item, path + "/" + std::to_string(i++), out);
    }
  }
}

std::set<std::string> names_in(const json::array& list) {
  std::set<std::string> out;
  for (const auto& item : list) out.insert(string_at(item, {"name"}));
  return out;
}

const json::object* template_named(const Doc& doc, const std::string& name) {
  for (const auto& t : array_at(doc.object, {"spec", "templates"})) {
    if (string_at(t, {"name"}) == name) return &t.as_object();
  }
  return nullptr;
}

const Doc* template_doc(const std::string& name) {
  for (const auto* d : workflow_templates()) {
    if (d->name() == name) return d;
  }
  return nullptr;
}

std::string text_of(const json::value& v) {
  return v.is_string() ? std::string(v.as_string()) : json::serialize(v);
}

// Every {{...}} reference in a value tree.
void references(const json::value& v, std::vector<std::string>& out) {
  static const std::regex ref(R"(\{\{\s*([^}\s]+)\s*\}\})");
  if (v.is_string()) {
    const std::string s(v.as_string());
    for (std::sregex_iterator it(s.begin(), s.end(), ref), end; it != end; ++it) out.push_back((*it)[1]);
  } else if (v.is_object()) {
    for (const auto& e : v.as_object()) references(e.value(), out);
  } else if (v.is_array()) {
    for (const auto& e : v.as_array()) references(e, out);
  }
}

// The called template of a step or task: {doc, template}.
std::pair<const Doc*, const json::object*> called(const Doc& doc, const json::object& step) {
  if (const auto* ref = step.if_contains("templateRef")) {
    const Doc* other = template_doc(string_at(*ref, {"name"}));
    return {other, other != nullptr ? template_named(*other, string_at(*ref, {"template"})) : nullptr};
  }
  return {&doc, template_named(doc, string_at(step, {"template"}))};
}

std::vector<std::string> project_problems(const Doc& doc) {
  std::vector<std::string> problems;
  const json::value whole(doc.object);
  const auto workflow_params = names_in(array_at(whole, {"spec", "arguments", "parameters"}));
  const std::string entry = string_at(whole, {"spec", "entrypoint"});
  if (!entry.empty() && template_named(doc, entry) == nullptr)
    problems.push_back("entrypoint " + entry + " undefined");
  for (const auto& tv : array_at(whole, {"spec", "templates"})) {
    const auto& t = tv.as_object();
    const std::string tname = string_at(t, {"name"});
    const std::string at = doc.where() + " template " + tname;
    const auto inputs = names_in(array_at(tv, {"inputs", "parameters"}));
    // Steps and tasks: what they call exists, with the parameters it takes.
    std::map<std::string, const json::object*> siblings;  // step or task name -> called template
    std::vector<const json::object*> calls;
    for (const auto& group : array_at(tv, {"steps"})) {
      for (const auto& step : group.as_array()) calls.push_back(&step.as_object());
    }
    for (const auto& task : array_at(tv, {"dag", "tasks"})) calls.push_back(&task.as_object());
    for (const auto* step : calls) {
      const std::string sname = string_at(*step, {"name"});
      auto [target_doc, target] = called(doc, *step);
      if (target == nullptr) {
        problems.push_back(at + ": step " + sname + " calls an undefined template");
        continue;
      }
      siblings[sname] = target;
      const auto declared = names_in(array_at(*target, {"inputs", "parameters"}));
      std::set<std::string> passed;
      for (const auto& p : array_at(*step, {"arguments", "parameters"})) {
        const std::string pname = string_at(p, {"name"});
        passed.insert(pname);
        if (!declared.contains(pname))
          problems.push_back(at + ": step " + sname + " passes undeclared " + pname);
      }
      for (const auto& p : array_at(*target, {"inputs", "parameters"})) {
        const auto& po = p.as_object();
        if (!po.contains("default") && !po.contains("value") && !passed.contains(string_at(p, {"name"}))) {
          problems.push_back(at + ": step " + sname + " leaves out required " + string_at(p, {"name"}));
        }
      }
      // Artifacts the same way: a required one left out is what Argo's
      // ProcessArgs refuses (workflow/common/util.go).
      const auto declared_artifacts = names_in(array_at(*target, {"inputs", "artifacts"}));
      std::set<std::string> passed_artifacts;
      for (const auto& a : array_at(*step, {"arguments", "artifacts"})) {
        const std::string aname = string_at(a, {"name"});
        passed_artifacts.insert(aname);
        if (!declared_artifacts.contains(aname))
          problems.push_back(at + ": step " + sname + " passes undeclared artifact " + aname);
      }
      for (const auto& a : array_at(*target, {"inputs", "artifacts"})) {
        const auto* optional = a.as_object().if_contains("optional");
        const bool may_go_without = optional != nullptr && optional->is_bool() && optional->as_bool();
        if (!may_go_without && !passed_artifacts.contains(string_at(a, {"name"})))
          problems.push_back(at + ": step " + sname + " leaves out required artifact " +
                             string_at(a, {"name"}));
      }
    }
    // Every variable refers to something defined.
    std::vector<std::string> refs;
    references(tv, refs);
    for (const auto& r : refs) {
      std::smatch m;
      static const std::regex inputs_re(R"(inputs\.parameters\.([\w-]+))");
      static const std::regex input_artifacts_re(R"(inputs\.artifacts\.([\w-]+))");
      static const std::regex workflow_re(R"(workflow\.parameters\.([\w-]+))");
      static const std::regex outputs_re(R"((steps|tasks)\.([\w-]+)\.outputs\.parameters\.([\w-]+))");
      // A node's own fields (operator.go buildLocalScope).
      static const std::regex node_re(R"((steps|tasks)\.([\w-]+)\.(status|exitCode|startedAt|finishedAt))");
      if (std::regex_match(r, m, inputs_re)) {
        if (!inputs.contains(m[1])) problems.push_back(at + ": {{" + r + "}} is not an input");
      } else if (std::regex_match(r, m, input_artifacts_re)) {
        if (!names_in(array_at(tv, {"inputs", "artifacts"})).contains(m[1]))
          problems.push_back(at + ": {{" + r + "}} is not an input artifact");
      } else if (std::regex_match(r, m, workflow_re)) {
        if (!workflow_params.contains(m[1]))
          problems.push_back(at + ": {{" + r + "}} is not a workflow parameter");
      } else if (std::regex_match(r, m, outputs_re)) {
        auto it = siblings.find(m[2]);
        if (it == siblings.end()) {
          problems.push_back(at + ": {{" + r + "}} names no step of this template");
        } else if (!names_in(array_at(*it->second, {"outputs", "parameters"})).contains(m[3])) {
          problems.push_back(at + ": {{" + r + "}} is not an output of that step");
        }
      } else if (std::regex_match(r, m, node_re)) {
        if (!siblings.contains(m[2]))
          problems.push_back(at + ": {{" + r + "}} names no step of this template");
      } else if (!(r.starts_with("workflow.") || r == "retries" || r == "node.name")) {
        // node.name: Argo substitutes it in every template (executeTemplate
        // in workflow/controller/operator.go); the plugin templates send it.
        problems.push_back(at + ": unknown variable {{" + r + "}}");
      }
    }
    // Container templates of irsteps steps: every flag is a parameter of the
    // step's schema, and the literal values and defaults pass it.
    if (const auto* container = t.if_contains("container")) {
      const auto command = array_at(*container, {"command"});
      if (command.empty()) continue;
      const std::string step = fs::path(std::string(command[0].as_string())).filename().string();
      auto spec = ParamSpec::load(step);
      if (!spec) {
        problems.push_back(at + ": no schema for step " + step);
        continue;
      }
      std::map<std::string, std::string> defaults;
      for (const auto& p : array_at(tv, {"inputs", "parameters"})) {
        if (const auto* d = p.as_object().if_contains("default"))
          defaults[string_at(p, {"name"})] = text_of(*d);
      }
      for (const auto& arg : array_at(*container, {"args"})) {
        const std::string a(arg.as_string());
        const auto eq = a.find('=');
        if (!a.starts_with("--") || eq == std::string::npos) {
          problems.push_back(at + ": argument " + a + " is not --name=value");
          continue;
        }
        const std::string name = a.substr(2, eq - 2);
        if (!spec->properties().contains(name)) {
          problems.push_back(at + ": --" + name + " is not a parameter of " + step);
          continue;
        }
        std::string value = a.substr(eq + 1);
        std::smatch m;
        static const std::regex only_input(R"(\{\{inputs\.parameters\.([\w-]+)\}\})");
        if (std::regex_match(value, m, only_input)) {
          auto d = defaults.find(m[1]);
          if (d == defaults.end()) continue;  // given by every caller
          value = d->second;
        } else if (value.find("{{") != std::string::npos) {
          continue;
        }
        auto checked = finalize_params(*spec, json::object{{name, value}});
        if (!checked && checked.error().describe().find("parameter " + name) != std::string::npos) {
          problems.push_back(at + ": --" + name + "=" + value + ": " + checked.error().describe());
        }
      }
    }
  }
  return problems;
}

}  // namespace

TEST_CASE("every Argo Workflows document validates against Argo's schema, with no unknown keys",
          "[unit][workflows][testdata]") {
  const auto& schema = argo_schema();
  int checked = 0;
  for (const auto& doc : documents()) {
    if (string_at(doc.object, {"apiVersion"}) != "argoproj.io/v1alpha1") continue;
    const std::string definition = "io.argoproj.workflow.v1alpha1." + doc.kind();
    if (find(schema.document(), {"definitions", definition}) == nullptr) continue;  // an Argo Events kind
    INFO(doc.where());
    auto problems = schema.validate_at(json::value(doc.object), "#/definitions/" + definition);
    REQUIRE(problems);
    for (const auto& p : *problems) INFO(p.path << ": " << p.message);
    CHECK(problems->empty());
    std::vector<std::string> unknown;
    unknown_keys(schema.document(), find(schema.document(), {"definitions", definition}),
                 json::value(doc.object), "", unknown);
    for (const auto& u : unknown) INFO("unknown key " << u);
    CHECK(unknown.empty());
    ++checked;
  }
  CHECK(checked >= 4);  // the step templates and the playbooks
}

TEST_CASE("the project check catches what the schema cannot", "[unit][workflows]") {
  for (const auto* doc : workflow_templates()) {
    const auto problems = project_problems(*doc);
    std::string listed;
    for (const auto& p : problems) listed += p + "\n";
    INFO(listed);
    CHECK(problems.empty());
  }
}

TEST_CASE("the project check itself finds broken references and foreign flags", "[unit][workflows]") {
  // The checks above pass only if they can fail: break a copy of a playbook
  // and of the step templates and look for the problems.
  const Doc* playbook = template_doc("irsteps-container-compromise");
  REQUIRE(playbook != nullptr);
  Doc broken = *playbook;
  auto& steps = broken.object["spec"].as_object()["templates"].as_array()[0].as_object()["steps"].as_array();
  auto& isolate = steps[0].as_array()[0].as_object();
  isolate["arguments"].as_object()["parameters"].as_array().push_back(
      json::object{{"name", "pods"}, {"value", "x"}});
  for (auto& step : steps[1].as_array()) {
    if (string_at(step, {"name"}) == "snapshot")
      step.as_object()["templateRef"].as_object()["template"] = "snapshots";
  }
  broken.object["spec"].as_object()["templates"].as_array()[0].as_object()["outputs"] = json::object{
      {"parameters",
       json::array{json::object{
           {"name", "x"},
           {"valueFrom", json::object{{"parameter", "{{steps.isolate.outputs.parameters.nope}}"}}}}}}};
  const auto problems = project_problems(broken);
  auto mentions = [&](const std::string& text) {
    return std::any_of(problems.begin(), problems.end(),
                       [&](const std::string& p) { return p.find(text) != std::string::npos; });
  };
  CHECK(mentions("passes undeclared pods"));
  CHECK(mentions("step snapshot calls an undefined template"));
  CHECK(mentions("steps.isolate.outputs.parameters.nope}} is not an output"));

  const Doc* steps_doc = template_doc("irsteps-steps");
  REQUIRE(steps_doc != nullptr);
  Doc foreign = *steps_doc;
  auto& args = foreign.object["spec"]
                   .as_object()["templates"]
                   .as_array()[0]
                   .as_object()["container"]
                   .as_object()["args"];
  args.as_array().push_back("--no-such-flag=1");
  args.as_array().push_back("--scope=everything");
  const auto step_problems = project_problems(foreign);
  auto says = [&](const std::string& text) {
    return std::any_of(step_problems.begin(), step_problems.end(),
                       [&](const std::string& p) { return p.find(text) != std::string::npos; });
  };
  CHECK(says("--no-such-flag is not a parameter of isolate"));
  CHECK(says("--scope=everything"));

  std::vector<std::string> unknown;
  json::value typo(playbook->object);
  typo.as_object()["spec"].as_object()["entryPoint"] = "x";
  const auto& schema = argo_schema();
  const std::string definition = "io.argoproj.workflow.v1alpha1.WorkflowTemplate";
  unknown_keys(schema.document(), find(schema.document(), {"definitions", definition}), typo, "", unknown);
  CHECK(unknown == std::vector<std::string>{"/spec/entryPoint"});
}

TEST_CASE("each playbook's ServiceAccount is bound to exactly the Roles of the steps it runs",
          "[unit][workflows]") {
  // ClusterRoleBindings of the playbooks' ServiceAccounts.
  std::map<std::string, std::set<std::string>> bound;
  std::set<std::string> accounts;
  for (const auto& doc : documents()) {
    if (doc.kind() == "ServiceAccount") accounts.insert(doc.name());
    if (doc.kind() != "ClusterRoleBinding") continue;
    for (const auto& subject : array_at(doc.object, {"subjects"})) {
      bound[string_at(subject, {"name"})].insert(string_at(doc.object, {"roleRef", "name"}));
    }
  }
  // The ClusterRoles each step's own file defines.
  std::map<std::string, std::set<std::string>> step_roles;
  for (const auto& doc : documents()) {
    if (doc.kind() != "ClusterRoleBinding" || !doc.file.starts_with("rbac/") ||
        doc.file == "rbac/playbooks.yaml")
      continue;
    const std::string step = fs::path(doc.file).stem().string();
    step_roles[step].insert(string_at(doc.object, {"roleRef", "name"}));
  }
  int playbooks = 0;
  for (const auto* doc : workflow_templates()) {
    const std::string account = string_at(doc->object, {"spec", "serviceAccountName"});
    if (account.empty()) continue;
    ++playbooks;
    INFO(doc->where() << " runs as " << account);
    CHECK(accounts.contains(account));
    std::set<std::string> expected;
    for (const auto& tv : array_at(doc->object, {"spec", "templates"})) {
      std::vector<std::string> refs;
      for (const auto& group : array_at(tv, {"steps"})) {
        for (const auto& step : group.as_array())
          refs.push_back(string_at(step, {"templateRef", "template"}));
      }
      for (const auto& task : array_at(tv, {"dag", "tasks"}))
        refs.push_back(string_at(task, {"templateRef", "template"}));
      for (const auto& step : refs) {
        if (step.empty()) continue;
        const auto roles = step_roles.find(step);
        if (roles != step_roles.end()) expected.insert(roles->second.begin(), roles->second.end());
      }
    }
    CHECK(bound[account] == expected);
  }
  CHECK(playbooks >= 4);
}

namespace {

const Doc& document(std::string_view kind, std::string_view name) {
  for (const auto& d : documents()) {
    if (d.kind() == kind && d.name() == name) return d;
  }
  FAIL("no " << kind << " " << name << " under workflows/argo");
  throw std::logic_error("unreachable");
}

}  // namespace

// Security review finding 5: whoever reaches the Falco webhook isolates pods
// and pages people, so it takes a shared token, only falcosidekick reaches
// it, and the Sensor acts on allowed namespaces and well-formed names only.
TEST_CASE("the Falco webhook needs a token and a peer allowed to reach it", "[unit][workflows]") {
  const auto& source = document("EventSource", "falco");
  CHECK(string_at(source.object, {"spec", "webhook", "falco", "authSecret", "name"}) ==
        "irsteps-falco-webhook");
  CHECK(string_at(source.object, {"spec", "webhook", "falco", "authSecret", "key"}) == "token");

  const auto& policy = document("NetworkPolicy", "irsteps-falco-eventsource");
  CHECK(string_at(policy.object, {"metadata", "namespace"}) ==
        string_at(source.object, {"metadata", "namespace"}));
  CHECK(string_at(policy.object, {"spec", "podSelector", "matchLabels", "eventsource-name"}) == "falco");
  const auto& ingress = policy.object.at("spec").at("ingress").as_array();
  REQUIRE(ingress.size() == 1);
  const auto& peers = ingress[0].at("from").as_array();
  REQUIRE(peers.size() == 1);
  CHECK(find(peers[0], {"namespaceSelector", "matchLabels"}) != nullptr);
  CHECK(find(peers[0], {"podSelector", "matchLabels"}) != nullptr);  // not every pod of that namespace

  // What the Sensor's filters let through is evaluated as Argo Events does
  // in tests/service/trigger_test.cpp ("playbook trigger: alerts about the
  // cluster's own namespaces, or naming no valid pod, fire nothing").
}

// Issue 18: Argo Events fails the whole trigger when a parameter resolves
// to nothing (a missing key, or a template that gives "") and has no
// `value` to fall back on (pkg/sensors/triggers/params.go ResolveParamValue);
// and the trigger lists the workflows it submitted (argo-workflow.go).
TEST_CASE("every Falco trigger parameter has a default and the Sensor may list what it submits",
          "[unit][workflows]") {
  const auto& sensor = document("Sensor", "falco-container-compromise");
  std::size_t parameters = 0;
  for (const auto& trigger : sensor.object.at("spec").at("triggers").as_array()) {
    for (const auto& parameter : find(trigger, {"template", "argoWorkflow", "parameters"})->as_array()) {
      INFO(string_at(parameter, {"dest"}));
      CHECK(find(parameter, {"src", "value"}) != nullptr);
      ++parameters;
    }
  }
  CHECK(parameters == 11);
  // Each parameter lands on the workflow argument it means: the index in
  // `dest` names the argument of the submitted resource.
  const auto& argo_workflow =
      *find(sensor.object.at("spec").at("triggers").as_array()[0], {"template", "argoWorkflow"});
  const auto& arguments =
      find(argo_workflow, {"source", "resource", "spec", "arguments", "parameters"})->as_array();
  std::map<std::string, const json::value*> by_argument;
  for (const auto& parameter : find(argo_workflow, {"parameters"})->as_array()) {
    const std::string dest = string_at(parameter, {"dest"});
    const std::string prefix = "spec.arguments.parameters.";
    if (!dest.starts_with(prefix)) continue;
    const auto index = std::stoul(dest.substr(prefix.size()));
    REQUIRE(index < arguments.size());
    by_argument[string_at(arguments[index], {"name"})] = &parameter;
  }
  for (const char* name : {"incident-id", "response", "namespace", "pod", "workload", "severity", "title",
                           "summary", "detected-at", "escape"}) {
    INFO(name);
    CHECK(by_argument.contains(name));
  }
  // An escape to the host cordons the node: only a rule tagged T1611 says so,
  // and a template that fails says "false".
  CHECK(string_at(*by_argument.at("escape"), {"src", "dataTemplate"}).find("\"T1611\"") != std::string::npos);
  CHECK(string_at(*by_argument.at("escape"), {"src", "value"}) == "false");
  const auto& workload = *by_argument.at("workload");
  CHECK(string_at(workload, {"src", "dataTemplate"}).find("k8smeta.deployment.name") != std::string::npos);
  CHECK(string_at(workload, {"src", "value"}).empty());
  // Issue 18's priority policy: only Emergency, Alert and Critical contain;
  // anything else, and a template that fails, only captures evidence.
  const auto& response = *by_argument.at("response");
  const std::string policy = string_at(response, {"src", "dataTemplate"});
  CHECK(
      policy ==
      "{{ $p := .Input.body.priority }}{{ if or (eq $p \"Emergency\") (eq $p \"Alert\") (eq $p \"Critical\") "
      "}}contain{{ else }}evidence{{ end }}");
  CHECK(string_at(response, {"src", "value"}) == "evidence");
  for (const auto& argument : arguments) {
    if (string_at(argument, {"name"}) == "response") CHECK(string_at(argument, {"value"}) == "evidence");
  }
  // The workflow's name repeats for the same rule and pod in a window, so
  // a repeated alert is refused as AlreadyExists; it names the response too.
  std::string name_template;
  for (const auto& parameter : find(argo_workflow, {"parameters"})->as_array()) {
    if (string_at(parameter, {"dest"}) == "metadata.name")
      name_template = string_at(parameter, {"src", "dataTemplate"});
  }
  for (const char* part : {"k8s.ns.name", "k8s.pod.name", ".Input.body.rule", "sha1sum",
                           "substr 0 15 .Input.body.time", "contain", "evidence"}) {
    INFO(part);
    CHECK(name_template.find(part) != std::string::npos);
  }
  CHECK(name_template.find("uuid") == std::string::npos);
  const auto& role = document("Role", "irsteps-falco-sensor");
  bool may_list = false;
  for (const auto& rule : role.object.at("rules").as_array()) {
    const auto& verbs = rule.at("verbs").as_array();
    if (rule.at("resources").as_array().at(0) == "workflows")
      may_list = std::find(verbs.begin(), verbs.end(), json::value("list")) != verbs.end();
  }
  CHECK(may_list);
}

TEST_CASE("every pod template has a writable volume at IRSTEPS_CACHE_DIR and a writable HOME",
          "[unit][workflows]") {
  // The root filesystem is read-only and runc's HOME (/home/nonroot) does not
  // exist: without a volume there, a git-backed step (a case record, drift
  // --expected URL) clones into a private temporary folder at best.
  int checked = 0;
  int plugin_pods = 0;
  for (const auto& [doc, template_value, container] : pod_templates()) {
    const auto& t = *template_value;
    const std::string where = doc->file + ": " + string_at(t, {"name"});
    INFO(where);
    ++checked;
    if (doc->file.find("plugin/") != std::string::npos) ++plugin_pods;
    std::map<std::string, std::string> env;
    for (const auto& e : array_at(*container, {"env"})) env[string_at(e, {"name"})] = string_at(e, {"value"});
    REQUIRE(env.contains("IRSTEPS_CACHE_DIR"));
    REQUIRE(env.contains("HOME"));
    // Where a path lives: the mount that holds it, or none.
    auto volume_holding = [&](const std::string& path) -> const json::value* {
      std::string best;
      const json::value* found = nullptr;
      for (const auto& m : array_at(*container, {"volumeMounts"})) {
        const std::string at = string_at(m, {"mountPath"});
        if ((path == at || path.starts_with(at + "/")) && at.size() > best.size()) {
          best = at;
          found = &m;
        }
      }
      return found;
    };
    for (const std::string variable : {"IRSTEPS_CACHE_DIR", "HOME"}) {
      INFO(variable << "=" << env[variable]);
      const auto* mount = volume_holding(env[variable]);
      REQUIRE(mount != nullptr);
      const auto* read_only = find(*mount, {"readOnly"});
      CHECK((read_only == nullptr || !read_only->as_bool()));
      const std::string volume = string_at(*mount, {"name"});
      bool writable_kind = false;
      for (const auto& v : array_at(t, {"volumes"})) {
        if (string_at(v, {"name"}) != volume) continue;
        writable_kind = find(v, {"emptyDir"}) != nullptr || find(v, {"persistentVolumeClaim"}) != nullptr;
      }
      CHECK(writable_kind);
    }
    // The cache has a volume of its own, not /tmp's: the outputs' folder
    // must not be where a clone of unknown size grows.
    CHECK(string_at(*volume_holding(env["IRSTEPS_CACHE_DIR"]), {"mountPath"}) == env["IRSTEPS_CACHE_DIR"]);
  }
  // every step's pod, and those that stay pods in the plugin flavour (the
  // four KEEP_POD steps and the ones a playbook calls that its policy does
  // not run in the plugin, block-image and cordon)
  CHECK(plugin_pods == 6);
  CHECK(checked == static_cast<int>(std::size(ir::generated::step_list)) + plugin_pods);
}

// Issue 17: run as a pod, verify-image met a registry anonymously although
// the template mounts the Secret irsteps-registry: nothing told the step
// where. DOCKER_CONFIG names the mount (lib/oci credentials.cpp reads its
// config.json, or the .dockerconfigjson of `kubectl create secret
// docker-registry`); tests/cluster/real-node-more-steps-test.sh runs it.
TEST_CASE("verify-image's pod looks for registry credentials where the Secret irsteps-registry is mounted",
          "[unit][workflows]") {
  int checked = 0;
  for (const auto& [doc, template_value, container] : pod_templates()) {
    if (string_at(*template_value, {"name"}) != "verify-image") continue;
    INFO(doc->file);
    ++checked;
    std::string volume;
    for (const auto& v : array_at(*template_value, {"volumes"})) {
      if (string_at(v, {"secret", "secretName"}) == "irsteps-registry") volume = string_at(v, {"name"});
    }
    REQUIRE(!volume.empty());
    std::string mount;
    for (const auto& m : array_at(*container, {"volumeMounts"})) {
      if (string_at(m, {"name"}) == volume) mount = string_at(m, {"mountPath"});
    }
    std::string docker_config;
    for (const auto& e : array_at(*container, {"env"})) {
      if (string_at(e, {"name"}) == "DOCKER_CONFIG") docker_config = string_at(e, {"value"});
    }
    CHECK(!mount.empty());
    CHECK(docker_config == mount);
  }
  CHECK(checked >= 1);
}

// Issue 16 item 6: a pod that hangs is stopped. Argo makes a template's
// activeDeadlineSeconds its pods' spec.activeDeadlineSeconds
// (workflow/controller/workflowpod.go createWorkflowPod); it must be above
// the step's own timeout, or it cuts a step that would have ended by itself
// (with its own message and exit code 4, which is retried), and within the
// retries' backoff.maxDuration, which bounds every attempt anyway
// (operator.go processNodeRetries).
TEST_CASE("every pod template has an activeDeadlineSeconds above its step's own timeout",
          "[unit][workflows]") {
  auto seconds_of = [](const std::string& duration) {
    auto parsed = parse_duration(duration);
    REQUIRE(parsed);
    return std::chrono::duration_cast<std::chrono::seconds>(*parsed).count();
  };
  std::map<std::string, std::int64_t> deadline_of;  // "irsteps-steps/rollout"
  int checked = 0;
  for (const auto& [doc, template_value, container] : pod_templates()) {
    const auto& t = *template_value;
    const std::string where = doc->file + ": " + string_at(t, {"name"});
    INFO(where);
    ++checked;
    const auto* deadline = find(t, {"activeDeadlineSeconds"});
    REQUIRE(deadline != nullptr);
    REQUIRE(deadline->is_int64());
    const std::int64_t limit = deadline->as_int64();
    deadline_of[doc->name() + "/" + string_at(t, {"name"})] = limit;
    // The step's own timeout: the template's input default, else the schema's.
    const std::string step =
        fs::path(std::string(array_at(*container, {"command"}).at(0).as_string())).filename().string();
    auto spec = ParamSpec::load(step);
    REQUIRE(spec);
    std::string timeout = string_at(spec->properties(), {"timeout", "default"});
    for (const auto& p : array_at(t, {"inputs", "parameters"})) {
      if (string_at(p, {"name"}) == "timeout") timeout = string_at(p, {"default"});
    }
    INFO("timeout " << timeout << ", activeDeadlineSeconds " << limit);
    if (!timeout.empty()) CHECK(limit > seconds_of(timeout));
    CHECK(limit >= 60);
    const std::string max_duration = string_at(t, {"retryStrategy", "backoff", "maxDuration"});
    REQUIRE(!max_duration.empty());
    CHECK(limit <= seconds_of(max_duration));
  }
  // those that stay pods in the plugin flavour included (the test above counts them)
  CHECK(checked == static_cast<int>(std::size(ir::generated::step_list)) + 6);
  // A playbook that passes a step a longer timeout than its default must
  // not be cut by the template's deadline.
  for (const auto* doc : workflow_templates()) {
    for (const auto& t : array_at(doc->object, {"spec", "templates"})) {
      std::vector<const json::value*> calls;
      for (const auto& group : array_at(t, {"steps"})) {
        for (const auto& step : group.as_array()) calls.push_back(&step);
      }
      for (const auto& task : array_at(t, {"dag", "tasks"})) calls.push_back(&task);
      for (const auto* call : calls) {
        const auto* ref = find(*call, {"templateRef"});
        if (ref == nullptr) continue;
        const auto limit = deadline_of.find(string_at(*ref, {"name"}) + "/" + string_at(*ref, {"template"}));
        if (limit == deadline_of.end()) continue;
        for (const auto& a : array_at(*call, {"arguments", "parameters"})) {
          const std::string value = string_at(a, {"value"});
          if (string_at(a, {"name"}) != "timeout" || value.find("{{") != std::string::npos) continue;
          INFO(doc->where() << ": " << string_at(*call, {"name"}) << " timeout " << value);
          CHECK(limit->second > seconds_of(value));
        }
      }
    }
  }
}

// Issue 16 item 4: the API server's audit log reaches access-audit as an
// optional Argo input artifact, in both flavours: declared by the
// data-exposure entrypoint, passed on by its audit-trail task, put at the path
// the container reads. No WorkflowTemplate declares spec.arguments.artifacts:
// Argo refuses one without a location (workflow/validate/validate.go
// validateArgumentsValues), and the Workflow that runs it gives the location.
TEST_CASE("the audit log reaches access-audit as an optional input artifact, in both flavours",
          "[unit][workflows]") {
  for (const auto& doc : documents()) {
    INFO(doc.where());
    CHECK(find(doc.object, {"spec", "arguments", "artifacts"}) == nullptr);
  }
  for (const std::string prefix : {"irsteps-", "irsteps-plugin-"}) {
    INFO(prefix);
    const auto& steps = document("WorkflowTemplate", prefix + "steps");
    const json::object* audit = nullptr;
    for (const auto& t : array_at(steps.object, {"spec", "templates"})) {
      if (string_at(t, {"name"}) == "access-audit") audit = &t.as_object();
    }
    REQUIRE(audit != nullptr);
    // A pod: Argo's agent loads no artifacts for a plugin template
    // (workflow/executor/agent.go), its executor does for a pod (executor.go).
    REQUIRE(audit->contains("container"));
    const auto& artifacts = array_at(*audit, {"inputs", "artifacts"});
    REQUIRE(artifacts.size() == 1);
    CHECK(string_at(artifacts[0], {"name"}) == "audit-log");
    CHECK(find(artifacts[0], {"optional"}) != nullptr);
    CHECK(find(artifacts[0], {"optional"})->as_bool());
    const std::string path = string_at(artifacts[0], {"path"});
    CHECK(path == "/var/run/irsteps/audit-log");
    const auto& args = array_at(*audit, {"container", "args"});
    CHECK(std::find(args.begin(), args.end(), json::value("--audit-log-artifact=" + path)) != args.end());
    // No volume is mounted over it, which Argo refuses (validate.go validateLeaf).
    for (const auto& m : array_at(*audit, {"container", "volumeMounts"})) {
      const std::string mount = string_at(m, {"mountPath"});
      CHECK_FALSE((path == mount || path.starts_with(mount + "/")));
    }

    const auto& playbook = document("WorkflowTemplate", prefix + "data-exposure");
    const std::string entry = string_at(playbook.object, {"spec", "entrypoint"});
    const json::object* entry_template = nullptr;
    for (const auto& t : array_at(playbook.object, {"spec", "templates"})) {
      if (string_at(t, {"name"}) == entry) entry_template = &t.as_object();
    }
    REQUIRE(entry_template != nullptr);
    const auto& inputs = array_at(*entry_template, {"inputs", "artifacts"});
    REQUIRE(inputs.size() == 1);
    CHECK(string_at(inputs[0], {"name"}) == "audit-log");
    CHECK(find(inputs[0], {"optional"})->as_bool());
    CHECK(find(inputs[0], {"path"}) == nullptr);  // a dag has no path (validate.go validateInputs)
    int passed = 0;
    for (const auto& task : array_at(*entry_template, {"dag", "tasks"})) {
      if (string_at(task, {"templateRef", "template"}) != "access-audit") continue;
      const auto& given = array_at(task, {"arguments", "artifacts"});
      REQUIRE(given.size() == 1);
      CHECK(string_at(given[0], {"name"}) == "audit-log");
      CHECK(string_at(given[0], {"from"}) == "{{inputs.artifacts.audit-log}}");
      // Optional: dropped rather than failing when it cannot be resolved
      // (workflow/controller/dag.go resolveDependencyReferences).
      CHECK(find(given[0], {"optional"})->as_bool());
      ++passed;
    }
    CHECK(passed == 1);
  }
}

// Issue 18, Prometheus -> Alertmanager -> Argo Events: the webhook takes a
// token and only Alertmanager's pods; one dependency per playbook (its
// irsteps_playbook label, the whole name) and one trigger started by it
// alone, with a default for every parameter and the arguments the playbook
// takes; the Role the trigger needs. What the filters and templates make of
// a notification: tests/service/trigger_test.cpp and
// tests/triggers/alertmanager_e2e.py (playbook trigger).
TEST_CASE(
    "the Alertmanager Sensor has a dependency and a trigger per playbook, a default for every parameter and "
    "the playbook's arguments",
    "[unit][workflows]") {
  const auto& source = document("EventSource", "alertmanager");
  CHECK(string_at(source.object, {"spec", "webhook", "alertmanager", "authSecret", "name"}) ==
        "irsteps-alertmanager-webhook");
  CHECK(string_at(source.object, {"spec", "webhook", "alertmanager", "authSecret", "key"}) == "token");

  const auto& policy = document("NetworkPolicy", "irsteps-alertmanager-eventsource");
  CHECK(string_at(policy.object, {"spec", "podSelector", "matchLabels", "eventsource-name"}) ==
        "alertmanager");
  const auto& ingress = policy.object.at("spec").at("ingress").as_array();
  REQUIRE(ingress.size() == 1);
  const auto& peers = ingress[0].at("from").as_array();
  REQUIRE(peers.size() == 1);
  CHECK(find(peers[0], {"namespaceSelector", "matchLabels"}) != nullptr);
  CHECK(find(peers[0], {"podSelector", "matchLabels"}) != nullptr);

  const auto& sensor = document("Sensor", "alertmanager-playbooks");
  const auto& dependencies = sensor.object.at("spec").at("dependencies").as_array();
  const auto& triggers = sensor.object.at("spec").at("triggers").as_array();
  REQUIRE(dependencies.size() == triggers.size());
  REQUIRE_FALSE(dependencies.empty());

  const auto templates = workflow_templates();
  for (std::size_t i = 0; i < dependencies.size(); ++i) {
    const auto& dependency = dependencies[i];
    const std::string name = string_at(dependency, {"name"});
    INFO("dependency " << name);
    CHECK(string_at(dependency, {"eventSourceName"}) == "alertmanager");
    CHECK(string_at(dependency, {"filters", "dataLogicalOperator"}) == "and");
    // The filters themselves are tested as Argo Events evaluates them:
    // tests/service/trigger_test.cpp (playbook trigger).
    bool names_the_playbook = false;
    for (const auto& filter : array_at(dependency, {"filters", "data"})) {
      if (string_at(filter, {"path"}) == "body.alerts.0.labels.irsteps_playbook")
        names_the_playbook = array_at(filter, {"value"}) == json::array{"^" + name + "$"};
    }
    CHECK(names_the_playbook);

    // Its trigger: started by this dependency alone, every parameter with a
    // default, the workflow's arguments all the playbook's.
    const auto& trigger = triggers[i];
    CHECK(string_at(trigger, {"template", "conditions"}) == name);
    const auto* argo_workflow = find(trigger, {"template", "argoWorkflow"});
    REQUIRE(argo_workflow != nullptr);
    CHECK(string_at(*argo_workflow, {"operation"}) == "submit");
    const auto* resource = find(*argo_workflow, {"source", "resource"});
    REQUIRE(resource != nullptr);
    CHECK(string_at(*resource, {"spec", "workflowTemplateRef", "name"}) == "irsteps-" + name);
    const Doc* playbook = nullptr;
    for (const auto* t : templates) {
      if (t->name() == "irsteps-" + name && t->file.rfind("playbooks/", 0) == 0) playbook = t;
    }
    REQUIRE(playbook != nullptr);
    std::map<std::string, bool> takes;  // the playbook's parameters: has a default
    for (const auto& p : array_at(playbook->object, {"spec", "arguments", "parameters"}))
      takes[string_at(p, {"name"})] = find(p, {"value"}) != nullptr;
    const auto& arguments = array_at(*resource, {"spec", "arguments", "parameters"});
    std::set<std::string> given;
    for (const auto& argument : arguments) {
      const std::string argument_name = string_at(argument, {"name"});
      INFO("argument " << argument_name);
      CHECK(takes.contains(argument_name));
      given.insert(argument_name);
    }
    for (const auto& [parameter, has_default] : takes) {
      INFO("the playbook's parameter " << parameter);
      if (!has_default) CHECK(given.contains(parameter));
    }
    std::set<std::string> set_by_parameter;
    bool names_the_workflow = false;
    for (const auto& parameter : array_at(*argo_workflow, {"parameters"})) {
      const std::string dest = string_at(parameter, {"dest"});
      INFO(dest);
      CHECK(find(parameter, {"src", "value"}) != nullptr);
      CHECK(string_at(parameter, {"src", "dependencyName"}) == name);
      const std::string prefix = "spec.arguments.parameters.";
      if (dest == "metadata.name") {
        names_the_workflow = true;
        const std::string name_template = string_at(parameter, {"src", "dataTemplate"});
        CHECK(name_template.find("fingerprint") != std::string::npos);
        CHECK(name_template.find("startsAt") != std::string::npos);
        CHECK(name_template.find("uuid") == std::string::npos);
      } else if (dest.starts_with(prefix) && dest.ends_with(".value")) {
        const auto index = std::stoul(dest.substr(prefix.size()));
        REQUIRE(index < arguments.size());
        set_by_parameter.insert(string_at(arguments[index], {"name"}));
      } else {
        FAIL("a parameter sets " << dest);
      }
    }
    CHECK(names_the_workflow);
    CHECK(set_by_parameter == given);  // every argument set from the alert, none twice
    for (const auto& argument : arguments) {
      if (string_at(argument, {"name"}) == "response") CHECK(string_at(argument, {"value"}) == "evidence");
    }
    // A refused create (AlreadyExists: the same firing again) is not retried.
    const auto* steps = find(trigger, {"retryStrategy", "steps"});
    REQUIRE(steps != nullptr);
    CHECK(steps->to_number<std::int64_t>() == 1);
  }

  const std::string account = string_at(sensor.object, {"spec", "template", "serviceAccountName"});
  const auto& binding = document("RoleBinding", account);
  CHECK(string_at(binding.object, {"roleRef", "name"}) == account);
  CHECK(string_at(binding.object.at("subjects").as_array().at(0), {"name"}) == account);
  const auto& role = document("Role", account);
  std::map<std::string, std::set<std::string>> verbs;
  for (const auto& rule : role.object.at("rules").as_array()) {
    for (const auto& resource : rule.at("resources").as_array()) {
      for (const auto& verb : rule.at("verbs").as_array())
        verbs[std::string(resource.as_string())].insert(std::string(verb.as_string()));
    }
  }
  CHECK(verbs == std::map<std::string, std::set<std::string>>{{"workflows", {"create", "list"}},
                                                              {"workflowtemplates", {"get"}}});
}
