// The bearer token Argo's agent sends, checked against the token file it
// mounts (/var/run/argo/token). The file is read again when it changes
// (inode, size or modification time), so a rotated token is honoured
// without a restart; the comparison takes the same time whatever the input.
#pragma once

#include "ir/core/error.hpp"
#include "ir/core/secret.hpp"

#include <mutex>
#include <string>
#include <string_view>

namespace ir::plugin {

class TokenFile {
 public:
  explicit TokenFile(std::string path) : path_(std::move(path)) {}

  // `authorization` is the whole header value ("Bearer <token>"). False when
  // the file is missing, unreadable or empty.
  [[nodiscard]] bool accepts(std::string_view authorization);
  // Whether the file holds a token now: why not, if not (missing,
  // unreadable, empty). For --dry-run.
  [[nodiscard]] Result<void> check() const;

 private:
  void refresh_locked();

  std::string path_;
  std::mutex mutex_;
  std::string stamp_;   // what the file looked like when last read
  std::string digest_;  // SHA-256 of the token, empty without a token
};

}  // namespace ir::plugin
