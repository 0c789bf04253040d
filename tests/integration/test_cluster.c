/*
 * test_cluster.c - bosun on a three-server NATS cluster on loopback
 * (issue 9): central and three agents each start on their own server and
 * learn the others from the cluster; one server is killed in the middle of a
 * stream of commands, and heartbeats, elections mirrored on NATS and
 * command delivery carry on with nothing lost and nothing run twice.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "harness.h"

#define SERVERS 3
#define NODES 3

typedef struct {
    harness_natsd_t *srv[SERVERS];
    int cluster_port[SERVERS];
    char *dir;
    char central_dir[600];
    harness_proc_t *central;
    harness_proc_t *agent[NODES];
    char agent_dir[NODES][600];
    natsConnection *watch;   /* the test's own view, on server 3 */
    int mport;               /* the agents' election port */
} fx_t;

static fx_t fx;

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int start_cluster(void)
{
    for (int i = 0; i < SERVERS; i++)
        fx.cluster_port[i] = harness_free_port();
    for (int i = 0; i < SERVERS; i++) {
        char listen[64], routes[256] = "";
        snprintf(listen, sizeof listen, "nats://127.0.0.1:%d", fx.cluster_port[i]);
        for (int k = 0; k < SERVERS; k++)
            if (k != i)
                snprintf(routes + strlen(routes), sizeof routes - strlen(routes), "%snats://127.0.0.1:%d",
                         routes[0] ? "," : "", fx.cluster_port[k]);
        const char *args[] = {"--cluster", listen, "--cluster_name", "bosun-test", "--routes", routes, NULL};
        if (harness_natsd_start(args, &fx.srv[i]) != 0)
            return -1;
    }
    return 0;
}

/* True once a message published on server a reaches a subscriber on server b. */
static bool routed(int a, int b)
{
    natsConnection *pa = client_connect(harness_natsd_url(fx.srv[a]));
    natsConnection *pb = client_connect(harness_natsd_url(fx.srv[b]));
    bool ok = false;
    natsSubscription *sub = NULL;
    if (pa && pb && natsConnection_SubscribeSync(&sub, pb, "route.check") == NATS_OK) {
        natsConnection_Flush(pb);
        for (int i = 0; i < 50 && !ok; i++) {
            natsConnection_PublishString(pa, "route.check", "x");
            natsConnection_Flush(pa);
            natsMsg *m = NULL;
            if (natsSubscription_NextMsg(&m, sub, 100) == NATS_OK) {
                ok = true;
                natsMsg_Destroy(m);
            }
        }
    }
    natsSubscription_Destroy(sub);
    if (pa)
        natsConnection_Destroy(pa);
    if (pb)
        natsConnection_Destroy(pb);
    return ok;
}

static void start_agent(int i)
{
    char cfg[700], json[2048], log[700];
    snprintf(fx.agent_dir[i], sizeof fx.agent_dir[i], "%s/n%d", fx.dir, i + 1);
    snprintf(cfg, sizeof cfg, "%s/n%d.json", fx.dir, i + 1);
    /* Each agent knows only its home server; the cluster tells it the others. */
    snprintf(json, sizeof json,
             "{\"id\": \"n%d\", \"dataDir\": \"%s\", \"nats\": {\"servers\": [\"%s\"]},\n"
             " \"networking\": {\"interfaceName\": \"lo\", \"address\": \"239.255.77.%d\", \"port\": %d,"
             " \"cryptoPassword\": \"cluster-test\"},\n"
             " \"resources\": [{\"id\": \"vip\", \"priority\": %d}],\n"
             " \"timing\": {\"txIntervalSecs\": 0.1, \"transitionWaitSecs\": 0.2, \"heartbeatIntervalMs\": 100}}\n",
             i + 1, fx.agent_dir[i], harness_natsd_url(fx.srv[i % SERVERS]), 1 + getpid() % 200,
             fx.mport, 100 + 10 * i);
    assert_int_equal(harness_write_file(cfg, json), 0);
    snprintf(log, sizeof log, "%s/n%d.log", fx.dir, i + 1);
    char *argv[] = {BOSUN_AGENT_BIN, "--config-file", cfg, "--log-level", "4", NULL};
    assert_int_equal(harness_proc_start(argv, log, &fx.agent[i]), 0);
}

