// Parsing one document into the model, every key checked against the
// supported subset.
#include "model.hpp"

#include <boost/json/serialize.hpp>

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <string_view>

namespace playbook {
namespace {

using ir::invalid;

// Every key of `object` must be in `allowed`: whatever else Argo supports
// the local runner does not, and saying so beats ignoring it.
Result<void> check_keys(const json::object& object, const std::string& where,
                        std::initializer_list<std::string_view> allowed) {
  for (const auto& item : object) {
    if (std::find(allowed.begin(), allowed.end(), std::string_view(item.key())) == allowed.end()) {
      return invalid(where + "." + std::string(item.key()) + ": not supported by the local playbook runner");
    }
  }
  return {};
}

Result<const json::object*> object_at(const json::value& value, const std::string& where) {
  if (!value.is_object()) return invalid(where + ": must be a mapping");
  return &value.get_object();
}

Result<const json::array*> array_at(const json::value& value, const std::string& where) {
  if (!value.is_array()) return invalid(where + ": must be a list");
  return &value.get_array();
}

// The string under `key`, "" when absent.
Result<std::string> string_field(const json::object& object, std::string_view key, const std::string& where) {
  const auto* value = object.if_contains(key);
  if (value == nullptr || value->is_null()) return std::string();
  return scalar_string(*value, where + "." + std::string(key));
}

Result<std::vector<std::string>> string_list(const json::value& value, const std::string& where) {
  auto list = array_at(value, where);
  if (!list) return list.error();
  std::vector<std::string> out;
  for (std::size_t i = 0; i < (*list)->size(); ++i) {
    auto text = scalar_string((**list)[i], where + "[" + std::to_string(i) + "]");
    if (!text) return text.error();
    out.push_back(std::move(*text));
  }
  return out;
}

enum class ParamKind {
  workflow_argument,
  input,
  call_argument,
  output_container,
  output_other,
  output_suspend
};

Result<Parameter> parse_parameter(const json::value& value, const std::string& where, ParamKind kind) {
  auto object = object_at(value, where);
  if (!object) return object.error();
  const auto& o = **object;
  Parameter p;
  p.where = where;
  switch (kind) {
    case ParamKind::workflow_argument:
    case ParamKind::input:
      if (auto r = check_keys(o, where, {"name", "value", "default", "enum", "description"}); !r)
        return r.error();
      break;
    case ParamKind::call_argument:
      if (auto r = check_keys(o, where, {"name", "value", "description"}); !r) return r.error();
      break;
    case ParamKind::output_container:
    case ParamKind::output_other:
    case ParamKind::output_suspend:
      if (auto r = check_keys(o, where, {"name", "valueFrom", "description"}); !r) return r.error();
      break;
  }
  auto name = string_field(o, "name", where);
  if (!name) return name.error();
  if (name->empty()) return invalid(where + ".name: required");
  p.name = *name;
  auto description = string_field(o, "description", where);
  if (!description) return description.error();
  p.description = *description;
  for (const char* key : {"value", "default"}) {
    if (const auto* v = o.if_contains(key); v != nullptr && !v->is_null()) {
      auto text = scalar_string(*v, where + "." + key);
      if (!text) return text.error();
      (std::string_view(key) == "value" ? p.value : p.default_value) = *text;
    }
  }
  if (const auto* e = o.if_contains("enum")) {
    auto values = string_list(*e, where + ".enum");
    if (!values) return values.error();
    p.enum_values = std::move(*values);
  }
  if (kind == ParamKind::call_argument && !p.value) return invalid(where + ".value: required");
  if (const auto* from = o.if_contains("valueFrom")) {
    const std::string at = where + ".valueFrom";
    auto f = object_at(*from, at);
    if (!f) return f.error();
    const bool container = kind == ParamKind::output_container;
    if (kind == ParamKind::output_suspend) {
      // A suspend node's only outputs are the ones supplied when it is
      // resumed (operator.go addRawOutputFields).
      if (auto r = check_keys(**f, at, {"supplied", "default"}); !r) return r.error();
      const auto* supplied = (*f)->if_contains("supplied");
      if (supplied == nullptr || !supplied->is_object() || !supplied->get_object().empty())
        return invalid(at + ".supplied: required, and must be {}");
      p.supplied = true;
    } else {
      if (auto r = check_keys(**f, at, {container ? "path" : "parameter", "default"}); !r) return r.error();
      auto source = string_field(**f, container ? "path" : "parameter", at);
      if (!source) return source.error();
      if (source->empty()) return invalid(at + (container ? ".path" : ".parameter") + ": required");
      (container ? p.from_path : p.from_parameter) = *source;
    }
    if (const auto* d = (*f)->if_contains("default")) {
      auto text = scalar_string(*d, at + ".default");
      if (!text) return text.error();
      p.default_value = *text;
    }
  } else if (kind == ParamKind::output_container || kind == ParamKind::output_other ||
             kind == ParamKind::output_suspend) {
    return invalid(where + ".valueFrom: required");
  }
  return p;
}

Result<std::vector<Parameter>> parse_parameters(const json::object& holder, const std::string& where,
                                                ParamKind kind) {
  // A container's outputs, any template's inputs, a call's and the
  // workflow's arguments may also name artifacts (parse_output_artifacts,
  // parse_input_artifacts, parse_artifact_arguments).
  if (auto r = kind == ParamKind::output_other || kind == ParamKind::output_suspend
                   ? check_keys(holder, where, {"parameters"})
                   : check_keys(holder, where, {"parameters", "artifacts"});
      !r)
    return r.error();
  std::vector<Parameter> out;
  const auto* list = holder.if_contains("parameters");
  if (list == nullptr || list->is_null()) return out;
  auto items = array_at(*list, where + ".parameters");
  if (!items) return items.error();
  for (std::size_t i = 0; i < (*items)->size(); ++i) {
    auto p = parse_parameter((**items)[i], where + ".parameters[" + std::to_string(i) + "]", kind);
    if (!p) return p.error();
    for (const auto& seen : out) {
      if (seen.name == p->name) return invalid(p->where + ": parameter " + p->name + " given twice");
    }
    out.push_back(std::move(*p));
  }
  return out;
}

Result<std::vector<Parameter>> parameters_under(const json::object& object, std::string_view key,
                                                const std::string& where, ParamKind kind) {
  const auto* holder = object.if_contains(key);
  if (holder == nullptr || holder->is_null()) return std::vector<Parameter>{};
  auto h = object_at(*holder, where + "." + std::string(key));
  if (!h) return h.error();
  return parse_parameters(**h, where + "." + std::string(key), kind);
}

// The list under holder["artifacts"], each item a mapping; none: empty.
Result<std::vector<const json::object*>> artifact_items(const json::object& holder,
                                                        const std::string& where) {
  std::vector<const json::object*> out;
  const auto* list_value = holder.if_contains("artifacts");
  if (list_value == nullptr || list_value->is_null()) return out;
  auto list = array_at(*list_value, where + ".artifacts");
  if (!list) return list.error();
  for (std::size_t i = 0; i < (*list)->size(); ++i) {
    auto item = object_at((**list)[i], where + ".artifacts[" + std::to_string(i) + "]");
    if (!item) return item.error();
    out.push_back(*item);
  }
  return out;
}

Result<bool> optional_field(const json::object& item, const std::string& at) {
  const auto* optional = item.if_contains("optional");
  if (optional == nullptr) return false;
  if (!optional->is_bool()) return invalid(at + ".optional: must be true or false");
  return optional->get_bool();
}

// inputs.artifacts: name, optional, and for a container template the path
// where the artifact appears (Argo's executor puts it there before the step
// starts, workflow/executor/executor.go loadArtifact; validate.go
// validateInputs: a path only in container and script templates, and one is
// required there). A location in the template (s3, http, git, ...) is refused:
// the runner has no artifact repository to read from; `from` is not valid in
// inputs on Argo either.
Result<std::vector<Template::Artifact>> parse_input_artifacts(const json::object& o, const std::string& where,
                                                              Template::Kind kind) {
  std::vector<Template::Artifact> out;
  const auto* inputs = o.if_contains("inputs");
  if (inputs == nullptr || !inputs->is_object()) return out;
  auto items = artifact_items(inputs->get_object(), where);
  if (!items) return items.error();
  const bool container = kind == Template::Kind::container;
  for (std::size_t i = 0; i < items->size(); ++i) {
    const std::string at = where + ".artifacts[" + std::to_string(i) + "]";
    const auto& item = *(*items)[i];
    if (kind == Template::Kind::suspend) return invalid(at + ": not supported by the local playbook runner");
    if (auto r = check_keys(item, at, {"name", "path", "optional"}); !r) return r.error();
    Template::Artifact artifact;
    artifact.where = at;
    auto name = string_field(item, "name", at);
    auto path = string_field(item, "path", at);
    auto optional = optional_field(item, at);
    if (!name) return name.error();
    if (!path) return path.error();
    if (!optional) return optional.error();
    if (name->empty()) return invalid(at + ".name: required");
    if (container && path->empty()) return invalid(at + ".path: required in a container template");
    if (!container && !path->empty())
      return invalid(at + ".path: only valid in container templates (Argo's validate.go validateInputs)");
    for (const auto& seen : out) {
      if (seen.name == *name) return invalid(at + ": artifact " + *name + " given twice");
    }
    artifact.name = *name;
    artifact.path = *path;
    artifact.optional = *optional;
    out.push_back(std::move(artifact));
  }
  return out;
}

// arguments.artifacts of a call: `from: "{{inputs.artifacts.NAME}}"` passes
// on the caller's input artifact; other sources (a task's outputs,
// fromExpression, a location) are refused.
Result<std::vector<ArtifactArgument>> parse_artifact_arguments(const json::object& arguments,
                                                               const std::string& where) {
  std::vector<ArtifactArgument> out;
  auto items = artifact_items(arguments, where);
  if (!items) return items.error();
  for (std::size_t i = 0; i < items->size(); ++i) {
    const std::string at = where + ".artifacts[" + std::to_string(i) + "]";
    const auto& item = *(*items)[i];
    if (auto r = check_keys(item, at, {"name", "from", "optional"}); !r) return r.error();
    ArtifactArgument argument;
    argument.where = at;
    auto name = string_field(item, "name", at);
    auto from = string_field(item, "from", at);
    auto optional = optional_field(item, at);
    if (!name) return name.error();
    if (!from) return from.error();
    if (!optional) return optional.error();
    if (name->empty()) return invalid(at + ".name: required");
    // validate.go validateArgumentsValues: an argument needs a source.
    if (from->empty())
      return invalid(at + ".from: required (Argo: from, artifact location, or key is required)");
    constexpr std::string_view prefix = "{{inputs.artifacts.";
    const bool simple = from->starts_with(prefix) && from->ends_with("}}") &&
                        from->size() > prefix.size() + 2 &&
                        from->find_first_of(". {}", prefix.size()) == from->size() - 2;
    if (!simple) {
      return invalid(at + ".from: '" + *from +
                     "' is not supported by the local playbook runner (only {{inputs.artifacts.NAME}})");
    }
    for (const auto& seen : out) {
      if (seen.name == *name) return invalid(at + ": artifact " + *name + " given twice");
    }
    argument.name = *name;
    argument.from_input = from->substr(prefix.size(), from->size() - prefix.size() - 2);
    argument.optional = *optional;
    out.push_back(std::move(argument));
  }
  return out;
}

// spec.arguments.artifacts. Argo refuses an entry without from, a location or
// a key (validate.go validateArgumentsValues, a WorkflowTemplate included), so
// a template declares its artifact in the entrypoint's inputs.artifacts and
// the Workflow that runs it supplies the location; the runner has no
// artifact repository, so it takes the local file or folder from --artifact.
Result<void> refuse_workflow_artifacts(const json::object& arguments, const std::string& where) {
  auto items = artifact_items(arguments, where);
  if (!items) return items.error();
  for (std::size_t i = 0; i < items->size(); ++i) {
    const std::string at = where + ".artifacts[" + std::to_string(i) + "]";
    const auto& item = *(*items)[i];
    auto name = string_field(item, "name", at);
    if (!name) return name.error();
    for (const auto& entry : item) {
      if (entry.key() == "name" || entry.key() == "optional") continue;
      return invalid(at + "." + std::string(entry.key()) +
                     ": an artifact's source is not supported by the local playbook runner: give the file " +
                     "or folder with --artifact " + *name + "=LOCAL_PATH");
    }
    return invalid(at + ": Argo refuses an artifact argument without from, an artifact location or a key " +
                   "(workflow/validate/validate.go validateArgumentsValues): declare " + *name +
                   " in the entrypoint's inputs.artifacts (optional: true if it may be left out); the " +
                   "Workflow that runs the template supplies its location (here: --artifact " + *name +
                   "=LOCAL_PATH)");
  }
  return {};
}

Result<Call> parse_call(const json::value& value, const std::string& where, bool dag) {
  auto object = object_at(value, where);
  if (!object) return object.error();
  const auto& o = **object;
  if (dag) {
    if (auto r = check_keys(o, where,
                            {"name", "template", "templateRef", "arguments", "when", "continueOn",
                             "dependencies", "depends"});
        !r) {
      return r.error();
    }
  } else if (auto r =
                 check_keys(o, where, {"name", "template", "templateRef", "arguments", "when", "continueOn"});
             !r) {
    return r.error();
  }
  Call call;
  call.where = where;
  auto name = string_field(o, "name", where);
  auto template_name = string_field(o, "template", where);
  auto when = string_field(o, "when", where);
  auto depends = string_field(o, "depends", where);
  for (auto* r : {&name, &template_name, &when, &depends}) {
    if (!*r) return r->error();
  }
  if (name->empty()) return invalid(where + ".name: required");
  call.name = *name;
  call.template_name = *template_name;
  call.when = *when;
  call.depends = *depends;
  if (const auto* ref = o.if_contains("templateRef")) {
    const std::string at = where + ".templateRef";
    auto r = object_at(*ref, at);
    if (!r) return r.error();
    if (auto k = check_keys(**r, at, {"name", "template"}); !k) return k.error();
    auto ref_name = string_field(**r, "name", at);
    auto ref_template = string_field(**r, "template", at);
    if (!ref_name) return ref_name.error();
    if (!ref_template) return ref_template.error();
    if (ref_name->empty() || ref_template->empty()) return invalid(at + ": needs name and template");
    call.template_ref = TemplateRef{*ref_name, *ref_template};
  }
  if (call.template_name.empty() == !call.template_ref) {
    return invalid(where + ": needs exactly one of template and templateRef");
  }
  if (const auto* args = o.if_contains("arguments"); args != nullptr && !args->is_null()) {
    auto a = object_at(*args, where + ".arguments");
    if (!a) return a.error();
    auto params = parse_parameters(**a, where + ".arguments", ParamKind::call_argument);
    if (!params) return params.error();
    call.arguments = std::move(*params);
    auto artifacts = parse_artifact_arguments(**a, where + ".arguments");
    if (!artifacts) return artifacts.error();
    call.artifact_arguments = std::move(*artifacts);
  }
  if (const auto* c = o.if_contains("continueOn"); c != nullptr && !c->is_null()) {
    const std::string at = where + ".continueOn";
    auto co = object_at(*c, at);
    if (!co) return co.error();
    if (auto k = check_keys(**co, at, {"failed", "error"}); !k) return k.error();
    for (const char* key : {"failed", "error"}) {
      const auto* flag = (*co)->if_contains(key);
      if (flag == nullptr) continue;
      if (!flag->is_bool()) return invalid(at + "." + key + ": must be true or false");
      (std::string_view(key) == "failed" ? call.continue_on_failed : call.continue_on_error) =
          flag->get_bool();
    }
  }
  if (const auto* d = o.if_contains("dependencies"); d != nullptr && !d->is_null()) {
    auto list = string_list(*d, where + ".dependencies");
    if (!list) return list.error();
    call.dependencies = std::move(*list);
  }
  if (!call.depends.empty() && !call.dependencies.empty()) {
    return invalid(where + ": use either dependencies or depends, not both");
  }
  return call;
}

Result<RetryStrategy> parse_retry(const json::value& value, const std::string& where) {
  auto object = object_at(value, where);
  if (!object) return object.error();
  const auto& o = **object;
  if (auto r = check_keys(o, where, {"limit", "retryPolicy", "expression", "backoff"}); !r) return r.error();
  RetryStrategy retry;
  retry.where = where;
  auto limit = string_field(o, "limit", where);
  auto policy = string_field(o, "retryPolicy", where);
  auto expression = string_field(o, "expression", where);
  for (auto* r : {&limit, &policy, &expression}) {
    if (!*r) return r->error();
  }
  retry.limit = *limit;
  if (!policy->empty()) retry.policy = *policy;
  if (retry.policy != "Always" && retry.policy != "OnFailure" && retry.policy != "OnError") {
    return invalid(where + ".retryPolicy: " + retry.policy +
                   " is not supported (Always, OnFailure, OnError)");
  }
  retry.expression = *expression;
  if (const auto* b = o.if_contains("backoff"); b != nullptr && !b->is_null()) {
    const std::string at = where + ".backoff";
    auto bo = object_at(*b, at);
    if (!bo) return bo.error();
    if (auto k = check_keys(**bo, at, {"duration", "factor", "maxDuration"}); !k) return k.error();
    Backoff backoff;
    auto duration = string_field(**bo, "duration", at);
    auto factor = string_field(**bo, "factor", at);
    auto max_duration = string_field(**bo, "maxDuration", at);
    for (auto* r : {&duration, &factor, &max_duration}) {
      if (!*r) return r->error();
    }
    backoff.duration = *duration;
    backoff.factor = *factor;
    backoff.max_duration = *max_duration;
    retry.backoff = backoff;
  }
  return retry;
}

Result<Container> parse_container(const json::value& value, const std::string& where) {
  auto object = object_at(value, where);
  if (!object) return object.error();
  const auto& o = **object;
  if (auto r = check_keys(o, where,
                          {"name", "image", "imagePullPolicy", "command", "args", "env", "volumeMounts",
                           "securityContext", "resources"});
      !r) {
    return r.error();
  }
  Container c;
  c.where = where;
  auto image = string_field(o, "image", where);
  if (!image) return image.error();
  c.image = *image;
  for (const char* key : {"command", "args"}) {
    const auto* list = o.if_contains(key);
    if (list == nullptr || list->is_null()) continue;
    auto items = string_list(*list, where + "." + key);
    if (!items) return items.error();
    (std::string_view(key) == "command" ? c.command : c.args) = std::move(*items);
  }
  if (const auto* env = o.if_contains("env"); env != nullptr && !env->is_null()) {
    auto items = array_at(*env, where + ".env");
    if (!items) return items.error();
    for (std::size_t i = 0; i < (*items)->size(); ++i) {
      const std::string at = where + ".env[" + std::to_string(i) + "]";
      auto e = object_at((**items)[i], at);
      if (!e) return e.error();
      if (auto k = check_keys(**e, at, {"name", "value", "valueFrom"}); !k) return k.error();
      auto name = string_field(**e, "name", at);
      if (!name) return name.error();
      if (name->empty()) return invalid(at + ".name: required");
      EnvVar var{*name, std::nullopt};
      if ((*e)->contains("value")) {
        auto text = string_field(**e, "value", at);
        if (!text) return text.error();
        var.value = *text;
      } else if (!(*e)->contains("valueFrom")) {
        var.value = std::string();
      }
      c.env.push_back(std::move(var));
    }
  }
  if (const auto* mounts = o.if_contains("volumeMounts"); mounts != nullptr && !mounts->is_null()) {
    auto items = array_at(*mounts, where + ".volumeMounts");
    if (!items) return items.error();
    for (std::size_t i = 0; i < (*items)->size(); ++i) {
      const std::string at = where + ".volumeMounts[" + std::to_string(i) + "]";
      auto m = object_at((**items)[i], at);
      if (!m) return m.error();
      if (auto k = check_keys(**m, at, {"name", "mountPath", "readOnly"}); !k) return k.error();
      auto name = string_field(**m, "name", at);
      auto path = string_field(**m, "mountPath", at);
      if (!name) return name.error();
      if (!path) return path.error();
      if (name->empty() || path->empty() || path->front() != '/') {
        return invalid(at + ": needs a name and an absolute mountPath");
      }
      std::string mount_path = *path;
      while (mount_path.size() > 1 && mount_path.back() == '/') mount_path.pop_back();
      c.mounts.push_back({*name, mount_path});
    }
  }
  return c;
}

Result<std::vector<Volume>> parse_volumes(const json::object& spec, const std::string& where) {
  std::vector<Volume> out;
  const auto* list = spec.if_contains("volumes");
  if (list != nullptr && !list->is_null()) {
    auto items = array_at(*list, where + ".volumes");
    if (!items) return items.error();
    for (std::size_t i = 0; i < (*items)->size(); ++i) {
      const std::string at = where + ".volumes[" + std::to_string(i) + "]";
      auto v = object_at((**items)[i], at);
      if (!v) return v.error();
      auto name = string_field(**v, "name", at);
      if (!name) return name.error();
      if (name->empty()) return invalid(at + ".name: required");
      // Any volume source is accepted: all but emptyDir and optional ones need --mount anyway.
      Volume volume{*name, (*v)->contains("emptyDir"), false};
      for (const auto& source : **v) {
        const auto* optional =
            source.value().is_object() ? source.value().get_object().if_contains("optional") : nullptr;
        volume.optional =
            volume.optional || (optional != nullptr && optional->is_bool() && optional->get_bool());
      }
      out.push_back(volume);
    }
  }
  if (const auto* claims = spec.if_contains("volumeClaimTemplates");
      claims != nullptr && !claims->is_null()) {
    auto items = array_at(*claims, where + ".volumeClaimTemplates");
    if (!items) return items.error();
    for (std::size_t i = 0; i < (*items)->size(); ++i) {
      const std::string at = where + ".volumeClaimTemplates[" + std::to_string(i) + "]";
      const auto* name = (**items)[i].is_object() ? ir::find((**items)[i], {"metadata", "name"}) : nullptr;
      if (name == nullptr || !name->is_string()) return invalid(at + ".metadata.name: required");
      out.push_back({std::string(name->get_string()), true, false});
    }
  }
  return out;
}

Result<Template> parse_steps_or_dag(const json::object& o, Template t) {
  if (const auto* steps = o.if_contains("steps")) {
    t.kind = Template::Kind::steps;
    auto groups = array_at(*steps, t.where + ".steps");
    if (!groups) return groups.error();
    for (std::size_t g = 0; g < (*groups)->size(); ++g) {
      const std::string at = t.where + ".steps[" + std::to_string(g) + "]";
      auto entries = array_at((**groups)[g], at);
      if (!entries) return entries.error();
      std::vector<Call> group;
      for (std::size_t s = 0; s < (*entries)->size(); ++s) {
        auto call = parse_call((**entries)[s], at + "[" + std::to_string(s) + "]", false);
        if (!call) return call.error();
        group.push_back(std::move(*call));
      }
      t.steps.push_back(std::move(group));
    }
    return t;
  }
  t.kind = Template::Kind::dag;
  const std::string at = t.where + ".dag";
  auto dag = object_at(o.at("dag"), at);
  if (!dag) return dag.error();
  if (auto k = check_keys(**dag, at, {"tasks"}); !k) return k.error();
  const auto* tasks = (*dag)->if_contains("tasks");
  if (tasks == nullptr) return invalid(at + ".tasks: required");
  auto list = array_at(*tasks, at + ".tasks");
  if (!list) return list.error();
  for (std::size_t i = 0; i < (*list)->size(); ++i) {
    auto call = parse_call((**list)[i], at + ".tasks[" + std::to_string(i) + "]", true);
    if (!call) return call.error();
    t.tasks.push_back(std::move(*call));
  }
  return t;
}

// outputs.artifacts of a container template: name, path, optional, and an
// archive that is tar (gzip, Argo's default). Argo saves them from the
// pod's volumes to the artifact repository (workflow/executor/executor.go
// SaveArtifacts); other artifact sources and archive modes are refused.
Result<std::vector<Template::Artifact>> parse_output_artifacts(const json::object& o,
                                                               const std::string& where) {
  std::vector<Template::Artifact> out;
  const auto* outputs = o.if_contains("outputs");
  if (outputs == nullptr || !outputs->is_object()) return out;
  const auto* list_value = outputs->get_object().if_contains("artifacts");
  if (list_value == nullptr || list_value->is_null()) return out;
  auto list = array_at(*list_value, where + ".artifacts");
  if (!list) return list.error();
  for (std::size_t i = 0; i < (*list)->size(); ++i) {
    const std::string at = where + ".artifacts[" + std::to_string(i) + "]";
    auto item = object_at((**list)[i], at);
    if (!item) return item.error();
    if (auto r = check_keys(**item, at, {"name", "path", "optional", "archive"}); !r) return r.error();
    Template::Artifact artifact;
    artifact.where = at;
    for (auto [key, field] : {std::pair{"name", &artifact.name}, std::pair{"path", &artifact.path}}) {
      auto text = string_field(**item, key, at);
      if (!text) return text.error();
      if (text->empty()) return invalid(at + "." + key + ": required");
      *field = *text;
    }
    if (const auto* optional = (*item)->if_contains("optional")) {
      if (!optional->is_bool()) return invalid(at + ".optional: must be true or false");
      artifact.optional = optional->get_bool();
    }
    if (const auto* archive = (*item)->if_contains("archive")) {
      auto mode = object_at(*archive, at + ".archive");
      if (!mode) return mode.error();
      if (auto r = check_keys(**mode, at + ".archive", {"tar"}); !r) return r.error();
    }
    out.push_back(std::move(artifact));
  }
  return out;
}

Result<Template> parse_template(const json::value& value, const std::string& where) {
  auto object = object_at(value, where);
  if (!object) return object.error();
  const auto& o = **object;
  Template t;
  auto name = string_field(o, "name", where);
  if (!name) return name.error();
  if (name->empty()) return invalid(where + ".name: required");
  t.name = *name;
  t.where = where + " (" + t.name + ")";
  if (auto r =
          check_keys(o, t.where,
                     {"name", "steps", "dag", "container", "suspend", "inputs", "outputs", "retryStrategy",
                      "activeDeadlineSeconds", "timeout", "metadata", "securityContext", "volumes"});
      !r) {
    return r.error();
  }
  int kinds = 0;
  for (const char* key : {"steps", "dag", "container", "suspend"}) kinds += o.contains(key) ? 1 : 0;
  if (kinds != 1) return invalid(t.where + ": needs exactly one of steps, dag, container, suspend");
  if (o.contains("steps") || o.contains("dag")) {
    auto parsed = parse_steps_or_dag(o, std::move(t));
    if (!parsed) return parsed.error();
    t = std::move(*parsed);
  } else if (const auto* c = o.if_contains("container")) {
    t.kind = Template::Kind::container;
    auto container = parse_container(*c, t.where + ".container");
    if (!container) return container.error();
    t.container = std::move(*container);
  } else {
    t.kind = Template::Kind::suspend;
    const std::string at = t.where + ".suspend";
    const auto& s = o.at("suspend");
    if (!s.is_null()) {
      auto so = object_at(s, at);
      if (!so) return so.error();
      if (auto k = check_keys(**so, at, {"duration"}); !k) return k.error();
      auto duration = string_field(**so, "duration", at);
      if (!duration) return duration.error();
      t.suspend_duration = *duration;
    }
  }
  auto inputs = parameters_under(o, "inputs", t.where, ParamKind::input);
  if (!inputs) return inputs.error();
  t.inputs = std::move(*inputs);
  auto outputs = parameters_under(o, "outputs", t.where,
                                  t.kind == Template::Kind::container ? ParamKind::output_container
                                  : t.kind == Template::Kind::suspend ? ParamKind::output_suspend
                                                                      : ParamKind::output_other);
  if (!outputs) return outputs.error();
  t.outputs = std::move(*outputs);
  auto input_artifacts = parse_input_artifacts(o, t.where + ".inputs", t.kind);
  if (!input_artifacts) return input_artifacts.error();
  t.input_artifacts = std::move(*input_artifacts);
  if (t.kind == Template::Kind::container) {
    auto artifacts = parse_output_artifacts(o, t.where + ".outputs");
    if (!artifacts) return artifacts.error();
    t.output_artifacts = std::move(*artifacts);
  }
  if (const auto* r = o.if_contains("retryStrategy"); r != nullptr && !r->is_null()) {
    auto retry = parse_retry(*r, t.where + ".retryStrategy");
    if (!retry) return retry.error();
    t.retry = std::move(*retry);
  }
  auto deadline = string_field(o, "activeDeadlineSeconds", t.where);
  auto timeout = string_field(o, "timeout", t.where);
  if (!deadline) return deadline.error();
  if (!timeout) return timeout.error();
  t.active_deadline_seconds = *deadline;
  t.timeout = *timeout;
  if (t.kind == Template::Kind::suspend && !t.timeout.empty()) {
    // Argo enforces a template's timeout only while its node is Pending
    // (workflow/controller/operator.go checkTemplateTimeouts); a suspend node
    // is Running at once, so on Argo such a gate waits forever.
    return invalid(t.where + ".timeout: Argo never enforces a timeout on a suspend template (the node " +
                   "is Running, and operator.go checkTemplateTimeouts acts on Pending nodes only), so " +
                   "this gate would wait forever: use suspend.duration, with an output parameter " +
                   "valueFrom {supplied: {}, default: ...} for the answer when nobody gives one");
  }
  auto volumes = parse_volumes(o, t.where);
  if (!volumes) return volumes.error();
  t.volumes = std::move(*volumes);
  return t;
}

// spec.synchronization: the workflow-level mutexes (Argo 3.6 and later:
// `mutexes`; v4 removed the single `mutex`). Semaphores need a ConfigMap the
// runner does not have, and database locks a database: refused, not ignored.
Result<std::vector<std::string>> parse_synchronization(const json::object& spec, const std::string& at) {
  std::vector<std::string> names;
  const auto* value = spec.if_contains("synchronization");
  if (value == nullptr || value->is_null()) return names;
  const std::string where = at + ".synchronization";
  auto sync = object_at(*value, where);
  if (!sync) return sync.error();
  if (auto r = check_keys(**sync, where, {"mutexes"}); !r) return r.error();
  const auto* list_value = (*sync)->if_contains("mutexes");
  if (list_value == nullptr) return names;
  auto list = array_at(*list_value, where + ".mutexes");
  if (!list) return list.error();
  for (std::size_t i = 0; i < (*list)->size(); ++i) {
    const std::string item_at = where + ".mutexes[" + std::to_string(i) + "]";
    auto mutex = object_at((**list)[i], item_at);
    if (!mutex) return mutex.error();
    if (auto r = check_keys(**mutex, item_at, {"name"}); !r) return r.error();
    auto name = string_field(**mutex, "name", item_at);
    if (!name) return name.error();
    if (name->empty()) return invalid(item_at + ".name: required");
    names.push_back(std::move(*name));
  }
  return names;
}

}  // namespace

Result<std::string> scalar_string(const json::value& value, const std::string& where) {
  if (value.is_string()) return std::string(value.get_string());
  if (value.is_bool()) return std::string(value.get_bool() ? "true" : "false");
  if (value.is_int64()) return std::to_string(value.get_int64());
  if (value.is_uint64()) return std::to_string(value.get_uint64());
  if (value.is_double()) {
    const double d = value.get_double();
    if (std::floor(d) == d && std::abs(d) < 1e15) return std::to_string(static_cast<long long>(d));
    return json::serialize(value);
  }
  return invalid(where + ": must be a string, number or boolean");
}

const Template* Workflow::find(const std::string& template_name) const {
  const auto it = templates.find(template_name);
  return it == templates.end() ? nullptr : &it->second;
}

Result<std::unique_ptr<Workflow>> parse_workflow(const json::value& document, const std::string& file) {
  auto w = std::make_unique<Workflow>();
  w->file = file;
  w->kind = ir::string_at(document, {"kind"});
  w->name = ir::string_at(document, {"metadata", "name"});
  if (w->name.empty()) w->name = ir::string_at(document, {"metadata", "generateName"});
  while (!w->name.empty() && w->name.back() == '-') w->name.pop_back();
  w->where = file + ": " + w->kind + " " + w->name;
  auto root = object_at(document, w->where);
  if (!root) return root.error();
  if (auto r = check_keys(**root, w->where, {"apiVersion", "kind", "metadata", "spec"}); !r) return r.error();
  const auto* spec_value = (*root)->if_contains("spec");
  if (spec_value == nullptr) return invalid(w->where + ": spec: required");
  auto spec = object_at(*spec_value, w->where + ": spec");
  if (!spec) return spec.error();
  const std::string at = w->where + ": spec";
  if (auto r = check_keys(
          **spec, at,
          {"entrypoint", "onExit", "arguments", "templates", "serviceAccountName", "podSecurityContext",
           "securityContext", "activeDeadlineSeconds", "ttlStrategy", "podGC", "workflowMetadata", "metadata",
           "volumes", "volumeClaimTemplates", "synchronization"});
      !r) {
    return r.error();
  }
  auto entrypoint = string_field(**spec, "entrypoint", at);
  if (!entrypoint) return entrypoint.error();
  w->entrypoint = *entrypoint;
  auto on_exit = string_field(**spec, "onExit", at);
  if (!on_exit) return on_exit.error();
  w->on_exit = *on_exit;
  auto deadline = string_field(**spec, "activeDeadlineSeconds", at);
  if (!deadline) return deadline.error();
  w->active_deadline_seconds = *deadline;
  auto mutexes = parse_synchronization(**spec, at);
  if (!mutexes) return mutexes.error();
  w->mutexes = std::move(*mutexes);
  auto arguments = parameters_under(**spec, "arguments", at, ParamKind::workflow_argument);
  if (!arguments) return arguments.error();
  w->arguments = std::move(*arguments);
  if (const auto* a = (*spec)->if_contains("arguments"); a != nullptr && a->is_object()) {
    if (auto r = refuse_workflow_artifacts(a->get_object(), at + ".arguments"); !r) return r.error();
  }
  auto volumes = parse_volumes(**spec, at);
  if (!volumes) return volumes.error();
  w->volumes = std::move(*volumes);
  if (const auto* templates = (*spec)->if_contains("templates");
      templates != nullptr && !templates->is_null()) {
    auto list = array_at(*templates, at + ".templates");
    if (!list) return list.error();
    for (std::size_t i = 0; i < (*list)->size(); ++i) {
      auto t = parse_template((**list)[i], at + ".templates[" + std::to_string(i) + "]");
      if (!t) return t.error();
      if (w->templates.contains(t->name))
        return invalid(t->where + ": template " + t->name + " defined twice");
      t->owner = w.get();
      const std::string template_name = t->name;
      w->templates.emplace(template_name, std::move(*t));
    }
  }
  if (!w->entrypoint.empty() && w->find(w->entrypoint) == nullptr) {
    return invalid(at + ".entrypoint: no template named " + w->entrypoint);
  }
  if (!w->on_exit.empty() && w->find(w->on_exit) == nullptr) {
    return invalid(at + ".onExit: no template named " + w->on_exit);
  }
  return w;
}

}  // namespace playbook
