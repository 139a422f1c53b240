# muster_add_test(NAME SOURCES src... LIBS lib... [TIMEOUT s])
# Builds a cmocka unit test and registers it with ctest under a timeout, the
# way nng_test() does; every unit test goes through here so that the
# sanitizer and valgrind runs cover all of them.  With MUSTER_VALGRIND=ON
# each test is registered a second time, as NAME_valgrind (label
# "valgrind"), running under memcheck with leaks as errors.
option(MUSTER_VALGRIND "Also register every unit test under valgrind" OFF)

function(muster_add_test name)
  cmake_parse_arguments(T "" "TIMEOUT" "SOURCES;LIBS" ${ARGN})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 60)
  endif()
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE ${T_LIBS} PkgConfig::CMOCKA)
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES TIMEOUT ${T_TIMEOUT} LABELS unit)
  if(MUSTER_VALGRIND)
    math(EXPR vg_timeout "${T_TIMEOUT} * 10")
    add_test(NAME ${name}_valgrind
             COMMAND valgrind --quiet --error-exitcode=1 --leak-check=full
                     --errors-for-leak-kinds=definite,indirect
                     --track-fds=no $<TARGET_FILE:${name}>)
    set_tests_properties(${name}_valgrind PROPERTIES TIMEOUT ${vg_timeout}
                         LABELS valgrind)
  endif()
endfunction()
