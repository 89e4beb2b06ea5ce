// The subset of Argo Workflows that the local runner executes, as plain
// structs. Parsing checks every key against what the runner supports, so a
// template that uses anything else is an error naming the field and where it
// is ("file.yaml: WorkflowTemplate x: spec.templates[2].container.workingDir"),
// never a silent skip.
#pragma once

#include "ir/core/error.hpp"
#include "ir/core/json.hpp"

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace playbook {

using ir::Result;
namespace json = ir::json;

struct Parameter {
  std::string name;
  std::optional<std::string> value;
  std::optional<std::string> default_value;
  std::vector<std::string> enum_values;
  std::string description;
  // Output parameters only.
  std::optional<std::string> from_path;       // containers
  std::optional<std::string> from_parameter;  // steps and dag templates
  // Suspend templates: valueFrom.supplied, set by whoever resumes the node
  // (argo node set --output-parameter), else its default.
  bool supplied = false;
  std::string where;
};

struct TemplateRef {
  std::string name;  // the WorkflowTemplate
  std::string template_name;
};

// arguments.artifacts of a call: only `from: "{{inputs.artifacts.NAME}}"`,
// the caller's own input artifact passed on (workflow/controller/dag.go
// resolveDependencyReferences, steps.go resolveReferences).
struct ArtifactArgument {
  std::string name;
  std::string from_input;  // NAME of the caller's input artifact
  bool optional = false;   // unresolvable: dropped, not an error
  std::string where;
};

// One entry of a steps group, or one dag task.
struct Call {
  std::string name;
  std::string template_name;  // empty when template_ref is set
  std::optional<TemplateRef> template_ref;
  std::vector<Parameter> arguments;
  std::vector<ArtifactArgument> artifact_arguments;
  std::string when;
  bool continue_on_failed = false;
  bool continue_on_error = false;
  std::vector<std::string> dependencies;  // dag
  std::string depends;                    // dag
  std::string where;
};

struct Backoff {
  std::string duration;  // "5s", or a number of seconds
  std::string factor;
  std::string max_duration;
};

struct RetryStrategy {
  std::string limit;  // int or string (may hold variables); empty: no limit given
  std::string policy = "OnFailure";
  std::string expression;
  std::optional<Backoff> backoff;
  std::string where;
};

struct EnvVar {
  std::string name;
  std::optional<std::string> value;  // unset: valueFrom, supplied with --env
};

struct VolumeMount {
  std::string name;
  std::string mount_path;
};

struct Container {
  std::string image;
  std::vector<std::string> command;
  std::vector<std::string> args;
  std::vector<EnvVar> env;
  std::vector<VolumeMount> mounts;
  std::string where;
};

struct Volume {
  std::string name;
  // emptyDir or volumeClaimTemplates: a fresh local folder (per node for a
  // template's own volumes, as a pod's; per workflow for spec.volumes).
  bool scratch = false;
  // A Secret or ConfigMap marked optional: an empty folder unless --mount says otherwise.
  bool optional = false;
};

class Workflow;

struct Template {
  enum class Kind { steps, dag, container, suspend };
  std::string name;
  Kind kind = Kind::container;
  std::vector<std::vector<Call>> steps;
  std::vector<Call> tasks;
  Container container;
  std::string suspend_duration;  // empty: wait for approval only
  std::vector<Parameter> inputs;
  std::vector<Parameter> outputs;
  // outputs.artifacts of a container template: a folder the step leaves,
  // saved to the artifact repository (here --artifact-dir) as .tgz.
  // inputs.artifacts: what the caller (or --artifact) supplies; a container
  // template's appear at their path, steps and dag templates have no path.
  struct Artifact {
    std::string name;
    std::string path;
    bool optional = false;
    std::string where;
  };
  std::vector<Artifact> output_artifacts;
  std::vector<Artifact> input_artifacts;
  std::optional<RetryStrategy> retry;
  std::string active_deadline_seconds;
  std::string timeout;
  std::vector<Volume> volumes;
  std::string where;
  const Workflow* owner = nullptr;
};

// A Workflow or WorkflowTemplate document.
class Workflow {
 public:
  std::string kind;
  std::string name;
  std::string file;
  std::string entrypoint;
  std::string on_exit;                  // spec.onExit: the template run when the workflow ends
  std::string active_deadline_seconds;  // spec.activeDeadlineSeconds: the whole run's limit
  std::vector<std::string> mutexes;     // spec.synchronization.mutexes[].name, before substitution
  std::vector<Parameter> arguments;
  std::vector<Volume> volumes;
  std::map<std::string, Template> templates;
  std::string where;

  [[nodiscard]] const Template* find(const std::string& template_name) const;
};

// Turns one parsed document into a Workflow; `file` names it in errors.
[[nodiscard]] Result<std::unique_ptr<Workflow>> parse_workflow(const json::value& document,
                                                               const std::string& file);

// The documents a run can reach: the file given and the templates folder.
// Documents of other kinds (RBAC, Argo Events) are ignored; WorkflowTemplates
// are parsed when first used, so a broken template that a run never
// references does not stop it.
class Library {
 public:
  // Loads every document of a file; `primary` ones win over the folder's.
  [[nodiscard]] Result<void> load_file(const std::string& path, bool primary);
  // Every *.yaml/*.yml below dir, recursively; a missing dir is no error.
  // A file that is not valid YAML is set aside and named only when a name
  // cannot be found, so that one broken file does not stop every run.
  [[nodiscard]] Result<void> load_dir(const std::string& dir);

  // The WorkflowTemplate or Workflow named `name`.
  [[nodiscard]] Result<const Workflow*> get(const std::string& name);
  // The first Workflow of the file, else its first document with an entrypoint.
  [[nodiscard]] Result<const Workflow*> runnable_in(const std::string& path);
  // Names of the documents that have an entrypoint, for `playbook list`.
  [[nodiscard]] std::vector<std::string> runnable_names() const;
  // Resolves `template` (in the calling document) or `templateRef`.
  [[nodiscard]] Result<const Template*> resolve(const Workflow& caller, const Call& call);

 private:
  struct Entry {
    std::string name;
    std::string kind;
    std::string file;
    bool primary = false;
    bool has_entrypoint = false;
    json::value document;
    std::unique_ptr<Workflow> parsed;
  };
  [[nodiscard]] Result<const Workflow*> parse_entry(Entry& entry);
  std::vector<std::unique_ptr<Entry>> entries_;
  std::vector<std::string> loaded_files_;
  std::vector<std::string> unreadable_;
  std::mutex parse_mutex_;  // runs resolve templates from several threads
};

// Argo parameter values are strings; YAML may give numbers and bools.
[[nodiscard]] Result<std::string> scalar_string(const json::value& value, const std::string& where);

}  // namespace playbook
