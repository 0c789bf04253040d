/*
 * fleet.h - central's view of every node: liveness from heartbeats (the
 * NoPE seed's alive/slow/warn/dead/removed timings), restarts, expected
 * nodes that are missing, what each node reports about its host and
 * resources, and its clock offset from time-sync pings.
 *
 * A protocol core with no I/O (STYLE.md habit 3): central's loop feeds it
 * decoded heartbeats and ping answers with the time `now`, calls
 * fleet_check() every liveness.checkIntervalMs, and carries out what comes
 * back in fleet_actions_t (log and publish each transition, send the pings
 * that are due). Unit tests drive it with a fake clock.
 *
 * Liveness of a node, from the time since its last heartbeat (monotonic):
 *   < slowMs ALIVE, < warnMs SLOW, < deadMs WARN, < removeMs DEAD, else
 *   REMOVED. A heartbeat makes it ALIVE again. Steps are reported one by
 *   one (a check that finds a node past two thresholds reports both).
 * A heartbeat with a new instance id is a restart, reported with
 * restarted=true even when the node stays ALIVE. A heartbeat that carries
 * probes replaces the node's probes; one without keeps them (their age
 * shows), unless it comes from a new instance. Nodes in expectedNodes
 * start UNKNOWN; one not heard from when the start grace (deadMs after
 * fleet_new) ends is reported MISSING once; an expected node that is
 * removed goes REMOVED and then MISSING. A removed node that is not
 * expected is kept (so its return is recognised as a restart or not) and
 * forgotten FLEET_FORGET_MS after its removal.
 *
 * Threads: every function except fleet_snapshot(), fleet_view_get() and
 * fleet_counts() is for the owner's loop only. Those three may be called
 * from any thread (an HTTP server): the table is guarded by a mutex that
 * the loop holds only while it changes one node, or for one check, and
 * they copy what they return.
 */
#ifndef BOSUN_CENTRAL_FLEET_H
#define BOSUN_CENTRAL_FLEET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bosun.pb-c.h"
#include "config.h"
#include "name.h"
#include "status.h"
#include "timesync.h"

/* A REMOVED node that is not expected is forgotten this long after removal. */
#define FLEET_FORGET_MS (3600u * 1000u)
/* Heartbeats of further new nodes are refused beyond this many nodes. */
#define FLEET_MAX_NODES 1000000u
/* Probes kept per node; further probes in one heartbeat are ignored. */
#define FLEET_PROBES_MAX 4096u

/* Liveness; the values are those of bosun.NodeLiveness on the wire. */
typedef enum {
    FLEET_UNKNOWN = 0, /* expected, and not heard from yet */
    FLEET_ALIVE = 1,   /* last heartbeat less than slowMs ago */
    FLEET_SLOW = 2,    /* silent for slowMs */
    FLEET_WARN = 3,    /* silent for warnMs */
    FLEET_DEAD = 4,    /* silent for deadMs; no longer counts as an owner */
    FLEET_REMOVED = 5, /* silent for removeMs */
    FLEET_MISSING = 6, /* expected, but never heard from or removed */
} fleet_liveness_t;

#define FLEET_LIVENESS_COUNT 7

/* "ALIVE", "SLOW"...; "?" when out of range. */
const char *fleet_liveness_str(fleet_liveness_t s);

typedef struct {
    uint64_t mono_ms; /* drives every threshold */
    uint64_t wall_ms; /* stamped on what is reported */
} fleet_now_t;

/* One resource as the node's last heartbeat reported it. */
typedef struct {
    char resource[BOSUN_NAME_MAX + 1];
    Bosun__ResourceState state;
    uint32_t priority;
    char owner[BOSUN_NAME_MAX + 1]; /* who the node believes ACTIVE, "" if none */
    uint64_t since_ms;              /* node's clock */
} fleet_resource_t;

typedef struct {
    char hostname[64];
    char os[64];
    char cpu_model[64];
    uint32_t cores;
    double cpu_usage_percent;
    double load1, load5, load15;
    uint64_t mem_total_bytes, mem_available_bytes;
    uint64_t host_boot_time_ms;
    uint64_t agent_rss_bytes;
} fleet_host_t;

