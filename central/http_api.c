/*
 * http_api.c - central's JSON API, for people and the dashboard:
 *
 *   GET /api/nodes          every node: liveness, heartbeat age, host, clock,
 *                           resources as it reports them, its counters
 *   GET /api/resources      every resource: who is ACTIVE, alarm, members
 *   GET /api/messages       the newest messages first, with their results
 *                           [?limit=1-1000 (100)] [&node=NAME]
 *   GET /api/connectivity   the source x target matrix from the probes in
 *                           the nodes' heartbeats: the nodes on its axes,
 *                           the cells among them, and the first failing
 *                           cells of all (so a limited matrix still shows
 *                           every problem in a large fleet)
 *                           [?limit=1-1000 nodes (50)] [&filter=TEXT]
 *
 * Times are central's wall clock in ms unless a name says otherwise.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bosun.pb-c.h"
#include "clock.h"
#include "codec.h"
#include "http_internal.h"
#include "name.h"

#define MESSAGES_DEFAULT 100u
#define MESSAGES_MAX 1000u
#define MATRIX_DEFAULT_NODES 50u /* the matrix grows with its square: ask for more explicitly */
#define MATRIX_MAX_NODES 1000u
#define FAILING_MAX 100u /* failing cells listed whatever the limit */

static const char *resource_state_str(Bosun__ResourceState s)
{
    return bosun_codec_enum_name(&bosun__resource_state__descriptor, (int)s);
}

static uint64_t age_ms(uint64_t now, uint64_t then) { return now > then ? now - then : 0; }

/* ---- /api/nodes ------------------------------------------------------------------------ */

static json_t *counters_json(const fleet_counters_t *c)
{
    return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
                     "heartbeatsSent",
                     (json_int_t)c->heartbeats_sent, "commandsReceived", (json_int_t)c->commands_received,
                     "commandsOk", (json_int_t)c->commands_ok, "commandsFailed", (json_int_t)c->commands_failed,
                     "commandsRejected", (json_int_t)c->commands_rejected, "commandsDuplicate",
                     (json_int_t)c->commands_duplicate, "eventsReceived", (json_int_t)c->events_received,
                     "malformedMessages", (json_int_t)c->malformed_messages, "electionPacketsTx",
                     (json_int_t)c->election_packets_tx, "electionPacketsRx", (json_int_t)c->election_packets_rx,
                     "electionPacketsDropped", (json_int_t)c->election_packets_dropped, "electionTransitions",
                     (json_int_t)c->election_transitions, "natsReconnects", (json_int_t)c->nats_reconnects,
                     "electionSendErrors", (json_int_t)c->election_tx_errors, "electionReceiveErrors",
                     (json_int_t)c->election_rx_errors, "electionScriptFailures",
                     (json_int_t)c->election_script_failures, "probesRun", (json_int_t)c->probes_run,
                     "probesFailed", (json_int_t)c->probes_failed);
}

static json_t *node_json(const fleet_view_t *v, uint64_t now)
{
    json_t *res = json_array();
    for (size_t k = 0; k < v->n_resources; k++)
        json_array_append_new(res, json_pack("{s:s, s:s, s:I, s:s}", "resource", v->resources[k].resource,
                                             "state", resource_state_str(v->resources[k].state), "priority",
                                             (json_int_t)v->resources[k].priority, "owner",
                                             v->resources[k].owner));
    json_t *j = json_pack("{s:s, s:s, s:b, s:b, s:I, s:I, s:I, s:s, s:I, s:I}", "node", v->node, "status",
                          fleet_liveness_str(v->status), "expected", v->expected, "heard", v->heard,
                          "statusSinceMs", (json_int_t)v->status_since_ms, "lastHeartbeatMs",
                          (json_int_t)v->last_heartbeat_ms, "heartbeatAgeMs",
                          (json_int_t)(v->heard ? age_ms(now, v->last_heartbeat_ms) : 0), "version", v->version,
                          "restarts", (json_int_t)v->restarts, "pid", (json_int_t)v->pid);
    if (j == NULL) {
        json_decref(res);
        return NULL;
    }
    json_object_set_new(j, "host", json_pack("{s:s, s:s, s:i, s:f, s:f, s:f, s:f, s:I, s:I}", "hostname",
                                             v->host.hostname, "os", v->host.os, "cores", (int)v->host.cores,
                                             "cpuUsagePercent", v->host.cpu_usage_percent, "load1",
                                             v->host.load1, "load5", v->host.load5, "load15", v->host.load15,
                                             "memTotalBytes", (json_int_t)v->host.mem_total_bytes,
                                             "memAvailableBytes", (json_int_t)v->host.mem_available_bytes));
    if (v->has_clock) {
        json_object_set_new(j, "clockOffsetUs", json_integer(v->clock_offset_us));
        json_object_set_new(j, "rttUs", json_integer((json_int_t)v->rtt_us));
        json_object_set_new(j, "clockOverBound", json_boolean(v->clock_over_bound));
    }
    json_object_set_new(j, "resources", res);
    json_object_set_new(j, "counters", counters_json(&v->counters));
    return j;
}

