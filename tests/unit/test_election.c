/*
 * test_election.c - the election core under a fake clock (agent/election.c).
 *
 * Each test drives one core with hand-made packets from imaginary peers and
 * checks the transitions, scripts and sends it asks for, to the millisecond.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "election.h"

#define TX 1000u
#define TW 3000u
#define WALL0 1800000000000ull

typedef struct {
    election_resource_t res[2];
    election_config_t cfg;
    election_t *e;
    election_actions_t act;
    uint64_t rng;
} core_t;

static uint64_t next_random(void *arg)
{
    uint64_t *s = arg;
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static election_now_t at(uint64_t ms) { return (election_now_t){.mono_ms = ms, .wall_ms = WALL0 + ms}; }

static core_t *core_new(const char *node, uint32_t prio, bool preempt)
{
    core_t *c = calloc(1, sizeof *c);
    c->res[0] = (election_resource_t){"res01", prio, preempt};
    c->res[1] = (election_resource_t){"res02", prio, preempt};
    election_config_defaults(&c->cfg);
    c->cfg.node = node;
    c->cfg.instance_id = 0xabcdef;
    c->cfg.resources = c->res;
    c->cfg.n_resources = 1;
    c->cfg.tx_interval_ms = TX;
    c->cfg.transition_wait_ms = TW;
    c->rng = 88172645463325252ull;
    c->cfg.random = next_random;
    c->cfg.random_arg = &c->rng;
    election_actions_init(&c->act);
    return c;
}

static void core_go(core_t *c)
{
    assert_int_equal(election_new(&c->cfg, &c->e), BOSUN_OK);
    election_start(c->e, at(0), &c->act);
}

static void core_free(core_t *c)
{
    election_free(c->e);
    election_actions_free(&c->act);
    free(c);
}

static election_state_t st_of(core_t *c)
{
    election_view_t v;
    election_view(c->e, 0, at(0), &v);
    return v.state;
}

/* Runs timers at every deadline up to `until`, sending when asked. */
static void run_until(core_t *c, uint64_t until)
{
    for (int guard = 0; guard < 10000; guard++) {
        uint64_t d = election_next_deadline(c->e);
        if (d > until)
            break;
        election_on_timer(c->e, at(d), &c->act);
        if (c->act.send) {
            Bosun__ElectionPacket p = BOSUN__ELECTION_PACKET__INIT;
            election_packet(c->e, at(d), &p);
            c->act.send = false;
        }
    }
}

typedef struct {
    const char *resource;
    Bosun__ResourceState state;
    uint32_t priority;
    uint64_t token;
    bool release;
    bool preempt;
} bid_spec_t;

static election_verdict_t hear(core_t *c, uint64_t t, const char *sender, uint64_t instance,
                               uint64_t seq, const bid_spec_t *bids, size_t n)
{
    Bosun__Bid b[4], *bp[4];
    for (size_t i = 0; i < n; i++) {
        bosun__bid__init(&b[i]);
        b[i].resource = (char *)bids[i].resource;
        b[i].state = bids[i].state;
        b[i].priority = bids[i].priority;
        b[i].token = bids[i].token;
        b[i].release = bids[i].release;
        b[i].preempt = bids[i].preempt;
        bp[i] = &b[i];
    }
    Bosun__ElectionPacket p = BOSUN__ELECTION_PACKET__INIT;
    p.sender = (char *)sender;
    p.instance_id = instance;
    p.sequence = seq;
    p.send_time_ms = WALL0 + t;
    p.tx_interval_ms = TX;
    p.bids = bp;
    p.n_bids = n;
    return election_on_packet(c->e, &p, at(t), &c->act);
}

static const election_transition_t *last_transition(core_t *c)
{
    assert_true(c->act.n_transitions > 0);
    return &c->act.transitions[c->act.n_transitions - 1];
}

#define ACTIVE BOSUN__RESOURCE_STATE__RESOURCE_STATE_ACTIVE
#define GOING BOSUN__RESOURCE_STATE__RESOURCE_STATE_GOING_ACTIVE
#define IDLE BOSUN__RESOURCE_STATE__RESOURCE_STATE_IDLE

