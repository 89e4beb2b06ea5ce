// The table of every step the plugin runs, by the name templates use
// (ClickHouse-style: one list from tool name to entry, no guessing).
#pragma once

#include "ir/driver/step.hpp"
#include "ir/params/params.hpp"

#include <string_view>
#include <vector>

namespace ir::plugin {

struct StepEntry {
  const StepDef* step;
  // Loaded once: the step's schema merged with the common one, as the
  // command line validates with it.
  const ParamSpec* spec;
};

// nullptr for a name that is not a step.
[[nodiscard]] const StepEntry* find_step(std::string_view name);
[[nodiscard]] std::vector<std::string_view> step_names();

}  // namespace ir::plugin
