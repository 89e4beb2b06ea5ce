#include "ir/evidence/archive.hpp"

#include "ir/core/encoding.hpp"
#include "ir/core/json.hpp"

#include <openssl/evp.h>
#include <zlib.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <vector>

namespace ir::evidence {
namespace fs = std::filesystem;

struct Gzip::State {
  z_stream stream{};
  bool open = false;
};

Gzip::Gzip(Sink sink) : state_(std::make_unique<State>()), sink_(std::move(sink)) {
  // windowBits 15 + 16: a gzip header and trailer around the deflate data.
  state_->open = deflateInit2(&state_->stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
                              Z_DEFAULT_STRATEGY) == Z_OK;
}

Gzip::~Gzip() {
  if (state_->open) deflateEnd(&state_->stream);
}

Result<void> Gzip::pump(int flush) {
  std::array<unsigned char, 64 * 1024> out;
  int status = Z_OK;
  do {
    state_->stream.next_out = out.data();
    state_->stream.avail_out = static_cast<uInt>(out.size());
    status = deflate(&state_->stream, flush);
    if (status == Z_STREAM_ERROR) return internal_error("gzip stream error");
    const std::size_t produced = out.size() - state_->stream.avail_out;
    if (produced > 0) {
      if (auto sent = sink_(std::string_view(reinterpret_cast<const char*>(out.data()), produced)); !sent)
        return sent;
    }
  } while (state_->stream.avail_out == 0 || (flush == Z_FINISH && status != Z_STREAM_END));
  return {};
}

Result<void> Gzip::write(std::string_view bytes) {
  if (!state_->open) return internal_error("gzip is not available");
  state_->stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
  state_->stream.avail_in = static_cast<uInt>(bytes.size());
  return pump(Z_NO_FLUSH);
}

Result<void> Gzip::finish() {
  if (!state_->open) return internal_error("gzip is not available");
  state_->stream.next_in = nullptr;
  state_->stream.avail_in = 0;
  return pump(Z_FINISH);
}

namespace {

void octal(char* field, std::size_t width, std::uint64_t value) {
  std::snprintf(field, width, "%0*llo", static_cast<int>(width - 1), static_cast<unsigned long long>(value));
}

// The largest size the ustar field's 11 octal digits hold: 8 GiB - 1.
constexpr std::uint64_t ustar_max_size = (std::uint64_t{1} << 33) - 1;

// A size too large for octal goes in GNU's base-256 form as well as in the
// pax header, for readers that know only one of them.
void size_field(char* field, std::uint64_t value) {
  if (value <= ustar_max_size) {
    octal(field, 12, value);
    return;
  }
  field[0] = static_cast<char>(0x80);
  for (std::size_t i = 11; i >= 1; --i) {
    field[i] = static_cast<char>(value & 0xffU);
    value >>= 8;
  }
}

std::array<char, 512> ustar_block(std::string_view base, std::string_view prefix, std::uint64_t size,
                                  std::uint64_t mtime, char type, unsigned mode) {
  std::array<char, 512> block{};
  // memcpy takes no null pointer, not even for 0 bytes: an empty view may be one.
  if (!base.empty()) std::memcpy(block.data(), base.data(), std::min<std::size_t>(base.size(), 100));
  octal(block.data() + 100, 8, mode);
  octal(block.data() + 108, 8, 0);
  octal(block.data() + 116, 8, 0);
  size_field(block.data() + 124, size);
  octal(block.data() + 136, 12, mtime);
  std::memset(block.data() + 148, ' ', 8);
  block[156] = type;
  std::memcpy(block.data() + 257, "ustar", 6);
  std::memcpy(block.data() + 263, "00", 2);
  if (!prefix.empty())
    std::memcpy(block.data() + 345, prefix.data(), std::min<std::size_t>(prefix.size(), 155));
  unsigned sum = 0;
  for (char c : block) sum += static_cast<unsigned char>(c);
  std::snprintf(block.data() + 148, 8, "%06o", sum);
  block[155] = ' ';
  return block;
}

// One pax record, "<length> <key>=<value>\n", its length counting itself.
std::string pax_record(std::string_view key, std::string_view value) {
  const std::size_t body = key.size() + value.size() + 3;
  std::size_t length = body + 1;
  while (std::to_string(length).size() + body != length) length = std::to_string(length).size() + body;
  return std::to_string(length) + " " + std::string(key) + "=" + std::string(value) + "\n";
}

bool sync_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool synced = ::fsync(fd) == 0;
  return ::close(fd) == 0 && synced;
}

// The archive's temporary: a name of its own in the archive's folder, for an
// atomic rename (security review finding 17: the plugin's threads shared
// archive.partial), removed unless kept.
class Temporary {
 public:
  explicit Temporary(const std::string& archive) : path_(archive + ".partial.XXXXXX") {
    const int fd = ::mkostemp(path_.data(), O_CLOEXEC);
    if (fd < 0) {
      path_.clear();
      return;
    }
    // The mode the archive had when std::ofstream created it under the
    // usual umask: Argo's wait container reads it.
    ok_ = ::fchmod(fd, 0644) == 0;
    ::close(fd);
  }
  ~Temporary() {
    if (!path_.empty() && !kept_) std::remove(path_.c_str());
  }
  Temporary(const Temporary&) = delete;
  Temporary& operator=(const Temporary&) = delete;

