/*
 * outbox.h - delivery of accepted messages: the protocol core, with no I/O.
 *
 * Each node has a queue of its messages in accept order, and at most one of
 * them on the way at a time, so a node's messages run in the order they
 * were accepted; nodes never wait for each other. The head of a queue is
 * sent, then:
 *   - a final Ack (OK, FAILED, REJECTED, TIMEOUT, INTERRUPTED, EXPIRED)
 *     finishes it and the next message of that node goes;
 *   - RUNNING means the node has it: ask again after the retry wait, without
 *     spending a retry;
 *   - no answer within ackTimeout, "no responders" (the node is not
 *     listening) or BUSY: try again after a backoff with jitter
 *     (retryWait x 2^(failures-1), capped at maxRetryWait, x 0.5..1.5);
 *   - when the retries are spent it finishes EXPIRED;
 *   - when the ttl runs out before the message was ever sent (also while it
 *     waits behind others of its node) it finishes EXPIRED. Once it was
 *     sent, the node may have run it, so central keeps asking for a grace
 *     period (the agent answers with its stored result, or EXPIRED if it
 *     never saw it) and only then gives up, saying it may have run; once
 *     the node answered RUNNING the ttl no longer applies.
 * Times are wall-clock milliseconds (messages outlive restarts). The caller
 * (dispatch.c) sends what outbox_due() returns and feeds back answers; tests
 * drive it with a fake clock.
 */
#ifndef BOSUN_CENTRAL_OUTBOX_H
#define BOSUN_CENTRAL_OUTBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bosun.pb-c.h"
#include "message.h"
#include "status.h"

typedef struct outbox outbox_t;

/* A message whose delivery has ended; the caller owns m and frees it. */
typedef struct {
    message_t *m;
    Bosun__AckStatus status;
    const Bosun__Ack *ack;   /* borrowed from the caller's reply, or NULL */
    char error[256];
} outbox_final_t;

/* What the caller must do now. */
typedef struct {
    message_t **sends;       /* borrowed: send each as attempt m->attempts */
    size_t n_sends, cap_sends;
    outbox_final_t *finals;  /* owned messages handed back */
    size_t n_finals, cap_finals;
} outbox_actions_t;

void outbox_actions_init(outbox_actions_t *a);
void outbox_actions_clear(outbox_actions_t *a); /* does not free the finals' messages */
void outbox_actions_free(outbox_actions_t *a);

/* random: uniform 64-bit numbers for jitter (may be NULL: no jitter). */
bosun_status_t outbox_new(uint64_t (*random)(void *), void *random_arg, outbox_t **out);

/* Frees the outbox and every message it still holds; NULL is a no-op. */
void outbox_free(outbox_t *o);

/* Queues m (ownership passes) behind its node's earlier messages. */
bosun_status_t outbox_add(outbox_t *o, message_t *m);

/* Sends due heads, expires, and handles ack timeouts at now. */
void outbox_due(outbox_t *o, uint64_t now, outbox_actions_t *out);

/*
 * An answer from node to attempt `attempt` of its message with accept
 * sequence seq:
 * ack is the decoded Ack, or NULL with no_responders set when nobody
 * listens on the node's subject. Answers to messages that are no longer
 * on their way (a late reply, a duplicate) are ignored, except a final Ack
 * for the current head, which finishes it whichever attempt it answers.
 */
void outbox_on_answer(outbox_t *o, const char *node, uint64_t seq, uint32_t attempt, const Bosun__Ack *ack,
                      bool no_responders, uint64_t now, outbox_actions_t *out);

/* When outbox_due next has work (UINT64_MAX: none). */
uint64_t outbox_next_deadline(const outbox_t *o);

/* Messages held, nodes with messages, and messages on their way. */
size_t outbox_pending(const outbox_t *o);
size_t outbox_nodes(const outbox_t *o);
size_t outbox_in_flight(const outbox_t *o);

/*
 * Attempts that failed (no answer within ackTimeout, node busy or not
 * listening) and were scheduled again, since outbox_new(). Polls of a
 * message the node said is RUNNING are not retries.
 */
uint64_t outbox_retries(const outbox_t *o);

#endif
