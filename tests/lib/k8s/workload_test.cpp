#include "ir/k8s/workload.hpp"

#include "support/catch.hpp"

#include <boost/json/parse.hpp>

namespace {

ir::json::object object(std::string_view text) {
  return boost::json::parse(text).as_object();
}

}  // namespace

TEST_CASE("an object's controller is its ownerReference with controller true", "[unit][k8s]") {
  const auto pod = object(R"({"metadata":{"ownerReferences":[
      {"kind":"Node","name":"n1","uid":"1"},
      {"kind":"ReplicaSet","name":"web-7d9f","uid":"2","controller":true}]}})");
  const auto* controller = ir::k8s::controller_of(pod);
  REQUIRE(controller != nullptr);
  CHECK(ir::string_at(*controller, {"name"}) == "web-7d9f");
  CHECK(ir::k8s::controller_of(object(R"({"metadata":{"ownerReferences":[
      {"kind":"ReplicaSet","name":"web","controller":false}]}})")) == nullptr);
  CHECK(ir::k8s::controller_of(object(R"({"metadata":{"name":"bare"}})")) == nullptr);
}

TEST_CASE("the pod spec of a workload is found for every kind that has one", "[unit][k8s]") {
  const auto cronjob = object(R"({"spec":{"jobTemplate":{"spec":{"template":{"spec":{"containers":[]}}}}}})");
  CHECK(ir::k8s::pod_spec_of(cronjob) ==
        &cronjob.at("spec").at("jobTemplate").at("spec").at("template").at("spec").as_object());
  const auto deployment = object(R"({"spec":{"template":{"spec":{"containers":[{"name":"web"}]}}}})");
  CHECK(ir::k8s::pod_spec_of(deployment) == &deployment.at("spec").at("template").at("spec").as_object());
  const auto pod = object(R"({"spec":{"containers":[{"name":"web"}]}})");
  CHECK(ir::k8s::pod_spec_of(pod) == &pod.at("spec").as_object());
  CHECK(ir::k8s::pod_spec_of(object(R"({"spec":{"data":{}}})")) == nullptr);
}
