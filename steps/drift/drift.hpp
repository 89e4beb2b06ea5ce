// drift: "compare live config with the expected config, apply the fix,
// verify it, update configuration management". The expected objects come
// from a manifest file or a file in a git repository; each is compared with
// its live object as `kubectl diff` does (a server-side-apply dry run, so that
// defaulted fields are no drift), the live objects are checked against the
// Pod Security Standards "restricted" profile, and on request the expected
// state (or a fix) is applied and verified, and the fixed manifest is
// committed to a new branch of the configuration repository.
//
// Paths, in changed paths and findings alike, are written as
// spec.template.spec.containers[0].image; keys that are not plain words are
// quoted: metadata.annotations["irsteps.io/incident"].
#pragma once

#include "ir/driver/step.hpp"
#include "ir/k8s/client.hpp"

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace ir::steps::drift {

enum class PatchType { strategic, merge };

struct Options : CommonOptions {
  std::string expected;  // a manifest file, or with `path` a git repository
  std::string path;      // inside the repository; empty: `expected` is a file
  std::string ref = "main";
  std::string token_file, username, ssh_key, known_hosts, ca_file;  // git credentials, from files
  std::string ns;                                                   // empty: not given
  std::string object;                                               // KIND/NAME filter, empty: all
  bool apply = false;
  std::optional<json::object> patch;
  PatchType patch_type = PatchType::strategic;
  std::string commit_branch;
  bool fail_on_drift = false;
  std::vector<std::string> checks;  // the enabled checks

  [[nodiscard]] bool from_git() const { return !path.empty(); }
};

[[nodiscard]] Result<Options> options_from(const json::object& params);
[[nodiscard]] Result<void> run(const Options& options, Context& context);
[[nodiscard]] const StepDef& step();

// manifest.cpp: the manifest as documents, kept as text chunks so that a fix
// rewrites only the documents it changes (comments elsewhere survive).
struct Manifest {
  std::string source;               // for messages: the file, or "PATH at REF (COMMIT)"
  std::vector<std::string> chunks;  // the text, split before each "---" line
  std::vector<json::object> documents;
  std::vector<std::size_t> chunk_of;  // documents[i] is chunks[chunk_of[i]]
};
[[nodiscard]] Result<Manifest> parse_manifest(std::string_view text, std::string source);
// The manifest's text with some documents replaced (by index).
[[nodiscard]] std::string render_manifest(const Manifest& manifest,
                                          const std::map<std::size_t, json::object>& replaced);

// An expected object and where it lives.
struct Target {
  k8s::Resource resource;
  std::string ns;  // empty for cluster-scoped kinds
  std::string name;
  json::object expected;  // as the manifest says, namespace filled in
  std::size_t document = 0;

  [[nodiscard]] std::string id() const;  // "deployment/web"
};
// The documents selected by --object, resolved against the kinds drift knows.
[[nodiscard]] Result<std::vector<Target>> targets_of(const Manifest& manifest, const Options& options);

// compare.cpp
struct Change {
  std::string path;
  std::optional<json::value> old_value;  // live; nullopt: absent
  std::optional<json::value> new_value;  // expected; nullopt: absent
};
// Without what the server keeps for itself: status, managedFields,
// resourceVersion, uid, generation, selfLink, timestamps.
[[nodiscard]] json::object without_server_fields(json::object object);
[[nodiscard]] std::vector<Change> changed_paths(const json::value* live, const json::value* expected);
[[nodiscard]] std::string child_path(std::string_view parent, std::string_view key);
[[nodiscard]] std::string index_path(std::string_view parent, std::size_t index);

struct Comparison {
  std::optional<json::object> live;  // nullopt: the object does not exist
  std::vector<Change> changes;
  std::string diff;  // unified, over sorted-key YAML
};
// `merged` is what the server-side-apply dry run returned.
[[nodiscard]] Comparison compare(const Target& target, std::optional<json::object> live,
                                 const json::object& merged);
struct LiveAndDryRun {
  std::optional<json::object> live;  // nullopt: the object does not exist
  json::object dry_run;
};
// The live object and the result of `dry_run` based on that same version.
[[nodiscard]] Result<LiveAndDryRun> live_and_dry_run(k8s::Client& client, const Target& target,
                                                     const std::function<Result<json::object>()>& dry_run);
// Reads the live object and dry-runs the apply of the expected one.
[[nodiscard]] Result<Comparison> compare_live(k8s::Client& client, const Target& target);
[[nodiscard]] json::value changes_json(const Target& target, const std::vector<Change>& changes);

// checks.cpp: the Pod Security Standards "restricted" profile.
inline const std::vector<std::string> all_checks{"run-as-non-root", "allow-privilege-escalation",
                                                 "capabilities",    "seccomp",
                                                 "host-path",       "host-network",
                                                 "host-pid",        "host-ipc",
                                                 "privileged"};
[[nodiscard]] Result<std::vector<std::string>> parse_checks(std::string_view text);

struct Finding {
  std::string check;
  std::string path;
  std::optional<json::value> found;  // nullopt: not set
  std::string message;
  std::string fix;                    // what to do, for people
  std::optional<json::object> patch;  // a strategic merge patch that fixes it, when one is safe
};
[[nodiscard]] std::vector<Finding> security_findings(const json::object& object,
                                                     const std::vector<std::string>& checks);
[[nodiscard]] json::value findings_json(const Target& target, const std::vector<Finding>& findings);
// Every finding's patch in one strategic merge patch; empty when none has one.
[[nodiscard]] json::object combined_fix(const std::vector<Finding>& findings);

// patch.cpp: patches applied locally, to write the fix into the manifest.
[[nodiscard]] json::value merge_patched(json::value target, const json::value& patch);
[[nodiscard]] json::value strategic_patched(json::value target, const json::value& patch);

// git_source.cpp: the expected state from a git repository, and the fix
// committed to a branch of it.
class GitSource;
struct Loaded {
  Manifest manifest;
  std::shared_ptr<GitSource> git;  // null for a local file
};
[[nodiscard]] Result<Loaded> load_expected(const Options& options);

struct FixCommit {
  std::string branch;
  std::string commit;
  bool pushed = false;  // false: the branch already held this fix (a re-run)
};
// Commits `content` as the manifest's new text on a branch from the ref read.
[[nodiscard]] Result<FixCommit> commit_fix(GitSource& git, const Options& options, const std::string& content,
                                           const std::string& message);
[[nodiscard]] std::string repository_url(const GitSource& git);

}  // namespace ir::steps::drift
