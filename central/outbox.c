/* outbox.c - per-node queues, one message on its way per node, retries. */
#include "outbox.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RUNNING_POLL_MIN_MS 250u
/* After the ttl of a message that was sent: keep asking this long at least. */
#define EXPIRY_GRACE_MIN_MS 60000u

typedef struct {
    char *node;
    message_t **q;        /* q[head .. head+count) in accept order */
    size_t head, count, cap;
    bool in_flight;
    uint64_t deadline;    /* ack deadline of the head while in flight */
    uint64_t next_expiry; /* earliest give_up_at() among its messages */
} queue_t;

struct outbox {
    queue_t **queues;     /* sorted by node name */
    size_t n, cap;
    size_t pending;
    size_t in_flight;
    uint64_t retries;     /* failed attempts that were scheduled again */
    uint64_t (*random)(void *);
    void *random_arg;
};

void outbox_actions_init(outbox_actions_t *a) { memset(a, 0, sizeof *a); }

void outbox_actions_clear(outbox_actions_t *a)
{
    a->n_sends = 0;
    a->n_finals = 0;
}

void outbox_actions_free(outbox_actions_t *a)
{
    free(a->sends);
    free(a->finals);
    outbox_actions_init(a);
}

static void push_send(outbox_actions_t *a, message_t *m)
{
    if (a->n_sends == a->cap_sends) {
        size_t cap = a->cap_sends ? a->cap_sends * 2 : 16;
        message_t **grown = realloc(a->sends, cap * sizeof *grown);
        if (grown == NULL)
            return; /* the attempt times out and is retried */
        a->sends = grown;
        a->cap_sends = cap;
    }
    a->sends[a->n_sends++] = m;
}

/* Hands m back as finished; never fails (a message must not vanish). */
static bool push_final(outbox_actions_t *a, message_t *m, Bosun__AckStatus st, const Bosun__Ack *ack,
                       const char *error)
{
    if (a->n_finals == a->cap_finals) {
        size_t cap = a->cap_finals ? a->cap_finals * 2 : 16;
        outbox_final_t *grown = realloc(a->finals, cap * sizeof *grown);
        if (grown == NULL)
            return false;
        a->finals = grown;
        a->cap_finals = cap;
    }
    outbox_final_t *f = &a->finals[a->n_finals++];
    f->m = m;
    f->status = st;
    f->ack = ack;
    snprintf(f->error, sizeof f->error, "%s", error ? error : "");
    return true;
}

bosun_status_t outbox_new(uint64_t (*random)(void *), void *random_arg, outbox_t **out)
{
    outbox_t *o = calloc(1, sizeof *o);
    if (o == NULL)
        return BOSUN_ERR_NOMEM;
    o->random = random;
    o->random_arg = random_arg;
    *out = o;
    return BOSUN_OK;
}

void outbox_free(outbox_t *o)
{
    if (o == NULL)
        return;
    for (size_t i = 0; i < o->n; i++) {
        queue_t *q = o->queues[i];
        for (size_t k = 0; k < q->count; k++)
            message_free(q->q[q->head + k]);
        free(q->q);
        free(q->node);
        free(q);
    }
    free(o->queues);
    free(o);
}

