// The playbook runner's expression languages and {{variable}} substitution.
#include "expr.hpp"

#include "support/catch.hpp"
#include "vars.hpp"

using namespace playbook;
using expr::Dialect;

namespace {

bool when(const std::string& text) {
  auto result = expr::evaluate(text, Dialect::govaluate);
  if (!result) FAIL(result.error().describe());
  return *result;
}

std::string when_error(const std::string& text) {
  auto result = expr::evaluate(text, Dialect::govaluate);
  REQUIRE_FALSE(result);
  return result.error().describe();
}

}  // namespace

TEST_CASE("when compares bare words, quoted strings, numbers and booleans as govaluate does", "[playbook]") {
  CHECK(when("heads == heads"));
  CHECK_FALSE(when("heads == tails"));
  CHECK(when("'a b' == \"a b\""));
  CHECK(when("INC-2026-11-26-001 == 'INC-2026-11-26-001'"));
  CHECK(when("0.1.0 != 0.2.0"));
  CHECK(when("true == true"));
  CHECK_FALSE(when("true == 'true'"));  // different types are never equal
  CHECK(when("3 > 2 && 2 >= 2 && 1 < 2.5 && 2 <= 2"));
  CHECK(when("10 > 9"));  // numerically, not as text
  CHECK(when("b > a"));
  CHECK(when("!(critical == low) || false"));
  CHECK(when("(high == high) && (1 != 2)"));
  CHECK_FALSE(when("false || !true"));
}

TEST_CASE("when refuses what govaluate would do differently or the runner does not support", "[playbook]") {
  CHECK(when_error("1 + 1 == 2").find("'+' is not supported") != std::string::npos);
  CHECK(when_error("a =~ b").find("'=~' is not supported") != std::string::npos);
  CHECK(when_error("a == 'b").find("unterminated") != std::string::npos);
  CHECK(when_error("(a == b").find("missing ')'") != std::string::npos);
  CHECK(when_error("a > 1").find("cannot order") != std::string::npos);
  CHECK(when_error("a && true").find("is not true or false") != std::string::npos);
  CHECK(when_error("heads").find("is not true or false") != std::string::npos);
  CHECK(when_error("a == b c").find("unexpected 'c'") != std::string::npos);
}

TEST_CASE("retry expressions: lastRetry values and asInt/asFloat", "[playbook]") {
  const expr::Resolver last = [](const std::string& name) -> ir::Result<expr::Value> {
    if (name == "lastRetry.exitCode") return expr::Value(std::string("4"));
    if (name == "lastRetry.status") return expr::Value(std::string("Failed"));
    return ir::invalid("unknown identifier " + name);
  };
  const auto eval = [&](const std::string& text) { return expr::evaluate(text, Dialect::expr_lang, last); };
  CHECK(*eval("asInt(lastRetry.exitCode) == 4"));
  CHECK_FALSE(*eval("lastRetry.exitCode == 4"));  // a string, as in Argo
  CHECK(*eval("asFloat(lastRetry.exitCode) >= 3.5 and lastRetry.status == \"Failed\""));
  CHECK(*eval("not (lastRetry.status == 'Error') or false"));
  CHECK(eval("lastRetry.message == ''").error().describe().find("lastRetry.message") != std::string::npos);
  CHECK(eval("len(lastRetry.status) > 1").error().describe().find("len() is not supported") !=
        std::string::npos);
  CHECK(eval("asInt(lastRetry.status) == 1").error().describe().find("not a number") != std::string::npos);
  CHECK_FALSE(eval("heads == heads"));  // no bare words in expr
}

TEST_CASE("depends: task names and their states", "[playbook]") {
  const expr::Resolver tasks = [](const std::string& name) -> ir::Result<expr::Value> {
    if (name == "a" || name == "a.Succeeded" || name == "b-2.Failed") return expr::Value(true);
    if (name == "b-2" || name == "c.Skipped") return expr::Value(false);
    return ir::invalid("no task named " + name);
  };
  const auto eval = [&](const std::string& text) { return expr::evaluate(text, Dialect::depends, tasks); };
  CHECK(*eval("a && b-2.Failed"));
  CHECK_FALSE(*eval("a && (b-2 || c.Skipped)"));
  CHECK(*eval("!b-2"));
  CHECK(eval("a == b-2").error().describe().find("not allowed in depends") != std::string::npos);
  CHECK(eval("a && d").error().describe().find("no task named d") != std::string::npos);
  CHECK(eval("'a'").error().describe().find("strings are not allowed") != std::string::npos);
}

TEST_CASE("check accepts placeholder values and still catches syntax", "[playbook]") {
  CHECK(expr::check("x > 5", Dialect::govaluate));
  CHECK(expr::check("x && x", Dialect::govaluate));
  CHECK_FALSE(expr::check("x ? a : b", Dialect::govaluate));
  CHECK_FALSE(expr::check("x ==", Dialect::govaluate));
}

TEST_CASE("substitute fills {{names}} with or without spaces and names unknown ones", "[playbook]") {
  const Lookup lookup = [](const std::string& name) -> ir::Result<std::string> {
    if (name == "inputs.parameters.pod") return std::string("web-1");
    if (name == "workflow.parameters.ns") return std::string("shop");
    return ir::invalid("unknown variable {{" + name + "}}");
  };
  CHECK(*substitute("--pod={{inputs.parameters.pod}}", lookup) == "--pod=web-1");
  CHECK(*substitute("{{ workflow.parameters.ns }}/{{inputs.parameters.pod}}!", lookup) == "shop/web-1!");
  CHECK(*substitute("no braces", lookup) == "no braces");
  CHECK(substitute("{{inputs.parameters.nope}}", lookup).error().describe() ==
        "unknown variable {{inputs.parameters.nope}}");
  CHECK(substitute("{{inputs.parameters.pod", lookup).error().describe().find("without '}}'") !=
        std::string::npos);
  CHECK(substitute("{{=sprig.upper('a')}}", lookup).error().describe().find("not supported") !=
        std::string::npos);
  CHECK(*references("a {{x.y}} b {{ z }}") == std::vector<std::string>{"x.y", "z"});
}
