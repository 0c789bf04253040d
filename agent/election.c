/*
 * election.c - the election protocol core (see election.h for the rules).
 *
 * State per resource lives in res_t; what we heard from each other node
 * lives in peer_t, with one claim_t per local resource. Every event ends in
 * evaluate(), which applies the rules to one resource and records the
 * resulting transitions and script requests.
 */
#include "election.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "name.h"

#define MAX_PEERS 4096
#define RETIRED_INSTANCES 8
#define PROBES 2
/* A longer run of missing sequence numbers is an outage, not random loss. */
#define MAX_LOSS_RUN 8
#define RELEASE_PACKETS 2
#define MAX_TX_MS 60000u
/* Per-interval chance of a false orphan verdict the detection window aims for. */
#define FALSE_ORPHAN_TARGET 1e-5
/* Weight of one observation in a path's loss estimate. */
#define LOSS_ALPHA 0.125

typedef struct {
    election_state_t state;  /* IDLE when the peer makes no claim */
    uint32_t priority;
    uint64_t token;
    bool preempt;
    uint64_t heard;          /* monotonic ms of the packet that carried it */
    bool answered;           /* we told this GOING_ACTIVE claim that we beat it */
} claim_t;

typedef struct {
    char name[BOSUN_NAME_MAX + 1];
    uint64_t instance;
    uint64_t last_seq;
    uint64_t last_send_wall;
    uint64_t heard;
    uint64_t tx_ms;          /* the peer's advertised tx interval */
    double loss;             /* estimated loss on the path from it to us */
    uint32_t missed;         /* detection window, in its tx intervals */
    claim_t *claims;         /* one per local resource */
    uint64_t retired[RETIRED_INSTANCES]; /* its earlier instances: their packets are replays */
    unsigned n_retired;
} peer_t;

typedef struct {
    election_state_t state;
    uint64_t since;
    uint64_t token;
    bool forced;
    uint64_t gen;            /* bumps on every change; scripts carry it */
    bool wait_bga;           /* beforeGoingActive running for this claim */
    bool wait_ba;            /* beforeActive running */
    const char *claim_reason;
    uint64_t ga_deadline;
    uint64_t holdoff_until;  /* no claiming before this */
    uint64_t quiet_since;    /* when the last claim went away (or listening ends) */
    uint32_t releases;       /* release bids still to send */
    uint32_t probes;         /* queries sent since the owner was last heard */
    bool query_pending;      /* put a query for it in the next packet */
} res_t;

struct election {
    election_config_t cfg;
    res_t *res;
    peer_t *peers;
    size_t n_peers;
    uint64_t seq;
    uint64_t next_tx;
    uint64_t last_tx;
    bool started;
    Bosun__Bid *bids;
    Bosun__Bid **bidp;
    const char *cause;       /* peer named in the transitions being made */
};

static const char *const state_names[] = {"NONE", "IDLE", "GOING_ACTIVE", "ACTIVE"};
static const char *const script_names[] = {"onIdle", "beforeGoingActive", "onGoingActive",
                                           "beforeActive", "onActive"};
static const char *const verdict_names[] = {"accepted", "own", "duplicate", "replay",
                                            "stale", "name-clash", "too-many-peers"};

const char *election_state_str(election_state_t s)
{
    return (unsigned)s < 4 ? state_names[s] : "?";
}

const char *election_script_str(election_script_t s)
{
    return (unsigned)s < ELECTION_SCRIPT_COUNT ? script_names[s] : "?";
}

const char *election_verdict_str(election_verdict_t v)
{
    return (unsigned)v < ELECTION_VERDICT_COUNT ? verdict_names[v] : "?";
}

void election_config_defaults(election_config_t *c)
{
    memset(c, 0, sizeof *c);
    c->tx_interval_ms = 1000;
    c->transition_wait_ms = 3000;
    c->token_start = 1000000;
    c->token_end = 2000000;
    c->min_missed = 3;
    c->max_missed = 12;
    c->max_packet_age_ms = 120000;
}

/* ---- actions ----------------------------------------------------------------- */

void election_actions_init(election_actions_t *a) { memset(a, 0, sizeof *a); }

void election_actions_clear(election_actions_t *a)
{
    a->send = false;
    a->n_transitions = 0;
    a->n_scripts = 0;
}

void election_actions_free(election_actions_t *a)
{
    free(a->transitions);
    free(a->scripts);
    election_actions_init(a);
}

