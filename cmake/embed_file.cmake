# Turns one file into a C++ source defining `std::string_view NAME()` in
# NAMESPACE, so that a binary carries data it must not look up at run time
# (the Sigstore public-good trusted root).
# Called with -DINPUT=... -DOUTPUT=... -DNAME=... -DNAMESPACE=... -DHEADER=...
file(READ "${INPUT}" text)
get_filename_component(source "${INPUT}" NAME)
set(body "// Generated from ${source} by cmake/embed_file.cmake. Do not edit.\n")
string(APPEND body "#include \"${HEADER}\"\n\nnamespace ${NAMESPACE} {\n\n")
string(APPEND body "std::string_view ${NAME}() {\n  return R\"irembed(${text})irembed\";\n}\n\n")
string(APPEND body "}  // namespace ${NAMESPACE}\n")
file(WRITE "${OUTPUT}.tmp" "${body}")
execute_process(COMMAND ${CMAKE_COMMAND} -E copy_if_different "${OUTPUT}.tmp" "${OUTPUT}")
