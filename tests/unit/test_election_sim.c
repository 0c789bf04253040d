/*
 * test_election_sim.c - the election core, many nodes at once, in the
 * simulator (tests/sim): a fixed batch of random scenarios, then targeted
 * scenarios whose figures are asserted, then regressions the simulator found.
 *
 * A failing random seed is replayed with `election_sim --seed N --verbose`.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../sim/sim.h"

#define BATCH_FIRST_SEED 1u
#define BATCH_SCENARIOS 2000u

static double seconds_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* Runs sc to its end; fails the test with the event history on any violation. */
static void run_clean(const sim_scenario_t *sc, sim_result_t *r)
{
    if (sim_run(sc, NULL, r) != 0) {
        sim_print_failure(sc, 80, stderr);
        fail_msg("seed %llu: %s", (unsigned long long)sc->seed, r->first_violation);
    }
}

/* Steps sim 1 ms at a time until some node is ACTIVE for r; returns the time. */
static uint64_t until_active(sim_t *s, unsigned r, uint64_t limit)
{
    while (sim_active_count(s, r) == 0 && sim_now(s) < limit)
        sim_run_until(s, sim_now(s) + 1);
    return sim_now(s);
}

static void assert_no_violation(const sim_t *s)
{
    const char *first;
    if (sim_violations(s, &first) != 0)
        fail_msg("%s", first);
}

/* 3 nodes with distinct priorities (200, 150, 100) on one resource. */
static void three_ranked(sim_scenario_t *sc, uint64_t tx, uint64_t tw, uint64_t end)
{
    sim_scenario_plain(3, 1, tx, tw, end, sc);
    sc->node[0].priority[0] = 200;
    sc->node[1].priority[0] = 150;
    sc->node[2].priority[0] = 100;
}

static uint64_t skew_of(uint32_t prio, uint64_t tx) { return (256u - prio) * tx / 512u; }

/* ---- the batch -------------------------------------------------------------------- */

static void test_random_scenarios_batch(void **state)
{
    (void)state;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    sim_result_t total = {0}, one;
    sim_scenario_t sc;
    unsigned printed = 0;
    for (unsigned k = 0; k < BATCH_SCENARIOS; k++) {
        sim_scenario_random(BATCH_FIRST_SEED + k, NULL, &sc);
        sim_run(&sc, NULL, &one);
        sim_result_add(&total, &one);
        if (one.violations > 0 && printed++ < 3)
            sim_print_failure(&sc, 60, stderr);
    }
    printf("    %u scenarios (seeds %u..%u) in %.1f s: %u failures; %llu transitions\n",
           total.scenarios, BATCH_FIRST_SEED, BATCH_FIRST_SEED + BATCH_SCENARIOS - 1,
           seconds_since(&t0), total.failures, (unsigned long long)total.transitions);
    printf("    failover (crash of the only ACTIVE): max %.2f tx in clean scenarios, %.2f tx in all, "
           "mean %.2f tx; handover (clean stop): max %.2f tx where checked, %.2f tx in all\n",
           total.max_failover_clean_tx, total.max_failover_tx,
           total.n_failover ? total.sum_failover_tx / total.n_failover : 0.0,
           total.max_handover_clean_tx, total.max_handover_tx);
    printf("    double-ACTIVE ms: clean %llu, partitions %llu, after heals %llu (max %.2f tx), "
           "after loss %llu, slow network %llu\n",
           (unsigned long long)total.dbl_clean_ms, (unsigned long long)total.dbl_partition_ms,
           (unsigned long long)total.dbl_heal_ms, total.max_heal_tx,
           (unsigned long long)total.dbl_lossy_ms, (unsigned long long)total.dbl_slow_ms);
    assert_int_equal(total.failures, 0);
    assert_int_equal(total.dbl_clean_ms, 0);
    /* The batch must exercise what it claims to. */
    assert_true(total.n_failover > 100 && total.n_handover > 100);
    assert_true(total.dbl_partition_ms > 0 && total.packets_lost > 0);
    assert_true(total.verdicts[ELECTION_DROP_DUPLICATE] > 0 && total.verdicts[ELECTION_DROP_REPLAY] > 0);
}

/* ---- targeted scenarios -------------------------------------------------------------- */

