// An evidence folder with a chain of custody: every item is streamed to a
// temporary name while SHA-256 is computed, fsynced, and renamed into place
// only when complete; manifest.json is rewritten atomically after each item.
// A process killed at any moment leaves a manifest that lists exactly the
// complete items, and nothing cut short is ever listed as complete. Opening
// the folder again picks up its manifest, so a re-run completes a capture.
#pragma once

#include "ir/core/error.hpp"
#include "ir/core/json.hpp"

#include <openssl/evp.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace ir::evidence {

enum class ItemStatus { complete, partial, failed };
[[nodiscard]] std::string_view status_name(ItemStatus status);

struct Item {
  std::string path;  // relative to the folder
  std::uint64_t size = 0;
  std::string sha256;  // hex, of exactly the bytes on disk
  std::string source;  // the request or command that produced it
  std::string started;
  std::string finished;
  std::string object_uid;
  std::string resource_version;
  ItemStatus status = ItemStatus::complete;
  std::string reason;  // why partial or failed
};

struct Provenance {
  std::string uid;
  std::string resource_version;
};

class Folder;

// One item being written. Destroying it without commit() removes the
// temporary file: an interrupted item leaves no trace in the manifest.
class ItemWriter {
 public:
  ItemWriter(ItemWriter&&) noexcept;
  ItemWriter& operator=(ItemWriter&&) = delete;
  ~ItemWriter();

  [[nodiscard]] Result<void> write(std::string_view bytes);
  [[nodiscard]] std::uint64_t size() const { return size_; }
  // Renames the file into place and records it. `status` partial needs a reason.
  [[nodiscard]] Result<Item> commit(ItemStatus status = ItemStatus::complete, std::string reason = {});

 private:
  friend class Folder;
  ItemWriter(Folder& folder, Item item, std::string temporary, int fd);
  static void stop_if_asked(std::uint64_t before, std::uint64_t after);
  Folder* folder_;
  Item item_;
  std::string temporary_;
  int fd_ = -1;
  std::uint64_t size_ = 0;
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> hash_;
};

class Folder {
 public:
  // Creates the folder (and parents) or reopens it with its manifest.
  // `header` goes into the manifest as is (collector, tool, arguments).
  [[nodiscard]] static Result<Folder> open(const std::string& dir, json::object header);

  [[nodiscard]] const std::string& dir() const { return dir_; }
  [[nodiscard]] const std::vector<Item>& items() const { return items_; }
  // A complete item from an earlier run, which a re-run may skip.
  [[nodiscard]] bool has_complete(std::string_view path) const;

  [[nodiscard]] Result<ItemWriter> begin(std::string path, std::string source, Provenance provenance = {});
  // Records an item that could not be collected at all.
  [[nodiscard]] Result<void> record_failure(std::string path, std::string source, std::string reason);

  [[nodiscard]] json::object manifest() const;
  // SHA-256 of manifest.json as written last.
  [[nodiscard]] const std::string& manifest_sha256() const { return manifest_sha256_; }

 private:
  friend class ItemWriter;
  Folder(std::string dir, json::object header) : dir_(std::move(dir)), header_(std::move(header)) {}
  [[nodiscard]] Result<void> record(Item item);
  [[nodiscard]] Result<void> write_manifest();

  std::string dir_;
  json::object header_;
  std::vector<Item> items_;
  std::string manifest_sha256_;
};

// Re-hashes every item listed in DIR/manifest.json; errors name each
// mismatch. Returns the manifest's SHA-256.
[[nodiscard]] Result<std::string> verify_folder(const std::string& dir);
// The same over manifest bytes the caller has read once, so that what a
// signature was checked over is exactly what is re-hashed (security review
// finding 18: snapshot verify --key read manifest.json twice). Returns the
// SHA-256 of `manifest_text`.
[[nodiscard]] Result<std::string> verify_manifest(const std::string& dir, std::string_view manifest_text);

}  // namespace ir::evidence
