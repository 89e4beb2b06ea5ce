#include "ir/core/secret.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

namespace ir {

Secret::Secret(Secret&& other) noexcept : value_(std::move(other.value_)) {
  other.wipe();
}

Secret& Secret::operator=(const Secret& other) {
  if (this != &other) {
    wipe();
    value_ = other.value_;
  }
  return *this;
}

Secret& Secret::operator=(Secret&& other) noexcept {
  if (this != &other) {
    wipe();
    value_ = std::move(other.value_);
    other.wipe();
  }
  return *this;
}

Secret::~Secret() {
  wipe();
}

// The whole buffer, not only the current value: a moved-from short string
// (held in the string object itself) has size 0 but keeps the bytes it
// copied out (security review finding 14). Growing to the capacity never
// reallocates and zeroes the tail; the cleanse covers the rest.
void Secret::wipe() noexcept {
  value_.resize(value_.capacity());
  OPENSSL_cleanse(value_.data(), value_.size());
  value_.clear();
}

bool operator==(const Secret& a, const Secret& b) noexcept {
  // Constant time, so that comparing a presented token leaks nothing.
  if (a.value_.size() != b.value_.size()) return false;
  return CRYPTO_memcmp(a.value_.data(), b.value_.data(), a.value_.size()) == 0;
}

}  // namespace ir