/* (1) Clean network, 2 resources with opposite rankings: one ACTIVE each, as ranked. */
static void test_one_active_per_resource_as_priorities_say(void **state)
{
    (void)state;
    sim_scenario_t sc;
    sim_scenario_plain(3, 2, 1000, 3000, 30000, &sc);
    const uint32_t prio[3][2] = {{200, 50}, {100, 100}, {50, 200}};
    for (unsigned i = 0; i < 3; i++)
        for (unsigned r = 0; r < 2; r++)
            sc.node[i].priority[r] = prio[i][r];
    sim_t *s = sim_new(&sc, NULL);
    /* The best moves first: after its window, its skew and transitionWait. */
    uint64_t first = 3000 + skew_of(200, 1000) + 3000;
    sim_run_until(s, first - 1);
    assert_int_equal(sim_active_count(s, 0), 0);
    sim_run_until(s, first + 5);
    for (uint64_t t = first + 5; t < 30000; t += 100) {
        sim_run_until(s, t);
        assert_int_equal(sim_active_count(s, 0), 1);
        assert_int_equal(sim_active_count(s, 1), 1);
        assert_int_equal(sim_active_node(s, 0), 0);
        assert_int_equal(sim_active_node(s, 1), 2);
    }
    sim_result_t r;
    sim_finish(s, &r);
    assert_no_violation(s);
    /* Two claims, nothing else: 3 nodes x 2 resources start, 2 x (bid, confirm). */
    assert_int_equal(r.transitions, 6 + 4);
    sim_free(s);
}

/* (2) kill -9 of the ACTIVE: the best standby is ACTIVE within 3 tx + skew + wait. */
static void test_crash_of_active_fails_over_within_window(void **state)
{
    (void)state;
    const uint64_t tx = 1000, tw = 1000;
    uint64_t worst = 0;
    for (uint64_t phase = 0; phase < tx; phase += 97) {
        sim_scenario_t sc;
        three_ranked(&sc, tx, tw, 60000);
        sim_t *s = sim_new(&sc, NULL);
        sim_run_until(s, 15000 + phase);
        assert_int_equal(sim_active_node(s, 0), 0);
        sim_apply(s, &(sim_fault_t){.kind = SIM_CRASH, .node = 0});
        uint64_t t = until_active(s, 0, 30000) - (15000 + phase);
        assert_int_equal(sim_active_node(s, 0), 1);
        assert_true(t <= 3 * tx + skew_of(150, tx) + tw + 5);
        worst = t > worst ? t : worst;
        sim_finish(s, NULL);
        assert_no_violation(s);
        sim_free(s);
    }
    printf("    failover after a crash: at most %llu ms = %.2f tx (bound 3 tx + %llu skew + %llu wait)\n",
           (unsigned long long)worst, (double)worst / tx, (unsigned long long)skew_of(150, tx),
           (unsigned long long)tw);
}

/* (3) Clean stop: the release hands over after skew + wait, far under a window. */
static void test_clean_stop_hands_over_at_once(void **state)
{
    (void)state;
    const uint64_t tx = 1000, tw = 1000;
    sim_scenario_t sc;
    three_ranked(&sc, tx, tw, 60000);
    sim_t *s = sim_new(&sc, NULL);
    sim_run_until(s, 15500);
    assert_int_equal(sim_active_node(s, 0), 0);
    sim_apply(s, &(sim_fault_t){.kind = SIM_STOP, .node = 0});
    uint64_t t = until_active(s, 0, 30000) - 15500;
    printf("    handover after a clean stop: %llu ms = %.2f tx\n", (unsigned long long)t,
           (double)t / tx);
    assert_int_equal(sim_active_node(s, 0), 1);
    assert_true(t <= skew_of(150, tx) + tw + 2 * 1 + 2);
    assert_true(t < 3 * tx);
    sim_finish(s, NULL);
    assert_no_violation(s);
    sim_free(s);
}

