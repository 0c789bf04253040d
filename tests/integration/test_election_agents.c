/*
 * test_election_agents.c - elections between real bosun-agent processes on
 * loopback multicast (DESIGN.md "Election"): priorities decide the winners,
 * kill -9 fails over, SIGTERM hands over at once, preemption obeys
 * `preempt`, hostile packets change nothing, and the broker is never needed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "harness.h"

#define N 3
#define TX_MS 100
#define TW_MS 200

typedef struct {
    harness_natsd_t *natsd;
    natsConnection *nc;
    char *dir;
    char group[32];
    int port;
    harness_proc_t *agent[N];
    char config[N][600];
} fleet_t;

static fleet_t fl;

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Node i: res01 priorities 110/120/130 (n3 best), res02 190/180/170 (n1 best, no preempt). */
static void write_config(int i, const char *password, const char *extra)
{
    char json[2048];
    snprintf(fl.config[i], sizeof fl.config[i], "%s/n%d.json", fl.dir, i + 1);
    snprintf(json, sizeof json,
             "{\"id\": \"n%d\", \"dataDir\": \"%s/d%d\",\n"
             " \"nats\": {\"servers\": [\"%s\"]},\n"
             " \"networking\": {\"interfaceName\": \"lo\", \"address\": \"%s\", \"port\": %d,"
             " \"cryptoPassword\": \"%s\"},\n"
             " \"resources\": [{\"id\": \"res01\", \"priority\": %d},"
             " {\"id\": \"res02\", \"priority\": %d, \"preempt\": false}],\n"
             " \"timing\": {\"txIntervalSecs\": %g, \"transitionWaitSecs\": %g}%s}\n",
             i + 1, fl.dir, i + 1, harness_natsd_url(fl.natsd), fl.group, fl.port, password,
             110 + 10 * i, 190 - 10 * i, TX_MS / 1000.0, TW_MS / 1000.0, extra ? extra : "");
    assert_int_equal(harness_write_file(fl.config[i], json), 0);
}

static void start_agent(int i)
{
    char log[700];
    snprintf(log, sizeof log, "%s/n%d.log", fl.dir, i + 1);
    char *argv[] = {BOSUN_AGENT_BIN, "--config-file", fl.config[i], "--log-level", "4", NULL};
    assert_int_equal(harness_proc_start(argv, log, &fl.agent[i]), 0);
}

static int setup(void **state)
{
    (void)state;
    memset(&fl, 0, sizeof fl);
    fl.dir = harness_tmpdir("election");
    if (fl.dir == NULL || harness_natsd_start(NULL, &fl.natsd) != 0)
        return -1;
    fl.nc = client_connect(harness_natsd_url(fl.natsd));
    srand((unsigned)time(NULL) ^ (unsigned)getpid());
    snprintf(fl.group, sizeof fl.group, "239.255.%d.%d", 1 + rand() % 250, 1 + rand() % 250);
    fl.port = harness_free_port();
    for (int i = 0; i < N; i++)
        write_config(i, "fleet-secret", NULL);
    for (int i = 0; i < N; i++)
        start_agent(i);
    return fl.nc ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    for (int i = 0; i < N; i++)
        harness_proc_stop(fl.agent[i], 5000, NULL);
    if (fl.nc)
        natsConnection_Destroy(fl.nc);
    harness_natsd_stop(fl.natsd);
    harness_rmtree(fl.dir);
    free(fl.dir);
    return 0;
}

/* electionStatus of node i as JSON (NULL if it did not answer). */
static json_t *status_of(int i)
{
    char node[16];
    snprintf(node, sizeof node, "n%d", i + 1);
    const char *none[] = {NULL};
    Bosun__Ack *ack = client_command(fl.nc, node, "electionStatus", "st", none, 0, 1000);
    if (ack == NULL)
        return NULL;
    json_t *j = NULL;
    if (ack->status == BOSUN__ACK_STATUS__ACK_STATUS_OK)
        j = json_loadb((const char *)ack->stdout.data, ack->stdout.len, 0, NULL);
    bosun__ack__free_unpacked(ack, NULL);
    return j;
}

static const char *state_in(json_t *st, const char *res)
{
    size_t k;
    json_t *r;
    json_array_foreach(json_object_get(st, "resources"), k, r)
        if (strcmp(json_string_value(json_object_get(r, "id")), res) == 0)
            return json_string_value(json_object_get(r, "state"));
    return "?";
}

/* Which live nodes are ACTIVE for res: a bit per node; -1 if a node did not answer. */
static int active_set(const char *res, const bool *alive)
{
    int set = 0;
    for (int i = 0; i < N; i++) {
        if (!alive[i])
            continue;
        json_t *st = status_of(i);
        if (st == NULL)
            return -1;
        if (strcmp(state_in(st, res), "ACTIVE") == 0)
            set |= 1 << i;
        json_decref(st);
    }
    return set;
}

