// A test that cannot run here (a tool missing, a build that does not make
// images, a cluster that is not ours to stop) says so with skip_test(REASON)
// and returns. Catch2 v2 has no skip of its own, and a test that only returns
// is counted as passed; skip_test prints one fixed line on stdout,
//   IRSTEPS-SKIPPED: REASON
// which every test's SKIP_REGULAR_EXPRESSION (tests/CMakeLists.txt) turns
// into a ctest skip. `make test` then fails unless tests/allowed-skips.txt
// lists the test with this reason (tests/check-skips.py). Call it before any
// assertion: ctest reports a test that printed the line as skipped even if it
// then failed (check-skips.py fails such a test).
#pragma once

#include <iostream>
#include <string_view>

namespace ir::test {

inline void skip_test(std::string_view reason) {
  std::cout << "IRSTEPS-SKIPPED: " << reason << std::endl;
}

}  // namespace ir::test
