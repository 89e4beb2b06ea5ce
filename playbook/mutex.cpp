#include "mutex.hpp"

#include "ir/core/encoding.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <thread>

namespace playbook {
namespace fs = std::filesystem;

std::string default_lock_dir() {
  if (const char* dir = std::getenv("IRSTEPS_PLAYBOOK_LOCK_DIR"); dir != nullptr && *dir != '\0') return dir;
  if (const char* runtime = std::getenv("XDG_RUNTIME_DIR"); runtime != nullptr && *runtime == '/')
    return std::string(runtime) + "/irsteps-playbook-locks";
  std::error_code ec;
  return (fs::temp_directory_path(ec) / ("irsteps-playbook-locks-" + std::to_string(::geteuid()))).string();
}

HeldMutex::HeldMutex(HeldMutex&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

HeldMutex& HeldMutex::operator=(HeldMutex&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

HeldMutex::~HeldMutex() {
  if (fd_ >= 0) ::close(fd_);  // closing the last descriptor releases the flock
}

ir::Result<HeldMutex> HeldMutex::acquire(const std::string& dir, const std::string& key,
                                         const std::function<void()>& waiting,
                                         const std::function<bool()>& keep_waiting) {
  // The folder is ours alone: in a shared temporary folder another user
  // could otherwise plant it (or a symlink) and hold or fake our locks.
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
    return ir::Error(ir::Code::internal,
                     "cannot create the lock folder " + dir + ": " + std::strerror(errno));
  struct stat info {};
  if (::lstat(dir.c_str(), &info) != 0 || !S_ISDIR(info.st_mode) || info.st_uid != ::geteuid() ||
      (info.st_mode & 0022) != 0) {
    return ir::Error(ir::Code::internal, "the lock folder " + dir +
                                             " is not a folder of this user that only it can write; "
                                             "set IRSTEPS_PLAYBOOK_LOCK_DIR to one");
  }
  // Named by the key's hash: any key is a safe file name.
  const std::string path = dir + "/" + ir::sha256_hex(key) + ".lock";
  HeldMutex held;
  held.fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (held.fd_ < 0)
    return ir::Error(ir::Code::internal, "cannot open the lock file of " + key + ": " + std::strerror(errno));
  bool told = false;
  while (::flock(held.fd_, LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK && errno != EINTR)
      return ir::Error(ir::Code::internal, "cannot lock " + key + ": " + std::strerror(errno));
    if (!told) {
      waiting();
      told = true;
    }
    if (!keep_waiting())
      return ir::Error(ir::Code::action_failed, "stopped while waiting for the lock " + key);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return held;
}

}  // namespace playbook
