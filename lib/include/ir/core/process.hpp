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

}  // namespace ir
