/*
 * test_agent_lifecycle.c - exactly-once execution across retries, crashes and
 * restarts of a real agent, and its survival of a NATS server restart.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent_fixture.h"

static agent_fixture_t fx;

static int setup(void **state)
{
    (void)state;
    return fixture_start(&fx, "lc1", "\"commands\": {\"shutdownGraceSecs\": 0.5}");
}

static int teardown(void **state)
{
    (void)state;
    fixture_stop(&fx);
    return 0;
}

static Bosun__Ack *shell(const char *id, const char *script, int timeout_ms)
{
    const char *argv[] = {"bash", "-c", script, NULL};
    return client_command(fx.nc, "lc1", "shellCommand", id, argv, 0, timeout_ms);
}

static int count_lines(const char *path)
{
    char *text = harness_read_file(path, NULL);
    int n = 0;
    for (char *p = text; p && *p; p++)
        n += *p == '\n';
    free(text);
    return n;
}

typedef struct {
    const char *path;
    int lines;
} lines_at_least_t;

static bool has_lines(void *arg)
{
    lines_at_least_t *l = arg;
    return count_lines(l->path) >= l->lines;
}

static void test_duplicate_id_runs_once(void **state)
{
    (void)state;
    char marker[600], script[800];
    snprintf(marker, sizeof marker, "%s/dup.marker", fx.dir);
    snprintf(script, sizeof script, "echo ran >> %s; sleep 1.5; echo done", marker);

    /* First delivery: we give up waiting long before it finishes. */
    Bosun__Ack *ack = shell("dup-1", script, 300);
    assert_null(ack);
    /* A retry while it runs: RUNNING. */
    ack = shell("dup-1", script, 2000);
    assert_non_null(ack);
    assert_int_equal(ack->status, BOSUN__ACK_STATUS__ACK_STATUS_RUNNING);
    bosun__ack__free_unpacked(ack, NULL);
    /* A retry after it finished: the stored result, same times. */
    usleep(2000000);
    ack = shell("dup-1", script, 2000);
    assert_non_null(ack);
    assert_int_equal(ack->status, BOSUN__ACK_STATUS__ACK_STATUS_OK);
    assert_int_equal(ack->stdout.len, 5);
    assert_memory_equal(ack->stdout.data, "done\n", 5);
    uint64_t start = ack->start_ms;
    bosun__ack__free_unpacked(ack, NULL);
    ack = shell("dup-1", script, 2000);
    assert_non_null(ack);
    assert_int_equal(ack->start_ms, start);
    bosun__ack__free_unpacked(ack, NULL);
    assert_int_equal(count_lines(marker), 1);

    /* The record survives a restart of the agent. */
    assert_int_equal(harness_proc_stop(fx.agent, 5000, NULL), 0);
    fx.agent = NULL;
    assert_int_equal(fixture_start_agent(&fx), 0);
    ack = shell("dup-1", script, 2000);
    assert_non_null(ack);
    assert_int_equal(ack->status, BOSUN__ACK_STATUS__ACK_STATUS_OK);
    assert_int_equal(ack->start_ms, start);
    bosun__ack__free_unpacked(ack, NULL);
    assert_int_equal(count_lines(marker), 1);
}

/*
 * Regression (chaos suite, seed 2): a retry of an id that ran, arriving
 * after the command's ttl, was answered EXPIRED "not run" because the ttl
 * was checked before the ledger. It must get the stored result; a new id
 * past its ttl is still refused and not run.
 */
