#include "isolate.hpp"

int main(int argc, char** argv) {
  return ir::run_step_main(ir::steps::isolate::step(), argc, argv);
}
