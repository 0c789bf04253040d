/*
 * test_ownership.c - who is ACTIVE for each resource, and the DOUBLE and
 * NONE alarms, under a fake clock (central/ownership.c): alarms after the
 * debounce and cleared when resolved, no alarm during a clean handover or
 * a preemption, dead nodes are no owners, reports that cross in flight,
 * bids, restarts, and resources that disappear.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ownership.h"

#define WALL0 1764000000000ull
#define ACTIVE BOSUN__RESOURCE_STATE__RESOURCE_STATE_ACTIVE
#define IDLE BOSUN__RESOURCE_STATE__RESOURCE_STATE_IDLE
#define GOING BOSUN__RESOURCE_STATE__RESOURCE_STATE_GOING_ACTIVE

typedef struct {
    ownership_t *o;
    ownership_actions_t a;
} fx_t;

static fleet_now_t at(uint64_t mono)
{
    fleet_now_t n = {.mono_ms = mono, .wall_ms = WALL0 + mono};
    return n;
}

static fx_t *fx_new(void)
{
    fx_t *x = calloc(1, sizeof *x);
    assert_int_equal(ownership_new(&x->o), BOSUN_OK);
    ownership_actions_init(&x->a);
    return x;
}

static void fx_free(fx_t *x)
{
    ownership_free(x->o);
    ownership_actions_free(&x->a);
    free(x);
}

/* A heartbeat of node (instance) listing one resource in state since since_ms. */
static void hb(fx_t *x, const char *node, uint64_t instance, const char *res, Bosun__ResourceState st,
               uint64_t since_ms, uint64_t mono)
{
    Bosun__Heartbeat h = BOSUN__HEARTBEAT__INIT;
    Bosun__ResourceStatus r = BOSUN__RESOURCE_STATUS__INIT;
    Bosun__ResourceStatus *rp[1] = {&r};
    h.node = (char *)node;
    h.instance_id = instance;
    h.interval_ms = 500;
    r.resource = (char *)res;
    r.state = st;
    r.priority = 100;
    r.since_ms = since_ms;
    h.resources = rp;
    h.n_resources = res != NULL ? 1 : 0;
    ownership_on_heartbeat(x->o, &h, at(mono));
}

static void state(fx_t *x, const char *node, uint64_t instance, const char *res, Bosun__ResourceState from,
                  Bosun__ResourceState to, uint64_t time_ms, uint64_t mono)
{
    Bosun__StateChange sc = BOSUN__STATE_CHANGE__INIT;
    sc.node = (char *)node;
    sc.instance_id = instance;
    sc.resource = (char *)res;
    sc.from = from;
    sc.to = to;
    sc.time_ms = time_ms;
    sc.priority = 100;
    sc.token = 1234;
    ownership_on_state(x->o, node, &sc, at(mono));
}

static void bid(fx_t *x, const char *node, uint64_t instance, const char *res, Bosun__ResourceState st,
                bool release, uint64_t send_ms, uint64_t mono)
{
    Bosun__ElectionPacket p = BOSUN__ELECTION_PACKET__INIT;
    Bosun__Bid b = BOSUN__BID__INIT;
    Bosun__Bid *bp[1] = {&b};
    p.sender = (char *)node;
    p.instance_id = instance;
    p.send_time_ms = send_ms;
    p.bids = bp;
    p.n_bids = 1;
    b.resource = (char *)res;
    b.state = st;
    b.release = release;
    b.priority = 120;
    b.token = 777;
    ownership_on_bid(x->o, node, &p, at(mono));
}

static void alive(fx_t *x, const char *node, bool yes, uint64_t mono)
{
    ownership_node_alive(x->o, node, yes, at(mono));
}

/* Runs checks every 50 ms over [from, to); returns how many events came. */
static size_t checks(fx_t *x, uint64_t from, uint64_t to)
{
    size_t before = x->a.n_events;
    for (uint64_t t = from; t < to; t += 50)
        ownership_check(x->o, at(t), &x->a);
    return x->a.n_events - before;
}

static ownership_view_t view(fx_t *x, const char *res)
{
    ownership_view_t v;
    assert_true(ownership_view_get(x->o, res, &v));
    return v;
}

