/*
 * message.h - one message central delivers: what an operator asked for,
 * with its delivery settings, and how its delivery stands.
 *
 * A message is born from an inmsg.txt drop (inbox.c) without an id; the
 * store (store.c) gives it an id and a sequence when it accepts it, and the
 * outbox (outbox.c) delivers it. Strings are owned by the message.
 */
#ifndef BOSUN_CENTRAL_MESSAGE_H
#define BOSUN_CENTRAL_MESSAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bosun.pb-c.h"
#include "status.h"

#define MESSAGE_ID_MAX 48

typedef struct {
    char id[MESSAGE_ID_MAX];   /* "" until accepted */
    uint64_t seq;              /* global accept order, from the store */
    char *node;                /* target node */
    char *method;
    bool is_event;             /* commandOrEvent == "event" */
    char **data;
    size_t n_data;
    uint64_t ack_timeout_ms;
    int retries;               /* delivery attempts allowed after the first; -1 until ttl */
    uint64_t retry_wait_ms;    /* backoff base */
    uint64_t max_retry_wait_ms;
    uint64_t method_timeout_ms;
    uint64_t ttl_ms;           /* from accepted_ms; 0 never expires */
    uint64_t accepted_ms;      /* wall clock */
    /* Delivery state, kept by the outbox and persisted by the store. */
    uint32_t attempts;         /* requests sent so far */
    uint32_t failures;         /* attempts that went unanswered (not persisted: */
                               /*   after a restart it starts at attempts) */
    bool acknowledged;         /* the node said RUNNING: it has it (not persisted) */
    uint64_t next_attempt_ms;  /* wall clock of the next send; 0: at once */
} message_t;

/* A new, empty message (NULL on OOM). */
message_t *message_new(void);

/* Frees what m owns and m; NULL is a no-op. */
void message_free(message_t *m);

/* A deep copy (NULL on OOM). */
message_t *message_dup(const message_t *m);

/*
 * The id for accept sequence `seq` at wall time `ms`: "m<ms>-<seq, 10 digits>",
 * unique and sortable by accept time; within the agent's id alphabet.
 */
void message_make_id(uint64_t ms, uint64_t seq, char out[MESSAGE_ID_MAX]);

/*
 * Fills *cmd (initialised by the caller) from m for delivery attempt
 * `attempt`, borrowing m's strings: valid while m lives.
 */
void message_to_command(const message_t *m, const char *sender, uint32_t attempt, Bosun__Command *cmd);

/* The same for an event (<node>.event.<method>). */
void message_to_event(const message_t *m, const char *sender, Bosun__Event *ev);

#endif
