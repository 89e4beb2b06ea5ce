#include "rotate_secret.hpp"

int main(int argc, char** argv) {
  return ir::run_step_main(ir::steps::rotate_secret::step(), argc, argv);
}
