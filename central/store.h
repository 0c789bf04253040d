/*
 * store.h - central's durable state in SQLite (WAL, synchronous=FULL).
 *
 * Every accepted message with its id and accept sequence, every delivery
 * attempt, each final outcome with its Ack, and the inbox position. A
 * message is accepted when store_accept() commits it together with the
 * inbox position it was read up to: a crash at any moment loses nothing and
 * reads nothing twice. On restart store_load_pending() returns every
 * unfinished message in accept order, so each node's queue resumes in order.
 *
 * Finishing messages is batched (store_finish queues, store_flush commits):
 * losing an unflushed result in a crash only means the message is sent
 * again, and the agent answers with the result it stored (exactly once).
 * All calls come from central's one loop thread, except the read-only
 * queries used by `bosun-central results`, which open their own handle.
 */
#ifndef BOSUN_CENTRAL_STORE_H
#define BOSUN_CENTRAL_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bosun.pb-c.h"
#include "inbox.h"
#include "message.h"
#include "status.h"

typedef struct store store_t;

/* Opens or creates <dir>/central.db. *out is owned by the caller. */
bosun_status_t store_open(const char *dir, store_t **out, bosun_err_t *err);
void store_close(store_t *s);

/* The inbox position last committed (zeroed if none). */
bosun_status_t store_inbox_position(store_t *s, inbox_position_t *pos);

/*
 * In one transaction: gives each message its seq and id (message_make_id
 * with accepted_ms = now_ms), inserts them, records the rejects, and saves
 * pos. On failure nothing is stored and the messages keep no id.
 */
bosun_status_t store_accept(store_t *s, message_t **msgs, size_t n, const inbox_reject_t *rejects,
                            size_t n_rejects, const inbox_position_t *pos, uint64_t now_ms,
                            bosun_err_t *err);

/* Saves only the inbox position (rotation). */
bosun_status_t store_save_position(store_t *s, const inbox_position_t *pos, bosun_err_t *err);

/* Records one delivery attempt (batched with finishes; see store_flush). */
bosun_status_t store_attempt(store_t *s, const message_t *m, uint64_t sent_ms, const char *outcome);

/*
 * Queues the final outcome of m: status, its Ack (may be NULL) and an
 * error text; committed by the next store_flush().
 */
bosun_status_t store_finish(store_t *s, const message_t *m, Bosun__AckStatus status,
                            const Bosun__Ack *ack, const char *error, uint64_t finished_ms);

/* Commits what store_attempt/store_finish queued. */
bosun_status_t store_flush(store_t *s, bosun_err_t *err);

/* Calls fn for each unfinished message in accept order; fn takes ownership. */
bosun_status_t store_load_pending(store_t *s, void (*fn)(void *arg, message_t *m), void *arg,
                                  bosun_err_t *err);

/* Next accept sequence number (for tests and stats). */
uint64_t store_next_seq(store_t *s);

/* ---- read side: `bosun-central results` and the HTTP API ---------------------- */

typedef struct {
    const char *node;      /* NULL: any */
    const char *id;        /* NULL: any */
    uint64_t since_ms;     /* finished at or after; 0: any */
    bool include_pending;  /* also messages not finished yet */
    size_t limit;          /* 0: no limit */
    bool newest_first;     /* latest accepted first: with limit, the newest `limit` */
} store_query_t;

/*
 * Calls fn with each matching message as a Result (message, status, ack,
 * attempts, times, error), in accept order (or its reverse with
 * newest_first; SQLite walks the primary key, or the (node, seq) index
 * with a node, backwards and stops at the limit). The Result and what it
 * points to are valid only during the call.
 */
bosun_status_t store_results(store_t *s, const store_query_t *q,
                             void (*fn)(void *arg, const Bosun__Result *r), void *arg, bosun_err_t *err);

/* Counts: accepted, pending, and finished by status (index = AckStatus). */
typedef struct {
    uint64_t accepted;
    uint64_t pending;
    uint64_t rejected_drops;
    uint64_t by_status[16];
} store_counts_t;

bosun_status_t store_counts(store_t *s, store_counts_t *out);

/*
 * Whether the store can be read: one lookup of the newest message (O(1),
 * unlike store_counts, which counts rows). BOSUN_ERR_DB when it cannot.
 */
bosun_status_t store_check(store_t *s);

/* Opens <dir>/central.db read-only (for tools running beside a live central). */
bosun_status_t store_open_readonly(const char *dir, store_t **out, bosun_err_t *err);

#endif
