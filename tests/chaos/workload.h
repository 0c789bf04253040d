/*
 * workload.h - the commands a chaos run streams into central's inmsg.txt,
 * drawn from the seed. Pure: the runner appends the text and records it.
 *
 * Every message leaves its own trace in its node's data directory (the
 * agent runs commands there), in one file, textLogging.log, so that what
 * ran, how often and in what order is seen from outside:
 *  - shellCommand ["/bin/sh", "-c", "echo S <token> >> textLogging.log;
 *    [sleep 0.3;] echo E <token> >> textLogging.log"]: a start and an end
 *    line (the slow variant is there to be cut off by kills: INTERRUPTED);
 *  - textLogging ["T <token>"]: the agent appends the line itself.
 * Tokens are "k" and six digits, unique per run. Some drops go to two or
 * three nodes at once (toNodes, one message per node, the same token), some
 * carry a ttl (3..30 s), and a share is aimed at nodes that are down or cut
 * at the time. With `retries` on, one in ten also has "retries": 2 and
 * "ackTimeout": 1 - off by default: central then breaks per-node order (see
 * docs/BENCHMARKS.md, "Chaos"), and the CI run must pass.
 */
#ifndef BOSUN_CHAOS_WORKLOAD_H
#define BOSUN_CHAOS_WORKLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "history.h"

#define WORKLOAD_MAX_TARGETS 3

typedef struct {
    uint64_t rng;
    uint64_t next_token;
    int n_nodes;
    bool retries;                      /* some messages with limited retries */
} workload_t;

typedef struct {
    char token[HIST_TOKEN_MAX];
    hist_method_t method;
    bool slow;                         /* shellCommand with a sleep between its lines */
    int nodes[WORKLOAD_MAX_TARGETS];
    int n_targets;
    int64_t ttl_ms;                    /* 0: central's default */
    int retries;                       /* -1: central's default (until ttl) */
} workload_drop_t;

void workload_init(workload_t *w, uint64_t seed, int n_nodes, bool retries);

/* Draws the next drop; down_mask has bit i set while node i is down or cut. */
void workload_next(workload_t *w, unsigned down_mask, workload_drop_t *d);

/* The drop as inmsg.txt text: one JSON array and a newline (caller frees), or NULL. */
char *workload_json(const workload_drop_t *d);

/* The token of a stored message (method and data as central keeps them); false if not ours. */
bool workload_token(const char *method, char *const *data, size_t n_data, char token[HIST_TOKEN_MAX]);

/* One trace line "<S|E|T> <token>"; false if it is not one. */
bool workload_trace_line(const char *line, char *phase, char token[HIST_TOKEN_MAX]);

#endif
