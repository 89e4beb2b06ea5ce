// The plugin's own command line (not a step's: those parameters come in
// each template).
#pragma once

#include "ir/core/error.hpp"
#include "server.hpp"

#include <string>
#include <vector>

namespace ir::plugin {

struct Command {
  enum class Action { serve, check, probe, help, version };
  Action action = Action::serve;
  ServerOptions options;
  std::string help;
};

// argv without argv[0]; also sets the log format and level.
[[nodiscard]] Result<Command> parse_command_line(const std::vector<std::string>& args);

// The driver of irsteps-plugin: parse, serve, report. The only place that prints.
[[nodiscard]] int plugin_main(int argc, char** argv);

}  // namespace ir::plugin
