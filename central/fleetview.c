/* fleetview.c - the fleet view's glue: reports in, cores applied, transitions out. */
#include "fleetview.h"

#include <stdlib.h>

#include "clock.h"
#include "ratelimit.h"

struct fleetview {
    const bosun_central_config_t *cfg; /* borrowed */
    const bosun_log_t *log;            /* borrowed */
    telemetry_t *telemetry;
    fleet_t *fleet;
    ownership_t *ownership;
    fleet_actions_t fleet_act;
    ownership_actions_t own_act;
    ratelimit_t instance_log;          /* "two instances of one node" warnings */
    uint64_t heartbeats_taken;         /* heartbeats the loop has applied (or refused) */
    uint64_t next_stats_ms;            /* monotonic ms of the next counters line */
};

#define FLEET_STATS_EVERY_MS 5000u

static fleet_now_t fleet_now(void)
{
    fleet_now_t now = {.mono_ms = bosun_mono_ms(), .wall_ms = bosun_wall_ms()};
    return now;
}

static void log_transition(fleetview_t *v, const fleet_transition_t *t)
{
    const char *to = fleet_liveness_str(t->status), *from = fleet_liveness_str(t->previous);
    switch (t->status) {
    case FLEET_ALIVE:
        if (t->restarted)
            log_info(v->log, "fleet", "node %s restarted (was %s): instance %016llx, pid %u, version %s",
                     t->node, from, (unsigned long long)t->instance_id, t->pid, t->version);
        else if (t->previous == FLEET_UNKNOWN)
            log_info(v->log, "fleet", "node %s appeared: instance %016llx, pid %u, version %s", t->node,
                     (unsigned long long)t->instance_id, t->pid, t->version);
        else
            log_info(v->log, "fleet", "node %s: %s -> ALIVE (heartbeats again)", t->node, from);
        break;
    case FLEET_SLOW:
    case FLEET_WARN:
    case FLEET_REMOVED:
        log_warn(v->log, "fleet", "node %s: %s -> %s (no heartbeat for %.1f s)", t->node, from, to,
                 (double)t->silent_ms / 1000.0);
        break;
    case FLEET_DEAD:
        log_error(v->log, "fleet", "node %s: %s -> DEAD (no heartbeat for %.1f s)", t->node, from,
                  (double)t->silent_ms / 1000.0);
        break;
    case FLEET_MISSING:
        log_error(v->log, "fleet", "node %s: %s -> MISSING (expected, %s)", t->node, from,
                  t->previous == FLEET_UNKNOWN ? "but never heard from" : "but removed");
        break;
    default:
        log_warn(v->log, "fleet", "node %s: %s -> %s", t->node, from, to);
        break;
    }
}

/* Logs and publishes what the fleet core decided; sends the pings that are due. */
static void carry_out_fleet(fleetview_t *v, fleet_now_t now)
{
    fleet_actions_t *a = &v->fleet_act;
    for (size_t i = 0; i < a->n_transitions; i++) {
        const fleet_transition_t *t = &a->transitions[i];
        log_transition(v, t);
        Bosun__NodeStatus ns;
        fleet_transition_to_proto(t, &ns);
        telemetry_publish_status(v->telemetry, &ns);
        bool owner = t->status == FLEET_ALIVE || t->status == FLEET_SLOW || t->status == FLEET_WARN;
        ownership_node_alive(v->ownership, t->node, owner, now);
    }
    for (size_t i = 0; i < a->n_pings; i++) {
        uint64_t t0 = 0;
        if (telemetry_ping(v->telemetry, a->pings[i].node, a->pings[i].seq, &t0) == BOSUN_OK)
            fleet_ping_sent(v->fleet, a->pings[i].node, a->pings[i].seq, t0);
    }
    for (size_t i = 0; i < a->n_clock_notes; i++) {
        const fleet_clock_note_t *n = &a->clock_notes[i];
        double off = (double)n->offset_us / 1000.0, rtt = (double)n->rtt_us / 1000.0;
        if (n->crossing > 0)
            log_warn(v->log, "timesync", "node %s: clock offset %+.1f ms exceeds %.0f ms (rtt %.1f ms)",
                     n->node, off, v->cfg->time_sync.warn_offset_ms, rtt);
        else if (n->crossing < 0)
            log_info(v->log, "timesync", "node %s: clock offset %+.1f ms is within %.0f ms again (rtt %.1f ms)",
                     n->node, off, v->cfg->time_sync.warn_offset_ms, rtt);
        if (n->stepped)
            log_info(v->log, "timesync", "node %s: clock stepped; offset now %+.1f ms (rtt %.1f ms)", n->node,
                     off, rtt);
    }
    for (size_t i = 0; i < a->n_forgotten; i++) {
        log_debug(v->log, "fleet", "node %s forgotten (removed %u s ago)", a->forgotten[i],
                  FLEET_FORGET_MS / 1000u);
        ownership_forget_node(v->ownership, a->forgotten[i]);
    }
    if (a->nomem)
        log_error(v->log, "fleet", "out of memory: some liveness reports were lost");
    fleet_actions_clear(a);
}

