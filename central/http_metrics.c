/*
 * http_metrics.c - /metrics: what central knows, in the Prometheus text
 * format 0.0.4, every name prefixed bosun_.
 *
 * Families: nodes by status; per node the heartbeat age, clock offset and
 * round trip, and the agent's own counters from its heartbeat; per
 * resource the ACTIVE node, how many live nodes are ACTIVE, and how often
 * a node became ACTIVE; messages (pending, accepted, delivered, finished
 * by status, retried) and the accept-to-result latency histogram; the
 * recorder; connectivity up and round trip per (source, target, probe);
 * the NATS link.
 *
 * With 10,000 nodes the page has some 200,000 lines, so it is written into
 * one growing buffer by the small formatters below rather than by stdio
 * (bench/bench_scrape.c measures it).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bosun.pb-c.h"
#include "clock.h"
#include "codec.h"
#include "http_internal.h"

/* ---- a growing text buffer ------------------------------------------------------------ */

typedef struct {
    char *p;
    size_t len, cap;
    bool nomem; /* memory ran out: the page is incomplete */
} text_t;

/* Room for a value after a sample's labels: sign, 20 digits, point, decimals, newline. */
#define VALUE_MAX 48

/* Room for n more bytes; false (flagged) when memory runs out. */
static bool reserve(text_t *t, size_t n)
{
    if (t->len + n <= t->cap)
        return true;
    if (t->nomem)
        return false;
    size_t cap = t->cap ? t->cap : 1u << 16;
    while (cap < t->len + n)
        cap *= 2;
    char *p = realloc(t->p, cap);
    if (p == NULL) {
        t->nomem = true;
        return false;
    }
    t->p = p;
    t->cap = cap;
    return true;
}

/* The unchecked writers: each writes at w, returns the end; the caller reserved the room. */

static char *w_str(char *w, const char *s, size_t n)
{
    memcpy(w, s, n);
    return w + n;
}

static char *w_u64(char *w, uint64_t v)
{
    char buf[24];
    size_t i = sizeof buf;
    do {
        buf[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    return w_str(w, buf + i, sizeof buf - i);
}

/* v / 10^decimals (decimals <= 9), with exactly `decimals` digits after the point. */
static char *w_fixed(char *w, int64_t v, unsigned decimals)
{
    uint64_t scale = 1;
    for (unsigned i = 0; i < decimals; i++)
        scale *= 10;
    uint64_t a = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    if (v < 0)
        *w++ = '-';
    w = w_u64(w, a / scale);
    if (decimals == 0)
        return w;
    *w++ = '.';
    uint64_t f = a % scale;
    for (unsigned i = decimals; i > 0; i--) {
        w[i - 1] = (char)('0' + f % 10);
        f /= 10;
    }
    return w + decimals;
}

/* A label value of n bytes, escaped as the text format wants (\\, \", \n): at most 2n bytes. */
static char *w_label_value(char *w, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '\\' || c == '"') {
            *w++ = '\\';
            *w++ = c;
        } else if (c == '\n') {
            *w++ = '\\';
            *w++ = 'n';
        } else {
            *w++ = c;
        }
    }
    return w;
}

static void put(text_t *t, const char *s, size_t n)
{
    if (reserve(t, n)) {
        memcpy(t->p + t->len, s, n);
        t->len += n;
    }
}

static void puts_(text_t *t, const char *s) { put(t, s, strlen(s)); }

/* ---- samples ------------------------------------------------------------------------------- */

static void family(text_t *t, const char *name, const char *type, const char *help)
{
    puts_(t, "# HELP ");
    puts_(t, name);
    puts_(t, " ");
    puts_(t, help);
    puts_(t, "\n# TYPE ");
    puts_(t, name);
    puts_(t, " ");
    puts_(t, type);
    puts_(t, "\n");
}

