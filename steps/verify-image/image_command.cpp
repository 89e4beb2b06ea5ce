// verify-image IMAGE: the image resolved to its digest in its registry, then
// cosign's signatures on that digest verified offline: the legacy
// sha256-<hex>.sig simple-signing manifest first, then Sigstore bundles
// attached as OCI 1.1 referrers when the legacy ones do not reach the
// threshold. Every signature found is judged on its own; the verdict needs
// --threshold distinct verified signers. A referrer may also be an
// attestation (an SBOM, provenance, a vulnerability scan): it is verified
// the same way but feeds only the gates, never the count of signers.
#include "gates.hpp"
#include "image_checks.hpp"
#include "ir/core/json.hpp"
#include "ir/core/log.hpp"
#include "ir/oci/credentials.hpp"
#include "ir/oci/reference.hpp"
#include "ir/oci/registry.hpp"
#include "ir/sigstore/cosign.hpp"
#include "verify_image.hpp"

#include <fmt/format.h>
#include <boost/json.hpp>

#include <set>

namespace ir::steps::verify_image {
namespace {

namespace cosign = sigstore::cosign;

Result<std::unique_ptr<oci::Registry>> open_registry(const oci::Reference& reference, const Options& options,
                                                     const Context& context) {
  oci::CredentialRequest request;
  request.username = options.registry_username;
  request.password_file = options.registry_password_file;
  request.docker_config = options.docker_config;
  // --registry-username/--registry-password-file are for IMAGE's registry
  // only: a --sbom-baseline-image elsewhere gets the docker config's.
  auto image = oci::parse_reference(options.image);
  if (!image) return image.error().with("command: IMAGE");
  request.explicit_registry = image->registry;
  auto credentials = oci::find_credentials(reference.registry, request);
  if (!credentials) return credentials.error().with("registry credentials for " + reference.registry);
  oci::RegistryOptions registry_options;
  registry_options.credentials = std::move(*credentials);
  registry_options.plain_http = options.allow_http_registry;
  registry_options.retry = context.retry_policy();
  if (!options.registry_ca_file.empty()) {
    auto ca = read_file(options.registry_ca_file);
    if (!ca) return ca.error().with("parameter registry-ca-file");
    registry_options.ca_pem = std::move(*ca);
  }
  return std::make_unique<oci::Registry>(reference.api_host(), std::move(registry_options));
}

// The digest everything after is about: the reference's own, or its tag's;
// with --platform, the platform's manifest in the index.
Result<std::string> resolve_digest(oci::Registry& registry, const oci::Reference& reference,
                                   const Options& options) {
  if (!reference.digest.empty() && options.platform.empty()) return reference.digest;
  auto manifest =
      registry.manifest(reference.repository, reference.digest.empty() ? reference.tag : reference.digest);
  if (!manifest) {
    if (manifest.error().code() == Code::not_found)
      return Error(Code::not_found, "image " + reference.str() + " is not in its registry");
    return manifest.error();
  }
  if (options.platform.empty()) return manifest->digest;
  if (!manifest->is_index())
    return invalid("parameter platform: " + reference.str() +
                   " is a single image, not an index of platforms");
  auto entry = registry.select_platform(*manifest, options.platform);
  if (!entry) return entry.error().with("parameter platform");
  return entry->digest;
}

Result<void> check_annotations(const cosign::SimpleSigning& signing, const Options& options) {
  for (const auto& [key, wanted] : options.annotations) {
    const auto it = signing.optional.find(key);
    if (it == signing.optional.end())
      return Error(Code::rejected, "annotation " + key + ": not among the signed annotations");
    if (it->second != wanted)
      return Error(Code::rejected,
                   "annotation " + key + ": signed as '" + it->second + "', not '" + wanted + "'");
  }
  return {};
}

void record(Checked& checked, Check check) {
  if (check.verified && check.attestation.empty()) checked.signers.insert(check.result.signer);
  checked.checks.push_back(std::move(check));
}

// A signature's verdict into its check: a rejection is its reason, any other
// error (the registry, bad input) ends the whole verification.
Result<void> settle(Check check, Result<sigstore::Verified> verdict, Checked& checked) {
  if (verdict) {
    check.verified = true;
    check.result = std::move(*verdict);
  } else {
    if (verdict.error().code() != Code::rejected) return verdict.error().with(check.source);
    check.reason = verdict.error().message();
  }
  record(checked, std::move(check));
  return {};
}

// The legacy format: every simple-signing layer of the .sig manifest.
Result<void> check_legacy(oci::Registry& registry, const std::string& repository, const std::string& digest,
                          const sigstore::TrustedRoot& root, const sigstore::Policy& policy,
                          const Options& options, Checked& checked) {
  const std::string tag = cosign::signature_tag(digest);
  auto manifest = registry.manifest(repository, tag);
  if (!manifest) {
    if (manifest.error().code() == Code::not_found) return {};
    return manifest.error();
  }
  const auto layers = manifest->layers();
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const auto& layer = layers[i];
    Check check;
    check.source = tag + " layer " + std::to_string(i);
    if (layer.media_type != cosign::simple_signing_media_type) {
      check.reason = "media type " + layer.media_type + " is not a simple-signing payload";
      record(checked, std::move(check));
      continue;
    }
    auto payload = registry.blob(repository, layer, oci::limits::signature_payload_bytes);
    if (!payload) {
      if (payload.error().code() == Code::rejected) {
        check.reason = payload.error().message();
        record(checked, std::move(check));
        continue;
      }
      return payload.error();
    }
    auto verdict = [&]() -> Result<sigstore::Verified> {
      auto bundle = cosign::bundle_from_annotations(layer.annotations, *payload);
      if (!bundle) return bundle.error();
      auto verified =
          sigstore::verify_bundle(*bundle, sigstore::Artifact::from_bytes(*payload), root, policy);
      if (!verified) return verified.error();
      auto signing = cosign::parse_simple_signing(*payload);
      if (!signing) return signing.error();
      if (signing->manifest_digest != digest)
        return Error(Code::rejected, "the payload signs " + signing->manifest_digest + ", not " + digest);
      if (auto ok = check_annotations(*signing, options); !ok) return ok.error();
      return verified;
    }();
    if (auto ok = settle(std::move(check), std::move(verdict), checked); !ok) return ok;
  }
  return {};
}

// cosign's signature predicate: cosign sign --new-bundle-format (cosign v3)
// wraps the image digest in an in-toto statement of this type. Any other
// predicate is an attestation about the image, not a signature of it.
constexpr std::string_view signature_predicate_type = "https://sigstore.dev/cosign/sign/v1";

// Security review finding 2: an attestation by a matching identity is not a
// signature. What a verified bundle is: empty for a signature (a message
// signature over the digest, or a DSSE statement of the signature
// predicate), else the attestation's predicate type.
std::string attestation_type(const sigstore::Verified& verified) {
  if (verified.payload_type.empty()) return {};  // a message signature
  if (verified.payload_type != "application/vnd.in-toto+json") return verified.payload_type;
  auto statement = parse_json(verified.payload, "in-toto statement");
  const std::string type = statement ? string_at(*statement, {"predicateType"}) : std::string();
  if (type == signature_predicate_type) return {};
  return type.empty() ? std::string("an in-toto statement without a predicate type") : type;
}

// Sigstore bundles whose subject is the image, attached as referrers.
Result<void> check_referrers(oci::Registry& registry, const std::string& repository,
                             const std::string& digest, const sigstore::TrustedRoot& root,
                             const sigstore::Policy& policy, const Options& options, Checked& checked) {
  auto referrers = registry.referrers(repository, digest, cosign::bundle_media_type);
  if (!referrers) return referrers.error();
  auto artifact = sigstore::Artifact::from_digest(digest);
  if (!artifact) return artifact.error();
  for (const auto& referrer : *referrers) {
    auto manifest = registry.manifest(repository, referrer);
    if (!manifest) return manifest.error();
    for (const auto& layer : manifest->layers()) {
      if (!layer.media_type.starts_with("application/vnd.dev.sigstore.bundle")) continue;
      Check check;
      check.source = "referrer " + referrer.digest;
      auto text = registry.blob(repository, layer, oci::limits::bundle_bytes);
      if (!text) {
        if (text.error().code() != Code::rejected) return text.error();
        check.reason = text.error().message();
        record(checked, std::move(check));
        continue;
      }
      auto verdict = [&]() -> Result<sigstore::Verified> {
        auto bundle = sigstore::parse_bundle(*text);
        if (!bundle) return bundle.error();
        auto verified = sigstore::verify_bundle(*bundle, *artifact, root, policy);
        if (!verified) return verified.error();
        if (!options.annotations.empty())
          return Error(Code::rejected,
                       "--annotation: a bundle signs no annotations (only the .sig format does)");
        check.attestation = attestation_type(*verified);
        return verified;
      }();
      if (auto ok = settle(std::move(check), std::move(verdict), checked); !ok) return ok;
    }
  }
  return {};
}

std::string checks_json(const std::vector<Check>& checks) {
  boost::json::array list;
  for (const auto& check : checks) {
    boost::json::object item{{"source", check.source}, {"verified", check.verified}};
    if (!check.attestation.empty()) item["attestation"] = check.attestation;
    if (check.verified) {
      item["signer"] = check.result.signer;
      if (!check.result.issuer.empty()) item["issuer"] = check.result.issuer;
      boost::json::array indexes;
      for (const auto index : check.result.log_indexes) indexes.push_back(index);
      item["log-indexes"] = std::move(indexes);
    } else {
      item["reason"] = check.reason;
    }
    list.push_back(std::move(item));
  }
  return boost::json::serialize(list);
}

template <class Get>
std::string join_distinct(const std::vector<Check>& checks, Get get) {
  std::set<std::string> seen;
  std::string text;
  for (const auto& check : checks) {
    if (!check.verified || !check.attestation.empty()) continue;
    const std::string value = get(check);
    if (value.empty() || !seen.insert(value).second) continue;
    text += (text.empty() ? "" : ",") + value;
  }
  return text;
}

// The SBOM baseline: a file, or the verified SBOM attestation of another
// image (the last good release), checked under the same trust and identity.
// Read before the image's verdict, so that a bad baseline is bad input
// whatever the image is.
Result<std::optional<json::value>> sbom_baseline(const Options& options, const sigstore::TrustedRoot& root,
                                                 const sigstore::Policy& policy, Context& context) {
  if (!options.sbom_baseline_path.empty()) {
    auto doc = read_json_file(options.sbom_baseline_path, "sbom-baseline");
    if (!doc) return doc.error();
    return std::optional<json::value>(std::move(*doc));
  }
  if (options.sbom_baseline_image.empty()) return std::optional<json::value>();
  auto reference = oci::parse_reference(options.sbom_baseline_image);
  if (!reference) return reference.error().with("parameter sbom-baseline-image");
  auto registry = open_registry(*reference, options, context);
  if (!registry) return registry.error();
  Options baseline_options = options;
  baseline_options.annotations.clear();  // they are about the image, not its baseline
  auto digest = resolve_digest(**registry, *reference, baseline_options);
  if (!digest) return digest.error().with("parameter sbom-baseline-image");
  const std::string pinned = reference->with_digest(*digest).str();
  context.report().set_output("sbom-baseline-image", pinned);
  Checked checked;
  if (auto ok = check_referrers(**registry, reference->repository, *digest, root, policy, baseline_options,
                                checked);
      !ok)
    return ok.error().with("parameter sbom-baseline-image");
  auto attested = sbom_attestation(checked);
  if (!attested)
    return Error(Code::rejected, "the baseline image " + pinned +
                                     " has no SBOM attestation verified under this identity and issuer");
  return std::optional<json::value>(std::move(*attested));
}

}  // namespace

