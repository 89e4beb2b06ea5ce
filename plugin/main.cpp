#include "ir/core/process.hpp"

#include "options.hpp"

int main(int argc, char** argv) {
  ir::disable_core_dumps();  // the plugin holds its token and every call's credentials
  return ir::plugin::plugin_main(argc, argv);
}
