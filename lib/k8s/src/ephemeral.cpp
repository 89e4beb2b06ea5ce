#include "ir/k8s/ephemeral.hpp"

#include "ir/core/log.hpp"

#include <boost/json/serialize.hpp>

#include <cctype>
#include <optional>

namespace ir::k8s {
namespace {

int leading_number(std::string_view text) {
  int value = 0;
  bool any = false;
  for (const char c : text) {
    if (std::isdigit(static_cast<unsigned char>(c)) == 0) break;
    value = value * 10 + (c - '0');
    any = true;
    if (value > 100000) break;
  }
  return any ? value : -1;
}

const char* content_type = "application/strategic-merge-patch+json";

// Whether a reply says "not this form". A pre-1.22 server answers a Pod
// patch with its EphemeralContainers object, unchanged (kubectl sees that as
// "not registered" when it decodes the reply as a Pod); a 1.22+ server
// answers the old object with a 2xx Pod or refuses it (400, 415).
bool wants_other_form(const http::Response& response, EphemeralApi tried) {
  if (response.status >= 200 && response.status < 300) {
    auto parsed = parse_json(response.body, "ephemeralcontainers reply");
    if (!parsed) return false;
    const std::string kind = string_at(*parsed, {"kind"});
    return tried == EphemeralApi::pod ? kind == "EphemeralContainers" : kind == "Pod";
  }
  if (response.status == 400 || response.status == 415) return true;
  // Strategic merge of an unknown field ("spec" into EphemeralContainers).
  return response.status == 500 && response.body.find("unable to find api field") != std::string::npos;
}

}  // namespace

std::string_view ephemeral_api_name(EphemeralApi api) {
  return api == EphemeralApi::pod ? "Pod (Kubernetes >= 1.22)" : "EphemeralContainers (Kubernetes 1.16-1.21)";
}

Result<ServerVersion> server_version(Client& client) {
  auto response = client.raw("GET", "/version");
  if (!response) return response.error().with("GET /version");
  if (response->status != 200) return error_from_response(*response, "GET /version");
  auto parsed = parse_json(response->body, "GET /version");
  if (!parsed) return parsed.error();
  ServerVersion version;
  version.major = leading_number(string_at(*parsed, {"major"}));
  version.minor = leading_number(string_at(*parsed, {"minor"}));  // "20", "27+" on some providers
  version.git_version = string_at(*parsed, {"gitVersion"});
  return version;
}

EphemeralApi ephemeral_api_for(const Result<ServerVersion>& version) {
  if (version && version->major == 1 && version->minor >= 0 && version->minor < 22)
    return EphemeralApi::legacy;
  return EphemeralApi::pod;
}

json::object ephemeral_container_request(EphemeralApi api, std::string_view ns, std::string_view pod,
                                         const json::object& container) {
  json::array list{container};
  json::object body = api == EphemeralApi::pod
                          ? json::object{{"spec", json::object{{"ephemeralContainers", std::move(list)}}}}
                          : json::object{{"apiVersion", "v1"},
                                         {"kind", "EphemeralContainers"},
                                         {"ephemeralContainers", std::move(list)}};
  return json::object{{"method", "PATCH"},
                      {"path", Client::path(resources::pods, ns, pod, "ephemeralcontainers")},
                      {"contentType", content_type},
                      {"body", std::move(body)}};
}

Result<EphemeralAdded> add_ephemeral_container(Client& client, std::string_view ns, std::string_view pod,
                                               const json::object& container, EphemeralApi first) {
  const std::string what = "add ephemeral container " + string_at(container, {"name"}) + " to pod " +
                           std::string(pod) + " in namespace " + std::string(ns);
  const EphemeralApi second = first == EphemeralApi::pod ? EphemeralApi::legacy : EphemeralApi::pod;
  std::optional<http::Response> first_reply;
  for (const EphemeralApi api : {first, second}) {
    const auto request = ephemeral_container_request(api, ns, pod, container);
    auto response =
        client.raw("PATCH", string_at(request, {"path"}), json::serialize(request.at("body")), content_type);
    if (!response) return response.error().with(what);
    if (api == first && wants_other_form(*response, api)) {
      first_reply = *response;
      log::info("k8s.ephemeral.fallback",
                {{"tried", std::string(ephemeral_api_name(api))}, {"status", response->status}});
      continue;
    }
    if (response->status == 404) {
      // A missing pod names it in the Status details; a missing subresource
      // (feature gate off, or a server older than 1.16) does not.
      auto parsed = parse_json(response->body, "reply");
      if (!parsed || string_at(*parsed, {"details", "name"}).empty()) {
        return Error(Code::action_failed,
                     "this cluster has no pods/ephemeralcontainers subresource (Kubernetes older than 1.16, "
                     "or 1.16-1.22 without the EphemeralContainers feature gate)")
            .with(what);
      }
    }
    if (response->status < 200 || response->status >= 300) {
      // Neither form taken: the first refusal is the one that explains.
      if (first_reply && (first_reply->status < 200 || first_reply->status >= 300))
        return error_from_response(*first_reply, what);
      return error_from_response(*response, what);
    }
    auto parsed = parse_json(response->body, what);
    if (!parsed) return parsed.error();
    EphemeralAdded added;
    added.api = api;
    const auto* list = api == EphemeralApi::pod ? find(*parsed, {"spec", "ephemeralContainers"})
                                                : find(*parsed, {"ephemeralContainers"});
    if (list != nullptr && list->is_array()) added.containers = list->get_array();
    for (const auto& entry : added.containers) {
      if (string_at(entry, {"name"}) == string_at(container, {"name"})) return added;
    }
    return Error(Code::action_failed,
                 "the API server took the request but the pod has no such ephemeral "
                 "container afterwards")
        .with(what);
  }
  return Error(Code::action_failed,
               "the API server took neither form of the ephemeralcontainers subresource (a Pod, or an "
               "EphemeralContainers object)")
      .with(what);
}

}  // namespace ir::k8s
