/* dispatch.c - requests out, answers queued for the loop. */
#include "dispatch.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "codec.h"

#define MAX_QUEUED_ANSWERS 100000

typedef struct answer_node {
    dispatch_answer_t a;
    struct answer_node *next;
} answer_node_t;

struct dispatch {
    bosun_nats_t *nats;
    const sign_key_t *key;     /* borrowed; NULL: commands go unsigned */
    const bosun_log_t *log;
    char *central_id;
    char prefix[64];
    size_t prefix_len;
    bool subscribed;          /* on_answer is subscribed with closure d */
    int fd;
    pthread_mutex_t mu;
    answer_node_t *head, *tail;
    size_t queued;
    uint64_t dropped;
};

/* Parses "<prefix>.<node>.<seq>.<attempt>". */
static bool parse_reply(const dispatch_t *d, const char *subject, dispatch_answer_t *a)
{
    if (strncmp(subject, d->prefix, d->prefix_len) != 0 || subject[d->prefix_len] != '.')
        return false;
    const char *node = subject + d->prefix_len + 1;
    const char *dot = strchr(node, '.');
    if (dot == NULL || (size_t)(dot - node) > BOSUN_NAME_MAX || dot == node)
        return false;
    memcpy(a->node, node, (size_t)(dot - node));
    a->node[dot - node] = '\0';
    char *end;
    a->seq = strtoull(dot + 1, &end, 10);
    if (*end != '.')
        return false;
    unsigned long att = strtoul(end + 1, &end, 10);
    if (*end != '\0' || att > UINT32_MAX)
        return false;
    a->attempt = (uint32_t)att;
    return bosun_name_valid(a->node);
}

static void on_answer(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
    (void)nc;
    (void)sub;
    dispatch_t *d = closure;
    answer_node_t *n = calloc(1, sizeof *n);
    if (n != NULL && parse_reply(d, natsMsg_GetSubject(msg), &n->a)) {
        n->a.no_responders = natsMsg_IsNoResponders(msg);
        int len = natsMsg_GetDataLength(msg);
        if (len > 0 && (size_t)len <= BOSUN_CODEC_MAX_PAYLOAD && (n->a.data = malloc((size_t)len)) != NULL) {
            memcpy(n->a.data, natsMsg_GetData(msg), (size_t)len);
            n->a.len = (size_t)len;
        }
        pthread_mutex_lock(&d->mu);
        bool full = d->queued >= MAX_QUEUED_ANSWERS;
        if (!full) {
            if (d->tail)
                d->tail->next = n;
            else
                d->head = n;
            d->tail = n;
            d->queued++;
        } else {
            d->dropped++; /* the attempt times out and is asked again */
        }
        pthread_mutex_unlock(&d->mu);
        if (full) {
            free(n->a.data);
            free(n);
        } else {
            uint64_t one = 1;
            ssize_t w = write(d->fd, &one, sizeof one);
            (void)w;
        }
    } else {
        free(n);
    }
    natsMsg_Destroy(msg);
}

bosun_status_t dispatch_new(bosun_nats_t *nats, const char *central_id, const sign_key_t *key,
                            const bosun_log_t *log, dispatch_t **out, bosun_err_t *err)
{
    dispatch_t *d = calloc(1, sizeof *d);
    if (d == NULL || (d->central_id = strdup(central_id)) == NULL) {
        free(d);
        return BOSUN_ERR_NOMEM;
    }
    d->nats = nats;
    d->key = key;
    d->log = log;
    pthread_mutex_init(&d->mu, NULL);
    uint8_t rnd[6];
    randombytes_buf(rnd, sizeof rnd);
    snprintf(d->prefix, sizeof d->prefix, "_INBOX.bosun.%s.%02x%02x%02x%02x%02x%02x", central_id,
             rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5]);
    d->prefix_len = strlen(d->prefix);
    d->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (d->fd < 0) {
        dispatch_free(d);
        return bosun_errf(err, BOSUN_ERR_SYS, "eventfd: %s", strerror(errno));
    }
    char subject[96];
    snprintf(subject, sizeof subject, "%s.>", d->prefix);
    /* Made again on a reopened connection (natsconn.h). */
    bosun_status_t rc = bosun_nats_subscribe(nats, subject, on_answer, d, 1000000, 512 * 1024 * 1024, err);
    if (rc != BOSUN_OK) {
        dispatch_free(d);
        return rc;
    }
    d->subscribed = true;
    *out = d;
    return BOSUN_OK;
}

void dispatch_free(dispatch_t *d)
{
    if (d == NULL)
        return;
    if (d->subscribed)
        bosun_nats_unsubscribe(d->nats, d);
    for (answer_node_t *n = d->head, *next; n != NULL; n = next) {
        next = n->next;
        free(n->a.data);
        free(n);
    }
    if (d->fd >= 0)
        close(d->fd);
    pthread_mutex_destroy(&d->mu);
    free(d->central_id);
    free(d);
}

int dispatch_fd(const dispatch_t *d) { return d->fd; }

bosun_status_t dispatch_send(dispatch_t *d, const message_t *m)
{
    char subject[2 * BOSUN_NAME_MAX + 16], reply[160];
    snprintf(subject, sizeof subject, "%s.%s.%s", m->node, m->is_event ? "event" : "command", m->method);
    snprintf(reply, sizeof reply, "%s.%s.%" PRIu64 ".%u", d->prefix, m->node, m->seq, m->attempts);

    uint8_t *buf = NULL;
    size_t len = 0;
    bosun_status_t rc;
    if (m->is_event) {
        Bosun__Event ev = BOSUN__EVENT__INIT;
        message_to_event(m, d->central_id, &ev);
        rc = bosun_codec_encode(&ev.base, &buf, &len);
    } else {
        Bosun__Command cmd = BOSUN__COMMAND__INIT;
        sign_sig_t sig;
        message_to_command(m, d->central_id, m->attempts, &cmd);
        rc = d->key != NULL ? sign_command(d->key, &cmd, &sig) : BOSUN_OK;
        if (rc == BOSUN_OK)
            rc = bosun_codec_encode(&cmd.base, &buf, &len);
    }
    if (rc != BOSUN_OK)
        return rc;
    natsStatus s = natsConnection_PublishRequest(bosun_nats_conn(d->nats), subject, reply, buf, (int)len);
    free(buf);
    if (s != NATS_OK) {
        log_debug(d->log, "dispatch", "%s attempt %u: %s", m->id, m->attempts, natsStatus_GetText(s));
        return BOSUN_ERR_NATS;
    }
    return BOSUN_OK;
}

bool dispatch_take(dispatch_t *d, dispatch_answer_t *out)
{
    pthread_mutex_lock(&d->mu);
    answer_node_t *n = d->head;
    if (n != NULL) {
        d->head = n->next;
        if (d->head == NULL)
            d->tail = NULL;
        d->queued--;
    }
    if (d->head == NULL) { /* drain the eventfd while empty, under the lock */
        uint64_t v;
        ssize_t r = read(d->fd, &v, sizeof v);
        (void)r;
    }
    pthread_mutex_unlock(&d->mu);
    if (n == NULL)
        return false;
    *out = n->a;
    free(n);
    return true;
}
