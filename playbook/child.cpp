#include "child.hpp"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cerrno>
#include <csignal>
#include <cstring>

extern char** environ;

namespace playbook {
namespace {

using Steady = std::chrono::steady_clock;
constexpr auto kill_grace = std::chrono::seconds(5);
constexpr std::size_t max_stdout = 32u << 20;

struct Fd {
  int fd = -1;
  ~Fd() { reset(); }
  void reset() {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
};

std::vector<std::string> environment_with(const std::vector<std::pair<std::string, std::string>>& extra) {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string entry(*e);
    bool replaced = false;
    for (const auto& [name, value] : extra) replaced = replaced || entry.rfind(name + "=", 0) == 0;
    if (!replaced) env.push_back(entry);
  }
  for (const auto& [name, value] : extra) env.push_back(name + "=" + value);
  return env;
}

}  // namespace

void Supervisor::cancel(int signal_number) {
  const std::lock_guard lock(mutex_);
  int expected = 0;
  signal_.compare_exchange_strong(expected, signal_number);
  ++cancels_;
  for (const pid_t group : groups_) ::kill(-group, cancels_ > 1 ? SIGKILL : signal_number);
  wake_.notify_all();
}

bool Supervisor::sleep_for(std::chrono::milliseconds duration) {
  std::unique_lock lock(mutex_);
  return !wake_.wait_for(lock, duration, [this] { return cancelled(); });
}

ir::Result<ChildResult> Supervisor::run(const ChildSpec& spec,
                                        const std::function<void(std::string_view line)>& on_stderr_line) {
  if (spec.argv.empty()) return ir::internal_error("no program to run");
  int out_pipe[2], err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0)
    return ir::internal_error(std::string("pipe: ") + std::strerror(errno));
  Fd out{out_pipe[0]}, out_w{out_pipe[1]};
  if (::pipe2(err_pipe, O_CLOEXEC) != 0)
    return ir::internal_error(std::string("pipe: ") + std::strerror(errno));
  Fd err{err_pipe[0]}, err_w{err_pipe[1]};

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_w.fd, 1);
  posix_spawn_file_actions_adddup2(&actions, err_w.fd, 2);
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  // The runner blocks SIGINT/SIGTERM to wait for them; the step must not
  // inherit that, nor the runner's process group.
  sigset_t none, defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  for (int s : {SIGINT, SIGTERM, SIGPIPE, SIGQUIT, SIGHUP}) sigaddset(&defaults, s);
  posix_spawnattr_setsigmask(&attributes, &none);
  posix_spawnattr_setsigdefault(&attributes, &defaults);
  posix_spawnattr_setpgroup(&attributes, 0);
  posix_spawnattr_setflags(&attributes,
                           POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);

  auto env_strings = environment_with(spec.env);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = spec.argv;
  std::vector<char*> argp;
  for (auto& s : args) argp.push_back(s.data());
  argp.push_back(nullptr);

  pid_t pid = -1;
  int spawned = 0;
  {
    // Registered under the lock so that a cancel never misses a new step.
    const std::lock_guard lock(mutex_);
    if (cancelled()) {
      spawned = -1;
    } else {
      spawned = posix_spawn(&pid, argp[0], &actions, &attributes, argp.data(), envp.data());
      if (spawned == 0) groups_.insert(pid);
    }
  }
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  if (spawned < 0) {
    ChildResult stopped;
    stopped.stopped = true;
    return stopped;
  }
  if (spawned != 0) return ir::invalid("cannot run " + spec.argv[0] + ": " + std::strerror(spawned));
  out_w.reset();
  err_w.reset();

  ChildResult result;
  std::string err_line;
  const auto started = Steady::now();
  std::optional<Steady::time_point> term_at, kill_at;
  if (spec.deadline) term_at = started + *spec.deadline;
  bool exited = false;
  int status = 0;
  std::optional<Steady::time_point> drain_until;
  while (out.fd >= 0 || err.fd >= 0) {
    std::vector<pollfd> fds;
    if (out.fd >= 0) fds.push_back({out.fd, POLLIN, 0});
    if (err.fd >= 0) fds.push_back({err.fd, POLLIN, 0});
    ::poll(fds.data(), fds.size(), 200);
    for (const auto& p : fds) {
      if (p.revents == 0) continue;
      char buffer[8192];
      const auto n = ::read(p.fd, buffer, sizeof buffer);
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (n <= 0) {
        (p.fd == out.fd ? out : err).reset();
        continue;
      }
      if (p.fd == out.fd) {
        if (result.out.size() < max_stdout) result.out.append(buffer, static_cast<std::size_t>(n));
        continue;
      }
      err_line.append(buffer, static_cast<std::size_t>(n));
      for (auto nl = err_line.find('\n'); nl != std::string::npos; nl = err_line.find('\n')) {
        on_stderr_line(std::string_view(err_line).substr(0, nl));
        err_line.erase(0, nl + 1);
      }
    }
    const auto now = Steady::now();
    if (term_at && !kill_at && now >= *term_at) {
      result.deadline_exceeded = true;
      ::kill(-pid, SIGTERM);
      kill_at = now + kill_grace;
    }
    if (kill_at && now >= *kill_at) {
      ::kill(-pid, SIGKILL);
      kill_at = Steady::time_point::max();
    }
    // A helper the step left behind may hold the pipes open: once the step
    // itself is gone, read what is there and stop.
    if (!exited && ::waitpid(pid, &status, WNOHANG) == pid) {
      exited = true;
      drain_until = now + std::chrono::seconds(1);
    }
    if (drain_until && now >= *drain_until) break;
  }
  if (!err_line.empty()) on_stderr_line(err_line);
  while (!exited && ::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  {
    const std::lock_guard lock(mutex_);
    groups_.erase(pid);
    result.stopped = cancelled();
  }
  result.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

}  // namespace playbook
