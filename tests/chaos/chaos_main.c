/*
 * chaos_main.c - the chaos suite (issue 10): a fleet under faults loses
 * nothing and never has two ACTIVE nodes.
 *
 *   chaos [--seed N] [--duration SECS] [--rate MSGS_PER_SEC] [--tx SECS] [--tw SECS] [--retries] [--keep]
 *
 * Builds the fleet in network namespaces (fleet.h), waits until every
 * resource has its ACTIVE node, then for --duration seconds streams
 * commands into central's inmsg.txt (workload.h) while it applies the
 * seed's fault plan (schedule.h): agents killed (-9) and stopped (SIGTERM)
 * and restarted, central killed (-9) and restarted, NATS servers killed and
 * restarted, hosts cut off at the bridge and healed, 10-30% of a host's
 * frames dropped. Then everything is healed and restarted, the run waits
 * until central has a final result for every message, stops every process
 * cleanly, reads the history (collect.h), checks it (check.h) and prints
 * the figures. A failing run prints the violations with their history, the
 * path of the full history and the command that replays the seed; its
 * directory is kept. Exit status: 0 passed, 1 failed, 2 bad usage.
 *
 * With no arguments it is the CI version (120 s); the long version is
 * `chaos --duration 1800 --seed N` (docs/BENCHMARKS.md, "Chaos").
 * Needs root (network namespaces, nftables).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "clock.h"
#include "collect.h"
#include "fleet.h"
#include "harness.h"
#include "netns.h"
#include "report.h"
#include "schedule.h"
#include "workload.h"

#define TICK_MS 10
#define KILL_WAIT_MS 3000
#define TERM_DEADLINE_MS 20000
#define CONVERGE_MS 40000
#define SETTLE_MS 5000
#define QUIET_MAX_MS 120000
#define CENTRAL_STOP_MS 40000
#define AGENT_STOP_MS 20000

static const char *const res_ids[FLEET_RES] = {"r1", "r2", "r3"};

typedef enum { P_UP, P_STOPPING, P_DOWN } pstate_t;

/* One process slot (a host's process) and what is being done to it. */
typedef struct {
    host_role_t role;
    int index;
    pstate_t st;
    int64_t deadline;     /* P_STOPPING: SIGKILL then */
    bool clean;           /* P_STOPPING: after SIGTERM, exit 0 expected */
    int64_t restart_at;   /* P_DOWN: start again then; 0: not planned */
    long fault;           /* the fault record this stop belongs to, or -1 */
    long life;            /* agents: the current life record, or -1 */
} slot_t;

/* A fault of the plan in progress. */
typedef struct {
    const plan_fault_t *p;
    int64_t end_at;
    long fault;
    bool done;
} active_t;

typedef struct {
    report_settings_t s;
    bool keep;
    char *dir;
    fleet_t *fleet;
    history_t h;
    slot_t slot[FLEET_HOSTS];
    bool cut[FLEET_HOSTS];
    workload_t w;
    plan_fault_t *plan;
    size_t n_plan, next_plan;
    active_t *active;
    size_t n_active;
    int64_t next_send;
    size_t sent_drops;
} run_t;

/* lib/clock.h's clocks, signed: these tests subtract times freely. */
static int64_t wall_ms(void) { return (int64_t)bosun_wall_ms(); }
static void sleep_ms(int ms) { bosun_sleep_ms(ms > 0 ? (uint64_t)ms : 0); }

/* ---- processes ------------------------------------------------------------------------------ */

