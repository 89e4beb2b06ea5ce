#include "rotate_secret.hpp"

#include "support/catch.hpp"

#include <fmt/format.h>

#include <set>
#include <sstream>

using namespace ir;
using namespace ir::steps::rotate_secret;

TEST_CASE("generated values have the length and charset asked for, and differ", "[unit][rotate-secret]") {
  for (const auto charset :
       {Charset::alnum, Charset::hex, Charset::base64, Charset::urlsafe, Charset::printable}) {
    auto a = generate_value(48, charset);
    auto b = generate_value(48, charset);
    REQUIRE(a);
    REQUIRE(b);
    CHECK(a->size() == 48);
    CHECK_FALSE(*a == *b);
    const auto allowed = charset_characters(charset);
    for (const char c : a->reveal()) CHECK(allowed.find(c) != std::string_view::npos);
  }
  auto value = generate_value(32, Charset::alnum);
  REQUIRE(value);
  CHECK(fmt::format("{}", *value) == "<redacted>");
}

TEST_CASE("values read from stdin drop one trailing newline, empty is refused", "[unit][rotate-secret]") {
  Options options;
  options.source = Source::stdin_stream;
  std::istringstream in("s3cr3t-from-db\n");
  auto value = read_value(options, in);
  REQUIRE(value);
  CHECK(value->reveal() == "s3cr3t-from-db");
  std::istringstream empty("\n");
  auto refused = read_value(options, empty);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().code() == Code::invalid_input);
}

TEST_CASE("every kind of reference to a Secret is found", "[unit][rotate-secret]") {
  auto spec = parse_json(R"({
    "containers": [{"name": "a", "env": [{"name": "P", "valueFrom": {"secretKeyRef": {"name": "db", "key": "p"}}}],
                    "envFrom": [{"secretRef": {"name": "db"}}]}],
    "initContainers": [{"name": "i", "envFrom": [{"secretRef": {"name": "other"}}]}],
    "volumes": [{"name": "v", "secret": {"secretName": "db"}},
                {"name": "p", "projected": {"sources": [{"secret": {"name": "db"}}]}}],
    "imagePullSecrets": [{"name": "db"}],
    "serviceAccountName": "app"})",
                         "spec");
  REQUIRE(spec);
  const auto ways = secret_references(spec->as_object(), "db");
  CHECK(ways == std::set<std::string>{"env", "envFrom", "volume", "projected", "imagePullSecrets"});
  CHECK(secret_references(spec->as_object(), "other") == std::set<std::string>{"envFrom"});
  CHECK(secret_references(spec->as_object(), "nobody").empty());
  CHECK(runs_as(spec->as_object(), "app"));
  CHECK_FALSE(runs_as(spec->as_object(), "default"));
}

TEST_CASE("options: source, restart list and timeout", "[unit][rotate-secret]") {
  json::object params{{"incident-id", "INC-2026-11-26-001"},
                      {"namespace", "shop"},
                      {"secret", json::array{"db"}},
                      {"key", json::array{"password"}},
                      {"from-env", "NEW_PASSWORD"},
                      {"restart", "deployment/web,sts/db"},
                      {"timeout", "90s"}};
  auto options = options_from(params);
  REQUIRE(options);
  CHECK(options->source == Source::env);
  CHECK(options->timeout == std::chrono::seconds(90));
  params["restart"] = "cronjob/nightly";
  auto refused = options_from(params);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().code() == Code::invalid_input);
}

TEST_CASE("the previous-data Secret has a deterministic name", "[unit][rotate-secret]") {
  Options options;
  options.incident_id = "INC-2026-11-26-001";
  CHECK(previous_secret_name(options, "db") == "db-previous-inc-2026-11-26-001");
}