static void test_retry_after_ttl_gets_stored_result(void **state)
{
    (void)state;
    char marker[600], script[800];
    snprintf(marker, sizeof marker, "%s/late.marker", fx.dir);
    snprintf(script, sizeof script, "echo ran >> %s", marker);
    char *argv[] = {"bash", "-c", script};
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    Bosun__Command c = BOSUN__COMMAND__INIT;
    c.id = "late-1";
    c.node = "lc1";
    c.method = "shellCommand";
    c.data = argv;
    c.n_data = 3;
    c.created_ms = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
    c.ttl_ms = 1000;
    Bosun__Ack *ack = client_send(fx.nc, "lc1.command.shellCommand", &c, 5000);
    assert_non_null(ack);
    assert_int_equal(ack->status, BOSUN__ACK_STATUS__ACK_STATUS_OK);
    uint64_t start = ack->start_ms;
    bosun__ack__free_unpacked(ack, NULL);

    usleep(1500000); /* the ttl has run out: the Ack was "lost", central asks again */
    ack = client_send(fx.nc, "lc1.command.shellCommand", &c, 5000);
    assert_non_null(ack);
    assert_int_equal(ack->status, BOSUN__ACK_STATUS__ACK_STATUS_OK);
    assert_int_equal(ack->start_ms, start);
    bosun__ack__free_unpacked(ack, NULL);
    assert_int_equal(count_lines(marker), 1);

    /* A new id past its ttl: EXPIRED, not run, and not remembered as run. */
    c.id = "late-2";
    for (int i = 0; i < 2; i++) {
        ack = client_send(fx.nc, "lc1.command.shellCommand", &c, 5000);
        assert_non_null(ack);
        assert_int_equal(ack->status, BOSUN__ACK_STATUS__ACK_STATUS_EXPIRED);
        assert_non_null(strstr(ack->error, "not run"));
        bosun__ack__free_unpacked(ack, NULL);
    }
    assert_int_equal(count_lines(marker), 1);
}

static bool pid_alive(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return false;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    return p != NULL && p[2] != 'Z' && p[2] != 'X';
}

static bool pid_dead(void *arg) { return !pid_alive((pid_t)(intptr_t)arg); }

static void test_kill9_mid_command_reports_interrupted_never_reruns(void **state)
{
    (void)state;
    char marker[600], pidfile[600], script[1600];
    snprintf(marker, sizeof marker, "%s/k9.marker", fx.dir);
    snprintf(pidfile, sizeof pidfile, "%s/k9.pid", fx.dir);
    /* The grandchild sleep outlives bash when the agent dies. */
    snprintf(script, sizeof script, "echo ran >> %s; sleep 60 & echo $! > %s; wait", marker, pidfile);
    assert_null(shell("k9-1", script, 200));
    lines_at_least_t want = {marker, 1};
    assert_true(harness_wait_until(has_lines, &want, 5000));
    usleep(200000);
    char *text = harness_read_file(pidfile, NULL);
    assert_non_null(text);
    pid_t sleeper = (pid_t)atoi(text);
    free(text);
    assert_true(pid_alive(sleeper));

    int ws = 0;
    assert_int_equal(harness_proc_signal(fx.agent, SIGKILL), 0);
    assert_int_equal(harness_proc_wait(fx.agent, 5000, &ws), 0);
    assert_true(WIFSIGNALED(ws));
    harness_proc_stop(fx.agent, 1000, NULL);
    fx.agent = NULL;

    assert_int_equal(fixture_start_agent(&fx), 0);
    Bosun__Ack *ack = shell("k9-1", script, 2000);
    assert_non_null(ack);
    assert_int_equal(ack->status, BOSUN__ACK_STATUS__ACK_STATUS_INTERRUPTED);
    assert_non_null(strstr(ack->error, "not run again"));
    bosun__ack__free_unpacked(ack, NULL);
    assert_int_equal(count_lines(marker), 1);
    /* What the cut-off command left behind was killed on restart. */
    assert_true(harness_wait_until(pid_dead, (void *)(intptr_t)sleeper, 3000));
    assert_true(harness_proc_wait_log(fx.agent, "recorded INTERRUPTED", 1000));
}

