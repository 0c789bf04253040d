/* check.c - the chaos suite's checker (see check.h for what is checked). */
#include "check.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OPEN_END (INT64_MAX / 4)

void check_config_defaults(check_config_t *c, int64_t tx_ms, int64_t tw_ms)
{
    memset(c, 0, sizeof *c);
    c->tx_ms = tx_ms;
    c->tw_ms = tw_ms;
    c->max_missed = 12;
    c->double_allow_ms = 100;
    c->gap_allow_ms = 1000;
    c->rec_before_ms = 1000;
    c->rec_after_ms = 8000;
    c->rec_restart_ms = 5000;
}

static void violation(check_report_t *r, int64_t ms, int node, int res, const char *token, const char *fmt,
                      ...) __attribute__((format(printf, 6, 7)));

static void violation(check_report_t *r, int64_t ms, int node, int res, const char *token, const char *fmt,
                      ...)
{
    if (r->n_v >= CHECK_MAX_VIOLATIONS) {
        r->v_dropped++;
        return;
    }
    if (r->n_v == r->cap_v) {
        size_t cap = r->cap_v ? r->cap_v * 2 : 16;
        check_violation_t *g = realloc(r->v, cap * sizeof *g);
        if (g == NULL) {
            r->v_dropped++;
            return;
        }
        r->v = g;
        r->cap_v = cap;
    }
    check_violation_t *v = &r->v[r->n_v++];
    memset(v, 0, sizeof *v);
    v->ms = ms;
    v->node = node;
    v->res = res;
    snprintf(v->token, sizeof v->token, "%s", token ? token : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->text, sizeof v->text, fmt, ap);
    va_end(ap);
}

void check_report_free(check_report_t *r)
{
    free(r->v);
    memset(r, 0, sizeof *r);
}

bool check_passed(const check_report_t *r) { return r->n_v == 0 && r->v_dropped == 0; }

/* ---- messages ---------------------------------------------------------------------- */

static int cmp_key(int an, const char *at, int bn, const char *bt)
{
    if (an != bn)
        return an < bn ? -1 : 1;
    return strcmp(at, bt);
}

static int cmp_msg_ptr(const void *a, const void *b)
{
    const hist_msg_t *x = *(const hist_msg_t *const *)a, *y = *(const hist_msg_t *const *)b;
    return cmp_key(x->node, x->token, y->node, y->token);
}

/* Index of msgs sorted by (node, token): the first match of key, or -1. */
static long find_msg(const hist_msg_t *const *idx, size_t n, int node, const char *token)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cmp_key(idx[mid]->node, idx[mid]->token, node, token) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && cmp_key(idx[lo]->node, idx[lo]->token, node, token) == 0 ? (long)lo : -1;
}

static int cmp_ledger_ptr(const void *a, const void *b)
{
    const hist_ledger_t *x = *(const hist_ledger_t *const *)a, *y = *(const hist_ledger_t *const *)b;
    return cmp_key(x->node, x->id, y->node, y->id);
}

static const hist_ledger_t *find_ledger(const hist_ledger_t *const *idx, size_t n, int node, const char *id)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cmp_key(idx[mid]->node, idx[mid]->id, node, id) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && cmp_key(idx[lo]->node, idx[lo]->id, node, id) == 0 ? idx[lo] : NULL;
}

/* What the traces say of one message. */
typedef struct {
    int starts, ends, texts;
} trace_t;

static int cmp_submit_ptr(const void *a, const void *b)
{
    const hist_submit_t *x = *(const hist_submit_t *const *)a, *y = *(const hist_submit_t *const *)b;
    return cmp_key(x->node, x->token, y->node, y->token);
}

static bool submitted(const hist_submit_t *const *sub, size_t n, int node, const char *token)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = cmp_key(sub[mid]->node, sub[mid]->token, node, token);
        if (c == 0)
            return true;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

