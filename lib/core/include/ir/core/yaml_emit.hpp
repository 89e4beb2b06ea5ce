// JSON values written as block-style YAML: for people (diffs of Kubernetes
// objects) and for manifests written back to a configuration repository.
// What parse_yaml reads back is the value that was written: strings that a
// YAML reader would take for a number, a boolean or null are quoted.
#pragma once

#include "ir/core/json.hpp"

#include <string>

namespace ir {

struct YamlStyle {
  // Sorted keys give a stable rendering to diff; insertion order keeps a
  // manifest the way its author wrote it.
  bool sort_keys = false;
};

// One document, ending with a newline, without a "---" line.
[[nodiscard]] std::string to_yaml(const json::value& value, const YamlStyle& style = {});

}  // namespace ir
