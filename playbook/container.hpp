// How a container template becomes a local step invocation: which
// executable stands for the image, and how container paths (/tmp, volume
// mounts) map to local directories.
#pragma once

#include "model.hpp"

#include <string>
#include <utility>
#include <vector>

namespace playbook {

// The basename of command[0], else the last path component of the image
// repository: ghcr.io/irsteps/isolate:0.1.0 -> isolate.
[[nodiscard]] Result<std::string> step_name(const Container& container);

// The first executable <dir>/<step> among `bin_dirs`.
[[nodiscard]] Result<std::string> find_step_executable(const std::string& step,
                                                       const std::vector<std::string>& bin_dirs);

// Container path prefix -> local directory, longest prefix first.
using PathMap = std::vector<std::pair<std::string, std::string>>;
[[nodiscard]] PathMap sorted_path_map(PathMap map);

// A path (or, for "--flag=PATH", the part after '=') under a mapped prefix
// gets the local directory instead; anything else stays as it is.
[[nodiscard]] std::string rewrite_argument(const std::string& argument, const PathMap& map);
[[nodiscard]] std::string rewrite_path(const std::string& path, const PathMap& map);

}  // namespace playbook
