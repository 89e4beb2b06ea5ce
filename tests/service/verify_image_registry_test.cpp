// verify-image IMAGE against Debian's docker-registry on 127.0.0.1, with
// signatures the tests make the way cosign makes them: a private Sigstore
// (tests/support/sigstore-sign.py: a Fulcio-like CA with an intermediate, a
// CT log key for embedded SCTs, a Rekor key for Signed Entry Timestamps,
// inclusion proofs and checkpoints, an RFC 3161 timestamp authority run by
// `openssl ts`, and the trusted root that trusts them),
// legacy sha256-<hex>.sig manifests and v0.3 bundles attached as referrers.
// Each rejection test breaks exactly one check and expects that check to be
// named. The real cosign attestation of tests/data/sigstore-fixtures
// is attached to its reconstructed subject image and verified too.
#include "ir/core/encoding.hpp"
#include "ir/core/time.hpp"
#include "ir/sigstore/cosign.hpp"
#include "service/registry_fixture.hpp"
#include "support/catch.hpp"
#include "support/http_server.hpp"
#include "support/skip.hpp"
#include "support/step_runner.hpp"

#include <boost/json.hpp>

#include <filesystem>

using namespace ir;
using namespace ir::test;
namespace fs = std::filesystem;

namespace {

const std::string identity = "https://github.com/irsteps/app/.github/workflows/release.yml@refs/heads/main";
const std::string issuer = "https://token.actions.githubusercontent.com";
const std::string signer_script = std::string(IRSTEPS_SOURCE_DIR) + "/tests/support/sigstore-sign.py";

bool have_signer() {
  auto found = run_process({"/usr/bin/python3", "-c", "import cryptography"});
  if (found && found->exit_status == 0) return true;
  skip_test("python3-cryptography is not installed (scripts/install-deps.sh)");
  return false;
}

std::string run_signer(std::vector<std::string> args) {
  args.insert(args.begin(), {"/usr/bin/python3", signer_script});
  auto out = run_process(args);
  REQUIRE(out);
  INFO(out->err);
  REQUIRE(out->exit_status == 0);
  return out->out;
}

// A private Sigstore in a folder of its own.
class TestSigstore {
 public:
  TestSigstore() { run_signer({"init", dir_.path()}); }
  [[nodiscard]] std::string trusted_root() const { return dir_ / "trusted_root.json"; }

  // The annotations of a legacy signature layer over `payload`.
  [[nodiscard]] std::map<std::string, std::string> legacy(const std::string& payload,
                                                          std::vector<std::string> how) const {
    const std::string file = dir_ / ("payload-" + std::to_string(counter_++));
    REQUIRE(write_file_atomic(file, payload));
    std::vector<std::string> args{"legacy", dir_.path(), "--payload", file};
    args.insert(args.end(), how.begin(), how.end());
    auto doc = parse_json(run_signer(args), "annotations");
    REQUIRE(doc);
    std::map<std::string, std::string> annotations;
    for (const auto& [key, value] : doc->as_object())
      annotations[std::string(key)] = std::string(value.as_string());
    return annotations;
  }

  [[nodiscard]] std::string bundle(const std::string& digest, std::vector<std::string> how) const {
    std::vector<std::string> args{"bundle", dir_.path(), "--digest", digest};
    args.insert(args.end(), how.begin(), how.end());
    return run_signer(args);
  }

  [[nodiscard]] const TempDir& dir() const { return dir_; }

 private:
  TempDir dir_;
  mutable int counter_ = 0;
};

std::vector<std::string> keyless(const std::string& who = identity, const std::string& broken = "") {
  std::vector<std::string> how{"--identity", who, "--issuer", issuer};
  if (!broken.empty()) how.insert(how.end(), {"--break", broken});
  return how;
}

// cosign's simple-signing payload for `digest`.
std::string simple_signing(const std::string& reference, const std::string& digest,
                           const boost::json::object& optional = {}) {
  boost::json::object critical{{"identity", {{"docker-reference", reference}}},
                               {"image", {{"docker-manifest-digest", digest}}},
                               {"type", "cosign container image signature"}};
  boost::json::object payload{{"critical", critical}};
  if (!optional.empty()) payload["optional"] = optional;
  return boost::json::serialize(payload);
}

struct Layer {
  std::string payload;
  std::map<std::string, std::string> annotations;
};

// The sha256-<hex>.sig manifest with one simple-signing layer per signature.
void push_legacy(oci::Registry& registry, const std::string& repository, const std::string& digest,
                 const std::vector<Layer>& layers) {
  const std::string config = R"({"architecture":"","os":"","rootfs":{"type":"layers","diff_ids":[]}})";
  auto config_digest = registry.push_blob(repository, config);
  REQUIRE(config_digest);
  boost::json::array entries;
  for (const auto& layer : layers) {
    auto blob = registry.push_blob(repository, layer.payload);
    REQUIRE(blob);
    boost::json::object annotations;
    for (const auto& [key, value] : layer.annotations) annotations[key] = value;
    entries.push_back({{"mediaType", sigstore::cosign::simple_signing_media_type},
                       {"digest", *blob},
                       {"size", layer.payload.size()},
                       {"annotations", annotations}});
  }
  const boost::json::object manifest{{"schemaVersion", 2},
                                     {"mediaType", oci::media::oci_manifest},
                                     {"config",
                                      {{"mediaType", "application/vnd.oci.image.config.v1+json"},
                                       {"digest", *config_digest},
                                       {"size", config.size()}}},
                                     {"layers", entries}};
  REQUIRE(registry.push_manifest(repository, sigstore::cosign::signature_tag(digest),
                                 oci::media::oci_manifest, boost::json::serialize(manifest)));
}

// A registry with one image, "app:1.0", pushed to it.
struct Scene {
  explicit Scene(RegistrySetup setup = {}) : local(setup) {
    oci::RegistryOptions options;
    options.plain_http = !setup.tls;
    options.ca_pem = local.ca_pem();
    options.credentials.username = setup.username;
    options.credentials.password = Secret(setup.password);
    client = std::make_unique<oci::Registry>(local.host(), options);
    image = push_image(*client, "irsteps/app", "1.0");
  }
  [[nodiscard]] std::string reference() const { return local.host() + "/irsteps/app:1.0"; }
  [[nodiscard]] std::string payload(const boost::json::object& optional = {}) const {
    return simple_signing(local.host() + "/irsteps/app", image.digest, optional);
  }
  void sign_legacy(const std::vector<Layer>& layers) {
    push_legacy(*client, "irsteps/app", image.digest, layers);
  }

