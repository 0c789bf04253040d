/*
 * probe.c - the connectivity probes' core: target set, schedule, timeouts
 * and latest results, driven by the caller's clock (see probe.h).
 *
 * Targets are kept in an array of pointers sorted by name, so a heartbeat
 * or a result finds its target by binary search and results come out in
 * name order. The earliest deadline is cached and recomputed only after a
 * change that can bring it forward.
 */
#include "probe.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char name[BOSUN_NAME_MAX + 1];
    char conf_addr[PROBE_ADDR_MAX];  /* from the config; "" if none */
    char adv_addr[PROBE_ADDR_MAX];   /* from its last heartbeat */
    bool configured;
    uint64_t last_seen_us;           /* last heartbeat (learned targets) */
    uint64_t next_due_us;
    /* The attempt in flight, when seq != 0. */
    uint64_t seq;
    uint64_t deadline_us;
    uint64_t start_us[2];            /* of the TCP and the NATS part */
    bool tcp_awaited, nats_awaited;
    probe_result_t cur;
    /* The latest finished attempt. */
    bool has_result;
    probe_result_t last;
    bool changed;                    /* reachability changed; not yet taken */
} target_t;

struct probe {
    char self[BOSUN_NAME_MAX + 1];
    probe_params_t params;
    target_t **t;          /* sorted by name */
    size_t n;
    uint64_t seq;
    uint64_t next_deadline; /* valid unless dirty */
    bool dirty;
    probe_stats_t stats;
};

/* Returns the index of name, or -(insertion point) - 1. */
static long find(const probe_t *p, const char *name)
{
    size_t lo = 0, hi = p->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(p->t[mid]->name, name);
        if (c == 0)
            return (long)mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -(long)lo - 1;
}

static target_t *lookup(const probe_t *p, const char *name)
{
    long i = find(p, name);
    return i >= 0 ? p->t[i] : NULL;
}

/* Inserts a new target named name at its place; NULL when out of memory. */
static target_t *insert(probe_t *p, const char *name, long where)
{
    target_t *t = calloc(1, sizeof *t);
    if (t == NULL)
        return NULL;
    snprintf(t->name, sizeof t->name, "%s", name);
    size_t at = (size_t)(-where - 1);
    memmove(&p->t[at + 1], &p->t[at], (p->n - at) * sizeof *p->t);
    p->t[at] = t;
    p->n++;
    p->dirty = true;
    return t;
}

bosun_status_t probe_new(const probe_params_t *params, probe_t **out)
{
    probe_t *p = calloc(1, sizeof *p);
    if (p == NULL)
        return BOSUN_ERR_NOMEM;
    p->params = *params;
    snprintf(p->self, sizeof p->self, "%s", params->self ? params->self : "");
    p->params.self = p->self;
    if (p->params.timeout_us > p->params.interval_us)
        p->params.timeout_us = p->params.interval_us;
    p->t = calloc(params->max_targets ? params->max_targets : 1, sizeof *p->t);
    if (p->t == NULL) {
        free(p);
        return BOSUN_ERR_NOMEM;
    }
    p->dirty = true;
    *out = p;
    return BOSUN_OK;
}

void probe_free(probe_t *p)
{
    if (p == NULL)
        return;
    for (size_t i = 0; i < p->n; i++)
        free(p->t[i]);
    free(p->t);
    free(p);
}

bosun_status_t probe_add_peer(probe_t *p, const char *node, const char *address)
{
    if (!bosun_name_valid(node) || strcmp(node, p->self) == 0)
        return BOSUN_ERR_INVALID;
    long i = find(p, node);
    if (i >= 0)
        return BOSUN_ERR_EXISTS;
    if (p->n >= p->params.max_targets)
        return BOSUN_ERR_TOO_BIG;
    target_t *t = insert(p, node, i);
    if (t == NULL)
        return BOSUN_ERR_NOMEM;
    t->configured = true;
    snprintf(t->conf_addr, sizeof t->conf_addr, "%s", address ? address : "");
    t->next_due_us = 0; /* at the first probe_take_due() */
    return BOSUN_OK;
}

