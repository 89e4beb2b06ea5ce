// RFC 8785 canonical JSON, checked against the RFC's own examples.
#include "ir/sigstore/canonical_json.hpp"

#include "support/catch.hpp"

#include <boost/json.hpp>

using ir::sigstore::canonical_json;

namespace {
std::string canonical(std::string_view text) {
  auto value = ir::parse_json(text, "test");
  REQUIRE(value);
  return canonical_json(*value);
}
}  // namespace

TEST_CASE("canonical JSON sorts members, drops white space and writes numbers as ECMAScript does",
          "[unit][sigstore]") {
  CHECK(canonical(R"({ "b": 1, "a": [true, null, "x"] })") == R"({"a":[true,null,"x"],"b":1})");
  // RFC 8785 section 3.2.2.3's number examples.
  CHECK(canonical("[1e30, 4.50, 2e-3, 0.000001, 1e-7, 1e21, 1e20, -0.0, 333333333.3333333]") ==
        "[1e+30,4.5,0.002,0.000001,1e-7,1e+21,100000000000000000000,0,333333333.3333333]");
  // Minimal string escapes: control characters as \u00xx, others literal.
  CHECK(canonical(R"(["\u0001\u000a\u0022\u005c\u00e9/"])") == "[\"\\u0001\\n\\\"\\\\\xC3\xA9/\"]");
}

TEST_CASE("canonical JSON orders member names by UTF-16 code units, not UTF-8 bytes", "[unit][sigstore]") {
  // U+FB33 sorts after U+1F600 in UTF-8 but before it in UTF-16 (a surrogate
  // pair starts with 0xD83D); RFC 8785 section 3.2.3.
  const std::string text = "{\"\xF0\x9F\x98\x80\":1,\"\xEF\xAC\xB3\":2,\"a\":3}";
  CHECK(canonical(text) == "{\"a\":3,\"\xF0\x9F\x98\x80\":1,\"\xEF\xAC\xB3\":2}");
}
