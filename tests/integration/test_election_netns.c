/*
 * test_election_netns.c - elections between real bosun-agent processes on
 * three hosts in network namespaces made by the test (tests/harness/netns.h;
 * issue 4, "Tests with real agents"): a host cut off at the bridge and
 * healed, 20% loss on the ACTIVE host's port at default timing without a
 * single state flap for 60 s, and a SIGTERM handover across the bridge.
 *
 * Each agent runs inside its host namespace with the election bound to the
 * namespace's veth, no reachable broker (nats://127.0.0.1:1, the namespace's
 * own loopback) and a cryptoPassword. Its onActive and onIdle scripts append
 * "<epoch-ns> <node> <resource> <state>" to one shared file; its log records
 * every transition with a millisecond time. The test reads both.
 *
 * Needs root (CI runs it as root): it fails, rather than skips, without.
 * `test_election_netns PATTERN` runs only the tests whose names match.
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
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "harness.h"
#include "netns.h"

#define N 3
#define R 2
#define GROUP "239.255.199.1"
#define PORT "8513"
#define MAX_TR 4096

/* Timing of the cut/heal and handover tests; the loss test uses the defaults. */
#define FAST_TX 0.2
#define FAST_TW 0.2
#define LOSS_PERCENT 20
#define LOSS_SECS 60

enum { NONE, IDLE, GOING_ACTIVE, ACTIVE };
static const char *const state_names[] = {"NONE", "IDLE", "GOING_ACTIVE", "ACTIVE"};
static const char *const res_ids[R] = {"res01", "res02"};

typedef struct {
    netns_t *net;
    char *dir;
    char states[600];
    char config[N][600];
    char log[N][600];
    harness_proc_t *agent[N];
    double tx, tw;
} fleet_t;

static fleet_t fl;

/* One transition from an agent's log. */
typedef struct {
    int64_t ms;   /* wall clock */
    int node;
    int res;
    int from, to;
    char reason[80];
} tr_t;

/* lib/clock.h's clocks, signed: these tests subtract times freely. */
static int64_t wall_ms(void) { return (int64_t)bosun_wall_ms(); }
static void sleep_ms(int ms) { bosun_sleep_ms(ms > 0 ? (uint64_t)ms : 0); }

/* ---- the fleet ------------------------------------------------------------------------ */

static void write_script(const char *name, const char *state)
{
    char path[700], text[1200];
    snprintf(path, sizeof path, "%s/%s", fl.dir, name);
    /* EPOCHREALTIME: the script's own start time, without forking date. */
    snprintf(text, sizeof text,
             "#!/bin/bash\nprintf '%%s %%s %%s %s\\n' \"${EPOCHREALTIME/./}000\" \"$BOSUN_NODE\" \"$1\""
             " >> '%s'\n",
             state, fl.states);
    assert_int_equal(harness_write_file(path, text), 0);
    assert_int_equal(chmod(path, 0755), 0);
}

/* Node i: res01 priorities 110/120/130 (n3 best), res02 190/180/170 (n1 best). */
static void write_config(int i)
{
    char json[2048];
    snprintf(fl.config[i], sizeof fl.config[i], "%s/n%d.json", fl.dir, i + 1);
    snprintf(fl.log[i], sizeof fl.log[i], "%s/n%d.log", fl.dir, i + 1);
    snprintf(json, sizeof json,
             "{\"id\": \"n%d\", \"dataDir\": \"%s/d%d\",\n"
             " \"nats\": {\"servers\": [\"nats://127.0.0.1:1\"]},\n"
             " \"networking\": {\"interfaceName\": \"" NETNS_HOST_IF "\", \"address\": \"" GROUP "\","
             " \"port\": " PORT ", \"cryptoPassword\": \"netns-fleet-secret\"},\n"
             " \"resources\": [{\"id\": \"res01\", \"priority\": %d}, {\"id\": \"res02\", \"priority\": %d}],\n"
             " \"run\": {\"onActive\": \"%s/on_active.sh\", \"onIdle\": \"%s/on_idle.sh\"},\n"
             " \"timing\": {\"txIntervalSecs\": %g, \"transitionWaitSecs\": %g}}\n",
             i + 1, fl.dir, i + 1, 110 + 10 * i, 190 - 10 * i, fl.dir, fl.dir, fl.tx, fl.tw);
    assert_int_equal(harness_write_file(fl.config[i], json), 0);
}

