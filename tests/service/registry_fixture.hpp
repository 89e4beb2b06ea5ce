// Debian's docker-registry (the CNCF distribution registry) started on
// 127.0.0.1 for one test: plain HTTP, htpasswd Basic auth with bcrypt
// (`htpasswd -B`), or TLS with a CA the test makes; and images pushed to it.
#pragma once

#include "ir/core/encoding.hpp"
#include "ir/core/json.hpp"
#include "ir/core/process.hpp"
#include "ir/oci/registry.hpp"
#include "support/catch.hpp"
#include "support/git_server.hpp"
#include "support/pki.hpp"
#include "support/skip.hpp"
#include "support/spawn.hpp"

#include <boost/json/serialize.hpp>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

namespace ir::test {

struct RegistrySetup {
  std::string username;  // non-empty: htpasswd Basic auth with this user
  std::string password;
  bool tls = false;
};

inline bool have_docker_registry() {
  auto found = run_process({"sh", "-c", "test -x /usr/bin/docker-registry && command -v htpasswd"});
  if (found && found->exit_status == 0) return true;
  skip_test("docker-registry or htpasswd is not installed (scripts/install-deps.sh)");
  return false;
}

inline int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  socklen_t length = sizeof address;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0);
  ::close(fd);
  return ntohs(address.sin_port);
}

// Whether 127.0.0.1:port accepts a connection within about ten seconds.
inline bool wait_for_port(int port) {
  for (int attempt = 0; attempt < 200; ++attempt) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<std::uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const bool connected = ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
    ::close(fd);
    if (connected) return true;
    ::usleep(50 * 1000);
  }
  return false;
}

class LocalRegistry {
 public:
  explicit LocalRegistry(RegistrySetup setup = {}) : setup_(std::move(setup)) {
    port_ = free_port();
    std::string config =
        "version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    "
        "rootdirectory: " +
        dir_ / "data" + "\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:" + std::to_string(port_) +
        "\n  secret: irsteps-test\n";
    if (setup_.tls) {
      ca_ = make_ca("irsteps test registry CA");
      const auto server = issue(ca_, {"registry", {"localhost"}, {"127.0.0.1"}});
      REQUIRE(write_file_atomic(dir_ / "server.crt", server.cert_pem));
      REQUIRE(write_file_atomic(dir_ / "server.key", server.key_pem));
      config +=
          "  tls:\n    certificate: " + dir_ / "server.crt" + "\n    key: " + dir_ / "server.key" + "\n";
    }
    if (!setup_.username.empty()) {
      auto hashed = run_process({"htpasswd", "-Bbn", setup_.username, setup_.password});
      REQUIRE(hashed);
      REQUIRE(hashed->exit_status == 0);
      REQUIRE(write_file_atomic(dir_ / "htpasswd", hashed->out));
      config += "auth:\n  htpasswd:\n    realm: irsteps-test\n    path: " + dir_ / "htpasswd" + "\n";
    }
    REQUIRE(write_file_atomic(dir_ / "config.yml", config));
    process_ = std::make_unique<Spawned>(
        std::vector<std::string>{"/usr/bin/docker-registry", "serve", dir_ / "config.yml"});
    // Nothing reads its log while the test runs, so it logs little (a full
    // pipe would block it); ready is when its port accepts.
    REQUIRE(wait_for_port(port_));
  }

  [[nodiscard]] std::string host() const { return "127.0.0.1:" + std::to_string(port_); }
  [[nodiscard]] const std::string& ca_pem() const { return ca_.cert_pem; }
  [[nodiscard]] const TempDir& dir() const { return dir_; }

 private:
  RegistrySetup setup_;
  TempDir dir_;
  KeyPair ca_;
  int port_ = 0;
  std::unique_ptr<Spawned> process_;
};

struct PushedImage {
  std::string digest;
  std::string config_digest;
  std::string layer_digest;
  std::string manifest;
};

// A FROM-scratch image: one config blob, one layer blob, one manifest.
inline PushedImage push_image(oci::Registry& registry, const std::string& repository, const std::string& tag,
                              const std::string& arch = "amd64") {
  const std::string layer = "layer of " + repository + " for " + arch;
  const std::string config = R"({"architecture":")" + arch +
                             R"(","os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:)" +
                             sha256_hex(layer) + R"("]}})";
  PushedImage image;
  auto config_digest = registry.push_blob(repository, config);
  REQUIRE(config_digest);
  image.config_digest = *config_digest;
  auto layer_digest = registry.push_blob(repository, layer);
  REQUIRE(layer_digest);
  image.layer_digest = *layer_digest;
  image.manifest =
      R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":")" +
      image.config_digest + R"(","size":)" + std::to_string(config.size()) +
      R"(},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":")" + image.layer_digest +
      R"(","size":)" + std::to_string(layer.size()) + "}]}";
  auto digest = registry.push_manifest(repository, tag, oci::media::oci_manifest, image.manifest);
  REQUIRE(digest);
  image.digest = *digest;
  return image;
}