/* Two nodes for "vip": n1 ACTIVE since 100, n2 IDLE, both alive, settled. */
static fx_t *pair(void)
{
    fx_t *x = fx_new();
    alive(x, "n1", true, 0);
    alive(x, "n2", true, 0);
    hb(x, "n1", 1, "vip", ACTIVE, WALL0 + 100, 0);
    hb(x, "n2", 2, "vip", IDLE, WALL0 + 50, 0);
    assert_int_equal(checks(x, 0, 5000), 0);
    return x;
}

static void test_one_owner_and_since_when(void **state_)
{
    (void)state_;
    fx_t *x = pair();
    ownership_view_t v = view(x, "vip");
    assert_string_equal(v.resource, "vip");
    assert_int_equal(v.n_active, 1);
    assert_string_equal(v.active, "n1");
    assert_int_equal(v.active_since_ms, WALL0 + 100);
    assert_int_equal(v.alarm, OWNERSHIP_OK);
    assert_int_equal(v.n_members, 2);
    assert_string_equal(v.members[0].node, "n1");
    assert_string_equal(v.members[1].node, "n2");
    assert_int_equal(v.members[1].state, IDLE);
    assert_true(v.members[1].alive);
    assert_string_equal(v.detail, "ACTIVE: n1");
    ownership_view_clear(&v);
    fx_free(x);
}

static void test_double_active_alarm_and_its_clearing(void **state_)
{
    (void)state_;
    fx_t *x = pair();
    /* n2 goes ACTIVE too (a partition heals, say). */
    state(x, "n2", 2, "vip", GOING, ACTIVE, WALL0 + 5000, 5000);
    assert_int_equal(checks(x, 5000, 5950), 0); /* debounce: 2 x 500 ms */
    assert_int_equal(checks(x, 5950, 6050), 1);
    const ownership_event_t *e = &x->a.events[0];
    assert_string_equal(e->resource, "vip");
    assert_int_equal(e->alarm, OWNERSHIP_DOUBLE);
    assert_int_equal(e->previous, OWNERSHIP_OK);
    assert_non_null(strstr(e->detail, "n1"));
    assert_non_null(strstr(e->detail, "n2"));
    ownership_view_t v = view(x, "vip");
    assert_int_equal(v.alarm, OWNERSHIP_DOUBLE);
    assert_int_equal(v.alarm_since_ms, WALL0 + 6000);
    assert_int_equal(v.n_active, 2);
    ownership_view_clear(&v);
    assert_int_equal(checks(x, 6050, 9000), 0); /* raised once */

    /* The lesser yields: cleared at once. */
    state(x, "n1", 1, "vip", ACTIVE, IDLE, WALL0 + 9000, 9000);
    assert_int_equal(checks(x, 9000, 9050), 1);
    e = &x->a.events[1];
    assert_int_equal(e->alarm, OWNERSHIP_OK);
    assert_int_equal(e->previous, OWNERSHIP_DOUBLE);
    assert_int_equal(e->lasted_ms, 3000);
    assert_string_equal(e->detail, "ACTIVE: n2");
    v = view(x, "vip");
    assert_int_equal(v.alarm, OWNERSHIP_OK);
    assert_string_equal(v.active, "n2");
    ownership_view_clear(&v);
    fx_free(x);
}

/* activations: each time a claim enters ACTIVE, however many reports say so. */
static void test_transitions_count_each_entry_into_active(void **state_)
{
    (void)state_;
    fx_t *x = pair(); /* n1 went ACTIVE once */
    ownership_view_t v = view(x, "vip");
    assert_int_equal(v.activations, 1);
    ownership_view_clear(&v);
    /* The same state again, by heartbeat, event and bid: no transition. */
    hb(x, "n1", 1, "vip", ACTIVE, WALL0 + 100, 5000);
    state(x, "n1", 1, "vip", GOING, ACTIVE, WALL0 + 100, 5001);
    bid(x, "n1", 1, "vip", ACTIVE, false, WALL0 + 5002, 5002);
    v = view(x, "vip");
    assert_int_equal(v.activations, 1);
    ownership_view_clear(&v);
    /* A handover: n2 enters ACTIVE, then n1 again. */
    state(x, "n1", 1, "vip", ACTIVE, IDLE, WALL0 + 6000, 6000);
    state(x, "n2", 2, "vip", GOING, ACTIVE, WALL0 + 6100, 6100);
    state(x, "n2", 2, "vip", ACTIVE, IDLE, WALL0 + 7000, 7000);
    state(x, "n1", 1, "vip", GOING, ACTIVE, WALL0 + 7100, 7100);
    v = view(x, "vip");
    assert_int_equal(v.activations, 3);
    assert_string_equal(v.active, "n1");
    ownership_view_clear(&v);
    fx_free(x);
}

