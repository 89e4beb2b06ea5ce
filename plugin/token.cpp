#include "token.hpp"

#include "ir/core/encoding.hpp"
#include "ir/core/json.hpp"
#include "ir/core/log.hpp"
#include "ir/crypto/hmac.hpp"

#include <sys/stat.h>

namespace ir::plugin {

namespace {

// The SHA-256 of the token in `path` (trailing white space left out), or why
// there is none: the file is missing, unreadable or empty.
Result<std::string> token_digest(const std::string& path) {
  auto text = read_file(path);
  if (!text) return text.error();
  Secret token(std::move(*text));
  std::string_view value = token.reveal();
  while (!value.empty() && (value.back() == '\n' || value.back() == '\r' || value.back() == ' ')) {
    value.remove_suffix(1);
  }
  if (value.empty()) return invalid(path + " is empty");
  return sha256_hex(value);
}

}  // namespace

Result<void> TokenFile::check() const {
  auto digest = token_digest(path_);
  if (!digest) return digest.error();
  return {};
}

void TokenFile::refresh_locked() {
  struct stat info {};
  std::string stamp = "missing";
  if (::stat(path_.c_str(), &info) == 0) {
    stamp = std::to_string(info.st_ino) + ":" + std::to_string(info.st_size) + ":" +
            std::to_string(info.st_mtim.tv_sec) + "." + std::to_string(info.st_mtim.tv_nsec);
  }
  if (stamp == stamp_) return;
  stamp_ = stamp;
  digest_.clear();
  auto digest = token_digest(path_);
  if (!digest) {
    log::warn("auth.token_unreadable", {{"path", path_}, {"message", digest.error().describe()}});
    return;
  }
  digest_ = std::move(*digest);
  log::info("auth.token_loaded", {{"path", path_}});
}

bool TokenFile::accepts(std::string_view authorization) {
  constexpr std::string_view scheme = "Bearer ";
  std::string presented;
  if (authorization.size() > scheme.size() && authorization.substr(0, scheme.size()) == scheme) {
    presented = sha256_hex(authorization.substr(scheme.size()));
  }
  std::lock_guard lock(mutex_);
  refresh_locked();
  // Digests of equal length: the time does not depend on where the tokens differ.
  return !digest_.empty() && !presented.empty() && crypto::equal_constant_time(presented, digest_);
}

}  // namespace ir::plugin
