#include "ir/oci/registry.hpp"

#include "ir/core/encoding.hpp"
#include "ir/core/log.hpp"

#include <boost/json.hpp>
#include <boost/url.hpp>

#include <algorithm>
#include <cctype>
#include <utility>

namespace ir::oci {

struct Registry::Auth {
  bool pinged = false;
  std::string scheme;  // "", "basic" or "bearer"
  std::string realm;
  std::string service;
  std::map<std::string, Secret> tokens;  // by scope
};

namespace {

constexpr int max_redirects = 5;
// Room for an error answer to content fetched by a descriptor's size.
constexpr std::uint64_t error_body_bytes = 64 * 1024;

const std::string accept_manifests = std::string(media::oci_manifest) + ", " + std::string(media::oci_index) +
                                     ", " + std::string(media::docker_manifest) + ", " +
                                     std::string(media::docker_list);

Error status_error(const http::Response& response, const std::string& what) {
  const std::string text = what + ": HTTP " + std::to_string(response.status);
  if (response.status == 401 || response.status == 403)
    return Error(Code::forbidden, text + " (credentials refused or missing)");
  if (response.status == 404) return Error(Code::not_found, text + " (not found)");
  if (response.status == 429 || response.status >= 500) return Error(Code::transient, text);
  return Error(Code::action_failed, text);
}

std::string sha256_digest(std::string_view bytes) {
  return "sha256:" + sha256_hex(bytes);
}

std::string lower_text(std::string_view text) {
  std::string out(text);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// A descriptor's size, before anything is fetched: a byte count within the
// bound for what the content is for.
Result<void> check_size(const Descriptor& descriptor, std::uint64_t max_bytes, const std::string& what) {
  if (descriptor.size < 0) return Error(Code::rejected, what + ": the descriptor's size is not a byte count");
  if (static_cast<std::uint64_t>(descriptor.size) > max_bytes)
    return Error(Code::rejected, what + ": " + std::to_string(descriptor.size) +
                                     " bytes by its descriptor, over the " + std::to_string(max_bytes) +
                                     " accepted for it");
  return {};
}

// What arrived against the descriptor's size: a longer or shorter body is
// refused even when its digest would match (the descriptor is what was signed).
Result<void> check_length(std::string_view bytes, const Descriptor& descriptor, const std::string& what) {
  if (std::cmp_not_equal(bytes.size(), descriptor.size))
    return Error(Code::rejected, what + ": the registry sent " + std::to_string(bytes.size()) +
                                     " bytes, the descriptor says " + std::to_string(descriptor.size));
  return {};
}

Result<std::string> check_digest(std::string_view bytes, const std::string& expected,
                                 const std::string& what) {
  const std::string actual = sha256_digest(bytes);
  if (!expected.empty() && expected != actual)
    return Error(Code::rejected, what + ": content digest " + actual + " is not the expected " + expected);
  return actual;
}

}  // namespace

std::optional<Challenge> parse_challenge(std::string_view header) {
  Challenge challenge;
  std::size_t pos = 0;
  while (pos < header.size() && header[pos] == ' ') ++pos;
  const auto space = header.find(' ', pos);
  const std::string_view scheme =
      header.substr(pos, space == std::string_view::npos ? header.size() : space - pos);
  if (scheme.empty()) return std::nullopt;
  for (char c : scheme) challenge.scheme += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (space == std::string_view::npos) return challenge;
  pos = space + 1;
  while (pos < header.size()) {
    while (pos < header.size() && (header[pos] == ' ' || header[pos] == ',')) ++pos;
    const auto eq = header.find('=', pos);
    if (eq == std::string_view::npos) break;
    std::string key;
    for (char c : header.substr(pos, eq - pos))
      key += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    pos = eq + 1;
    std::string value;
    if (pos < header.size() && header[pos] == '"') {
      ++pos;
      while (pos < header.size() && header[pos] != '"') {
        if (header[pos] == '\\' && pos + 1 < header.size()) ++pos;
        value += header[pos++];
      }
      ++pos;
    } else {
      const auto end = header.find(',', pos);
      value =
          std::string(header.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos));
      pos = end == std::string_view::npos ? header.size() : end;
    }
    challenge.params[key] = value;
  }
  return challenge;
}

Descriptor descriptor_from(const json::value& node) {
  Descriptor d;
  d.media_type = string_at(node, {"mediaType"});
  d.digest = string_at(node, {"digest"});
  // A byte count or -1: a fraction, a negative number, one past int64 or
  // no size at all names no blob that can be fetched.
  d.size = -1;
  if (const auto* size = find(node, {"size"}); size != nullptr && size->is_int64() && size->get_int64() >= 0)
    d.size = size->get_int64();
  d.artifact_type = string_at(node, {"artifactType"});
  if (const auto* annotations = find(node, {"annotations"});
      annotations != nullptr && annotations->is_object()) {
    for (const auto& [key, value] : annotations->get_object())
      if (value.is_string()) d.annotations[std::string(key)] = std::string(value.get_string());
  }
  if (const auto* platform = find(node, {"platform"}); platform != nullptr && platform->is_object()) {
    d.platform = string_at(*platform, {"os"}) + "/" + string_at(*platform, {"architecture"});
    if (const std::string variant = string_at(*platform, {"variant"}); !variant.empty())
      d.platform += "/" + variant;
  }
  return d;
}

bool Manifest::is_index() const {
  return media_type == media::oci_index || media_type == media::docker_list ||
         (media_type.empty() && document.contains("manifests"));
}

std::vector<Descriptor> Manifest::manifests() const {
  std::vector<Descriptor> out;
  if (const auto* list = document.if_contains("manifests"); list != nullptr && list->is_array())
    for (const auto& item : list->get_array()) out.push_back(descriptor_from(item));
  return out;
}

std::vector<Descriptor> Manifest::layers() const {
  std::vector<Descriptor> out;
  if (const auto* list = document.if_contains("layers"); list != nullptr && list->is_array())
    for (const auto& item : list->get_array()) out.push_back(descriptor_from(item));
  return out;
}

std::optional<Descriptor> Manifest::config() const {
  if (const auto* config = document.if_contains("config"); config != nullptr && config->is_object())
    return descriptor_from(*config);
  return std::nullopt;
}

Result<void> Manifest::check_limits(const std::string& what) const {
  const auto count = [&](std::string_view key) -> std::size_t {
    const auto* list = document.if_contains(key);
    return list != nullptr && list->is_array() ? list->get_array().size() : 0;
  };
  if (const auto layers = count("layers"); layers > limits::layers)
    return Error(Code::rejected, what + ": " + std::to_string(layers) + " layers, more than the " +
                                     std::to_string(limits::layers) + " accepted");
  if (const auto entries = count("manifests"); entries > limits::manifests)
    return Error(Code::rejected, what + ": " + std::to_string(entries) + " index entries, more than the " +
                                     std::to_string(limits::manifests) + " accepted");
  return {};
}

Result<std::string> check_token_realm(std::string_view realm) {
  if (realm.empty()) return Error(Code::action_failed, "bearer challenge without realm");
  auto parsed = boost::urls::parse_absolute_uri(realm);
  if (!parsed || !parsed->has_authority() || parsed->encoded_host().empty())
    return Error(Code::action_failed, "malformed token realm");
  // Boost.URL 1.81 reads "http://127.0.0.1.example/" as the host 127.0.0.1
  // and the path ".example/", where a resolver (libgit2, DNS) sees the name
  // 127.0.0.1.example: after an authority a path starts with '/'.
  if (!parsed->encoded_path().empty() && parsed->encoded_path().front() != '/')
    return Error(Code::action_failed, "malformed token realm (its host is not a name or an address)");
  const std::string scheme = lower_text(parsed->scheme());
  if (scheme == "https") return std::string(realm);
  // The realm gets the registry credentials (Basic) or a refresh token:
  // never in clear, except to this machine.
  if (scheme == "http" && http::is_loopback_host(std::string(parsed->encoded_host_address())))
    return std::string(realm);
  return Error(Code::action_failed,
               "token realm " + std::string(parsed->scheme()) + "://" +
                   std::string(parsed->encoded_host_and_port()) +
                   " refused: a token realm must be https:// (http:// only to this machine), "
                   "as it receives the registry credentials");
}

Registry::Registry(std::string host, RegistryOptions options)
    : host_(std::move(host)), options_(std::move(options)), auth_(std::make_unique<Auth>()) {
  http::Tls tls;
  tls.ca_pem = options_.ca_pem;
  client_ = std::make_unique<http::Client>(std::move(tls), options_.retry);
}

Registry::~Registry() = default;

int Registry::requests() const {
  return client_->attempts();
}

std::string Registry::url(const std::string& path) const {
  return std::string(options_.plain_http ? "http://" : "https://") + host_ + path;
}

Result<void> Registry::ping() {
  http::Request request;
  request.url = url("/v2/");
  request.max_body = limits::manifest_bytes;
  auto response = client_->send(request);
  if (!response) return response.error().with("registry " + host_);
  auth_->pinged = true;
  if (response->status == 200) return {};
  if (response->status != 401) return status_error(*response, "registry " + host_ + " /v2/");
  auto challenge = parse_challenge(response->header("www-authenticate"));
  if (!challenge)
    return Error(Code::action_failed, "registry " + host_ + ": 401 without a WWW-Authenticate challenge");
  auth_->scheme = challenge->scheme;
  auth_->realm = challenge->params["realm"];
  auth_->service = challenge->params["service"];
  if (auth_->scheme == "basic" && options_.credentials.empty())
    return Error(Code::forbidden,
                 "registry " + host_ + " asks for a user name and password; none were given");
  if (auth_->scheme != "basic" && auth_->scheme != "bearer")
    return Error(Code::action_failed,
                 "registry " + host_ + ": unsupported authentication scheme " + auth_->scheme);
  return {};
}

Result<void> Registry::fetch_token(const std::string& scope) {
  auto checked = check_token_realm(auth_->realm);
  if (!checked) return checked.error().with("registry " + host_);
  boost::urls::url realm;
  try {
    realm = boost::urls::url(*checked);
  } catch (const std::exception&) {
    return Error(Code::action_failed, "registry " + host_ + ": malformed token realm");
  }
  http::Request request;
  request.max_body = limits::manifest_bytes;
  const auto& credentials = options_.credentials;
  if (credentials.identity_token) {
    // Docker's identity tokens are OAuth2 refresh tokens.
    request.method = "POST";
    request.url = realm.buffer();
    request.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded");
    request.body = "grant_type=refresh_token&client_id=irsteps&service=" + http::url_encode(auth_->service) +
                   "&scope=" + http::url_encode(scope) +
                   "&refresh_token=" + http::url_encode(credentials.password.reveal());
  } else {
    if (!auth_->service.empty()) realm.params().set("service", auth_->service);
    if (!scope.empty()) realm.params().set("scope", scope);
    request.url = realm.buffer();
    if (!credentials.empty()) {
      request.headers.emplace_back(
          "Authorization",
          "Basic " + base64_encode(credentials.username + ":" + std::string(credentials.password.reveal())));
    }
  }
  auto response = client_->send(request);
  if (!response) return response.error().with("token from " + auth_->realm);
  if (response->status != 200) return status_error(*response, "token from " + auth_->realm);
  auto doc = parse_json(response->body, "token response");
  if (!doc) return Error(Code::action_failed, "token from " + auth_->realm + ": not JSON");
  std::string token = string_at(*doc, {"token"});
  if (token.empty()) token = string_at(*doc, {"access_token"});
  if (token.empty())
    return Error(Code::action_failed, "token from " + auth_->realm + ": no token in the answer");
  auth_->tokens[scope] = Secret(std::move(token));
  return {};
}

Result<void> Registry::authorize(http::Request& request, const std::string& scope) {
  if (!auth_->pinged) {
    if (auto pinged = ping(); !pinged) return pinged.error();
  }
  if (auth_->scheme == "basic") {
    const auto& credentials = options_.credentials;
    request.headers.emplace_back(
        "Authorization",
        "Basic " + base64_encode(credentials.username + ":" + std::string(credentials.password.reveal())));
  } else if (auth_->scheme == "bearer") {
    if (!auth_->tokens.contains(scope)) {
      if (auto fetched = fetch_token(scope); !fetched) return fetched.error();
    }
    request.bearer_token = auth_->tokens[scope];
  }
  return {};
}

Result<http::Response> Registry::send(http::Request request, const std::string& repository, bool push) {
  const std::string scope = "repository:" + repository + (push ? ":pull,push" : ":pull");
  if (auto ok = authorize(request, scope); !ok) return ok.error();
  request.follow_redirects = false;
  if (!request.max_body) request.max_body = limits::manifest_bytes;
  for (int redirects = 0;; ++redirects) {
    auto response = client_->send(request);
    if (!response) return response.error();
    if (response->status == 401 && auth_->scheme == "bearer" && redirects == 0 &&
        auth_->tokens.contains(scope)) {
      // An expired token: one fresh one, then the registry's answer stands.
      auth_->tokens.erase(scope);
      request.bearer_token.reset();
      if (auto ok = authorize(request, scope); !ok) return ok.error();
      response = client_->send(request);
      if (!response) return response.error();
    }
    const bool redirect = response->status == 301 || response->status == 302 || response->status == 303 ||
                          response->status == 307 || response->status == 308;
    if (!redirect) return response;
    if (redirects >= max_redirects)
      return Error(Code::action_failed, "registry " + host_ + ": too many redirects");
    const std::string location = response->header("location");
    boost::urls::url next;
    try {
      next = boost::urls::url(boost::urls::url_view(request.url));
      next.resolve(boost::urls::url_view(location)).value();
    } catch (const std::exception&) {
      return Error(Code::action_failed, "registry " + host_ + ": malformed redirect");
    }
    const boost::urls::url_view from(request.url);
    const std::string from_scheme = lower_text(from.scheme());
    const std::string next_scheme = lower_text(next.scheme());
    if (next_scheme != "https" && next_scheme != "http")
      return Error(Code::action_failed, "registry " + host_ + ": redirect to a " + next_scheme + " URL");
    // From TLS to clear text: neither the credentials nor the content would
    // be protected (a manifest by tag has no digest to check it against).
    if (from_scheme == "https" && next_scheme == "http")
      return Error(Code::action_failed, "registry " + host_ + ": a redirect from https:// to http://" +
                                            std::string(next.encoded_host_and_port()) + " is refused");
    // Blob storage elsewhere, or the same host on another scheme or port,
    // gets no registry credentials.
    if (next_scheme != from_scheme ||
        lower_text(next.encoded_host_and_port()) != lower_text(from.encoded_host_and_port())) {
      request.bearer_token.reset();
      std::erase_if(request.headers, [](const auto& h) { return lower_text(h.first) == "authorization"; });
    }
    request.url = next.buffer();
    if (response->status == 303) request.method = "GET";
  }
}

Result<Manifest> Registry::manifest(const std::string& repository, const std::string& tag_or_digest) {
  return fetch_manifest(repository, tag_or_digest, limits::manifest_bytes);
}

Result<Manifest> Registry::manifest(const std::string& repository, const Descriptor& descriptor) {
  const std::string what = "manifest " + host_ + "/" + repository + "@" + descriptor.digest;
  if (!is_digest(descriptor.digest)) return Error(Code::rejected, what + ": the descriptor has no digest");
  if (auto ok = check_size(descriptor, limits::manifest_bytes, what); !ok) return ok.error();
  auto fetched =
      fetch_manifest(repository, descriptor.digest,
                     std::max<std::uint64_t>(static_cast<std::uint64_t>(descriptor.size), error_body_bytes));
  if (!fetched) return fetched;
  if (auto ok = check_length(fetched->body, descriptor, what); !ok) return ok.error();
  return fetched;
}

Result<Manifest> Registry::fetch_manifest(const std::string& repository, const std::string& tag_or_digest,
                                          std::uint64_t max_bytes) {
  http::Request request;
  request.url = url("/v2/" + repository + "/manifests/" + tag_or_digest);
  request.headers.emplace_back("Accept", accept_manifests);
  request.max_body = max_bytes;
  const std::string what = "manifest " + host_ + "/" + repository + ":" + tag_or_digest;
  auto response = send(std::move(request), repository);
  if (!response) return response.error().with(what);
  if (response->status != 200) return status_error(*response, what);
  Manifest manifest;
  const std::string expected =
      is_digest(tag_or_digest) ? tag_or_digest : response->header("docker-content-digest");
  auto digest = check_digest(response->body, expected.starts_with("sha256:") ? expected : "", what);
  if (!digest) return digest.error();
  manifest.digest = *digest;
  manifest.body = std::move(response->body);
  auto doc = parse_json(manifest.body, what);
  if (!doc || !doc->is_object()) return Error(Code::action_failed, what + ": not a JSON manifest");
  manifest.document = std::move(doc->as_object());
  if (auto ok = manifest.check_limits(what); !ok) return ok.error();
  manifest.media_type = string_at(manifest.document, {"mediaType"});
  if (manifest.media_type.empty()) {
    const std::string header = response->header("content-type");
    manifest.media_type = header.substr(0, header.find(';'));
  }
  return manifest;
}

Result<Descriptor> Registry::select_platform(const Manifest& index, const std::string& platform) const {
  const auto entries = index.manifests();
  for (const auto& entry : entries)
    if (entry.platform == platform) return entry;
  // "linux/arm64" also takes the one "linux/arm64/<variant>" entry.
  const bool has_variant = platform.find('/') != platform.rfind('/');
  std::string available;
  for (const auto& entry : entries) {
    if (!has_variant && entry.platform.starts_with(platform + "/")) return entry;
    available += (available.empty() ? "" : ", ") + entry.platform;
  }
  return invalid("platform " + platform + " is not in the image index (it has: " + available + ")");
}

Result<std::string> Registry::blob(const std::string& repository, const Descriptor& descriptor,
                                   std::uint64_t max_bytes) {
  const std::string& digest = descriptor.digest;
  const std::string what = "blob " + host_ + "/" + repository + "@" + digest;
  if (!is_digest(digest)) return Error(Code::rejected, what + ": the descriptor has no digest");
  if (auto ok = check_size(descriptor, max_bytes, what); !ok) return ok.error();
  http::Request request;
  request.url = url("/v2/" + repository + "/blobs/" + digest);
  // The blob may not be a byte longer than its descriptor (an error answer
  // may still say why in a few KiB).
  request.max_body = std::max<std::uint64_t>(static_cast<std::uint64_t>(descriptor.size), error_body_bytes);
  auto response = send(std::move(request), repository);
  if (!response) return response.error().with(what);
  if (response->status != 200) return status_error(*response, what);
  if (auto ok = check_length(response->body, descriptor, what); !ok) return ok.error();
  if (auto checked = check_digest(response->body, digest, what); !checked) return checked.error();
  return std::move(response->body);
}

Result<std::vector<Descriptor>> Registry::referrers(const std::string& repository, const std::string& digest,
                                                    std::string_view artifact_type) {
  http::Request request;
  request.url = url("/v2/" + repository + "/referrers/" + digest);
  if (!artifact_type.empty()) request.url += "?artifactType=" + http::url_encode(artifact_type);
  request.headers.emplace_back("Accept", std::string(media::oci_index));
  request.max_body = limits::manifest_bytes;
  const std::string what = "referrers of " + host_ + "/" + repository + "@" + digest;
  auto response = send(std::move(request), repository);
  if (!response) return response.error().with(what);
  Manifest index;
  if (response->status == 200) {
    auto doc = parse_json(response->body, what);
    if (!doc || !doc->is_object()) return Error(Code::action_failed, what + ": not a JSON index");
    index.document = std::move(doc->as_object());
    if (auto ok = index.check_limits(what); !ok) return ok.error();
  } else if (response->status == 404) {
    // No referrers API: the OCI 1.1 fallback tag sha256-<hex>.
    std::string tag = digest;
    tag[tag.find(':')] = '-';
    auto tagged = manifest(repository, tag);
    if (!tagged) {
      if (tagged.error().code() == Code::not_found) return std::vector<Descriptor>{};
      return tagged.error();
    }
    index = std::move(*tagged);
  } else {
    return status_error(*response, what);
  }
  std::vector<Descriptor> found;
  for (auto& entry : index.manifests()) {
    if (!artifact_type.empty() && entry.artifact_type != artifact_type) continue;
    found.push_back(std::move(entry));
  }
  return found;
}

Result<std::string> Registry::push_blob(const std::string& repository, std::string_view bytes) {
  const std::string digest = sha256_digest(bytes);
  const std::string what = "push blob " + digest + " to " + host_ + "/" + repository;
  http::Request start;
  start.method = "POST";
  start.url = url("/v2/" + repository + "/blobs/uploads/");
  auto started = send(std::move(start), repository, true);
  if (!started) return started.error().with(what);
  if (started->status != 202) return status_error(*started, what);
  boost::urls::url location;
  try {
    location = boost::urls::url(boost::urls::url_view(url("/")));
    location.resolve(boost::urls::url_view(started->header("location"))).value();
  } catch (const std::exception&) {
    return Error(Code::action_failed, what + ": malformed upload location");
  }
  location.params().set("digest", digest);
  http::Request put;
  put.method = "PUT";
  put.url = location.buffer();
  put.headers.emplace_back("Content-Type", "application/octet-stream");
  put.body = std::string(bytes);
  auto done = send(std::move(put), repository, true);
  if (!done) return done.error().with(what);
  if (done->status != 201) return status_error(*done, what);
  return digest;
}

Result<std::string> Registry::push_manifest(const std::string& repository, const std::string& tag_or_digest,
                                            std::string_view media_type, std::string_view body) {
  const std::string what = "push manifest to " + host_ + "/" + repository + ":" + tag_or_digest;
  http::Request put;
  put.method = "PUT";
  put.url = url("/v2/" + repository + "/manifests/" + tag_or_digest);
  put.headers.emplace_back("Content-Type", std::string(media_type));
  put.body = std::string(body);
  auto done = send(std::move(put), repository, true);
  if (!done) return done.error().with(what);
  if (done->status != 201) return status_error(*done, what);
  return sha256_digest(body);
}

}  // namespace ir::oci
