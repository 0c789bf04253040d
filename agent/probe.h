/*
 * probe.h - connectivity probes: whom to probe, when, and what was last
 * measured (Netring's connectivity matrix, from the agent's side).
 *
 * This is the protocol core, with no I/O: prober.c owns the thread, the
 * sockets and NATS, and feeds the core what happened and the time. The core
 * decides
 *  - the target set: the peers named in the config (kept for good) and,
 *    with probePeers, every node heard heartbeating (forgotten after
 *    forgetAfterMs of silence); never this node; at most maxTargets;
 *  - each target's TCP address: the configured one, else the one the target
 *    advertises in its heartbeat, else none, and then TCP is not measured
 *    (tcp_tested false), which is not a failure;
 *  - when each target is due: every intervalMs, one attempt at a time;
 *  - when a part of an attempt has taken longer than timeoutMs;
 *  - the latest finished result per target, which the heartbeat carries.
 *
 * An attempt has a TCP part (when an address is known) and a NATS part. It
 * is finished when both have reported or timed out; results of an older
 * attempt, or of a forgotten target, are ignored.
 *
 * Times are monotonic microseconds (a fake clock in tests); wall_ms is only
 * stamped into results. Not thread-safe: one owner calls everything.
 */
#ifndef BOSUN_AGENT_PROBE_H
#define BOSUN_AGENT_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "name.h"
#include "status.h"

#define PROBE_ADDR_MAX 64   /* "[IPv6]:PORT" with its NUL */
#define PROBE_ERROR_MAX 200

typedef struct probe probe_t;

typedef struct {
    const char *self;        /* this node: never a target (copied) */
    uint64_t interval_us;    /* between attempts to one target */
    uint64_t timeout_us;     /* per attempt; at most interval_us */
    uint64_t forget_us;      /* silence after which a learned target is dropped */
    size_t max_targets;
    bool learn;              /* probePeers: add every node heard heartbeating */
} probe_params_t;

/* One attempt to start: connect to address (if any) and ping target. */
typedef struct {
    char target[BOSUN_NAME_MAX + 1];
    char address[PROBE_ADDR_MAX]; /* "" : no TCP part */
    uint64_t seq;                 /* names this attempt in the _done calls */
} probe_job_t;

/* The outcome of one finished attempt (mirrors Bosun__ProbeResult). */
typedef struct {
    char target[BOSUN_NAME_MAX + 1];
    char address[PROBE_ADDR_MAX];  /* what TCP connected to; "" when not tested */
    bool tcp_tested;
    bool tcp_ok;
    uint32_t tcp_connect_us;       /* >= 1 when tcp_ok, else 0 */
    bool nats_ok;
    uint32_t nats_rtt_us;          /* >= 1 when nats_ok, else 0 */
    uint64_t time_ms;              /* wall clock when the attempt started */
    char error[PROBE_ERROR_MAX];   /* "" when nothing failed */
} probe_result_t;

typedef struct {
    uint64_t attempts;       /* finished attempts */
    uint64_t failed;         /* of those, with a failed part */
    uint64_t learned;        /* targets added from heartbeats */
    uint64_t forgotten;      /* learned targets dropped after silence */
    uint64_t refused_full;   /* heartbeats of new nodes ignored: maxTargets reached */
} probe_stats_t;

/* What probe_on_heartbeat() did. */
typedef enum {
    PROBE_HB_IGNORED,   /* this node, or an unknown node without probePeers */
    PROBE_HB_UPDATED,   /* a known target: last seen and address updated */
    PROBE_HB_LEARNED,   /* a new target */
    PROBE_HB_FULL,      /* a new node, but maxTargets are already probed */
} probe_hb_t;

/* Creates an empty core. *out is owned by the caller (probe_free). */
bosun_status_t probe_new(const probe_params_t *params, probe_t **out);

/* Frees the core; NULL is a no-op. */
void probe_free(probe_t *p);

/*
 * Adds a configured peer, probed from the next probe_take_due() on and never
 * forgotten. address may be NULL or "" (use what the peer advertises).
 * Returns BOSUN_ERR_INVALID for this node itself or a bad name,
 * BOSUN_ERR_EXISTS for a peer already added, BOSUN_ERR_TOO_BIG when
 * max_targets are already there.
 */
bosun_status_t probe_add_peer(probe_t *p, const char *node, const char *address);

/*
 * Notes a heartbeat of node at now_us advertising `address` ("" or NULL:
 * none; the caller has checked its form). Updates a known target; with
 * learn, adds an unknown one, due at once.
 */
probe_hb_t probe_on_heartbeat(probe_t *p, const char *node, const char *address, uint64_t now_us);

/*
 * Starts the attempts due at now_us: writes at most max jobs to jobs and
 * returns how many. Targets left over stay due for the next call.
 */
size_t probe_take_due(probe_t *p, uint64_t now_us, uint64_t wall_ms, probe_job_t *jobs, size_t max);

/* The two parts of an attempt. */
typedef enum {
    PROBE_TCP,   /* connect to the target's probe listener */
    PROBE_NATS,  /* ping request to <target>.command.ping */
} probe_part_t;

/*
 * Notes when `part` of attempt (target, seq) really started (the connect
 * call, the publish); until then it counts from probe_take_due()'s now_us.
 */
void probe_started(probe_t *p, const char *target, uint64_t seq, probe_part_t part, uint64_t t_us);

/*
 * Reports `part` of attempt (target, seq) finished at now_us: ok, or failed
 * with why (e.g. "connection refused"). The measured time is now_us less
 * its start. Returns false when that part is no longer awaited (timed out,
 * target forgotten, an older attempt, or no TCP part).
 */
bool probe_done(probe_t *p, const char *target, uint64_t seq, probe_part_t part, bool ok,
                uint64_t now_us, const char *why);

/* True while `part` of attempt (target, seq) is awaited. */
bool probe_awaited(const probe_t *p, const char *target, uint64_t seq, probe_part_t part);

/*
 * Times out the parts of attempts older than timeout_us, and forgets learned
 * targets silent for forget_us. Call whenever now_us reaches
 * probe_next_deadline().
 */
void probe_expire(probe_t *p, uint64_t now_us);

/* The earliest time something is due or expires; UINT64_MAX if never. */
uint64_t probe_next_deadline(probe_t *p);

/* Number of targets. */
size_t probe_count(const probe_t *p);

/*
 * Copies the latest finished result of each target (at most max, in target
 * name order) into out; returns how many. Targets not yet measured have none.
 */
size_t probe_results(const probe_t *p, probe_result_t *out, size_t max);

/*
 * Copies (at most max) results that changed a target's reachability since
 * they were last taken: a first result that failed, a failure after a
 * success, a success after a failure. Each change is returned once; the
 * owner logs them. Returns how many.
 */
size_t probe_take_changes(probe_t *p, probe_result_t *out, size_t max);

/* True when a part that was measured failed (TCP not measured is no failure). */
bool probe_result_failed(const probe_result_t *r);

/* Counters since probe_new(). */
void probe_stats(const probe_t *p, probe_stats_t *out);

#endif
