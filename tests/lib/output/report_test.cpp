#include "ir/output/report.hpp"

#include "ir/params/params.hpp"

#include "support/catch.hpp"

#include <filesystem>

namespace {

ir::Schema result_schema() {
  auto text = ir::embedded_schema("result");
  REQUIRE(text);
  auto schema = ir::Schema::from_text(*text, "result.schema.json");
  REQUIRE(schema);
  return std::move(*schema);
}

ir::Report sample() {
  ir::Report report("isolate", "0.1.0");
  report.set_incident("INC-2026-11-26-001");
  report.add_action({"apply",
                     {{"kind", "NetworkPolicy"}, {"name", "p"}, {"namespace", "shop"}},
                     "deny all",
                     false,
                     std::nullopt});
  report.set_output("policy", "p");
  report.set_output("pods", "a,b");
  report.set_output("policy", "q");
  report.add_warning("hostNetwork pod");
  return report;
}

}  // namespace

TEST_CASE("the result document is valid against its schema", "[unit][report]") {
  auto report = sample();
  report.finish(ir::Status::succeeded);
  const auto doc = report.to_json();
  CHECK(result_schema().validate(ir::json::value(doc)).empty());
  CHECK(doc.at("outputs").at("policy").as_string() == "q");
  CHECK(doc.at("status").as_string() == "succeeded");

  auto failed = sample();
  failed.finish(ir::Status::failed, ir::Error(ir::Code::forbidden, "no").with("apply"));
  const auto failed_doc = failed.to_json();
  CHECK(result_schema().validate(ir::json::value(failed_doc)).empty());
  CHECK(failed_doc.at("error").at("exitCode").as_int64() == 5);
  CHECK(failed_doc.at("error").at("message").as_string() == "apply: no");
}

TEST_CASE("outputs become one file each", "[unit][report]") {
  const auto dir = std::filesystem::temp_directory_path() / "irsteps-outputs-test";
  std::filesystem::remove_all(dir);
  auto report = sample();
  REQUIRE(ir::write_outputs_dir(report, dir.string()));
  CHECK(*ir::read_file((dir / "policy").string()) == "q");
  CHECK(*ir::read_file((dir / "pods").string()) == "a,b");
  std::filesystem::remove_all(dir);
}

TEST_CASE("GitHub outputs use a heredoc that no value can end early", "[unit][report]") {
  const auto dir = std::filesystem::temp_directory_path() / "irsteps-github-test";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  ir::Report report("isolate", "0.1.0");
  report.set_output("multi", "line one\nEOF\nline three");
  const std::string out = (dir / "output").string();
  const std::string summary = (dir / "summary").string();
  REQUIRE(ir::write_github_outputs(report, out, summary));
  const auto text = *ir::read_file(out);
  const auto first_line = text.substr(0, text.find('\n'));
  REQUIRE(first_line.rfind("multi<<ghadelimiter_", 0) == 0);
  const std::string delimiter = first_line.substr(std::string("multi<<").size());
  CHECK(text == first_line + "\nline one\nEOF\nline three\n" + delimiter + "\n");
  CHECK(ir::read_file(summary)->find("### irsteps isolate") == 0);
  std::filesystem::remove_all(dir);
}

TEST_CASE("annotations escape what the runner would misread", "[unit][report]") {
  CHECK(ir::github_annotation("error", "irsteps: isolate, 1", "50% done\nnext: line") ==
        "::error title=irsteps%3A isolate%2C 1::50%25 done%0Anext: line");
}

// Security review finding 13: a value a registry or an attacker controls
// must not become Markdown structure (a new row, a heading, a closed code
// span) in the job summary.
TEST_CASE("the job summary keeps hostile values inside their cells", "[unit][report]") {
  ir::Report report("verify-image", "0.1.0");
  report.add_action(
      {"label", {{"kind", "Pod"}, {"name", "a|b"}, {"namespace", "shop\n# owned"}}, "", false, std::nullopt});
  report.set_output("digest", "x` | injected | `y");
  report.add_warning("first\n::error::forged");
  report.finish(ir::Status::failed, ir::Error(ir::Code::invalid_input, "bad\r\n## heading"));
  const std::string md = ir::github_summary_markdown(report);
  CHECK(md.find("| a\\|b |") != std::string::npos);
  CHECK(md.find("shop # owned") != std::string::npos);
  CHECK(md.find("| digest | `` x` \\| injected \\| `y `` |") != std::string::npos);
  CHECK(md.find("> **Warning:** first ::error::forged") != std::string::npos);
  CHECK(md.find("\n## heading") == std::string::npos);
  CHECK(md.find("\n::error") == std::string::npos);
  CHECK(md.find("\n# owned") == std::string::npos);
}
