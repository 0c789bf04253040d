/*
 * test_fleet.c - central's liveness core under a fake clock
 * (central/fleet.c): every transition at its configured time, restarts,
 * stale and duplicate heartbeats, expected nodes that are missing, the
 * forgetting of removed nodes, time-sync pings and offsets, connectivity
 * probes, and a fleet of 10,000 nodes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fleet.h"

#define WALL0 1764000000000ull /* central's wall clock at mono 0 */

typedef struct {
    bosun_liveness_config_t lv;
    bosun_timesync_config_t ts;
    fleet_t *f;
    fleet_actions_t a;
    uint64_t mono;
} fx_t;

static fleet_now_t at(uint64_t mono)
{
    fleet_now_t n = {.mono_ms = mono, .wall_ms = WALL0 + mono};
    return n;
}

/* NoPE's defaults (slow 1000, warn 2000, dead 5000, remove 10000, check 250), no time sync. */
static fx_t *fx_new(char *const *expected, size_t n_expected, double ping_secs)
{
    fx_t *x = calloc(1, sizeof *x);
    x->lv = (bosun_liveness_config_t){.slow_ms = 1000, .warn_ms = 2000, .dead_ms = 5000, .remove_ms = 10000,
                                      .check_interval_ms = 250};
    x->ts = (bosun_timesync_config_t){.interval_secs = ping_secs, .warn_offset_ms = 100};
    assert_int_equal(fleet_new(&x->lv, &x->ts, expected, n_expected, at(0), &x->f), BOSUN_OK);
    fleet_actions_init(&x->a);
    return x;
}

static void fx_free(fx_t *x)
{
    fleet_free(x->f);
    fleet_actions_free(&x->a);
    free(x);
}

/* A heartbeat as an agent sends it: host facts, one resource, counters. */
typedef struct {
    Bosun__Heartbeat hb;
    Bosun__HostStatus host;
    Bosun__AgentCounters counters;
    Bosun__ResourceStatus res;
    Bosun__ResourceStatus *resp[1];
} hb_t;

static void hb_init(hb_t *h, const char *node, uint64_t instance, uint64_t seq, uint64_t boot_ms)
{
    bosun__heartbeat__init(&h->hb);
    bosun__host_status__init(&h->host);
    bosun__agent_counters__init(&h->counters);
    bosun__resource_status__init(&h->res);
    h->hb.node = (char *)node;
    h->hb.instance_id = instance;
    h->hb.sequence = seq;
    h->hb.boot_time_ms = boot_ms;
    h->hb.send_time_ms = boot_ms + seq * 500;
    h->hb.pid = 4242;
    h->hb.version = "0.1.0";
    h->hb.interval_ms = 500;
    h->host.hostname = "ship-7.example";
    h->host.os = "Linux 6.1";
    h->host.cpu_model = "AMD EPYC";
    h->host.cores = 8;
    h->host.cpu_usage_percent = 12.5;
    h->host.load1 = 0.5;
    h->host.load5 = 0.25;
    h->host.load15 = 0.125;
    h->host.mem_total_bytes = 16ull << 30;
    h->host.mem_available_bytes = 9ull << 30;
    h->host.agent_rss_bytes = 8ull << 20;
    h->hb.host = &h->host;
    h->counters.heartbeats_sent = seq;
    h->counters.commands_ok = 3;
    h->hb.counters = &h->counters;
    h->res.resource = "vip";
    h->res.state = BOSUN__RESOURCE_STATE__RESOURCE_STATE_ACTIVE;
    h->res.priority = 150;
    h->res.owner = (char *)node;
    h->res.since_ms = boot_ms + 100;
    h->resp[0] = &h->res;
    h->hb.resources = h->resp;
    h->hb.n_resources = 1;
}

static fleet_hb_verdict_t beat(fx_t *x, const char *node, uint64_t instance, uint64_t seq, uint64_t mono)
{
    hb_t h;
    hb_init(&h, node, instance, seq, 1000);
    return fleet_on_heartbeat(x->f, &h.hb, at(mono), &x->a);
}

