// Registry credentials as docker and cosign find them: --registry-username
// with a password file first, else the docker config ($DOCKER_CONFIG/
// config.json or ~/.docker/config.json): a credential helper named for the
// registry in credHelpers, the credsStore helper, then the base64
// user:password (or identity token) in auths. Helpers are the
// docker-credential-<name> programs, asked with `get`.
#pragma once

#include "ir/core/error.hpp"
#include "ir/oci/registry.hpp"

#include <string>

namespace ir::oci {

struct CredentialRequest {
  std::string username;
  std::string password_file;
  std::string docker_config;  // a config.json path; empty: the docker default
};

// Empty credentials (anonymous) when nothing names the registry.
[[nodiscard]] Result<Credentials> find_credentials(const std::string& registry,
                                                   const CredentialRequest& request);

}  // namespace ir::oci