/* (4) Partition: both sides ACTIVE; heal: the lesser yields within a tx, the better stays. */
static void partition_and_heal(bool equal_priorities)
{
    const uint64_t tx = 1000, tw = 1000;
    sim_scenario_t sc;
    three_ranked(&sc, tx, tw, 70000);
    if (equal_priorities)
        for (unsigned i = 0; i < 3; i++)
            sc.node[i].priority[0] = 100;
    sim_t *s = sim_new(&sc, NULL);
    sim_run_until(s, 15000);
    int first = sim_active_node(s, 0);
    assert_true(first >= 0);
    sim_apply(s, &(sim_fault_t){.kind = SIM_PARTITION, .mask = 1u << first});
    sim_run_until(s, 30000);
    assert_int_equal(sim_active_count(s, 0), 2);
    /* The better standing of the two, by (priority, token, name). */
    election_view_t v[3];
    int best = -1;
    for (unsigned i = 0; i < 3; i++) {
        if (sim_state(s, i, 0) != ELECTION_ACTIVE)
            continue;
        sim_view(s, i, 0, &v[i]);
        if (best < 0 || v[i].priority > v[best].priority ||
            (v[i].priority == v[best].priority && v[i].token > v[best].token))
            best = (int)i;
    }
    sim_apply(s, &(sim_fault_t){.kind = SIM_HEAL});
    while (sim_active_count(s, 0) > 1 && sim_now(s) < 40000)
        sim_run_until(s, sim_now(s) + 1);
    uint64_t t = sim_now(s) - 30000;
    printf("    %s priorities: two ACTIVE for %llu ms after the heal (%.2f tx); n%d stays\n",
           equal_priorities ? "equal" : "ranked", (unsigned long long)t, (double)t / tx, best);
    assert_true(t <= tx + 2);
    assert_int_equal(sim_active_count(s, 0), 1);
    assert_int_equal(sim_active_node(s, 0), best);
    if (!equal_priorities)
        assert_int_equal(best, 0);
    sim_run_until(s, 60000);
    assert_int_equal(sim_active_node(s, 0), best);
    sim_finish(s, NULL);
    assert_no_violation(s);
    sim_free(s);
}

static void test_partition_both_active_heal_keeps_the_better(void **state)
{
    (void)state;
    partition_and_heal(false);
    partition_and_heal(true);
}

/*
 * Transitions on any node in [from, to) with 20% loss on every link from
 * loss_at on, at default timing (tx 1 s, transitionWait 3 s), 3 nodes, 2
 * resources ranked differently.
 */
static uint64_t transitions_under_loss(uint64_t seed, uint64_t loss_at, uint64_t from, uint64_t to)
{
    sim_scenario_t sc;
    sim_scenario_plain(3, 2, 1000, 3000, to, &sc);
    sc.seed = seed;
    const uint32_t prio[3][2] = {{200, 100}, {150, 150}, {100, 200}};
    for (unsigned i = 0; i < 3; i++)
        for (unsigned r = 0; r < 2; r++)
            sc.node[i].priority[r] = prio[i][r];
    sc.fault[sc.n_faults++] = (sim_fault_t){.at_ms = loss_at, .kind = SIM_LOSS, .value = 200};
    sim_t *s = sim_new(&sc, NULL);
    uint64_t before = 0;
    if (from > 0) {
        sim_run_until(s, from);
        before = sim_transitions(s);
    }
    sim_run_until(s, to);
    uint64_t n = sim_transitions(s) - before;
    sim_free(s);
    return n;
}

/* Seeds among first..first+n-1 with a transition in the 60 s after loss_at + warm. */
static unsigned flapping_seeds(uint64_t first, unsigned n, uint64_t loss_at, uint64_t warm)
{
    unsigned flapped = 0;
    for (uint64_t seed = first; seed < first + n; seed++)
        flapped += transitions_under_loss(seed, loss_at, loss_at + warm, loss_at + warm + 60000) > 0;
    return flapped;
}

/*
 * (5) 20% loss on every link at tx = 1 s: after a 10 s warm-up (a settled
 * election), the loss starts and lasts 60 s; no node may make a transition.
 */
static void test_no_flap_under_20_percent_loss(void **state)
{
    (void)state;
    /* The figures first, so that they are printed even when the assertion fails. */
    printf("    seeds with a flap in 60 s, of 200: loss switched on at 10 s %u; "
           "lossy from the start, counted from 10 s %u, from 30 s %u\n",
           flapping_seeds(1, 200, 10000, 0), flapping_seeds(1, 200, 0, 10000),
           flapping_seeds(1, 200, 0, 30000));
    /* No warm-up (loss from the start): transitions beyond the 10 of a clean
     * start (6 NONE->IDLE, then 2 steps for each of 2 claims). */
    for (uint64_t seed = 1; seed <= 5; seed++) {
        uint64_t n = transitions_under_loss(seed, 0, 0, 70000);
        printf("    seed %llu, lossy from the start, 70 s: %llu transitions (%llu beyond a clean start)\n",
               (unsigned long long)seed, (unsigned long long)n,
               (unsigned long long)(n > 10 ? n - 10 : 0));
    }
    char flapped[128] = "";
    for (uint64_t seed = 1; seed <= 5; seed++) {
        uint64_t n = transitions_under_loss(seed, 10000, 10000, 70000);
        if (n > 0)
            snprintf(flapped + strlen(flapped), sizeof flapped - strlen(flapped),
                     " seed %llu: %llu transitions;", (unsigned long long)seed, (unsigned long long)n);
    }
    if (flapped[0] != '\0')
        fail_msg("flaps under 20%% loss:%s", flapped);
}