/* A lone node listens 3 tx plus its skew, bids, waits transitionWait, goes ACTIVE. */
static void test_lone_node_claims_after_window_skew_and_wait(void **state)
{
    (void)state;
    core_t *c = core_new("n1", 100, true);
    core_go(c);
    assert_int_equal(st_of(c), ELECTION_IDLE);
    assert_string_equal(last_transition(c)->reason, "started");
    uint64_t skew = (256 - 100) * TX / 512; /* 304 ms */
    assert_int_equal(election_next_deadline(c->e), 3 * TX + skew);
    election_actions_clear(&c->act);
    run_until(c, 3 * TX + skew - 1);
    assert_int_equal(st_of(c), ELECTION_IDLE);
    run_until(c, 3 * TX + skew);
    assert_int_equal(st_of(c), ELECTION_GOING_ACTIVE);
    assert_string_equal(last_transition(c)->reason, "orphaned");
    uint64_t tok = last_transition(c)->token;
    assert_in_range(tok, 1000000, 2000000);
    run_until(c, 3 * TX + skew + TW - 1);
    assert_int_equal(st_of(c), ELECTION_GOING_ACTIVE);
    run_until(c, 3 * TX + skew + TW);
    assert_int_equal(st_of(c), ELECTION_ACTIVE);
    assert_int_equal(last_transition(c)->token, tok);
    core_free(c);
}

/* Higher priority skews shorter: the best standby moves first. */
static void test_skew_orders_standbys_by_priority(void **state)
{
    (void)state;
    core_t *hi = core_new("hi", 200, true), *lo = core_new("lo", 50, true);
    core_go(hi);
    core_go(lo);
    assert_true(election_next_deadline(hi->e) < election_next_deadline(lo->e));
    core_t *forced = core_new("f", 10, true);
    core_go(forced);
    /* A forced node does not wait for a window at all. */
    assert_int_equal(election_force(forced->e, 0, at(0), &forced->act), BOSUN_OK);
    assert_int_equal(st_of(forced), ELECTION_GOING_ACTIVE);
    assert_string_equal(last_transition(forced)->reason, "forced");
    core_free(hi);
    core_free(lo);
    core_free(forced);
}

static void test_idle_hearing_active_stays_idle_and_rearms(void **state)
{
    (void)state;
    core_t *c = core_new("n1", 100, true);
    core_go(c);
    bid_spec_t b = {"res01", ACTIVE, 100, 5, false, false};
    uint64_t seq = 1;
    for (uint64_t t = 500; t < 20000; t += TX)
        assert_int_equal(hear(c, t, "n2", 7, seq++, &b, 1), ELECTION_ACCEPTED);
    run_until(c, 20000);
    assert_int_equal(st_of(c), ELECTION_IDLE);
    election_view_t v;
    election_view(c->e, 0, at(20000), &v);
    assert_string_equal(v.owner, "n2");
    assert_int_equal(v.claimants, 1);
    /* n2 goes silent after its last packet at 19500: orphaned 3 tx + skew
     * later, but first we ask it, a quarter and an eighth of a tx before. */
    uint64_t skew = (256 - 100) * TX / 512;
    uint64_t orphan = 19500 + 3 * TX + skew;
    assert_int_equal(election_next_deadline(c->e), orphan - TX / 4);
    election_actions_clear(&c->act);
    election_on_timer(c->e, at(orphan - TX / 4), &c->act);
    assert_true(c->act.send);
    Bosun__ElectionPacket p = BOSUN__ELECTION_PACKET__INIT;
    election_packet(c->e, at(orphan - TX / 4), &p);
    assert_int_equal(p.n_bids, 1);
    assert_true(p.bids[0]->query);
    assert_int_equal(p.bids[0]->state, IDLE);
    assert_false(p.bids[0]->release);
    assert_int_equal(election_next_deadline(c->e), orphan - TX / 8);
    /* n2 answers the query: no claim, the window starts over. */
    bid_spec_t b2 = {"res01", ACTIVE, 100, 5, false, false};
    hear(c, orphan - TX / 8 + 2, "n2", 7, seq++, &b2, 1);
    run_until(c, orphan + 1000);
    assert_int_equal(st_of(c), ELECTION_IDLE);
    assert_int_equal(election_next_deadline(c->e), orphan - TX / 8 + 2 + 3 * TX + skew - TX / 4);
    core_free(c);
}

