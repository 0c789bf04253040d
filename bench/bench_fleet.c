/*
 * bench_fleet.c - central's fleet view under a fleet of simulated nodes.
 *
 * Starts a private nats-server (127.0.0.1, monitoring on 127.0.0.1 too) and
 * a real bosun-central through tests/harness (every child stopped by its
 * pid, also on a crash), then plays N nodes: real Heartbeat protobufs (host
 * status, two resources, counters; ~400 bytes) published at R Hz each,
 * spread evenly over time, and answers to central's time-sync pings.
 * It measures:
 *   (a) central's CPU share (utime+stime from /proc/PID/stat over the
 *       steady window, after every node has appeared) and its resident
 *       memory (VmRSS at the end, VmHWM peak);
 *   (b) whether central keeps up: its own counters, logged every 5 s at
 *       DEBUG ("fleet: stats: ... applied=A queued=Q nats_pending=P
 *       dropped=D nats_dropped=ND"), against what the generator had sent at
 *       the time stamped on that line. backlog = sent(t) - applied(t) is
 *       every heartbeat in flight: in the server, in the socket, in nats.c's
 *       buffer and in central's queue. Keeping up means the backlog does not
 *       grow; the figures are its value over time and its least-squares
 *       slope. Drops: central's queue, nats.c's slow-consumer drops, and the
 *       server's slow-consumer count (/varz);
 *   (c) detection latency: K nodes are stopped one by one during the run;
 *       for each, the time from its last heartbeat (publish, generator's
 *       clock) to the DEAD status on central.event.nodeStatus.
 * Settings and machine are printed with the figures. It never passes or
 * fails on time: exit 0 unless something broke (1), or bad flags (2).
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <nats/nats.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench_nats.h"
#include "bench_util.h"
#include "bosun.pb-c.h"
#include "harness.h"

#define TICK_MS 10
#define RESOURCES_PER_NODE 2
#define WARMUP_EXTRA_S 5   /* steady window starts this long after the first full round */
#define TRIAL_EVERY_MS 1500
#define CHECK_MS 250

typedef struct {
    long nodes;
    long rate_hz;
    long duration_s;
    long trials;
    long ping_interval_s;
    bool recorder;
} settings_t;

/* ---- the simulated fleet ------------------------------------------------------------ */

typedef struct {
    char (*name)[24];
    char (*host)[48];
    char (*res)[RESOURCES_PER_NODE][32];
    uint64_t *instance;
    uint64_t *seq;
    _Atomic uint64_t *last_pub_us;   /* generator's monotonic clock */
    atomic_bool *stopped;
    long n;
} fleet_sim_t;

static fleet_sim_t sim;
static settings_t set = {.nodes = 10000, .rate_hz = 2, .duration_s = 60, .trials = 20, .ping_interval_s = 10};

/* sent(t): the generator's count, sampled every tick (wall ms). */
typedef struct {
    uint64_t wall_ms, sent;
} sent_sample_t;

static sent_sample_t *history;
static size_t n_history, cap_history;
static pthread_mutex_t history_mu = PTHREAD_MUTEX_INITIALIZER;
static atomic_uint_fast64_t sent, publish_errors, pings_answered, bytes_sent, longest_gap_us;
static atomic_bool stop_gen;

static uint64_t sent_at(uint64_t wall_ms)
{
    pthread_mutex_lock(&history_mu);
    uint64_t v = 0;
    size_t lo = 0, hi = n_history;
    while (lo < hi) { /* last sample at or before wall_ms */
        size_t mid = (lo + hi) / 2;
        if (history[mid].wall_ms <= wall_ms)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo > 0)
        v = history[lo - 1].sent;
    pthread_mutex_unlock(&history_mu);
    return v;
}

