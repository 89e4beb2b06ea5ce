// A child process whose stderr can be read line by line while it runs and
// which can be frozen (SIGSTOP) at a chosen moment: how the tests stop the
// API server "in the middle" of a step deterministically.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <sys/types.h>

namespace ir::test {

struct Finished {
  int exit_status = -1;
  std::string out;
  std::string err;
};

class Spawned {
 public:
  Spawned(const std::vector<std::string>& argv,
          const std::vector<std::pair<std::string, std::string>>& env = {});
  ~Spawned();
  Spawned(const Spawned&) = delete;
  Spawned& operator=(const Spawned&) = delete;

  // Reads stderr until a line satisfies `match` (true) or the process ends (false).
  bool wait_for_line(const std::function<bool(const std::string&)>& match);
  void freeze();
  void resume();
  // Whether the process is stopped (by SIGSTOP, its own or ours).
  [[nodiscard]] bool stopped() const;
  [[nodiscard]] pid_t pid() const { return pid_; }
  Finished finish();

 private:
  pid_t pid_ = -1;
  int out_fd_ = -1;
  int err_fd_ = -1;
  std::string out_;
  std::string err_;
  std::size_t scanned_ = 0;
  bool finished_ = false;
};

}  // namespace ir::test