static void start_agent(int i)
{
    char *argv[] = {BOSUN_AGENT_BIN, "--config-file", fl.config[i], "--log-level", "4", NULL};
    char **full = netns_exec_argv(fl.net, i, argv);
    assert_non_null(full);
    int rc = harness_proc_start(full, fl.log[i], &fl.agent[i]);
    free(full);
    assert_int_equal(rc, 0);
}

static int setup_fleet(double tx, double tw)
{
    memset(&fl, 0, sizeof fl);
    fl.tx = tx;
    fl.tw = tw;
    fl.dir = harness_tmpdir("netns");
    if (fl.dir == NULL || netns_new(N, &fl.net) != 0)
        return -1;
    snprintf(fl.states, sizeof fl.states, "%s/states", fl.dir);
    write_script("on_active.sh", "ACTIVE");
    write_script("on_idle.sh", "IDLE");
    for (int i = 0; i < N; i++)
        write_config(i);
    for (int i = 0; i < N; i++)
        start_agent(i);
    return 0;
}

static int setup_fast(void **state)
{
    (void)state;
    return setup_fleet(FAST_TX, FAST_TW);
}

static int setup_default(void **state)
{
    (void)state;
    return setup_fleet(1.0, 3.0);
}

static int teardown(void **state)
{
    (void)state;
    /* SIGTERM to all first: each takes a moment to stop without a broker. */
    for (int i = 0; i < N; i++)
        if (fl.agent[i] != NULL)
            harness_proc_signal(fl.agent[i], SIGTERM);
    int rc = 0;
    for (int i = 0; i < N; i++) {
        if (fl.agent[i] == NULL)
            continue;
        int ws = 0;
        harness_proc_stop(fl.agent[i], 8000, &ws);
        /* A clean stop exits 0; a sanitizer report or a crash does not. */
        if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0) {
            char *log = harness_read_file(fl.log[i], NULL);
            fprintf(stderr, "# n%d did not stop cleanly (wait status 0x%x); its log:\n%s\n", i + 1,
                    (unsigned)ws, log ? log : "(unreadable)");
            free(log);
            rc = -1;
        }
    }
    netns_free(fl.net);
    harness_rmtree(fl.dir);
    free(fl.dir);
    memset(&fl, 0, sizeof fl);
    return rc;
}

/* ---- what the agents say ------------------------------------------------------------------ */

static int state_of_name(const char *s, size_t len)
{
    for (int k = 0; k < 4; k++)
        if (strlen(state_names[k]) == len && strncmp(s, state_names[k], len) == 0)
            return k;
    return -1;
}

static int res_index(const char *s, size_t len)
{
    for (int r = 0; r < R; r++)
        if (strlen(res_ids[r]) == len && strncmp(s, res_ids[r], len) == 0)
            return r;
    return -1;
}

/* Parses "2026-11-25T13:24:21.639Z INFO   election: res02: IDLE -> GOING_ACTIVE (why) ...". */
static bool parse_transition(const char *line, int node, tr_t *t)
{
    struct tm tm = {0};
    int msec = 0;
    if (sscanf(line, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &tm.tm_sec, &msec) != 7)
        return false;
    const char *e = strstr(line, "election: ");
    if (e == NULL)
        return false;
    e += strlen("election: ");
    const char *colon = strchr(e, ':');
    const char *arrow = strstr(e, " -> ");
    if (colon == NULL || arrow == NULL || arrow < colon)
        return false;
    int r = res_index(e, (size_t)(colon - e));
    const char *from = colon + 2;
    const char *to = arrow + 4;
    size_t to_len = strcspn(to, " \n");
    int f = state_of_name(from, (size_t)(arrow - from)), s = state_of_name(to, to_len);
    if (r < 0 || f < 0 || s < 0)
        return false;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    t->ms = (int64_t)timegm(&tm) * 1000 + msec;
    t->node = node;
    t->res = r;
    t->from = f;
    t->to = s;
    const char *open = strchr(to, '(');
    const char *close = open ? strchr(open, ')') : NULL;
    snprintf(t->reason, sizeof t->reason, "%.*s", open && close ? (int)(close - open - 1) : 0,
             open ? open + 1 : "");
    return true;
}

