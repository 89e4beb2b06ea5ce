// OpenSSL objects with owners, and the few operations Sigstore verification
// needs on keys and certificates. Private to lib/sigstore/src.
#pragma once

#include "ir/core/error.hpp"
#include "ir/core/time.hpp"
#include "ir/sigstore/trusted_root.hpp"

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace ir::sigstore::detail {

struct PkeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
struct X509Free {
  void operator()(X509* cert) const { X509_free(cert); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;
using Cert = std::unique_ptr<X509, X509Free>;

// DER SubjectPublicKeyInfo, or a bare PKCS#1 RSAPublicKey (the older CT log
// keys of the staging root are written that way).
[[nodiscard]] Result<Pkey> public_key_from_der(std::string_view der);
[[nodiscard]] Result<Pkey> public_key_from_pem(std::string_view pem);
[[nodiscard]] std::string public_key_der(EVP_PKEY* key);

[[nodiscard]] Result<Cert> cert_from_der(std::string_view der);

// A log's key: the one decoded with the trusted root, or, for a LogKey made
// by hand, decoded now from its DER.
class KeyRef {
 public:
  explicit KeyRef(EVP_PKEY* shared) : key_(shared) {}
  explicit KeyRef(Pkey owned) : owned_(std::move(owned)), key_(owned_.get()) {}
  [[nodiscard]] EVP_PKEY* get() const { return key_; }

 private:
  Pkey owned_;
  EVP_PKEY* key_;
};
[[nodiscard]] Result<KeyRef> key_of(const LogKey& log);
// An authority's certificates, leaf (or intermediate) first, root last: the
// ones decoded with the trusted root, else decoded now.
[[nodiscard]] Result<std::vector<Cert>> chain_of(const Authority& authority);
[[nodiscard]] Result<Cert> cert_from_pem(std::string_view pem);
[[nodiscard]] std::string cert_der(X509* cert);

// Verifies `signature` over `message` as Sigstore clients sign: ECDSA with
// the curve's hash (SHA-256 for P-256, SHA-384 for P-384, SHA-512 for P-521),
// RSA PKCS#1 v1.5 with SHA-256, Ed25519 over the message itself.
[[nodiscard]] bool verify_message(EVP_PKEY* key, std::string_view message, std::string_view signature);
// The same over a SHA-256 digest the caller computed, whatever the curve
// (sigstore-python signs SHA-256 digests with P-384 keys); no Ed25519, which
// signs whole messages only.
[[nodiscard]] bool verify_sha256_digest(EVP_PKEY* key, std::string_view digest, std::string_view signature);
// Either of the two: clients differ in the hash they pair with a key, and
// both bind the signature to the same bytes. `message` may be absent when
// only its digest is known.
[[nodiscard]] bool verify_signed(EVP_PKEY* key, const std::string* message, std::string_view sha256_digest,
                                 std::string_view signature);

[[nodiscard]] std::string sha256(std::string_view bytes);

[[nodiscard]] TimePoint time_of(const ASN1_TIME* time);

// The last OpenSSL error as text, and the queue cleared.
[[nodiscard]] std::string openssl_error();

}  // namespace ir::sigstore::detail