static int setup(void **state)
{
    (void)state;
    memset(&fx, 0, sizeof fx);
    fx.dir = harness_tmpdir("cluster");
    if (fx.dir == NULL || start_cluster() != 0)
        return -1;
    if (!routed(0, 2) || !routed(1, 2) || !routed(0, 1))
        return -1;
    snprintf(fx.central_dir, sizeof fx.central_dir, "%s/central", fx.dir);
    char cfg[700], json[2048], log[700];
    snprintf(cfg, sizeof cfg, "%s/central.json", fx.dir);
    snprintf(json, sizeof json,
             "{\"id\": \"central\", \"dataDir\": \"%s\", \"nats\": {\"servers\": [\"%s\"]},\n"
             " \"delivery\": {\"ackTimeoutSecs\": 1, \"retryWaitSecs\": 0.2, \"maxRetryWaitSecs\": 1}}\n",
             fx.central_dir, harness_natsd_url(fx.srv[0]));
    if (harness_write_file(cfg, json) != 0)
        return -1;
    snprintf(log, sizeof log, "%s/central.log", fx.dir);
    char *argv[] = {BOSUN_CENTRAL_BIN, "--config-file", cfg, "--log-level", "4", NULL};
    if (harness_proc_start(argv, log, &fx.central) != 0)
        return -1;
    fx.mport = harness_free_port();
    for (int i = 0; i < NODES; i++)
        start_agent(i);
    fx.watch = client_connect(harness_natsd_url(fx.srv[2]));
    return fx.watch ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    if (fx.watch)
        natsConnection_Destroy(fx.watch);
    harness_proc_stop(fx.central, 5000, NULL);
    for (int i = 0; i < NODES; i++)
        harness_proc_stop(fx.agent[i], 5000, NULL);
    for (int i = 0; i < SERVERS; i++)
        harness_natsd_stop(fx.srv[i]);
    harness_rmtree(fx.dir);
    free(fx.dir);
    return 0;
}

static void drop_range(int from, int to)
{
    char path[700];
    snprintf(path, sizeof path, "%s/inmsg.txt", fx.central_dir);
    for (int i = from; i < to; i++) {
        char d[256];
        snprintf(d, sizeof d, "[{\"toNode\": \"n%d\", \"method\": \"textLogging\", \"data\": [\"c-%04d\"]}]\n",
                 1 + i % NODES, i);
        int fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0660);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, d, strlen(d)), (ssize_t)strlen(d));
        close(fd);
        usleep(5000);
    }
}

/* Counts messages per node on a subscription for `ms`. */
static void count_for(natsSubscription *sub, int ms, int *per_node)
{
    uint64_t end = mono_ms() + (uint64_t)ms;
    while (mono_ms() < end) {
        natsMsg *m = NULL;
        if (natsSubscription_NextMsg(&m, sub, 50) != NATS_OK)
            continue;
        int n = 0;
        if (sscanf(natsMsg_GetSubject(m), "n%d.", &n) == 1 && n >= 1 && n <= NODES)
            per_node[n - 1]++;
        natsMsg_Destroy(m);
    }
}

static void test_server_loss_loses_nothing(void **state)
{
    (void)state;
    natsSubscription *hb = NULL, *bids = NULL;
    assert_int_equal(natsConnection_SubscribeSync(&hb, fx.watch, "*.event.heartbeat"), NATS_OK);
    assert_int_equal(natsConnection_SubscribeSync(&bids, fx.watch, "*.event.bid"), NATS_OK);
    natsConnection_Flush(fx.watch);
    int before[NODES] = {0};
    count_for(hb, 1500, before);
    for (int i = 0; i < NODES; i++)
        assert_true(before[i] >= 5);

    drop_range(0, 150);
    /* Server 2 (home of agent n2) goes away in the middle of the stream. */
    assert_int_equal(harness_natsd_kill(fx.srv[1]), 0);
    drop_range(150, 300);

    /* Heartbeats of every node keep reaching server 3, n2's via another server. */
    int after[NODES] = {0};
    natsSubscription_SetPendingLimits(hb, -1, -1);
    usleep(2000000); /* time for n2 to reconnect */
    int dummy[NODES] = {0};
    count_for(hb, 100, dummy); /* drain what was queued */
    count_for(hb, 1500, after);
    for (int i = 0; i < NODES; i++)
        assert_true(after[i] >= 5);
    /* The election keeps being mirrored: the ACTIVE node (n3, best priority) sends bids. */
    int bid_counts[NODES] = {0};
    count_for(bids, 1500, bid_counts);
    assert_true(bid_counts[2] >= 1);

    /* Every command finished once, in order per node. */
    char *argv[] = {BOSUN_CENTRAL_BIN, "results", "--data-dir", fx.central_dir, NULL};
    size_t finished = 0;
    for (int waited = 0; waited < 60000 && finished < 300; waited += 500) {
        char *out = NULL;
        int code = -1;
        finished = 0;
        /* One line per finished message; the Result's own status comes before its Ack. */
        if (harness_run(argv, 20000, &out, &code) == 0 && code == 0)
            for (char *save = NULL, *l = strtok_r(out, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                assert_non_null(strstr(l, "\"status\":\"OK\",\"ack\""));
                finished++;
            }
        free(out);
        if (finished < 300)
            usleep(500000);
    }
    assert_int_equal(finished, 300);
    for (int n = 0; n < NODES; n++) {
        char path[700];
        snprintf(path, sizeof path, "%s/textLogging.log", fx.agent_dir[n]);
        char *text = harness_read_file(path, NULL);
        assert_non_null(text);
        int expect = n, lines = 0;
        for (char *save = NULL, *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
            char want[16];
            snprintf(want, sizeof want, "c-%04d", expect);
            assert_string_equal(l, want);
            expect += NODES;
            lines++;
        }
        assert_int_equal(lines, 100);
        free(text);
    }
    natsSubscription_Destroy(hb);
    natsSubscription_Destroy(bids);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_server_loss_loses_nothing, setup, teardown),
    };
    return cmocka_run_group_tests_name("nats cluster", tests, NULL, NULL);
}
