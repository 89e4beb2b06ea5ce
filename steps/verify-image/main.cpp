#include "verify_image.hpp"

int main(int argc, char** argv) {
  return ir::run_step_main(ir::steps::verify_image::step(), argc, argv);
}
