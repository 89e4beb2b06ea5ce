#include "ir/k8s/names.hpp"

#include "support/catch.hpp"

#include <string>
#include <vector>

// Security review finding 22: names from parameters and alerts are checked
// before they become part of a request path.
TEST_CASE("object and namespace names are DNS-1123 names", "[unit][k8s]") {
  CHECK(ir::k8s::check_object_name("web-7d9f8b6c5-abcde", "pod"));
  CHECK(ir::k8s::check_object_name("a.b-c.d", "pod"));
  const std::string label(63, 'a');
  CHECK(ir::k8s::check_object_name(label + "." + label + "." + label + "." + std::string(61, 'a'), "pod"));
  const std::vector<std::string> bad{"",
                                     "..",
                                     "a/b",
                                     "A",
                                     "a_b",
                                     "-a",
                                     "a-",
                                     "a..b",
                                     ".a",
                                     "a?b",
                                     "a b",
                                     std::string(254, 'a'),
                                     std::string(64, 'a')};
  for (const auto& name : bad) {
    INFO(name);
    auto checked = ir::k8s::check_object_name(name, "pod");
    REQUIRE_FALSE(checked);
    CHECK(checked.error().code() == ir::Code::invalid_input);
    CHECK(checked.error().message().rfind("pod: ", 0) == 0);
  }
  CHECK(ir::k8s::check_namespace_name("kube-system", "namespace"));
  CHECK_FALSE(ir::k8s::check_namespace_name("a.b", "namespace"));
  CHECK_FALSE(ir::k8s::check_namespace_name(std::string(64, 'a'), "namespace"));
}

TEST_CASE("a request path is made of plain segments", "[unit][k8s]") {
  CHECK(ir::k8s::check_request_path("/api/v1/namespaces/shop/pods/web/log?container=a&sinceTime=x%3A"));
  CHECK(ir::k8s::check_request_path("/apis/rbac.authorization.k8s.io/v1/clusterroles/system:node"));
  CHECK(ir::k8s::check_request_path("/version"));
  for (const char* path : {"/api/v1/namespaces/shop/pods/../secrets/x", "/api/v1/namespaces/shop/pods/./x",
                           "/api//v1", "/api/v1/pods/a%2F..", "/api/v1/pods/a#b", "api/v1",
                           "/api/v1/pods/a b", "/api/v1/pods/a\r\nHost: x", "/api/v1/"}) {
    INFO(path);
    auto checked = ir::k8s::check_request_path(path);
    REQUIRE_FALSE(checked);
    CHECK(checked.error().code() == ir::Code::invalid_input);
  }
}
