# Every dependency comes from Debian 12's packages (scripts/install-deps.sh).
# Boost is linked statically and spdlog/fmt used header-only: every shared
# library costs a step start-up time (docs/benchmarks.md).
#
# IRSTEPS_STATIC_DEPS (the release build of the Makefile, hence the images)
# also links OpenSSL, libgit2 with its closure (mbedTLS, libssh2, http_parser,
# PCRE2), yaml-cpp, zlib, libstdc++ and libgcc from their archives, and drops
# unreferenced functions (--gc-sections): an image is then the binary and
# glibc, which stays shared (NSS, getaddrinfo).
if(IRSTEPS_STATIC_DEPS AND (IRSTEPS_SANITIZE OR IRSTEPS_FUZZ))
  message(FATAL_ERROR "IRSTEPS_STATIC_DEPS is for release binaries: not with IRSTEPS_SANITIZE or IRSTEPS_FUZZ")
endif()
# The libraries FindOpenSSL and FindZLIB found are cached: find them again
# when the option changes in an existing build directory.
if(NOT "${IRSTEPS_STATIC_DEPS}" STREQUAL "${IRSTEPS_STATIC_DEPS_FOUND}")
  unset(OPENSSL_CRYPTO_LIBRARY CACHE)
  unset(OPENSSL_SSL_LIBRARY CACHE)
  unset(ZLIB_LIBRARY_RELEASE CACHE)
  unset(ZLIB_LIBRARY_DEBUG CACHE)
  set(IRSTEPS_STATIC_DEPS_FOUND "${IRSTEPS_STATIC_DEPS}" CACHE INTERNAL "IRSTEPS_STATIC_DEPS of the cached libraries")
endif()
set(OPENSSL_USE_STATIC_LIBS ${IRSTEPS_STATIC_DEPS})
set(ZLIB_USE_STATIC_LIBS ${IRSTEPS_STATIC_DEPS})

set(Boost_USE_STATIC_LIBS ON)
find_package(Boost 1.81.0 EXACT CONFIG REQUIRED COMPONENTS json program_options url)
find_package(OpenSSL 3 REQUIRED)
find_package(yaml-cpp REQUIRED)
find_package(fmt REQUIRED)
find_package(spdlog REQUIRED)
find_package(Threads REQUIRED)
find_package(ZLIB REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(LIBGIT2 REQUIRED IMPORTED_TARGET libgit2)
if(IRSTEPS_TESTS)
  find_package(Catch2 2.13 REQUIRED)
endif()

# irsteps::yaml-cpp and irsteps::libgit2: what lib/ links, shared or static.
add_library(irsteps_yaml_cpp INTERFACE)
add_library(irsteps::yaml-cpp ALIAS irsteps_yaml_cpp)
add_library(irsteps_libgit2 INTERFACE)
add_library(irsteps::libgit2 ALIAS irsteps_libgit2)
if(NOT IRSTEPS_STATIC_DEPS)
  target_link_libraries(irsteps_yaml_cpp INTERFACE yaml-cpp)
  target_link_libraries(irsteps_libgit2 INTERFACE PkgConfig::LIBGIT2)
else()
  foreach(library IN ITEMS OPENSSL_CRYPTO_LIBRARY OPENSSL_SSL_LIBRARY ZLIB_LIBRARY)
    if(NOT ${library} MATCHES "\\.a$")
      message(FATAL_ERROR "IRSTEPS_STATIC_DEPS: ${library} is ${${library}}, not an archive")
    endif()
  endforeach()
  # One imported archive per library, with what it needs itself, so that each
  # comes before what it needs on the link line.
  function(irsteps_archive target name)
    string(MAKE_C_IDENTIFIER "IRSTEPS_${name}_ARCHIVE" variable)
    string(TOUPPER "${variable}" variable)
    find_library(${variable} NAMES lib${name}.a REQUIRED)
    add_library(${target} STATIC IMPORTED)
    set_target_properties(${target} PROPERTIES IMPORTED_LOCATION ${${variable}} INTERFACE_LINK_LIBRARIES "${ARGN}")
  endfunction()
  irsteps_archive(irsteps::mbedcrypto mbedcrypto)
  irsteps_archive(irsteps::mbedx509 mbedx509 irsteps::mbedcrypto)
  irsteps_archive(irsteps::mbedtls mbedtls irsteps::mbedx509 irsteps::mbedcrypto)
  irsteps_archive(irsteps::http_parser http_parser)
  irsteps_archive(irsteps::pcre2 pcre2-8)
  irsteps_archive(irsteps::ssh2 ssh2 OpenSSL::Crypto ZLIB::ZLIB)
  # libgit2's pkg-config file leaves out Kerberos (GSSAPI, for the Negotiate
  # HTTP authentication), which Debian has no archive of. irsteps never
  # authenticates with it (lib/git/src/gssapi_absent.cpp says why): the
  # functions libgit2 calls come from a stand-in that fails as a GSSAPI
  # without mechanisms would, and the images carry no Kerberos.
  add_library(irsteps_gssapi_absent STATIC ${PROJECT_SOURCE_DIR}/lib/git/src/gssapi_absent.cpp)
  target_link_libraries(irsteps_gssapi_absent PRIVATE irsteps_warnings)
  irsteps_archive(irsteps::git2 git2 irsteps::mbedtls irsteps::http_parser irsteps::ssh2 irsteps::pcre2 ZLIB::ZLIB
                  irsteps_gssapi_absent Threads::Threads rt)
  irsteps_archive(irsteps::yaml-cpp-archive yaml-cpp)
  target_link_libraries(irsteps_libgit2 INTERFACE irsteps::git2)
  target_include_directories(irsteps_libgit2 INTERFACE ${LIBGIT2_INCLUDE_DIRS})
  target_link_libraries(irsteps_yaml_cpp INTERFACE irsteps::yaml-cpp-archive)
  target_include_directories(irsteps_yaml_cpp INTERFACE $<TARGET_PROPERTY:yaml-cpp,INTERFACE_INCLUDE_DIRECTORIES>)
  # libstdc++ and libgcc from their archives too; only the functions a binary
  # reaches (of our code and of the archives built with a section per
  # function); relative relocations packed (DT_RELR, glibc 2.36), 0.6 MB
  # less in a position-independent binary with OpenSSL's tables in it.
  add_compile_options(-ffunction-sections -fdata-sections)
  add_link_options(-static-libstdc++ -static-libgcc LINKER:--gc-sections LINKER:--as-needed
                   LINKER:-z,pack-relative-relocs)
endif()
