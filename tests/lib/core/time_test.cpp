#include "ir/core/time.hpp"

#include "support/catch.hpp"

using namespace std::chrono_literals;

TEST_CASE("RFC 3339 times round-trip in UTC", "[unit][time]") {
  auto t = ir::parse_utc("2026-11-26T17:29:04Z");
  REQUIRE(t);
  CHECK(ir::format_utc(*t) == "2026-11-26T17:29:04Z");
  auto offset = ir::parse_utc("2026-11-26T18:29:04.250+01:00");
  REQUIRE(offset);
  CHECK(ir::format_utc(*offset, true) == "2026-11-26T17:29:04.250Z");
}

TEST_CASE("malformed times are rejected with the text in the message", "[unit][time]") {
  for (const char* bad :
       {"2026-13-01T00:00:00Z", "yesterday", "2026-11-26T17:29:04", "2026-11-26T17:29:04Zjunk"}) {
    auto t = ir::parse_utc(bad);
    REQUIRE_FALSE(t);
    CHECK(t.error().describe().find(bad) != std::string::npos);
  }
}

TEST_CASE("durations as Argo writes them", "[unit][time]") {
  CHECK(*ir::parse_duration("90s") == 90s);
  CHECK(*ir::parse_duration("1h30m") == 90min);
  CHECK(*ir::parse_duration("250ms") == 250ms);
  CHECK(*ir::parse_duration("1.5s") == 1500ms);
  CHECK_FALSE(ir::parse_duration("5 minutes"));
  CHECK_FALSE(ir::parse_duration("10"));
  CHECK_FALSE(ir::parse_duration(""));
}
