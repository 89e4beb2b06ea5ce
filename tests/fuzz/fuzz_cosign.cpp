// cosign's legacy signature layers: a simple-signing payload and the
// annotations beside it (signature, certificate PEM, chain, Rekor bundle),
// split from one input at NUL bytes.
#include "ir/sigstore/cosign.hpp"

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> parts;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= text.size(); ++i) {
    if (i == text.size() || text[i] == '\0') {
      parts.emplace_back(text.substr(start, i - start));
      start = i + 1;
    }
  }
  parts.resize(5);
  namespace cosign = ir::sigstore::cosign;
  (void)cosign::parse_simple_signing(parts[0]);
  const std::map<std::string, std::string> annotations = {
      {std::string(cosign::signature_annotation), parts[1]},
      {std::string(cosign::certificate_annotation), parts[2]},
      {std::string(cosign::chain_annotation), parts[3]},
      {std::string(cosign::bundle_annotation), parts[4]}};
  (void)cosign::bundle_from_annotations(annotations, parts[0]);
  return 0;
}
