#include "ir/crypto/signing.hpp"

#include "ir/core/encoding.hpp"

#include <openssl/evp.h>
#include <openssl/pem.h>

#include <memory>

namespace ir::crypto {
namespace {

using Key = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using Bio = std::unique_ptr<BIO, decltype(&BIO_free_all)>;
using Ctx = std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)>;

// Ed25519 signs the message itself; the others sign its SHA-256.
const EVP_MD* digest_for(EVP_PKEY* key) {
  return EVP_PKEY_id(key) == EVP_PKEY_ED25519 ? nullptr : EVP_sha256();
}

Result<Key> load_private(const Secret& pem) {
  const auto bytes = pem.reveal();
  Bio bio(BIO_new_mem_buf(bytes.data(), static_cast<int>(bytes.size())), &BIO_free_all);
  // The empty passphrase callback makes an encrypted key fail at once
  // instead of prompting on a terminal.
  Key key(PEM_read_bio_PrivateKey(
              bio.get(), nullptr, [](char*, int, int, void*) { return 0; }, nullptr),
          &EVP_PKEY_free);
  if (!key) return invalid("the signing key is not an unencrypted PEM private key");
  return key;
}

}  // namespace

Result<std::string> sign_blob(std::string_view blob, const Secret& private_key_pem) {
  auto key = load_private(private_key_pem);
  if (!key) return key.error();
  Ctx ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  std::size_t length = 0;
  if (EVP_DigestSignInit(ctx.get(), nullptr, digest_for(key->get()), nullptr, key->get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &length, reinterpret_cast<const unsigned char*>(blob.data()),
                     blob.size()) != 1) {
    return Error(Code::action_failed, "signing failed");
  }
  std::string signature(length, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &length,
                     reinterpret_cast<const unsigned char*>(blob.data()), blob.size()) != 1) {
    return Error(Code::action_failed, "signing failed");
  }
  signature.resize(length);
  return base64_encode(signature);
}

Result<void> verify_blob(std::string_view blob, std::string_view signature_base64,
                         std::string_view public_key_pem) {
  Bio bio(BIO_new_mem_buf(public_key_pem.data(), static_cast<int>(public_key_pem.size())), &BIO_free_all);
  Key key(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr), &EVP_PKEY_free);
  if (!key) return invalid("the verification key is not a PEM public key");
  auto signature = base64_decode(signature_base64);
  if (!signature) return Error(Code::rejected, "the signature is not base64");
  Ctx ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  if (EVP_DigestVerifyInit(ctx.get(), nullptr, digest_for(key.get()), nullptr, key.get()) != 1) {
    return Error(Code::action_failed, "verification could not start");
  }
  if (EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature->data()),
                       signature->size(), reinterpret_cast<const unsigned char*>(blob.data()),
                       blob.size()) != 1) {
    return Error(Code::rejected, "the signature does not match the content and key");
  }
  return {};
}

Result<std::string> public_key_of(const Secret& private_key_pem) {
  auto key = load_private(private_key_pem);
  if (!key) return key.error();
  Bio bio(BIO_new(BIO_s_mem()), &BIO_free_all);
  PEM_write_bio_PUBKEY(bio.get(), key->get());
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(size));
}

}  // namespace ir::crypto
