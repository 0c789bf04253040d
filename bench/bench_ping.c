/*
 * bench_ping.c - round trip of the agent's `ping` through a local nats-server.
 *
 * Starts a private nats-server on 127.0.0.1 and a real bosun-agent (through
 * tests/harness, so every child is stopped by its pid, also on a crash),
 * waits until the agent answers ping, then measures:
 *   (a) N sequential requests on <node>.command.ping: p50/p90/p99/max of
 *       the natsConnection_Request call, in microseconds;
 *   (b) a closed loop with K requests in flight for D seconds: replies come
 *       to one wildcard inbox subscription, and each reply sends the next
 *       request of its slot; prints requests per second and the latency of
 *       each request under that load.
 * The client connection sets natsOptions_SetSendAsap(true), as the agent's
 * own does. It prints the settings with the figures and never passes or
 * fails on time: exit 0 unless a phase got no reply at all (1), or the
 * flags were wrong (2).
 */
#include <getopt.h>
#include <inttypes.h>
#include <nats/nats.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"
#include "bosun.pb-c.h"
#include "harness.h"

#define NODE "bench1"
#define REQUEST_TIMEOUT_MS 2000
#define READY_TRIES 100
#define DRAIN_MS 5000
#define MAX_IN_FLIGHT 1024

typedef struct {
    long n;           /* sequential requests */
    long warmup;      /* unmeasured requests before (a) */
    int in_flight;    /* requests outstanding in (b) */
    double duration;  /* seconds of (b) */
} settings_t;

static void print_settings(const settings_t *st)
{
    char natsd[128], date[64];
    bench_natsd_version(natsd, sizeof natsd);
    bench_date(date, sizeof date);
    printf("bench_ping %s\n", date);
    printf("settings: n=%ld warmup=%ld in_flight=%d duration=%.1fs node=%s\n", st->n, st->warmup,
           st->in_flight, st->duration, NODE);
    bench_print_machine();
    printf("software: %s nats.c=%s build=%s client=SendAsap all on 127.0.0.1\n", natsd,
           nats_GetVersion(), BENCH_BUILD_TYPE);
}

/* ---- requests ------------------------------------------------------------------- */

/* Packs a ping Command with the given id into buf (at least 256 bytes). */
static int pack_ping(const char *id, uint8_t *buf, size_t cap)
{
    Bosun__Command cmd = BOSUN__COMMAND__INIT;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    cmd.id = (char *)id;
    cmd.node = NODE;
    cmd.method = "ping";
    cmd.created_ms = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
    cmd.attempt = 1;
    size_t len = bosun__command__get_packed_size(&cmd);
    if (len > cap)
        return -1;
    return (int)bosun__command__pack(&cmd, buf);
}

/* True if msg holds an Ack with status OK. */
static bool ack_ok(natsMsg *msg)
{
    Bosun__Ack *ack = bosun__ack__unpack(NULL, (size_t)natsMsg_GetDataLength(msg),
                                         (const uint8_t *)natsMsg_GetData(msg));
    bool ok = ack != NULL && ack->status == BOSUN__ACK_STATUS__ACK_STATUS_OK;
    bosun__ack__free_unpacked(ack, NULL);
    return ok;
}

static natsConnection *connect_client(const char *url)
{
    natsOptions *o = NULL;
    natsConnection *nc = NULL;
    if (natsOptions_Create(&o) != NATS_OK)
        return NULL;
    if (natsOptions_SetURL(o, url) == NATS_OK && natsOptions_SetSendAsap(o, true) == NATS_OK &&
        natsOptions_SetName(o, "bench_ping") == NATS_OK) {
        natsStatus s = natsConnection_Connect(&nc, o);
        if (s != NATS_OK)
            fprintf(stderr, "bench_ping: connect %s: %s\n", url, natsStatus_GetText(s));
    }
    natsOptions_Destroy(o);
    return nc;
}

/*
 * One ping by natsConnection_Request. Returns 1 for an OK Ack, 0 for another
 * reply, -1 for no reply; stores the call's duration in *us.
 */
