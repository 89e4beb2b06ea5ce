# Writes what is made from the one list of steps (the global property
# IRSTEPS_STEPS that irsteps_step() in steps/CMakeLists.txt fills), at
# configure time; a file is rewritten only when its content changes.
# - bin/irsteps-steps.txt: one step a line, beside the binaries; the image
#   list of containers/build.sh (which adds irsteps-plugin).
# - generated/irsteps/step_list.hpp (target irsteps_step_list): the list for
#   C++, with whether each step talks to Kubernetes (NO_KUBERNETES).
# - generated/irsteps/steps.json: the same for tests/check-steps.py.
# It also sets, for plugin/ and tests/ (added after it): irsteps_steps, the
# list, and irsteps_step_libraries, the steps' libraries.
get_property(irsteps_steps GLOBAL PROPERTY IRSTEPS_STEPS)
get_property(irsteps_steps_without_kubernetes GLOBAL PROPERTY IRSTEPS_STEPS_WITHOUT_KUBERNETES)
list(TRANSFORM irsteps_steps PREPEND irsteps_step_ OUTPUT_VARIABLE irsteps_step_libraries)

function(irsteps_write_if_changed path content)
  file(WRITE "${path}.tmp" "${content}")
  configure_file("${path}.tmp" "${path}" COPYONLY)
  file(REMOVE "${path}.tmp")
endfunction()

set(irsteps_steps_text "")
set(irsteps_steps_entries "")
set(irsteps_steps_json "")
foreach(step IN LISTS irsteps_steps)
  string(APPEND irsteps_steps_text "${step}\n")
  if(step IN_LIST irsteps_steps_without_kubernetes)
    set(kubernetes false)
  else()
    set(kubernetes true)
  endif()
  string(APPEND irsteps_steps_entries "    {\"${step}\", ${kubernetes}},\n")
  if(NOT irsteps_steps_json STREQUAL "")
    string(APPEND irsteps_steps_json ",\n")
  endif()
  string(APPEND irsteps_steps_json "  {\"name\": \"${step}\", \"kubernetes\": ${kubernetes}}")
endforeach()
irsteps_write_if_changed(${PROJECT_BINARY_DIR}/bin/irsteps-steps.txt "${irsteps_steps_text}")
irsteps_write_if_changed(${PROJECT_BINARY_DIR}/generated/irsteps/steps.json "[\n${irsteps_steps_json}\n]\n")
irsteps_write_if_changed(${PROJECT_BINARY_DIR}/generated/irsteps/step_list.hpp
"// Generated from steps/CMakeLists.txt (irsteps_step) by cmake/step_list.cmake. Do not edit.
#pragma once

#include <string_view>

namespace ir::generated {

struct StepListEntry {
  std::string_view name;
  // false for a step declared NO_KUBERNETES: it has no RBAC file.
  bool kubernetes;
};

inline constexpr StepListEntry step_list[] = {
${irsteps_steps_entries}};

}  // namespace ir::generated
")
add_library(irsteps_step_list INTERFACE)
target_include_directories(irsteps_step_list INTERFACE ${PROJECT_BINARY_DIR}/generated)