/* Each submission accepted exactly once; nothing accepted that nobody submitted. */
static void check_submissions(const history_t *h, const hist_msg_t *const *idx, check_report_t *r)
{
    const hist_submit_t **sub = calloc(h->n_submits ? h->n_submits : 1, sizeof *sub);
    if (sub == NULL) {
        violation(r, 0, -1, -1, NULL, "checker out of memory");
        return;
    }
    for (size_t i = 0; i < h->n_submits; i++) {
        const hist_submit_t *s = &h->submits[i];
        sub[i] = s;
        r->submitted_to_down += s->node_down;
        long k = find_msg(idx, h->n_msgs, s->node, s->token);
        size_t count = 0;
        for (size_t j = (size_t)k; k >= 0 && j < h->n_msgs &&
                                   cmp_key(idx[j]->node, idx[j]->token, s->node, s->token) == 0;
             j++)
            count++;
        if (count == 0)
            violation(r, s->written_ms, s->node, -1, s->token,
                      "submitted to n%d in inmsg.txt but never accepted by central (lost)", s->node + 1);
        else if (count > 1)
            violation(r, s->written_ms, s->node, -1, s->token, "submitted once but accepted %zu times",
                      count);
    }
    qsort(sub, h->n_submits, sizeof *sub, cmp_submit_ptr);
    for (size_t i = 0; i < h->n_msgs; i++) {
        const hist_msg_t *m = &h->msgs[i];
        if (!submitted(sub, h->n_submits, m->node, m->token))
            violation(r, m->accepted_ms, m->node, -1, m->token,
                      "central accepted %s (n%d, token '%s'), which was never submitted", m->id,
                      m->node + 1, m->token);
    }
    free(sub);
}

/* Reads the traces: counts per message, phantom lines, and per-node order. */
static void check_traces(const history_t *h, const hist_msg_t *const *idx, trace_t *tr, check_report_t *r)
{
    const hist_msg_t *last[HIST_MAX_NODES] = {0};
    r->trace_lines = h->n_execs;
    for (size_t i = 0; i < h->n_execs; i++) {
        const hist_exec_t *x = &h->execs[i];
        long k = find_msg(idx, h->n_msgs, x->node, x->token);
        if (k < 0) {
            violation(r, 0, x->node, -1, x->token,
                      "n%d ran '%s' (trace line %c), which central never accepted for n%d", x->node + 1,
                      x->token, x->phase, x->node + 1);
            continue;
        }
        const hist_msg_t *m = idx[k];
        trace_t *t = &tr[m - h->msgs];
        bool first = t->starts == 0 && t->texts == 0;
        if (x->phase == 'S')
            t->starts++;
        else if (x->phase == 'T')
            t->texts++;
        else if (x->phase == 'E') {
            t->ends++;
            if (t->starts == 0)
                violation(r, 0, x->node, -1, x->token, "n%d's trace ends %s before it starts", x->node + 1,
                          m->id);
        }
        if (x->phase == 'E' || !first || x->node < 0 || x->node >= HIST_MAX_NODES)
            continue;
        const hist_msg_t *prev = last[x->node];
        if (prev != NULL && m->seq <= prev->seq)
            violation(r, m->accepted_ms, x->node, -1, x->token,
                      "n%d ran %s (accept seq %llu) after %s (seq %llu): not in accept order", x->node + 1,
                      m->id, (unsigned long long)m->seq, prev->id, (unsigned long long)prev->seq);
        else
            last[x->node] = m;
    }
}

static bool shell_complete(const hist_msg_t *m, const trace_t *t)
{
    return m->method == HIST_TEXT ? t->texts >= 1 : t->starts >= 1 && t->ends >= 1;
}

