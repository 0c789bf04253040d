/*
 * client.h - what tests do on NATS as central or an operator would: send a
 * Command and read its Ack, send raw bytes, wait for a heartbeat. Uses
 * nats.c directly (no bosun code on the path being tested).
 */
#ifndef BOSUN_TEST_CLIENT_H
#define BOSUN_TEST_CLIENT_H

#include <nats/nats.h>
#include <stdint.h>

#include "bosun.pb-c.h"

/* Connects to url (retrying for up to 5 s); NULL on failure. */
natsConnection *client_connect(const char *url);

/*
 * Sends a Command {id, node, method, data, method_timeout_ms, created now}
 * to <node>.command.<method> and waits timeout_ms for the Ack.
 * Returns the decoded Ack (free with bosun__ack__free_unpacked(a, NULL)) or
 * NULL on timeout.
 */
Bosun__Ack *client_command(natsConnection *nc, const char *node, const char *method, const char *id,
                           const char *const *data, uint64_t method_timeout_ms, int timeout_ms);

/* As client_command with a prepared Command. */
Bosun__Ack *client_send(natsConnection *nc, const char *subject, const Bosun__Command *cmd,
                        int timeout_ms);

/* Sends raw bytes as a request; returns the decoded Ack or NULL. */
Bosun__Ack *client_raw(natsConnection *nc, const char *subject, const void *buf, int len,
                       int timeout_ms);

/*
 * Waits up to timeout_ms for a heartbeat of node on sub (a sync
 * subscription to "<node>.event.heartbeat"). Free with
 * bosun__heartbeat__free_unpacked.
 */
Bosun__Heartbeat *client_next_heartbeat(natsSubscription *sub, int timeout_ms);

#endif
