// verify-image: the supply-chain playbook's "Verify image signature"
// (`cosign verify`), done offline in C++ against a Sigstore trusted root.
// `verify-image IMAGE` verifies cosign's signatures on an image in its
// registry; `verify-image bundle ...` verifies one Sigstore bundle over a
// file or a digest, the command contract of the Sigstore conformance suite.
#pragma once

#include "gates.hpp"
#include "ir/driver/step.hpp"
#include "ir/sigstore/verify.hpp"

#include <map>
#include <optional>
#include <set>
#include <string>

namespace ir::steps::verify_image {

enum class Mode { image, bundle };

struct Options {
  Mode mode = Mode::image;
  std::string image;        // image: the reference as given
  std::string artifact;     // bundle: a file, or sha256:<hex>
  std::string bundle_path;  // bundle: --bundle
  std::string key_path;
  std::string trusted_root_path;  // empty: the built-in public-good root
  sigstore::CertificatePolicy certificate;
  bool insecure_ignore_tlog = false;
  bool fail_on_reject = true;  // false: a rejection is a verdict output, exit 0
  // image:
  std::int64_t threshold = 1;
  std::map<std::string, std::string> annotations;  // --annotation KEY=VALUE
  std::string platform;
  std::string registry_username;
  std::string registry_password_file;
  std::string registry_ca_file;
  std::string docker_config;
  bool allow_http_registry = false;
  // image, gates (gates.hpp):
  std::string sbom_path;            // the image's SBOM; empty: its verified attestation
  std::string sbom_baseline_path;   // empty: no SBOM comparison with a file
  std::string sbom_baseline_image;  // or: the SBOM attested on this image (the last good release)
  bool fail_on_sbom_change = false;
  std::string vulnerability_report_path;
  bool vulnerability_attestation = false;  // the report of a verified cosign vuln attestation
  Severity max_severity = Severity::critical;
  std::set<std::string> ignored_vulnerabilities;
  std::optional<std::chrono::milliseconds> max_report_age;
};

[[nodiscard]] Result<Options> options_from(const json::object& params);
[[nodiscard]] Result<void> run(const Options& options, Context& context);
[[nodiscard]] const StepDef& step();

// What signatures are verified against: the trusted root of --trusted-root
// (or the built-in one) and the policy (--key or the certificate checks);
// warns about identity patterns that could match foreign domains and about
// --insecure-ignore-tlog.
struct Trust {
  sigstore::TrustedRoot root;
  sigstore::Policy policy;
};
[[nodiscard]] Result<Trust> trust_of(const Options& options, Context& context);

// verify-image bundle (bundle_command.cpp).
[[nodiscard]] Result<void> verify_bundle_file(const Options& options, Context& context);
// verify-image IMAGE (image_command.cpp).
[[nodiscard]] Result<void> verify_image_signatures(const Options& options, Context& context);

}  // namespace ir::steps::verify_image