/*
 * Starts a sample: name{k="v" for the labels given (a NULL key ends the list
 * early)} and a space, with room reserved for the value that must follow
 * (value_u64 or value_fixed). Writes nothing when memory runs out.
 */
static void sample(text_t *t, const char *name, const char *k1, const char *v1, const char *k2, const char *v2,
                   const char *k3, const char *v3)
{
    const char *k[3] = {k1, k2, k3}, *v[3] = {v1, v2, v3};
    size_t kl[3], vl[3], n_labels = 0, name_len = strlen(name), need = name_len + 3 + VALUE_MAX;
    for (; n_labels < 3 && k[n_labels] != NULL; n_labels++) {
        kl[n_labels] = strlen(k[n_labels]);
        vl[n_labels] = strlen(v[n_labels]);
        need += kl[n_labels] + 2 * vl[n_labels] + 4;
    }
    if (!reserve(t, need))
        return;
    char *w = w_str(t->p + t->len, name, name_len);
    for (size_t i = 0; i < n_labels; i++) {
        *w++ = i == 0 ? '{' : ',';
        w = w_str(w, k[i], kl[i]);
        *w++ = '=';
        *w++ = '"';
        w = w_label_value(w, v[i], vl[i]);
        *w++ = '"';
    }
    if (n_labels > 0)
        *w++ = '}';
    *w++ = ' ';
    t->len = (size_t)(w - t->p);
}

/* The value of the sample just started (room for it was reserved with it). */
static void value_u64(text_t *t, uint64_t v)
{
    if (t->nomem)
        return;
    char *w = w_u64(t->p + t->len, v);
    *w++ = '\n';
    t->len = (size_t)(w - t->p);
}

static void value_fixed(text_t *t, int64_t v, unsigned decimals)
{
    if (t->nomem)
        return;
    char *w = w_fixed(t->p + t->len, v, decimals);
    *w++ = '\n';
    t->len = (size_t)(w - t->p);
}

/* Lower-case copy of a state name for a label value ("ALIVE" -> "alive"). */
static void lower(char *dst, size_t n, const char *src)
{
    size_t i = 0;
    for (; src[i] && i + 1 < n; i++)
        dst[i] = (char)(src[i] >= 'A' && src[i] <= 'Z' ? src[i] - 'A' + 'a' : src[i]);
    dst[i] = '\0';
}

/* ---- nodes ------------------------------------------------------------------------------- */

static void write_node_counts(http_server_t *h, text_t *t)
{
    size_t counts[FLEET_LIVENESS_COUNT];
    fleet_counts(fleetview_fleet(h->src.fleetview), counts);
    family(t, "bosun_nodes", "gauge", "Nodes known to central, by liveness status.");
    for (int s = 0; s < FLEET_LIVENESS_COUNT; s++) {
        char st[16];
        lower(st, sizeof st, fleet_liveness_str((fleet_liveness_t)s));
        sample(t, "bosun_nodes", "status", st, NULL, NULL, NULL, NULL);
        value_u64(t, counts[s]);
    }
}

static void write_node_gauges(text_t *t, const fleet_view_t *v, size_t n, uint64_t now)
{
    family(t, "bosun_node_last_heartbeat_age_seconds", "gauge",
           "Seconds since central received the node's last heartbeat.");
    for (size_t i = 0; i < n; i++)
        if (v[i].heard) {
            sample(t, "bosun_node_last_heartbeat_age_seconds", "node", v[i].node, NULL, NULL, NULL, NULL);
            value_fixed(t, now > v[i].last_heartbeat_ms ? (int64_t)(now - v[i].last_heartbeat_ms) : 0, 3);
        }
    family(t, "bosun_node_clock_offset_seconds", "gauge",
           "Node clock minus central clock, estimated from time-sync pings.");
    for (size_t i = 0; i < n; i++)
        if (v[i].has_clock) {
            sample(t, "bosun_node_clock_offset_seconds", "node", v[i].node, NULL, NULL, NULL, NULL);
            value_fixed(t, v[i].clock_offset_us, 6);
        }
    family(t, "bosun_node_rtt_seconds", "gauge", "Round trip of the node's best recent time-sync ping.");
    for (size_t i = 0; i < n; i++)
        if (v[i].has_clock) {
            sample(t, "bosun_node_rtt_seconds", "node", v[i].node, NULL, NULL, NULL, NULL);
            value_fixed(t, (int64_t)v[i].rtt_us, 6);
        }
}

