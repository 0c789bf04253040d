/*
 * test_agent.c - a real bosun-agent answering commands through a real
 * nats-server: each built-in method's round trip, output bounds, method
 * timeouts that kill the whole process group, hostile input, and a long
 * command that must not hold up pings or heartbeats.
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
#include <sys/time.h>
#include <unistd.h>

#include "agent_fixture.h"

static agent_fixture_t fx;

static int setup(void **state)
{
    (void)state;
    return fixture_start(&fx, "ship1",
                         "\"commands\": {\"maxOutputBytes\": 1024, \"maxPayloadBytes\": 65536,"
                         " \"maxConcurrent\": 4, \"maxQueued\": 2}");
}

static int teardown(void **state)
{
    (void)state;
    fixture_stop(&fx);
    return 0;
}

static uint64_t wall_us(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (uint64_t)tv.tv_sec * 1000000u + (uint64_t)tv.tv_usec;
}

static Bosun__Ack *shell(const char *id, const char *script, uint64_t timeout_ms)
{
    const char *argv[] = {"bash", "-c", script, NULL};
    return client_command(fx.nc, "ship1", "shellCommand", id, argv, timeout_ms, 10000);
}

static void test_ping_returns_agent_clock(void **state)
{
    (void)state;
    const char *none[] = {NULL};
    uint64_t before = wall_us();
    Bosun__Ack *ack = client_command(fx.nc, "ship1", "ping", "ping-1", none, 0, 2000);
    uint64_t after = wall_us();
    assert_non_null(ack);
    assert_int_equal(ack->status, BOSUN__ACK_STATUS__ACK_STATUS_OK);
    assert_string_equal(ack->id, "ping-1");
    assert_string_equal(ack->node, "ship1");
    /* Same machine, same clock: the agent's times lie inside our window. */
    assert_in_range(ack->recv_time_us, before, after);
    assert_in_range(ack->reply_time_us, ack->recv_time_us, after);
    assert_int_not_equal(ack->instance_id, 0);
    bosun__ack__free_unpacked(ack, NULL);
}

static void test_shell_command_captures_output_and_exit_code(void **state)
{
    (void)state;
    Bosun__Ack *ack = shell("sh-1", "echo out; echo err >&2; exit 3", 0);
    assert_non_null(ack);
    assert_int_equal(ack->status, BOSUN__ACK_STATUS__ACK_STATUS_FAILED);
    assert_int_equal(ack->exit_code, 3);
    assert_int_equal(ack->stdout.len, 4);
    assert_memory_equal(ack->stdout.data, "out\n", 4);
    assert_int_equal(ack->stderr.len, 4);
    assert_memory_equal(ack->stderr.data, "err\n", 4);
    assert_false(ack->stdout_truncated);
    assert_string_equal(ack->error, "exited with code 3");
    assert_true(ack->end_ms >= ack->start_ms);
    bosun__ack__free_unpacked(ack, NULL);

    ack = shell("sh-2", "printf 'hello %s' \"$BOSUN_NODE\"", 0);
    assert_non_null(ack);
    assert_int_equal(ack->status, BOSUN__ACK_STATUS__ACK_STATUS_OK);
    assert_int_equal(ack->exit_code, 0);
    assert_int_equal(ack->stdout.len, strlen("hello ship1"));
    assert_memory_equal(ack->stdout.data, "hello ship1", ack->stdout.len);
    bosun__ack__free_unpacked(ack, NULL);
}

static void test_shell_output_is_bounded_with_flag(void **state)
{
    (void)state;
    Bosun__Ack *ack = shell("sh-big", "head -c 100000 /dev/zero | tr '\\0' x; head -c 10 /dev/zero >&2", 0);
    assert_non_null(ack);
    assert_int_equal(ack->status, BOSUN__ACK_STATUS__ACK_STATUS_OK);
    assert_int_equal(ack->stdout.len, 1024);
    assert_true(ack->stdout_truncated);
    assert_int_equal(ack->stderr.len, 10);
    assert_false(ack->stderr_truncated);
    bosun__ack__free_unpacked(ack, NULL);
}

static void test_missing_program_fails_with_reason(void **state)
{
    (void)state;
    const char *argv[] = {"/nonexistent/prog", "x", NULL};
    Bosun__Ack *ack = client_command(fx.nc, "ship1", "shellCommand", "sh-missing", argv, 0, 5000);
    assert_non_null(ack);
    assert_int_equal(ack->status, BOSUN__ACK_STATUS__ACK_STATUS_FAILED);
    assert_int_equal(ack->exit_code, 127);
    assert_non_null(strstr(ack->error, "cannot execute '/nonexistent/prog'"));
    assert_non_null(strstr(ack->error, "No such file"));
    bosun__ack__free_unpacked(ack, NULL);
}

