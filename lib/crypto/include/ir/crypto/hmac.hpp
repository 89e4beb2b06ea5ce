// HMAC-SHA256, for signing webhook bodies so that receivers can tell that a
// request came from us and was not replayed or altered on the way.
#pragma once

#include "ir/core/secret.hpp"

#include <string>
#include <string_view>

namespace ir::crypto {

// The 32-byte MAC.
[[nodiscard]] std::string hmac_sha256(const Secret& key, std::string_view message);
// The same, as lower-case hex.
[[nodiscard]] std::string hmac_sha256_hex(const Secret& key, std::string_view message);

// Compares two MACs in time independent of where they differ.
[[nodiscard]] bool equal_constant_time(std::string_view a, std::string_view b) noexcept;

}  // namespace ir::crypto
