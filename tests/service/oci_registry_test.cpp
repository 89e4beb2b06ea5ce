// ir::oci::Registry against Debian's docker-registry on 127.0.0.1 (plain
// HTTP, htpasswd Basic auth with bcrypt, TLS with a CA of the test), and the
// parts a stock registry cannot show (Bearer tokens, 429 with Retry-After)
// against a scripted HTTP server.
#include "ir/oci/credentials.hpp"
#include "ir/oci/registry.hpp"

#include "ir/core/encoding.hpp"
#include "ir/http/client.hpp"
#include "service/registry_fixture.hpp"
#include "support/catch.hpp"
#include "support/git_server.hpp"
#include "support/http_server.hpp"

#include <boost/json.hpp>

#include <atomic>
#include <cstdlib>

using namespace ir;
using namespace ir::test;

TEST_CASE("oci: a tag resolves to the digest of the manifest's bytes, blobs come back checked",
          "[service][oci][registry]") {
  if (!have_docker_registry()) return;
  LocalRegistry local;
  oci::RegistryOptions options;
  options.plain_http = true;
  oci::Registry registry(local.host(), options);
  const auto image = push_image(registry, "shop/web", "v1");
  CHECK(image.digest == "sha256:" + sha256_hex(image.manifest));

  auto by_tag = registry.manifest("shop/web", "v1");
  REQUIRE(by_tag);
  CHECK(by_tag->digest == image.digest);
  CHECK(by_tag->media_type == oci::media::oci_manifest);
  REQUIRE(by_tag->config());
  CHECK(by_tag->config()->digest == image.config_digest);
  REQUIRE(by_tag->layers().size() == 1);

  auto by_digest = registry.manifest("shop/web", image.digest);
  REQUIRE(by_digest);
  CHECK(by_digest->body == image.manifest);

  auto layer = registry.blob("shop/web", image.layer_digest);
  REQUIRE(layer);
  CHECK("sha256:" + sha256_hex(*layer) == image.layer_digest);

  auto missing = registry.manifest("shop/web", "v2");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code() == Code::not_found);
  // A blob asked for under another digest than its own is refused.
  auto absent = registry.blob("shop/web", "sha256:" + std::string(64, '0'));
  REQUIRE_FALSE(absent);
}

TEST_CASE("oci: --platform picks the manifest of an index, referrers come from the sha256-<hex> tag",
          "[service][oci][registry]") {
  if (!have_docker_registry()) return;
  LocalRegistry local;
  oci::RegistryOptions options;
  options.plain_http = true;
  oci::Registry registry(local.host(), options);
  const auto amd64 = push_image(registry, "shop/api", "amd64", "amd64");
  const auto arm64 = push_image(registry, "shop/api", "arm64", "arm64");
  const std::string index =
      R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[)"
      R"({"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" +
      amd64.digest + R"(","size":)" + std::to_string(amd64.manifest.size()) +
      R"(,"platform":{"os":"linux","architecture":"amd64"}},)"
      R"({"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" +
      arm64.digest + R"(","size":)" + std::to_string(arm64.manifest.size()) +
      R"(,"platform":{"os":"linux","architecture":"arm64","variant":"v8"}}]})";
  REQUIRE(registry.push_manifest("shop/api", "multi", oci::media::oci_index, index));
  auto multi = registry.manifest("shop/api", "multi");
  REQUIRE(multi);
  REQUIRE(multi->is_index());
  auto chosen = registry.select_platform(*multi, "linux/arm64");
  REQUIRE(chosen);
  CHECK(chosen->digest == arm64.digest);
  CHECK(registry.select_platform(*multi, "linux/amd64")->digest == amd64.digest);
  auto unknown = registry.select_platform(*multi, "windows/amd64");
  REQUIRE_FALSE(unknown);
  CHECK_THAT(unknown.error().message(), Catch::Contains("linux/arm64/v8"));

  // No referrers yet: an empty list, not an error.
  auto none = registry.referrers("shop/api", amd64.digest);
  REQUIRE(none);
  CHECK(none->empty());
  // This registry has no referrers API; OCI 1.1 clients then keep an index
  // under the tag sha256-<hex> of the subject.
  const std::string bundle_type = "application/vnd.dev.sigstore.bundle.v0.3+json";
  const std::string bundle_entry = push_artifact(registry, "shop/api", amd64, bundle_type, "bundle");
  const std::string sbom_entry = push_artifact(registry, "shop/api", amd64, "application/spdx+json", "sbom");
  push_referrers_tag(registry, "shop/api", amd64.digest, {bundle_entry, sbom_entry});
  auto all = registry.referrers("shop/api", amd64.digest);
  REQUIRE(all);
  CHECK(all->size() == 2);
  auto bundles = registry.referrers("shop/api", amd64.digest, bundle_type);
  REQUIRE(bundles);
  REQUIRE(bundles->size() == 1);
  CHECK_THAT(bundle_entry, Catch::Contains(bundles->front().digest));
  CHECK(bundles->front().artifact_type == bundle_type);
}

