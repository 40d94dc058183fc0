# Helpers that give every target of ours the same warnings and test registration.
include(GoogleTest)

set(FVD_WARNINGS -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wimplicit-fallthrough
    -Werror)

# fvd_warnings(target): warnings as errors, for our own code only.
function(fvd_warnings target)
  target_compile_options(${target} PRIVATE ${FVD_WARNINGS})
endfunction()

# fvd_test(name SOURCES a_test.cc ... LIBS lib ...): one GoogleTest binary, registered with CTest.
function(fvd_test name)
  cmake_parse_arguments(T "" "" "SOURCES;LIBS" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  fvd_warnings(${name})
  target_link_libraries(${name} PRIVATE ${T_LIBS} GTest::gtest GTest::gtest_main)
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60 PROPERTIES TIMEOUT 300)
endfunction()

# fvd_plugin_test(name SCRIPT module ENV var=value ...): a Python unittest module run by CTest
# against a plugin loaded into a program we did not build (fio, nbdkit). Under the asan preset
# that program is not instrumented, so the ASan runtime must be loaded first: the test gets
# FVD_ASAN_PRELOAD=<the shared ASan runtime> and sets LD_PRELOAD for the host program only
# (the asan preset links shared libraries against Clang's shared runtime, -shared-libsan).
function(fvd_plugin_test name)
  cmake_parse_arguments(T "" "SCRIPT" "ENV" ${ARGN})
  find_package(Python3 REQUIRED COMPONENTS Interpreter)
  add_test(NAME ${name} COMMAND ${Python3_EXECUTABLE} -m unittest -v ${T_SCRIPT}
           WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR})
  set(env ${T_ENV})
  if(CMAKE_CXX_FLAGS MATCHES "sanitize=[^ ]*address")
    if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
      set(runtime libclang_rt.asan-${CMAKE_SYSTEM_PROCESSOR}.so)
    else()
      set(runtime libasan.so)
    endif()
    execute_process(COMMAND ${CMAKE_CXX_COMPILER} -print-file-name=${runtime}
                    OUTPUT_VARIABLE libasan OUTPUT_STRIP_TRAILING_WHITESPACE)
    list(APPEND env "FVD_ASAN_PRELOAD=${libasan}")
  endif()
  set_tests_properties(${name} PROPERTIES ENVIRONMENT "${env}" TIMEOUT 900)
endfunction()

# fvd_nbdkit_dir(OUT KIND FALLBACK): the folder nbdkit keeps its KIND (plugindir, filterdir) in,
# relative to nbdkit's prefix as pkg-config tells it (Debian's nbdkit:
# lib/x86_64-linux-gnu/nbdkit/plugins), so ours land where nbdkit finds them by name under the
# same prefix; FALLBACK without pkg-config's answer.
function(fvd_nbdkit_dir out kind fallback)
  set(dir "${fallback}")
  if(PkgConfig_FOUND)
    pkg_get_variable(abs nbdkit ${kind})
    pkg_get_variable(prefix nbdkit prefix)
    if(abs AND prefix)
      file(RELATIVE_PATH dir "${prefix}" "${abs}")
    endif()
  endif()
  set(${out} "${dir}" PARENT_SCOPE)
endfunction()
