/*
 * http.c - central's HTTP server (libmicrohttpd): health, Prometheus
 * metrics, the JSON API and the dashboard. See http.h for what is read
 * from which thread. Every response is built whole in memory, then handed
 * to libmicrohttpd, which frees it.
 */
#include "http.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "bosun.pb-c.h"
#include "clock.h"
#include "codec.h"
#include "store.h"

#define MESSAGES_DEFAULT 100u
#define MESSAGES_MAX 1000u

struct http_server {
    struct MHD_Daemon *daemon;
    http_sources_t src;
    const bosun_log_t *log;
    store_t *store; /* read-only; used only on libmicrohttpd's one thread */
};

/* ---- address ------------------------------------------------------------------------ */

bosun_status_t http_parse_listen(const char *listen, struct sockaddr_storage *out, unsigned *len,
                                 bosun_err_t *err)
{
    char host[64];
    const char *colon = strrchr(listen, ':');
    if (colon == NULL)
        return bosun_errf(err, BOSUN_ERR_CONFIG, "http listen '%s': expected ADDR:PORT", listen);
    const char *h = listen;
    size_t hlen = (size_t)(colon - listen);
    if (hlen >= 2 && h[0] == '[' && h[hlen - 1] == ']') {
        h++;
        hlen -= 2;
    }
    if (hlen == 0 || hlen >= sizeof host)
        return bosun_errf(err, BOSUN_ERR_CONFIG, "http listen '%s': bad address", listen);
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    char *end;
    unsigned long port = strtoul(colon + 1, &end, 10);
    if (colon[1] == '\0' || *end != '\0' || port == 0 || port > 65535)
        return bosun_errf(err, BOSUN_ERR_CONFIG, "http listen '%s': bad port", listen);
    memset(out, 0, sizeof *out);
    struct sockaddr_in *a4 = (struct sockaddr_in *)out;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)out;
    if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)port);
        *len = sizeof *a4;
    } else if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        *len = sizeof *a6;
    } else {
        return bosun_errf(err, BOSUN_ERR_CONFIG, "http listen '%s': '%s' is not an IP address", listen, host);
    }
    return BOSUN_OK;
}

/* ---- responses ---------------------------------------------------------------------- */

/* Queues body (malloc'd; freed by libmicrohttpd, or here on failure); allow, if set, is the Allow header. */
static enum MHD_Result reply_with(struct MHD_Connection *conn, unsigned code, const char *type, char *body,
                                  size_t len, const char *allow)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (r == NULL) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (allow != NULL)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
    enum MHD_Result ret = MHD_queue_response(conn, code, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned code, const char *type, char *body,
                             size_t len)
{
    return reply_with(conn, code, type, body, len, NULL);
}

static enum MHD_Result reply_text(struct MHD_Connection *conn, unsigned code, const char *text)
{
    char *body = strdup(text);
    if (body == NULL)
        return MHD_NO;
    return reply(conn, code, "text/plain; charset=utf-8", body, strlen(body));
}

/* Sends j (consumed) as JSON. */
static enum MHD_Result reply_json(struct MHD_Connection *conn, unsigned code, json_t *j)
{
    char *body = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (body == NULL)
        return reply_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
    return reply(conn, code, "application/json", body, strlen(body));
}

/* ---- /health ------------------------------------------------------------------------ */

static enum MHD_Result serve_health(http_server_t *h, struct MHD_Connection *conn)
{
    bool up = bosun_nats_connected(h->src.nats);
    store_counts_t sc;
    bool store_ok = h->store != NULL && store_counts(h->store, &sc) == BOSUN_OK;
    /* Only the NATS link decides the code: without it no command can be delivered. */
    json_t *j = json_pack("{s:s, s:s, s:s}", "status", up && store_ok ? "ok" : "degraded", "nats",
                          up ? "connected" : "disconnected", "store", store_ok ? "ok" : "unreadable");
    return reply_json(conn, up ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, j);
}

/* ---- /metrics ----------------------------------------------------------------------- */

/* Lower-case copy of a state name for a label value ("ALIVE" -> "alive"). */
static void lower(char *dst, size_t n, const char *src)
{
    size_t i = 0;
    for (; src[i] && i + 1 < n; i++)
        dst[i] = (char)tolower((unsigned char)src[i]);
    dst[i] = '\0';
}

