#include "ir/oci/registry.hpp"

#include "ir/core/encoding.hpp"
#include "ir/core/log.hpp"

#include <boost/json.hpp>
#include <boost/url.hpp>

#include <cctype>

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
  if (const auto* size = find(node, {"size"}); size != nullptr && size->is_number())
    d.size = size->is_int64() ? size->get_int64() : static_cast<std::int64_t>(size->to_number<double>());
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
  if (auth_->realm.empty())
    return Error(Code::action_failed, "registry " + host_ + ": bearer challenge without realm");
  boost::urls::url realm;
  try {
    realm = boost::urls::url(auth_->realm);
  } catch (const std::exception&) {
    return Error(Code::action_failed, "registry " + host_ + ": malformed token realm");
  }
  http::Request request;
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
    // Blob storage elsewhere gets no registry credentials.
    if (next.encoded_host_and_port() != from.encoded_host_and_port()) {
      request.bearer_token.reset();
      std::erase_if(request.headers, [](const auto& h) { return h.first == "Authorization"; });
    }
    request.url = next.buffer();
    if (response->status == 303) request.method = "GET";
  }
}

Result<Manifest> Registry::manifest(const std::string& repository, const std::string& tag_or_digest) {
  http::Request request;
  request.url = url("/v2/" + repository + "/manifests/" + tag_or_digest);
  request.headers.emplace_back("Accept", accept_manifests);
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

Result<std::string> Registry::blob(const std::string& repository, const std::string& digest) {
  http::Request request;
  request.url = url("/v2/" + repository + "/blobs/" + digest);
  const std::string what = "blob " + host_ + "/" + repository + "@" + digest;
  auto response = send(std::move(request), repository);
  if (!response) return response.error().with(what);
  if (response->status != 200) return status_error(*response, what);
  if (auto checked = check_digest(response->body, digest, what); !checked) return checked.error();
  return std::move(response->body);
}

Result<std::vector<Descriptor>> Registry::referrers(const std::string& repository, const std::string& digest,
                                                    std::string_view artifact_type) {
  http::Request request;
  request.url = url("/v2/" + repository + "/referrers/" + digest);
  if (!artifact_type.empty()) request.url += "?artifactType=" + http::url_encode(artifact_type);
  request.headers.emplace_back("Accept", std::string(media::oci_index));
  const std::string what = "referrers of " + host_ + "/" + repository + "@" + digest;
  auto response = send(std::move(request), repository);
  if (!response) return response.error().with(what);
  Manifest index;
  if (response->status == 200) {
    auto doc = parse_json(response->body, what);
    if (!doc || !doc->is_object()) return Error(Code::action_failed, what + ": not a JSON index");
    index.document = std::move(doc->as_object());
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
