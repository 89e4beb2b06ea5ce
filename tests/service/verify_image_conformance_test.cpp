// verify-image bundle against material nobody on this project wrote: every
// case of the Sigstore conformance suite (tests/data/sigstore-conformance),
// each run twice, naming the artifact file and only its sha256 digest; and
// real signatures of Sigstore's production and staging services
// (tests/data/sigstore-fixtures). The built binary runs as the suite's
// harness would run it.
#include "ir/core/encoding.hpp"
#include "support/catch.hpp"
#include "support/step_runner.hpp"

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

using namespace ir;
using namespace ir::test;
namespace fs = std::filesystem;

namespace {

const fs::path testdata = fs::path(IRSTEPS_SOURCE_DIR) / "tests" / "data";
const fs::path conformance = testdata / "sigstore-conformance";
const fs::path fixtures = testdata / "sigstore-fixtures";

const std::string beacon_identity =
    "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/"
    "extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const std::string github_issuer = "https://token.actions.githubusercontent.com";

std::string slurp(const fs::path& path) {
  auto text = read_file(path.string());
  REQUIRE(text);
  return *text;
}

std::string trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) text.pop_back();
  return text;
}

std::string digest_of(const fs::path& path) {
  return "sha256:" + sha256_hex(slurp(path));
}

// The check each failing case must be rejected by: the message names it.
// A case rejected for some other reason would pass the suite by accident.
const std::map<std::string, std::string> expected_reason = {
    {"bundle-empty-certificate-chain_fail", "certificate chain is empty"},
    {"bundle-from-wrong-instance_fail", "is not in the trusted root"},
    {"bundle-invalid-base64-signature_fail", "not valid base64"},
    {"bundle-malformed-json_fail", "not valid JSON"},
    {"bundle-unknown-version_fail", "unsupported bundle media type"},
    {"bundle-with-root-cert_fail", "inclusion proof without a checkpoint"},
    {"checkpoint-bad-keyhint_fail", "checkpoint: no signature by the log's key"},
    {"dsse-invalid-sig_fail", "DSSE envelope: the signature does not verify"},
    {"dsse-mismatch-envelope_fail", "entry does not match the bundle: the payload digest differs"},
    {"inclusion-proof-corrupted-hash_fail", "inclusion proof: the computed root hash differs"},
    {"incorrect-public-key_fail", "entry does not match the bundle: the certificate differs"},
    {"intoto-expired-certificate_fail", "certificate: not valid at the signing time"},
    {"intoto-log-entry-mismatch_fail", "entry does not match the bundle: the signature differs"},
    {"intoto-missing-inclusion-proof_fail", "no inclusion proof"},
    {"intoto-tsa-timestamp-outside-cert-validity_fail", "certificate: not valid at the signing time"},
    {"invalid-checkpoint-signature_fail", "checkpoint: the log's signature does not verify"},
    {"invalid-ct-key_fail", "no embedded SCT is from a CT log of the trusted root"},
    {"invalid-inclusion-proof_fail", "inclusion proof: the computed root hash differs"},
    {"managed-key-no-key_fail", "signed with a key, not a certificate"},
    {"managed-key-wrong-key_fail", "parameter key: not a PEM public key"},
    {"message-digest-mismatch_fail", "message digest is not the artifact's SHA-256"},
    {"rekor2-checkpoint-missing-log-signature_fail", "checkpoint: no signature"},
    {"rekor2-checkpoint-missing-origin_fail", "checkpoint: needs origin, tree size and root hash"},
    {"rekor2-checkpoint-missing-root-hash_fail", "checkpoint: needs origin, tree size and root hash"},
    {"rekor2-checkpoint-no-matching-signature_fail", "checkpoint: the log's signature does not verify"},
    {"rekor2-dsse-invalid-sig_fail", "DSSE envelope: the signature does not verify"},
    {"rekor2-dsse-mismatch-envelope_fail", "the digest of the DSSE envelope differs"},
    {"rekor2-dsse-mismatch-sig_fail", "entry does not match the bundle: the signature differs"},
    {"rekor2-no-inclusion-proof_fail", "no inclusion proof"},
    {"rekor2-no-timestamp_fail", "no verified signing time"},
    {"rekor2-timestamp-outside-trust-root-tsa-validity_fail",
     "no timestamp authority of the trusted root is valid"},
    {"rekor2-timestamp-outside-tsa-cert-validity_fail", "certificate has expired"},
    {"rekor2-timestamp-payload-mismatch_fail", "is not over this signature"},
    {"rekor2-timestamp-untrusted-tsa-with-embedded-cert_fail",
     "not signed by a timestamp authority of the trusted root"},
    {"rekor2-timestamp-untrusted-tsa-without-embedded-cert_fail",
     "not signed by a timestamp authority of the trusted root"},
    {"set-invalid-signature_fail", "signed entry timestamp: the log's signature does not verify"},
    {"signature-mismatch_fail", "signature: does not verify over the artifact"},
    {"trust-root-tlog-missing-validity-start_fail", "validFor.start: missing"},
    {"wrong-hashedrekord-artifact_fail", "entry does not match the bundle: the artifact digest differs"},
    {"wrong-hashedrekord-entry_fail", "entry does not match the bundle: the artifact digest differs"},
    {"wrong-material_fail", "message digest is not the artifact's SHA-256"},
};