/*
 * The agent's own counters, from its latest heartbeat. Rows with the same
 * name are one family, told apart by the `outcome` label.
 */
static const struct {
    const char *name;
    const char *outcome; /* NULL: no outcome label */
    size_t offset;       /* in fleet_counters_t */
    const char *help;
} agent_counters[] = {
    {"bosun_agent_heartbeats_sent_total", NULL, offsetof(fleet_counters_t, heartbeats_sent),
     "Heartbeats the agent sent, by its own count (reset when it restarts)."},
    {"bosun_agent_commands_received_total", NULL, offsetof(fleet_counters_t, commands_received),
     "Commands the agent received."},
    {"bosun_agent_commands_finished_total", "ok", offsetof(fleet_counters_t, commands_ok),
     "Commands the agent answered with a final status, by outcome: ok; failed (non-zero exit, timeout, "
     "interrupted); rejected (refused, expired or busy)."},
    {"bosun_agent_commands_finished_total", "failed", offsetof(fleet_counters_t, commands_failed), NULL},
    {"bosun_agent_commands_finished_total", "rejected", offsetof(fleet_counters_t, commands_rejected), NULL},
    {"bosun_agent_commands_duplicate_total", NULL, offsetof(fleet_counters_t, commands_duplicate),
     "Retries of a command id the agent already had, answered RUNNING or with its stored result."},
    {"bosun_agent_events_received_total", NULL, offsetof(fleet_counters_t, events_received),
     "Events addressed to the agent."},
    {"bosun_agent_malformed_messages_total", NULL, offsetof(fleet_counters_t, malformed_messages),
     "Messages the agent could not decode."},
    {"bosun_agent_election_packets_sent_total", NULL, offsetof(fleet_counters_t, election_packets_tx),
     "Election packets the agent sent."},
    {"bosun_agent_election_packets_received_total", NULL, offsetof(fleet_counters_t, election_packets_rx),
     "Election packets the agent received and accepted."},
    {"bosun_agent_election_packets_dropped_total", NULL, offsetof(fleet_counters_t, election_packets_dropped),
     "Election packets the agent dropped (forged, replayed, stale, malformed or simulated loss)."},
    {"bosun_agent_election_transitions_total", NULL, offsetof(fleet_counters_t, election_transitions),
     "Resource state transitions on the agent."},
    {"bosun_agent_nats_reconnects_total", NULL, offsetof(fleet_counters_t, nats_reconnects),
     "Times the agent reconnected to NATS."},
    {"bosun_agent_election_send_errors_total", NULL, offsetof(fleet_counters_t, election_tx_errors),
     "Election packets the agent's socket refused to send."},
    {"bosun_agent_election_receive_errors_total", NULL, offsetof(fleet_counters_t, election_rx_errors),
     "Receive errors on the agent's election socket."},
    {"bosun_agent_election_script_failures_total", NULL, offsetof(fleet_counters_t, election_script_failures),
     "Transition scripts that failed or timed out on the agent."},
    {"bosun_agent_probes_total", NULL, offsetof(fleet_counters_t, probes_run),
     "Connectivity probe attempts the agent finished."},
    {"bosun_agent_probes_failed_total", NULL, offsetof(fleet_counters_t, probes_failed),
     "Of those, attempts where a measured part (TCP connect or NATS ping) failed."},
};

