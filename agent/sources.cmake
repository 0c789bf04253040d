# bosun-agent sources (included from the root CMakeLists.txt). The agent's
# modules live in a static library so tests and benchmarks can link them.
add_library(bosun_agent STATIC
  agent/agent.c
  agent/commands.c
  agent/dashboard.c
  agent/election.c
  agent/election_methods.c
  agent/elector.c
  agent/exec.c
  agent/heartbeat.c
  agent/hoststat.c
  agent/ledger.c
  agent/mcast.c
  agent/methods.c
  agent/mirror.c
  agent/pool.c
  agent/probe.c
  agent/prober.c
  agent/scripts.c
  agent/seal.c
  agent/security.c
)
target_include_directories(bosun_agent PUBLIC ${CMAKE_SOURCE_DIR}/agent)
target_link_libraries(bosun_agent PUBLIC bosun PkgConfig::SQLITE m)

add_executable(bosun-agent agent/main.c)
target_link_libraries(bosun-agent PRIVATE bosun_agent)