static void family(FILE *f, const char *name, const char *type, const char *help)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Node and resource names are [A-Za-z0-9._-] (name.h): no label escaping is needed. */
static void write_metrics(http_server_t *h, FILE *f)
{
    fleet_t *fleet = fleetview_fleet(h->src.fleetview);
    ownership_t *own = fleetview_ownership(h->src.fleetview);
    uint64_t now = bosun_wall_ms();

    size_t counts[FLEET_LIVENESS_COUNT];
    fleet_counts(fleet, counts);
    family(f, "bosun_nodes", "gauge", "Nodes known to central, by liveness status.");
    for (int s = 0; s < FLEET_LIVENESS_COUNT; s++) {
        char st[16];
        lower(st, sizeof st, fleet_liveness_str((fleet_liveness_t)s));
        fprintf(f, "bosun_nodes{status=\"%s\"} %zu\n", st, counts[s]);
    }

    fleet_view_t *nodes = NULL;
    size_t n_nodes = 0;
    if (fleet_snapshot(fleet, &nodes, &n_nodes) == BOSUN_OK) {
        family(f, "bosun_node_last_heartbeat_age_seconds", "gauge",
               "Seconds since central received the node's last heartbeat.");
        for (size_t i = 0; i < n_nodes; i++)
            if (nodes[i].heard)
                fprintf(f, "bosun_node_last_heartbeat_age_seconds{node=\"%s\"} %.3f\n", nodes[i].node,
                        now > nodes[i].last_heartbeat_ms ? (double)(now - nodes[i].last_heartbeat_ms) / 1e3
                                                         : 0.0);
        family(f, "bosun_node_clock_offset_seconds", "gauge",
               "Node clock minus central clock, estimated from time-sync pings.");
        for (size_t i = 0; i < n_nodes; i++)
            if (nodes[i].has_clock)
                fprintf(f, "bosun_node_clock_offset_seconds{node=\"%s\"} %.6f\n", nodes[i].node,
                        (double)nodes[i].clock_offset_us / 1e6);
        family(f, "bosun_node_rtt_seconds", "gauge", "Round trip of the node's last time-sync ping.");
        for (size_t i = 0; i < n_nodes; i++)
            if (nodes[i].has_clock)
                fprintf(f, "bosun_node_rtt_seconds{node=\"%s\"} %.6f\n", nodes[i].node,
                        (double)nodes[i].rtt_us / 1e6);
        fleet_views_free(nodes, n_nodes);
    }

    ownership_view_t *res = NULL;
    size_t n_res = 0;
    if (ownership_snapshot(own, &res, &n_res) == BOSUN_OK) {
        family(f, "bosun_resource_active", "gauge", "1 for each live node that is ACTIVE for the resource.");
        for (size_t i = 0; i < n_res; i++)
            for (size_t k = 0; k < res[i].n_members; k++) {
                const ownership_member_t *m = &res[i].members[k];
                if (m->alive && m->state == BOSUN__RESOURCE_STATE__RESOURCE_STATE_ACTIVE)
                    fprintf(f, "bosun_resource_active{resource=\"%s\",node=\"%s\"} 1\n", res[i].resource,
                            m->node);
            }
        ownership_views_free(res, n_res);
    }

    store_counts_t sc;
    if (h->store != NULL && store_counts(h->store, &sc) == BOSUN_OK) {
        family(f, "bosun_messages", "gauge", "Messages accepted and not finished yet.");
        fprintf(f, "bosun_messages{state=\"pending\"} %llu\n", (unsigned long long)sc.pending);
        family(f, "bosun_messages_accepted_total", "counter", "Messages accepted from the inbox.");
        fprintf(f, "bosun_messages_accepted_total %llu\n", (unsigned long long)sc.accepted);
        family(f, "bosun_messages_finished_total", "counter", "Messages finished, by final status.");
        const ProtobufCEnumDescriptor *ed = &bosun__ack_status__descriptor;
        for (unsigned i = 0; i < ed->n_values; i++) {
            int v = ed->values[i].value;
            if (v <= 0 || v >= 16) /* 0: UNSPECIFIED, never a final status */
                continue;
            char st[32];
            lower(st, sizeof st, bosun_codec_enum_name(ed, v));
            fprintf(f, "bosun_messages_finished_total{status=\"%s\"} %llu\n", st,
                    (unsigned long long)sc.by_status[v]);
        }
    }

    recorder_stats_t rs;
    recorder_stats(h->src.recorder, &rs);
    family(f, "bosun_recorder_bytes_total", "counter", "NDJSON bytes the recorder wrote.");
    fprintf(f, "bosun_recorder_bytes_total %llu\n", (unsigned long long)rs.bytes);
    family(f, "bosun_recorder_files_total", "counter", "Recorder files compressed.");
    fprintf(f, "bosun_recorder_files_total %llu\n", (unsigned long long)rs.files);
    family(f, "bosun_recorder_dropped_total", "counter", "Events the recorder refused or lost.");
    fprintf(f, "bosun_recorder_dropped_total %llu\n", (unsigned long long)rs.drops);

    family(f, "bosun_nats_connected", "gauge", "1 while central is connected to a NATS server.");
    fprintf(f, "bosun_nats_connected %d\n", bosun_nats_connected(h->src.nats) ? 1 : 0);
}