static void carry_out_ownership(fleetview_t *v)
{
    ownership_actions_t *a = &v->own_act;
    for (size_t i = 0; i < a->n_events; i++) {
        const ownership_event_t *e = &a->events[i];
        if (e->alarm != OWNERSHIP_OK)
            log_error(v->log, "ownership", "resource %s: %s alarm: %s", e->resource,
                      ownership_alarm_str(e->alarm), e->detail);
        else
            log_info(v->log, "ownership", "resource %s: %s alarm cleared after %.1f s: %s", e->resource,
                     ownership_alarm_str(e->previous), (double)e->lasted_ms / 1000.0, e->detail);
    }
    if (a->nomem)
        log_error(v->log, "ownership", "out of memory: some alarms were not reported");
    ownership_actions_clear(a);
}

void fleetview_take(fleetview_t *v)
{
    const telemetry_item_t *items;
    size_t n = telemetry_take(v->telemetry, &items);
    fleet_now_t now = fleet_now();
    for (size_t i = 0; i < n; i++) {
        const telemetry_item_t *it = &items[i];
        if ((i & 1023) == 1023)
            now = fleet_now();
        switch (it->kind) {
        case TELEMETRY_HEARTBEAT: {
            const Bosun__Heartbeat *hb = (const Bosun__Heartbeat *)it->msg;
            fleet_hb_verdict_t verdict = fleet_on_heartbeat(v->fleet, hb, now, &v->fleet_act);
            v->heartbeats_taken++;
            uint64_t suppressed = 0;
            if (verdict == FLEET_HB_APPLIED)
                ownership_on_heartbeat(v->ownership, hb, now);
            else if (verdict == FLEET_HB_OTHER_INSTANCE &&
                     ratelimit_allow(&v->instance_log, now.mono_ms, &suppressed))
                log_warn(v->log, "fleet",
                         "node %s: heartbeats from instance %016llx (pid %u) while another instance is "
                         "alive; two agents with one name?%s",
                         hb->node, (unsigned long long)hb->instance_id, hb->pid,
                         suppressed ? " (more such lines suppressed)" : "");
            else if (verdict == FLEET_HB_FULL && ratelimit_allow(&v->instance_log, now.mono_ms, &suppressed))
                log_error(v->log, "fleet", "node %s ignored: %u nodes known, or out of memory", hb->node,
                          FLEET_MAX_NODES);
            break;
        }
        case TELEMETRY_STATE:
            ownership_on_state(v->ownership, it->node, (const Bosun__StateChange *)it->msg, now);
            break;
        case TELEMETRY_BID:
            ownership_on_bid(v->ownership, it->node, (const Bosun__ElectionPacket *)it->msg, now);
            break;
        case TELEMETRY_PING_ANSWER:
            fleet_on_ping_answer(v->fleet, it->node, it->seq, it->t1_us, it->t2_us, it->t3_us, now,
                                 &v->fleet_act);
            break;
        default:
            break;
        }
        if (v->fleet_act.n_transitions + v->fleet_act.n_clock_notes > 0)
            carry_out_fleet(v, now);
    }
}

