// Packing evidence for Argo's output artifacts: a gzip stream (zlib) and a
// deterministic ustar archive of a folder.
#pragma once

#include "ir/core/error.hpp"

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

// Writes every file under `dir` into `archive` (.tar.gz), paths prefixed
// with the folder's name, in sorted order. Returns the archive's SHA-256.
[[nodiscard]] Result<std::string> write_tar_gz(const std::string& dir, const std::string& archive);

}  // namespace ir::evidence
