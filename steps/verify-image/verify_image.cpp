#include "verify_image.hpp"

#include "ir/params/params.hpp"

namespace ir::steps::verify_image {

Result<Options> options_from(const json::object& params) {
  Options options;
  auto command = param_strings(params, "command");
  if (const auto image = param_string(params, "image"); !image.empty()) command = {image};
  if (command.empty()) return invalid("command: expected IMAGE, or `bundle FILE_OR_sha256:HEX`");
  if (command[0] == "bundle") {
    options.mode = Mode::bundle;
    if (command.size() != 2) return invalid("command: `bundle` takes one artifact, a file or sha256:<hex>");
    options.artifact = command[1];
    options.bundle_path = param_string(params, "bundle");
  } else {
    options.mode = Mode::image;
    if (command.size() != 1) return invalid("command: one IMAGE at a time");
    options.image = command[0];
  }
  auto threshold = param_integer<std::int64_t>(params, "threshold", 1);
  if (!threshold) return threshold.error();
  // The schema says at least 1; a threshold of 0 or less would verify an
  // image without a signature (security review finding 6).
  if (*threshold < 1) return invalid("parameter threshold: must be at least 1");
  options.threshold = *threshold;
  for (const auto& pair : param_strings(params, "annotation")) {
    const auto equals = pair.find('=');
    options.annotations[pair.substr(0, equals)] = pair.substr(equals + 1);
  }
  options.platform = param_string(params, "platform");
  options.registry_username = param_string(params, "registry-username");
  options.registry_password_file = param_string(params, "registry-password-file");
  options.registry_ca_file = param_string(params, "registry-ca-file");
  options.docker_config = param_string(params, "docker-config");
  options.allow_http_registry = param_bool(params, "allow-http-registry");
  options.sbom_path = param_string(params, "sbom");
  options.sbom_baseline_path = param_string(params, "sbom-baseline");
  options.sbom_baseline_image = param_string(params, "sbom-baseline-image");
  options.fail_on_sbom_change = param_bool(params, "fail-on-sbom-change");
  options.vulnerability_report_path = param_string(params, "vulnerability-report");
  options.vulnerability_attestation = param_bool(params, "vulnerability-attestation");
  if (const auto severity = param_string(params, "max-severity"); !severity.empty())
    options.max_severity = *parse_severity(severity);  // the schema allows only the names
  for (auto& id : param_strings(params, "ignore-cve")) options.ignored_vulnerabilities.insert(id);
  if (const auto age = param_string(params, "max-report-age"); !age.empty()) {
    auto parsed = parse_duration(age);
    if (!parsed) return parsed.error().with("parameter max-report-age");
    options.max_report_age = *parsed;
  }
  // Which parameters go together ("not both", "only with") is the schema's
  // allOf (schemas/verify-image.schema.json), checked before this runs.
  options.key_path = param_string(params, "key");
  options.trusted_root_path = param_string(params, "trusted-root");
  options.insecure_ignore_tlog = param_bool(params, "insecure-ignore-tlog");
  options.fail_on_reject = !params.contains("fail-on-reject") || param_bool(params, "fail-on-reject");
  auto& certificate = options.certificate;
  certificate.identity = param_string(params, "certificate-identity");
  certificate.identity_regexp = param_string(params, "certificate-identity-regexp");
  certificate.issuer = param_string(params, "certificate-oidc-issuer");
  certificate.issuer_regexp = param_string(params, "certificate-oidc-issuer-regexp");
  certificate.github_workflow_trigger = param_string(params, "certificate-github-workflow-trigger");
  certificate.github_workflow_sha = param_string(params, "certificate-github-workflow-sha");
  certificate.github_workflow_name = param_string(params, "certificate-github-workflow-name");
  certificate.github_workflow_repository = param_string(params, "certificate-github-workflow-repository");
  certificate.github_workflow_ref = param_string(params, "certificate-github-workflow-ref");
  return options;
}

namespace {

Result<sigstore::TrustedRoot> trusted_root(const Options& options) {
  if (options.trusted_root_path.empty())
    return sigstore::parse_trusted_root(sigstore::public_good_trusted_root(), "built-in trusted root");
  auto root = sigstore::load_trusted_root(options.trusted_root_path);
  if (!root) return root.error().with("parameter trusted-root");
  return root;
}

Result<sigstore::Policy> policy_of(const Options& options) {
  sigstore::Policy policy;
  policy.certificate = options.certificate;
  policy.require_tlog = !options.insecure_ignore_tlog;
  if (!options.key_path.empty()) {
    auto key = read_file(options.key_path);
    if (!key) return key.error().with("parameter key");
    policy.public_key_pem = std::move(*key);
  }
  return policy;
}

}  // namespace

Result<Trust> trust_of(const Options& options, Context& context) {
  auto root = trusted_root(options);
  if (!root) return root.error();
  auto policy = policy_of(options);
  if (!policy) return policy.error();
  if (!options.certificate.identity_regexp.empty()) {
    if (auto warning = sigstore::identity_pattern_warning(options.certificate.identity_regexp);
        !warning.empty())
      context.warn(warning);
  }
  if (options.insecure_ignore_tlog)
    context.warn("--insecure-ignore-tlog: signatures are accepted without a transparency-log entry");
  return Trust{std::move(*root), std::move(*policy)};
}

Result<void> run(const Options& options, Context& context) {
  auto verdict = options.mode == Mode::bundle ? verify_bundle_file(options, context)
                                              : verify_image_signatures(options, context);
  if (verdict || verdict.error().code() != Code::rejected || options.fail_on_reject) return verdict;
  // --fail-on-reject=false: the rejection is the answer, not a failure.
  context.report().set_output("verdict", "rejected");
  context.warn("rejected: " + verdict.error().message());
  return {};
}

const StepDef& step() {
  static const StepDef def = define_step<Options>(
      "verify-image", "verify an image's Sigstore signatures offline against a trusted root", options_from,
      run);
  return def;
}

}  // namespace ir::steps::verify_image
