/*
 * test_probes.c - connectivity probes between real agents (issue 7): a
 * nats-server and three bosun-agents on 127.0.0.1, each with a probe
 * listener on a free port.
 *
 *   p1  probes.peers: p2 with an explicit address, p3 by name (its address
 *       learned from p3's heartbeat), and "ghost", which does not exist
 *   p2  probes.probePeers: probes every node it hears heartbeating
 *   p3  a listener only: probed, probes nobody
 *
 * The test reads p1's and p2's heartbeats as central would and checks that
 * probes to live peers show TCP and NATS up with measured times, that a
 * peer with no known address is NATS-only (tcp_tested false), and that once
 * p3 is stopped (SIGTERM by pid), probes to it turn to failures with an
 * error, and p2, which only learned of p3, forgets it after forgetAfterMs. Also: a bad probes key is refused at start with exit code 2 and a
 * message naming the key; a listener port already taken fails the start.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "clock.h"
#include "harness.h"

#define N_AGENTS 3
#define WAIT_MS 20000
#define FORGET_MS 3000 /* p2 forgets a learned peer after this silence */

static struct {
    char *dir;
    harness_natsd_t *natsd;
    natsConnection *nc;
    int port[N_AGENTS];
    char addr[N_AGENTS][32];
    harness_proc_t *agent[N_AGENTS];
    natsSubscription *hb_sub[2]; /* p1's and p2's heartbeats */
} fx;

static const char *probes_json(int i, char *buf, size_t cap)
{
    switch (i) {
    case 0:
        snprintf(buf, cap,
                 "\"peers\": [{\"node\": \"p2\", \"address\": \"%s\"}, \"p3\", \"ghost\"]", fx.addr[1]);
        break;
    case 1: snprintf(buf, cap, "\"probePeers\": true, \"forgetAfterMs\": %d", FORGET_MS); break;
    default: snprintf(buf, cap, "\"peers\": []"); break;
    }
    return buf;
}

static int start_agent(int i)
{
    char cfg[600], log[600], json[2048], probes[512];
    snprintf(cfg, sizeof cfg, "%s/p%d.json", fx.dir, i + 1);
    snprintf(log, sizeof log, "%s/p%d.log", fx.dir, i + 1);
    snprintf(json, sizeof json,
             "{\"id\": \"p%d\", \"dataDir\": \"%s/p%d\", \"nats\": {\"servers\": [\"%s\"]},\n"
             " \"timing\": {\"heartbeatIntervalMs\": 200},\n"
             " \"probes\": {\"listen\": \"%s\", \"intervalMs\": 300, \"timeoutMs\": 250, %s}}\n",
             i + 1, fx.dir, i + 1, harness_natsd_url(fx.natsd), fx.addr[i],
             probes_json(i, probes, sizeof probes));
    if (harness_write_file(cfg, json) != 0)
        return -1;
    char *argv[] = {BOSUN_AGENT_BIN, "--config-file", cfg, "--log-level", "4", NULL};
    return harness_proc_start(argv, log, &fx.agent[i]);
}

static int setup(void **state)
{
    (void)state;
    memset(&fx, 0, sizeof fx);
    fx.dir = harness_tmpdir("probes");
    if (fx.dir == NULL || harness_natsd_start(NULL, &fx.natsd) != 0)
        return -1;
    for (int i = 0; i < N_AGENTS; i++) {
        /* Distinct ports (the kernel may hand the same free one out twice). */
        for (int tries = 0; tries < 20; tries++) {
            fx.port[i] = harness_free_port();
            bool dup = fx.port[i] < 0;
            for (int k = 0; k < i; k++)
                dup |= fx.port[k] == fx.port[i];
            if (!dup)
                break;
        }
        if (fx.port[i] < 0)
            return -1;
        snprintf(fx.addr[i], sizeof fx.addr[i], "127.0.0.1:%d", fx.port[i]);
    }
    fx.nc = client_connect(harness_natsd_url(fx.natsd));
    if (fx.nc == NULL)
        return -1;
    const char *subjects[2] = {"p1.event.heartbeat", "p2.event.heartbeat"};
    for (int i = 0; i < 2; i++)
        if (natsConnection_SubscribeSync(&fx.hb_sub[i], fx.nc, subjects[i]) != NATS_OK)
            return -1;
    for (int i = 0; i < N_AGENTS; i++)
        if (start_agent(i) != 0)
            return -1;
    return 0;
}