static void check_one_message(const hist_msg_t *m, const trace_t *t, const hist_ledger_t *l, check_report_t *r)
{
    bool ran = t->starts > 0 || t->texts > 0;
    r->ran += ran;
    if (t->starts > 1 || t->texts > 1 || t->ends > 1)
        violation(r, m->accepted_ms, m->node, -1, m->token, "%s ran %d times on n%d (trace: %d S, %d E, %d T)",
                  m->id, t->starts > t->texts ? t->starts : t->texts, m->node + 1, t->starts, t->ends, t->texts);
    if (m->status == HIST_PENDING) {
        violation(r, m->accepted_ms, m->node, -1, m->token, "%s has no final result at the end (%u attempts)",
                  m->id, m->attempts);
        return;
    }
    r->finished++;
    if (m->status >= 0 && m->status < 9)
        r->by_status[m->status]++;
    if (m->log_lines == 0)
        violation(r, m->finished_ms, m->node, -1, m->token, "%s finished %s but has no line in messages.ndjson",
                  m->id, hist_status_str(m->status));
    else
        r->repeated_log_lines += (size_t)(m->log_lines - 1);
    if (m->log_conflicts > 0)
        violation(r, m->finished_ms, m->node, -1, m->token,
                  "%s: messages.ndjson holds %d line(s) with a final status other than the store's %s",
                  m->id, m->log_conflicts, hist_status_str(m->status));

    /* The agent's own record. */
    if (ran && l == NULL)
        violation(r, m->accepted_ms, m->node, -1, m->token, "%s ran on n%d but its ledger has no row for it",
                  m->id, m->node + 1);
    else if (ran && l->started_ms == 0)
        violation(r, m->accepted_ms, m->node, -1, m->token,
                  "%s ran on n%d but its ledger says it never started", m->id, m->node + 1);
    if (l != NULL && l->finished_ms != 0 && l->status == HIST_OK && !shell_complete(m, t))
        violation(r, l->finished_ms, m->node, -1, m->token,
                  "n%d's ledger says %s finished OK, but its trace has no complete run", m->node + 1, m->id);
    if (m->has_ack && l != NULL && l->finished_ms != 0 && l->status != m->status)
        violation(r, m->finished_ms, m->node, -1, m->token,
                  "%s: central's final result is %s (from the agent), but n%d's ledger recorded %s", m->id,
                  hist_status_str(m->status), m->node + 1, hist_status_str(l->status));

    switch (m->status) {
    case HIST_OK:
        if (!shell_complete(m, t))
            violation(r, m->finished_ms, m->node, -1, m->token,
                      "%s finished OK but n%d's trace has no complete run of it (%d S, %d E, %d T)", m->id,
                      m->node + 1, t->starts, t->ends, t->texts);
        break;
    case HIST_INTERRUPTED:
        r->interrupted_started += t->starts > 0;
        break;
    case HIST_EXPIRED:
        if (m->has_ack) {
            r->expired_by_agent++;
            if (ran)
                violation(r, m->finished_ms, m->node, -1, m->token,
                          "%s: n%d answered EXPIRED (not run), but it ran: %s", m->id, m->node + 1, m->error);
        } else {
            r->expired_by_central++;
            r->expired_by_central_ran += ran;
        }
        break;
    default:
        if (m->status == HIST_REJECTED && ran)
            violation(r, m->finished_ms, m->node, -1, m->token, "%s: REJECTED (not run), but it ran", m->id);
        violation(r, m->finished_ms, m->node, -1, m->token, "%s: unexpected final status %s: %s", m->id,
                  hist_status_str(m->status), m->error);
        break;
    }
}