static bool pid_gone(pid_t pid)
{
    if (kill(pid, 0) != 0 && errno == ESRCH)
        return true;
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return true;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    return p != NULL && (p[2] == 'Z' || p[2] == 'X'); /* a zombie is dead */
}

static bool pid_gone_cond(void *arg) { return pid_gone((pid_t)(intptr_t)arg); }

static void test_method_timeout_kills_whole_group(void **state)
{
    (void)state;
    char pidfile[600], script[1200];
    snprintf(pidfile, sizeof pidfile, "%s/bg.pid", fx.dir);
    /* A background grandchild that ignores SIGTERM, and a foreground sleep. */
    snprintf(script, sizeof script,
             "(trap '' TERM; exec sleep 300) & echo $! > %s; sleep 300", pidfile);
    Bosun__Ack *ack = shell("sh-timeout", script, 500);
    assert_non_null(ack);
    assert_int_equal(ack->status, BOSUN__ACK_STATUS__ACK_STATUS_TIMEOUT);
    assert_non_null(strstr(ack->error, "methodTimeout of 500 ms"));
    assert_true(ack->end_ms - ack->start_ms >= 500);
    assert_true(ack->end_ms - ack->start_ms < 5000);
    bosun__ack__free_unpacked(ack, NULL);

    char *text = harness_read_file(pidfile, NULL);
    assert_non_null(text);
    pid_t bg = (pid_t)atoi(text);
    free(text);
    assert_true(bg > 1);
    assert_true(harness_wait_until(pid_gone_cond, (void *)(intptr_t)bg, 3000));
}

static void test_text_logging_appends_lines(void **state)
{
    (void)state;
    const char *lines[] = {"first line", "second line\n", NULL};
    Bosun__Ack *ack = client_command(fx.nc, "ship1", "textLogging", "tl-1", lines, 0, 5000);
    assert_non_null(ack);
    assert_int_equal(ack->status, BOSUN__ACK_STATUS__ACK_STATUS_OK);
    bosun__ack__free_unpacked(ack, NULL);

    /* The same as an event, published to <node>.event.textLogging. */
    Bosun__Event ev = BOSUN__EVENT__INIT;
    char *data[] = {"from an event"};
    ev.id = "tl-ev-1";
    ev.node = "ship1";
    ev.method = "textLogging";
    ev.data = data;
    ev.n_data = 1;
    uint8_t buf[256];
    size_t len = bosun__event__pack(&ev, buf);
    ack = client_raw(fx.nc, "ship1.event.textLogging", buf, (int)len, 5000);
    assert_non_null(ack);
    assert_int_equal(ack->status, BOSUN__ACK_STATUS__ACK_STATUS_OK);
    bosun__ack__free_unpacked(ack, NULL);
    /* Delivered twice (a retry): logged once. */
    ack = client_raw(fx.nc, "ship1.event.textLogging", buf, (int)len, 5000);
    assert_non_null(ack);
    assert_int_equal(ack->status, BOSUN__ACK_STATUS__ACK_STATUS_OK);
    bosun__ack__free_unpacked(ack, NULL);

    char path[600];
    snprintf(path, sizeof path, "%s/textLogging.log", fx.data_dir);
    char *text = harness_read_file(path, NULL);
    assert_non_null(text);
    assert_string_equal(text, "first line\nsecond line\nfrom an event\n");
    free(text);
}

static void test_unknown_method_is_rejected_with_reason(void **state)
{
    (void)state;
    const char *none[] = {NULL};
    Bosun__Ack *ack = client_command(fx.nc, "ship1", "reboot", "unk-1", none, 0, 2000);
    assert_non_null(ack);
    assert_int_equal(ack->status, BOSUN__ACK_STATUS__ACK_STATUS_REJECTED);
    assert_non_null(strstr(ack->error, "unknown command method 'reboot'"));
    assert_non_null(strstr(ack->error, "shellCommand"));
    bosun__ack__free_unpacked(ack, NULL);
}

