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