// An OCI 1.1 artifact (empty config, one layer) whose subject is `subject`;
// returns its descriptor as an index lists it.
inline std::string push_artifact(oci::Registry& registry, const std::string& repository,
                                 const PushedImage& subject, const std::string& artifact_type,
                                 const std::string& content) {
  REQUIRE(registry.push_blob(repository, "{}"));
  auto layer = registry.push_blob(repository, content);
  REQUIRE(layer);
  const std::string manifest =
      R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":")" +
      artifact_type +
      R"(","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},)"
      R"("layers":[{"mediaType":")" +
      artifact_type + R"(","digest":")" + *layer + R"(","size":)" + std::to_string(content.size()) +
      R"(}],"subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" +
      subject.digest + R"(","size":)" + std::to_string(subject.manifest.size()) + "}}";
  auto digest = registry.push_manifest(repository, "sha256:" + sha256_hex(manifest), oci::media::oci_manifest,
                                       manifest);
  REQUIRE(digest);
  return R"({"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" + *digest +
         R"(","size":)" + std::to_string(manifest.size()) + R"(,"artifactType":")" + artifact_type + R"("})";
}

// What an OCI 1.1 client keeps for a registry without the referrers API:
// an index of the subject's referrers under the tag sha256-<hex>.
inline void push_referrers_tag(oci::Registry& registry, const std::string& repository,
                               const std::string& subject, const std::vector<std::string>& entries) {
  std::string index =
      R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[)";
  for (std::size_t i = 0; i < entries.size(); ++i) index += (i == 0 ? "" : ",") + entries[i];
  index += "]}";
  REQUIRE(registry.push_manifest(repository, "sha256-" + subject.substr(7), oci::media::oci_index, index));
}

// The real cosign attestation of tests/data/sigstore-fixtures/cosign
// (identity cody@soyland.com, issuer https://github.com/login/oauth, trusted
// root trusted_root_pgi.json) on its reconstructed subject image, pushed as
// REPOSITORY:TAG with the bundle attached as a referrer; returns the
// subject's digest.
inline const std::filesystem::path cosign_fixtures =
    std::filesystem::path(IRSTEPS_SOURCE_DIR) / "tests" / "data" / "sigstore-fixtures" / "cosign";
// A cosign signature as `cosign sign` stores one without the referrers API:
// the simple-signing payload as the one layer of a manifest tagged
// sha256-<digest>.sig, the signer's annotations (certificate, bundle) on it.
inline void push_legacy_signature(oci::Registry& registry, const std::string& repository,
                                  const std::string& image_digest, const std::string& payload,
                                  const json::object& annotations) {
  auto payload_digest = registry.push_blob(repository, payload);
  const std::string config = R"({"architecture":"","os":"","rootfs":{"type":"layers","diff_ids":[]}})";
  auto config_digest = registry.push_blob(repository, config);
  REQUIRE((payload_digest && config_digest));
  const json::object manifest{
      {"schemaVersion", 2},
      {"mediaType", oci::media::oci_manifest},
      {"config",
       {{"mediaType", "application/vnd.oci.image.config.v1+json"},
        {"digest", *config_digest},
        {"size", config.size()}}},
      {"layers", json::array{{{"mediaType", "application/vnd.dev.cosign.simplesigning.v1+json"},
                              {"digest", *payload_digest},
                              {"size", payload.size()},
                              {"annotations", annotations}}}}};
  REQUIRE(registry.push_manifest(repository, "sha256-" + image_digest.substr(7) + ".sig",
                                 oci::media::oci_manifest, boost::json::serialize(manifest)));
}

inline std::string push_cosign_fixture(oci::Registry& registry, const std::string& repository,
                                       const std::string& tag) {
  auto manifest = read_file((cosign_fixtures / "subject-image-manifest.reconstructed.json").string());
  auto config = read_file((cosign_fixtures / "subject-image-config.reconstructed.json").string());
  auto bundle = read_file((cosign_fixtures / "oci-attestation.sigstore.json").string());
  REQUIRE((manifest && config && bundle));
  REQUIRE(registry.push_blob(repository, *config));
  auto digest = registry.push_manifest(repository, tag, oci::media::docker_manifest, *manifest);
  REQUIRE(digest);
  REQUIRE(*digest == "sha256:732112270d7e59418a8c080b134b24cabd67d250d0d0147a97ed95ba5c280aa4");
  const PushedImage subject{*digest, {}, {}, *manifest};
  push_referrers_tag(registry, repository, *digest,
                     {push_artifact(registry, repository, subject,
                                    "application/vnd.dev.sigstore.bundle.v0.3+json", *bundle)});
  return *digest;
}

}  // namespace ir::test