/* An owner that hears a query answers at once. */
static void test_owner_answers_a_query_at_once(void **state)
{
    (void)state;
    core_t *c = core_new("n1", 100, true);
    uint64_t t;
    core_go(c);
    t = election_next_deadline(c->e);
    run_until(c, t + TW);
    assert_int_equal(st_of(c), ELECTION_ACTIVE);
    Bosun__ElectionPacket p = BOSUN__ELECTION_PACKET__INIT;
    election_packet(c->e, at(t + TW + 1), &p); /* just sent: no rate room left */
    election_actions_clear(&c->act);
    bid_spec_t q = {"res01", IDLE, 90, 0, false, false};
    Bosun__Bid b = BOSUN__BID__INIT, *bp = &b;
    b.resource = "res01";
    b.state = IDLE;
    b.query = true;
    Bosun__ElectionPacket in = BOSUN__ELECTION_PACKET__INIT;
    in.sender = "n2";
    in.instance_id = 9;
    in.sequence = 1;
    in.send_time_ms = WALL0 + t + TW + 2;
    in.tx_interval_ms = TX;
    in.bids = &bp;
    in.n_bids = 1;
    (void)q;
    assert_int_equal(election_on_packet(c->e, &in, at(t + TW + 2), &c->act), ELECTION_ACCEPTED);
    assert_true(c->act.send);
    assert_int_equal(st_of(c), ELECTION_ACTIVE);
    core_free(c);
}

static void test_preemption_only_by_higher_priority_and_when_allowed(void **state)
{
    (void)state;
    bid_spec_t low_active = {"res01", ACTIVE, 50, 9999999, false, false};
    bid_spec_t equal_active = {"res01", ACTIVE, 100, 1, false, false};

    core_t *c = core_new("n1", 100, true);
    core_go(c);
    hear(c, 100, "n2", 7, 1, &equal_active, 1);
    assert_int_equal(st_of(c), ELECTION_IDLE); /* equal priority never preempts */
    hear(c, 200, "n3", 8, 1, &low_active, 1);
    assert_int_equal(st_of(c), ELECTION_IDLE); /* n2 is the better holder */
    core_free(c);

    c = core_new("n1", 100, true);
    core_go(c);
    hear(c, 100, "n3", 8, 1, &low_active, 1);
    assert_int_equal(st_of(c), ELECTION_GOING_ACTIVE);
    assert_string_equal(last_transition(c)->reason, "preempting a lower priority");
    assert_string_equal(last_transition(c)->peer, "n3");
    assert_true(c->act.send);
    Bosun__ElectionPacket p = BOSUN__ELECTION_PACKET__INIT;
    election_packet(c->e, at(100), &p);
    assert_int_equal(p.n_bids, 1);
    assert_true(p.bids[0]->preempt);
    assert_int_equal(p.bids[0]->state, GOING);
    core_free(c);

    c = core_new("n1", 100, false);
    core_go(c);
    hear(c, 100, "n3", 8, 1, &low_active, 1);
    assert_int_equal(st_of(c), ELECTION_IDLE); /* preempt: false */
    core_free(c);
}

static void going_active_at(core_t *c, uint64_t *t)
{
    core_go(c);
    *t = election_next_deadline(c->e);
    run_until(c, *t);
    assert_int_equal(st_of(c), ELECTION_GOING_ACTIVE);
}

static void test_going_active_yields_to_better_bid_and_answers_worse(void **state)
{
    (void)state;
    core_t *c = core_new("n1", 100, true);
    uint64_t t;
    going_active_at(c, &t);
    election_view_t v;
    election_view(c->e, 0, at(t), &v);
    uint64_t mine = v.token;

    /* A worse contender: we stay, and answer at once. */
    election_actions_clear(&c->act);
    bid_spec_t worse = {"res01", GOING, 100, mine - 1, false, true};
    hear(c, t + 300, "n2", 7, 1, &worse, 1);
    assert_int_equal(st_of(c), ELECTION_GOING_ACTIVE);
    assert_true(c->act.send);
    Bosun__ElectionPacket p = BOSUN__ELECTION_PACKET__INIT;
    election_packet(c->e, at(t + 300), &p);

    /* Same priority and token: the node id decides ("n2" > "n1"). */
    election_actions_clear(&c->act);
    bid_spec_t tie = {"res01", GOING, 100, mine, false, true};
    hear(c, t + 400, "n2", 7, 2, &tie, 1);
    assert_int_equal(st_of(c), ELECTION_IDLE);
    assert_string_equal(last_transition(c)->reason, "outbid");
    assert_string_equal(last_transition(c)->peer, "n2");
    /* Leaving GOING_ACTIVE sends a release. */
    assert_true(c->act.send);
    election_packet(c->e, at(t + 400), &p);
    assert_int_equal(p.n_bids, 1);
    assert_true(p.bids[0]->release);
    core_free(c);
}

