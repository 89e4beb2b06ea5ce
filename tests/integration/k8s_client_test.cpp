// The Kubernetes client against the real API server.
#include "ir/k8s/client.hpp"

#include "support/catch.hpp"
#include "support/cluster.hpp"

#include <thread>

using namespace ir;
using namespace ir::test;

namespace {
json::object config_map(const std::string& name, const std::string& value) {
  return {{"apiVersion", "v1"},
          {"kind", "ConfigMap"},
          {"metadata", json::object{{"name", name}, {"labels", json::object{{"set", "paged"}}}}},
          {"data", json::object{{"value", value}}}};
}
}  // namespace

TEST_CASE("create, get and list with selectors across pages", "[integration][k8s]") {
  TestNamespace ns("client");
  auto& client = Cluster::get().client();
  for (int i = 0; i < 7; ++i)
    REQUIRE(client.create(k8s::resources::configmaps, ns.name(), config_map("cm-" + std::to_string(i), "v")));
  auto other = config_map("other", "v");
  other["metadata"].as_object()["labels"] = json::object{{"set", "else"}};
  REQUIRE(client.create(k8s::resources::configmaps, ns.name(), other));
  auto listed = client.list(k8s::resources::configmaps, ns.name(), {"set=paged", {}, 3});
  REQUIRE(listed);
  CHECK(listed->at("items").as_array().size() == 7);
  auto by_field = client.list(k8s::resources::configmaps, ns.name(), {{}, "metadata.name=other"});
  REQUIRE(by_field);
  CHECK(by_field->at("items").as_array().size() == 1);
  auto got = client.get(k8s::resources::configmaps, ns.name(), "cm-3");
  REQUIRE(got);
  CHECK(string_at(*got, {"data", "value"}) == "v");
  auto again = client.create(k8s::resources::configmaps, ns.name(), config_map("cm-3", "v"));
  REQUIRE_FALSE(again);
  CHECK(again.error().reason() == "AlreadyExists");
}

TEST_CASE("server-side apply records the irsteps field manager and is idempotent", "[integration][k8s]") {
  TestNamespace ns("apply");
  auto& client = Cluster::get().client();
  auto first = client.apply(k8s::resources::configmaps, ns.name(), "applied", config_map("applied", "one"));
  REQUIRE(first);
  const auto& managers = first->at("metadata").at("managedFields").as_array();
  CHECK(std::any_of(managers.begin(), managers.end(),
                    [](const json::value& m) { return string_at(m, {"manager"}) == "irsteps"; }));
  auto second = client.apply(k8s::resources::configmaps, ns.name(), "applied", config_map("applied", "one"));
  REQUIRE(second);
  CHECK(string_at(*first, {"metadata", "resourceVersion"}) ==
        string_at(*second, {"metadata", "resourceVersion"}));
  auto dry = client.apply(k8s::resources::configmaps, ns.name(), "applied", config_map("applied", "two"),
                          true, true);
  REQUIRE(dry);
  CHECK(string_at(*dry, {"data", "value"}) == "two");
  CHECK(string_at(json::value(*client.get(k8s::resources::configmaps, ns.name(), "applied")),
                  {"data", "value"}) == "one");
}

TEST_CASE("merge, JSON and strategic-merge patches", "[integration][k8s]") {
  TestNamespace ns("patch");
  auto& client = Cluster::get().client();
  REQUIRE(client.create(k8s::resources::configmaps, ns.name(), config_map("p", "0")));
  REQUIRE(client.patch(k8s::resources::configmaps, ns.name(), "p", k8s::PatchType::merge,
                       json::object{{"data", json::object{{"a", "1"}}}}));
  REQUIRE(
      client.patch(k8s::resources::configmaps, ns.name(), "p", k8s::PatchType::json,
                   json::array{json::object{{"op", "replace"}, {"path", "/data/value"}, {"value", "2"}}}));
  REQUIRE(client.patch(k8s::resources::configmaps, ns.name(), "p", k8s::PatchType::strategic,
                       json::object{{"data", json::object{{"b", "3"}}}}));
  const json::value data = client.get(k8s::resources::configmaps, ns.name(), "p")->at("data");
  CHECK(string_at(data, {"a"}) == "1");
  CHECK(string_at(data, {"value"}) == "2");
  CHECK(string_at(data, {"b"}) == "3");
  auto bad = client.patch(k8s::resources::configmaps, ns.name(), "p", k8s::PatchType::json,
                          json::array{json::object{{"op", "test"}, {"path", "/data/value"}, {"value", "9"}}});
  REQUIRE_FALSE(bad);
  CHECK(bad.error().code() == Code::invalid_input);
}

