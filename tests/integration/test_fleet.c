/*
 * test_fleet.c - central's fleet view with real processes (issue 6): a
 * nats-server, bosun-central with short liveness thresholds, a real
 * bosun-agent, and two fake nodes played by this test.
 *
 * - The agent is killed (SIGKILL): central reports SLOW, WARN, DEAD and
 *   REMOVED on central.event.nodeStatus, each within one check interval of
 *   its threshold after the last heartbeat (seen by the test's own
 *   subscription); started again, it is ALIVE with restarted=true.
 * - An expected node that never comes is reported MISSING.
 * - Fake nodes "ahead" and "behind" publish heartbeats and answer central's
 *   time-sync pings with clocks shifted by +250 ms and -400 ms; central's
 *   estimate (carried in their nodeStatus) must be within a few ms of it.
 *   (There is no way to shift one real agent's wall clock, and no test
 *   knob in the agent; the fake node is a real NATS responder, so this is a
 *   real test of central's estimator.)
 * - Both fake nodes claim ACTIVE for "vip": central raises the DOUBLE
 *   alarm, and clears it when one yields by a StateChange.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client.h"
#include "harness.h"

/* Central's thresholds (ms); the agent's heartbeat interval. */
#define SLOW 300
#define WARN 600
#define DEAD 1000
#define REMOVE 1500
#define CHECK 50
#define HB_MS 100
/* Scheduling slack of three processes on a loaded (or sanitized) machine. */
#define EARLY_SLACK 20
#define LATE_SLACK 120

#define AHEAD_US 250000
#define BEHIND_US (-400000)

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* ---- what the test saw on central.event.nodeStatus ---------------------------------- */

typedef struct {
    char node[65];
    Bosun__NodeLiveness status, previous;
    bool restarted;
    uint64_t instance_id;
    int64_t offset_us;
    uint64_t rtt_us;
    uint64_t at_ms; /* the test's monotonic clock */
} seen_t;

#define MAX_SEEN 4096

static pthread_mutex_t seen_mu = PTHREAD_MUTEX_INITIALIZER;
static seen_t seen[MAX_SEEN];
static size_t n_seen;
static atomic_uint_fast64_t n1_last_heartbeat_ms;

static void on_node_status(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
    (void)nc;
    (void)sub;
    (void)closure;
    uint64_t now = mono_ms();
    Bosun__NodeStatus *ns = bosun__node_status__unpack(NULL, (size_t)natsMsg_GetDataLength(msg),
                                                       (const uint8_t *)natsMsg_GetData(msg));
    if (ns != NULL) {
        pthread_mutex_lock(&seen_mu);
        if (n_seen < MAX_SEEN) {
            seen_t *s = &seen[n_seen++];
            snprintf(s->node, sizeof s->node, "%s", ns->node);
            s->status = ns->status;
            s->previous = ns->previous;
            s->restarted = ns->restarted;
            s->instance_id = ns->instance_id;
            s->offset_us = ns->clock_offset_us;
            s->rtt_us = ns->rtt_us;
            s->at_ms = now;
        }
        pthread_mutex_unlock(&seen_mu);
        bosun__node_status__free_unpacked(ns, NULL);
    }
    natsMsg_Destroy(msg);
}

static void on_n1_heartbeat(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
    (void)nc;
    (void)sub;
    (void)closure;
    atomic_store(&n1_last_heartbeat_ms, mono_ms());
    natsMsg_Destroy(msg);
}

/* Index past the last status seen so far: wait_status(..., mark()) looks only at later ones. */
static size_t mark(void)
{
    pthread_mutex_lock(&seen_mu);
    size_t n = n_seen;
    pthread_mutex_unlock(&seen_mu);
    return n;
}

/* Waits up to timeout_ms for a status of node, at index >= from; copies it to *out. */
static bool wait_status(const char *node, Bosun__NodeLiveness status, size_t from, int timeout_ms, seen_t *out)
{
    uint64_t end = mono_ms() + (uint64_t)timeout_ms;
    for (;;) {
        pthread_mutex_lock(&seen_mu);
        for (size_t i = from; i < n_seen; i++)
            if (strcmp(seen[i].node, node) == 0 && seen[i].status == status) {
                if (out != NULL)
                    *out = seen[i];
                pthread_mutex_unlock(&seen_mu);
                return true;
            }
        pthread_mutex_unlock(&seen_mu);
        if (mono_ms() >= end)
            return false;
        usleep(5000);
    }
}