static void test_healed_partition_lesser_active_yields_better_stays(void **state)
{
    (void)state;
    core_t *c = core_new("n1", 100, true);
    uint64_t t;
    going_active_at(c, &t);
    run_until(c, t + TW);
    assert_int_equal(st_of(c), ELECTION_ACTIVE);
    election_view_t v;
    election_view(c->e, 0, at(t), &v);

    bid_spec_t lesser = {"res01", ACTIVE, 100, v.token - 1, false, false};
    hear(c, t + TW + 10, "n0", 5, 1, &lesser, 1);
    assert_int_equal(st_of(c), ELECTION_ACTIVE);
    bid_spec_t better = {"res01", ACTIVE, 100, v.token + 1, false, false};
    hear(c, t + TW + 20, "n9", 6, 1, &better, 1);
    assert_int_equal(st_of(c), ELECTION_IDLE);
    assert_string_equal(last_transition(c)->reason, "yielded to a better claim");
    core_free(c);
}

static void test_active_yields_only_to_preempting_higher_priority(void **state)
{
    (void)state;
    core_t *c = core_new("n1", 100, true);
    uint64_t t;
    going_active_at(c, &t);
    run_until(c, t + TW);
    assert_int_equal(st_of(c), ELECTION_ACTIVE);
    uint64_t now = t + TW;

    bid_spec_t no_preempt = {"res01", GOING, 150, 1, false, false};
    hear(c, now + 10, "n2", 7, 1, &no_preempt, 1);
    assert_int_equal(st_of(c), ELECTION_ACTIVE);
    bid_spec_t equal = {"res01", GOING, 100, 99999999, false, true};
    hear(c, now + 20, "n3", 8, 1, &equal, 1);
    assert_int_equal(st_of(c), ELECTION_ACTIVE);
    bid_spec_t preempt = {"res01", GOING, 150, 1, false, true};
    hear(c, now + 30, "n2", 7, 2, &preempt, 1);
    assert_int_equal(st_of(c), ELECTION_IDLE);
    core_free(c);
}

static void test_release_lets_standby_move_after_skew_only(void **state)
{
    (void)state;
    core_t *c = core_new("n1", 100, true);
    core_go(c);
    bid_spec_t active = {"res01", ACTIVE, 100, 5, false, false};
    hear(c, 100, "n2", 7, 1, &active, 1);
    hear(c, 1100, "n2", 7, 2, &active, 1);
    bid_spec_t release = {"res01", IDLE, 100, 0, true, false};
    hear(c, 1500, "n2", 7, 3, &release, 1);
    uint64_t skew = (256 - 100) * TX / 512;
    /* Still inside the initial listening window (3 tx from start). */
    assert_int_equal(election_next_deadline(c->e), 3 * TX + skew);
    hear(c, 4000, "n2", 7, 4, &active, 1);
    hear(c, 4200, "n2", 7, 5, &release, 1);
    assert_int_equal(election_next_deadline(c->e), 4200 + skew);
    run_until(c, 4200 + skew);
    assert_int_equal(st_of(c), ELECTION_GOING_ACTIVE);
    core_free(c);
}