enum MHD_Result http_serve_nodes(http_server_t *h, struct MHD_Connection *conn)
{
    fleet_view_t *v = NULL;
    size_t n = 0;
    if (fleet_snapshot(fleetview_fleet(h->src.fleetview), &v, &n) != BOSUN_OK)
        return http_reply_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
    uint64_t now = bosun_wall_ms();
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, node_json(&v[i], now));
    fleet_views_free(v, n);
    return http_reply_json(conn, MHD_HTTP_OK, json_pack("{s:I, s:o}", "timeMs", (json_int_t)now, "nodes", arr));
}

/* ---- /api/resources ------------------------------------------------------------------------ */

enum MHD_Result http_serve_resources(http_server_t *h, struct MHD_Connection *conn)
{
    ownership_view_t *v = NULL;
    size_t n = 0;
    if (ownership_snapshot(fleetview_ownership(h->src.fleetview), &v, &n) != BOSUN_OK)
        return http_reply_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *members = json_array();
        for (size_t k = 0; k < v[i].n_members; k++) {
            const ownership_member_t *m = &v[i].members[k];
            json_array_append_new(members, json_pack("{s:s, s:s, s:I, s:I, s:b}", "node", m->node, "state",
                                                     resource_state_str(m->state), "sinceMs",
                                                     (json_int_t)m->since_ms, "priority",
                                                     (json_int_t)m->priority, "alive", m->alive));
        }
        json_array_append_new(arr, json_pack("{s:s, s:s, s:I, s:I, s:s, s:s, s:I, s:o}", "resource",
                                             v[i].resource, "active", v[i].active, "nActive",
                                             (json_int_t)v[i].n_active, "activeSinceMs",
                                             (json_int_t)v[i].active_since_ms, "alarm",
                                             ownership_alarm_str(v[i].alarm), "detail", v[i].detail,
                                             "transitions", (json_int_t)v[i].activations, "members", members));
    }
    ownership_views_free(v, n);
    return http_reply_json(conn, MHD_HTTP_OK,
                           json_pack("{s:I, s:o}", "timeMs", (json_int_t)bosun_wall_ms(), "resources", arr));
}

/* ---- /api/messages ------------------------------------------------------------------------- */

static void append_result(void *arg, const Bosun__Result *r)
{
    json_array_append_new(arg, bosun_codec_to_json(&r->base));
}

enum MHD_Result http_serve_messages(http_server_t *h, struct MHD_Connection *conn)
{
    size_t limit;
    enum MHD_Result answered = MHD_NO;
    if (!http_arg_uint(conn, "limit", MESSAGES_DEFAULT, MESSAGES_MAX, &limit, &answered))
        return answered;
    const char *node = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "node");
    if (node != NULL && !bosun_name_valid(node))
        return http_reply_text(conn, MHD_HTTP_BAD_REQUEST,
                               "node: expected a node name ([A-Za-z0-9_-], 1-64 characters)\n");
    if (h->store == NULL)
        return http_reply_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "store not open\n");
    /* The newest `limit` straight from the index, not a walk over every message. */
    store_query_t q = {.node = node, .include_pending = true, .limit = limit, .newest_first = true};
    json_t *arr = json_array();
    bosun_err_t err = {0};
    if (arr == NULL || store_results(h->store, &q, append_result, arr, &err) != BOSUN_OK) {
        json_decref(arr);
        log_warn(h->log, "http", "/api/messages: %s", err.msg);
        return http_reply_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "store error\n");
    }
    return http_reply_json(conn, MHD_HTTP_OK,
                           json_pack("{s:I, s:o}", "timeMs", (json_int_t)bosun_wall_ms(), "messages", arr));
}

/* ---- /api/connectivity --------------------------------------------------------------------- */

/* One name on the matrix's axes. */
typedef struct {
    const char *name;   /* borrowed from the snapshot */
    bool failing;       /* in a cell with a probe down */
    bool shown;
} axis_t;

static int axis_by_name(const void *a, const void *b)
{
    return strcmp(((const axis_t *)a)->name, ((const axis_t *)b)->name);
}

/* Problems first, then by name. */
static int axis_by_problem(const void *a, const void *b)
{
    const axis_t *x = a, *y = b;
    if (x->failing != y->failing)
        return x->failing ? -1 : 1;
    return strcmp(x->name, y->name);
}

static axis_t *axis_find(axis_t *ax, size_t n, const char *name)
{
    axis_t key = {.name = name};
    return bsearch(&key, ax, n, sizeof *ax, axis_by_name);
}

static bool probe_failing(const fleet_probe_t *p) { return (p->tcp_tested && !p->tcp_ok) || !p->nats_ok; }

