/*
 * dispatch.h - the outbox's NATS side: sends each attempt as a request and
 * brings the answers back to central's loop.
 *
 * Each attempt goes to <node>.command.<method> (or .event.) with its own
 * reply subject, <prefix>.<node>.<seq>.<attempt>, under one wildcard
 * subscription; nats.c's callback only copies the answer into a queue and
 * wakes the loop through an eventfd (STYLE.md habit 6). Commands are signed
 * with central's key (lib/sign.h) just before they are packed.
 */
#ifndef BOSUN_CENTRAL_DISPATCH_H
#define BOSUN_CENTRAL_DISPATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "log.h"
#include "message.h"
#include "name.h"
#include "natsconn.h"
#include "sign.h"
#include "status.h"

typedef struct dispatch dispatch_t;

typedef struct {
    char node[BOSUN_NAME_MAX + 1];
    uint64_t seq;
    uint32_t attempt;
    bool no_responders;
    uint8_t *data;   /* owned by the receiver of dispatch_take */
    size_t len;
} dispatch_answer_t;

/*
 * Subscribes to the answers. key (borrowed, must outlive d) signs every
 * Command sent; NULL sends them unsigned. Events are never signed (they
 * carry no signature field and run only event methods).
 */
bosun_status_t dispatch_new(bosun_nats_t *nats, const char *central_id, const sign_key_t *key,
                            const bosun_log_t *log, dispatch_t **out, bosun_err_t *err);
void dispatch_free(dispatch_t *d);

/* Readable while answers wait. */
int dispatch_fd(const dispatch_t *d);

/* Sends attempt m->attempts of m. */
bosun_status_t dispatch_send(dispatch_t *d, const message_t *m);

/* Takes one answer; false when none waits. Free out->data. */
bool dispatch_take(dispatch_t *d, dispatch_answer_t *out);

#endif
