#include "drift.hpp"

#include <algorithm>

namespace ir::steps::drift {
namespace {

// Where an object keeps its pod spec, as path segments.
std::vector<std::string> pod_spec_keys(const json::object& object) {
  const std::string kind = string_at(object, {"kind"});
  if (kind == "Pod") return {"spec"};
  if (kind == "CronJob") return {"spec", "jobTemplate", "spec", "template", "spec"};
  if (kind == "Deployment" || kind == "StatefulSet" || kind == "DaemonSet" || kind == "Job" ||
      kind == "ReplicaSet") {
    return {"spec", "template", "spec"};
  }
  return {};
}

const json::value* member(const json::value* object, std::string_view key) {
  if (object == nullptr || !object->is_object()) return nullptr;
  const auto it = object->get_object().find(key);
  return it == object->get_object().end() ? nullptr : &it->value();
}

std::optional<json::value> copy(const json::value* value) {
  return value ? std::optional<json::value>(*value) : std::nullopt;
}

bool is_true(const json::value* value) {
  return value != nullptr && value->is_bool() && value->get_bool();
}
bool is_false(const json::value* value) {
  return value != nullptr && value->is_bool() && !value->get_bool();
}

json::object nested(const std::vector<std::string>& keys, json::value leaf) {
  for (auto key = keys.rbegin(); key != keys.rend(); ++key) leaf = json::object{{*key, std::move(leaf)}};
  return std::move(leaf.get_object());
}

struct Container {
  std::string list;  // containers, initContainers, ephemeralContainers
  std::size_t index = 0;
  std::string name;
  const json::value* value = nullptr;
};

class Checker {
 public:
  Checker(const json::object& object, const std::vector<std::string>& checks)
      : root_(object), checks_(checks), keys_(pod_spec_keys(object)) {
    for (const auto& key : keys_) prefix_ = child_path(prefix_, key);
    pod_ = keys_.empty() ? nullptr : find(root_, keys_);
    for (const char* list : {"initContainers", "containers", "ephemeralContainers"}) {
      const auto* items = member(pod_, list);
      if (items == nullptr || !items->is_array()) continue;
      for (std::size_t i = 0; i < items->get_array().size(); ++i) {
        const auto& item = items->get_array()[i];
        containers_.push_back({list, i, string_at(item, {"name"}), &item});
      }
    }
  }

  std::vector<Finding> run() {
    if (pod_ == nullptr || !pod_->is_object()) return {};
    if (enabled("run-as-non-root")) run_as_non_root();
    if (enabled("allow-privilege-escalation")) privilege_escalation();
    if (enabled("capabilities")) capabilities();
    if (enabled("seccomp")) seccomp();
    if (enabled("privileged")) privileged();
    if (enabled("host-network")) host_namespace("host-network", "hostNetwork", "the node's network");
    if (enabled("host-pid")) host_namespace("host-pid", "hostPID", "the node's process table");
    if (enabled("host-ipc")) host_namespace("host-ipc", "hostIPC", "the node's IPC namespace");
    if (enabled("host-path")) host_path();
    return std::move(findings_);
  }

 private:
  bool enabled(std::string_view check) const {
    return std::find(checks_.begin(), checks_.end(), check) != checks_.end();
  }

  std::string pod_path(std::string_view field) const { return child_path(prefix_, field); }
  std::string container_path(const Container& c) const {
    return index_path(child_path(prefix_, c.list), c.index);
  }
  const json::value* pod_security(std::string_view field) const {
    return member(member(pod_, "securityContext"), field);
  }
  static const json::value* container_security(const Container& c, std::string_view field) {
    return member(member(c.value, "securityContext"), field);
  }
  json::object pod_patch(json::object fields) const {
    return nested(keys_, json::object{{"securityContext", std::move(fields)}});
  }
  json::object container_patch(const Container& c, json::object fields) const {
    json::object item{{"name", c.name}, {"securityContext", std::move(fields)}};
    return nested(keys_, json::object{{c.list, json::array{std::move(item)}}});
  }
  std::string who(const Container& c) const { return "container " + c.name; }

  void add(std::string check, std::string path, const json::value* found, std::string message,
           std::string fix, std::optional<json::object> patch) {
    findings_.push_back({std::move(check), std::move(path), copy(found), std::move(message), std::move(fix),
                         std::move(patch)});
  }

