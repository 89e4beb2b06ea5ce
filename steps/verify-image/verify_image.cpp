#include "verify_image.hpp"

#include "ir/params/params.hpp"

namespace ir::steps::verify_image {

Result<Options> options_from(const json::object& params) {
  Options options;
  const auto command = param_strings(params, "command");
  if (command.empty() || command[0] != "bundle")
    return invalid("command: expected `bundle FILE_OR_sha256:HEX`");
  options.mode = Mode::bundle;
  if (command.size() != 2) return invalid("command: `bundle` takes one artifact, a file or sha256:<hex>");
  options.artifact = command[1];
  options.bundle_path = param_string(params, "bundle");
  if (options.bundle_path.empty()) return invalid("parameter bundle: required with `bundle`");
  options.key_path = param_string(params, "key");
  options.trusted_root_path = param_string(params, "trusted-root");
  options.insecure_ignore_tlog = param_bool(params, "insecure-ignore-tlog");
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
  const bool has_identity = !certificate.identity.empty() || !certificate.identity_regexp.empty();
  const bool has_issuer = !certificate.issuer.empty() || !certificate.issuer_regexp.empty();
  if (options.key_path.empty()) {
    if (!has_identity)
      return invalid(
          "give --certificate-identity (or --certificate-identity-regexp), or --key for key-signed bundles");
    if (!has_issuer) return invalid("give --certificate-oidc-issuer (or --certificate-oidc-issuer-regexp)");
  } else if (has_identity || has_issuer) {
    return invalid("parameter key: a key-signed bundle has no certificate identity; drop --certificate-*");
  }
  return options;
}

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

Result<void> run(const Options& options, Context& context) {
  switch (options.mode) {
    case Mode::bundle:
      return verify_bundle_file(options, context);
  }
  return internal_error("unknown mode");
}

const StepDef& step() {
  static const StepDef def = define_step<Options>(
      "verify-image", "verify Sigstore signatures offline against a trusted root", options_from, run);
  return def;
}

}  // namespace ir::steps::verify_image
