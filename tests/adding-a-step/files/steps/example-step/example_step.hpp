// example-step: the step docs/adding-a-step.md adds, kept as a test fixture
// (tests/adding-a-step/) and never built into this repository: tells which
// node a pod runs on.
#pragma once

#include "ir/driver/step.hpp"

#include <string>

namespace ir::steps::example_step {

// incident_id and dry_run (CommonOptions) are filled in by define_step.
struct Options : CommonOptions {
  std::string ns;
  std::string pod;
};

// The parameters (already valid against schemas/example-step.schema.json)
// as Options; run() is what the tests call.
[[nodiscard]] Result<Options> options_from(const json::object& params);
[[nodiscard]] Result<void> run(const Options& options, Context& context);

[[nodiscard]] const StepDef& step();

}  // namespace ir::steps::example_step
