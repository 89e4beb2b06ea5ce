// Runs a helper program (kubeconfig exec credential plugins, docker
// credential helpers) with a deadline, capturing its output in memory.
#pragma once

#include "ir/core/error.hpp"

#include <chrono>
#include <string>
#include <utility>
#include <vector>

namespace ir {

struct ProcessOutput {
  int exit_status = -1;  // 128+N when killed by signal N
  std::string out;
  std::string err;
};

struct ProcessOptions {
  std::vector<std::pair<std::string, std::string>> extra_env;
  std::string stdin_data;
  std::chrono::milliseconds timeout = std::chrono::seconds(60);
  std::size_t max_output = 16 << 20;
};

// argv[0] is looked up in PATH. Failing to start is Code::invalid_input
// (a misnamed program); a timeout is Code::transient.
[[nodiscard]] Result<ProcessOutput> run_process(const std::vector<std::string>& argv,
                                                const ProcessOptions& options = {});

// No core dump of this process, and no other process of the same user may
// attach to it or read its memory (PR_SET_DUMPABLE 0, RLIMIT_CORE 0): every
// step and the plugin hold tokens, keys or generated credentials (security
// review finding 14). Children started later start dumpable again (exec
// resets the flag), but keep the core limit.
void disable_core_dumps() noexcept;

}  // namespace ir