static void push_transition(election_actions_t *a, const election_transition_t *t)
{
    if (a->n_transitions == a->cap_transitions) {
        size_t cap = a->cap_transitions ? a->cap_transitions * 2 : 8;
        election_transition_t *grown = realloc(a->transitions, cap * sizeof *grown);
        if (grown == NULL)
            return; /* the transition happened; only its report is lost */
        a->transitions = grown;
        a->cap_transitions = cap;
    }
    a->transitions[a->n_transitions++] = *t;
}

static void push_script(election_t *e, election_actions_t *a, size_t r, election_script_t s)
{
    if (!e->cfg.scripts[s])
        return;
    if (a->n_scripts == a->cap_scripts) {
        size_t cap = a->cap_scripts ? a->cap_scripts * 2 : 8;
        election_script_req_t *grown = realloc(a->scripts, cap * sizeof *grown);
        if (grown == NULL)
            return;
        a->scripts = grown;
        a->cap_scripts = cap;
    }
    a->scripts[a->n_scripts++] = (election_script_req_t){r, s, e->res[r].gen};
}

/* ---- standing ------------------------------------------------------------------ */

static uint32_t my_priority(const election_t *e, size_t r)
{
    return e->res[r].forced ? ELECTION_FORCED_PRIORITY : e->cfg.resources[r].priority;
}

static bool my_preempt(const election_t *e, size_t r)
{
    return e->res[r].forced || e->cfg.resources[r].preempt;
}

/* Compares standings (priority, token, name): <0, 0, >0. */
static int standing_cmp(uint32_t pa, uint64_t ta, const char *na, uint32_t pb, uint64_t tb,
                        const char *nb)
{
    if (pa != pb)
        return pa < pb ? -1 : 1;
    if (ta != tb)
        return ta < tb ? -1 : 1;
    return strcmp(na, nb);
}

static int claim_vs_me(const election_t *e, size_t r, const peer_t *p, const claim_t *c)
{
    return standing_cmp(c->priority, c->token, p->name, my_priority(e, r), e->res[r].token,
                        e->cfg.node);
}

/* ---- peers and their claims -------------------------------------------------------- */

static uint64_t peer_window(const election_t *e, const peer_t *p)
{
    uint64_t tx = p->tx_ms ? p->tx_ms : e->cfg.tx_interval_ms;
    return (uint64_t)p->missed * tx;
}

static bool claim_live(const election_t *e, const peer_t *p, const claim_t *c, uint64_t now)
{
    return (c->state == ELECTION_GOING_ACTIVE || c->state == ELECTION_ACTIVE) &&
           now < c->heard + peer_window(e, p);
}

/* The detection window follows the loss seen on the path: enough missed
 * intervals that a false orphan verdict stays below FALSE_ORPHAN_TARGET. */
static void peer_update_missed(const election_t *e, peer_t *p)
{
    uint32_t m = e->cfg.min_missed;
    if (p->loss > 0.0 && p->loss < 1.0) {
        double need = ceil(log(FALSE_ORPHAN_TARGET) / log(p->loss));
        if (need > (double)m)
            m = need > (double)e->cfg.max_missed ? e->cfg.max_missed : (uint32_t)need;
    } else if (p->loss >= 1.0) {
        m = e->cfg.max_missed;
    }
    p->missed = m;
}

static peer_t *peer_find(election_t *e, const char *name)
{
    for (size_t i = 0; i < e->n_peers; i++)
        if (strcmp(e->peers[i].name, name) == 0)
            return &e->peers[i];
    return NULL;
}

static peer_t *peer_add(election_t *e, const char *name)
{
    if (e->n_peers == MAX_PEERS)
        return NULL;
    claim_t *claims = calloc(e->cfg.n_resources ? e->cfg.n_resources : 1, sizeof *claims);
    if (claims == NULL)
        return NULL;
    peer_t *grown = realloc(e->peers, (e->n_peers + 1) * sizeof *grown);
    if (grown == NULL) {
        free(claims);
        return NULL;
    }
    e->peers = grown;
    peer_t *p = &e->peers[e->n_peers++];
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", name);
    p->claims = claims;
    for (size_t r = 0; r < e->cfg.n_resources; r++)
        claims[r].state = ELECTION_IDLE;
    peer_update_missed(e, p);
    return p;
}

