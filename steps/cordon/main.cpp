#include "cordon.hpp"

int main(int argc, char** argv) {
  return ir::run_step_main(ir::steps::cordon::step(), argc, argv);
}
