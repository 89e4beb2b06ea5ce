// Ephemeral containers: adding a debug container to a running pod through
// the pods/<name>/ephemeralcontainers subresource. The subresource changed
// shape: from 1.22 on it takes a Pod (a strategic-merge patch of
// spec.ephemeralContainers); 1.16-1.21 (alpha, behind the EphemeralContainers
// feature gate) take an EphemeralContainers object (apiVersion v1, kind
// EphemeralContainers, ephemeralContainers: [...]). Both forms are spoken:
// the server version picks the first, and a reply that shows the other form
// is wanted leads to it.
#pragma once

#include "ir/k8s/client.hpp"

#include <string>
#include <string_view>

namespace ir::k8s {

enum class EphemeralApi {
  pod,     // >= 1.22: the subresource takes a Pod
  legacy,  // 1.16-1.21: the subresource takes an EphemeralContainers object
};

[[nodiscard]] std::string_view ephemeral_api_name(EphemeralApi api);

struct ServerVersion {
  int major = 0;
  int minor = 0;
  std::string git_version;
};

// GET /version.
[[nodiscard]] Result<ServerVersion> server_version(Client& client);
// The form to try first: legacy below 1.22; the Pod form otherwise, and when
// the version cannot be read or parsed.
[[nodiscard]] EphemeralApi ephemeral_api_for(const Result<ServerVersion>& version);

// The request that adds `container` in the given form: method, path,
// contentType and body (also what --dry-run shows).
[[nodiscard]] json::object ephemeral_container_request(EphemeralApi api, std::string_view ns,
                                                       std::string_view pod, const json::object& container);

struct EphemeralAdded {
  EphemeralApi api = EphemeralApi::pod;  // the form the server took
  json::array containers;                // the pod's ephemeral containers afterwards
};

// Adds `container` (a strategic merge keyed by name: adding a container that
// is already there changes nothing), trying `first` and then the other form
// when the server does not take the first. A cluster without the subresource
// is Code::action_failed saying so; RBAC refusals are Code::forbidden.
[[nodiscard]] Result<EphemeralAdded> add_ephemeral_container(Client& client, std::string_view ns,
                                                             std::string_view pod,
                                                             const json::object& container,
                                                             EphemeralApi first);

}  // namespace ir::k8s
