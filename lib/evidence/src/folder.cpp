#include "ir/evidence/folder.hpp"

#include "ir/core/encoding.hpp"
#include "ir/core/time.hpp"

#include <boost/json/serialize.hpp>

#include <fcntl.h>
#include <unistd.h>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace ir::evidence {
namespace fs = std::filesystem;

namespace {

constexpr std::string_view temporary_marker = ".partial-";

std::string hex_digest(EVP_MD_CTX* ctx) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_DigestFinal_ex(ctx, digest, &length);
  return hex_encode(std::string_view(reinterpret_cast<const char*>(digest), length));
}

// A rename is durable only once its directory is synced.
void sync_directory(const fs::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

Result<void> check_relative(const std::string& path) {
  const fs::path p(path);
  if (path.empty() || p.is_absolute()) return invalid("evidence item path '" + path + "' must be relative");
  for (const auto& part : p) {
    if (part == "..") return invalid("evidence item path '" + path + "' must stay inside the folder");
  }
  if (path.find(temporary_marker) != std::string::npos || p.filename() == "manifest.json") {
    return invalid("evidence item path '" + path + "' is reserved");
  }
  return {};
}

json::object item_json(const Item& item) {
  json::object o{{"path", item.path},
                 {"source", item.source},
                 {"status", status_name(item.status)},
                 {"startTime", item.started},
                 {"endTime", item.finished}};
  if (item.status != ItemStatus::failed) {
    o["size"] = item.size;
    o["sha256"] = item.sha256;
  }
  if (!item.object_uid.empty()) o["objectUid"] = item.object_uid;
  if (!item.resource_version.empty()) o["resourceVersion"] = item.resource_version;
  if (!item.reason.empty()) o["reason"] = item.reason;
  return o;
}

Item item_from(const json::value& v) {
  Item item;
  item.path = string_at(v, {"path"});
  item.source = string_at(v, {"source"});
  item.started = string_at(v, {"startTime"});
  item.finished = string_at(v, {"endTime"});
  item.object_uid = string_at(v, {"objectUid"});
  item.resource_version = string_at(v, {"resourceVersion"});
  item.reason = string_at(v, {"reason"});
  item.sha256 = string_at(v, {"sha256"});
  if (const auto* size = find(v, {"size"}); size != nullptr && size->is_number())
    item.size = size->to_number<std::uint64_t>();
  const std::string status = string_at(v, {"status"});
  item.status = status == "partial"  ? ItemStatus::partial
                : status == "failed" ? ItemStatus::failed
                                     : ItemStatus::complete;
  return item;
}

Result<std::pair<std::uint64_t, std::string>> hash_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error(Code::action_failed, "cannot read " + path.string());
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr);
  std::vector<char> buffer(1 << 20);
  std::uint64_t size = 0;
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    const auto n = static_cast<std::size_t>(in.gcount());
    EVP_DigestUpdate(ctx.get(), buffer.data(), n);
    size += n;
  }
  return std::make_pair(size, hex_digest(ctx.get()));
}

}  // namespace

std::string_view status_name(ItemStatus status) {
  switch (status) {
    case ItemStatus::complete:
      return "complete";
    case ItemStatus::partial:
      return "partial";
    case ItemStatus::failed:
      return "failed";
  }
  return "failed";
}

ItemWriter::ItemWriter(Folder& folder, Item item, std::string temporary, int fd)
    : folder_(&folder),
      item_(std::move(item)),
      temporary_(std::move(temporary)),
      fd_(fd),
      hash_(EVP_MD_CTX_new(), &EVP_MD_CTX_free) {
  EVP_DigestInit_ex(hash_.get(), EVP_sha256(), nullptr);
}

ItemWriter::ItemWriter(ItemWriter&& other) noexcept
    : folder_(other.folder_),
      item_(std::move(other.item_)),
      temporary_(std::move(other.temporary_)),
      fd_(other.fd_),
      size_(other.size_),
      hash_(std::move(other.hash_)) {
  other.fd_ = -1;
  other.temporary_.clear();
}

ItemWriter::~ItemWriter() {
  if (fd_ >= 0) ::close(fd_);
  if (!temporary_.empty()) ::unlink(temporary_.c_str());
}

Result<void> ItemWriter::write(std::string_view bytes) {
  if (fd_ < 0) return internal_error("write after commit");
  std::size_t done = 0;
  while (done < bytes.size()) {
    const auto n = ::write(fd_, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Error(Code::action_failed, "cannot write " + item_.path + ": " + std::strerror(errno));
    }
    done += static_cast<std::size_t>(n);
  }
  EVP_DigestUpdate(hash_.get(), bytes.data(), bytes.size());
  const std::uint64_t before = size_;
  size_ += bytes.size();
  stop_if_asked(before, size_);
  return {};
}

// Test hook: IRSTEPS_TEST_STOP_AFTER_BYTES=N makes the process stop itself
// (SIGSTOP) once, when an item first grows past N bytes, so that a test can
// break the source of a large item at an exact point.
void ItemWriter::stop_if_asked(std::uint64_t before, std::uint64_t after) {
  static const std::uint64_t threshold = [] {
    const char* value = std::getenv("IRSTEPS_TEST_STOP_AFTER_BYTES");
    return value != nullptr ? std::strtoull(value, nullptr, 10) : 0ULL;
  }();
  static bool stopped = false;
  if (threshold > 0 && !stopped && before < threshold && after >= threshold) {
    stopped = true;
    std::raise(SIGSTOP);
  }
}

