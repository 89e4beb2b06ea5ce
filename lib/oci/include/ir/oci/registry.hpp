// An OCI distribution client for one registry: the /v2/ ping, anonymous,
// Basic and Bearer-token authentication (the WWW-Authenticate realm,
// service and scope flow), manifests and indexes (OCI and Docker v2) checked
// against their digest, blobs checked against theirs, redirects to blob
// storage without the registry's credentials, the OCI 1.1 referrers API with
// the sha256-<hex> tag fallback, and pushes (for attaching signatures and
// for tests). Retries on 429/5xx honouring Retry-After come from ir::http.
//
// Nothing a registry sends is read without a bound (the class of cosign's
// CVE-2023-46737 and CVE-2024-29902/29903): see oci::limits. A blob is
// fetched by its descriptor and must have exactly the descriptor's size;
// a Bearer challenge's token realm must be https unless it is on this
// machine; credentials never follow a redirect to another scheme, host or
// port, and an https registry is never followed to http.
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

// What a registry may make us read. A body over its bound fails the
// request as it arrives (Code::rejected), before it is held in memory.
namespace limits {
inline constexpr std::uint64_t mib = 1024 * 1024;
// A manifest, an image index, a referrers list, a token answer, any error
// body: real ones are a few KiB; 4 MiB is what distribution accepts.
inline constexpr std::uint64_t manifest_bytes = 4 * mib;
// cosign's simple-signing payload in a .sig layer: a few hundred bytes.
inline constexpr std::uint64_t signature_payload_bytes = 1 * mib;
// A Sigstore bundle: a certificate chain and a log entry, and for an
// attestation its whole in-toto statement, which for an SBOM of a large
// image runs to megabytes.
inline constexpr std::uint64_t bundle_bytes = 32 * mib;
// An image's config blob.
inline constexpr std::uint64_t config_bytes = 4 * mib;
// Layers of one manifest (an image has at most 127; a .sig manifest has
// one per signature) and entries of one index or referrers list: every
// entry costs requests, so a registry cannot make a verification endless.
inline constexpr std::size_t layers = 1000;
inline constexpr std::size_t manifests = 1000;
}  // namespace limits

struct Credentials {
  std::string username;
  Secret password;              // or an identity (refresh) token
  bool identity_token = false;  // docker's "<token>" user name
  [[nodiscard]] bool empty() const { return username.empty() && password.empty(); }
};

struct Descriptor {
  std::string media_type;
  std::string digest;
  std::int64_t size = 0;  // -1: absent or not a byte count (such a descriptor fetches nothing)
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
  // Within oci::limits: the number of layers and of index entries.
  [[nodiscard]] Result<void> check_limits(const std::string& what) const;
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
  // The manifest a descriptor names (an index entry, a referrer): its size
  // must be the descriptor's too.
  [[nodiscard]] Result<Manifest> manifest(const std::string& repository, const Descriptor& descriptor);
  // The manifest an index lists for `platform` ("linux/amd64", "linux/arm64/v8").
  [[nodiscard]] Result<Descriptor> select_platform(const Manifest& index, const std::string& platform) const;
  // The blob a descriptor names, refused (Code::rejected) when the
  // descriptor's size is over `max_bytes` (one of oci::limits, by what the
  // blob is for), or when the bytes received are not exactly the
  // descriptor's size or digest.
  [[nodiscard]] Result<std::string> blob(const std::string& repository, const Descriptor& descriptor,
                                         std::uint64_t max_bytes);
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
  [[nodiscard]] Result<Manifest> fetch_manifest(const std::string& repository,
                                                const std::string& tag_or_digest, std::uint64_t max_bytes);
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

// The token realm of a Bearer challenge, checked: an absolute https URL, or
// http only to this machine (the realm gets the registry credentials).
[[nodiscard]] Result<std::string> check_token_realm(std::string_view realm);

}  // namespace ir::oci
