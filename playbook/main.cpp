// playbook: runs an Argo Workflow(Template) locally, the step executables
// standing for their container images (cli.hpp).
#include "cli.hpp"

int main(int argc, char** argv) {
  return playbook::run_main(argc, argv);
}
