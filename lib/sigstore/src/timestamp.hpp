// RFC 3161 timestamps from the trusted root's timestamp authorities. Private
// to lib/sigstore/src.
#pragma once

#include "ir/core/error.hpp"
#include "ir/core/time.hpp"
#include "ir/sigstore/trusted_root.hpp"

#include <string_view>

namespace ir::sigstore::detail {

// Verifies a DER TimeStampResp over `signed_bytes` (the signature it
// timestamps) against the authorities trusted at its time; returns that time.
[[nodiscard]] Result<TimePoint> verify_timestamp(std::string_view response_der, std::string_view signed_bytes,
                                                 const TrustedRoot& root);

}  // namespace ir::sigstore::detail
