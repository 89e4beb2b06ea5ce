#include "ir/crypto/hmac.hpp"

#include "ir/core/encoding.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>

namespace ir::crypto {

std::string hmac_sha256(const Secret& key, std::string_view message) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
  unsigned int length = 0;
  const auto bytes = key.reveal();
  HMAC(EVP_sha256(), bytes.data(), static_cast<int>(bytes.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), mac.data(), &length);
  return {reinterpret_cast<const char*>(mac.data()), length};
}

std::string hmac_sha256_hex(const Secret& key, std::string_view message) {
  return hex_encode(hmac_sha256(key, message));
}

bool equal_constant_time(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace ir::crypto
