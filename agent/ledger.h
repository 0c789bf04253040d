/*
 * ledger.h - the agent's durable record of every message id it executed.
 *
 * This is what makes execution exactly-once while delivery is at-least-once:
 * an id is claimed before it runs, marked started with the process group it
 * runs in, and finished with its packed Ack. A retry of a claimed id gets
 * RUNNING, of a finished id the stored Ack. The record lives in SQLite (WAL,
 * synchronous=FULL), so it survives a crash of the agent and of the machine.
 * After a crash, ledger_recover() reports what had started and not finished
 * (the agent records those as INTERRUPTED and never runs them again) and
 * forgets what was claimed but never started (it did not run; the sender's
 * retry runs it).
 *
 * Thread-safe: one connection behind a mutex.
 */
#ifndef BOSUN_AGENT_LEDGER_H
#define BOSUN_AGENT_LEDGER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "status.h"

typedef struct ledger ledger_t;

typedef enum {
    LEDGER_NEW,      /* claimed now: the caller must run it */
    LEDGER_RUNNING,  /* claimed before and not finished */
    LEDGER_DONE,     /* finished; its Ack is returned */
} ledger_claim_t;

/* An execution that started and never finished (found by ledger_recover). */
typedef struct {
    char *id;
    char *method;
    pid_t pgid;
    uint64_t start_ticks;
    uint64_t started_ms;
} ledger_orphan_t;

/* Opens (creating if needed) the ledger at path. *out owned by the caller. */
bosun_status_t ledger_open(const char *path, ledger_t **out, bosun_err_t *err);

/* Closes and frees; NULL is a no-op. */
void ledger_close(ledger_t *l);

/*
 * Claims id for method at now_ms. *state says what the ledger knew; for
 * LEDGER_DONE, *ack / *ack_len receive a malloc'd copy of the stored Ack.
 */
bosun_status_t ledger_claim(ledger_t *l, const char *id, const char *method, uint64_t now_ms,
                            ledger_claim_t *state, uint8_t **ack, size_t *ack_len, bosun_err_t *err);

/* Records that id's process group runs (pgid, leader start time in ticks). */
bosun_status_t ledger_started(ledger_t *l, const char *id, pid_t pgid, uint64_t start_ticks,
                              uint64_t now_ms);

/* Stores id's final Ack (packed). */
bosun_status_t ledger_finish(ledger_t *l, const char *id, const uint8_t *ack, size_t len,
                             uint64_t now_ms);

/* Forgets a claim that never started (queue full, shutdown). */
bosun_status_t ledger_forget(ledger_t *l, const char *id);

/*
 * After a restart: deletes claims that never started (count in *forgotten)
 * and returns, in a new array (*orphans, *n), those that started and did not
 * finish. Free with ledger_orphans_free().
 */
bosun_status_t ledger_recover(ledger_t *l, ledger_orphan_t **orphans, size_t *n, size_t *forgotten);
void ledger_orphans_free(ledger_orphan_t *orphans, size_t n);

/* Deletes finished records older than before_ms; count in *purged. */
bosun_status_t ledger_purge(ledger_t *l, uint64_t before_ms, size_t *purged);

#endif
