// Registry credentials as docker and cosign find them: --registry-username
// with a password file first, else the docker config ($DOCKER_CONFIG/
// config.json, or $DOCKER_CONFIG/.dockerconfigjson when that folder is a
// mounted kubernetes.io/dockerconfigjson Secret, or ~/.docker/config.json):
// a credential helper named for the registry in credHelpers, the credsStore
// helper, then the base64 user:password (or identity token) in auths.
// Helpers are the docker-credential-<name> programs, asked with `get`.
#pragma once

#include "ir/core/error.hpp"
#include "ir/oci/registry.hpp"

#include <string>

namespace ir::oci {

struct CredentialRequest {
  std::string username;
  std::string password_file;
  std::string docker_config;  // a config.json path; empty: the docker default
  // The one registry (host[:port], as in an image reference) that username
  // and password_file are for: any other registry gets the docker config's
  // credentials for it, or none. Empty: the registry asked about.
  std::string explicit_registry;
};

// Empty credentials (anonymous) when nothing names the registry. Explicit
// credentials are given only for request.explicit_registry: two ports of
// one host are two registries.
[[nodiscard]] Result<Credentials> find_credentials(const std::string& registry,
                                                   const CredentialRequest& request);

}  // namespace ir::oci
