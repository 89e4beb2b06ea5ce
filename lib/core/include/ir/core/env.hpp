// The process environment as a function, so that code that reads it (the
// parameters, proxies, the in-cluster configuration) is tested with a map.
#pragma once

#include <functional>
#include <optional>
#include <string>

namespace ir {

using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;
[[nodiscard]] EnvLookup process_environment();

}  // namespace ir