static int start_slot(run_t *r, slot_t *s)
{
    int64_t now = wall_ms();
    char name[32];
    if (fleet_start(r->fleet, s->role, s->index) != 0) {
        history_anomaly(&r->h, now, "%s could not be started", hist_host_name(s->role, s->index, name, sizeof name));
        return -1;
    }
    s->st = P_UP;
    s->restart_at = 0;
    if (s->role == HOST_AGENT) {
        hist_life_t L = {.node = s->index, .start_ms = now};
        if (history_add_life(&r->h, &L) != NULL)
            s->life = (long)(r->h.n_lives - 1);
    }
    if (s->fault >= 0)
        r->h.faults[s->fault].end_ms = wall_ms();
    s->fault = -1;
    if (s->role == HOST_CENTRAL)
        r->h.central_last_start_ms = now;
    return 0;
}

/* The process of s has ended at ms: it is down now. */
static void slot_down(run_t *r, slot_t *s, int64_t ms)
{
    fleet_forget(r->fleet, s->role, s->index);
    s->st = P_DOWN;
    if (s->role == HOST_AGENT && s->life >= 0)
        r->h.lives[s->life].end_ms = ms;
    s->life = -1;
}

/* SIGKILL now; the process is reaped at once. */
static void kill_slot(run_t *r, slot_t *s, int64_t ms)
{
    harness_proc_t *p = fleet_proc(r->fleet, s->role, s->index);
    if (p != NULL) {
        harness_proc_signal(p, SIGKILL);
        if (harness_proc_wait(p, KILL_WAIT_MS, NULL) != 0) {
            char name[32];
            history_anomaly(&r->h, ms, "%s did not die within %d ms of SIGKILL", hist_host_name(s->role, s->index, name, sizeof name),
                            KILL_WAIT_MS);
        }
    }
    slot_down(r, s, ms);
}

static void term_slot(run_t *r, slot_t *s, int64_t now, int deadline_ms)
{
    harness_proc_t *p = fleet_proc(r->fleet, s->role, s->index);
    if (p != NULL)
        harness_proc_signal(p, SIGTERM);
    s->st = P_STOPPING;
    s->clean = true;
    s->deadline = now + deadline_ms;
}

/* Watches every slot: exits, stops that take too long, planned restarts. */
static void supervise(run_t *r, bool restarts)
{
    for (int host = 0; host < FLEET_HOSTS; host++) {
        slot_t *s = &r->slot[host];
        char name[32];
        int64_t now = wall_ms();
        harness_proc_t *p = fleet_proc(r->fleet, s->role, s->index);
        int ws = 0;
        if (s->st == P_UP && p != NULL && harness_proc_wait(p, 0, &ws) == 0) {
            history_anomaly(&r->h, now, "%s exited by itself (wait status 0x%x); see %s",
                            hist_host_name(s->role, s->index, name, sizeof name), (unsigned)ws, fleet_log(r->fleet, s->role, s->index));
            slot_down(r, s, now);
            s->restart_at = now;
        } else if (s->st == P_STOPPING && p != NULL && harness_proc_wait(p, 0, &ws) == 0) {
            /* nats-server exits 1 on SIGTERM by design (LAB.md); the others must exit 0. */
            bool ok = WIFEXITED(ws) && (WEXITSTATUS(ws) == 0 || (s->role == HOST_NATS && WEXITSTATUS(ws) == 1));
            if (s->clean && !ok)
                history_anomaly(&r->h, now, "%s did not stop cleanly on SIGTERM (wait status 0x%x); see %s",
                                hist_host_name(s->role, s->index, name, sizeof name), (unsigned)ws,
                                fleet_log(r->fleet, s->role, s->index));
            slot_down(r, s, now);
        } else if (s->st == P_STOPPING && now >= s->deadline) {
            history_anomaly(&r->h, now, "%s still running %lld ms after SIGTERM; killed",
                            hist_host_name(s->role, s->index, name, sizeof name), (long long)(now - s->deadline + TERM_DEADLINE_MS));
            kill_slot(r, s, now);
        }
        if (restarts && s->st == P_DOWN && s->restart_at != 0 && wall_ms() >= s->restart_at)
            start_slot(r, s);
    }
}

/* ---- faults --------------------------------------------------------------------------------- */

