#include "drift.hpp"

int main(int argc, char** argv) {
  return ir::run_step_main(ir::steps::drift::step(), argc, argv);
}