/* ---- the fake nodes ------------------------------------------------------------------------ */

typedef struct {
    const char *name;
    int64_t clock_us;                /* added to the real wall clock */
    uint64_t instance_id;
    _Atomic int vip_state;           /* Bosun__ResourceState */
    _Atomic uint64_t vip_since_ms;   /* on this node's clock */
    atomic_bool beating;
    atomic_uint_fast64_t pings;
    natsSubscription *ping_sub;
} fake_t;

static fake_t fakes[2] = {
    {.name = "ahead", .clock_us = AHEAD_US, .instance_id = 0xa11ce},
    {.name = "behind", .clock_us = BEHIND_US, .instance_id = 0xb0b},
};

static uint64_t fake_now_us(const fake_t *f) { return (uint64_t)((int64_t)wall_us() + f->clock_us); }

/* Answers central's ping as the agent does, with the node's shifted clock. */
static void on_fake_ping(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
    (void)sub;
    fake_t *f = closure;
    uint64_t recv = fake_now_us(f);
    Bosun__Command *cmd = bosun__command__unpack(NULL, (size_t)natsMsg_GetDataLength(msg),
                                                 (const uint8_t *)natsMsg_GetData(msg));
    if (cmd != NULL && natsMsg_GetReply(msg) != NULL) {
        Bosun__Ack ack = BOSUN__ACK__INIT;
        ack.id = cmd->id;
        ack.node = (char *)f->name;
        ack.method = "ping";
        ack.status = BOSUN__ACK_STATUS__ACK_STATUS_OK;
        ack.instance_id = f->instance_id;
        ack.recv_time_us = recv;
        uint8_t buf[512];
        ack.reply_time_us = fake_now_us(f);
        size_t len = bosun__ack__pack(&ack, buf);
        natsConnection_Publish(nc, natsMsg_GetReply(msg), buf, (int)len);
        atomic_fetch_add(&f->pings, 1);
    }
    if (cmd != NULL)
        bosun__command__free_unpacked(cmd, NULL);
    natsMsg_Destroy(msg);
}

static void publish_heartbeat(natsConnection *nc, fake_t *f, uint64_t seq)
{
    Bosun__Heartbeat hb = BOSUN__HEARTBEAT__INIT;
    Bosun__HostStatus host = BOSUN__HOST_STATUS__INIT;
    Bosun__ResourceStatus res = BOSUN__RESOURCE_STATUS__INIT;
    Bosun__ResourceStatus *resp[1] = {&res};
    hb.node = (char *)f->name;
    hb.instance_id = f->instance_id;
    hb.sequence = seq;
    hb.boot_time_ms = 1;
    hb.send_time_ms = fake_now_us(f) / 1000;
    hb.pid = 1;
    hb.version = "fake";
    hb.interval_ms = HB_MS;
    host.hostname = (char *)f->name;
    hb.host = &host;
    res.resource = "vip";
    res.state = (Bosun__ResourceState)atomic_load(&f->vip_state);
    res.priority = 100;
    res.since_ms = atomic_load(&f->vip_since_ms);
    hb.resources = resp;
    hb.n_resources = 1;
    uint8_t buf[1024];
    size_t len = bosun__heartbeat__pack(&hb, buf);
    char subject[96];
    snprintf(subject, sizeof subject, "%s.event.heartbeat", f->name);
    natsConnection_Publish(nc, subject, buf, (int)len);
}

/* A fake node changes its state for "vip" and says so on <node>.event.state. */
static void fake_transition(natsConnection *nc, fake_t *f, Bosun__ResourceState to)
{
    uint64_t now = fake_now_us(f) / 1000;
    Bosun__StateChange sc = BOSUN__STATE_CHANGE__INIT;
    sc.node = (char *)f->name;
    sc.instance_id = f->instance_id;
    sc.resource = "vip";
    sc.from = (Bosun__ResourceState)atomic_load(&f->vip_state);
    sc.to = to;
    sc.reason = "test";
    sc.time_ms = now;
    atomic_store(&f->vip_state, (int)to);
    atomic_store(&f->vip_since_ms, now);
    uint8_t buf[512];
    size_t len = bosun__state_change__pack(&sc, buf);
    char subject[96];
    snprintf(subject, sizeof subject, "%s.event.state", f->name);
    natsConnection_Publish(nc, subject, buf, (int)len);
    natsConnection_FlushTimeout(nc, 1000);
}

