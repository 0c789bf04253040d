# Every test program, one line each (included from tests/CMakeLists.txt).
bosun_test(test_name unit/test_name.c LABELS unit)
bosun_test(test_log unit/test_log.c LABELS unit)
bosun_test(test_config unit/test_config.c LABELS unit)
bosun_test(test_codec unit/test_codec.c LABELS unit)
bosun_test(test_natsconn integration/test_natsconn.c LABELS integration)
bosun_test(test_nats_auth integration/test_nats_auth.c LABELS integration TIMEOUT 180)
bosun_test(test_cli integration/test_cli.c LABELS integration)
bosun_test(test_agent integration/test_agent.c integration/agent_fixture.c LABELS integration)
bosun_test(test_agent_lifecycle integration/test_agent_lifecycle.c integration/agent_fixture.c LABELS integration)
bosun_test(test_sign unit/test_sign.c LABELS unit)
bosun_test(test_security unit/test_security.c LABELS unit LIBS bosun_agent)
bosun_test(test_security_agents integration/test_security.c integration/agent_fixture.c LABELS integration TIMEOUT 180)
bosun_test(test_exec unit/test_exec.c LABELS unit LIBS bosun_agent)
bosun_test(test_pool unit/test_pool.c LABELS unit LIBS bosun_agent)
bosun_test(test_mirror unit/test_mirror.c LABELS unit LIBS bosun_agent)
bosun_test(test_ledger unit/test_ledger.c LABELS unit LIBS bosun_agent)
bosun_test(test_ratelimit unit/test_ratelimit.c LABELS unit)
bosun_test(test_hoststat unit/test_hoststat.c LABELS unit LIBS bosun_agent)
bosun_test(test_probe unit/test_probe.c LABELS unit LIBS bosun_agent)
bosun_test(test_scripts unit/test_scripts.c LABELS unit LIBS bosun_agent)
bosun_test(test_seal unit/test_seal.c LABELS unit LIBS bosun_agent)
bosun_test(test_mcast unit/test_mcast.c LABELS unit LIBS bosun_agent)
bosun_test(test_election unit/test_election.c LABELS unit LIBS bosun_agent)
bosun_test(test_election_agents integration/test_election_agents.c LABELS integration TIMEOUT 180)
bosun_test(test_election_sim unit/test_election_sim.c sim/sim.c LABELS unit LIBS bosun_agent TIMEOUT 300)
bosun_test(test_election_netns integration/test_election_netns.c LABELS integration netns TIMEOUT 240)
bosun_test(test_inbox unit/test_inbox.c LABELS unit LIBS bosun_central_core)
bosun_test(test_message unit/test_message.c LABELS unit LIBS bosun_central_core)
bosun_test(test_store unit/test_store.c LABELS unit LIBS bosun_central_core)
bosun_test(test_outbox unit/test_outbox.c LABELS unit LIBS bosun_central_core)
bosun_test(test_central integration/test_central.c LABELS integration TIMEOUT 240)
bosun_test(test_recorder unit/test_recorder.c LABELS unit LIBS bosun_central_core)
bosun_test(test_recorder_central integration/test_recorder.c LABELS integration LIBS PkgConfig::ZLIB TIMEOUT 180)
bosun_test(test_cluster integration/test_cluster.c LABELS integration TIMEOUT 180)
bosun_test(test_strmap unit/test_strmap.c LABELS unit LIBS bosun_central_core)
bosun_test(test_timesync unit/test_timesync.c LABELS unit LIBS bosun_central_core)
bosun_test(test_fleet unit/test_fleet.c LABELS unit LIBS bosun_central_core)
bosun_test(test_ownership unit/test_ownership.c LABELS unit LIBS bosun_central_core)
bosun_test(test_namesort unit/test_namesort.c LABELS unit LIBS bosun_central_core)
bosun_test(test_fleet_central integration/test_fleet.c LABELS integration TIMEOUT 120)
bosun_test(test_http integration/test_http.c LABELS integration LIBS PkgConfig::JANSSON TIMEOUT 120)
bosun_test(test_probes integration/test_probes.c LABELS integration TIMEOUT 120)
# The dashboard in a real headless Chromium (selenium + chromedriver, Debian's python3-selenium);
# fails when they are missing (deploy/install-deps.sh installs them). The screenshot goes to Testing/artifacts/dashboard.png.
add_test(NAME test_dashboard
         COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_dashboard.py
                 --central $<TARGET_FILE:bosun-central> --agent $<TARGET_FILE:bosun-agent>
                 --nats-server ${NATS_SERVER} --artifacts ${CMAKE_BINARY_DIR}/Testing/artifacts)
set_tests_properties(test_dashboard PROPERTIES LABELS integration TIMEOUT 180
  ENVIRONMENT "ASAN_OPTIONS=detect_leaks=1:abort_on_error=1;UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1")
add_test(NAME check_deploy COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/deploy/check_deploy.sh ${CMAKE_SOURCE_DIR}
         $<TARGET_FILE:bosun-agent> $<TARGET_FILE:bosun-central>)
set_tests_properties(check_deploy PROPERTIES LABELS deploy TIMEOUT 60)
# Chaos suite (issue 10): the checker's unit test, and the CI run (120 s of faults; about 3 minutes).
# The long run is on demand: build/tests/chaos --duration 1800 --seed N (docs/BENCHMARKS.md, "Chaos").
bosun_test(test_chaos_check chaos/test_chaos_check.c chaos/check.c chaos/history.c LABELS unit chaos)
bosun_test(chaos chaos/chaos_main.c chaos/fleet.c chaos/schedule.c chaos/workload.c chaos/collect.c
           chaos/check.c chaos/history.c chaos/report.c LABELS integration netns chaos
           LIBS PkgConfig::JANSSON PkgConfig::SQLITE TIMEOUT 480)
