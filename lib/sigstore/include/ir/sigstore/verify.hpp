// Offline verification of a Sigstore bundle against a trusted root, as
// strict as cosign and sigstore-go: the signature over the artifact (or the
// DSSE envelope, whose in-toto subject must name the artifact), the
// transparency-log entries (their body must be this very signature,
// certificate and artifact), the timestamps, and for keyless signatures the
// certificate's chain, SCT, code-signing usage, identity and issuer at every
// verified signing time. No network.
#pragma once

#include "ir/core/error.hpp"
#include "ir/core/time.hpp"
#include "ir/sigstore/bundle.hpp"
#include "ir/sigstore/trusted_root.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ir::sigstore {

// What was signed: the bytes when known, and their digests. Only a DSSE
// subject can be matched by SHA-512 alone (npm provenance names tarballs so).
struct Artifact {
  std::optional<std::string> bytes;
  std::string sha256;  // raw 32 bytes; empty when only the SHA-512 is known
  std::string sha512;  // raw 64 bytes, or empty

  [[nodiscard]] static Artifact from_bytes(std::string bytes);
  // "sha256:<64 hex digits>" or "sha512:<128 hex digits>"; invalid input otherwise.
  [[nodiscard]] static Result<Artifact> from_digest(std::string_view text);
  // "sha256:<hex>", else "sha512:<hex>".
  [[nodiscard]] std::string digest_text() const;
};

struct CertificatePolicy {
  std::string identity;         // a SAN, exactly
  std::string identity_regexp;  // or a pattern the whole SAN must match
  std::string issuer;           // the OIDC issuer, exactly
  std::string issuer_regexp;
  // GitHub Actions claims (Fulcio extensions .1.2 to .1.6); empty: any.
  std::string github_workflow_trigger;
  std::string github_workflow_sha;
  std::string github_workflow_name;
  std::string github_workflow_repository;
  std::string github_workflow_ref;
};

struct Policy {
  // --key: the signature must be by this PEM public key (no certificate).
  std::optional<std::string> public_key_pem;
  CertificatePolicy certificate;
  // Only --insecure-ignore-tlog turns this off.
  bool require_tlog = true;
};

struct Verified {
  std::string signer;  // the certificate's SAN, or "key sha256:<hex>" of the public key
  std::string issuer;  // OIDC issuer; empty for keys
  std::vector<std::int64_t> log_indexes;
  std::vector<TimePoint> signing_times;  // every verified time (log and timestamp authorities)
  // DSSE bundles: what the envelope carried.
  std::string payload_type;
  std::string payload;
  std::vector<std::string> warnings;
};

// Code::rejected naming the failed check; Code::invalid_input for a policy
// that cannot be used (a bad regular expression, an unreadable key).
[[nodiscard]] Result<Verified> verify_bundle(const Bundle& bundle, const Artifact& artifact,
                                             const TrustedRoot& root, const Policy& policy);

// Whether a SAN satisfies the policy's identity (exact or full-match
// pattern), for callers that check identities themselves.
[[nodiscard]] Result<bool> identity_matches(const CertificatePolicy& policy, std::string_view san);

// A --certificate-identity-regexp whose host part is not a literal (an
// unescaped '.', a wildcard) could match someone else's domain; the text
// of the warning, or empty.
[[nodiscard]] std::string identity_pattern_warning(std::string_view pattern);

}  // namespace ir::sigstore
