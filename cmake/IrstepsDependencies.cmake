# Every dependency comes from Debian 12's packages (scripts/install-deps.sh).
# Boost and yaml-cpp are linked statically and spdlog/fmt used header-only:
# every shared library costs a step start-up time (docs/benchmarks.md).
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