/* Appends node's transitions at or after since_ms to out[*n]. */
static void read_transitions(int node, int64_t since_ms, tr_t *out, size_t *n, size_t max)
{
    char *text = harness_read_file(fl.log[node], NULL);
    if (text == NULL)
        return;
    for (char *line = text; *line != '\0';) {
        char *nl = strchr(line, '\n');
        if (nl != NULL)
            *nl = '\0';
        tr_t t;
        if (parse_transition(line, node, &t) && t.ms >= since_ms && *n < max)
            out[(*n)++] = t;
        if (nl == NULL)
            break;
        line = nl + 1;
    }
    free(text);
}

/* Node's state for r by its log (its last transition), NONE if not running. */
static int log_state(int node, int r)
{
    if (fl.agent[node] == NULL || !harness_proc_running(fl.agent[node]))
        return NONE;
    static tr_t tr[MAX_TR];
    size_t n = 0;
    read_transitions(node, 0, tr, &n, MAX_TR);
    int s = NONE;
    for (size_t k = 0; k < n; k++)
        if (tr[k].res == r)
            s = tr[k].to;
    return s;
}

/* Bit set of the nodes ACTIVE for r by their logs. */
static int active_set(int r)
{
    int set = 0;
    for (int i = 0; i < N; i++)
        if (log_state(i, r) == ACTIVE)
            set |= 1 << i;
    return set;
}

/* Waits until the ACTIVE sets of res01 and res02 are want[0], want[1]. ms waited or -1. */
static long wait_actives(int want0, int want1, int timeout_ms)
{
    int64_t t0 = wall_ms();
    while (wall_ms() - t0 < timeout_ms) {
        if (active_set(0) == want0 && active_set(1) == want1)
            return (long)(wall_ms() - t0);
        sleep_ms(20);
    }
    fprintf(stderr, "# waited %d ms: res01 ACTIVE set 0x%x (want 0x%x), res02 0x%x (want 0x%x)\n",
            timeout_ms, active_set(0), want0, active_set(1), want1);
    return -1;
}

/* Counts the scripts' lines at or after since_ns; the last state per node and resource in last. */
static int script_lines(int64_t since_ns, int last[N][R])
{
    for (int i = 0; i < N; i++)
        for (int r = 0; r < R; r++)
            last[i][r] = NONE;
    char *text = harness_read_file(fl.states, NULL);
    if (text == NULL)
        return 0;
    int count = 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        long long ns = 0;
        int node = 0;
        char res[64], st[32];
        if (sscanf(line, "%lld n%d %63s %31s", &ns, &node, res, st) != 4 || node < 1 || node > N)
            continue;
        int r = res_index(res, strlen(res)), s = state_of_name(st, strlen(st));
        if (r < 0 || s < 0)
            continue;
        last[node - 1][r] = s;
        count += ns >= since_ns;
    }
    free(text);
    return count;
}

/* Waits until the scripts' last word agrees with the ACTIVE sets. */
static bool wait_scripts(int want0, int want1, int timeout_ms)
{
    int want[R] = {want0, want1};
    int64_t t0 = wall_ms();
    while (wall_ms() - t0 < timeout_ms) {
        int last[N][R];
        script_lines(0, last);
        bool ok = true;
        for (int i = 0; i < N; i++)
            for (int r = 0; r < R; r++)
                ok = ok && ((last[i][r] == ACTIVE) == ((want[r] >> i) & 1));
        if (ok)
            return true;
        sleep_ms(20);
    }
    return false;
}

/* Waits until every transition to IDLE or ACTIVE so far has had its script run. */
static bool wait_scripts_done(int timeout_ms)
{
    static tr_t tr[MAX_TR];
    int64_t t0 = wall_ms();
    while (wall_ms() - t0 < timeout_ms) {
        size_t n = 0;
        int want = 0, last[N][R];
        for (int i = 0; i < N; i++)
            read_transitions(i, 0, tr, &n, MAX_TR);
        for (size_t k = 0; k < n; k++)
            want += tr[k].to == IDLE || tr[k].to == ACTIVE;
        if (script_lines(0, last) == want)
            return true;
        sleep_ms(20);
    }
    return false;
}