/* ---- the fixture --------------------------------------------------------------------------- */

static struct {
    harness_natsd_t *natsd;
    char *dir;
    char central_cfg[600], agent_cfg[600], agent_log[600];
    harness_proc_t *central, *agent;
    natsConnection *nc;         /* the test's subscriptions */
    natsConnection *fake_nc;    /* the fake nodes */
    natsSubscription *status_sub, *hb_sub;
    pthread_t beat_thread;
    atomic_bool stop;
} fx;

static void *beat_main(void *arg)
{
    (void)arg;
    uint64_t seq = 0;
    while (!atomic_load(&fx.stop)) {
        seq++;
        for (int i = 0; i < 2; i++)
            if (atomic_load(&fakes[i].beating))
                publish_heartbeat(fx.fake_nc, &fakes[i], seq);
        usleep(HB_MS * 1000);
    }
    return NULL;
}

static void start_agent(void)
{
    char *argv[] = {BOSUN_AGENT_BIN, "--config-file", fx.agent_cfg, "--log-level", "4", NULL};
    assert_int_equal(harness_proc_start(argv, fx.agent_log, &fx.agent), 0);
}

static int setup(void **state)
{
    (void)state;
    fx.dir = harness_tmpdir("fleet");
    if (fx.dir == NULL || harness_natsd_start(NULL, &fx.natsd) != 0)
        return -1;
    const char *url = harness_natsd_url(fx.natsd);
    snprintf(fx.central_cfg, sizeof fx.central_cfg, "%s/central.json", fx.dir);
    snprintf(fx.agent_cfg, sizeof fx.agent_cfg, "%s/n1.json", fx.dir);
    snprintf(fx.agent_log, sizeof fx.agent_log, "%s/n1.log", fx.dir);
    char json[2048];
    snprintf(json, sizeof json,
             "{\"id\": \"central\", \"dataDir\": \"%s/central\", \"nats\": {\"servers\": [\"%s\"]},\n"
             " \"expectedNodes\": [\"n1\", \"ghost\"],\n"
             " \"liveness\": {\"slowMs\": %d, \"warnMs\": %d, \"deadMs\": %d, \"removeMs\": %d,\n"
             "              \"checkIntervalMs\": %d},\n"
             " \"timeSync\": {\"intervalSecs\": 0.3, \"warnOffsetMs\": 100},\n"
             " \"recorder\": {\"enabled\": false}, \"http\": {\"listen\": \"\"}}\n",
             fx.dir, url, SLOW, WARN, DEAD, REMOVE, CHECK);
    if (harness_write_file(fx.central_cfg, json) != 0)
        return -1;
    snprintf(json, sizeof json,
             "{\"id\": \"n1\", \"dataDir\": \"%s/n1\", \"nats\": {\"servers\": [\"%s\"]},\n"
             " \"timing\": {\"heartbeatIntervalMs\": %d}}\n",
             fx.dir, url, HB_MS);
    if (harness_write_file(fx.agent_cfg, json) != 0)
        return -1;

    if ((fx.nc = client_connect(url)) == NULL || (fx.fake_nc = client_connect(url)) == NULL)
        return -1;
    if (natsConnection_Subscribe(&fx.status_sub, fx.nc, "central.event.nodeStatus", on_node_status, NULL) != NATS_OK ||
        natsConnection_Subscribe(&fx.hb_sub, fx.nc, "n1.event.heartbeat", on_n1_heartbeat, NULL) != NATS_OK)
        return -1;
    for (int i = 0; i < 2; i++) {
        char subject[96];
        snprintf(subject, sizeof subject, "%s.command.ping", fakes[i].name);
        atomic_store(&fakes[i].vip_state, BOSUN__RESOURCE_STATE__RESOURCE_STATE_IDLE);
        atomic_store(&fakes[i].vip_since_ms, fake_now_us(&fakes[i]) / 1000);
        atomic_store(&fakes[i].beating, true);
        if (natsConnection_Subscribe(&fakes[i].ping_sub, fx.fake_nc, subject, on_fake_ping, &fakes[i]) != NATS_OK)
            return -1;
    }
    natsConnection_Flush(fx.nc);
    natsConnection_Flush(fx.fake_nc);
    if (pthread_create(&fx.beat_thread, NULL, beat_main, NULL) != 0)
        return -1;

    char log[700];
    snprintf(log, sizeof log, "%s/central.log", fx.dir);
    char *argv[] = {BOSUN_CENTRAL_BIN, "--config-file", fx.central_cfg, "--log-level", "4", NULL};
    if (harness_proc_start(argv, log, &fx.central) != 0 ||
        !harness_proc_wait_log(fx.central, "running: inbox", 10000))
        return -1;
    start_agent();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    atomic_store(&fx.stop, true);
    pthread_join(fx.beat_thread, NULL);
    harness_proc_stop(fx.agent, 5000, NULL);
    harness_proc_stop(fx.central, 5000, NULL);
    for (int i = 0; i < 2; i++)
        natsSubscription_Destroy(fakes[i].ping_sub);
    natsSubscription_Destroy(fx.status_sub);
    natsSubscription_Destroy(fx.hb_sub);
    natsConnection_Destroy(fx.nc);
    natsConnection_Destroy(fx.fake_nc);
    harness_natsd_stop(fx.natsd);
    harness_rmtree(fx.dir);
    free(fx.dir);
    return 0;
}