  LocalRegistry local;
  std::unique_ptr<oci::Registry> client;
  PushedImage image;
  TestSigstore sigstore;
};

StepRun verify(const Scene& scene, std::vector<std::string> args) {
  std::vector<std::string> argv{scene.reference(), "--trusted-root", scene.sigstore.trusted_root(),
                                "--allow-http-registry"};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_step_binary("verify-image", argv);
}

std::vector<std::string> expect_identity(const std::string& who = identity) {
  return {"--certificate-identity", who, "--certificate-oidc-issuer", issuer};
}

// verify-image against the signer's identity and issuer, and `extra`.
StepRun verify_as_signed(const Scene& scene, const std::vector<std::string>& extra) {
  auto args = expect_identity();
  args.insert(args.end(), extra.begin(), extra.end());
  return verify(scene, args);
}

}  // namespace

TEST_CASE("verify-image IMAGE: a keyless cosign signature found by the .sig tag verifies, in four requests",
          "[service][verify-image][registry]") {
  if (!have_docker_registry() || !have_signer()) return;
  Scene scene;
  const auto payload = scene.payload();
  scene.sign_legacy({{payload, scene.sigstore.legacy(payload, keyless())}});
  const auto run = verify(scene, expect_identity());
  REQUIRE_EXIT(run, 0);
  CHECK(run.output("verdict") == "verified");
  CHECK(run.output("digest") == scene.image.digest);
  CHECK(run.output("image") == scene.local.host() + "/irsteps/app:1.0@" + scene.image.digest);
  CHECK(run.output("signers") == identity);
  CHECK(run.output("issuers") == issuer);
  CHECK(run.output("log-indexes") == "0");
  CHECK(run.output("signatures-verified") == "1");
  // /v2/, the tag, the .sig manifest and its one payload blob.
  CHECK(std::stoi(run.output("registry-requests")) <= 4);

  SECTION("the same by digest, and with an identity pattern") {
    const auto by_digest = run_step_binary(
        "verify-image",
        {scene.local.host() + "/irsteps/app@" + scene.image.digest, "--trusted-root",
         scene.sigstore.trusted_root(), "--allow-http-registry", "--certificate-identity-regexp",
         R"(https://github\.com/irsteps/app/\.github/workflows/.*)", "--certificate-oidc-issuer", issuer});
    REQUIRE_EXIT(by_digest, 0);
    CHECK(by_digest.output("digest") == scene.image.digest);
  }
  SECTION("another identity or issuer is rejected, naming it") {
    const auto other =
        verify(scene, expect_identity("https://github.com/evil/app/.github/workflows/x.yml@refs/heads/main"));
    REQUIRE_EXIT(other, 3);
    CHECK(other.err.find("certificate identity") != std::string::npos);
    CHECK(other.output("verdict") == "rejected");
    const auto wrong_issuer = verify(scene, {"--certificate-identity", identity, "--certificate-oidc-issuer",
                                             "https://accounts.google.com"});
    REQUIRE_EXIT(wrong_issuer, 3);
    CHECK(wrong_issuer.err.find("certificate issuer") != std::string::npos);
  }
  SECTION("the public-good root does not trust a private CA") {
    const auto run_default =
        run_step_binary("verify-image", {scene.reference(), "--allow-http-registry", "--certificate-identity",
                                         identity, "--certificate-oidc-issuer", issuer});
    REQUIRE_EXIT(run_default, 3);
    CHECK(run_default.err.find("is not in the trusted root") != std::string::npos);
  }
}

TEST_CASE("verify-image IMAGE: each broken part of a legacy signature is rejected by its own check",
          "[service][verify-image][registry]") {
  if (!have_docker_registry() || !have_signer()) return;
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"signature", "signature: does not verify"},
      {"eku", "no code-signing extended key usage"},
      {"sct", "SCT's signature does not verify"},
      {"sct-log", "no embedded SCT is from a CT log of the trusted root"},
      {"set", "signed entry timestamp: the log's signature does not verify"},
      {"body", "entry does not match the bundle: the signature differs"},
      {"expired", "certificate: not valid at the signing time"},
      {"ca", "certificate chain"},
  };
  Scene scene;
  for (const auto& [broken, reason] : cases) {
    DYNAMIC_SECTION("break " << broken) {
      const auto payload = scene.payload();
      scene.sign_legacy({{payload, scene.sigstore.legacy(payload, keyless(identity, broken))}});
      const auto run = verify(scene, expect_identity());
      REQUIRE_EXIT(run, 3);
      CHECK(run.err.find(reason) != std::string::npos);
      CHECK(run.output("signatures-found") == "1");
      CHECK(run.output("signatures-verified") == "0");
    }
  }
  SECTION("a valid signature copied from another image is refused by the payload's digest") {
    const std::string other_digest = "sha256:" + sha256_hex("another image");
    const auto payload = simple_signing(scene.local.host() + "/irsteps/app", other_digest);
    scene.sign_legacy({{payload, scene.sigstore.legacy(payload, keyless())}});
    const auto run = verify(scene, expect_identity());
    REQUIRE_EXIT(run, 3);
    CHECK(run.err.find("the payload signs " + other_digest) != std::string::npos);
  }
  SECTION("no signature at all") {
    const auto run = verify(scene, expect_identity());
    REQUIRE_EXIT(run, 3);
    CHECK(run.err.find("no signatures on") != std::string::npos);
  }
  SECTION("security review finding 6: a threshold that would wrap to 0, or is 0 or less, is bad input") {
    for (const std::string threshold : {"4294967296", "18446744073709551616", "0", "-1"}) {
      INFO(threshold);
      auto args = expect_identity();
      args.insert(args.end(), {"--threshold", threshold});
      const auto run = verify(scene, args);
      REQUIRE_EXIT(run, 2);
      CHECK(run.err.find("threshold") != std::string::npos);
      CHECK(run.output("verdict") != "verified");
    }
  }
}

