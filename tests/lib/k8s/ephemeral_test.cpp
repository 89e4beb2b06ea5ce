// Adding ephemeral containers against a local HTTP server that answers as
// the API server does in each era: >= 1.22 (the subresource takes a Pod),
// 1.16-1.21 (an EphemeralContainers object; a Pod patch comes back
// unchanged), the feature gate off, and RBAC refusals. The 1.20 form is also
// exercised against the real control plane (tests/integration).
#include "ir/k8s/ephemeral.hpp"

#include "scripted_client.hpp"
#include "support/catch.hpp"
#include "support/http_server.hpp"

using namespace ir;
using ir::test::client_for;
using ir::test::HttpServer;
using ir::test::Reply;
using ir::test::SeenRequest;

namespace {

const json::object debug{{"name", "dbg"}, {"image", "busybox@sha256:0000"}, {"targetContainerName", "app"}};
const std::string subresource = "/api/v1/namespaces/ns/pods/web/ephemeralcontainers";

bool pod_form(const SeenRequest& request) {
  return request.body.find("\"spec\"") != std::string::npos;
}

}  // namespace

TEST_CASE("the server version picks the form tried first", "[unit][k8s]") {
  std::string minor = "20";
  HttpServer server([&](const SeenRequest&) {
    return Reply{200, {}, R"({"major":"1","minor":")" + minor + R"(","gitVersion":"v1.)" + minor + R"(.2"})"};
  });
  auto client = client_for(server);
  auto version = k8s::server_version(*client);
  REQUIRE(version);
  CHECK(version->minor == 20);
  CHECK(k8s::ephemeral_api_for(version) == k8s::EphemeralApi::legacy);
  minor = "27+";
  version = k8s::server_version(*client);
  REQUIRE(version);
  CHECK(version->minor == 27);
  CHECK(k8s::ephemeral_api_for(version) == k8s::EphemeralApi::pod);
  CHECK(k8s::ephemeral_api_for(Error(Code::forbidden, "no")) == k8s::EphemeralApi::pod);
}

TEST_CASE("a >= 1.22 server takes the Pod form in one strategic-merge patch", "[unit][k8s]") {
  HttpServer server([](const SeenRequest& request) {
    if (request.method != "PATCH" || request.target != subresource || !pod_form(request))
      return Reply{400, {}, R"({"kind":"Status","code":400,"message":"not registered"})"};
    return Reply{
        200, {}, R"({"kind":"Pod","apiVersion":"v1","spec":{"ephemeralContainers":[{"name":"dbg"}]}})"};
  });
  auto client = client_for(server);
  auto added = k8s::add_ephemeral_container(*client, "ns", "web", debug, k8s::EphemeralApi::pod);
  REQUIRE(added);
  CHECK(added->api == k8s::EphemeralApi::pod);
  const auto seen = server.requests();
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].header("Content-Type") == "application/strategic-merge-patch+json");
  auto body = parse_json(seen[0].body, "body");
  REQUIRE(body);
  CHECK(find(*body, {"spec", "ephemeralContainers"})->as_array().at(0) == json::value(debug));

  // Told to try the old form first, the 400 leads to the Pod form.
  auto again = k8s::add_ephemeral_container(*client, "ns", "web", debug, k8s::EphemeralApi::legacy);
  REQUIRE(again);
  CHECK(again->api == k8s::EphemeralApi::pod);
  CHECK(server.requests().size() == 3);
}

TEST_CASE("a 1.20 server answers the Pod form unchanged, the EphemeralContainers form follows",
          "[unit][k8s]") {
  HttpServer server([](const SeenRequest& request) {
    if (pod_form(request))  // what 1.20 does: "no change", its own kind
      return Reply{200, {}, R"({"kind":"EphemeralContainers","apiVersion":"v1","ephemeralContainers":[]})"};
    return Reply{
        200,
        {},
        R"({"kind":"EphemeralContainers","apiVersion":"v1","ephemeralContainers":[{"name":"dbg"}]})"};
  });
  auto client = client_for(server);
  auto added = k8s::add_ephemeral_container(*client, "ns", "web", debug, k8s::EphemeralApi::pod);
  REQUIRE(added);
  CHECK(added->api == k8s::EphemeralApi::legacy);
  REQUIRE(added->containers.size() == 1);
  const auto seen = server.requests();
  REQUIRE(seen.size() == 2);
  auto legacy = parse_json(seen[1].body, "body");
  REQUIRE(legacy);
  CHECK(string_at(*legacy, {"kind"}) == "EphemeralContainers");
  CHECK(find(*legacy, {"ephemeralContainers"})->as_array().at(0) == json::value(debug));
}

TEST_CASE("no subresource, RBAC refusals and a silently ignored patch are errors that say so",
          "[unit][k8s]") {
  int status = 404;
  std::string body =
      R"({"kind":"Status","code":404,"reason":"NotFound","details":{},"message":"the server could not find the requested resource"})";
  HttpServer server([&](const SeenRequest&) { return Reply{status, {}, body}; });
  auto client = client_for(server);
  auto gate_off = k8s::add_ephemeral_container(*client, "ns", "web", debug, k8s::EphemeralApi::legacy);
  REQUIRE_FALSE(gate_off);
  CHECK(gate_off.error().code() == Code::action_failed);
  CHECK(gate_off.error().describe().find("EphemeralContainers feature gate") != std::string::npos);

  body =
      R"({"kind":"Status","code":404,"reason":"NotFound","details":{"name":"web","kind":"pods"},"message":"pods \"web\" not found"})";
  auto no_pod = k8s::add_ephemeral_container(*client, "ns", "web", debug, k8s::EphemeralApi::pod);
  REQUIRE_FALSE(no_pod);
  CHECK(no_pod.error().code() == Code::not_found);

  status = 403;
  body =
      R"({"kind":"Status","code":403,"reason":"Forbidden","message":"cannot patch resource \"pods/ephemeralcontainers\""})";
  auto refused = k8s::add_ephemeral_container(*client, "ns", "web", debug, k8s::EphemeralApi::pod);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().code() == Code::forbidden);
  CHECK(refused.error().describe().find("pods/ephemeralcontainers") != std::string::npos);

  status = 200;
  body = R"({"kind":"Pod","spec":{"ephemeralContainers":[{"name":"other"}]}})";
  auto ignored = k8s::add_ephemeral_container(*client, "ns", "web", debug, k8s::EphemeralApi::pod);
  REQUIRE_FALSE(ignored);
  CHECK(ignored.error().describe().find("no such ephemeral container afterwards") != std::string::npos);
}