static enum MHD_Result serve_metrics(http_server_t *h, struct MHD_Connection *conn)
{
    char *body = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&body, &len);
    if (f == NULL)
        return reply_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
    write_metrics(h, f);
    if (fclose(f) != 0 || body == NULL) {
        free(body);
        return reply_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
    }
    return reply(conn, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", body, len);
}

/* ---- JSON API ----------------------------------------------------------------------- */

static const char *resource_state_str(Bosun__ResourceState s)
{
    return bosun_codec_enum_name(&bosun__resource_state__descriptor, (int)s);
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
                          (json_int_t)(v->heard && now > v->last_heartbeat_ms ? now - v->last_heartbeat_ms : 0),
                          "version", v->version, "restarts", (json_int_t)v->restarts, "pid", (json_int_t)v->pid);
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
    return j;
}

static enum MHD_Result serve_nodes(http_server_t *h, struct MHD_Connection *conn)
{
    fleet_view_t *v = NULL;
    size_t n = 0;
    if (fleet_snapshot(fleetview_fleet(h->src.fleetview), &v, &n) != BOSUN_OK)
        return reply_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
    uint64_t now = bosun_wall_ms();
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, node_json(&v[i], now));
    fleet_views_free(v, n);
    return reply_json(conn, MHD_HTTP_OK, json_pack("{s:I, s:o}", "timeMs", (json_int_t)now, "nodes", arr));
}

static enum MHD_Result serve_resources(http_server_t *h, struct MHD_Connection *conn)
{
    ownership_view_t *v = NULL;
    size_t n = 0;
    if (ownership_snapshot(fleetview_ownership(h->src.fleetview), &v, &n) != BOSUN_OK)
        return reply_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
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
        json_array_append_new(arr, json_pack("{s:s, s:s, s:I, s:I, s:s, s:s, s:o}", "resource", v[i].resource,
                                             "active", v[i].active, "nActive", (json_int_t)v[i].n_active,
                                             "activeSinceMs", (json_int_t)v[i].active_since_ms, "alarm",
                                             ownership_alarm_str(v[i].alarm), "detail", v[i].detail,
                                             "members", members));
    }
    ownership_views_free(v, n);
    return reply_json(conn, MHD_HTTP_OK,
                      json_pack("{s:I, s:o}", "timeMs", (json_int_t)bosun_wall_ms(), "resources", arr));
}

/* The newest `limit` results, kept in a ring while store_results walks them in accept order. */
typedef struct {
    json_t **ring;
    size_t limit, seen;
} newest_t;

static void keep_result(void *arg, const Bosun__Result *r)
{
    newest_t *nw = arg;
    size_t slot = nw->seen++ % nw->limit;
    json_decref(nw->ring[slot]);
    nw->ring[slot] = bosun_codec_to_json(&r->base);
}