/* ---- tests ------------------------------------------------------------------------------------ */

static void test_expected_node_never_seen_is_missing(void **state)
{
    (void)state;
    seen_t s;
    assert_true(wait_status("ghost", BOSUN__NODE_LIVENESS__NODE_LIVENESS_MISSING, 0, 5000, &s));
    assert_int_equal(s.previous, BOSUN__NODE_LIVENESS__NODE_LIVENESS_UNKNOWN);
    assert_true(harness_proc_wait_log(fx.central, "node ghost: UNKNOWN -> MISSING", 2000));
    /* n1 is expected too, and came in time: never missing. */
    assert_true(wait_status("n1", BOSUN__NODE_LIVENESS__NODE_LIVENESS_ALIVE, 0, 10000, NULL));
    assert_false(wait_status("n1", BOSUN__NODE_LIVENESS__NODE_LIVENESS_MISSING, 0, 0, NULL));
}

static void test_killed_agent_goes_through_every_state_and_returns(void **state)
{
    (void)state;
    seen_t first;
    assert_true(wait_status("n1", BOSUN__NODE_LIVENESS__NODE_LIVENESS_ALIVE, 0, 10000, &first));
    usleep(500 * 1000); /* a few heartbeats in a steady state */
    size_t from = mark();
    assert_int_equal(harness_proc_signal(fx.agent, SIGKILL), 0);
    assert_int_equal(harness_proc_stop(fx.agent, 5000, NULL), 0);
    fx.agent = NULL;
    uint64_t killed = mono_ms();

    const struct {
        Bosun__NodeLiveness status;
        int threshold;
    } ladder[] = {
        {BOSUN__NODE_LIVENESS__NODE_LIVENESS_SLOW, SLOW},
        {BOSUN__NODE_LIVENESS__NODE_LIVENESS_WARN, WARN},
        {BOSUN__NODE_LIVENESS__NODE_LIVENESS_DEAD, DEAD},
        {BOSUN__NODE_LIVENESS__NODE_LIVENESS_REMOVED, REMOVE},
    };
    seen_t got[4];
    for (int i = 0; i < 4; i++) {
        assert_true(wait_status("n1", ladder[i].status, from, REMOVE + 3000, &got[i]));
        assert_int_equal(got[i].previous, i == 0 ? BOSUN__NODE_LIVENESS__NODE_LIVENESS_ALIVE : ladder[i - 1].status);
    }
    uint64_t last = atomic_load(&n1_last_heartbeat_ms);
    assert_true(last <= killed);
    for (int i = 0; i < 4; i++) {
        int64_t after = (int64_t)(got[i].at_ms - last);
        print_message("n1 %-7s %4lld ms after its last heartbeat (threshold %d, check every %d)\n",
                      i == 0 ? "SLOW" : i == 1 ? "WARN" : i == 2 ? "DEAD" : "REMOVED", (long long)after,
                      ladder[i].threshold, CHECK);
        assert_true(after >= ladder[i].threshold - EARLY_SLACK);
        assert_true(after <= ladder[i].threshold + CHECK + LATE_SLACK);
    }
    /* n1 is expected: once removed it is MISSING. */
    assert_true(wait_status("n1", BOSUN__NODE_LIVENESS__NODE_LIVENESS_MISSING, from, 1000, NULL));

    /* It returns: ALIVE, and central knows it restarted. */
    from = mark();
    start_agent();
    seen_t back;
    assert_true(wait_status("n1", BOSUN__NODE_LIVENESS__NODE_LIVENESS_ALIVE, from, 10000, &back));
    assert_true(back.restarted);
    assert_int_equal(back.previous, BOSUN__NODE_LIVENESS__NODE_LIVENESS_MISSING);
    assert_true(back.instance_id != first.instance_id);
    assert_true(harness_proc_wait_log(fx.central, "node n1 restarted (was MISSING)", 2000));
    assert_true(harness_proc_wait_log(fx.central, "node n1: WARN -> DEAD", 100));
}

