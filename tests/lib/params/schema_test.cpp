#include "ir/params/schema.hpp"
#include "ir/params/params.hpp"

#include "support/catch.hpp"

#include <filesystem>
#include <map>

namespace {

ir::Schema schema_of(const char* text) {
  auto schema = ir::Schema::from_text(text, "test schema");
  REQUIRE(schema);
  return std::move(*schema);
}

std::vector<ir::SchemaProblem> problems(const ir::Schema& schema, const char* instance) {
  auto value = ir::parse_json(instance, "instance");
  REQUIRE(value);
  return schema.validate(*value);
}

}  // namespace

TEST_CASE("types, required fields and unknown fields", "[unit][schema]") {
  const auto schema = schema_of(R"({
    "type": "object", "required": ["name"], "additionalProperties": false,
    "properties": {"name": {"type": "string", "minLength": 1}, "count": {"type": "integer", "minimum": 1}}})");
  CHECK(problems(schema, R"({"name": "a", "count": 2})").empty());
  auto p = problems(schema, R"({"count": 0, "extra": true})");
  REQUIRE(p.size() == 3);
  CHECK(p[0].path == "/name");
  CHECK(p[0].message == "is required");
  CHECK(p[1].path == "/count");
  CHECK(p[1].message == "must be at least 1");
  CHECK(p[2].path == "/extra");
  CHECK(p[2].message == "is not a known field");
  auto typed = problems(schema, R"({"name": 5})");
  REQUIRE(typed.size() == 1);
  CHECK(typed[0].message == "must be of type string, not integer");
  CHECK(problems(schema, R"({"name": "a", "count": 2.0})").empty());
  CHECK(problems(schema, R"({"name": "a", "count": 2.5})").size() == 1);
}

TEST_CASE("strings: pattern, length, enum, format", "[unit][schema]") {
  const auto schema = schema_of(R"({"type": "object", "properties": {
    "id": {"type": "string", "pattern": "^INC-[0-9]{3}$", "x-format-hint": "INC-NNN"},
    "mode": {"enum": ["a", "b"]},
    "when": {"type": "string", "format": "date-time"},
    "short": {"type": "string", "maxLength": 3}}})");
  CHECK(problems(schema, R"({"id": "INC-001", "mode": "a", "when": "2026-01-01T00:00:00Z", "short": "äöü"})")
            .empty());
  auto p = problems(schema, R"({"id": "INC-1", "mode": "c", "when": "noon", "short": "abcd"})");
  REQUIRE(p.size() == 4);
  CHECK(p[0].message == "\"INC-1\" must look like INC-NNN");
  CHECK(p[1].message == "\"c\" is not one of \"a\", \"b\"");
  CHECK(p[2].message == "\"noon\" is not an RFC 3339 time");
  CHECK(p[3].message == "must be at most 3 characters");
}

TEST_CASE("arrays, references and combinators", "[unit][schema]") {
  const auto schema = schema_of(R"({
    "$defs": {"cidr": {"type": "string", "pattern": "/[0-9]+$"}},
    "type": "object",
    "properties": {"cidrs": {"type": "array", "items": {"$ref": "#/$defs/cidr"}, "uniqueItems": true, "maxItems": 2}},
    "allOf": [{"not": {"required": ["a", "b"]}, "x-message": "give a or b, not both"}],
    "anyOf": [{"required": ["a"]}, {"required": ["b"]}], "x-message": "give a or b",
    "if": {"required": ["a"]}, "then": {"required": ["cidrs"]}})");
  CHECK(problems(schema, R"({"a": 1, "cidrs": ["10.0.0.0/8"]})").empty());
  CHECK(problems(schema, R"({"b": 1})").empty());
  auto both = problems(schema, R"({"a": 1, "b": 1, "cidrs": []})");
  REQUIRE(both.size() == 1);
  CHECK(both[0].message == "give a or b, not both");
  auto neither = problems(schema, R"({})");
  REQUIRE(neither.size() == 1);
  CHECK(neither[0].message == "give a or b");
  auto then = problems(schema, R"({"a": 1})");
  REQUIRE(then.size() == 1);
  CHECK(then[0].path == "/cidrs");
  auto items = problems(schema, R"({"b": 1, "cidrs": ["x", "10.0.0.0/8", "10.0.0.0/8"]})");
  REQUIRE(items.size() == 3);
  CHECK(items[0].path == "/cidrs/0");
}

