// Packing evidence for Argo's output artifacts: a gzip stream (zlib) and a
// deterministic ustar archive of a folder.
#pragma once

#include "ir/core/error.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace ir::evidence {

// Compresses what it is given into gzip format, handing the compressed bytes
// to `sink` as they come.
class Gzip {
 public:
  using Sink = std::function<Result<void>(std::string_view)>;
  explicit Gzip(Sink sink);
  ~Gzip();
  Gzip(const Gzip&) = delete;
  Gzip& operator=(const Gzip&) = delete;

  [[nodiscard]] Result<void> write(std::string_view bytes);
  [[nodiscard]] Result<void> finish();

 private:
  [[nodiscard]] Result<void> pump(int flush);
  struct State;
  std::unique_ptr<State> state_;
  Sink sink_;
};

// The header blocks of one tar entry: ustar, preceded by a pax extended
// header when the size reaches 8 GiB (the ustar size field's limit; the
// size is then also in GNU's base-256 form) or the name does not fit the
// ustar name and prefix fields. Security review finding 9: a larger entry
// overflowed the octal field and made a corrupt archive.
[[nodiscard]] Result<std::string> tar_header(const std::string& name, std::uint64_t size, std::uint64_t mtime,
                                             bool directory);

// Writes every file under `dir` into `archive` (.tar.gz), paths prefixed
// with the folder's name, in sorted order. Returns the archive's SHA-256.
[[nodiscard]] Result<std::string> write_tar_gz(const std::string& dir, const std::string& archive);

}  // namespace ir::evidence