TEST_CASE("delete honours preconditions and reports NotFound", "[integration][k8s]") {
  TestNamespace ns("delete");
  auto& client = Cluster::get().client();
  auto created = client.create(k8s::resources::configmaps, ns.name(), config_map("d", "x"));
  REQUIRE(created);
  k8s::DeleteOptions wrong;
  wrong.uid = "00000000-0000-0000-0000-000000000000";
  auto refused = client.remove(k8s::resources::configmaps, ns.name(), "d", wrong);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().code() == Code::conflict);
  k8s::DeleteOptions right;
  right.uid = string_at(*created, {"metadata", "uid"});
  REQUIRE(client.remove(k8s::resources::configmaps, ns.name(), "d", right));
  auto gone = client.get(k8s::resources::configmaps, ns.name(), "d");
  REQUIRE_FALSE(gone);
  CHECK(gone.error().code() == Code::not_found);
  CHECK(gone.error().describe().find("configmaps \"d\" not found") != std::string::npos);
}

TEST_CASE("watch delivers added, modified and deleted events", "[integration][k8s]") {
  TestNamespace ns("watch");
  auto& client = Cluster::get().client();
  auto listed = client.list(k8s::resources::configmaps, ns.name());
  REQUIRE(listed);
  const std::string version = string_at(*listed, {"metadata", "resourceVersion"});
  std::thread writer([&] {
    auto kube = k8s::load_config({Cluster::get().kubeconfig(), {}});
    auto other = k8s::Client::connect(std::move(*kube));
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    (void)(*other)->create(k8s::resources::configmaps, ns.name(), config_map("w", "1"));
    (void)(*other)->patch(k8s::resources::configmaps, ns.name(), "w", k8s::PatchType::merge,
                          json::object{{"data", json::object{{"value", "2"}}}});
    (void)(*other)->remove(k8s::resources::configmaps, ns.name(), "w");
  });
  std::vector<std::string> seen;
  auto watched =
      client.watch(k8s::resources::configmaps, ns.name(), {}, version, 30, [&](const k8s::WatchEvent& event) {
        if (event.type != "BOOKMARK")
          seen.push_back(event.type + ":" + string_at(event.object, {"metadata", "name"}));
        return seen.size() < 3;
      });
  writer.join();
  REQUIRE(watched);
  CHECK(seen == std::vector<std::string>{"ADDED:w", "MODIFIED:w", "DELETED:w"});
}

TEST_CASE("a wrong token is a forbidden error after one fresh attempt", "[integration][k8s]") {
  k8s::ConfigRequest request;
  request.kubeconfig = Cluster::get().kubeconfig();
  auto config = k8s::load_config(request);
  REQUIRE(config);
  config->token = Secret("definitely-not-a-valid-token");
  config->exec.reset();
  config->tls.client_cert_pem.clear();
  config->tls.client_key_pem = Secret();
  auto client = k8s::Client::connect(std::move(*config));
  REQUIRE(client);
  auto denied = (*client)->get(k8s::resources::namespaces, {}, "default");
  REQUIRE_FALSE(denied);
  CHECK(denied.error().code() == Code::forbidden);
  CHECK(denied.error().describe().find("401") != std::string::npos);
  CHECK((*client)->requests() == 2);
}