static void test_clean_handover_raises_nothing(void **state_)
{
    (void)state_;
    fx_t *x = pair();
    /* n1 releases; n2 bids, waits transitionWait (3 s), goes ACTIVE. */
    state(x, "n1", 1, "vip", ACTIVE, IDLE, WALL0 + 5000, 5000);
    bid(x, "n1", 1, "vip", IDLE, true, WALL0 + 5000, 5001);
    state(x, "n2", 2, "vip", IDLE, GOING, WALL0 + 5010, 5010);
    for (uint64_t t = 5000; t < 8000; t += 500) {
        hb(x, "n1", 1, "vip", IDLE, WALL0 + 5000, t);
        hb(x, "n2", 2, "vip", GOING, WALL0 + 5010, t);
        bid(x, "n2", 2, "vip", GOING, false, WALL0 + t, t);
        assert_int_equal(checks(x, t, t + 500), 0);
    }
    state(x, "n2", 2, "vip", GOING, ACTIVE, WALL0 + 8010, 8010);
    assert_int_equal(checks(x, 8000, 12000), 0);
    ownership_view_t v = view(x, "vip");
    assert_string_equal(v.active, "n2");
    assert_int_equal(v.active_since_ms, WALL0 + 8010);
    ownership_view_clear(&v);
    fx_free(x);
}

static void test_preemption_overlap_raises_nothing(void **state_)
{
    (void)state_;
    fx_t *x = pair();
    /* n2 (better) takes over; n1 hears it and yields 300 ms later. */
    state(x, "n2", 2, "vip", GOING, ACTIVE, WALL0 + 5000, 5000);
    assert_int_equal(checks(x, 5000, 5300), 0);
    state(x, "n1", 1, "vip", ACTIVE, IDLE, WALL0 + 5300, 5300);
    assert_int_equal(checks(x, 5300, 9000), 0);
    fx_free(x);
}

static void test_no_owner_alarm_clears_only_with_an_active(void **state_)
{
    (void)state_;
    fx_t *x = pair();
    /* n1 dies: it no longer counts; n2 is alive and IDLE. */
    alive(x, "n1", false, 5000);
    assert_int_equal(checks(x, 5000, 5950), 0);
    assert_int_equal(checks(x, 5950, 6050), 1);
    assert_int_equal(x->a.events[0].alarm, OWNERSHIP_NONE);
    assert_non_null(strstr(x->a.events[0].detail, "n2"));
    ownership_view_t v = view(x, "vip");
    assert_int_equal(v.n_active, 0);
    assert_string_equal(v.active, "");
    ownership_view_clear(&v);
    /* n2 tries: GOING_ACTIVE does not clear it, nor does falling back to IDLE raise it again. */
    state(x, "n2", 2, "vip", IDLE, GOING, WALL0 + 7000, 7000);
    assert_int_equal(checks(x, 7000, 8000), 0);
    state(x, "n2", 2, "vip", GOING, IDLE, WALL0 + 8000, 8000);
    assert_int_equal(checks(x, 8000, 9000), 0);
    state(x, "n2", 2, "vip", IDLE, GOING, WALL0 + 9000, 9000);
    state(x, "n2", 2, "vip", GOING, ACTIVE, WALL0 + 12000, 12000);
    assert_int_equal(checks(x, 12000, 12100), 1);
    assert_int_equal(x->a.events[1].alarm, OWNERSHIP_OK);
    assert_int_equal(x->a.events[1].previous, OWNERSHIP_NONE);
    fx_free(x);
}