/* Stops agent i; fails (with its log) unless it exited 0, e.g. on a sanitizer report. */
static int stop_agent(int i)
{
    if (fx.agent[i] == NULL)
        return 0;
    char path[700];
    snprintf(path, sizeof path, "%s/p%d.log", fx.dir, i + 1);
    int ws = -1;
    harness_proc_stop(fx.agent[i], 10000, &ws);
    fx.agent[i] = NULL;
    if (WIFEXITED(ws) && WEXITSTATUS(ws) == 0)
        return 0;
    char *log = harness_read_file(path, NULL);
    fprintf(stderr, "agent p%d did not exit cleanly (status %d):\n%s\n", i + 1, ws, log ? log : "");
    free(log);
    return -1;
}

static int teardown(void **state)
{
    (void)state;
    int rc = 0;
    for (int i = 0; i < N_AGENTS; i++)
        rc |= stop_agent(i);
    for (int i = 0; i < 2; i++)
        if (fx.hb_sub[i] != NULL)
            natsSubscription_Destroy(fx.hb_sub[i]);
    if (fx.nc != NULL)
        natsConnection_Destroy(fx.nc);
    harness_natsd_stop(fx.natsd);
    harness_rmtree(fx.dir);
    free(fx.dir);
    return rc;
}

/* ---- reading heartbeats ------------------------------------------------------------ */

static const Bosun__ProbeResult *probe_of(const Bosun__Heartbeat *hb, const char *target)
{
    for (size_t i = 0; i < hb->n_probes; i++)
        if (strcmp(hb->probes[i]->target, target) == 0)
            return hb->probes[i];
    return NULL;
}

typedef bool (*hb_pred_t)(const Bosun__Heartbeat *hb, const void *arg);

/*
 * Reads heartbeats from sub until pred holds (returns that heartbeat, to be
 * freed) or WAIT_MS pass (fails the test, printing the last one seen).
 */
static Bosun__Heartbeat *wait_heartbeat(natsSubscription *sub, hb_pred_t pred, const void *arg,
                                        const char *what)
{
    uint64_t end = bosun_wall_ms() + WAIT_MS;
    Bosun__Heartbeat *last = NULL;
    while (bosun_wall_ms() < end) {
        Bosun__Heartbeat *hb = client_next_heartbeat(sub, 1000);
        if (hb == NULL)
            continue;
        if (pred(hb, arg)) {
            if (last != NULL)
                bosun__heartbeat__free_unpacked(last, NULL);
            return hb;
        }
        if (last != NULL)
            bosun__heartbeat__free_unpacked(last, NULL);
        last = hb;
    }
    fprintf(stderr, "no heartbeat where %s; the last one's probes:\n", what);
    for (size_t i = 0; last != NULL && i < last->n_probes; i++) {
        const Bosun__ProbeResult *r = last->probes[i];
        fprintf(stderr, "  %s tcp_tested=%d tcp_ok=%d tcp_us=%u nats_ok=%d nats_us=%u addr=%s error=%s\n",
                r->target, r->tcp_tested, r->tcp_ok, r->tcp_connect_us, r->nats_ok, r->nats_rtt_us,
                r->address, r->error);
    }
    if (last != NULL)
        bosun__heartbeat__free_unpacked(last, NULL);
    fail_msg("timed out waiting for a heartbeat where %s", what);
    return NULL;
}

/* Target's probe: TCP to addr and NATS both up, with times. */
static bool probe_up(const Bosun__ProbeResult *r, const char *addr)
{
    return r != NULL && r->tcp_tested && r->tcp_ok && r->tcp_connect_us > 0 && r->nats_ok &&
           r->nats_rtt_us > 0 && strcmp(r->address, addr) == 0 && r->error[0] == '\0';
}

static bool p1_sees_p2_p3_up(const Bosun__Heartbeat *hb, const void *arg)
{
    (void)arg;
    const Bosun__ProbeResult *ghost = probe_of(hb, "ghost");
    return probe_up(probe_of(hb, "p2"), fx.addr[1]) && probe_up(probe_of(hb, "p3"), fx.addr[2]) &&
           ghost != NULL;
}

static bool p2_sees_p1_p3_up(const Bosun__Heartbeat *hb, const void *arg)
{
    (void)arg;
    return probe_up(probe_of(hb, "p1"), fx.addr[0]) && probe_up(probe_of(hb, "p3"), fx.addr[2]);
}

