#include "notify.hpp"

int main(int argc, char** argv) {
  return ir::run_step_main(ir::steps::notify::step(), argc, argv);
}
