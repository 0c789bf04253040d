/*
 * fleet.h - the chaos suite's topology and processes: network namespaces
 * made with tests/harness/netns.h, one host each for five agents, three
 * NATS servers (one cluster), central and an observer, all on one bridge.
 *
 *   host index   role        address        runs
 *   0..4         agent n1-n5 10.199.0.1-5   bosun-agent (election on veth0)
 *   5..7         NATS s1-s3  10.199.0.6-8   nats-server, client 4222, routes 6222
 *   8            central     10.199.0.9     bosun-central (inbox, store, recorder)
 *   9            observer    10.199.0.10    bosun-central watch '*.event.>'
 *
 * The NATS servers listen on their namespace's 10.199.0.x address, not on
 * 127.0.0.1: each namespace's loopback is its own, and these addresses
 * exist only on the test's bridge, which routes nowhere (netns.h), so
 * nothing is reachable from outside the test. Multicast stays on the
 * bridge (DESIGN.md, "Safety rules").
 *
 * Every process is started with harness_proc_start inside its namespace
 * (ip netns exec keeps the pid), its output appended to one log per
 * process under the run directory, across restarts. fleet_free stops
 * whatever still runs (by pid) and deletes the namespaces.
 */
#ifndef BOSUN_CHAOS_FLEET_H
#define BOSUN_CHAOS_FLEET_H

#include <stdbool.h>

#include "harness.h"
#include "history.h"

#define FLEET_AGENTS 5
#define FLEET_NATS 3
#define FLEET_RES 3
#define FLEET_HOSTS (FLEET_AGENTS + FLEET_NATS + 2)

typedef struct fleet fleet_t;

/*
 * Makes the namespaces and writes every configuration under dir (which
 * must exist): agents with txIntervalSecs tx and transitionWaitSecs tw.
 * Starts nothing. *out is owned by the caller (fleet_free).
 */
int fleet_new(const char *dir, double tx, double tw, fleet_t **out);

/* Stops every process still running (SIGTERM, SIGKILL after 3 s), deletes the namespaces, frees f. */
void fleet_free(fleet_t *f);

/* The topology's host index of a role's index-th process. */
int fleet_host(host_role_t role, int index);

/*
 * Starts the process of (role, index); any earlier one must be gone
 * (fleet_forget). A NATS server is waited for until it accepts clients
 * (at most 5 s).
 */
int fleet_start(fleet_t *f, host_role_t role, int index);

/* The running (or not yet forgotten) process of (role, index), or NULL. */
harness_proc_t *fleet_proc(fleet_t *f, host_role_t role, int index);

/* Frees the handle of a process that has exited and been reaped. */
void fleet_forget(fleet_t *f, host_role_t role, int index);

/* Cuts (true) or heals the host's port at the bridge. */
int fleet_cut(fleet_t *f, host_role_t role, int index, bool cut);

/* Drops percent of the frames the host sends into the bridge (0: none). */
int fleet_loss(fleet_t *f, host_role_t role, int index, int percent);

/* Paths (borrowed). */
const char *fleet_dir(const fleet_t *f);
const char *fleet_inmsg(const fleet_t *f);
const char *fleet_central_dir(const fleet_t *f);
const char *fleet_log(const fleet_t *f, host_role_t role, int index);
const char *fleet_agent_dir(const fleet_t *f, int i);

/* Resource ids "r1".."r3" and the priority of node i for resource r. */
const char *fleet_res_id(int r);
int fleet_priority(int node, int r);

#endif
