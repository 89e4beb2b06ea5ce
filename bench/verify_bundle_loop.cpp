// The library's bundle verification in one process, for bench/verify-image.sh
// to set next to sigstore-js in one process (tests/sigstore-js/verify.js
// --repeat): each round reads the files, parses the trusted root and the
// bundle and verifies, the same work as one `verify-image bundle` run without
// the process start. With --trust-once true the trusted root is read once
// before the rounds, as a verifier that serves many requests holds it (the
// executor plugin; sigstore-js's Verifier). Prints the rounds' times in
// milliseconds as a JSON array.
//   verify-bundle-loop --repeat N [--trust-once true] --bundle F
//     --certificate-identity I --certificate-oidc-issuer U --trusted-root T
//     ARTIFACT_FILE_OR_sha256:HEX
#include "ir/core/json.hpp"
#include "ir/sigstore/bundle.hpp"
#include "ir/sigstore/trusted_root.hpp"
#include "ir/sigstore/verify.hpp"

#include <chrono>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace {

int fail(const std::string& message) {
  std::cerr << "verify-bundle-loop: " << message << "\n";
  return 1;
}

ir::Result<void> verify_once(const std::map<std::string, std::string>& flags, const std::string& artifact_arg,
                             const std::optional<ir::sigstore::TrustedRoot>& held) {
  using namespace ir;
  auto root =
      held ? Result<sigstore::TrustedRoot>(*held) : sigstore::load_trusted_root(flags.at("trusted-root"));
  if (!root) return root.error();
  auto text = read_file(flags.at("bundle"));
  if (!text) return text.error();
  auto bundle = sigstore::parse_bundle(*text);
  if (!bundle) return bundle.error();
  Result<sigstore::Artifact> artifact = Error(Code::internal, "no artifact");
  if (artifact_arg.starts_with("sha256:")) {
    artifact = sigstore::Artifact::from_digest(artifact_arg);
  } else {
    auto bytes = read_file(artifact_arg);
    if (!bytes) return bytes.error();
    artifact = sigstore::Artifact::from_bytes(std::move(*bytes));
  }
  if (!artifact) return artifact.error();
  sigstore::Policy policy;
  policy.certificate.identity = flags.at("certificate-identity");
  policy.certificate.issuer = flags.at("certificate-oidc-issuer");
  auto verified = sigstore::verify_bundle(*bundle, *artifact, *root, policy);
  if (!verified) return verified.error();
  return {};
}

}  // namespace

int main(int argc, char** argv) {
  std::map<std::string, std::string> flags;
  std::string artifact;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.starts_with("--")) {
      if (i + 1 >= argc) return fail(arg + " needs a value");
      flags[arg.substr(2)] = argv[++i];
    } else {
      artifact = arg;
    }
  }
  for (const char* needed :
       {"repeat", "bundle", "certificate-identity", "certificate-oidc-issuer", "trusted-root"}) {
    if (!flags.contains(needed)) return fail(std::string("--") + needed + " is needed");
  }
  if (artifact.empty()) return fail("give the artifact: a file or sha256:HEX");
  const int repeat = std::stoi(flags.at("repeat"));
  std::optional<ir::sigstore::TrustedRoot> held;
  if (flags.contains("trust-once") && flags.at("trust-once") == "true") {
    auto root = ir::sigstore::load_trusted_root(flags.at("trusted-root"));
    if (!root) return fail(root.error().describe());
    held = std::move(*root);
  }
  std::vector<double> times;
  for (int i = 0; i < repeat; ++i) {
    const auto start = std::chrono::steady_clock::now();
    if (auto ok = verify_once(flags, artifact, held); !ok) return fail("rejected: " + ok.error().describe());
    times.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  std::cout << "[";
  for (std::size_t i = 0; i < times.size(); ++i) std::cout << (i == 0 ? "" : ",") << times[i];
  std::cout << "]\n";
  return 0;
}
