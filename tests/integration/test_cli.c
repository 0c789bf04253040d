/*
 * test_cli.c - both binaries' command lines as an operator meets them:
 * help, bad flags, bad config files (a typo names the file and the key),
 * an agent that runs on defaults with no config file and no server, and a
 * second daemon refused a data directory another one is using.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "harness.h"

static char *dir;

static int setup(void **state)
{
    (void)state;
    dir = harness_tmpdir("cli");
    return dir ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    harness_rmtree(dir);
    free(dir);
    return 0;
}

/* Runs argv; checks the exit code and that the output holds every needle. */
static void expect(char *const argv[], int code, const char *const *needles)
{
    char *out = NULL;
    int rc = -1;
    assert_int_equal(harness_run(argv, 20000, &out, &rc), 0);
    if (rc != code)
        fprintf(stderr, "%s exited %d, wanted %d; output:\n%s\n", argv[0], rc, code, out);
    assert_int_equal(rc, code);
    for (size_t i = 0; needles && needles[i]; i++) {
        if (strstr(out, needles[i]) == NULL)
            fprintf(stderr, "missing '%s' in:\n%s\n", needles[i], out);
        assert_non_null(strstr(out, needles[i]));
    }
    free(out);
}

static void test_help_and_version(void **state)
{
    (void)state;
    const char *agent_help[] = {"usage: bosun-agent", "--brokerAddress", "--max-run-secs", NULL};
    expect((char *[]){BOSUN_AGENT_BIN, "--help", NULL}, 0, agent_help);
    const char *central_help[] = {"usage: bosun-central", "watch", "request", NULL};
    expect((char *[]){BOSUN_CENTRAL_BIN, "--help", NULL}, 0, central_help);
    const char *version[] = {"bosun-agent " BOSUN_VERSION, NULL};
    expect((char *[]){BOSUN_AGENT_BIN, "--version", NULL}, 0, version);
}

static void test_bad_flags_exit_2_with_reason(void **state)
{
    (void)state;
    const char *unknown[] = {"unknown option '--bogus'", "usage:", NULL};
    expect((char *[]){BOSUN_AGENT_BIN, "--bogus", NULL}, 2, unknown);
    expect((char *[]){BOSUN_CENTRAL_BIN, "--bogus", NULL}, 2, unknown);
    const char *level[] = {"--log-level must be an integer from 0 to 5, got '9'", NULL};
    expect((char *[]){BOSUN_AGENT_BIN, "--log-level", "9", "--check-config", NULL}, 2, level);
    expect((char *[]){BOSUN_CENTRAL_BIN, "--log-level", "9", "--check-config", NULL}, 2, level);
    const char *node[] = {"'ship.1'", "not allowed", NULL};
    expect((char *[]){BOSUN_AGENT_BIN, "--id", "ship.1", "--check-config", NULL}, 2, node);
    expect((char *[]){BOSUN_CENTRAL_BIN, "--node", "ship.1", "--check-config", NULL}, 2, node);
    const char *missing[] = {"needs a value", NULL};
    expect((char *[]){BOSUN_AGENT_BIN, "--id", NULL}, 2, missing);
    const char *run[] = {"--max-run-secs must be a number", NULL};
    expect((char *[]){BOSUN_AGENT_BIN, "--max-run-secs", "soon", NULL}, 2, run);
}

