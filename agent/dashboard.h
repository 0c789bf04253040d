/*
 * dashboard.h - the seed's live terminal view of the election.
 *
 * When logging.dashboard is on and stdout is a terminal, a thread redraws,
 * once a second: node id, default priority, uptime, transport address,
 * whether packets are encrypted, TX/RX packets, bytes, kbit/s, errors and
 * simulated loss, then per resource its local state, priority, owner and
 * (with --dashboard-token) the tokens. It only reads the elector's
 * snapshot, so it can never hold up the election.
 */
#ifndef BOSUN_AGENT_DASHBOARD_H
#define BOSUN_AGENT_DASHBOARD_H

#include <stdio.h>

#include "config.h"
#include "elector.h"

typedef struct dashboard dashboard_t;

/* Starts drawing to out (borrowed). All arguments must outlive it. */
bosun_status_t dashboard_start(const bosun_agent_config_t *cfg, elector_t *el, FILE *out,
                               dashboard_t **result);

/* Renders one frame into out (used by the thread, and by tests). */
void dashboard_render(const bosun_agent_config_t *cfg, elector_t *el, FILE *out, uint64_t uptime_ms,
                      const elector_stats_t *prev, double secs);

/* Stops the thread and frees; NULL is a no-op. */
void dashboard_stop(dashboard_t *d);

#endif