/* Binary search; *at receives where node is or would go. */
static queue_t *find(const outbox_t *o, const char *node, size_t *at)
{
    size_t lo = 0, hi = o->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(o->queues[mid]->node, node);
        if (c == 0) {
            if (at)
                *at = mid;
            return o->queues[mid];
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (at)
        *at = lo;
    return NULL;
}

/* When the ttl makes central give m up (see outbox.h). */
static uint64_t give_up_at(const message_t *m)
{
    if (m->ttl_ms == 0 || m->acknowledged)
        return UINT64_MAX;
    uint64_t t = m->accepted_ms + m->ttl_ms;
    if (m->attempts > 0) {
        uint64_t grace = 3 * m->ack_timeout_ms;
        t += grace > EXPIRY_GRACE_MIN_MS ? grace : EXPIRY_GRACE_MIN_MS;
    }
    return t;
}

static void refresh_expiry(queue_t *q)
{
    q->next_expiry = UINT64_MAX;
    for (size_t k = 0; k < q->count; k++) {
        uint64_t t = give_up_at(q->q[q->head + k]);
        if (t < q->next_expiry)
            q->next_expiry = t;
    }
}

/*
 * A message's give_up_at only ever grows (first send, RUNNING) or the
 * message leaves the queue, so the queue's minimum can only change when the
 * message held it: rescan only then (keeps finishing a message O(1) in a
 * long queue).
 */
static void expiry_moved(queue_t *q, uint64_t old)
{
    if (old <= q->next_expiry)
        refresh_expiry(q);
}

bosun_status_t outbox_add(outbox_t *o, message_t *m)
{
    size_t at;
    queue_t *q = find(o, m->node, &at);
    if (q == NULL) {
        if (o->n == o->cap) {
            size_t cap = o->cap ? o->cap * 2 : 16;
            queue_t **grown = realloc(o->queues, cap * sizeof *grown);
            if (grown == NULL)
                return BOSUN_ERR_NOMEM;
            o->queues = grown;
            o->cap = cap;
        }
        q = calloc(1, sizeof *q);
        if (q == NULL || (q->node = strdup(m->node)) == NULL) {
            free(q);
            return BOSUN_ERR_NOMEM;
        }
        q->next_expiry = UINT64_MAX;
        memmove(&o->queues[at + 1], &o->queues[at], (o->n - at) * sizeof *o->queues);
        o->queues[at] = q;
        o->n++;
    }
    if (q->head + q->count == q->cap) {
        if (q->head > 0) { /* slide down before growing */
            memmove(q->q, q->q + q->head, q->count * sizeof *q->q);
            q->head = 0;
        }
        if (q->count == q->cap) {
            size_t cap = q->cap ? q->cap * 2 : 8;
            message_t **grown = realloc(q->q, cap * sizeof *grown);
            if (grown == NULL)
                return BOSUN_ERR_NOMEM;
            q->q = grown;
            q->cap = cap;
        }
    }
    m->failures = m->attempts;
    q->q[q->head + q->count++] = m;
    o->pending++;
    if (give_up_at(m) < q->next_expiry)
        q->next_expiry = give_up_at(m);
    return BOSUN_OK;
}

static uint64_t backoff(const outbox_t *o, const message_t *m)
{
    uint64_t wait = m->retry_wait_ms;
    for (uint32_t i = 1; i < m->failures && wait < m->max_retry_wait_ms; i++)
        wait *= 2;
    if (wait > m->max_retry_wait_ms)
        wait = m->max_retry_wait_ms;
    if (o->random != NULL) /* x 0.5 .. 1.5, so retries of many nodes spread out */
        wait = wait / 2 + o->random(o->random_arg) % (wait + 1);
    return wait > m->max_retry_wait_ms ? m->max_retry_wait_ms : wait;
}

/* Removes the head of q and hands it back as finished; false (and nothing
 * changed) when memory ran out, so it is finished next time. */
static bool finish_head(outbox_t *o, queue_t *q, Bosun__AckStatus st, const Bosun__Ack *ack,
                        const char *error, outbox_actions_t *out)
{
    message_t *m = q->q[q->head];
    uint64_t old = give_up_at(m);
    if (!push_final(out, m, st, ack, error))
        return false;
    if (q->in_flight)
        o->in_flight--;
    q->in_flight = false;
    q->head++;
    q->count--;
    o->pending--;
    if (q->count == 0)
        q->head = 0;
    expiry_moved(q, old);
    return true;
}

/* Gives up every message of q whose ttl has run out and which is not on
 * its way now, wherever it stands in the queue; the others keep their order. */
static void expire(outbox_t *o, queue_t *q, uint64_t now, outbox_actions_t *out)
{
    size_t kept = 0;
    for (size_t k = 0; k < q->count; k++) {
        message_t *m = q->q[q->head + k];
        bool busy = k == 0 && q->in_flight;
        char err[200];
        if (!busy && now >= give_up_at(m)) {
            if (m->attempts == 0)
                snprintf(err, sizeof err, "ttl of %llu ms ran out before it could be sent",
                         (unsigned long long)m->ttl_ms);
            else
                snprintf(err, sizeof err,
                         "ttl of %llu ms ran out and the node has not answered since; it was sent "
                         "%u times, so it may have run",
                         (unsigned long long)m->ttl_ms, m->attempts);
            if (push_final(out, m, BOSUN__ACK_STATUS__ACK_STATUS_EXPIRED, NULL, err)) {
                o->pending--;
                continue;
            }
        }
        q->q[q->head + kept++] = m;
    }
    q->count = kept;
    if (q->count == 0)
        q->head = 0;
    refresh_expiry(q);
}

/* An attempt went unanswered (or the node was not there): retry later or give up. */
static void failed_attempt(outbox_t *o, queue_t *q, const char *why, uint64_t now,
                           outbox_actions_t *out)
{
    message_t *m = q->q[q->head];
    if (q->in_flight)
        o->in_flight--;
    q->in_flight = false;
    m->failures++;
    if (m->retries >= 0 && m->failures > (uint32_t)m->retries) {
        char err[200];
        snprintf(err, sizeof err, "not delivered: %s, %u attempts and no retries left", why,
                 m->attempts);
        finish_head(o, q, BOSUN__ACK_STATUS__ACK_STATUS_EXPIRED, NULL, err, out);
        return;
    }
    m->next_attempt_ms = now + backoff(o, m);
    o->retries++;
}

void outbox_due(outbox_t *o, uint64_t now, outbox_actions_t *out)
{
    for (size_t i = 0; i < o->n; i++) {
        queue_t *q = o->queues[i];
        if (now >= q->next_expiry)
            expire(o, q, now, out);
        while (q->count > 0) {
            message_t *m = q->q[q->head];
            if (q->in_flight) {
                if (now >= q->deadline) {
                    failed_attempt(o, q, "no answer within ackTimeout", now, out);
                    continue; /* the head may have been given up */
                }
                break;
            }
            if (now >= m->next_attempt_ms) {
                uint64_t old = give_up_at(m);
                m->attempts++;
                if (m->attempts == 1) /* sent from now on: the grace applies */
                    expiry_moved(q, old);
                q->in_flight = true;
                q->deadline = now + m->ack_timeout_ms;
                o->in_flight++;
                push_send(out, m);
            }
            break;
        }
    }
}

void outbox_on_answer(outbox_t *o, const char *node, uint64_t seq, uint32_t attempt,
                      const Bosun__Ack *ack, bool no_responders, uint64_t now, outbox_actions_t *out)
{
    queue_t *q = find(o, node, NULL);
    if (q == NULL || q->count == 0 || q->q[q->head]->seq != seq)
        return; /* a late answer for a message already finished */
    message_t *m = q->q[q->head];
    bool current = q->in_flight && attempt == m->attempts;

    if (no_responders || ack == NULL || ack->status == BOSUN__ACK_STATUS__ACK_STATUS_BUSY) {
        if (current)
            failed_attempt(o, q, no_responders ? "node not listening" : "node busy", now, out);
        return;
    }
    if (ack->status == BOSUN__ACK_STATUS__ACK_STATUS_RUNNING) {
        uint64_t old = give_up_at(m);
        m->acknowledged = true; /* the node has it; the ttl no longer applies */
        expiry_moved(q, old);
        if (current) {
            q->in_flight = false;
            o->in_flight--;
            uint64_t poll = m->retry_wait_ms < RUNNING_POLL_MIN_MS ? RUNNING_POLL_MIN_MS : m->retry_wait_ms;
            m->next_attempt_ms = now + (poll > m->max_retry_wait_ms ? m->max_retry_wait_ms : poll);
        }
        return;
    }
    Bosun__AckStatus st = ack->status == BOSUN__ACK_STATUS__ACK_STATUS_UNSPECIFIED
                              ? BOSUN__ACK_STATUS__ACK_STATUS_FAILED
                              : ack->status;
    finish_head(o, q, st, ack, ack->error, out);
}

uint64_t outbox_next_deadline(const outbox_t *o)
{
    uint64_t next = UINT64_MAX;
    for (size_t i = 0; i < o->n; i++) {
        const queue_t *q = o->queues[i];
        if (q->count == 0)
            continue;
        const message_t *m = q->q[q->head];
        uint64_t t = q->in_flight ? q->deadline : m->next_attempt_ms;
        if (q->next_expiry < t)
            t = q->next_expiry;
        if (t < next)
            next = t;
    }
    return next;
}

size_t outbox_pending(const outbox_t *o) { return o->pending; }
uint64_t outbox_retries(const outbox_t *o) { return o->retries; }
size_t outbox_in_flight(const outbox_t *o) { return o->in_flight; }

size_t outbox_nodes(const outbox_t *o)
{
    size_t n = 0;
    for (size_t i = 0; i < o->n; i++)
        n += o->queues[i]->count > 0;
    return n;
}
