#include "pkix.hpp"

#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

namespace ir::sigstore::detail {
namespace {

const unsigned char* bytes_of(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

// The digest an ECDSA key of this size signs with; SHA-256 for RSA.
const EVP_MD* digest_for(EVP_PKEY* key) {
  if (EVP_PKEY_id(key) == EVP_PKEY_EC) {
    const int bits = EVP_PKEY_get_bits(key);
    if (bits > 384) return EVP_sha512();
    if (bits > 256) return EVP_sha384();
  }
  return EVP_sha256();
}

struct BioFree {
  void operator()(BIO* bio) const { BIO_free_all(bio); }
};
using Bio = std::unique_ptr<BIO, BioFree>;

Bio memory_bio(std::string_view text) {
  return Bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
}

}  // namespace

std::string openssl_error() {
  std::string text;
  std::string details;
  const char* data = nullptr;
  int flags = 0;
  while (const unsigned long code = ERR_get_error_all(nullptr, nullptr, nullptr, &data, &flags)) {
    if (text.empty()) {
      const char* reason = ERR_reason_error_string(code);
      text = reason != nullptr ? reason : "OpenSSL error";
    }
    // The detail (such as which certificate check failed) is in the data.
    if (data != nullptr && (flags & ERR_TXT_STRING) != 0 && *data != '\0')
      details += (details.empty() ? "" : "; ") + std::string(data);
  }
  if (text.empty()) return "unknown OpenSSL error";
  return details.empty() ? text : text + " (" + details + ")";
}

Result<Pkey> public_key_from_der(std::string_view der) {
  const unsigned char* p = bytes_of(der);
  Pkey key(d2i_PUBKEY(nullptr, &p, static_cast<long>(der.size())));
  if (key && p == bytes_of(der) + der.size()) return key;
  ERR_clear_error();
  p = bytes_of(der);
  key.reset(d2i_PublicKey(EVP_PKEY_RSA, nullptr, &p, static_cast<long>(der.size())));
  if (key && p == bytes_of(der) + der.size()) return key;
  ERR_clear_error();
  return Error(Code::rejected, "not a DER public key");
}

Result<Pkey> public_key_from_pem(std::string_view pem) {
  auto bio = memory_bio(pem);
  Pkey key(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
  if (!key) {
    ERR_clear_error();
    return invalid("not a PEM public key");
  }
  return key;
}

std::string public_key_der(EVP_PKEY* key) {
  unsigned char* out = nullptr;
  const int length = i2d_PUBKEY(key, &out);
  if (length <= 0) return {};
  std::string der(reinterpret_cast<char*>(out), static_cast<std::size_t>(length));
  OPENSSL_free(out);
  return der;
}

Result<Cert> cert_from_der(std::string_view der) {
  const unsigned char* p = bytes_of(der);
  Cert cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (!cert || p != bytes_of(der) + der.size()) {
    ERR_clear_error();
    return Error(Code::rejected, "not a DER X.509 certificate");
  }
  return cert;
}

Result<KeyRef> key_of(const LogKey& log) {
  if (log.key) return KeyRef(log.key.get());
  auto key = public_key_from_der(log.public_key_der);
  if (!key) return key.error();
  return KeyRef(std::move(*key));
}

Result<std::vector<Cert>> chain_of(const Authority& authority) {
  std::vector<Cert> chain;
  if (authority.chain.size() == authority.chain_der.size()) {
    for (const auto& cert : authority.chain) {
      X509_up_ref(cert.get());
      chain.emplace_back(cert.get());
    }
    return chain;
  }
  for (const auto& der : authority.chain_der) {
    auto cert = cert_from_der(der);
    if (!cert) return cert.error();
    chain.push_back(std::move(*cert));
  }
  return chain;
}

Result<Cert> cert_from_pem(std::string_view pem) {
  auto bio = memory_bio(pem);
  Cert cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) {
    ERR_clear_error();
    return Error(Code::rejected, "not a PEM X.509 certificate");
  }
  return cert;
}

std::string cert_der(X509* cert) {
  unsigned char* out = nullptr;
  const int length = i2d_X509(cert, &out);
  if (length <= 0) return {};
  std::string der(reinterpret_cast<char*>(out), static_cast<std::size_t>(length));
  OPENSSL_free(out);
  return der;
}

bool verify_message(EVP_PKEY* key, std::string_view message, std::string_view signature) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  const EVP_MD* md = EVP_PKEY_id(key) == EVP_PKEY_ED25519 ? nullptr : digest_for(key);
  const bool ok = EVP_DigestVerifyInit(ctx.get(), nullptr, md, nullptr, key) == 1 &&
                  EVP_DigestVerify(ctx.get(), bytes_of(signature), signature.size(), bytes_of(message),
                                   message.size()) == 1;
  ERR_clear_error();
  return ok;
}

bool verify_sha256_digest(EVP_PKEY* key, std::string_view digest, std::string_view signature) {
  const int id = EVP_PKEY_id(key);
  if (id != EVP_PKEY_EC && id != EVP_PKEY_RSA) return false;
  if (digest.size() != SHA256_DIGEST_LENGTH) return false;
  std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(EVP_PKEY_CTX_new(key, nullptr),
                                                                  &EVP_PKEY_CTX_free);
  const bool ok =
      ctx && EVP_PKEY_verify_init(ctx.get()) == 1 &&
      EVP_PKEY_CTX_set_signature_md(ctx.get(), EVP_sha256()) == 1 &&
      EVP_PKEY_verify(ctx.get(), bytes_of(signature), signature.size(), bytes_of(digest), digest.size()) == 1;
  ERR_clear_error();
  return ok;
}

bool verify_signed(EVP_PKEY* key, const std::string* message, std::string_view sha256_digest,
                   std::string_view signature) {
  if (verify_sha256_digest(key, sha256_digest, signature)) return true;
  return message != nullptr && verify_message(key, *message, signature);
}

std::string sha256(std::string_view bytes) {
  std::string out(SHA256_DIGEST_LENGTH, '\0');
  SHA256(bytes_of(bytes), bytes.size(), reinterpret_cast<unsigned char*>(out.data()));
  return out;
}

TimePoint time_of(const ASN1_TIME* time) {
  std::tm tm{};
  if (ASN1_TIME_to_tm(time, &tm) != 1) return TimePoint{};
  return Clock::from_time_t(timegm(&tm));
}

}  // namespace ir::sigstore::detail
