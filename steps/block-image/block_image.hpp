// block-image: refuses a compromised image digest at admission, cluster-wide,
// so that the next deploy or GitOps sync cannot bring it back. It writes the
// policy of the admission engine the cluster has:
//
// - kyverno: a Kyverno ClusterPolicy whose validate rule (Enforce) refuses
//   every Pod with a container, init container or ephemeral container image
//   that names the digest (Kyverno's autogen extends it to the Pod
//   controllers);
// - vap: a Kubernetes ValidatingAdmissionPolicy and its Binding
//   (validationActions Deny) with the same rule as a CEL expression, where
//   the API server serves admissionregistration.k8s.io v1, v1beta1 or
//   v1alpha1 with those resources;
// - policy-controller: detected but never used. Its ClusterImagePolicy
//   matches `images[].glob` against the image's name, and the glob may not
//   contain '@' (sigstore/policy-controller pkg/apis/glob/glob.go: validGlob
//   is ^[a-zA-Z0-9-_:\/\*\.]+$), so it cannot name a digest; a static
//   `fail` authority would refuse the whole repository, every version, which
//   is not what was asked. --engine policy-controller fails saying so.
//
// The objects are named from the incident and the digest, labelled with the
// incident; --release deletes exactly those, a re-run changes nothing. No
// engine: the step fails (exit 1) and changes nothing, since without one
// nothing enforces a block.
#pragma once

#include "ir/driver/step.hpp"

#include <string>
#include <vector>

namespace ir::steps::block_image {

inline constexpr const char* digest_annotation = "irsteps.io/blocked-digest";
inline constexpr const char* image_annotation = "irsteps.io/blocked-image";

enum class Engine { kyverno, policy_controller, vap };

// incident_id and dry_run (CommonOptions) are filled in by define_step.
struct Options : CommonOptions {
  std::string image;   // as given: REPO@sha256:<hex> or sha256:<hex>
  std::string digest;  // "sha256:<hex>"
  std::string engine;  // auto, kyverno, policy-controller, vap
  bool release = false;
};

// The digest of REPO@sha256:<64 hex> or of a bare sha256:<64 hex>; invalid
// input (exit 2) naming --image otherwise.
[[nodiscard]] Result<std::string> digest_of(std::string_view image);

[[nodiscard]] Result<Options> options_from(const json::object& params);
[[nodiscard]] Result<void> run(const Options& options, Context& context);

// What the engines' objects are called: irsteps-block-<incident>-<digest
// prefix>, at most 63 characters, the same for the same incident and digest.
[[nodiscard]] std::string policy_name(const std::string& incident_id, const std::string& digest);

// The policies, pure functions of their inputs (the unit tests read them).
[[nodiscard]] json::object kyverno_policy(const std::string& incident_id, const std::string& image,
                                          const std::string& digest);
// The CEL expression that holds when no container of the Pod names the digest.
[[nodiscard]] std::string vap_expression(const std::string& digest);
[[nodiscard]] json::object vap_policy(const std::string& api_version, const std::string& incident_id,
                                      const std::string& image, const std::string& digest);
[[nodiscard]] json::object vap_binding(const std::string& api_version, const std::string& incident_id,
                                       const std::string& image, const std::string& digest);

[[nodiscard]] const StepDef& step();

}  // namespace ir::steps::block_image
