/*
 * results.h - where central writes what happened to messages, for people
 * and programs: the NDJSON message log (one line per finished message with
 * every field needed to recreate it, and its result), the rejects file
 * (each refused drop or element with the reason), and central.event.result
 * on NATS.
 */
#ifndef BOSUN_CENTRAL_RESULTS_H
#define BOSUN_CENTRAL_RESULTS_H

#include <stdint.h>
#include <stdio.h>

#include "bosun.pb-c.h"
#include "inbox.h"
#include "message.h"
#include "natsconn.h"
#include "status.h"

typedef struct {
    FILE *log;       /* <dataDir>/messages.ndjson, appended */
    FILE *rejects;   /* <dataDir>/inmsg.rejects.ndjson, appended */
} results_t;

/* Opens both files in dir (append mode). */
bosun_status_t results_open(results_t *r, const char *dir, bosun_err_t *err);
void results_close(results_t *r);

/*
 * Fills *res (initialised by the caller) for a finished m; cmd must be an
 * initialised Command to hold m's fields. Everything borrows from m and ack.
 */
void results_build(const message_t *m, const char *sender, Bosun__AckStatus status,
                   const Bosun__Ack *ack, const char *error, uint64_t finished_ms,
                   Bosun__Command *cmd, Bosun__Result *res);

/* Appends res to the message log as one JSON line (flushed). */
bosun_status_t results_log(results_t *r, const Bosun__Result *res);

/* Appends a rejection to the rejects file (flushed). */
bosun_status_t results_reject(results_t *r, const inbox_reject_t *rej, uint64_t now_ms);

/* Publishes res on central.event.result (nats may be NULL). */
void results_publish(bosun_nats_t *nats, const Bosun__Result *res);

#endif
