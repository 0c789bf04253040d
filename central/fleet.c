/* fleet.c - liveness, restarts, missing nodes and clock offsets, without I/O. */
#include "fleet.h"

#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "namesort.h"
#include "strmap.h"

typedef struct {
    fleet_view_t v;            /* v.resources has room for cap_resources, v.probes for cap_probes */
    size_t cap_resources, cap_probes;
    size_t index;              /* in fleet.nodes */
    uint64_t last_mono_ms;     /* last heartbeat applied */
    uint64_t status_mono_ms;   /* when v.status was entered */
    timesync_filter_t clock;
    uint64_t next_ping_mono_ms;
    uint64_t ping_seq;         /* last ping handed out */
    uint64_t ping_t0_us;       /* when it left; 0 while not sent */
} node_t;

struct fleet {
    const bosun_liveness_config_t *lv;
    const bosun_timesync_config_t *ts;
    pthread_mutex_t mu; /* guards everything below against readers on other threads */
    strmap_t by_name;
    node_t **nodes;
    size_t n_nodes, cap_nodes;
    uint64_t start_mono_ms;
    bool missing_reported; /* the start grace has ended */
    uint64_t ping_seq;
};

static const char *const liveness_names[FLEET_LIVENESS_COUNT] = {
    "UNKNOWN", "ALIVE", "SLOW", "WARN", "DEAD", "REMOVED", "MISSING",
};

const char *fleet_liveness_str(fleet_liveness_t s)
{
    return (unsigned)s < FLEET_LIVENESS_COUNT ? liveness_names[s] : "?";
}

/* ---- actions ------------------------------------------------------------------------ */

void fleet_actions_init(fleet_actions_t *a) { memset(a, 0, sizeof *a); }

void fleet_actions_clear(fleet_actions_t *a)
{
    a->n_transitions = a->n_pings = a->n_clock_notes = a->n_forgotten = 0;
    a->nomem = false;
}

void fleet_actions_free(fleet_actions_t *a)
{
    free(a->transitions);
    free(a->pings);
    free(a->clock_notes);
    free(a->forgotten);
    memset(a, 0, sizeof *a);
}

/* items, or a larger copy, with room for item n; NULL (flagged in a) when out of memory. */
static void *room(fleet_actions_t *a, void *items, size_t n, size_t *cap, size_t size)
{
    if (n < *cap)
        return items;
    size_t ncap = *cap ? *cap * 2 : 16;
    void *p = realloc(items, ncap * size);
    if (p == NULL) {
        a->nomem = true;
        return NULL;
    }
    *cap = ncap;
    return p;
}

static fleet_transition_t *push_transition(fleet_actions_t *a)
{
    fleet_transition_t *v = room(a, a->transitions, a->n_transitions, &a->cap_transitions, sizeof *v);
    if (v == NULL)
        return NULL;
    a->transitions = v;
    return &v[a->n_transitions++];
}

static fleet_ping_t *push_ping(fleet_actions_t *a)
{
    fleet_ping_t *v = room(a, a->pings, a->n_pings, &a->cap_pings, sizeof *v);
    if (v == NULL)
        return NULL;
    a->pings = v;
    return &v[a->n_pings++];
}

static fleet_clock_note_t *push_clock_note(fleet_actions_t *a)
{
    fleet_clock_note_t *v = room(a, a->clock_notes, a->n_clock_notes, &a->cap_clock_notes, sizeof *v);
    if (v == NULL)
        return NULL;
    a->clock_notes = v;
    return &v[a->n_clock_notes++];
}

static void push_forgotten(fleet_actions_t *a, const char *node)
{
    char(*v)[BOSUN_NAME_MAX + 1] = room(a, a->forgotten, a->n_forgotten, &a->cap_forgotten, sizeof *v);
    if (v == NULL)
        return;
    a->forgotten = v;
    memcpy(v[a->n_forgotten++], node, sizeof *v);
}

/* ---- small helpers -------------------------------------------------------------------- */

/* Copies at most dst_len-1 bytes of src, printable ASCII only (others become '?'). */
static void copy_text(char *dst, size_t dst_len, const char *src)
{
    size_t i = 0;
    if (src != NULL)
        for (; src[i] != '\0' && i + 1 < dst_len; i++)
            dst[i] = (src[i] >= 0x20 && src[i] < 0x7f) ? src[i] : '?';
    dst[i] = '\0';
}

