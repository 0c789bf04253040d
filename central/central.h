/*
 * central.h - the bosun-central daemon: its context and main loop.
 *
 * At this stage central connects to NATS and follows the fleet's heartbeats,
 * logging each node instance the first time it is heard (a restart shows as
 * a new instance). The inbox, delivery, liveness, recorder and HTTP duties
 * of DESIGN.md build on this context.
 */
#ifndef BOSUN_CENTRAL_CENTRAL_H
#define BOSUN_CENTRAL_CENTRAL_H

#include <jansson.h>
#include <pthread.h>

#include "config.h"
#include "log.h"
#include "natsconn.h"

typedef struct {
    const bosun_central_config_t *cfg; /* borrowed */
    const bosun_log_t *log;            /* borrowed */
    bosun_nats_t *nats;
    natsSubscription *heartbeat_sub;
    pthread_mutex_t mu;
    json_t *instances;                 /* node -> instance id (hex) last heard */
} central_t;

/* Connects and subscribes. cfg and log must outlive the central. */
bosun_status_t central_new(const bosun_central_config_t *cfg, const bosun_log_t *log,
                           central_t **out, bosun_err_t *err);

/* Runs until SIGTERM/SIGINT on sigfd; returns the exit code. */
int central_run(central_t *c, int sigfd);

/* Frees; NULL is a no-op. */
void central_free(central_t *c);

#endif
