/* report.c - figures, violations with their history, and the history file (see report.h). */
#include "report.h"

#include <stdlib.h>
#include <string.h>

#define CONTEXT_MS 10000
#define CONTEXT_MAX_LINES 60

/* ---- the history as lines --------------------------------------------------------------- */

typedef struct {
    int64_t ms;
    size_t order;
    int node;                       /* -1: any */
    int res;                        /* -1: none */
    bool fault;                     /* faults and process lives: context for everything */
    char token[HIST_TOKEN_MAX];
    char text[400];
} line_t;

typedef struct {
    line_t *l;
    size_t n, cap;
} lines_t;

static line_t *add(lines_t *ls, int64_t ms, int node, int res, const char *token)
{
    if (ls->n == ls->cap) {
        size_t cap = ls->cap ? ls->cap * 2 : 1024;
        line_t *g = realloc(ls->l, cap * sizeof *g);
        if (g == NULL)
            return NULL;
        ls->l = g;
        ls->cap = cap;
    }
    line_t *l = &ls->l[ls->n];
    memset(l, 0, sizeof *l);
    l->ms = ms;
    l->order = ls->n++;
    l->node = node;
    l->res = res;
    snprintf(l->token, sizeof l->token, "%s", token ? token : "");
    return l;
}

#define ADDF(ls, ms, node, res, token, ...)                              \
    do {                                                                 \
        line_t *l_ = add(ls, ms, node, res, token);                      \
        if (l_ != NULL)                                                  \
            snprintf(l_->text, sizeof l_->text, __VA_ARGS__);            \
    } while (0)

static const hist_msg_t *msg_by_id(const history_t *h, int node, const char *id)
{
    for (size_t i = 0; i < h->n_msgs; i++)
        if (h->msgs[i].node == node && strcmp(h->msgs[i].id, id) == 0)
            return &h->msgs[i];
    return NULL;
}

