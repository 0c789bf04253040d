/*
 * central.h - the bosun-central daemon: its context and main loop.
 *
 * One loop thread owns the inbox (inmsg.txt), the store (SQLite), the
 * outbox (per-node delivery) and the results files; nats.c's callbacks only
 * queue answers and heartbeats for it. Each turn of the loop: read new
 * drops and accept them (store commit, then queue), apply answers, send
 * what is due, write and commit results.
 */
#ifndef BOSUN_CENTRAL_CENTRAL_H
#define BOSUN_CENTRAL_CENTRAL_H

#include <jansson.h>
#include <pthread.h>

#include "config.h"
#include "dispatch.h"
#include "fleetview.h"
#include "http.h"
#include "inbox.h"
#include "log.h"
#include "msgstats.h"
#include "natsconn.h"
#include "outbox.h"
#include "recorder.h"
#include "results.h"
#include "store.h"

typedef struct {
    const bosun_central_config_t *cfg; /* borrowed */
    const bosun_log_t *log;            /* borrowed */
    bosun_nats_t *nats;
    fleetview_t *fleetview;            /* liveness, time sync, resource ownership */

    store_t *store;
    inbox_t *inbox;
    outbox_t *outbox;
    outbox_actions_t act;
    msgstats_t *msgstats;              /* retries and latency, for /metrics */
    dispatch_t *dispatch;
    sign_key_t *sign_key;              /* signs every command sent */
    results_t results;
    uint64_t rng;
    char *inbox_path;
    recorder_t *recorder;              /* NULL when recorder.enabled is false */
    http_server_t *http;               /* NULL when http.listen is "" */
    int dir_lock;                      /* flock on the data directory (files.h), -1 before */
} central_t;

/* Opens the store and inbox, resumes pending messages, connects. */
bosun_status_t central_new(const bosun_central_config_t *cfg, const bosun_log_t *log,
                           central_t **out, bosun_err_t *err);

/* Runs until SIGTERM/SIGINT on sigfd; returns the exit code. */
int central_run(central_t *c, int sigfd);

/* Frees; NULL is a no-op. */
void central_free(central_t *c);

#endif
