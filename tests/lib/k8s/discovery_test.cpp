// Which version of a resource the client requests, from the API server's
// discovery: a local HTTP server answers /apis/batch/v1 as each era does —
// 1.21 and later list cronjobs there (the list below is built from
// Kubernetes 1.36's OpenAPI, tests/data/kubernetes-openapi), 1.20 serves
// batch/v1 without cronjobs, and 1.7 and older have no batch/v1 at all.
// The 1.20 path is also taken against the real control plane by the
// integration tests (rollout stop, check-persistence, find-image).
#include "ir/core/json.hpp"
#include "ir/k8s/client.hpp"
#include "ir/k8s/writer.hpp"
#include "ir/output/report.hpp"

#include "scripted_client.hpp"
#include "support/catch.hpp"
#include "support/http_server.hpp"

#include <boost/json/serialize.hpp>

using namespace ir;
using ir::test::client_for;
using ir::test::HttpServer;
using ir::test::Reply;
using ir::test::SeenRequest;

namespace {

// batch/v1's APIResourceList as Kubernetes 1.36 serves it: its namespaced
// resources, from the OpenAPI's paths.
std::string batch_v1_discovery_136() {
  const auto text =
      read_file(std::string(IRSTEPS_SOURCE_DIR) + "/tests/data/kubernetes-openapi/swagger.json");
  REQUIRE(text);
  const auto openapi = parse_json(*text, "swagger.json");
  REQUIRE(openapi);
  const std::string prefix = "/apis/batch/v1/namespaces/{namespace}/";
  json::array resources;
  for (const auto& path : find(*openapi, {"paths"})->as_object()) {
    const std::string p(path.key());
    if (!p.starts_with(prefix) || p.find('/', prefix.size()) != std::string::npos) continue;
    resources.push_back(json::object{{"name", p.substr(prefix.size())}, {"namespaced", true}});
  }
  REQUIRE(resources.size() == 2);  // cronjobs, jobs
  return json::serialize(json::object{
      {"kind", "APIResourceList"}, {"groupVersion", "batch/v1"}, {"resources", std::move(resources)}});
}

const std::string batch_v1_discovery_120 =
    R"({"kind":"APIResourceList","groupVersion":"batch/v1","resources":[{"name":"jobs","namespaced":true}]})";
const std::string empty_list = R"({"kind":"CronJobList","metadata":{},"items":[]})";

// A server of one era: discovery as given (or 404), any list answered.
HttpServer era(std::string discovery) {
  return HttpServer([discovery](const SeenRequest& request) {
    if (request.target == "/apis/batch/v1") {
      return discovery.empty() ? Reply{404, {}, R"({"kind":"Status","code":404,"reason":"NotFound"})"}
                               : Reply{200, {}, discovery};
    }
    return Reply{200, {}, empty_list};
  });
}

std::vector<std::string> targets(const HttpServer& server) {
  std::vector<std::string> out;
  for (const auto& request : server.requests())
    out.push_back(request.target.substr(0, request.target.find('?')));
  return out;
}

}  // namespace

TEST_CASE("CronJobs are requested at batch/v1 where discovery lists them, asked once per client",
          "[unit][k8s][discovery]") {
  auto server = era(batch_v1_discovery_136());
  auto client = client_for(server);
  REQUIRE(client->list(k8s::resources::cronjobs, "shop"));
  REQUIRE(client->list(k8s::resources::cronjobs, "web"));
  CHECK(targets(server) == std::vector<std::string>{"/apis/batch/v1",
                                                    "/apis/batch/v1/namespaces/shop/cronjobs",
                                                    "/apis/batch/v1/namespaces/web/cronjobs"});
  auto served = client->served(k8s::resources::cronjobs);
  REQUIRE(served);
  CHECK(served->api_version() == "batch/v1");
  // Resources with one version never cost a discovery request.
  REQUIRE(client->list(k8s::resources::jobs, "shop"));
  CHECK(server.requests().size() == 4);
}

TEST_CASE("CronJobs are requested at batch/v1beta1 where batch/v1 lacks them (1.20) or is absent",
          "[unit][k8s][discovery]") {
  for (const auto& discovery : {batch_v1_discovery_120, std::string()}) {
    INFO(discovery);
    auto server = era(discovery);
    auto client = client_for(server);
    REQUIRE(client->get(k8s::resources::cronjobs, "shop", "nightly"));
    REQUIRE(client->list(k8s::resources::cronjobs, "shop"));
    CHECK(targets(server) == std::vector<std::string>{"/apis/batch/v1",
                                                      "/apis/batch/v1beta1/namespaces/shop/cronjobs/nightly",
                                                      "/apis/batch/v1beta1/namespaces/shop/cronjobs"});
  }
}

TEST_CASE("a dry run records the request at the version the server serves", "[unit][k8s][discovery]") {
  auto server = era(batch_v1_discovery_120);
  auto client = client_for(server);
  Report report("rollout", "0.1.0");
  k8s::Writer writer(*client, report, true);
  REQUIRE(writer.merge_patch(k8s::resources::cronjobs, "shop", "nightly",
                             json::object{{"spec", json::object{{"suspend", true}}}}, "suspend"));
  const std::string recorded = json::serialize(report.to_json());
  CHECK(recorded.find("/apis/batch/v1beta1/namespaces/shop/cronjobs/nightly") != std::string::npos);
  CHECK(recorded.find("\"apiVersion\":\"batch/v1beta1\"") != std::string::npos);
  CHECK(targets(server) == std::vector<std::string>{"/apis/batch/v1"});
}

TEST_CASE("a discovery the API server refuses is an error naming the kind, not a guess",
          "[unit][k8s][discovery]") {
  HttpServer server([](const SeenRequest&) {
    return Reply{403, {}, R"({"kind":"Status","code":403,"reason":"Forbidden","message":"no"})"};
  });
  auto client = client_for(server);
  auto listed = client->list(k8s::resources::cronjobs, "shop");
  REQUIRE(!listed);
  CHECK(listed.error().code() == Code::forbidden);
  CHECK(listed.error().describe().find("CronJob") != std::string::npos);
  CHECK(server.requests().size() == 1);
}
