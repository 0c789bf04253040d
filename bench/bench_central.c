/*
 * bench_central.c - bosun-central's delivery pipeline with real processes
 * (issue 5, "Benchmarks"): accept rate, delivery rate and latency.
 *
 * Starts a private nats-server on 127.0.0.1, real bosun-agents where a
 * benchmark needs them, and a real bosun-central with a fresh data
 * directory for every run, all through tests/harness (every child is
 * stopped by its pid, also on a crash). Messages go into central's
 * inmsg.txt as an operator's `cat drop.json >> inmsg.txt` would put them:
 * one write(2) per drop on an O_APPEND descriptor, no fsync. Progress is read
 * from central's SQLite store, read-only: every POLL_MS a query of two index
 * lookups, then store_counts() (store_open_readonly) once to check the end
 * state (see "Polling" below for why not store_counts() every time).
 *
 *   accept   N messages to absent nodes (they stay pending), in drops of B
 *            messages, appended as fast as the benchmark can; the time runs
 *            from the first append until the poll sees all N accepted.
 *            Run for B = 1 and B = 100 unless --drop is given.
 *   deliver  M ping messages to A agents (round robin, drops of 100), all
 *            appended in one write; the time runs from that write until the
 *            poll sees all M finished. Also the CPU time that central,
 *            nats-server, the agents and the rest of the machine used.
 *   latency  N single-message drops to ping on one agent, one at a time:
 *            each is appended when the previous one's result has been
 *            published. From the write returning to central.event.result
 *            arriving (central publishes it after the store commit), and to
 *            the finished_ms central stored (1 ms resolution).
 *
 * Prints the settings and the median over R runs; never passes or fails on
 * time. Exit 0; 1 when something broke (a process did not start, messages
 * not all finished within a generous bound, a result not OK); 2 for bad
 * flags.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <nats/nats.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_util.h"
#include "bosun.pb-c.h"
#include "client.h"
#include "config.h"
#include "harness.h"
#include "store.h"

#define MAX_AGENTS 99            /* node names a01..a99 */
#define MAX_RUNS 20
#define POLL_MS 10
#define CENTRAL_READY_MS 20000
#define AGENT_READY_MS 60000
#define RESULT_WAIT_MS 10000     /* latency: one result, at most */
#define ABSENT_NODES 50          /* accept: messages spread over ghost01..ghost50 */
#define DELIVER_DROP 100         /* deliver: messages per drop */

typedef struct {
    bool accept, deliver, latency;
    int runs;
    long accept_n;
    long drops[2];               /* accept drop sizes; drops[1] == 0: one size */
    long deliver_n;
    int agents;
    long latency_n;
    long latency_warmup;
    int log_level;               /* central's --log-level */
} settings_t;

/* The processes of a benchmark and where they keep their files. */
typedef struct {
    char *dir;                   /* harness_tmpdir: everything is below it */
    harness_natsd_t *natsd;
    natsConnection *nc;
    harness_proc_t *agent[MAX_AGENTS];
    int n_agents;
    harness_proc_t *central;
    store_t *store;              /* read-only handle on central's store */
    sqlite3 *db;                 /* the same store, for the cheap progress query */
    sqlite3_stmt *progress;
    char central_dir[512];
    char inmsg[600];
    int centrals;                /* central data directories made so far */
    int log_level;
} env_t;

/* ---- progress of central's store ------------------------------------------------- */

/*
 * Polling. store_counts() counts rows: at 200,000 messages one call takes
 * 24-39 ms on an idle 2-core machine (each run prints one), so calling it
 * every POLL_MS would take most of a core from the processes measured. The poll therefore asks SQLite two index lookups on
 * the same file, read-only: max(seq), which is the number of messages
 * accepted (a fresh store numbers them 1, 2, ...), and whether any message
 * is unfinished. store_counts() then checks the end state once.
 */