static void check(fx_t *x, uint64_t mono) { fleet_check(x->f, at(mono), &x->a); }

static fleet_liveness_t status_of(fx_t *x, const char *node)
{
    fleet_view_t v;
    if (!fleet_view_get(x->f, node, &v))
        return (fleet_liveness_t)-1;
    fleet_liveness_t s = v.status;
    fleet_view_clear(&v);
    return s;
}

/* ---- liveness ------------------------------------------------------------------------ */

static void test_first_heartbeat_makes_a_node_alive_with_its_facts(void **state)
{
    (void)state;
    fx_t *x = fx_new(NULL, 0, 0);
    hb_t h;
    hb_init(&h, "n1", 0xabc, 1, 1000);
    assert_int_equal(fleet_on_heartbeat(x->f, &h.hb, at(100), &x->a), FLEET_HB_APPLIED);
    assert_int_equal(x->a.n_transitions, 1);
    const fleet_transition_t *t = &x->a.transitions[0];
    assert_string_equal(t->node, "n1");
    assert_int_equal(t->status, FLEET_ALIVE);
    assert_int_equal(t->previous, FLEET_UNKNOWN);
    assert_false(t->restarted);
    assert_int_equal(t->instance_id, 0xabc);
    assert_int_equal(t->last_heartbeat_ms, WALL0 + 100);
    assert_int_equal(t->time_ms, WALL0 + 100);

    fleet_view_t v;
    assert_true(fleet_view_get(x->f, "n1", &v));
    assert_int_equal(v.status, FLEET_ALIVE);
    assert_int_equal(v.instance_id, 0xabc);
    assert_int_equal(v.sequence, 1);
    assert_int_equal(v.pid, 4242);
    assert_string_equal(v.version, "0.1.0");
    assert_string_equal(v.host.hostname, "ship-7.example");
    assert_string_equal(v.host.os, "Linux 6.1");
    assert_int_equal(v.host.cores, 8);
    assert_true(v.host.cpu_usage_percent == 12.5);
    assert_true(v.host.load1 == 0.5 && v.host.load5 == 0.25 && v.host.load15 == 0.125);
    assert_int_equal(v.host.mem_total_bytes, 16ull << 30);
    assert_int_equal(v.host.mem_available_bytes, 9ull << 30);
    assert_int_equal(v.counters.commands_ok, 3);
    assert_int_equal(v.n_resources, 1);
    assert_string_equal(v.resources[0].resource, "vip");
    assert_int_equal(v.resources[0].state, BOSUN__RESOURCE_STATE__RESOURCE_STATE_ACTIVE);
    assert_int_equal(v.resources[0].priority, 150);
    assert_string_equal(v.resources[0].owner, "n1");
    assert_int_equal(v.first_heartbeat_ms, WALL0 + 100);
    assert_int_equal(v.heartbeats, 1);
    assert_false(v.has_clock);
    fleet_view_clear(&v);

    Bosun__NodeStatus ns;
    fleet_transition_to_proto(t, &ns);
    assert_string_equal(ns.node, "n1");
    assert_int_equal(ns.status, BOSUN__NODE_LIVENESS__NODE_LIVENESS_ALIVE);
    assert_int_equal(ns.previous, BOSUN__NODE_LIVENESS__NODE_LIVENESS_UNKNOWN);
    assert_int_equal(ns.instance_id, 0xabc);
    fx_free(x);
}

/*
 * Heartbeats every 500 ms until `stop`, checks every 250 ms (at phase
 * `phase`), until 12 s: each transition must come at its threshold after
 * the last heartbeat, at most one check interval late.
 */
