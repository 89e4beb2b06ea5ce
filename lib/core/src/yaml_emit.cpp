#include "ir/core/yaml_emit.hpp"

#include <fmt/format.h>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <vector>

namespace ir {
namespace {

bool is_word(std::string_view text, std::initializer_list<std::string_view> words) {
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return std::find(words.begin(), words.end(), lower) != words.end();
}

// Whether a string can be written as a plain scalar and read back as the
// same string, by our reader and by YAML 1.1 readers (kubectl, go-yaml v2)
// alike; when in doubt it is quoted, which is never wrong.
bool plain_safe(std::string_view text) {
  if (text.empty() || text.front() == ' ' || text.back() == ' ' || text.back() == ':') return false;
  static constexpr std::string_view leading_indicators = "-?:,[]{}#&*!|>'\"%@`.+~=<";
  if (leading_indicators.find(text.front()) != std::string_view::npos) return false;
  if (std::isdigit(static_cast<unsigned char>(text.front())) != 0) return false;
  if (text.find(": ") != std::string_view::npos || text.find(" #") != std::string_view::npos) return false;
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f || byte >= 0x80) return false;
  }
  return !is_word(text, {"null", "true", "false", "yes", "no", "on", "off", "y", "n"});
}

std::string quoted(std::string_view text) {
  // A JSON string is a valid YAML double-quoted scalar.
  return json::serialize(json::value(text));
}

// A literal block keeps multi-line text (scripts, config files) readable in a
// diff; only text that the block form carries exactly.
bool literal_safe(std::string_view text) {
  if (text.find('\n') == std::string_view::npos || text.front() == ' ' || text.front() == '\n') return false;
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if ((byte < 0x20 && c != '\n') || byte == 0x7f) return false;
  }
  std::size_t start = 0;
  while (start < text.size()) {
    auto end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    if (end > start && (text[end - 1] == ' ' || text[end - 1] == '\t')) return false;
    start = end + 1;
  }
  return true;
}

void literal(std::string_view text, std::size_t indent, std::string& out) {
  std::size_t trailing = 0;
  while (trailing < text.size() && text[text.size() - 1 - trailing] == '\n') ++trailing;
  out += trailing == 0 ? "|-" : trailing == 1 ? "|" : "|+";
  out += '\n';
  const std::string_view body = trailing <= 1 ? text.substr(0, text.size() - trailing) : text;
  std::size_t start = 0;
  const std::string pad(indent, ' ');
  while (start <= body.size()) {
    auto end = body.find('\n', start);
    if (end == std::string_view::npos) end = body.size();
    if (end == body.size() && start == end && trailing > 1) break;
    const auto line = body.substr(start, end - start);
    if (!line.empty()) out += pad;
    out.append(line);
    out += '\n';
    start = end + 1;
  }
}

std::string number(double value) {
  std::string text = fmt::format("{}", value);
  if (text.find_first_of(".eEn") == std::string::npos) text += ".0";  // stays a float when read back
  if (text == "inf") return ".inf";
  if (text == "-inf") return "-.inf";
  if (text == "nan") return ".nan";
  return text;
}

bool is_collection(const json::value& value) {
  return (value.is_object() && !value.get_object().empty()) ||
         (value.is_array() && !value.get_array().empty());
}

class Emitter {
 public:
  Emitter(const YamlStyle& style, std::string& out) : style_(style), out_(out) {}

  // A scalar or empty collection, written after "key: " or "- ".
  void inline_value(const json::value& value, std::size_t indent) {
    switch (value.kind()) {
      case json::kind::null:
        out_ += "null";
        break;
      case json::kind::bool_:
        out_ += value.get_bool() ? "true" : "false";
        break;
      case json::kind::int64:
        out_ += std::to_string(value.get_int64());
        break;
      case json::kind::uint64:
        out_ += std::to_string(value.get_uint64());
        break;
      case json::kind::double_:
        out_ += number(value.get_double());
        break;
      case json::kind::string: {
        const std::string_view text = value.get_string();
        if (plain_safe(text)) {
          out_.append(text);
        } else if (literal_safe(text)) {
          literal(text, indent, out_);
          return;
        } else {
          out_ += quoted(text);
        }
        break;
      }
      case json::kind::array:
        out_ += "[]";
        break;
      case json::kind::object:
        out_ += "{}";
        break;
    }
    out_ += '\n';
  }

  void block(const json::value& value, std::size_t indent, bool first_line_started) {
    if (const auto* object = value.if_object()) {
      mapping(*object, indent, first_line_started);
    } else {
      sequence(value.get_array(), indent, first_line_started);
    }
  }

 private:
  void key(std::string_view name) {
    out_.append(plain_safe(name) ? std::string(name) : quoted(name));
    out_ += ':';
  }

  void mapping(const json::object& object, std::size_t indent, bool first_line_started) {
    std::vector<const json::key_value_pair*> entries;
    for (const auto& entry : object) entries.push_back(&entry);
    if (style_.sort_keys) {
      std::sort(entries.begin(), entries.end(),
                [](const auto* a, const auto* b) { return a->key() < b->key(); });
    }
    bool first = true;
    for (const auto* entry : entries) {
      if (!(first && first_line_started)) out_.append(indent, ' ');
      first = false;
      key(entry->key());
      if (is_collection(entry->value())) {
        out_ += '\n';
        // Sequences in mappings are not indented further, as kubectl writes them.
        block(entry->value(), entry->value().is_array() ? indent : indent + 2, false);
      } else {
        out_ += ' ';
        inline_value(entry->value(), indent + 2);
      }
    }
  }

  void sequence(const json::array& array, std::size_t indent, bool first_line_started) {
    bool first = true;
    for (const auto& item : array) {
      if (!(first && first_line_started)) out_.append(indent, ' ');
      first = false;
      out_ += "- ";
      if (is_collection(item)) {
        block(item, indent + 2, true);
      } else {
        inline_value(item, indent + 2);
      }
    }
  }

  const YamlStyle& style_;
  std::string& out_;
};

}  // namespace

std::string to_yaml(const json::value& value, const YamlStyle& style) {
  std::string out;
  Emitter emitter(style, out);
  if (is_collection(value)) {
    emitter.block(value, 0, false);
  } else {
    emitter.inline_value(value, 2);
  }
  return out;
}

}  // namespace ir