struct Case {
  std::string name;
  bool pass = false;
  fs::path dir;
  fs::path artifact;
};

std::vector<Case> read_cases() {
  std::vector<Case> cases;
  std::istringstream lines(slurp(conformance / "cases.tsv"));
  std::string line;
  std::getline(lines, line);  // the header
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    std::vector<std::string> fields;
    std::istringstream cells(line);
    for (std::string cell; std::getline(cells, cell, '\t');) fields.push_back(cell);
    REQUIRE(fields.size() >= 5);
    Case c;
    c.name = fields[0];
    c.pass = fields[1] == "pass";
    c.dir = conformance / "bundle-verify" / c.name;
    c.artifact = c.dir / fields[4];
    cases.push_back(std::move(c));
  }
  return cases;
}

std::vector<std::string> contract_args(const Case& c, const std::string& artifact) {
  std::vector<std::string> args{"bundle", "--bundle", (c.dir / "bundle.sigstore.json").string()};
  if (fs::exists(c.dir / "key.pub")) {
    args.insert(args.end(), {"--key", (c.dir / "key.pub").string()});
  } else {
    const std::string identity =
        fs::exists(c.dir / "identity") ? trimmed(slurp(c.dir / "identity")) : beacon_identity;
    const std::string issuer =
        fs::exists(c.dir / "issuer") ? trimmed(slurp(c.dir / "issuer")) : github_issuer;
    args.insert(args.end(), {"--certificate-identity", identity, "--certificate-oidc-issuer", issuer});
  }
  const fs::path root = fs::exists(c.dir / "trusted_root.json")
                            ? c.dir / "trusted_root.json"
                            : conformance / "production_trusted_root.json";
  args.insert(args.end(), {"--trusted-root", root.string(), artifact});
  return args;
}

std::string failure_message(const StepRun& run) {
  return string_at(run.result, {"error", "message"});
}

}  // namespace

TEST_CASE("verify-image bundle passes every Sigstore conformance case, by file and by digest",
          "[service][verify-image][testdata]") {
  const auto cases = read_cases();
  REQUIRE(cases.size() >= 58);
  for (const auto& c : cases) {
    for (const bool by_digest : {false, true}) {
      DYNAMIC_SECTION(c.name << (by_digest ? " (sha256 digest)" : " (file)")) {
        const std::string artifact = by_digest ? digest_of(c.artifact) : c.artifact.string();
        const auto run = run_step_binary("verify-image", contract_args(c, artifact));
        if (c.pass) {
          REQUIRE_EXIT(run, 0);
          CHECK(run.output("verdict") == "verified");
          CHECK(run.output("digest") == digest_of(c.artifact));
          CHECK_FALSE(run.output("log-indexes").empty());
        } else {
          INFO("message: " << failure_message(run));
          REQUIRE(run.exit_status != 0);
          // A malformed trust root or key is the operator's input (2);
          // everything about the bundle is a negative verdict (3).
          CHECK(run.exit_status ==
                (c.name.starts_with("trust-root-") || c.name == "managed-key-wrong-key_fail" ? 2 : 3));
          const auto reason = expected_reason.find(c.name);
          REQUIRE(reason != expected_reason.end());
          CHECK_THAT(failure_message(run), Catch::Contains(reason->second));
        }
      }
    }
  }
}

namespace {

std::string subject_digest(const fs::path& bundle) {
  auto doc = parse_json(slurp(bundle), "bundle");
  REQUIRE(doc);
  auto payload = base64_decode(string_at(*doc, {"dsseEnvelope", "payload"}));
  REQUIRE(payload);
  auto statement = parse_json(*payload, "statement");
  REQUIRE(statement);
  const auto& digest = statement->at("subject").at(0).at("digest").as_object();
  for (const char* algorithm : {"sha256", "sha512"}) {
    if (const auto* value = digest.if_contains(algorithm))
      return std::string(algorithm) + ":" + std::string(value->as_string());
  }
  FAIL("no sha256 or sha512 subject digest in " << bundle);
  return {};
}

StepRun verify(std::vector<std::string> args) {
  args.insert(args.begin(), "bundle");
  return run_step_binary("verify-image", std::move(args));
}

}  // namespace

