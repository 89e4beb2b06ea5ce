// The registry client's decisions that need no registry: the token realm
// a Bearer challenge may name, descriptor sizes and manifest bounds as a
// registry writes them, and which registry explicit credentials are for.
#include "ir/oci/registry.hpp"
#include "ir/oci/credentials.hpp"

#include "ir/core/json.hpp"
#include "support/catch.hpp"

#include <unistd.h>

#include <filesystem>
#include <fstream>

using namespace ir;

// Security review, finding 12: the realm receives the registry credentials
// (Basic) or a refresh token, so plain HTTP is for this machine only.
TEST_CASE("finding 12: a Bearer token realm must be https, or http only to this machine", "[unit][oci]") {
  for (const std::string realm :
       {"https://auth.docker.io/token", "https://ghcr.io/token?x=1", "HTTPS://auth.example.com:8443/token",
        "http://127.0.0.1:5000/token", "http://[::1]:5000/token", "http://localhost/token"}) {
    INFO(realm);
    auto accepted = oci::check_token_realm(realm);
    REQUIRE(accepted);
    CHECK(*accepted == realm);
  }
  for (const std::string realm :
       {"http://auth.example.com/token", "http://127.attacker.example/token", "http://10.0.0.1/token",
        "ftp://auth.example.com/token", "file:///etc/passwd", "/token", "token", "", "https:///token",
        "http://[fd00::1]/token", "http://127.0.0.1.attacker.example/token", "https://127.0.0.1x/token"}) {
    INFO(realm);
    auto refused = oci::check_token_realm(realm);
    REQUIRE_FALSE(refused);
    CHECK(refused.error().code() == Code::action_failed);
  }
  CHECK(oci::check_token_realm("http://auth.example.com/token").error().describe().find("https://") !=
        std::string::npos);
  // What the registry sends in WWW-Authenticate, parsed and then checked.
  auto challenge = oci::parse_challenge(
      R"(Bearer realm="http://auth.example.com/token",service="registry.example.com",scope="repository:a:pull")");
  REQUIRE(challenge);
  CHECK(challenge->scheme == "bearer");
  CHECK_FALSE(oci::check_token_realm(challenge->params["realm"]));
}

// Security review, finding 7: a descriptor's size is what bounds a fetch,
// so anything that is not a plain byte count must not become one.
TEST_CASE("finding 7: descriptor sizes that are not byte counts become -1, not a cast", "[unit][oci]") {
  auto size_of = [](const std::string& size) {
    auto doc = parse_json(
        R"({"mediaType":"x","digest":"sha256:)" + std::string(64, 'a') + R"(","size":)" + size + "}",
        "descriptor");
    REQUIRE(doc);
    return oci::descriptor_from(*doc).size;
  };
  CHECK(size_of("0") == 0);
  CHECK(size_of("1234") == 1234);
  CHECK(size_of("9223372036854775807") == 9223372036854775807LL);
  CHECK(size_of("18446744073709551615") == -1);
  CHECK(size_of("-5") == -1);
  CHECK(size_of("12.5") == -1);
  CHECK(size_of("1e300") == -1);
  CHECK(size_of("\"1234\"") == -1);
  CHECK(size_of("null") == -1);
}

TEST_CASE("finding 7: a manifest with more layers or index entries than the limits is refused",
          "[unit][oci]") {
  auto manifest_with = [](const std::string& key, std::size_t count) {
    std::string text = R"({"schemaVersion":2,")" + key + R"(":[)";
    for (std::size_t i = 0; i < count; ++i)
      text += std::string(i == 0 ? "" : ",") + R"({"mediaType":"x","digest":"sha256:)" +
              std::string(64, 'a') + R"(","size":1})";
    text += "]}";
    auto doc = parse_json(text, "manifest");
    REQUIRE(doc);
    oci::Manifest manifest;
    manifest.document = doc->as_object();
    return manifest;
  };
  CHECK(manifest_with("layers", oci::limits::layers).check_limits("m"));
  CHECK(manifest_with("manifests", oci::limits::manifests).check_limits("m"));
  auto layers = manifest_with("layers", oci::limits::layers + 1).check_limits("m");
  REQUIRE_FALSE(layers);
  CHECK(layers.error().code() == Code::rejected);
  CHECK(layers.error().describe().find("1001 layers") != std::string::npos);
  auto entries = manifest_with("manifests", oci::limits::manifests + 1).check_limits("m");
  REQUIRE_FALSE(entries);
  CHECK(entries.error().code() == Code::rejected);
}

