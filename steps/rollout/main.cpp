#include "rollout.hpp"

int main(int argc, char** argv) {
  return ir::run_step_main(ir::steps::rollout::step(), argc, argv);
}