static int ping_once(natsConnection *nc, const char *subject, const char *id, uint64_t *us)
{
    uint8_t buf[256];
    int len = pack_ping(id, buf, sizeof buf);
    natsMsg *reply = NULL;
    uint64_t t0 = bench_mono_us();
    natsStatus s = natsConnection_Request(&reply, nc, subject, buf, len, REQUEST_TIMEOUT_MS);
    *us = bench_mono_us() - t0;
    if (s != NATS_OK)
        return -1;
    int rc = ack_ok(reply) ? 1 : 0;
    natsMsg_Destroy(reply);
    return rc;
}

static bool wait_ready(natsConnection *nc, const char *subject)
{
    /* The server answers "no responders" at once until the agent has
     * subscribed, so pace the tries. */
    for (int i = 0; i < READY_TRIES; i++) {
        uint64_t us;
        if (i > 0)
            usleep(100000);
        if (ping_once(nc, subject, "ready", &us) == 1)
            return true;
    }
    return false;
}

/* (a): warmup, then n measured sequential pings. Returns the replies seen. */
static long run_sequential(natsConnection *nc, const char *subject, const settings_t *st)
{
    bench_samples_t lat = {0};
    long replies = 0, not_ok = 0, lost = 0;
    char id[64];
    for (long i = 0; i < st->warmup; i++) {
        uint64_t us;
        snprintf(id, sizeof id, "w-%ld", i);
        (void)ping_once(nc, subject, id, &us);
    }
    uint64_t t0 = bench_mono_us();
    for (long i = 0; i < st->n; i++) {
        uint64_t us;
        snprintf(id, sizeof id, "s-%ld", i);
        int r = ping_once(nc, subject, id, &us);
        if (r < 0) {
            lost++;
            continue;
        }
        replies++;
        not_ok += r == 0;
        if (!bench_samples_add(&lat, us)) {
            fprintf(stderr, "bench_ping: out of memory\n");
            break;
        }
    }
    double secs = (double)(bench_mono_us() - t0) / 1e6;
    if (lat.n > 0) {
        bench_samples_print("sequential", &lat, "us");
        printf("sequential: %.0f req/s (1 in flight), %ld not OK, %ld without reply\n",
               (double)replies / secs, not_ok, lost);
    } else {
        printf("sequential: no reply\n");
    }
    bench_samples_free(&lat);
    return replies;
}

/* ---- (b): closed loop with K requests in flight ---------------------------------- */

typedef struct {
    natsConnection *nc;
    const char *subject;
    char inbox[128];
    int k;
    uint64_t stop_us;        /* no new request after this */
    pthread_mutex_t mu;      /* guards everything below */
    uint64_t sent_us[MAX_IN_FLIGHT];
    bool busy[MAX_IN_FLIGHT];
    int outstanding;
    long seq;
    long replies, not_ok, send_errors, strays;
    uint64_t last_reply_us;
    bench_samples_t lat;
} loop_t;

/* Sends the next request of slot; called with l->mu held. */
static void loop_send(loop_t *l, int slot)
{
    char id[64], reply[160];
    uint8_t buf[256];
    snprintf(id, sizeof id, "f-%ld", l->seq++);
    snprintf(reply, sizeof reply, "%s.%d", l->inbox, slot);
    int len = pack_ping(id, buf, sizeof buf);
    l->sent_us[slot] = bench_mono_us();
    if (natsConnection_PublishRequest(l->nc, l->subject, reply, buf, len) != NATS_OK) {
        l->send_errors++;
        return;
    }
    l->busy[slot] = true;
    l->outstanding++;
}

