/*
 * sim.h - a deterministic simulator for the election core (agent/election.c).
 *
 * It runs one election_t per node, many nodes in one process, over a
 * simulated network with loss, delay, jitter (so reordering), duplication,
 * partitions, crashes, restarts (some with a stepped clock), clean stops and
 * operator force/release, all in virtual time (ms) driven by one seed. Nodes
 * may have their own tx interval and transitionWait. Packets travel in the wire format: each is packed with
 * protobuf-c and unpacked by every receiver. Transition scripts complete
 * after a drawn delay, and may refuse, fail or hang until their timeout.
 *
 * While it runs, a checker watches every transition and every change in the
 * set of ACTIVE nodes and asserts:
 *  - legal steps only (NONE->IDLE, IDLE->GOING_ACTIVE, GOING_ACTIVE->ACTIVE,
 *    GOING_ACTIVE->IDLE, ACTIVE->IDLE);
 *  - safety: never two live ACTIVE nodes for a resource on a clean network.
 *    Overlap is excused, measured and bounded when a partition is active or
 *    recently healed, when packets were lost within the settle period, or
 *    when transitionWait is shorter than two network delays;
 *  - liveness: a resource without an ACTIVE gets one within a bound after the
 *    last disturbance (crash, start, stop, heal, refusal, release); where
 *    nothing excuses it, a clean stop hands over within skew, scripts and
 *    transitionWait (no detection window);
 *  - at the end, after a quiet phase (no loss, no partition, well-behaved
 *    scripts), exactly one ACTIVE per resource, that no live preempting node
 *    of higher priority would displace, and every live node agrees on it.
 *
 * The same seed always gives the same run, so `election_sim --seed N
 * --verbose` replays any failure event by event.
 */
#ifndef BOSUN_TESTS_SIM_H
#define BOSUN_TESTS_SIM_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "election.h"

#define SIM_MAX_NODES 16
#define SIM_MAX_RES 8
#define SIM_MAX_FAULTS 64

/* A fault's target: a node index, or the node ACTIVE for resource r when it fires. */
#define SIM_ACTIVE_OF(r) (-1 - (int)(r))

typedef enum {
    SIM_CRASH,     /* the node stops dead: no election_stop, no release */
    SIM_RESTART,   /* a crashed or stopped node starts again as a new instance */
    SIM_STOP,      /* clean stop: election_stop, both releases sent, node gone */
    SIM_PARTITION, /* nodes with their bit set in mask are cut off from the rest */
    SIM_HEAL,      /* the partition ends */
    SIM_LOSS,      /* every link's loss becomes value (per mille) */
    SIM_FORCE,     /* operator: election_force(node, resource) */
    SIM_RELEASE,   /* operator: election_release(node, resource) */
} sim_fault_kind_t;

typedef struct {
    uint64_t at_ms;
    sim_fault_kind_t kind;
    int node;          /* CRASH, RESTART, STOP, FORCE, RELEASE: index or SIM_ACTIVE_OF(r) */
    uint32_t mask;     /* PARTITION */
    uint32_t value;    /* LOSS */
    unsigned resource; /* FORCE, RELEASE */
    bool set_clock;    /* RESTART: the host comes back with its clock stepped */
    int64_t clock_offset_ms;
} sim_fault_t;

typedef struct {
    uint32_t priority[SIM_MAX_RES];
    bool preempt[SIM_MAX_RES];
    bool scripts;            /* all five scripts configured */
    uint64_t token_lo, token_hi; /* what beforeGoingActive prints */
    bool fixed_token_set;
    uint64_t fixed_token;
    uint32_t script_max_ms;  /* a script completes after 0..this ms */
    uint32_t refuse_pm;      /* beforeActive prints "0" (per mille) */
    uint32_t fail_pm;        /* a script exits non-zero */
    uint32_t hang_pm;        /* a script hangs until the timeout */
    int64_t clock_offset_ms; /* wall clock = virtual time + this */
    uint64_t tx_ms, tw_ms;   /* this node's timing; 0: the scenario's */
    uint64_t start_ms;       /* UINT64_MAX: not started until a RESTART */
} sim_node_spec_t;

typedef struct {
    uint64_t seed;
    unsigned n_nodes, n_resources;
    uint64_t tx_ms, tw_ms;   /* every node's unless it has its own; figures are in tx_ms */
    uint32_t min_missed, max_missed;
    uint64_t script_timeout_ms;
    uint32_t loss_pm[SIM_MAX_NODES][SIM_MAX_NODES];  /* [from][to] */
    uint32_t delay_ms[SIM_MAX_NODES][SIM_MAX_NODES]; /* base delay [from][to] */
    uint32_t jitter_ms;      /* added delay, uniform 0..jitter */
    uint32_t dup_pm;         /* a packet is delivered twice */
    uint64_t quiet_ms;       /* the quiet phase starts: heal, no loss, scripts behave */
    uint64_t end_ms;         /* end of the run and of the end checks */
    sim_node_spec_t node[SIM_MAX_NODES];
    sim_fault_t fault[SIM_MAX_FAULTS];
    unsigned n_faults;
} sim_scenario_t;

