/* pool.c - fixed worker threads over a bounded FIFO. */
#include "pool.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

struct pool {
    pthread_mutex_t mu;
    pthread_cond_t work;  /* a job was queued, or closing */
    pthread_cond_t idle;  /* a job finished */
    void **queue;         /* ring buffer of max_queued entries */
    size_t cap, head, count;
    size_t running;
    bool closing;
    atomic_bool cancel;
    pool_run_fn run;
    pool_drop_fn drop;
    void *ctx;
    pthread_t *threads;
    int n_threads;
};

static void *worker(void *arg)
{
    pool_t *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (p->count == 0 && !p->closing)
            pthread_cond_wait(&p->work, &p->mu);
        if (p->closing) /* what is still queued is pool_shutdown's to drop */
            break;
        void *job = p->queue[p->head];
        p->head = (p->head + 1) % p->cap;
        p->count--;
        p->running++;
        pthread_mutex_unlock(&p->mu);
        p->run(p->ctx, job, &p->cancel);
        pthread_mutex_lock(&p->mu);
        p->running--;
        pthread_cond_broadcast(&p->idle);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

bosun_status_t pool_new(int workers, int max_queued, pool_run_fn run, pool_drop_fn drop, void *ctx,
                        pool_t **out)
{
    if (workers < 1 || max_queued < 0 || run == NULL || drop == NULL)
        return BOSUN_ERR_INVALID;
    pool_t *p = calloc(1, sizeof *p);
    if (p == NULL)
        return BOSUN_ERR_NOMEM;
    p->cap = (size_t)max_queued + (size_t)workers;
    p->queue = calloc(p->cap, sizeof *p->queue);
    p->threads = calloc((size_t)workers, sizeof *p->threads);
    if (p->queue == NULL || p->threads == NULL) {
        free(p->queue);
        free(p->threads);
        free(p);
        return BOSUN_ERR_NOMEM;
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->work, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&p->idle, &ca);
    pthread_condattr_destroy(&ca);
    atomic_init(&p->cancel, false);
    p->run = run;
    p->drop = drop;
    p->ctx = ctx;
    for (int i = 0; i < workers; i++) {
        if (pthread_create(&p->threads[i], NULL, worker, p) != 0) {
            p->n_threads = i;
            pool_shutdown(p, 0);
            return BOSUN_ERR_SYS;
        }
        p->n_threads = i + 1;
    }
    *out = p;
    return BOSUN_OK;
}

bosun_status_t pool_submit(pool_t *p, void *job)
{
    bosun_status_t rc = BOSUN_OK;
    pthread_mutex_lock(&p->mu);
    if (p->closing)
        rc = BOSUN_ERR_CLOSED;
    else if (p->count + p->running >= p->cap) /* every worker busy and max_queued waiting */
        rc = BOSUN_ERR_TOO_BIG;
    else {
        p->queue[(p->head + p->count) % p->cap] = job;
        p->count++;
        pthread_cond_signal(&p->work);
    }
    pthread_mutex_unlock(&p->mu);
    return rc;
}

size_t pool_running(pool_t *p)
{
    pthread_mutex_lock(&p->mu);
    size_t n = p->running;
    pthread_mutex_unlock(&p->mu);
    return n;
}

size_t pool_queued(pool_t *p)
{
    pthread_mutex_lock(&p->mu);
    size_t n = p->count;
    pthread_mutex_unlock(&p->mu);
    return n;
}

void pool_shutdown(pool_t *p, uint64_t grace_ms)
{
    if (p == NULL)
        return;
    pthread_mutex_lock(&p->mu);
    p->closing = true;
    /* Jobs that never started are handed back: they were never executed. */
    while (p->count > 0) {
        void *job = p->queue[p->head];
        p->head = (p->head + 1) % p->cap;
        p->count--;
        pthread_mutex_unlock(&p->mu);
        p->drop(p->ctx, job);
        pthread_mutex_lock(&p->mu);
    }
    pthread_cond_broadcast(&p->work);

    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += (time_t)(grace_ms / 1000u);
    deadline.tv_nsec += (long)(grace_ms % 1000u) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    while (p->running > 0)
        if (pthread_cond_timedwait(&p->idle, &p->mu, &deadline) == ETIMEDOUT)
            break;
    pthread_mutex_unlock(&p->mu);

    atomic_store(&p->cancel, true);
    for (int i = 0; i < p->n_threads; i++)
        pthread_join(p->threads[i], NULL);
    pthread_cond_destroy(&p->work);
    pthread_cond_destroy(&p->idle);
    pthread_mutex_destroy(&p->mu);
    free(p->threads);
    free(p->queue);
    free(p);
}