static uint64_t name_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

static uint64_t ping_interval_ms(const fleet_t *f)
{
    return f->ts->interval_secs > 0 ? (uint64_t)(f->ts->interval_secs * 1000.0 + 0.5) : 0;
}

/* Appends the transition of n to its current status (from `previous`). */
static void report(fleet_t *f, node_t *n, fleet_liveness_t previous, bool restarted, fleet_now_t now,
                   fleet_actions_t *out)
{
    (void)f;
    fleet_transition_t *t = push_transition(out);
    if (t == NULL)
        return;
    memset(t, 0, sizeof *t);
    memcpy(t->node, n->v.node, sizeof t->node);
    t->status = n->v.status;
    t->previous = previous;
    t->restarted = restarted;
    t->instance_id = n->v.instance_id;
    t->last_heartbeat_ms = n->v.heard ? n->v.last_heartbeat_ms : 0;
    t->silent_ms = n->v.heard && now.mono_ms > n->last_mono_ms ? now.mono_ms - n->last_mono_ms : 0;
    t->time_ms = now.wall_ms;
    t->has_clock = n->v.has_clock;
    t->clock_offset_us = n->v.clock_offset_us;
    t->rtt_us = n->v.rtt_us;
    t->pid = n->v.pid;
    memcpy(t->version, n->v.version, sizeof t->version);
}

/* Every status change goes through here (STYLE.md habit 7). */
static void set_status(fleet_t *f, node_t *n, fleet_liveness_t to, bool restarted, fleet_now_t now,
                       fleet_actions_t *out)
{
    fleet_liveness_t from = n->v.status;
    n->v.status = to;
    if (from != to) {
        n->v.status_since_ms = now.wall_ms;
        n->status_mono_ms = now.mono_ms;
    }
    if (from != to || restarted)
        report(f, n, from, restarted, now, out);
}

static node_t *add_node(fleet_t *f, const char *name)
{
    if (f->n_nodes >= FLEET_MAX_NODES)
        return NULL;
    if (f->n_nodes == f->cap_nodes) {
        size_t cap = f->cap_nodes ? f->cap_nodes * 2 : 64;
        node_t **p = realloc(f->nodes, cap * sizeof *p);
        if (p == NULL)
            return NULL;
        f->nodes = p;
        f->cap_nodes = cap;
    }
    node_t *n = calloc(1, sizeof *n);
    if (n == NULL)
        return NULL;
    copy_text(n->v.node, sizeof n->v.node, name);
    timesync_filter_init(&n->clock);
    if (strmap_put(&f->by_name, n->v.node, n) != BOSUN_OK) {
        free(n);
        return NULL;
    }
    n->index = f->n_nodes;
    f->nodes[f->n_nodes++] = n;
    return n;
}

static void drop_node(fleet_t *f, node_t *n)
{
    strmap_remove(&f->by_name, n->v.node);
    node_t *last = f->nodes[--f->n_nodes];
    f->nodes[n->index] = last;
    last->index = n->index;
    free(n->v.resources);
    free(n->v.probes);
    free(n);
}

/* ---- life ------------------------------------------------------------------------------ */

bosun_status_t fleet_new(const bosun_liveness_config_t *liveness, const bosun_timesync_config_t *ts,
                         char *const *expected, size_t n_expected, fleet_now_t now, fleet_t **out)
{
    fleet_t *f = calloc(1, sizeof *f);
    if (f == NULL)
        return BOSUN_ERR_NOMEM;
    f->lv = liveness;
    f->ts = ts;
    f->start_mono_ms = now.mono_ms;
    pthread_mutex_init(&f->mu, NULL);
    strmap_init(&f->by_name);
    for (size_t i = 0; i < n_expected; i++) {
        if (!bosun_name_valid(expected[i]))
            continue; /* the config refuses these; never trust it twice */
        node_t *n = strmap_get(&f->by_name, expected[i]);
        if (n == NULL && (n = add_node(f, expected[i])) == NULL) {
            fleet_free(f);
            return BOSUN_ERR_NOMEM;
        }
        n->v.expected = true;
        n->v.status_since_ms = now.wall_ms;
        n->status_mono_ms = now.mono_ms;
    }
    *out = f;
    return BOSUN_OK;
}

