/*
 * bench_scrape.c - how long central takes to answer /metrics (and the
 * dashboard's API calls) with a large fleet (issue 7; goal: a /metrics
 * scrape of 10,000 nodes in at most 100 ms).
 *
 * Starts a private nats-server and a real bosun-central (HTTP on a free
 * 127.0.0.1 port) through tests/harness (every child stopped by its pid,
 * also on a crash), then plays N nodes from one process: real Heartbeat
 * protobufs at R Hz each (host status, two resources shared by pairs of
 * nodes, every agent counter set, and K connectivity probes to the next K
 * nodes, some of them failing), and answers to central's time-sync pings,
 * so every node has a clock offset. When central lists all N nodes ALIVE
 * with their clock offsets and probes, it times S scrapes of /metrics one
 * after another while the heartbeats keep coming: each a new connection,
 * from connect to the last byte read. It prints the median, p90, p99 and
 * max, the page's size and number of series; then the same for /api/nodes
 * and /api/connectivity?limit=30 (what the dashboard polls).
 *
 * It never passes or fails on time: exit 0 unless something broke (1), or
 * bad flags (2). --hold S keeps the fleet running S s after the figures,
 * with central's dashboard URL printed, to look at it.
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <inttypes.h>
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
#include <sys/time.h>
#include <unistd.h>

#include "bench_nats.h"
#include "bench_util.h"
#include "bosun.pb-c.h"
#include "harness.h"

#define RESOURCES_PER_NODE 2
#define PROBES_MAX 64
#define TICK_MS 10

typedef struct {
    long nodes, rate_hz, probes, scrapes, warmup, hold_s;
} settings_t;

static settings_t set = {.nodes = 10000, .rate_hz = 1, .probes = 3, .scrapes = 50, .warmup = 5};

static struct {
    char (*name)[24];
    char (*host)[48];
    char (*res)[RESOURCES_PER_NODE][32];
    uint64_t *seq;
} sim;

static atomic_bool stop_gen;
static atomic_uint_fast64_t sent, pings_answered, bytes_sent;

/* ---- the simulated fleet ------------------------------------------------------------ */