/* Forgets a claim the peer no longer makes; standbys start timing from now. */
static void claim_drop(election_t *e, size_t r, claim_t *c, uint64_t now)
{
    if (c->state == ELECTION_GOING_ACTIVE || c->state == ELECTION_ACTIVE) {
        if (e->res[r].quiet_since < now)
            e->res[r].quiet_since = now;
    }
    c->state = ELECTION_IDLE;
}

/* ---- timing ----------------------------------------------------------------------- */

/* VRRP's skew, halved: up to half an interval, shorter for higher priority. */
static uint64_t skew(const election_t *e, size_t r)
{
    uint32_t p = my_priority(e, r);
    return (uint64_t)(ELECTION_FORCED_PRIORITY - p) * e->cfg.tx_interval_ms / 512u;
}

/* When the last claim heard on r runs out (0 when none was heard); *last
 * (may be NULL) receives the peer that made it. */
static uint64_t claims_expiry_of(const election_t *e, size_t r, const peer_t **last)
{
    uint64_t t = 0;
    if (last != NULL)
        *last = NULL;
    for (size_t i = 0; i < e->n_peers; i++) {
        const peer_t *p = &e->peers[i];
        const claim_t *c = &p->claims[r];
        if (c->state == ELECTION_GOING_ACTIVE || c->state == ELECTION_ACTIVE) {
            uint64_t exp = c->heard + peer_window(e, p);
            if (exp > t) {
                t = exp;
                if (last != NULL)
                    *last = p;
            }
        }
    }
    return t;
}

static uint64_t claims_expiry(const election_t *e, size_t r)
{
    return claims_expiry_of(e, r, NULL);
}

/* When an IDLE node may declare r orphaned, given what it heard. */
static uint64_t orphan_deadline(const election_t *e, size_t r)
{
    uint64_t t = claims_expiry(e, r);
    if (e->res[r].quiet_since > t)
        t = e->res[r].quiet_since;
    return t + skew(e, r);
}

/*
 * When to send the next query before declaring r orphaned, or UINT64_MAX.
 * An owner that went silent without a release may only have lost packets
 * on the way to us: shortly before the window runs out we ask (twice, at a
 * quarter and an eighth of an interval before it), and any owner answers at
 * once. A dead owner costs nothing extra; a live one behind a lossy link is
 * not deposed. After a release or at start there is nobody to ask.
 */
static uint64_t next_probe(const election_t *e, size_t r)
{
    const res_t *s = &e->res[r];
    const peer_t *owner;
    if (s->probes >= PROBES || claims_expiry_of(e, r, &owner) <= s->quiet_since || owner == NULL)
        return UINT64_MAX;
    /* In the owner's tx intervals: ours may be far longer than its window. */
    uint64_t tx = owner->tx_ms ? owner->tx_ms : e->cfg.tx_interval_ms;
    uint64_t lead = tx / (4u << s->probes);
    uint64_t dl = orphan_deadline(e, r);
    uint64_t t = dl > lead ? dl - lead : 0;
    uint64_t earliest = owner->claims[r].heard + tx; /* never before one interval passed */
    return t > earliest ? t : earliest;
}

static bool transmitting(const election_t *e)
{
    for (size_t r = 0; r < e->cfg.n_resources; r++)
        if (e->res[r].state == ELECTION_GOING_ACTIVE || e->res[r].state == ELECTION_ACTIVE ||
            e->res[r].releases > 0)
            return true;
    return false;
}

static uint64_t draw(election_t *e, uint64_t lo, uint64_t hi)
{
    if (hi < lo)
        hi = lo;
    uint64_t span = hi - lo + 1;
    uint64_t x = e->cfg.random ? e->cfg.random(e->cfg.random_arg) : 0;
    return span == 0 ? x : lo + x % span;
}

/* Parses "A-B" from the first line of a script's output. */
static bool parse_range(const char *s, uint64_t *lo, uint64_t *hi)
{
    if (s == NULL)
        return false;
    while (*s == ' ' || *s == '\t')
        s++;
    char *end;
    if (*s < '0' || *s > '9')
        return false;
    unsigned long long a = strtoull(s, &end, 10);
    while (*end == ' ' || *end == '\t')
        end++;
    if (*end != '-')
        return false;
    s = end + 1;
    while (*s == ' ' || *s == '\t')
        s++;
    if (*s < '0' || *s > '9')
        return false;
    unsigned long long b = strtoull(s, &end, 10);
    while (*end == ' ' || *end == '\t' || *end == '\r')
        end++;
    if ((*end != '\0' && *end != '\n') || a > b)
        return false;
    *lo = a;
    *hi = b;
    return true;
}

