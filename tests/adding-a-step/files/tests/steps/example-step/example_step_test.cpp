#include "example_step.hpp"

#include "ir/params/params.hpp"
#include "support/catch.hpp"

using namespace ir;
using namespace ir::steps::example_step;

namespace {

// The command line's way in: flags checked against the step's schema, then
// read into Options.
Result<Options> options(std::vector<std::string> args) {
  auto spec = ParamSpec::load("example-step");
  REQUIRE(spec);
  args.insert(args.begin(), {"--incident-id", "INC-2026-12-07-001"});
  auto parsed = parse_args(*spec, args, [](const std::string&) { return std::optional<std::string>(); });
  if (!parsed) return parsed.error();
  return options_from(parsed->params);
}

}  // namespace

TEST_CASE("example-step reads its namespace and pod", "[unit][example-step]") {
  auto read = options({"--namespace", "shop", "--pod", "web-0"});
  REQUIRE(read);
  CHECK(read->ns == "shop");
  CHECK(read->pod == "web-0");
}

TEST_CASE("example-step refuses a namespace that is not a DNS label, naming it", "[unit][example-step]") {
  auto read = options({"--namespace", "Shop_1", "--pod", "web-0"});
  REQUIRE(!read);
  CHECK(read.error().describe().find("namespace") != std::string::npos);
}