/*
 * One connectivity probe the node ran to a target (Netring), as its latest
 * heartbeat that carried probes reported it.
 */
typedef struct {
    char target[BOSUN_NAME_MAX + 1]; /* printable ASCII; a node name from a well-behaved agent */
    bool tcp_tested;                 /* false: no address known to the node, TCP not measured */
    bool tcp_ok, nats_ok;
    uint32_t tcp_connect_us;         /* meaningful when tcp_ok */
    uint32_t nats_rtt_us;            /* meaningful when nats_ok */
    uint64_t time_ms;                /* when the node ran it, node's clock (0: not said) */
    uint64_t measured_ms;            /* the same on central's wall clock: the heartbeat's receipt
                                        less the probe's age when the heartbeat left */
    char error[128];                 /* "" when nothing failed */
} fleet_probe_t;

typedef struct {
    uint64_t heartbeats_sent, commands_received, commands_ok, commands_failed, commands_rejected,
        commands_duplicate, events_received, malformed_messages, election_packets_tx,
        election_packets_rx, election_packets_dropped, election_transitions, nats_reconnects,
        election_tx_errors, election_rx_errors, election_script_failures, probes_run, probes_failed;
} fleet_counters_t;

/* Everything known about one node; a copy when handed out. */
typedef struct {
    char node[BOSUN_NAME_MAX + 1];
    fleet_liveness_t status;
    uint64_t status_since_ms;     /* central's wall clock */
    bool expected;
    bool heard;                   /* at least one heartbeat */
    uint64_t instance_id;
    uint64_t sequence;
    uint64_t boot_time_ms;        /* this instance's start, node's clock */
    uint32_t pid;
    uint32_t interval_ms;         /* the node's heartbeat interval */
    char version[32];
    uint64_t first_heartbeat_ms;  /* central's wall clock, at receipt */
    uint64_t last_heartbeat_ms;
    uint64_t heartbeats;          /* applied, all instances */
    uint64_t restarts;
    fleet_host_t host;
    fleet_counters_t counters;
    fleet_resource_t *resources;  /* owned by this view */
    size_t n_resources;
    fleet_probe_t *probes;        /* owned by this view, sorted by target, each target once;
                                     see fleet_snapshot_with_probes() */
    size_t n_probes;
    bool has_clock;               /* an offset estimate exists */
    int64_t clock_offset_us;      /* node clock - central clock (timesync.h) */
    uint64_t rtt_us;
    uint64_t clock_sampled_ms;    /* central's wall clock */
    bool clock_over_bound;        /* |offset| > timeSync.warnOffsetMs */
} fleet_view_t;

/* One liveness transition (or restart), to log and publish. */
typedef struct {
    char node[BOSUN_NAME_MAX + 1];
    fleet_liveness_t status, previous;
    bool restarted;
    uint64_t instance_id;
    uint64_t last_heartbeat_ms;  /* central's wall clock; 0 if never heard */
    uint64_t silent_ms;          /* since the last heartbeat, when not ALIVE */
    uint64_t time_ms;
    bool has_clock;
    int64_t clock_offset_us;
    uint64_t rtt_us;
    uint32_t pid;
    char version[32];
} fleet_transition_t;

/* A ping central must send now (timeSync): seq goes into its reply subject. */
typedef struct {
    char node[BOSUN_NAME_MAX + 1];
    uint64_t seq;
} fleet_ping_t;

/* A clock event worth a log line. */
typedef struct {
    char node[BOSUN_NAME_MAX + 1];
    int crossing;   /* +1 |offset| went beyond warnOffsetMs, -1 came back, 0 neither */
    bool stepped;   /* the node's clock jumped; older samples were dropped */
    int64_t offset_us;
    uint64_t rtt_us;
} fleet_clock_note_t;

typedef struct {
    fleet_transition_t *transitions;
    size_t n_transitions, cap_transitions;
    fleet_ping_t *pings;
    size_t n_pings, cap_pings;
    fleet_clock_note_t *clock_notes;
    size_t n_clock_notes, cap_clock_notes;
    char (*forgotten)[BOSUN_NAME_MAX + 1]; /* nodes dropped from the table */
    size_t n_forgotten, cap_forgotten;
    bool nomem;                            /* an action could not be queued */
} fleet_actions_t;