TEST_CASE("a reference that points nowhere is reported", "[unit][schema]") {
  const auto schema = schema_of(R"({"$ref": "#/definitions/missing"})");
  auto p = problems(schema, "1");
  REQUIRE(p.size() == 1);
  CHECK(p[0].message.find("#/definitions/missing") != std::string::npos);
}

TEST_CASE("Argo's own schema validates a WorkflowTemplate and catches a wrong type",
          "[unit][schema][testdata]") {
  const std::string path = std::string(IRSTEPS_SOURCE_DIR) + "/tests/data/argo/workflows-schema.json";
  auto text = ir::read_file(path);
  REQUIRE(text);
  auto schema = ir::Schema::from_text(*text, path);
  REQUIRE(schema);
  auto good = ir::parse_yaml(R"(
apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata: {name: container-compromise}
spec:
  entrypoint: main
  templates:
    - name: main
      container: {image: "irsteps/isolate:0.1.0", args: ["--dry-run"]}
)",
                             "template");
  REQUIRE(good);
  const std::string pointer = "#/definitions/io.argoproj.workflow.v1alpha1.WorkflowTemplate";
  auto ok = schema->validate_at(*good, pointer);
  REQUIRE(ok);
  CHECK(ok->empty());
  (*good).as_object()["spec"].as_object()["templates"] = "not a list";
  auto bad = schema->validate_at(*good, pointer);
  REQUIRE(bad);
  REQUIRE_FALSE(bad->empty());
  CHECK(bad->front().path == "/spec/templates");
}

// Security review finding 10: std::regex recurses once per character, so a
// long value checked against a pattern overflowed the stack (a crash of the
// plugin on one call). The length is checked first and bounded for every
// patterned string.
TEST_CASE("a long value is refused by length before its pattern runs", "[unit][schema]") {
  const auto schema = schema_of(R"({"type": "object", "properties": {
    "bounded": {"type": "string", "maxLength": 63, "pattern": "^[a-z]([-a-z0-9]*[a-z0-9])?$"},
    "unbounded": {"type": "string", "pattern": "^[a-z]([-a-z0-9]*[a-z0-9])?$"},
    "text": {"type": "string"}},
    "patternProperties": {"^x-([a-z]*)$": {"type": "string"}}})");
  const std::string huge(2'000'000, 'a');
  ir::json::object instance;
  instance["bounded"] = huge;
  instance["unbounded"] = huge;
  instance["text"] = std::string(5 * 1024 * 1024, 'a');
  instance["x-" + huge] = "v";
  const auto p = schema.validate(ir::json::value(instance));
  REQUIRE(p.size() == 4);
  std::map<std::string, std::string> by_path;
  for (const auto& problem : p) by_path[problem.path.substr(0, 12)] = problem.message;
  CHECK(by_path["/bounded"] == "must be at most 63 characters");
  CHECK(by_path["/unbounded"] == "must be at most 4096 characters");
  CHECK(by_path["/text"] == "must be at most 4194304 characters");
  CHECK(by_path["/x-aaaaaaaaa"] == "has a name longer than 4096 characters");
  ir::json::object fine;
  fine["unbounded"] = std::string(4096, 'a');
  CHECK(schema.validate(ir::json::value(fine)).empty());
}

TEST_CASE("a reference into another compiled-in schema, prefixItems, and an if's own message",
          "[unit][schema]") {
  // The incident-id format has one definition, common.schema.json's; the
  // result schema and the case record take it from there.
  const auto schema = schema_of(R"({"type": "object", "properties": {
    "id": {"$ref": "common.schema.json#/properties/incident-id"},
    "command": {"type": "array", "prefixItems": [{"const": "bundle"}], "items": {"type": "string"}}},
    "allOf": [{"if": {"required": ["command"]}, "then": {"required": ["id"]}, "x-message": "parameter id: needed"}]})");
  CHECK(problems(schema, R"({"id": "INC-2026-11-26-001"})").empty());
  auto month = problems(schema, R"({"id": "INC-2026-13-26-001"})");
  REQUIRE(month.size() == 1);
  CHECK(month[0].path == "/id");
  CHECK(month[0].message.find("INC-YYYY-MM-DD-NNN") != std::string::npos);
  CHECK(problems(schema, R"({"id": "INC-2026-11-26-001", "command": ["bundle", "x"]})").empty());
  auto first = problems(schema, R"({"id": "INC-2026-11-26-001", "command": ["image", "x"]})");
  REQUIRE(first.size() == 1);
  CHECK(first[0].path == "/command/0");
  auto rest = problems(schema, R"({"id": "INC-2026-11-26-001", "command": ["bundle", 5]})");
  REQUIRE(rest.size() == 1);
  CHECK(rest[0].path == "/command/1");
  auto own = problems(schema, R"({"command": ["bundle"]})");
  REQUIRE(own.size() == 1);
  CHECK(own[0].path.empty());
  CHECK(own[0].message == "parameter id: needed");

  const auto unknown = schema_of(R"({"$ref": "absent.schema.json#/x"})");
  auto missing = problems(unknown, R"(1)");
  REQUIRE(missing.size() == 1);
  CHECK(missing[0].message == "schema reference absent.schema.json#/x not found");
  CHECK(ir::valid_incident_id("INC-2026-11-26-001"));
  CHECK_FALSE(ir::valid_incident_id("INC-2026-11-32-001"));
  CHECK_FALSE(ir::valid_incident_id("../INC-2026-11-26-001"));
}
