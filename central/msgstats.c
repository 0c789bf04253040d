/* msgstats.c - delivery counters and the latency histogram, behind a mutex. */
#include "msgstats.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* 5 ms (a command on loopback) to an hour (long retries, a node away). */
const uint64_t msgstats_bucket_ms[MSGSTATS_BUCKETS] = {
    5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 900000, 3600000,
};

struct msgstats {
    pthread_mutex_t mu;
    uint64_t accepted, pending, by_status[MSGSTATS_STATUSES];
    uint64_t retried, finished, sum_ms;
    uint64_t bucket[MSGSTATS_BUCKETS]; /* not cumulative: bucket[i] counts (bound[i-1], bound[i]] */
};

bosun_status_t msgstats_new(msgstats_t **out)
{
    msgstats_t *s = calloc(1, sizeof *s);
    if (s == NULL)
        return BOSUN_ERR_NOMEM;
    pthread_mutex_init(&s->mu, NULL);
    *out = s;
    return BOSUN_OK;
}

void msgstats_free(msgstats_t *s)
{
    if (s == NULL)
        return;
    pthread_mutex_destroy(&s->mu);
    free(s);
}

void msgstats_set_counts(msgstats_t *s, uint64_t accepted, uint64_t pending,
                         const uint64_t by_status[MSGSTATS_STATUSES])
{
    pthread_mutex_lock(&s->mu);
    s->accepted = accepted;
    s->pending = pending;
    memcpy(s->by_status, by_status, sizeof s->by_status);
    pthread_mutex_unlock(&s->mu);
}

void msgstats_accepted(msgstats_t *s, uint64_t n)
{
    pthread_mutex_lock(&s->mu);
    s->accepted += n;
    s->pending += n;
    pthread_mutex_unlock(&s->mu);
}

void msgstats_finished(msgstats_t *s, int status, uint64_t latency_ms)
{
    size_t i = 0;
    while (i < MSGSTATS_BUCKETS && latency_ms > msgstats_bucket_ms[i])
        i++;
    pthread_mutex_lock(&s->mu);
    if (status >= 0 && status < MSGSTATS_STATUSES)
        s->by_status[status]++;
    if (s->pending > 0)
        s->pending--;
    s->finished++;
    s->sum_ms += latency_ms;
    if (i < MSGSTATS_BUCKETS)
        s->bucket[i]++;
    pthread_mutex_unlock(&s->mu);
}

void msgstats_set_retried(msgstats_t *s, uint64_t retried)
{
    pthread_mutex_lock(&s->mu);
    if (retried > s->retried)
        s->retried = retried;
    pthread_mutex_unlock(&s->mu);
}

void msgstats_read(msgstats_t *s, msgstats_view_t *out)
{
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&s->mu);
    out->accepted = s->accepted;
    out->pending = s->pending;
    memcpy(out->by_status, s->by_status, sizeof out->by_status);
    out->retried = s->retried;
    out->finished = s->finished;
    out->sum_ms = s->sum_ms;
    uint64_t run = 0;
    for (size_t i = 0; i < MSGSTATS_BUCKETS; i++)
        out->le[i] = run += s->bucket[i];
    pthread_mutex_unlock(&s->mu);
}