// Security review, finding 12: --registry-username/--registry-password-file
// went to whatever registry the input named.
TEST_CASE("finding 12: explicit registry credentials are given only for their own registry", "[unit][oci]") {
  const auto dir =
      std::filesystem::temp_directory_path() / ("irsteps-oci-creds-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string password_file = dir / "password";
  std::ofstream(password_file) << "s3cret-registry-pass\n";
  const std::string empty_config = dir / "config.json";
  std::ofstream(empty_config) << "{}";

  oci::CredentialRequest request{"ci", password_file, empty_config, "127.0.0.1:5000"};
  auto own = oci::find_credentials("127.0.0.1:5000", request);
  REQUIRE(own);
  CHECK(own->username == "ci");
  CHECK(own->password.reveal() == "s3cret-registry-pass");
  // Another port of the same host is another registry; so is another host.
  for (const std::string other : {"127.0.0.1:5001", "127.0.0.1", "registry.example.com", "docker.io"}) {
    INFO(other);
    auto elsewhere = oci::find_credentials(other, request);
    REQUIRE(elsewhere);
    CHECK(elsewhere->empty());
  }
  // Docker Hub's names are one registry.
  request.explicit_registry = "docker.io";
  auto hub = oci::find_credentials("index.docker.io", request);
  REQUIRE(hub);
  CHECK(hub->username == "ci");
  std::filesystem::remove_all(dir);
}

// Issue 17: the verify-image template mounts the Secret irsteps-registry and
// names the mount in DOCKER_CONFIG. A Secret made by `kubectl create secret
// docker-registry` (type kubernetes.io/dockerconfigjson) holds the config
// under the key .dockerconfigjson, not config.json; run as a pod the step
// found no credentials in it and met the registry anonymously.
TEST_CASE("DOCKER_CONFIG may be a mounted kubernetes.io/dockerconfigjson Secret", "[unit][oci]") {
  const auto dir =
      std::filesystem::temp_directory_path() / ("irsteps-oci-dockerconfig-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir / "..data");
  // A Secret volume: the key is a link into the hidden ..data folder.
  std::ofstream(dir / "..data" / ".dockerconfigjson")
      << R"({"auths":{"127.0.0.1:5000":{"auth":")"
      << "Y2k6c2VjcmV0LWZyb20tc2VjcmV0"  // ci:secret-from-secret
      << R"("}}})";
  std::filesystem::create_symlink("..data/.dockerconfigjson", dir / ".dockerconfigjson");
  const char* saved = std::getenv("DOCKER_CONFIG");
  const std::string previous = saved != nullptr ? saved : "";
  ::setenv("DOCKER_CONFIG", dir.c_str(), 1);

  auto found = oci::find_credentials("127.0.0.1:5000", {});
  REQUIRE(found);
  CHECK(found->username == "ci");
  CHECK(found->password.reveal() == "secret-from-secret");
  auto other = oci::find_credentials("127.0.0.1:5001", {});
  REQUIRE(other);
  CHECK(other->empty());

  // A config.json beside it is what docker reads, and wins.
  std::ofstream(dir / "config.json") << R"({"auths":{"127.0.0.1:5000":{"auth":")"
                                     << "ZG9ja2VyOmZyb20tY29uZmln"  // docker:from-config
                                     << R"("}}})";
  auto config = oci::find_credentials("127.0.0.1:5000", {});
  REQUIRE(config);
  CHECK(config->username == "docker");

  if (saved != nullptr) {
    ::setenv("DOCKER_CONFIG", previous.c_str(), 1);
  } else {
    ::unsetenv("DOCKER_CONFIG");
  }
  std::filesystem::remove_all(dir);
}
