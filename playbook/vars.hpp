// Argo's {{variable}} substitution: `{{inputs.parameters.x}}`,
// `{{ steps.a.outputs.parameters.y }}` (spaces allowed inside the braces).
// The caller decides what a name means; an unknown one is an error naming it,
// so a typo never reaches a step as literal braces.
#pragma once

#include "ir/core/error.hpp"

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace playbook {

using Lookup = std::function<ir::Result<std::string>(const std::string& name)>;

[[nodiscard]] ir::Result<std::string> substitute(std::string_view text, const Lookup& lookup);

// The names between braces, in order, for checking a template before it runs.
[[nodiscard]] ir::Result<std::vector<std::string>> references(std::string_view text);

// "a.b.c" split on dots.
[[nodiscard]] std::vector<std::string> split_name(std::string_view name);

}  // namespace playbook
