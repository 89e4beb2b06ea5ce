// The Fulcio side of keyless verification: the signing certificate's chain
// to a certificate authority of the trusted root, its embedded SCT checked
// against the root's CT logs, its identity (SANs) and the OIDC claims that
// Fulcio writes into extensions under 1.3.6.1.4.1.57264.1. Private to
// lib/sigstore/src.
#pragma once

#include "ir/core/error.hpp"
#include "ir/sigstore/trusted_root.hpp"
#include "pkix.hpp"

#include <map>
#include <string>
#include <vector>

namespace ir::sigstore::detail {

struct CertificateFacts {
  std::vector<std::string> subject_alternative_names;  // URI, e-mail and othername values
  std::string issuer;                                  // OIDC issuer (.1.8, else the older .1.1)
  std::map<std::string, std::string> claims;           // Fulcio extension OID -> value
  bool code_signing = false;
  TimePoint not_before;
  TimePoint not_after;
};

[[nodiscard]] CertificateFacts facts_of(X509* leaf);

// Verifies the chain at `at` to a CA of `root` trusted at that time;
// returns the certificate that issued the leaf.
[[nodiscard]] Result<Cert> verify_chain(X509* leaf, const TrustedRoot& root, TimePoint at);

// At least one embedded SCT must verify under a CT log key of `root`
// trusted at the SCT's time.
[[nodiscard]] Result<void> verify_embedded_sct(X509* leaf, X509* issuer, const TrustedRoot& root);

// Whether the certificate's issuer certified itself: a root has no place in
// a bundle's chain.
[[nodiscard]] bool is_self_signed(X509* cert);

}  // namespace ir::sigstore::detail