TEST_CASE("verify-image IMAGE: key-signed signatures, the transparency log, threshold and annotations",
          "[service][verify-image][registry]") {
  if (!have_docker_registry() || !have_signer()) return;
  Scene scene;
  const std::string private_key = scene.sigstore.dir() / "cosign.key";
  const std::string public_key = scene.sigstore.dir() / "cosign.pub";
  run_signer({"keypair", private_key, public_key});

  SECTION("--key with a Rekor entry") {
    const auto payload = scene.payload();
    scene.sign_legacy({{payload, scene.sigstore.legacy(payload, {"--key", private_key})}});
    const auto run = verify(scene, {"--key", public_key});
    REQUIRE_EXIT(run, 0);
    CHECK(run.output("signers").starts_with("key sha256:"));
    // The certificate flags make no sense with a key.
    const auto both = verify(scene, {"--key", public_key, "--certificate-identity", identity});
    REQUIRE_EXIT(both, 2);
  }
  SECTION("without a transparency-log entry only --insecure-ignore-tlog accepts it") {
    const auto payload = scene.payload();
    scene.sign_legacy({{payload, scene.sigstore.legacy(payload, {"--key", private_key, "--no-tlog"})}});
    const auto strict = verify(scene, {"--key", public_key});
    REQUIRE_EXIT(strict, 3);
    CHECK(strict.err.find("no transparency log entry") != std::string::npos);
    const auto lax = verify(scene, {"--key", public_key, "--insecure-ignore-tlog"});
    REQUIRE_EXIT(lax, 0);
    CHECK(lax.err.find("insecure-ignore-tlog") != std::string::npos);
  }
  SECTION("--threshold counts distinct signers") {
    const std::string second = "https://github.com/irsteps/app/.github/workflows/audit.yml@refs/heads/main";
    const auto payload = scene.payload();
    scene.sign_legacy({{payload, scene.sigstore.legacy(payload, keyless())},
                       {payload, scene.sigstore.legacy(payload, keyless())},
                       {payload, scene.sigstore.legacy(payload, keyless(second))}});
    const std::vector<std::string> any_workflow{"--certificate-identity-regexp",
                                                R"(https://github\.com/irsteps/app/\.github/workflows/.*)",
                                                "--certificate-oidc-issuer", issuer};
    auto args = any_workflow;
    args.insert(args.end(), {"--threshold", "2"});
    const auto two = verify(scene, args);
    REQUIRE_EXIT(two, 0);
    CHECK(two.output("signatures-verified") == "3");
    CHECK(two.output("signers") == identity + "," + second);
    args = any_workflow;
    args.insert(args.end(), {"--threshold", "3"});
    const auto three = verify(scene, args);
    REQUIRE_EXIT(three, 3);
    CHECK(three.err.find("2 distinct signers verified among 3 signatures") != std::string::npos);
  }
  SECTION("--annotation must be among the signed annotations") {
    const auto payload = scene.payload({{"env", "prod"}, {"team", "payments"}});
    scene.sign_legacy({{payload, scene.sigstore.legacy(payload, keyless())}});
    auto args = expect_identity();
    args.insert(args.end(), {"--annotation", "env=prod", "--annotation", "team=payments"});
    REQUIRE_EXIT(verify(scene, args), 0);
    args = expect_identity();
    args.insert(args.end(), {"--annotation", "env=staging"});
    const auto wrong = verify(scene, args);
    REQUIRE_EXIT(wrong, 3);
    CHECK(wrong.err.find("annotation env: signed as 'prod', not 'staging'") != std::string::npos);
  }
}

