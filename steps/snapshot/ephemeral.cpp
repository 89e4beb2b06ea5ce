// --via-ephemeral: the filesystem of a container whose image has no shell
// or tar, read through an ephemeral debug container pinned by digest. The
// debug container targets the container (targetContainerName), so it runs
// in the container's PID namespace and sees its main process, whose
// /proc/<pid>/root is the container's root filesystem. Ephemeral containers
// can never be removed from a pod: the step says so, and names them
// deterministically so that a re-run reuses the one it added.
#include "ir/core/encoding.hpp"
#include "ir/core/log.hpp"
#include "ir/k8s/writer.hpp"
#include "snapshot.hpp"

#include <fmt/format.h>
#include <boost/json/serialize.hpp>

#include <cctype>
#include <thread>

namespace ir::steps::snapshot {
namespace {

using SteadyClock = std::chrono::steady_clock;
constexpr auto running_timeout = std::chrono::seconds(120);
constexpr std::string_view own_prefix = "irsteps-";

const json::value* container_entry(const json::object& pod, std::string_view list, const std::string& name) {
  const auto* entries = find(pod, {"spec", list});
  if (entries == nullptr || !entries->is_array()) return nullptr;
  for (const auto& entry : entries->get_array()) {
    if (string_at(entry, {"name"}) == name) return &entry;
  }
  return nullptr;
}

const json::value* ephemeral_status(const json::object& pod, const std::string& name) {
  const auto* statuses = find(pod, {"status", "ephemeralContainerStatuses"});
  if (statuses == nullptr || !statuses->is_array()) return nullptr;
  for (const auto& status : statuses->get_array()) {
    if (string_at(status, {"name"}) == name) return &status;
  }
  return nullptr;
}

json::object pod_reference(const json::object& pod) {
  return k8s::reference_of(k8s::resources::pods, string_at(pod, {"metadata", "namespace"}),
                           string_at(pod, {"metadata", "name"}), string_at(pod, {"metadata", "uid"}));
}

std::string cannot_remove(const std::string& name, const json::object& pod) {
  return "ephemeral container " + name + " is in pod " + string_at(pod, {"metadata", "namespace"}) + "/" +
         string_at(pod, {"metadata", "name"}) +
         " for good: ephemeral containers cannot be removed; it goes away with the pod";
}

struct Debug {
  std::string name;
  bool added = false;
};

// The debug container to use: the first generation that is absent (added
// now) or present and not terminated (reused).
Result<Debug> ensure_debug_container(k8s::Client& client, const Options& options, const json::object& pod,
                                     const std::string& target, Context& context, EphemeralSession& session) {
  const std::string ns = string_at(pod, {"metadata", "namespace"});
  const std::string name = string_at(pod, {"metadata", "name"});
  for (int generation = 1; generation <= 5; ++generation) {
    Debug debug{debug_container_name(options.incident_id, target, options.via_ephemeral, generation)};
    if (const auto* existing = container_entry(pod, "ephemeralContainers", debug.name)) {
      if (string_at(*existing, {"image"}) != options.via_ephemeral ||
          string_at(*existing, {"targetContainerName"}) != target) {
        return Error(Code::invalid_input, "the pod already has an ephemeral container " + debug.name +
                                              " with another image or target");
      }
      const auto* status = ephemeral_status(pod, debug.name);
      if (status != nullptr && find(*status, {"state", "terminated"}) != nullptr) continue;
      log::info("ephemeral.reused", {{"pod", ns + "/" + name}, {"container", debug.name}});
      return debug;
    }
    if (!session.api) session.api = k8s::ephemeral_api_for(k8s::server_version(client));
    auto added = k8s::add_ephemeral_container(
        client, ns, name, debug_container_spec(debug.name, options.via_ephemeral, target, pod), *session.api);
    if (!added) return added.error();
    session.api = added->api;
    debug.added = true;
    Action action;
    action.verb = "add-ephemeral-container";
    action.target = pod_reference(pod);
    action.detail = fmt::format("debug container {} ({}) targeting {}, through the {} form of {}", debug.name,
                                options.via_ephemeral, target, k8s::ephemeral_api_name(added->api),
                                k8s::Client::path(k8s::resources::pods, ns, name, "ephemeralcontainers"));
    context.report().add_action(std::move(action));
    log::info("ephemeral.added", {{"pod", ns + "/" + name},
                                  {"container", debug.name},
                                  {"api", std::string(k8s::ephemeral_api_name(added->api))}});
    return debug;
  }
  return Error(Code::action_failed, "five debug containers for " + target + " have terminated already");
}

// Polls the pod until the debug container runs; returns the pod then.
Result<json::object> await_running(k8s::Client& client, const json::object& pod, const std::string& debug) {
  const std::string ns = string_at(pod, {"metadata", "namespace"});
  const std::string name = string_at(pod, {"metadata", "name"});
  const auto deadline = SteadyClock::now() + running_timeout;
  std::string last = "no status yet";
  for (;;) {
    auto current = client.get(k8s::resources::pods, ns, name);
    if (!current) return current.error();
    if (const auto* status = ephemeral_status(*current, debug)) {
      if (find(*status, {"state", "running"}) != nullptr) return std::move(*current);
      if (const auto* terminated = find(*status, {"state", "terminated"})) {
        return Error(Code::action_failed, "ephemeral container " + debug + " terminated (" +
                                              string_at(*terminated, {"reason"}) + ")");
      }
      if (const auto* waiting = find(*status, {"state", "waiting"})) {
        const std::string reason = string_at(*waiting, {"reason"});
        last = "waiting: " + reason;
        const std::string message = string_at(*waiting, {"message"});
        if (!message.empty()) last += ": " + message;
        // The kubelet's pull failed, or it will never pull the image:
        // waiting out running_timeout would only hide why. Kubernetes 1.20
        // (pkg/kubelet/images/image_manager.go EnsureImageExists) fails a
        // pull with ErrImagePull and the runtime's error as the message,
        // and only after its back-off with ImagePullBackOff. The status
        // shows either at the sync after the failed one, since syncPod
        // writes the status before it pulls and records the reason after
        // (pkg/kubelet/kubelet.go syncPod, reasonCache; the pod worker
        // retries after backOffPeriod, 10-15 s): ErrImagePull about 12 s
        // after the container is added, ImagePullBackOff about 45 s.
        // A later run reuses this container should a later pull succeed.
        if (reason == "ErrImagePull" || reason == "ImagePullBackOff" || reason == "InvalidImageName" ||
            reason == "ErrImageNeverPull") {
          return Error(Code::action_failed, "the debug image of ephemeral container " + debug +
                                                " cannot be pulled (" + last + ")");
        }
      }
    }
    if (SteadyClock::now() >= deadline) {
      return Error(Code::transient, fmt::format("ephemeral container {} not running after {} s ({})", debug,
                                                running_timeout.count(), last));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
}

// The target's main process as the debug container sees it. Without a
// pod-wide process namespace, targetContainerName puts the debug container
// in the target's own PID namespace, where its main process is PID 1. With
// shareProcessNamespace, PID 1 is the pod's infrastructure process: the
// target's processes are found by its container ID in /proc/<pid>/cgroup.
Result<std::string> target_pid(k8s::Client& client, const json::object& pod, const std::string& debug,
                               const std::string& target) {
  const auto* shared = find(pod, {"spec", "shareProcessNamespace"});
  if (shared == nullptr || !shared->is_bool() || !shared->get_bool()) return std::string("1");
  std::string id;
  if (const auto* statuses = find(pod, {"status", "containerStatuses"});
      statuses != nullptr && statuses->is_array()) {
    for (const auto& status : statuses->get_array()) {
      if (string_at(status, {"name"}) == target) id = string_at(status, {"containerID"});
    }
  }
  if (const auto scheme = id.find("://"); scheme != std::string::npos) id = id.substr(scheme + 3);
  for (const char c : id) {
    if (std::isxdigit(static_cast<unsigned char>(c)) == 0) id.clear();
  }
  if (id.empty())
    return Error(Code::action_failed, "container " + target + " has no container ID to look for");
  const std::string script = "for p in /proc/[0-9]*; do grep -qs '" + id +
                             "' \"$p/cgroup\" && echo \"${p#/proc/}\"; done | sort -n | head -n 1";
  std::string out;
  auto ran = client.exec(
      string_at(pod, {"metadata", "namespace"}), string_at(pod, {"metadata", "name"}),
      {debug, {"sh", "-c", script}, std::nullopt, std::chrono::seconds(60)},
      [&](std::string_view data) {
        if (out.size() < 64) out.append(data);
        return true;
      },
      [](std::string_view) { return true; });
  if (!ran) return ran.error().with("find the main process of " + target + " in " + debug);
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  if (ran->exit_code != 0 || out.empty() || out.find_first_not_of("0123456789") != std::string::npos) {
    return Error(Code::action_failed,
                 "no process of container " + target + " is visible in the debug container " + debug);
  }
  return out;
}

}  // namespace

bool is_regular_container(const json::object& pod, const std::string& container) {
  return container_entry(pod, "containers", container) != nullptr;
}

bool is_own_debug_container(const json::object& pod, const std::string& container) {
  return container.starts_with(own_prefix) &&
         container_entry(pod, "ephemeralContainers", container) != nullptr;
}

std::string debug_container_name(const std::string& incident_id, const std::string& target,
                                 const std::string& image, int generation) {
  std::string incident;
  for (const char c : incident_id) incident += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  // A DNS label: "irsteps-inc-2026-11-26-201-1a2b3c" (-2, -3 for later generations).
  std::string name =
      std::string(own_prefix) + incident + "-" + sha256_hex(target + "\n" + image).substr(0, 6);
  if (generation > 1) name += "-" + std::to_string(generation);
  return name.substr(0, 63);
}

json::object debug_container_spec(const std::string& name, const std::string& image,
                                  const std::string& target, const json::object& pod) {
  // The image's own command with an open stdin that nobody writes to: a
  // debug image's shell then waits instead of exiting, as with
  // `kubectl debug -i`; the capture runs through exec.
  json::object spec{{"name", name},
                    {"image", image},
                    {"targetContainerName", target},
                    {"imagePullPolicy", "IfNotPresent"},
                    {"stdin", true},
                    {"tty", false},
                    {"terminationMessagePolicy", "File"}};
  // The kernel lets a process read /proc/<pid>/root of a process of the same
  // user, or with CAP_SYS_PTRACE (which baseline Pod Security refuses): run
  // as the target's user when the pod says which.
  const auto* target_entry = container_entry(pod, "containers", target);
  json::object security;
  for (const char* field : {"runAsUser", "runAsGroup"}) {
    const auto* own = target_entry != nullptr ? find(*target_entry, {"securityContext", field}) : nullptr;
    const auto* pod_wide = find(pod, {"spec", "securityContext", field});
    if (own != nullptr && own->is_int64())
      security[field] = *own;
    else if (pod_wide != nullptr && pod_wide->is_int64())
      security[field] = *pod_wide;
  }
  if (!security.empty()) spec["securityContext"] = std::move(security);
  return spec;
}

void collect_filesystem_via_ephemeral(k8s::Client& client, const Options& options, const json::object& pod,
                                      const std::string& container, evidence::Folder& folder, Tally& tally,
                                      Context& context, EphemeralSession& session) {
  const std::string path = filesystem_item(options, pod, container);
  const std::string what = "ephemeral container (" + options.via_ephemeral + ") targeting " + container;
  auto debug = ensure_debug_container(client, options, pod, container, context, session);
  if (!debug) return count_failure(tally, debug.error(), folder, path, what);
  context.warn(cannot_remove(debug->name, pod));
  auto running = await_running(client, pod, debug->name);
  if (!running) return count_failure(tally, running.error(), folder, path, what);
  auto pid = target_pid(client, *running, debug->name, container);
  if (!pid) return count_failure(tally, pid.error(), folder, path, what);
  const std::string root = "/proc/" + *pid + "/root";
  // The custody record says how the files were read, and with which image.
  auto source = [&](const std::vector<std::string>& command) {
    return fmt::format(
        "exec in ephemeral container {} (image {}, targetContainerName {}, {}; the target's main process is "
        "PID {} there): {}",
        debug->name, options.via_ephemeral, container, debug->added ? "added by this run" : "added earlier",
        *pid, show_command(command));
  };
  const auto command = tar_command(options, root);
  if (stream_tar(client, options, *running, debug->name, command, path, source(command), folder, tally,
                 options.paths.empty())) {
    return;
  }
  // A busybox debug image (the usual one) has a tar without --exclude.
  const auto listed = listed_tar_command(root);
  stream_tar(client, options, *running, debug->name, listed, path, source(listed), folder, tally);
}

void plan_ephemeral(const Options& options, const json::object& pod, const std::string& container,
                    Report& report) {
  const std::string ns = string_at(pod, {"metadata", "namespace"});
  const std::string name = string_at(pod, {"metadata", "name"});
  const std::string debug = debug_container_name(options.incident_id, container, options.via_ephemeral);
  Action action;
  action.target = pod_reference(pod);
  action.dry_run = true;
  if (container_entry(pod, "ephemeralContainers", debug) != nullptr) {
    action.verb = "reuse-ephemeral-container";
    action.detail = "debug container " + debug + " is already in the pod; it would be reused";
  } else {
    action.verb = "add-ephemeral-container";
    action.detail = "would add debug container " + debug + " (" + options.via_ephemeral + ") targeting " +
                    container + "; ephemeral containers cannot be removed";
    // The Pod form (Kubernetes >= 1.22); older servers get the same
    // container in an EphemeralContainers object.
    action.request = k8s::ephemeral_container_request(
        k8s::EphemeralApi::pod, ns, name, debug_container_spec(debug, options.via_ephemeral, container, pod));
  }
  report.add_action(std::move(action));
}

}  // namespace ir::steps::snapshot