TEST_CASE(
    "oci: htpasswd Basic auth with bcrypt, credentials from flags or the docker config, never in errors",
    "[service][oci][registry]") {
  if (!have_docker_registry()) return;
  const std::string password = "pa55-w0rd-irsteps-8f3a";
  LocalRegistry local({"alice", password, false});
  oci::RegistryOptions options;
  options.plain_http = true;

  oci::Registry anonymous(local.host(), options);
  auto refused = anonymous.manifest("shop/web", "v1");
  REQUIRE_FALSE(refused);
  CHECK(refused.error().code() == Code::forbidden);

  auto wrong_options = options;
  wrong_options.credentials.username = "alice";
  wrong_options.credentials.password = Secret("not-" + password);
  oci::Registry wrong(local.host(), wrong_options);
  auto denied = wrong.manifest("shop/web", "v1");
  REQUIRE_FALSE(denied);
  CHECK(denied.error().code() == Code::forbidden);
  CHECK(denied.error().describe().find(password) == std::string::npos);

  SECTION("--registry-username and a password file") {
    REQUIRE(write_file_atomic(local.dir() / "password", password + "\n"));
    auto credentials = oci::find_credentials(local.host(), {"alice", local.dir() / "password", ""});
    REQUIRE(credentials);
    auto with = options;
    with.credentials = std::move(*credentials);
    oci::Registry registry(local.host(), with);
    const auto image = push_image(registry, "shop/web", "v1");
    auto fetched = registry.manifest("shop/web", "v1");
    REQUIRE(fetched);
    CHECK(fetched->digest == image.digest);
  }
  SECTION("the auths entry of a docker config") {
    const std::string config = R"({"auths":{"https://)" + local.host() + R"(":{"auth":")" +
                               base64_encode("alice:" + password) + R"("}}})";
    REQUIRE(write_file_atomic(local.dir() / "config.json", config));
    auto credentials = oci::find_credentials(local.host(), {"", "", local.dir() / "config.json"});
    REQUIRE(credentials);
    CHECK(credentials->username == "alice");
    auto with = options;
    with.credentials = std::move(*credentials);
    oci::Registry registry(local.host(), with);
    REQUIRE(registry.push_blob("shop/web", "x"));
  }
  SECTION("a credential helper named in credHelpers") {
    const std::string helper_dir = local.dir() / "bin";
    REQUIRE(run_process({"mkdir", "-p", helper_dir}));
    REQUIRE(write_file_atomic(helper_dir + "/docker-credential-irsteps-test",
                              "#!/bin/sh\nread server\n[ \"$1\" = get ] || exit 1\n"
                              "printf '{\"ServerURL\":\"%s\",\"Username\":\"alice\",\"Secret\":\"" +
                                  password + "\"}' \"$server\"\n"));
    REQUIRE(run_process({"chmod", "+x", helper_dir + "/docker-credential-irsteps-test"}));
    const std::string config = R"({"credHelpers":{")" + local.host() + R"(":"irsteps-test"}})";
    REQUIRE(write_file_atomic(local.dir() / "config.json", config));
    const std::string old_path = std::getenv("PATH") ? std::getenv("PATH") : "";
    ::setenv("PATH", (helper_dir + ":" + old_path).c_str(), 1);
    auto credentials = oci::find_credentials(local.host(), {"", "", local.dir() / "config.json"});
    ::setenv("PATH", old_path.c_str(), 1);
    REQUIRE(credentials);
    CHECK(credentials->username == "alice");
    CHECK(credentials->password.reveal() == password);
  }
}

TEST_CASE("oci: TLS to a registry with the test's own CA, verified", "[service][oci][registry]") {
  if (!have_docker_registry()) return;
  LocalRegistry local({"", "", true});
  oci::RegistryOptions options;
  options.ca_pem = local.ca_pem();
  oci::Registry registry(local.host(), options);
  const auto image = push_image(registry, "shop/tls", "v1");
  auto fetched = registry.manifest("shop/tls", "v1");
  REQUIRE(fetched);
  CHECK(fetched->digest == image.digest);

  oci::RegistryOptions untrusting;
  untrusting.retry.max_attempts = 1;
  oci::Registry stranger(local.host(), untrusting);
  auto refused = stranger.manifest("shop/tls", "v1");
  REQUIRE_FALSE(refused);
}

