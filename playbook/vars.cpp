#include "vars.hpp"

namespace playbook {
namespace {

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

// Calls `each` for the text between every pair of braces; `literal` for the rest.
template <class Literal, class Each>
ir::Result<void> scan(std::string_view text, Literal&& literal, Each&& each) {
  std::size_t pos = 0;
  while (pos < text.size()) {
    const auto open = text.find("{{", pos);
    if (open == std::string_view::npos) {
      literal(text.substr(pos));
      break;
    }
    literal(text.substr(pos, open - pos));
    const auto close = text.find("}}", open + 2);
    if (close == std::string_view::npos)
      return ir::invalid("'{{' without '}}' in '" + std::string(text) + "'");
    const auto name = trim(text.substr(open + 2, close - open - 2));
    // Argo's expression tags ({{=...}}) are a language of their own.
    if (name.empty() || name.front() == '=') {
      return ir::invalid("{{" + std::string(name) + "}} is not supported by the local playbook runner");
    }
    if (auto r = each(std::string(name)); !r) return r.error();
    pos = close + 2;
  }
  return {};
}

}  // namespace

ir::Result<std::string> substitute(std::string_view text, const Lookup& lookup) {
  std::string out;
  auto done = scan(
      text, [&](std::string_view literal) { out += literal; },
      [&](const std::string& name) -> ir::Result<void> {
        auto value = lookup(name);
        if (!value) return value.error();
        out += *value;
        return {};
      });
  if (!done) return done.error();
  return out;
}

ir::Result<std::vector<std::string>> references(std::string_view text) {
  std::vector<std::string> names;
  auto done = scan(
      text, [](std::string_view) {},
      [&](const std::string& name) -> ir::Result<void> {
        names.push_back(name);
        return {};
      });
  if (!done) return done.error();
  return names;
}

std::vector<std::string> split_name(std::string_view name) {
  std::vector<std::string> parts;
  std::size_t pos = 0;
  while (true) {
    const auto dot = name.find('.', pos);
    parts.emplace_back(name.substr(pos, dot == std::string_view::npos ? std::string_view::npos : dot - pos));
    if (dot == std::string_view::npos) break;
    pos = dot + 1;
  }
  return parts;
}

}  // namespace playbook
