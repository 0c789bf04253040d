/*
 * agent.h - the bosun-agent process: its context and main loop.
 *
 * An agent_t owns everything the agent runs: the NATS connection and its
 * subscriptions, the ledger of executed ids, the command pool, the host
 * sampler and the counters. main() builds one from a finished config, runs
 * it until a signal (or maxRunSecs), and frees it. No global state: every
 * module gets the agent_t it works for.
 *
 * Threads: nats.c calls back on its own threads (commands.c validates there
 * and answers or queues); commands run on the pool's workers; the election
 * has its own thread (elector.c), and so have the connectivity probes
 * (prober.c); the main thread publishes heartbeats and does housekeeping, so
 * a long command or a slow peer never delays a heartbeat or a bid.
 */
#ifndef BOSUN_AGENT_AGENT_H
#define BOSUN_AGENT_AGENT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "dashboard.h"
#include "elector.h"
#include "hoststat.h"
#include "ledger.h"
#include "log.h"
#include "natsconn.h"
#include "pool.h"
#include "prober.h"
#include "ratelimit.h"
#include "security.h"

/* Mirrors Bosun__AgentCounters; updated from any thread. */
typedef struct {
    _Atomic uint64_t heartbeats_sent;
    _Atomic uint64_t commands_received;
    _Atomic uint64_t commands_ok;
    _Atomic uint64_t commands_failed;
    _Atomic uint64_t commands_rejected;
    _Atomic uint64_t commands_duplicate;
    _Atomic uint64_t events_received;
    _Atomic uint64_t malformed_messages;
} agent_counters_t;

typedef struct agent {
    const bosun_agent_config_t *cfg; /* borrowed from main(), outlives the agent */
    const bosun_log_t *log;          /* borrowed */
    const char *node;                /* cfg->id */
    uint64_t instance_id;            /* random per start */
    uint64_t boot_ms;                /* wall clock at start */
    bosun_nats_t *nats;
    ledger_t *ledger;
    pool_t *pool;
    elector_t *elector;              /* NULL when no resources are configured */
    dashboard_t *dashboard;          /* NULL unless logging.dashboard and a terminal */
    prober_t *prober;                /* NULL unless probes are configured */
    hoststat_t host;
    uint64_t hb_sequence;
    agent_counters_t counters;
    ratelimit_t reject_log;          /* bounds log lines about bad input */
    security_t sec;                  /* trusted keys, command user */
    char *child_env[8];              /* environment for commands */
    char *text_log_path;             /* textLogging's file */
    int dir_lock;                    /* flock on the data directory (files.h), -1 before */
    atomic_bool closing;
} agent_t;

/*
 * Creates the agent: data directory, ledger (recovering what a crash cut off),
 * command pool, NATS connection and subscriptions. The NATS server need not
 * be up. cfg and log are borrowed and must outlive the agent.
 */
bosun_status_t agent_new(const bosun_agent_config_t *cfg, const bosun_log_t *log, agent_t **out,
                         bosun_err_t *err);

/*
 * Runs the main loop until SIGTERM/SIGINT arrives on sigfd (a signalfd) or
 * maxRunSecs passes, then shuts down in order: stop intake, let running
 * commands finish within shutdownGraceSecs (else record them INTERRUPTED),
 * flush NATS. Returns the process exit code (0 on a clean stop).
 */
int agent_run(agent_t *a, int sigfd);

/* Frees everything the agent owns; NULL is a no-op. */
void agent_free(agent_t *a);

/* Publishes one heartbeat now (heartbeat.c). */
void agent_publish_heartbeat(agent_t *a);

/* Subscribes to <node>.command.> and <node>.event.> (commands.c). */
bosun_status_t agent_subscribe(agent_t *a, bosun_err_t *err);

/* Stops taking commands: unsubscribes both subjects (commands.c). */
void agent_unsubscribe(agent_t *a);

/* Records as INTERRUPTED what a crash left running, killing its leftovers (commands.c). */
void agent_recover(agent_t *a);

/* Pool callbacks for queued commands (commands.c). */
void agent_job_run(void *agent, void *job, const atomic_bool *cancel);
void agent_job_drop(void *agent, void *job);

#endif