static void write_agent_counters(text_t *t, const fleet_view_t *v, size_t n)
{
    size_t rows = sizeof agent_counters / sizeof agent_counters[0];
    for (size_t r = 0; r < rows;) {
        size_t end = r + 1; /* rows [r, end) share one name */
        while (end < rows && strcmp(agent_counters[end].name, agent_counters[r].name) == 0)
            end++;
        family(t, agent_counters[r].name, "counter", agent_counters[r].help);
        for (size_t i = 0; i < n; i++) {
            if (!v[i].heard)
                continue;
            const char *counters = (const char *)&v[i].counters;
            for (size_t k = r; k < end; k++) {
                uint64_t value;
                memcpy(&value, counters + agent_counters[k].offset, sizeof value);
                sample(t, agent_counters[k].name, "node", v[i].node, agent_counters[k].outcome ? "outcome" : NULL,
                       agent_counters[k].outcome, NULL, NULL);
                value_u64(t, value);
            }
        }
        r = end;
    }
}

/* ---- connectivity ---------------------------------------------------------------------------- */

static bool source_alive(const fleet_view_t *v)
{
    return v->status == FLEET_ALIVE || v->status == FLEET_SLOW || v->status == FLEET_WARN;
}

/*
 * From the probes in each live node's latest heartbeat (a DEAD node's
 * measurements are stale, so they are left out). The fleet keeps each
 * target once per node, so no series appears twice.
 */
static void write_connectivity(text_t *t, const fleet_view_t *v, size_t n)
{
    static const char *const probe_names[2] = {"tcp", "nats"};
    family(t, "bosun_connectivity_up", "gauge",
           "1 when the source node's latest probe of the target succeeded, by probe: tcp (connect) or nats "
           "(a ping request through NATS). From live sources' heartbeats; no tcp series when the source "
           "knows no address of the target.");
    for (size_t i = 0; i < n; i++) {
        if (!source_alive(&v[i]))
            continue;
        for (size_t k = 0; k < v[i].n_probes; k++) {
            const fleet_probe_t *p = &v[i].probes[k];
            bool up[2] = {p->tcp_ok, p->nats_ok};
            for (int j = p->tcp_tested ? 0 : 1; j < 2; j++) {
                sample(t, "bosun_connectivity_up", "source", v[i].node, "target", p->target, "probe",
                       probe_names[j]);
                value_u64(t, up[j]);
            }
        }
    }
    family(t, "bosun_connectivity_rtt_seconds", "gauge",
           "Time of the source node's latest successful probe of the target: TCP connect time, or NATS "
           "ping round trip.");
    for (size_t i = 0; i < n; i++) {
        if (!source_alive(&v[i]))
            continue;
        for (size_t k = 0; k < v[i].n_probes; k++) {
            const fleet_probe_t *p = &v[i].probes[k];
            bool up[2] = {p->tcp_ok, p->nats_ok};
            uint32_t us[2] = {p->tcp_connect_us, p->nats_rtt_us};
            for (int j = 0; j < 2; j++)
                if (up[j]) {
                    sample(t, "bosun_connectivity_rtt_seconds", "source", v[i].node, "target", p->target,
                           "probe", probe_names[j]);
                    value_fixed(t, us[j], 6);
                }
        }
    }
}

/* ---- resources ----------------------------------------------------------------------------- */