  // runAsNonRoot and seccompProfile may be set for the pod or for every
  // container; a container's own setting wins over the pod's.
  template <class Good>
  bool pod_or_every_container(const json::value* pod_setting, std::string_view field, Good good) const {
    if (good(pod_setting)) return true;
    return std::all_of(containers_.begin(), containers_.end(),
                       [&](const Container& c) { return good(container_security(c, field)); });
  }

  void run_as_non_root() {
    const auto* pod_setting = pod_security("runAsNonRoot");
    if (!pod_or_every_container(pod_setting, "runAsNonRoot", is_true)) {
      add("run-as-non-root", pod_path("securityContext") + ".runAsNonRoot", pod_setting,
          "the pod may run as root: runAsNonRoot is not true for the pod nor for every container",
          "set securityContext.runAsNonRoot: true in the pod spec", pod_patch({{"runAsNonRoot", true}}));
    }
    for (const auto& c : containers_) {
      if (const auto* own = container_security(c, "runAsNonRoot"); is_false(own)) {
        add("run-as-non-root", container_path(c) + ".securityContext.runAsNonRoot", own,
            who(c) + " sets runAsNonRoot: false", "set runAsNonRoot: true (or remove it) in " + who(c),
            container_patch(c, {{"runAsNonRoot", true}}));
      }
    }
    auto root_user = [&](const json::value* user, std::string path, std::string whom) {
      if (user != nullptr && user->is_int64() && user->get_int64() == 0) {
        add("run-as-non-root", std::move(path), user, whom + " runs as user 0 (root)",
            "remove runAsUser: 0 from " + whom + ", or set a non-zero user id", std::nullopt);
      }
    };
    root_user(pod_security("runAsUser"), pod_path("securityContext") + ".runAsUser", "the pod");
    for (const auto& c : containers_) {
      root_user(container_security(c, "runAsUser"), container_path(c) + ".securityContext.runAsUser", who(c));
    }
  }

  void privilege_escalation() {
    for (const auto& c : containers_) {
      const auto* own = container_security(c, "allowPrivilegeEscalation");
      if (is_false(own)) continue;
      add("allow-privilege-escalation", container_path(c) + ".securityContext.allowPrivilegeEscalation", own,
          who(c) + " may gain more privileges than its parent process (setuid binaries)",
          "set securityContext.allowPrivilegeEscalation: false in " + who(c),
          container_patch(c, {{"allowPrivilegeEscalation", false}}));
    }
  }

  void capabilities() {
    for (const auto& c : containers_) {
      const auto* caps = container_security(c, "capabilities");
      const auto* drop = member(caps, "drop");
      const bool drops_all =
          drop != nullptr && drop->is_array() &&
          std::any_of(drop->get_array().begin(), drop->get_array().end(),
                      [](const json::value& v) { return v.is_string() && v.get_string() == "ALL"; });
      if (!drops_all) {
        add("capabilities", container_path(c) + ".securityContext.capabilities.drop", drop,
            who(c) + " keeps the default Linux capabilities",
            "add ALL to securityContext.capabilities.drop in " + who(c),
            container_patch(c, {{"capabilities", json::object{{"drop", json::array{"ALL"}}}}}));
      }
      const auto* added = member(caps, "add");
      if (added == nullptr || !added->is_array()) continue;
      json::array allowed;
      bool extra = false;
      for (const auto& capability : added->get_array()) {
        if (capability.is_string() && capability.get_string() == "NET_BIND_SERVICE") {
          allowed.push_back(capability);
        } else {
          extra = true;
        }
      }
      if (extra) {
        add("capabilities", container_path(c) + ".securityContext.capabilities.add", added,
            who(c) + " adds capabilities other than NET_BIND_SERVICE",
            "remove every capability but NET_BIND_SERVICE from securityContext.capabilities.add in " + who(c),
            container_patch(c, {{"capabilities", json::object{{"add", std::move(allowed)}}}}));
      }
    }
  }