  [[nodiscard]] bool ok() const { return ok_; }
  [[nodiscard]] const std::string& path() const { return path_; }

  // On disk before the rename makes it the archive, and the rename on disk
  // (the folder synced) before the archive's hash is reported.
  [[nodiscard]] Result<void> keep_as(const std::string& archive) {
    if (!sync_file(path_) || std::rename(path_.c_str(), archive.c_str()) != 0)
      return Error(Code::action_failed, "cannot write " + archive);
    kept_ = true;
    return sync_directory_of(archive);
  }

 private:
  std::string path_;
  bool ok_ = false;
  bool kept_ = false;
};

// Every file and folder under `root`, sorted: the archive's order.
Result<std::vector<fs::path>> sorted_entries(const fs::path& root) {
  std::vector<fs::path> entries;
  std::error_code ec;
  for (const auto& entry : fs::recursive_directory_iterator(root, ec)) {
    if (entry.is_regular_file() || entry.is_directory()) entries.push_back(entry.path());
  }
  if (ec) return Error(Code::action_failed, ec.message());
  std::sort(entries.begin(), entries.end());
  return entries;
}

void append(std::string& out, const std::array<char, 512>& block) {
  out.append(block.data(), block.size());
}

}  // namespace

Result<std::string> tar_header(const std::string& name, std::uint64_t size, std::uint64_t mtime,
                               bool directory) {
  if (name.empty() || name.find('\0') != std::string::npos) return invalid("no name for an archive entry");
  // ustar: the name in 100 bytes, or split at a '/' into a 155-byte prefix
  // and a 100-byte name; anything longer takes a pax path record.
  std::string base = name, prefix, records;
  if (base.size() > 100) {
    const auto slash = name.rfind('/', std::min<std::size_t>(155, name.size() - 2));
    if (slash != std::string::npos && name.size() - slash - 1 <= 100) {
      prefix = name.substr(0, slash);
      base = name.substr(slash + 1);
    } else {
      records += pax_record("path", name);
      base = name.substr(name.size() - 100);
    }
  }
  if (!directory && size > ustar_max_size) records += pax_record("size", std::to_string(size));
  std::string out;
  if (!records.empty()) {
    append(out, ustar_block("PaxHeaders/" + std::string(base).substr(0, 89), {}, records.size(), mtime, 'x',
                            0644));
    out += records;
    out.append((512 - records.size() % 512) % 512, '\0');
  }
  append(out, ustar_block(base, prefix, directory ? 0 : size, mtime, directory ? '5' : '0',
                          directory ? 0755 : 0644));
  return out;
}

Result<std::string> write_tar_gz(const std::string& dir, const std::string& archive) {
  const fs::path root = fs::absolute(dir);
  auto entries = sorted_entries(root);
  if (!entries) return entries.error().with("cannot read " + dir);
  Temporary temporary(archive);
  std::ofstream out(temporary.path(), std::ios::binary | std::ios::trunc);
  if (!temporary.ok() || !out) return Error(Code::action_failed, "cannot create " + archive);
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> hash(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  EVP_DigestInit_ex(hash.get(), EVP_sha256(), nullptr);
  Gzip gzip([&](std::string_view bytes) -> Result<void> {
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    EVP_DigestUpdate(hash.get(), bytes.data(), bytes.size());
    if (!out) return Error(Code::action_failed, "cannot write " + archive);
    return {};
  });
  const std::string top = root.filename().string();
  std::vector<char> buffer(1 << 20);
  for (const auto& path : *entries) {
    const bool directory = fs::is_directory(path);
    std::string name = top + "/" + fs::relative(path, root).string() + (directory ? "/" : "");
    struct stat info {};
    ::stat(path.c_str(), &info);
    const std::uint64_t size = directory ? 0 : fs::file_size(path);
    auto block = tar_header(name, size, static_cast<std::uint64_t>(info.st_mtime), directory);
    if (!block) return block.error();
    if (auto written = gzip.write(*block); !written) return written.error();
    if (directory) continue;
    std::ifstream in(path, std::ios::binary);
    std::uint64_t copied = 0;
    while (in && copied < size) {
      in.read(buffer.data(),
              static_cast<std::streamsize>(std::min<std::uint64_t>(buffer.size(), size - copied)));
      const auto n = static_cast<std::size_t>(in.gcount());
      if (n == 0) break;
      if (auto written = gzip.write(std::string_view(buffer.data(), n)); !written) return written.error();
      copied += n;
    }
    if (copied != size)
      return Error(Code::action_failed, path.string() + " changed size while being archived");
    const std::string padding((512 - size % 512) % 512, '\0');
    if (auto written = gzip.write(padding); !written) return written.error();
  }
  const std::string end(1024, '\0');
  if (auto written = gzip.write(end); !written) return written.error();
  if (auto finished = gzip.finish(); !finished) return finished.error();
  out.close();
  if (!out) return Error(Code::action_failed, "cannot write " + archive);
  if (auto kept = temporary.keep_as(archive); !kept) return kept.error();
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_DigestFinal_ex(hash.get(), digest, &length);
  return hex_encode(std::string_view(reinterpret_cast<const char*>(digest), length));
}

}  // namespace ir::evidence