static void write_resources(http_server_t *h, text_t *t)
{
    ownership_view_t *res = NULL;
    size_t n = 0;
    if (ownership_snapshot(fleetview_ownership(h->src.fleetview), &res, &n) != BOSUN_OK) {
        t->nomem = true;
        return;
    }
    family(t, "bosun_resource_active", "gauge", "1 for each live node that is ACTIVE for the resource.");
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < res[i].n_members; k++) {
            const ownership_member_t *m = &res[i].members[k];
            if (m->alive && m->state == BOSUN__RESOURCE_STATE__RESOURCE_STATE_ACTIVE) {
                sample(t, "bosun_resource_active", "resource", res[i].resource, "node", m->node, NULL, NULL);
                value_u64(t, 1);
            }
        }
    family(t, "bosun_resource_active_nodes", "gauge",
           "Live nodes ACTIVE for the resource now: 1 is healthy, 0 has no owner, 2 or more is split.");
    for (size_t i = 0; i < n; i++) {
        sample(t, "bosun_resource_active_nodes", "resource", res[i].resource, NULL, NULL, NULL, NULL);
        value_u64(t, res[i].n_active);
    }
    family(t, "bosun_resource_transitions_total", "counter",
           "Times central saw a node enter ACTIVE for the resource (from heartbeats, state events and bids), "
           "since central started.");
    for (size_t i = 0; i < n; i++) {
        sample(t, "bosun_resource_transitions_total", "resource", res[i].resource, NULL, NULL, NULL, NULL);
        value_u64(t, res[i].activations);
    }
    ownership_views_free(res, n);
}

/* ---- messages -------------------------------------------------------------------------------- */

static void write_messages(http_server_t *h, text_t *t)
{
    if (h->src.msgstats == NULL)
        return;
    msgstats_view_t ms;
    msgstats_read(h->src.msgstats, &ms);
    family(t, "bosun_messages", "gauge", "Messages accepted and not finished yet.");
    sample(t, "bosun_messages", "state", "pending", NULL, NULL, NULL, NULL);
    value_u64(t, ms.pending);
    family(t, "bosun_messages_accepted_total", "counter", "Messages accepted from the inbox (all time).");
    sample(t, "bosun_messages_accepted_total", NULL, NULL, NULL, NULL, NULL, NULL);
    value_u64(t, ms.accepted);
    uint64_t delivered = 0;
    const ProtobufCEnumDescriptor *ed = &bosun__ack_status__descriptor;
    family(t, "bosun_messages_finished_total", "counter", "Messages finished, by final status (all time).");
    for (unsigned i = 0; i < ed->n_values; i++) {
        int v = ed->values[i].value;
        if (v <= 0 || v >= MSGSTATS_STATUSES || v == BOSUN__ACK_STATUS__ACK_STATUS_RUNNING ||
            v == BOSUN__ACK_STATUS__ACK_STATUS_BUSY) /* never final */
            continue;
        char st[32];
        lower(st, sizeof st, bosun_codec_enum_name(ed, v));
        sample(t, "bosun_messages_finished_total", "status", st, NULL, NULL, NULL, NULL);
        value_u64(t, ms.by_status[v]);
        if (v != BOSUN__ACK_STATUS__ACK_STATUS_EXPIRED)
            delivered += ms.by_status[v];
    }
    family(t, "bosun_messages_delivered_total", "counter",
           "Messages their node answered with a final status (all time): delivered, whether the command "
           "then succeeded or not. The rest of the finished ones expired.");
    sample(t, "bosun_messages_delivered_total", NULL, NULL, NULL, NULL, NULL, NULL);
    value_u64(t, delivered);
    family(t, "bosun_messages_retried_total", "counter",
           "Delivery attempts that failed (no answer within ackTimeout, node busy or not listening) and were "
           "tried again, since central started.");
    sample(t, "bosun_messages_retried_total", NULL, NULL, NULL, NULL, NULL, NULL);
    value_u64(t, ms.retried);
    const char *name = "bosun_message_delivery_seconds";
    family(t, name, "histogram",
           "Time from accepting a message to its final result (any status), for messages finished since "
           "central started.");
    for (size_t i = 0; i < MSGSTATS_BUCKETS; i++) {
        char le[32]; /* seconds, as short as exact: 0.005, 0.01, 1, 2.5 */
        int n = snprintf(le, sizeof le, "%llu.%03llu", (unsigned long long)(msgstats_bucket_ms[i] / 1000),
                         (unsigned long long)(msgstats_bucket_ms[i] % 1000));
        while (n > 0 && le[n - 1] == '0')
            le[--n] = '\0';
        if (n > 0 && le[n - 1] == '.')
            le[--n] = '\0';
        sample(t, "bosun_message_delivery_seconds_bucket", "le", le, NULL, NULL, NULL, NULL);
        value_u64(t, ms.le[i]);
    }
    sample(t, "bosun_message_delivery_seconds_bucket", "le", "+Inf", NULL, NULL, NULL, NULL);
    value_u64(t, ms.finished);
    sample(t, "bosun_message_delivery_seconds_sum", NULL, NULL, NULL, NULL, NULL, NULL);
    value_fixed(t, (int64_t)ms.sum_ms, 3);
    sample(t, "bosun_message_delivery_seconds_count", NULL, NULL, NULL, NULL, NULL, NULL);
    value_u64(t, ms.finished);
}

