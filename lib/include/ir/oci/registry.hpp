// An OCI distribution client for one registry: the /v2/ ping, anonymous,
// Basic and Bearer-token authentication (the WWW-Authenticate realm,
// service and scope flow), manifests and indexes (OCI and Docker v2) checked
// against their digest, blobs checked against theirs, redirects to blob
// storage without the registry's credentials, the OCI 1.1 referrers API with
// the sha256-<hex> tag fallback, and pushes (for attaching signatures and
// for tests). Retries on 429/5xx honouring Retry-After come from ir::http.
#pragma once

#include "ir/core/error.hpp"
#include "ir/core/json.hpp"
#include "ir/core/secret.hpp"
#include "ir/http/client.hpp"
#include "ir/oci/reference.hpp"

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace ir::oci {

namespace media {
inline constexpr std::string_view oci_manifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view oci_index = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view docker_manifest = "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr std::string_view docker_list = "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr std::string_view oci_empty = "application/vnd.oci.empty.v1+json";
}  // namespace media

struct Credentials {
  std::string username;
  Secret password;              // or an identity (refresh) token
  bool identity_token = false;  // docker's "<token>" user name
  [[nodiscard]] bool empty() const { return username.empty() && password.empty(); }
};

struct Descriptor {
  std::string media_type;
  std::string digest;
  std::int64_t size = 0;
  std::string artifact_type;
  std::map<std::string, std::string> annotations;
  std::string platform;  // "os/arch[/variant]" in an index
};

struct Manifest {
  std::string media_type;
  std::string digest;  // sha256 of `body`, checked
  std::string body;
  json::object document;

  [[nodiscard]] bool is_index() const;
  [[nodiscard]] std::vector<Descriptor> manifests() const;  // of an index
  [[nodiscard]] std::vector<Descriptor> layers() const;     // of an image manifest
  [[nodiscard]] std::optional<Descriptor> config() const;
};

struct RegistryOptions {
  std::string ca_pem;       // extra CA for the registry's TLS; empty: the system store
  bool plain_http = false;  // only when asked for (a local test registry)
  http::RetryPolicy retry;
  Credentials credentials;
};

[[nodiscard]] Descriptor descriptor_from(const json::value& node);

class Registry {
 public:
  Registry(std::string host, RegistryOptions options);
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // By tag or digest; the body's digest is checked against a requested
  // digest, and against the registry's Docker-Content-Digest otherwise.
  [[nodiscard]] Result<Manifest> manifest(const std::string& repository, const std::string& tag_or_digest);
  // The manifest an index lists for `platform` ("linux/amd64", "linux/arm64/v8").
  [[nodiscard]] Result<Descriptor> select_platform(const Manifest& index, const std::string& platform) const;
  [[nodiscard]] Result<std::string> blob(const std::string& repository, const std::string& digest);
  // OCI 1.1 referrers of `digest`, filtered by artifact type when given;
  // a registry without the API is asked for the sha256-<hex> index tag.
  [[nodiscard]] Result<std::vector<Descriptor>> referrers(const std::string& repository,
                                                          const std::string& digest,
                                                          std::string_view artifact_type = {});

  [[nodiscard]] Result<std::string> push_blob(const std::string& repository, std::string_view bytes);
  [[nodiscard]] Result<std::string> push_manifest(const std::string& repository,
                                                  const std::string& tag_or_digest,
                                                  std::string_view media_type, std::string_view body);

  // HTTP requests sent (attempts included), for tests and benchmarks.
  [[nodiscard]] int requests() const;

 private:
  struct Auth;
  [[nodiscard]] Result<http::Response> send(http::Request request, const std::string& repository,
                                            bool push = false);
  [[nodiscard]] Result<void> authorize(http::Request& request, const std::string& scope);
  [[nodiscard]] Result<void> ping();
  [[nodiscard]] Result<void> fetch_token(const std::string& scope);
  [[nodiscard]] std::string url(const std::string& path) const;

  std::string host_;
  RegistryOptions options_;
  std::unique_ptr<http::Client> client_;
  std::unique_ptr<Auth> auth_;
};

// WWW-Authenticate: the scheme and its parameters (realm, service, scope).
struct Challenge {
  std::string scheme;  // lower-case: "basic", "bearer"
  std::map<std::string, std::string> params;
};
[[nodiscard]] std::optional<Challenge> parse_challenge(std::string_view header);

}  // namespace ir::oci
