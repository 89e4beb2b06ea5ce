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

  const auto layer_descriptor = by_tag->layers().at(0);
  CHECK(layer_descriptor.digest == image.layer_digest);
  auto layer = registry.blob("shop/web", layer_descriptor, oci::limits::bundle_bytes);
  REQUIRE(layer);
  CHECK("sha256:" + sha256_hex(*layer) == image.layer_digest);

  auto missing = registry.manifest("shop/web", "v2");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code() == Code::not_found);
  // A blob asked for under another digest than its own is refused.
  oci::Descriptor unknown = layer_descriptor;
  unknown.digest = "sha256:" + std::string(64, '0');
  auto absent = registry.blob("shop/web", unknown, oci::limits::bundle_bytes);
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
    return {200, {}, tamper ? "L" + blob.substr(1) : blob};  // the same size, other bytes
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

  oci::Descriptor descriptor;
  descriptor.digest = digest;
  descriptor.size = static_cast<std::int64_t>(blob.size());
  auto fetched = registry.blob("shop/web", descriptor, oci::limits::bundle_bytes);
  REQUIRE(fetched);
  CHECK(*fetched == blob);
  const auto at_storage = storage.requests();
  REQUIRE(at_storage.size() == 1);
  CHECK(at_storage[0].target == "/bucket/" + digest.substr(7) + "?X-Signature=abc");
  CHECK(at_storage[0].header("authorization").empty());

  // Storage that serves other bytes than the digest names: refused.
  tamper = true;
  auto tampered = registry.blob("shop/web", descriptor, oci::limits::bundle_bytes);
  REQUIRE_FALSE(tampered);
  CHECK(tampered.error().describe().find("digest") != std::string::npos);
  for (const auto& request : storage.requests()) CHECK(request.header("authorization").empty());
}

namespace {

// A scripted registry, anonymous, serving what a test puts in `routes`
// (target -> reply); anything else is 404.
struct ScriptedRegistry {
  std::map<std::string, Reply> routes;
  HttpServer server{[this](const SeenRequest& request) -> Reply {
    if (request.target == "/v2/") return {200, {}, "{}"};
    if (auto it = routes.find(request.target); it != routes.end()) return it->second;
    return {404, {}, R"({"errors":[{"code":"NOT_FOUND"}]})"};
  }};
  [[nodiscard]] std::string host() const { return server.url().substr(7); }
  [[nodiscard]] int asked(const std::string& target) const {
    int n = 0;
    for (const auto& request : server.requests()) n += request.target == target ? 1 : 0;
    return n;
  }
};

oci::Descriptor descriptor_of(const std::string& bytes, std::int64_t size) {
  oci::Descriptor d;
  d.media_type = "application/vnd.dev.sigstore.bundle.v0.3+json";
  d.digest = "sha256:" + sha256_hex(bytes);
  d.size = size;
  return d;
}

std::string index_of(std::size_t entries) {
  std::string text =
      R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[)";
  for (std::size_t i = 0; i < entries; ++i)
    text +=
        std::string(i == 0 ? "" : ",") +
        R"({"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/vnd.dev.sigstore.bundle.v0.3+json","digest":"sha256:)" +
        sha256_hex(std::to_string(i)) + R"(","size":100})";
  return text + "]}";
}

}  // namespace

