// Base64 and hex, as Kubernetes Secrets, kubeconfig *-data fields and digests
// need them.
#pragma once

#include "ir/core/error.hpp"

#include <string>
#include <string_view>

namespace ir {

[[nodiscard]] std::string base64_encode(std::string_view bytes);
// Accepts standard base64 with or without padding and ignores line breaks.
[[nodiscard]] Result<std::string> base64_decode(std::string_view text);
[[nodiscard]] std::string hex_encode(std::string_view bytes);
// Upper or lower case, an even number of digits; invalid input otherwise.
[[nodiscard]] Result<std::string> hex_decode(std::string_view hex);
[[nodiscard]] std::string sha256_hex(std::string_view bytes);

}  // namespace ir
