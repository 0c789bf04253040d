/*
 * schedule.h - the fault plan of a chaos run, drawn up front from the seed
 * (lib/rng.h), so that `chaos --seed N --duration S` replays the same faults
 * at the same offsets. Pure: no clock, no I/O.
 *
 * Faults start on average every mean_gap_ms (uniformly 0.5x to 1.5x), each
 * a kind drawn by weight (agents most, NATS servers and central less) on a
 * target that is free then. Rules that keep the run meaningful:
 *  - a host has one fault at a time, with 1 s of calm after each;
 *  - at most max_agents_out agents are down or cut at once, so a healthy
 *    candidate usually exists for every resource;
 *  - at most one NATS server is faulted at a time (the cluster keeps two);
 *  - every fault is over 3 s before the end, so the run ends calm.
 */
#ifndef BOSUN_CHAOS_SCHEDULE_H
#define BOSUN_CHAOS_SCHEDULE_H

#include <stddef.h>
#include <stdint.h>

#include "history.h"

typedef struct {
    fault_kind_t kind;
    host_role_t role;
    int index;         /* agent or NATS server; 0 for central */
    int percent;       /* FAULT_LOSS: 10..30 */
    int64_t at_ms;     /* offset from the start of the run */
    int64_t dur_ms;    /* until the restart, heal or end of loss */
} plan_fault_t;

typedef struct {
    int n_agents, n_nats;
    int64_t duration_ms;
    int64_t mean_gap_ms;
    int max_agents_out;
} schedule_config_t;

/* cfg with defaults for n_agents, n_nats and duration: a fault every 2.5 s
 * on average, at most 2 agents out. */
void schedule_defaults(schedule_config_t *cfg, int n_agents, int n_nats, int64_t duration_ms);

/*
 * Draws the plan for seed into a new array (*out, *n; free()), sorted by
 * at_ms. Returns 0, or -1 when out of memory.
 */
int schedule_make(uint64_t seed, const schedule_config_t *cfg, plan_fault_t **out, size_t *n);

/* A seeded generator state from a user seed (never 0), distinct per stream. */
uint64_t schedule_rng_state(uint64_t seed, uint64_t stream);

/* Uniform in [lo, hi] from the generator state. */
int64_t schedule_uniform(uint64_t *state, int64_t lo, int64_t hi);

#endif
