/*
 * election.h - per-resource election: the protocol core, with no I/O.
 *
 * For each configured resource this node is NONE, IDLE, GOING_ACTIVE or
 * ACTIVE (DESIGN.md, "Election"). The core takes verified packets, timer
 * expiries and script results, each with the time, and appends to an
 * election_actions_t what must happen: send a packet now, the transitions
 * made (to log, publish and notify), and the scripts to run. It never
 * blocks, sleeps, reads a clock or touches a socket, so the same code runs
 * in the agent (agent/elector.c), under unit tests with a fake clock, and in
 * the many-node simulator (tests/sim).
 *
 * The rules, in short:
 *  - Standing is (priority, token, node id), compared in that order.
 *  - Only GOING_ACTIVE and ACTIVE nodes transmit, every tx interval; one
 *    packet carries all of a node's bids.
 *  - An IDLE node declares a resource orphaned when no GOING_ACTIVE or
 *    ACTIVE claim has been heard for a detection window: a number of the
 *    claimant's tx intervals (3 on a clean path, more when the path is seen
 *    to lose packets, up to 12) plus a skew of up to half an interval that
 *    is shorter for higher priority, so the best standby moves first.
 *  - It then runs beforeGoingActive (token range), bids GOING_ACTIVE, and
 *    after transitionWait asks beforeActive ("1") and goes ACTIVE.
 *  - A GOING_ACTIVE node yields to any better claim; an ACTIVE node yields
 *    to a better ACTIVE (healed partition: by full standing) and to a
 *    preempting GOING_ACTIVE of strictly higher priority. Token and node id
 *    only break ties between contenders: they never preempt a holder.
 *  - Shortly before the window runs out on an owner that went silent
 *    without a release, an IDLE node sends a query (twice); a live owner
 *    answers at once, so one behind a lossy link is not deposed, and a dead
 *    one costs no extra time.
 *  - Leaving GOING_ACTIVE or ACTIVE sends a release, so standbys move after
 *    their skew instead of a whole window.
 */
#ifndef BOSUN_AGENT_ELECTION_H
#define BOSUN_AGENT_ELECTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bosun.pb-c.h"
#include "status.h"

/* A resource's local state; values match bosun.ResourceState. */
typedef enum {
    ELECTION_NONE = 0,         /* before start */
    ELECTION_IDLE = 1,         /* listening; someone else may own it */
    ELECTION_GOING_ACTIVE = 2, /* bidding; waiting transitionWait */
    ELECTION_ACTIVE = 3,       /* owns the resource */
} election_state_t;

const char *election_state_str(election_state_t s);

/* Transition scripts, in the order of a successful claim. */
typedef enum {
    ELECTION_ON_IDLE = 0,
    ELECTION_BEFORE_GOING_ACTIVE,
    ELECTION_ON_GOING_ACTIVE,
    ELECTION_BEFORE_ACTIVE,
    ELECTION_ON_ACTIVE,
    ELECTION_SCRIPT_COUNT
} election_script_t;

/* "onIdle", "beforeGoingActive", ... (the config keys). */
const char *election_script_str(election_script_t s);

/* Priority a forced node bids with: above every configurable priority. */
#define ELECTION_FORCED_PRIORITY 256u

typedef struct {
    const char *id;     /* borrowed */
    uint32_t priority;  /* 0..255 */
    bool preempt;
} election_resource_t;

typedef struct {
    const char *node;                      /* borrowed, outlives the core */
    uint64_t instance_id;
    const election_resource_t *resources;  /* borrowed */
    size_t n_resources;
    uint64_t tx_interval_ms;               /* multiplier applied; >= 1 */
    uint64_t transition_wait_ms;           /* multiplier applied */
    uint64_t token_start, token_end;       /* range when no script gives one */
    bool fixed_token_set;
    uint64_t fixed_token;
    bool scripts[ELECTION_SCRIPT_COUNT];   /* which scripts are configured */
    uint32_t min_missed;                   /* detection window bounds, in */
    uint32_t max_missed;                   /*   claimant tx intervals (3, 12) */
    uint64_t max_packet_age_ms;            /* freshness window for send times */
    uint64_t (*random)(void *arg);         /* uniform 64-bit numbers */
    void *random_arg;
} election_config_t;

/* Fills *c with defaults (min 3, max 12 missed, age 120 s); the caller sets the rest. */
void election_config_defaults(election_config_t *c);

/* The time, twice: monotonic for timers, wall for packets. */
typedef struct {
    uint64_t mono_ms;
    uint64_t wall_ms;
} election_now_t;