static void publish_one(natsConnection *nc, long i, uint8_t *buf, size_t cap)
{
    Bosun__Heartbeat hb = BOSUN__HEARTBEAT__INIT;
    Bosun__HostStatus host = BOSUN__HOST_STATUS__INIT;
    Bosun__AgentCounters c = BOSUN__AGENT_COUNTERS__INIT;
    Bosun__ResourceStatus rs[RESOURCES_PER_NODE], *rsp[RESOURCES_PER_NODE];
    Bosun__ProbeResult pr[PROBES_MAX], *prp[PROBES_MAX];
    uint64_t now_ms = bench_wall_us() / 1000, seq = ++sim.seq[i];
    hb.node = sim.name[i];
    hb.instance_id = 0x5ca1e00000000000ull | (uint64_t)i;
    hb.sequence = seq;
    hb.boot_time_ms = now_ms - 3600000;
    hb.send_time_ms = now_ms;
    hb.pid = (uint32_t)(1000 + i);
    hb.version = "0.1.0";
    hb.interval_ms = (uint32_t)(1000 / set.rate_hz);
    host.hostname = sim.host[i];
    host.os = "Linux 6.1.0-18-amd64";
    host.cores = 8;
    host.cpu_model = "AMD EPYC 7B13 64-Core Processor";
    host.cpu_usage_percent = (double)(seq % 100);
    host.load1 = 0.42;
    host.load5 = 0.37;
    host.load15 = 0.31;
    host.mem_total_bytes = 16ull << 30;
    host.mem_available_bytes = (9ull << 30) + (seq % 1000) * 4096;
    host.agent_rss_bytes = 8ull << 20;
    hb.host = &host;
    /* Every counter set, with values of a node that has run for a while. */
    c.heartbeats_sent = seq;
    c.commands_received = 1200 + seq;
    c.commands_ok = 1100 + seq;
    c.commands_failed = 57;
    c.commands_rejected = 3;
    c.commands_duplicate = 12;
    c.events_received = 340;
    c.malformed_messages = 1;
    c.election_packets_tx = seq * 20;
    c.election_packets_rx = seq * 40;
    c.election_packets_dropped = 9;
    c.election_transitions = 4;
    c.nats_reconnects = 2;
    c.election_tx_errors = 1;
    c.election_rx_errors = 0;
    c.election_script_failures = 2;
    c.probes_run = seq * 3;
    c.probes_failed = seq / 20;
    hb.counters = &c;
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
    for (long k = 0; k < set.probes; k++) {
        long t = (i + 1 + k) % set.nodes;
        bool tcp_ok = (i + k) % 50 != 0, nats_ok = (i + k) % 97 != 0; /* a few links down */
        bosun__probe_result__init(&pr[k]);
        pr[k].target = sim.name[t];
        pr[k].tcp_tested = true; /* every node advertises a probe listener */
        pr[k].address = "10.0.0.1:8757";
        pr[k].tcp_ok = tcp_ok;
        pr[k].tcp_connect_us = tcp_ok ? (uint32_t)(150 + (i * 7 + k) % 400) : 0;
        pr[k].nats_ok = nats_ok;
        pr[k].nats_rtt_us = nats_ok ? (uint32_t)(600 + (i * 13 + k) % 900) : 0;
        pr[k].time_ms = now_ms - 200;
        pr[k].error = (char *)(!tcp_ok ? "connect: Connection refused" : !nats_ok ? "nats ping: timeout" : "");
        prp[k] = &pr[k];
    }
    hb.probes = prp;
    hb.n_probes = (size_t)set.probes;
    size_t len = bosun__heartbeat__get_packed_size(&hb);
    if (len > cap)
        return;
    len = bosun__heartbeat__pack(&hb, buf);
    char subject[64];
    snprintf(subject, sizeof subject, "%s.event.heartbeat", sim.name[i]);
    if (natsConnection_Publish(nc, subject, buf, (int)len) == NATS_OK) {
        atomic_fetch_add(&sent, 1);
        atomic_fetch_add(&bytes_sent, len);
    }
}

/* Publishes N * R heartbeats a second, round robin, evenly over each 10 ms tick. */
static void *generator_main(void *arg)
{
    natsConnection *nc = arg;
    static uint8_t buf[16384];
    uint64_t start = bench_mono_us(), due_total = 0;
    long cursor = 0;
    while (!atomic_load(&stop_gen)) {
        uint64_t target = (bench_mono_us() - start) * (uint64_t)set.nodes * (uint64_t)set.rate_hz / 1000000u;
        for (; due_total < target; due_total++) {
            publish_one(nc, cursor, buf, sizeof buf);
            cursor = (cursor + 1) % set.nodes;
        }
        usleep(TICK_MS * 1000);
    }
    natsConnection_FlushTimeout(nc, 5000);
    return NULL;
}

/* ---- the scraper ----------------------------------------------------------------------- */

typedef struct {
    int status;
    char *body;   /* NUL-terminated; caller frees */
    size_t len;
    uint64_t us;  /* connect to last byte */
} fetch_t;

/* GET path on 127.0.0.1:port with a new connection (HTTP/1.0: the server closes it). */
static bool fetch(int port, const char *path, fetch_t *out)
{
    memset(out, 0, sizeof *out);
    out->status = -1;
    uint64_t t0 = bench_mono_us();
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    struct timeval tv = {.tv_sec = 30};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    char req[256];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\nAccept: text/plain\r\n\r\n", path);
    size_t cap = 1u << 20, len = 0;
    char *buf = malloc(cap);
    if (buf == NULL || connect(fd, (struct sockaddr *)&a, sizeof a) != 0 || write(fd, req, (size_t)n) != n) {
        free(buf);
        close(fd);
        return false;
    }
    for (;;) {
        if (len + 65536 + 1 > cap) {
            char *g = realloc(buf, cap *= 2);
            if (g == NULL)
                break;
            buf = g;
        }
        ssize_t r = read(fd, buf + len, cap - len - 1);
        if (r <= 0)
            break;
        len += (size_t)r;
    }
    out->us = bench_mono_us() - t0;
    close(fd);
    buf[len] = '\0';
    if (sscanf(buf, "HTTP/1.%*d %d", &out->status) != 1)
        out->status = -1;
    char *body = strstr(buf, "\r\n\r\n");
    if (body != NULL) {
        body += 4;
        out->len = len - (size_t)(body - buf);
        memmove(buf, body, out->len + 1);
    }
    out->body = buf;
    return out->status == 200;
}