  void seccomp() {
    auto good = [](const json::value* profile) {
      const auto* type = member(profile, "type");
      return type != nullptr && type->is_string() &&
             (type->get_string() == "RuntimeDefault" || type->get_string() == "Localhost");
    };
    const auto* pod_setting = pod_security("seccompProfile");
    if (!pod_or_every_container(pod_setting, "seccompProfile", good)) {
      add("seccomp", pod_path("securityContext") + ".seccompProfile.type", member(pod_setting, "type"),
          "no seccomp profile confines the pod's system calls",
          "set securityContext.seccompProfile.type: RuntimeDefault in the pod spec",
          pod_patch({{"seccompProfile", json::object{{"type", "RuntimeDefault"}}}}));
    }
    for (const auto& c : containers_) {
      const auto* own = container_security(c, "seccompProfile");
      if (own != nullptr && !good(own)) {
        add("seccomp", container_path(c) + ".securityContext.seccompProfile.type", member(own, "type"),
            who(c) + " sets a seccomp profile other than RuntimeDefault or Localhost",
            "set securityContext.seccompProfile.type: RuntimeDefault in " + who(c),
            container_patch(c, {{"seccompProfile", json::object{{"type", "RuntimeDefault"}}}}));
      }
    }
  }

  void privileged() {
    for (const auto& c : containers_) {
      if (const auto* own = container_security(c, "privileged"); is_true(own)) {
        add("privileged", container_path(c) + ".securityContext.privileged", own,
            who(c) + " is privileged: it has every capability and the node's devices",
            "set securityContext.privileged: false in " + who(c),
            container_patch(c, {{"privileged", false}}));
      }
    }
  }

  void host_namespace(std::string check, std::string_view field, std::string_view what) {
    if (const auto* value = member(pod_, field); is_true(value)) {
      add(std::move(check), pod_path(field), value, "the pod shares " + std::string(what),
          "set " + std::string(field) + ": false in the pod spec",
          nested(keys_, json::object{{field, false}}));
    }
  }

  void host_path() {
    const auto* volumes = member(pod_, "volumes");
    if (volumes == nullptr || !volumes->is_array()) return;
    for (std::size_t i = 0; i < volumes->get_array().size(); ++i) {
      const auto& volume = volumes->get_array()[i];
      const auto* host = member(&volume, "hostPath");
      if (host == nullptr) continue;
      const std::string name = string_at(volume, {"name"});
      add("host-path", index_path(pod_path("volumes"), i) + ".hostPath", host,
          "volume " + name + " mounts the node's " + string_at(*host, {"path"}),
          "replace volume " + name + " with an emptyDir, configMap or persistentVolumeClaim volume",
          std::nullopt);
    }
  }

  const json::value root_;
  const std::vector<std::string>& checks_;
  std::vector<std::string> keys_;
  std::string prefix_;
  const json::value* pod_ = nullptr;
  std::vector<Container> containers_;
  std::vector<Finding> findings_;
};

}  // namespace

Result<std::vector<std::string>> parse_checks(std::string_view text) {
  if (text == "on") return all_checks;
  if (text == "off") return std::vector<std::string>{};
  std::vector<std::string> checks;
  std::size_t start = 0;
  while (start <= text.size()) {
    auto end = text.find(',', start);
    if (end == std::string_view::npos) end = text.size();
    const std::string name(text.substr(start, end - start));
    if (std::find(all_checks.begin(), all_checks.end(), name) == all_checks.end()) {
      std::string known;
      for (const auto& check : all_checks) known += (known.empty() ? "" : ", ") + check;
      return invalid("parameter checks: unknown check '" + name + "' (on, off, or some of " + known + ")");
    }
    if (std::find(checks.begin(), checks.end(), name) == checks.end()) checks.push_back(name);
    start = end + 1;
  }
  return checks;
}

std::vector<Finding> security_findings(const json::object& object, const std::vector<std::string>& checks) {
  return Checker(object, checks).run();
}

json::value findings_json(const Target& target, const std::vector<Finding>& findings) {
  json::array array;
  for (const auto& finding : findings) {
    json::object entry{{"object", target.id()}, {"namespace", target.ns},     {"check", finding.check},
                       {"path", finding.path},  {"message", finding.message}, {"fix", finding.fix}};
    if (finding.found) entry["found"] = *finding.found;
    if (finding.patch) entry["patch"] = *finding.patch;
    array.push_back(std::move(entry));
  }
  return array;
}

json::object combined_fix(const std::vector<Finding>& findings) {
  json::value combined = json::object();
  for (const auto& finding : findings) {
    if (finding.patch) combined = strategic_patched(std::move(combined), json::value(*finding.patch));
  }
  return std::move(combined.get_object());
}

}  // namespace ir::steps::drift
