/* history.c - the records of a chaos run (see history.h). */
#include "history.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *hist_status_str(int status)
{
    static const char *const names[] = {"PENDING",  "OK",      "FAILED",      "RUNNING", "REJECTED",
                                        "EXPIRED", "INTERRUPTED", "TIMEOUT", "BUSY"};
    return status >= 0 && status < (int)(sizeof names / sizeof names[0]) ? names[status] : "?";
}

const char *hist_state_str(int state)
{
    static const char *const names[] = {"NONE", "IDLE", "GOING_ACTIVE", "ACTIVE"};
    return state >= 0 && state < 4 ? names[state] : "?";
}

const char *fault_kind_str(fault_kind_t k)
{
    static const char *const names[FAULT_KINDS] = {"agent kill -9", "agent SIGTERM", "central kill -9",
                                                   "nats kill -9",  "nats SIGTERM",  "cut",
                                                   "loss"};
    return (unsigned)k < FAULT_KINDS ? names[k] : "?";
}

const char *hist_host_name(host_role_t role, int index, char *buf, size_t len)
{
    switch (role) {
    case HOST_AGENT:
        snprintf(buf, len, "n%d", index + 1);
        break;
    case HOST_NATS:
        snprintf(buf, len, "nats s%d", index + 1);
        break;
    case HOST_CENTRAL:
        snprintf(buf, len, "central");
        break;
    case HOST_OBSERVER:
        snprintf(buf, len, "observer");
        break;
    }
    return buf;
}

void history_init(history_t *h, int n_nodes, int n_res)
{
    memset(h, 0, sizeof *h);
    h->n_nodes = n_nodes;
    h->n_res = n_res;
}

void history_free(history_t *h)
{
    free(h->submits);
    free(h->msgs);
    free(h->execs);
    free(h->ledger);
    free(h->trans);
    free(h->lives);
    free(h->faults);
    free(h->observed);
    free(h->recorded);
    free(h->anomalies);
    memset(h, 0, sizeof *h);
}

/* Appends one element of size sz to a growable array; the new slot or NULL. */
static void *grow(void **arr, size_t *n, size_t *cap, size_t sz)
{
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 64;
        void *g = realloc(*arr, c * sz);
        if (g == NULL)
            return NULL;
        *arr = g;
        *cap = c;
    }
    return (char *)*arr + (*n)++ * sz;
}

#define ADD(h, name, x)                                                                       \
    do {                                                                                      \
        __typeof__(h->name) slot = grow((void **)&h->name, &h->n_##name, &h->cap_##name,      \
                                        sizeof *h->name);                                     \
        if (slot != NULL)                                                                     \
            *slot = *(x);                                                                     \
        return slot;                                                                          \
    } while (0)

hist_submit_t *history_add_submit(history_t *h, const hist_submit_t *x) { ADD(h, submits, x); }
hist_msg_t *history_add_msg(history_t *h, const hist_msg_t *x) { ADD(h, msgs, x); }
hist_exec_t *history_add_exec(history_t *h, const hist_exec_t *x) { ADD(h, execs, x); }
hist_ledger_t *history_add_ledger(history_t *h, const hist_ledger_t *x) { ADD(h, ledger, x); }
hist_trans_t *history_add_trans(history_t *h, const hist_trans_t *x) { ADD(h, trans, x); }
hist_life_t *history_add_life(history_t *h, const hist_life_t *x) { ADD(h, lives, x); }
hist_fault_t *history_add_fault(history_t *h, const hist_fault_t *x) { ADD(h, faults, x); }
hist_event_t *history_add_observed(history_t *h, const hist_event_t *x) { ADD(h, observed, x); }
hist_event_t *history_add_recorded(history_t *h, const hist_event_t *x) { ADD(h, recorded, x); }


void history_anomaly(history_t *h, int64_t ms, const char *fmt, ...)
{
    hist_anomaly_t *a = grow((void **)&h->anomalies, &h->n_anomalies, &h->cap_anomalies,
                             sizeof *h->anomalies);
    if (a == NULL)
        return;
    a->ms = ms;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a->text, sizeof a->text, fmt, ap);
    va_end(ap);
}

const hist_msg_t *history_find_msg(const history_t *h, int node, const char *token)
{
    for (size_t i = 0; i < h->n_msgs; i++)
        if (h->msgs[i].node == node && strcmp(h->msgs[i].token, token) == 0)
            return &h->msgs[i];
    return NULL;
}

uint64_t hist_hash(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}