/* True when the script's output says "1" (surrounding white space allowed). */
static bool confirmed(const char *s)
{
    if (s == NULL)
        return false;
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
        s++;
    if (*s != '1')
        return false;
    s++;
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
        s++;
    return *s == '\0';
}

/* ---- transitions ----------------------------------------------------------------------- */

static void set_state(election_t *e, size_t r, election_state_t to, const char *reason, uint64_t now,
                      election_actions_t *out)
{
    res_t *s = &e->res[r];
    election_transition_t t = {
        .resource = r, .from = s->state, .to = to, .reason = reason, .peer = e->cause,
        .token = to == ELECTION_IDLE ? 0 : s->token, .priority = my_priority(e, r),
    };
    s->state = to;
    s->since = now;
    s->gen++;
    push_transition(out, &t);
}

static void to_idle(election_t *e, size_t r, const char *reason, uint64_t now, election_actions_t *out)
{
    res_t *s = &e->res[r];
    bool was_claiming = s->state == ELECTION_GOING_ACTIVE || s->state == ELECTION_ACTIVE;
    s->wait_bga = s->wait_ba = false;
    set_state(e, r, ELECTION_IDLE, reason, now, out);
    s->token = 0;
    if (s->quiet_since < now)
        s->quiet_since = now;
    if (was_claiming) {
        s->releases = RELEASE_PACKETS;
        out->send = true;
    }
    push_script(e, out, r, ELECTION_ON_IDLE);
}

static void enter_going_active(election_t *e, size_t r, uint64_t now, election_actions_t *out)
{
    res_t *s = &e->res[r];
    set_state(e, r, ELECTION_GOING_ACTIVE, s->claim_reason, now, out);
    s->ga_deadline = now + e->cfg.transition_wait_ms;
    s->releases = 0;
    push_script(e, out, r, ELECTION_ON_GOING_ACTIVE);
    out->send = true;
}

static void enter_active(election_t *e, size_t r, uint64_t now, election_actions_t *out)
{
    set_state(e, r, ELECTION_ACTIVE, "confirmed", now, out);
    push_script(e, out, r, ELECTION_ON_ACTIVE);
    out->send = true;
}

static uint64_t holdoff(const election_t *e)
{
    return 2u * e->cfg.min_missed * e->cfg.tx_interval_ms;
}

/* Begins a claim: token first (maybe from beforeGoingActive), then GOING_ACTIVE. */
static void start_claim(election_t *e, size_t r, const char *reason, uint64_t now,
                        election_actions_t *out)
{
    res_t *s = &e->res[r];
    s->claim_reason = reason;
    s->probes = 0;
    s->query_pending = false;
    if (e->cfg.scripts[ELECTION_BEFORE_GOING_ACTIVE]) {
        s->wait_bga = true;
        s->gen++;
        push_script(e, out, r, ELECTION_BEFORE_GOING_ACTIVE);
        return;
    }
    s->token = e->cfg.fixed_token_set ? e->cfg.fixed_token
                                      : draw(e, e->cfg.token_start, e->cfg.token_end);
    enter_going_active(e, r, now, out);
}

/* ---- the rules ------------------------------------------------------------------------- */

/* The best live claim on r (by standing), and the best live ACTIVE one. */
static void best_claims(const election_t *e, size_t r, uint64_t now, const peer_t **best,
                        const peer_t **best_active)
{
    *best = *best_active = NULL;
    for (size_t i = 0; i < e->n_peers; i++) {
        const peer_t *p = &e->peers[i];
        const claim_t *c = &p->claims[r];
        if (!claim_live(e, p, c, now))
            continue;
        if (*best == NULL || standing_cmp(c->priority, c->token, p->name, (*best)->claims[r].priority,
                                          (*best)->claims[r].token, (*best)->name) > 0)
            *best = p;
        if (c->state == ELECTION_ACTIVE &&
            (*best_active == NULL ||
             standing_cmp(c->priority, c->token, p->name, (*best_active)->claims[r].priority,
                          (*best_active)->claims[r].token, (*best_active)->name) > 0))
            *best_active = p;
    }
}

