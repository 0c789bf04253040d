/*
 * msgstats.h - figures about message delivery that central keeps in memory
 * for /metrics, so a scrape reads no SQLite (counting rows of the store
 * takes tens of ms at 200,000 messages, and grows with it):
 *   - messages accepted, pending, and finished by status: all time, taken
 *     from the store once at start and kept up to date by central's loop;
 *   - since central started: attempts retried, and the time from accepting
 *     a message to its final result, as a histogram.
 *
 * Written by central's loop (take_inbox, settle), read by the HTTP thread: a
 * mutex guards them, held only to add one figure or copy them all.
 */
#ifndef BOSUN_CENTRAL_MSGSTATS_H
#define BOSUN_CENTRAL_MSGSTATS_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"

/* Final statuses are counted by Bosun__AckStatus value below this. */
#define MSGSTATS_STATUSES 16

/* Upper bounds of the latency buckets, in ms; a last +Inf bucket is implied. */
#define MSGSTATS_BUCKETS 16
extern const uint64_t msgstats_bucket_ms[MSGSTATS_BUCKETS];

typedef struct {
    uint64_t accepted, pending;        /* all time (from the store at start) */
    uint64_t by_status[MSGSTATS_STATUSES]; /* finished, all time, by AckStatus */
    uint64_t retried;                  /* outbox_retries() when last told */
    uint64_t finished;                 /* messages with a final result: the histogram's count */
    uint64_t le[MSGSTATS_BUCKETS];     /* cumulative: finished within msgstats_bucket_ms[i] */
    uint64_t sum_ms;                   /* the latencies added up */
} msgstats_view_t;

typedef struct msgstats msgstats_t;

bosun_status_t msgstats_new(msgstats_t **out);
void msgstats_free(msgstats_t *s); /* NULL is a no-op */

/* The store's counts at start: accepted, pending, finished by status. */
void msgstats_set_counts(msgstats_t *s, uint64_t accepted, uint64_t pending,
                         const uint64_t by_status[MSGSTATS_STATUSES]);

/* n messages were accepted (committed to the store). */
void msgstats_accepted(msgstats_t *s, uint64_t n);

/* One message finished with status latency_ms after it was accepted. */
void msgstats_finished(msgstats_t *s, int status, uint64_t latency_ms);

/* The outbox's retry count now (a counter: only a larger value is kept). */
void msgstats_set_retried(msgstats_t *s, uint64_t retried);

/* A consistent copy; any thread. */
void msgstats_read(msgstats_t *s, msgstats_view_t *out);

#endif