probe_hb_t probe_on_heartbeat(probe_t *p, const char *node, const char *address, uint64_t now_us)
{
    if (!bosun_name_valid(node) || strcmp(node, p->self) == 0)
        return PROBE_HB_IGNORED;
    long i = find(p, node);
    target_t *t;
    probe_hb_t what = PROBE_HB_UPDATED;
    if (i >= 0) {
        t = p->t[i];
    } else {
        if (!p->params.learn)
            return PROBE_HB_IGNORED;
        if (p->n >= p->params.max_targets) {
            p->stats.refused_full++;
            return PROBE_HB_FULL;
        }
        if ((t = insert(p, node, i)) == NULL)
            return PROBE_HB_FULL;
        t->next_due_us = now_us;
        p->stats.learned++;
        what = PROBE_HB_LEARNED;
    }
    /* A later last-seen only pushes the forget deadline out: the cache stays valid. */
    t->last_seen_us = now_us;
    snprintf(t->adv_addr, sizeof t->adv_addr, "%s", address ? address : "");
    return what;
}

size_t probe_take_due(probe_t *p, uint64_t now_us, uint64_t wall_ms, probe_job_t *jobs, size_t max)
{
    size_t k = 0;
    for (size_t i = 0; i < p->n && k < max; i++) {
        target_t *t = p->t[i];
        if (t->seq != 0 || t->next_due_us > now_us)
            continue;
        const char *addr = t->conf_addr[0] ? t->conf_addr : t->adv_addr;
        t->seq = ++p->seq;
        t->deadline_us = now_us + p->params.timeout_us;
        t->start_us[0] = t->start_us[1] = now_us;
        t->tcp_awaited = addr[0] != '\0';
        t->nats_awaited = true;
        memset(&t->cur, 0, sizeof t->cur);
        snprintf(t->cur.target, sizeof t->cur.target, "%s", t->name);
        snprintf(t->cur.address, sizeof t->cur.address, "%s", addr);
        t->cur.tcp_tested = t->tcp_awaited;
        t->cur.time_ms = wall_ms;
        /* Keep the cadence; a target held up (e.g. after a stall) is not burst. */
        t->next_due_us = t->next_due_us == 0 ? now_us + p->params.interval_us
                                             : t->next_due_us + p->params.interval_us;
        if (t->next_due_us <= now_us)
            t->next_due_us = now_us + p->params.interval_us;
        probe_job_t *j = &jobs[k++];
        snprintf(j->target, sizeof j->target, "%s", t->name);
        snprintf(j->address, sizeof j->address, "%s", addr);
        j->seq = t->seq;
        p->dirty = true;
    }
    return k;
}

/* Appends "; "-separated text to r->error, cutting at its end. */
static void add_error(probe_result_t *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add_error(probe_result_t *r, const char *fmt, ...)
{
    size_t len = strlen(r->error);
    if (len > 0 && len + 2 < sizeof r->error) {
        memcpy(r->error + len, "; ", 3);
        len += 2;
    }
    if (len + 1 >= sizeof r->error)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->error + len, sizeof r->error - len, fmt, ap);
    va_end(ap);
}

/* Ends the attempt in flight once neither part is awaited. */
static void maybe_finish(probe_t *p, target_t *t)
{
    if (t->tcp_awaited || t->nats_awaited)
        return;
    bool failed = probe_result_failed(&t->cur);
    if (t->has_result ? failed != probe_result_failed(&t->last) : failed)
        t->changed = !t->changed; /* a change undone before it was taken is none */
    t->last = t->cur;
    t->has_result = true;
    t->seq = 0;
    p->stats.attempts++;
    if (failed)
        p->stats.failed++;
    p->dirty = true;
}

bool probe_result_failed(const probe_result_t *r)
{
    return (r->tcp_tested && !r->tcp_ok) || !r->nats_ok;
}

/* The target whose attempt seq is in flight, or NULL. */
static target_t *attempt(const probe_t *p, const char *target, uint64_t seq)
{
    target_t *t = lookup(p, target);
    return t != NULL && seq != 0 && t->seq == seq ? t : NULL;
}

/* A measured time in whole microseconds, at least 1 (0 means "not measured"). */
static uint32_t elapsed_us(uint64_t start, uint64_t end)
{
    uint64_t d = end > start ? end - start : 0;
    if (d == 0)
        return 1;
    return d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
}

