#include "snapshot.hpp"

int main(int argc, char** argv) {
  return ir::run_step_main(ir::steps::snapshot::step(), argc, argv);
}
