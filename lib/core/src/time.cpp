#include "ir/core/time.hpp"

#include <fmt/format.h>

#include <cctype>
#include <ctime>

namespace ir {

std::string format_utc(TimePoint t, bool millis) {
  const auto secs = std::chrono::time_point_cast<std::chrono::seconds>(t);
  const std::time_t tt = Clock::to_time_t(secs);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  std::string text = fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}", tm.tm_year + 1900, tm.tm_mon + 1,
                                 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  if (millis) {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t - secs).count();
    text += fmt::format(".{:03}", ms);
  }
  text += 'Z';
  return text;
}

Result<TimePoint> parse_utc(std::string_view text) {
  // Accepts YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM).
  std::tm tm{};
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  int consumed = 0;
  const std::string copy(text);
  if (std::sscanf(copy.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &year, &month, &day, &hour, &minute, &second,
                  &consumed) != 6 ||
      month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) {
    return invalid("'" + copy + "' is not an RFC 3339 time (YYYY-MM-DDTHH:MM:SSZ)");
  }
  // The clock counts nanoseconds in 64 bits: it ends in 2262.
  if (year < 1970 || year > 2261) return invalid("'" + copy + "' is out of the supported range (1970-2261)");
  std::size_t pos = static_cast<std::size_t>(consumed);
  std::chrono::nanoseconds fraction{0};
  if (pos < copy.size() && copy[pos] == '.') {
    ++pos;
    long long scale = 100000000;
    while (pos < copy.size() && std::isdigit(static_cast<unsigned char>(copy[pos]))) {
      fraction += std::chrono::nanoseconds((copy[pos] - '0') * scale);
      scale /= 10;
      ++pos;
    }
  }
  long offset_seconds = 0;
  if (pos < copy.size() && (copy[pos] == 'Z' || copy[pos] == 'z')) {
    ++pos;
  } else if (pos < copy.size() && (copy[pos] == '+' || copy[pos] == '-')) {
    int oh = 0, om = 0;
    if (std::sscanf(copy.c_str() + pos + 1, "%2d:%2d", &oh, &om) != 2) {
      return invalid("'" + copy + "' has a malformed time-zone offset");
    }
    offset_seconds = (oh * 3600 + om * 60) * (copy[pos] == '+' ? 1 : -1);
    pos += 6;
  } else {
    return invalid("'" + copy + "' has no time zone (end it with Z)");
  }
  if (pos != copy.size()) return invalid("'" + copy + "' has trailing characters");
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  const std::time_t tt = timegm(&tm);
  return Clock::from_time_t(tt) - std::chrono::seconds(offset_seconds) +
         std::chrono::duration_cast<Clock::duration>(fraction);
}

Result<std::chrono::milliseconds> parse_duration(std::string_view text) {
  if (text.empty()) return invalid("empty duration");
  double total_ms = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t start = pos;
    while (pos < text.size() && (std::isdigit(static_cast<unsigned char>(text[pos])) || text[pos] == '.')) {
      ++pos;
    }
    if (start == pos) {
      return invalid("'" + std::string(text) + "' is not a duration (e.g. 90s, 5m, 1h30m)");
    }
    const double number = std::stod(std::string(text.substr(start, pos - start)));
    std::size_t unit_start = pos;
    while (pos < text.size() && std::isalpha(static_cast<unsigned char>(text[pos]))) ++pos;
    const std::string_view unit = text.substr(unit_start, pos - unit_start);
    double factor = 0;
    if (unit == "ms")
      factor = 1;
    else if (unit == "s")
      factor = 1000;
    else if (unit == "m")
      factor = 60'000;
    else if (unit == "h")
      factor = 3'600'000;
    else if (unit == "d")
      factor = 86'400'000;
    else {
      return invalid("'" + std::string(text) + "' has an unknown unit (use ms, s, m, h or d)");
    }
    total_ms += number * factor;
  }
  return std::chrono::milliseconds(static_cast<long long>(total_ms));
}

}  // namespace ir
