#include "block_image.hpp"

#include "ir/core/json.hpp"
#include "ir/k8s/admission.hpp"
#include "ir/k8s/client.hpp"
#include "ir/k8s/event.hpp"
#include "ir/k8s/writer.hpp"
#include "ir/params/params.hpp"

#include <algorithm>
#include <optional>

namespace ir::steps::block_image {
namespace {

const k8s::Resource kyverno_policies{"kyverno.io", "v1", "clusterpolicies", "ClusterPolicy", false};
const k8s::Resource image_policies{"policy.sigstore.dev", "v1alpha1", "clusterimagepolicies",
                                   "ClusterImagePolicy", false};

// The version discovery lists, not always v1 (lib/k8s admission.hpp).
k8s::Resource vap_resource(const std::string& version) {
  k8s::Resource resource = k8s::resources::validatingadmissionpolicies;
  resource.version = version;
  return resource;
}
k8s::Resource vap_binding_resource(const std::string& version) {
  k8s::Resource resource = k8s::resources::validatingadmissionpolicybindings;
  resource.version = version;
  return resource;
}

bool lower_hex(std::string_view text) {
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// The repository part of REPO@digest: registry host[:port] and path
// components of the Docker reference grammar's characters, no tag.
bool plausible_repository(std::string_view repo) {
  if (repo.empty() || repo.size() > 255) return false;
  if (repo.front() == '/' || repo.back() == '/' || repo.find("//") != std::string_view::npos) return false;
  return std::all_of(repo.begin(), repo.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-' || c == '/' ||
           c == ':';
  });
}

json::object labels(const std::string& incident_id) {
  return {{"app.kubernetes.io/part-of", "irsteps"},
          {"app.kubernetes.io/component", "block-image"},
          {"irsteps.io/incident", incident_id}};
}

json::object metadata(const std::string& incident_id, const std::string& image, const std::string& digest) {
  return {{"name", policy_name(incident_id, digest)},
          {"labels", labels(incident_id)},
          {"annotations", json::object{{digest_annotation, digest}, {image_annotation, image}}}};
}

std::string refusal_message(const std::string& incident_id, const std::string& digest) {
  return "image digest " + digest + " is blocked by irsteps for incident " + incident_id +
         " (a compromised image); use a verified image";
}

// Whether the API server serves `plural` in GROUP/VERSION, from its
// discovery document; a group version it does not serve is 404.
Result<bool> serves(k8s::Client& client, const std::string& group_version, const std::string& plural) {
  auto response = client.raw("GET", "/apis/" + group_version);
  if (!response) return response.error().with("discover whether the API server serves " + group_version);
  if (response->status == 404) return false;
  if (response->status < 200 || response->status >= 300)
    return k8s::error_from_response(*response, "discovery of " + group_version);
  auto document = parse_json(response->body, "discovery of " + group_version);
  if (!document) return document.error();
  const auto* listed = find(*document, {"resources"});
  if (listed == nullptr || !listed->is_array()) return false;
  return std::any_of(listed->get_array().begin(), listed->get_array().end(),
                     [&](const json::value& item) { return string_at(item, {"name"}) == plural; });
}

struct Engines {
  bool kyverno = false;
  bool policy_controller = false;
  std::string vap_version;  // "" when the API server has no ValidatingAdmissionPolicy
};

Result<Engines> detect(k8s::Client& client) {
  Engines engines;
  auto kyverno = serves(client, "kyverno.io/v1", kyverno_policies.plural);
  if (!kyverno) return kyverno.error();
  engines.kyverno = *kyverno;
  auto sigstore = serves(client, "policy.sigstore.dev/v1alpha1", image_policies.plural);
  if (!sigstore) return sigstore.error();
  engines.policy_controller = *sigstore;
  // GA in 1.30 (v1), beta from 1.28 (v1beta1), alpha from 1.26 (v1alpha1,
  // behind the ValidatingAdmissionPolicy feature gate and the runtime config):
  // the first version that lists both resources.
  for (const char* version : {"v1", "v1beta1", "v1alpha1"}) {
    const std::string gv = std::string("admissionregistration.k8s.io/") + version;
    auto policies = serves(client, gv, k8s::resources::validatingadmissionpolicies.plural);
    if (!policies) return policies.error();
    if (!*policies) continue;
    auto bindings = serves(client, gv, k8s::resources::validatingadmissionpolicybindings.plural);
    if (!bindings) return bindings.error();
    if (*bindings) {
      engines.vap_version = version;
      break;
    }
  }
  return engines;
}

std::string found_list(const Engines& engines) {
  std::string out;
  auto add = [&](const std::string& what) { out += (out.empty() ? "" : ", ") + what; };
  if (engines.kyverno) add("kyverno (kyverno.io/v1 clusterpolicies)");
  if (engines.policy_controller) add("policy-controller (policy.sigstore.dev clusterimagepolicies)");
  if (!engines.vap_version.empty()) add("vap (admissionregistration.k8s.io/" + engines.vap_version + ")");
  return out.empty() ? "none" : out;
}

const char* policy_controller_cannot =
    "sigstore policy-controller cannot refuse one digest: a ClusterImagePolicy matches images[].glob "
    "against the image's name and the glob may not contain '@' (pkg/apis/glob/glob.go), so it can only "
    "refuse whole repositories";

// The engine to use, or an error saying why there is none.
Result<Engine> choose(const Options& options, const Engines& engines) {
  const std::string found = "; admission engines found: " + found_list(engines);
  if (options.engine == "kyverno") {
    if (engines.kyverno) return Engine::kyverno;
    return Error(Code::action_failed,
                 "--engine kyverno: the API server does not serve kyverno.io/v1 clusterpolicies (Kyverno is "
                 "not installed)" +
                     found + ". Nothing was changed and nothing blocks the image");
  }
  if (options.engine == "vap") {
    if (!engines.vap_version.empty()) return Engine::vap;
    return Error(Code::action_failed,
                 "--engine vap: the API server serves no ValidatingAdmissionPolicy "
                 "(admissionregistration.k8s.io v1, v1beta1 or v1alpha1; Kubernetes 1.26+ with the feature, "
                 "GA in 1.30)" +
                     found + ". Nothing was changed and nothing blocks the image");
  }
  if (options.engine == "policy-controller")
    return Error(Code::action_failed, std::string("--engine policy-controller: ") + policy_controller_cannot +
                                          ". Nothing was changed and nothing blocks the image");
  if (engines.kyverno) return Engine::kyverno;
  if (!engines.vap_version.empty()) return Engine::vap;
  return Error(
      Code::action_failed,
      std::string("no admission engine that can refuse an image digest: the cluster has neither "
                  "Kyverno (kyverno.io/v1 clusterpolicies) nor ValidatingAdmissionPolicy "
                  "(admissionregistration.k8s.io, Kubernetes 1.26+)") +
          (engines.policy_controller ? std::string("; ") + policy_controller_cannot : std::string()) +
          ". Nothing was changed and nothing blocks the image");
}

const char* engine_name(Engine engine) {
  switch (engine) {
    case Engine::kyverno:
      return "kyverno";
    case Engine::policy_controller:
      return "policy-controller";
    case Engine::vap:
      return "vap";
  }
  return "";
}

// The object, when it is there and this incident's (its label says so).
Result<std::optional<json::object>> ours(k8s::Client& client, const k8s::Resource& resource,
                                         const std::string& name, const std::string& incident_id) {
  auto live = client.get(resource, "", name);
  if (!live) {
    if (live.error().code() == Code::not_found) return std::optional<json::object>();
    return live.error();
  }
  if (string_at(*live, {"metadata", "labels", "irsteps.io/incident"}) != incident_id)
    return std::optional<json::object>();
  return std::optional<json::object>(std::move(*live));
}

// Deletes the object when it is this incident's; true when it was there.
Result<bool> remove_ours(k8s::Client& client, k8s::Writer& writer, const k8s::Resource& resource,
                         const std::string& name, const Options& options) {
  auto live = ours(client, resource, name, options.incident_id);
  if (!live) return live.error();
  if (!*live) return false;
  k8s::DeleteOptions precondition;
  precondition.uid = string_at(**live, {"metadata", "uid"});
  return writer.remove(resource, "", name, precondition,
                       "unblock " + options.digest + " (incident " + options.incident_id + ")", true);
}

Result<void> release(const Options& options, k8s::Client& client, k8s::Writer& writer, const Engines& engines,
                     Context& context) {
  const std::string name = policy_name(options.incident_id, options.digest);
  std::string released;
  auto note = [&](const char* engine) { released += (released.empty() ? "" : ",") + std::string(engine); };
  if (engines.kyverno) {
    auto removed = remove_ours(client, writer, kyverno_policies, name, options);
    if (!removed) return removed.error();
    if (*removed) note("kyverno");
  }
  if (!engines.vap_version.empty()) {
    // The binding first: a policy without its binding enforces nothing,
    // a binding without its policy is an error the API server reports.
    auto binding = remove_ours(client, writer, vap_binding_resource(engines.vap_version), name, options);
    if (!binding) return binding.error();
    auto policy = remove_ours(client, writer, vap_resource(engines.vap_version), name, options);
    if (!policy) return policy.error();
    if (*binding || *policy) note("vap");
  }
  context.report().set_output("policy-name", name);
  context.report().set_output("engine", released);
  context.report().set_output("digest", options.digest);
  return {};
}

void record_event(k8s::Writer& writer, Context& context, const k8s::Resource& resource,
                  const json::object& object, const Options& options, const char* engine) {
  const std::string name = string_at(object, {"metadata", "name"});
  auto event = writer.create(
      k8s::resources::events, "default",
      k8s::build_event(
          {.involved = k8s::reference_of(resource, "", name, string_at(object, {"metadata", "uid"})),
           .ns = "default",
           .step = "block-image",
           .incident_id = options.incident_id,
           .reason = "ImageBlocked",
           .message = "irsteps blocks image digest " + options.digest + " at admission (" + engine +
                      ") for incident " + options.incident_id}),
      "event on " + resource.kind + " " + name, true);
  if (!event)
    context.warn(resource.kind + " " + name +
                 " blocks the image but its Event could not be recorded: " + event.error().describe());
}

}  // namespace

Result<std::string> digest_of(std::string_view image) {
  constexpr std::string_view prefix = "sha256:";
  const auto at = image.rfind('@');
  const std::string_view digest = at == std::string_view::npos ? image : image.substr(at + 1);
  if (!digest.starts_with(prefix) || digest.size() != prefix.size() + 64 ||
      !lower_hex(digest.substr(prefix.size())))
    return invalid("--image: want REPOSITORY@sha256:<64 lower-case hex digits> or sha256:<64 hex digits>");
  if (at != std::string_view::npos && !plausible_repository(image.substr(0, at)))
    return invalid(
        "--image: the repository before '@' is not an image repository (lower-case letters, "
        "digits, '.', '_', '-', '/', a registry port; no tag)");
  return std::string(digest);
}

std::string policy_name(const std::string& incident_id, const std::string& digest) {
  const std::string hex = digest.substr(digest.find(':') + 1);
  return k8s::bounded_name("irsteps-block-" + k8s::lower_ascii(incident_id) + "-" + hex.substr(0, 16), 63);
}

json::object kyverno_policy(const std::string& incident_id, const std::string& image,
                            const std::string& digest) {
  // A pattern with the negation anchor: every image must not be "*@<digest>"
  // (Kyverno's wildcard '*' matches any characters, '/' included); the
  // conditional anchor =(...) applies to init and ephemeral containers only
  // when the Pod has them (kyverno.io/docs/policy-types/cluster-policy/validate).
  const json::array not_this = {json::object{{"image", "!*@" + digest}}};
  json::object validate{
      {"message", refusal_message(incident_id, digest)},
      // Per rule since Kyverno 1.13 (the spec-level field is deprecated but
      // still read, and the only one older Kyverno knows): both say Enforce.
      {"failureAction", "Enforce"},
      // A Pod that runs the digest already may still be changed (its labels
      // by isolate, say); bringing the digest in is refused.
      {"allowExistingViolations", true},
      {"pattern", json::object{{"spec", json::object{{"containers", not_this},
                                                     {"=(initContainers)", not_this},
                                                     {"=(ephemeralContainers)", not_this}}}}}};
  json::object rule{
      {"name", "block-digest"},
      {"match", json::object{{"any", json::array{json::object{
                                         {"resources", json::object{{"kinds", json::array{"Pod"}}}}}}}}},
      {"validate", std::move(validate)}};
  return {{"apiVersion", "kyverno.io/v1"},
          {"kind", "ClusterPolicy"},
          {"metadata", metadata(incident_id, image, digest)},
          {"spec", json::object{{"validationFailureAction", "Enforce"},
                                {"background", false},
                                {"rules", json::array{std::move(rule)}}}}};
}

std::string vap_expression(const std::string& digest) {
  // On UPDATE a Pod that ran the digest already may still be changed (its
  // labels by isolate, say): only bringing the digest in is refused.
  // oldObject is null on CREATE.
  auto names_it = [&](const std::string& pod) {
    const std::string image = "c.image.endsWith('@" + digest + "')";
    return "(" + pod + ".spec.containers.exists(c, " + image + ") || (has(" + pod +
           ".spec.initContainers) && " + pod + ".spec.initContainers.exists(c, " + image + ")) || (has(" +
           pod + ".spec.ephemeralContainers) && " + pod + ".spec.ephemeralContainers.exists(c, " + image +
           ")))";
  };
  return "!" + names_it("object") + " || (oldObject != null && " + names_it("oldObject") + ")";
}

json::object vap_policy(const std::string& api_version, const std::string& incident_id,
                        const std::string& image, const std::string& digest) {
  return {
      {"apiVersion", "admissionregistration.k8s.io/" + api_version},
      {"kind", "ValidatingAdmissionPolicy"},
      {"metadata", metadata(incident_id, image, digest)},
      {"spec", json::object{
                   {"failurePolicy", "Fail"},
                   {"matchConstraints",
                    json::object{
                        {"resourceRules",
                         json::array{json::object{{"apiGroups", json::array{""}},
                                                  {"apiVersions", json::array{"v1"}},
                                                  {"operations", json::array{"CREATE", "UPDATE"}},
                                                  {"resources", json::array{"pods"}}},
                                     json::object{{"apiGroups", json::array{""}},
                                                  {"apiVersions", json::array{"v1"}},
                                                  {"operations", json::array{"UPDATE"}},
                                                  {"resources", json::array{"pods/ephemeralcontainers"}}}}}}},
                   {"validations", json::array{json::object{{"expression", vap_expression(digest)},
                                                            {"message", refusal_message(incident_id, digest)},
                                                            {"reason", "Forbidden"}}}}}}};
}

json::object vap_binding(const std::string& api_version, const std::string& incident_id,
                         const std::string& image, const std::string& digest) {
  // No matchResources: every namespace, every object the policy matches.
  return {{"apiVersion", "admissionregistration.k8s.io/" + api_version},
          {"kind", "ValidatingAdmissionPolicyBinding"},
          {"metadata", metadata(incident_id, image, digest)},
          {"spec", json::object{{"policyName", policy_name(incident_id, digest)},
                                {"validationActions", json::array{"Deny"}}}}};
}

Result<Options> options_from(const json::object& params) {
  Options options;
  options.image = param_string(params, "image");
  auto digest = digest_of(options.image);
  if (!digest) return digest.error();
  options.digest = *digest;
  options.engine = param_string(params, "engine");
  if (options.engine.empty()) options.engine = "auto";
  options.release = param_bool(params, "release");
  return options;
}

Result<void> run(const Options& options, Context& context) {
  auto kube = context.kube();
  if (!kube) return kube.error();
  k8s::Client& client = **kube;
  k8s::Writer writer(client, context.report(), context.dry_run());

  auto engines = detect(client);
  if (!engines) return engines.error();
  if (options.release) return release(options, client, writer, *engines, context);

  auto engine = choose(options, *engines);
  if (!engine) return engine.error();
  if (*engine != Engine::vap && !engines->vap_version.empty())
    context.warn("the API server also serves ValidatingAdmissionPolicy; " +
                 std::string(engine_name(*engine)) + " enforces this block");

  const std::string name = policy_name(options.incident_id, options.digest);
  const std::size_t actions_before = context.report().actions().size();
  const std::string detail = "refuse image digest " + options.digest + " cluster-wide";
  if (*engine == Engine::kyverno) {
    auto policy = writer.ensure(kyverno_policies, "",
                                kyverno_policy(options.incident_id, options.image, options.digest), detail);
    if (!policy) return policy.error();
    if (*policy && context.report().actions().size() > actions_before)
      record_event(writer, context, kyverno_policies, **policy, options, "kyverno");
  } else {
    const std::string& version = engines->vap_version;
    auto policy =
        writer.ensure(vap_resource(version), "",
                      vap_policy(version, options.incident_id, options.image, options.digest), detail);
    if (!policy) return policy.error();
    auto binding = writer.ensure(vap_binding_resource(version), "",
                                 vap_binding(version, options.incident_id, options.image, options.digest),
                                 "bind " + name + " to every namespace, Deny");
    if (!binding) return binding.error();
    if (*policy && context.report().actions().size() > actions_before)
      record_event(writer, context, vap_resource(version), **policy, options, "vap");
  }
  context.report().set_output("policy-name", name);
  context.report().set_output("engine", engine_name(*engine));
  context.report().set_output("digest", options.digest);
  context.report().set_output("changed",
                              context.report().actions().size() > actions_before ? "true" : "false");
  return {};
}

const StepDef& step() {
  static const StepDef def = define_step<Options>(
      "block-image", "refuse a compromised image digest at admission, cluster-wide", options_from, run);
  return def;
}

}  // namespace ir::steps::block_image
