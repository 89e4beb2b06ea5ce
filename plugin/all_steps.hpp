// Every step of the build, in the order of steps/CMakeLists.txt: defined in
// all_steps.cpp, which plugin/CMakeLists.txt writes from the list of steps.
#pragma once

#include "ir/driver/step.hpp"

#include <span>

namespace ir::plugin {

[[nodiscard]] std::span<const StepDef* const> all_steps();

}  // namespace ir::plugin