static void test_dead_nodes_are_no_owners(void **state_)
{
    (void)state_;
    fx_t *x = pair();
    /* n1 is DEAD (central's view); n2 takes over: one owner, no DOUBLE. */
    alive(x, "n1", false, 5000);
    state(x, "n2", 2, "vip", GOING, ACTIVE, WALL0 + 5100, 5100);
    assert_int_equal(checks(x, 5000, 9000), 0);
    ownership_view_t v = view(x, "vip");
    assert_int_equal(v.n_active, 1);
    assert_string_equal(v.active, "n2");
    assert_false(v.members[0].alive);
    assert_int_equal(v.members[0].state, ACTIVE); /* what it last said */
    ownership_view_clear(&v);
    /* It comes back still claiming: now that is DOUBLE. */
    alive(x, "n1", true, 9000);
    assert_int_equal(checks(x, 9000, 10100), 1);
    assert_int_equal(x->a.events[0].alarm, OWNERSHIP_DOUBLE);
    /* Every node of the resource dead: nobody to own it, the alarm clears. */
    alive(x, "n1", false, 10100);
    alive(x, "n2", false, 10100);
    assert_int_equal(checks(x, 10100, 10200), 1);
    assert_int_equal(x->a.events[1].alarm, OWNERSHIP_OK);
    assert_string_equal(x->a.events[1].detail, "no live node lists it");
    fx_free(x);
}

static void test_a_heartbeat_older_than_an_event_does_not_undo_it(void **state_)
{
    (void)state_;
    fx_t *x = pair();
    /* n1 yields at 5000; a heartbeat whose snapshot predates that arrives after it. */
    state(x, "n1", 1, "vip", ACTIVE, IDLE, WALL0 + 5000, 5000);
    hb(x, "n1", 1, "vip", ACTIVE, WALL0 + 100, 5001);
    ownership_view_t v = view(x, "vip");
    assert_int_equal(v.members[0].state, IDLE);
    ownership_view_clear(&v);
    /* A heartbeat that knows a later transition wins (a lost StateChange). */
    hb(x, "n1", 1, "vip", ACTIVE, WALL0 + 6000, 6001);
    v = view(x, "vip");
    assert_int_equal(v.members[0].state, ACTIVE);
    assert_int_equal(v.members[0].since_ms, WALL0 + 6000);
    ownership_view_clear(&v);
    /* A StateChange older than what a heartbeat said is stale. */
    state(x, "n1", 1, "vip", GOING, ACTIVE, WALL0 + 5500, 6002);
    v = view(x, "vip");
    assert_int_equal(v.members[0].since_ms, WALL0 + 6000);
    ownership_view_clear(&v);
    /* A StateChange of another instance is ignored. */
    state(x, "n1", 99, "vip", ACTIVE, IDLE, WALL0 + 7000, 7000);
    v = view(x, "vip");
    assert_int_equal(v.members[0].state, ACTIVE);
    ownership_view_clear(&v);
    fx_free(x);
}

static void test_bids_claim_and_release(void **state_)
{
    (void)state_;
    fx_t *x = pair();
    /* n2's ACTIVE bids (mirrored from multicast) claim the resource. */
    bid(x, "n2", 2, "vip", ACTIVE, false, WALL0 + 5000, 5000);
    ownership_view_t v = view(x, "vip");
    assert_int_equal(v.n_active, 2);
    assert_int_equal(v.members[1].token, 777);
    assert_int_equal(v.members[1].priority, 120);
    ownership_view_clear(&v);
    bid(x, "n2", 2, "vip", ACTIVE, false, WALL0 + 5500, 5500); /* a refresh keeps "since" */
    v = view(x, "vip");
    assert_int_equal(v.members[1].since_ms, WALL0 + 5000);
    ownership_view_clear(&v);
    assert_int_equal(checks(x, 5000, 6100), 1);
    assert_int_equal(x->a.events[0].alarm, OWNERSHIP_DOUBLE);
    /* A bid sent before a transition we know of is stale. */
    state(x, "n2", 2, "vip", ACTIVE, IDLE, WALL0 + 7000, 7000);
    bid(x, "n2", 2, "vip", ACTIVE, false, WALL0 + 6900, 7001);
    v = view(x, "vip");
    assert_int_equal(v.n_active, 1);
    ownership_view_clear(&v);
    assert_int_equal(checks(x, 7000, 7100), 1);
    assert_int_equal(x->a.events[1].alarm, OWNERSHIP_OK);
    /* A release bid gives it up. */
    bid(x, "n1", 1, "vip", ACTIVE, true, WALL0 + 8000, 8000);
    v = view(x, "vip");
    assert_int_equal(v.n_active, 0);
    assert_int_equal(v.members[0].state, IDLE);
    ownership_view_clear(&v);
    fx_free(x);
}

