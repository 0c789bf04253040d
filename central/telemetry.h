/*
 * telemetry.h - the fleet view's NATS side: what the agents report comes
 * in, time-sync pings go out, liveness transitions are published.
 *
 * One subscription on "*.event.*" takes <node>.event.heartbeat, .state and
 * .bid (one subscription keeps each agent's messages in the order it sent
 * them; other events are skipped). nats.c's callback does only what habit
 * 6 and 8 allow: size check, decode, check that the payload's node is the
 * subject's, then queue the decoded message and wake central's loop
 * through an eventfd. The loop takes the whole queue at once
 * (telemetry_take) and applies it to the fleet and ownership cores.
 *
 * Pings are Commands sent with natsConnection_PublishRequest to
 * <node>.command.ping with the reply subject <prefix>.<node>.<seq>, under
 * one wildcard subscription; the answer's arrival time t3 is taken in the
 * callback, before anything else, so queueing never inflates the round
 * trip. They bypass the outbox and the store: a lost ping is just a lost
 * sample.
 */
#ifndef BOSUN_CENTRAL_TELEMETRY_H
#define BOSUN_CENTRAL_TELEMETRY_H

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bosun.pb-c.h"
#include "log.h"
#include "name.h"
#include "natsconn.h"
#include "status.h"

/* At most this many reports wait for the loop; more are dropped and counted. */
#define TELEMETRY_QUEUE_MAX 262144u

typedef enum {
    TELEMETRY_HEARTBEAT = 0, /* msg is a Bosun__Heartbeat */
    TELEMETRY_STATE,         /* msg is a Bosun__StateChange */
    TELEMETRY_BID,           /* msg is a Bosun__ElectionPacket */
    TELEMETRY_PING_ANSWER,   /* seq, t1..t3 set; msg NULL */
    TELEMETRY_KIND_COUNT,
} telemetry_kind_t;

typedef struct {
    telemetry_kind_t kind;
    char node[BOSUN_NAME_MAX + 1]; /* from the subject */
    ProtobufCMessage *msg;         /* owned by the queue; see telemetry_take */
    void *arena;                   /* where msg lives (telemetry.c) */
    uint64_t seq;
    uint64_t t1_us, t2_us, t3_us;
} telemetry_item_t;

typedef struct {
    uint64_t received[TELEMETRY_KIND_COUNT]; /* queued for the loop */
    uint64_t rejected;      /* undecodable, too big, or naming another node */
    uint64_t dropped;       /* queue full */
    uint64_t queued;        /* waiting for the loop now */
    uint64_t nats_pending;  /* in nats.c's buffers of its subscriptions now */
    uint64_t nats_dropped;  /* nats.c's slow-consumer drops on them, since start */
    uint64_t pings_sent;
    uint64_t pings_failed;  /* could not be published */
} telemetry_stats_t;

typedef struct telemetry telemetry_t;

/*
 * Subscribes on nats (borrowed; must outlive *out). central_id names the
 * pings' sender and their reply prefix. *out is owned by the caller.
 */
bosun_status_t telemetry_new(bosun_nats_t *nats, const char *central_id, const bosun_log_t *log,
                             telemetry_t **out, bosun_err_t *err);

/* Unsubscribes and frees what is queued; NULL is a no-op. */
void telemetry_free(telemetry_t *t);

/* Readable while reports wait. */
int telemetry_fd(const telemetry_t *t);

/*
 * Takes everything queued, in arrival order: *items is valid until the next
 * telemetry_take() or telemetry_free(), which free the messages in it.
 * Returns the number of items.
 */
size_t telemetry_take(telemetry_t *t, const telemetry_item_t **items);

/*
 * Sends ping seq to node; *t0_us is central's wall clock just before it
 * left. BOSUN_ERR_NATS when it could not be published.
 */
bosun_status_t telemetry_ping(telemetry_t *t, const char *node, uint64_t seq, uint64_t *t0_us);

/* Publishes on central.event.nodeStatus (fire and forget). */
void telemetry_publish_status(telemetry_t *t, const Bosun__NodeStatus *ns);

/* Counters; each is read on its own. */
void telemetry_stats(telemetry_t *t, telemetry_stats_t *out);

#endif