static void test_replay_duplicate_stale_own_and_clash_are_dropped(void **state)
{
    (void)state;
    core_t *c = core_new("n1", 100, true);
    core_go(c);
    bid_spec_t b = {"res01", ACTIVE, 100, 5, false, false};
    assert_int_equal(hear(c, 100, "n2", 7, 10, &b, 1), ELECTION_ACCEPTED);
    assert_int_equal(hear(c, 110, "n2", 7, 10, &b, 1), ELECTION_DROP_DUPLICATE);
    assert_int_equal(hear(c, 120, "n2", 7, 9, &b, 1), ELECTION_DROP_REPLAY);
    assert_int_equal(hear(c, 130, "n1", 0xabcdef, 1, &b, 1), ELECTION_DROP_OWN);
    assert_int_equal(hear(c, 140, "n1", 0x123, 1, &b, 1), ELECTION_DROP_NAME_CLASH);

    /* Too old or from the future. */
    Bosun__ElectionPacket p = BOSUN__ELECTION_PACKET__INIT;
    p.sender = "n3";
    p.instance_id = 1;
    p.sequence = 1;
    p.send_time_ms = WALL0 + 200 - 120001;
    assert_int_equal(election_on_packet(c->e, &p, at(200), &c->act), ELECTION_DROP_STALE);
    p.send_time_ms = WALL0 + 200 + 120001;
    assert_int_equal(election_on_packet(c->e, &p, at(200), &c->act), ELECTION_DROP_STALE);

    /* A new instance of n2 (restart) is accepted; a replay of the old one,
     * with an older send time, is not. */
    assert_int_equal(hear(c, 10000, "n2", 8, 1, &b, 1), ELECTION_ACCEPTED);
    Bosun__Bid bid = BOSUN__BID__INIT, *bp = &bid;
    bid.resource = "res01";
    bid.state = ACTIVE;
    p.sender = "n2";
    p.instance_id = 7;
    p.sequence = 11;
    p.send_time_ms = WALL0 + 100;
    p.bids = &bp;
    p.n_bids = 1;
    assert_int_equal(election_on_packet(c->e, &p, at(10010), &c->act), ELECTION_DROP_REPLAY);
    core_free(c);
}

/* Lost packets (sequence gaps) widen the window; a clean path narrows it again. */
static void test_detection_window_follows_path_loss(void **state)
{
    (void)state;
    core_t *c = core_new("n1", 100, true);
    core_go(c);
    bid_spec_t b = {"res01", ACTIVE, 100, 5, false, false};
    uint64_t skew = (256 - 100) * TX / 512;
    hear(c, 1000, "n2", 7, 1, &b, 1);
    assert_int_equal(election_next_deadline(c->e), 1000 + 3 * TX + skew - TX / 4);
    /* Two of every ten packets lost, for a while. */
    uint64_t seq = 1, t = 1000;
    for (int i = 0; i < 60; i++) {
        t += TX;
        seq += (i % 5 == 0) ? 2 : 1;
        hear(c, t, "n2", 7, seq, &b, 1);
    }
    uint64_t lossy = election_next_deadline(c->e) + TX / 4 - skew - t;
    assert_true(lossy >= 6 * TX);
    assert_true(lossy <= 12 * TX);
    for (int i = 0; i < 100; i++) {
        t += TX;
        hear(c, t, "n2", 7, ++seq, &b, 1);
    }
    assert_int_equal(election_next_deadline(c->e), t + 3 * TX + skew - TX / 4);
    core_free(c);
}

