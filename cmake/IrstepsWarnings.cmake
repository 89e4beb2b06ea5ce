# The warning set of the house style, errors in CI (IRSTEPS_WERROR), the
# sanitizer build (IRSTEPS_SANITIZE) that runs the same tests, and the
# libFuzzer build (IRSTEPS_FUZZ, clang only; tests/fuzz/).
add_library(irsteps_warnings INTERFACE)
target_compile_options(irsteps_warnings INTERFACE -Wall -Wextra -Wpedantic -Wshadow -Wconversion
                       -Wno-sign-conversion -Wno-missing-field-initializers $<$<BOOL:${IRSTEPS_WERROR}>:-Werror>)
if(IRSTEPS_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=address,undefined)
endif()
if(IRSTEPS_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "IRSTEPS_FUZZ needs clang (CXX=clang++): libFuzzer is part of LLVM")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()