void probe_started(probe_t *p, const char *target, uint64_t seq, probe_part_t part, uint64_t t_us)
{
    target_t *t = attempt(p, target, seq);
    if (t != NULL)
        t->start_us[part == PROBE_TCP ? 0 : 1] = t_us;
}

bool probe_done(probe_t *p, const char *target, uint64_t seq, probe_part_t part, bool ok,
                uint64_t now_us, const char *why)
{
    target_t *t = attempt(p, target, seq);
    bool tcp = part == PROBE_TCP;
    if (t == NULL || !(tcp ? t->tcp_awaited : t->nats_awaited))
        return false;
    uint32_t us = ok ? elapsed_us(t->start_us[tcp ? 0 : 1], now_us) : 0;
    if (!why || !why[0])
        why = "failed";
    if (tcp) {
        t->tcp_awaited = false;
        t->cur.tcp_ok = ok;
        t->cur.tcp_connect_us = us;
        if (!ok)
            add_error(&t->cur, "tcp %s: %s", t->cur.address, why);
    } else {
        t->nats_awaited = false;
        t->cur.nats_ok = ok;
        t->cur.nats_rtt_us = us;
        if (!ok)
            add_error(&t->cur, "nats ping: %s", why);
    }
    maybe_finish(p, t);
    return true;
}

bool probe_awaited(const probe_t *p, const char *target, uint64_t seq, probe_part_t part)
{
    const target_t *t = attempt(p, target, seq);
    return t != NULL && (part == PROBE_TCP ? t->tcp_awaited : t->nats_awaited);
}

/* Removes target i (a learned one gone silent). */
static void forget(probe_t *p, size_t i)
{
    free(p->t[i]);
    memmove(&p->t[i], &p->t[i + 1], (p->n - i - 1) * sizeof *p->t);
    p->n--;
    p->stats.forgotten++;
    p->dirty = true;
}

void probe_expire(probe_t *p, uint64_t now_us)
{
    if (!p->dirty && now_us < p->next_deadline)
        return;
    unsigned ms = (unsigned)(p->params.timeout_us / 1000u);
    for (size_t i = 0; i < p->n;) {
        target_t *t = p->t[i];
        if (!t->configured && t->last_seen_us + p->params.forget_us <= now_us) {
            forget(p, i);
            continue;
        }
        if (t->seq != 0 && t->deadline_us <= now_us) {
            if (t->tcp_awaited) {
                t->tcp_awaited = false;
                add_error(&t->cur, "tcp %s: no connection within %u ms", t->cur.address, ms);
            }
            if (t->nats_awaited) {
                t->nats_awaited = false;
                add_error(&t->cur, "nats ping: no answer within %u ms", ms);
            }
            maybe_finish(p, t);
        }
        i++;
    }
    p->dirty = true;
    probe_next_deadline(p); /* recompute the cache */
}

uint64_t probe_next_deadline(probe_t *p)
{
    if (!p->dirty)
        return p->next_deadline;
    uint64_t d = UINT64_MAX;
    for (size_t i = 0; i < p->n; i++) {
        const target_t *t = p->t[i];
        uint64_t x = t->seq != 0 ? t->deadline_us : t->next_due_us;
        if (x < d)
            d = x;
        if (!t->configured && t->last_seen_us + p->params.forget_us < d)
            d = t->last_seen_us + p->params.forget_us;
    }
    p->next_deadline = d;
    p->dirty = false;
    return d;
}

size_t probe_count(const probe_t *p)
{
    return p->n;
}

size_t probe_results(const probe_t *p, probe_result_t *out, size_t max)
{
    size_t k = 0;
    for (size_t i = 0; i < p->n && k < max; i++)
        if (p->t[i]->has_result)
            out[k++] = p->t[i]->last;
    return k;
}

size_t probe_take_changes(probe_t *p, probe_result_t *out, size_t max)
{
    size_t k = 0;
    for (size_t i = 0; i < p->n && k < max; i++)
        if (p->t[i]->changed) {
            p->t[i]->changed = false;
            out[k++] = p->t[i]->last;
        }
    return k;
}

void probe_stats(const probe_t *p, probe_stats_t *out)
{
    *out = p->stats;
}