// Security review, finding 7: blobs were read whatever their size, and the
// descriptor's size was never compared with what arrived.
TEST_CASE("finding 7: a blob is fetched by its descriptor: its size bounds the read and must match exactly",
          "[service][oci]") {
  ScriptedRegistry registry_server;
  const std::string bundle = R"({"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json"})";
  const std::string digest = "sha256:" + sha256_hex(bundle);
  registry_server.routes["/v2/shop/web/blobs/" + digest] = {200, {}, bundle};
  const std::string big(2 * 1024 * 1024, 'b');
  const std::string big_digest = "sha256:" + sha256_hex(big);
  registry_server.routes["/v2/shop/web/blobs/" + big_digest] = {200, {}, big};
  oci::RegistryOptions options;
  options.plain_http = true;
  options.retry.max_attempts = 1;
  oci::Registry registry(registry_server.host(), options);

  auto exact = registry.blob("shop/web", descriptor_of(bundle, static_cast<std::int64_t>(bundle.size())),
                             oci::limits::bundle_bytes);
  REQUIRE(exact);
  CHECK(*exact == bundle);

  // The right bytes under a descriptor that says more, or less: refused,
  // though the digest matches.
  for (const std::int64_t size : {static_cast<std::int64_t>(bundle.size()) + 1,
                                  static_cast<std::int64_t>(bundle.size()) - 1, std::int64_t{0}}) {
    INFO(size);
    auto wrong = registry.blob("shop/web", descriptor_of(bundle, size), oci::limits::bundle_bytes);
    REQUIRE_FALSE(wrong);
    CHECK(wrong.error().code() == Code::rejected);
  }
  // A big blob under a small descriptor is not read past the descriptor's
  // size (nor past the room for an error answer).
  auto truncated = registry.blob("shop/web", descriptor_of(big, 10), oci::limits::bundle_bytes);
  REQUIRE_FALSE(truncated);
  CHECK(truncated.error().code() == Code::rejected);
  CHECK(truncated.error().describe().find("bytes accepted") != std::string::npos);

  // A descriptor over the ceiling for its kind, or with no byte count, is
  // refused before anything is asked.
  const int before = registry_server.asked("/v2/shop/web/blobs/" + big_digest);
  auto over = registry.blob("shop/web", descriptor_of(big, static_cast<std::int64_t>(big.size())),
                            oci::limits::signature_payload_bytes);
  REQUIRE_FALSE(over);
  CHECK(over.error().code() == Code::rejected);
  CHECK(over.error().describe().find("over the 1048576") != std::string::npos);
  auto no_size = registry.blob("shop/web", descriptor_of(big, -1), oci::limits::bundle_bytes);
  REQUIRE_FALSE(no_size);
  CHECK(registry_server.asked("/v2/shop/web/blobs/" + big_digest) == before);
  // Within its ceiling the same blob is fine.
  REQUIRE(registry.blob("shop/web", descriptor_of(big, static_cast<std::int64_t>(big.size())),
                        oci::limits::bundle_bytes));
}

TEST_CASE("finding 7: manifests over 4 MiB, and manifests or referrer lists over 1000 entries, are refused",
          "[service][oci]") {
  ScriptedRegistry registry_server;
  const std::string huge = R"({"schemaVersion":2,"annotations":{"pad":")" +
                           std::string(oci::limits::manifest_bytes, 'p') + R"("}})";
  const Reply manifest_reply{200, {{"Content-Type", "application/vnd.oci.image.manifest.v1+json"}}, {}};
  auto with_body = [&](std::string body) {
    Reply reply = manifest_reply;
    reply.body = std::move(body);
    return reply;
  };
  registry_server.routes["/v2/shop/web/manifests/huge"] = with_body(huge);
  Reply chunked = manifest_reply;
  chunked.chunks.assign(5, std::string(1024 * 1024, ' '));
  registry_server.routes["/v2/shop/web/manifests/endless"] = chunked;
  std::string many_layers =
      R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","layers":[)";
  for (std::size_t i = 0; i <= oci::limits::layers; ++i)
    many_layers += std::string(i == 0 ? "" : ",") + R"({"mediaType":"x","digest":"sha256:)" +
                   sha256_hex(std::to_string(i)) + R"(","size":1})";
  many_layers += "]}";
  registry_server.routes["/v2/shop/web/manifests/layers"] = with_body(many_layers);
  const std::string subject = "sha256:" + std::string(64, 'a');
  Reply referrers{200,
                  {{"Content-Type", "application/vnd.oci.image.index.v1+json"}},
                  index_of(oci::limits::manifests + 1)};
  registry_server.routes["/v2/shop/web/referrers/" + subject + "?artifactType=" +
                         http::url_encode("application/vnd.dev.sigstore.bundle.v0.3+json")] = referrers;
  registry_server.routes["/v2/shop/web/referrers/" + subject] = referrers;
  const std::string small = R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"})";
  registry_server.routes["/v2/shop/web/manifests/sha256:" + sha256_hex(small)] = with_body(small);

  oci::RegistryOptions options;
  options.plain_http = true;
  options.retry.max_attempts = 1;
  oci::Registry registry(registry_server.host(), options);
  for (const std::string tag : {"huge", "endless", "layers"}) {
    INFO(tag);
    auto refused = registry.manifest("shop/web", tag);
    REQUIRE_FALSE(refused);
    CHECK(refused.error().code() == Code::rejected);
  }
  auto listed = registry.referrers("shop/web", subject, "application/vnd.dev.sigstore.bundle.v0.3+json");
  REQUIRE_FALSE(listed);
  CHECK(listed.error().code() == Code::rejected);
  CHECK(listed.error().describe().find("1001 index entries") != std::string::npos);
  // A manifest named by a descriptor has the descriptor's size too.
  oci::Descriptor entry;
  entry.digest = "sha256:" + sha256_hex(small);
  entry.size = static_cast<std::int64_t>(small.size());
  REQUIRE(registry.manifest("shop/web", entry));
  entry.size += 7;
  auto longer = registry.manifest("shop/web", entry);
  REQUIRE_FALSE(longer);
  CHECK(longer.error().code() == Code::rejected);
  entry.size = static_cast<std::int64_t>(oci::limits::manifest_bytes) + 1;
  auto over = registry.manifest("shop/web", entry);
  REQUIRE_FALSE(over);
  CHECK(over.error().code() == Code::rejected);
}