static enum MHD_Result serve_messages(http_server_t *h, struct MHD_Connection *conn)
{
    size_t limit = MESSAGES_DEFAULT;
    const char *ls = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "limit");
    if (ls != NULL) {
        char *end;
        unsigned long v = strtoul(ls, &end, 10);
        if (*ls == '\0' || *end != '\0' || v == 0 || v > MESSAGES_MAX)
            return reply_text(conn, MHD_HTTP_BAD_REQUEST, "limit: expected 1-1000\n");
        limit = v;
    }
    if (h->store == NULL)
        return reply_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "store not open\n");
    newest_t nw = {.ring = calloc(limit, sizeof(json_t *)), .limit = limit};
    if (nw.ring == NULL)
        return reply_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
    store_query_t q = {.include_pending = true};
    bosun_err_t err = {0};
    bosun_status_t rc = store_results(h->store, &q, keep_result, &nw, &err);
    json_t *arr = json_array();
    size_t n = nw.seen < limit ? nw.seen : limit;
    for (size_t i = 0; i < n; i++) { /* newest first */
        size_t slot = (nw.seen - 1 - i) % limit;
        if (nw.ring[slot] != NULL)
            json_array_append(arr, nw.ring[slot]);
    }
    for (size_t i = 0; i < limit; i++)
        json_decref(nw.ring[i]);
    free(nw.ring);
    if (rc != BOSUN_OK) {
        json_decref(arr);
        log_warn(h->log, "http", "/api/messages: %s", err.msg);
        return reply_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "store error\n");
    }
    return reply_json(conn, MHD_HTTP_OK,
                      json_pack("{s:I, s:o}", "timeMs", (json_int_t)bosun_wall_ms(), "messages", arr));
}

/* ---- dashboard ---------------------------------------------------------------------- */

static const char dashboard_html[] =
    "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>bosun</title>\n"
    "<style>\n"
    "body{font:14px system-ui,sans-serif;margin:1em;background:#f6f7f9;color:#222}\n"
    "h1{font-size:18px;margin:0 0 .5em}h2{font-size:15px;margin:1em 0 .3em}\n"
    "table{border-collapse:collapse;background:#fff}td,th{padding:3px 8px;border-bottom:1px solid #ddd;"
    "text-align:left;white-space:nowrap}\n"
    ".st{display:inline-block;padding:1px 6px;border-radius:3px;color:#fff;font-weight:600}\n"
    ".ALIVE{background:#2a9d4a}.SLOW{background:#c9a400}.WARN{background:#e07b00}.DEAD{background:#c62828}"
    ".REMOVED{background:#777}.MISSING{background:#6a1b9a}.UNKNOWN{background:#999}\n"
    ".alarm{color:#c62828;font-weight:600}#err{color:#c62828}\n"
    "</style></head><body>\n"
    "<h1>bosun fleet <small id=\"when\"></small> <span id=\"err\"></span></h1>\n"
    "<h2>Nodes <small id=\"counts\"></small></h2>\n"
    "<table><thead><tr><th>node</th><th>status</th><th>last heartbeat</th><th>load</th>"
    "<th>clock offset</th><th>version</th></tr></thead><tbody id=\"nodes\"></tbody></table>\n"
    "<h2>Resources</h2>\n"
    "<table><thead><tr><th>resource</th><th>ACTIVE</th><th>alarm</th><th>members</th></tr></thead>"
    "<tbody id=\"res\"></tbody></table>\n"
    "<script>\n"
    "function esc(s){return String(s).replace(/[&<>\"]/g,function(c){return "
    "{'&':'&amp;','<':'&lt;','>':'&gt;','\"':'&quot;'}[c];});}\n"
    "function age(ms){return ms<1000?ms+' ms':(ms/1000).toFixed(1)+' s';}\n"
    "function get(u){return fetch(u,{cache:'no-store'}).then(function(r){if(!r.ok)throw new Error(u+': '+"
    "r.status);return r.json();});}\n"
    "function nodes(d){var c={},h='';d.nodes.forEach(function(n){c[n.status]=(c[n.status]||0)+1;"
    "h+='<tr data-node=\"'+esc(n.node)+'\"><td>'+esc(n.node)+'</td><td><span class=\"st '+esc(n.status)+"
    "'\">'+esc(n.status)+'</span></td><td>'+(n.heard?age(n.heartbeatAgeMs)+' ago':'never')+'</td><td>'+"
    "n.host.load1.toFixed(2)+'</td><td>'+(n.clockOffsetUs!==undefined?(n.clockOffsetUs/1000).toFixed(1)+"
    "' ms':'-')+'</td><td>'+esc(n.version)+'</td></tr>';});"
    "document.getElementById('nodes').innerHTML=h;"
    "document.getElementById('counts').textContent=Object.keys(c).map(function(k){return k+' '+c[k];})"
    ".join(', ');}\n"
    "function res(d){var h='';d.resources.forEach(function(r){h+='<tr data-resource=\"'+esc(r.resource)+"
    "'\"><td>'+esc(r.resource)+'</td><td class=\"active\">'+(r.active?esc(r.active):'-')+'</td><td'+"
    "(r.alarm!=='OK'?' class=\"alarm\">':'>')+esc(r.alarm)+'</td><td>'+r.members.map(function(m){"
    "return esc(m.node)+':'+esc(m.state);}).join(' ')+'</td></tr>';});"
    "document.getElementById('res').innerHTML=h;}\n"
    "function tick(){Promise.all([get('/api/nodes'),get('/api/resources')]).then(function(v){nodes(v[0]);"
    "res(v[1]);document.getElementById('err').textContent='';document.getElementById('when').textContent="
    "new Date(v[0].timeMs).toISOString();}).catch(function(e){document.getElementById('err').textContent="
    "String(e);}).then(function(){setTimeout(tick,1000);});}\n"
    "tick();\n"
    "</script></body></html>\n";