/* Waits until exactly `want` is the ACTIVE set for res; returns ms waited or -1. */
static long wait_active(const char *res, int want, const bool *alive, int timeout_ms)
{
    uint64_t t0 = mono_ms();
    while (mono_ms() - t0 < (uint64_t)timeout_ms) {
        if (active_set(res, alive) == want)
            return (long)(mono_ms() - t0);
        usleep(20000);
    }
    return -1;
}

static void test_priorities_decide_one_active_per_resource(void **state)
{
    (void)state;
    bool alive[N] = {true, true, true};
    assert_true(wait_active("res01", 1 << 2, alive, 10000) >= 0); /* n3 */
    assert_true(wait_active("res02", 1 << 0, alive, 10000) >= 0); /* n1 */
    /* And it stays that way. */
    for (int k = 0; k < 10; k++) {
        assert_int_equal(active_set("res01", alive), 1 << 2);
        assert_int_equal(active_set("res02", alive), 1 << 0);
        usleep(100000);
    }
    json_t *st = status_of(1);
    assert_non_null(st);
    assert_true(json_is_true(json_object_get(st, "encrypted")));
    json_t *r0 = json_array_get(json_object_get(st, "resources"), 0);
    assert_string_equal(json_string_value(json_object_get(r0, "owner")), "n3");
    json_decref(st);
}

static void test_kill9_fails_over_and_sigterm_hands_over(void **state)
{
    (void)state;
    bool alive[N] = {true, true, true};
    assert_true(wait_active("res01", 1 << 2, alive, 10000) >= 0);

    /* kill -9 of n3: n2 (next priority for res01) takes over within a
     * detection window (3 tx + skew) plus transitionWait. */
    harness_proc_signal(fl.agent[2], SIGKILL);
    harness_proc_wait(fl.agent[2], 2000, NULL);
    alive[2] = false;
    long ms = wait_active("res01", 1 << 1, alive, 5000);
    printf("# failover after kill -9: %ld ms (tx %d ms, transition wait %d ms)\n", ms, TX_MS, TW_MS);
    assert_true(ms >= 0);
    assert_true(ms < 3 * TX_MS + TX_MS / 2 + TW_MS + 500);

    /* SIGTERM of n2: it releases, n1 takes over after its skew + wait only. */
    uint64_t t0 = mono_ms();
    harness_proc_signal(fl.agent[1], SIGTERM);
    alive[1] = false;
    int ws = 0;
    assert_int_equal(harness_proc_wait(fl.agent[1], 5000, &ws), 0);
    assert_true(WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
    ms = wait_active("res01", 1 << 0, alive, 5000);
    long total = (long)(mono_ms() - t0);
    printf("# handover after SIGTERM: %ld ms\n", total);
    assert_true(ms >= 0);
    assert_true(total < TX_MS / 2 + TW_MS + 400); /* well under a detection window */
    assert_true(harness_proc_wait_log(fl.agent[1], "res01: ACTIVE -> IDLE (stopping)", 100));

    /* n3 comes back with the best res01 priority: it preempts res01 (preempt
     * on) but not res02 (preempt off), which n1 keeps. */
    harness_proc_stop(fl.agent[2], 1000, NULL);
    start_agent(2);
    alive[2] = true;
    assert_true(wait_active("res01", 1 << 2, alive, 5000) >= 0);
    harness_proc_stop(fl.agent[1], 1000, NULL);
    start_agent(1);
    alive[1] = true;
    usleep(1500000);
    assert_int_equal(active_set("res02", alive), 1 << 0);
    assert_int_equal(active_set("res01", alive), 1 << 2);
}

/* Sends raw datagrams to the fleet's group on loopback only. */
static void send_raw(const void *buf, size_t len)
{
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    assert_true(s >= 0);
    struct in_addr lo = {.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(setsockopt(s, IPPROTO_IP, IP_MULTICAST_IF, &lo, sizeof lo), 0);
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)fl.port)};
    inet_pton(AF_INET, fl.group, &to.sin_addr);
    assert_true(sendto(s, buf, len, 0, (struct sockaddr *)&to, sizeof to) == (ssize_t)len);
    close(s);
}

