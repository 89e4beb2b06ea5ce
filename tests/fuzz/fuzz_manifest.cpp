// Manifests and indexes as a registry serves them: any JSON, read through
// every accessor the verifier uses and the bounds (oci::limits) checked; a
// descriptor's size is a byte count or -1, whatever number the JSON holds.
#include "ir/core/json.hpp"
#include "ir/oci/registry.hpp"

#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto doc = ir::parse_json(text, "manifest");
  if (!doc || !doc->is_object()) return 0;
  ir::oci::Manifest manifest;
  manifest.body = std::string(text);
  manifest.document = doc->as_object();
  manifest.media_type = ir::string_at(manifest.document, {"mediaType"});
  (void)manifest.is_index();
  (void)manifest.check_limits("manifest");
  const auto check_size = [](const ir::oci::Descriptor& d) {
    if (d.size < -1) std::abort();
  };
  for (const auto& d : manifest.manifests()) {
    (void)d.platform.size();
    check_size(d);
  }
  for (const auto& d : manifest.layers()) {
    (void)d.annotations.size();
    check_size(d);
  }
  if (auto config = manifest.config()) check_size(*config);
  return 0;
}