TEST_CASE("verify-image IMAGE: Sigstore bundles attached as OCI referrers",
          "[service][verify-image][registry]") {
  if (!have_docker_registry() || !have_signer()) return;
  Scene scene;
  // As cosign attaches a bundle to a registry without the referrers API.
  const auto attach = [&](const std::string& bundle) {
    push_referrers_tag(*scene.client, "irsteps/app", scene.image.digest,
                       {push_artifact(*scene.client, "irsteps/app", scene.image,
                                      std::string(sigstore::cosign::bundle_media_type), bundle)});
  };
  SECTION("a keyless bundle with promise, inclusion proof and checkpoint verifies") {
    attach(scene.sigstore.bundle(scene.image.digest, keyless()));
    const auto run = verify(scene, expect_identity());
    REQUIRE_EXIT(run, 0);
    CHECK(run.output("signers") == identity);
    CHECK(run.output("signature-checks").find("referrer sha256:") != std::string::npos);
    CHECK(run.output("log-indexes") == "1");
  }
  SECTION("a forged inclusion proof is rejected") {
    attach(scene.sigstore.bundle(scene.image.digest, keyless(identity, "proof")));
    const auto run = verify(scene, expect_identity());
    REQUIRE_EXIT(run, 3);
    CHECK(run.err.find("inclusion proof: the computed root hash differs") != std::string::npos);
  }
  SECTION("a checkpoint signed by another key is rejected") {
    attach(scene.sigstore.bundle(scene.image.digest, keyless(identity, "checkpoint")));
    const auto run = verify(scene, expect_identity());
    REQUIRE_EXIT(run, 3);
    CHECK(run.err.find("checkpoint: no signature by the log's key") != std::string::npos);
  }
  SECTION("an RFC 3161 timestamp from the trusted root's authority is a signing time of its own") {
    auto stamped = keyless();
    stamped.insert(stamped.end(), {"--tsa", "--no-tlog"});
    attach(scene.sigstore.bundle(scene.image.digest, stamped));
    auto ignoring_log = expect_identity();
    ignoring_log.push_back("--insecure-ignore-tlog");
    // Without a log entry the timestamp is the only proof of when it was
    // signed, inside the certificate's ten minutes: enough.
    REQUIRE_EXIT(verify(scene, ignoring_log), 0);
    // The log is still required unless the user says otherwise.
    const auto strict = verify(scene, expect_identity());
    REQUIRE_EXIT(strict, 3);
    CHECK(strict.err.find("no transparency log entry") != std::string::npos);
  }
  SECTION("without a log entry or a timestamp there is no signing time") {
    auto bare = keyless();
    bare.push_back("--no-tlog");
    attach(scene.sigstore.bundle(scene.image.digest, bare));
    auto ignoring_log = expect_identity();
    ignoring_log.push_back("--insecure-ignore-tlog");
    const auto run = verify(scene, ignoring_log);
    REQUIRE_EXIT(run, 3);
    CHECK(run.err.find("no verified signing time") != std::string::npos);
  }
  SECTION("a DSSE signature stamped by the authority verifies; its imprint is the envelope's signature") {
    // cosign v3 signs an image as an in-toto statement of its signature
    // predicate.
    const std::string predicate = scene.sigstore.dir() / "empty.json";
    REQUIRE(write_file_atomic(predicate, "{}"));
    auto how = keyless();
    how.insert(how.end(), {"--tsa", "--predicate-type", "https://sigstore.dev/cosign/sign/v1", "--predicate",
                           predicate});
    attach(scene.sigstore.bundle(scene.image.digest, how));
    const auto run = verify(scene, expect_identity());
    REQUIRE_EXIT(run, 0);
    CHECK(run.output("signers") == identity);
  }
  SECTION("security review finding 2: a verified attestation alone is no signature") {
    const std::string predicate = scene.sigstore.dir() / "sbom.json";
    REQUIRE(write_file_atomic(predicate, R"({"bomFormat":"CycloneDX","specVersion":"1.5","components":[]})"));
    auto how = keyless();
    how.insert(how.end(), {"--predicate-type", "https://cyclonedx.org/bom", "--predicate", predicate});
    attach(scene.sigstore.bundle(scene.image.digest, how));
    const auto run = verify(scene, expect_identity());
    REQUIRE_EXIT(run, 3);
    CHECK(run.output("verdict") == "rejected");
    CHECK(run.output("signatures-verified") == "0");
    CHECK(run.output("signers").empty());
    CHECK(run.err.find("an attestation (https://cyclonedx.org/bom), not a signature") != std::string::npos);
    // The attestation itself verified: it is listed, as what it is.
    CHECK(run.output("signature-checks").find(R"("attestation":"https://cyclonedx.org/bom")") !=
          std::string::npos);
  }
  SECTION(
      "security review finding 2: a signature and an SBOM attestation by the same signer are one signer") {
    const std::string predicate = scene.sigstore.dir() / "sbom.json";
    REQUIRE(write_file_atomic(predicate, R"({"bomFormat":"CycloneDX","specVersion":"1.5","components":[]})"));
    auto sbom = keyless();
    sbom.insert(sbom.end(), {"--predicate-type", "https://cyclonedx.org/bom", "--predicate", predicate});
    // Another identity for the attestation: were it counted, two distinct
    // signers would meet --threshold 2.
    const std::string other = "https://github.com/irsteps/app/.github/workflows/sbom.yml@refs/heads/main";
    auto other_sbom = keyless(other);
    other_sbom.insert(other_sbom.end(),
                      {"--predicate-type", "https://cyclonedx.org/bom", "--predicate", predicate});
    const std::string media_type(sigstore::cosign::bundle_media_type);
    push_referrers_tag(*scene.client, "irsteps/app", scene.image.digest,
                       {push_artifact(*scene.client, "irsteps/app", scene.image, media_type,
                                      scene.sigstore.bundle(scene.image.digest, keyless())),
                        push_artifact(*scene.client, "irsteps/app", scene.image, media_type,
                                      scene.sigstore.bundle(scene.image.digest, sbom)),
                        push_artifact(*scene.client, "irsteps/app", scene.image, media_type,
                                      scene.sigstore.bundle(scene.image.digest, other_sbom))});
    const std::vector<std::string> both{"--certificate-identity-regexp",
                                        "https://github\\.com/irsteps/app/\\.github/workflows/.*",
                                        "--certificate-oidc-issuer", issuer};
    const auto single = verify(scene, both);
    REQUIRE_EXIT(single, 0);
    CHECK(single.output("signers") == identity);
    CHECK(single.output("signatures-verified") == "1");
    auto two = both;
    two.insert(two.end(), {"--threshold", "2"});
    const auto run = verify(scene, two);
    REQUIRE_EXIT(run, 3);
    CHECK(run.err.find("1 distinct signer verified among 1 signature") != std::string::npos);
  }
  SECTION("a timestamp by an authority the trusted root does not know is rejected") {
    attach(scene.sigstore.bundle(scene.image.digest, keyless(identity, "tsa")));
    const auto run = verify(scene, expect_identity());
    REQUIRE_EXIT(run, 3);
    CHECK(run.err.find("timestamp: not signed by a timestamp authority of the trusted root") !=
          std::string::npos);
  }
  SECTION("a timestamp over other bytes than the signature is rejected") {
    attach(scene.sigstore.bundle(scene.image.digest, keyless(identity, "tsa-imprint")));
    const auto run = verify(scene, expect_identity());
    REQUIRE_EXIT(run, 3);
    CHECK(run.err.find("is not over this signature") != std::string::npos);
  }
  SECTION("a bundle over another image does not count") {
    attach(scene.sigstore.bundle("sha256:" + sha256_hex("another image"), keyless()));
    const auto run = verify(scene, expect_identity());
    REQUIRE_EXIT(run, 3);
    CHECK(run.err.find("message digest is not the artifact's") != std::string::npos);
  }
}

TEST_CASE(
    "verify-image IMAGE: the real cosign attestation on its reconstructed image verifies but is no signature",
    "[service][verify-image][registry]") {
  if (!have_docker_registry()) return;
  LocalRegistry local;
  oci::RegistryOptions options;
  options.plain_http = true;
  oci::Registry registry(local.host(), options);
  const std::string digest = push_cosign_fixture(registry, "repo", "v1");
  const auto& fixtures = cosign_fixtures;
  const std::vector<std::string> base{local.host() + "/repo:v1", "--allow-http-registry", "--trusted-root",
                                      (fixtures / "trusted_root_pgi.json").string()};
  auto args = base;
  args.insert(args.end(), {"--certificate-identity", "cody@soyland.com", "--certificate-oidc-issuer",
                           "https://github.com/login/oauth"});
  // Security review finding 2: the fixture is an attestation (predicate
  // https://cosign.sigstore.dev/attestation/v1, cosign attest --type
  // custom), not a signature. It verifies, and it is listed as what it is,
  // but it signs nothing: the image has no signature.
  const auto run = run_step_binary("verify-image", args);
  REQUIRE_EXIT(run, 3);
  CHECK(run.output("digest") == digest);
  CHECK(run.output("signers").empty());
  CHECK(
      run.output("signature-checks")
          .find(
              R"("verified":true,"attestation":"https://cosign.sigstore.dev/attestation/v1","signer":"cody@soyland.com")") !=
      std::string::npos);
  CHECK(run.err.find("an attestation (https://cosign.sigstore.dev/attestation/v1), not a signature") !=
        std::string::npos);
  args = base;
  args.insert(args.end(), {"--certificate-identity", "someone@else.example", "--certificate-oidc-issuer",
                           "https://github.com/login/oauth"});
  REQUIRE_EXIT(run_step_binary("verify-image", args), 3);
}

TEST_CASE("verify-image IMAGE: registry authentication and TLS, missing images, unreachable registries",
          "[service][verify-image][registry]") {
  if (!have_docker_registry() || !have_signer()) return;
  SECTION("htpasswd Basic auth with a password file; the password never shows") {
    const std::string password = "registry-password-7f3c9a1e";
    Scene scene(RegistrySetup{"ci", password, false});
    const auto payload = scene.payload();
    scene.sign_legacy({{payload, scene.sigstore.legacy(payload, keyless())}});
    const std::string password_file = scene.sigstore.dir() / "registry-password";
    REQUIRE(write_file_atomic(password_file, password + "\n"));
    auto args = expect_identity();
    args.insert(args.end(), {"--registry-username", "ci", "--registry-password-file", password_file});
    const auto run = verify(scene, args);
    REQUIRE_EXIT(run, 0);
    CHECK(run.all_text().find(password) == std::string::npos);
    const auto anonymous = verify(scene, expect_identity());
    REQUIRE_EXIT(anonymous, 5);
    CHECK(anonymous.all_text().find(password) == std::string::npos);
  }
  SECTION("TLS with the registry's CA given; without it the certificate is refused") {
    Scene scene(RegistrySetup{"", "", true});
    const auto payload = scene.payload();
    scene.sign_legacy({{payload, scene.sigstore.legacy(payload, keyless())}});
    const std::string ca_file = scene.sigstore.dir() / "registry-ca.pem";
    REQUIRE(write_file_atomic(ca_file, scene.local.ca_pem()));
    std::vector<std::string> args{scene.reference(), "--trusted-root", scene.sigstore.trusted_root(),
                                  "--registry-ca-file", ca_file};
    const auto expected = expect_identity();
    args.insert(args.end(), expected.begin(), expected.end());
    REQUIRE_EXIT(run_step_binary("verify-image", args), 0);
    args.erase(args.begin() + 3, args.begin() + 5);
    const auto untrusted = run_step_binary("verify-image", args);
    CHECK(untrusted.exit_status != 0);
    CHECK(untrusted.output("verdict").empty());
  }
  SECTION("a tag that is not there is bad input, exit 2") {
    Scene scene;
    const auto run = run_step_binary(
        "verify-image", {scene.local.host() + "/irsteps/app:missing", "--allow-http-registry",
                         "--certificate-identity", identity, "--certificate-oidc-issuer", issuer});
    REQUIRE_EXIT(run, 2);
    CHECK(run.err.find("is not in its registry") != std::string::npos);
  }
  SECTION("an unreachable registry is transient, exit 4") {
    const auto run =
        run_step_binary("verify-image", {"127.0.0.1:" + std::to_string(free_port()) + "/irsteps/app:1.0",
                                         "--allow-http-registry", "--certificate-identity", identity,
                                         "--certificate-oidc-issuer", issuer});
    REQUIRE_EXIT(run, 4);
  }
}

// Security review, finding 12: --registry-username/--registry-password-file
// went to every registry the input named, --sbom-baseline-image's included.
TEST_CASE("finding 12: verify-image gives --registry-username only to IMAGE's registry, not the baseline's",
          "[service][verify-image]") {
  if (!have_signer()) return;
  TestSigstore sigstore;
  const std::string password = "s3cret-registry-pass-41c7";
  const std::string basic = "Basic " + base64_encode("ci:" + password);
  const std::string manifest =
      R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"})";
  auto handler = [&](const ir::test::SeenRequest& request) -> ir::test::Reply {
    if (request.header("authorization") != basic)
      return {401, {{"WWW-Authenticate", "Basic realm=\"r\""}}, ""};
    if (request.target == "/v2/") return {200, {}, "{}"};
    if (request.target.find("/manifests/") != std::string::npos)
      return {200, {{"Content-Type", "application/vnd.oci.image.manifest.v1+json"}}, manifest};
    return {404, {}, ""};
  };
  ir::test::HttpServer image_registry(handler);
  ir::test::HttpServer baseline_registry(handler);  // 127.0.0.1 too, another port
  const std::string password_file = sigstore.dir() / "registry-password";
  REQUIRE(write_file_atomic(password_file, password + "\n"));
  const std::string docker_config = sigstore.dir() / "docker-config.json";
  REQUIRE(write_file_atomic(docker_config, "{}"));
  auto args = expect_identity();
  args.insert(args.begin(),
              {image_registry.url().substr(7) + "/irsteps/app:1.0", "--trusted-root", sigstore.trusted_root(),
               "--allow-http-registry", "--sbom-baseline-image",
               baseline_registry.url().substr(7) + "/irsteps/app:0.9", "--registry-username", "ci",
               "--registry-password-file", password_file, "--docker-config", docker_config});
  const auto run = run_step_binary("verify-image", args);
  // The baseline's registry asks for credentials and gets none: exit 5.
  REQUIRE_EXIT(run, 5);
  CHECK(run.all_text().find(password) == std::string::npos);
  bool image_authenticated = false;
  for (const auto& seen : image_registry.requests())
    image_authenticated = image_authenticated || seen.header("authorization") == basic;
  CHECK(image_authenticated);
  REQUIRE_FALSE(baseline_registry.requests().empty());
  for (const auto& seen : baseline_registry.requests()) CHECK(seen.header("authorization").empty());
}

namespace {

std::string cyclonedx_of(const std::vector<std::pair<std::string, std::string>>& packages) {
  boost::json::array components;
  for (const auto& [purl, version] : packages)
    components.push_back({{"type", "library"}, {"purl", purl + "@" + version}, {"version", version}});
  return boost::json::serialize(
      boost::json::object{{"bomFormat", "CycloneDX"}, {"specVersion", "1.5"}, {"components", components}});
}

std::string trivy_of(const std::string& digest_reference, const std::string& severity) {
  return R"({"SchemaVersion":2,"CreatedAt":")" + format_utc(now()) +
         R"(","ArtifactName":"app","Metadata":{"RepoDigests":[")" + digest_reference +
         R"("]},"Results":[{"Target":"debian 12","Vulnerabilities":[{"VulnerabilityID":"CVE-2024-4741","PkgName":"openssl","InstalledVersion":"3.0.11","FixedVersion":"3.0.14","Severity":")" +
         severity + R"("}]}]})";
}

}  // namespace

