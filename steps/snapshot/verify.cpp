// snapshot verify DIR [--key PUB]: re-hash a folder against its manifest and
// check the manifest's signature.
#include "ir/crypto/signing.hpp"
#include "snapshot.hpp"

namespace ir::steps::snapshot {

Result<void> verify(const Options& options, Context& context) {
  // manifest.json is read once: the signature is checked over the very bytes
  // whose items are re-hashed and whose hash is reported. Read twice, the
  // file could be swapped in between (security review finding 18).
  auto manifest = read_file(options.verify_dir + "/manifest.json");
  if (!manifest) return manifest.error().with("verify " + options.verify_dir);
  auto manifest_sha = evidence::verify_manifest(options.verify_dir, *manifest);
  if (!manifest_sha) return manifest_sha.error().with("verify " + options.verify_dir);
  Report& report = context.report();
  if (!options.verify_key.empty()) {
    auto key = read_file(options.verify_key);
    if (!key) return key.error().with("parameter key");
    auto signature = read_file(options.verify_dir + "/manifest.json.sig");
    if (!signature)
      return Error(Code::rejected, "the folder has no manifest.json.sig")
          .with("verify " + options.verify_dir);
    if (auto checked = crypto::verify_blob(*manifest, *signature, *key); !checked) {
      return checked.error().with("signature of " + options.verify_dir + "/manifest.json");
    }
    report.set_output("signature", "verified");
  }
  report.set_output("manifest-sha256", *manifest_sha);
  report.set_output("verified", "true");
  return {};
}

}  // namespace ir::steps::snapshot