static void publish_one(natsConnection *nc, long i, uint8_t *buf, size_t cap)
{
    Bosun__Heartbeat hb = BOSUN__HEARTBEAT__INIT;
    Bosun__HostStatus host = BOSUN__HOST_STATUS__INIT;
    Bosun__AgentCounters ctr = BOSUN__AGENT_COUNTERS__INIT;
    Bosun__ResourceStatus rs[RESOURCES_PER_NODE], *rsp[RESOURCES_PER_NODE];
    uint64_t now_ms = bench_wall_us() / 1000;
    hb.node = sim.name[i];
    hb.instance_id = sim.instance[i];
    hb.sequence = ++sim.seq[i];
    hb.boot_time_ms = now_ms - 3600000;
    hb.send_time_ms = now_ms;
    hb.pid = (uint32_t)(1000 + i);
    hb.version = "0.1.0";
    hb.interval_ms = (uint32_t)(1000 / set.rate_hz);
    host.hostname = sim.host[i];
    host.os = "Linux 6.1.0-18-amd64";
    host.cores = 8;
    host.cpu_model = "AMD EPYC 7B13 64-Core Processor";
    host.cpu_usage_percent = (double)(hb.sequence % 100);
    host.load1 = 0.42;
    host.load5 = 0.37;
    host.load15 = 0.31;
    host.mem_total_bytes = 16ull << 30;
    host.mem_available_bytes = (9ull << 30) + (hb.sequence % 1000) * 4096;
    host.host_boot_time_ms = now_ms - 86400000;
    host.agent_rss_bytes = 8ull << 20;
    hb.host = &host;
    ctr.heartbeats_sent = hb.sequence;
    ctr.commands_received = 12;
    ctr.commands_ok = 11;
    ctr.commands_failed = 1;
    ctr.election_packets_tx = hb.sequence * 2;
    ctr.election_packets_rx = hb.sequence * 2;
    hb.counters = &ctr;
    for (int k = 0; k < RESOURCES_PER_NODE; k++) {
        bosun__resource_status__init(&rs[k]);
        rs[k].resource = sim.res[i][k];
        /* Pairs of nodes share a resource; the even one owns it. */
        rs[k].state = i % 2 == 0 ? BOSUN__RESOURCE_STATE__RESOURCE_STATE_ACTIVE
                                 : BOSUN__RESOURCE_STATE__RESOURCE_STATE_IDLE;
        rs[k].priority = i % 2 == 0 ? 150 : 100;
        rs[k].owner = sim.name[i - i % 2];
        rs[k].since_ms = now_ms - 600000;
        rsp[k] = &rs[k];
    }
    hb.resources = rsp;
    hb.n_resources = RESOURCES_PER_NODE;
    size_t len = bosun__heartbeat__get_packed_size(&hb);
    if (len > cap)
        return;
    len = bosun__heartbeat__pack(&hb, buf);
    char subject[64];
    snprintf(subject, sizeof subject, "%s.event.heartbeat", sim.name[i]);
    if (natsConnection_Publish(nc, subject, buf, (int)len) != NATS_OK) {
        atomic_fetch_add(&publish_errors, 1);
        return;
    }
    atomic_store(&sim.last_pub_us[i], bench_mono_us());
    atomic_fetch_add(&sent, 1);
    atomic_fetch_add(&bytes_sent, len);
}

/* Publishes N * R heartbeats a second, round robin, evenly over each 10 ms tick. */
static void *generator_main(void *arg)
{
    natsConnection *nc = arg;
    uint8_t buf[4096];
    uint64_t start = bench_mono_us();
    uint64_t due_total = 0, last_tick = start;
    long cursor = 0;
    while (!atomic_load(&stop_gen)) {
        uint64_t tick = bench_mono_us();
        if (tick - last_tick > atomic_load(&longest_gap_us)) /* this thread starved: nodes fall silent */
            atomic_store(&longest_gap_us, tick - last_tick);
        last_tick = tick;
        uint64_t elapsed_us = tick - start;
        uint64_t target = elapsed_us * (uint64_t)sim.n * (uint64_t)set.rate_hz / 1000000u;
        for (; due_total < target; due_total++) {
            long i = cursor;
            cursor = (cursor + 1) % sim.n;
            if (!atomic_load(&sim.stopped[i]))
                publish_one(nc, i, buf, sizeof buf);
        }
        pthread_mutex_lock(&history_mu);
        if (n_history == cap_history) {
            size_t cap = cap_history ? cap_history * 2 : 4096;
            sent_sample_t *h = realloc(history, cap * sizeof *h);
            if (h != NULL) {
                history = h;
                cap_history = cap;
            }
        }
        if (n_history < cap_history)
            history[n_history++] = (sent_sample_t){bench_wall_us() / 1000, atomic_load(&sent)};
        pthread_mutex_unlock(&history_mu);
        usleep(TICK_MS * 1000);
    }
    natsConnection_FlushTimeout(nc, 5000);
    return NULL;
}

