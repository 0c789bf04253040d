/*
 * agent_fixture.h - one real nats-server and one real bosun-agent for a
 * test program, with a NATS connection for the test to act as central.
 */
#ifndef BOSUN_TEST_AGENT_FIXTURE_H
#define BOSUN_TEST_AGENT_FIXTURE_H

#include <nats/nats.h>

#include "client.h"
#include "harness.h"

typedef struct {
    harness_natsd_t *natsd;
    harness_proc_t *agent;
    natsConnection *nc;
    char *dir;          /* temporary directory of this fixture */
    char data_dir[512]; /* the agent's data directory */
    char config[512];   /* the agent's config file */
    const char *node;
} agent_fixture_t;

/*
 * Starts nats-server and an agent named node whose config is the JSON object
 * members in `extra` (e.g. "\"commands\": {\"maxConcurrent\": 2}") added to
 * a fast heartbeat and the server's URL. Waits until the agent answers ping.
 */
int fixture_start(agent_fixture_t *f, const char *node, const char *extra);

/* (Re)starts only the agent with the same config and data directory. */
int fixture_start_agent(agent_fixture_t *f);

/* Stops everything and removes the directory. */
void fixture_stop(agent_fixture_t *f);

#endif