/* Shape of random scenarios; 0 means "draw it from the seed". */
typedef struct {
    unsigned nodes, resources;
    uint64_t duration_ms;    /* the faulty phase */
    uint64_t clock_step_ms;  /* a restart may step the clock by up to +-this (300) */
} sim_opts_t;

/* Figures of one run, or summed over many (sim_result_add). */
typedef struct {
    unsigned scenarios;
    unsigned failures;           /* scenarios with at least one violation */
    unsigned violations;
    char first_violation[320];
    uint64_t transitions;
    uint64_t packets_sent, packets_delivered, packets_lost;
    uint64_t verdicts[ELECTION_VERDICT_COUNT]; /* election_on_packet's, by verdict */
    uint64_t dbl_clean_ms;       /* two ACTIVE on a clean network: must be 0 */
    uint64_t dbl_partition_ms;   /* during a partition */
    uint64_t dbl_heal_ms;        /* after a heal, until resolved */
    uint64_t dbl_lossy_ms;       /* after packet loss */
    uint64_t dbl_slow_ms;        /* transitionWait < 2 x max delay */
    double max_heal_tx;          /* longest overlap after a heal, in tx */
    /* Figures in the slowest node's tx intervals. Failover: a crash of the
     * only ACTIVE until a new one; "clean" where windows cannot widen (no
     * loss, no jitter, no partition). Handover: the same after a clean stop;
     * "clean" where the bound is checked (no loss, no recent heal, start or
     * refusal). */
    double max_failover_tx, max_failover_clean_tx, sum_failover_tx;
    unsigned n_failover;
    double max_handover_tx, max_handover_clean_tx, sum_handover_tx;
    unsigned n_handover;
    uint64_t seed_max_failover, seed_max_handover; /* where the maxima happened */
    double max_gap_tx;           /* longest time without ACTIVE that was checked */
} sim_result_t;

typedef struct sim sim_t;

/* Fills *sc with a random scenario drawn from seed; o may be NULL. */
void sim_scenario_random(uint64_t seed, const sim_opts_t *o, sim_scenario_t *sc);

/*
 * Fills *sc with a plain scenario: n nodes "n0".."n<n-1>" started at 0,
 * priorities 100 and preempt on every resource, no scripts, a loss-free 1 ms
 * network, tx and tw as given, no quiet phase, the run ending at end_ms.
 * Tests adjust it before sim_new.
 */
void sim_scenario_plain(unsigned n, unsigned n_resources, uint64_t tx_ms, uint64_t tw_ms,
                        uint64_t end_ms, sim_scenario_t *sc);

/* Sets sc->end_ms to the end of a quiet phase long enough for the end checks. */
void sim_scenario_set_end(sim_scenario_t *sc);

/* Writes the scenario's parameters, one item a line. */
void sim_scenario_print(const sim_scenario_t *sc, FILE *f);

/* Creates a run; log (borrowed, may be NULL) receives every event. NULL on no memory. */
sim_t *sim_new(const sim_scenario_t *sc, FILE *log);
void sim_free(sim_t *s);

/* Processes every event up to and including virtual time t. */
void sim_run_until(sim_t *s, uint64_t t);

/* Applies a fault now (as if it were in the scenario's list). */
void sim_apply(sim_t *s, const sim_fault_t *f);

/* Runs to the scenario's end, applies the end checks and fills *r. */
void sim_finish(sim_t *s, sim_result_t *r);

/* One whole scenario; returns the number of violations. log may be NULL. */
unsigned sim_run(const sim_scenario_t *sc, FILE *log, sim_result_t *r);

/*
 * Replays sc with the event log captured and prints the seed, the first
 * violation, the scenario and the tail_lines events before that violation.
 */
void sim_print_failure(const sim_scenario_t *sc, unsigned tail_lines, FILE *f);

/* Adds the figures of one run into a total. */
void sim_result_add(sim_result_t *total, const sim_result_t *one);

/* Queries for targeted tests. */
uint64_t sim_now(const sim_t *s);
bool sim_alive(const sim_t *s, unsigned node);
election_state_t sim_state(const sim_t *s, unsigned node, unsigned r);
unsigned sim_active_count(const sim_t *s, unsigned r);
int sim_active_node(const sim_t *s, unsigned r);  /* lowest live ACTIVE node, or -1 */
uint64_t sim_transitions(const sim_t *s);
/* Fills *v from the node's core (the node must be alive). */
void sim_view(const sim_t *s, unsigned node, unsigned r, election_view_t *v);
/* Violations so far, and the first one's text. */
unsigned sim_violations(const sim_t *s, const char **first);

#endif