TEST_CASE(
    "oci: Bearer tokens by the WWW-Authenticate realm, service and scope, 429 retried after Retry-After",
    "[service][oci]") {
  std::atomic<int> throttled{0};
  std::unique_ptr<HttpServer> server;
  const std::string manifest =
      R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"})";
  server = std::make_unique<HttpServer>([&](const SeenRequest& request) -> Reply {
    if (request.target.starts_with("/token")) {
      if (request.header("authorization") != "Basic " + base64_encode("bob:t0ken-pass")) return {401, {}, ""};
      return {200, {{"Content-Type", "application/json"}}, R"({"token":"registry-token-123"})"};
    }
    if (request.header("authorization") != "Bearer registry-token-123") {
      return {
          401,
          {{"WWW-Authenticate", "Bearer realm=\"" + server->url() +
                                    "/token\",service=\"test-registry\",scope=\"repository:shop/web:pull\""}},
          ""};
    }
    if (request.target == "/v2/") return {200, {}, "{}"};
    if (throttled++ == 0) return {429, {{"Retry-After", "0"}}, ""};
    return {200, {{"Content-Type", "application/vnd.oci.image.manifest.v1+json"}}, manifest};
  });
  oci::RegistryOptions options;
  options.plain_http = true;
  options.credentials.username = "bob";
  options.credentials.password = Secret("t0ken-pass");
  oci::Registry registry(server->url().substr(7), options);
  auto fetched = registry.manifest("shop/web", "v1");
  REQUIRE(fetched);
  CHECK(fetched->digest == "sha256:" + sha256_hex(manifest));
  const auto seen = server->requests();
  bool asked_for_scope = false;
  for (const auto& request : seen) {
    if (request.target.starts_with("/token"))
      asked_for_scope = request.target.find("scope=repository%3Ashop%2Fweb%3Apull") != std::string::npos ||
                        request.target.find("scope=repository:shop/web:pull") != std::string::npos;
  }
  CHECK(asked_for_scope);
  CHECK(throttled.load() == 2);
}

namespace {

// A registry that takes only Bearer tokens from its realm, and a realm that
// gives one only for an OAuth2 refresh token: Docker's identity tokens (what
// `docker login` keeps for Azure, ECR public and others). Scripted, because
// Debian's docker-registry has no token server.
struct TokenRegistry {
  static constexpr const char* identity_token = "id-t0ken/refresh+7c1e";
  HttpServer server{[this](const SeenRequest& request) { return answer(request); }};

  Reply answer(const SeenRequest& request) const {
    if (request.target.starts_with("/token")) {
      const bool refresh =
          request.method == "POST" && request.header("content-type") == "application/x-www-form-urlencoded" &&
          request.body.find("grant_type=refresh_token") != std::string::npos &&
          request.body.find("refresh_token=" + http::url_encode(identity_token)) != std::string::npos &&
          request.body.find("service=test-registry") != std::string::npos &&
          request.body.find("scope=" + http::url_encode("repository:shop/web:pull")) != std::string::npos;
      if (!refresh) return {401, {}, R"({"errors":[{"code":"UNAUTHORIZED"}]})"};
      return {200, {{"Content-Type", "application/json"}}, R"({"access_token":"registry-token-456"})"};
    }
    if (request.header("authorization") != "Bearer registry-token-456") {
      return {401,
              {{"WWW-Authenticate", "Bearer realm=\"" + server.url() + "/token\",service=\"test-registry\""}},
              ""};
    }
    if (request.target == "/v2/") return {200, {}, "{}"};
    return {200, {{"Content-Type", "application/vnd.oci.image.manifest.v1+json"}}, manifest()};
  }
  static std::string manifest() {
    return R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"})";
  }
  [[nodiscard]] std::string host() const { return server.url().substr(7); }
};

}  // namespace