TEST_CASE(
    "verify-image IMAGE: the SBOM against a baseline, from a file or a verified attestation, and the "
    "vulnerability gate",
    "[service][verify-image][registry]") {
  if (!have_docker_registry() || !have_signer()) return;
  Scene scene;
  const auto payload = scene.payload();
  scene.sign_legacy({{payload, scene.sigstore.legacy(payload, keyless())}});
  const auto& dir = scene.sigstore.dir();
  const std::string baseline = dir / "baseline.cdx.json";
  const std::string current = dir / "current.cdx.json";
  REQUIRE(write_file_atomic(
      baseline, cyclonedx_of({{"pkg:deb/debian/openssl", "3.0.11"}, {"pkg:npm/json5", "2.2.3"}})));
  const std::string current_text = cyclonedx_of(
      {{"pkg:deb/debian/openssl", "3.0.14"}, {"pkg:npm/json5", "2.2.3"}, {"pkg:npm/event-stream", "3.3.6"}});
  REQUIRE(write_file_atomic(current, current_text));
  const auto with = [&](const std::vector<std::string>& extra) { return verify_as_signed(scene, extra); };

  SECTION("an SBOM file: the differences are outputs and a warning; --fail-on-sbom-change rejects") {
    const auto run = with({"--sbom-baseline", baseline, "--sbom", current});
    REQUIRE_EXIT(run, 0);
    CHECK(run.output("sbom-added") == "1");
    CHECK(run.output("sbom-removed") == "0");
    CHECK(run.output("sbom-changed") == "1");
    CHECK(run.output("sbom-diff").find("+ pkg:npm/event-stream@3.3.6") != std::string::npos);
    CHECK(run.output("sbom-diff").find("~ pkg:deb/debian/openssl 3.0.11 -> 3.0.14") != std::string::npos);
    const auto strict = with({"--sbom-baseline", baseline, "--sbom", current, "--fail-on-sbom-change"});
    REQUIRE_EXIT(strict, 3);
    CHECK(strict.err.find("added pkg:npm/event-stream@3.3.6") != std::string::npos);
    REQUIRE_EXIT(with({"--sbom-baseline", baseline, "--sbom", baseline, "--fail-on-sbom-change"}), 0);
    REQUIRE_EXIT(with({"--sbom", current}), 2);  // nothing to compare with
  }
  SECTION("the SBOM of a verified attestation among the referrers; a foreign signer's is not used") {
    const std::string predicate = dir / "predicate.json";
    REQUIRE(write_file_atomic(predicate, current_text));
    const auto attest = [&](const std::string& who) {
      auto how = keyless(who);
      how.insert(how.end(), {"--predicate-type", "https://cyclonedx.org/bom", "--predicate", predicate});
      push_referrers_tag(*scene.client, "irsteps/app", scene.image.digest,
                         {push_artifact(*scene.client, "irsteps/app", scene.image,
                                        std::string(sigstore::cosign::bundle_media_type),
                                        scene.sigstore.bundle(scene.image.digest, how))});
    };
    attest("https://github.com/evil/fork/.github/workflows/x.yml@refs/heads/main");
    const auto foreign = with({"--sbom-baseline", baseline});
    REQUIRE_EXIT(foreign, 3);
    CHECK(foreign.err.find("no verified SBOM attestation") != std::string::npos);
    attest(identity);
    const auto run = with({"--sbom-baseline", baseline});
    REQUIRE_EXIT(run, 0);
    CHECK(run.output("sbom-added") == "1");
    CHECK(run.output("sbom-changed") == "1");
  }
  SECTION(
      "a Trivy report: findings above --max-severity reject unless ignored; another image's report is "
      "refused") {
    const std::string report = dir / "trivy.json";
    REQUIRE(write_file_atomic(report, trivy_of("127.0.0.1/irsteps/app@" + scene.image.digest, "HIGH")));
    const auto tolerated =
        with({"--vulnerability-report", report, "--max-severity", "HIGH", "--max-report-age", "1h"});
    REQUIRE_EXIT(tolerated, 0);
    CHECK(tolerated.output("vulnerabilities-high") == "1");
    CHECK(tolerated.output("vulnerabilities-blocking") == "0");
    const auto blocked = with({"--vulnerability-report", report, "--max-severity", "MEDIUM"});
    REQUIRE_EXIT(blocked, 3);
    CHECK(blocked.err.find("CVE-2024-4741 (HIGH, openssl 3.0.11, fixed in 3.0.14)") != std::string::npos);
    CHECK(blocked.output("verdict") == "rejected");
    REQUIRE_EXIT(
        with({"--vulnerability-report", report, "--max-severity", "MEDIUM", "--ignore-cve", "CVE-2024-4741"}),
        0);
    REQUIRE(
        write_file_atomic(report, trivy_of("127.0.0.1/irsteps/app@sha256:" + std::string(64, 'f'), "LOW")));
    const auto other = with({"--vulnerability-report", report});
    REQUIRE_EXIT(other, 3);
    CHECK(other.err.find("report is about") != std::string::npos);
    REQUIRE_EXIT(with({"--max-severity", "HIGH"}), 2);  // no report to gate
  }
}

