// Step processes of a run: started in a process group of their own (so a
// Ctrl-C at the terminal reaches the runner alone, which forwards it to every
// running step and its helpers), stderr streamed line by line, stdout kept
// (the step's result document), a deadline enforced with SIGTERM then
// SIGKILL.
#pragma once

#include "ir/core/error.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <sys/types.h>

namespace playbook {

struct ChildSpec {
  std::vector<std::string> argv;                         // argv[0] is a path, not looked up
  std::vector<std::pair<std::string, std::string>> env;  // set or replaced
  std::optional<std::chrono::milliseconds> deadline;
};

struct ChildResult {
  int exit_status = -1;  // 128+N when killed by signal N
  bool deadline_exceeded = false;
  bool stopped = false;  // by a signal the runner forwarded
  std::string out;
};

class Supervisor {
 public:
  // Forwards the signal to every running step; a second call escalates to SIGKILL.
  void cancel(int signal_number);
  [[nodiscard]] bool cancelled() const { return signal_.load() != 0; }
  [[nodiscard]] int signal_number() const { return signal_.load(); }
  // Sleeps, waking early when the run is cancelled; false if it was.
  bool sleep_for(std::chrono::milliseconds duration);

  [[nodiscard]] ir::Result<ChildResult> run(const ChildSpec& spec,
                                            const std::function<void(std::string_view line)>& on_stderr_line);

 private:
  std::mutex mutex_;
  std::condition_variable wake_;
  std::set<pid_t> groups_;
  std::atomic<int> signal_{0};
  int cancels_ = 0;
};

}  // namespace playbook
