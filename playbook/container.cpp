#include "container.hpp"

#include <unistd.h>

#include <algorithm>

namespace playbook {

Result<std::string> step_name(const Container& container) {
  if (!container.command.empty() && !container.command.front().empty()) {
    const auto& program = container.command.front();
    return program.substr(program.find_last_of('/') + 1);
  }
  std::string image = container.image;
  if (const auto at = image.find('@'); at != std::string::npos) image.resize(at);
  const auto slash = image.find_last_of('/');
  if (const auto colon = image.find_last_of(':');
      colon != std::string::npos && (slash == std::string::npos || colon > slash)) {
    image.resize(colon);
  }
  std::string name = image.substr(image.find_last_of('/') + 1);
  if (name.empty()) return ir::invalid(container.where + ": needs command[0] or image to name the step");
  return name;
}

Result<std::string> find_step_executable(const std::string& step, const std::vector<std::string>& bin_dirs) {
  if (step == "." || step == ".." || step.find('/') != std::string::npos) {
    return ir::invalid("'" + step + "' is not a step name");
  }
  std::string searched;
  for (const auto& dir : bin_dirs) {
    if (dir.empty()) continue;
    const std::string candidate = dir + "/" + step;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    searched += (searched.empty() ? "" : ", ") + dir;
  }
  return ir::invalid("no executable for step '" + step + "' in " +
                     (searched.empty() ? "(no --bin-dir)" : searched));
}

PathMap sorted_path_map(PathMap map) {
  std::stable_sort(map.begin(), map.end(),
                   [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
  return map;
}

std::string rewrite_path(const std::string& path, const PathMap& map) {
  for (const auto& [from, to] : map) {
    if (path == from) return to;
    if (path.size() > from.size() && path.compare(0, from.size(), from) == 0 && path[from.size()] == '/') {
      return to + path.substr(from.size());
    }
  }
  return path;
}

std::string rewrite_argument(const std::string& argument, const PathMap& map) {
  if (argument.starts_with("-")) {
    const auto equals = argument.find('=');
    if (equals == std::string::npos) return argument;
    return argument.substr(0, equals + 1) + rewrite_path(argument.substr(equals + 1), map);
  }
  return rewrite_path(argument, map);
}

}  // namespace playbook
