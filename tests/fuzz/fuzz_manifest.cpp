// Manifests and indexes as a registry serves them: any JSON, read through
// every accessor the verifier uses.
#include "ir/core/json.hpp"
#include "ir/oci/registry.hpp"

#include <cstdint>
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
  for (const auto& d : manifest.manifests()) (void)d.platform.size();
  for (const auto& d : manifest.layers()) (void)d.annotations.size();
  (void)manifest.config();
  return 0;
}
