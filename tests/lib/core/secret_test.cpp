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

// Security review finding 14: a short value lives inside the string object
// itself; moving it out left its bytes there, only the length set to 0.
TEST_CASE("a moved-from short secret keeps none of its bytes", "[unit][secret]") {
  auto representation = [](const ir::Secret& secret) {
    return std::string(reinterpret_cast<const char*>(&secret), sizeof secret);
  };
  ir::Secret source(std::string("pw-9f3kQ"));
  REQUIRE(representation(source).find("pw-9f3kQ") != std::string::npos);
  ir::Secret moved(std::move(source));
  CHECK(moved.reveal() == "pw-9f3kQ");
  // The first byte is overwritten by the terminator either way: look for the rest.
  CHECK(representation(source).find("9f3kQ") == std::string::npos);

  ir::Secret other(std::string("tk-77aZ"));
  ir::Secret target;
  target = std::move(other);
  CHECK(target.reveal() == "tk-77aZ");
  CHECK(representation(other).find("77aZ") == std::string::npos);

  ir::Secret replaced(std::string("old-51x"));
  replaced = ir::Secret(std::string("new"));
  CHECK(representation(replaced).find("old-51x") == std::string::npos);
}