TEST_CASE("oci: an identity token from the docker config or a credsStore helper is a refresh token",
          "[service][oci]") {
  TokenRegistry registry_server;
  TempDir dir;
  const std::string host = registry_server.host();
  std::string config;
  std::string helper_dir;
  SECTION("identitytoken in the auths entry") {
    config = R"({"auths":{")" + host + R"(":{"identitytoken":")" + TokenRegistry::identity_token + R"("}}})";
  }
  SECTION("the credsStore helper answering with the user <token>") {
    helper_dir = dir / "bin";
    REQUIRE(run_process({"mkdir", "-p", helper_dir}));
    REQUIRE(write_file_atomic(helper_dir + "/docker-credential-irsteps-store",
                              "#!/bin/sh\nread server\n[ \"$1\" = get ] || exit 1\n"
                              "printf '{\"ServerURL\":\"%s\",\"Username\":\"<token>\",\"Secret\":\"" +
                                  std::string(TokenRegistry::identity_token) + "\"}' \"$server\"\n"));
    REQUIRE(run_process({"chmod", "+x", helper_dir + "/docker-credential-irsteps-store"}));
    config = R"({"credsStore":"irsteps-store","auths":{")" + host + R"(":{}}})";
  }
  REQUIRE(write_file_atomic(dir / "config.json", config));
  const std::string old_path = std::getenv("PATH") ? std::getenv("PATH") : "";
  if (!helper_dir.empty()) ::setenv("PATH", (helper_dir + ":" + old_path).c_str(), 1);
  auto credentials = oci::find_credentials(host, {"", "", dir / "config.json"});
  ::setenv("PATH", old_path.c_str(), 1);
  REQUIRE(credentials);
  CHECK(credentials->identity_token);

  oci::RegistryOptions options;
  options.plain_http = true;
  options.credentials = *credentials;
  oci::Registry registry(host, options);
  auto fetched = registry.manifest("shop/web", "v1");
  REQUIRE(fetched);
  CHECK(fetched->digest == "sha256:" + sha256_hex(TokenRegistry::manifest()));
  // The token went in a POST body to the realm, never as a Basic password
  // and never to the registry itself.
  int posts = 0;
  for (const auto& request : registry_server.server.requests()) {
    if (request.target.starts_with("/token")) posts += request.method == "POST" ? 1 : 0;
    CHECK(request.header("authorization").find("Basic") == std::string::npos);
    if (!request.target.starts_with("/token")) {
      CHECK(request.target.find("refresh") == std::string::npos);
      CHECK(request.body.find(TokenRegistry::identity_token) == std::string::npos);
    }
  }
  CHECK(posts == 1);

  // A token the realm refuses: forbidden, and the token is in no error.
  options.credentials.password = Secret("revoked-identity-t0ken");
  oci::Registry revoked(host, options);
  auto refused = revoked.manifest("shop/web", "v1");
  REQUIRE_FALSE(refused);
  CHECK(refused.error().code() == Code::forbidden);
  CHECK(refused.error().describe().find("revoked-identity-t0ken") == std::string::npos);
}

TEST_CASE("oci: a blob redirected to storage on another host gets no registry credentials, and is checked",
          "[service][oci]") {
  // Registries hand blobs to object storage (S3, GCS) with a redirect; a
  // docker-registry on the filesystem never redirects, so the registry is
  // scripted here: Basic auth in front, a 307 to a second server for blobs.
  const std::string blob = "layer bytes of shop/web";
  const std::string digest = "sha256:" + sha256_hex(blob);
  std::atomic<bool> tamper{false};
  HttpServer storage([&](const SeenRequest&) -> Reply {
    return {200, {}, tamper ? "tampered " + blob : blob};
  });
  const std::string basic = "Basic " + base64_encode("alice:s3cret-pass");
  HttpServer front([&](const SeenRequest& request) -> Reply {
    if (request.header("authorization") != basic) {
      return {401, {{"WWW-Authenticate", "Basic realm=\"registry\""}}, ""};
    }
    if (request.target == "/v2/") return {200, {}, "{}"};
    if (request.target == "/v2/shop/web/blobs/" + digest) {
      return {307, {{"Location", storage.url() + "/bucket/" + digest.substr(7) + "?X-Signature=abc"}}, ""};
    }
    return {404, {}, ""};
  });
  oci::RegistryOptions options;
  options.plain_http = true;
  options.credentials.username = "alice";
  options.credentials.password = Secret("s3cret-pass");
  oci::Registry registry(front.url().substr(7), options);

  auto fetched = registry.blob("shop/web", digest);
  REQUIRE(fetched);
  CHECK(*fetched == blob);
  const auto at_storage = storage.requests();
  REQUIRE(at_storage.size() == 1);
  CHECK(at_storage[0].target == "/bucket/" + digest.substr(7) + "?X-Signature=abc");
  CHECK(at_storage[0].header("authorization").empty());

  // Storage that serves other bytes than the digest names: refused.
  tamper = true;
  auto tampered = registry.blob("shop/web", digest);
  REQUIRE_FALSE(tampered);
  CHECK(tampered.error().describe().find("digest") != std::string::npos);
  for (const auto& request : storage.requests()) CHECK(request.header("authorization").empty());
}