namespace {

// An in-toto attestation of `predicate_type` over `subject`, signed by `who`
// in the scene's Sigstore and attached as its only referrer.
void attest(Scene& scene, const std::string& repository, const PushedImage& subject, const std::string& who,
            const std::string& predicate_type, const std::string& predicate) {
  const std::string file =
      scene.sigstore.dir() / ("predicate-" + sha256_hex(predicate).substr(0, 12) + ".json");
  REQUIRE(write_file_atomic(file, predicate));
  auto how = keyless(who);
  how.insert(how.end(), {"--predicate-type", predicate_type, "--predicate", file});
  push_referrers_tag(
      *scene.client, repository, subject.digest,
      {push_artifact(*scene.client, repository, subject, std::string(sigstore::cosign::bundle_media_type),
                     scene.sigstore.bundle(subject.digest, how))});
}

const std::string foreign_identity = "https://github.com/evil/fork/.github/workflows/x.yml@refs/heads/main";

}  // namespace

TEST_CASE("verify-image IMAGE: the SBOM baseline is the verified SBOM attestation of another image",
          "[service][verify-image][registry]") {
  if (!have_docker_registry() || !have_signer()) return;
  Scene scene;
  const auto payload = scene.payload();
  scene.sign_legacy({{payload, scene.sigstore.legacy(payload, keyless())}});
  attest(scene, "irsteps/app", scene.image, identity, "https://cyclonedx.org/bom",
         cyclonedx_of({{"pkg:deb/debian/openssl", "3.0.14"}, {"pkg:npm/event-stream", "3.3.6"}}));
  // The last good release, in its own repository of the same registry.
  const auto release = push_image(*scene.client, "irsteps/app-release", "0.9");
  const std::string release_ref = scene.local.host() + "/irsteps/app-release:0.9";
  const auto with = [&](const std::vector<std::string>& extra) { return verify_as_signed(scene, extra); };

  SECTION("the release's attested SBOM is the baseline; the differences are found and can reject") {
    attest(scene, "irsteps/app-release", release, identity, "https://cyclonedx.org/bom",
           cyclonedx_of({{"pkg:deb/debian/openssl", "3.0.11"}}));
    const auto run = with({"--sbom-baseline-image", release_ref});
    REQUIRE_EXIT(run, 0);
    CHECK(run.output("sbom-baseline-image") == release_ref + "@" + release.digest);
    CHECK(run.output("sbom-added") == "1");
    CHECK(run.output("sbom-changed") == "1");
    CHECK(run.output("sbom-diff").find("~ pkg:deb/debian/openssl 3.0.11 -> 3.0.14") != std::string::npos);
    const auto strict = with({"--sbom-baseline-image", release_ref, "--fail-on-sbom-change"});
    REQUIRE_EXIT(strict, 3);
    CHECK(strict.err.find("added pkg:npm/event-stream@3.3.6") != std::string::npos);
  }
  SECTION("a baseline attested by another signer is no baseline") {
    attest(scene, "irsteps/app-release", release, foreign_identity, "https://cyclonedx.org/bom",
           cyclonedx_of({{"pkg:deb/debian/openssl", "3.0.14"}, {"pkg:npm/event-stream", "3.3.6"}}));
    const auto run = with({"--sbom-baseline-image", release_ref});
    REQUIRE_EXIT(run, 3);
    CHECK(run.err.find("has no SBOM attestation verified under this identity") != std::string::npos);
    CHECK(run.output("verdict") == "rejected");
  }
  SECTION("bad input: a baseline image that is not there, two baselines, a malformed reference") {
    const auto missing = with({"--sbom-baseline-image", scene.local.host() + "/irsteps/app-release:9.9"});
    REQUIRE_EXIT(missing, 2);
    CHECK(missing.err.find("sbom-baseline-image") != std::string::npos);
    const auto both =
        with({"--sbom-baseline-image", release_ref, "--sbom-baseline", scene.sigstore.trusted_root()});
    REQUIRE_EXIT(both, 2);
    CHECK(both.err.find("give one baseline, not both") != std::string::npos);
    const auto malformed = with({"--sbom-baseline-image", "UPPER/Case:bad tag"});
    REQUIRE_EXIT(malformed, 2);
    CHECK(malformed.err.find("sbom-baseline-image") != std::string::npos);
  }
}