void fleet_free(fleet_t *f)
{
    if (f == NULL)
        return;
    for (size_t i = 0; i < f->n_nodes; i++) {
        free(f->nodes[i]->v.resources);
        free(f->nodes[i]->v.probes);
        free(f->nodes[i]);
    }
    free(f->nodes);
    strmap_free(&f->by_name);
    pthread_mutex_destroy(&f->mu);
    free(f);
}

/* ---- heartbeats -------------------------------------------------------------------------- */

static void copy_host(fleet_host_t *h, const Bosun__HostStatus *s)
{
    if (s == NULL) {
        memset(h, 0, sizeof *h);
        return;
    }
    copy_text(h->hostname, sizeof h->hostname, s->hostname);
    copy_text(h->os, sizeof h->os, s->os);
    copy_text(h->cpu_model, sizeof h->cpu_model, s->cpu_model);
    h->cores = s->cores;
    h->cpu_usage_percent = s->cpu_usage_percent;
    h->load1 = s->load1;
    h->load5 = s->load5;
    h->load15 = s->load15;
    h->mem_total_bytes = s->mem_total_bytes;
    h->mem_available_bytes = s->mem_available_bytes;
    h->host_boot_time_ms = s->host_boot_time_ms;
    h->agent_rss_bytes = s->agent_rss_bytes;
}

static void copy_counters(fleet_counters_t *c, const Bosun__AgentCounters *s)
{
    if (s == NULL) {
        memset(c, 0, sizeof *c);
        return;
    }
    c->heartbeats_sent = s->heartbeats_sent;
    c->commands_received = s->commands_received;
    c->commands_ok = s->commands_ok;
    c->commands_failed = s->commands_failed;
    c->commands_rejected = s->commands_rejected;
    c->commands_duplicate = s->commands_duplicate;
    c->events_received = s->events_received;
    c->malformed_messages = s->malformed_messages;
    c->election_packets_tx = s->election_packets_tx;
    c->election_packets_rx = s->election_packets_rx;
    c->election_packets_dropped = s->election_packets_dropped;
    c->election_transitions = s->election_transitions;
    c->nats_reconnects = s->nats_reconnects;
    c->election_tx_errors = s->election_tx_errors;
    c->election_rx_errors = s->election_rx_errors;
    c->election_script_failures = s->election_script_failures;
    c->probes_run = s->probes_run;
    c->probes_failed = s->probes_failed;
}

/* items, or a larger copy with room for k items of size bytes (*cap updated); NULL, items kept, on OOM. */
static void *with_room(void *items, size_t *cap, size_t k, size_t size)
{
    if (k <= *cap)
        return items;
    void *p = realloc(items, k * size);
    if (p != NULL)
        *cap = k;
    return p;
}

/* Copies the heartbeat's resources; keeps the old list when memory runs out. */
static void copy_resources(node_t *n, const Bosun__Heartbeat *hb)
{
    size_t k = hb->n_resources;
    fleet_resource_t *grown = with_room(n->v.resources, &n->cap_resources, k, sizeof *grown);
    if (grown == NULL && k > 0)
        return;
    n->v.resources = grown;
    size_t used = 0;
    for (size_t i = 0; i < k; i++) {
        const Bosun__ResourceStatus *s = hb->resources[i];
        if (s == NULL)
            continue;
        fleet_resource_t *r = &n->v.resources[used++];
        copy_text(r->resource, sizeof r->resource, s->resource);
        r->state = s->state;
        r->priority = s->priority;
        copy_text(r->owner, sizeof r->owner, s->owner);
        r->since_ms = s->since_ms;
    }
    n->v.n_resources = used;
}

static int probe_by_target(const void *a, const void *b)
{
    return strcmp(((const fleet_probe_t *)a)->target, ((const fleet_probe_t *)b)->target);
}

/*
 * Copies the heartbeat's probes when it carries any (keeps the old list when
 * it carries none, or memory runs out), sorted by target with each target
 * once (of repeats, one is kept). A probe's age when the heartbeat left
 * (both times on the node's clock) dates it on central's clock, so no clock
 * offset enters.
 */