static void run_ladder(uint64_t stop, uint64_t phase)
{
    fx_t *x = fx_new(NULL, 0, 0);
    uint64_t last = 0, seq = 0;
    uint64_t seen[FLEET_LIVENESS_COUNT] = {0};
    for (uint64_t t = 0; t <= stop + 12000; t++) {
        if (t <= stop && t % 500 == 0) {
            assert_int_equal(beat(x, "n1", 7, ++seq, t), FLEET_HB_APPLIED);
            last = t;
        }
        if (t % 250 == phase)
            check(x, t);
        for (size_t i = 0; i < x->a.n_transitions; i++) {
            const fleet_transition_t *tr = &x->a.transitions[i];
            assert_int_equal(seen[tr->status], 0); /* each once */
            seen[tr->status] = t;
            if (tr->status != FLEET_ALIVE)
                assert_int_equal(tr->previous, tr->status - 1); /* one step at a time */
        }
        fleet_actions_clear(&x->a);
    }
    uint64_t thresholds[] = {[FLEET_SLOW] = 1000, [FLEET_WARN] = 2000, [FLEET_DEAD] = 5000, [FLEET_REMOVED] = 10000};
    for (int s = FLEET_SLOW; s <= FLEET_REMOVED; s++) {
        assert_true(seen[s] >= last + thresholds[s]);
        assert_true(seen[s] < last + thresholds[s] + 250);
    }
    assert_int_equal(status_of(x, "n1"), FLEET_REMOVED);
    assert_int_equal(seen[FLEET_MISSING], 0);
    fx_free(x);
}

static void test_each_transition_at_its_threshold(void **state)
{
    (void)state;
    run_ladder(3000, 0);   /* checks aligned with the thresholds: on time exactly */
    run_ladder(3000, 130); /* not aligned: late by less than one check interval */
    run_ladder(0, 249);
}

static void test_heartbeats_keep_a_node_alive(void **state)
{
    (void)state;
    fx_t *x = fx_new(NULL, 0, 0);
    for (uint64_t t = 0, seq = 1; t < 60000; t += 50) {
        if (t % 900 == 0) /* slower than the agent's usual pace, still under slowMs */
            beat(x, "n1", 7, seq++, t);
        check(x, t);
    }
    assert_int_equal(x->a.n_transitions, 1); /* only "appeared" */
    assert_int_equal(status_of(x, "n1"), FLEET_ALIVE);
    fx_free(x);
}

static void test_a_heartbeat_brings_a_dead_node_back(void **state)
{
    (void)state;
    fx_t *x = fx_new(NULL, 0, 0);
    beat(x, "n1", 7, 1, 0);
    check(x, 6000);
    assert_int_equal(status_of(x, "n1"), FLEET_DEAD);
    fleet_actions_clear(&x->a);
    assert_int_equal(beat(x, "n1", 7, 2, 6100), FLEET_HB_APPLIED); /* same instance: a pause, not a restart */
    assert_int_equal(x->a.n_transitions, 1);
    assert_int_equal(x->a.transitions[0].status, FLEET_ALIVE);
    assert_int_equal(x->a.transitions[0].previous, FLEET_DEAD);
    assert_false(x->a.transitions[0].restarted);
    fx_free(x);
}

static void test_restart_is_noticed_while_alive_and_after_removal(void **state)
{
    (void)state;
    fx_t *x = fx_new(NULL, 0, 0);
    beat(x, "n1", 7, 1, 0);
    beat(x, "n1", 7, 2, 500);
    fleet_actions_clear(&x->a);
    /* A quick restart: the node never stops being ALIVE, but it is reported. */
    assert_int_equal(beat(x, "n1", 8, 1, 700), FLEET_HB_APPLIED);
    assert_int_equal(x->a.n_transitions, 1);
    assert_int_equal(x->a.transitions[0].status, FLEET_ALIVE);
    assert_int_equal(x->a.transitions[0].previous, FLEET_ALIVE);
    assert_true(x->a.transitions[0].restarted);
    assert_int_equal(x->a.transitions[0].instance_id, 8);
    fleet_actions_clear(&x->a);

    /* Killed, removed, started again. */
    check(x, 20000);
    assert_int_equal(status_of(x, "n1"), FLEET_REMOVED);
    fleet_actions_clear(&x->a);
    assert_int_equal(beat(x, "n1", 9, 1, 21000), FLEET_HB_APPLIED);
    assert_int_equal(x->a.n_transitions, 1);
    assert_int_equal(x->a.transitions[0].previous, FLEET_REMOVED);
    assert_int_equal(x->a.transitions[0].status, FLEET_ALIVE);
    assert_true(x->a.transitions[0].restarted);
    fleet_view_t v;
    assert_true(fleet_view_get(x->f, "n1", &v));
    assert_int_equal(v.restarts, 2);
    assert_int_equal(v.heartbeats, 4);
    fleet_view_clear(&v);
    fx_free(x);
}

