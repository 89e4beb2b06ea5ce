#include "ir/oci/credentials.hpp"

#include "ir/core/encoding.hpp"
#include "ir/core/json.hpp"
#include "ir/core/process.hpp"

#include <boost/json.hpp>

#include <cctype>
#include <cstdlib>
#include <filesystem>

namespace ir::oci {
namespace {

// Docker writes Docker Hub as https://index.docker.io/v1/ and others as
// host[:port], sometimes with a scheme or path: compare hosts only.
std::string host_of(std::string key) {
  if (const auto scheme = key.find("://"); scheme != std::string::npos) key = key.substr(scheme + 3);
  if (const auto slash = key.find('/'); slash != std::string::npos) key = key.substr(0, slash);
  if (key == "index.docker.io" || key == "registry-1.docker.io") key = "docker.io";
  return key;
}

std::string lower(std::string text) {
  for (auto& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

// $DOCKER_CONFIG/config.json; or, when that folder has none, its
// .dockerconfigjson: the key of a Secret of type kubernetes.io/dockerconfigjson
// (what `kubectl create secret docker-registry` makes) mounted as a volume,
// the same format (auths). Without DOCKER_CONFIG, ~/.docker/config.json.
std::string default_config_path() {
  if (const char* dir = std::getenv("DOCKER_CONFIG"); dir != nullptr && *dir != '\0') {
    const std::string config = std::string(dir) + "/config.json";
    const std::string secret_key = std::string(dir) + "/.dockerconfigjson";
    std::error_code ec;
    if (!std::filesystem::exists(config, ec) && std::filesystem::exists(secret_key, ec)) return secret_key;
    return config;
  }
  if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0')
    return std::string(home) + "/.docker/config.json";
  return {};
}

Result<Credentials> from_helper(const std::string& helper, const std::string& registry) {
  const std::string program = "docker-credential-" + helper;
  // Docker Hub's helper entry is keyed by the v1 URL.
  const std::string server = registry == "docker.io" ? "https://index.docker.io/v1/" : registry;
  ProcessOptions options;
  options.stdin_data = server;
  options.timeout = std::chrono::seconds(30);
  auto output = run_process({program, "get"}, options);
  if (!output) return output.error().with("credential helper " + program);
  if (output->exit_status != 0) {
    // "credentials not found in native keychain": anonymous, as docker does.
    if (output->out.find("not found") != std::string::npos ||
        output->err.find("not found") != std::string::npos)
      return Credentials{};
    return Error(Code::forbidden, "credential helper " + program + " failed (exit " +
                                      std::to_string(output->exit_status) + ")");
  }
  auto doc = parse_json(output->out, program);
  if (!doc || !doc->is_object()) return invalid("credential helper " + program + ": its answer is not JSON");
  Credentials credentials;
  credentials.username = string_at(*doc, {"Username"});
  credentials.password = Secret(string_at(*doc, {"Secret"}));
  credentials.identity_token = credentials.username == "<token>";
  return credentials;
}

}  // namespace

Result<Credentials> find_credentials(const std::string& registry, const CredentialRequest& request) {
  if (!request.username.empty() || !request.password_file.empty()) {
    if (request.username.empty() || request.password_file.empty())
      return invalid("registry-username and registry-password-file go together");
  }
  // Explicit credentials belong to one registry: another one named by the
  // user's input (a baseline image elsewhere) must not receive them.
  const bool explicit_here =
      !request.username.empty() && (request.explicit_registry.empty() ||
                                    host_of(lower(request.explicit_registry)) == host_of(lower(registry)));
  if (explicit_here) {
    auto password = read_file(request.password_file);
    if (!password) return password.error().with("parameter registry-password-file");
    std::string value = std::move(*password);
    while (!value.empty() && (value.back() == '\n' || value.back() == '\r')) value.pop_back();
    Credentials credentials;
    credentials.username = request.username;
    credentials.password = Secret(std::move(value));
    return credentials;
  }
  const std::string path = request.docker_config.empty() ? default_config_path() : request.docker_config;
  if (path.empty() || !std::filesystem::exists(path)) {
    if (!request.docker_config.empty())
      return invalid("parameter docker-config: " + path + " does not exist");
    return Credentials{};
  }
  auto text = read_file(path);
  if (!text) return text.error();
  auto doc = parse_json(*text, path);
  if (!doc || !doc->is_object()) return invalid(path + ": not a JSON docker config");
  const std::string host = host_of(registry);
  if (const auto* helpers = find(*doc, {"credHelpers"}); helpers != nullptr && helpers->is_object()) {
    for (const auto& [key, helper] : helpers->get_object())
      if (host_of(std::string(key)) == host && helper.is_string())
        return from_helper(std::string(helper.get_string()), host);
  }
  if (const std::string store = string_at(*doc, {"credsStore"}); !store.empty()) {
    auto stored = from_helper(store, host);
    if (!stored || !stored->empty()) return stored;
  }
  if (const auto* auths = find(*doc, {"auths"}); auths != nullptr && auths->is_object()) {
    for (const auto& [key, entry] : auths->get_object()) {
      if (host_of(std::string(key)) != host) continue;
      Credentials credentials;
      if (const std::string token = string_at(entry, {"identitytoken"}); !token.empty()) {
        credentials.username = "<token>";
        credentials.password = Secret(token);
        credentials.identity_token = true;
        return credentials;
      }
      auto decoded = base64_decode(string_at(entry, {"auth"}));
      if (!decoded || decoded->find(':') == std::string::npos)
        return invalid(path + ": auths." + std::string(key) + ".auth is not base64 user:password");
      const auto colon = decoded->find(':');
      credentials.username = decoded->substr(0, colon);
      credentials.password = Secret(decoded->substr(colon + 1));
      return credentials;
    }
  }
  return Credentials{};
}

}  // namespace ir::oci
