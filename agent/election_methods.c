/*
 * election_methods.c - the election's methods on NATS: electionStatus,
 * electionForce (the NoPE seed's forced master) and electionRelease.
 * Their rows are in methods.c's table.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "methods.h"

/* Hands text to the Ack's stdout (the result owns it). */
static void set_output(method_result_t *res, char *text)
{
    if (text == NULL)
        return;
    res->exec.out = (uint8_t *)text;
    res->exec.out_len = strlen(text);
}

static bool need_election(const method_call_t *call, method_result_t *res)
{
    if (call->agent->elector != NULL)
        return true;
    res->status = BOSUN__ACK_STATUS__ACK_STATUS_REJECTED;
    snprintf(res->error, sizeof res->error, "%s has no resources configured", call->agent->node);
    return false;
}

/* electionStatus [RESOURCE]: JSON with each resource's state, owner and the transport counters. */
void method_election_status(const method_call_t *call, method_result_t *res)
{
    if (!need_election(call, res))
        return;
    agent_t *a = call->agent;
    size_t n = a->cfg->n_resources;
    elector_resource_t *snap = calloc(n, sizeof *snap);
    json_t *root = json_object(), *list = json_array();
    if (snap == NULL || root == NULL || list == NULL) {
        free(snap);
        json_decref(root);
        json_decref(list);
        res->status = BOSUN__ACK_STATUS__ACK_STATUS_FAILED;
        snprintf(res->error, sizeof res->error, "out of memory");
        return;
    }
    elector_snapshot(a->elector, snap, n);
    const char *only = call->n_data > 0 ? call->data[0] : NULL;
    bool found = only == NULL;
    for (size_t i = 0; i < n; i++) {
        const elector_resource_t *r = &snap[i];
        if (only != NULL && strcmp(only, r->id) != 0)
            continue;
        found = true;
        json_array_append_new(list, json_pack("{s:s, s:s, s:I, s:b, s:b, s:I, s:I, s:s, s:I, s:I, s:I}",
                                              "id", r->id, "state", election_state_str(r->state),
                                              "priority", (json_int_t)r->priority, "preempt", r->preempt,
                                              "forced", r->forced, "token", (json_int_t)r->token,
                                              "since_ms", (json_int_t)r->since_wall_ms, "owner", r->owner,
                                              "owner_token", (json_int_t)r->owner_token, "claimants",
                                              (json_int_t)r->claimants, "transitions",
                                              (json_int_t)r->transitions));
    }
    free(snap);
    if (!found) {
        json_decref(root);
        json_decref(list);
        res->status = BOSUN__ACK_STATUS__ACK_STATUS_REJECTED;
        snprintf(res->error, sizeof res->error, "unknown resource '%.64s'", only);
        return;
    }
    elector_stats_t st;
    elector_stats(a->elector, &st);
    json_t *dropped = json_object();
    for (int v = 1; v < SEAL_DROP_COUNT; v++)
        json_object_set_new(dropped, seal_verdict_str((seal_verdict_t)v), json_integer((json_int_t)st.dropped[v]));
    for (int v = 1; v < ELECTION_VERDICT_COUNT; v++)
        json_object_set_new(dropped, election_verdict_str((election_verdict_t)v),
                            json_integer((json_int_t)st.rejected[v]));
    json_object_set_new(root, "node", json_string(a->node));
    json_object_set_new(root, "transport", json_string(st.transport));
    json_object_set_new(root, "encrypted", json_boolean(st.encrypted));
    json_object_set_new(root, "resources", list);
    json_object_set_new(root, "packets",
                        json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:o}", "tx", (json_int_t)st.net.tx_packets,
                                  "tx_bytes", (json_int_t)st.net.tx_bytes, "rx",
                                  (json_int_t)st.net.rx_packets, "rx_bytes", (json_int_t)st.net.rx_bytes,
                                  "tx_errors", (json_int_t)st.net.tx_errors, "rx_errors",
                                  (json_int_t)st.net.rx_errors, "dropped", dropped));
    set_output(res, json_dumps(root, JSON_COMPACT));
    json_decref(root);
    res->status = BOSUN__ACK_STATUS__ACK_STATUS_OK;
}

static void control(const method_call_t *call, method_result_t *res, elector_op_t op)
{
    if (!need_election(call, res))
        return;
    if (call->n_data != 1) {
        res->status = BOSUN__ACK_STATUS__ACK_STATUS_REJECTED;
        snprintf(res->error, sizeof res->error, "%s needs data: [\"<resource id>\"]", call->method);
        return;
    }
    char msg[256];
    bosun_status_t rc = elector_control(call->agent->elector, op, call->data[0], msg, sizeof msg);
    if (rc == BOSUN_OK) {
        res->status = BOSUN__ACK_STATUS__ACK_STATUS_OK;
        size_t n = strlen(msg);
        char *out = malloc(n + 2);
        if (out != NULL) {
            memcpy(out, msg, n);
            out[n] = '\n';
            out[n + 1] = '\0';
        }
        set_output(res, out);
    } else {
        res->status = rc == BOSUN_ERR_NOT_FOUND ? BOSUN__ACK_STATUS__ACK_STATUS_REJECTED
                                                : BOSUN__ACK_STATUS__ACK_STATUS_FAILED;
        snprintf(res->error, sizeof res->error, "%s", msg);
    }
}

/* electionForce RESOURCE: this node bids above every priority until released. */
void method_election_force(const method_call_t *call, method_result_t *res)
{
    control(call, res, ELECTOR_FORCE);
}

/* electionRelease RESOURCE: give the resource up (and clear a force). */
void method_election_release(const method_call_t *call, method_result_t *res)
{
    control(call, res, ELECTOR_RELEASE);
}
