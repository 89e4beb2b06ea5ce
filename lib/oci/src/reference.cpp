#include "ir/oci/reference.hpp"

#include <regex>

namespace ir::oci {
namespace {

// distribution/reference: path components are lower-case alphanumerics
// joined by '.', '_', '__' or runs of '-'.
const std::regex component("[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*");
const std::regex tag_form("[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}");
const std::regex host_form(
    "(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*|\\[[0-9A-Fa-"
    "f:.]+\\])"
    "(?::[0-9]+)?");

bool looks_like_registry(std::string_view first) {
  return first.find('.') != std::string_view::npos || first.find(':') != std::string_view::npos ||
         first == "localhost" || (!first.empty() && first.front() == '[');
}

}  // namespace

bool is_digest(std::string_view text) {
  static const std::regex form("sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128}");
  return std::regex_match(text.begin(), text.end(), form);
}

std::string Reference::api_host() const {
  return registry == "docker.io" || registry == "index.docker.io" ? "registry-1.docker.io" : registry;
}

std::string Reference::str() const {
  std::string text = registry + "/" + repository;
  if (!tag.empty()) text += ":" + tag;
  if (!digest.empty()) text += "@" + digest;
  return text;
}

Reference Reference::with_digest(std::string digest_text) const {
  Reference copy = *this;
  copy.digest = std::move(digest_text);
  return copy;
}

Result<Reference> parse_reference(std::string_view text) {
  const std::string quoted = "image reference '" + std::string(text) + "'";
  if (text.empty() || text.size() > 4096) return invalid(quoted + ": empty or too long");
  Reference ref;
  std::string_view rest = text;
  if (const auto at = rest.find('@'); at != std::string_view::npos) {
    ref.digest = std::string(rest.substr(at + 1));
    if (!is_digest(ref.digest))
      return invalid(quoted + ": the digest is not sha256:<64 lower-case hex digits>");
    rest = rest.substr(0, at);
  }
  // A tag follows the last ':' that comes after the last '/' (a ':' before
  // it is the registry's port).
  const auto slash = rest.rfind('/');
  const auto colon = rest.rfind(':');
  if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash)) {
    ref.tag = std::string(rest.substr(colon + 1));
    if (!std::regex_match(ref.tag, tag_form)) return invalid(quoted + ": malformed tag '" + ref.tag + "'");
    rest = rest.substr(0, colon);
  }
  const auto first_slash = rest.find('/');
  if (first_slash != std::string_view::npos && looks_like_registry(rest.substr(0, first_slash))) {
    ref.registry = std::string(rest.substr(0, first_slash));
    rest = rest.substr(first_slash + 1);
    if (!std::regex_match(ref.registry, host_form)) return invalid(quoted + ": malformed registry host");
  } else {
    ref.registry = "docker.io";
  }
  ref.repository = std::string(rest);
  if (ref.registry == "docker.io" && ref.repository.find('/') == std::string::npos)
    ref.repository = "library/" + ref.repository;
  std::size_t start = 0;
  while (true) {
    const auto end = ref.repository.find('/', start);
    const std::string part =
        ref.repository.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (!std::regex_match(part, component))
      return invalid(quoted + ": '" + part +
                     "' is not a valid repository component (lower-case letters, digits, " + "separators)");
    if (end == std::string::npos) break;
    start = end + 1;
  }
  if (ref.repository.size() > 255) return invalid(quoted + ": repository name longer than 255 characters");
  if (ref.tag.empty() && ref.digest.empty()) ref.tag = "latest";
  return ref;
}

}  // namespace ir::oci
