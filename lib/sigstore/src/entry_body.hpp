// Does a transparency-log entry record this signature? Rekor's body kinds
// (hashedrekord 0.0.1 and 0.0.2, dsse 0.0.1 and 0.0.2, intoto 0.0.2) each
// name the signed digest, the signature and the verifier; all three must be
// the bundle's. Private to lib/sigstore/src.
#pragma once

#include "ir/core/error.hpp"
#include "ir/sigstore/bundle.hpp"

#include <string>

namespace ir::sigstore::detail {

struct SignedContent {
  std::string signature;      // raw bytes
  std::string signed_digest;  // SHA-256 of what the signature covers (artifact, or DSSE PAE)
  bool dsse = false;
  std::string payload_type;
  std::string payload;
  std::string certificate_der;  // the verifier: a certificate...
  std::string public_key_der;   // ...or a key (SubjectPublicKeyInfo)
};

[[nodiscard]] Result<void> match_entry_body(const TlogEntry& entry, const SignedContent& content);

}  // namespace ir::sigstore::detail