static json_t *cell_json(const fleet_view_t *src, const fleet_probe_t *p, uint64_t now)
{
    json_t *tcp = json_pack("{s:b, s:b}", "tested", p->tcp_tested, "up", p->tcp_ok), *nats = json_pack("{s:b}", "up", p->nats_ok);
    if (p->tcp_ok)
        json_object_set_new(tcp, "us", json_integer(p->tcp_connect_us));
    if (p->nats_ok)
        json_object_set_new(nats, "us", json_integer(p->nats_rtt_us));
    return json_pack("{s:s, s:s, s:s, s:o, s:o, s:I, s:I, s:s}", "source", src->node, "target", p->target,
                     "sourceStatus", fleet_liveness_str(src->status), "tcp", tcp, "nats", nats, "measuredMs",
                     (json_int_t)p->measured_ms, "ageMs", (json_int_t)age_ms(now, p->measured_ms), "error",
                     p->error);
}

/*
 * The axes: every node with probes and every target, sorted by name, in
 * *out. With filter, only names containing it (case-insensitively).
 */
static bosun_status_t build_axes(const fleet_view_t *v, size_t n, const char *filter, axis_t **out, size_t *n_out)
{
    size_t cap = 0;
    for (size_t i = 0; i < n; i++)
        cap += v[i].n_probes > 0 ? 1 + v[i].n_probes : 0;
    axis_t *ax = calloc(cap ? cap : 1, sizeof *ax);
    if (ax == NULL)
        return BOSUN_ERR_NOMEM;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i].n_probes == 0)
            continue;
        ax[k++].name = v[i].node;
        for (size_t p = 0; p < v[i].n_probes; p++)
            ax[k++].name = v[i].probes[p].target;
    }
    qsort(ax, k, sizeof *ax, axis_by_name);
    size_t u = 0;
    for (size_t i = 0; i < k; i++) {
        bool dup = u > 0 && strcmp(ax[u - 1].name, ax[i].name) == 0;
        if (!dup && (filter == NULL || strcasestr(ax[i].name, filter) != NULL))
            ax[u++] = ax[i];
    }
    *out = ax;
    *n_out = u;
    return BOSUN_OK;
}

enum MHD_Result http_serve_connectivity(http_server_t *h, struct MHD_Connection *conn)
{
    size_t limit;
    enum MHD_Result answered = MHD_NO;
    if (!http_arg_uint(conn, "limit", MATRIX_DEFAULT_NODES, MATRIX_MAX_NODES, &limit, &answered))
        return answered;
    const char *filter = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "filter");
    if (filter != NULL && filter[0] == '\0')
        filter = NULL;
    fleet_view_t *v = NULL;
    size_t n = 0;
    if (fleet_snapshot_with_probes(fleetview_fleet(h->src.fleetview), &v, &n) != BOSUN_OK)
        return http_reply_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
    uint64_t now = bosun_wall_ms();
    axis_t *ax = NULL;
    size_t n_ax = 0;
    if (build_axes(v, n, filter, &ax, &n_ax) != BOSUN_OK) {
        fleet_views_free(v, n);
        return http_reply_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
    }
    /* Mark the names in failing cells, keep the first `limit` by (problem, name). */
    size_t cells = 0, failing = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t p = 0; p < v[i].n_probes; p++) {
            axis_t *s = axis_find(ax, n_ax, v[i].node), *t = axis_find(ax, n_ax, v[i].probes[p].target);
            if (s == NULL || t == NULL)
                continue;
            cells++;
            if (probe_failing(&v[i].probes[p])) {
                failing++;
                s->failing = t->failing = true;
            }
        }
    size_t total_nodes = n_ax;
    if (n_ax > limit) {
        qsort(ax, n_ax, sizeof *ax, axis_by_problem);
        n_ax = limit;
        qsort(ax, n_ax, sizeof *ax, axis_by_name);
    }
    json_t *names = json_array(), *arr = json_array(), *fails = json_array();
    for (size_t i = 0; i < n_ax; i++)
        json_array_append_new(names, json_string(ax[i].name));
    /* The first failing cells by (source, target), of a source or target that passes the filter. */
    for (size_t i = 0; i < n && json_array_size(fails) < FAILING_MAX; i++)
        for (size_t p = 0; p < v[i].n_probes && json_array_size(fails) < FAILING_MAX; p++)
            if (probe_failing(&v[i].probes[p]) &&
                (filter == NULL || strcasestr(v[i].node, filter) != NULL ||
                 strcasestr(v[i].probes[p].target, filter) != NULL))
                json_array_append_new(fails, cell_json(&v[i], &v[i].probes[p], now));
    for (size_t i = 0; i < n; i++) {
        if (v[i].n_probes == 0 || axis_find(ax, n_ax, v[i].node) == NULL)
            continue;
        for (size_t p = 0; p < v[i].n_probes; p++)
            if (axis_find(ax, n_ax, v[i].probes[p].target) != NULL)
                json_array_append_new(arr, cell_json(&v[i], &v[i].probes[p], now));
    }
    free(ax);
    fleet_views_free(v, n);
    return http_reply_json(conn, MHD_HTTP_OK,
                           json_pack("{s:I, s:o, s:o, s:o, s:I, s:I, s:I, s:b}", "timeMs", (json_int_t)now,
                                     "nodes", names, "cells", arr, "failing", fails, "totalNodes",
                                     (json_int_t)total_nodes, "totalCells", (json_int_t)cells, "failingCells",
                                     (json_int_t)failing, "truncated", total_nodes > n_ax));
}