/* Lines that are samples (not # HELP / # TYPE). */
static size_t count_series(const char *text)
{
    size_t n = 0;
    for (const char *p = text; *p;) {
        if (*p != '#')
            n++;
        const char *nl = strchr(p, '\n');
        if (nl == NULL)
            break;
        p = nl + 1;
    }
    return n;
}

/* Occurrences of needle in text. */
static size_t count(const char *text, const char *needle)
{
    size_t n = 0;
    for (const char *p = text; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

/* Central lists every node ALIVE, each with a clock offset, and every probe of the live ones. */
static bool fleet_complete(int port, char *why, size_t len)
{
    fetch_t f;
    bool ok = false;
    if (fetch(port, "/metrics", &f)) {
        char alive[64];
        snprintf(alive, sizeof alive, "bosun_nodes{status=\"alive\"} %ld\n", set.nodes);
        size_t offsets = count(f.body, "\nbosun_node_clock_offset_seconds{");
        size_t ups = count(f.body, "\nbosun_connectivity_up{");
        ok = strstr(f.body, alive) != NULL && offsets == (size_t)set.nodes &&
             ups == (size_t)(2 * set.nodes * set.probes);
        snprintf(why, len, "%zu clock offsets, %zu connectivity_up series, alive line %s", offsets, ups,
                 strstr(f.body, alive) ? "right" : "not yet");
    }
    free(f.body);
    return ok;
}

/* Times n scrapes of path after w unmeasured ones; prints the figures. */
static int time_scrapes(int port, const char *path, long w, long n, pid_t central)
{
    bench_samples_t us = {0};
    size_t bytes = 0, series = 0;
    double cpu0 = 0;
    for (long i = 0; i < w + n; i++) {
        if (i == w)
            cpu0 = bench_cpu_secs(central);
        fetch_t f;
        if (!fetch(port, path, &f)) {
            fprintf(stderr, "bench_scrape: GET %s failed (status %d)\n", path, f.status);
            free(f.body);
            bench_samples_free(&us);
            return -1;
        }
        if (i >= w)
            bench_samples_add(&us, f.us);
        bytes = f.len;
        if (i == w + n - 1 && strcmp(path, "/metrics") == 0)
            series = count_series(f.body);
        free(f.body);
    }
    double cpu = bench_cpu_secs(central) - cpu0;
    bench_samples_sort(&us);
    printf("GET %-28s n=%ld  p50 %.1f ms  p90 %.1f ms  p99 %.1f ms  max %.1f ms   %zu bytes (%.1f MiB)",
           path, n, bench_percentile(&us, 0.5) / 1000.0, bench_percentile(&us, 0.9) / 1000.0,
           bench_percentile(&us, 0.99) / 1000.0, us.v[us.n - 1] / 1000.0, bytes, (double)bytes / 1048576.0);
    if (series > 0)
        printf(", %zu series", series);
    printf("; central CPU %.1f ms per request (all its threads, heartbeats included)\n", cpu * 1000.0 / (double)n);
    fflush(stdout);
    bench_samples_free(&us);
    return 0;
}

/* ---- main ------------------------------------------------------------------------------ */

static const char usage[] =
    "usage: bench_scrape [--nodes N] [--rate HZ] [--probes K] [--scrapes S] [--warmup W] [--hold SECS]\n"
    "  defaults: 10000 nodes at 1 Hz, 3 probes each, 50 timed scrapes after 5 unmeasured ones\n";

static int parse_args(int argc, char **argv)
{
    static const struct option opts[] = {
        {"nodes", required_argument, NULL, 'n'},   {"rate", required_argument, NULL, 'r'},
        {"probes", required_argument, NULL, 'k'},  {"scrapes", required_argument, NULL, 's'},
        {"warmup", required_argument, NULL, 'w'},  {"hold", required_argument, NULL, 'H'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "n:r:k:s:w:H:h", opts, NULL)) != -1) {
        bool ok = true;
        switch (c) {
        case 'n': ok = bench_parse_long(optarg, 2, 1000000, &set.nodes); break;
        case 'r': ok = bench_parse_long(optarg, 1, 10, &set.rate_hz); break;
        case 'k': ok = bench_parse_long(optarg, 0, PROBES_MAX, &set.probes); break;
        case 's': ok = bench_parse_long(optarg, 1, 100000, &set.scrapes); break;
        case 'w': ok = bench_parse_long(optarg, 0, 1000, &set.warmup); break;
        case 'H': ok = bench_parse_long(optarg, 0, 86400, &set.hold_s); break;
        case 'h': fputs(usage, stdout); exit(0);
        default: ok = false; break;
        }
        if (!ok) {
            fputs(usage, stderr);
            return -1;
        }
    }
    if (optind == argc && set.probes >= set.nodes) {
        fprintf(stderr, "bench_scrape: --probes must be less than --nodes\n");
        return -1;
    }
    return optind == argc ? 0 : -1;
}

static bool sim_init(long n)
{
    sim.name = calloc((size_t)n, sizeof *sim.name);
    sim.host = calloc((size_t)n, sizeof *sim.host);
    sim.res = calloc((size_t)n, sizeof *sim.res);
    sim.seq = calloc((size_t)n, sizeof *sim.seq);
    if (!sim.name || !sim.host || !sim.res || !sim.seq)
        return false;
    for (long i = 0; i < n; i++) {
        snprintf(sim.name[i], sizeof sim.name[i], "sim-%06ld", i);
        snprintf(sim.host[i], sizeof sim.host[i], "sim-%06ld.fleet.example.net", i);
        for (int k = 0; k < RESOURCES_PER_NODE; k++)
            snprintf(sim.res[i][k], sizeof sim.res[i][k], "svc-%06ld-%d", i / 2, k);
    }
    return true;
}

int main(int argc, char **argv)
{
    if (parse_args(argc, argv) != 0)
        return 2;
    signal(SIGPIPE, SIG_IGN);
    char date[64], natsd_ver[128];
    bench_date(date, sizeof date);
    bench_natsd_version(natsd_ver, sizeof natsd_ver);
    printf("bench_scrape: %s, build %s\n", date, BENCH_BUILD_TYPE);
    bench_print_machine();
    printf("software: %s, nats.c %s\n", natsd_ver, nats_GetVersion());
    long interval_ms = 1000 / set.rate_hz;
    printf("settings: nodes=%ld rate=%ld Hz probes=%ld per node, %d resources per node (shared by pairs), "
           "scrapes=%ld after %ld unmeasured, one connection each; central: liveness slow %ld, warn %ld, "
           "dead %ld, remove %ld ms, timeSync every 10 s, recorder off\n",
           set.nodes, set.rate_hz, set.probes, RESOURCES_PER_NODE, set.scrapes, set.warmup, 2 * interval_ms,
           4 * interval_ms, 10 * interval_ms, 20 * interval_ms);
    if (!sim_init(set.nodes))
        return 1;

    char *dir = harness_tmpdir("bench-scrape");
    harness_natsd_t *natsd = NULL;
    int http_port = harness_free_port();
    if (dir == NULL || http_port < 0 || harness_natsd_start(NULL, &natsd) != 0) {
        fprintf(stderr, "bench_scrape: cannot start nats-server\n");
        return 1;
    }
    char cfg[600], log[600], json[2048];
    snprintf(cfg, sizeof cfg, "%s/central.json", dir);
    snprintf(log, sizeof log, "%s/central.log", dir);
    snprintf(json, sizeof json,
             "{\"id\": \"central\", \"dataDir\": \"%s/central\", \"nats\": {\"servers\": [\"%s\"]},\n"
             " \"liveness\": {\"slowMs\": %ld, \"warnMs\": %ld, \"deadMs\": %ld, \"removeMs\": %ld},\n"
             " \"timeSync\": {\"intervalSecs\": 10}, \"recorder\": {\"enabled\": false},\n"
             " \"http\": {\"listen\": \"127.0.0.1:%d\"}}\n",
             dir, harness_natsd_url(natsd), 2 * interval_ms, 4 * interval_ms, 10 * interval_ms, 20 * interval_ms,
             http_port);
    harness_proc_t *central = NULL;
    char *cargv[] = {BOSUN_CENTRAL_BIN, "--config-file", cfg, NULL};
    if (harness_write_file(cfg, json) != 0 || harness_proc_start(cargv, log, &central) != 0 ||
        !harness_proc_wait_log(central, "running: inbox", 10000)) {
        fprintf(stderr, "bench_scrape: central did not start (log %s)\n", log);
        harness_proc_stop(central, 5000, NULL);
        harness_natsd_stop(natsd);
        return 1;
    }
    pid_t cpid = harness_proc_pid(central);
    printf("pids: central %d, nats-server %d, generator %d\n", (int)cpid, (int)harness_natsd_pid(natsd),
           (int)getpid());

    natsConnection *pub = bench_nats_connect(harness_natsd_url(natsd), false);
    natsConnection *aux = bench_nats_connect(harness_natsd_url(natsd), true);
    natsSubscription *ping_sub = NULL;
    if (pub == NULL || aux == NULL ||
        natsConnection_Subscribe(&ping_sub, aux, "*.command.ping", bench_answer_ping,
                                 &pings_answered) != NATS_OK) {
        fprintf(stderr, "bench_scrape: cannot connect to nats-server\n");
        return 1;
    }
    natsSubscription_SetPendingLimits(ping_sub, 1000000, 512 * 1024 * 1024);
    natsConnection_Flush(aux);
    pthread_t gen;
    pthread_create(&gen, NULL, generator_main, pub);

    /* Every node heard, pinged (timeSync spreads the pings over 10 s) and probing. */
    int rc = 0;
    uint64_t t0 = bench_mono_us();
    char why[256] = "";
    bool complete = false;
    while (!complete && bench_mono_us() - t0 < 90u * 1000000u) {
        sleep(1);
        complete = fleet_complete(http_port, why, sizeof why);
    }
    if (!complete) {
        fprintf(stderr, "bench_scrape: the fleet was not complete after 90 s: %s\n", why);
        rc = 1;
    } else {
        printf("fleet complete after %.1f s: %s; %" PRIu64 " heartbeats sent (%.0f bytes each), %" PRIu64
               " pings answered\n\n",
               (double)(bench_mono_us() - t0) / 1e6, why, (uint64_t)atomic_load(&sent),
               (double)atomic_load(&bytes_sent) / (double)(atomic_load(&sent) ? atomic_load(&sent) : 1),
               (uint64_t)atomic_load(&pings_answered));
        fflush(stdout);
        if (time_scrapes(http_port, "/metrics", set.warmup, set.scrapes, cpid) != 0 ||
            time_scrapes(http_port, "/api/nodes", 1, set.scrapes < 20 ? set.scrapes : 20, cpid) != 0 ||
            time_scrapes(http_port, "/api/connectivity?limit=30", 1, set.scrapes < 20 ? set.scrapes : 20, cpid) != 0)
            rc = 1;
        if (!fleet_complete(http_port, why, sizeof why)) { /* central kept up while it was scraped */
            printf("after the scrapes the fleet was no longer complete: %s\n", why);
            rc = 1;
        }
        if (set.hold_s > 0) {
            printf("\nholding for %ld s: dashboard at http://127.0.0.1:%d/\n", set.hold_s, http_port);
            fflush(stdout);
            sleep((unsigned)set.hold_s);
        }
    }
    atomic_store(&stop_gen, true);
    pthread_join(gen, NULL);
    harness_proc_stop(central, 10000, NULL);
    natsSubscription_Destroy(ping_sub);
    natsConnection_Destroy(pub);
    natsConnection_Destroy(aux);
    harness_natsd_stop(natsd);
    harness_rmtree(dir);
    free(dir);
    return rc;
}
