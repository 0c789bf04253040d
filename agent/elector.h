/*
 * elector.h - the election's own thread: sockets, scripts and timers around
 * the protocol core.
 *
 * One thread owns the election core (election.c), the multicast socket
 * (mcast.c), the sealer (seal.c) and the script runner (scripts.c). It polls
 * the socket, the script results, its control queue and the core's next
 * deadline, and carries out what the core decides: send a sealed packet
 * (plus txOversend copies), start scripts, log transitions. It also mirrors
 * what happens onto NATS (<node>.event.state for every transition,
 * <node>.event.bid on change and about once a second), but NATS is never on
 * its path: a publish only buffers, and the election runs the same with no
 * broker at all.
 *
 * Other threads read a snapshot (heartbeat, electionStatus, dashboard) and
 * post force/release requests, which the thread applies and answers.
 */
#ifndef BOSUN_AGENT_ELECTOR_H
#define BOSUN_AGENT_ELECTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "election.h"
#include "log.h"
#include "mcast.h"
#include "name.h"
#include "natsconn.h"
#include "seal.h"
#include "status.h"

typedef struct elector elector_t;

/* One resource as the last loop iteration left it. */
typedef struct {
    char id[BOSUN_NAME_MAX + 1];
    election_state_t state;
    uint32_t priority;
    bool preempt;
    bool forced;
    uint64_t token;
    uint64_t since_wall_ms;
    char owner[BOSUN_NAME_MAX + 1];
    uint64_t owner_token;
    size_t claimants;
    uint64_t transitions;
} elector_resource_t;

typedef struct {
    mcast_stats_t net;
    uint64_t dropped[SEAL_DROP_COUNT];            /* by seal_open verdict */
    uint64_t rejected[ELECTION_VERDICT_COUNT];    /* by election verdict */
    uint64_t transitions;
    uint64_t script_failures;
    bool encrypted;
    char transport[160];                          /* mcast_describe() */
    uint64_t started_wall_ms;
} elector_stats_t;

/*
 * Builds the election from the agent's config: key derivation, socket,
 * script runner. Nothing runs until elector_start(). nats may be NULL (no
 * mirroring); cfg, log, nats and envp are borrowed and must outlive it.
 */
bosun_status_t elector_new(const bosun_agent_config_t *cfg, uint64_t instance_id,
                           const bosun_log_t *log, bosun_nats_t *nats, char *const *envp,
                           elector_t **out, bosun_err_t *err);

/* Starts the thread: every resource goes IDLE and listens. */
bosun_status_t elector_start(elector_t *el);

/*
 * Clean stop: every resource goes IDLE, a release goes out (twice, so one
 * loss does not cost a standby a whole detection window), onIdle runs and is
 * waited for (bounded by the script timeout); then the thread ends.
 */
void elector_stop(elector_t *el);

/* Frees (stopping first if needed); NULL is a no-op. */
void elector_free(elector_t *el);

/* Copies up to max resources into out; returns how many there are. */
size_t elector_snapshot(elector_t *el, elector_resource_t *out, size_t max);
void elector_stats(elector_t *el, elector_stats_t *out);

typedef enum { ELECTOR_FORCE, ELECTOR_RELEASE } elector_op_t;

/*
 * Applies a force or release on the named resource in the election thread
 * and waits (at most 2 s) for it. msg receives a sentence for the operator.
 * BOSUN_ERR_NOT_FOUND for an unknown resource, BOSUN_ERR_TIMEOUT if the
 * thread did not answer.
 */
bosun_status_t elector_control(elector_t *el, elector_op_t op, const char *resource, char *msg,
                               size_t len);

#endif
