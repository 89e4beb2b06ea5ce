#include "ir/git/cache_root.hpp"

#include "ir/core/log.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <string_view>
#include <vector>

namespace ir::git {
namespace {

namespace fs = std::filesystem;

// The private folders made by this process, per configured folder that was
// unusable. Never destroyed: the exit handler reads it after static
// destructors may have run.
struct Fallbacks {
  std::mutex mutex;
  std::map<std::string, std::string> by_configured;
  bool cleanup_registered = false;
};

Fallbacks& fallbacks() {
  static auto* instance = new Fallbacks;
  return *instance;
}

bool holds_pending_records(const fs::path& dir) {
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir / "pending", ec), end; !ec && it != end; it.increment(ec)) {
    if (it->is_regular_file(ec)) return true;
  }
  return false;
}

// At exit: a private folder is only a cache, except for the records that
// could not be pushed, which are kept with it (the step named them).
void remove_fallbacks() {
  auto& state = fallbacks();
  std::lock_guard lock(state.mutex);
  for (const auto& [configured, dir] : state.by_configured) {
    std::error_code ec;
    if (!holds_pending_records(dir)) fs::remove_all(dir, ec);
  }
}

std::string temp_base() {
  const char* tmp = std::getenv("TMPDIR");
  return tmp != nullptr && *tmp != 0 ? tmp : "/tmp";
}

}  // namespace

std::string configured_cache_root() {
  if (const char* dir = std::getenv("IRSTEPS_CACHE_DIR"); dir != nullptr && *dir != 0) return dir;
  if (const char* dir = std::getenv("XDG_CACHE_HOME"); dir != nullptr && *dir != 0) {
    return std::string(dir) + "/irsteps";
  }
  if (const char* home = std::getenv("HOME");
      home != nullptr && *home != 0 && std::string_view(home) != "/") {
    return std::string(home) + "/.cache/irsteps";
  }
  return temp_base() + "/irsteps-cache";
}

std::string cache_problem(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return ec.message();
  if (!fs::is_directory(dir, ec)) return "not a directory";
  if (::access(dir.c_str(), W_OK | X_OK) != 0) return std::strerror(errno);
  return {};
}

Result<std::string> usable_cache_root() {
  const std::string configured = configured_cache_root();
  const std::string problem = cache_problem(configured);
  if (problem.empty()) return configured;

  auto& state = fallbacks();
  std::lock_guard lock(state.mutex);
  if (const auto it = state.by_configured.find(configured); it != state.by_configured.end()) {
    if (cache_problem(it->second).empty()) return it->second;
    state.by_configured.erase(it);  // removed under us: make another
  }
  const std::string base = temp_base();
  std::string pattern = base + "/irsteps-cache-XXXXXX";
  std::vector<char> name(pattern.begin(), pattern.end());
  name.push_back('\0');
  // mkdtemp makes the folder 0700: the mirrors and unpushed records are
  // nobody else's business on a shared /tmp.
  if (::mkdtemp(name.data()) == nullptr) {
    const std::string why = std::strerror(errno);
    return invalid("cache folder " + configured + ": " + problem +
                   "; and no private folder could be made under " + base + " (TMPDIR): " + why +
                   " (set IRSTEPS_CACHE_DIR to a writable folder, e.g. an emptyDir volume)");
  }
  const std::string dir(name.data());
  state.by_configured.emplace(configured, dir);
  if (!state.cleanup_registered) {
    state.cleanup_registered = std::atexit(remove_fallbacks) == 0;
  }
  log::warn("cache.fallback", {{"unusable", configured},
                               {"problem", problem},
                               {"using", dir},
                               {"message",
                                "the cache folder cannot be used; a private folder of this process is "
                                "used instead (set IRSTEPS_CACHE_DIR to a writable folder)"}});
  return dir;
}

std::string default_cache_root() {
  auto usable = usable_cache_root();
  return usable ? *usable : configured_cache_root();
}

}  // namespace ir::git
