# bosun-central sources (included from the root CMakeLists.txt). Central's
# modules live in a static library so tests and benchmarks can link them.

# The dashboard's HTML, CSS and JavaScript, compiled into the binary.
set(BOSUN_DASHBOARD_FILES
  ${CMAKE_SOURCE_DIR}/central/dashboard/index.html
  ${CMAKE_SOURCE_DIR}/central/dashboard/dashboard.css
  ${CMAKE_SOURCE_DIR}/central/dashboard/dashboard.js)
add_custom_command(
  OUTPUT ${CMAKE_BINARY_DIR}/generated/dashboard_assets.c
  COMMAND ${CMAKE_COMMAND} -DSRC=${CMAKE_SOURCE_DIR}/central/dashboard
          -DOUT=${CMAKE_BINARY_DIR}/generated/dashboard_assets.c
          -P ${CMAKE_SOURCE_DIR}/central/dashboard/embed.cmake
  DEPENDS ${BOSUN_DASHBOARD_FILES} ${CMAKE_SOURCE_DIR}/central/dashboard/embed.cmake
  COMMENT "embedding the dashboard (central/dashboard/)")
file(MAKE_DIRECTORY ${CMAKE_BINARY_DIR}/generated)

add_library(bosun_central_core STATIC
  central/central.c
  central/dispatch.c
  central/fleet.c
  central/fleetview.c
  central/http.c
  central/http_api.c
  central/http_metrics.c
  ${CMAKE_BINARY_DIR}/generated/dashboard_assets.c
  central/inbox.c
  central/message.c
  central/msgstats.c
  central/namesort.c
  central/outbox.c
  central/ownership.c
  central/recorder.c
  central/results.c
  central/store.c
  central/strmap.c
  central/telemetry.c
  central/timesync.c
)
target_include_directories(bosun_central_core PUBLIC ${CMAKE_SOURCE_DIR}/central)
target_link_libraries(bosun_central_core PUBLIC bosun PkgConfig::SQLITE PkgConfig::ZLIB PkgConfig::MHD m)

add_executable(bosun-central
  central/main.c
  central/replay.c
  central/tools.c
  central/tools_store.c
  central/tools_health.c
)
target_include_directories(bosun-central PRIVATE ${CMAKE_SOURCE_DIR}/central)
target_link_libraries(bosun-central PRIVATE bosun bosun_central_core)
