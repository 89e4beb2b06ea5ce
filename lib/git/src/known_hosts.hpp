// SSH host keys against known_hosts, for the git transport's certificate
// check (repository.cpp). Internal to ir::git.
#pragma once

#include "ir/core/error.hpp"

#include <string>
#include <string_view>

namespace ir::git::detail {

// Ok when the known_hosts file lists this exact key (`raw_key`, the key's
// wire form) for `host` on `port`; an @revoked line for the key refuses it
// even if another line accepts it. Failures are Code::invalid_input, as an
// unverifiable TLS certificate is: the given known_hosts does not vouch for
// this server, and retrying cannot change that.
[[nodiscard]] Result<void> check_host_key(const std::string& known_hosts, std::string host, int port,
                                          std::string_view raw_key);

}  // namespace ir::git::detail
