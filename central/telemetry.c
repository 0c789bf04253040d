/* telemetry.c - agents' reports in, pings out, node status out. */
#include "telemetry.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "clock.h"
#include "codec.h"
#include "ratelimit.h"

/* A heartbeat carries host facts, resources and probes: bounded well below nats' 1 MiB. */
#define MAX_REPORT_BYTES (256u * 1024u)
#define MAX_ACK_BYTES (64u * 1024u)

typedef struct {
    telemetry_item_t *v;
    size_t n, cap;
} batch_t;

/*
 * Decoded reports live in an arena each: protobuf-c's dozen small
 * allocations per heartbeat become one malloc on nats.c's thread and one
 * free on the loop's, instead of a dozen frees across threads.
 */
typedef struct chunk {
    struct chunk *next;
    size_t size, used;
    max_align_t data[];
} chunk_t;

typedef struct {
    chunk_t *head;
    size_t next_size; /* of the next chunk: a guess from the payload size, then 1 KiB */
} arena_t;

static void *arena_alloc(void *arena_data, size_t size)
{
    arena_t *a = arena_data;
    chunk_t *c = a->head;
    size = (size + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
    if (c == NULL || c->size - c->used < size) {
        size_t cap = size > a->next_size ? size : a->next_size;
        a->next_size = 1024;
        chunk_t *n = malloc(sizeof *n + cap);
        if (n == NULL)
            return NULL;
        n->size = cap;
        n->used = 0;
        n->next = c;
        a->head = c = n;
    }
    void *p = (char *)c->data + c->used;
    c->used += size;
    return p;
}

static void arena_free_one(void *arena_data, void *p)
{
    (void)arena_data;
    (void)p; /* the whole arena goes at once */
}

static void arena_destroy(chunk_t *c)
{
    while (c != NULL) {
        chunk_t *next = c->next;
        free(c);
        c = next;
    }
}

/* Decodes len bytes as type d into a new arena (*arena); NULL if malformed. */
static ProtobufCMessage *arena_decode(const ProtobufCMessageDescriptor *d, const void *buf, size_t len,
                                      chunk_t **arena)
{
    /* Unpacked, a heartbeat takes about three times its wire size (structs, pointers, strings). */
    arena_t ar = {.head = NULL, .next_size = 512 + 4 * len};
    ProtobufCAllocator a = {.alloc = arena_alloc, .free = arena_free_one, .allocator_data = &ar};
    ProtobufCMessage *m = protobuf_c_message_unpack(d, &a, len, len > 0 ? buf : (const void *)"");
    if (m == NULL) {
        arena_destroy(ar.head);
        ar.head = NULL;
    }
    *arena = ar.head;
    return m;
}

struct telemetry {
    bosun_nats_t *nats;
    const bosun_log_t *log;
    char central_id[BOSUN_NAME_MAX + 1];
    char prefix[96];
    size_t prefix_len;
    bool subscribed;   /* on_event and on_ping_answer, with closure t */
    int fd;
    pthread_mutex_t mu;
    batch_t in;                 /* filled by callbacks (under mu) */
    batch_t out;                /* handed to the loop */
    ratelimit_t reject_log;
    atomic_uint_fast64_t received[TELEMETRY_KIND_COUNT], rejected, dropped, pings_sent, pings_failed;
};

static void free_batch_messages(batch_t *b)
{
    for (size_t i = 0; i < b->n; i++)
        arena_destroy(b->v[i].arena);
    b->n = 0;
}

/* Queues item (taking its msg) and wakes the loop when the queue was empty. */
static void enqueue(telemetry_t *t, telemetry_item_t *item)
{
    bool wake = false, queued = false;
    pthread_mutex_lock(&t->mu);
    if (t->in.n < TELEMETRY_QUEUE_MAX) {
        if (t->in.n == t->in.cap) {
            size_t cap = t->in.cap ? t->in.cap * 2 : 1024;
            telemetry_item_t *v = realloc(t->in.v, cap * sizeof *v);
            if (v != NULL) {
                t->in.v = v;
                t->in.cap = cap;
            }
        }
        if (t->in.n < t->in.cap) {
            wake = t->in.n == 0;
            t->in.v[t->in.n++] = *item;
            queued = true;
        }
    }
    pthread_mutex_unlock(&t->mu);
    if (!queued) {
        atomic_fetch_add(&t->dropped, 1);
        arena_destroy(item->arena);
        return;
    }
    atomic_fetch_add(&t->received[item->kind], 1);
    if (wake) {
        uint64_t one = 1;
        ssize_t w = write(t->fd, &one, sizeof one);
        (void)w;
    }
}

static void reject(telemetry_t *t, const char *subject, const char *why)
{
    atomic_fetch_add(&t->rejected, 1);
    uint64_t suppressed = 0;
    if (ratelimit_allow(&t->reject_log, bosun_mono_ms(), &suppressed))
        log_warn(t->log, "fleet", "%.200s refused: %s%s", subject, why,
                 suppressed ? " (and more refusals not logged)" : "");
}

/* "<node>.event.<kind>": copies node, returns kind's text, or NULL. */
static const char *split_subject(const char *subject, char node[BOSUN_NAME_MAX + 1])
{
    const char *dot = strchr(subject, '.');
    if (dot == NULL || dot == subject || (size_t)(dot - subject) > BOSUN_NAME_MAX ||
        strncmp(dot, ".event.", 7) != 0)
        return NULL;
    memcpy(node, subject, (size_t)(dot - subject));
    node[dot - subject] = '\0';
    return dot + 7;
}

static void on_event(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
    (void)nc;
    (void)sub;
    telemetry_t *t = closure;
    const char *subject = natsMsg_GetSubject(msg);
    telemetry_item_t item = {0};
    const char *what = split_subject(subject, item.node);
    const ProtobufCMessageDescriptor *type = NULL;
    if (what == NULL)
        goto out;
    if (strcmp(what, "heartbeat") == 0) {
        item.kind = TELEMETRY_HEARTBEAT;
        type = &bosun__heartbeat__descriptor;
    } else if (strcmp(what, "state") == 0) {
        item.kind = TELEMETRY_STATE;
        type = &bosun__state_change__descriptor;
    } else if (strcmp(what, "bid") == 0) {
        item.kind = TELEMETRY_BID;
        type = &bosun__election_packet__descriptor;
    } else {
        goto out; /* an event for a node, not a report from one */
    }
    if (!bosun_name_valid(item.node)) {
        reject(t, subject, "not a valid node name");
        goto out;
    }
    int len = natsMsg_GetDataLength(msg);
    if (len < 0 || (size_t)len > MAX_REPORT_BYTES) {
        reject(t, subject, "payload larger than 256 KiB");
        goto out;
    }
    chunk_t *arena = NULL;
    if ((item.msg = arena_decode(type, natsMsg_GetData(msg), (size_t)len, &arena)) == NULL) {
        char why[96];
        snprintf(why, sizeof why, "payload is not a valid %s", bosun_codec_type_name(type));
        reject(t, subject, why);
        goto out;
    }
    item.arena = arena;
    const char *named = item.kind == TELEMETRY_HEARTBEAT ? ((Bosun__Heartbeat *)item.msg)->node
                        : item.kind == TELEMETRY_STATE   ? ((Bosun__StateChange *)item.msg)->node
                                                         : ((Bosun__ElectionPacket *)item.msg)->sender;
    if (named == NULL || strcmp(named, item.node) != 0) {
        char why[160];
        snprintf(why, sizeof why, "payload names node '%.64s'", named ? named : "");
        reject(t, subject, why);
        arena_destroy(item.arena);
        goto out;
    }
    enqueue(t, &item);
out:
    natsMsg_Destroy(msg);
}

static void on_ping_answer(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
    (void)nc;
    (void)sub;
    telemetry_t *t = closure;
    telemetry_item_t item = {.kind = TELEMETRY_PING_ANSWER, .t3_us = bosun_wall_us()};
    const char *subject = natsMsg_GetSubject(msg);
    ProtobufCMessage *m = NULL;
    bosun_err_t err;
    /* <prefix>.<node>.<seq> */
    if (natsMsg_IsNoResponders(msg) || strncmp(subject, t->prefix, t->prefix_len) != 0 ||
        subject[t->prefix_len] != '.')
        goto out;
    const char *node = subject + t->prefix_len + 1, *dot = strchr(node, '.');
    if (dot == NULL || dot == node || (size_t)(dot - node) > BOSUN_NAME_MAX)
        goto out;
    memcpy(item.node, node, (size_t)(dot - node));
    item.node[dot - node] = '\0';
    char *end;
    item.seq = strtoull(dot + 1, &end, 10);
    if (*end != '\0' || item.seq == 0 || !bosun_name_valid(item.node))
        goto out;
    int len = natsMsg_GetDataLength(msg);
    if (bosun_codec_decode(&bosun__ack__descriptor, natsMsg_GetData(msg), len > 0 ? (size_t)len : 0,
                           MAX_ACK_BYTES, &m, &err) != BOSUN_OK) {
        reject(t, subject, err.msg);
        goto out;
    }
    const Bosun__Ack *ack = (const Bosun__Ack *)m;
    if (ack->status != BOSUN__ACK_STATUS__ACK_STATUS_OK) {
        reject(t, subject, "ping was not answered OK");
        goto out;
    }
    item.t1_us = ack->recv_time_us;
    item.t2_us = ack->reply_time_us;
    enqueue(t, &item);
out:
    if (m != NULL)
        protobuf_c_message_free_unpacked(m, NULL);
    natsMsg_Destroy(msg);
}

bosun_status_t telemetry_new(bosun_nats_t *nats, const char *central_id, const bosun_log_t *log,
                             telemetry_t **out, bosun_err_t *err)
{
    telemetry_t *t = calloc(1, sizeof *t);
    if (t == NULL)
        return bosun_errf(err, BOSUN_ERR_NOMEM, "out of memory");
    t->nats = nats;
    t->log = log;
    snprintf(t->central_id, sizeof t->central_id, "%s", central_id);
    pthread_mutex_init(&t->mu, NULL);
    ratelimit_init(&t->reject_log, 10);
    uint8_t rnd[6];
    randombytes_buf(rnd, sizeof rnd);
    snprintf(t->prefix, sizeof t->prefix, "_INBOX.bosun.ts.%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2],
             rnd[3], rnd[4], rnd[5]);
    t->prefix_len = strlen(t->prefix);
    t->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (t->fd < 0) {
        bosun_errf(err, BOSUN_ERR_SYS, "eventfd: %s", strerror(errno));
        telemetry_free(t);
        return BOSUN_ERR_SYS;
    }
    char reply[128];
    snprintf(reply, sizeof reply, "%s.>", t->prefix);
    /* Heartbeats of a large fleet arrive in bursts: let nats.c buffer them. Both are made again
     * on a reopened connection (natsconn.h). */
    t->subscribed = true;
    bosun_status_t rc = bosun_nats_subscribe(nats, "*.event.*", on_event, t, 4000000, 1024 * 1024 * 1024, err);
    if (rc == BOSUN_OK)
        rc = bosun_nats_subscribe(nats, reply, on_ping_answer, t, 1000000, 256 * 1024 * 1024, err);
    if (rc != BOSUN_OK) {
        telemetry_free(t);
        return rc;
    }
    *out = t;
    return BOSUN_OK;
}

void telemetry_free(telemetry_t *t)
{
    if (t == NULL)
        return;
    if (t->subscribed)
        bosun_nats_unsubscribe(t->nats, t);
    free_batch_messages(&t->in);
    free_batch_messages(&t->out);
    free(t->in.v);
    free(t->out.v);
    if (t->fd >= 0)
        close(t->fd);
    pthread_mutex_destroy(&t->mu);
    free(t);
}

int telemetry_fd(const telemetry_t *t) { return t->fd; }

size_t telemetry_take(telemetry_t *t, const telemetry_item_t **items)
{
    free_batch_messages(&t->out);
    pthread_mutex_lock(&t->mu);
    batch_t b = t->out;
    t->out = t->in;
    t->in = b;
    uint64_t v;
    ssize_t r = read(t->fd, &v, sizeof v); /* under the lock: the next enqueue wakes us again */
    (void)r;
    pthread_mutex_unlock(&t->mu);
    *items = t->out.v;
    return t->out.n;
}

bosun_status_t telemetry_ping(telemetry_t *t, const char *node, uint64_t seq, uint64_t *t0_us)
{
    char subject[BOSUN_NAME_MAX + 32], reply[BOSUN_NAME_MAX + 160], id[BOSUN_NAME_MAX + 48];
    snprintf(subject, sizeof subject, "%s.command.ping", node);
    snprintf(reply, sizeof reply, "%s.%s.%" PRIu64, t->prefix, node, seq);
    snprintf(id, sizeof id, "timesync-%s-%" PRIu64, t->central_id, seq);
    Bosun__Command cmd = BOSUN__COMMAND__INIT;
    cmd.id = id;
    cmd.node = (char *)node;
    cmd.method = "ping";
    cmd.kind = BOSUN__MESSAGE_KIND__MESSAGE_KIND_COMMAND;
    cmd.sender = t->central_id;
    cmd.attempt = 1;
    cmd.ttl_ms = 0; /* never "expired": the node's clock may be far off, which is the point */
    uint8_t buf[512];
    size_t len = protobuf_c_message_get_packed_size(&cmd.base);
    if (len > sizeof buf)
        return BOSUN_ERR_TOO_BIG;
    cmd.created_ms = bosun_wall_ms();
    len = protobuf_c_message_pack(&cmd.base, buf);
    *t0_us = bosun_wall_us();
    natsStatus s = natsConnection_PublishRequest(bosun_nats_conn(t->nats), subject, reply, buf, (int)len);
    if (s != NATS_OK) {
        atomic_fetch_add(&t->pings_failed, 1);
        return BOSUN_ERR_NATS;
    }
    atomic_fetch_add(&t->pings_sent, 1);
    return BOSUN_OK;
}

void telemetry_publish_status(telemetry_t *t, const Bosun__NodeStatus *ns)
{
    uint8_t buf[512];
    size_t len = protobuf_c_message_get_packed_size(&ns->base);
    if (len > sizeof buf)
        return;
    len = protobuf_c_message_pack(&ns->base, buf);
    natsConnection_Publish(bosun_nats_conn(t->nats), "central.event.nodeStatus", buf, (int)len);
}

void telemetry_stats(telemetry_t *t, telemetry_stats_t *out)
{
    memset(out, 0, sizeof *out);
    for (int k = 0; k < TELEMETRY_KIND_COUNT; k++)
        out->received[k] = atomic_load(&t->received[k]);
    out->rejected = atomic_load(&t->rejected);
    out->dropped = atomic_load(&t->dropped);
    out->pings_sent = atomic_load(&t->pings_sent);
    out->pings_failed = atomic_load(&t->pings_failed);
    pthread_mutex_lock(&t->mu);
    out->queued = t->in.n;
    pthread_mutex_unlock(&t->mu);
    bosun_nats_sub_stats(t->nats, t, &out->nats_pending, &out->nats_dropped);
}