/* ---- the page ---------------------------------------------------------------------------------- */

static void write_metrics(http_server_t *h, text_t *t)
{
    uint64_t now = bosun_wall_ms();
    write_node_counts(h, t);
    fleet_view_t *nodes = NULL;
    size_t n_nodes = 0;
    if (fleet_snapshot_with_probes(fleetview_fleet(h->src.fleetview), &nodes, &n_nodes) == BOSUN_OK) {
        write_node_gauges(t, nodes, n_nodes, now);
        write_agent_counters(t, nodes, n_nodes);
        write_connectivity(t, nodes, n_nodes);
        fleet_views_free(nodes, n_nodes);
    } else {
        t->nomem = true;
    }
    write_resources(h, t);
    write_messages(h, t);

    recorder_stats_t rs;
    recorder_stats(h->src.recorder, &rs);
    family(t, "bosun_recorder_bytes_total", "counter", "NDJSON bytes the recorder wrote.");
    sample(t, "bosun_recorder_bytes_total", NULL, NULL, NULL, NULL, NULL, NULL);
    value_u64(t, rs.bytes);
    family(t, "bosun_recorder_files_total", "counter", "Recorder files compressed.");
    sample(t, "bosun_recorder_files_total", NULL, NULL, NULL, NULL, NULL, NULL);
    value_u64(t, rs.files);
    family(t, "bosun_recorder_dropped_total", "counter", "Events the recorder refused or lost.");
    sample(t, "bosun_recorder_dropped_total", NULL, NULL, NULL, NULL, NULL, NULL);
    value_u64(t, rs.drops);

    family(t, "bosun_nats_connected", "gauge", "1 while central is connected to a NATS server.");
    sample(t, "bosun_nats_connected", NULL, NULL, NULL, NULL, NULL, NULL);
    value_u64(t, bosun_nats_connected(h->src.nats) ? 1 : 0);
}

/* A page on its way out; page_sent() keeps its buffer for the next scrape. */
typedef struct {
    http_server_t *h;
    char *p;
    size_t cap;
} page_t;

static void page_sent(void *cls)
{
    page_t *pg = cls;
    if (pg->h->spare == NULL) {
        pg->h->spare = pg->p;
        pg->h->spare_cap = pg->cap;
    } else {
        free(pg->p);
    }
    free(pg);
}

enum MHD_Result http_serve_metrics(http_server_t *h, struct MHD_Connection *conn)
{
    text_t t = {.p = h->spare, .cap = h->spare_cap};
    h->spare = NULL;
    h->spare_cap = 0;
    write_metrics(h, &t);
    page_t *pg = t.nomem ? NULL : malloc(sizeof *pg);
    if (pg == NULL) { /* an incomplete page would read as series that vanished */
        free(t.p);
        log_warn(h->log, "http", "/metrics: out of memory");
        return http_reply_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
    }
    *pg = (page_t){.h = h, .p = t.p, .cap = t.cap};
    struct MHD_Response *r = MHD_create_response_from_buffer_with_free_callback_cls(t.len, t.p, page_sent, pg);
    if (r == NULL) {
        page_sent(pg);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    enum MHD_Result ret = MHD_queue_response(conn, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ret;
}
