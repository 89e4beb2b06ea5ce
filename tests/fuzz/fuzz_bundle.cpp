// Sigstore bundles: parsed, then verified against the public-good trusted
// root as an attacker's bundle would be. Nothing may crash, and nothing
// random may verify.
#include "ir/sigstore/bundle.hpp"
#include "ir/sigstore/trusted_root.hpp"
#include "ir/sigstore/verify.hpp"

#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const auto root =
      ir::sigstore::parse_trusted_root(ir::sigstore::public_good_trusted_root(), "built-in trusted root");
  if (!root) std::abort();
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto bundle = ir::sigstore::parse_bundle(text);
  if (!bundle) return 0;
  ir::sigstore::Policy policy;
  policy.certificate.identity_regexp = ".*";
  policy.certificate.issuer_regexp = ".*";
  const auto artifact = ir::sigstore::Artifact::from_bytes("fuzz artifact");
  (void)ir::sigstore::verify_bundle(*bundle, artifact, *root, policy);
  return 0;
}