Result<void> verify_image_signatures(const Options& options, Context& context) {
  auto reference = oci::parse_reference(options.image);
  if (!reference) return reference.error().with("command: IMAGE");
  auto trust = trust_of(options, context);
  if (!trust) return trust.error();
  const auto& root = trust->root;
  const auto& policy = trust->policy;
  auto registry = open_registry(*reference, options, context);
  if (!registry) return registry.error();
  auto digest = resolve_digest(**registry, *reference, options);
  if (!digest) return digest.error();
  Report& report = context.report();
  const std::string pinned = reference->with_digest(*digest).str();
  report.set_output("digest", *digest);
  report.set_output("image", pinned);

  auto baseline = sbom_baseline(options, root, policy, context);
  if (!baseline) {
    if (baseline.error().code() == Code::rejected) report.set_output("verdict", "rejected");
    return baseline.error();
  }

  Checked checked;
  if (auto ok = check_legacy(**registry, reference->repository, *digest, root, policy, options, checked); !ok)
    return ok.error();
  // Referrers: when the .sig signatures fall short, or for attestations.
  const bool sbom_from_attestation = baseline->has_value() && options.sbom_path.empty();
  if (std::cmp_less(checked.signers.size(), options.threshold) || sbom_from_attestation ||
      options.vulnerability_attestation) {
    if (auto ok = check_referrers(**registry, reference->repository, *digest, root, policy, options, checked);
        !ok)
      return ok.error();
  }
  const auto& checks = checked.checks;
  const auto found =
      std::count_if(checks.begin(), checks.end(), [](const Check& c) { return c.attestation.empty(); });
  const auto verified_count = std::count_if(
      checks.begin(), checks.end(), [](const Check& c) { return c.verified && c.attestation.empty(); });
  report.set_output("signatures-found", std::to_string(found));
  report.set_output("signatures-verified", std::to_string(verified_count));
  report.set_output("signature-checks", checks_json(checked.checks));
  report.set_output("registry-requests", std::to_string((*registry)->requests()));
  report.set_output("signers", join_distinct(checked.checks, [](const Check& c) { return c.result.signer; }));
  report.set_output("issuers", join_distinct(checked.checks, [](const Check& c) { return c.result.issuer; }));
  std::string indexes;
  for (const auto& check : checked.checks)
    for (const auto index : check.result.log_indexes)
      indexes += (indexes.empty() ? "" : ",") + std::to_string(index);
  report.set_output("log-indexes", indexes);

  if (std::cmp_less(checked.signers.size(), options.threshold)) {
    report.set_output("verdict", "rejected");
    if (checked.checks.empty())
      return Error(Code::rejected, "no signatures on " + pinned + " (neither the " +
                                       cosign::signature_tag(*digest) +
                                       " tag nor Sigstore bundle referrers)");
    std::string reasons;
    for (const auto& check : checks) {
      if (!check.verified) reasons += "; " + check.source + ": " + check.reason;
      if (check.verified && !check.attestation.empty())
        reasons += "; " + check.source + ": an attestation (" + check.attestation + "), not a signature";
    }
    return Error(Code::rejected,
                 fmt::format("{} distinct signer{} verified among {} signature{} on {}, {} required{}",
                             checked.signers.size(), checked.signers.size() == 1 ? "" : "s", found,
                             found == 1 ? "" : "s", pinned, options.threshold, reasons));
  }
  for (const auto& check : checked.checks) {
    for (const auto& warning : check.result.warnings) context.warn(check.source + ": " + warning);
    if (!check.verified) context.warn(check.source + " did not verify: " + check.reason);
  }
  if (auto gated = run_gates(options, checked, *digest, *baseline, context); !gated) {
    report.set_output("verdict", "rejected");
    return gated.error().with(pinned);
  }
  report.set_output("verdict", "verified");
  log::info("image.verified", {{"image", pinned}, {"signers", std::to_string(checked.signers.size())}});
  return {};
}

}  // namespace ir::steps::verify_image