// Security review, finding 12: explicit credentials are bound to their
// registry; two registries on 127.0.0.1 with different ports are two.
TEST_CASE("finding 12: explicit credentials for one registry never reach a second one on another port",
          "[service][oci]") {
  const std::string basic = "Basic " + base64_encode("ci:s3cret-registry-pass");
  const std::string manifest =
      R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"})";
  auto handler = [&](const SeenRequest& request) -> Reply {
    if (request.header("authorization") != basic)
      return {401, {{"WWW-Authenticate", "Basic realm=\"r\""}}, ""};
    if (request.target == "/v2/") return {200, {}, "{}"};
    return {200, {{"Content-Type", "application/vnd.oci.image.manifest.v1+json"}}, manifest};
  };
  HttpServer first(handler);
  HttpServer second(handler);
  TempDir dir;
  REQUIRE(write_file_atomic(dir / "password", "s3cret-registry-pass\n"));
  REQUIRE(write_file_atomic(dir / "config.json", "{}"));
  const std::string first_host = first.url().substr(7);
  const std::string second_host = second.url().substr(7);
  const oci::CredentialRequest request{"ci", dir / "password", dir / "config.json", first_host};
  for (const auto& host : {first_host, second_host}) {
    auto credentials = oci::find_credentials(host, request);
    REQUIRE(credentials);
    oci::RegistryOptions options;
    options.plain_http = true;
    options.credentials = *credentials;
    oci::Registry registry(host, options);
    auto fetched = registry.manifest("shop/web", "v1");
    CHECK(static_cast<bool>(fetched) == (host == first_host));
  }
  CHECK_FALSE(first.requests().empty());
  CHECK(first.requests().back().header("authorization") == basic);
  REQUIRE_FALSE(second.requests().empty());
  for (const auto& seen : second.requests()) CHECK(seen.header("authorization").empty());
}

// Security review, finding 23: the registry kept its credentials on a
// redirect from https to http on the same host and port.
TEST_CASE(
    "finding 23: an https registry's redirect to http is refused, and the credentials never go in clear",
    "[service][oci][tls]") {
  const auto ca = make_ca("registry CA");
  const auto cert = issue(ca, {"registry", {"localhost"}, {"127.0.0.1"}});
  const std::string blob = "layer bytes";
  const std::string digest = "sha256:" + sha256_hex(blob);
  const std::string basic = "Basic " + base64_encode("alice:s3cret-pass");
  std::unique_ptr<HttpServer> server;
  server = std::make_unique<HttpServer>(
      [&](const SeenRequest& request) -> Reply {
        if (!request.tls) return {200, {}, blob};  // what a MITM on the clear hop would see
        if (request.header("authorization") != basic)
          return {401, {{"WWW-Authenticate", "Basic realm=\"registry\""}}, ""};
        if (request.target == "/v2/") return {200, {}, "{}"};
        return {
            307, {{"Location", "http://127.0.0.1:" + std::to_string(server->port()) + "/storage/blob"}}, ""};
      },
      ServerTls{cert, {}, true});
  oci::RegistryOptions options;
  options.ca_pem = ca.cert_pem;
  options.credentials.username = "alice";
  options.credentials.password = Secret("s3cret-pass");
  options.retry.max_attempts = 1;
  oci::Registry registry("127.0.0.1:" + std::to_string(server->port()), options);
  oci::Descriptor descriptor;
  descriptor.digest = digest;
  descriptor.size = static_cast<std::int64_t>(blob.size());
  auto fetched = registry.blob("shop/web", descriptor, oci::limits::bundle_bytes);
  bool saw_tls = false;
  for (const auto& seen : server->requests()) {
    saw_tls = saw_tls || seen.tls;
    if (!seen.tls) CHECK(seen.header("authorization").empty());
  }
  CHECK(saw_tls);
  REQUIRE_FALSE(fetched);
  CHECK(fetched.error().describe().find("https:// to http://") != std::string::npos);
}
