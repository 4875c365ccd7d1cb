# Warnings and sanitizers apply to our own targets only (they link this INTERFACE target).
add_library(medtrail_project_options INTERFACE)
target_compile_options(medtrail_project_options INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wno-sign-conversion)
if(MEDTRAIL_SANITIZE)
  target_compile_options(medtrail_project_options INTERFACE
    -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  target_link_options(medtrail_project_options INTERFACE -fsanitize=address,undefined)
endif()