/* May an IDLE node contend for r, given the claims heard? */
static bool may_contend(const election_t *e, size_t r, const peer_t *best, const peer_t *best_active)
{
    uint32_t mine = my_priority(e, r);
    if (best_active != NULL && !(my_preempt(e, r) && mine > best_active->claims[r].priority))
        return false;
    return best == NULL || mine > best->claims[r].priority;
}

/* Does claim c (live) oblige us, in our current state, to step back? */
static bool claim_beats_me(const election_t *e, size_t r, const peer_t *p, const claim_t *c)
{
    const res_t *s = &e->res[r];
    uint32_t mine = my_priority(e, r);
    if (s->state == ELECTION_GOING_ACTIVE) {
        if (c->state == ELECTION_ACTIVE)
            return !(my_preempt(e, r) && mine > c->priority);
        return claim_vs_me(e, r, p, c) > 0;
    }
    if (s->state == ELECTION_ACTIVE) {
        if (c->state == ELECTION_ACTIVE)
            return claim_vs_me(e, r, p, c) > 0;
        return c->preempt && c->priority > mine;
    }
    return false;
}

static void evaluate(election_t *e, size_t r, uint64_t now, election_actions_t *out)
{
    res_t *s = &e->res[r];
    const peer_t *best, *best_active;
    best_claims(e, r, now, &best, &best_active);
    e->cause = NULL;

    switch (s->state) {
    case ELECTION_NONE:
        return;
    case ELECTION_IDLE:
        if (s->wait_bga) {
            if (best != NULL && !may_contend(e, r, best, best_active)) {
                s->wait_bga = false; /* someone else claims it: drop ours */
                s->gen++;
            }
            return;
        }
        if (now < s->holdoff_until)
            return;
        if (best != NULL && may_contend(e, r, best, best_active)) {
            e->cause = best->name;
            start_claim(e, r, best_active ? "preempting a lower priority" : "contending", now, out);
        } else if (best == NULL && now >= orphan_deadline(e, r)) {
            start_claim(e, r, s->forced ? "forced" : "orphaned", now, out);
        } else if (now >= next_probe(e, r)) {
            /* The owner's claim is about to run out: ask it first. */
            s->probes++;
            s->query_pending = true;
            out->send = true;
        }
        return;
    case ELECTION_GOING_ACTIVE:
    case ELECTION_ACTIVE:
        for (size_t i = 0; i < e->n_peers; i++) {
            const peer_t *p = &e->peers[i];
            if (claim_live(e, p, &p->claims[r], now) && claim_beats_me(e, r, p, &p->claims[r])) {
                e->cause = p->name;
                to_idle(e, r, s->state == ELECTION_ACTIVE ? "yielded to a better claim" : "outbid",
                        now, out);
                return;
            }
        }
        if (s->state == ELECTION_GOING_ACTIVE && !s->wait_ba && now >= s->ga_deadline) {
            if (e->cfg.scripts[ELECTION_BEFORE_ACTIVE]) {
                s->wait_ba = true;
                push_script(e, out, r, ELECTION_BEFORE_ACTIVE);
            } else {
                enter_active(e, r, now, out);
            }
        }
        return;
    }
}

/* ---- public entry points -------------------------------------------------------------------- */

bosun_status_t election_new(const election_config_t *cfg, election_t **out)
{
    if (cfg->node == NULL || cfg->tx_interval_ms == 0 || cfg->min_missed == 0 ||
        cfg->max_missed < cfg->min_missed)
        return BOSUN_ERR_INVALID;
    election_t *e = calloc(1, sizeof *e);
    if (e == NULL)
        return BOSUN_ERR_NOMEM;
    e->cfg = *cfg;
    size_t n = cfg->n_resources ? cfg->n_resources : 1;
    e->res = calloc(n, sizeof *e->res);
    e->bids = calloc(n, sizeof *e->bids);
    e->bidp = calloc(n, sizeof *e->bidp);
    if (e->res == NULL || e->bids == NULL || e->bidp == NULL) {
        election_free(e);
        return BOSUN_ERR_NOMEM;
    }
    *out = e;
    return BOSUN_OK;
}

void election_free(election_t *e)
{
    if (e == NULL)
        return;
    for (size_t i = 0; i < e->n_peers; i++)
        free(e->peers[i].claims);
    free(e->peers);
    free(e->res);
    free(e->bids);
    free(e->bidp);
    free(e);
}

