/*
 * sim.c - the election simulator: nodes, network, event queue and checker
 * (see sim.h for what it models and what it asserts).
 *
 * Everything happens in virtual milliseconds, in the order of one priority
 * queue keyed by (time, insertion number), and every random choice comes from
 * the scenario's seed, so a run is a pure function of its scenario.
 */
#include "sim.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define WALL0 1800000000000ull
/* A double-ACTIVE caused by loss must end within this many tx intervals:
 * with at most 30% loss, ten straight losses happen about once in 170000. */
#define LOSSY_TX 10u
/* Events at one virtual time before we call the whole run a livelock. */
#define LIVELOCK_EVENTS 1000000u
/* Per mille of beforeGoingActive runs that print garbage (the default range applies). */
#define GARBAGE_PM 50u

/* ---- random numbers ------------------------------------------------------------- */

static uint64_t splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t rnd(uint64_t *x, uint64_t n) { return n ? splitmix(x) % n : 0; }

static bool chance_pm(uint64_t *x, uint32_t pm) { return pm && rnd(x, 1000) < pm; }

static uint64_t node_random(void *arg) { return splitmix(arg); }

/* ---- events --------------------------------------------------------------------- */

typedef struct {
    unsigned refs;
    unsigned from;
    size_t len;
    uint8_t data[];
} pkt_t;

enum { EV_START, EV_TIMER, EV_DELIVER, EV_SCRIPT, EV_FAULT, EV_QUIET };

typedef struct {
    uint64_t t, seq;
    int kind;
    unsigned node;
    uint32_t inc;     /* the node's incarnation the event belongs to */
    uint64_t arg;     /* timer serial, fault index or script generation */
    pkt_t *pkt;
    unsigned r;
    election_script_t script;
    bool ok;
    char out[24];
} event_t;

typedef struct {
    char name[16];
    election_resource_t res[SIM_MAX_RES];
    election_config_t cfg;
    election_t *e;
    election_actions_t act;
    bool alive;
    uint32_t inc;
    uint64_t rng;
    uint64_t mono_base;
    int64_t clock_offset_ms;
    uint64_t timer_at, timer_serial;
    election_state_t st[SIM_MAX_RES];
} node_t;

/* Double-ACTIVE episode categories. */
enum { DBL_CLEAN, DBL_PARTITION, DBL_LOSSY, DBL_SLOW };

typedef struct {
    unsigned count;          /* live ACTIVE nodes */
    bool in_dbl;
    int dbl_cat;
    uint64_t dbl_start, dbl_heal;  /* heal time within a partition episode, or UINT64_MAX */
    bool in_gap;
    uint64_t gap_ref, gap_deadline;
    bool fo_pending, fo_stop, fo_checked;
    uint64_t fo_start;
} rstate_t;

struct sim {
    sim_scenario_t sc;
    FILE *log;
    uint64_t now;
    uint64_t rng;
    event_t *ev;
    size_t n_ev, cap_ev;
    uint64_t ev_seq;
    node_t node[SIM_MAX_NODES];
    unsigned live;
    bool quiet;
    uint32_t partition;
    bool healed, lost;
    uint64_t last_heal, last_loss;
    uint64_t max_delay, settle, bound, holdoff, heal_bound, lossy_bound, slow_bound, handover_bound;
    uint64_t last_refusal;   /* a script result that holds a node off, or 0 */
    uint64_t last_start;     /* a node started: it listens a whole window first */
    bool timing_ok;
    bool lossy;              /* the scenario loses packets at some point */
    bool narrow;             /* detection windows cannot widen */
    rstate_t res[SIM_MAX_RES];
    unsigned same_t_events;  /* events in a row at one virtual time */
    bool stuck;              /* a livelock was found: no more events */
    sim_result_t r;
};

static const char *const res_names[SIM_MAX_RES] = {"r0", "r1", "r2", "r3", "r4", "r5", "r6", "r7"};