static void on_reply(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
    (void)nc;
    (void)sub;
    loop_t *l = closure;
    uint64_t now = bench_mono_us();
    /* The slot is the last token of the reply subject "<inbox>.<slot>". */
    const char *dot = strrchr(natsMsg_GetSubject(msg), '.');
    char *end = NULL;
    long slot = dot ? strtol(dot + 1, &end, 10) : -1;
    if (end == NULL || *end != '\0')
        slot = -1;
    bool ok = ack_ok(msg);
    natsMsg_Destroy(msg);

    pthread_mutex_lock(&l->mu);
    if (slot < 0 || slot >= l->k || !l->busy[slot]) {
        l->strays++;
    } else {
        l->busy[slot] = false;
        l->outstanding--;
        l->replies++;
        l->not_ok += !ok;
        l->last_reply_us = now;
        (void)bench_samples_add(&l->lat, now - l->sent_us[slot]);
        if (now < l->stop_us)
            loop_send(l, (int)slot);
    }
    pthread_mutex_unlock(&l->mu);
}

/* (b): K in flight for the duration. Returns the replies seen, -1 on setup failure. */
static long run_in_flight(natsConnection *nc, const char *subject, const settings_t *st)
{
    loop_t *l = calloc(1, sizeof *l);
    natsInbox *inbox = NULL;
    natsSubscription *sub = NULL;
    char wildcard[160];
    long replies = -1;
    if (l == NULL || natsInbox_Create(&inbox) != NATS_OK)
        goto out;
    l->nc = nc;
    l->subject = subject;
    l->k = st->in_flight;
    snprintf(l->inbox, sizeof l->inbox, "%s", (const char *)inbox);
    snprintf(wildcard, sizeof wildcard, "%s.*", l->inbox);
    pthread_mutex_init(&l->mu, NULL);
    if (natsConnection_Subscribe(&sub, nc, wildcard, on_reply, l) != NATS_OK ||
        natsConnection_Flush(nc) != NATS_OK) {
        fprintf(stderr, "bench_ping: cannot subscribe to %s\n", wildcard);
        goto out_mu;
    }

    uint64_t t0 = bench_mono_us();
    pthread_mutex_lock(&l->mu);
    l->stop_us = t0 + (uint64_t)(st->duration * 1e6);
    for (int i = 0; i < l->k; i++)
        loop_send(l, i);
    pthread_mutex_unlock(&l->mu);

    /* Sleep through the run, then wait (bounded) for the last replies. */
    uint64_t give_up = l->stop_us + DRAIN_MS * 1000u;
    for (;;) {
        usleep(20000);
        pthread_mutex_lock(&l->mu);
        bool done = bench_mono_us() >= l->stop_us && l->outstanding == 0;
        pthread_mutex_unlock(&l->mu);
        if (done || bench_mono_us() >= give_up)
            break;
    }
    /* Drain: once it completes, no callback runs or will run on l. */
    if (natsSubscription_Drain(sub) != NATS_OK ||
        natsSubscription_WaitForDrainCompletion(sub, DRAIN_MS) != NATS_OK)
        natsSubscription_Unsubscribe(sub);

    pthread_mutex_lock(&l->mu);
    double secs = (double)(l->last_reply_us > t0 ? l->last_reply_us - t0 : 1) / 1e6;
    replies = l->replies;
    if (l->lat.n > 0) {
        char label[64];
        snprintf(label, sizeof label, "in_flight=%d", l->k);
        bench_samples_print(label, &l->lat, "us");
        printf("in_flight=%d: %.0f req/s over %.2f s, %ld replies, %ld not OK, %ld without "
               "reply, %ld send errors, %ld stray\n",
               l->k, (double)l->replies / secs, secs, l->replies, l->not_ok, (long)l->outstanding,
               l->send_errors, l->strays);
    } else {
        printf("in_flight=%d: no reply\n", l->k);
    }
    pthread_mutex_unlock(&l->mu);
    bench_samples_free(&l->lat);
out_mu:
    natsSubscription_Destroy(sub);
    pthread_mutex_destroy(&l->mu);
out:
    natsInbox_Destroy(inbox);
    free(l);
    return replies;
}

/* ---- main --------------------------------------------------------------------------- */

static const char usage_text[] =
    "usage: bench_ping [-n N] [-w WARMUP] [-k IN_FLIGHT] [-d SECONDS]\n"
    "  -n, --requests N     sequential pings measured (default 10000)\n"
    "  -w, --warmup N       unmeasured pings before them (default 1000)\n"
    "  -k, --in-flight K    requests outstanding in the load phase, 1..1024 (default 16)\n"
    "  -d, --duration S     seconds of the load phase (default 5)\n";

