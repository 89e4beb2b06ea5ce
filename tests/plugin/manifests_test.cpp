// The manifests of workflows/argo/plugin/ against what they derive from:
// steps.yaml and the playbooks of the container flavour, plugin.yaml and its
// ConfigMap, and the step Roles.
#include "ir/core/json.hpp"
#include "ir/core/process.hpp"
#include "support/catch.hpp"
#include "support/cluster.hpp"
#include "support/git_server.hpp"

#include <boost/json/serialize.hpp>

#include <filesystem>
#include <map>
#include <set>

using namespace ir;
using namespace ir::test;

namespace {

const std::string argo_dir = std::string(IRSTEPS_SOURCE_DIR) + "/workflows/argo";

std::vector<json::object> yaml_documents(const std::string& relative) {
  auto text = read_file(argo_dir + "/" + relative);
  REQUIRE(text);
  auto docs = parse_yaml_documents(*text, relative);
  REQUIRE(docs);
  std::vector<json::object> out;
  for (auto& doc : *docs) out.push_back(doc.as_object());
  return out;
}

// The playbooks of the container flavour, by name.
std::vector<std::string> playbooks() {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(argo_dir + "/playbooks")) {
    if (entry.path().extension() == ".yaml") names.push_back(entry.path().stem().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

// The policy the sidecar is given (policy.yaml, through the environment
// variable that --policy-env names), checked by the plugin itself.
json::value policy_of(const json::object& sidecar) {
  std::string variable;
  for (const auto& arg : sidecar.at("container").at("args").as_array()) {
    const std::string text(arg.as_string());
    if (text.starts_with("--policy-env=")) variable = text.substr(13);
  }
  REQUIRE(!variable.empty());
  std::string config_map, key;
  for (const auto& env : sidecar.at("container").at("env").as_array()) {
    if (string_at(env, {"name"}) != variable) continue;
    config_map = string_at(env, {"valueFrom", "configMapKeyRef", "name"});
    key = string_at(env, {"valueFrom", "configMapKeyRef", "key"});
    CHECK(find(env, {"valueFrom", "configMapKeyRef", "optional"})->as_bool() == false);
  }
  const auto doc = yaml_documents("plugin/policy.yaml").at(0);
  REQUIRE(string_at(doc, {"metadata", "name"}) == config_map);
  const std::string text = string_at(doc, {"data", key});
  REQUIRE(!text.empty());
  TempDir tmp;
  ProcessOptions options;
  options.extra_env = {{variable, text}};
  auto run = run_process({binary("irsteps-plugin"), "--dry-run", "--port", "0", "--token-file",
                          tmp.file("token", "t\n"), "--policy-env", variable},
                         options);
  REQUIRE(run);
  INFO(run->err);
  CHECK(run->exit_status == 0);
  CHECK(string_at(parse_json(run->out, "dry-run").value(), {"policy", "source"}) == "$" + variable);
  auto policy = parse_yaml(text, "policy.yaml");
  REQUIRE(policy);
  return *policy;
}

json::object without(json::object object, std::string_view key) {
  object.erase(key);
  return object;
}

}  // namespace

TEST_CASE("plugin manifests: steps.yaml mirrors the container templates, flag for flag",
          "[service][plugin][workflows][no-cluster]") {
  const auto pods = yaml_documents("steps.yaml").at(0);
  const auto plugin = yaml_documents("plugin/steps.yaml").at(0);
  const auto& pod_templates = pods.at("spec").at("templates").as_array();
  const auto& plugin_templates = plugin.at("spec").at("templates").as_array();
  // A step template that the policy does not enable and no playbook calls
  // is left out of the plugin flavour (a new step, until it is used); the
  // others come in the same order.
  std::string playbooks;
  for (const auto& entry : std::filesystem::directory_iterator(argo_dir + "/playbooks")) {
    auto text = read_file(entry.path().string());
    REQUIRE(text);
    playbooks += *text;
  }
  std::size_t next = 0;
  int through_plugin = 0;
  for (const auto& pod_template : pod_templates) {
    const auto& pod = pod_template.as_object();
    const std::string template_name = string_at(pod, {"name"});
    INFO("template " << template_name);
    if (next == plugin_templates.size() || string_at(plugin_templates[next], {"name"}) != template_name) {
      CHECK(playbooks.find("templateRef: {name: irsteps-steps, template: " + template_name + "}") ==
            std::string::npos);
      continue;
    }
    const auto& ours = plugin_templates[next++].as_object();
    CHECK(string_at(ours, {"name"}) == string_at(pod, {"name"}));
    CHECK(ours.at("inputs") == pod.at("inputs"));
    if (!ours.contains("plugin")) {
      // Kept as a pod: the very same template.
      CHECK(without(ours, "retryStrategy") == without(pod, "retryStrategy"));
      continue;
    }
    ++through_plugin;
    const auto& irsteps = ours.at("plugin").at("irsteps").as_object();
    const std::string command(pod.at("container").at("command").as_array()[0].as_string());
    CHECK(string_at(irsteps, {"step"}) == command.substr(command.rfind('/') + 1));
    // Argo sends no node id: the node's name tells two calls apart
    // (security review finding 19).
    CHECK(string_at(irsteps, {"node"}) == "{{node.name}}");
    json::object flags{{"step", irsteps.at("step")}, {"node", irsteps.at("node")}};
    for (const auto& arg : pod.at("container").at("args").as_array()) {
      const std::string text(arg.as_string());
      const auto eq = text.find('=');
      const std::string name = text.substr(2, eq - 2);
      if (name != "outputs-dir") flags[name] = text.substr(eq + 1);
    }
    CHECK(irsteps == flags);
    std::vector<std::string> pod_outputs, plugin_outputs;
    for (const auto& p : pod.at("outputs").at("parameters").as_array())
      pod_outputs.push_back(string_at(p, {"name"}));
    for (const auto& p : ours.at("outputs").at("parameters").as_array()) {
      plugin_outputs.push_back(string_at(p, {"name"}));
      CHECK(find(p, {"valueFrom", "supplied"}) != nullptr);
    }
    CHECK(plugin_outputs == pod_outputs);
    CHECK(string_at(ours, {"retryStrategy", "expression"}).find("exit code 4") != std::string::npos);
  }
  CHECK(next == plugin_templates.size());  // nothing of its own, nothing out of order
  CHECK(through_plugin >= 4);
}

TEST_CASE("plugin manifests: the playbooks' plugin flavour differs only in where its steps come from",
          "[service][plugin][workflows][no-cluster]") {
  const auto names = playbooks();
  CHECK(names.size() >= 3);
  for (const auto& playbook : names) {
    INFO(playbook);
    const auto pods = yaml_documents("playbooks/" + playbook + ".yaml").at(0);
    const auto plugin = yaml_documents("plugin/playbooks/" + playbook + ".yaml").at(0);
    CHECK(string_at(plugin, {"metadata", "name"}) == "irsteps-plugin-" + playbook);
    std::string text = json::serialize(plugin);
    std::string expected = json::serialize(pods);
    // Only the names differ: put them back and compare the rest.
    auto replace_all = [](std::string& s, const std::string& from, const std::string& to) {
      for (auto at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) {
        s.replace(at, from.size(), to);
      }
    };
    replace_all(text, "\"irsteps-plugin-steps\"", "\"irsteps-steps\"");
    replace_all(text, "\"irsteps-plugin-" + playbook + "\"", "\"irsteps-" + playbook + "\"");
    CHECK(text == expected);
    CHECK(json::serialize(plugin).find("\"irsteps-steps\"") == std::string::npos);
  }
}

TEST_CASE("plugin manifests: the ConfigMap is plugin.yaml, locked down, and RBAC is what its steps need",
          "[service][plugin][workflows][no-cluster]") {
  const auto plugin = yaml_documents("plugin/plugin.yaml").at(0);
  const auto config_map = yaml_documents("plugin/configmap.yaml").at(0);
  CHECK(string_at(plugin, {"kind"}) == "ExecutorPlugin");
  CHECK(string_at(config_map, {"metadata", "name"}) ==
        string_at(plugin, {"metadata", "name"}) + "-executor-plugin");
  CHECK(string_at(config_map, {"metadata", "labels", "workflows.argoproj.io/configmap-type"}) ==
        "ExecutorPlugin");
  const auto& sidecar = plugin.at("spec").at("sidecar").as_object();
  auto container = parse_yaml(string_at(config_map, {"data", "sidecar.container"}), "sidecar.container");
  REQUIRE(container);
  CHECK(*container == sidecar.at("container"));
  CHECK(string_at(config_map, {"data", "sidecar.automountServiceAccountToken"}) ==
        (sidecar.at("automountServiceAccountToken").as_bool() ? "true" : "false"));

  const auto& security = sidecar.at("container").at("securityContext").as_object();
  CHECK(security.at("runAsNonRoot") == json::value(true));
  CHECK(security.at("readOnlyRootFilesystem") == json::value(true));
  CHECK(security.at("allowPrivilegeEscalation") == json::value(false));
  // Argo's agent writes the token file 0440, group 0: the plugin reads it as
  // group 0 (the containers test runs the image both ways).
  CHECK(security.at("runAsGroup") == json::value(0));
  CHECK(security.at("runAsUser") != json::value(0));
  CHECK(find(sidecar, {"container", "resources", "limits", "memory"}) != nullptr);
  const auto port = sidecar.at("container").at("ports").as_array()[0].at("containerPort").to_number<int>();
  const auto& args = sidecar.at("container").at("args").as_array();
  CHECK(std::find(args.begin(), args.end(), json::value("--port=" + std::to_string(port))) != args.end());
  // Security review finding 8: loopback only, where the agent calls it; the
  // liveness probe runs in the container, since the kubelet's httpGet would
  // go to the pod's IP.
  CHECK(std::find(args.begin(), args.end(), json::value("--address=127.0.0.1")) != args.end());
  CHECK(find(sidecar, {"container", "livenessProbe", "httpGet"}) == nullptr);
  const auto& probe = find(sidecar, {"container", "livenessProbe", "exec", "command"})->as_array();
  CHECK(std::find(probe.begin(), probe.end(), json::value("--probe")) != probe.end());
  CHECK(std::find(probe.begin(), probe.end(), json::value("--port=" + std::to_string(port))) != probe.end());
  // A writable folder for case records' clones and the kept runs: a folder
  // of the agent pod's var-run-argo emptyDir, the one volume of that pod a
  // sidecar can mount (createAgentPod in workflow/controller/agent.go), not
  // the folder of its token (Argo mounts <container name> read-only there).
  {
    std::map<std::string, std::string> env;
    for (const auto& e : sidecar.at("container").at("env").as_array()) {
      if (const auto* value = find(e, {"value"}))
        env[string_at(e, {"name"})] = std::string(value->as_string());
    }
    REQUIRE(env.contains("IRSTEPS_CACHE_DIR"));
    const auto& mounts = sidecar.at("container").at("volumeMounts").as_array();
    REQUIRE(mounts.size() == 1);
    CHECK(string_at(mounts[0], {"name"}) == "var-run-argo");
    CHECK(string_at(mounts[0], {"mountPath"}) == env["IRSTEPS_CACHE_DIR"]);
    CHECK(find(mounts[0], {"readOnly"}) == nullptr);
    const std::string sub_path = string_at(mounts[0], {"subPath"});
    CHECK(!sub_path.empty());
    CHECK(sub_path != string_at(sidecar, {"container", "name"}));
    CHECK(std::find(args.begin(), args.end(),
                    json::value("--state-dir=" + env["IRSTEPS_CACHE_DIR"] + "/plugin-runs")) != args.end());
  }
  // The workflows of the plugin's namespace cannot patch its sidecar.
  for (const auto& doc : yaml_documents("plugin/admission.yaml")) {
    if (string_at(doc, {"kind"}) != "ValidatingAdmissionPolicyBinding") continue;
    CHECK(string_at(doc, {"spec", "matchResources", "namespaceSelector", "matchLabels",
                          "kubernetes.io/metadata.name"}) == string_at(plugin, {"metadata", "namespace"}));
  }
  // The sidecar's arguments are the plugin's own flags: it starts with them.
  {
    std::vector<std::string> argv{binary("irsteps-plugin")};
    for (const auto& arg : args) argv.emplace_back(arg.as_string());
    argv.emplace_back("--help");
    auto run = run_process(argv);
    REQUIRE(run);
    CHECK(run->exit_status == 0);
  }

  // The plugin's ServiceAccount holds exactly the ClusterRoles of the steps
  // that plugin/steps.yaml runs through the plugin.
  const std::string account = string_at(plugin, {"metadata", "name"}) + "-executor-plugin";
  std::set<std::string> expected, bound, agent_bound;
  const auto steps = yaml_documents("plugin/steps.yaml").at(0);
  for (const auto& t : steps.at("spec").at("templates").as_array()) {
    if (find(t, {"plugin"}) == nullptr) continue;
    const std::string rbac = "rbac/" + string_at(t, {"name"}) + ".yaml";
    if (!std::filesystem::exists(argo_dir + "/" + rbac)) continue;  // a step that needs no Kubernetes access
    for (const auto& doc : yaml_documents(rbac)) {
      if (string_at(doc, {"kind"}) == "ClusterRoleBinding" || string_at(doc, {"kind"}) == "RoleBinding") {
        expected.insert(string_at(doc, {"roleRef", "kind"}) + "/" + string_at(doc, {"roleRef", "name"}));
      }
    }
  }
  bool account_defined = false;
  // Argo mounts <ServiceAccount>.service-account-token into the agent pod
  // (the workflow's account) and the sidecar (the plugin's); since
  // Kubernetes 1.24 nothing creates them.
  std::set<std::string> token_secrets;
  for (const auto& doc : yaml_documents("plugin/rbac.yaml")) {
    const std::string kind = string_at(doc, {"kind"});
    if (kind == "ServiceAccount" && string_at(doc, {"metadata", "name"}) == account) account_defined = true;
    if (kind == "Secret" && string_at(doc, {"type"}) == "kubernetes.io/service-account-token") {
      const std::string owner =
          string_at(doc, {"metadata", "annotations", "kubernetes.io/service-account.name"});
      CHECK(string_at(doc, {"metadata", "name"}) == owner + ".service-account-token");
      token_secrets.insert(owner);
    }
    if (kind != "ClusterRoleBinding" && kind != "RoleBinding") continue;
    for (const auto& subject : doc.at("subjects").as_array()) {
      const std::string role =
          string_at(doc, {"roleRef", "kind"}) + "/" + string_at(doc, {"roleRef", "name"});
      if (string_at(subject, {"name"}) == account) bound.insert(role);
      if (role == "Role/irsteps-argo-agent") agent_bound.insert(string_at(subject, {"name"}));
    }
  }
  CHECK(account_defined);
  CHECK(bound == expected);
  // Security review finding 4: the steps that act in one namespace are bound
  // there only, in the namespaces the policy allows them.
  const auto policy = policy_of(sidecar);
  for (const auto& [role, step] :
       std::map<std::string, std::string>{{"irsteps-isolate", "isolate"},
                                          {"irsteps-rollout", "rollout"},
                                          {"irsteps-rotate-secret", "rotate-secret"}}) {
    INFO(role);
    std::set<std::string> namespaces;
    for (const auto& doc : yaml_documents("plugin/rbac.yaml")) {
      if (string_at(doc, {"roleRef", "name"}) != role) continue;
      CHECK(string_at(doc, {"kind"}) == "RoleBinding");
      namespaces.insert(string_at(doc, {"metadata", "namespace"}));
    }
    std::set<std::string> allowed;
    for (const auto& ns : find(policy, {"steps", step, "namespaces"})->as_array())
      allowed.emplace(ns.as_string());
    CHECK(!allowed.contains("*"));
    CHECK(namespaces == allowed);
  }
  CHECK(token_secrets.contains(account));
  for (const auto& playbook : playbooks()) {
    INFO(playbook);
    const auto doc = yaml_documents("plugin/playbooks/" + playbook + ".yaml").at(0);
    CHECK(agent_bound.contains(string_at(doc, {"spec", "serviceAccountName"})));
    CHECK(token_secrets.contains(string_at(doc, {"spec", "serviceAccountName"})));
  }
}
