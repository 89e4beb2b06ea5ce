// Runs a step binary as a user would and checks the contract every step
// keeps: one JSON document on stdout, valid against the result schema, and
// an exit code that agrees with it.
#pragma once

#include "ir/core/json.hpp"
#include "ir/params/params.hpp"
#include "support/catch.hpp"
#include "support/cluster.hpp"

#include <string>
#include <vector>

namespace ir::test {

struct StepRun {
  int exit_status = -1;
  std::string out;
  std::string err;
  json::object result;

  [[nodiscard]] std::string output(const std::string& name) const {
    return string_at(result, {"outputs", name});
  }
  [[nodiscard]] std::string all_text() const { return out + err; }
};

// Shows the step's stderr and stdout when the exit status is not the expected one.
#define REQUIRE_EXIT(run, code)                                 \
  do {                                                          \
    INFO("stderr: " << (run).err << "\nstdout: " << (run).out); \
    REQUIRE((run).exit_status == (code));                       \
  } while (false)

inline StepRun run_step_binary(const std::string& step, std::vector<std::string> args,
                               std::vector<std::pair<std::string, std::string>> env = {}) {
  ProcessOptions options;
  options.extra_env = std::move(env);
  options.timeout = std::chrono::seconds(300);
  std::vector<std::string> argv{binary(step)};
  argv.insert(argv.end(), args.begin(), args.end());
  auto output = run_process(argv, options);
  if (!output) FAIL(output.error().describe());
  StepRun run{output->exit_status, output->out, output->err, {}};
  INFO("stderr: " << run.err);
  auto doc = parse_json(run.out, "stdout");
  if (!doc || !doc->is_object()) FAIL("stdout is not one JSON document: " << run.out);
  static const auto schema = Schema::from_text(*embedded_schema("result"), "result.schema.json");
  const auto problems = schema->validate(*doc);
  for (const auto& p : problems) INFO(p.path << ": " << p.message);
  CHECK(problems.empty());
  run.result = doc->as_object();
  const std::string status = string_at(*doc, {"status"});
  // A run whose case record could not be pushed succeeded and still exits 4.
  if (run.output("case-record-pending").empty()) CHECK((run.exit_status == 0) == (status == "succeeded"));
  return run;
}

}  // namespace ir::test