static void test_a_restart_starts_the_node_over(void **state_)
{
    (void)state_;
    fx_t *x = pair();
    /* n1 restarts with its clock set back: its new IDLE has an earlier since, and still counts. */
    hb(x, "n1", 11, "vip", IDLE, WALL0 - 60000, 5000);
    ownership_view_t v = view(x, "vip");
    assert_int_equal(v.members[0].state, IDLE);
    assert_int_equal(v.n_active, 0);
    ownership_view_clear(&v);
    fx_free(x);
}

static void test_resources_that_disappear(void **state_)
{
    (void)state_;
    fx_t *x = pair();
    alive(x, "n1", false, 5000);
    assert_int_equal(checks(x, 5000, 6100), 1); /* NONE */
    /* n2's configuration no longer lists vip; n1 is forgotten by the fleet. */
    hb(x, "n2", 2, NULL, IDLE, 0, 6100);
    ownership_forget_node(x->o, "n1");
    assert_int_equal(checks(x, 6100, 6200), 1);
    assert_int_equal(x->a.events[1].alarm, OWNERSHIP_OK);
    assert_string_equal(x->a.events[1].detail, "no node lists it any more");
    ownership_view_t v;
    assert_false(ownership_view_get(x->o, "vip", &v));
    ownership_view_t *all;
    size_t n;
    assert_int_equal(ownership_snapshot(x->o, &all, &n), BOSUN_OK);
    assert_int_equal(n, 0);
    ownership_views_free(all, n);
    fx_free(x);
}

static void test_debounce_follows_the_heartbeat_interval(void **state_)
{
    (void)state_;
    fx_t *x = fx_new();
    Bosun__Heartbeat h = BOSUN__HEARTBEAT__INIT;
    Bosun__ResourceStatus r = BOSUN__RESOURCE_STATUS__INIT;
    Bosun__ResourceStatus *rp[1] = {&r};
    h.node = "slowpoke";
    h.instance_id = 5;
    h.interval_ms = 2000;
    r.resource = "db";
    r.state = IDLE;
    r.since_ms = WALL0;
    h.resources = rp;
    h.n_resources = 1;
    alive(x, "slowpoke", true, 0);
    ownership_on_heartbeat(x->o, &h, at(0));
    assert_int_equal(checks(x, 0, 3950), 0);
    assert_int_equal(checks(x, 3950, 4050), 1);
    assert_int_equal(x->a.events[0].alarm, OWNERSHIP_NONE);
    fx_free(x);
}

static void test_many_resources_and_snapshot(void **state_)
{
    (void)state_;
    fx_t *x = fx_new();
    char node[32], res[32];
    for (int i = 0; i < 3000; i++) {
        snprintf(node, sizeof node, "n%04d", i);
        snprintf(res, sizeof res, "r%04d", i / 3); /* three nodes per resource */
        alive(x, node, true, 0);
        hb(x, node, (uint64_t)i + 1, res, i % 3 == 0 ? ACTIVE : IDLE, WALL0, 0);
    }
    assert_int_equal(checks(x, 0, 2000), 0);
    ownership_view_t *v;
    size_t n;
    assert_int_equal(ownership_snapshot(x->o, &v, &n), BOSUN_OK);
    assert_int_equal(n, 1000);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(v[i].n_active, 1);
        assert_int_equal(v[i].n_members, 3);
        if (i > 0)
            assert_true(strcmp(v[i - 1].resource, v[i].resource) < 0);
    }
    assert_string_equal(v[7].active, "n0021");
    ownership_views_free(v, n);
    fx_free(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_owner_and_since_when),
        cmocka_unit_test(test_double_active_alarm_and_its_clearing),
        cmocka_unit_test(test_transitions_count_each_entry_into_active),
        cmocka_unit_test(test_clean_handover_raises_nothing),
        cmocka_unit_test(test_preemption_overlap_raises_nothing),
        cmocka_unit_test(test_no_owner_alarm_clears_only_with_an_active),
        cmocka_unit_test(test_dead_nodes_are_no_owners),
        cmocka_unit_test(test_a_heartbeat_older_than_an_event_does_not_undo_it),
        cmocka_unit_test(test_bids_claim_and_release),
        cmocka_unit_test(test_a_restart_starts_the_node_over),
        cmocka_unit_test(test_resources_that_disappear),
        cmocka_unit_test(test_debounce_follows_the_heartbeat_interval),
        cmocka_unit_test(test_many_resources_and_snapshot),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