static void print_transitions(const char *title, const tr_t *tr, size_t n, int64_t t0)
{
    printf("# %s: %zu transitions\n", title, n);
    for (size_t k = 0; k < n; k++)
        printf("#   +%7.3f s  n%d %s: %s -> %s (%s)\n", (double)(tr[k].ms - t0) / 1000.0,
               tr[k].node + 1, res_ids[tr[k].res], state_names[tr[k].from], state_names[tr[k].to],
               tr[k].reason);
}

static int by_time(const void *a, const void *b)
{
    const tr_t *x = a, *y = b;
    return x->ms < y->ms ? -1 : x->ms > y->ms;
}

/* Every transition of every node at or after since_ms, in time order. */
static size_t all_transitions(int64_t since_ms, tr_t *out, size_t max)
{
    size_t n = 0;
    for (int i = 0; i < N; i++)
        read_transitions(i, since_ms, out, &n, max);
    qsort(out, n, sizeof *out, by_time);
    return n;
}

/* ---- tests --------------------------------------------------------------------------------------- */

#define N1 (1 << 0)
#define N2 (1 << 1)
#define N3 (1 << 2)

static void test_cut_off_host_and_heal(void **state)
{
    (void)state;
    static tr_t tr[MAX_TR];
    int tx_ms = (int)(fl.tx * 1000);
    assert_true(wait_actives(N3, N1, 15000) >= 0);
    assert_true(wait_scripts(N3, N1, 5000));

    /* Cut n3, the ACTIVE of res01: n2 (120) takes res01 over; n3, alone, stays
     * ACTIVE for res01 and (expected in its partition) claims res02 too. */
    int64_t t_cut = wall_ms();
    assert_int_equal(netns_cut(fl.net, 2), 0);
    long ms = wait_actives(N2 | N3, N1 | N3, 10000);
    printf("# cut n3: both partitions have their ACTIVEs after %ld ms (tx %d ms, tw %d ms)\n", ms,
           tx_ms, (int)(fl.tw * 1000));
    assert_true(ms >= 0);
    /* n3 never left ACTIVE for res01. */
    size_t n = all_transitions(t_cut, tr, MAX_TR);
    for (size_t k = 0; k < n; k++)
        assert_false(tr[k].node == 2 && tr[k].res == 0);
    /* Each side keeps its view while cut. */
    sleep_ms(10 * tx_ms);
    assert_int_equal(active_set(0), N2 | N3);
    assert_int_equal(active_set(1), N1 | N3);

    /* Heal: the better standing keeps each resource, the lesser yields. */
    int64_t t_heal = wall_ms();
    assert_int_equal(netns_heal(fl.net, 2), 0);
    ms = wait_actives(N3, N1, 10000);
    assert_true(ms >= 0);
    sleep_ms(10 * tx_ms); /* and nothing moves after that */
    n = all_transitions(t_heal, tr, MAX_TR);
    print_transitions("after heal", tr, n, t_heal);
    int64_t last = 0;
    for (size_t k = 0; k < n; k++)
        last = tr[k].ms - t_heal;
    printf("# heal: one ACTIVE per resource %lld ms after the port came up (%.1f tx)\n",
           (long long)last, (double)last / tx_ms);
    /* Exactly the two yields: n2 gives res01 back to n3, n3 gives res02 to n1. */
    assert_int_equal(n, 2);
    for (size_t k = 0; k < n; k++) {
        assert_int_equal(tr[k].from, ACTIVE);
        assert_int_equal(tr[k].to, IDLE);
        assert_true((tr[k].node == 1 && tr[k].res == 0) || (tr[k].node == 2 && tr[k].res == 1));
    }
    assert_true(last <= 5 * tx_ms);
    assert_int_equal(active_set(0), N3);
    assert_int_equal(active_set(1), N1);
    assert_true(wait_scripts(N3, N1, 5000));
}

