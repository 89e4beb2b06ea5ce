// The executor plugin's template.execute body, whose template a workflow's
// author writes (security review findings 4 and 19): reading it never
// crashes, under a policy and without one, and a call the policy lets
// through names no local file it does not list. The same bytes as a policy
// file are read without crashing too.
#include "policy.hpp"
#include "request.hpp"

#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <variant>

namespace {

const ir::plugin::Policy& policy() {
  static const ir::plugin::Policy instance = [] {
    auto parsed = ir::plugin::Policy::parse(
        "steps:\n"
        "  isolate: {namespaces: [shop], files: {kubeconfig: [/etc/irsteps/kubeconfig]}}\n"
        "  verify-image: {parameters: [command, image, certificate-identity, certificate-oidc-issuer]}\n",
        "fuzz policy");
    if (!parsed) std::abort();
    return std::move(*parsed);
  }();
  return instance;
}

void check(std::string_view body, const ir::plugin::Policy& rules) {
  auto call = ir::plugin::read_request(body, rules);
  if (!call) return;
  const auto* step = std::get_if<ir::plugin::StepCall>(&*call);
  if (step == nullptr) return;
  // Let through: every local path it names is one the policy lists.
  for (const auto& [name, value] : step->params) {
    const auto* property = step->entry->spec->properties().if_contains(name);
    if (property == nullptr) continue;
    for (const auto& local : ir::plugin::local_values(*property, value)) {
      if (!rules.loaded() || local != "/etc/irsteps/kubeconfig") std::abort();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  check(text, policy());
  check(text, ir::plugin::Policy());
  (void)ir::plugin::Policy::parse(text, "fuzz input");
  return 0;
}