void fleet_actions_init(fleet_actions_t *a);
void fleet_actions_clear(fleet_actions_t *a);  /* empties, keeps the memory */
void fleet_actions_free(fleet_actions_t *a);

/* What became of one heartbeat. */
typedef enum {
    FLEET_HB_APPLIED = 0,
    FLEET_HB_STALE,          /* same instance, sequence not newer: a duplicate or reordered */
    FLEET_HB_OTHER_INSTANCE, /* an older instance while the current one is alive (two agents
                                with one name?) */
    FLEET_HB_INVALID,        /* no valid node name */
    FLEET_HB_FULL,           /* FLEET_MAX_NODES reached, or out of memory */
} fleet_hb_verdict_t;

typedef struct fleet fleet_t;

/*
 * A fleet for the thresholds in liveness, time sync settings ts (both
 * borrowed; they must outlive f) and the expected node names (copied).
 * now starts the grace period of expected nodes.
 */
bosun_status_t fleet_new(const bosun_liveness_config_t *liveness, const bosun_timesync_config_t *ts,
                         char *const *expected, size_t n_expected, fleet_now_t now, fleet_t **out);

/* Frees; NULL is a no-op. */
void fleet_free(fleet_t *f);

/*
 * Applies one decoded heartbeat received at now (its node name must have
 * been checked against the subject it came on). Appends a transition when
 * the node appears, returns, or restarted.
 */
fleet_hb_verdict_t fleet_on_heartbeat(fleet_t *f, const Bosun__Heartbeat *hb, fleet_now_t now,
                                      fleet_actions_t *out);

/*
 * Advances every node's liveness to now, and queues the pings that are due
 * (each ALIVE node once per timeSync.intervalSecs, spread over the
 * interval). O(nodes); meant to run every liveness.checkIntervalMs.
 */
void fleet_check(fleet_t *f, fleet_now_t now, fleet_actions_t *out);

/* Records that ping seq to node left at t0_us (central's wall clock, us). */
void fleet_ping_sent(fleet_t *f, const char *node, uint64_t seq, uint64_t t0_us);

/*
 * Applies the answer to ping seq of node: the node's receive and reply
 * times t1_us, t2_us (Ack.recv_time_us, reply_time_us) and its arrival
 * t3_us on central's clock. Answers to another seq than the last ping sent,
 * and impossible times, are ignored (returns false).
 */
bool fleet_on_ping_answer(fleet_t *f, const char *node, uint64_t seq, uint64_t t1_us, uint64_t t2_us,
                          uint64_t t3_us, fleet_now_t now, fleet_actions_t *out);

/* Fills a NodeStatus from t; strings are borrowed from t. */
void fleet_transition_to_proto(const fleet_transition_t *t, Bosun__NodeStatus *out);

/* ---- reading from any thread ---------------------------------------------------------- */

/* The number of nodes in each liveness state, indexed by fleet_liveness_t. */
void fleet_counts(fleet_t *f, size_t counts[FLEET_LIVENESS_COUNT]);

/*
 * A copy of every node, sorted by name, in *out (n in *n), without their
 * probes (probes NULL, n_probes 0: a fleet where every node probes every
 * other has n^2 of them). Free with fleet_views_free(). BOSUN_ERR_NOMEM
 * leaves *out NULL.
 */
bosun_status_t fleet_snapshot(fleet_t *f, fleet_view_t **out, size_t *n);

/* The same with each node's probes. */
bosun_status_t fleet_snapshot_with_probes(fleet_t *f, fleet_view_t **out, size_t *n);

void fleet_views_free(fleet_view_t *v, size_t n);

/*
 * A copy of one node, with its probes, in *out; false (and *out zeroed)
 * when unknown, or out of memory. Release with fleet_view_clear().
 */
bool fleet_view_get(fleet_t *f, const char *node, fleet_view_t *out);
void fleet_view_clear(fleet_view_t *v);

#endif