/* ---- detection trials --------------------------------------------------------------- */

typedef struct {
    long node;
    uint64_t stop_us, last_pub_us, dead_us; /* generator's monotonic clock */
} trial_t;

static trial_t *trials;
static long n_trials_started;
static pthread_mutex_t trials_mu = PTHREAD_MUTEX_INITIALIZER;
static atomic_uint_fast64_t status_count[8];

static long node_index(const char *name)
{
    if (strncmp(name, "sim-", 4) != 0)
        return -1;
    char *end;
    long i = strtol(name + 4, &end, 10);
    return *end == '\0' && i >= 0 && i < sim.n ? i : -1;
}

static void on_status(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
    (void)nc;
    (void)sub;
    (void)closure;
    uint64_t now = bench_mono_us();
    Bosun__NodeStatus *ns = bosun__node_status__unpack(NULL, (size_t)natsMsg_GetDataLength(msg),
                                                       (const uint8_t *)natsMsg_GetData(msg));
    if (ns != NULL) {
        if ((unsigned)ns->status < 8)
            atomic_fetch_add(&status_count[ns->status], 1);
        long i = ns->status == BOSUN__NODE_LIVENESS__NODE_LIVENESS_DEAD ? node_index(ns->node) : -1;
        pthread_mutex_lock(&trials_mu);
        for (long k = 0; i >= 0 && k < n_trials_started; k++)
            if (trials[k].node == i && trials[k].dead_us == 0)
                trials[k].dead_us = now;
        pthread_mutex_unlock(&trials_mu);
        bosun__node_status__free_unpacked(ns, NULL);
    }
    natsMsg_Destroy(msg);
}

static void start_trial(long k)
{
    long i = ((k + 1) * (sim.n / (set.trials + 1))) | 1; /* spread out, and odd: an IDLE node */
    if (i >= sim.n)
        i = sim.n - 1;
    pthread_mutex_lock(&trials_mu);
    trials[k].node = i;
    trials[k].stop_us = bench_mono_us();
    atomic_store(&sim.stopped[i], true);
    n_trials_started = k + 1;
    pthread_mutex_unlock(&trials_mu);
}

/* ---- central's side ------------------------------------------------------------------- */

typedef struct {
    uint64_t wall_ms;
    uint64_t received, applied, queued, nats_pending, dropped, nats_dropped, pings;
    size_t alive;
} stats_line_t;

static stats_line_t *lines;
static size_t n_lines, cap_lines;
static uint64_t central_disconnects;

/* Parses new lines of central's log (from *offset on). */
static void read_central_log(const char *path, long *offset)
{
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return;
    fseek(f, *offset, SEEK_SET);
    char line[2048];
    while (fgets(line, sizeof line, f) != NULL) {
        size_t len = strlen(line);
        if (len == 0 || line[len - 1] != '\n')
            break; /* a partial line: read it next time */
        *offset += (long)len;
        if (strstr(line, "disconnected") != NULL)
            central_disconnects++;
        const char *s = strstr(line, "fleet: stats:");
        if (s == NULL)
            continue;
        struct tm tm = {0};
        int ms = 0;
        if (sscanf(line, "%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
                   &tm.tm_sec, &ms) != 7)
            continue;
        tm.tm_year -= 1900;
        tm.tm_mon -= 1;
        stats_line_t st = {.wall_ms = (uint64_t)timegm(&tm) * 1000u + (uint64_t)ms};
        unsigned long long v[8] = {0};
        const char *p;
        if ((p = strstr(s, "alive=")) != NULL)
            st.alive = strtoul(p + 6, NULL, 10);
        const char *keys[] = {"heartbeat=", "applied=", "queued=", "nats_pending=", " dropped=", "nats_dropped=",
                              "pings="};
        for (int k = 0; k < 7; k++)
            if ((p = strstr(s, keys[k])) != NULL)
                v[k] = strtoull(p + strlen(keys[k]), NULL, 10);
        st.received = v[0];
        st.applied = v[1];
        st.queued = v[2];
        st.nats_pending = v[3];
        st.dropped = v[4];
        st.nats_dropped = v[5];
        st.pings = v[6];
        if (n_lines == cap_lines) {
            size_t cap = cap_lines ? cap_lines * 2 : 256;
            stats_line_t *g = realloc(lines, cap * sizeof *g);
            if (g == NULL)
                break;
            lines = g;
            cap_lines = cap;
        }
        lines[n_lines++] = st;
    }
    fclose(f);
}

