// verify-image bundle: one Sigstore bundle over a file or a digest, the
// command contract of the Sigstore conformance suite.
#include "ir/core/encoding.hpp"
#include "ir/core/log.hpp"
#include "ir/sigstore/bundle.hpp"
#include "verify_image.hpp"

#include <fmt/format.h>

namespace ir::steps::verify_image {
namespace {

Result<sigstore::Artifact> artifact_of(const std::string& argument) {
  if (argument.starts_with("sha256:") || argument.starts_with("sha512:")) {
    auto digest = sigstore::Artifact::from_digest(argument);
    if (!digest) return digest.error().with("artifact");
    return digest;
  }
  auto bytes = read_file(argument);
  if (!bytes) return bytes.error().with("artifact");
  return sigstore::Artifact::from_bytes(std::move(*bytes));
}

std::string join_times(const std::vector<TimePoint>& times) {
  std::string text;
  for (const auto t : times) text += (text.empty() ? "" : ",") + format_utc(t);
  return text;
}

}  // namespace

Result<void> verify_bundle_file(const Options& options, Context& context) {
  auto artifact = artifact_of(options.artifact);
  if (!artifact) return artifact.error();
  auto trust = trust_of(options, context);
  if (!trust) return trust.error();
  auto text = read_file(options.bundle_path);
  if (!text) return text.error().with("parameter bundle");
  auto bundle = sigstore::parse_bundle(*text);
  if (!bundle) return bundle.error().with("bundle " + options.bundle_path);
  Report& report = context.report();
  report.set_output("digest", artifact->digest_text());
  auto verified = sigstore::verify_bundle(*bundle, *artifact, trust->root, trust->policy);
  if (!verified) {
    report.set_output("verdict", "rejected");
    return verified.error().with("bundle " + options.bundle_path);
  }
  for (const auto& warning : verified->warnings) context.warn(warning);
  std::string indexes;
  for (const auto index : verified->log_indexes)
    indexes += (indexes.empty() ? "" : ",") + std::to_string(index);
  report.set_output("verdict", "verified");
  report.set_output("signers", verified->signer);
  report.set_output("issuers", verified->issuer);
  report.set_output("log-indexes", indexes);
  report.set_output("signing-times", join_times(verified->signing_times));
  log::info("bundle.verified", {{"signer", verified->signer}, {"issuer", verified->issuer}});
  return {};
}

}  // namespace ir::steps::verify_image