static void test_duplicates_and_other_instances_are_not_applied(void **state)
{
    (void)state;
    fx_t *x = fx_new(NULL, 0, 0);
    hb_t h;
    hb_init(&h, "n1", 8, 5, 2000);
    assert_int_equal(fleet_on_heartbeat(x->f, &h.hb, at(0), &x->a), FLEET_HB_APPLIED);
    assert_int_equal(fleet_on_heartbeat(x->f, &h.hb, at(10), &x->a), FLEET_HB_STALE);
    h.hb.sequence = 4;
    assert_int_equal(fleet_on_heartbeat(x->f, &h.hb, at(20), &x->a), FLEET_HB_STALE);
    /* A late heartbeat of the previous instance (booted earlier) while this one is alive. */
    hb_t old;
    hb_init(&old, "n1", 7, 99, 1000);
    assert_int_equal(fleet_on_heartbeat(x->f, &old.hb, at(30), &x->a), FLEET_HB_OTHER_INSTANCE);
    assert_int_equal(x->a.n_transitions, 1);
    /* Once the current one is silent, another instance is taken, even if its clock says earlier. */
    assert_int_equal(fleet_on_heartbeat(x->f, &old.hb, at(1500), &x->a), FLEET_HB_APPLIED);
    assert_int_equal(x->a.n_transitions, 2);
    assert_true(x->a.transitions[1].restarted);
    /* Names that are no node names. */
    h.hb.node = "bad.name";
    assert_int_equal(fleet_on_heartbeat(x->f, &h.hb, at(40), &x->a), FLEET_HB_INVALID);
    h.hb.node = "";
    assert_int_equal(fleet_on_heartbeat(x->f, &h.hb, at(40), &x->a), FLEET_HB_INVALID);
    fx_free(x);
}

static void test_hostile_text_is_made_printable(void **state)
{
    (void)state;
    fx_t *x = fx_new(NULL, 0, 0);
    hb_t h;
    hb_init(&h, "n1", 8, 1, 2000);
    h.host.hostname = "evil\x1b[31mhost\n";
    h.hb.version = "0.1.0-a-very-long-version-string-that-goes-on-and-on";
    fleet_on_heartbeat(x->f, &h.hb, at(0), &x->a);
    fleet_view_t v;
    assert_true(fleet_view_get(x->f, "n1", &v));
    assert_string_equal(v.host.hostname, "evil?[31mhost?");
    assert_int_equal(strlen(v.version), sizeof v.version - 1);
    fleet_view_clear(&v);
    fx_free(x);
}

/* ---- expected nodes ----------------------------------------------------------------------- */

