// verify-image IMAGE: the image resolved to its digest in its registry, then
// cosign's signatures on that digest verified offline: the legacy
// sha256-<hex>.sig simple-signing manifest first, then Sigstore bundles
// attached as OCI 1.1 referrers when the legacy ones do not reach the
// threshold. Every signature found is judged on its own; the verdict needs
// --threshold distinct verified signers.
#include "gates.hpp"
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

// One signature found on the image and what became of it.
struct Check {
  std::string source;  // "sha256-<hex>.sig layer 0", "referrer sha256:..."
  bool verified = false;
  sigstore::Verified result;
  std::string reason;
};

struct Checked {
  std::vector<Check> checks;
  std::set<std::string> signers;  // distinct verified signers
};

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
  if (check.verified) checked.signers.insert(check.result.signer);
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
    if (!check.verified) continue;
    const std::string value = get(check);
    if (value.empty() || !seen.insert(value).second) continue;
    text += (text.empty() ? "" : ",") + value;
  }
  return text;
}

// The predicate of the first verified in-toto attestation (a DSSE bundle
// whose subject the verifier matched to the image) of a wanted type.
template <class Wanted>
std::optional<json::value> attested_predicate(const Checked& checked, Wanted wanted) {
  for (const auto& check : checked.checks) {
    if (!check.verified || check.result.payload_type != "application/vnd.in-toto+json") continue;
    auto statement = parse_json(check.result.payload, "in-toto statement");
    if (!statement) continue;
    if (!wanted(string_at(*statement, {"predicateType"}))) continue;
    if (const auto* predicate = find(*statement, {"predicate"}); predicate != nullptr) return *predicate;
  }
  return std::nullopt;
}

std::optional<json::value> sbom_attestation(const Checked& checked) {
  return attested_predicate(checked, [](const std::string& type) {
    return type.starts_with("https://cyclonedx.org/bom") || type.starts_with("https://spdx.dev/Document");
  });
}

// cosign attest --type vuln.
constexpr std::string_view vuln_predicate_type = "https://cosign.sigstore.dev/attestation/vuln/v1";

std::optional<json::value> vulnerability_attestation(const Checked& checked) {
  return attested_predicate(checked, [](const std::string& type) { return type == vuln_predicate_type; });
}

Result<json::value> read_json_file(const std::string& path, const std::string& parameter) {
  auto text = read_file(path);
  if (!text) return text.error().with("parameter " + parameter);
  auto doc = parse_json(*text, path);
  if (!doc) return doc.error().with("parameter " + parameter);
  return doc;
}

std::string first_items(const std::vector<std::string>& items, std::size_t limit = 20) {
  std::string text;
  for (std::size_t i = 0; i < items.size() && i < limit; ++i) text += (i == 0 ? "" : ", ") + items[i];
  if (items.size() > limit) text += fmt::format(" and {} more", items.size() - limit);
  return text;
}

Result<void> sbom_gate(const Options& options, const Checked& checked,
                       const std::optional<json::value>& baseline_doc, Context& context) {
  if (!baseline_doc) return {};
  Report& report = context.report();
  auto baseline = parse_sbom(*baseline_doc, options.sbom_baseline_image.empty()
                                                ? "parameter sbom-baseline"
                                                : "the SBOM attestation of --sbom-baseline-image");
  if (!baseline) return baseline.error();
  json::value current_doc;
  if (!options.sbom_path.empty()) {
    auto doc = read_json_file(options.sbom_path, "sbom");
    if (!doc) return doc.error();
    current_doc = std::move(*doc);
  } else if (auto attested = sbom_attestation(checked)) {
    current_doc = std::move(*attested);
  } else {
    return Error(Code::rejected,
                 "no verified SBOM attestation to compare with --sbom-baseline (give --sbom)");
  }
  auto current =
      parse_sbom(current_doc, options.sbom_path.empty() ? "the SBOM attestation" : "parameter sbom");
  if (!current) return current.error();
  const auto diff = diff_sboms(*baseline, *current);
  report.set_output("sbom-packages", std::to_string(current->packages.size()));
  report.set_output("sbom-added", std::to_string(diff.added.size()));
  report.set_output("sbom-removed", std::to_string(diff.removed.size()));
  report.set_output("sbom-changed", std::to_string(diff.changed.size()));
  std::string lines;
  for (const auto& a : diff.added) lines += "+ " + a + "\n";
  for (const auto& r : diff.removed) lines += "- " + r + "\n";
  for (const auto& c : diff.changed) lines += "~ " + c + "\n";
  report.set_output("sbom-diff", lines);
  if (!diff.empty() && options.fail_on_sbom_change) {
    std::string reason = "the SBOM differs from the baseline:";
    if (!diff.added.empty()) reason += " added " + first_items(diff.added) + ";";
    if (!diff.removed.empty()) reason += " removed " + first_items(diff.removed) + ";";
    if (!diff.changed.empty()) reason += " changed " + first_items(diff.changed) + ";";
    reason.pop_back();
    return Error(Code::rejected, reason);
  }
  if (!diff.empty())
    context.warn(fmt::format("the SBOM differs from the baseline: {} added, {} removed, {} changed",
                             diff.added.size(), diff.removed.size(), diff.changed.size()));
  return {};
}