/* Target's probe (started after `after_ms`) failed in both parts, with an error. */
static bool probe_down(const Bosun__ProbeResult *r, uint64_t after_ms)
{
    return r != NULL && r->time_ms > after_ms && r->tcp_tested && !r->tcp_ok && r->tcp_connect_us == 0 &&
           !r->nats_ok && r->nats_rtt_us == 0 && r->error[0] != '\0';
}

static bool p3_down(const Bosun__Heartbeat *hb, const void *arg)
{
    return probe_down(probe_of(hb, "p3"), *(const uint64_t *)arg);
}

static bool p3_gone(const Bosun__Heartbeat *hb, const void *arg)
{
    (void)arg;
    return probe_of(hb, "p3") == NULL && probe_of(hb, "p1") != NULL;
}

/* ---- tests --------------------------------------------------------------------------- */

static void test_probes_to_live_peers_are_up(void **state)
{
    (void)state;
    Bosun__Heartbeat *hb = wait_heartbeat(fx.hb_sub[0], p1_sees_p2_p3_up, NULL,
                                          "p1 reaches p2 and p3 over TCP and NATS");
    assert_string_equal(hb->probe_address, fx.addr[0]);
    assert_int_equal(hb->n_probes, 3); /* exactly its peers: ghost, p2, p3 */
    /* A peer without a known address: NATS only, TCP not measured (not a TCP failure). */
    const Bosun__ProbeResult *g = probe_of(hb, "ghost");
    assert_false(g->tcp_tested);
    assert_false(g->tcp_ok);
    assert_string_equal(g->address, "");
    assert_false(g->nats_ok);
    assert_non_null(strstr(g->error, "nats ping: "));
    assert_null(strstr(g->error, "tcp"));
    assert_true(hb->counters->probes_run >= 3);
    assert_true(hb->counters->probes_failed >= 1); /* ghost */
    assert_true(probe_of(hb, "p2")->time_ms > 0);
    bosun__heartbeat__free_unpacked(hb, NULL);

    hb = wait_heartbeat(fx.hb_sub[1], p2_sees_p1_p3_up, NULL,
                        "p2 (probePeers) reaches p1 and p3 over TCP and NATS");
    assert_string_equal(hb->probe_address, fx.addr[1]);
    assert_null(probe_of(hb, "p2"));   /* never itself */
    assert_null(probe_of(hb, "ghost")); /* never heard of */
    assert_int_equal(hb->n_probes, 2);
    bosun__heartbeat__free_unpacked(hb, NULL);
}

static void test_a_stopped_peer_turns_to_failure(void **state)
{
    (void)state;
    /* Both see p3 up first, so the change below is the stop's doing. */
    Bosun__Heartbeat *hb = wait_heartbeat(fx.hb_sub[0], p1_sees_p2_p3_up, NULL, "p1 reaches p3");
    bosun__heartbeat__free_unpacked(hb, NULL);
    hb = wait_heartbeat(fx.hb_sub[1], p2_sees_p1_p3_up, NULL, "p2 reaches p3");
    bosun__heartbeat__free_unpacked(hb, NULL);

    uint64_t sigterm = bosun_wall_ms();
    assert_int_equal(stop_agent(2), 0); /* SIGTERM by pid, then a clean exit */
    uint64_t stopped = bosun_wall_ms();

    char want_tcp[64];
    snprintf(want_tcp, sizeof want_tcp, "tcp %s: ", fx.addr[2]);
    for (int i = 0; i < 2; i++) {
        hb = wait_heartbeat(fx.hb_sub[i], p3_down, &stopped, "probes to the stopped p3 fail");
        const Bosun__ProbeResult *r = probe_of(hb, "p3");
        assert_non_null(strstr(r->error, want_tcp));
        assert_non_null(strstr(r->error, "nats ping: "));
        assert_string_equal(r->address, fx.addr[2]);
        /* The live peer is still up. */
        assert_true(probe_up(probe_of(hb, i == 0 ? "p2" : "p1"), fx.addr[i == 0 ? 1 : 0]));
        bosun__heartbeat__free_unpacked(hb, NULL);
    }
    /* Both say so in their logs (the first failed attempt may have been cut
     * in the middle: either part may be what failed first). */
    const char *needle = "probe: p3 unreachable: ";
    for (int i = 0; i < 2; i++)
        if (!harness_proc_wait_log(fx.agent[i], needle, 5000))
            fail_msg("p%d's log lacks '%s'", i + 1, needle);

    /* p2 learned p3 from its heartbeats: it forgets p3 after FORGET_MS of
     * silence. p1 was told to probe p3, and keeps doing so. */
    hb = wait_heartbeat(fx.hb_sub[1], p3_gone, NULL, "p2 has forgotten p3");
    /* Not before its time: p3's last heartbeat left at most one interval before SIGTERM. */
    assert_true(bosun_wall_ms() - sigterm >= FORGET_MS - 300);
    assert_int_equal(hb->n_probes, 1);
    bosun__heartbeat__free_unpacked(hb, NULL);
    assert_true(harness_proc_wait_log(fx.agent[1], "stopped probing 1 peers silent for", 5000));
    hb = wait_heartbeat(fx.hb_sub[0], p3_down, &stopped, "p1 still probes p3");
    bosun__heartbeat__free_unpacked(hb, NULL);
}

