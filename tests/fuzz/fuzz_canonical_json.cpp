// RFC 8785 canonical JSON (what Rekor's Signed Entry Timestamps sign): any
// JSON canonicalizes, and the canonical form is a fixed point.
#include "ir/core/json.hpp"
#include "ir/sigstore/canonical_json.hpp"

#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto doc = ir::parse_json(text, "fuzz");
  if (!doc) return 0;
  const std::string once = ir::sigstore::canonical_json(*doc);
  auto reparsed = ir::parse_json(once, "canonical");
  if (!reparsed) std::abort();
  if (ir::sigstore::canonical_json(*reparsed) != once) std::abort();
  return 0;
}
