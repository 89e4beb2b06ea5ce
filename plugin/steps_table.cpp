#include "steps_table.hpp"

#include "ir/params/params.hpp"

#include "access_audit.hpp"
#include "drift.hpp"
#include "isolate.hpp"
#include "notify.hpp"
#include "rollout.hpp"
#include "rotate_secret.hpp"
#include "snapshot.hpp"
#include "verify_image.hpp"

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
    const StepDef* steps[] = {
        &steps::isolate::step(),       &steps::snapshot::step(),     &steps::rollout::step(),
        &steps::rotate_secret::step(), &steps::access_audit::step(), &steps::drift::step(),
        &steps::notify::step(),        &steps::verify_image::step(),
    };
    Table built;
    built.specs.reserve(std::size(steps));
    for (const StepDef* step : steps) {
      auto spec = ParamSpec::load(step->name);
      // The schemas are compiled in: a step without one is a build defect.
      if (!spec) throw std::logic_error(spec.error().describe());
      built.specs.push_back(std::move(*spec));
    }
    for (std::size_t i = 0; i < std::size(steps); ++i) {
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
