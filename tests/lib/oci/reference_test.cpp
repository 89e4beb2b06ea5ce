// Image references by the Docker reference grammar, including the cases
// docker itself resolves surprisingly (ports versus tags, Docker Hub's
// library/ prefix).
#include "ir/oci/reference.hpp"

#include "support/catch.hpp"

using namespace ir;
using ir::oci::parse_reference;

TEST_CASE("references: Docker Hub defaults, ports, tags and digests", "[unit][oci]") {
  const std::string digest = "sha256:" + std::string(64, 'a');
  struct Expected {
    std::string text, registry, repository, tag, digest;
  };
  for (const auto& e : {
           Expected{"nginx", "docker.io", "library/nginx", "latest", ""},
           Expected{"nginx:1.25", "docker.io", "library/nginx", "1.25", ""},
           Expected{"bitnami/redis", "docker.io", "bitnami/redis", "latest", ""},
           Expected{"ghcr.io/acme/app:v1", "ghcr.io", "acme/app", "v1", ""},
           Expected{"localhost:5000/app", "localhost:5000", "app", "latest", ""},
           Expected{"127.0.0.1:5000/shop/web:v2@" + digest, "127.0.0.1:5000", "shop/web", "v2", digest},
           Expected{"registry.example/a/b/c@" + digest, "registry.example", "a/b/c", "", digest},
           Expected{"localhost/app:1", "localhost", "app", "1", ""},
       }) {
    INFO(e.text);
    auto ref = parse_reference(e.text);
    REQUIRE(ref);
    CHECK(ref->registry == e.registry);
    CHECK(ref->repository == e.repository);
    CHECK(ref->tag == e.tag);
    CHECK(ref->digest == e.digest);
  }
  CHECK(parse_reference("nginx")->api_host() == "registry-1.docker.io");
  CHECK(parse_reference("ghcr.io/acme/app@" + digest)->str() == "ghcr.io/acme/app@" + digest);
}

TEST_CASE("references: what docker refuses is bad input naming the problem", "[unit][oci]") {
  for (const char* bad : {"", "Nginx", "ghcr.io/Acme/app", "app:", "app@sha256:abc", "a//b", "app:-bad",
                          "ghcr.io/acme/app@md5:0123"}) {
    INFO(bad);
    auto ref = parse_reference(bad);
    REQUIRE_FALSE(ref);
    CHECK(ref.error().code() == Code::invalid_input);
    CHECK_THAT(ref.error().message(), Catch::Contains("image reference"));
  }
}
