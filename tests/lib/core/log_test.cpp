#include "ir/core/log.hpp"

#include "ir/core/json.hpp"
#include "ir/core/time.hpp"
#include "support/catch.hpp"

TEST_CASE("a JSON log line carries time, level, event and the fields", "[unit][log]") {
  const auto line = ir::log::format_line(ir::log::Format::json, ir::log::Level::warn, "k8s.request",
                                         {{"method", "GET"}, {"status", 200}, {"retry", true}});
  auto parsed = ir::parse_json(line, "log line");
  REQUIRE(parsed);
  CHECK(ir::string_at(*parsed, {"level"}) == "warn");
  CHECK(ir::string_at(*parsed, {"event"}) == "k8s.request");
  CHECK(ir::string_at(*parsed, {"method"}) == "GET");
  CHECK(parsed->at("status").as_int64() == 200);
  CHECK(parsed->at("retry").as_bool());
  CHECK(ir::parse_utc(ir::string_at(*parsed, {"time"})));
  CHECK(line.find('\n') == std::string::npos);
}

TEST_CASE("a text log line is readable and escapes nothing away", "[unit][log]") {
  const auto line = ir::log::format_line(ir::log::Format::text, ir::log::Level::info, "step.done",
                                         {{"step", "isolate"}, {"pods", 3}});
  CHECK(line.find(" info step.done step=isolate pods=3") != std::string::npos);
}

TEST_CASE("levels are read by name", "[unit][log]") {
  const auto warning = ir::log::level_from_string("warning");
  REQUIRE(warning);
  CHECK(*warning == ir::log::Level::warn);
  const auto loud = ir::log::level_from_string("loud");
  REQUIRE_FALSE(loud);
  CHECK(loud.error().code() == ir::Code::invalid_input);
  CHECK(loud.error().describe().find("log level 'loud'") != std::string::npos);
}

// Security review finding 13: a text log line stays one line, so a value
// holding "\n::error::" cannot become a GitHub workflow command of its own.
TEST_CASE("a text log line escapes line breaks and control characters", "[unit][log]") {
  const auto line =
      ir::log::format_line(ir::log::Format::text, ir::log::Level::warn, "registry.error",
                           {{"message", "denied\n::error::forged\r\x1b[31m\\"}, {"status", 401}});
  CHECK(line.find('\n') == std::string::npos);
  CHECK(line.find('\r') == std::string::npos);
  CHECK(line.find('\x1b') == std::string::npos);
  CHECK(line.find(" message=denied\\n::error::forged\\r\\x1b[31m\\\\ status=401") != std::string::npos);
}