/* Captures one datagram the fleet sends to its group (loopback only). */
static size_t capture(uint8_t *buf, size_t cap)
{
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    assert_true(s >= 0);
    int one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(s, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    struct sockaddr_in at = {.sin_family = AF_INET, .sin_port = htons((uint16_t)fl.port)};
    inet_pton(AF_INET, fl.group, &at.sin_addr);
    assert_int_equal(bind(s, (struct sockaddr *)&at, sizeof at), 0);
    struct ip_mreq m = {.imr_interface.s_addr = htonl(INADDR_LOOPBACK)};
    inet_pton(AF_INET, fl.group, &m.imr_multiaddr);
    assert_int_equal(setsockopt(s, IPPROTO_IP, IP_ADD_MEMBERSHIP, &m, sizeof m), 0);
    struct timeval tv = {.tv_sec = 3};
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ssize_t n = recv(s, buf, cap, 0);
    close(s);
    assert_true(n > 0);
    return (size_t)n;
}

static json_int_t dropped(int i, const char *why)
{
    json_t *st = status_of(i);
    assert_non_null(st);
    json_int_t v = json_integer_value(json_object_get(json_object_get(json_object_get(st, "packets"), "dropped"), why));
    json_decref(st);
    return v;
}

static json_int_t transitions(int i)
{
    json_t *st = status_of(i);
    assert_non_null(st);
    json_int_t sum = 0;
    size_t k;
    json_t *r;
    json_array_foreach(json_object_get(st, "resources"), k, r)
        sum += json_integer_value(json_object_get(r, "transitions"));
    json_decref(st);
    return sum;
}

static void test_hostile_packets_change_nothing(void **state)
{
    (void)state;
    bool alive[N] = {true, true, true};
    assert_true(wait_active("res01", 1 << 2, alive, 10000) >= 0);
    assert_true(wait_active("res02", 1 << 0, alive, 10000) >= 0);
    json_int_t before = transitions(1);
    json_int_t malformed = dropped(1, "malformed"), auth = dropped(1, "auth");

    /* Random bytes. */
    uint8_t junk[200];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (uint8_t)rand();
    for (int k = 0; k < 20; k++)
        send_raw(junk, sizeof junk - (size_t)k);

    /* A captured packet of the fleet's, replayed later, again and again. */
    uint8_t captured[1500];
    size_t clen = capture(captured, sizeof captured);
    json_int_t replays = dropped(1, "replay") + dropped(1, "duplicate") + dropped(0, "replay") +
                         dropped(0, "duplicate");
    usleep(300000);
    for (int k = 0; k < 10; k++)
        send_raw(captured, clen);

    /* An intruder with the wrong password claims everything at priority 255. */
    char log[700], cfg[700], json[2048];
    snprintf(cfg, sizeof cfg, "%s/intruder.json", fl.dir);
    snprintf(json, sizeof json,
             "{\"id\": \"intruder\", \"dataDir\": \"%s/di\", \"nats\": {\"servers\": [\"%s\"]},"
             " \"networking\": {\"interfaceName\": \"lo\", \"address\": \"%s\", \"port\": %d,"
             " \"cryptoPassword\": \"wrong-password\"},"
             " \"resources\": [{\"id\": \"res01\", \"priority\": 255}, {\"id\": \"res02\", \"priority\": 255}],"
             " \"timing\": {\"txIntervalSecs\": 0.1, \"transitionWaitSecs\": 0.2}}",
             fl.dir, harness_natsd_url(fl.natsd), fl.group, fl.port);
    assert_int_equal(harness_write_file(cfg, json), 0);
    snprintf(log, sizeof log, "%s/intruder.log", fl.dir);
    harness_proc_t *intruder = NULL;
    char *argv[] = {BOSUN_AGENT_BIN, "--config-file", cfg, NULL};
    assert_int_equal(harness_proc_start(argv, log, &intruder), 0);
    usleep(2000000);
    harness_proc_stop(intruder, 5000, NULL);

    assert_true(dropped(1, "malformed") + dropped(1, "size") >= malformed + 20);
    assert_true(dropped(1, "auth") > auth);
    /* Each node but the sender drops all 10 copies (the sender drops its own). */
    assert_true(dropped(1, "replay") + dropped(1, "duplicate") + dropped(0, "replay") +
                    dropped(0, "duplicate") >= replays + 10);
    assert_int_equal(transitions(1), before);
    assert_int_equal(active_set("res01", alive), 1 << 2);
    assert_int_equal(active_set("res02", alive), 1 << 0);
    for (int i = 0; i < N; i++)
        assert_true(harness_proc_running(fl.agent[i]));
    assert_true(harness_proc_wait_log(fl.agent[1], "is cryptoPassword the same on every node?", 100));
}

static void test_failover_without_nats(void **state)
{
    (void)state;
    bool alive[N] = {true, true, true};
    assert_true(wait_active("res01", 1 << 2, alive, 10000) >= 0);
    assert_int_equal(harness_natsd_kill(fl.natsd), 0);
    /* No broker: kill the owner of res01 and watch n2 take it over in its log. */
    harness_proc_signal(fl.agent[2], SIGKILL);
    harness_proc_wait(fl.agent[2], 2000, NULL);
    assert_true(harness_proc_wait_log(fl.agent[1], "res01: GOING_ACTIVE -> ACTIVE", 3000));
    assert_int_equal(harness_natsd_restart(fl.natsd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_priorities_decide_one_active_per_resource, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kill9_fails_over_and_sigterm_hands_over, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostile_packets_change_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failover_without_nats, setup, teardown),
    };
    return cmocka_run_group_tests_name("election agents", tests, NULL, NULL);
}
