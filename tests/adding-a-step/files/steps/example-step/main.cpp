#include "example_step.hpp"

int main(int argc, char** argv) {
  return ir::run_step_main(ir::steps::example_step::step(), argc, argv);
}
