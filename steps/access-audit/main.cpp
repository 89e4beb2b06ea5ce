#include "access_audit.hpp"

int main(int argc, char** argv) {
  return ir::run_step_main(ir::steps::access_audit::step(), argc, argv);
}