static void check_messages(const history_t *h, check_report_t *r)
{
    r->submitted = h->n_submits;
    r->accepted = h->n_msgs;
    r->ledger_rows = h->n_ledger;
    const hist_msg_t **idx = calloc(h->n_msgs ? h->n_msgs : 1, sizeof *idx);
    const hist_ledger_t **lidx = calloc(h->n_ledger ? h->n_ledger : 1, sizeof *lidx);
    trace_t *tr = calloc(h->n_msgs ? h->n_msgs : 1, sizeof *tr);
    if (idx == NULL || lidx == NULL || tr == NULL) {
        violation(r, 0, -1, -1, NULL, "checker out of memory");
        goto out;
    }
    for (size_t i = 0; i < h->n_msgs; i++)
        idx[i] = &h->msgs[i];
    qsort(idx, h->n_msgs, sizeof *idx, cmp_msg_ptr);
    for (size_t i = 0; i < h->n_ledger; i++)
        lidx[i] = &h->ledger[i];
    qsort(lidx, h->n_ledger, sizeof *lidx, cmp_ledger_ptr);

    check_submissions(h, idx, r);
    check_traces(h, idx, tr, r);
    for (size_t i = 0; i < h->n_msgs; i++) {
        const hist_msg_t *m = &h->msgs[i];
        check_one_message(m, &tr[i], find_ledger(lidx, h->n_ledger, m->node, m->id), r);
    }
out:
    free(idx);
    free(lidx);
    free(tr);
}

/* ---- elections --------------------------------------------------------------------- */

typedef struct {
    int64_t a, b; /* [a, b) */
} span_t;

typedef struct {
    span_t *s;
    size_t n, cap;
} spans_t;

static bool spans_add(spans_t *l, int64_t a, int64_t b)
{
    if (b <= a)
        return true;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        span_t *g = realloc(l->s, cap * sizeof *g);
        if (g == NULL)
            return false;
        l->s = g;
        l->cap = cap;
    }
    l->s[l->n++] = (span_t){a, b};
    return true;
}

static bool spans_has(const spans_t *l, int64_t t)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->s[i].a <= t && t < l->s[i].b)
            return true;
    return false;
}

typedef struct {
    const hist_trans_t *t;
    size_t order;
} trans_ref_t;

