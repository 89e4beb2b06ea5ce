// Image references as users and registries write them: parsing never
// crashes, and what parses prints back to a reference that parses the same.
#include "ir/oci/reference.hpp"

#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = ir::oci::parse_reference(text);
  if (!parsed) return 0;
  auto again = ir::oci::parse_reference(parsed->str());
  if (!again || again->str() != parsed->str() || again->repository != parsed->repository ||
      again->digest != parsed->digest)
    std::abort();
  (void)parsed->api_host();
  return 0;
}
