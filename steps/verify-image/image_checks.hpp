// What verify-image IMAGE found on an image (image_command.cpp) and the
// gates that judge its attestations (image_gates.cpp).
#pragma once

#include "ir/sigstore/verify.hpp"
#include "verify_image.hpp"

#include <optional>
#include <set>
#include <string>
#include <vector>

namespace ir::steps::verify_image {

// One signature (or attestation) found on the image and what became of it.
struct Check {
  std::string source;  // "sha256-<hex>.sig layer 0", "referrer sha256:..."
  bool verified = false;
  // The predicate type of an in-toto attestation that is not cosign's
  // signature predicate; empty for a signature.
  std::string attestation;
  sigstore::Verified result;
  std::string reason;
};

struct Checked {
  std::vector<Check> checks;
  std::set<std::string> signers;  // distinct verified signers
};

// The predicate of the verified SBOM attestation (CycloneDX or SPDX), if any.
[[nodiscard]] std::optional<json::value> sbom_attestation(const Checked& checked);

[[nodiscard]] Result<json::value> read_json_file(const std::string& path, const std::string& parameter);

// The SBOM comparison with the baseline and the vulnerability gate, once
// the signatures have met the threshold; Code::rejected when a gate fails.
[[nodiscard]] Result<void> run_gates(const Options& options, const Checked& checked,
                                     const std::string& digest,
                                     const std::optional<json::value>& sbom_baseline, Context& context);

}  // namespace ir::steps::verify_image