void election_start(election_t *e, election_now_t now, election_actions_t *out)
{
    if (e->started)
        return;
    e->started = true;
    /* Listen for a whole window before claiming anything. */
    uint64_t listen = (uint64_t)e->cfg.min_missed * e->cfg.tx_interval_ms;
    for (size_t r = 0; r < e->cfg.n_resources; r++) {
        e->res[r].quiet_since = now.mono_ms + listen;
        to_idle(e, r, "started", now.mono_ms, out);
    }
}

election_verdict_t election_on_packet(election_t *e, const Bosun__ElectionPacket *p,
                                      election_now_t now, election_actions_t *out)
{
    if (strcmp(p->sender, e->cfg.node) == 0)
        return p->instance_id == e->cfg.instance_id ? ELECTION_DROP_OWN : ELECTION_DROP_NAME_CLASH;
    uint64_t age = p->send_time_ms > now.wall_ms ? p->send_time_ms - now.wall_ms
                                                 : now.wall_ms - p->send_time_ms;
    if (age > e->cfg.max_packet_age_ms)
        return ELECTION_DROP_STALE;

    peer_t *peer = peer_find(e, p->sender);
    bool fresh_instance = false;
    if (peer == NULL) {
        if ((peer = peer_add(e, p->sender)) == NULL)
            return ELECTION_DROP_TOO_MANY;
        fresh_instance = true;
    } else if (peer->instance != p->instance_id) {
        /* A restart of the peer (whatever its clock did meanwhile), unless it
         * is an instance we saw retire: then a replayed packet. */
        for (unsigned i = 0; i < peer->n_retired && i < RETIRED_INSTANCES; i++)
            if (peer->retired[i] == p->instance_id)
                return ELECTION_DROP_REPLAY;
        peer->retired[peer->n_retired++ % RETIRED_INSTANCES] = peer->instance;
        fresh_instance = true;
        for (size_t r = 0; r < e->cfg.n_resources; r++)
            claim_drop(e, r, &peer->claims[r], now.mono_ms);
    } else if (p->sequence == peer->last_seq) {
        return ELECTION_DROP_DUPLICATE;
    } else if (p->sequence < peer->last_seq) {
        return ELECTION_DROP_REPLAY;
    }

    if (fresh_instance) {
        peer->loss = 0.0;
    } else {
        /* Every sequence number skipped is a packet lost on the way to us. */
        uint64_t gap = p->sequence - peer->last_seq - 1;
        if (gap > MAX_LOSS_RUN) /* a partition or outage: one event, not random loss */
            gap = 1;
        for (uint64_t i = 0; i < gap; i++)
            peer->loss += LOSS_ALPHA * (1.0 - peer->loss);
        peer->loss -= LOSS_ALPHA * peer->loss;
    }
    peer->instance = p->instance_id;
    peer->last_seq = p->sequence;
    peer->last_send_wall = p->send_time_ms;
    peer->heard = now.mono_ms;
    peer->tx_ms = p->tx_interval_ms == 0 ? e->cfg.tx_interval_ms
                                         : (p->tx_interval_ms > MAX_TX_MS ? MAX_TX_MS : p->tx_interval_ms);
    peer_update_missed(e, peer);

    for (size_t r = 0; r < e->cfg.n_resources; r++) {
        const Bosun__Bid *bid = NULL;
        for (size_t i = 0; i < p->n_bids; i++)
            if (strcmp(p->bids[i]->resource, e->cfg.resources[r].id) == 0) {
                bid = p->bids[i];
                break;
            }
        claim_t *c = &peer->claims[r];
        if (bid == NULL || bid->release || (bid->state != BOSUN__RESOURCE_STATE__RESOURCE_STATE_GOING_ACTIVE &&
                                            bid->state != BOSUN__RESOURCE_STATE__RESOURCE_STATE_ACTIVE)) {
            claim_drop(e, r, c, now.mono_ms);
            /* A standby about to declare it orphaned asks: an owner answers now. */
            if (bid != NULL && bid->query &&
                (e->res[r].state == ELECTION_GOING_ACTIVE || e->res[r].state == ELECTION_ACTIVE))
                out->send = true;
            continue;
        }
        if (c->state != ELECTION_GOING_ACTIVE || !claim_live(e, peer, c, now.mono_ms))
            c->answered = false; /* a new contender: answer it at once (below) */
        e->res[r].probes = 0;
        c->state = (election_state_t)bid->state;
        c->priority = bid->priority;
        c->token = bid->token;
        c->preempt = bid->preempt;
        c->heard = now.mono_ms;
    }

    for (size_t r = 0; r < e->cfg.n_resources; r++) {
        evaluate(e, r, now.mono_ms, out);
        /* A contender we beat learns it from us now, not a tx interval later.
         * The first answer to a new contender goes out at once: a node with a
         * shorter tx interval than ours may have started since our last packet,
         * heard nothing in its short first window, and would go ACTIVE before
         * our next one (simulator seeds 6738, 97440). Later answers to the same
         * claim are limited to one per tx/8. */
        res_t *s = &e->res[r];
        claim_t *c = &peer->claims[r];
        if ((s->state == ELECTION_GOING_ACTIVE || s->state == ELECTION_ACTIVE) &&
            c->state == ELECTION_GOING_ACTIVE && !claim_beats_me(e, r, peer, c) &&
            (!c->answered || now.mono_ms >= e->last_tx + e->cfg.tx_interval_ms / 8u)) {
            out->send = true;
            c->answered = true;
        }
    }
    return ELECTION_ACCEPTED;
}

