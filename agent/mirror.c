/* mirror.c - election telemetry published on its own thread (see mirror.h). */
#include "mirror.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    char *subject;
    uint8_t *data;
    size_t len;
} item_t;

struct mirror {
    mirror_publish_fn publish;
    void *arg;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t wake;      /* the thread: work or stop */
    pthread_cond_t idle;      /* mirror_free: the queue ran empty */
    item_t *ring;
    size_t cap, head, count;
    bool busy;                /* a publish is in progress */
    bool stop;
    uint64_t dropped;
};

static void item_free(item_t *it)
{
    free(it->subject);
    free(it->data);
}

static void *run(void *arg)
{
    mirror_t *m = arg;
    pthread_mutex_lock(&m->mu);
    for (;;) {
        while (!m->stop && m->count == 0)
            pthread_cond_wait(&m->wake, &m->mu);
        if (m->stop)
            break;
        item_t it = m->ring[m->head];
        m->head = (m->head + 1) % m->cap;
        m->count--;
        m->busy = true;
        pthread_mutex_unlock(&m->mu);
        m->publish(m->arg, it.subject, it.data, it.len); /* may block: nobody waits for us */
        item_free(&it);
        pthread_mutex_lock(&m->mu);
        m->busy = false;
        if (m->count == 0)
            pthread_cond_broadcast(&m->idle);
    }
    pthread_mutex_unlock(&m->mu);
    return NULL;
}

bosun_status_t mirror_new(mirror_publish_fn publish, void *arg, size_t capacity, mirror_t **out)
{
    mirror_t *m = calloc(1, sizeof *m);
    if (m == NULL || capacity == 0 || (m->ring = calloc(capacity, sizeof *m->ring)) == NULL) {
        free(m);
        return BOSUN_ERR_NOMEM;
    }
    m->publish = publish;
    m->arg = arg;
    m->cap = capacity;
    pthread_mutex_init(&m->mu, NULL);
    pthread_cond_init(&m->wake, NULL);
    pthread_cond_init(&m->idle, NULL);
    if (pthread_create(&m->thread, NULL, run, m) != 0) {
        pthread_cond_destroy(&m->idle);
        pthread_cond_destroy(&m->wake);
        pthread_mutex_destroy(&m->mu);
        free(m->ring);
        free(m);
        return BOSUN_ERR_SYS;
    }
    *out = m;
    return BOSUN_OK;
}

bool mirror_push(mirror_t *m, const char *subject, const uint8_t *data, size_t len)
{
    item_t it = {strdup(subject), malloc(len ? len : 1), len};
    if (it.subject == NULL || it.data == NULL) {
        item_free(&it);
        return false;
    }
    if (len > 0)
        memcpy(it.data, data, len);
    item_t old = {0};
    pthread_mutex_lock(&m->mu);
    if (m->count == m->cap) { /* full: the oldest goes */
        old = m->ring[m->head];
        m->head = (m->head + 1) % m->cap;
        m->count--;
        m->dropped++;
    }
    m->ring[(m->head + m->count) % m->cap] = it;
    m->count++;
    pthread_cond_signal(&m->wake);
    pthread_mutex_unlock(&m->mu);
    item_free(&old);
    return true;
}

uint64_t mirror_dropped(mirror_t *m)
{
    pthread_mutex_lock(&m->mu);
    uint64_t d = m->dropped;
    pthread_mutex_unlock(&m->mu);
    return d;
}

void mirror_free(mirror_t *m, int wait_ms)
{
    if (m == NULL)
        return;
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += wait_ms / 1000;
    deadline.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&m->mu);
    while (m->count > 0 || m->busy)
        if (pthread_cond_timedwait(&m->idle, &m->mu, &deadline) != 0)
            break;
    m->stop = true;
    pthread_cond_signal(&m->wake);
    pthread_mutex_unlock(&m->mu);
    /* Waits for a publish in progress, which the NATS client bounds by its own timeouts. */
    pthread_join(m->thread, NULL);
    for (size_t k = 0; k < m->count; k++)
        item_free(&m->ring[(m->head + k) % m->cap]);
    pthread_cond_destroy(&m->idle);
    pthread_cond_destroy(&m->wake);
    pthread_mutex_destroy(&m->mu);
    free(m->ring);
    free(m);
}
