#include "block_image.hpp"

#include "ir/core/json.hpp"
#include "ir/params/params.hpp"
#include "support/catch.hpp"

using namespace ir;
using namespace ir::steps::block_image;

namespace {

const std::string hex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const std::string digest = "sha256:" + hex;

// The command line's way in: flags checked against the step's schema, then
// read into Options.
Result<Options> options(std::vector<std::string> args) {
  auto spec = ParamSpec::load("block-image");
  REQUIRE(spec);
  args.insert(args.begin(), {"--incident-id", "INC-2026-12-07-001"});
  auto parsed = parse_args(*spec, args, [](const std::string&) { return std::optional<std::string>(); });
  if (!parsed) return parsed.error();
  return options_from(parsed->params);
}

}  // namespace

TEST_CASE("block-image reads REPOSITORY@digest and a bare digest", "[block-image]") {
  auto with_repo = options({"--image", "ghcr.io/acme/api@" + digest});
  REQUIRE(with_repo);
  CHECK(with_repo->digest == digest);
  CHECK(with_repo->engine == "auto");
  CHECK_FALSE(with_repo->release);
  auto bare = options({"--image", digest, "--engine", "kyverno", "--release"});
  REQUIRE(bare);
  CHECK(bare->digest == digest);
  CHECK(bare->engine == "kyverno");
  CHECK(bare->release);
  auto port = digest_of("registry.local:5000/team/app@" + digest);
  REQUIRE(port);
  CHECK(*port == digest);
}

TEST_CASE("block-image refuses a hostile or malformed --image with exit 2 naming it", "[block-image]") {
  for (const std::string& bad :
       std::vector<std::string>{"ghcr.io/acme/api:1.4.2", "sha256:" + hex.substr(1), "sha256:" + hex + "0",
                                "sha256:" + std::string(64, 'G'), "SHA256:" + hex, "sha512:" + hex + hex,
                                "ghcr.io/acme/api:1.4@" + digest + "')) || true || ('", "x@" + digest + "\n",
                                "../x@" + digest, "Acme/API@" + digest, "a b@" + digest, "", "@" + digest}) {
    INFO(bad);
    auto parsed = options({"--image", bad});
    REQUIRE_FALSE(parsed);
    CHECK(exit_code(parsed.error().code()) == 2);
    CHECK(parsed.error().describe().find("image") != std::string::npos);
  }
  // Past the schema, the step's own check holds too.
  CHECK_FALSE(digest_of("a//b@" + digest));
  CHECK_FALSE(digest_of("a'b@" + digest));
  CHECK_FALSE(digest_of("sha256:" + hex + "'"));
  auto engine = options({"--image", digest, "--engine", "opa"});
  REQUIRE_FALSE(engine);
  CHECK(exit_code(engine.error().code()) == 2);
}

TEST_CASE("block-image names its objects from the incident and the digest, within 63 characters",
          "[block-image]") {
  const auto name = policy_name("INC-2026-12-07-001", digest);
  CHECK(name == "irsteps-block-inc-2026-12-07-001-0123456789abcdef");
  CHECK(name.size() <= 63);
  CHECK(policy_name("INC-2026-12-07-001", digest) == name);
  CHECK(policy_name("INC-2026-12-07-002", digest) != name);
  CHECK(policy_name("INC-2026-12-07-001", "sha256:" + std::string(64, 'f')) != name);
}

TEST_CASE("block-image's Kyverno ClusterPolicy enforces a pattern refusing every container naming the digest",
          "[block-image]") {
  const auto policy = kyverno_policy("INC-2026-12-07-001", "ghcr.io/acme/api@" + digest, digest);
  CHECK(string_at(policy, {"apiVersion"}) == "kyverno.io/v1");
  CHECK(string_at(policy, {"kind"}) == "ClusterPolicy");
  CHECK(string_at(policy, {"metadata", "labels", "irsteps.io/incident"}) == "INC-2026-12-07-001");
  CHECK(string_at(policy, {"metadata", "annotations", digest_annotation}) == digest);
  CHECK(string_at(policy, {"spec", "validationFailureAction"}) == "Enforce");
  const auto& rules = find(policy, {"spec", "rules"})->get_array();
  REQUIRE(rules.size() == 1);
  CHECK(string_at(rules[0], {"validate", "failureAction"}) == "Enforce");
  CHECK(json::serialize(*find(rules[0], {"validate", "allowExistingViolations"})) == "true");
  CHECK(json::serialize(*find(rules[0], {"match"})) == R"({"any":[{"resources":{"kinds":["Pod"]}}]})");
  const auto* pattern = find(rules[0], {"validate", "pattern", "spec"});
  REQUIRE(pattern != nullptr);
  for (const char* list : {"containers", "=(initContainers)", "=(ephemeralContainers)"}) {
    INFO(list);
    const auto* items = find(*pattern, {list});
    REQUIRE(items != nullptr);
    CHECK(json::serialize(*items) == R"([{"image":"!*@)" + digest + R"("}])");
  }
}

TEST_CASE("block-image's ValidatingAdmissionPolicy denies Pods naming the digest in any container list",
          "[block-image]") {
  const auto policy = vap_policy("v1", "INC-2026-12-07-001", digest, digest);
  CHECK(string_at(policy, {"apiVersion"}) == "admissionregistration.k8s.io/v1");
  CHECK(string_at(policy, {"kind"}) == "ValidatingAdmissionPolicy");
  CHECK(string_at(policy, {"spec", "failurePolicy"}) == "Fail");
  const auto& rules = find(policy, {"spec", "matchConstraints", "resourceRules"})->get_array();
  REQUIRE(rules.size() == 2);
  CHECK(json::serialize(*find(rules[0], {"resources"})) == R"(["pods"])");
  CHECK(json::serialize(*find(rules[0], {"operations"})) == R"(["CREATE","UPDATE"])");
  CHECK(json::serialize(*find(rules[1], {"resources"})) == R"(["pods/ephemeralcontainers"])");
  CHECK(json::serialize(*find(rules[1], {"operations"})) == R"(["UPDATE"])");
  const auto& validations = find(policy, {"spec", "validations"})->get_array();
  REQUIRE(validations.size() == 1);
  const std::string expression = string_at(validations[0], {"expression"});
  CHECK(expression == vap_expression(digest));
  for (const char* list : {"object.spec.containers.exists(", "object.spec.initContainers.exists(",
                           "object.spec.ephemeralContainers.exists("})
    CHECK(expression.find(list) != std::string::npos);
  CHECK(expression.find("c.image.endsWith('@" + digest + "')") != std::string::npos);
  CHECK(expression.rfind("!(object.spec.containers", 0) == 0);
  // An UPDATE of a Pod that ran the digest already is let through.
  CHECK(expression.find(" || (oldObject != null && (oldObject.spec.containers.exists(") != std::string::npos);

  const auto binding = vap_binding("v1beta1", "INC-2026-12-07-001", digest, digest);
  CHECK(string_at(binding, {"apiVersion"}) == "admissionregistration.k8s.io/v1beta1");
  CHECK(string_at(binding, {"spec", "policyName"}) == string_at(policy, {"metadata", "name"}));
  CHECK(json::serialize(*find(binding, {"spec", "validationActions"})) == R"(["Deny"])");
  CHECK(find(binding, {"spec", "matchResources"}) == nullptr);
  CHECK(string_at(binding, {"metadata", "labels", "irsteps.io/incident"}) == "INC-2026-12-07-001");
}
