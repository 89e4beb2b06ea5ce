// The names Kubernetes gives objects, checked before they reach a request
// path: a target such as "../secrets/x" or "web?dryRun=All" from a workflow
// parameter or an alert must never address another object than the one it
// names (security review finding 22).
#pragma once

#include "ir/core/error.hpp"

#include <string_view>

namespace ir::k8s {

// A DNS-1123 subdomain (at most 253 characters of lower-case letters,
// digits, '-' and '.', starting and ending alphanumeric): the name of a pod,
// a workload, a Secret, a ConfigMap. `what` names the parameter in the error.
[[nodiscard]] Result<void> check_object_name(std::string_view name, std::string_view what);
// A DNS-1123 label (at most 63 characters, no '.'): a namespace.
[[nodiscard]] Result<void> check_namespace_name(std::string_view name, std::string_view what);
// The path of a request under the API root, before its query: segments of
// RFC 3986 unreserved characters, ':' and '@' (RBAC names such as
// "system:node"), none empty, "." or "..". Every request the client sends
// passes this, whatever step built it.
[[nodiscard]] Result<void> check_request_path(std::string_view path);

}  // namespace ir::k8s