/* (6) Equal priorities, simultaneous start: one ACTIVE, by token, else by name. */
static void test_equal_priorities_simultaneous_start(void **state)
{
    (void)state;
    for (int fixed = 0; fixed < 2; fixed++) {
        for (uint64_t seed = 1; seed <= 20; seed++) {
            sim_scenario_t sc;
            sim_scenario_plain(5, 1, 100, 100, 10000, &sc);
            sc.seed = seed;
            for (unsigned i = 0; i < 5; i++) {
                sc.node[i].fixed_token_set = fixed;
                sc.node[i].fixed_token = 7;
            }
            sim_t *s = sim_new(&sc, NULL);
            for (uint64_t t = 0; t < 10000; t += 5) {
                sim_run_until(s, t);
                assert_true(sim_active_count(s, 0) <= 1);
            }
            assert_int_equal(sim_active_count(s, 0), 1);
            if (fixed)
                assert_int_equal(sim_active_node(s, 0), 4); /* "n4" is the largest name */
            sim_result_t r;
            sim_finish(s, &r);
            assert_no_violation(s);
            assert_int_equal(r.dbl_clean_ms + r.dbl_slow_ms + r.dbl_lossy_ms, 0);
            sim_free(s);
        }
    }
}

/* (7) Delay, reordering and duplication (no loss): never two ACTIVE. */
static void test_delay_reordering_duplication_keep_safety(void **state)
{
    (void)state;
    sim_result_t total = {0}, one;
    for (uint64_t seed = 1; seed <= 300; seed++) {
        sim_scenario_t sc;
        sim_opts_t o = {.nodes = 4, .resources = 2};
        sim_scenario_random(seed, &o, &sc);
        /* Keep the nodes, scripts and crashes; replace the network. */
        sc.tx_ms = 100;
        sc.tw_ms = 120;
        sc.jitter_ms = 25;
        sc.dup_pm = 300;
        for (unsigned i = 0; i < sc.n_nodes; i++) {
            sc.node[i].tx_ms = sc.node[i].tw_ms = 0;
            sc.node[i].script_max_ms = sc.node[i].script_max_ms % 50u;
            for (unsigned j = 0; j < sc.n_nodes; j++) {
                sc.loss_pm[i][j] = 0;
                sc.delay_ms[i][j] = i == j ? 0 : (i * 7 + j * 3) % 6;
            }
        }
        for (unsigned k = 0; k < sc.n_faults; k++)
            if (sc.fault[k].kind == SIM_PARTITION || sc.fault[k].kind == SIM_LOSS)
                sc.fault[k].kind = SIM_HEAL; /* a no-op */
        sim_scenario_set_end(&sc);
        run_clean(&sc, &one);
        sim_result_add(&total, &one);
    }
    printf("    300 scenarios: %llu duplicates and %llu late (reordered) packets dropped; "
           "double-ACTIVE %llu ms\n",
           (unsigned long long)total.verdicts[ELECTION_DROP_DUPLICATE],
           (unsigned long long)total.verdicts[ELECTION_DROP_REPLAY],
           (unsigned long long)(total.dbl_clean_ms + total.dbl_slow_ms + total.dbl_lossy_ms +
                                total.dbl_heal_ms + total.dbl_partition_ms));
    assert_true(total.verdicts[ELECTION_DROP_DUPLICATE] > 1000);
    assert_true(total.verdicts[ELECTION_DROP_REPLAY] > 100);
    assert_int_equal(total.dbl_clean_ms + total.dbl_slow_ms + total.dbl_lossy_ms, 0);
}

/* ---- regressions ------------------------------------------------------------------------ */

