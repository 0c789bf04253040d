/*
 * prober.h - the connectivity probes' own thread: the I/O around probe.c.
 *
 * One thread owns the probe core, the TCP probe listener (probes.listen:
 * accepts and closes at once, nothing read or written) and the outgoing
 * non-blocking connects, all in one poll(). NATS pings go out as requests
 * to <peer>.command.ping with replies to a private inbox; nats.c's callbacks
 * (answers, and peers' heartbeats on *.event.heartbeat with probePeers, or
 * on <peer>.event.heartbeat for configured peers without an address) only
 * validate and queue for the thread. Nothing here is on the heartbeat's or
 * the commands' path: the heartbeat takes a copy of the latest results.
 */
#ifndef BOSUN_AGENT_PROBER_H
#define BOSUN_AGENT_PROBER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "log.h"
#include "natsconn.h"
#include "probe.h"
#include "status.h"

typedef struct prober prober_t;

typedef struct {
    probe_stats_t core;        /* attempts, failures, learned, forgotten... */
    uint64_t accepted;         /* connections our listener accepted */
    uint64_t dropped_events;   /* answers/heartbeats lost to a full queue */
    uint64_t bad_heartbeats;   /* undecodable, or not from the node named */
} prober_stats_t;

/* True when cfg asks for probes or a probe listener. */
bool prober_wanted(const bosun_agent_config_t *cfg);

/*
 * Builds the prober from cfg->probes: the core with the configured peers,
 * the listener (bound now, so a taken port fails the start with an error
 * naming probes.listen) and the NATS subscriptions. cfg, log and nats are
 * borrowed and must outlive the prober. Nothing is probed until
 * prober_start().
 */
bosun_status_t prober_new(const bosun_agent_config_t *cfg, const bosun_log_t *log, bosun_nats_t *nats,
                          prober_t **out, bosun_err_t *err);

/* Starts the thread. */
bosun_status_t prober_start(prober_t *pr);

/*
 * Stops the thread (it wakes at once: at most one pass of its loop, which
 * never blocks), closes the sockets and unsubscribes. Safe to call twice;
 * NULL is a no-op.
 */
void prober_stop(prober_t *pr);

/* Stops if needed and frees; call after the NATS connection is closed. NULL: no-op. */
void prober_free(prober_t *pr);

/* The ADDR:PORT told to peers in the heartbeat, or "" (borrowed). */
const char *prober_advertised(const prober_t *pr);

/*
 * Copies the latest result per target into a new array (*out, caller frees;
 * NULL when there are none) and returns how many.
 */
size_t prober_snapshot(prober_t *pr, probe_result_t **out);

/* Counters since prober_new(). */
void prober_stats(prober_t *pr, prober_stats_t *out);

#endif
