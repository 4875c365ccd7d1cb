# Warnings and sanitizers apply to our own targets only (they link this INTERFACE target).
add_library(medtrail_project_options INTERFACE)
target_compile_options(medtrail_project_options INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wno-sign-conversion)
if(MEDTRAIL_SANITIZE)
  target_compile_options(medtrail_project_options INTERFACE
    -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  target_link_options(medtrail_project_options INTERFACE -fsanitize=address,undefined)
endif()
if(MEDTRAIL_TSAN)
  if(MEDTRAIL_SANITIZE OR MEDTRAIL_FUZZ)
    message(FATAL_ERROR "MEDTRAIL_TSAN cannot be combined with AddressSanitizer builds")
  endif()
  # Ingest and verify each run a worker thread beside the calling one (docs/ARCHITECTURE.md).
  target_compile_options(medtrail_project_options INTERFACE -fsanitize=thread -fno-omit-frame-pointer)
  target_link_options(medtrail_project_options INTERFACE -fsanitize=thread)
endif()
if(MEDTRAIL_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "MEDTRAIL_FUZZ needs clang (libFuzzer): CXX=clang++ CC=clang")
  endif()
  # Coverage instrumentation for everything; the fuzzer's main is linked into fuzz_* only.
  target_compile_options(medtrail_project_options INTERFACE
    -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  target_link_options(medtrail_project_options INTERFACE -fsanitize=address,undefined)
endif()
