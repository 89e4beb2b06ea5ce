// UTC time points as the Kubernetes API and the result document write them.
#pragma once

#include "ir/core/error.hpp"

#include <chrono>
#include <string>
#include <string_view>

namespace ir {

using Clock = std::chrono::system_clock;
using TimePoint = Clock::time_point;

[[nodiscard]] inline TimePoint now() {
  return Clock::now();
}

// RFC 3339 in UTC: "2026-11-26T17:29:04Z", or with milliseconds.
[[nodiscard]] std::string format_utc(TimePoint t, bool millis = false);
[[nodiscard]] Result<TimePoint> parse_utc(std::string_view text);

// Go-style durations as Argo and kubectl take them: "90s", "5m", "1h30m", "250ms".
[[nodiscard]] Result<std::chrono::milliseconds> parse_duration(std::string_view text);

}  // namespace ir