static void test_sigterm_interrupts_after_grace_and_exits_zero(void **state)
{
    (void)state;
    assert_null(shell("term-1", "sleep 30", 300));
    int ws = 0;
    assert_int_equal(harness_proc_signal(fx.agent, SIGTERM), 0);
    /* shutdownGraceSecs 0.5 plus the TERM->KILL grace of the group. */
    assert_int_equal(harness_proc_wait(fx.agent, 6000, &ws), 0);
    assert_true(WIFEXITED(ws));
    assert_int_equal(WEXITSTATUS(ws), 0);
    harness_proc_stop(fx.agent, 1000, NULL);
    fx.agent = NULL;

    assert_int_equal(fixture_start_agent(&fx), 0);
    Bosun__Ack *ack = shell("term-1", "sleep 30", 2000);
    assert_non_null(ack);
    assert_int_equal(ack->status, BOSUN__ACK_STATUS__ACK_STATUS_INTERRUPTED);
    assert_non_null(strstr(ack->error, "shut down"));
    bosun__ack__free_unpacked(ack, NULL);
}

static void test_heartbeats_resume_after_nats_restart(void **state)
{
    (void)state;
    natsSubscription *sub = NULL;
    assert_int_equal(natsConnection_SubscribeSync(&sub, fx.nc, "lc1.event.heartbeat"), NATS_OK);
    Bosun__Heartbeat *hb = client_next_heartbeat(sub, 2000);
    assert_non_null(hb);
    uint64_t instance = hb->instance_id, seq = hb->sequence;
    uint32_t pid = hb->pid;
    assert_int_equal(hb->interval_ms, 100);
    assert_string_equal(hb->node, "lc1");
    assert_non_null(hb->host);
    assert_true(hb->host->cores >= 1);
    assert_true(hb->host->mem_total_bytes > 0);
    assert_true(strlen(hb->host->hostname) > 0);
    bosun__heartbeat__free_unpacked(hb, NULL);

    assert_int_equal(harness_natsd_kill(fx.natsd), 0);
    usleep(1000000);
    assert_int_equal(harness_natsd_restart(fx.natsd), 0);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t restarted_ms = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;

    /* Our own client reconnects too; then fresh heartbeats arrive from the
     * same agent process (same instance, higher sequence). Heartbeats made
     * while the server was down come first, from the reconnect buffer. */
    Bosun__Heartbeat *after = NULL;
    for (int i = 0; i < 100 && after == NULL; i++) {
        Bosun__Heartbeat *h = client_next_heartbeat(sub, 100);
        /* nats.c reports the reconnection on its own thread, so the first
         * heartbeats after it may still count 0: wait for one that counts it. */
        if (h != NULL && h->send_time_ms > restarted_ms + 300 && h->counters &&
            h->counters->nats_reconnects >= 1)
            after = h;
        else if (h != NULL)
            bosun__heartbeat__free_unpacked(h, NULL);
    }
    assert_non_null(after);
    assert_true(after->sequence > seq);
    assert_int_equal(after->instance_id, instance);
    assert_int_equal(after->pid, pid);
    assert_true(after->counters->nats_reconnects >= 1);
    bosun__heartbeat__free_unpacked(after, NULL);
    natsSubscription_Destroy(sub);
    assert_true(harness_proc_running(fx.agent));

    const char *none[] = {NULL};
    Bosun__Ack *ack = client_command(fx.nc, "lc1", "ping", "after-restart", none, 0, 2000);
    assert_non_null(ack);
    assert_int_equal(ack->status, BOSUN__ACK_STATUS__ACK_STATUS_OK);
    bosun__ack__free_unpacked(ack, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_duplicate_id_runs_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retry_after_ttl_gets_stored_result, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kill9_mid_command_reports_interrupted_never_reruns,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_sigterm_interrupts_after_grace_and_exits_zero, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_heartbeats_resume_after_nats_restart, setup, teardown),
    };
    return cmocka_run_group_tests_name("agent lifecycle", tests, NULL, NULL);
}