static int cmp_line(const void *a, const void *b)
{
    const line_t *x = a, *y = b;
    if (x->ms != y->ms)
        return x->ms < y->ms ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

static void build_lines(const report_settings_t *s, const history_t *h, lines_t *ls)
{
    char who[32];
    for (size_t i = 0; i < h->n_faults; i++) {
        const hist_fault_t *f = &h->faults[i];
        hist_host_name(f->role, f->index, who, sizeof who);
        int node = f->role == HOST_AGENT ? f->index : -1;
        line_t *l = add(ls, f->start_ms, node, -1, NULL);
        if (l != NULL) {
            l->fault = true;
            if (f->kind == FAULT_LOSS)
                snprintf(l->text, sizeof l->text, "FAULT   %s: %d%% loss on its port", who, f->percent);
            else
                snprintf(l->text, sizeof l->text, "FAULT   %s: %s", who, fault_kind_str(f->kind));
        }
        if (f->end_ms && (l = add(ls, f->end_ms, node, -1, NULL)) != NULL) {
            l->fault = true;
            snprintf(l->text, sizeof l->text, "UNDONE  %s: %s %s", who, fault_kind_str(f->kind),
                     f->kind == FAULT_CUT ? "healed" : f->kind == FAULT_LOSS ? "loss removed" : "restarted");
        }
    }
    for (size_t i = 0; i < h->n_lives; i++) {
        const hist_life_t *L = &h->lives[i];
        line_t *l = add(ls, L->start_ms, L->node, -1, NULL);
        if (l != NULL) {
            l->fault = true;
            snprintf(l->text, sizeof l->text, "PROC    n%d agent started", L->node + 1);
        }
        if (L->end_ms && (l = add(ls, L->end_ms, L->node, -1, NULL)) != NULL) {
            l->fault = true;
            snprintf(l->text, sizeof l->text, "PROC    n%d agent ended", L->node + 1);
        }
    }
    for (size_t i = 0; i < h->n_submits; i++) {
        const hist_submit_t *x = &h->submits[i];
        ADDF(ls, x->written_ms, x->node, -1, x->token, "SUBMIT  %s -> n%d %s ttl %lld s%s", x->token, x->node + 1,
             x->method == HIST_TEXT ? "textLogging" : "shellCommand", (long long)(x->ttl_ms / 1000),
             x->node_down ? " (node down or cut)" : "");
    }
    for (size_t i = 0; i < h->n_msgs; i++) {
        const hist_msg_t *m = &h->msgs[i];
        ADDF(ls, m->accepted_ms, m->node, -1, m->token, "ACCEPT  %s n%d %s seq %llu", m->token, m->node + 1, m->id,
             (unsigned long long)m->seq);
        if (m->finished_ms)
            ADDF(ls, m->finished_ms, m->node, -1, m->token, "RESULT  %s n%d %s %s%s after %u attempts%s%s", m->token,
                 m->node + 1, m->id, hist_status_str(m->status), m->has_ack ? " (agent's answer)" : " (central)",
                 m->attempts, m->error[0] ? ": " : "", m->error);
    }
    for (size_t i = 0; i < h->n_ledger; i++) {
        const hist_ledger_t *x = &h->ledger[i];
        const hist_msg_t *m = msg_by_id(h, x->node, x->id);
        const char *tok = m ? m->token : "?";
        ADDF(ls, x->claimed_ms, x->node, -1, tok, "LEDGER  n%d %s %s claimed", x->node + 1, tok, x->id);
        if (x->started_ms)
            ADDF(ls, x->started_ms, x->node, -1, tok, "LEDGER  n%d %s started", x->node + 1, tok);
        if (x->finished_ms)
            ADDF(ls, x->finished_ms, x->node, -1, tok, "LEDGER  n%d %s finished %s", x->node + 1, tok,
                 hist_status_str(x->status));
    }
    for (size_t i = 0; i < h->n_trans; i++) {
        const hist_trans_t *t = &h->trans[i];
        ADDF(ls, t->ms, t->node, t->res, NULL, "ELECT   n%d %s: %s -> %s", t->node + 1, s->res_ids[t->res],
             hist_state_str(t->from), hist_state_str(t->to));
    }
    for (size_t i = 0; i < h->n_anomalies; i++)
        ADDF(ls, h->anomalies[i].ms, -1, -1, NULL, "RUNNER  %s", h->anomalies[i].text);
    if (ls->n > 0)
        qsort(ls->l, ls->n, sizeof *ls->l, cmp_line);
}

static void print_line(FILE *out, const history_t *h, const line_t *l)
{
    fprintf(out, "  %+10.3f s  %s\n", (double)(l->ms - h->run_start_ms) / 1000.0, l->text);
}

/* ---- output ---------------------------------------------------------------------------------- */

void report_replay_cmd(const report_settings_t *s, char *buf, size_t len)
{
    snprintf(buf, len, "build/tests/chaos --seed %llu --duration %d --rate %g --tx %g --tw %g%s",
             (unsigned long long)s->seed, s->duration_s, s->rate, s->tx, s->tw, s->retries ? " --retries" : "");
}

void report_figures(FILE *out, const report_settings_t *s, const history_t *h, const check_report_t *r)
{
    fprintf(out, "# settings: seed %llu, %d s of faults and commands at %.1f/s%s; agents tx %.2f s, "
                 "transitionWait %.2f s; %d agents, %d resources, 3 NATS servers, central, observer\n",
            (unsigned long long)s->seed, s->duration_s, s->rate, s->retries ? " (some with limited retries)" : "",
            s->tx, s->tw, h->n_nodes, h->n_res);
    fprintf(out, "# faults:");
    for (int k = 0; k < FAULT_KINDS; k++)
        fprintf(out, "%s %zu %s", k ? "," : "", r->faults[k], fault_kind_str((fault_kind_t)k));
    fprintf(out, " (%zu agent processes in all)\n", r->agent_lives);
    fprintf(out, "# messages: %zu submitted (%zu to a node down or cut then), %zu accepted, %zu with a final "
                 "result:",
            r->submitted, r->submitted_to_down, r->accepted, r->finished);
    for (int st = 1; st < 9; st++)
        if (r->by_status[st])
            fprintf(out, " %s %zu", hist_status_str(st), r->by_status[st]);
    fprintf(out, "\n#   ran %zu (trace lines %zu, ledger rows %zu); EXPIRED by central %zu (%zu of them had run: "
                 "\"may have run\"), answered EXPIRED by the agent %zu; INTERRUPTED with a start line %zu; "
                 "repeated result lines %zu\n",
            r->ran, r->trace_lines, r->ledger_rows, r->expired_by_central, r->expired_by_central_ran,
            r->expired_by_agent, r->interrupted_started, r->repeated_log_lines);
    fprintf(out, "# elections over %.1f s (bounds: two ACTIVE outside a partition %lld ms, no ACTIVE %lld ms):\n",
            (double)r->measured_ms / 1000.0, (long long)r->double_bound_ms, (long long)r->gap_bound_ms);
    for (int k = 0; k < h->n_res; k++) {
        const check_res_t *c = &r->res[k];
        fprintf(out, "#   %s: %zu transitions, %zu to ACTIVE; two ACTIVE %.3f s during partitions, %.3f s "
                     "outside (%zu stretches, longest %lld ms); longest no-ACTIVE with a healthy candidate "
                     "%lld ms at %+.1f s (%zu gaps)\n",
                s->res_ids[k], c->transitions, c->activations, (double)c->double_partition_ms / 1000.0,
                (double)c->double_outside_ms / 1000.0, c->outside_stretches, (long long)c->longest_outside_ms,
                (long long)c->longest_gap_ms,
                c->gaps ? (double)(c->longest_gap_at - h->run_start_ms) / 1000.0 : 0.0, c->gaps);
    }
    fprintf(out, "# recorder: observer saw %zu events; %zu checked, %zu of them missing; %zu in fault windows "
                 "(%zu missing, %zu of those in kill -9 windows); recorder files hold %zu; final stop: %s, "
                 "%llu written in its last run (files: %zu), %llu dropped\n",
            r->observed, r->rec_checked, r->rec_missing, r->rec_excluded, r->rec_excluded_missing,
            r->rec_kill_window_missing, r->recorded, h->recorder_stop_seen ? "seen" : "NOT SEEN",
            (unsigned long long)h->recorder_written, r->recorded_last_run,
            (unsigned long long)h->recorder_dropped);
}

static bool related(const check_violation_t *v, const line_t *l)
{
    if (v->token[0] != '\0')
        return l->node == v->node && strcmp(l->token, v->token) == 0;
    bool near = v->ms == 0 || (l->ms >= v->ms - CONTEXT_MS && l->ms <= v->ms + CONTEXT_MS);
    if (!near)
        return false;
    if (v->res >= 0)
        return l->res == v->res || l->fault;
    return l->fault || strncmp(l->text, "RUNNER", 6) == 0;
}

void report_violations(FILE *out, const report_settings_t *s, const history_t *h, const check_report_t *r)
{
    lines_t ls = {0};
    build_lines(s, h, &ls);
    for (size_t i = 0; i < r->n_v; i++) {
        const check_violation_t *v = &r->v[i];
        fprintf(out, "VIOLATION %zu: %s\n", i + 1, v->text);
        if (i >= 20)
            continue; /* the history file has the rest */
        size_t shown = 0;
        for (size_t k = 0; k < ls.n && shown < CONTEXT_MAX_LINES; k++)
            if (related(v, &ls.l[k])) {
                print_line(out, h, &ls.l[k]);
                shown++;
            }
        if (v->token[0] != '\0' && v->node >= 0) {
            fprintf(out, "  trace of n%d around it:", v->node + 1);
            size_t first = SIZE_MAX, n_node = 0;
            for (size_t k = 0; k < h->n_execs; k++)
                if (h->execs[k].node == v->node) {
                    if (first == SIZE_MAX && strcmp(h->execs[k].token, v->token) == 0)
                        first = n_node;
                    n_node++;
                }
            size_t pos = 0;
            for (size_t k = 0; k < h->n_execs; k++)
                if (h->execs[k].node == v->node) {
                    if (first != SIZE_MAX && pos + 6 >= first && pos <= first + 6)
                        fprintf(out, " %c:%s", h->execs[k].phase, h->execs[k].token);
                    pos++;
                }
            fprintf(out, first == SIZE_MAX ? " (not in the trace)\n" : "\n");
        }
    }
    if (r->v_dropped)
        fprintf(out, "... and %zu more violations\n", r->v_dropped);
    free(ls.l);
}

int report_write_history(const char *path, const report_settings_t *s, const history_t *h)
{
    FILE *fp = fopen(path, "w");
    if (fp == NULL)
        return -1;
    char cmd[256];
    report_replay_cmd(s, cmd, sizeof cmd);
    fprintf(fp, "# chaos history; times from the start of the faults; replay: %s\n", cmd);
    lines_t ls = {0};
    build_lines(s, h, &ls);
    for (size_t k = 0; k < ls.n; k++)
        print_line(fp, h, &ls.l[k]);
    free(ls.l);
    for (int n = 0; n < h->n_nodes; n++) {
        fprintf(fp, "# trace of n%d, in file order:\n", n + 1);
        size_t col = 0;
        for (size_t k = 0; k < h->n_execs; k++)
            if (h->execs[k].node == n)
                fprintf(fp, "%c:%s%s", h->execs[k].phase, h->execs[k].token, ++col % 12 ? " " : "\n");
        fprintf(fp, "\n");
    }
    return fclose(fp) == 0 ? 0 : -1;
}