/* VmRSS and VmHWM of pid in MiB. */
static void rss_mib(pid_t pid, double *rss, double *hwm)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    *rss = *hwm = -1;
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return;
    while (fgets(line, sizeof line, f) != NULL) {
        unsigned long kb;
        if (sscanf(line, "VmRSS: %lu kB", &kb) == 1)
            *rss = (double)kb / 1024.0;
        else if (sscanf(line, "VmHWM: %lu kB", &kb) == 1)
            *hwm = (double)kb / 1024.0;
    }
    fclose(f);
}

/* GET path from the server's monitoring port; the JSON body, or NULL. */
static json_t *monitor_get(int port, const char *path)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {.tv_sec = 2};
    if (fd < 0)
        return NULL;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char req[256];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", path);
    char *resp = NULL;
    size_t len = 0;
    if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0 && write(fd, req, (size_t)n) == n) {
        char buf[65536];
        ssize_t r;
        while ((r = read(fd, buf, sizeof buf)) > 0) {
            char *g = realloc(resp, len + (size_t)r + 1);
            if (g == NULL)
                break;
            resp = g;
            memcpy(resp + len, buf, (size_t)r);
            len += (size_t)r;
            resp[len] = '\0';
        }
    }
    close(fd);
    json_t *j = NULL;
    const char *body = resp ? strstr(resp, "\r\n\r\n") : NULL;
    if (body != NULL)
        j = json_loads(body + 4, 0, NULL);
    free(resp);
    return j;
}

/* Server-side view of central's connection: messages sent to it and bytes waiting. */
static void central_conn(int port, long long *out_msgs, long long *pending)
{
    *out_msgs = *pending = -1;
    json_t *j = monitor_get(port, "/connz?limit=1024");
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(j, "connections"), i, c)
    {
        const char *name = json_string_value(json_object_get(c, "name"));
        if (name != NULL && strcmp(name, "bosun-central central") == 0) {
            *out_msgs = json_integer_value(json_object_get(c, "out_msgs"));
            *pending = json_integer_value(json_object_get(c, "pending_bytes"));
        }
    }
    json_decref(j);
}

static long long slow_consumers(int port)
{
    json_t *j = monitor_get(port, "/varz");
    long long v = j ? json_integer_value(json_object_get(j, "slow_consumers")) : -1;
    json_decref(j);
    return v;
}

/* ---- main ------------------------------------------------------------------------------ */

static const char usage[] =
    "usage: bench_fleet [--nodes N] [--rate HZ] [--duration S] [--trials K] [--ping-interval S] [--recorder]\n"
    "  defaults: 10000 nodes at 2 Hz for 60 s, 20 detection trials, timeSync every 10 s,\n"
    "  central's recorder off (it is a separate module; --recorder turns it on)\n";

static int parse_args(int argc, char **argv)
{
    static const struct option opts[] = {
        {"nodes", required_argument, NULL, 'n'},    {"rate", required_argument, NULL, 'r'},
        {"duration", required_argument, NULL, 'd'}, {"trials", required_argument, NULL, 't'},
        {"ping-interval", required_argument, NULL, 'p'}, {"recorder", no_argument, NULL, 'R'},
        {"help", no_argument, NULL, 'h'},            {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "n:r:d:t:p:Rh", opts, NULL)) != -1) {
        bool ok = true;
        switch (c) {
        case 'n': ok = bench_parse_long(optarg, 1, 1000000, &set.nodes); break;
        case 'r': ok = bench_parse_long(optarg, 1, 100, &set.rate_hz); break;
        case 'd': ok = bench_parse_long(optarg, 10, 86400, &set.duration_s); break;
        case 't': ok = bench_parse_long(optarg, 0, 1000, &set.trials); break;
        case 'p': ok = bench_parse_long(optarg, 0, 86400, &set.ping_interval_s); break;
        case 'R': set.recorder = true; break;
        case 'h': fputs(usage, stdout); exit(0);
        default: ok = false; break;
        }
        if (!ok) {
            fputs(usage, stderr);
            return -1;
        }
    }
    return optind == argc ? 0 : -1;
}

