#include "finished_runs.hpp"

#include "ir/core/encoding.hpp"
#include "ir/core/log.hpp"

#include <boost/json/serialize.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <optional>

namespace ir::plugin {
namespace {

namespace fs = std::filesystem;
constexpr std::string_view suffix = ".json";

// The whole file if it is a regular file (not followed through a link) of
// at most `limit` bytes.
std::optional<std::string> read_bounded(const fs::path& path, std::size_t limit) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0) return std::nullopt;
  struct stat info {};
  std::optional<std::string> text;
  if (::fstat(fd, &info) == 0 && S_ISREG(info.st_mode) && static_cast<std::size_t>(info.st_size) <= limit) {
    std::string buffer(limit + 1, '\0');
    std::size_t got = 0;
    for (;;) {
      const auto n = ::read(fd, buffer.data() + got, buffer.size() - got);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      got += static_cast<std::size_t>(n);
      if (got == buffer.size()) break;
    }
    if (got <= limit) text = buffer.substr(0, got);
  }
  ::close(fd);
  return text;
}

bool is_hex_name(const std::string& name) {
  return name.size() == 64 + suffix.size() && name.ends_with(suffix) &&
         std::all_of(name.begin(), name.end() - static_cast<std::ptrdiff_t>(suffix.size()),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

}  // namespace

FinishedRuns::FinishedRuns(std::string dir, std::chrono::milliseconds keep_for, std::size_t max_kept)
    : dir_(std::move(dir)), keep_for_(keep_for), max_kept_(max_kept) {}

std::string FinishedRuns::path_of(const std::string& key) const {
  return dir_ + "/" + sha256_hex(key) + std::string(suffix);
}

Result<void> FinishedRuns::prepare() const {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) return Error(Code::action_failed, "cannot create " + dir_ + ": " + ec.message());
  if (fs::is_symlink(dir_, ec) || !fs::is_directory(dir_, ec)) {
    return Error(Code::action_failed, dir_ + " is not a folder");
  }
  fs::permissions(dir_, fs::perms::owner_all, fs::perm_options::replace, ec);
  if (::access(dir_.c_str(), W_OK | X_OK) != 0) {
    return Error(Code::action_failed, "cannot write " + dir_ + ": " + std::strerror(errno));
  }
  return {};
}

std::vector<FinishedRuns::Run> FinishedRuns::load() const {
  std::vector<Run> runs;
  const auto now = Clock::now();
  std::error_code ec;
  for (fs::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
    const fs::path path = it->path();
    const std::string name = path.filename().string();
    if (name.find(".tmp.") != std::string::npos) {
      // A write cut short by the restart.
      fs::remove(path, ec);
      continue;
    }
    if (!is_hex_name(name)) continue;  // not ours: left alone
    const auto drop = [&](std::string_view why) {
      log::warn("runs.dropped", {{"file", name}, {"reason", why}});
      std::error_code ignored;
      fs::remove(path, ignored);
    };
    const auto text = read_bounded(path, max_bytes);
    if (!text) {
      drop("not a regular file of at most 256 KiB");
      continue;
    }
    auto doc = parse_json(*text, name);
    const auto* key = doc ? find(*doc, {"key"}) : nullptr;
    const auto* finished = doc ? find(*doc, {"finished"}) : nullptr;
    const auto* node = doc ? find(*doc, {"node"}) : nullptr;
    if (key == nullptr || !key->is_string() || finished == nullptr || !finished->is_int64() ||
        node == nullptr || !node->is_object() || string_at(*node, {"phase"}) != "Succeeded") {
      drop("not a finished run");
      continue;
    }
    const std::string key_text(key->get_string());
    if (key_text.size() > max_key_bytes || path_of(key_text) != path.string()) {
      drop("its key does not match its name");
      continue;
    }
    const Clock::time_point when{std::chrono::milliseconds(finished->get_int64())};
    if (when > now + std::chrono::minutes(1)) {
      drop("finished in the future");
      continue;
    }
    if (now - when > keep_for_) {
      fs::remove(path, ec);
      ec.clear();
      continue;
    }
    runs.push_back(Run{key_text, node->get_object(), when});
  }
  std::sort(runs.begin(), runs.end(), [](const Run& a, const Run& b) { return a.finished < b.finished; });
  if (runs.size() > max_kept_) {
    const auto extra = static_cast<std::ptrdiff_t>(runs.size() - max_kept_);
    for (auto it = runs.begin(); it != runs.begin() + extra; ++it) forget(it->key);
    runs.erase(runs.begin(), runs.begin() + extra);
  }
  return runs;
}

Result<void> FinishedRuns::save(const Run& run) const {
  if (string_at(run.node, {"phase"}) != "Succeeded") return invalid("only Succeeded runs are kept");
  if (run.key.size() > max_key_bytes) return invalid("the run's key is over 4 KiB");
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(run.finished.time_since_epoch()).count();
  const std::string text = json::serialize(
      json::object{{"key", run.key}, {"finished", static_cast<std::int64_t>(millis)}, {"node", run.node}});
  if (text.size() > max_bytes) return invalid("the node is over 256 KiB");
  return write_file_atomic(path_of(run.key), text);
}

void FinishedRuns::forget(const std::string& key) const {
  std::error_code ec;
  fs::remove(path_of(key), ec);
}

}  // namespace ir::plugin
