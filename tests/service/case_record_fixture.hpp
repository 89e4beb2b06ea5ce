// What the case-record tests share: a step's result document as the driver
// writes it, and the files on a branch of a bare repository.
#pragma once

#include "ir/core/json.hpp"
#include "support/git_server.hpp"

#include <string>
#include <vector>

namespace ir::test {

inline json::object result_document(const std::string& step, const std::string& incident,
                                    const std::string& start) {
  json::object doc;
  doc["apiVersion"] = "irsteps.io/v1";
  doc["kind"] = "StepResult";
  doc["step"] = step;
  doc["version"] = "0.1.0";
  doc["incidentId"] = incident;
  doc["status"] = "succeeded";
  doc["dryRun"] = false;
  doc["startTime"] = start;
  doc["endTime"] = start;
  doc["actions"] =
      json::array{json::object{{"verb", "apply"},
                               {"target", json::object{{"kind", "NetworkPolicy"}, {"name", "deny"}}},
                               {"dryRun", false}}};
  doc["outputs"] = json::object{};
  doc["evidence"] = json::array{};
  doc["warnings"] = json::array{};
  return doc;
}

// Empty when the branch does not exist yet.
inline std::vector<std::string> tree_of(const std::string& bare, const std::string& branch = "main") {
  std::vector<std::string> paths;
  std::string out = run_git(bare, {"ls-tree", "-r", "--name-only", branch}, true).out;
  std::size_t start = 0;
  for (auto nl = out.find('\n'); nl != std::string::npos; start = nl + 1, nl = out.find('\n', start)) {
    paths.push_back(out.substr(start, nl - start));
  }
  return paths;
}

}  // namespace ir::test