static bool sim_init(long n)
{
    sim.n = n;
    sim.name = calloc((size_t)n, sizeof *sim.name);
    sim.host = calloc((size_t)n, sizeof *sim.host);
    sim.res = calloc((size_t)n, sizeof *sim.res);
    sim.instance = calloc((size_t)n, sizeof *sim.instance);
    sim.seq = calloc((size_t)n, sizeof *sim.seq);
    sim.last_pub_us = calloc((size_t)n, sizeof *sim.last_pub_us);
    sim.stopped = calloc((size_t)n, sizeof *sim.stopped);
    if (!sim.name || !sim.host || !sim.res || !sim.instance || !sim.seq || !sim.last_pub_us || !sim.stopped)
        return false;
    for (long i = 0; i < n; i++) {
        snprintf(sim.name[i], sizeof sim.name[i], "sim-%06ld", i);
        snprintf(sim.host[i], sizeof sim.host[i], "sim-%06ld.fleet.example.net", i);
        for (int k = 0; k < RESOURCES_PER_NODE; k++)
            snprintf(sim.res[i][k], sizeof sim.res[i][k], "svc-%06ld-%d", i / 2, k);
        sim.instance[i] = 0x5eed000000000000ull | (uint64_t)i;
    }
    return true;
}

/* Least-squares slope of y over x. */
static double slope(const double *x, const double *y, size_t n)
{
    double sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (size_t i = 0; i < n; i++) {
        sx += x[i];
        sy += y[i];
        sxx += x[i] * x[i];
        sxy += x[i] * y[i];
    }
    double d = (double)n * sxx - sx * sx;
    return n < 2 || d == 0 ? 0 : ((double)n * sxy - sx * sy) / d;
}

