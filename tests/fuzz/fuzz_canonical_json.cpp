// RFC 8785 canonical JSON (what Rekor's Signed Entry Timestamps sign): any
// JSON canonicalizes to JSON, and without floating-point numbers the
// canonical form is a fixed point. Floating-point numbers are left out of
// the fixed-point check: Boost.JSON 1.81 parses them without correct
// rounding (its precise mode came later), so reading "1e27" twice through
// text can give neighbouring doubles; what Sigstore signs has integers only.
#include "ir/core/json.hpp"
#include "ir/sigstore/canonical_json.hpp"

#include <cstdint>
#include <cstdlib>
#include <string_view>

namespace {

bool has_double(const ir::json::value& value) {
  if (value.is_double()) return true;
  if (const auto* array = value.if_array()) {
    for (const auto& item : *array)
      if (has_double(item)) return true;
  }
  if (const auto* object = value.if_object()) {
    for (const auto& [key, item] : *object)
      if (has_double(item)) return true;
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto doc = ir::parse_json(text, "fuzz");
  if (!doc) return 0;
  const std::string once = ir::sigstore::canonical_json(*doc);
  auto reparsed = ir::parse_json(once, "canonical");
  if (!reparsed) std::abort();
  if (!has_double(*doc) && ir::sigstore::canonical_json(*reparsed) != once) std::abort();
  return 0;
}
