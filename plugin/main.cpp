#include "options.hpp"

int main(int argc, char** argv) {
  return ir::plugin::plugin_main(argc, argv);
}