static void test_scripts_token_range_confirmation_and_refusal(void **state)
{
    (void)state;
    core_t *c = core_new("n1", 100, true);
    c->cfg.scripts[ELECTION_BEFORE_GOING_ACTIVE] = true;
    c->cfg.scripts[ELECTION_BEFORE_ACTIVE] = true;
    c->cfg.scripts[ELECTION_ON_IDLE] = true;
    c->cfg.scripts[ELECTION_ON_ACTIVE] = true;
    core_go(c);
    assert_int_equal(c->act.n_scripts, 1);
    assert_int_equal(c->act.scripts[0].script, ELECTION_ON_IDLE);
    election_actions_clear(&c->act);

    uint64_t t = election_next_deadline(c->e);
    run_until(c, t);
    /* Orphaned: beforeGoingActive asked, still IDLE until it answers. */
    assert_int_equal(st_of(c), ELECTION_IDLE);
    assert_int_equal(c->act.n_scripts, 1);
    election_script_req_t bga = c->act.scripts[0];
    assert_int_equal(bga.script, ELECTION_BEFORE_GOING_ACTIVE);
    assert_int_equal(election_next_deadline(c->e), UINT64_MAX);
    election_actions_clear(&c->act);

    election_on_script(c->e, 0, ELECTION_BEFORE_GOING_ACTIVE, bga.gen, true, "3000000-3000010\n",
                       at(t + 50), &c->act);
    assert_int_equal(st_of(c), ELECTION_GOING_ACTIVE);
    assert_in_range(last_transition(c)->token, 3000000, 3000010);
    /* A stale result (old generation) changes nothing. */
    election_on_script(c->e, 0, ELECTION_BEFORE_GOING_ACTIVE, bga.gen - 1, true, "1-2", at(t + 60),
                       &c->act);
    assert_int_equal(st_of(c), ELECTION_GOING_ACTIVE);

    election_actions_clear(&c->act);
    run_until(c, t + 50 + TW);
    assert_int_equal(st_of(c), ELECTION_GOING_ACTIVE);
    assert_int_equal(c->act.n_scripts, 1);
    election_script_req_t ba = c->act.scripts[0];
    assert_int_equal(ba.script, ELECTION_BEFORE_ACTIVE);
    election_on_script(c->e, 0, ELECTION_BEFORE_ACTIVE, ba.gen, true, "0\n", at(t + 60 + TW), &c->act);
    assert_int_equal(st_of(c), ELECTION_IDLE);
    assert_string_equal(last_transition(c)->reason, "beforeActive refused");
    /* Held off: no new claim for 2 windows (the release still goes out). */
    uint64_t refused = t + 60 + TW;
    election_actions_clear(&c->act);
    run_until(c, refused + 2 * 3 * TX - 1);
    assert_int_equal(st_of(c), ELECTION_IDLE);
    for (size_t i = 0; i < c->act.n_scripts; i++)
        assert_int_not_equal(c->act.scripts[i].script, ELECTION_BEFORE_GOING_ACTIVE);

    /* Next time it confirms. */
    election_actions_clear(&c->act);
    uint64_t t2 = election_next_deadline(c->e);
    run_until(c, t2);
    bga = c->act.scripts[c->act.n_scripts - 1];
    assert_int_equal(bga.script, ELECTION_BEFORE_GOING_ACTIVE);
    election_on_script(c->e, 0, bga.script, bga.gen, true, "garbage", at(t2), &c->act);
    assert_int_equal(st_of(c), ELECTION_GOING_ACTIVE);
    assert_in_range(last_transition(c)->token, 1000000, 2000000); /* fell back to the config range */
    election_actions_clear(&c->act);
    run_until(c, t2 + TW);
    ba = c->act.scripts[0];
    election_on_script(c->e, 0, ELECTION_BEFORE_ACTIVE, ba.gen, true, " 1 \n", at(t2 + TW + 5), &c->act);
    assert_int_equal(st_of(c), ELECTION_ACTIVE);
    core_free(c);
}

static void test_failed_before_going_active_is_a_refusal(void **state)
{
    (void)state;
    core_t *c = core_new("n1", 100, true);
    c->cfg.scripts[ELECTION_BEFORE_GOING_ACTIVE] = true;
    core_go(c);
    election_actions_clear(&c->act);
    uint64_t t = election_next_deadline(c->e);
    run_until(c, t);
    election_script_req_t bga = c->act.scripts[0];
    election_on_script(c->e, 0, bga.script, bga.gen, false, "", at(t + 5000), &c->act);
    assert_int_equal(st_of(c), ELECTION_IDLE);
    assert_true(election_next_deadline(c->e) >= t + 5000 + 6 * TX);
    core_free(c);
}

static void test_fixed_token(void **state)
{
    (void)state;
    core_t *c = core_new("n1", 100, true);
    c->cfg.fixed_token_set = true;
    c->cfg.fixed_token = 42;
    uint64_t t;
    going_active_at(c, &t);
    assert_int_equal(last_transition(c)->token, 42);
    core_free(c);
}

