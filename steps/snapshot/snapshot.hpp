// snapshot: the container-compromise playbook's "Capture forensic evidence"
// and "Initial Assessment". For each pod: the object as served, a
// describe-style summary, its events, the NetworkPolicies that select it, its
// ServiceAccount and what it may do, its node; the logs of every container
// (current and previous); triage through exec (processes, connections,
// recently modified files, with fallbacks for images without the tools);
// optionally a tar of the filesystem. Everything lands in an evidence folder
// with a manifest of hashes (ir::evidence), optionally signed.
#pragma once

#include "ir/driver/step.hpp"
#include "ir/evidence/folder.hpp"
#include "ir/k8s/ephemeral.hpp"

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace ir::steps::snapshot {

struct Options : CommonOptions {
  std::string ns;
  std::vector<std::string> pods;
  std::string selector;
  std::vector<std::string> containers;
  std::string out;  // empty: evidence/<incident-id> (out_dir())
  std::string since;
  std::chrono::milliseconds modified_within{std::chrono::minutes(60)};
  std::vector<std::string> modified_paths;
  bool triage = true;
  bool filesystem = false;
  std::vector<std::string> paths;
  std::uint64_t max_bytes = 0;
  bool checkpoint = false;
  bool gzip = false;
  std::string via_ephemeral;  // IMAGE@sha256:...: the filesystem through an ephemeral debug container
  std::string archive;
  std::string sign_key;
  // snapshot verify DIR [--key PUB]
  std::string verify_dir;
  std::string verify_key;

  [[nodiscard]] std::string out_dir() const { return out.empty() ? "evidence/" + incident_id : out; }
};

[[nodiscard]] Result<Options> options_from(const json::object& params);
[[nodiscard]] Result<void> run(const Options& options, Context& context);
[[nodiscard]] const StepDef& step();

// What one pod's capture produced; failures keep their error so that the
// step can tell "forbidden" (exit 5) from other failures (exit 1).
struct Tally {
  int complete = 0;
  int partial = 0;
  int failed = 0;
  int interrupted = 0;  // partial because something broke, not because of a user's bound
  std::optional<Error> first_forbidden;
};

// The objects around the pod, from the API (collect.cpp).
void collect_objects(k8s::Client& client, const json::object& pod, evidence::Folder& folder, Tally& tally);
// Logs of every selected container, current and previous (collect.cpp).
void collect_logs(k8s::Client& client, const Options& options, const json::object& pod,
                  const std::vector<std::string>& containers, evidence::Folder& folder, Tally& tally);
// Triage and the filesystem through exec (triage.cpp).
void collect_triage(k8s::Client& client, const Options& options, const json::object& pod,
                    const std::string& container, evidence::Folder& folder, Tally& tally);
void collect_filesystem(k8s::Client& client, const Options& options, const json::object& pod,
                        const std::string& container, evidence::Folder& folder, Tally& tally);
// The tar command for --paths (or the whole root) under `root`; the
// filesystem item's path; a command as text (triage.cpp).
[[nodiscard]] std::vector<std::string> tar_command(const Options& options, const std::string& root);
// For a tar without --exclude (busybox's): the root's entries but proc, sys
// and dev, named by a shell (triage.cpp).
[[nodiscard]] std::vector<std::string> listed_tar_command(const std::string& root);
[[nodiscard]] std::string filesystem_item(const Options& options, const json::object& pod,
                                          const std::string& container);
[[nodiscard]] std::string show_command(const std::vector<std::string>& command);
// Streams a tar from exec in `exec_container` to the item at `path`, hashed
// (and gzipped with --gzip) as it arrives, bounded by --max-bytes. With
// `may_refuse_options`, a tar that refuses its options before writing a byte
// (busybox's has no --exclude) records nothing and gives false, for the
// caller to try another command; otherwise true: the item is recorded.
// `cannot_run_hint` goes with the reason when the tar could not run at all.
bool stream_tar(k8s::Client& client, const Options& options, const json::object& pod,
                const std::string& exec_container, const std::vector<std::string>& command,
                const std::string& path, const std::string& source, evidence::Folder& folder, Tally& tally,
                bool may_refuse_options = false, const std::string& cannot_run_hint = {});

// --via-ephemeral (ephemeral.cpp). The API form the server takes is found
// once per run.
struct EphemeralSession {
  std::optional<k8s::EphemeralApi> api;
};
// Whether `container` is one of the pod's regular containers (the only kind
// an ephemeral container can target), and whether it is a debug container
// this step added.
[[nodiscard]] bool is_regular_container(const json::object& pod, const std::string& container);
[[nodiscard]] bool is_own_debug_container(const json::object& pod, const std::string& container);
// The deterministic name of the debug container for a target: from the
// incident id, the target and the image; generation > 1 only when an earlier
// one has terminated (ephemeral containers are never restarted).
[[nodiscard]] std::string debug_container_name(const std::string& incident_id, const std::string& target,
                                               const std::string& image, int generation = 1);
// The debug container; it runs as the target's user when the pod sets one.
[[nodiscard]] json::object debug_container_spec(const std::string& name, const std::string& image,
                                                const std::string& target, const json::object& pod);
// Adds (or reuses) the debug container, waits for it to run, finds the
// target's main process inside it and tars /proc/<pid>/root.
void collect_filesystem_via_ephemeral(k8s::Client& client, const Options& options, const json::object& pod,
                                      const std::string& container, evidence::Folder& folder, Tally& tally,
                                      Context& context, EphemeralSession& session);
// --dry-run: the debug container that would be added, as an action with its request.
void plan_ephemeral(const Options& options, const json::object& pod, const std::string& container,
                    Report& report);

// The kubelet's checkpoint of a container, through the node proxy (collect.cpp).
void collect_checkpoint(k8s::Client& client, const json::object& pod, const std::string& container,
                        evidence::Folder& folder, Tally& tally, Context& context);

// A describe-style text summary of a pod and its owner chain.
[[nodiscard]] std::string describe_pod(const json::object& pod, const std::vector<std::string>& owner_chain);
// Whether a LabelSelector selects these labels.
[[nodiscard]] bool selects(const json::value& selector, const json::object& labels);

// Records the outcome of writing one item.
void count(Tally& tally, const Result<evidence::Item>& item, evidence::Folder& folder,
           const std::string& path, const std::string& source);
void count_failure(Tally& tally, const Error& error, evidence::Folder& folder, const std::string& path,
                   const std::string& source);

// snapshot verify (verify.cpp).
[[nodiscard]] Result<void> verify(const Options& options, Context& context);

}  // namespace ir::steps::snapshot
