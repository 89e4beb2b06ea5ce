// cosign's signatures on container images, in both of its formats:
//  - the legacy one: a manifest tagged sha256-<hex>.sig next to the image,
//    whose every layer (media type simplesigning.v1+json) is a "simple
//    signing" payload naming the image digest, with the signature, the
//    certificate and its chain, and the Rekor entry with its Signed Entry
//    Timestamp in the layer's annotations;
//  - Sigstore bundles attached to the image as OCI 1.1 referrers.
// A legacy signature is turned into the v0.1 bundle it is equivalent to, so
// that one verifier (verify_bundle) decides both.
#pragma once

#include "ir/core/error.hpp"
#include "ir/sigstore/bundle.hpp"

#include <map>
#include <string>
#include <string_view>

namespace ir::sigstore::cosign {

inline constexpr std::string_view simple_signing_media_type =
    "application/vnd.dev.cosign.simplesigning.v1+json";
inline constexpr std::string_view bundle_media_type = "application/vnd.dev.sigstore.bundle.v0.3+json";

inline constexpr std::string_view signature_annotation = "dev.cosignproject.cosign/signature";
inline constexpr std::string_view certificate_annotation = "dev.sigstore.cosign/certificate";
inline constexpr std::string_view chain_annotation = "dev.sigstore.cosign/chain";
inline constexpr std::string_view bundle_annotation = "dev.sigstore.cosign/bundle";

// "sha256:<hex>" -> "sha256-<hex>.sig".
[[nodiscard]] std::string signature_tag(std::string_view digest);

// One legacy signature layer (its annotations) as a v0.1 bundle over the
// payload: a message signature, the certificate and chain if any, and the
// Rekor entry of the bundle annotation if any. Code::rejected when an
// annotation is malformed.
[[nodiscard]] Result<Bundle> bundle_from_annotations(const std::map<std::string, std::string>& annotations,
                                                     std::string_view payload);

// What a simple-signing payload says.
struct SimpleSigning {
  std::string docker_reference;
  std::string manifest_digest;  // critical.image.docker-manifest-digest
  std::map<std::string, std::string> optional;
};
// Code::rejected unless it is a "cosign container image signature".
[[nodiscard]] Result<SimpleSigning> parse_simple_signing(std::string_view payload);

}  // namespace ir::sigstore::cosign