static void begin_fault(run_t *r, const plan_fault_t *p)
{
    int host = fleet_host(p->role, p->index);
    slot_t *s = &r->slot[host];
    int64_t now = wall_ms(), end_at = r->h.run_start_ms + p->at_ms + p->dur_ms;
    hist_fault_t f = {.kind = p->kind, .role = p->role, .index = p->index, .percent = p->percent, .start_ms = now};
    bool process = p->kind == FAULT_AGENT_KILL || p->kind == FAULT_AGENT_TERM || p->kind == FAULT_CENTRAL_KILL ||
                   p->kind == FAULT_NATS_KILL || p->kind == FAULT_NATS_TERM;
    if (process && s->st != P_UP)
        return; /* still down from something else (a crash): skip */
    if (history_add_fault(&r->h, &f) == NULL)
        return;
    long idx = (long)(r->h.n_faults - 1);
    if (process) {
        s->fault = idx;
        if (p->kind == FAULT_AGENT_TERM || p->kind == FAULT_NATS_TERM)
            term_slot(r, s, now, TERM_DEADLINE_MS);
        else
            kill_slot(r, s, now);
        s->restart_at = end_at;
        return;
    }
    int rc = p->kind == FAULT_CUT ? fleet_cut(r->fleet, p->role, p->index, true)
                                  : fleet_loss(r->fleet, p->role, p->index, p->percent);
    if (rc != 0)
        history_anomaly(&r->h, now, "could not apply %s to host %d", fault_kind_str(p->kind), host);
    if (p->kind == FAULT_CUT)
        r->cut[host] = true;
    active_t *grown = realloc(r->active, (r->n_active + 1) * sizeof *grown);
    if (grown == NULL)
        return;
    r->active = grown;
    r->active[r->n_active++] = (active_t){.p = p, .end_at = end_at, .fault = idx};
}

static void end_faults(run_t *r, bool all)
{
    int64_t now = wall_ms();
    for (size_t i = 0; i < r->n_active; i++) {
        active_t *a = &r->active[i];
        if (a->done || (!all && now < a->end_at))
            continue;
        const plan_fault_t *p = a->p;
        int host = fleet_host(p->role, p->index);
        int rc = p->kind == FAULT_CUT ? fleet_cut(r->fleet, p->role, p->index, false)
                                      : fleet_loss(r->fleet, p->role, p->index, 0);
        if (rc != 0)
            history_anomaly(&r->h, now, "could not undo %s on host %d", fault_kind_str(p->kind), host);
        if (p->kind == FAULT_CUT)
            r->cut[host] = false;
        r->h.faults[a->fault].end_ms = wall_ms();
        a->done = true;
    }
}

/* ---- workload ------------------------------------------------------------------------------- */

static unsigned down_mask(const run_t *r)
{
    unsigned m = 0;
    for (int i = 0; i < FLEET_AGENTS; i++) {
        int host = fleet_host(HOST_AGENT, i);
        if (r->slot[host].st != P_UP || r->cut[host])
            m |= 1u << i;
    }
    return m;
}

static int append_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0)
        return -1;
    size_t len = strlen(text);
    ssize_t w = write(fd, text, len);
    close(fd);
    return w == (ssize_t)len ? 0 : -1;
}

static void send_due(run_t *r)
{
    int64_t now = wall_ms();
    double gap = 1000.0 / r->s.rate;
    while (now >= r->next_send) {
        workload_drop_t d;
        unsigned mask = down_mask(r);
        workload_next(&r->w, mask, &d);
        char *text = workload_json(&d);
        int64_t written = wall_ms();
        if (text == NULL || append_file(fleet_inmsg(r->fleet), text) != 0) {
            history_anomaly(&r->h, written, "could not append to %s: %s", fleet_inmsg(r->fleet), strerror(errno));
        } else {
            for (int k = 0; k < d.n_targets; k++) {
                hist_submit_t x = {.node = d.nodes[k],
                                   .method = d.method,
                                   .written_ms = written,
                                   .ttl_ms = d.ttl_ms,
                                   .node_down = (mask >> d.nodes[k]) & 1u};
                snprintf(x.token, sizeof x.token, "%s", d.token);
                history_add_submit(&r->h, &x);
            }
            r->sent_drops++;
        }
        free(text);
        /* Uneven spacing (0.5x to 1.5x), from the workload's own stream. */
        r->next_send += (int64_t)(gap * (double)schedule_uniform(&r->w.rng, 50, 150) / 100.0);
    }
}

