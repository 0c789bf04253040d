# bosun-agent sources (included from the root CMakeLists.txt). The agent's
# modules live in a static library so tests and benchmarks can link them.
add_library(bosun_agent STATIC
  agent/agent.c
  agent/commands.c
  agent/exec.c
  agent/heartbeat.c
  agent/hoststat.c
  agent/ledger.c
  agent/methods.c
  agent/pool.c
)
target_include_directories(bosun_agent PUBLIC ${CMAKE_SOURCE_DIR}/agent)
target_link_libraries(bosun_agent PUBLIC bosun PkgConfig::SQLITE)

add_executable(bosun-agent agent/main.c)
target_link_libraries(bosun-agent PRIVATE bosun_agent)