static void test_hostile_payloads_are_rejected_and_agent_lives(void **state)
{
    (void)state;
    /* Random bytes. */
    uint8_t junk[512];
    srand(42);
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (uint8_t)rand();
    Bosun__Ack *ack = client_raw(fx.nc, "ship1.command.shellCommand", junk, sizeof junk, 2000);
    assert_non_null(ack);
    assert_int_equal(ack->status, BOSUN__ACK_STATUS__ACK_STATUS_REJECTED);
    assert_non_null(strstr(ack->error, "Command"));
    bosun__ack__free_unpacked(ack, NULL);

    /* A truncated protobuf. */
    Bosun__Command cmd = BOSUN__COMMAND__INIT;
    char *argv[] = {"true"};
    cmd.id = "trunc-1";
    cmd.node = "ship1";
    cmd.method = "shellCommand";
    cmd.data = argv;
    cmd.n_data = 1;
    uint8_t buf[256];
    size_t len = bosun__command__pack(&cmd, buf);
    ack = client_raw(fx.nc, "ship1.command.shellCommand", buf, (int)len - 3, 2000);
    assert_non_null(ack);
    assert_int_equal(ack->status, BOSUN__ACK_STATUS__ACK_STATUS_REJECTED);
    bosun__ack__free_unpacked(ack, NULL);

    /* Larger than maxPayloadBytes (64 KiB here). */
    size_t huge = 200000;
    uint8_t *big = calloc(1, huge);
    assert_non_null(big);
    ack = client_raw(fx.nc, "ship1.command.shellCommand", big, (int)huge, 2000);
    free(big);
    assert_non_null(ack);
    assert_int_equal(ack->status, BOSUN__ACK_STATUS__ACK_STATUS_REJECTED);
    assert_non_null(strstr(ack->error, "exceeds maxPayloadBytes 65536"));
    bosun__ack__free_unpacked(ack, NULL);

    /* data that is not an argv. */
    cmd.id = "noargv-1";
    cmd.n_data = 0;
    ack = client_send(fx.nc, "ship1.command.shellCommand", &cmd, 2000);
    assert_non_null(ack);
    assert_int_equal(ack->status, BOSUN__ACK_STATUS__ACK_STATUS_REJECTED);
    assert_non_null(strstr(ack->error, "needs data as an argv"));
    bosun__ack__free_unpacked(ack, NULL);

    /* Addressed to another node, or naming another method than the subject. */
    cmd.id = "wrongnode-1";
    cmd.n_data = 1;
    cmd.node = "ship2";
    ack = client_send(fx.nc, "ship1.command.shellCommand", &cmd, 2000);
    assert_non_null(ack);
    assert_int_equal(ack->status, BOSUN__ACK_STATUS__ACK_STATUS_REJECTED);
    assert_non_null(strstr(ack->error, "addressed to node 'ship2'"));
    bosun__ack__free_unpacked(ack, NULL);
    cmd.node = "ship1";
    cmd.id = "bad id with spaces";
    ack = client_send(fx.nc, "ship1.command.shellCommand", &cmd, 2000);
    assert_non_null(ack);
    assert_int_equal(ack->status, BOSUN__ACK_STATUS__ACK_STATUS_REJECTED);
    assert_non_null(strstr(ack->error, "id must be"));
    bosun__ack__free_unpacked(ack, NULL);

    /* A subject with more than one method token. */
    ack = client_raw(fx.nc, "ship1.command.shell.Command", buf, (int)len, 2000);
    assert_non_null(ack);
    assert_int_equal(ack->status, BOSUN__ACK_STATUS__ACK_STATUS_REJECTED);
    assert_non_null(strstr(ack->error, "one method token"));
    bosun__ack__free_unpacked(ack, NULL);

    /* Expired before it arrived. */
    cmd.id = "expired-1";
    cmd.created_ms = 1000;
    cmd.ttl_ms = 5000;
    ack = client_send(fx.nc, "ship1.command.shellCommand", &cmd, 2000);
    assert_non_null(ack);
    assert_int_equal(ack->status, BOSUN__ACK_STATUS__ACK_STATUS_EXPIRED);
    bosun__ack__free_unpacked(ack, NULL);

    /* Still alive, and it counted the malformed ones in its heartbeat. */
    const char *none[] = {NULL};
    ack = client_command(fx.nc, "ship1", "ping", "alive-1", none, 0, 2000);
    assert_non_null(ack);
    assert_int_equal(ack->status, BOSUN__ACK_STATUS__ACK_STATUS_OK);
    bosun__ack__free_unpacked(ack, NULL);
    natsSubscription *sub = NULL;
    assert_int_equal(natsConnection_SubscribeSync(&sub, fx.nc, "ship1.event.heartbeat"), NATS_OK);
    Bosun__Heartbeat *hb = client_next_heartbeat(sub, 2000);
    assert_non_null(hb);
    assert_non_null(hb->counters);
    assert_true(hb->counters->malformed_messages >= 2);
    assert_true(hb->counters->commands_rejected >= 7);
    bosun__heartbeat__free_unpacked(hb, NULL);
    natsSubscription_Destroy(sub);
    assert_true(harness_proc_running(fx.agent));
}

