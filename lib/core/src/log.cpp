#include "ir/core/log.hpp"

#include "ir/core/time.hpp"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include <atomic>
#include <mutex>

namespace ir::log {
namespace {

std::atomic<Format> current_format{Format::json};
std::atomic<Level> current_level{Level::info};

std::shared_ptr<spdlog::logger> logger() {
  static std::once_flag once;
  static std::shared_ptr<spdlog::logger> instance;
  std::call_once(once, [] {
    instance = std::make_shared<spdlog::logger>("irsteps", std::make_shared<spdlog::sinks::stderr_sink_mt>());
    // The line is complete JSON already; spdlog adds only the newline.
    instance->set_pattern("%v");
    instance->set_level(spdlog::level::trace);
    instance->flush_on(spdlog::level::trace);
  });
  return instance;
}

std::string_view level_name(Level level) {
  switch (level) {
    case Level::debug:
      return "debug";
    case Level::info:
      return "info";
    case Level::warn:
      return "warn";
    case Level::error:
      return "error";
    case Level::off:
      return "off";
  }
  return "info";
}

}  // namespace

void configure(Format format, Level level) {
  current_format = format;
  current_level = level;
}

Result<Level> level_from_string(std::string_view text) {
  if (text == "debug") return Level::debug;
  if (text == "info") return Level::info;
  if (text == "warn" || text == "warning") return Level::warn;
  if (text == "error") return Level::error;
  if (text == "off") return Level::off;
  return invalid("log level '" + std::string(text) + "': one of debug, info, warn, error, off");
}

namespace {

// A text line is one line whatever the value holds: a registry's error text
// or an object name with "\n::error::" would otherwise become a line of its
// own, which GitHub's runner reads as a workflow command (security review
// finding 13). Backslash, CR, LF and every other control character are
// written as escapes.
void append_escaped(std::string& text, std::string_view value) {
  static constexpr char hex[] = "0123456789abcdef";
  for (const char c : value) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '\\') {
      text += "\\\\";
    } else if (c == '\n') {
      text += "\\n";
    } else if (c == '\r') {
      text += "\\r";
    } else if (c == '\t') {
      text += "\\t";
    } else if (byte < 0x20 || byte == 0x7f) {
      text += "\\x";
      text += hex[byte >> 4];
      text += hex[byte & 0xf];
    } else {
      text += c;
    }
  }
}

}  // namespace

std::string format_line(Format format, Level level, std::string_view event,
                        std::initializer_list<Field> fields) {
  if (format == Format::json) {
    boost::json::object line;
    line["time"] = format_utc(now(), true);
    line["level"] = level_name(level);
    line["event"] = event;
    for (const auto& field : fields) line[field.key] = field.value;
    return boost::json::serialize(line);
  }
  std::string text = format_utc(now(), true);
  text += ' ';
  text += level_name(level);
  text += ' ';
  text += event;
  for (const auto& field : fields) {
    text += ' ';
    text += field.key;
    text += '=';
    if (field.value.is_string()) {
      append_escaped(text, field.value.get_string());
    } else {
      text += boost::json::serialize(field.value);
    }
  }
  return text;
}

void write(Level level, std::string_view event, std::initializer_list<Field> fields) {
  if (level < current_level.load() || current_level.load() == Level::off) return;
  logger()->info(format_line(current_format.load(), level, event, fields));
}

}  // namespace ir::log
