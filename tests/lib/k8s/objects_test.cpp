// The parts of the Kubernetes client that need no server: error decoding,
// selectors, paths, and the comparison behind Writer::ensure.
#include "ir/k8s/client.hpp"
#include "ir/k8s/writer.hpp"

#include "support/catch.hpp"

using namespace ir;

TEST_CASE("API errors are decoded from the Status object into categories", "[unit][k8s]") {
  http::Response forbidden;
  forbidden.status = 403;
  forbidden.body =
      R"({"kind":"Status","status":"Failure","message":"pods \"web\" is forbidden: User \"x\" cannot patch resource \"pods\"","reason":"Forbidden","code":403})";
  const auto e = k8s::error_from_response(forbidden, "patch Pod web");
  CHECK(e.code() == Code::forbidden);
  CHECK(e.reason() == "Forbidden");
  CHECK(e.describe() ==
        "patch Pod web: pods \"web\" is forbidden: User \"x\" cannot patch resource \"pods\"");
  http::Response exists;
  exists.status = 409;
  exists.body = R"({"kind":"Status","reason":"AlreadyExists","message":"already exists"})";
  CHECK(k8s::error_from_response(exists, "create").reason() == "AlreadyExists");
  http::Response busy;
  busy.status = 503;
  busy.attempts = 5;
  busy.body = "upstream unavailable";
  const auto transient = k8s::error_from_response(busy, "get");
  CHECK(transient.code() == Code::transient);
  CHECK(transient.describe() == "get: upstream unavailable (HTTP 503 after 5 attempts)");
  http::Response unauthorized;
  unauthorized.status = 401;
  CHECK(k8s::error_from_response(unauthorized, "get").code() == Code::forbidden);
  http::Response invalid_object;
  invalid_object.status = 422;
  CHECK(k8s::error_from_response(invalid_object, "create").code() == Code::invalid_input);
}

TEST_CASE("label selectors are written as the API expects them", "[unit][k8s]") {
  auto selector = parse_json(R"({"matchLabels":{"app":"web"},"matchExpressions":[
    {"key":"tier","operator":"In","values":["a","b"]},{"key":"canary","operator":"DoesNotExist"},
    {"key":"env","operator":"NotIn","values":["dev"]},{"key":"team","operator":"Exists"}]})",
                             "selector");
  REQUIRE(selector);
  CHECK(k8s::selector_string(selector->as_object()) == "app=web,tier in (a,b),!canary,env notin (dev),team");
}

TEST_CASE("resource paths for core and named groups, namespaced or not", "[unit][k8s]") {
  CHECK(k8s::Client::path(k8s::resources::pods, "shop", "web", "log") ==
        "/api/v1/namespaces/shop/pods/web/log");
  CHECK(k8s::Client::path(k8s::resources::networkpolicies, "shop") ==
        "/apis/networking.k8s.io/v1/namespaces/shop/networkpolicies");
  CHECK(k8s::Client::path(k8s::resources::nodes, "ignored", "n1") == "/api/v1/nodes/n1");
  CHECK(k8s::resource_for("deploy")->plural == "deployments");
  CHECK(k8s::resource_for("NetworkPolicy")->group == "networking.k8s.io");
  CHECK_FALSE(k8s::resource_for("gadget"));
}

TEST_CASE("a live object contains the desired one despite server defaults", "[unit][k8s]") {
  auto desired = parse_json(R"({"metadata":{"name":"p","labels":{"a":"1"}},"spec":{"ingress":[],
    "egress":[{"ports":[{"port":53}]}],"policyTypes":["Ingress","Egress"]}})",
                            "desired");
  auto live = parse_json(R"({"metadata":{"name":"p","uid":"u","labels":{"a":"1","b":"2"}},"spec":{
    "egress":[{"ports":[{"port":53,"protocol":"UDP"}]}],"policyTypes":["Ingress","Egress"]}})",
                         "live");
  REQUIRE(desired);
  REQUIRE(live);
  CHECK(k8s::contained_in(*desired, &*live));
  auto changed = *live;
  changed.as_object()["spec"].as_object()["policyTypes"] = json::array{"Ingress"};
  CHECK_FALSE(k8s::contained_in(*desired, &changed));
  auto relabelled = *live;
  relabelled.as_object()["metadata"].as_object()["labels"].as_object()["a"] = "2";
  CHECK_FALSE(k8s::contained_in(*desired, &relabelled));
  CHECK_FALSE(k8s::contained_in(*desired, nullptr));
}
