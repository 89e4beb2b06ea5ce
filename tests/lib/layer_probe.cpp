// Preprocessed by the lib.layers tests (tests/CMakeLists.txt), never built
// into a binary: params' header, seen from a target that links http and from
// one that links params.
#include "ir/params/params.hpp"