Result<Item> ItemWriter::commit(ItemStatus status, std::string reason) {
  if (fd_ < 0) return internal_error("commit twice");
  if (::fsync(fd_) != 0 || ::close(fd_) != 0) {
    fd_ = -1;
    return Error(Code::action_failed, "cannot sync " + item_.path + ": " + std::strerror(errno));
  }
  fd_ = -1;
  const fs::path final_path = fs::path(folder_->dir_) / item_.path;
  if (::rename(temporary_.c_str(), final_path.c_str()) != 0) {
    return Error(Code::action_failed, "cannot rename " + item_.path + ": " + std::strerror(errno));
  }
  temporary_.clear();
  sync_directory(final_path.parent_path());
  item_.size = size_;
  item_.sha256 = hex_digest(hash_.get());
  item_.finished = format_utc(now(), true);
  item_.status = status;
  item_.reason = std::move(reason);
  if (auto recorded = folder_->record(item_); !recorded) return recorded.error();
  return item_;
}

Result<Folder> Folder::open(const std::string& dir, json::object header) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Error(Code::action_failed, "cannot create evidence folder " + dir + ": " + ec.message());
  Folder folder(fs::absolute(dir).string(), std::move(header));
  // Temporaries of a run that was killed: never evidence, always removed.
  for (const auto& entry : fs::recursive_directory_iterator(folder.dir_, ec)) {
    if (entry.is_regular_file() &&
        entry.path().filename().string().find(temporary_marker) != std::string::npos) {
      fs::remove(entry.path(), ec);
    }
  }
  const fs::path manifest = fs::path(folder.dir_) / "manifest.json";
  if (fs::exists(manifest)) {
    auto text = read_file(manifest.string());
    if (!text) return text.error();
    auto parsed = parse_json(*text, manifest.string());
    if (!parsed) return parsed.error();
    if (const auto* items = find(*parsed, {"items"}); items != nullptr && items->is_array()) {
      for (const auto& item : items->get_array()) folder.items_.push_back(item_from(item));
    }
  }
  if (auto written = folder.write_manifest(); !written) return written.error();
  return folder;
}

bool Folder::has_complete(std::string_view path) const {
  for (const auto& item : items_) {
    if (item.path == path && item.status == ItemStatus::complete) {
      return fs::exists(fs::path(dir_) / item.path);
    }
  }
  return false;
}

Result<ItemWriter> Folder::begin(std::string path, std::string source, Provenance provenance) {
  if (auto checked = check_relative(path); !checked) return checked.error();
  static std::atomic<int> counter{0};
  const fs::path final_path = fs::path(dir_) / path;
  std::error_code ec;
  fs::create_directories(final_path.parent_path(), ec);
  const std::string temporary = final_path.string() + std::string(temporary_marker) +
                                std::to_string(::getpid()) + "-" + std::to_string(counter.fetch_add(1));
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) return Error(Code::action_failed, "cannot create " + path + ": " + std::strerror(errno));
  Item item;
  item.path = std::move(path);
  item.source = std::move(source);
  item.started = format_utc(now(), true);
  item.object_uid = std::move(provenance.uid);
  item.resource_version = std::move(provenance.resource_version);
  return ItemWriter(*this, std::move(item), temporary, fd);
}

Result<void> Folder::record_failure(std::string path, std::string source, std::string reason) {
  if (auto checked = check_relative(path); !checked) return checked.error();
  Item item;
  item.path = std::move(path);
  item.source = std::move(source);
  item.started = item.finished = format_utc(now(), true);
  item.status = ItemStatus::failed;
  item.reason = std::move(reason);
  return record(std::move(item));
}

Result<void> Folder::record(Item item) {
  bool replaced = false;
  for (auto& existing : items_) {
    if (existing.path == item.path) {
      existing = item;
      replaced = true;
    }
  }
  if (!replaced) items_.push_back(std::move(item));
  return write_manifest();
}

json::object Folder::manifest() const {
  json::object doc{{"apiVersion", "irsteps.io/v1"}, {"kind", "EvidenceManifest"}};
  for (const auto& entry : header_) doc[entry.key()] = entry.value();
  json::array items;
  for (const auto& item : items_) items.push_back(item_json(item));
  doc["items"] = std::move(items);
  return doc;
}

Result<void> Folder::write_manifest() {
  const std::string text = to_pretty_json(json::value(manifest())) + "\n";
  const fs::path path = fs::path(dir_) / "manifest.json";
  if (auto written = write_file_atomic(path.string(), text); !written) return written.error();
  sync_directory(dir_);
  manifest_sha256_ = sha256_hex(text);
  return {};
}

Result<std::string> verify_folder(const std::string& dir) {
  auto text = read_file((fs::path(dir) / "manifest.json").string());
  if (!text) return text.error();
  return verify_manifest(dir, *text);
}

Result<std::string> verify_manifest(const std::string& dir, std::string_view text) {
  const fs::path manifest = fs::path(dir) / "manifest.json";
  auto parsed = parse_json(text, manifest.string());
  if (!parsed) return parsed.error();
  const auto* items = find(*parsed, {"items"});
  if (items == nullptr || !items->is_array()) return invalid(manifest.string() + " has no items");
  std::string problems;
  for (const auto& value : items->get_array()) {
    const Item item = item_from(value);
    if (item.status == ItemStatus::failed) continue;
    if (!check_relative(item.path)) {
      problems += "; " + item.path + ": not a path inside the folder";
      continue;
    }
    auto hashed = hash_file(fs::path(dir) / item.path);
    if (!hashed) {
      problems += "; " + item.path + ": missing";
    } else if (hashed->first != item.size || hashed->second != item.sha256) {
      problems += "; " + item.path + ": content differs from the manifest (sha256 " + hashed->second + ")";
    }
  }
  if (!problems.empty()) return Error(Code::rejected, problems.substr(2));
  return sha256_hex(text);
}

}  // namespace ir::evidence