static void test_expected_nodes_never_seen_are_missing_once(void **state)
{
    (void)state;
    char *expected[] = {"a", "b", "c"};
    fx_t *x = fx_new(expected, 3, 0);
    assert_int_equal(status_of(x, "a"), FLEET_UNKNOWN);
    beat(x, "a", 1, 1, 100);
    beat(x, "c", 3, 1, 200);
    fleet_actions_clear(&x->a);
    /* Within the start grace (deadMs) nobody is missing yet. */
    for (uint64_t t = 250; t < 5000; t += 250) {
        beat(x, "a", 1, t, t);
        beat(x, "c", 3, t, t);
        check(x, t);
    }
    assert_int_equal(x->a.n_transitions, 0);
    check(x, 5000);
    assert_int_equal(x->a.n_transitions, 1);
    assert_string_equal(x->a.transitions[0].node, "b");
    assert_int_equal(x->a.transitions[0].previous, FLEET_UNKNOWN);
    assert_int_equal(x->a.transitions[0].status, FLEET_MISSING);
    assert_int_equal(x->a.transitions[0].last_heartbeat_ms, 0);
    fleet_actions_clear(&x->a);
    check(x, 5250);
    check(x, 60000);
    /* a and c fell silent at 4750: they go the whole way, and end MISSING. */
    size_t missing = 0, removed = 0;
    for (size_t i = 0; i < x->a.n_transitions; i++) {
        const fleet_transition_t *t = &x->a.transitions[i];
        assert_string_not_equal(t->node, "b");
        missing += t->status == FLEET_MISSING;
        removed += t->status == FLEET_REMOVED;
        if (t->status == FLEET_MISSING)
            assert_int_equal(t->previous, FLEET_REMOVED);
    }
    assert_int_equal(missing, 2);
    assert_int_equal(removed, 2);
    assert_int_equal(status_of(x, "a"), FLEET_MISSING);
    fleet_actions_clear(&x->a);
    /* b turns up at last. */
    beat(x, "b", 2, 1, 61000);
    assert_int_equal(x->a.n_transitions, 1);
    assert_int_equal(x->a.transitions[0].previous, FLEET_MISSING);
    assert_int_equal(x->a.transitions[0].status, FLEET_ALIVE);
    size_t counts[FLEET_LIVENESS_COUNT];
    fleet_counts(x->f, counts);
    assert_int_equal(counts[FLEET_ALIVE], 1);
    assert_int_equal(counts[FLEET_MISSING], 2);
    /* Expected nodes are never forgotten. */
    check(x, 61000 + FLEET_FORGET_MS + 20000);
    assert_int_equal(x->a.n_forgotten, 0);
    fx_free(x);
}

static void test_removed_nodes_are_forgotten_later(void **state)
{
    (void)state;
    fx_t *x = fx_new(NULL, 0, 0);
    beat(x, "gone", 1, 1, 0);
    check(x, 10000);
    assert_int_equal(status_of(x, "gone"), FLEET_REMOVED);
    fleet_actions_clear(&x->a);
    check(x, 10000 + FLEET_FORGET_MS - 1);
    assert_int_equal(x->a.n_forgotten, 0);
    check(x, 10000 + FLEET_FORGET_MS);
    assert_int_equal(x->a.n_forgotten, 1);
    assert_string_equal(x->a.forgotten[0], "gone");
    assert_int_equal((int)status_of(x, "gone"), -1);
    fx_free(x);
}

/* ---- time sync --------------------------------------------------------------------------- */

static void test_pings_go_to_alive_nodes_once_per_interval(void **state)
{
    (void)state;
    fx_t *x = fx_new(NULL, 0, 1.0);
    size_t pings = 0;
    uint64_t seq = 1;
    for (uint64_t t = 0; t < 10000; t += 50) {
        if (t % 500 == 0)
            beat(x, "n1", 1, seq++, t);
        check(x, t);
        pings += x->a.n_pings;
        for (size_t i = 0; i < x->a.n_pings; i++)
            assert_string_equal(x->a.pings[i].node, "n1");
        fleet_actions_clear(&x->a);
    }
    assert_true(pings >= 9 && pings <= 10);
    /* Silent: SLOW from 10.5 s on, and no more pings. */
    pings = 0;
    for (uint64_t t = 11000; t < 20000; t += 50) {
        check(x, t);
        pings += x->a.n_pings;
        fleet_actions_clear(&x->a);
    }
    assert_int_equal(pings, 0);
    fx_free(x);
}

static void test_time_sync_off_sends_no_pings(void **state)
{
    (void)state;
    fx_t *x = fx_new(NULL, 0, 0);
    for (uint64_t t = 0; t < 30000; t += 250) {
        beat(x, "n1", 1, t + 1, t);
        check(x, t);
        assert_int_equal(x->a.n_pings, 0);
    }
    fx_free(x);
}