static void copy_probes(node_t *n, const Bosun__Heartbeat *hb, uint64_t received_ms)
{
    size_t k = hb->n_probes < FLEET_PROBES_MAX ? hb->n_probes : FLEET_PROBES_MAX;
    fleet_probe_t *grown = k > 0 ? with_room(n->v.probes, &n->cap_probes, k, sizeof *grown) : NULL;
    if (grown == NULL)
        return;
    n->v.probes = grown;
    size_t used = 0;
    for (size_t i = 0; i < k; i++) {
        const Bosun__ProbeResult *s = hb->probes[i];
        if (s == NULL || s->target == NULL || s->target[0] == '\0')
            continue;
        fleet_probe_t *p = &n->v.probes[used++];
        copy_text(p->target, sizeof p->target, s->target);
        p->tcp_ok = s->tcp_ok;
        p->tcp_tested = s->tcp_tested;
        p->nats_ok = s->nats_ok;
        p->tcp_connect_us = s->tcp_connect_us;
        p->nats_rtt_us = s->nats_rtt_us;
        p->time_ms = s->time_ms;
        uint64_t age = s->time_ms != 0 && hb->send_time_ms > s->time_ms ? hb->send_time_ms - s->time_ms : 0;
        p->measured_ms = age < received_ms ? received_ms - age : 0;
        copy_text(p->error, sizeof p->error, s->error);
    }
    if (used > 1)
        qsort(n->v.probes, used, sizeof *n->v.probes, probe_by_target);
    size_t unique = 0;
    for (size_t i = 0; i < used; i++)
        if (unique == 0 || strcmp(n->v.probes[unique - 1].target, n->v.probes[i].target) != 0)
            n->v.probes[unique++] = n->v.probes[i];
    n->v.n_probes = unique;
}

/* Starts time sync for a node that has become ALIVE, at a phase of its own. */
static void schedule_first_ping(fleet_t *f, node_t *n, fleet_now_t now)
{
    uint64_t every = ping_interval_ms(f);
    n->next_ping_mono_ms = every ? now.mono_ms + name_hash(n->v.node) % every : 0;
    n->ping_t0_us = 0;
}

fleet_hb_verdict_t fleet_on_heartbeat(fleet_t *f, const Bosun__Heartbeat *hb, fleet_now_t now,
                                      fleet_actions_t *out)
{
    if (hb == NULL || hb->node == NULL || !bosun_name_valid(hb->node))
        return FLEET_HB_INVALID;
    pthread_mutex_lock(&f->mu);
    fleet_hb_verdict_t verdict = FLEET_HB_APPLIED;
    node_t *n = strmap_get(&f->by_name, hb->node);
    if (n == NULL && (n = add_node(f, hb->node)) == NULL) {
        verdict = FLEET_HB_FULL;
        goto done;
    }
    bool restarted = false;
    if (n->v.heard && hb->instance_id == n->v.instance_id) {
        if (hb->sequence <= n->v.sequence) {
            verdict = FLEET_HB_STALE;
            goto done;
        }
    } else if (n->v.heard) {
        bool current_alive = now.mono_ms - n->last_mono_ms < (uint64_t)f->lv->slow_ms;
        if (current_alive && hb->boot_time_ms < n->v.boot_time_ms) {
            verdict = FLEET_HB_OTHER_INSTANCE;
            goto done;
        }
        restarted = true;
        n->v.restarts++;
        n->v.n_probes = 0; /* the old instance's measurements */
    }

    n->v.instance_id = hb->instance_id;
    n->v.sequence = hb->sequence;
    n->v.boot_time_ms = hb->boot_time_ms;
    n->v.pid = hb->pid;
    n->v.interval_ms = hb->interval_ms;
    copy_text(n->v.version, sizeof n->v.version, hb->version);
    copy_host(&n->v.host, hb->host);
    copy_counters(&n->v.counters, hb->counters);
    copy_resources(n, hb);
    copy_probes(n, hb, now.wall_ms);
    if (!n->v.heard)
        n->v.first_heartbeat_ms = now.wall_ms;
    n->v.heard = true;
    n->v.last_heartbeat_ms = now.wall_ms;
    n->v.heartbeats++;
    n->last_mono_ms = now.mono_ms;
    if (n->v.status != FLEET_ALIVE)
        schedule_first_ping(f, n, now);
    if (n->v.status != FLEET_ALIVE || restarted)
        set_status(f, n, FLEET_ALIVE, restarted, now, out);
done:
    pthread_mutex_unlock(&f->mu);
    return verdict;
}

/* ---- the periodic check --------------------------------------------------------------- */