// The report of a verified vulnerability attestation: its predicate's
// scanner.result is the scanner's own JSON; the scan time is the report's,
// else the attestation's scanFinishedOn.
Result<VulnerabilityReport> attested_report(const Checked& checked, Context& context) {
  auto predicate = vulnerability_attestation(checked);
  if (!predicate)
    return Error(Code::rejected,
                 "no verified vulnerability attestation (cosign attest --type vuln) to gate on");
  const auto* result = find(*predicate, {"scanner", "result"});
  if (result == nullptr) return Error(Code::rejected, "the vulnerability attestation has no scanner.result");
  auto parsed = parse_vulnerability_report(*result, "the vulnerability attestation's scanner.result");
  if (!parsed) return Error(Code::rejected, parsed.error().message());
  if (!parsed->created) {
    if (auto finished = parse_utc(string_at(*predicate, {"metadata", "scanFinishedOn"})))
      parsed->created = *finished;
  }
  std::string scanner = string_at(*predicate, {"scanner", "uri"});
  if (const std::string version = string_at(*predicate, {"scanner", "version"}); !version.empty())
    scanner += (scanner.empty() ? "" : " ") + version;
  context.report().set_output("vulnerability-scanner", scanner.empty() ? parsed->scanner : scanner);
  return parsed;
}

Result<void> vulnerability_gate(const Options& options, const Checked& checked, const std::string& digest,
                                Context& context) {
  Result<VulnerabilityReport> parsed = Error(Code::internal, "no report");
  if (options.vulnerability_attestation) {
    parsed = attested_report(checked, context);
  } else if (!options.vulnerability_report_path.empty()) {
    auto doc = read_json_file(options.vulnerability_report_path, "vulnerability-report");
    if (!doc) return doc.error();
    parsed = parse_vulnerability_report(*doc, "parameter vulnerability-report");
  } else {
    return {};
  }
  if (!parsed) return parsed.error();
  GatePolicy policy;
  policy.max_severity = options.max_severity;
  policy.ignored = options.ignored_vulnerabilities;
  policy.max_age = options.max_report_age;
  auto gate = apply_gate(*parsed, policy, digest, now());
  if (!gate) return gate.error();
  Report& report = context.report();
  for (const auto severity :
       {Severity::critical, Severity::high, Severity::medium, Severity::low, Severity::unknown}) {
    std::string name(severity_name(severity));
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
    report.set_output("vulnerabilities-" + name, std::to_string(gate->counts[severity]));
  }
  report.set_output("vulnerabilities-ignored", std::to_string(gate->ignored));
  report.set_output("vulnerabilities-blocking", std::to_string(gate->blocking.size()));
  if (gate->blocking.empty()) return {};
  std::vector<std::string> listed;
  for (const auto& f : gate->blocking)
    listed.push_back(f.id + " (" + std::string(severity_name(f.severity)) + ", " + f.package + " " +
                     f.installed + (f.fixed.empty() ? ", no fix" : ", fixed in " + f.fixed) + ")");
  return Error(Code::rejected,
               fmt::format("{} vulnerabilit{} above {}: {}", listed.size(), listed.size() == 1 ? "y" : "ies",
                           severity_name(options.max_severity), first_items(listed)));
}

Result<void> run_gates(const Options& options, const Checked& checked, const std::string& digest,
                       const std::optional<json::value>& sbom_baseline, Context& context) {
  if (auto ok = sbom_gate(options, checked, sbom_baseline, context); !ok) return ok;
  return vulnerability_gate(options, checked, digest, context);
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
  const auto verified_count =
      std::count_if(checked.checks.begin(), checked.checks.end(), [](const Check& c) { return c.verified; });
  report.set_output("signatures-found", std::to_string(checked.checks.size()));
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
    for (const auto& check : checked.checks)
      if (!check.verified) reasons += "; " + check.source + ": " + check.reason;
    return Error(
        Code::rejected,
        fmt::format("{} distinct signer{} verified among {} signature{} on {}, {} required{}",
                    checked.signers.size(), checked.signers.size() == 1 ? "" : "s", checked.checks.size(),
                    checked.checks.size() == 1 ? "" : "s", pinned, options.threshold, reasons));
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
