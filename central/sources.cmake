# bosun-central sources (included from the root CMakeLists.txt).
add_executable(bosun-central
  central/main.c
  central/central.c
  central/tools.c
)
target_include_directories(bosun-central PRIVATE ${CMAKE_SOURCE_DIR}/central)
target_link_libraries(bosun-central PRIVATE bosun)