/* ---- phases --------------------------------------------------------------------------------- */

/* Each resource's ACTIVE set by the agents' logs so far; true when each has exactly one. */
static bool converged(run_t *r)
{
    history_t tmp;
    history_init(&tmp, FLEET_AGENTS, FLEET_RES);
    for (int i = 0; i < FLEET_AGENTS; i++)
        collect_transitions(i, fleet_log(r->fleet, HOST_AGENT, i), res_ids, &tmp);
    int state[FLEET_AGENTS][FLEET_RES] = {{0}};
    for (size_t k = 0; k < tmp.n_trans; k++)
        state[tmp.trans[k].node][tmp.trans[k].res] = tmp.trans[k].to;
    history_free(&tmp);
    for (int res = 0; res < FLEET_RES; res++) {
        int n = 0;
        for (int i = 0; i < FLEET_AGENTS; i++)
            n += state[i][res] == HIST_ACTIVE;
        if (n != 1)
            return false;
    }
    return true;
}

static int start_all(run_t *r)
{
    for (int host = 0; host < FLEET_HOSTS; host++) {
        slot_t *s = &r->slot[host];
        s->fault = s->life = -1;
        s->st = P_DOWN;
        s->role = host < FLEET_AGENTS                  ? HOST_AGENT
                  : host < FLEET_AGENTS + FLEET_NATS   ? HOST_NATS
                  : host == fleet_host(HOST_CENTRAL, 0) ? HOST_CENTRAL
                                                         : HOST_OBSERVER;
        s->index = s->role == HOST_AGENT ? host : s->role == HOST_NATS ? host - FLEET_AGENTS : 0;
    }
    for (int k = 0; k < FLEET_NATS; k++)
        if (start_slot(r, &r->slot[fleet_host(HOST_NATS, k)]) != 0)
            return -1;
    r->h.central_start_ms = wall_ms();
    if (start_slot(r, &r->slot[fleet_host(HOST_CENTRAL, 0)]) != 0 ||
        !harness_proc_wait_log(fleet_proc(r->fleet, HOST_CENTRAL, 0), "running: inbox", 15000) ||
        start_slot(r, &r->slot[fleet_host(HOST_OBSERVER, 0)]) != 0) {
        fprintf(stderr, "chaos: central did not start; see %s\n", fleet_log(r->fleet, HOST_CENTRAL, 0));
        return -1;
    }
    for (int i = 0; i < FLEET_AGENTS; i++)
        if (start_slot(r, &r->slot[fleet_host(HOST_AGENT, i)]) != 0)
            return -1;
    int64_t t0 = wall_ms();
    while (!converged(r)) {
        if (wall_ms() - t0 > CONVERGE_MS) {
            fprintf(stderr, "chaos: the resources have no single ACTIVE node %d s after start\n",
                    CONVERGE_MS / 1000);
            return -1;
        }
        supervise(r, false);
        sleep_ms(200);
    }
    printf("# fleet up and elected in %.1f s\n", (double)(wall_ms() - t0) / 1000.0);
    return 0;
}