/* The status a node heard from `silent` ms ago should have. */
static fleet_liveness_t due_status(const fleet_t *f, uint64_t silent)
{
    const bosun_liveness_config_t *l = f->lv;
    if (silent < (uint64_t)l->slow_ms)
        return FLEET_ALIVE;
    if (silent < (uint64_t)l->warn_ms)
        return FLEET_SLOW;
    if (silent < (uint64_t)l->dead_ms)
        return FLEET_WARN;
    if (silent < (uint64_t)l->remove_ms)
        return FLEET_DEAD;
    return FLEET_REMOVED;
}

static void check_pings(fleet_t *f, node_t *n, fleet_now_t now, fleet_actions_t *out)
{
    uint64_t every = ping_interval_ms(f);
    if (every == 0 || n->v.status != FLEET_ALIVE || now.mono_ms < n->next_ping_mono_ms)
        return;
    fleet_ping_t *p = push_ping(out);
    if (p == NULL)
        return;
    memcpy(p->node, n->v.node, sizeof p->node);
    p->seq = n->ping_seq = ++f->ping_seq;
    n->ping_t0_us = 0;
    n->next_ping_mono_ms += every;
    if (n->next_ping_mono_ms <= now.mono_ms) /* held up: skip, never burst */
        n->next_ping_mono_ms = now.mono_ms + every;
}

/* Advances one node; returns false when it was dropped from the table. */
static bool check_node(fleet_t *f, node_t *n, fleet_now_t now, fleet_actions_t *out)
{
    fleet_liveness_t s = n->v.status;
    if (s == FLEET_UNKNOWN) {
        if (n->v.expected && f->missing_reported)
            set_status(f, n, FLEET_MISSING, false, now, out);
        return true;
    }
    if (s == FLEET_MISSING)
        return true;
    if (s == FLEET_REMOVED) {
        if (!n->v.expected && now.mono_ms - n->status_mono_ms >= FLEET_FORGET_MS) {
            push_forgotten(out, n->v.node);
            drop_node(f, n);
            return false;
        }
        return true;
    }
    fleet_liveness_t due = due_status(f, now.mono_ms - n->last_mono_ms);
    for (fleet_liveness_t next = s + 1; next <= due; next++)
        set_status(f, n, next, false, now, out);
    if (n->v.status == FLEET_REMOVED && n->v.expected)
        set_status(f, n, FLEET_MISSING, false, now, out);
    check_pings(f, n, now, out);
    return true;
}

void fleet_check(fleet_t *f, fleet_now_t now, fleet_actions_t *out)
{
    pthread_mutex_lock(&f->mu);
    if (!f->missing_reported && now.mono_ms - f->start_mono_ms >= (uint64_t)f->lv->dead_ms)
        f->missing_reported = true;
    for (size_t i = 0; i < f->n_nodes;)
        if (check_node(f, f->nodes[i], now, out))
            i++; /* else the last node moved into slot i: look at it next */
    pthread_mutex_unlock(&f->mu);
}

/* ---- time sync --------------------------------------------------------------------------- */

void fleet_ping_sent(fleet_t *f, const char *node, uint64_t seq, uint64_t t0_us)
{
    pthread_mutex_lock(&f->mu);
    node_t *n = strmap_get(&f->by_name, node);
    if (n != NULL && n->ping_seq == seq)
        n->ping_t0_us = t0_us;
    pthread_mutex_unlock(&f->mu);
}

bool fleet_on_ping_answer(fleet_t *f, const char *node, uint64_t seq, uint64_t t1_us, uint64_t t2_us,
                          uint64_t t3_us, fleet_now_t now, fleet_actions_t *out)
{
    pthread_mutex_lock(&f->mu);
    bool used = false;
    node_t *n = strmap_get(&f->by_name, node);
    timesync_sample_t s, best;
    if (n == NULL || seq == 0 || n->ping_seq != seq || n->ping_t0_us == 0 ||
        timesync_sample(n->ping_t0_us, t1_us, t2_us, t3_us, &s) != BOSUN_OK)
        goto done;
    n->ping_t0_us = 0; /* one answer per ping */
    bool stepped = timesync_filter_add(&n->clock, &s, &best);
    n->v.has_clock = true;
    n->v.clock_offset_us = best.offset_us;
    n->v.rtt_us = best.rtt_us;
    n->v.clock_sampled_ms = now.wall_ms;
    int crossing = timesync_check_bound(&n->v.clock_over_bound, best.offset_us, f->ts->warn_offset_ms);
    if (crossing != 0 || stepped) {
        fleet_clock_note_t *c = push_clock_note(out);
        if (c != NULL) {
            memcpy(c->node, n->v.node, sizeof c->node);
            c->crossing = crossing;
            c->stepped = stepped;
            c->offset_us = best.offset_us;
            c->rtt_us = best.rtt_us;
        }
    }
    used = true;
done:
    pthread_mutex_unlock(&f->mu);
    return used;
}

