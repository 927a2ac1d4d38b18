# sc_add_subdirectories(): include every direct subdirectory that has a CMakeLists.txt,
# so a new service or test folder needs no edit of a shared file.
function(sc_add_subdirectories)
  file(GLOB children LIST_DIRECTORIES true RELATIVE ${CMAKE_CURRENT_SOURCE_DIR} ${CMAKE_CURRENT_SOURCE_DIR}/*)
  list(SORT children)
  foreach(child ${children})
    if(IS_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}/${child} AND EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/${child}/CMakeLists.txt)
      add_subdirectory(${child})
    endif()
  endforeach()
endfunction()

# sc_add_gtest(NAME SOURCES... LIBS ... [LABELS ...] [TIMEOUT s]): a GoogleTest binary registered with CTest.
function(sc_add_gtest name)
  cmake_parse_arguments(T "" "TIMEOUT" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE ${T_LIBS} GTest::gtest GTest::gtest_main)
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES TIMEOUT ${T_TIMEOUT} LABELS "${T_LABELS}"
    ENVIRONMENT "SC_BUILD_DIR=${CMAKE_BINARY_DIR};SC_SOURCE_DIR=${CMAKE_SOURCE_DIR};LSAN_OPTIONS=suppressions=${CMAKE_SOURCE_DIR}/tests/support/lsan.supp")
endfunction()

# sc_add_fuzzer(NAME SOURCE LIBS...): a libFuzzer target (SC_FUZZ=ON, clang) plus a CTest entry
# that runs it over its seed corpus for a bounded number of runs. Under SC_FUZZ every library is
# compiled with coverage instrumentation (see the top-level CMakeLists.txt), so a fuzzer that
# links sc_proto or sc_core sees inside them.
function(sc_add_fuzzer name source)
  if(NOT SC_FUZZ)
    return()
  endif()
  add_executable(${name} ${source})
  target_link_options(${name} PRIVATE -fsanitize=fuzzer)
  target_link_libraries(${name} PRIVATE ${ARGN})
  set(corpus ${CMAKE_SOURCE_DIR}/tests/fuzz/corpus/${name})
  # libFuzzer writes new inputs into its first corpus directory: give it one in the build
  # tree, so the seed corpus in the source tree is only read.
  set(work ${CMAKE_CURRENT_BINARY_DIR}/${name}_corpus)
  file(MAKE_DIRECTORY ${work})
  add_test(NAME ${name} COMMAND ${name} -runs=20000 -max_len=4096 ${work} ${corpus})
  set_tests_properties(${name} PROPERTIES TIMEOUT 300 LABELS fuzz)
endfunction()