static void test_force_and_release(void **state)
{
    (void)state;
    core_t *c = core_new("n1", 10, false);
    core_go(c);
    bid_spec_t holder = {"res01", ACTIVE, 200, 5, false, false};
    hear(c, 100, "n2", 7, 1, &holder, 1);
    assert_int_equal(election_force(c->e, 0, at(200), &c->act), BOSUN_OK);
    assert_int_equal(st_of(c), ELECTION_GOING_ACTIVE);
    Bosun__ElectionPacket p = BOSUN__ELECTION_PACKET__INIT;
    election_packet(c->e, at(200), &p);
    assert_int_equal(p.bids[0]->priority, ELECTION_FORCED_PRIORITY);
    assert_true(p.bids[0]->preempt);
    /* n2 keeps claiming ACTIVE until it hears us; we do not yield to it. */
    hear(c, 1100, "n2", 7, 2, &holder, 1);
    assert_int_equal(st_of(c), ELECTION_GOING_ACTIVE);
    run_until(c, 200 + TW);
    assert_int_equal(st_of(c), ELECTION_ACTIVE);
    assert_int_equal(election_release(c->e, 0, at(5000), &c->act), BOSUN_OK);
    assert_int_equal(st_of(c), ELECTION_IDLE);
    assert_string_equal(last_transition(c)->reason, "released by operator");
    assert_int_equal(election_force(c->e, 5, at(5000), &c->act), BOSUN_ERR_NOT_FOUND);
    core_free(c);
}

static void test_stop_releases_everything(void **state)
{
    (void)state;
    core_t *c = core_new("n1", 100, true);
    c->cfg.n_resources = 2;
    uint64_t t;
    going_active_at(c, &t);
    run_until(c, t + TW);
    election_actions_clear(&c->act);
    election_stop(c->e, at(t + TW + 1), &c->act);
    assert_int_equal(c->act.n_transitions, 2);
    assert_true(c->act.send);
    Bosun__ElectionPacket p = BOSUN__ELECTION_PACKET__INIT;
    election_packet(c->e, at(t + TW + 1), &p);
    assert_int_equal(p.n_bids, 2);
    assert_true(p.bids[0]->release && p.bids[1]->release);
    /* One more release at the next tx; then silence, and no claim ever again. */
    run_until(c, t + TW + 100 * TX);
    assert_int_equal(st_of(c), ELECTION_IDLE);
    assert_int_equal(election_next_deadline(c->e), UINT64_MAX);
    core_free(c);
}

/* Two cores wired back to back: one ACTIVE, the other IDLE, for a long time. */
static void test_two_cores_settle_on_one_active(void **state)
{
    (void)state;
    core_t *a = core_new("a", 100, true), *b = core_new("b", 90, true);
    core_go(a);
    core_go(b);
    core_t *cores[2] = {a, b};
    for (uint64_t t = 0; t < 60000; t++) {
        for (int i = 0; i < 2; i++) {
            core_t *c = cores[i];
            if (election_next_deadline(c->e) <= t)
                election_on_timer(c->e, at(t), &c->act);
            if (c->act.send) {
                Bosun__ElectionPacket p = BOSUN__ELECTION_PACKET__INIT;
                election_packet(c->e, at(t), &p);
                c->act.send = false;
                election_on_packet(cores[1 - i]->e, &p, at(t), &cores[1 - i]->act);
            }
        }
        if (t > 10000) {
            assert_int_equal(st_of(a), ELECTION_ACTIVE);
            assert_int_equal(st_of(b), ELECTION_IDLE);
        }
    }
    core_free(a);
    core_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lone_node_claims_after_window_skew_and_wait),
        cmocka_unit_test(test_skew_orders_standbys_by_priority),
        cmocka_unit_test(test_idle_hearing_active_stays_idle_and_rearms),
        cmocka_unit_test(test_owner_answers_a_query_at_once),
        cmocka_unit_test(test_preemption_only_by_higher_priority_and_when_allowed),
        cmocka_unit_test(test_going_active_yields_to_better_bid_and_answers_worse),
        cmocka_unit_test(test_healed_partition_lesser_active_yields_better_stays),
        cmocka_unit_test(test_active_yields_only_to_preempting_higher_priority),
        cmocka_unit_test(test_release_lets_standby_move_after_skew_only),
        cmocka_unit_test(test_replay_duplicate_stale_own_and_clash_are_dropped),
        cmocka_unit_test(test_detection_window_follows_path_loss),
        cmocka_unit_test(test_scripts_token_range_confirmation_and_refusal),
        cmocka_unit_test(test_failed_before_going_active_is_a_refusal),
        cmocka_unit_test(test_fixed_token),
        cmocka_unit_test(test_force_and_release),
        cmocka_unit_test(test_stop_releases_everything),
        cmocka_unit_test(test_two_cores_settle_on_one_active),
    };
    return cmocka_run_group_tests_name("election", tests, NULL, NULL);
}
