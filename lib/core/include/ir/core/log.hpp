// One spdlog logger to stderr. Each line is one JSON object with a stable
// dotted event name ("k8s.request", "networkpolicy.applied") and fields; the
// text format is for people at a terminal. Never log bodies or secrets.
#pragma once

#include "ir/core/error.hpp"

#include <boost/json/value.hpp>

#include <initializer_list>
#include <string>
#include <string_view>
#include <type_traits>

namespace ir::log {

enum class Format { json, text };
enum class Level { debug, info, warn, error, off };

struct Field {
  Field(std::string_view k, std::string_view v) : key(k), value(v) {}
  Field(std::string_view k, const std::string& v) : key(k), value(std::string_view(v)) {}
  Field(std::string_view k, const char* v) : key(k), value(v) {}
  template <class T>
  requires std::is_arithmetic_v<T> Field(std::string_view k, T v) : key(k), value(v) {}
  Field(std::string_view k, boost::json::value v) : key(k), value(std::move(v)) {}

  std::string_view key;
  boost::json::value value;
};

// Sets the format and threshold; safe to call again (tests, the plugin).
void configure(Format format, Level level);
// "debug", "info", "warn" (or "warning"), "error", "off"; anything else is
// Code::invalid_input naming the value.
[[nodiscard]] Result<Level> level_from_string(std::string_view text);

void write(Level level, std::string_view event, std::initializer_list<Field> fields);

inline void debug(std::string_view event, std::initializer_list<Field> fields = {}) {
  write(Level::debug, event, fields);
}
inline void info(std::string_view event, std::initializer_list<Field> fields = {}) {
  write(Level::info, event, fields);
}
inline void warn(std::string_view event, std::initializer_list<Field> fields = {}) {
  write(Level::warn, event, fields);
}
inline void error(std::string_view event, std::initializer_list<Field> fields = {}) {
  write(Level::error, event, fields);
}

// Builds the line without printing it; exposed for tests.
[[nodiscard]] std::string format_line(Format format, Level level, std::string_view event,
                                      std::initializer_list<Field> fields);

}  // namespace ir::log
