/*
 * message.c - one message central delivers (see message.h): allocation,
 * deep copies, ids, and the wire form of a delivery attempt.
 */
#include "message.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

message_t *message_new(void)
{
    return calloc(1, sizeof(message_t));
}

void message_free(message_t *m)
{
    if (m == NULL)
        return;
    free(m->node);
    free(m->method);
    for (size_t i = 0; i < m->n_data; i++)
        free(m->data[i]);
    free(m->data);
    free(m);
}

/* strdup that keeps NULL as NULL; *ok turns false on OOM. */
static char *dup_or_null(const char *s, bool *ok)
{
    if (s == NULL)
        return NULL;
    char *d = strdup(s);
    if (d == NULL)
        *ok = false;
    return d;
}

message_t *message_dup(const message_t *m)
{
    message_t *d = message_new();
    if (d == NULL)
        return NULL;
    *d = *m;
    d->node = NULL;
    d->method = NULL;
    d->data = NULL;
    d->n_data = 0;
    bool ok = true;
    d->node = dup_or_null(m->node, &ok);
    d->method = dup_or_null(m->method, &ok);
    if (ok && m->n_data > 0) {
        d->data = calloc(m->n_data, sizeof *d->data);
        if (d->data == NULL)
            ok = false;
        for (size_t i = 0; ok && i < m->n_data; i++) {
            d->data[i] = dup_or_null(m->data[i], &ok);
            d->n_data = i + 1;
        }
    }
    if (!ok) {
        message_free(d);
        return NULL;
    }
    return d;
}

/*
 * Both numbers are zero-padded so that ids compare as strings in accept
 * order: 13 digits of milliseconds last until the year 2286, and 10 digits
 * of sequence until 10^10 messages (beyond that the id only grows longer).
 */
void message_make_id(uint64_t ms, uint64_t seq, char out[MESSAGE_ID_MAX])
{
    snprintf(out, MESSAGE_ID_MAX, "m%013" PRIu64 "-%010" PRIu64, ms, seq);
}

void message_to_command(const message_t *m, const char *sender, uint32_t attempt, Bosun__Command *cmd)
{
    cmd->id = (char *)m->id;
    cmd->node = m->node;
    cmd->method = m->method;
    cmd->data = m->data;
    cmd->n_data = m->n_data;
    cmd->kind = m->is_event ? BOSUN__MESSAGE_KIND__MESSAGE_KIND_EVENT
                            : BOSUN__MESSAGE_KIND__MESSAGE_KIND_COMMAND;
    cmd->created_ms = m->accepted_ms;
    cmd->ttl_ms = m->ttl_ms;
    cmd->method_timeout_ms = m->method_timeout_ms;
    cmd->sender = (char *)sender;
    cmd->attempt = attempt;
}

void message_to_event(const message_t *m, const char *sender, Bosun__Event *ev)
{
    ev->id = (char *)m->id;
    ev->from = (char *)sender;
    ev->node = m->node;
    ev->method = m->method;
    ev->data = m->data;
    ev->n_data = m->n_data;
    ev->time_ms = m->accepted_ms;
}