void fleet_transition_to_proto(const fleet_transition_t *t, Bosun__NodeStatus *out)
{
    bosun__node_status__init(out);
    out->node = (char *)t->node;
    out->status = (Bosun__NodeLiveness)t->status;
    out->previous = (Bosun__NodeLiveness)t->previous;
    out->instance_id = t->instance_id;
    out->restarted = t->restarted;
    out->last_heartbeat_ms = t->last_heartbeat_ms;
    out->time_ms = t->time_ms;
    out->clock_offset_us = t->has_clock ? t->clock_offset_us : 0;
    out->rtt_us = t->has_clock ? t->rtt_us : 0;
}

/* ---- reading from any thread ---------------------------------------------------------- */

void fleet_counts(fleet_t *f, size_t counts[FLEET_LIVENESS_COUNT])
{
    memset(counts, 0, FLEET_LIVENESS_COUNT * sizeof *counts);
    pthread_mutex_lock(&f->mu);
    for (size_t i = 0; i < f->n_nodes; i++)
        counts[f->nodes[i]->v.status]++;
    pthread_mutex_unlock(&f->mu);
}

/* A malloc'd copy of n items of size bytes; NULL for none, or when out of memory. */
static void *dup_items(const void *items, size_t n, size_t size)
{
    void *p = n > 0 ? malloc(n * size) : NULL;
    if (p != NULL)
        memcpy(p, items, n * size);
    return p;
}

/* Copies n's view into *out, with its own resource list (and probes); false on OOM. */
static bool copy_view(const node_t *n, bool with_probes, fleet_view_t *out)
{
    *out = n->v;
    if (!with_probes)
        out->n_probes = 0;
    out->resources = dup_items(n->v.resources, out->n_resources, sizeof *out->resources);
    out->probes = dup_items(n->v.probes, out->n_probes, sizeof *out->probes);
    if ((out->n_resources > 0 && out->resources == NULL) || (out->n_probes > 0 && out->probes == NULL)) {
        free(out->resources);
        free(out->probes);
        memset(out, 0, sizeof *out);
        return false;
    }
    return true;
}

static int by_node_name(const void *a, const void *b)
{
    return strcmp(((const fleet_view_t *)a)->node, ((const fleet_view_t *)b)->node);
}

static bosun_status_t snapshot(fleet_t *f, bool with_probes, fleet_view_t **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    pthread_mutex_lock(&f->mu);
    size_t count = f->n_nodes;
    fleet_view_t *v = calloc(count ? count : 1, sizeof *v);
    size_t done = 0;
    if (v != NULL)
        for (; done < count && copy_view(f->nodes[done], with_probes, &v[done]); done++)
            ;
    pthread_mutex_unlock(&f->mu);
    if (v == NULL || done < count) {
        fleet_views_free(v, done);
        return BOSUN_ERR_NOMEM;
    }
    if (namesort(v, count, sizeof *v, offsetof(fleet_view_t, node)) != BOSUN_OK)
        qsort(v, count, sizeof *v, by_node_name); /* slower, but needs no memory */
    *out = v;
    *n = count;
    return BOSUN_OK;
}

bosun_status_t fleet_snapshot(fleet_t *f, fleet_view_t **out, size_t *n)
{
    return snapshot(f, false, out, n);
}

bosun_status_t fleet_snapshot_with_probes(fleet_t *f, fleet_view_t **out, size_t *n)
{
    return snapshot(f, true, out, n);
}

void fleet_views_free(fleet_view_t *v, size_t n)
{
    if (v == NULL)
        return;
    for (size_t i = 0; i < n; i++) {
        free(v[i].resources);
        free(v[i].probes);
    }
    free(v);
}

bool fleet_view_get(fleet_t *f, const char *node, fleet_view_t *out)
{
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&f->mu);
    const node_t *n = strmap_get(&f->by_name, node);
    bool ok = n != NULL && copy_view(n, true, out);
    pthread_mutex_unlock(&f->mu);
    return ok;
}

void fleet_view_clear(fleet_view_t *v)
{
    free(v->resources);
    free(v->probes);
    memset(v, 0, sizeof *v);
}
