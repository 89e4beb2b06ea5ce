// What a step is to the driver and to the executor plugin: a name and an
// entry function over validated parameters and a Context. The steps' table
// (ClickHouse-style) lets one binary, the plugin, run every step in-process.
#pragma once

#include "ir/core/error.hpp"
#include "ir/core/json.hpp"
#include "ir/k8s/client.hpp"
#include "ir/output/report.hpp"

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace ir {

// The parameters every step takes (common.schema.json) that its logic uses:
// read once, by the Context. A step's Options derive from this, and
// define_step fills it in; options_from reads only the step's own.
struct CommonOptions {
  std::string incident_id;
  bool dry_run = false;
};

// Everything a step may touch besides its options. Library code reports
// warnings here instead of printing.
class Context {
 public:
  Context(Report& report, json::object params, k8s::ConfigRequest kube_request = {});

  [[nodiscard]] const json::object& params() const { return params_; }
  [[nodiscard]] const CommonOptions& common() const { return common_; }
  [[nodiscard]] bool dry_run() const { return common_.dry_run; }
  [[nodiscard]] const std::string& incident_id() const { return common_.incident_id; }
  [[nodiscard]] Report& report() { return report_; }

  // Retries of network requests (the Kubernetes API, registries): the
  // defaults with --max-attempts.
  [[nodiscard]] http::RetryPolicy retry_policy() const;
  // Connects on first use, from --kubeconfig/--context or the environment.
  [[nodiscard]] Result<k8s::Client*> kube();

  void warn(std::string message);

 private:
  Report& report_;
  json::object params_;
  CommonOptions common_;
  k8s::ConfigRequest kube_request_;
  std::unique_ptr<k8s::Client> kube_;
};

struct StepDef {
  std::string_view name;
  std::string_view summary;
  // Reads its Options from the parameters (already schema-valid) and runs.
  std::function<Result<void>(Context&)> entry;
};

// The shape every step has: read its Options from the (schema-valid)
// parameters, then run with them.
template <class Options>
[[nodiscard]] StepDef define_step(std::string_view name, std::string_view summary,
                                  Result<Options> (*options_from)(const json::object&),
                                  Result<void> (*run)(const Options&, Context&)) {
  return {name, summary, [options_from, run](Context& context) -> Result<void> {
            auto options = options_from(context.params());
            if (!options) return options.error();
            if constexpr (std::is_base_of_v<CommonOptions, Options>) {
              static_cast<CommonOptions&>(*options) = context.common();
            }
            return run(*options, context);
          }};
}

[[nodiscard]] std::string_view irsteps_version();

// The whole life of a step process: parameters, logging, run, result
// document, outputs, exit code. The only place that prints errors.
[[nodiscard]] int run_step_main(const StepDef& step, int argc, char** argv);

// Runs a step with already-parsed parameters and fills `report`; returns the
// exit code. Shared by run_step_main and the executor plugin.
[[nodiscard]] int run_step(const StepDef& step, Context& context);

}  // namespace ir
