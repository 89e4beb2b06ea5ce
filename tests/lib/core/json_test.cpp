#include "ir/core/json.hpp"

#include "support/catch.hpp"

#include <unistd.h>

#include <filesystem>
#include <thread>
#include <vector>

TEST_CASE("YAML plain scalars are typed, quoted ones stay strings", "[unit][json]") {
  auto doc = ir::parse_yaml("a: 3\nb: \"3\"\nc: true\nd: 'no'\ne: ~\nf: 1.5\ng: web-1\nh: [1, x]\n", "test");
  REQUIRE(doc);
  const auto& o = doc->as_object();
  CHECK(o.at("a").is_int64());
  CHECK(o.at("b").as_string() == "3");
  CHECK(o.at("c").as_bool());
  CHECK(o.at("d").as_string() == "no");
  CHECK(o.at("e").is_null());
  CHECK(o.at("f").as_double() == 1.5);
  CHECK(o.at("g").as_string() == "web-1");
  CHECK(o.at("h").as_array().size() == 2);
}

TEST_CASE("multi-document YAML keeps every document, skipping empty ones", "[unit][json]") {
  auto docs = ir::parse_yaml_documents("---\nkind: A\n---\n---\nkind: B\n", "test");
  REQUIRE(docs);
  REQUIRE(docs->size() == 2);
  CHECK(ir::string_at((*docs)[1], {"kind"}) == "B");
  CHECK_FALSE(ir::parse_yaml("a: 1\n---\nb: 2\n", "one.yaml"));
}

TEST_CASE("parse errors say which input and where", "[unit][json]") {
  auto yaml = ir::parse_yaml("a: [1, 2\nb: 3\n", "params.yaml");
  REQUIRE_FALSE(yaml);
  CHECK(yaml.error().describe().find("params.yaml: not valid YAML: line") == 0);
  auto json = ir::parse_json_or_yaml("{\"a\": }", "params.json");
  REQUIRE_FALSE(json);
  CHECK(json.error().describe().find("params.json: not valid JSON") == 0);
  CHECK(json.error().code() == ir::Code::invalid_input);
}

TEST_CASE("sorted JSON is independent of key order", "[unit][json]") {
  auto a = ir::parse_json(R"({"b":1,"a":{"d":[1,2],"c":null}})", "a");
  auto b = ir::parse_json(R"({"a":{"c":null,"d":[1,2]},"b":1})", "b");
  CHECK(ir::to_sorted_json(*a) == ir::to_sorted_json(*b));
  CHECK(ir::to_sorted_json(*a) == R"({"a":{"c":null,"d":[1,2]},"b":1})");
}

TEST_CASE("atomic writes replace the whole file and leave no temporary", "[unit][json]") {
  const auto dir = std::filesystem::temp_directory_path() / "irsteps-json-test";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "out.txt").string();
  REQUIRE(ir::write_file_atomic(path, "first"));
  REQUIRE(ir::write_file_atomic(path, "second"));
  CHECK(*ir::read_file(path) == "second");
  CHECK(std::distance(std::filesystem::directory_iterator(dir), std::filesystem::directory_iterator()) == 1);
  auto missing = ir::write_file_atomic((dir / "no" / "such" / "x").string(), "x");
  CHECK_FALSE(missing);
  std::filesystem::remove_all(dir);
}

// Security review finding 20: aliases are shared by yaml-cpp but expanded
// by the conversion; nine levels of ten aliases are a billion values.
TEST_CASE("YAML aliases that expand past the bound are refused, not expanded", "[unit][json]") {
  std::string laughs =
      "a: &a [\"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\"]\n";
  for (char level = 'b'; level <= 'j'; ++level) {
    const char previous = static_cast<char>(level - 1);
    laughs += std::string(1, level) + ": &" + level + " [";
    for (int i = 0; i < 10; ++i) laughs += std::string(i ? ", *" : "*") + previous;
    laughs += "]\n";
  }
  auto parsed = ir::parse_yaml(laughs, "params file");
  REQUIRE_FALSE(parsed);
  CHECK(parsed.error().code() == ir::Code::invalid_input);
  CHECK(parsed.error().message() == "params file: more than 2000000 values once its aliases are expanded");

  // Aliases within the bound still work, as YAML means them.
  auto small = ir::parse_yaml("base: &b {x: 1}\nfirst: *b\nsecond: *b\n", "params file");
  REQUIRE(small);
  CHECK(small->at("second").at("x").as_int64() == 1);

  std::string deep;
  for (int i = 0; i < 300; ++i) deep += "[";
  for (int i = 0; i < 300; ++i) deep += "]";
  auto nested = ir::parse_yaml("a: " + deep, "params file");
  REQUIRE_FALSE(nested);
  CHECK(nested.error().message() == "params file: nested deeper than 200 levels");
}

// Security review finding 17: the temporary was path.tmp.<pid>, so threads
// of one process (the plugin's jobs) writing the same path shared it: one
// truncated another's half-written file, renamed it away under the other.
TEST_CASE("security review finding 17: threads writing one path at once all succeed, one version wins whole",
          "[unit][json]") {
  const auto dir =
      std::filesystem::temp_directory_path() / ("irsteps-json-race-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "record.json").string();
  constexpr int threads = 16;
  constexpr int rounds = 20;
  // Each version is large enough that writes interleave, and says who wrote it.
  const auto version = [](int writer) { return std::string(256 * 1024, static_cast<char>('a' + writer)); };
  std::vector<int> failures(threads, 0);
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      const std::string content = version(t);
      for (int r = 0; r < rounds; ++r)
        if (!ir::write_file_atomic(path, content)) ++failures[static_cast<std::size_t>(t)];
    });
  }
  for (auto& thread : pool) thread.join();
  for (int t = 0; t < threads; ++t) CHECK(failures[static_cast<std::size_t>(t)] == 0);
  auto content = ir::read_file(path);
  REQUIRE(content);
  REQUIRE(content->size() == 256 * 1024);
  CHECK(*content == version((*content)[0] - 'a'));
  // No temporary is left behind.
  CHECK(std::distance(std::filesystem::directory_iterator(dir), std::filesystem::directory_iterator()) == 1);
  std::filesystem::remove_all(dir);
}
