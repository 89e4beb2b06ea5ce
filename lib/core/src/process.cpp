#include "ir/core/process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cerrno>
#include <csignal>
#include <cstring>

extern char** environ;

namespace ir {
namespace {

struct Pipe {
  int fd[2] = {-1, -1};
  ~Pipe() { close_all(); }
  void close_all() {
    for (int& f : fd) {
      if (f >= 0) ::close(f);
      f = -1;
    }
  }
};

}  // namespace

Result<ProcessOutput> run_process(const std::vector<std::string>& argv, const ProcessOptions& options) {
  if (argv.empty()) return invalid("no program to run");
  Pipe in, out, err;
  if (::pipe2(in.fd, O_CLOEXEC) != 0 || ::pipe2(out.fd, O_CLOEXEC) != 0 || ::pipe2(err.fd, O_CLOEXEC) != 0) {
    return internal_error(std::string("pipe: ") + std::strerror(errno));
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in.fd[0], 0);
  posix_spawn_file_actions_adddup2(&actions, out.fd[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err.fd[1], 2);

  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string entry(*e);
    bool replaced = false;
    for (const auto& [name, value] : options.extra_env) {
      replaced = replaced || entry.rfind(name + "=", 0) == 0;
    }
    if (!replaced) env_strings.push_back(entry);
  }
  for (const auto& [name, value] : options.extra_env) env_strings.push_back(name + "=" + value);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = argv;
  std::vector<char*> argp;
  for (auto& s : args) argp.push_back(s.data());
  argp.push_back(nullptr);

  pid_t pid = 0;
  const int spawned = posix_spawnp(&pid, argp[0], &actions, nullptr, argp.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) return invalid("cannot run " + argv[0] + ": " + std::strerror(spawned));
  ::close(in.fd[0]);
  in.fd[0] = -1;
  ::close(out.fd[1]);
  out.fd[1] = -1;
  ::close(err.fd[1]);
  err.fd[1] = -1;
  ::fcntl(in.fd[1], F_SETFL, O_NONBLOCK);

  ProcessOutput result;
  std::size_t stdin_offset = 0;
  if (options.stdin_data.empty()) in.close_all();
  const auto deadline = std::chrono::steady_clock::now() + options.timeout;
  bool timed_out = false;
  while (out.fd[0] >= 0 || err.fd[0] >= 0) {
    std::vector<pollfd> fds;
    if (out.fd[0] >= 0) fds.push_back({out.fd[0], POLLIN, 0});
    if (err.fd[0] >= 0) fds.push_back({err.fd[0], POLLIN, 0});
    if (in.fd[1] >= 0) fds.push_back({in.fd[1], POLLOUT, 0});
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    if (::poll(fds.data(), fds.size(), static_cast<int>(left.count())) < 0 && errno != EINTR) break;
    for (const auto& p : fds) {
      if (p.revents == 0) continue;
      if (p.fd == in.fd[1]) {
        const auto n =
            ::write(p.fd, options.stdin_data.data() + stdin_offset, options.stdin_data.size() - stdin_offset);
        if (n > 0) stdin_offset += static_cast<std::size_t>(n);
        if (n < 0 || stdin_offset == options.stdin_data.size()) ::close(in.fd[1]), in.fd[1] = -1;
        continue;
      }
      char buffer[8192];
      const auto n = ::read(p.fd, buffer, sizeof buffer);
      std::string& target = p.fd == out.fd[0] ? result.out : result.err;
      if (n > 0 && target.size() < options.max_output) {
        target.append(buffer, static_cast<std::size_t>(n));
      } else if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) {
        if (p.fd == out.fd[0])
          ::close(out.fd[0]), out.fd[0] = -1;
        else
          ::close(err.fd[0]), err.fd[0] = -1;
      }
    }
  }
  if (timed_out) ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out) return Error(Code::transient, argv[0] + " did not finish in time");
  result.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

void disable_core_dumps() noexcept {
  const rlimit none{0, 0};
  (void)setrlimit(RLIMIT_CORE, &none);
  (void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

}  // namespace ir
