#include "ir/core/process.hpp"

#include "support/catch.hpp"

#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace std::chrono_literals;

TEST_CASE("a helper program's output, status and environment", "[unit][process]") {
  ir::ProcessOptions options;
  options.extra_env = {{"IR_TEST_VALUE", "from-env"}};
  options.stdin_data = "from stdin";
  auto output =
      ir::run_process({"sh", "-c", "cat; echo \" $IR_TEST_VALUE\"; echo oops >&2; exit 7"}, options);
  REQUIRE(output);
  CHECK(output->exit_status == 7);
  CHECK(output->out == "from stdin from-env\n");
  CHECK(output->err == "oops\n");
}

TEST_CASE("a program that does not exist or does not finish", "[unit][process]") {
  auto missing = ir::run_process({"/nonexistent/credential-helper"});
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code() == ir::Code::invalid_input);
  ir::ProcessOptions options;
  options.timeout = 200ms;
  auto slow = ir::run_process({"sleep", "5"}, options);
  REQUIRE_FALSE(slow);
  CHECK(slow.error().code() == ir::Code::transient);
}

// Security review finding 14: a process that holds secrets neither dumps
// core nor lets another process of its user read its memory. Checked in a
// child, so the test process itself is not changed.
TEST_CASE("core dumps are disabled by disable_core_dumps", "[unit][process]") {
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    rlimit unlimited{RLIM_INFINITY, RLIM_INFINITY};
    (void)setrlimit(RLIMIT_CORE, &unlimited);
    if (prctl(PR_GET_DUMPABLE) != 1) _exit(10);
    ir::disable_core_dumps();
    rlimit core{};
    if (getrlimit(RLIMIT_CORE, &core) != 0 || core.rlim_cur != 0 || core.rlim_max != 0) _exit(11);
    _exit(prctl(PR_GET_DUMPABLE) == 0 ? 0 : 12);
  }
  int status = 0;
  REQUIRE(waitpid(child, &status, 0) == child);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}