static int progress_open(env_t *e)
{
    char path[700];
    snprintf(path, sizeof path, "%s/central.db", e->central_dir);
    if (sqlite3_open_v2(path, &e->db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(e->db,
                           "SELECT (SELECT coalesce(max(seq), 0) FROM messages), "
                           "EXISTS (SELECT 1 FROM messages WHERE finished_ms IS NULL)",
                           -1, &e->progress, NULL) != SQLITE_OK) {
        fprintf(stderr, "bench_central: %s: %s\n", path, e->db ? sqlite3_errmsg(e->db) : "no memory");
        return -1;
    }
    sqlite3_busy_timeout(e->db, 5000);
    return 0;
}

static void progress_close(env_t *e)
{
    sqlite3_finalize(e->progress);
    sqlite3_close(e->db);
    e->progress = NULL;
    e->db = NULL;
}

/* Messages accepted so far and whether any is unfinished; -1 on error. */
static int progress_read(env_t *e, uint64_t *accepted, bool *pending)
{
    int rc = sqlite3_step(e->progress);
    if (rc == SQLITE_ROW) {
        *accepted = (uint64_t)sqlite3_column_int64(e->progress, 0);
        *pending = sqlite3_column_int(e->progress, 1) != 0;
    }
    sqlite3_reset(e->progress);
    return rc == SQLITE_ROW ? 0 : -1;
}

/* ---- processes ------------------------------------------------------------------ */

#define NAME_LEN 16

static void agent_name(int i, char out[NAME_LEN])
{
    snprintf(out, NAME_LEN, "a%02d", i + 1);
}

/* Starts agents a01..a<n>, each with its own data directory and default
 * config (no resources), and waits until every one answers ping. */
static int agents_start(env_t *e, int n)
{
    for (int i = e->n_agents; i < n; i++) {
        char name[NAME_LEN], cfg[600], data[600], log[600], json[1024];
        agent_name(i, name);
        snprintf(cfg, sizeof cfg, "%s/%s.json", e->dir, name);
        snprintf(data, sizeof data, "%s/%s", e->dir, name);
        snprintf(log, sizeof log, "%s/%s.log", e->dir, name);
        snprintf(json, sizeof json,
                 "{\"id\": \"%s\", \"dataDir\": \"%s\", \"nats\": {\"servers\": [\"%s\"]}}\n", name,
                 data, harness_natsd_url(e->natsd));
        char *argv[] = {BOSUN_AGENT_BIN, "--config-file", cfg, NULL};
        if (harness_write_file(cfg, json) != 0 || harness_proc_start(argv, log, &e->agent[i]) != 0)
            return -1;
        e->n_agents = i + 1;
    }
    uint64_t give_up = bench_mono_us() + AGENT_READY_MS * 1000ull;
    for (int i = 0; i < n; i++) {
        char name[NAME_LEN];
        agent_name(i, name);
        for (;;) {
            Bosun__Ack *ack = client_command(e->nc, name, "ping", "ready", NULL, 0, 1000);
            bool ok = ack != NULL && ack->status == BOSUN__ACK_STATUS__ACK_STATUS_OK;
            bosun__ack__free_unpacked(ack, NULL);
            if (ok)
                break;
            if (bench_mono_us() >= give_up) {
                fprintf(stderr, "bench_central: agent %s did not answer ping; see %s/%s.log\n", name,
                        e->dir, name);
                return -1;
            }
            usleep(100000);
        }
    }
    return 0;
}

/* Prints the last lines of a log file to stderr, for a failure report. */
static void print_log_tail(const char *path)
{
    size_t len = 0;
    char *text = harness_read_file(path, &len);
    if (text == NULL)
        return;
    const char *from = len > 3000 ? text + len - 3000 : text;
    fprintf(stderr, "--- end of %s ---\n%s\n---\n", path, from);
    free(text);
}

/*
 * Starts a central with a fresh data directory (default delivery settings,
 * HTTP off) and opens its store read-only. Waits for its "running" log line,
 * which central writes at INFO, so log levels below 3 are not offered.
 */
static int central_start(env_t *e)
{
    char cfg[600], log[600], json[2048], level[16];
    e->centrals++;
    snprintf(e->central_dir, sizeof e->central_dir, "%s/central%d", e->dir, e->centrals);
    snprintf(e->inmsg, sizeof e->inmsg, "%s/inmsg.txt", e->central_dir);
    snprintf(cfg, sizeof cfg, "%s/central%d.json", e->dir, e->centrals);
    snprintf(log, sizeof log, "%s/central%d.log", e->dir, e->centrals);
    snprintf(level, sizeof level, "%d", e->log_level);
    snprintf(json, sizeof json,
             "{\"id\": \"central\", \"dataDir\": \"%s\", \"nats\": {\"servers\": [\"%s\"]},\n"
             " \"http\": {\"listen\": \"\"}}\n",
             e->central_dir, harness_natsd_url(e->natsd));
    char *argv[] = {BOSUN_CENTRAL_BIN, "--config-file", cfg, "--log-level", level, NULL};
    if (harness_write_file(cfg, json) != 0 || harness_proc_start(argv, log, &e->central) != 0)
        return -1;
    if (!harness_proc_wait_log(e->central, "running: inbox", CENTRAL_READY_MS)) {
        fprintf(stderr, "bench_central: bosun-central did not start\n");
        print_log_tail(log);
        return -1;
    }
    bosun_err_t err = {0};
    if (store_open_readonly(e->central_dir, &e->store, &err) != BOSUN_OK) {
        fprintf(stderr, "bench_central: %s\n", err.msg);
        return -1;
    }
    return progress_open(e);
}

/* Stops central (SIGTERM) and removes its data directory; -1 if it did not
 * exit cleanly (then its log is printed and kept). */
static int central_stop(env_t *e)
{
    char log[600];
    snprintf(log, sizeof log, "%s/central%d.log", e->dir, e->centrals);
    progress_close(e);
    store_close(e->store);
    e->store = NULL;
    int ws = 0;
    int rc = harness_proc_stop(e->central, 20000, &ws);
    e->central = NULL;
    if (rc != 0 || !WIFEXITED(ws) || WEXITSTATUS(ws) != 0) {
        fprintf(stderr, "bench_central: bosun-central did not stop cleanly (status %d)\n", ws);
        print_log_tail(log);
        return -1;
    }
    harness_rmtree(e->central_dir);
    return 0;
}

/* Stops agents from index `keep` on (by pid), so that only `keep` remain. */
static void agents_stop(env_t *e, int keep)
{
    for (int i = keep; i < e->n_agents; i++) {
        harness_proc_stop(e->agent[i], 10000, NULL);
        e->agent[i] = NULL;
    }
    if (e->n_agents > keep)
        e->n_agents = keep;
}

static void env_stop(env_t *e)
{
    progress_close(e);
    store_close(e->store);
    harness_proc_stop(e->central, 20000, NULL);
    agents_stop(e, 0);
    if (e->nc != NULL)
        natsConnection_Destroy(e->nc);
    harness_natsd_stop(e->natsd);
    if (e->dir != NULL)
        harness_rmtree(e->dir);
    free(e->dir);
}

/* ---- drops and the store ---------------------------------------------------------- */

/* Drops in one buffer: drop i is text[start_i .. ends[i]). */
typedef struct {
    char *text;
    size_t len, cap;
    size_t *ends;
    size_t n_drops;
} drops_t;

static bool drops_put(drops_t *d, const char *s, size_t n)
{
    if (d->len + n > d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 1u << 20;
        while (cap < d->len + n)
            cap *= 2;
        char *grown = realloc(d->text, cap);
        if (grown == NULL)
            return false;
        d->text = grown;
        d->cap = cap;
    }
    memcpy(d->text + d->len, s, n);
    d->len += n;
    return true;
}

/*
 * n ping messages in drops of per_drop (the last may be smaller), to nodes
 * <prefix>01 .. <prefix><n_nodes> round robin; each drop a JSON array on
 * its own line. No data: ping ignores it.
 */
static int drops_build(drops_t *d, long n, long per_drop, const char *prefix, int n_nodes)
{
    memset(d, 0, sizeof *d);
    size_t n_drops = (size_t)((n + per_drop - 1) / per_drop);
    if ((d->ends = calloc(n_drops, sizeof *d->ends)) == NULL)
        return -1;
    for (long i = 0; i < n; i++) {
        char el[128];
        int len = snprintf(el, sizeof el, "%s{\"toNode\": \"%s%02d\", \"method\": \"ping\"}",
                           i % per_drop == 0 ? "[" : ", ", prefix, (int)(i % n_nodes) + 1);
        if (!drops_put(d, el, (size_t)len))
            return -1;
        if (i % per_drop == per_drop - 1 || i == n - 1) {
            if (!drops_put(d, "]\n", 2))
                return -1;
            d->ends[d->n_drops++] = d->len;
        }
    }
    return 0;
}

static void drops_free(drops_t *d)
{
    free(d->text);
    free(d->ends);
    memset(d, 0, sizeof *d);
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            fprintf(stderr, "bench_central: write inmsg.txt: %s\n", strerror(errno));
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int open_inmsg(const env_t *e)
{
    int fd = open(e->inmsg, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0660);
    if (fd < 0)
        fprintf(stderr, "bench_central: open %s: %s\n", e->inmsg, strerror(errno));
    return fd;
}

/* When the poll saw all messages accepted and all finished (wall us; 0: not
 * seen), and what it cost. */
typedef struct {
    uint64_t accepted_us, finished_us;
    long calls;
    uint64_t cost_us;
} poll_t;

/*
 * Polls every POLL_MS until `want` messages are accepted and, if finished,
 * none is unfinished, or until timeout_ms passed or central exited. Then
 * reads store_counts() into *c. Returns 0 if the condition was seen.
 */
static int poll_store(env_t *e, uint64_t want, bool finished, uint64_t timeout_ms,
                      store_counts_t *c, poll_t *p)
{
    memset(p, 0, sizeof *p);
    uint64_t give_up = bench_mono_us() + timeout_ms * 1000u;
    int rc = -1;
    for (;;) {
        uint64_t accepted = 0;
        bool pending = true;
        uint64_t t0 = bench_mono_us();
        if (progress_read(e, &accepted, &pending) != 0) {
            fprintf(stderr, "bench_central: progress query: %s\n", sqlite3_errmsg(e->db));
            break;
        }
        uint64_t t1 = bench_mono_us();
        p->calls++;
        p->cost_us += t1 - t0;
        if (accepted >= want && p->accepted_us == 0)
            p->accepted_us = bench_wall_us();
        if (accepted >= want && !pending && p->finished_us == 0)
            p->finished_us = bench_wall_us();
        if (p->accepted_us != 0 && (!finished || p->finished_us != 0)) {
            rc = 0;
            break;
        }
        if (t1 >= give_up || !harness_proc_running(e->central))
            break;
        usleep(POLL_MS * 1000);
    }
    if (store_counts(e->store, c) != BOSUN_OK) {
        fprintf(stderr, "bench_central: store_counts failed\n");
        return -1;
    }
    return rc;
}

/* ---- CPU use during a run -------------------------------------------------------- */

/* CPU seconds so far of the processes in a run, and of the whole machine. */
typedef struct {
    double central, natsd, agents, self;
    double machine_busy, machine_total;
} cpu_snap_t;

static void cpu_snap(const env_t *e, cpu_snap_t *c)
{
    memset(c, 0, sizeof *c);
    if (e->central != NULL)
        c->central = bench_cpu_secs(harness_proc_pid(e->central));
    c->natsd = bench_cpu_secs(harness_natsd_pid(e->natsd));
    for (int i = 0; i < e->n_agents; i++)
        c->agents += bench_cpu_secs(harness_proc_pid(e->agent[i]));
    c->self = bench_cpu_secs(getpid());
    (void)bench_machine_cpu(&c->machine_busy, &c->machine_total);
}

/*
 * CPU use between two snapshots, in % of one core over `secs`: each
 * process, what the rest of the machine used (processes not part of the
 * benchmark, and kernel work not charged to a process), and the idle share.
 */
typedef struct {
    double central, natsd, agents, self, other, idle;
} cpu_use_t;

static void cpu_use(const cpu_snap_t *a, const cpu_snap_t *b, double secs, cpu_use_t *u)
{
    double k = 100.0 / secs;
    u->central = (b->central - a->central) * k;
    u->natsd = (b->natsd - a->natsd) * k;
    u->agents = (b->agents - a->agents) * k;
    u->self = (b->self - a->self) * k;
    double busy = (b->machine_busy - a->machine_busy) * k;
    double total = (b->machine_total - a->machine_total) * k;
    u->other = busy - u->central - u->natsd - u->agents - u->self;
    if (u->other < 0)
        u->other = 0;
    u->idle = total > busy ? total - busy : 0;
}

static void cpu_print(const cpu_use_t *u)
{
    printf("CPU (%% of one core): central %.0f, nats-server %.0f, agents %.0f, benchmark %.0f, "
           "rest of the machine %.0f, idle or iowait %.0f", u->central, u->natsd, u->agents, u->self,
           u->other, u->idle);
}

/* Ends a run of accept or deliver: closes fd, frees d, stops central. */
static int run_end(env_t *e, int fd, drops_t *d, int rc)
{
    if (fd >= 0)
        close(fd);
    drops_free(d);
    if (e->central != NULL && central_stop(e) != 0)
        rc = -1;
    return rc;
}

/* ---- accept ----------------------------------------------------------------------- */

typedef struct {
    double rate;           /* messages/s, first append until the poll saw all accepted */
    double write_secs;     /* the appends alone */
    cpu_use_t cpu;
} accept_fig_t;

/* Times one store_counts() call on the quiet store, in ms (for the report). */
static double counts_ms(env_t *e)
{
    store_counts_t c;
    uint64_t t0 = bench_mono_us();
    (void)store_counts(e->store, &c);
    return (double)(bench_mono_us() - t0) / 1e3;
}

static int accept_run(env_t *e, const settings_t *st, long per_drop, int run, accept_fig_t *f)
{
    drops_t d;
    int rc = -1, fd = -1;
    if (drops_build(&d, st->accept_n, per_drop, "ghost", ABSENT_NODES) != 0) {
        fprintf(stderr, "bench_central: out of memory\n");
        goto out;
    }
    if (central_start(e) != 0 || (fd = open_inmsg(e)) < 0)
        goto out;
    cpu_snap_t cpu0, cpu1;
    cpu_snap(e, &cpu0);
    uint64_t t0 = bench_wall_us();
    for (size_t i = 0, start = 0; i < d.n_drops; start = d.ends[i++])
        if (write_all(fd, d.text + start, d.ends[i] - start) != 0)
            goto out;
    uint64_t t_written = bench_wall_us();
    store_counts_t c;
    poll_t p;
    int seen = poll_store(e, (uint64_t)st->accept_n, false, 120000 + st->accept_n / 100, &c, &p);
    cpu_snap(e, &cpu1);
    if (seen != 0 || c.accepted != (uint64_t)st->accept_n || c.rejected_drops != 0) {
        fprintf(stderr, "bench_central: accept: %" PRIu64 " of %ld accepted, %" PRIu64
                        " drops rejected, when the benchmark gave up\n",
                c.accepted, st->accept_n, c.rejected_drops);
        goto out;
    }
    double secs = (double)(p.accepted_us - t0) / 1e6;
    f->rate = (double)st->accept_n / secs;
    f->write_secs = (double)(t_written - t0) / 1e6;
    cpu_use(&cpu0, &cpu1, secs, &f->cpu);
    printf("accept drop=%ld run %d: %ld messages in %zu drops, appended in %.3f s; all accepted "
           "after %.3f s = %.0f msg/s; poll: %ld calls, mean %.2f ms; one store_counts() "
           "afterwards: %.1f ms; ",
           per_drop, run, st->accept_n, d.n_drops, f->write_secs, secs, f->rate, p.calls,
           (double)p.cost_us / 1e3 / (double)p.calls, counts_ms(e));
    cpu_print(&f->cpu);
    printf("\n");
    rc = 0;
out:
    return run_end(e, fd, &d, rc);
}

static int bench_accept(env_t *e, const settings_t *st, long per_drop)
{
    double rate[MAX_RUNS], wr[MAX_RUNS], cpu[MAX_RUNS], other[MAX_RUNS];
    for (int r = 0; r < st->runs; r++) {
        accept_fig_t f;
        if (accept_run(e, st, per_drop, r + 1, &f) != 0)
            return -1;
        rate[r] = f.rate;
        wr[r] = f.write_secs;
        cpu[r] = f.cpu.central;
        other[r] = f.cpu.other;
    }
    size_t n = (size_t)st->runs;
    double med = bench_median(rate, n); /* sorts rate: rate[0] is the least */
    printf("accept drop=%ld: median of %d runs: %.0f msg/s (range %.0f-%.0f); appends took %.3f s; "
           "CPU (%% of one core): central %.0f, rest of the machine %.0f\n",
           per_drop, st->runs, med, rate[0], rate[n - 1], bench_median(wr, n),
           bench_median(cpu, n), bench_median(other, n));
    return 0;
}

/* ---- deliver ---------------------------------------------------------------------- */

typedef struct {
    double rate;           /* messages/s, drop until the poll saw all finished */
    double accepted_secs;  /* drop until the poll saw all accepted */
    double finished_secs;  /* drop until the last finished_ms stored */
    cpu_use_t cpu;
} deliver_fig_t;

/* The latest finished_ms in the store (results for every message). */
static void last_finished(void *arg, const Bosun__Result *r)
{
    uint64_t *last = arg;
    if (r->finished_ms > *last)
        *last = r->finished_ms;
}

static int deliver_run(env_t *e, const settings_t *st, int run, deliver_fig_t *f)
{
    drops_t d;
    int rc = -1, fd = -1;
    if (drops_build(&d, st->deliver_n, DELIVER_DROP, "a", st->agents) != 0) {
        fprintf(stderr, "bench_central: out of memory\n");
        goto out;
    }
    if (central_start(e) != 0 || (fd = open_inmsg(e)) < 0)
        goto out;
    cpu_snap_t cpu0, cpu1;
    cpu_snap(e, &cpu0);
    uint64_t t0 = bench_wall_us();
    if (write_all(fd, d.text, d.len) != 0)
        goto out;
    store_counts_t c;
    poll_t p;
    int seen = poll_store(e, (uint64_t)st->deliver_n, true, 120000 + st->deliver_n / 10, &c, &p);
    cpu_snap(e, &cpu1);
    uint64_t ok = c.by_status[BOSUN__ACK_STATUS__ACK_STATUS_OK];
    if (seen != 0 || c.accepted != (uint64_t)st->deliver_n || c.pending != 0 || ok != c.accepted) {
        fprintf(stderr, "bench_central: deliver: %" PRIu64 " accepted, %" PRIu64 " pending, %" PRIu64
                        " OK when the benchmark gave up\n", c.accepted, c.pending, ok);
        goto out;
    }
    uint64_t last_ms = 0;
    store_query_t q = {0};
    bosun_err_t err = {0};
    if (store_results(e->store, &q, last_finished, &last_ms, &err) != BOSUN_OK) {
        fprintf(stderr, "bench_central: %s\n", err.msg);
        goto out;
    }
    double secs = (double)(p.finished_us - t0) / 1e6;
    f->rate = (double)st->deliver_n / secs;
    f->accepted_secs = (double)(p.accepted_us - t0) / 1e6;
    f->finished_secs = ((double)last_ms - (double)t0 / 1e3) / 1e3;
    cpu_use(&cpu0, &cpu1, secs, &f->cpu);
    printf("deliver run %d: %ld messages to %d agents, all OK; all accepted after %.3f s, all "
           "finished after %.3f s = %.0f msg/s (last finished_ms after %.3f s); poll: %ld calls, "
           "mean %.2f ms; ",
           run, st->deliver_n, st->agents, f->accepted_secs, secs, f->rate, f->finished_secs,
           p.calls, (double)p.cost_us / 1e3 / (double)p.calls);
    cpu_print(&f->cpu);
    printf("\n");
    rc = 0;
out:
    return run_end(e, fd, &d, rc);
}

static int bench_deliver(env_t *e, const settings_t *st)
{
    if (agents_start(e, st->agents) != 0)
        return -1;
    double rate[MAX_RUNS], acc[MAX_RUNS], cc[MAX_RUNS], cn[MAX_RUNS], ca[MAX_RUNS], co[MAX_RUNS];
    for (int r = 0; r < st->runs; r++) {
        deliver_fig_t f;
        if (deliver_run(e, st, r + 1, &f) != 0)
            return -1;
        rate[r] = f.rate;
        acc[r] = f.accepted_secs;
        cc[r] = f.cpu.central;
        cn[r] = f.cpu.natsd;
        ca[r] = f.cpu.agents;
        co[r] = f.cpu.other;
    }
    size_t n = (size_t)st->runs;
    double med = bench_median(rate, n); /* sorts rate: rate[0] is the least */
    printf("deliver: median of %d runs: %.0f msg/s (range %.0f-%.0f); all accepted after %.3f s; "
           "CPU (%% of one core): central %.0f, nats-server %.0f, agents %.0f, rest of the "
           "machine %.0f\n",
           st->runs, med, rate[0], rate[n - 1], bench_median(acc, n), bench_median(cc, n),
           bench_median(cn, n), bench_median(ca, n), bench_median(co, n));
    return 0;
}

/* ---- latency ---------------------------------------------------------------------- */

/*
 * Waits for the central.event.result whose message carries marker as its
 * data; returns it (free with bosun__result__free_unpacked) or NULL.
 */
static Bosun__Result *wait_result(natsSubscription *sub, const char *marker)
{
    uint64_t give_up = bench_mono_us() + RESULT_WAIT_MS * 1000ull;
    for (;;) {
        uint64_t now = bench_mono_us();
        if (now >= give_up)
            return NULL;
        natsMsg *msg = NULL;
        if (natsSubscription_NextMsg(&msg, sub, (int64_t)((give_up - now) / 1000u) + 1) != NATS_OK)
            return NULL;
        Bosun__Result *r = bosun__result__unpack(NULL, (size_t)natsMsg_GetDataLength(msg),
                                                 (const uint8_t *)natsMsg_GetData(msg));
        natsMsg_Destroy(msg);
        if (r != NULL && r->message != NULL && r->message->n_data == 1 &&
            strcmp(r->message->data[0], marker) == 0)
            return r;
        bosun__result__free_unpacked(r, NULL);
    }
}

typedef struct {
    bench_samples_t event_us;     /* write returned -> result event received */
    bench_samples_t finished_ms;  /* write returned -> finished_ms stored */
    bench_samples_t accepted_ms;  /* write returned -> accepted_ms stored */
    cpu_use_t cpu;                /* over the measured drops */
} latency_t;

static void latency_free(latency_t *l)
{
    bench_samples_free(&l->event_us);
    bench_samples_free(&l->finished_ms);
    bench_samples_free(&l->accepted_ms);
}

static int latency_run(env_t *e, const settings_t *st, int run, latency_t *l)
{
    natsSubscription *sub = NULL;
    int rc = -1, fd = -1;
    long total = st->latency_warmup + st->latency_n;
    if (central_start(e) != 0 || (fd = open_inmsg(e)) < 0)
        goto out;
    if (natsConnection_SubscribeSync(&sub, e->nc, "central.event.result") != NATS_OK ||
        natsConnection_Flush(e->nc) != NATS_OK) {
        fprintf(stderr, "bench_central: cannot subscribe to central.event.result\n");
        goto out;
    }
    cpu_snap_t cpu0, cpu1;
    uint64_t t_start = 0;
    for (long i = 0; i < total; i++) {
        char marker[32], drop[160];
        if (i == st->latency_warmup) {
            cpu_snap(e, &cpu0);
            t_start = bench_mono_us();
        }
        snprintf(marker, sizeof marker, "r%d-%ld", run, i);
        int len = snprintf(drop, sizeof drop,
                           "[{\"toNode\": \"a01\", \"method\": \"ping\", \"data\": [\"%s\"]}]\n", marker);
        if (write_all(fd, drop, (size_t)len) != 0)
            goto out;
        uint64_t landed = bench_wall_us();
        Bosun__Result *r = wait_result(sub, marker);
        uint64_t got = bench_wall_us();
        if (r == NULL || r->status != BOSUN__ACK_STATUS__ACK_STATUS_OK) {
            fprintf(stderr, "bench_central: latency: message %s: %s\n", marker,
                    r == NULL ? "no result within 10 s" : "result not OK");
            bosun__result__free_unpacked(r, NULL);
            goto out;
        }
        if (i >= st->latency_warmup) {
            uint64_t landed_ms = landed / 1000u;
            bool ok = bench_samples_add(&l->event_us, got - landed) &&
                      bench_samples_add(&l->finished_ms,
                                        r->finished_ms > landed_ms ? r->finished_ms - landed_ms : 0) &&
                      bench_samples_add(&l->accepted_ms,
                                        r->accepted_ms > landed_ms ? r->accepted_ms - landed_ms : 0);
            if (!ok) {
                bosun__result__free_unpacked(r, NULL);
                fprintf(stderr, "bench_central: out of memory\n");
                goto out;
            }
        }
        bosun__result__free_unpacked(r, NULL);
    }
    cpu_snap(e, &cpu1);
    cpu_use(&cpu0, &cpu1, (double)(bench_mono_us() - t_start) / 1e6, &l->cpu);
    /* Every result must be in the store too (the event comes after the commit). */
    store_counts_t c;
    poll_t p;
    if (poll_store(e, (uint64_t)total, true, 10000, &c, &p) != 0 ||
        c.by_status[BOSUN__ACK_STATUS__ACK_STATUS_OK] != (uint64_t)total) {
        fprintf(stderr, "bench_central: latency: store has %" PRIu64 " accepted, %" PRIu64 " OK\n",
                c.accepted, c.by_status[BOSUN__ACK_STATUS__ACK_STATUS_OK]);
        goto out;
    }
    rc = 0;
out:
    if (sub != NULL) {
        natsSubscription_Unsubscribe(sub);
        natsSubscription_Destroy(sub);
    }
    if (fd >= 0)
        close(fd);
    if (e->central != NULL && central_stop(e) != 0)
        rc = -1;
    return rc;
}

static int bench_latency(env_t *e, const settings_t *st)
{
    agents_stop(e, 1); /* one agent, whichever benchmarks ran before */
    if (agents_start(e, 1) != 0)
        return -1;
    double ev50[MAX_RUNS], ev99[MAX_RUNS], fin50[MAX_RUNS], fin99[MAX_RUNS], acc50[MAX_RUNS];
    for (int r = 0; r < st->runs; r++) {
        latency_t l = {0};
        if (latency_run(e, st, r + 1, &l) != 0) {
            latency_free(&l);
            return -1;
        }
        char label[64];
        snprintf(label, sizeof label, "latency run %d: write -> result event", r + 1);
        bench_samples_print(label, &l.event_us, "us");
        snprintf(label, sizeof label, "latency run %d: write -> finished_ms", r + 1);
        bench_samples_print(label, &l.finished_ms, "ms, +-1");
        snprintf(label, sizeof label, "latency run %d: write -> accepted_ms", r + 1);
        bench_samples_print(label, &l.accepted_ms, "ms, +-1");
        printf("latency run %d: ", r + 1);
        cpu_print(&l.cpu);
        printf("\n");
        ev50[r] = bench_percentile(&l.event_us, 0.50);
        ev99[r] = bench_percentile(&l.event_us, 0.99);
        fin50[r] = bench_percentile(&l.finished_ms, 0.50);
        fin99[r] = bench_percentile(&l.finished_ms, 0.99);
        acc50[r] = bench_percentile(&l.accepted_ms, 0.50);
        latency_free(&l);
    }
    size_t n = (size_t)st->runs;
    printf("latency: median of %d runs: write -> result event p50 %.0f us, p99 %.0f us; "
           "write -> finished_ms p50 %.0f ms, p99 %.0f ms; write -> accepted_ms p50 %.0f ms\n",
           st->runs, bench_median(ev50, n), bench_median(ev99, n), bench_median(fin50, n),
           bench_median(fin99, n), bench_median(acc50, n));
    return 0;
}

/* ---- settings ----------------------------------------------------------------------- */

static void print_settings(const settings_t *st)
{
    char natsd[128], date[64];
    bench_natsd_version(natsd, sizeof natsd);
    bench_date(date, sizeof date);
    bosun_central_config_t cfg;
    const bosun_delivery_config_t *dl = NULL;
    if (bosun_central_config_init(&cfg) == BOSUN_OK)
        dl = &cfg.delivery;

    printf("bench_central %s\n", date);
    printf("settings: runs=%d central_log_level=%d poll=%dms writes=one write(2) per drop, "
           "O_APPEND, no fsync\n", st->runs, st->log_level, POLL_MS);
    if (st->accept && st->drops[1] > 0)
        printf("accept: n=%ld messages to %d absent nodes (ghost01..), in drops of %ld, then of %ld\n",
               st->accept_n, ABSENT_NODES, st->drops[0], st->drops[1]);
    else if (st->accept)
        printf("accept: n=%ld messages to %d absent nodes (ghost01..), in drops of %ld\n",
               st->accept_n, ABSENT_NODES, st->drops[0]);
    if (st->deliver)
        printf("deliver: n=%ld ping messages, drops of %d, round robin to %d agents, one write\n",
               st->deliver_n, DELIVER_DROP, st->agents);
    if (st->latency)
        printf("latency: n=%ld (+%ld warmup) single-message ping drops to 1 agent, one at a time\n",
               st->latency_n, st->latency_warmup);
    if (dl != NULL)
        printf("delivery (central defaults): ackTimeoutSecs=%g retries=%d retryWaitSecs=%g "
               "maxRetryWaitSecs=%g methodTimeoutSecs=%g ttlSecs=%g; agents: default config, "
               "no resources\n",
               dl->ack_timeout_secs, dl->retries, dl->retry_wait_secs, dl->max_retry_wait_secs,
               dl->method_timeout_secs, dl->ttl_secs);
    bosun_central_config_free(&cfg);
    bench_print_machine();
    printf("software: %s nats.c=%s sqlite=%s build=%s all on 127.0.0.1\n", natsd,
           nats_GetVersion(), sqlite3_libversion(), BENCH_BUILD_TYPE);
}

static const char usage_text[] =
    "usage: bench_central [all|accept|deliver|latency] [options]\n"
    "  -r, --runs R           runs of each benchmark, median reported, 1..20 (default 3)\n"
    "  -n, --accept-n N       accept: messages (default 200000)\n"
    "  -b, --drop B           accept: messages per drop (default: 1, then 100)\n"
    "  -m, --deliver-n M      deliver: messages (default 50000)\n"
    "  -a, --agents A         deliver: agents, 1..99 (default 50)\n"
    "  -l, --latency-n N      latency: measured drops (default 2000)\n"
    "  -w, --warmup N         latency: unmeasured drops first (default 100)\n"
    "  -L, --log-level L      central's --log-level, 3..5 (default 3, central's own)\n";

static int parse_args(int argc, char **argv, settings_t *st)
{
    static const struct option opts[] = {
        {"runs", required_argument, NULL, 'r'},      {"accept-n", required_argument, NULL, 'n'},
        {"drop", required_argument, NULL, 'b'},      {"deliver-n", required_argument, NULL, 'm'},
        {"agents", required_argument, NULL, 'a'},    {"latency-n", required_argument, NULL, 'l'},
        {"warmup", required_argument, NULL, 'w'},    {"log-level", required_argument, NULL, 'L'},
        {"help", no_argument, NULL, 'h'},            {NULL, 0, NULL, 0},
    };
    *st = (settings_t){.runs = 3, .accept_n = 200000, .drops = {1, 100}, .deliver_n = 50000,
                       .agents = 50, .latency_n = 2000, .latency_warmup = 100, .log_level = 3};
    const char *cmd = argc > 1 && argv[1][0] != '-' ? argv[1] : "all";
    if (strcmp(cmd, "all") != 0 && strcmp(cmd, "accept") != 0 && strcmp(cmd, "deliver") != 0 &&
        strcmp(cmd, "latency") != 0)
        goto bad_usage;
    st->accept = strcmp(cmd, "all") == 0 || strcmp(cmd, "accept") == 0;
    st->deliver = strcmp(cmd, "all") == 0 || strcmp(cmd, "deliver") == 0;
    st->latency = strcmp(cmd, "all") == 0 || strcmp(cmd, "latency") == 0;
    if (argc > 1 && argv[1][0] != '-')
        optind = 2;
    int c;
    long v;
    while ((c = getopt_long(argc, argv, "r:n:b:m:a:l:w:L:h", opts, NULL)) != -1) {
        bool ok = true;
        switch (c) {
        case 'r': ok = bench_parse_long(optarg, 1, MAX_RUNS, &v); st->runs = (int)v; break;
        case 'n': ok = bench_parse_long(optarg, 1, 100000000, &st->accept_n); break;
        case 'b': ok = bench_parse_long(optarg, 1, 10000, &st->drops[0]); st->drops[1] = 0; break;
        case 'm': ok = bench_parse_long(optarg, 1, 100000000, &st->deliver_n); break;
        case 'a': ok = bench_parse_long(optarg, 1, MAX_AGENTS, &v); st->agents = (int)v; break;
        case 'l': ok = bench_parse_long(optarg, 1, 10000000, &st->latency_n); break;
        case 'w': ok = bench_parse_long(optarg, 0, 10000000, &st->latency_warmup); break;
        case 'L': ok = bench_parse_long(optarg, 3, 5, &v); st->log_level = (int)v; break;
        case 'h': fputs(usage_text, stdout); exit(0);
        default: goto bad_usage;
        }
        if (!ok) {
            fprintf(stderr, "bench_central: bad value '%s' for -%c\n", optarg, c);
            goto bad_usage;
        }
    }
    if (optind != argc)
        goto bad_usage;
    return 0;
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

    env_t e = {.log_level = st.log_level};
    int rc = 1;
    if ((e.dir = harness_tmpdir("bench-central")) == NULL || harness_natsd_start(NULL, &e.natsd) != 0 ||
        (e.nc = client_connect(harness_natsd_url(e.natsd))) == NULL)
        goto out;
    printf("nats-server: pid %d at %s\n", (int)harness_natsd_pid(e.natsd), harness_natsd_url(e.natsd));
    if (st.accept && bench_accept(&e, &st, st.drops[0]) != 0)
        goto out;
    if (st.accept && st.drops[1] > 0 && bench_accept(&e, &st, st.drops[1]) != 0)
        goto out;
    if (st.deliver && bench_deliver(&e, &st) != 0)
        goto out;
    if (st.latency && bench_latency(&e, &st) != 0)
        goto out;
    rc = 0;
out:
    env_stop(&e);
    nats_Close();
    return rc;
}
