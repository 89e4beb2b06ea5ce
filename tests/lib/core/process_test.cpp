#include "ir/core/process.hpp"

#include "support/catch.hpp"

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
