#include "ir/core/yaml_emit.hpp"

#include "support/catch.hpp"

using namespace ir;

namespace {
json::value json_of(std::string_view text) {
  auto parsed = parse_json(text, "test");
  REQUIRE(parsed);
  return *parsed;
}
}  // namespace

TEST_CASE("YAML is written in block style, sequences under their key as kubectl writes them",
          "[unit][yaml_emit]") {
  const auto value = json_of(R"({"kind":"Deployment","spec":{"replicas":2,"containers":[
      {"name":"app","ports":[{"containerPort":80}],"args":[]}],"empty":{}}})");
  CHECK(to_yaml(value) ==
        "kind: Deployment\n"
        "spec:\n"
        "  replicas: 2\n"
        "  containers:\n"
        "  - name: app\n"
        "    ports:\n"
        "    - containerPort: 80\n"
        "    args: []\n"
        "  empty: {}\n");
  CHECK(to_yaml(json_of(R"({"b":1,"a":{"d":2,"c":3}})"), {true}) == "a:\n  c: 3\n  d: 2\nb: 1\n");
}

TEST_CASE("what is written reads back as the same value", "[unit][yaml_emit]") {
  const auto value = json_of(R"({
    "strings": ["true", "no", "On", "null", "~", "", " padded ", "1.0", "0x1F", "-5", "a: b", "x #y",
                "#c", "- item", "[x]", "{y}", "it's", "say \"hi\"", "tab\there", "ünïcode", "ends:",
                "registry.example/shop/web:1.0", "*alias", "&anchor", "!tag", "%dir", "@at", "`tick`"],
    "text": ["line 1\nline 2\n", "no newline\nat end", "trailing\n\n\n", "  indented first\nline",
             "trailing space \nx", "\nleading newline"],
    "numbers": [0, -7, 12345678901234, 1.5, 2.0, -0.25, 1e+300],
    "nested": [[1, [2, []]], {}, [], null, true, false],
    "weird keys": {"app.kubernetes.io/name": "x", "": "empty key", "1": "digit", "a: b": "colon"}
  })");
  const std::string text = to_yaml(value);
  INFO(text);
  auto back = parse_yaml(text, "emitted");
  REQUIRE(back);
  CHECK(*back == value);
  CHECK(text.find("  line 1\n") != std::string::npos);  // multi-line text as a literal block
}
