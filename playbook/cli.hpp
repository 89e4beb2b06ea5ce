// The playbook command line: `playbook run FILE|NAME ...`,
// `playbook trigger SENSOR EVENT [--run ...]` and `playbook list`. parse_command_line fills a Command from
// argv or gives an invalid-input error (the action is set as soon as it is known, so a refused `run` is told
// apart); run_main is the whole process, and the one place that prints an error (the same exit-code table as
// the steps: 0 Succeeded, 1 Failed, 2 bad template or parameters with nothing run, 70 a bug of ours).
#pragma once

#include "model.hpp"
#include "runner.hpp"
#include "timeline.hpp"

#include <string>
#include <vector>

namespace playbook {

struct Command {
  enum class Action { help, version, list, run, trigger };
  Action action = Action::help;
  std::string usage;                     // --help's text
  std::string target;                    // run: FILE or NAME; trigger: the Sensor's file
  std::string event;                     // trigger: the webhook request's body
  std::vector<std::string> sensor_args;  // trigger: irsteps-sensor's options
  bool run_fired = false;                // trigger --run
  bool namespace_given = false;
  std::string templates;  // --templates DIR, IRSTEPS_TEMPLATES, or the installed folder; may not exist
  bool templates_given = false;
  Timeline::Format log_format = Timeline::Format::text;
  RunOptions options;
};

// The folder of WorkflowTemplates when --templates is not given:
// IRSTEPS_TEMPLATES, else share/irsteps/workflows/argo beside the folder of
// this executable (the installed layout, which the build tree mirrors).
[[nodiscard]] std::string default_templates_dir();

[[nodiscard]] Result<void> parse_command_line(int argc, char** argv, Command& command);

[[nodiscard]] int run_main(int argc, char** argv);

}  // namespace playbook
