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

void Secret::wipe() noexcept {
  if (!value_.empty()) OPENSSL_cleanse(value_.data(), value_.size());
  value_.clear();
}

bool operator==(const Secret& a, const Secret& b) noexcept {
  // Constant time, so that comparing a presented token leaks nothing.
  if (a.value_.size() != b.value_.size()) return false;
  return CRYPTO_memcmp(a.value_.data(), b.value_.data(), a.value_.size()) == 0;
}

}  // namespace ir
