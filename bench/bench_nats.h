/*
 * bench_nats.h - NATS pieces the fleet benchmarks share (bench_fleet,
 * bench_scrape): a connection, and answering central's time-sync pings as
 * an agent would.
 */
#ifndef BOSUN_BENCH_NATS_H
#define BOSUN_BENCH_NATS_H

#include <nats/nats.h>
#include <stdatomic.h>
#include <stdbool.h>

/*
 * A connection to url that does not reconnect; send_asap sends every
 * publish at once (for replies), else nats.c batches. NULL on failure.
 */
natsConnection *bench_nats_connect(const char *url, bool send_asap);

/*
 * A subscription callback for "*.command.ping": answers each Command with an
 * OK Ack carrying the receive and reply times (wall clock, us), as an agent
 * does. closure: an atomic_uint_fast64_t counting the answers sent.
 */
void bench_answer_ping(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure);

#endif