/* Pings n1 until the estimate exists; the node's clock is `offset` us ahead. */
static void ping_round(fx_t *x, uint64_t *t, int64_t offset, uint64_t d_out, uint64_t d_back, bool answer_ok)
{
    for (;; *t += 50) {
        beat(x, "n1", 1, *t + 1, *t);
        check(x, *t);
        if (x->a.n_pings > 0)
            break;
        fleet_actions_clear(&x->a);
    }
    uint64_t seq = x->a.pings[0].seq;
    fleet_actions_clear(&x->a);
    uint64_t t0 = (WALL0 + *t) * 1000;
    fleet_ping_sent(x->f, "n1", seq, t0);
    uint64_t t1 = (uint64_t)((int64_t)(t0 + d_out) + offset), t2 = t1 + 20, t3 = t0 + d_out + 20 + d_back;
    assert_int_equal(fleet_on_ping_answer(x->f, "n1", seq, t1, t2, t3, at(*t), &x->a), answer_ok);
    /* One answer per ping: a duplicate is ignored. */
    assert_false(fleet_on_ping_answer(x->f, "n1", seq, t1, t2, t3, at(*t), &x->a));
    *t += 50;
}

static void test_ping_answers_give_the_offset(void **state)
{
    (void)state;
    fx_t *x = fx_new(NULL, 0, 1.0);
    uint64_t t = 0;
    ping_round(x, &t, 250000, 400, 400, true);
    fleet_view_t v;
    assert_true(fleet_view_get(x->f, "n1", &v));
    assert_true(v.has_clock);
    assert_int_equal(v.clock_offset_us, 250000);
    assert_int_equal(v.rtt_us, 800);
    assert_true(v.clock_over_bound);
    fleet_view_clear(&v);
    /* Crossing the 100 ms bound is noted once. */
    assert_int_equal(x->a.n_clock_notes, 1);
    assert_int_equal(x->a.clock_notes[0].crossing, 1);
    assert_int_equal(x->a.clock_notes[0].offset_us, 250000);
    fleet_actions_clear(&x->a);
    ping_round(x, &t, 250000, 3000, 100, true); /* worse rtt: the estimate stays */
    assert_int_equal(x->a.n_clock_notes, 0);
    assert_true(fleet_view_get(x->f, "n1", &v));
    assert_int_equal(v.clock_offset_us, 250000);
    fleet_view_clear(&v);

    /* The node's clock is corrected: a step, back within the bound. */
    fleet_actions_clear(&x->a);
    ping_round(x, &t, 2000, 500, 500, true);
    assert_int_equal(x->a.n_clock_notes, 1);
    assert_int_equal(x->a.clock_notes[0].crossing, -1);
    assert_true(x->a.clock_notes[0].stepped);
    assert_true(fleet_view_get(x->f, "n1", &v));
    assert_int_equal(v.clock_offset_us, 2000);
    assert_false(v.clock_over_bound);
    fleet_view_clear(&v);

    /* Liveness transitions carry the estimate. */
    fleet_actions_clear(&x->a);
    check(x, t + 1500);
    assert_int_equal(x->a.n_transitions, 1);
    assert_true(x->a.transitions[0].has_clock);
    assert_int_equal(x->a.transitions[0].clock_offset_us, 2000);
    assert_int_equal(x->a.transitions[0].rtt_us, 1000);
    fx_free(x);
}

static void test_stray_ping_answers_are_ignored(void **state)
{
    (void)state;
    fx_t *x = fx_new(NULL, 0, 1.0);
    uint64_t t = 0;
    for (;; t += 50) {
        beat(x, "n1", 1, t + 1, t);
        check(x, t);
        if (x->a.n_pings > 0)
            break;
    }
    uint64_t seq = x->a.pings[0].seq, t0 = (WALL0 + t) * 1000;
    /* Not sent yet (no t0): nothing to compare with. */
    assert_false(fleet_on_ping_answer(x->f, "n1", seq, t0 + 10, t0 + 20, t0 + 30, at(t), &x->a));
    fleet_ping_sent(x->f, "n1", seq, t0);
    assert_false(fleet_on_ping_answer(x->f, "n1", seq + 1, t0 + 10, t0 + 20, t0 + 30, at(t), &x->a));
    assert_false(fleet_on_ping_answer(x->f, "nobody", seq, t0 + 10, t0 + 20, t0 + 30, at(t), &x->a));
    assert_false(fleet_on_ping_answer(x->f, "n1", seq, t0 + 10, t0 + 20, t0 - 30, at(t), &x->a));
    assert_true(fleet_on_ping_answer(x->f, "n1", seq, t0 + 10, t0 + 20, t0 + 30, at(t), &x->a));
    fx_free(x);
}