static int cmp_trans(const void *a, const void *b)
{
    const trans_ref_t *x = a, *y = b;
    if (x->t->node != y->t->node)
        return x->t->node < y->t->node ? -1 : 1;
    if (x->t->ms != y->t->ms)
        return x->t->ms < y->t->ms ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

static int cmp_life(const void *a, const void *b)
{
    const hist_life_t *x = a, *y = b;
    if (x->node != y->node)
        return x->node < y->node ? -1 : 1;
    return x->start_ms < y->start_ms ? -1 : x->start_ms > y->start_ms;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Everything the election check needs per node. */
typedef struct {
    spans_t alive, cut, lossy;
    spans_t active[HIST_MAX_RES];
} node_spans_t;

/* ACTIVE spans of node from its transitions (sorted refs of that node) within its lives. */
static bool build_active(const history_t *h, int node, const hist_life_t *lives, size_t n_lives,
                         const trans_ref_t *tr, size_t n_tr, node_spans_t *ns)
{
    for (size_t li = 0; li < n_lives; li++) {
        const hist_life_t *L = &lives[li];
        int64_t end = L->end_ms ? L->end_ms : OPEN_END;
        int64_t next = li + 1 < n_lives ? lives[li + 1].start_ms : OPEN_END;
        if (!spans_add(&ns->alive, L->start_ms, end))
            return false;
        for (int r = 0; r < h->n_res; r++) {
            int64_t since = -1;
            for (size_t k = 0; k < n_tr; k++) {
                const hist_trans_t *t = tr[k].t;
                if (t->node != node || t->res != r || t->ms < L->start_ms || t->ms >= next)
                    continue;
                if (t->to == HIST_ACTIVE && since < 0)
                    since = t->ms;
                else if (t->to != HIST_ACTIVE && since >= 0) {
                    if (!spans_add(&ns->active[r], since, t->ms < end ? t->ms : end))
                        return false;
                    since = -1;
                }
            }
            if (since >= 0 && !spans_add(&ns->active[r], since, end))
                return false;
        }
    }
    return true;
}

static void check_resource(const history_t *h, const check_config_t *cfg, int r, node_spans_t *ns,
                           check_report_t *rep)
{
    check_res_t *cr = &rep->res[r];
    int64_t from = h->run_start_ms, to = h->run_end_ms;
    size_t nb = 2;
    for (int i = 0; i < h->n_nodes; i++)
        nb += 2 * (ns[i].alive.n + ns[i].cut.n + ns[i].lossy.n + ns[i].active[r].n);
    int64_t *b = malloc(nb * sizeof *b);
    if (b == NULL) {
        violation(rep, 0, -1, r, NULL, "checker out of memory");
        return;
    }
    size_t k = 0;
    b[k++] = from;
    b[k++] = to;
    for (int i = 0; i < h->n_nodes; i++) {
        const spans_t *all[] = {&ns[i].alive, &ns[i].cut, &ns[i].lossy, &ns[i].active[r]};
        for (size_t s = 0; s < 4; s++)
            for (size_t j = 0; j < all[s]->n; j++) {
                b[k++] = all[s]->s[j].a;
                b[k++] = all[s]->s[j].b;
            }
    }
    qsort(b, k, sizeof *b, cmp_i64);

    int64_t out_start = -1, out_end = -1, gap_start = -1, gap_end = -1;
    for (size_t j = 0; j + 1 < k; j++) {
        int64_t a = b[j] < from ? from : b[j], e = b[j + 1] > to ? to : b[j + 1];
        if (e <= a)
            continue;
        int64_t mid = a + (e - a) / 2;
        int n_active = 0, main_active = 0, clear_active = 0;
        unsigned clear_nodes = 0;
        bool healthy = false;
        for (int i = 0; i < h->n_nodes; i++) {
            bool alive = spans_has(&ns[i].alive, mid), cut = spans_has(&ns[i].cut, mid);
            bool lossy = spans_has(&ns[i].lossy, mid), act = spans_has(&ns[i].active[r], mid);
            n_active += act;
            main_active += act && !cut;
            clear_active += act && !cut && !lossy;
            clear_nodes |= (act && !cut && !lossy) ? 1u << i : 0u;
            healthy = healthy || (alive && !cut && !lossy);
        }
        /* Two ACTIVE: outside a partition when two of them hear each other clearly. */
        if (n_active >= 2 && clear_active >= 2) {
            cr->double_outside_ms += e - a;
            if (out_start >= 0 && out_end == a)
                out_end = e;
            else {
                out_start = a;
                out_end = e;
                cr->outside_stretches++;
            }
            if (out_end - out_start > cr->longest_outside_ms) {
                cr->longest_outside_ms = out_end - out_start;
                cr->longest_outside_at = out_start;
                cr->longest_outside_nodes = clear_nodes;
            }
        } else if (n_active >= 2) {
            cr->double_partition_ms += e - a;
        }
        if (main_active == 0 && healthy) {
            if (gap_start >= 0 && gap_end == a)
                gap_end = e;
            else {
                gap_start = a;
                gap_end = e;
                cr->gaps++;
            }
            if (gap_end - gap_start > cr->longest_gap_ms) {
                cr->longest_gap_ms = gap_end - gap_start;
                cr->longest_gap_at = gap_start;
            }
        }
    }
    free(b);
    if (cr->longest_outside_ms > rep->double_bound_ms) {
        char who[64] = "";
        for (int i = 0; i < h->n_nodes; i++)
            if (cr->longest_outside_nodes & (1u << i))
                snprintf(who + strlen(who), sizeof who - strlen(who), "%sn%d", who[0] ? ", " : "", i + 1);
        violation(rep, cr->longest_outside_at, -1, r, NULL,
                  "resource %d: two ACTIVE nodes that could hear each other (%s) for %lld ms (bound %lld ms: "
                  "one tx interval + %lld ms)",
                  r + 1, who, (long long)cr->longest_outside_ms, (long long)rep->double_bound_ms,
                  (long long)cfg->double_allow_ms);
    }
    if (cr->longest_gap_ms > rep->gap_bound_ms)
        violation(rep, cr->longest_gap_at, -1, r, NULL,
                  "resource %d: no ACTIVE node for %lld ms while a healthy candidate existed (bound %lld ms)",
                  r + 1, (long long)cr->longest_gap_ms, (long long)rep->gap_bound_ms);
}

static void check_elections(const history_t *h, const check_config_t *cfg, check_report_t *rep)
{
    rep->double_bound_ms = cfg->tx_ms + cfg->double_allow_ms;
    rep->gap_bound_ms = cfg->max_missed * cfg->tx_ms + cfg->tx_ms / 2 + cfg->tw_ms + cfg->gap_allow_ms;
    rep->measured_ms = h->run_end_ms - h->run_start_ms;
    rep->agent_lives = h->n_lives;
    node_spans_t ns[HIST_MAX_NODES];
    memset(ns, 0, sizeof ns);
    trans_ref_t *tr = calloc(h->n_trans ? h->n_trans : 1, sizeof *tr);
    hist_life_t *lives = calloc(h->n_lives ? h->n_lives : 1, sizeof *lives);
    if (tr == NULL || lives == NULL || h->n_nodes > HIST_MAX_NODES || h->n_res > HIST_MAX_RES) {
        violation(rep, 0, -1, -1, NULL, "checker out of memory or history too large");
        goto out;
    }
    for (size_t i = 0; i < h->n_trans; i++) {
        tr[i] = (trans_ref_t){&h->trans[i], i};
        const hist_trans_t *t = &h->trans[i];
        if (t->res >= 0 && t->res < h->n_res && t->ms >= h->run_start_ms && t->ms < h->run_end_ms) {
            rep->res[t->res].transitions++;
            rep->res[t->res].activations += t->to == HIST_ACTIVE;
        }
    }
    qsort(tr, h->n_trans, sizeof *tr, cmp_trans);
    if (h->n_lives > 0)
        memcpy(lives, h->lives, h->n_lives * sizeof *lives);
    qsort(lives, h->n_lives, sizeof *lives, cmp_life);

    size_t li = 0, ti = 0;
    for (int n = 0; n < h->n_nodes; n++) {
        size_t l0 = li, t0 = ti;
        while (li < h->n_lives && lives[li].node == n)
            li++;
        while (ti < h->n_trans && tr[ti].t->node == n)
            ti++;
        if (!build_active(h, n, lives + l0, li - l0, tr + t0, ti - t0, &ns[n])) {
            violation(rep, 0, -1, -1, NULL, "checker out of memory");
            goto out;
        }
    }
    for (size_t i = 0; i < h->n_faults; i++) {
        const hist_fault_t *f = &h->faults[i];
        if (f->role != HOST_AGENT || f->index < 0 || f->index >= h->n_nodes)
            continue;
        int64_t end = f->end_ms ? f->end_ms : OPEN_END;
        if (f->kind == FAULT_CUT)
            spans_add(&ns[f->index].cut, f->start_ms, end);
        else if (f->kind == FAULT_LOSS)
            spans_add(&ns[f->index].lossy, f->start_ms, end);
    }
    for (int r = 0; r < h->n_res; r++)
        check_resource(h, cfg, r, ns, rep);
out:
    for (int n = 0; n < HIST_MAX_NODES; n++) {
        free(ns[n].alive.s);
        free(ns[n].cut.s);
        free(ns[n].lossy.s);
        for (int r = 0; r < HIST_MAX_RES; r++)
            free(ns[n].active[r].s);
    }
    free(tr);
    free(lives);
}

/* ---- recorder ---------------------------------------------------------------------- */

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static bool recorded(const uint64_t *keys, size_t n, uint64_t key)
{
    return bsearch(&key, keys, n, sizeof *keys, cmp_u64) != NULL;
}

/* Whether central's link to NATS may have been down at t (see check.h). */
static bool excluded(const history_t *h, const check_config_t *cfg, int64_t t)
{
    if (t < h->central_start_ms + cfg->rec_restart_ms)
        return true;
    if (h->final_stop_ms > 0 && t >= h->final_stop_ms - cfg->rec_before_ms)
        return true;
    for (size_t i = 0; i < h->n_faults; i++) {
        const hist_fault_t *f = &h->faults[i];
        bool hits = f->kind == FAULT_CENTRAL_KILL || f->role == HOST_CENTRAL || f->role == HOST_NATS;
        bool link = f->kind == FAULT_CUT || f->kind == FAULT_LOSS;
        int64_t end = f->end_ms ? f->end_ms : OPEN_END;
        if (hits && t >= f->start_ms - cfg->rec_before_ms &&
            t < end + (link ? cfg->rec_after_ms : cfg->rec_restart_ms))
            return true;
    }
    return false;
}

static bool in_kill_window(const history_t *h, const check_config_t *cfg, int64_t t)
{
    for (size_t i = 0; i < h->n_faults; i++) {
        const hist_fault_t *f = &h->faults[i];
        if (f->kind == FAULT_CENTRAL_KILL && t >= f->start_ms - cfg->rec_before_ms && t <= f->start_ms)
            return true;
    }
    return false;
}

static void check_recorder(const history_t *h, const check_config_t *cfg, check_report_t *r)
{
    r->observed = h->n_observed;
    r->recorded = h->n_recorded;
    uint64_t *keys = malloc((h->n_recorded ? h->n_recorded : 1) * sizeof *keys);
    if (keys == NULL) {
        violation(r, 0, -1, -1, NULL, "checker out of memory");
        return;
    }
    size_t last_run = 0;
    for (size_t i = 0; i < h->n_recorded; i++) {
        keys[i] = h->recorded[i].key;
        last_run += h->recorded[i].ms >= h->central_last_start_ms;
    }
    qsort(keys, h->n_recorded, sizeof *keys, cmp_u64);
    r->recorded_last_run = last_run;
    for (size_t i = 0; i < h->n_observed; i++) {
        const hist_event_t *e = &h->observed[i];
        bool have = recorded(keys, h->n_recorded, e->key);
        if (excluded(h, cfg, e->ms)) {
            r->rec_excluded++;
            r->rec_excluded_missing += !have;
            r->rec_kill_window_missing += !have && in_kill_window(h, cfg, e->ms);
            continue;
        }
        r->rec_checked++;
        if (!have) {
            r->rec_missing++;
            violation(r, e->ms, -1, -1, NULL,
                      "event on %s seen by the observer is not in the recorder's files (central's link "
                      "was not under any fault then)",
                      e->subject);
        }
    }
    free(keys);
    if (!h->recorder_stop_seen)
        violation(r, h->final_stop_ms, -1, -1, NULL,
                  "central's log has no recorder stop line after its final SIGTERM");
    else if (h->recorder_dropped > 0)
        violation(r, h->final_stop_ms, -1, -1, NULL, "central's recorder reports %llu dropped events",
                  (unsigned long long)h->recorder_dropped);
    else if (h->recorder_written != r->recorded_last_run)
        violation(r, h->final_stop_ms, -1, -1, NULL,
                  "central's last run says its recorder wrote %llu events, but its files hold %zu received "
                  "in that run",
                  (unsigned long long)h->recorder_written, r->recorded_last_run);
}

/* ---- all --------------------------------------------------------------------------- */

void check_run(const history_t *h, const check_config_t *cfg, check_report_t *out)
{
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < h->n_faults; i++)
        if ((unsigned)h->faults[i].kind < FAULT_KINDS)
            out->faults[h->faults[i].kind]++;
    for (size_t i = 0; i < h->n_anomalies; i++)
        violation(out, h->anomalies[i].ms, -1, -1, NULL, "%s", h->anomalies[i].text);
    check_messages(h, out);
    check_elections(h, cfg, out);
    check_recorder(h, cfg, out);
}
