/*
 * fleetview.h - central's fleet view: liveness, time sync and resource
 * ownership, wired to NATS and to central's loop.
 *
 *   telemetry.c   NATS side: <node>.event.{heartbeat,state,bid} and ping
 *                 answers in (decoded and queued by nats.c's threads),
 *                 pings and central.event.nodeStatus out
 *   fleet.c       liveness, restarts, missing nodes, clock offsets (no I/O)
 *   ownership.c   who is ACTIVE per resource, DOUBLE/NONE alarms (no I/O)
 *   fleetview.c   this: applies the queue to the two cores on central's
 *                 loop, logs each transition and alarm, publishes each
 *                 transition, sends the pings that are due
 *
 * The loop polls fleetview_fd() and calls fleetview_take() when it is
 * readable, and fleetview_check() when the time it returned has come.
 * Log lines: INFO a node appeared, restarted or is ALIVE again; WARN SLOW,
 * WARN, REMOVED and a clock offset beyond timeSync.warnOffsetMs; ERROR
 * DEAD, MISSING and ownership alarms (their clearing at INFO); DEBUG every
 * 5 s a "fleet: stats:" line with the counts and counters (bench/ reads it).
 *
 * For an HTTP server on another thread: fleetview_fleet() and
 * fleetview_ownership() give the cores, whose snapshot functions are
 * thread-safe (fleet.h, ownership.h); fleetview_stats() likewise.
 */
#ifndef BOSUN_CENTRAL_FLEETVIEW_H
#define BOSUN_CENTRAL_FLEETVIEW_H

#include <stdint.h>

#include "config.h"
#include "fleet.h"
#include "log.h"
#include "natsconn.h"
#include "ownership.h"
#include "status.h"
#include "telemetry.h"

typedef struct fleetview fleetview_t;

/*
 * Sets up the cores for cfg (borrowed, as are nats and log; they must
 * outlive *out) and subscribes. Expected nodes' start grace begins now.
 */
bosun_status_t fleetview_new(const bosun_central_config_t *cfg, bosun_nats_t *nats, const bosun_log_t *log,
                             fleetview_t **out, bosun_err_t *err);

/* Unsubscribes and frees; NULL is a no-op. Call before closing nats. */
void fleetview_free(fleetview_t *v);

/* Readable while reports wait. */
int fleetview_fd(const fleetview_t *v);

/* Applies every report that has arrived, and carries out what follows. */
void fleetview_take(fleetview_t *v);

/*
 * Takes what has arrived, advances liveness, sends due pings, evaluates
 * ownership alarms. Returns the monotonic ms of the next check
 * (liveness.checkIntervalMs on).
 */
uint64_t fleetview_check(fleetview_t *v);

/* The cores, for thread-safe snapshots (borrowed). */
fleet_t *fleetview_fleet(fleetview_t *v);
ownership_t *fleetview_ownership(fleetview_t *v);

/* The telemetry counters. */
void fleetview_stats(fleetview_t *v, telemetry_stats_t *out);

#endif
