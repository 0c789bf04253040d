/*
 * mirror.h - the election's telemetry to NATS (<node>.event.bid and
 * <node>.event.state), published on a thread of its own.
 *
 * nats.c holds a connection's lock while it reconnects, through each TCP
 * connect attempt (up to nats.connectTimeoutSecs), and a publish waits for
 * that lock. The election thread must never wait on the broker (DESIGN.md:
 * failover does not wait on it), so it only queues here, and this thread
 * publishes. The queue is bounded: when it is full the oldest message goes
 * (telemetry: newer bids and states follow) and is counted.
 */
#ifndef BOSUN_AGENT_MIRROR_H
#define BOSUN_AGENT_MIRROR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "status.h"

typedef struct mirror mirror_t;

/* Publishes one message; may block (it runs on the mirror's thread). */
typedef void (*mirror_publish_fn)(void *arg, const char *subject, const uint8_t *data, size_t len);

/* Starts the thread; publish(arg, ...) sends. *out is owned by the caller (mirror_free). */
bosun_status_t mirror_new(mirror_publish_fn publish, void *arg, size_t capacity, mirror_t **out);

/* Queues a copy of the message; never waits for publish. False when out of memory. */
bool mirror_push(mirror_t *m, const char *subject, const uint8_t *data, size_t len);

/* Messages dropped because the queue was full. */
uint64_t mirror_dropped(mirror_t *m);

/*
 * Gives the thread up to wait_ms to publish what is queued, then stops it
 * (waiting for a publish in progress, which the NATS client bounds with its
 * own timeouts) and frees m; what is left in the queue is dropped. NULL is
 * a no-op.
 */
void mirror_free(mirror_t *m, int wait_ms);

#endif