static void test_config_typo_names_file_and_key(void **state)
{
    (void)state;
    char path[600];
    snprintf(path, sizeof path, "%s/typo.json", dir);
    assert_int_equal(harness_write_file(path, "{\"id\": \"ship1\",\n \"networking\": {\"prot\": 8513}}\n"), 0);
    const char *agent_msg[] = {path, "unknown key 'networking.prot'", "did you mean 'networking.port'?", NULL};
    expect((char *[]){BOSUN_AGENT_BIN, "--config-file", path, NULL}, 2, agent_msg);

    assert_int_equal(harness_write_file(path, "{\"id\": \"central\", \"loging\": {\"level\": 3}}\n"), 0);
    const char *central_msg[] = {path, "unknown key 'loging'", "did you mean 'logging'?", NULL};
    expect((char *[]){BOSUN_CENTRAL_BIN, "--config-file", path, NULL}, 2, central_msg);

    assert_int_equal(harness_write_file(path, "{\"networking\": {\"port\": 70000}}\n"), 0);
    const char *range[] = {path, "'networking.port'", "1 to 65535", "70000", NULL};
    expect((char *[]){BOSUN_AGENT_BIN, "--config-file", path, NULL}, 2, range);

    assert_int_equal(harness_write_file(path, "{\"id\": \"ship1\",\n  \"timing\": {\n}\n"), 0);
    const char *json[] = {path, "invalid JSON", NULL};
    expect((char *[]){BOSUN_AGENT_BIN, "--config-file", path, NULL}, 2, json);

    char nofile[600];
    snprintf(nofile, sizeof nofile, "%s/absent.json", dir);
    const char *absent[] = {nofile, "cannot read", NULL};
    expect((char *[]){BOSUN_AGENT_BIN, "--config-file", nofile, NULL}, 2, absent);
}

static void test_example_configs_are_valid(void **state)
{
    (void)state;
    const char *ok[] = {"configuration OK", NULL};
    expect((char *[]){BOSUN_AGENT_BIN, "--config-file", BOSUN_SOURCE_DIR "/deploy/examples/agent.json",
                      "--check-config", NULL},
           0, ok);
    expect((char *[]){BOSUN_CENTRAL_BIN, "--config-file",
                      BOSUN_SOURCE_DIR "/deploy/examples/central.json", "--check-config", NULL},
           0, ok);
}

static void test_agent_runs_on_defaults_without_server(void **state)
{
    (void)state;
    char data[600];
    snprintf(data, sizeof data, "%s/data", dir);
    /* Port 1 on loopback: nothing listens; the agent keeps trying and runs on. */
    const char *msgs[] = {"node cli-node running", "maxRunSecs", "stopped", NULL};
    expect((char *[]){BOSUN_AGENT_BIN, "--id", "cli-node", "--data-dir", data, "--brokerAddress",
                      "nats://127.0.0.1:1", "--max-run-secs", "1", NULL},
           0, msgs);
}

/* Starts prog on a data directory, then a second one on the same: refused, naming the first's pid. */
static void expect_dir_locked(const char *prog, const char *name, const char *running)
{
    char data[600], log[700], pid[64];
    snprintf(data, sizeof data, "%s/%s-data", dir, name);
    snprintf(log, sizeof log, "%s/%s-first.log", dir, name);
    char *first_argv[] = {(char *)prog, "--data-dir", data, "--brokerAddress", "nats://127.0.0.1:1", NULL};
    harness_proc_t *first = NULL;
    assert_int_equal(harness_proc_start(first_argv, log, &first), 0);
    assert_true(harness_proc_wait_log(first, running, 10000));
    snprintf(pid, sizeof pid, "(pid %d)", (int)harness_proc_pid(first));
    const char *msgs[] = {"is in use by another", name, pid, NULL};
    expect(first_argv, 1, msgs);
    assert_true(harness_proc_running(first)); /* the first is untouched */
    int ws = -1;
    assert_int_equal(harness_proc_stop(first, 10000, &ws), 0);
    assert_true(WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
}

static void test_second_daemon_on_a_data_dir_is_refused(void **state)
{
    (void)state;
    expect_dir_locked(BOSUN_AGENT_BIN, "bosun-agent", "running");
    expect_dir_locked(BOSUN_CENTRAL_BIN, "bosun-central", "running");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_help_and_version),
        cmocka_unit_test(test_bad_flags_exit_2_with_reason),
        cmocka_unit_test(test_config_typo_names_file_and_key),
        cmocka_unit_test(test_example_configs_are_valid),
        cmocka_unit_test(test_agent_runs_on_defaults_without_server),
        cmocka_unit_test(test_second_daemon_on_a_data_dir_is_refused),
    };
    return cmocka_run_group_tests_name("cli", tests, setup, teardown);
}
