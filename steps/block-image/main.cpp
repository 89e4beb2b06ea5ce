#include "block_image.hpp"

int main(int argc, char** argv) {
  return ir::run_step_main(ir::steps::block_image::step(), argc, argv);
}
