// Signing certificates (DER) as a bundle or a cosign annotation carries
// them: chain building, SCT, extensions, identity and issuer, at the
// verifier's hand. The signature cannot verify; nothing may crash.
#include "ir/sigstore/bundle.hpp"
#include "ir/sigstore/trusted_root.hpp"
#include "ir/sigstore/verify.hpp"

#include <cstdint>
#include <cstdlib>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const auto root =
      ir::sigstore::parse_trusted_root(ir::sigstore::public_good_trusted_root(), "built-in trusted root");
  if (!root) std::abort();
  ir::sigstore::Bundle bundle;
  bundle.media_type = "fuzz";
  bundle.minor_version = 1;
  bundle.certificates_der.emplace_back(reinterpret_cast<const char*>(data), size);
  bundle.message_signature = ir::sigstore::MessageSignature{"SHA2_256", {}, std::string(64, '\1')};
  ir::sigstore::Policy policy;
  policy.certificate.identity_regexp = ".*";
  policy.certificate.issuer_regexp = ".*";
  policy.require_tlog = false;
  if (ir::sigstore::verify_bundle(bundle, ir::sigstore::Artifact::from_bytes("x"), *root, policy))
    std::abort();
  return 0;
}