static void chaos_phase(run_t *r)
{
    r->h.run_start_ms = wall_ms();
    r->next_send = r->h.run_start_ms;
    int64_t end = r->h.run_start_ms + (int64_t)r->s.duration_s * 1000, next_progress = r->h.run_start_ms + 30000;
    while (wall_ms() < end) {
        int64_t now = wall_ms();
        while (r->next_plan < r->n_plan && now >= r->h.run_start_ms + r->plan[r->next_plan].at_ms)
            begin_fault(r, &r->plan[r->next_plan++]);
        end_faults(r, false);
        supervise(r, true);
        send_due(r);
        if (now >= next_progress) {
            printf("# %+6.0f s: %zu drops written, %zu faults so far\n", (double)(now - r->h.run_start_ms) / 1000.0,
                   r->sent_drops, r->h.n_faults);
            fflush(stdout);
            next_progress += 30000;
        }
        sleep_ms(TICK_MS);
    }
}

/* Messages without a final result: those central holds as pending, and
 * those submitted that it has not accepted yet. -1 if the store cannot be read. */
static long pending_messages(run_t *r)
{
    history_t tmp;
    history_init(&tmp, FLEET_AGENTS, FLEET_RES);
    long n = -1;
    if (collect_store(fleet_central_dir(r->fleet), r->dir, &tmp) == 0) {
        n = 0;
        for (size_t i = 0; i < tmp.n_msgs; i++)
            n += tmp.msgs[i].status == HIST_PENDING;
        if (tmp.n_msgs < r->h.n_submits)
            n += (long)(r->h.n_submits - tmp.n_msgs);
    }
    history_free(&tmp);
    return n;
}

/* Heals everything, restarts what is down, and waits for every message's final result. */
static void quiet_phase(run_t *r)
{
    end_faults(r, true);
    int64_t t0 = wall_ms();
    for (;;) {
        supervise(r, true);
        bool all_up = true;
        for (int host = 0; host < FLEET_HOSTS; host++) {
            slot_t *s = &r->slot[host];
            if (s->st == P_DOWN && s->restart_at == 0)
                s->restart_at = wall_ms();
            all_up = all_up && s->st == P_UP;
        }
        if (all_up || wall_ms() - t0 > 30000)
            break;
        sleep_ms(50);
    }
    long pending = -1;
    int64_t waited_from = wall_ms();
    while (wall_ms() - waited_from < QUIET_MAX_MS) {
        pending = pending_messages(r);
        if (pending == 0 && wall_ms() - t0 >= SETTLE_MS)
            break;
        for (int k = 0; k < 100; k++) {
            supervise(r, true);
            sleep_ms(TICK_MS);
        }
    }
    printf("# quiet phase: %.1f s until every message had its final result (%ld pending at the end)\n",
           (double)(wall_ms() - t0) / 1000.0, pending);
    r->h.run_end_ms = wall_ms();
}

/* Stops central, then the agents, the observer and the servers, each by SIGTERM. */
static void stop_all(run_t *r)
{
    r->h.final_stop_ms = wall_ms();
    slot_t *c = &r->slot[fleet_host(HOST_CENTRAL, 0)];
    if (c->st == P_UP)
        term_slot(r, c, wall_ms(), CENTRAL_STOP_MS);
    while (c->st == P_STOPPING) {
        supervise(r, false);
        sleep_ms(TICK_MS);
    }
    for (int i = 0; i < FLEET_AGENTS; i++) {
        slot_t *s = &r->slot[fleet_host(HOST_AGENT, i)];
        if (s->st == P_UP)
            term_slot(r, s, wall_ms(), AGENT_STOP_MS);
    }
    slot_t *o = &r->slot[fleet_host(HOST_OBSERVER, 0)];
    if (o->st == P_UP)
        term_slot(r, o, wall_ms(), 5000);
    for (;;) {
        supervise(r, false);
        bool stopping = false;
        for (int host = 0; host < FLEET_HOSTS; host++)
            stopping = stopping || r->slot[host].st == P_STOPPING;
        if (!stopping)
            break;
        sleep_ms(TICK_MS);
    }
    for (int k = 0; k < FLEET_NATS; k++) {
        slot_t *s = &r->slot[fleet_host(HOST_NATS, k)];
        if (s->st == P_UP)
            term_slot(r, s, wall_ms(), 5000);
    }
    for (bool stopping = true; stopping;) {
        supervise(r, false);
        stopping = false;
        for (int host = 0; host < FLEET_HOSTS; host++)
            stopping = stopping || r->slot[host].st == P_STOPPING;
        sleep_ms(TICK_MS);
    }
}

