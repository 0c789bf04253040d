# Every test program, one line each (included from tests/CMakeLists.txt).
bosun_test(test_name unit/test_name.c LABELS unit)
bosun_test(test_log unit/test_log.c LABELS unit)
bosun_test(test_config unit/test_config.c LABELS unit)
bosun_test(test_codec unit/test_codec.c LABELS unit)
bosun_test(test_natsconn integration/test_natsconn.c LABELS integration)
bosun_test(test_cli integration/test_cli.c LABELS integration)
bosun_test(test_agent integration/test_agent.c integration/agent_fixture.c LABELS integration)
bosun_test(test_agent_lifecycle integration/test_agent_lifecycle.c integration/agent_fixture.c LABELS integration)
