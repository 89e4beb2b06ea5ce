#include "support/spawn.hpp"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>
#include <csignal>

#include <fstream>
#include <iterator>
#include <stdexcept>

extern char** environ;

namespace ir::test {

Spawned::Spawned(const std::vector<std::string>& argv,
                 const std::vector<std::pair<std::string, std::string>>& env) {
  int out[2], err[2];
  if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) throw std::runtime_error("pipe");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err[1], 2);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) env_strings.emplace_back(*e);
  for (const auto& [name, value] : env) env_strings.push_back(name + "=" + value);
  std::vector<char*> envp, args;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> copy = argv;
  for (auto& s : copy) args.push_back(s.data());
  args.push_back(nullptr);
  if (posix_spawn(&pid_, args[0], &actions, nullptr, args.data(), envp.data()) != 0) {
    throw std::runtime_error("cannot start " + argv[0]);
  }
  posix_spawn_file_actions_destroy(&actions);
  ::close(out[1]);
  ::close(err[1]);
  out_fd_ = out[0];
  err_fd_ = err[0];
}

Spawned::~Spawned() {
  if (!finished_) {
    ::kill(pid_, SIGKILL);
    (void)finish();
  }
}

namespace {
// Reads what is available from the open descriptors; false once both closed.
bool pump(int& out_fd, int& err_fd, std::string& out, std::string& err, int timeout_ms) {
  std::vector<pollfd> fds;
  if (out_fd >= 0) fds.push_back({out_fd, POLLIN, 0});
  if (err_fd >= 0) fds.push_back({err_fd, POLLIN, 0});
  if (fds.empty()) return false;
  ::poll(fds.data(), fds.size(), timeout_ms);
  for (const auto& p : fds) {
    if (p.revents == 0) continue;
    char buffer[8192];
    const auto n = ::read(p.fd, buffer, sizeof buffer);
    int& fd = p.fd == out_fd ? out_fd : err_fd;
    std::string& target = p.fd == out_fd ? out : err;
    if (n > 0) {
      target.append(buffer, static_cast<std::size_t>(n));
    } else {
      ::close(fd);
      fd = -1;
    }
  }
  return true;
}
}  // namespace

bool Spawned::wait_for_line(const std::function<bool(const std::string&)>& match) {
  for (;;) {
    std::size_t newline;
    while ((newline = err_.find('\n', scanned_)) != std::string::npos) {
      const std::string line = err_.substr(scanned_, newline - scanned_);
      scanned_ = newline + 1;
      if (match(line)) return true;
    }
    if (!pump(out_fd_, err_fd_, out_, err_, 1000)) return false;
  }
}

void Spawned::freeze() {
  ::kill(pid_, SIGSTOP);
}
void Spawned::resume() {
  ::kill(pid_, SIGCONT);
}

bool Spawned::stopped() const {
  std::ifstream stat("/proc/" + std::to_string(pid_) + "/stat");
  const std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  // "pid (comm) S ...": the state follows the last ')'.
  const auto close = text.rfind(')');
  return close != std::string::npos && close + 2 < text.size() && text[close + 2] == 'T';
}

Finished Spawned::finish() {
  while (pump(out_fd_, err_fd_, out_, err_, 1000)) {
  }
  int status = 0;
  ::waitpid(pid_, &status, 0);
  finished_ = true;
  return {WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), out_, err_};
}

}  // namespace ir::test