/* Runs the agent binary; returns its exit code and output (caller frees). */
static int run_agent(const char *json, char **out)
{
    char cfg[600];
    snprintf(cfg, sizeof cfg, "%s/bad.json", fx.dir);
    assert_int_equal(harness_write_file(cfg, json), 0);
    char *argv[] = {BOSUN_AGENT_BIN, "--config-file", cfg, "--max-run-secs", "5", NULL};
    int code = -1;
    assert_int_equal(harness_run(argv, 20000, out, &code), 0);
    return code;
}

static void test_bad_probe_keys_exit_2_naming_the_key(void **state)
{
    (void)state;
    static const struct {
        const char *probes, *needle;
    } cases[] = {
        {"\"peers\": [\"p2\", \"p.3\"]", "key 'probes.peers[1]': node name 'p.3'"},
        {"\"peers\": [\"p2\", \"p2\"]", "key 'probes.peers[1]': node 'p2' is already used by peers[0]"},
        {"\"peers\": [\"bad1\"]", "key 'probes.peers[0]': 'bad1' is this node itself"},
        {"\"peers\": [{\"node\": \"p2\", \"address\": \"p2.example:8757\"}]",
         "key 'probes.peers[0].address': 'p2.example:8757' is not a numeric ADDRESS:PORT"},
        {"\"listen\": \"127.0.0.1\"", "key 'probes.listen': '127.0.0.1' is not a numeric ADDRESS:PORT"},
        {"\"intervalMs\": 1000, \"timeoutMs\": 5000", "key 'probes.timeoutMs' (5000) must not be greater than 'probes.intervalMs'"},
        {"\"probe_peers\": true", "unknown key 'probes.probe_peers' (did you mean 'probes.probePeers'?)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char json[1024], *out = NULL;
        snprintf(json, sizeof json, "{\"id\": \"bad1\", \"probes\": {%s}}", cases[i].probes);
        int code = run_agent(json, &out);
        if (code != 2 || strstr(out, cases[i].needle) == NULL)
            fail_msg("config %s: exit %d, wanted 2 and '%s'; output:\n%s", json, code, cases[i].needle, out);
        free(out);
    }
}

static void test_a_taken_listen_port_fails_the_start(void **state)
{
    (void)state;
    /* p1 holds its listener; a second agent asks for the same address. */
    char json[1024], *out = NULL;
    snprintf(json, sizeof json,
             "{\"id\": \"dup\", \"dataDir\": \"%s/dup\", \"nats\": {\"servers\": [\"%s\"]},"
             " \"probes\": {\"listen\": \"%s\"}}",
             fx.dir, harness_natsd_url(fx.natsd), fx.addr[0]);
    int code = run_agent(json, &out);
    char needle[96];
    snprintf(needle, sizeof needle, "probes.listen %s: cannot listen: Address already in use", fx.addr[0]);
    if (code != 1 || strstr(out, needle) == NULL)
        fail_msg("exit %d, wanted 1 and '%s'; output:\n%s", code, needle, out);
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_probes_to_live_peers_are_up),
        cmocka_unit_test(test_bad_probe_keys_exit_2_naming_the_key),
        cmocka_unit_test(test_a_taken_listen_port_fails_the_start),
        cmocka_unit_test(test_a_stopped_peer_turns_to_failure), /* last: stops p3 */
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