static void test_double_active_is_an_alarm_until_one_yields(void **state)
{
    (void)state;
    fake_t *a = &fakes[0], *b = &fakes[1];
    fake_transition(fx.fake_nc, a, BOSUN__RESOURCE_STATE__RESOURCE_STATE_ACTIVE);
    usleep(600 * 1000);
    char *log = harness_proc_log(fx.central);
    assert_null(strstr(log, "resource vip: DOUBLE alarm"));
    free(log);
    fake_transition(fx.fake_nc, b, BOSUN__RESOURCE_STATE__RESOURCE_STATE_ACTIVE);
    assert_true(harness_proc_wait_log(fx.central, "resource vip: DOUBLE alarm: 2 live nodes claim ACTIVE", 3000));
    fake_transition(fx.fake_nc, b, BOSUN__RESOURCE_STATE__RESOURCE_STATE_IDLE);
    assert_true(harness_proc_wait_log(fx.central, "resource vip: DOUBLE alarm cleared", 3000));
}

static void test_clock_offsets_of_nodes_ahead_and_behind(void **state)
{
    (void)state;
    /* Central pings each node every 0.3 s; let it collect the full filter. */
    uint64_t end = mono_ms() + 15000;
    while ((atomic_load(&fakes[0].pings) < 10 || atomic_load(&fakes[1].pings) < 10) && mono_ms() < end)
        usleep(50000);
    assert_true(atomic_load(&fakes[0].pings) >= 10);
    assert_true(atomic_load(&fakes[1].pings) >= 10);
    /* Silence them: their SLOW status carries central's estimate. */
    size_t from = mark();
    atomic_store(&fakes[0].beating, false);
    atomic_store(&fakes[1].beating, false);
    for (int i = 0; i < 2; i++) {
        seen_t s;
        assert_true(wait_status(fakes[i].name, BOSUN__NODE_LIVENESS__NODE_LIVENESS_SLOW, from, 3000, &s));
        print_message("%s: true offset %+.3f ms, central's estimate %+.3f ms, rtt %.3f ms (%llu pings)\n",
                      fakes[i].name, fakes[i].clock_us / 1000.0, s.offset_us / 1000.0, s.rtt_us / 1000.0,
                      (unsigned long long)atomic_load(&fakes[i].pings));
        assert_true(llabs(s.offset_us - fakes[i].clock_us) <= 3000);
        assert_true(s.rtt_us > 0 && s.rtt_us < 50000);
    }
    /* Each crossed the 100 ms bound once: a warning (its first sample's value, +-0.1 ms). */
    char *log = harness_proc_log(fx.central);
    const char *a = strstr(log, "WARN   timesync: node ahead: clock offset +"),
               *b = strstr(log, "WARN   timesync: node behind: clock offset -");
    assert_non_null(a);
    assert_non_null(b);
    assert_true(fabs(atof(a + strlen("WARN   timesync: node ahead: clock offset ")) - 250.0) < 3.0);
    assert_true(fabs(atof(b + strlen("WARN   timesync: node behind: clock offset ")) + 400.0) < 3.0);
    assert_null(strstr(a + strlen("WARN   timesync: node ahead"), "node ahead: clock offset +")); /* once */
    free(log);
}

/* Last: central stops on SIGTERM with exit code 0 (under ASan: nothing leaked). */
static void test_central_stops_cleanly(void **state)
{
    (void)state;
    int ws = -1;
    assert_int_equal(harness_proc_stop(fx.central, 10000, &ws), 0);
    fx.central = NULL;
    assert_true(WIFEXITED(ws));
    assert_int_equal(WEXITSTATUS(ws), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_expected_node_never_seen_is_missing),
        cmocka_unit_test(test_killed_agent_goes_through_every_state_and_returns),
        cmocka_unit_test(test_double_active_is_an_alarm_until_one_yields),
        cmocka_unit_test(test_clock_offsets_of_nodes_ahead_and_behind),
        cmocka_unit_test(test_central_stops_cleanly),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