/*
 * Found as seeds 6738, 97440 and 116168 (nodes with their own tx
 * intervals): a node with a short tx interval starts just after a slow
 * ACTIVE's packet, hears nothing in its short first window and bids. The
 * ACTIVE answered a worse GOING_ACTIVE bid only tx/8 after its own last
 * packet (125 ms at tx = 1 s), later than the newcomer's transitionWait, so
 * both were ACTIVE until the slow node's next packet (~0.9 s on a clean
 * network). Fixed in election.c: a newly seen contender is answered at once.
 */
static void test_regression_slow_active_answers_new_contender_at_once(void **state)
{
    (void)state;
    sim_scenario_t sc;
    sim_scenario_plain(2, 1, 1000, 1000, 20000, &sc);
    sc.node[0].priority[0] = 200;
    sc.node[1].priority[0] = 100;
    sc.node[1].tx_ms = 20;
    sc.node[1].tw_ms = 50;
    /* n0 is ACTIVE at 3 tx + skew + wait = 4109 ms and sends then, every second. */
    sc.node[1].start_ms = 5115;
    sim_t *s = sim_new(&sc, NULL);
    sim_run_until(s, 5110);
    assert_int_equal(sim_active_node(s, 0), 0);
    for (uint64_t t = 5110; t < 20000; t += 1) {
        sim_run_until(s, t);
        assert_int_equal(sim_active_count(s, 0), 1);
    }
    sim_result_t r;
    sim_finish(s, &r);
    assert_no_violation(s);
    sim_free(s);

    static const uint64_t seeds[] = {6738, 97440, 116168};
    for (size_t k = 0; k < sizeof seeds / sizeof seeds[0]; k++) {
        sim_scenario_random(seeds[k], NULL, &sc);
        run_clean(&sc, &r);
    }
}

/*
 * Found with restarts whose wall clock steps by up to +-20 s instead of
 * +-300 ms (`election_sim --scenarios 20000 --clock-step-ms 20000`: 60
 * seeds fail; none with steps under 5 s). NOT FIXED: this test fails. A peer that heard the old instance
 * drops every packet of the new one as a replay while its send time is more
 * than NEW_INSTANCE_TOLERANCE_MS (5 s) older than the old instance's last
 * one, so the restarted node is invisible: it hears the ACTIVE, preempts it,
 * and both stay ACTIVE on a clean network until its clock catches up.
 */
static void test_restart_with_clock_stepped_back_stays_visible(void **state)
{
    (void)state;
    sim_scenario_t sc;
    sim_scenario_plain(2, 2, 1000, 1000, 60000, &sc);
    /* n0 owns r0, n1 owns r1; both transmit, so each knows the other's instance. */
    sc.node[0].priority[0] = 200;
    sc.node[0].priority[1] = 100;
    sc.node[1].priority[0] = 100;
    sc.node[1].priority[1] = 200;
    sc.fault[sc.n_faults++] = (sim_fault_t){.at_ms = 15000, .kind = SIM_CRASH, .node = 1};
    /* n1 comes back at 20 s with its clock 30 s behind. */
    sc.fault[sc.n_faults++] = (sim_fault_t){.at_ms = 20000, .kind = SIM_RESTART, .node = 1,
                                            .set_clock = true, .clock_offset_ms = -30000};
    sim_t *s = sim_new(&sc, NULL);
    sim_run_until(s, 19999);
    assert_int_equal(sim_active_node(s, 1), 0); /* n0 took r1 over */
    uint64_t two = 0;
    for (uint64_t t = 20000; t < 60000; t += 10) {
        sim_run_until(s, t);
        two += sim_active_count(s, 1) > 1 ? 10 : 0;
    }
    sim_finish(s, NULL);
    sim_free(s);
    if (two > 0)
        fail_msg("two ACTIVE nodes for r1 during %llu ms on a clean network", (unsigned long long)two);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_scenarios_batch),
        cmocka_unit_test(test_one_active_per_resource_as_priorities_say),
        cmocka_unit_test(test_crash_of_active_fails_over_within_window),
        cmocka_unit_test(test_clean_stop_hands_over_at_once),
        cmocka_unit_test(test_partition_both_active_heal_keeps_the_better),
        cmocka_unit_test(test_no_flap_under_20_percent_loss),
        cmocka_unit_test(test_equal_priorities_simultaneous_start),
        cmocka_unit_test(test_delay_reordering_duplication_keep_safety),
        cmocka_unit_test(test_regression_slow_active_answers_new_contender_at_once),
        cmocka_unit_test(test_restart_with_clock_stepped_back_stays_visible),
    };
    return cmocka_run_group_tests_name("election_sim", tests, NULL, NULL);
}
