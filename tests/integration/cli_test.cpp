// Command-line behaviour of the isolate binary itself.
#include "support/step_runner.hpp"

#include <filesystem>

using namespace ir;
using namespace ir::test;

namespace {
ProcessOutput run(std::vector<std::string> args) {
  std::vector<std::string> argv{binary("isolate")};
  argv.insert(argv.end(), args.begin(), args.end());
  auto output = run_process(argv);
  REQUIRE(output);
  return *output;
}
}  // namespace

TEST_CASE("version and help answer and exit 0", "[cli][isolate]") {
  auto version = run({"--version"});
  CHECK(version.exit_status == 0);
  CHECK(version.out.rfind("isolate (irsteps) ", 0) == 0);
  auto help = run({"--help"});
  CHECK(help.exit_status == 0);
  CHECK(help.out.find("--allow-dns") != std::string::npos);
  CHECK(help.out.find("IRSTEPS_NAMESPACE") != std::string::npos);
}

TEST_CASE("an unknown flag is exit 2 with one clear stderr line and a result document", "[cli][isolate]") {
  auto output =
      run({"--incident-id", "INC-2026-11-26-001", "--namespace", "a", "--pod", "b", "--allow-everything"});
  CHECK(output.exit_status == 2);
  CHECK(output.err.find("\"event\":\"step.failed\"") != std::string::npos);
  CHECK(output.err.find("unrecognised option '--allow-everything'") != std::string::npos);
  auto doc = parse_json(output.out, "stdout");
  REQUIRE(doc);
  CHECK(string_at(*doc, {"status"}) == "failed");
  CHECK(find(*doc, {"error", "exitCode"})->as_int64() == 2);
}

TEST_CASE("parameters come from a params file and the environment", "[cli][isolate]") {
  const auto file = std::filesystem::temp_directory_path() / "isolate-params.json";
  REQUIRE(write_file_atomic(
      file.string(),
      R"({"incident-id": "INC-2026-11-26-001", "namespace": "a", "pod": ["b"], "scope": "galaxy"})"));
  auto output = run({"--params", file.string()});
  std::filesystem::remove(file);
  CHECK(output.exit_status == 2);
  CHECK(output.err.find("parameter scope: \\\"galaxy\\\" is not one of") != std::string::npos);
}

TEST_CASE("no cluster configured is a clear error, not a crash", "[cli][isolate]") {
  ProcessOptions options;
  options.extra_env = {{"KUBECONFIG", "/nonexistent/config"},
                       {"HOME", "/nonexistent"},
                       {"KUBERNETES_SERVICE_HOST", ""},
                       {"KUBERNETES_SERVICE_PORT", ""}};
  auto output = run_process(
      {binary("isolate"), "--incident-id", "INC-2026-11-26-001", "--namespace", "a", "--pod", "b"}, options);
  REQUIRE(output);
  CHECK(output->exit_status == 2);
  CHECK(output->err.find("no kubeconfig found and not running in a cluster") != std::string::npos);
}