/* ---- scale ---------------------------------------------------------------------------------- */

static double cpu_secs(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- connectivity probes -------------------------------------------------------------- */

static void probe(Bosun__ProbeResult *p, const char *target, bool tcp_ok, bool nats_ok, uint64_t time_ms,
                  const char *error)
{
    bosun__probe_result__init(p);
    p->target = (char *)target;
    p->tcp_ok = tcp_ok;
    p->tcp_connect_us = tcp_ok ? 300 : 0;
    p->nats_ok = nats_ok;
    p->nats_rtt_us = nats_ok ? 800 : 0;
    p->time_ms = time_ms;
    p->error = (char *)error;
}

static void test_probes_are_kept_sorted_once_each_and_dated(void **state)
{
    (void)state;
    fx_t *x = fx_new(NULL, 0, 0);
    hb_t h;
    hb_init(&h, "src", 0xabc, 1, 100000); /* the node's clock: sent at 100500 */
    Bosun__ProbeResult p[5], *pp[5] = {&p[0], &p[1], &p[2], &p[3], &p[4]};
    uint64_t sent = h.hb.send_time_ms;
    probe(&p[0], "n3", false, false, sent - 2000, "timeout\nafter 2 s"); /* measured 2 s before sending */
    probe(&p[1], "n1", true, true, sent, "");
    probe(&p[2], "", true, true, sent, "");                               /* no target: ignored */
    probe(&p[3], "n1", true, true, sent, "");                             /* a repeat: kept once */
    probe(&p[4], "n2", true, false, 0, "nats: no responders");            /* undated */
    h.hb.probes = pp;
    h.hb.n_probes = 5;
    assert_int_equal(fleet_on_heartbeat(x->f, &h.hb, at(100), &x->a), FLEET_HB_APPLIED);

    fleet_view_t v;
    assert_true(fleet_view_get(x->f, "src", &v));
    assert_int_equal(v.n_probes, 3);
    assert_string_equal(v.probes[0].target, "n1");
    assert_string_equal(v.probes[1].target, "n2");
    assert_string_equal(v.probes[2].target, "n3");
    assert_true(v.probes[0].tcp_ok && v.probes[0].nats_ok);
    assert_int_equal(v.probes[0].tcp_connect_us, 300);
    assert_int_equal(v.probes[0].nats_rtt_us, 800);
    assert_int_equal(v.probes[0].measured_ms, WALL0 + 100);
    assert_int_equal(v.probes[1].measured_ms, WALL0 + 100);      /* no time: the heartbeat's receipt */
    assert_int_equal(v.probes[2].measured_ms, WALL0 + 100 - 2000); /* its age on the node's clock */
    assert_string_equal(v.probes[2].error, "timeout?after 2 s");  /* printable only */
    fleet_view_clear(&v);

    /* A snapshot leaves probes out unless asked for them. */
    fleet_view_t *all;
    size_t n;
    assert_int_equal(fleet_snapshot(x->f, &all, &n), BOSUN_OK);
    assert_int_equal(n, 1);
    assert_int_equal(all[0].n_probes, 0);
    assert_null(all[0].probes);
    fleet_views_free(all, n);
    assert_int_equal(fleet_snapshot_with_probes(x->f, &all, &n), BOSUN_OK);
    assert_int_equal(all[0].n_probes, 3);
    assert_string_equal(all[0].probes[2].target, "n3");
    fleet_views_free(all, n);

    /* A heartbeat without probes keeps them; one with probes replaces them. */
    hb_init(&h, "src", 0xabc, 2, 100000);
    assert_int_equal(fleet_on_heartbeat(x->f, &h.hb, at(600), &x->a), FLEET_HB_APPLIED);
    assert_true(fleet_view_get(x->f, "src", &v));
    assert_int_equal(v.n_probes, 3);
    fleet_view_clear(&v);
    hb_init(&h, "src", 0xabc, 3, 100000);
    h.hb.probes = pp;
    h.hb.n_probes = 1;
    assert_int_equal(fleet_on_heartbeat(x->f, &h.hb, at(1100), &x->a), FLEET_HB_APPLIED);
    assert_true(fleet_view_get(x->f, "src", &v));
    assert_int_equal(v.n_probes, 1);
    assert_string_equal(v.probes[0].target, "n3");
    fleet_view_clear(&v);

    /* A new instance starts without the old one's measurements. */
    hb_init(&h, "src", 0xdef, 1, 200000);
    assert_int_equal(fleet_on_heartbeat(x->f, &h.hb, at(1600), &x->a), FLEET_HB_APPLIED);
    assert_true(fleet_view_get(x->f, "src", &v));
    assert_int_equal(v.n_probes, 0);
    fleet_view_clear(&v);
    fx_free(x);
}

static void test_ten_thousand_nodes(void **state)
{
    (void)state;
    enum { N = 10000 };
    fx_t *x = fx_new(NULL, 0, 10.0);
    char (*names)[16] = calloc(N, sizeof *names);
    for (int i = 0; i < N; i++)
        snprintf(names[i], sizeof names[i], "node%05d", i);
    double c0 = cpu_secs();
    for (uint64_t round = 1; round <= 20; round++) { /* 10 s at 2 Hz */
        for (int i = 0; i < N; i++)
            assert_int_equal(beat(x, names[i], (uint64_t)i + 1, round, round * 500), FLEET_HB_APPLIED);
        check(x, round * 500);
        check(x, round * 500 + 250);
        fleet_actions_clear(&x->a);
    }
    double per_hb_us = (cpu_secs() - c0) * 1e6 / (20.0 * N);
    print_message("fleet core: %.2f us of CPU per heartbeat (10,000 nodes, with checks)\n", per_hb_us);
    size_t counts[FLEET_LIVENESS_COUNT];
    fleet_counts(x->f, counts);
    assert_int_equal(counts[FLEET_ALIVE], N);
    fleet_view_t *v;
    size_t n;
    assert_int_equal(fleet_snapshot(x->f, &v, &n), BOSUN_OK);
    assert_int_equal(n, N);
    for (size_t i = 1; i < n; i++)
        assert_true(strcmp(v[i - 1].node, v[i].node) < 0);
    assert_int_equal(v[0].n_resources, 1);
    fleet_views_free(v, n);
    /* Half of them stop. */
    for (uint64_t t = 10500; t <= 16000; t += 250) {
        for (int i = 0; i < N; i += 2)
            beat(x, names[i], (uint64_t)i + 1, t, t);
        check(x, t);
    }
    fleet_counts(x->f, counts);
    assert_int_equal(counts[FLEET_ALIVE], N / 2);
    assert_int_equal(counts[FLEET_DEAD], N / 2);
    free(names);
    fx_free(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_heartbeat_makes_a_node_alive_with_its_facts),
        cmocka_unit_test(test_each_transition_at_its_threshold),
        cmocka_unit_test(test_heartbeats_keep_a_node_alive),
        cmocka_unit_test(test_a_heartbeat_brings_a_dead_node_back),
        cmocka_unit_test(test_restart_is_noticed_while_alive_and_after_removal),
        cmocka_unit_test(test_duplicates_and_other_instances_are_not_applied),
        cmocka_unit_test(test_hostile_text_is_made_printable),
        cmocka_unit_test(test_expected_nodes_never_seen_are_missing_once),
        cmocka_unit_test(test_removed_nodes_are_forgotten_later),
        cmocka_unit_test(test_pings_go_to_alive_nodes_once_per_interval),
        cmocka_unit_test(test_time_sync_off_sends_no_pings),
        cmocka_unit_test(test_ping_answers_give_the_offset),
        cmocka_unit_test(test_stray_ping_answers_are_ignored),
        cmocka_unit_test(test_probes_are_kept_sorted_once_each_and_dated),
        cmocka_unit_test(test_ten_thousand_nodes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