static void test_loss_20pct_no_flap_default_timing(void **state)
{
    (void)state;
    static tr_t tr[MAX_TR];
    assert_true(wait_actives(N3, N1, 20000) >= 0);
    assert_true(wait_scripts(N3, N1, 5000));
    /* Scripts of earlier transitions must not be counted as flaps. */
    assert_true(wait_scripts_done(5000));

    /* Strict: counting starts the moment the loss is applied. */
    int64_t t0 = wall_ms();
    int last[N][R];
    assert_int_equal(netns_set_loss(fl.net, 2, LOSS_PERCENT), 0);
    for (int s = 0; s < LOSS_SECS; s++) {
        sleep_ms(1000);
        for (int i = 0; i < N; i++)
            assert_true(harness_proc_running(fl.agent[i]));
    }
    int64_t t1 = wall_ms();
    assert_int_equal(netns_set_loss(fl.net, 2, 0), 0);

    size_t n = all_transitions(t0, tr, MAX_TR);
    while (n > 0 && tr[n - 1].ms > t1)
        n--;
    int scripts = script_lines(t0 * 1000000, last);
    char title[160];
    snprintf(title, sizeof title,
             "%d%% loss on n3's port (n3 ACTIVE for res01), tx 1 s, tw 3 s, %.1f s", LOSS_PERCENT,
             (double)(t1 - t0) / 1000.0);
    print_transitions(title, tr, n, t0);
    printf("# onActive/onIdle runs in that time: %d\n", scripts);
    assert_int_equal(n, 0);
    assert_int_equal(scripts, 0);
    assert_int_equal(active_set(0), N3);
    assert_int_equal(active_set(1), N1);
}

static void test_sigterm_hands_over(void **state)
{
    (void)state;
    static tr_t tr[MAX_TR];
    int tx_ms = (int)(fl.tx * 1000), tw_ms = (int)(fl.tw * 1000);
    assert_true(wait_actives(N3, N1, 15000) >= 0);
    assert_true(wait_scripts(N3, N1, 5000));

    int64_t t0 = wall_ms();
    assert_int_equal(harness_proc_signal(fl.agent[2], SIGTERM), 0);
    int ws = 0;
    assert_int_equal(harness_proc_wait(fl.agent[2], 8000, &ws), 0);
    assert_true(WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
    assert_true(wait_actives(N2, N1, 5000) >= 0);

    size_t n = all_transitions(t0, tr, MAX_TR);
    print_transitions("after SIGTERM of n3", tr, n, t0);
    int64_t took = -1;
    bool stopped = false;
    for (size_t k = 0; k < n; k++) {
        if (tr[k].node == 1 && tr[k].res == 0 && tr[k].to == ACTIVE)
            took = tr[k].ms - t0;
        stopped |= tr[k].node == 2 && tr[k].res == 0 && tr[k].from == ACTIVE &&
                   strcmp(tr[k].reason, "stopping") == 0;
    }
    /* Release: n2 moves after its skew and the transition wait, far less
     * than the 3 tx detection window a kill -9 costs. */
    printf("# handover after SIGTERM: n2 ACTIVE for res01 %lld ms after the signal "
           "(tx %d ms, tw %d ms; a detection window would add %d ms)\n",
           (long long)took, tx_ms, tw_ms, 3 * tx_ms);
    assert_true(stopped);
    assert_true(took >= 0);
    assert_true(took < tx_ms / 2 + tw_ms + 250);
    /* n3's onIdle ran for res01 on the way out; n2's onActive ran. */
    assert_true(wait_scripts(N2, N1, 5000));
    harness_proc_stop(fl.agent[2], 1000, NULL);
    fl.agent[2] = NULL;
}

int main(int argc, char **argv)
{
    if (geteuid() != 0) {
        fprintf(stderr, "test_election_netns: FAILED: needs root to make network namespaces and "
                        "nftables rules (euid %d). CI runs it as root; run it with sudo.\n",
                (int)geteuid());
        return 1;
    }
    if (netns_tool("ip") == NULL || netns_tool("nft") == NULL) {
        fprintf(stderr, "test_election_netns: FAILED: needs ip (iproute2) and nft (nftables); "
                        "see deploy's install-deps\n");
        return 1;
    }
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_cut_off_host_and_heal, setup_fast, teardown),
        cmocka_unit_test_setup_teardown(test_loss_20pct_no_flap_default_timing, setup_default, teardown),
        cmocka_unit_test_setup_teardown(test_sigterm_hands_over, setup_fast, teardown),
    };
    return cmocka_run_group_tests_name("election in network namespaces", tests, NULL, NULL);
}
