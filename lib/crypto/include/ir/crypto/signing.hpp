// Detached signatures in the format of `cosign sign-blob --key`: an ECDSA
// P-256 (or P-384, RSA, Ed25519) signature over the blob, DER-encoded and
// base64'd, checkable with `cosign verify-blob --key KEY.pub --signature SIG`
// or `openssl dgst -sha256 -verify`. Keys are PEM (PKCS#8 or SEC1), loaded
// from memory, never from temporary files.
#pragma once

#include "ir/core/error.hpp"
#include "ir/core/secret.hpp"

#include <string>
#include <string_view>

namespace ir::crypto {

// Returns the base64 signature. A key that cannot be read is invalid input.
[[nodiscard]] Result<std::string> sign_blob(std::string_view blob, const Secret& private_key_pem);
// Code::rejected when the signature does not match.
[[nodiscard]] Result<void> verify_blob(std::string_view blob, std::string_view signature_base64,
                                       std::string_view public_key_pem);
// The PEM public key of a private key, to publish next to the signatures.
[[nodiscard]] Result<std::string> public_key_of(const Secret& private_key_pem);

}  // namespace ir::crypto
