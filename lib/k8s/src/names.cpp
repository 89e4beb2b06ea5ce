#include "ir/k8s/names.hpp"

#include <string>

namespace ir::k8s {

namespace {

bool alphanumeric(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

bool dns_label(std::string_view label) {
  if (label.empty() || label.size() > 63) return false;
  if (!alphanumeric(label.front()) || !alphanumeric(label.back())) return false;
  for (const char c : label) {
    if (!alphanumeric(c) && c != '-') return false;
  }
  return true;
}

std::string quoted(std::string_view text) {
  // The error shows what was given, cut short and on one line.
  std::string shown;
  for (const char c : text.substr(0, 80)) {
    shown += static_cast<unsigned char>(c) < 0x20 ? '?' : c;
  }
  return "'" + shown + (text.size() > 80 ? "...'" : "'");
}

}  // namespace

Result<void> check_object_name(std::string_view name, std::string_view what) {
  bool valid = !name.empty() && name.size() <= 253;
  for (std::string_view rest = name; valid;) {
    const auto dot = rest.find('.');
    valid = dns_label(rest.substr(0, dot));
    if (dot == std::string_view::npos) break;
    rest.remove_prefix(dot + 1);
  }
  if (valid) return {};
  return invalid(std::string(what) + ": " + quoted(name) +
                 " is not a Kubernetes object name (lower-case letters, digits, '-' and '.', at most 253)");
}

Result<void> check_namespace_name(std::string_view name, std::string_view what) {
  if (dns_label(name)) return {};
  return invalid(std::string(what) + ": " + quoted(name) +
                 " is not a namespace name (lower-case letters, digits and '-', at most 63)");
}

Result<void> check_request_path(std::string_view path) {
  path = path.substr(0, path.find('?'));
  if (path.empty() || path.front() != '/')
    return invalid("request path " + quoted(path) + " does not start with /");
  std::string_view rest = path.substr(1);
  while (true) {
    const auto slash = rest.find('/');
    const std::string_view segment = rest.substr(0, slash);
    bool valid = !segment.empty() && segment != "." && segment != "..";
    for (const char c : segment) {
      const bool unreserved = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                              c == '-' || c == '.' || c == '_' || c == '~' || c == ':' || c == '@';
      valid = valid && unreserved;
    }
    if (!valid) {
      return invalid("request path " + quoted(path) + " has a segment " + quoted(segment) +
                     " that is not a plain name");
    }
    if (slash == std::string_view::npos) return {};
    rest.remove_prefix(slash + 1);
  }
}

}  // namespace ir::k8s
