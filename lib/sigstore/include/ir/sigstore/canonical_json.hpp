// The JSON Canonicalization Scheme (RFC 8785): members sorted by their names'
// UTF-16 code units, no white space, strings with the minimal escapes,
// numbers as ECMAScript writes them. Rekor signs its Signed Entry Timestamps
// over this form.
#pragma once

#include "ir/core/json.hpp"

#include <string>

namespace ir::sigstore {

[[nodiscard]] std::string canonical_json(const json::value& value);

}  // namespace ir::sigstore