static enum MHD_Result serve_dashboard(struct MHD_Connection *conn)
{
    char *body = strdup(dashboard_html);
    if (body == NULL)
        return MHD_NO;
    return reply(conn, MHD_HTTP_OK, "text/html; charset=utf-8", body, strlen(body));
}

/* ---- routing ------------------------------------------------------------------------ */

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_size,
                                  void **con_cls)
{
    (void)version;
    (void)upload_data;
    http_server_t *h = cls;
    /* First call: headers only. Bodies are not read; a request with one is answered 405. */
    if (*con_cls == NULL) {
        *con_cls = h;
        return MHD_YES;
    }
    *upload_size = 0;
    static const char *const routes[] = {"/", "/health", "/metrics", "/api/nodes", "/api/resources",
                                         "/api/messages"};
    size_t route = sizeof routes / sizeof routes[0];
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        if (strcmp(url, routes[i]) == 0)
            route = i;
    if (route == sizeof routes / sizeof routes[0])
        return reply_text(conn, MHD_HTTP_NOT_FOUND, "not found\n");
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
        char *body = strdup("method not allowed\n");
        if (body == NULL)
            return MHD_NO;
        return reply_with(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain; charset=utf-8", body, strlen(body),
                          "GET, HEAD");
    }
    switch (route) {
    case 0: return serve_dashboard(conn);
    case 1: return serve_health(h, conn);
    case 2: return serve_metrics(h, conn);
    case 3: return serve_nodes(h, conn);
    case 4: return serve_resources(h, conn);
    default: return serve_messages(h, conn);
    }
}

/* libmicrohttpd's own complaints go to central's log. */
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    http_server_t *h = cls;
    char line[256];
    vsnprintf(line, sizeof line, fmt, ap);
    line[strcspn(line, "\n")] = '\0';
    log_warn(h->log, "http", "%s", line);
}

bosun_status_t http_new(const char *listen, const http_sources_t *src, const bosun_log_t *log,
                        http_server_t **out, bosun_err_t *err)
{
    *out = NULL;
    if (listen == NULL || listen[0] == '\0')
        return BOSUN_OK;
    struct sockaddr_storage addr;
    unsigned alen;
    bosun_status_t rc = http_parse_listen(listen, &addr, &alen, err);
    if (rc != BOSUN_OK)
        return rc;
    http_server_t *h = calloc(1, sizeof *h);
    if (h == NULL)
        return BOSUN_ERR_NOMEM;
    h->src = *src;
    h->log = log;
    bosun_err_t serr = {0};
    if (store_open_readonly(src->data_dir, &h->store, &serr) != BOSUN_OK)
        log_warn(log, "http", "no store for /api/messages and message metrics: %s", serr.msg);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
    if (addr.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    h->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR,
                                 (struct sockaddr *)&addr, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, h,
                                 MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_CONNECTION_LIMIT, 64u,
                                 MHD_OPTION_END);
    if (h->daemon == NULL) {
        store_close(h->store);
        free(h);
        return bosun_errf(err, BOSUN_ERR_IO, "http: cannot listen on %s", listen);
    }
    log_info(log, "http", "serving /health, /metrics, /api and the dashboard on http://%s/", listen);
    *out = h;
    return BOSUN_OK;
}

void http_free(http_server_t *h)
{
    if (h == NULL)
        return;
    MHD_stop_daemon(h->daemon);
    store_close(h->store);
    free(h);
}