TEST_CASE("verify-image IMAGE: the vulnerability gate on a verified cosign vulnerability attestation",
          "[service][verify-image][registry]") {
  if (!have_docker_registry() || !have_signer()) return;
  Scene scene;
  const auto payload = scene.payload();
  scene.sign_legacy({{payload, scene.sigstore.legacy(payload, keyless())}});
  const std::string vuln_type = "https://cosign.sigstore.dev/attestation/vuln/v1";
  // As `cosign attest --type vuln` wraps a scanner's report: the Trivy JSON
  // in scanner.result, the scan's times in metadata.
  const auto predicate = [&](const std::string& report, TimePoint finished) {
    return R"({"invocation":{"parameters":null,"uri":"","event_id":"","builder.id":""},)"
           R"("scanner":{"uri":"pkg:github/aquasecurity/trivy@v0.50.0","version":"0.50.0",)"
           R"("db":{"uri":"","version":""},"result":)" +
           report + R"(},"metadata":{"scanStartedOn":")" + format_utc(finished - std::chrono::minutes(1)) +
           R"(","scanFinishedOn":")" + format_utc(finished) + R"("}})";
  };
  const std::string digest_ref = "127.0.0.1/irsteps/app@" + scene.image.digest;
  const auto with = [&](const std::vector<std::string>& extra) { return verify_as_signed(scene, extra); };

  SECTION("findings above --max-severity reject, ignored ones do not; the scanner is named") {
    attest(scene, "irsteps/app", scene.image, identity, vuln_type,
           predicate(trivy_of(digest_ref, "HIGH"), now()));
    const auto tolerated = with({"--vulnerability-attestation", "--max-severity", "HIGH"});
    REQUIRE_EXIT(tolerated, 0);
    CHECK(tolerated.output("vulnerabilities-high") == "1");
    CHECK(tolerated.output("vulnerability-scanner") == "pkg:github/aquasecurity/trivy@v0.50.0 0.50.0");
    const auto blocked = with({"--vulnerability-attestation", "--max-severity", "MEDIUM"});
    REQUIRE_EXIT(blocked, 3);
    CHECK(blocked.err.find("CVE-2024-4741 (HIGH, openssl 3.0.11, fixed in 3.0.14)") != std::string::npos);
    REQUIRE_EXIT(
        with({"--vulnerability-attestation", "--max-severity", "MEDIUM", "--ignore-cve", "CVE-2024-4741"}),
        0);
  }
  SECTION("without a time of its own the report is as old as the attestation's scanFinishedOn") {
    const std::string undated =
        R"({"SchemaVersion":2,"ArtifactName":"app","Results":[{"Target":"debian 12","Vulnerabilities":[]}]})";
    attest(scene, "irsteps/app", scene.image, identity, vuln_type,
           predicate(undated, now() - std::chrono::hours(48)));
    const auto stale = with({"--vulnerability-attestation", "--max-report-age", "24h"});
    REQUIRE_EXIT(stale, 3);
    CHECK(stale.err.find("older than --max-report-age") != std::string::npos);
    REQUIRE_EXIT(with({"--vulnerability-attestation", "--max-report-age", "72h"}), 0);
  }
  SECTION("an attestation by another signer, or of another type, is not used") {
    attest(scene, "irsteps/app", scene.image, foreign_identity, vuln_type,
           predicate(trivy_of(digest_ref, "LOW"), now()));
    const auto foreign = with({"--vulnerability-attestation"});
    REQUIRE_EXIT(foreign, 3);
    CHECK(foreign.err.find("no verified vulnerability attestation") != std::string::npos);
    attest(scene, "irsteps/app", scene.image, identity, "https://slsa.dev/provenance/v1", "{}");
    REQUIRE_EXIT(with({"--vulnerability-attestation"}), 3);
    REQUIRE_EXIT(
        with({"--vulnerability-attestation", "--vulnerability-report", scene.sigstore.trusted_root()}), 2);
  }
}