int main(int argc, char **argv)
{
    if (parse_args(argc, argv) != 0)
        return 2;
    signal(SIGPIPE, SIG_IGN);
    char date[64], natsd_ver[128];
    bench_date(date, sizeof date);
    bench_natsd_version(natsd_ver, sizeof natsd_ver);
    printf("bench_fleet: %s, build %s\n", date, BENCH_BUILD_TYPE);
    bench_print_machine();
    printf("software: %s, nats.c %s\n", natsd_ver, nats_GetVersion());
    /* NoPE's defaults are 2, 4, 10 and 20 heartbeats of the agent's default 500 ms: keep those
     * ratios for other rates (at 1 Hz, slowMs 1000 would call every node that is 1 ms late SLOW). */
    long interval_ms = 1000 / set.rate_hz, dead_ms = 10 * interval_ms;
    printf("settings: nodes=%ld rate=%ld Hz (%ld heartbeats/s) duration=%ld s trials=%ld timeSync=%ld s "
           "recorder=%s; central: liveness slow %ld, warn %ld, dead %ld, remove %ld, check %d ms "
           "(2/4/10/20 heartbeat intervals: NoPE's defaults at 2 Hz), log level 4\n",
           set.nodes, set.rate_hz, set.nodes * set.rate_hz, set.duration_s, set.trials, set.ping_interval_s,
           set.recorder ? "on" : "off", 2 * interval_ms, 4 * interval_ms, dead_ms, 20 * interval_ms, CHECK_MS);
    if (!sim_init(set.nodes) || (trials = calloc((size_t)set.trials + 1, sizeof *trials)) == NULL)
        return 1;

    char *dir = harness_tmpdir("bench-fleet");
    int mport = harness_free_port();
    char mport_s[16];
    snprintf(mport_s, sizeof mport_s, "%d", mport);
    const char *natsd_args[] = {"-m", mport_s, NULL};
    harness_natsd_t *natsd = NULL;
    if (dir == NULL || mport < 0 || harness_natsd_start(natsd_args, &natsd) != 0) {
        fprintf(stderr, "bench_fleet: cannot start nats-server\n");
        return 1;
    }
    char cfg[600], log[600], json[2048];
    snprintf(cfg, sizeof cfg, "%s/central.json", dir);
    snprintf(log, sizeof log, "%s/central.log", dir);
    snprintf(json, sizeof json,
             "{\"id\": \"central\", \"dataDir\": \"%s/central\", \"nats\": {\"servers\": [\"%s\"]},\n"
             " \"liveness\": {\"slowMs\": %ld, \"warnMs\": %ld, \"deadMs\": %ld, \"removeMs\": %ld,\n"
             "              \"checkIntervalMs\": %d},\n"
             " \"timeSync\": {\"intervalSecs\": %ld}, \"recorder\": {\"enabled\": %s},\n"
             " \"http\": {\"listen\": \"\"}}\n",
             dir, harness_natsd_url(natsd), 2 * interval_ms, 4 * interval_ms, dead_ms, 20 * interval_ms, CHECK_MS,
             set.ping_interval_s, set.recorder ? "true" : "false");
    harness_proc_t *central = NULL;
    char *cargv[] = {BOSUN_CENTRAL_BIN, "--config-file", cfg, "--log-level", "4", NULL};
    if (harness_write_file(cfg, json) != 0 || harness_proc_start(cargv, log, &central) != 0 ||
        !harness_proc_wait_log(central, "running: inbox", 10000)) {
        fprintf(stderr, "bench_fleet: central did not start (log %s)\n", log);
        harness_proc_stop(central, 5000, NULL);
        harness_natsd_stop(natsd);
        return 1;
    }
    pid_t cpid = harness_proc_pid(central), npid = harness_natsd_pid(natsd);
    printf("pids: central %d, nats-server %d, generator %d\n", (int)cpid, (int)npid, (int)getpid());
    fflush(stdout);

    natsConnection *pub = bench_nats_connect(harness_natsd_url(natsd), false);
    natsConnection *aux = bench_nats_connect(harness_natsd_url(natsd), true);
    natsSubscription *ping_sub = NULL, *status_sub = NULL;
    if (pub == NULL || aux == NULL ||
        natsConnection_Subscribe(&ping_sub, aux, "*.command.ping", bench_answer_ping,
                                 &pings_answered) != NATS_OK ||
        natsConnection_Subscribe(&status_sub, aux, "central.event.nodeStatus", on_status, NULL) != NATS_OK) {
        fprintf(stderr, "bench_fleet: cannot connect to nats-server\n");
        return 1;
    }
    natsSubscription_SetPendingLimits(status_sub, 1000000, 512 * 1024 * 1024);
    natsSubscription_SetPendingLimits(ping_sub, 1000000, 512 * 1024 * 1024);
    natsConnection_Flush(aux);

    pthread_t gen;
    uint64_t t0 = bench_mono_us();
    double c_cpu0 = bench_cpu_secs(cpid);
    pthread_create(&gen, NULL, generator_main, pub);

    uint64_t round_s = 1; /* one round of heartbeats reaches every node in 1/rate s */
    uint64_t steady_from_s = round_s + WARMUP_EXTRA_S;
    double c_cpu_steady = -1, n_cpu_steady = -1, g_cpu_steady = -1, m_busy0 = 0, m_total0 = 0, m_busy1 = 0,
           m_total1 = 0;
    uint64_t steady_t = 0;
    long log_off = 0, next_trial = 0;
    printf("\none row per stats line of central's log (every 5 s); sent = the generator's count at that "
           "line's time stamp; cpu%% = central's share of one core since the previous row\n");
    printf("%6s %10s %10s %9s %8s %8s %9s %7s %7s\n", "t(s)", "sent", "applied", "backlog", "queued",
           "natspend", "alive", "cpu%", "rss");
    double last_cpu = c_cpu0;
    uint64_t last_t = t0, wall0_ms = bench_wall_us() / 1000;
    size_t printed = 0;
    for (uint64_t s = 1; s <= (uint64_t)set.duration_s; s++) {
        /* Stop one node every TRIAL_EVERY_MS from the steady window on. */
        while (next_trial < set.trials &&
               bench_mono_us() - t0 >= (steady_from_s * 1000 + (uint64_t)next_trial * TRIAL_EVERY_MS) * 1000)
            start_trial(next_trial++);
        uint64_t wake = t0 + s * 1000000u;
        while (bench_mono_us() < wake) {
            usleep(50000);
            while (next_trial < set.trials &&
                   bench_mono_us() - t0 >= (steady_from_s * 1000 + (uint64_t)next_trial * TRIAL_EVERY_MS) * 1000)
                start_trial(next_trial++);
        }
        if (s == steady_from_s) {
            bench_machine_cpu(&m_busy0, &m_total0);
            c_cpu_steady = bench_cpu_secs(cpid);
            n_cpu_steady = bench_cpu_secs(npid);
            g_cpu_steady = bench_cpu_secs(getpid());
            steady_t = bench_mono_us();
        }
        read_central_log(log, &log_off);
        for (; printed < n_lines; printed++) { /* one row per stats line of central's */
            const stats_line_t *l = &lines[printed];
            uint64_t at = sent_at(l->wall_ms);
            double cpu = bench_cpu_secs(cpid), rss, hwm;
            uint64_t now = bench_mono_us();
            rss_mib(cpid, &rss, &hwm);
            printf("%6.1f %10" PRIu64 " %10" PRIu64 " %9lld %8" PRIu64 " %8" PRIu64 " %9zu %6.1f%% %5.0fMi\n",
                   (double)((int64_t)l->wall_ms - (int64_t)wall0_ms) / 1000.0, at, l->applied,
                   (long long)at - (long long)l->applied, l->queued, l->nats_pending, l->alive,
                   100.0 * (cpu - last_cpu) / ((double)(now - last_t) / 1e6), rss);
            fflush(stdout);
            last_cpu = cpu;
            last_t = now;
        }
    }
    uint64_t t_end = bench_mono_us();
    double c_cpu1 = bench_cpu_secs(cpid), n_cpu1 = bench_cpu_secs(npid), g_cpu1 = bench_cpu_secs(getpid());
    bench_machine_cpu(&m_busy1, &m_total1);
    uint64_t status_at_end[8];
    for (int i = 0; i < 8; i++)
        status_at_end[i] = atomic_load(&status_count[i]);
    uint64_t stop_wall_ms = bench_wall_us() / 1000;
    double rss, hwm;
    rss_mib(cpid, &rss, &hwm);
    long long sc = slow_consumers(mport), out_msgs, pend;
    central_conn(mport, &out_msgs, &pend);
    atomic_store(&stop_gen, true);
    pthread_join(gen, NULL);

    /* Let central drain, and the last trials reach DEAD. */
    uint64_t total = atomic_load(&sent);
    /* Drained: the first stats line stamped after the stop that counts every heartbeat sent. */
    int64_t drained_ms = -1;
    for (int i = 0; i < 300; i++) {
        usleep(100000);
        read_central_log(log, &log_off);
        bool trials_done = true;
        pthread_mutex_lock(&trials_mu);
        for (long k = 0; k < n_trials_started; k++)
            trials_done = trials_done && trials[k].dead_us != 0;
        pthread_mutex_unlock(&trials_mu);
        for (size_t l = 0; l < n_lines && drained_ms < 0; l++)
            if (lines[l].wall_ms >= stop_wall_ms && lines[l].applied >= total)
                drained_ms = (int64_t)(lines[l].wall_ms - stop_wall_ms);
        if (drained_ms >= 0 && trials_done)
            break;
    }

    /* ---- figures ---- */
    double wall = (double)(t_end - t0) / 1e6, steady = (double)(t_end - steady_t) / 1e6;
    printf("\nheartbeats: %" PRIu64 " sent in %.1f s (%.0f/s), %.0f bytes each on average, %" PRIu64
           " publish errors; %" PRIu64 " pings answered\n",
           total, wall, (double)total / wall, total ? (double)atomic_load(&bytes_sent) / (double)total : 0.0,
           (uint64_t)atomic_load(&publish_errors), (uint64_t)atomic_load(&pings_answered));
    printf("(a) central CPU: %.1f%% of one core over the steady window (%.0f s from t=%" PRIu64
           " s), %.1f%% over the whole run; %.2f us of CPU per heartbeat\n",
           100.0 * (c_cpu1 - c_cpu_steady) / steady, steady, steady_from_s, 100.0 * (c_cpu1 - c_cpu0) / wall,
           (c_cpu1 - c_cpu0) * 1e6 / (double)(total ? total : 1));
    printf("    central memory: VmRSS %.1f MiB at the end, VmHWM (peak) %.1f MiB\n", rss, hwm);
    double ours = (c_cpu1 - c_cpu_steady) + (n_cpu1 - n_cpu_steady) + (g_cpu1 - g_cpu_steady);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    printf("    for context: nats-server %.1f%%, this generator %.1f%% of one core; the whole machine was "
           "%.0f%% busy (of %ld cores), %.1f%% of one core by other processes (steady window)\n",
           100.0 * (n_cpu1 - n_cpu_steady) / steady, 100.0 * (g_cpu1 - g_cpu_steady) / steady,
           100.0 * (m_busy1 - m_busy0) / (m_total1 - m_total0), cores,
           100.0 * ((m_busy1 - m_busy0) / (m_total1 - m_total0) * (double)cores * steady - ours) / steady);

    /* Backlog over the steady window. */
    double *xs = calloc(n_lines + 1, sizeof *xs), *ys = calloc(n_lines + 1, sizeof *ys);
    size_t k = 0;
    long long max_backlog = 0, first_backlog = -1, last_backlog = 0;
    uint64_t wall_t0 = 0;
    for (size_t i = 0; i < n_lines && xs && ys; i++) {
        uint64_t at = sent_at(lines[i].wall_ms);
        if (at < total / (uint64_t)set.duration_s * steady_from_s || at >= total)
            continue; /* before the steady window, or after the generator stopped */
        long long b = (long long)at - (long long)lines[i].applied;
        if (wall_t0 == 0)
            wall_t0 = lines[i].wall_ms;
        xs[k] = (double)(lines[i].wall_ms - wall_t0) / 1000.0;
        ys[k] = (double)b;
        k++;
        if (first_backlog < 0)
            first_backlog = b;
        last_backlog = b;
        if (b > max_backlog)
            max_backlog = b;
    }
    const stats_line_t *fin = n_lines ? &lines[n_lines - 1] : NULL;
    double rate = (double)(set.nodes * set.rate_hz);
    printf("(b) backlog (sent - applied, every 5 s, %zu samples in the steady window): first %lld, max %lld, "
           "last %lld heartbeats (last = %.0f ms of traffic); slope %+.1f heartbeats/s\n",
           k, first_backlog, max_backlog, last_backlog, 1000.0 * (double)last_backlog / rate, slope(xs, ys, k));
    if (drained_ms >= 0)
        printf("    after the generator stopped: central's next stats line (%.1f s later; one every 5 s) "
               "counted all %" PRIu64 " applied\n", (double)drained_ms / 1000.0, total);
    else
        printf("    after the generator stopped: central had NOT applied all %" PRIu64 " within 30 s\n", total);
    printf("    drops: central queue %" PRIu64 ", nats.c slow consumer %" PRIu64
           ", server slow_consumers %lld, central disconnects %" PRIu64 "; server: %lld msgs to central, "
           "%lld bytes pending at the end of load\n",
           fin ? fin->dropped : 0, fin ? fin->nats_dropped : 0, sc, central_disconnects, out_msgs, pend);
    free(xs);
    free(ys);
    printf("    generator: its longest pause between two 10 ms ticks was %.0f ms (a pause over the slow "
           "threshold minus one interval makes nodes SLOW that are not)\n",
           (double)atomic_load(&longest_gap_us) / 1000.0);
    printf("    nodeStatus seen while the load ran: ALIVE %" PRIu64 ", SLOW %" PRIu64 ", WARN %" PRIu64
           ", DEAD %" PRIu64 ", REMOVED %" PRIu64 " (the stopped nodes account for %ld of each but ALIVE)\n",
           status_at_end[1], status_at_end[2], status_at_end[3], status_at_end[4], status_at_end[5],
           n_trials_started);

    if (set.trials > 0) {
        bench_samples_t lat = {0};
        long missing = 0;
        pthread_mutex_lock(&trials_mu);
        for (long i = 0; i < n_trials_started; i++) {
            uint64_t last = atomic_load(&sim.last_pub_us[trials[i].node]);
            if (trials[i].dead_us == 0 || last == 0)
                missing++;
            else
                bench_samples_add(&lat, (trials[i].dead_us - last) / 1000);
        }
        pthread_mutex_unlock(&trials_mu);
        printf("(c) detection latency, last heartbeat -> DEAD nodeStatus, %ld nodes stopped under load "
               "(goal: deadMs %ld + checkIntervalMs %d = %ld ms):\n    ",
               n_trials_started, dead_ms, CHECK_MS, dead_ms + CHECK_MS);
        if (lat.n > 0)
            bench_samples_print("latency", &lat, "ms");
        if (missing)
            printf("    %ld stopped nodes got no DEAD in time\n", missing);
        bench_samples_free(&lat);
    }

    harness_proc_stop(central, 10000, NULL);
    natsSubscription_Destroy(ping_sub);
    natsSubscription_Destroy(status_sub);
    natsConnection_Destroy(pub);
    natsConnection_Destroy(aux);
    harness_natsd_stop(natsd);
    harness_rmtree(dir);
    free(dir);
    return 0;
}