void election_on_timer(election_t *e, election_now_t now, election_actions_t *out)
{
    for (size_t r = 0; r < e->cfg.n_resources; r++)
        evaluate(e, r, now.mono_ms, out);
    if (transmitting(e) && now.mono_ms >= e->next_tx)
        out->send = true;
}

void election_on_script(election_t *e, size_t r, election_script_t script, uint64_t gen, bool ok,
                        const char *output, election_now_t now, election_actions_t *out)
{
    if (r >= e->cfg.n_resources)
        return;
    res_t *s = &e->res[r];
    uint64_t t = now.mono_ms;
    e->cause = NULL;
    if (script == ELECTION_BEFORE_GOING_ACTIVE && s->wait_bga && gen == s->gen &&
        s->state == ELECTION_IDLE) {
        s->wait_bga = false;
        if (!ok) {
            s->holdoff_until = t + holdoff(e);
            return;
        }
        uint64_t lo = e->cfg.token_start, hi = e->cfg.token_end;
        parse_range(output, &lo, &hi);
        s->token = e->cfg.fixed_token_set ? e->cfg.fixed_token : draw(e, lo, hi);
        /* The world may have moved while the script ran. */
        const peer_t *best, *best_active;
        best_claims(e, r, t, &best, &best_active);
        if (best != NULL && !may_contend(e, r, best, best_active)) {
            s->token = 0;
            return;
        }
        enter_going_active(e, r, t, out);
    } else if (script == ELECTION_BEFORE_ACTIVE && s->wait_ba && gen == s->gen &&
               s->state == ELECTION_GOING_ACTIVE) {
        s->wait_ba = false;
        if (ok && confirmed(output)) {
            enter_active(e, r, t, out);
        } else {
            to_idle(e, r, "beforeActive refused", t, out);
            s->holdoff_until = t + holdoff(e);
        }
    }
}

void election_stop(election_t *e, election_now_t now, election_actions_t *out)
{
    for (size_t r = 0; r < e->cfg.n_resources; r++) {
        res_t *s = &e->res[r];
        s->forced = false;
        s->holdoff_until = UINT64_MAX;
        if (s->state == ELECTION_GOING_ACTIVE || s->state == ELECTION_ACTIVE) {
            e->cause = NULL;
            to_idle(e, r, "stopping", now.mono_ms, out);
        }
        s->wait_bga = false;
    }
}

bosun_status_t election_force(election_t *e, size_t r, election_now_t now, election_actions_t *out)
{
    if (r >= e->cfg.n_resources)
        return BOSUN_ERR_NOT_FOUND;
    res_t *s = &e->res[r];
    s->forced = true;
    s->holdoff_until = 0;
    if (s->state == ELECTION_IDLE && !s->wait_bga) {
        e->cause = NULL;
        start_claim(e, r, "forced", now.mono_ms, out);
    } else if (s->state != ELECTION_IDLE) {
        out->send = true; /* tell everyone our new priority at once */
    }
    return BOSUN_OK;
}

