// What a run reports: the node records, a human timeline on stderr as it
// happens (or JSON lines), and the final JSON document on stdout.
#pragma once

#include "ir/core/json.hpp"
#include "ir/core/time.hpp"

#include <map>
#include <mutex>
#include <optional>
#include <ostream>
#include <string>

namespace playbook {

namespace json = ir::json;

struct NodeRecord {
  std::string path;  // "container-compromise.isolate"
  std::string type;  // Pod, Steps, DAG, Suspend, Skipped, Omitted
  std::string template_name;
  std::string template_ref;  // "irsteps-steps/isolate" when reached through templateRef
  std::string step;          // the executable, for containers
  std::string phase = "Running";
  std::string message;
  std::optional<int> exit_code;
  ir::TimePoint start = ir::now();
  ir::TimePoint end = start;
  int attempts = 0;
  std::map<std::string, std::string> inputs;
  std::map<std::string, std::string> input_artifacts;  // supplied inputs.artifacts: name -> local path
  std::map<std::string, std::string> outputs;
  std::optional<json::object> result;  // summary of the step's result document
  std::string stdout_text;             // {{steps.X.outputs.result}}
  json::array artifacts;               // saved output artifacts: name, key (the .tgz), sha256
};

[[nodiscard]] json::object node_json(const NodeRecord& node);

class Timeline {
 public:
  enum class Format { text, json };
  Timeline(Format format, std::ostream& out) : format_(format), out_(out) {}

  void node_started(const NodeRecord& node, int attempt);
  void node_finished(const NodeRecord& node);
  // Free-form events: retries, gates, the workflow's start and end.
  void event(const std::string& event, const std::string& node, const std::string& text);
  void step_log(const std::string& node, std::string_view line);

 private:
  void write_line(const std::string& line);
  Format format_;
  std::ostream& out_;
  std::mutex mutex_;
};

}  // namespace playbook