TEST_CASE("verify-image bundle verifies sigstore-go's npm bundles and rejects two DSSE signatures",
          "[service][verify-image][testdata]") {
  const fs::path examples = fixtures / "sigstore-go" / "examples";
  const fs::path data = fixtures / "sigstore-go" / "pkg" / "testing" / "data";
  const std::string release =
      "https://github.com/sigstore/sigstore-js/.github/workflows/release.yml@refs/heads/main";

  SECTION("npm provenance (v0.1, the whole chain in the bundle: a warning, never trusted)") {
    const auto bundle = examples / "bundle-provenance.json";
    const auto run = verify({"--bundle", bundle.string(), "--certificate-identity", release,
                             "--certificate-oidc-issuer", github_issuer, "--trusted-root",
                             (examples / "trusted-root-public-good.json").string(), subject_digest(bundle)});
    REQUIRE_EXIT(run, 0);
    CHECK(run.output("signers") == release);
    CHECK(run.output("issuers") == github_issuer);
    CHECK_THAT(run.all_text(), Catch::Contains("root certificate"));
  }
  SECTION("the same with the built-in public-good root") {
    const auto bundle = data / "bundles" / "sigstore.js@2.0.0-provenance.sigstore.json";
    const auto run = verify({"--bundle", bundle.string(), "--certificate-identity", release,
                             "--certificate-oidc-issuer", github_issuer, subject_digest(bundle)});
    REQUIRE_EXIT(run, 0);
  }
  SECTION("npm publish attestation signed with a key") {
    const auto bundle = examples / "bundle-publish.json";
    const auto run = verify({"--bundle", bundle.string(), "--key", (examples / "publish_key.pub").string(),
                             "--trusted-root", (examples / "trusted-root-public-good.json").string(),
                             subject_digest(bundle)});
    REQUIRE_EXIT(run, 0);
    CHECK_THAT(run.output("signers"), Catch::StartsWith("key sha256:"));
  }
  SECTION("a SAN of type otherName") {
    const auto bundle = data / "bundles" / "othername.sigstore.json";
    auto doc = parse_json(slurp(bundle), "bundle");
    REQUIRE(doc);
    auto digest = base64_decode(string_at(*doc, {"messageSignature", "messageDigest", "digest"}));
    REQUIRE(digest);
    const auto run =
        verify({"--bundle", bundle.string(), "--certificate-identity", "foo!oidc.local",
                "--certificate-oidc-issuer-regexp", ".*", "--trusted-root",
                (data / "trusted-roots" / "scaffolding.json").string(), "sha256:" + hex_encode(*digest)});
    REQUIRE_EXIT(run, 0);
  }
  SECTION("a DSSE envelope with two signatures") {
    const auto bundle = data / "bundles" / "dsse-2sigs.sigstore.json";
    const auto run = verify({"--bundle", bundle.string(), "--certificate-identity", "brian@dehamer.com",
                             "--certificate-oidc-issuer-regexp", ".*", "--trusted-root",
                             (data / "trusted-roots" / "public-good.json").string(), subject_digest(bundle)});
    REQUIRE_EXIT(run, 3);
    CHECK_THAT(failure_message(run), Catch::Contains("exactly one is allowed"));
  }
  SECTION("its one-signature twin verifies") {
    const auto bundle = data / "bundles" / "dsse.sigstore.json";
    const auto run = verify({"--bundle", bundle.string(), "--certificate-identity", "brian@dehamer.com",
                             "--certificate-oidc-issuer-regexp", ".*", "--trusted-root",
                             (data / "trusted-roots" / "public-good.json").string(), subject_digest(bundle)});
    REQUIRE_EXIT(run, 0);
  }
}

