/*
 * pool.h - a bounded pool of worker threads for commands.
 *
 * Jobs wait in a FIFO of at most max_queued entries and run on one of
 * `workers` threads. Shutdown stops intake at once, hands jobs that never
 * started to `drop`, gives running jobs a grace period, then raises the
 * cancel flag they were given (exec kills their process groups) and joins.
 */
#ifndef BOSUN_AGENT_POOL_H
#define BOSUN_AGENT_POOL_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "status.h"

typedef struct pool pool_t;

/* Runs one job; must check *cancel now and then, and free job. */
typedef void (*pool_run_fn)(void *ctx, void *job, const atomic_bool *cancel);
/* Disposes of a job that never ran; must free job. */
typedef void (*pool_drop_fn)(void *ctx, void *job);

bosun_status_t pool_new(int workers, int max_queued, pool_run_fn run, pool_drop_fn drop, void *ctx,
                        pool_t **out);

/*
 * Queues job (ownership passes to the pool on BOSUN_OK). Returns
 * BOSUN_ERR_TOO_BIG when the queue is full and BOSUN_ERR_CLOSED after
 * shutdown began; the caller keeps job then.
 */
bosun_status_t pool_submit(pool_t *p, void *job);

/* Jobs running now, and waiting. */
size_t pool_running(pool_t *p);
size_t pool_queued(pool_t *p);

/*
 * Stops intake, drops queued jobs, waits up to grace_ms for running ones,
 * then cancels them, joins every worker and frees p. NULL is a no-op.
 */
void pool_shutdown(pool_t *p, uint64_t grace_ms);

#endif
