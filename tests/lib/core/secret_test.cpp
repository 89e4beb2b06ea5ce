#include "ir/core/secret.hpp"

#include <fmt/format.h>
#include "support/catch.hpp"

TEST_CASE("a secret formats as <redacted>", "[unit][secret]") {
  const ir::Secret token("s3cr3t-token-value");
  const std::string shown = fmt::format("token={} padded={:>12}", token, token);
  CHECK(shown.find("s3cr3t") == std::string::npos);
  CHECK(shown == "token=<redacted> padded=  <redacted>");
  CHECK(token.reveal() == "s3cr3t-token-value");
}

TEST_CASE("secrets compare by value and moving empties the source", "[unit][secret]") {
  ir::Secret a("abc");
  const ir::Secret b("abc");
  const ir::Secret c("abd");
  CHECK(a == b);
  CHECK_FALSE(a == c);
  CHECK_FALSE(a == ir::Secret("ab"));
  ir::Secret moved(std::move(a));
  CHECK(moved.reveal() == "abc");
  CHECK(a.empty());  // NOLINT(bugprone-use-after-move): the point of the test
}
