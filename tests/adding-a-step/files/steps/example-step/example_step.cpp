#include "example_step.hpp"

#include "ir/core/json.hpp"
#include "ir/k8s/client.hpp"
#include "ir/params/params.hpp"

namespace ir::steps::example_step {

Result<Options> options_from(const json::object& params) {
  Options options;
  options.ns = param_string(params, "namespace");
  options.pod = param_string(params, "pod");
  return options;
}

Result<void> run(const Options& options, Context& context) {
  auto kube = context.kube();
  if (!kube) return kube.error();
  // Errors are returned, never printed: the driver maps them to exit codes
  // (bad input 2, cluster faults 4 after the client's bounded retries).
  auto pod = (*kube)->get(k8s::resources::pods, options.ns, options.pod);
  if (!pod) return pod.error();
  context.report().set_output("node", string_at(*pod, {"spec", "nodeName"}));
  return {};
}

const StepDef& step() {
  static const StepDef def =
      define_step<Options>("example-step", "tell which node a pod runs on", options_from, run);
  return def;
}

}  // namespace ir::steps::example_step
