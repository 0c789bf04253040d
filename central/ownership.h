/*
 * ownership.h - who is ACTIVE for each resource, since when, and alarms
 * when a resource has two owners or none. No I/O: central's loop feeds it
 * the resource states in heartbeats, <node>.event.state (StateChange) and
 * <node>.event.bid (ElectionPacket), and the fleet's liveness of each
 * node; ownership_check() returns the alarms raised and cleared.
 *
 * Each (node, resource) pair is a claim: the node's state for the resource
 * and when (on the node's clock) it entered it. Reports may cross: a
 * heartbeat's snapshot can be taken before a transition whose StateChange
 * is published first. So a report only replaces a claim when it is not
 * older: a StateChange or bid whose time is not before the claim's since
 * (give or take OWNERSHIP_CLOCK_SLOP_MS), or a heartbeat, which replaces
 * what an earlier heartbeat said and otherwise must show a later since.
 * A node that restarts (new instance id in its heartbeat) starts over.
 *
 * Only nodes the fleet counts as alive (ALIVE, SLOW, WARN) count: a DEAD
 * or REMOVED node is no owner. For each resource that some node lists:
 *   DOUBLE  two or more live nodes claim ACTIVE;
 *   NONE    no live node is ACTIVE or GOING_ACTIVE, while at least one
 *           live node lists the resource. Once raised, NONE clears only
 *           when a node is ACTIVE (or no live node lists it any longer),
 *           so a standby that keeps trying and failing does not flap it.
 * A condition must hold for the debounce time before its alarm is raised:
 * twice the largest heartbeat interval among the resource's live nodes
 * (OWNERSHIP_DEFAULT_INTERVAL_MS before one is known), so a handover,
 * where the old owner's IDLE and the new one's ACTIVE cross, raises
 * nothing. An alarm clears as soon as its condition ends.
 *
 * Threads: as fleet.h - ownership_snapshot() and ownership_view_get() may
 * be called from any thread; everything else only from the owner's loop.
 */
#ifndef BOSUN_CENTRAL_OWNERSHIP_H
#define BOSUN_CENTRAL_OWNERSHIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bosun.pb-c.h"
#include "fleet.h"
#include "name.h"
#include "status.h"

#define OWNERSHIP_CLOCK_SLOP_MS 5u
#define OWNERSHIP_DEFAULT_INTERVAL_MS 500u

typedef enum {
    OWNERSHIP_OK = 0,     /* exactly one owner, or nobody to own it */
    OWNERSHIP_DOUBLE = 1, /* two or more live nodes ACTIVE */
    OWNERSHIP_NONE = 2,   /* live nodes list it, none ACTIVE */
} ownership_alarm_t;

/* "OK", "DOUBLE", "NONE"; "?" when out of range. */
const char *ownership_alarm_str(ownership_alarm_t a);

/* An alarm raised (alarm != OK) or cleared (alarm == OK), to log. */
typedef struct {
    char resource[BOSUN_NAME_MAX + 1];
    ownership_alarm_t alarm, previous;
    uint64_t lasted_ms;  /* when cleared: how long the previous alarm was up */
    char detail[256];    /* who claims it, or who lists it */
} ownership_event_t;

typedef struct {
    ownership_event_t *events;
    size_t n_events, cap_events;
    bool nomem;
} ownership_actions_t;

void ownership_actions_init(ownership_actions_t *a);
void ownership_actions_clear(ownership_actions_t *a);
void ownership_actions_free(ownership_actions_t *a);

typedef struct ownership ownership_t;

bosun_status_t ownership_new(ownership_t **out);
void ownership_free(ownership_t *o); /* NULL is a no-op */

/* The resource states in a heartbeat (its node name already validated). */
void ownership_on_heartbeat(ownership_t *o, const Bosun__Heartbeat *hb, fleet_now_t now);

/* One transition from <node>.event.state; node is the subject's node. */
void ownership_on_state(ownership_t *o, const char *node, const Bosun__StateChange *sc, fleet_now_t now);

/* The bids of <node>.event.bid; node is the subject's node. */
void ownership_on_bid(ownership_t *o, const char *node, const Bosun__ElectionPacket *p, fleet_now_t now);

/* The fleet's verdict on node: alive (ALIVE, SLOW, WARN) or not. */
void ownership_node_alive(ownership_t *o, const char *node, bool alive, fleet_now_t now);

/* Drops node and its claims (the fleet forgot it). */
void ownership_forget_node(ownership_t *o, const char *node);

/*
 * Re-evaluates the resources whose claims changed and those whose alarm
 * waits for its debounce; appends raised and cleared alarms to *out.
 * Cost: the resources concerned, not all of them.
 */
void ownership_check(ownership_t *o, fleet_now_t now, ownership_actions_t *out);

/* ---- reading from any thread ---------------------------------------------------------- */

typedef struct {
    char node[BOSUN_NAME_MAX + 1];
    Bosun__ResourceState state;
    uint64_t since_ms;  /* node's clock */
    uint32_t priority;
    uint64_t token;
    bool alive;
} ownership_member_t;

typedef struct {
    char resource[BOSUN_NAME_MAX + 1];
    size_t n_active;                  /* live nodes ACTIVE now (not debounced) */
    char active[BOSUN_NAME_MAX + 1];  /* the first of them (by name), "" if none */
    uint64_t active_since_ms;         /* its since, node's clock */
    ownership_alarm_t alarm;          /* raised (debounced) */
    uint64_t alarm_since_ms;          /* central's wall clock */
    char detail[256];
    uint64_t activations;             /* times a node entered ACTIVE for it, as central saw (its
                                         heartbeats, state events and bids), since central started
                                         or the resource reappeared */
    ownership_member_t *members;      /* sorted by node name; owned by the view */
    size_t n_members;
} ownership_view_t;

/* A copy of every resource, sorted by name. Free with ownership_views_free(). */
bosun_status_t ownership_snapshot(ownership_t *o, ownership_view_t **out, size_t *n);
void ownership_views_free(ownership_view_t *v, size_t n);

/* One resource; false (and *out zeroed) when unknown. Release with ownership_view_clear(). */
bool ownership_view_get(ownership_t *o, const char *resource, ownership_view_t *out);
void ownership_view_clear(ownership_view_t *v);

#endif
