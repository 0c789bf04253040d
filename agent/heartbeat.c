/*
 * heartbeat.c - the agent's heartbeat on <node>.event.heartbeat.
 *
 * Carries who this is (node, instance id, pid, version, boot time), a
 * sequence number, the host status, the state of each configured resource,
 * the agent's counters, the latest connectivity probe result per target and
 * the address of its probe listener. Central derives liveness, restarts, the
 * fleet view and the connectivity matrix from it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "agent.h"
#include "clock.h"
#include "codec.h"
#include "name.h"

static void fill_counters(agent_t *a, Bosun__AgentCounters *c)
{
    c->heartbeats_sent = atomic_load(&a->counters.heartbeats_sent);
    c->commands_received = atomic_load(&a->counters.commands_received);
    c->commands_ok = atomic_load(&a->counters.commands_ok);
    c->commands_failed = atomic_load(&a->counters.commands_failed);
    c->commands_rejected = atomic_load(&a->counters.commands_rejected);
    c->commands_duplicate = atomic_load(&a->counters.commands_duplicate);
    c->events_received = atomic_load(&a->counters.events_received);
    c->malformed_messages = atomic_load(&a->counters.malformed_messages);
    c->nats_reconnects = bosun_nats_reconnects(a->nats);
    if (a->elector != NULL) {
        elector_stats_t st;
        elector_stats(a->elector, &st);
        c->election_packets_tx = st.net.tx_packets;
        c->election_packets_rx = st.net.rx_packets;
        for (int i = 0; i < SEAL_DROP_COUNT; i++)
            c->election_packets_dropped += st.dropped[i];
        for (int i = 0; i < ELECTION_VERDICT_COUNT; i++)
            if (i != ELECTION_ACCEPTED && i != ELECTION_DROP_OWN && i != ELECTION_DROP_DUPLICATE)
                c->election_packets_dropped += st.rejected[i];
        c->election_transitions = st.transitions;
        c->election_tx_errors = st.net.tx_errors;
        c->election_rx_errors = st.net.rx_errors;
        c->election_script_failures = st.script_failures;
    }
    if (a->prober != NULL) {
        prober_stats_t ps;
        prober_stats(a->prober, &ps);
        c->probes_run = ps.core.attempts;
        c->probes_failed = ps.core.failed;
    }
}

/*
 * Points hb->probes at results[0..n) converted into out[]/outp[] (all three
 * arrays owned by the caller); strings are borrowed from results.
 */
static void fill_probes(Bosun__Heartbeat *hb, probe_result_t *results, size_t n,
                        Bosun__ProbeResult *out, Bosun__ProbeResult **outp)
{
    for (size_t i = 0; i < n; i++) {
        probe_result_t *r = &results[i];
        bosun__probe_result__init(&out[i]);
        out[i].target = r->target;
        out[i].address = r->address;
        out[i].tcp_tested = r->tcp_tested;
        out[i].tcp_ok = r->tcp_ok;
        out[i].tcp_connect_us = r->tcp_connect_us;
        out[i].nats_ok = r->nats_ok;
        out[i].nats_rtt_us = r->nats_rtt_us;
        out[i].time_ms = r->time_ms;
        out[i].error = r->error;
        outp[i] = &out[i];
    }
    hb->probes = outp;
    hb->n_probes = n;
}

void agent_publish_heartbeat(agent_t *a)
{
    const bosun_agent_config_t *cfg = a->cfg;
    Bosun__Heartbeat hb = BOSUN__HEARTBEAT__INIT;
    Bosun__HostStatus host = BOSUN__HOST_STATUS__INIT;
    Bosun__AgentCounters counters = BOSUN__AGENT_COUNTERS__INIT;

    hb.node = (char *)a->node;
    hb.instance_id = a->instance_id;
    hb.sequence = ++a->hb_sequence;
    hb.boot_time_ms = a->boot_ms;
    hb.pid = (uint32_t)getpid();
    hb.version = (char *)BOSUN_VERSION;
    hb.interval_ms = (uint32_t)cfg->timing.heartbeat_interval_ms;
    hoststat_sample(&a->host, &host);
    hb.host = &host;
    fill_counters(a, &counters);
    hb.counters = &counters;

    /* Resource states as the election thread last left them. */
    size_t n = cfg->n_resources;
    elector_resource_t *snap = calloc(n ? n : 1, sizeof *snap);
    Bosun__ResourceStatus *rs = calloc(n ? n : 1, sizeof *rs);
    Bosun__ResourceStatus **rsp = calloc(n ? n : 1, sizeof *rsp);
    if (snap != NULL && rs != NULL && rsp != NULL && a->elector != NULL) {
        elector_snapshot(a->elector, snap, n);
        for (size_t i = 0; i < n; i++) {
            bosun__resource_status__init(&rs[i]);
            rs[i].resource = snap[i].id;
            rs[i].state = (Bosun__ResourceState)snap[i].state;
            rs[i].priority = snap[i].priority;
            rs[i].owner = snap[i].owner;
            rs[i].since_ms = snap[i].since_wall_ms;
            rsp[i] = &rs[i];
        }
        hb.resources = rsp;
        hb.n_resources = n;
    }
    /* Connectivity probes: the latest finished attempt per target. */
    probe_result_t *results = NULL;
    size_t n_probes = prober_snapshot(a->prober, &results);
    Bosun__ProbeResult *probes = calloc(n_probes ? n_probes : 1, sizeof *probes);
    Bosun__ProbeResult **probesp = calloc(n_probes ? n_probes : 1, sizeof *probesp);
    if (n_probes > 0 && probes != NULL && probesp != NULL)
        fill_probes(&hb, results, n_probes, probes, probesp);
    hb.probe_address = (char *)prober_advertised(a->prober);
    hb.send_time_ms = bosun_wall_ms();

    uint8_t *buf = NULL;
    size_t len = 0;
    if (bosun_codec_encode(&hb.base, &buf, &len) == BOSUN_OK) {
        char subject[BOSUN_NAME_MAX + 32];
        snprintf(subject, sizeof subject, "%s.event.heartbeat", a->node);
        natsStatus s = natsConnection_Publish(bosun_nats_conn(a->nats), subject, buf, (int)len);
        if (s == NATS_OK)
            atomic_fetch_add(&a->counters.heartbeats_sent, 1);
        else
            log_debug(a->log, "heartbeat", "publish failed: %s", natsStatus_GetText(s));
        free(buf);
    }
    free(snap);
    free(rs);
    free(rsp);
    free(results);
    free(probes);
    free(probesp);
}