static int parse_args(int argc, char **argv, settings_t *st)
{
    static const struct option opts[] = {
        {"requests", required_argument, NULL, 'n'}, {"warmup", required_argument, NULL, 'w'},
        {"in-flight", required_argument, NULL, 'k'}, {"duration", required_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0},
    };
    *st = (settings_t){.n = 10000, .warmup = 1000, .in_flight = 16, .duration = 5.0};
    int c;
    long v;
    while ((c = getopt_long(argc, argv, "n:w:k:d:h", opts, NULL)) != -1) {
        switch (c) {
        case 'n':
            if (!bench_parse_long(optarg, 1, 100000000, &st->n))
                goto bad;
            break;
        case 'w':
            if (!bench_parse_long(optarg, 0, 100000000, &st->warmup))
                goto bad;
            break;
        case 'k':
            if (!bench_parse_long(optarg, 1, MAX_IN_FLIGHT, &v))
                goto bad;
            st->in_flight = (int)v;
            break;
        case 'd': {
            char *end = NULL;
            st->duration = strtod(optarg, &end);
            if (end == optarg || *end != '\0' || !(st->duration > 0 && st->duration <= 3600))
                goto bad;
            break;
        }
        case 'h':
            fputs(usage_text, stdout);
            exit(0);
        default:
            goto bad_usage;
        }
    }
    if (optind != argc)
        goto bad_usage;
    return 0;
bad:
    fprintf(stderr, "bench_ping: bad value '%s' for -%c\n", optarg, c);
bad_usage:
    fputs(usage_text, stderr);
    return -1;
}

int main(int argc, char **argv)
{
    settings_t st;
    if (parse_args(argc, argv, &st) != 0)
        return 2;
    setvbuf(stdout, NULL, _IOLBF, 0);
    print_settings(&st);

    int rc = 1;
    harness_natsd_t *natsd = NULL;
    harness_proc_t *agent = NULL;
    natsConnection *nc = NULL;
    char *dir = harness_tmpdir("bench");
    char cfg_path[600], data_dir[600], log_path[600], json[2048];
    const char *subject = NODE ".command.ping";

    if (dir == NULL || harness_natsd_start(NULL, &natsd) != 0)
        goto out;
    snprintf(cfg_path, sizeof cfg_path, "%s/agent.json", dir);
    snprintf(data_dir, sizeof data_dir, "%s/data", dir);
    snprintf(log_path, sizeof log_path, "%s/agent.log", dir);
    snprintf(json, sizeof json,
             "{\"id\": \"%s\", \"dataDir\": \"%s\", \"nats\": {\"servers\": [\"%s\"]}}\n", NODE,
             data_dir, harness_natsd_url(natsd));
    if (harness_write_file(cfg_path, json) != 0)
        goto out;
    if ((nc = connect_client(harness_natsd_url(natsd))) == NULL)
        goto out;
    char *agent_argv[] = {BOSUN_AGENT_BIN, "--config-file", cfg_path, NULL};
    if (harness_proc_start(agent_argv, log_path, &agent) != 0)
        goto out;
    if (!wait_ready(nc, subject)) {
        char *log = harness_proc_log(agent);
        fprintf(stderr, "bench_ping: the agent did not answer ping; its log:\n%s\n",
                log ? log : "(none)");
        free(log);
        goto out;
    }
    printf("agent: pid %d, nats-server: pid %d at %s\n", (int)harness_proc_pid(agent),
           (int)harness_natsd_pid(natsd), harness_natsd_url(natsd));

    long seq = run_sequential(nc, subject, &st);
    long par = run_in_flight(nc, subject, &st);
    rc = seq > 0 && par > 0 ? 0 : 1;
out:
    if (nc != NULL)
        natsConnection_Destroy(nc);
    harness_proc_stop(agent, 5000, NULL);
    harness_natsd_stop(natsd);
    if (dir != NULL)
        harness_rmtree(dir);
    free(dir);
    nats_Close();
    return rc;
}