static void test_long_commands_do_not_delay_ping_or_heartbeat(void **state)
{
    (void)state;
    /* Fill every worker with a 3 s command, without waiting for them. */
    Bosun__Command cmd = BOSUN__COMMAND__INIT;
    char *argv[] = {"sleep", "3"};
    cmd.node = "ship1";
    cmd.method = "shellCommand";
    cmd.data = argv;
    cmd.n_data = 2;
    char ids[4][32];
    for (int i = 0; i < 4; i++) {
        snprintf(ids[i], sizeof ids[i], "long-%d", i);
        cmd.id = ids[i];
        uint8_t buf[128];
        size_t len = bosun__command__pack(&cmd, buf);
        assert_int_equal(natsConnection_Publish(fx.nc, "ship1.command.shellCommand", buf, (int)len), NATS_OK);
    }
    natsConnection_Flush(fx.nc);
    usleep(300000);

    natsSubscription *sub = NULL;
    assert_int_equal(natsConnection_SubscribeSync(&sub, fx.nc, "ship1.event.heartbeat"), NATS_OK);
    const char *none[] = {NULL};
    for (int i = 0; i < 5; i++) {
        char id[32];
        snprintf(id, sizeof id, "ping-busy-%d", i);
        Bosun__Ack *ack = client_command(fx.nc, "ship1", "ping", id, none, 0, 1000);
        assert_non_null(ack);
        assert_int_equal(ack->status, BOSUN__ACK_STATUS__ACK_STATUS_OK);
        bosun__ack__free_unpacked(ack, NULL);
    }
    /* Heartbeats keep coming (100 ms interval) while all workers are busy. */
    for (int i = 0; i < 5; i++) {
        Bosun__Heartbeat *hb = client_next_heartbeat(sub, 1000);
        assert_non_null(hb);
        bosun__heartbeat__free_unpacked(hb, NULL);
    }
    natsSubscription_Destroy(sub);

    /* Workers busy and the queue (maxQueued 2) full: a further command is BUSY. */
    char *q[] = {"true"};
    cmd.data = q;
    cmd.n_data = 1;
    for (int i = 0; i < 2; i++) {
        snprintf(ids[0], sizeof ids[0], "queued-%d", i);
        cmd.id = ids[0];
        uint8_t buf[128];
        size_t len = bosun__command__pack(&cmd, buf);
        natsConnection_Publish(fx.nc, "ship1.command.shellCommand", buf, (int)len);
    }
    cmd.id = "overflow-1";
    Bosun__Ack *ack = client_send(fx.nc, "ship1.command.shellCommand", &cmd, 2000);
    assert_non_null(ack);
    assert_int_equal(ack->status, BOSUN__ACK_STATUS__ACK_STATUS_BUSY);
    assert_non_null(strstr(ack->error, "agent busy"));
    bosun__ack__free_unpacked(ack, NULL);
    /* It did not run, so once there is room the same id runs normally. */
    usleep(3500000);
    ack = client_send(fx.nc, "ship1.command.shellCommand", &cmd, 5000);
    assert_non_null(ack);
    assert_int_equal(ack->status, BOSUN__ACK_STATUS__ACK_STATUS_OK);
    bosun__ack__free_unpacked(ack, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ping_returns_agent_clock),
        cmocka_unit_test(test_shell_command_captures_output_and_exit_code),
        cmocka_unit_test(test_shell_output_is_bounded_with_flag),
        cmocka_unit_test(test_missing_program_fails_with_reason),
        cmocka_unit_test(test_method_timeout_kills_whole_group),
        cmocka_unit_test(test_text_logging_appends_lines),
        cmocka_unit_test(test_unknown_method_is_rejected_with_reason),
        cmocka_unit_test(test_hostile_payloads_are_rejected_and_agent_lives),
        cmocka_unit_test(test_long_commands_do_not_delay_ping_or_heartbeat),
    };
    return cmocka_run_group_tests_name("agent", tests, setup, teardown);
}