static int collect_all(run_t *r)
{
    const char *cdir = fleet_central_dir(r->fleet);
    int rc = collect_store(cdir, r->dir, &r->h);
    rc |= collect_message_log(cdir, &r->h);
    for (int i = 0; i < FLEET_AGENTS; i++) {
        rc |= collect_ledger(i, fleet_agent_dir(r->fleet, i), &r->h);
        rc |= collect_trace(i, fleet_agent_dir(r->fleet, i), &r->h);
        rc |= collect_transitions(i, fleet_log(r->fleet, HOST_AGENT, i), res_ids, &r->h);
    }
    rc |= collect_observer(fleet_log(r->fleet, HOST_OBSERVER, 0), &r->h);
    rc |= collect_recorder(cdir, r->dir, &r->h);
    rc |= collect_recorder_stop(fleet_log(r->fleet, HOST_CENTRAL, 0), r->h.final_stop_ms, &r->h);
    return rc == 0 ? 0 : -1;
}

/* ---- main ----------------------------------------------------------------------------------- */

static void usage(FILE *out)
{
    fprintf(out,
            "usage: chaos [--seed N] [--duration SECS] [--rate MSGS_PER_SEC] [--tx SECS] [--tw SECS]\n"
            "             [--retries] [--keep]\n"
            "  Runs bosun (3 NATS servers, central, 5 agents, 3 resources) in network namespaces under\n"
            "  a seeded fault plan, then checks the history. Defaults: a random seed, --duration 120\n"
            "  (the CI version), --rate 6, --tx 0.5, --tw 1. --retries gives one message in ten\n"
            "  \"retries\": 2 (off by default: central then breaks per-node order, an open bug).\n"
            "  --keep keeps the run directory when it passes too. The long version:\n"
            "  chaos --duration 1800 --seed N. Needs root.\n");
}

