// notify: tells the people the playbooks name, through the channels of a
// routing file, with the playbooks' communication templates; the severity
// decides who hears of it now and when the next update is due, the data
// involved decides the regulatory deadlines.
#pragma once

#include "ir/core/time.hpp"
#include "ir/driver/step.hpp"
#include "ir/http/client.hpp"

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace ir::steps::notify {

enum class Severity { critical, high, medium, low };
enum class PagerAction { trigger, acknowledge, resolve };
enum class DataClass { pci, phi, personal };

struct Options : CommonOptions {
  std::string routing_file;
  Severity severity = Severity::high;
  std::string template_name = "initial-notification";
  std::string template_file;
  std::string status = "investigating";
  std::optional<PagerAction> action;
  // Every value a template may use, by placeholder name: the parameters
  // (title, summary, impact, ...) and the --field NAME=VALUE extras.
  std::map<std::string, std::string> fields;
  // --timeline, --response-actions: the report's sections when there is no
  // case record to build them from.
  std::map<std::string, std::string> without_record;
  std::string dedup_key;  // --dedup-key; empty: irsteps/<incident-id>/<target>
  std::string target;
  std::vector<std::pair<std::string, std::string>> links;  // href, text
  std::vector<DataClass> data_classes;
  std::optional<TimePoint> detected_at;
  std::vector<std::string> extra_roles;
  std::vector<std::string> only_channels;
  std::chrono::milliseconds timeout{std::chrono::seconds(30)};
  int max_attempts = 5;
};

[[nodiscard]] Result<Options> options_from(const json::object& params);
[[nodiscard]] Result<void> run(const Options& options, Context& context);
[[nodiscard]] const StepDef& step();

// What tests replace: the clock, and how retries wait.
struct Hooks {
  std::function<TimePoint()> clock = [] { return now(); };
  http::Sleeper sleeper;  // empty: really sleep
};
[[nodiscard]] Result<void> run_with(const Options& options, Context& context, const Hooks& hooks);

}  // namespace ir::steps::notify
