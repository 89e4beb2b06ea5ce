// Bundle and trusted-root parsing: the shapes of every bundle version, and
// the malformed inputs that must be refused before any cryptography.
#include "ir/sigstore/bundle.hpp"

#include "ir/sigstore/trusted_root.hpp"
#include "ir/sigstore/verify.hpp"
#include "support/catch.hpp"

using namespace ir;
using namespace ir::sigstore;

namespace {
const std::string cert_b64 = "MIIB";  // shape only: parsing does not read certificates
const std::string message =
    R"("messageSignature":{"messageDigest":{"algorithm":"SHA2_256","digest":"AAAA"},"signature":"AQID"})";

std::string bundle_with(const std::string& media_type, const std::string& material,
                        const std::string& content = message) {
  return R"({"mediaType":")" + media_type + R"(","verificationMaterial":{)" + material + "}," + content + "}";
}
}  // namespace

TEST_CASE("bundles of v0.1, v0.2 and v0.3 under both media-type spellings parse", "[unit][sigstore]") {
  const std::string chain = R"("x509CertificateChain":{"certificates":[{"rawBytes":")" + cert_b64 + R"("}]})";
  for (const auto& [type, minor] : {std::pair{"application/vnd.dev.sigstore.bundle+json;version=0.1", 1},
                                    std::pair{"application/vnd.dev.sigstore.bundle+json;version=0.2", 2}}) {
    auto bundle = parse_bundle(bundle_with(type, chain));
    REQUIRE(bundle);
    CHECK(bundle->minor_version == minor);
    CHECK(bundle->certificates_der.size() == 1);
    REQUIRE(bundle->message_signature);
    CHECK(bundle->message_signature->signature == "\x01\x02\x03");
  }
  const std::string single = R"("certificate":{"rawBytes":")" + cert_b64 + R"("})";
  for (const char* type : {"application/vnd.dev.sigstore.bundle+json;version=0.3",
                           "application/vnd.dev.sigstore.bundle.v0.3+json"}) {
    auto bundle = parse_bundle(bundle_with(type, single));
    REQUIRE(bundle);
    CHECK(bundle->minor_version == 3);
  }
  auto keyed = parse_bundle(bundle_with("application/vnd.dev.sigstore.bundle.v0.3+json",
                                        R"("publicKey":{"hint":"abc"},"tlogEntries":[])"));
  REQUIRE(keyed);
  CHECK(keyed->has_public_key);
  auto dsse = parse_bundle(
      bundle_with("application/vnd.dev.sigstore.bundle.v0.3+json", single,
                  R"("dsseEnvelope":{"payload":"e30=","payloadType":"t","signatures":[{"sig":"AQ=="}]})"));
  REQUIRE(dsse);
  REQUIRE(dsse->dsse);
  CHECK(dsse->dsse->payload == "{}");
}

TEST_CASE("malformed bundles are rejected with what is wrong", "[unit][sigstore]") {
  const std::string v3 = "application/vnd.dev.sigstore.bundle.v0.3+json";
  const std::string single = R"("certificate":{"rawBytes":")" + cert_b64 + R"("})";
  struct Bad {
    std::string text;
    std::string says;
  };
  for (const auto& bad : {
           Bad{bundle_with("application/vnd.dev.sigstore.bundle+json;version=0.4", single), "media type"},
           Bad{bundle_with("application/vnd.dev.sigstore.bundle+json;version=0.1",
                           R"("x509CertificateChain":{"certificates":[]})"),
               "chain is empty"},
           Bad{bundle_with(v3, R"("x509CertificateChain":{"certificates":[]})"), "one certificate"},
           Bad{bundle_with(v3, single, R"("messageSignature":{"signature":"!!"})"), "base64"},
           Bad{bundle_with(v3, single, message + "," + R"("dsseEnvelope":{})"), "exactly one"},
           Bad{bundle_with(v3, single + R"(,"tlogEntries":[{"logIndex":"-1"}])"), "logIndex"},
           Bad{"{", "JSON"},
       }) {
    auto parsed = parse_bundle(bad.text);
    REQUIRE_FALSE(parsed);
    CHECK(parsed.error().code() == Code::rejected);
    CHECK_THAT(parsed.error().describe(), Catch::Contains(bad.says));
  }
}

TEST_CASE("DSSE PAE is the length-prefixed encoding of the DSSE spec", "[unit][sigstore]") {
  CHECK(dsse_pae("http://example.com/HelloWorld", "hello world") ==
        "DSSEv1 29 http://example.com/HelloWorld 11 hello world");
}

TEST_CASE("the built-in trusted root parses, a root without a validity start is refused",
          "[unit][sigstore]") {
  auto root = parse_trusted_root(public_good_trusted_root(), "built-in");
  REQUIRE(root);
  CHECK_FALSE(root->tlogs.empty());
  CHECK_FALSE(root->ctlogs.empty());
  CHECK_FALSE(root->certificate_authorities.empty());

  auto text = std::string(public_good_trusted_root());
  const auto start = text.find("\"start\"");
  REQUIRE(start != std::string::npos);
  text.replace(start, 7, "\"begin\"");
  auto broken = parse_trusted_root(text, "edited");
  REQUIRE_FALSE(broken);
  CHECK(broken.error().code() == Code::invalid_input);
  CHECK_THAT(broken.error().describe(), Catch::Contains("validFor.start: missing"));
}

TEST_CASE("artifact digests and identity patterns", "[unit][sigstore]") {
  CHECK(Artifact::from_digest("sha256:" + std::string(64, 'a')));
  CHECK(Artifact::from_digest("sha512:" + std::string(128, '0')));
  CHECK_FALSE(Artifact::from_digest("sha256:" + std::string(63, 'a')));
  CHECK_FALSE(Artifact::from_digest("sha256:" + std::string(64, 'A')));
  CHECK_FALSE(Artifact::from_digest("md5:" + std::string(32, 'a')));

  CertificatePolicy policy;
  policy.identity_regexp = R"(https://github\.com/acme/.*)";
  CHECK(
      *identity_matches(policy, "https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main"));
  // Full match: a prefix is not enough, nor is the pattern found inside.
  CHECK_FALSE(*identity_matches(policy, "https://evil.example/https://github.com/acme/x"));
  policy.identity_regexp = "(";
  CHECK_FALSE(identity_matches(policy, "x"));

  CHECK(identity_pattern_warning(R"(^https://github\.com/acme/.*)").empty());
  CHECK_FALSE(identity_pattern_warning("https://github.com/acme/.*").empty());
  CHECK_FALSE(identity_pattern_warning("https://.*github\\.com/acme/.*").empty());
}
