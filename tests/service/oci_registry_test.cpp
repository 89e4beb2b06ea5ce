// ir::oci::Registry against Debian's docker-registry on 127.0.0.1 (plain
// HTTP, htpasswd Basic auth with bcrypt, TLS with a CA of the test), and the
// parts a stock registry cannot show (Bearer tokens, 429 with Retry-After)
// against a scripted HTTP server.
#include "ir/oci/credentials.hpp"
#include "ir/oci/registry.hpp"

#include "ir/core/encoding.hpp"
#include "service/registry_fixture.hpp"
#include "support/catch.hpp"
#include "support/http_server.hpp"

#include <boost/json.hpp>

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