static bool parse_args(int argc, char **argv, run_t *r)
{
    static const struct option opts[] = {
        {"seed", required_argument, NULL, 's'}, {"duration", required_argument, NULL, 'd'},
        {"rate", required_argument, NULL, 'r'}, {"tx", required_argument, NULL, 't'},
        {"tw", required_argument, NULL, 'w'},   {"keep", no_argument, NULL, 'k'},
        {"retries", no_argument, NULL, 'R'},    {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    r->s.seed = ((uint64_t)time(NULL) * 2654435761u ^ (uint64_t)getpid()) % 1000000000u;
    r->s.duration_s = 120;
    r->s.rate = 6.0;
    r->s.tx = 0.5;
    r->s.tw = 1.0;
    int c;
    char *end = NULL;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        errno = 0;
        switch (c) {
        case 's':
            r->s.seed = strtoull(optarg, &end, 10);
            break;
        case 'd':
            r->s.duration_s = (int)strtol(optarg, &end, 10);
            break;
        case 'r':
            r->s.rate = strtod(optarg, &end);
            break;
        case 't':
            r->s.tx = strtod(optarg, &end);
            break;
        case 'w':
            r->s.tw = strtod(optarg, &end);
            break;
        case 'k':
            r->keep = true;
            continue;
        case 'R':
            r->s.retries = true;
            continue;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            return false;
        }
        if (errno != 0 || end == optarg || *end != '\0') {
            fprintf(stderr, "chaos: '%s' is not a number\n", optarg);
            return false;
        }
    }
    if (optind < argc || r->s.duration_s < 10 || r->s.duration_s > 86400 || r->s.rate <= 0 || r->s.rate > 100 ||
        r->s.tx < 0.05 || r->s.tx > 10 || r->s.tw < 0 || r->s.tw > 30) {
        fprintf(stderr, "chaos: --duration 10..86400, --rate (0, 100], --tx 0.05..10, --tw 0..30\n");
        return false;
    }
    return true;
}

int main(int argc, char **argv)
{
    static run_t run;
    run_t *r = &run;
    if (!parse_args(argc, argv, r))
        return 2;
    r->s.res_ids = res_ids;
    setvbuf(stdout, NULL, _IOLBF, 0);
    char replay[256];
    report_replay_cmd(&r->s, replay, sizeof replay);
    printf("# chaos: seed %llu, %d s; replay with: %s\n", (unsigned long long)r->s.seed, r->s.duration_s, replay);
    if (geteuid() != 0 || netns_tool("ip") == NULL || netns_tool("nft") == NULL) {
        fprintf(stderr, "chaos: FAILED: needs root, ip (iproute2) and nft (nftables) for network namespaces "
                        "(euid %d)\n",
                (int)geteuid());
        return 1;
    }
    history_init(&r->h, FLEET_AGENTS, FLEET_RES);
    schedule_config_t sc;
    schedule_defaults(&sc, FLEET_AGENTS, FLEET_NATS, (int64_t)r->s.duration_s * 1000);
    workload_init(&r->w, r->s.seed, FLEET_AGENTS, r->s.retries);
    if (schedule_make(r->s.seed, &sc, &r->plan, &r->n_plan) != 0 || (r->dir = harness_tmpdir("chaos")) == NULL ||
        fleet_new(r->dir, r->s.tx, r->s.tw, &r->fleet) != 0) {
        fprintf(stderr, "chaos: FAILED: cannot set the fleet up\n");
        return 1;
    }
    printf("# run directory %s; %zu faults planned\n", r->dir, r->n_plan);

    int rc = start_all(r);
    if (rc == 0) {
        chaos_phase(r);
        quiet_phase(r);
    }
    stop_all(r);
    if (rc != 0) {
        fleet_free(r->fleet);
        printf("chaos: FAILED to start; seed %llu; logs kept in %s\n", (unsigned long long)r->s.seed, r->dir);
        return 1;
    }
    if (collect_all(r) != 0)
        history_anomaly(&r->h, wall_ms(), "part of the history could not be read (see above)");
    fleet_free(r->fleet);

    check_config_t cc;
    check_config_defaults(&cc, (int64_t)(r->s.tx * 1000.0 + 0.5), (int64_t)(r->s.tw * 1000.0 + 0.5));
    check_report_t rep;
    check_run(&r->h, &cc, &rep);
    report_figures(stdout, &r->s, &r->h, &rep);
    char path[700];
    snprintf(path, sizeof path, "%s/history.txt", r->dir);
    if (report_write_history(path, &r->s, &r->h) != 0)
        fprintf(stderr, "chaos: cannot write %s\n", path);
    bool passed = check_passed(&rep);
    if (!passed) {
        report_violations(stdout, &r->s, &r->h, &rep);
        printf("chaos: FAILED with %zu violations; seed %llu\n  history: %s (logs and data beside it)\n"
               "  replay:  %s\n",
               rep.n_v + rep.v_dropped, (unsigned long long)r->s.seed, path, replay);
    } else {
        printf("chaos: PASSED; seed %llu\n", (unsigned long long)r->s.seed);
        if (r->keep)
            printf("  history: %s\n", path);
        else
            harness_rmtree(r->dir);
    }
    check_report_free(&rep);
    history_free(&r->h);
    free(r->plan);
    free(r->active);
    free(r->dir);
    return passed ? 0 : 1;
}