/* A DEBUG line with the fleet's counts and the telemetry counters (bench/ reads it). */
static void log_fleet_stats(fleetview_t *v)
{
    if (!bosun_log_enabled(v->log, BOSUN_LOG_DEBUG))
        return;
    size_t k[FLEET_LIVENESS_COUNT];
    telemetry_stats_t st;
    fleet_counts(v->fleet, k);
    telemetry_stats(v->telemetry, &st);
    log_debug(v->log, "fleet",
              "stats: nodes alive=%zu slow=%zu warn=%zu dead=%zu removed=%zu missing=%zu unknown=%zu; "
              "received heartbeat=%llu state=%llu bid=%llu pong=%llu; applied=%llu queued=%llu "
              "nats_pending=%llu dropped=%llu nats_dropped=%llu rejected=%llu pings=%llu",
              k[FLEET_ALIVE], k[FLEET_SLOW], k[FLEET_WARN], k[FLEET_DEAD], k[FLEET_REMOVED], k[FLEET_MISSING],
              k[FLEET_UNKNOWN], (unsigned long long)st.received[TELEMETRY_HEARTBEAT],
              (unsigned long long)st.received[TELEMETRY_STATE], (unsigned long long)st.received[TELEMETRY_BID],
              (unsigned long long)st.received[TELEMETRY_PING_ANSWER], (unsigned long long)v->heartbeats_taken,
              (unsigned long long)st.queued, (unsigned long long)st.nats_pending, (unsigned long long)st.dropped,
              (unsigned long long)st.nats_dropped, (unsigned long long)st.rejected,
              (unsigned long long)st.pings_sent);
}

uint64_t fleetview_check(fleetview_t *v)
{
    fleetview_take(v); /* judge silence only after what has arrived */
    fleet_now_t now = fleet_now();
    fleet_check(v->fleet, now, &v->fleet_act);
    carry_out_fleet(v, now);
    ownership_check(v->ownership, now, &v->own_act);
    carry_out_ownership(v);
    if (now.mono_ms >= v->next_stats_ms) {
        log_fleet_stats(v);
        v->next_stats_ms = now.mono_ms + FLEET_STATS_EVERY_MS;
    }
    return now.mono_ms + (uint64_t)v->cfg->liveness.check_interval_ms;
}

bosun_status_t fleetview_new(const bosun_central_config_t *cfg, bosun_nats_t *nats, const bosun_log_t *log,
                             fleetview_t **out, bosun_err_t *err)
{
    fleetview_t *v = calloc(1, sizeof *v);
    if (v == NULL)
        return bosun_errf(err, BOSUN_ERR_NOMEM, "out of memory");
    v->cfg = cfg;
    v->log = log;
    fleet_actions_init(&v->fleet_act);
    ownership_actions_init(&v->own_act);
    ratelimit_init(&v->instance_log, 1);
    bosun_status_t rc;
    if ((rc = fleet_new(&cfg->liveness, &cfg->time_sync, cfg->expected_nodes, cfg->n_expected_nodes, fleet_now(),
                        &v->fleet)) != BOSUN_OK ||
        (rc = ownership_new(&v->ownership)) != BOSUN_OK) {
        fleetview_free(v);
        return bosun_errf(err, rc, "out of memory");
    }
    if ((rc = telemetry_new(nats, cfg->id, log, &v->telemetry, err)) != BOSUN_OK) {
        fleetview_free(v);
        return rc;
    }
    *out = v;
    return BOSUN_OK;
}

void fleetview_free(fleetview_t *v)
{
    if (v == NULL)
        return;
    telemetry_free(v->telemetry); /* first: no callback may queue any more */
    ownership_free(v->ownership);
    fleet_free(v->fleet);
    fleet_actions_free(&v->fleet_act);
    ownership_actions_free(&v->own_act);
    free(v);
}

int fleetview_fd(const fleetview_t *v) { return telemetry_fd(v->telemetry); }

fleet_t *fleetview_fleet(fleetview_t *v) { return v->fleet; }

ownership_t *fleetview_ownership(fleetview_t *v) { return v->ownership; }

void fleetview_stats(fleetview_t *v, telemetry_stats_t *out) { telemetry_stats(v->telemetry, out); }
