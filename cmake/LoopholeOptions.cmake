# One INTERFACE target carries the language standard, the warnings and the
# sanitizers; every project target links it.

option(LOOPHOLE_BUILD_TESTS "Build the Boost.Test suites" ON)
option(LOOPHOLE_WARNINGS_AS_ERRORS "Treat warnings as errors" ON)
set(LOOPHOLE_SANITIZE "" CACHE STRING
    "Sanitizers to build with, e.g. address,undefined or thread (empty: none)")

if(NOT CMAKE_BUILD_TYPE AND NOT CMAKE_CONFIGURATION_TYPES)
  set(CMAKE_BUILD_TYPE RelWithDebInfo CACHE STRING "Build type" FORCE)
endif()

find_program(LOOPHOLE_CCACHE ccache)
if(LOOPHOLE_CCACHE)
  set(CMAKE_CXX_COMPILER_LAUNCHER "${LOOPHOLE_CCACHE}")
endif()

add_library(loophole_project_options INTERFACE)
target_compile_features(loophole_project_options INTERFACE cxx_std_20)
target_compile_options(loophole_project_options INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast
  -Wcast-align -Wunused -Woverloaded-virtual -Wconversion -Wsign-conversion
  -Wdouble-promotion -Wformat=2 -Wimplicit-fallthrough
  -Wmisleading-indentation -Wduplicated-cond -Wduplicated-branches
  -Wlogical-op -Wuseless-cast
  # Never fuse a*b+c into one rounding: results must not depend on the
  # instruction set the compiler picks.
  -ffp-contract=off
  $<$<BOOL:${LOOPHOLE_WARNINGS_AS_ERRORS}>:-Werror>)
# -Wnull-dereference is left out: GCC 12 reports false positives inside
# libstdc++ at -O2.
# No -ffast-math anywhere: bit-exact output depends on IEEE semantics. (The
# DSP library adds -O3 itself; an -O here would come after it and win.)
if(LOOPHOLE_SANITIZE)
  # GCC 12 reports false maybe-uninitialized warnings inside libstdc++
  # (std::regex, std::function) once sanitizers instrument the code.
  target_compile_options(loophole_project_options INTERFACE
    -fsanitize=${LOOPHOLE_SANITIZE} -fno-omit-frame-pointer -Wno-maybe-uninitialized)
  target_link_options(loophole_project_options INTERFACE
    -fsanitize=${LOOPHOLE_SANITIZE})
endif()

# Third-party headers are included as SYSTEM so that their warnings do not
# drown ours.
function(loophole_library name)
  target_link_libraries(${name} PRIVATE loophole_project_options)
  target_include_directories(${name} PUBLIC "${PROJECT_SOURCE_DIR}")
endfunction()
