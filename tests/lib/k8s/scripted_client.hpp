// A Kubernetes client of the library, pointed at a scripted local HTTP
// server that answers as an API server of some version would.
#pragma once

#include "ir/k8s/client.hpp"

#include "support/catch.hpp"
#include "support/http_server.hpp"

#include <memory>

namespace ir::test {

inline std::unique_ptr<k8s::Client> client_for(const HttpServer& server) {
  k8s::ClusterConfig config;
  config.server = server.url();
  auto client = k8s::Client::connect(std::move(config));
  REQUIRE(client);
  return std::move(*client);
}

}  // namespace ir::test