TEST_CASE("verify-image bundle: sigstore-python's staging bundles verify against staging, never production",
          "[service][verify-image][testdata]") {
  const fs::path assets = fixtures / "sigstore-python" / "test" / "assets";
  const fs::path roots = fixtures / "sigstore-python" / "trusted-roots";
  struct Signed {
    std::string artifact;
    std::string bundle;
    std::string identity;
  };
  for (const Signed& s :
       {Signed{"bundle.txt", "bundle.txt.sigstore", "a@tny.town"},
        Signed{"bundle_v3.txt", "bundle_v3.txt.sigstore", "william@yossarian.net"},
        Signed{"staging-rekor-v2.txt", "staging-rekor-v2.txt.sigstore.json", "jku@goto.fi"}}) {
    DYNAMIC_SECTION(s.bundle) {
      std::vector<std::string> args{"--bundle",
                                    (assets / s.bundle).string(),
                                    "--certificate-identity",
                                    s.identity,
                                    "--certificate-oidc-issuer",
                                    "https://github.com/login/oauth",
                                    (assets / s.artifact).string()};
      auto staging = args;
      staging.insert(staging.end(), {"--trusted-root", (roots / "staging.trusted_root.json").string()});
      REQUIRE_EXIT(verify(staging), 0);
      auto production = args;
      production.insert(production.end(),
                        {"--trusted-root", (roots / "production.trusted_root.json").string()});
      const auto against_production = verify(production);
      REQUIRE_EXIT(against_production, 3);
      CHECK_THAT(failure_message(against_production), Catch::Contains("is not in the trusted root"));
      // The built-in default is the production root.
      REQUIRE_EXIT(verify(args), 3);
      // A different identity is refused even under the right root.
      staging[3] = "mallory@example.com";
      const auto stranger = verify(staging);
      REQUIRE_EXIT(stranger, 3);
      CHECK_THAT(failure_message(stranger), Catch::Contains("certificate identity"));
    }
  }
}

TEST_CASE("verify-image bundle: cosign's OCI attestation binds the image digest, identity and issuer",
          "[service][verify-image][testdata]") {
  const fs::path cosign = fixtures / "cosign";
  const std::string subject = "sha256:732112270d7e59418a8c080b134b24cabd67d250d0d0147a97ed95ba5c280aa4";
  // The subject digest really is the reconstructed manifest's.
  REQUIRE(digest_of(cosign / "subject-image-manifest.reconstructed.json") == subject);
  std::vector<std::string> args{"--bundle",
                                (cosign / "oci-attestation.sigstore.json").string(),
                                "--certificate-identity",
                                "cody@soyland.com",
                                "--certificate-oidc-issuer",
                                "https://github.com/login/oauth",
                                "--trusted-root",
                                (cosign / "trusted_root_pgi.json").string(),
                                subject};
  const auto good = verify(args);
  REQUIRE_EXIT(good, 0);
  CHECK(good.output("signers") == "cody@soyland.com");
  CHECK(good.output("digest") == subject);

  auto other_image = args;
  other_image.back() = "sha256:" + std::string(64, '0');
  const auto wrong_subject = verify(other_image);
  REQUIRE_EXIT(wrong_subject, 3);
  CHECK_THAT(failure_message(wrong_subject), Catch::Contains("no subject of the in-toto statement"));

  auto other_issuer = args;
  other_issuer[5] = "https://accounts.google.com";
  const auto wrong_issuer = verify(other_issuer);
  REQUIRE_EXIT(wrong_issuer, 3);
  CHECK_THAT(failure_message(wrong_issuer), Catch::Contains("certificate issuer"));

  auto pattern = args;
  pattern[2] = "--certificate-identity-regexp";
  pattern[3] = "cody@soyland\\.com";
  REQUIRE_EXIT(verify(pattern), 0);
  pattern[3] = "cody@soyland";  // a pattern must match the whole identity
  REQUIRE_EXIT(verify(pattern), 3);
}

TEST_CASE("verify-image bundle: bad input is exit 2 naming the parameter", "[service][verify-image]") {
  const auto no_identity = verify({"--bundle", "/nonexistent", "sha256:" + std::string(64, 'a')});
  REQUIRE_EXIT(no_identity, 2);
  CHECK_THAT(failure_message(no_identity), Catch::Contains("--certificate-identity"));
  const auto bad_digest = verify({"--bundle", "/nonexistent", "--key", "/nonexistent", "sha256:ABC"});
  REQUIRE_EXIT(bad_digest, 2);
  CHECK_THAT(failure_message(bad_digest), Catch::Contains("artifact"));
  const auto missing_bundle = verify({"--bundle", "/nonexistent/bundle.json", "--certificate-identity", "a",
                                      "--certificate-oidc-issuer", "b", "sha256:" + std::string(64, 'a')});
  REQUIRE_EXIT(missing_bundle, 2);
  CHECK_THAT(failure_message(missing_bundle), Catch::Contains("bundle"));
  const auto both = verify({"--bundle", "b", "--certificate-identity", "a", "--certificate-identity-regexp",
                            "a", "--certificate-oidc-issuer", "b", "sha256:" + std::string(64, 'a')});
  REQUIRE_EXIT(both, 2);
}
