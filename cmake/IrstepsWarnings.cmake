# The warning set of the house style, errors in CI (IRSTEPS_WERROR), and the
# sanitizer build (IRSTEPS_SANITIZE) that runs the same tests.
add_library(irsteps_warnings INTERFACE)
target_compile_options(irsteps_warnings INTERFACE -Wall -Wextra -Wpedantic -Wshadow -Wconversion
                       -Wno-sign-conversion -Wno-missing-field-initializers $<$<BOOL:${IRSTEPS_WERROR}>:-Werror>)
if(IRSTEPS_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=address,undefined)
endif()
