#include "ir/core/env.hpp"

#include <cstdlib>

namespace ir {

EnvLookup process_environment() {
  return [](const std::string& name) -> std::optional<std::string> {
    if (const char* value = std::getenv(name.c_str())) return std::string(value);
    return std::nullopt;
  };
}

}  // namespace ir
