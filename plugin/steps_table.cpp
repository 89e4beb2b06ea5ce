#include "steps_table.hpp"

#include "ir/params/params.hpp"

#include "all_steps.hpp"

#include <map>
#include <stdexcept>
#include <string>

namespace ir::plugin {
namespace {

struct Table {
  std::map<std::string, StepEntry, std::less<>> entries;
  std::vector<ParamSpec> specs;
};

const Table& table() {
  static const Table instance = [] {
    const auto steps = all_steps();
    Table built;
    built.specs.reserve(steps.size());
    for (const StepDef* step : steps) {
      auto spec = ParamSpec::load(step->name);
      // The schemas are compiled in: a step without one is a build defect.
      if (!spec) throw std::logic_error(spec.error().describe());
      built.specs.push_back(std::move(*spec));
    }
    for (std::size_t i = 0; i < steps.size(); ++i) {
      built.entries.emplace(std::string(steps[i]->name), StepEntry{steps[i], &built.specs[i]});
    }
    return built;
  }();
  return instance;
}

}  // namespace

const StepEntry* find_step(std::string_view name) {
  const auto& entries = table().entries;
  const auto it = entries.find(name);
  return it == entries.end() ? nullptr : &it->second;
}

std::vector<std::string_view> step_names() {
  std::vector<std::string_view> names;
  for (const auto& entry : table().entries) names.push_back(entry.first);
  return names;
}

}  // namespace ir::plugin