static void logf_(sim_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_(sim_t *s, const char *fmt, ...)
{
    if (s->log == NULL)
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(s->log, "%9llu ", (unsigned long long)s->now);
    vfprintf(s->log, fmt, ap);
    fputc('\n', s->log);
    va_end(ap);
}

static void violation(sim_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void violation(sim_t *s, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (s->r.violations++ == 0)
        snprintf(s->r.first_violation, sizeof s->r.first_violation, "t=%llu: %s",
                 (unsigned long long)s->now, msg);
    logf_(s, "VIOLATION: %s", msg);
}

static bool ev_less(const event_t *a, const event_t *b)
{
    return a->t < b->t || (a->t == b->t && a->seq < b->seq);
}

static void ev_push(sim_t *s, event_t ev)
{
    if (s->n_ev == s->cap_ev) {
        size_t cap = s->cap_ev ? s->cap_ev * 2 : 256;
        event_t *grown = realloc(s->ev, cap * sizeof *grown);
        if (grown == NULL)
            abort();
        s->ev = grown;
        s->cap_ev = cap;
    }
    ev.seq = s->ev_seq++;
    size_t i = s->n_ev++;
    while (i > 0 && ev_less(&ev, &s->ev[(i - 1) / 2])) {
        s->ev[i] = s->ev[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    s->ev[i] = ev;
}

static event_t ev_pop(sim_t *s)
{
    event_t top = s->ev[0], last = s->ev[--s->n_ev];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= s->n_ev)
            break;
        if (c + 1 < s->n_ev && ev_less(&s->ev[c + 1], &s->ev[c]))
            c++;
        if (!ev_less(&s->ev[c], &last))
            break;
        s->ev[i] = s->ev[c];
        i = c;
    }
    if (s->n_ev > 0)
        s->ev[i] = last;
    return top;
}

static void pkt_unref(pkt_t *p)
{
    if (p != NULL && --p->refs == 0)
        free(p);
}

/* ---- timing figures ---------------------------------------------------------------- */

static uint64_t node_tx(const sim_scenario_t *sc, unsigned i)
{
    return sc->node[i].tx_ms ? sc->node[i].tx_ms : sc->tx_ms;
}

static uint64_t node_tw(const sim_scenario_t *sc, unsigned i)
{
    return sc->node[i].tw_ms ? sc->node[i].tw_ms : sc->tw_ms;
}

/* The slowest node's tx interval and transitionWait, and the shortest wait. */
static uint64_t max_tx(const sim_scenario_t *sc)
{
    uint64_t t = sc->tx_ms;
    for (unsigned i = 0; i < sc->n_nodes; i++)
        t = node_tx(sc, i) > t ? node_tx(sc, i) : t;
    return t;
}

static uint64_t max_tw(const sim_scenario_t *sc)
{
    uint64_t t = sc->tw_ms;
    for (unsigned i = 0; i < sc->n_nodes; i++)
        t = node_tw(sc, i) > t ? node_tw(sc, i) : t;
    return t;
}

static uint64_t min_tw(const sim_scenario_t *sc)
{
    uint64_t t = sc->tw_ms;
    for (unsigned i = 0; i < sc->n_nodes; i++)
        t = node_tw(sc, i) < t ? node_tw(sc, i) : t;
    return t;
}

static bool scenario_lossy(const sim_scenario_t *sc)
{
    for (unsigned i = 0; i < sc->n_nodes; i++)
        for (unsigned j = 0; j < sc->n_nodes; j++)
            if (sc->loss_pm[i][j] > 0)
                return true;
    for (unsigned k = 0; k < sc->n_faults; k++)
        if (sc->fault[k].kind == SIM_LOSS && sc->fault[k].value > 0)
            return true;
    return false;
}

static uint64_t scenario_max_delay(const sim_scenario_t *sc)
{
    uint64_t d = 0;
    for (unsigned i = 0; i < sc->n_nodes; i++)
        for (unsigned j = 0; j < sc->n_nodes; j++)
            if (i != j && sc->delay_ms[i][j] > d)
                d = sc->delay_ms[i][j];
    return d + sc->jitter_ms;
}

/*
 * The widest detection window: the path's loss estimate widens it up to
 * max_missed intervals, and loss, reordering (a late packet counts as lost;
 * packets can leave back to back, so any jitter reorders) and a partition (a
 * gap in the sequence) all raise the estimate.
 */
static uint64_t scenario_window(const sim_scenario_t *sc)
{
    bool widened = scenario_lossy(sc) || sc->jitter_ms > 0;
    for (unsigned k = 0; k < sc->n_faults; k++)
        widened |= sc->fault[k].kind == SIM_PARTITION;
    return (uint64_t)(widened ? sc->max_missed : sc->min_missed) * max_tx(sc);
}

/* After a release: the largest skew, both claim scripts at their slowest,
 * transitionWait, a delay each way and a tx interval of slack for the phase
 * of the timers. */
static uint64_t scenario_handover_bound(const sim_scenario_t *sc)
{
    uint32_t lowest = 255, script = 0;
    for (unsigned i = 0; i < sc->n_nodes; i++) {
        const sim_node_spec_t *n = &sc->node[i];
        for (unsigned r = 0; r < sc->n_resources; r++)
            lowest = n->priority[r] < lowest ? n->priority[r] : lowest;
        if (n->scripts) {
            uint32_t t = n->hang_pm ? (uint32_t)sc->script_timeout_ms : n->script_max_ms;
            script = t > script ? t : script;
        }
    }
    uint64_t skew = (uint64_t)(ELECTION_FORCED_PRIORITY - lowest) * max_tx(sc) / 512u;
    return skew + max_tw(sc) + 2u * script + 2u * scenario_max_delay(sc) + max_tx(sc);
}

/* The liveness bound: the widest detection window, then a handover. */
static uint64_t scenario_bound(const sim_scenario_t *sc)
{
    return scenario_window(sc) + scenario_handover_bound(sc);
}

static uint64_t scenario_holdoff(const sim_scenario_t *sc) { return 2u * sc->min_missed * max_tx(sc); }

static uint64_t scenario_settle(const sim_scenario_t *sc)
{
    return (uint64_t)sc->max_missed * max_tx(sc) + scenario_max_delay(sc) + max_tw(sc);
}

/* How long the quiet phase must last for the end checks to be fair. */
static uint64_t scenario_quiet_len(const sim_scenario_t *sc)
{
    return scenario_settle(sc) + scenario_bound(sc) + scenario_holdoff(sc) + sc->script_timeout_ms +
           2u * max_tx(sc);
}

/* ---- the checker ------------------------------------------------------------------- */

static bool suspended(const sim_t *s) { return s->partition != 0 || s->live == 0; }

static void dbl_open(sim_t *s, unsigned r)
{
    rstate_t *q = &s->res[r];
    q->in_dbl = true;
    q->dbl_start = s->now;
    q->dbl_heal = UINT64_MAX;
    if (s->partition != 0) {
        q->dbl_cat = DBL_PARTITION;
    } else if (s->healed && s->now < s->last_heal + s->settle) {
        q->dbl_cat = DBL_PARTITION;
        q->dbl_heal = s->last_heal;
    } else if (s->lost && s->now < s->last_loss + s->settle) {
        q->dbl_cat = DBL_LOSSY;
    } else if (!s->timing_ok) {
        q->dbl_cat = DBL_SLOW;
    } else {
        q->dbl_cat = DBL_CLEAN;
        violation(s, "%s: two ACTIVE nodes on a clean network", res_names[r]);
    }
}

static void dbl_close(sim_t *s, unsigned r)
{
    rstate_t *q = &s->res[r];
    uint64_t len = s->now - q->dbl_start;
    double tx = (double)max_tx(&s->sc);
    q->in_dbl = false;
    switch (q->dbl_cat) {
    case DBL_CLEAN:
        s->r.dbl_clean_ms += len;
        break;
    case DBL_PARTITION:
        if (q->dbl_heal == UINT64_MAX) {
            s->r.dbl_partition_ms += len;
            break;
        }
        if (q->dbl_heal > q->dbl_start)
            s->r.dbl_partition_ms += q->dbl_heal - q->dbl_start;
        uint64_t after = s->now - (q->dbl_heal > q->dbl_start ? q->dbl_heal : q->dbl_start);
        s->r.dbl_heal_ms += after;
        if ((double)after / tx > s->r.max_heal_tx)
            s->r.max_heal_tx = (double)after / tx;
        if (after > s->heal_bound)
            violation(s, "%s: two ACTIVE nodes for %llu ms after the heal (bound %llu)",
                      res_names[r], (unsigned long long)after, (unsigned long long)s->heal_bound);
        break;
    case DBL_LOSSY:
        s->r.dbl_lossy_ms += len;
        if (len > s->lossy_bound)
            violation(s, "%s: two ACTIVE nodes for %llu ms after loss (bound %llu)", res_names[r],
                      (unsigned long long)len, (unsigned long long)s->lossy_bound);
        break;
    case DBL_SLOW:
        s->r.dbl_slow_ms += len;
        if (len > s->slow_bound)
            violation(s, "%s: two ACTIVE nodes for %llu ms on a slow network (bound %llu)",
                      res_names[r], (unsigned long long)len, (unsigned long long)s->slow_bound);
        break;
    }
}

/* Something happened that may legitimately delay an election by bound + extra. */
static void disturb(sim_t *s, uint64_t extra)
{
    for (unsigned r = 0; r < s->sc.n_resources; r++) {
        rstate_t *q = &s->res[r];
        q->fo_pending = false;
        if (!q->in_gap)
            continue;
        if (s->now > q->gap_deadline)
            violation(s, "%s: no ACTIVE for %llu ms (bound %llu)", res_names[r],
                      (unsigned long long)(s->now - q->gap_ref), (unsigned long long)s->bound);
        if (suspended(s)) {
            q->gap_deadline = UINT64_MAX;
        } else {
            uint64_t d = s->now + s->bound + extra;
            if (q->gap_deadline == UINT64_MAX || d > q->gap_deadline) {
                q->gap_deadline = d;
                q->gap_ref = s->now;
            }
        }
    }
}

/* A crash or stop of the only ACTIVE for r has been followed by a new ACTIVE. */
static void failover_done(sim_t *s, unsigned r)
{
    rstate_t *q = &s->res[r];
    uint64_t ms = s->now - q->fo_start;
    double t = (double)ms / (double)max_tx(&s->sc);
    double *max = q->fo_stop ? &s->r.max_handover_tx : &s->r.max_failover_tx;
    if (t > *max) {
        *max = t;
        *(q->fo_stop ? &s->r.seed_max_handover : &s->r.seed_max_failover) = s->sc.seed;
    }
    double *clean = q->fo_stop ? (q->fo_checked ? &s->r.max_handover_clean_tx : NULL)
                               : (s->narrow ? &s->r.max_failover_clean_tx : NULL);
    if (clean != NULL && t > *clean)
        *clean = t;
    if (q->fo_stop) {
        s->r.sum_handover_tx += t;
        s->r.n_handover++;
        if (q->fo_checked && ms > s->handover_bound)
            violation(s, "%s: handover after a clean stop took %llu ms (bound %llu)", res_names[r],
                      (unsigned long long)ms, (unsigned long long)s->handover_bound);
    } else {
        s->r.sum_failover_tx += t;
        s->r.n_failover++;
    }
    q->fo_pending = false;
}

/* The set of live ACTIVE nodes for r gained (on) or lost a member. */
static void active_change(sim_t *s, unsigned r, bool on)
{
    rstate_t *q = &s->res[r];
    unsigned before = q->count;
    q->count = on ? before + 1 : before - 1;
    if (before < 2 && q->count >= 2)
        dbl_open(s, r);
    else if (before >= 2 && q->count < 2)
        dbl_close(s, r);
    if (before == 0 && q->count > 0 && q->in_gap) {
        q->in_gap = false;
        double gap = (double)(s->now - q->gap_ref) / (double)max_tx(&s->sc);
        if (s->now > q->gap_deadline)
            violation(s, "%s: no ACTIVE for %llu ms (bound %llu)", res_names[r],
                      (unsigned long long)(s->now - q->gap_ref), (unsigned long long)s->bound);
        if (q->gap_deadline != UINT64_MAX && gap > s->r.max_gap_tx)
            s->r.max_gap_tx = gap;
        if (q->fo_pending)
            failover_done(s, r);
    } else if (before > 0 && q->count == 0) {
        q->in_gap = true;
        q->gap_ref = s->now;
        q->gap_deadline = suspended(s) ? UINT64_MAX : s->now + s->bound;
        /* A node held off (refusal, release) may be the only candidate. */
        if (s->last_refusal && s->last_refusal + s->holdoff > s->now && !suspended(s))
            q->gap_deadline = s->last_refusal + s->holdoff + s->bound;
    }
}

static bool legal_step(election_state_t from, election_state_t to)
{
    return (from == ELECTION_NONE && to == ELECTION_IDLE) ||
           (from == ELECTION_IDLE && to == ELECTION_GOING_ACTIVE) ||
           (from == ELECTION_GOING_ACTIVE && (to == ELECTION_ACTIVE || to == ELECTION_IDLE)) ||
           (from == ELECTION_ACTIVE && to == ELECTION_IDLE);
}

static void record(sim_t *s, unsigned i, const election_transition_t *t)
{
    node_t *n = &s->node[i];
    unsigned r = (unsigned)t->resource;
    s->r.transitions++;
    if (r >= s->sc.n_resources) {
        violation(s, "%s: transition for unknown resource %u", n->name, r);
        return;
    }
    logf_(s, "%s %s %s -> %s (%s%s%s) prio %u token %llu", n->name, res_names[r],
          election_state_str(t->from), election_state_str(t->to), t->reason,
          t->peer ? "; peer " : "", t->peer ? t->peer : "", t->priority,
          (unsigned long long)t->token);
    if (t->from != n->st[r])
        violation(s, "%s %s: transition from %s while in %s", n->name, res_names[r],
                  election_state_str(t->from), election_state_str(n->st[r]));
    if (!legal_step(t->from, t->to))
        violation(s, "%s %s: illegal step %s -> %s", n->name, res_names[r],
                  election_state_str(t->from), election_state_str(t->to));
    bool was = n->st[r] == ELECTION_ACTIVE;
    n->st[r] = t->to;
    if (was != (t->to == ELECTION_ACTIVE))
        active_change(s, r, !was);
}

/* ---- nodes ---------------------------------------------------------------------------- */

static election_now_t node_now(const sim_t *s, const node_t *n)
{
    return (election_now_t){.mono_ms = n->mono_base + s->now,
                            .wall_ms = (uint64_t)((int64_t)(WALL0 + s->now) + n->clock_offset_ms)};
}

static void reschedule(sim_t *s, unsigned i)
{
    node_t *n = &s->node[i];
    uint64_t d = election_next_deadline(n->e);
    if (d == UINT64_MAX) {
        if (n->timer_at != UINT64_MAX) {
            n->timer_at = UINT64_MAX;
            n->timer_serial++;
        }
        return;
    }
    uint64_t t = d > n->mono_base ? d - n->mono_base : 0;
    if (t < s->now)
        t = s->now;
    if (t == n->timer_at)
        return;
    n->timer_at = t;
    ev_push(s, (event_t){.t = t, .kind = EV_TIMER, .node = i, .inc = n->inc, .arg = ++n->timer_serial});
}

static void transmit(sim_t *s, unsigned i);

static void schedule_script(sim_t *s, unsigned i, const election_script_req_t *q)
{
    node_t *n = &s->node[i];
    const sim_node_spec_t *sp = &s->sc.node[i];
    /* Only the two scripts whose result the core waits for come back. */
    if (q->script != ELECTION_BEFORE_GOING_ACTIVE && q->script != ELECTION_BEFORE_ACTIVE)
        return;
    event_t ev = {.kind = EV_SCRIPT, .node = i, .inc = n->inc, .arg = q->gen,
                  .r = (unsigned)q->resource, .script = q->script, .ok = true};
    uint64_t delay = rnd(&s->rng, sp->script_max_ms + 1u);
    bool behave = s->quiet;
    if (!behave && chance_pm(&s->rng, sp->hang_pm)) {
        delay = s->sc.script_timeout_ms;
        ev.ok = false;
        snprintf(ev.out, sizeof ev.out, "(hung, killed)");
    } else if (!behave && chance_pm(&s->rng, sp->fail_pm)) {
        ev.ok = false;
        snprintf(ev.out, sizeof ev.out, "(exit 1)");
    } else if (q->script == ELECTION_BEFORE_GOING_ACTIVE) {
        if (chance_pm(&s->rng, GARBAGE_PM))
            snprintf(ev.out, sizeof ev.out, "oops\n");
        else
            snprintf(ev.out, sizeof ev.out, "%llu-%llu\n", (unsigned long long)sp->token_lo,
                     (unsigned long long)sp->token_hi);
    } else {
        snprintf(ev.out, sizeof ev.out, "%s", !behave && chance_pm(&s->rng, sp->refuse_pm) ? "0\n" : "1\n");
    }
    ev.t = s->now + delay;
    logf_(s, "%s %s %s started (gen %llu)", n->name, res_names[ev.r], election_script_str(q->script),
          (unsigned long long)q->gen);
    ev_push(s, ev);
}

/* Does what the core asked for: record transitions, start scripts, send. */
static void carry_out(sim_t *s, unsigned i)
{
    node_t *n = &s->node[i];
    election_actions_t *a = &n->act;
    for (size_t k = 0; k < a->n_transitions; k++)
        record(s, i, &a->transitions[k]);
    for (size_t k = 0; k < a->n_scripts; k++)
        schedule_script(s, i, &a->scripts[k]);
    bool send = a->send;
    election_actions_clear(a);
    if (send)
        transmit(s, i);
    reschedule(s, i);
}

static void node_start(sim_t *s, unsigned i)
{
    node_t *n = &s->node[i];
    const sim_node_spec_t *sp = &s->sc.node[i];
    if (n->alive)
        return;
    n->inc++;
    uint64_t x = s->sc.seed ^ ((uint64_t)i << 40) ^ ((uint64_t)n->inc << 24);
    n->rng = splitmix(&x);
    election_config_defaults(&n->cfg);
    n->cfg.node = n->name;
    n->cfg.instance_id = splitmix(&x);
    n->cfg.resources = n->res;
    n->cfg.n_resources = s->sc.n_resources;
    n->cfg.tx_interval_ms = node_tx(&s->sc, i);
    n->cfg.transition_wait_ms = node_tw(&s->sc, i);
    n->cfg.fixed_token_set = sp->fixed_token_set;
    n->cfg.fixed_token = sp->fixed_token;
    for (int k = 0; k < ELECTION_SCRIPT_COUNT; k++)
        n->cfg.scripts[k] = sp->scripts;
    n->cfg.min_missed = s->sc.min_missed;
    n->cfg.max_missed = s->sc.max_missed;
    n->cfg.random = node_random;
    n->cfg.random_arg = &n->rng;
    if (election_new(&n->cfg, &n->e) != BOSUN_OK) {
        violation(s, "%s: election_new failed", n->name);
        return;
    }
    n->alive = true;
    s->live++;
    s->last_start = s->now;
    n->timer_at = UINT64_MAX;
    for (unsigned r = 0; r < SIM_MAX_RES; r++)
        n->st[r] = ELECTION_NONE;
    logf_(s, "%s starts (instance %016llx)", n->name, (unsigned long long)n->cfg.instance_id);
    disturb(s, 0);
    election_start(n->e, node_now(s, n), &n->act);
    carry_out(s, i);
}

/* The node is gone: its ACTIVE claims end with it. */
static void node_gone(sim_t *s, unsigned i, bool clean)
{
    node_t *n = &s->node[i];
    for (unsigned r = 0; r < s->sc.n_resources; r++) {
        rstate_t *q = &s->res[r];
        if (n->st[r] == ELECTION_ACTIVE) {
            active_change(s, r, false);
            if (q->count == 0 && !suspended(s)) {
                q->fo_pending = true;
                q->fo_stop = clean;
                q->fo_checked = false;
                q->fo_start = s->now;
            }
        }
        n->st[r] = ELECTION_NONE;
    }
    election_free(n->e);
    n->e = NULL;
    election_actions_clear(&n->act);
    n->alive = false;
    n->timer_at = UINT64_MAX;
    n->timer_serial++;
    s->live--;
    /* With nobody left, no gap is anybody's fault until a node starts. */
    for (unsigned r = 0; r < s->sc.n_resources && s->live == 0; r++)
        s->res[r].gap_deadline = UINT64_MAX;
}

static void node_crash(sim_t *s, unsigned i)
{
    logf_(s, "%s crashes", s->node[i].name);
    disturb(s, 0);
    node_gone(s, i, false);
}

static void node_stop(sim_t *s, unsigned i)
{
    node_t *n = &s->node[i];
    logf_(s, "%s stops cleanly", n->name);
    disturb(s, 0);
    bool sole[SIM_MAX_RES];
    for (unsigned r = 0; r < s->sc.n_resources; r++)
        sole[r] = n->st[r] == ELECTION_ACTIVE && s->res[r].count == 1 && !suspended(s);
    election_now_t now = node_now(s, n);
    election_stop(n->e, now, &n->act);
    bool releasing = n->act.send;
    for (size_t k = 0; k < n->act.n_transitions; k++)
        record(s, i, &n->act.transitions[k]);
    election_actions_clear(&n->act);
    if (releasing) {
        transmit(s, i);
        transmit(s, i); /* the second release at once, as the agent does */
    }
    node_gone(s, i, true);
    for (unsigned r = 0; r < s->sc.n_resources; r++) {
        rstate_t *q = &s->res[r];
        if (sole[r] && q->in_gap && s->live > 0) {
            q->fo_pending = true;
            q->fo_stop = true;
            q->fo_start = s->now;
            /* With no loss, no recent heal, no standby held off and none still in
             * its first window, the release must bring a standby in after its
             * skew, the scripts and transitionWait. */
            q->fo_checked = !s->lossy &&
                            s->now >= s->last_start + (s->sc.min_missed + 1u) * max_tx(&s->sc) &&
                            !(s->healed && s->now < s->last_heal + s->settle) &&
                            !(s->last_refusal && s->now < s->last_refusal + s->holdoff);
        }
    }
}

/* ---- the network ------------------------------------------------------------------------ */

static bool cut(const sim_t *s, unsigned a, unsigned b)
{
    return s->partition != 0 && ((s->partition >> a) & 1u) != ((s->partition >> b) & 1u);
}

static void log_packet(sim_t *s, const node_t *n, const Bosun__ElectionPacket *p, size_t len)
{
    if (s->log == NULL)
        return;
    char buf[256];
    size_t o = 0;
    buf[0] = '\0';
    for (size_t k = 0; k < p->n_bids && o < sizeof buf - 48; k++) {
        const Bosun__Bid *b = p->bids[k];
        o += (size_t)snprintf(buf + o, sizeof buf - o, " %s:%s", b->resource,
                              b->release ? "release"
                                         : election_state_str((election_state_t)b->state));
        if (!b->release)
            o += (size_t)snprintf(buf + o, sizeof buf - o, "/p%u/t%llu%s", b->priority,
                                  (unsigned long long)b->token, b->preempt ? "/pre" : "");
    }
    logf_(s, "%s sends #%llu (%zu bytes)%s", n->name, (unsigned long long)p->sequence, len,
          p->n_bids ? buf : " no bids");
}

/* Packs the node's next packet and hands a copy to every reachable node. */
static void transmit(sim_t *s, unsigned i)
{
    node_t *n = &s->node[i];
    Bosun__ElectionPacket p = BOSUN__ELECTION_PACKET__INIT;
    election_packet(n->e, node_now(s, n), &p);
    size_t len = bosun__election_packet__get_packed_size(&p);
    pkt_t *k = malloc(sizeof *k + len);
    if (k == NULL)
        abort();
    k->refs = 1;
    k->from = i;
    k->len = bosun__election_packet__pack(&p, k->data);
    log_packet(s, n, &p, len);
    s->r.packets_sent++;
    for (unsigned j = 0; j < s->sc.n_nodes; j++) {
        if (j == i || !s->node[j].alive)
            continue;
        if (cut(s, i, j)) {
            s->r.packets_lost++;
            continue;
        }
        if (chance_pm(&s->rng, s->sc.loss_pm[i][j])) {
            s->r.packets_lost++;
            s->lost = true;
            s->last_loss = s->now;
            continue;
        }
        unsigned copies = chance_pm(&s->rng, s->sc.dup_pm) ? 2 : 1;
        for (unsigned c = 0; c < copies; c++) {
            uint64_t d = s->sc.delay_ms[i][j] + rnd(&s->rng, s->sc.jitter_ms + 1u);
            k->refs++;
            ev_push(s, (event_t){.t = s->now + d, .kind = EV_DELIVER, .node = j, .pkt = k});
        }
    }
    pkt_unref(k);
}

static void deliver(sim_t *s, unsigned j, pkt_t *k)
{
    node_t *n = &s->node[j];
    if (!n->alive)
        return;
    Bosun__ElectionPacket *p = bosun__election_packet__unpack(NULL, k->len, k->data);
    if (p == NULL) {
        violation(s, "%s: packet from %s does not unpack", n->name, s->node[k->from].name);
        return;
    }
    s->r.packets_delivered++;
    election_verdict_t v = election_on_packet(n->e, p, node_now(s, n), &n->act);
    if ((unsigned)v < ELECTION_VERDICT_COUNT)
        s->r.verdicts[v]++;
    logf_(s, "%s <- %s #%llu %s", n->name, p->sender, (unsigned long long)p->sequence,
          election_verdict_str(v));
    bosun__election_packet__free_unpacked(p, NULL);
    carry_out(s, j);
}

/* ---- faults ----------------------------------------------------------------------------- */

static void heal(sim_t *s)
{
    if (s->partition == 0)
        return;
    logf_(s, "the partition heals");
    s->partition = 0;
    s->healed = true;
    s->last_heal = s->now;
    for (unsigned r = 0; r < s->sc.n_resources; r++)
        if (s->res[r].in_dbl && s->res[r].dbl_cat == DBL_PARTITION)
            s->res[r].dbl_heal = s->now;
    disturb(s, 0);
}

void sim_apply(sim_t *s, const sim_fault_t *f)
{
    int target = f->node;
    if (target < 0 && f->kind != SIM_PARTITION && f->kind != SIM_HEAL && f->kind != SIM_LOSS) {
        if ((unsigned)(-1 - target) >= s->sc.n_resources)
            return;
        target = sim_active_node(s, (unsigned)(-1 - target));
        if (target < 0) {
            logf_(s, "fault skipped: nobody ACTIVE for %s", res_names[-1 - f->node]);
            return;
        }
    }
    switch (f->kind) {
    case SIM_CRASH:
    case SIM_STOP:
        if (target >= (int)s->sc.n_nodes || !s->node[target].alive)
            return;
        if (f->kind == SIM_CRASH)
            node_crash(s, (unsigned)target);
        else
            node_stop(s, (unsigned)target);
        return;
    case SIM_RESTART:
        if (target >= (int)s->sc.n_nodes || s->node[target].alive)
            return;
        if (f->set_clock) {
            s->node[target].clock_offset_ms = f->clock_offset_ms;
            logf_(s, "n%d comes back with its clock at %+lld ms", target,
                  (long long)f->clock_offset_ms);
        }
        node_start(s, (unsigned)target);
        return;
    case SIM_FORCE:
    case SIM_RELEASE: {
        if (target >= (int)s->sc.n_nodes || !s->node[target].alive ||
            f->resource >= s->sc.n_resources)
            return;
        node_t *n = &s->node[target];
        logf_(s, "operator: %s %s on %s", f->kind == SIM_FORCE ? "force" : "release",
              res_names[f->resource], n->name);
        if (f->kind == SIM_FORCE) {
            disturb(s, 0);
            election_force(n->e, f->resource, node_now(s, n), &n->act);
        } else {
            disturb(s, s->holdoff);
            s->last_refusal = s->now;
            election_release(n->e, f->resource, node_now(s, n), &n->act);
        }
        carry_out(s, (unsigned)target);
        return;
    }
    case SIM_PARTITION: {
        uint32_t all = (s->sc.n_nodes >= 32 ? 0xffffffffu : (1u << s->sc.n_nodes) - 1u);
        uint32_t mask = f->mask & all;
        if (s->quiet || mask == 0 || mask == all)
            return;
        logf_(s, "partition: mask %#x", mask);
        s->partition = mask;
        for (unsigned r = 0; r < s->sc.n_resources; r++)
            if (s->res[r].in_dbl) {
                dbl_close(s, r);
                dbl_open(s, r);
            }
        disturb(s, 0);
        return;
    }
    case SIM_HEAL:
        heal(s);
        return;
    case SIM_LOSS:
        if (s->quiet)
            return;
        logf_(s, "loss on every link: %u per mille", f->value);
        for (unsigned i = 0; i < s->sc.n_nodes; i++)
            for (unsigned j = 0; j < s->sc.n_nodes; j++)
                s->sc.loss_pm[i][j] = i == j ? 0 : f->value;
        return;
    }
}

static void begin_quiet(sim_t *s)
{
    logf_(s, "quiet phase: no loss, no partition, scripts behave");
    s->quiet = true;
    memset(s->sc.loss_pm, 0, sizeof s->sc.loss_pm);
    heal(s);
    disturb(s, 0);
}

/* ---- running ------------------------------------------------------------------------------ */

static void step(sim_t *s, event_t *ev)
{
    s->now = ev->t;
    node_t *n = ev->kind == EV_FAULT || ev->kind == EV_QUIET ? NULL : &s->node[ev->node];
    switch (ev->kind) {
    case EV_START:
        node_start(s, ev->node);
        break;
    case EV_TIMER:
        if (!n->alive || ev->inc != n->inc || ev->arg != n->timer_serial)
            break;
        n->timer_at = UINT64_MAX;
        election_on_timer(n->e, node_now(s, n), &n->act);
        carry_out(s, ev->node);
        break;
    case EV_DELIVER:
        deliver(s, ev->node, ev->pkt);
        pkt_unref(ev->pkt);
        break;
    case EV_SCRIPT:
        if (!n->alive || ev->inc != n->inc)
            break;
        logf_(s, "%s %s %s done: %s %.*s", n->name, res_names[ev->r], election_script_str(ev->script),
              ev->ok ? "ok" : "failed", (int)strcspn(ev->out, "\n"), ev->out);
        if (!ev->ok || (ev->script == ELECTION_BEFORE_ACTIVE && ev->out[0] != '1')) {
            disturb(s, s->holdoff);
            s->last_refusal = s->now;
        }
        election_on_script(n->e, ev->r, ev->script, ev->arg, ev->ok, ev->out, node_now(s, n), &n->act);
        carry_out(s, ev->node);
        break;
    case EV_FAULT:
        sim_apply(s, &s->sc.fault[ev->arg]);
        break;
    case EV_QUIET:
        begin_quiet(s);
        break;
    }
}

void sim_run_until(sim_t *s, uint64_t t)
{
    while (!s->stuck && s->n_ev > 0 && s->ev[0].t <= t) {
        event_t ev = ev_pop(s);
        if (ev.t == s->now && ++s->same_t_events == LIVELOCK_EVENTS) {
            violation(s, "livelock: %u events at the same time", LIVELOCK_EVENTS);
            s->stuck = true; /* the run stops here; what is queued is freed by sim_free */
        } else if (ev.t != s->now) {
            s->same_t_events = 0;
        }
        step(s, &ev);
    }
    if (t > s->now)
        s->now = t;
}

sim_t *sim_new(const sim_scenario_t *sc, FILE *log)
{
    sim_t *s = calloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    s->sc = *sc;
    s->log = log;
    uint64_t x = sc->seed;
    s->rng = splitmix(&x);
    s->max_delay = scenario_max_delay(sc);
    s->settle = scenario_settle(sc);
    s->bound = scenario_bound(sc);
    s->holdoff = scenario_holdoff(sc);
    s->timing_ok = 2u * s->max_delay < min_tw(sc);
    s->lossy = scenario_lossy(sc);
    s->narrow = scenario_window(sc) == (uint64_t)sc->min_missed * max_tx(sc);
    s->lossy_bound = LOSSY_TX * max_tx(sc) + s->max_delay;
    s->slow_bound = max_tx(sc) + s->max_delay + 1u;
    s->handover_bound = scenario_handover_bound(sc);
    s->heal_bound = s->lossy ? s->lossy_bound : max_tx(sc) + s->max_delay + 1u;
    s->r.scenarios = 1;
    for (unsigned i = 0; i < sc->n_nodes; i++) {
        node_t *n = &s->node[i];
        snprintf(n->name, sizeof n->name, "n%u", i);
        n->mono_base = 1000000u + rnd(&x, 1000000000u);
        n->clock_offset_ms = sc->node[i].clock_offset_ms;
        for (unsigned r = 0; r < sc->n_resources; r++)
            n->res[r] = (election_resource_t){res_names[r], sc->node[i].priority[r],
                                              sc->node[i].preempt[r]};
        election_actions_init(&n->act);
        if (sc->node[i].start_ms != UINT64_MAX)
            ev_push(s, (event_t){.t = sc->node[i].start_ms, .kind = EV_START, .node = i});
    }
    for (unsigned r = 0; r < sc->n_resources; r++)
        s->res[r] = (rstate_t){.in_gap = true, .gap_deadline = UINT64_MAX};
    for (unsigned k = 0; k < sc->n_faults; k++)
        ev_push(s, (event_t){.t = sc->fault[k].at_ms, .kind = EV_FAULT, .arg = k});
    ev_push(s, (event_t){.t = sc->quiet_ms, .kind = EV_QUIET});
    return s;
}

void sim_free(sim_t *s)
{
    if (s == NULL)
        return;
    for (size_t k = 0; k < s->n_ev; k++)
        if (s->ev[k].kind == EV_DELIVER)
            pkt_unref(s->ev[k].pkt);
    free(s->ev);
    for (unsigned i = 0; i < SIM_MAX_NODES; i++) {
        election_free(s->node[i].e);
        election_actions_free(&s->node[i].act);
    }
    free(s);
}

void sim_finish(sim_t *s, sim_result_t *r)
{
    sim_run_until(s, s->sc.end_ms);
    logf_(s, "end of run: checks");
    for (unsigned res = 0; res < s->sc.n_resources; res++) {
        rstate_t *q = &s->res[res];
        if (q->in_dbl)
            dbl_close(s, res);
        if (s->live == 0)
            continue;
        if (q->in_gap && s->now > q->gap_deadline)
            violation(s, "%s: no ACTIVE for %llu ms at the end (bound %llu)", res_names[res],
                      (unsigned long long)(s->now - q->gap_ref), (unsigned long long)s->bound);
        if (q->count != 1) {
            violation(s, "%s: %u ACTIVE nodes at the end", res_names[res], q->count);
            continue;
        }
        int a = sim_active_node(s, res);
        election_view_t av;
        sim_view(s, (unsigned)a, res, &av);
        for (unsigned i = 0; i < s->sc.n_nodes; i++) {
            if (!s->node[i].alive || (int)i == a)
                continue;
            election_view_t v;
            sim_view(s, i, res, &v);
            if ((v.preempt || v.forced) && v.priority > av.priority)
                violation(s, "%s: %s (priority %u, preempt) stays under %s (priority %u)",
                          res_names[res], s->node[i].name, v.priority, s->node[a].name,
                          av.priority);
            if (strcmp(v.owner, s->node[a].name) != 0)
                violation(s, "%s: %s believes the owner is '%s', not %s", res_names[res],
                          s->node[i].name, v.owner, s->node[a].name);
        }
    }
    if (r != NULL) {
        *r = s->r;
        r->failures = s->r.violations > 0;
    }
}

unsigned sim_run(const sim_scenario_t *sc, FILE *log, sim_result_t *r)
{
    sim_t *s = sim_new(sc, log);
    if (s == NULL)
        abort();
    sim_result_t one;
    sim_finish(s, &one);
    sim_free(s);
    if (r != NULL)
        *r = one;
    return one.violations;
}

void sim_result_add(sim_result_t *t, const sim_result_t *o)
{
    if (t->violations == 0 && o->violations > 0)
        memcpy(t->first_violation, o->first_violation, sizeof t->first_violation);
    t->scenarios += o->scenarios;
    t->failures += o->failures;
    t->violations += o->violations;
    t->transitions += o->transitions;
    t->packets_sent += o->packets_sent;
    t->packets_delivered += o->packets_delivered;
    t->packets_lost += o->packets_lost;
    for (unsigned v = 0; v < ELECTION_VERDICT_COUNT; v++)
        t->verdicts[v] += o->verdicts[v];
    t->dbl_clean_ms += o->dbl_clean_ms;
    t->dbl_partition_ms += o->dbl_partition_ms;
    t->dbl_heal_ms += o->dbl_heal_ms;
    t->dbl_lossy_ms += o->dbl_lossy_ms;
    t->dbl_slow_ms += o->dbl_slow_ms;
    t->sum_failover_tx += o->sum_failover_tx;
    t->n_failover += o->n_failover;
    t->sum_handover_tx += o->sum_handover_tx;
    t->n_handover += o->n_handover;
    if (o->max_failover_tx > t->max_failover_tx)
        t->seed_max_failover = o->seed_max_failover;
    if (o->max_handover_tx > t->max_handover_tx)
        t->seed_max_handover = o->seed_max_handover;
#define MAXOF(f) t->f = o->f > t->f ? o->f : t->f
    MAXOF(max_heal_tx);
    MAXOF(max_failover_tx);
    MAXOF(max_failover_clean_tx);
    MAXOF(max_handover_tx);
    MAXOF(max_handover_clean_tx);
    MAXOF(max_gap_tx);
#undef MAXOF
}

/* ---- queries -------------------------------------------------------------------------------- */

uint64_t sim_now(const sim_t *s) { return s->now; }

bool sim_alive(const sim_t *s, unsigned i) { return i < s->sc.n_nodes && s->node[i].alive; }

election_state_t sim_state(const sim_t *s, unsigned i, unsigned r)
{
    return sim_alive(s, i) && r < s->sc.n_resources ? s->node[i].st[r] : ELECTION_NONE;
}

unsigned sim_active_count(const sim_t *s, unsigned r) { return s->res[r].count; }

int sim_active_node(const sim_t *s, unsigned r)
{
    for (unsigned i = 0; i < s->sc.n_nodes; i++)
        if (sim_state(s, i, r) == ELECTION_ACTIVE)
            return (int)i;
    return -1;
}

uint64_t sim_transitions(const sim_t *s) { return s->r.transitions; }

void sim_view(const sim_t *s, unsigned i, unsigned r, election_view_t *v)
{
    const node_t *n = &s->node[i];
    election_view(n->e, r, node_now(s, n), v);
}

unsigned sim_violations(const sim_t *s, const char **first)
{
    if (first != NULL)
        *first = s->r.first_violation;
    return s->r.violations;
}

/* ---- scenarios --------------------------------------------------------------------------------- */

void sim_scenario_plain(unsigned n, unsigned n_resources, uint64_t tx_ms, uint64_t tw_ms,
                        uint64_t end_ms, sim_scenario_t *sc)
{
    memset(sc, 0, sizeof *sc);
    sc->seed = 1;
    sc->n_nodes = n;
    sc->n_resources = n_resources;
    sc->tx_ms = tx_ms;
    sc->tw_ms = tw_ms;
    sc->min_missed = 3;
    sc->max_missed = 12;
    sc->script_timeout_ms = 2u * tx_ms;
    for (unsigned i = 0; i < n; i++) {
        for (unsigned r = 0; r < n_resources; r++) {
            sc->node[i].priority[r] = 100;
            sc->node[i].preempt[r] = true;
        }
        for (unsigned j = 0; j < n; j++)
            sc->delay_ms[i][j] = i == j ? 0 : 1;
        sc->node[i].token_lo = 1000000;
        sc->node[i].token_hi = 2000000;
    }
    sc->quiet_ms = UINT64_MAX; /* no quiet phase: the test heals what it breaks */
    sc->end_ms = end_ms;
}

static const uint64_t tx_choices[] = {20, 30, 50, 100, 200, 250, 500, 1000};
static const uint32_t prio_choices[] = {50, 100, 100, 150, 200, 250};

void sim_scenario_random(uint64_t seed, const sim_opts_t *o, sim_scenario_t *sc)
{
    static const sim_opts_t none;
    if (o == NULL)
        o = &none;
    uint64_t x = seed * 0x2545f4914f6cdd1dull + 12345u;
    memset(sc, 0, sizeof *sc);
    sc->seed = seed;
    unsigned n = o->nodes ? o->nodes : 2u + (unsigned)rnd(&x, 5);
    n = n > SIM_MAX_NODES ? SIM_MAX_NODES : n;
    unsigned nr = o->resources ? o->resources : 1u + (unsigned)rnd(&x, 3);
    nr = nr > SIM_MAX_RES ? SIM_MAX_RES : nr;
    sc->n_nodes = n;
    sc->n_resources = nr;
    uint64_t tx = tx_choices[rnd(&x, sizeof tx_choices / sizeof tx_choices[0])];
    sc->tx_ms = tx;
    sc->tw_ms = tx * (10u + rnd(&x, 291)) / 100u;
    bool defaults = rnd(&x, 4) != 0;
    sc->min_missed = defaults ? 3u : 2u + (uint32_t)rnd(&x, 3);
    sc->max_missed = defaults ? 12u : sc->min_missed + (uint32_t)rnd(&x, 14);
    sc->script_timeout_ms = tx * (1u + rnd(&x, 4));
    bool mixed_timing = rnd(&x, 5) == 0; /* nodes with their own tx and transitionWait */

    /* The network: a LAN mostly, sometimes slow enough to reorder a lot. */
    uint64_t max_base = tx / 10u < 5u ? (tx / 10u ? tx / 10u : 1u) : 5u;
    bool slow = rnd(&x, 10) < 3;
    sc->jitter_ms = (uint32_t)(slow ? rnd(&x, tx / 4u + 1u) : rnd(&x, 3));
    int loss_mode = (int)rnd(&x, 10);
    uint32_t loss_all = (uint32_t)rnd(&x, 301);
    for (unsigned i = 0; i < n; i++)
        for (unsigned j = 0; j < n; j++) {
            if (i == j)
                continue;
            sc->delay_ms[i][j] = (uint32_t)rnd(&x, max_base + 1u);
            if (loss_mode >= 7)
                sc->loss_pm[i][j] = rnd(&x, 3) == 0 ? 0 : (uint32_t)rnd(&x, 301);
            else if (loss_mode >= 4)
                sc->loss_pm[i][j] = loss_all;
        }
    sc->dup_pm = rnd(&x, 2) ? 0 : (uint32_t)rnd(&x, 201);

    /* The nodes: ties in priority, token and start time on purpose. */
    for (unsigned r = 0; r < nr; r++) {
        bool equal = rnd(&x, 10) < 3;
        for (unsigned i = 0; i < n; i++) {
            sc->node[i].priority[r] =
                equal ? 100u : prio_choices[rnd(&x, sizeof prio_choices / sizeof prio_choices[0])];
            sc->node[i].preempt[r] = rnd(&x, 10) < 7;
        }
    }
    bool together = rnd(&x, 10) < 6;
    for (unsigned i = 0; i < n; i++) {
        sim_node_spec_t *sp = &sc->node[i];
        sp->scripts = rnd(&x, 2) == 0;
        if (rnd(&x, 2)) {
            sp->token_lo = 1u + rnd(&x, 5);
            sp->token_hi = sp->token_lo + rnd(&x, 3);
        } else {
            sp->token_lo = 1000000;
            sp->token_hi = 2000000;
        }
        if (rnd(&x, 10) == 0) {
            sp->fixed_token_set = true;
            sp->fixed_token = 7;
        }
        sp->script_max_ms = (uint32_t)rnd(&x, (rnd(&x, 5) ? tx / 2u : 2u * tx) + 1u);
        if (mixed_timing && i > 0) {
            sp->tx_ms = tx_choices[rnd(&x, sizeof tx_choices / sizeof tx_choices[0])];
            sp->tw_ms = sp->tx_ms * (10u + rnd(&x, 291)) / 100u;
        }
        sp->refuse_pm = rnd(&x, 3) == 0 ? (uint32_t)rnd(&x, 201) : 0;
        sp->fail_pm = rnd(&x, 4) == 0 ? (uint32_t)rnd(&x, 101) : 0;
        sp->hang_pm = rnd(&x, 5) == 0 ? (uint32_t)rnd(&x, 101) : 0;
        sp->clock_offset_ms = (int64_t)rnd(&x, 601) - 300;
        sp->start_ms = together ? 0 : rnd(&x, 5u * tx);
    }

    /* Jitter stays under a quarter of the shortest tx interval: beyond that
     * the detection window itself is wrong, whatever the protocol does. */
    for (unsigned i = 0; i < n; i++)
        if (sc->jitter_ms > node_tx(sc, i) / 4u)
            sc->jitter_ms = (uint32_t)(node_tx(sc, i) / 4u);

    /* Faults during the first phase, then the quiet phase. */
    uint64_t dur = o->duration_ms ? o->duration_ms : tx * (30u + rnd(&x, 61));
    unsigned nf = (unsigned)rnd(&x, 9);
    for (unsigned k = 0; k < nf && sc->n_faults + 2 < SIM_MAX_FAULTS - SIM_MAX_NODES; k++) {
        uint64_t at = 5u * tx + rnd(&x, dur > 5u * tx ? dur - 5u * tx : 1u);
        sim_fault_t *f = &sc->fault[sc->n_faults++];
        *f = (sim_fault_t){.at_ms = at};
        unsigned kind = (unsigned)rnd(&x, 100);
        int victim = rnd(&x, 10) < 6 ? SIM_ACTIVE_OF(rnd(&x, nr)) : (int)rnd(&x, n);
        if (kind < 30) {
            f->kind = SIM_CRASH;
            f->node = victim;
            if (rnd(&x, 2) && victim >= 0) { /* and back later, its clock maybe stepped */
                sim_fault_t *g = &sc->fault[sc->n_faults++];
                *g = (sim_fault_t){.at_ms = at + 1u + rnd(&x, 20u * tx), .kind = SIM_RESTART,
                                   .node = victim};
                if (rnd(&x, 4) == 0) {
                    g->set_clock = true;
                    uint64_t step = o->clock_step_ms ? o->clock_step_ms : 300u;
                    g->clock_offset_ms = (int64_t)rnd(&x, 2u * step + 1u) - (int64_t)step;
                }
            }
        } else if (kind < 45) {
            f->kind = SIM_STOP;
            f->node = victim;
        } else if (kind < 60) {
            f->kind = SIM_RESTART;
            f->node = (int)rnd(&x, n);
        } else if (kind < 85) {
            f->kind = SIM_PARTITION;
            f->mask = (uint32_t)(1u + rnd(&x, (1u << n) - 2u));
            sim_fault_t *g = &sc->fault[sc->n_faults++];
            *g = (sim_fault_t){.at_ms = at + 1u + rnd(&x, 30u * tx), .kind = SIM_HEAL};
        } else if (kind < 92) {
            f->kind = rnd(&x, 2) ? SIM_FORCE : SIM_RELEASE;
            f->resource = (unsigned)rnd(&x, nr);
            f->node = f->kind == SIM_RELEASE && rnd(&x, 2) ? SIM_ACTIVE_OF(f->resource)
                                                            : (int)rnd(&x, n);
            if (f->kind == SIM_FORCE && rnd(&x, 2)) { /* released again later */
                sim_fault_t *g = &sc->fault[sc->n_faults++];
                *g = (sim_fault_t){.at_ms = at + 1u + rnd(&x, 20u * tx), .kind = SIM_RELEASE,
                                   .node = f->node, .resource = f->resource};
            }
        } else {
            f->kind = SIM_LOSS;
            f->value = rnd(&x, 2) ? 0 : (uint32_t)rnd(&x, 301);
        }
    }
    sc->quiet_ms = dur;
    /* Bring most of the fallen back before the quiet phase; n0 always. */
    for (unsigned i = 0; i < n && sc->n_faults < SIM_MAX_FAULTS; i++)
        if (i == 0 || rnd(&x, 10) < 6)
            sc->fault[sc->n_faults++] = (sim_fault_t){.at_ms = dur, .kind = SIM_RESTART, .node = (int)i};
    sim_scenario_set_end(sc);
}

void sim_scenario_set_end(sim_scenario_t *sc) { sc->end_ms = sc->quiet_ms + scenario_quiet_len(sc); }

void sim_scenario_print(const sim_scenario_t *sc, FILE *f)
{
    static const char *const kinds[] = {"crash", "restart", "stop", "partition",
                                        "heal",  "loss",    "force", "release"};
    fprintf(f, "seed %llu: %u nodes, %u resources, tx %llu ms, transitionWait %llu ms, "
               "script timeout %llu ms\n",
            (unsigned long long)sc->seed, sc->n_nodes, sc->n_resources,
            (unsigned long long)sc->tx_ms, (unsigned long long)sc->tw_ms,
            (unsigned long long)sc->script_timeout_ms);
    fprintf(f, "  network: jitter %u ms, duplication %u/1000, max delay %llu ms; "
               "quiet from %llu ms, end %llu ms\n",
            sc->jitter_ms, sc->dup_pm, (unsigned long long)scenario_max_delay(sc),
            (unsigned long long)sc->quiet_ms, (unsigned long long)sc->end_ms);
    fprintf(f, "  bound %llu ms, settle %llu ms, holdoff %llu ms\n",
            (unsigned long long)scenario_bound(sc), (unsigned long long)scenario_settle(sc),
            (unsigned long long)scenario_holdoff(sc));
    for (unsigned i = 0; i < sc->n_nodes; i++) {
        const sim_node_spec_t *sp = &sc->node[i];
        fprintf(f, "  n%u: start %lld, clock %+lld ms, prio", i,
                sp->start_ms == UINT64_MAX ? -1LL : (long long)sp->start_ms,
                (long long)sp->clock_offset_ms);
        for (unsigned r = 0; r < sc->n_resources; r++)
            fprintf(f, " %u%s", sp->priority[r], sp->preempt[r] ? "" : "(no preempt)");
        if (sp->tx_ms || sp->tw_ms)
            fprintf(f, ", own tx %llu ms, transitionWait %llu ms", (unsigned long long)node_tx(sc, i),
                    (unsigned long long)node_tw(sc, i));
        if (sp->scripts)
            fprintf(f, ", scripts (0..%u ms, tokens %llu-%llu, refuse %u fail %u hang %u /1000)",
                    sp->script_max_ms, (unsigned long long)sp->token_lo,
                    (unsigned long long)sp->token_hi, sp->refuse_pm, sp->fail_pm, sp->hang_pm);
        if (sp->fixed_token_set)
            fprintf(f, ", fixed token %llu", (unsigned long long)sp->fixed_token);
        fprintf(f, "\n      loss/1000 to:");
        for (unsigned j = 0; j < sc->n_nodes; j++)
            fprintf(f, " %u", sc->loss_pm[i][j]);
        fprintf(f, "; delay ms to:");
        for (unsigned j = 0; j < sc->n_nodes; j++)
            fprintf(f, " %u", sc->delay_ms[i][j]);
        fputc('\n', f);
    }
    for (unsigned k = 0; k < sc->n_faults; k++) {
        const sim_fault_t *ft = &sc->fault[k];
        fprintf(f, "  fault at %llu ms: %s", (unsigned long long)ft->at_ms, kinds[ft->kind]);
        if (ft->kind <= SIM_STOP || ft->kind >= SIM_FORCE) {
            if (ft->node < 0)
                fprintf(f, " the ACTIVE of r%d", -1 - ft->node);
            else
                fprintf(f, " n%d", ft->node);
            if (ft->kind >= SIM_FORCE)
                fprintf(f, " on r%u", ft->resource);
            if (ft->set_clock)
                fprintf(f, " with its clock at %+lld ms", (long long)ft->clock_offset_ms);
        } else if (ft->kind == SIM_PARTITION) {
            fprintf(f, " mask %#x", ft->mask);
        } else if (ft->kind == SIM_LOSS) {
            fprintf(f, " %u/1000", ft->value);
        }
        fputc('\n', f);
    }
}

void sim_print_failure(const sim_scenario_t *sc, unsigned tail_lines, FILE *f)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    if (mem == NULL)
        return;
    sim_result_t r;
    sim_run(sc, mem, &r);
    fclose(mem);
    fprintf(f, "FAILED seed %llu: %s\n", (unsigned long long)sc->seed, r.first_violation);
    sim_scenario_print(sc, f);
    /* The events before the first violation, and a few after it. */
    const char *hit = strstr(buf, "VIOLATION");
    const char *end = hit ? hit : buf + len;
    const char *start = end;
    for (unsigned lines = 0; start > buf && lines <= tail_lines; start--)
        lines += start[-1] == '\n';
    const char *stop = end;
    for (unsigned lines = 0; *stop != '\0' && lines < 10; stop++)
        lines += *stop == '\n';
    fprintf(f, "  events up to the first violation:\n%.*s", (int)(stop - start), start);
    free(buf);
}