bosun_status_t election_release(election_t *e, size_t r, election_now_t now, election_actions_t *out)
{
    if (r >= e->cfg.n_resources)
        return BOSUN_ERR_NOT_FOUND;
    res_t *s = &e->res[r];
    s->forced = false;
    s->holdoff_until = now.mono_ms + holdoff(e);
    if (s->state == ELECTION_GOING_ACTIVE || s->state == ELECTION_ACTIVE) {
        e->cause = NULL;
        to_idle(e, r, "released by operator", now.mono_ms, out);
    } else if (s->wait_bga) {
        s->wait_bga = false;
        s->gen++;
    }
    return BOSUN_OK;
}

uint64_t election_next_deadline(const election_t *e)
{
    uint64_t next = UINT64_MAX;
    if (transmitting(e) && e->next_tx < next)
        next = e->next_tx;
    for (size_t r = 0; r < e->cfg.n_resources; r++) {
        const res_t *s = &e->res[r];
        uint64_t t = UINT64_MAX;
        if (s->state == ELECTION_IDLE && !s->wait_bga) {
            t = orphan_deadline(e, r);
            uint64_t probe = next_probe(e, r);
            if (probe < t)
                t = probe;
            if (s->holdoff_until != UINT64_MAX && s->holdoff_until > t)
                t = s->holdoff_until;
            if (s->holdoff_until == UINT64_MAX)
                t = UINT64_MAX;
        } else if (s->state == ELECTION_GOING_ACTIVE && !s->wait_ba) {
            t = s->ga_deadline;
        }
        if (t < next)
            next = t;
    }
    return next;
}

void election_packet(election_t *e, election_now_t now, Bosun__ElectionPacket *p)
{
    size_t n = 0;
    for (size_t r = 0; r < e->cfg.n_resources; r++) {
        res_t *s = &e->res[r];
        bool claiming = s->state == ELECTION_GOING_ACTIVE || s->state == ELECTION_ACTIVE;
        if (!claiming && s->releases == 0 && !s->query_pending)
            continue;
        Bosun__Bid *b = &e->bids[n];
        bosun__bid__init(b);
        b->resource = (char *)e->cfg.resources[r].id;
        b->priority = my_priority(e, r);
        if (claiming) {
            b->state = (Bosun__ResourceState)s->state;
            b->token = s->token;
            b->preempt = s->state == ELECTION_GOING_ACTIVE && my_preempt(e, r);
        } else {
            b->state = BOSUN__RESOURCE_STATE__RESOURCE_STATE_IDLE;
            b->release = s->releases > 0;
            b->query = s->query_pending;
            if (s->releases > 0)
                s->releases--;
            s->query_pending = false;
        }
        e->bidp[n++] = b;
    }
    p->sender = (char *)e->cfg.node;
    p->instance_id = e->cfg.instance_id;
    p->sequence = ++e->seq;
    p->send_time_ms = now.wall_ms;
    p->tx_interval_ms = (uint32_t)e->cfg.tx_interval_ms;
    p->bids = e->bidp;
    p->n_bids = n;
    e->last_tx = now.mono_ms;
    e->next_tx = now.mono_ms + e->cfg.tx_interval_ms;
}

size_t election_n_resources(const election_t *e) { return e->cfg.n_resources; }

long election_find(const election_t *e, const char *id)
{
    for (size_t r = 0; r < e->cfg.n_resources; r++)
        if (strcmp(e->cfg.resources[r].id, id) == 0)
            return (long)r;
    return -1;
}

void election_view(const election_t *e, size_t r, election_now_t now, election_view_t *v)
{
    const res_t *s = &e->res[r];
    memset(v, 0, sizeof *v);
    v->id = e->cfg.resources[r].id;
    v->state = s->state;
    v->priority = my_priority(e, r);
    v->preempt = e->cfg.resources[r].preempt;
    v->forced = s->forced;
    v->token = s->token;
    v->since_mono_ms = s->since;
    const peer_t *best, *best_active;
    best_claims(e, r, now.mono_ms, &best, &best_active);
    for (size_t i = 0; i < e->n_peers; i++)
        v->claimants += claim_live(e, &e->peers[i], &e->peers[i].claims[r], now.mono_ms);
    if (s->state == ELECTION_ACTIVE) {
        snprintf(v->owner, sizeof v->owner, "%s", e->cfg.node);
        v->owner_token = s->token;
        v->owner_priority = my_priority(e, r);
    } else if (best_active != NULL) {
        snprintf(v->owner, sizeof v->owner, "%s", best_active->name);
        v->owner_token = best_active->claims[r].token;
        v->owner_priority = best_active->claims[r].priority;
    }
}