typedef struct {
    size_t resource;
    election_state_t from, to;
    const char *reason;   /* static text */
    const char *peer;     /* node that caused it, or NULL; valid until the next call */
    uint64_t token;
    uint32_t priority;
} election_transition_t;

typedef struct {
    size_t resource;
    election_script_t script;
    uint64_t gen;         /* hand back with the result */
} election_script_req_t;

/* What the caller must do, in order: transitions happened, scripts to start, send. */
typedef struct {
    bool send;
    election_transition_t *transitions;
    size_t n_transitions, cap_transitions;
    election_script_req_t *scripts;
    size_t n_scripts, cap_scripts;
} election_actions_t;

void election_actions_init(election_actions_t *a);
void election_actions_clear(election_actions_t *a);  /* empties, keeps memory */
void election_actions_free(election_actions_t *a);

/* The verdict on an incoming (already authenticated) packet. */
typedef enum {
    ELECTION_ACCEPTED = 0,
    ELECTION_DROP_OWN,        /* our own packet, looped back */
    ELECTION_DROP_DUPLICATE,  /* same sequence again (oversend or network copy) */
    ELECTION_DROP_REPLAY,     /* older sequence, or an older instance of the sender */
    ELECTION_DROP_STALE,      /* send time outside the freshness window */
    ELECTION_DROP_NAME_CLASH, /* another instance is using our node id */
    ELECTION_DROP_TOO_MANY,   /* peer table full */
    ELECTION_VERDICT_COUNT
} election_verdict_t;

const char *election_verdict_str(election_verdict_t v);

typedef struct election election_t;

/* Creates the core. cfg and what it points to are borrowed. */
bosun_status_t election_new(const election_config_t *cfg, election_t **out);
void election_free(election_t *e);

/* NONE -> IDLE for every resource; listening for a first window. */
void election_start(election_t *e, election_now_t now, election_actions_t *out);

/*
 * Applies one authenticated, shape-checked packet (seal_open) received at
 * now. Checks replay and freshness first; only an ACCEPTED packet changes
 * anything.
 */
election_verdict_t election_on_packet(election_t *e, const Bosun__ElectionPacket *p,
                                      election_now_t now, election_actions_t *out);

/* Handles every deadline due at now (detection, transition wait, tx). */
void election_on_timer(election_t *e, election_now_t now, election_actions_t *out);

/*
 * Applies a finished script. Results of an older generation (the resource
 * moved on meanwhile) are ignored. ok is false for a failed or timed-out
 * script; output is its stdout.
 */
void election_on_script(election_t *e, size_t resource, election_script_t script, uint64_t gen,
                        bool ok, const char *output, election_now_t now, election_actions_t *out);

/* Clean stop: every resource goes IDLE with a release sent. */
void election_stop(election_t *e, election_now_t now, election_actions_t *out);

/*
 * Operator control (methods electionForce / electionRelease). Force makes
 * this node bid with ELECTION_FORCED_PRIORITY until released; release gives
 * the resource up (and clears a force) and holds off claiming it again for
 * a few windows. BOSUN_ERR_NOT_FOUND for a bad index.
 */
bosun_status_t election_force(election_t *e, size_t resource, election_now_t now,
                              election_actions_t *out);
bosun_status_t election_release(election_t *e, size_t resource, election_now_t now,
                                election_actions_t *out);

/* Earliest monotonic time at which election_on_timer has work; UINT64_MAX if none. */
uint64_t election_next_deadline(const election_t *e);

/*
 * Fills *p (initialised by the caller) with this node's next packet: its
 * GOING_ACTIVE and ACTIVE bids and pending releases, a fresh sequence number
 * and send time. Pointers borrow from e and stay valid until the next call
 * into e. Call it when an action says send.
 */
void election_packet(election_t *e, election_now_t now, Bosun__ElectionPacket *p);

/* Read-only picture of one resource. */
typedef struct {
    const char *id;
    election_state_t state;
    uint32_t priority;        /* effective (ELECTION_FORCED_PRIORITY when forced) */
    bool preempt;
    bool forced;
    uint64_t token;           /* 0 while IDLE */
    uint64_t since_mono_ms;   /* when the state was entered */
    char owner[65];           /* node believed ACTIVE, "" if none */
    uint64_t owner_token;
    uint32_t owner_priority;
    size_t claimants;         /* live GOING_ACTIVE/ACTIVE claims heard */
} election_view_t;

size_t election_n_resources(const election_t *e);
void election_view(const election_t *e, size_t resource, election_now_t now, election_view_t *v);

/* Index of a resource by id, or -1. */
long election_find(const election_t *e, const char *id);

#endif
