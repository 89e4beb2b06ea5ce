#include "ir/core/error.hpp"

#include "support/catch.hpp"

using ir::Code;

TEST_CASE("every error category maps to the exit code of the design", "[unit][error]") {
  CHECK(ir::exit_code(Code::action_failed) == 1);
  CHECK(ir::exit_code(Code::conflict) == 1);
  CHECK(ir::exit_code(Code::invalid_input) == 2);
  CHECK(ir::exit_code(Code::not_found) == 2);
  CHECK(ir::exit_code(Code::rejected) == 3);
  CHECK(ir::exit_code(Code::transient) == 4);
  CHECK(ir::exit_code(Code::forbidden) == 5);
  CHECK(ir::exit_code(Code::internal) == 70);
}

TEST_CASE("context is added on the way up and printed outermost first", "[unit][error]") {
  const ir::Error inner(Code::not_found, "pods \"web\" not found");
  const auto outer = inner.with("get Pod web").with("isolate");
  CHECK(outer.describe() == "isolate: get Pod web: pods \"web\" not found");
  CHECK(outer.code() == Code::not_found);
  CHECK(inner.describe() == "pods \"web\" not found");
}

TEST_CASE("a Result carries a value or an error", "[unit][error]") {
  ir::Result<int> good = 3;
  ir::Result<int> bad = ir::invalid("no");
  REQUIRE(good);
  CHECK(*good == 3);
  REQUIRE_FALSE(bad);
  CHECK(bad.error().code() == Code::invalid_input);
  CHECK_THROWS_AS(bad.value(), ir::BadResultAccess);
  ir::Result<void> nothing = ir::Error(Code::transient, "later");
  CHECK(nothing.error().code() == Code::transient);
}

TEST_CASE("a reason from the other side travels with the error", "[unit][error]") {
  auto e = ir::Error(Code::conflict, "exists").with_reason("AlreadyExists");
  CHECK(e.reason() == "AlreadyExists");
  CHECK(e.with("create").reason() == "AlreadyExists");
}
