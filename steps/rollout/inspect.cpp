#include "rollout.hpp"

namespace ir::steps::rollout {
namespace {

std::string normalise_repository(std::string name) {
  const auto slash = name.find('/');
  if (slash == std::string::npos) return "docker.io/library/" + name;
  const std::string first = name.substr(0, slash);
  if (first == "index.docker.io") return normalise_repository(name.substr(slash + 1));
  if (first.find('.') == std::string::npos && first.find(':') == std::string::npos && first != "localhost") {
    return "docker.io/" + name;
  }
  return name;
}

}  // namespace

Result<ImageRef> parse_image_ref(std::string_view text) {
  ImageRef ref;
  std::string name(text);
  if (name.rfind("sha256:", 0) == 0) {
    ref.digest = name;
    return ref;
  }
  if (const auto at = name.find('@'); at != std::string::npos) {
    ref.digest = name.substr(at + 1);
    name = name.substr(0, at);
  }
  const auto colon = name.rfind(':');
  const auto slash = name.rfind('/');
  if (colon != std::string::npos && (slash == std::string::npos || colon > slash)) {
    ref.tag = name.substr(colon + 1);
    name = name.substr(0, colon);
  }
  if (name.empty() || (!ref.digest.empty() && ref.digest.rfind("sha256:", 0) != 0)) {
    return invalid("'" + std::string(text) +
                   "' is not an image reference (REPOSITORY[:TAG][@sha256:DIGEST])");
  }
  if (ref.tag.empty() && ref.digest.empty()) ref.tag = "latest";
  ref.repository = normalise_repository(name);
  return ref;
}

bool image_matches(const ImageRef& wanted, std::string_view image, std::string_view image_id) {
  if (!wanted.digest.empty()) {
    const std::string suffix = "@" + wanted.digest;
    auto ends_with = [&](std::string_view s) {
      return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
    };
    return ends_with(image_id) || ends_with(image) || image_id == wanted.digest;
  }
  auto actual = parse_image_ref(image);
  if (!actual) return false;
  return actual->repository == wanted.repository && actual->tag == wanted.tag;
}

}  // namespace ir::steps::rollout
