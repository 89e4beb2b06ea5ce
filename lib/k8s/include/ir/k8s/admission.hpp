// The Kubernetes admission policy resources (block-image writes them), kept
// out of client.hpp's list so that adding them rebuilt only what uses them.
// GA in 1.30 at admissionregistration.k8s.io/v1; 1.28-1.29 serve v1beta1 and
// 1.26-1.27 v1alpha1 behind a feature gate. More than one older version, so
// the caller picks the one discovery lists (block-image does) instead of
// Resource::older_version.
#pragma once

#include "ir/k8s/client.hpp"

namespace ir::k8s::resources {
extern const Resource validatingadmissionpolicies, validatingadmissionpolicybindings;
}  // namespace ir::k8s::resources
