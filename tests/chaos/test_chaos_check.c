/*
 * test_chaos_check.c - the chaos checker (tests/chaos/check.c) on hand-made
 * histories: a clean one passes with the right figures, and each kind of
 * broken history fails with the violation that names what broke.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "history.h"

#define TX 500
#define TW 1000

static history_t H;
static check_config_t CFG;

/* Two nodes, one resource; faults and commands from 1 s to 100 s. */
static int setup(void **state)
{
    (void)state;
    history_init(&H, 2, 1);
    H.central_start_ms = 0;
    H.run_start_ms = 1000;
    H.run_end_ms = 100000;
    H.final_stop_ms = 100000;
    H.recorder_stop_seen = true;
    check_config_defaults(&CFG, TX, TW);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    history_free(&H);
    return 0;
}

static hist_msg_t *msg(int node, const char *token, uint64_t seq, hist_method_t method, int status, bool has_ack)
{
    hist_submit_t s = {.node = node, .method = method, .written_ms = 1000 + (int64_t)seq * 10};
    snprintf(s.token, sizeof s.token, "%s", token);
    assert_non_null(history_add_submit(&H, &s));
    hist_msg_t m = {.node = node,
                    .seq = seq,
                    .method = method,
                    .accepted_ms = s.written_ms + 5,
                    .finished_ms = status ? s.written_ms + 100 : 0,
                    .status = status,
                    .has_ack = has_ack,
                    .attempts = 1,
                    .log_lines = status ? 1 : 0};
    snprintf(m.id, sizeof m.id, "m%llu", (unsigned long long)seq);
    snprintf(m.token, sizeof m.token, "%s", token);
    hist_msg_t *p = history_add_msg(&H, &m);
    assert_non_null(p);
    return p;
}

static void trace(int node, char phase, const char *token)
{
    hist_exec_t x = {.node = node, .phase = phase};
    snprintf(x.token, sizeof x.token, "%s", token);
    assert_non_null(history_add_exec(&H, &x));
}

static void ledger(int node, const char *id, bool started, bool finished, int status)
{
    hist_ledger_t l = {.node = node, .claimed_ms = 2000, .started_ms = started ? 2001 : 0,
                       .finished_ms = finished ? 2002 : 0, .status = finished ? status : HIST_PENDING};
    snprintf(l.id, sizeof l.id, "%s", id);
    assert_non_null(history_add_ledger(&H, &l));
}

static void life(int node, int64_t start, int64_t end)
{
    hist_life_t L = {.node = node, .start_ms = start, .end_ms = end};
    assert_non_null(history_add_life(&H, &L));
}

static void trans(int node, int64_t ms, int from, int to)
{
    hist_trans_t t = {.node = node, .res = 0, .ms = ms, .from = from, .to = to};
    assert_non_null(history_add_trans(&H, &t));
}

static void fault(fault_kind_t kind, host_role_t role, int index, int64_t start, int64_t end)
{
    hist_fault_t f = {.kind = kind, .role = role, .index = index, .percent = kind == FAULT_LOSS ? 20 : 0,
                      .start_ms = start, .end_ms = end};
    assert_non_null(history_add_fault(&H, &f));
}

static void observed(uint64_t key, int64_t ms, bool in_recorder)
{
    hist_event_t e = {.key = key, .ms = ms};
    snprintf(e.subject, sizeof e.subject, "n1.event.heartbeat");
    assert_non_null(history_add_observed(&H, &e));
    if (in_recorder) {
        assert_non_null(history_add_recorded(&H, &e));
        H.recorder_written++;
    }
}

/*
 * A healthy history: n1 runs k1 (shell) and k2 (text), n2's k3 expired
 * before delivery, n1's k4 was cut off by a kill (INTERRUPTED). n1 is ACTIVE
 * until it is killed at 50 s; n2 takes over 2 s later and n1, restarted,
 * stays IDLE.
 */
static void clean_history(void)
{
    msg(0, "k1", 1, HIST_SHELL, HIST_OK, true);
    msg(0, "k2", 2, HIST_TEXT, HIST_OK, true);
    msg(1, "k3", 3, HIST_SHELL, HIST_EXPIRED, false);
    msg(0, "k4", 4, HIST_SHELL, HIST_INTERRUPTED, true);
    trace(0, 'S', "k1");
    trace(0, 'E', "k1");
    trace(0, 'T', "k2");
    trace(0, 'S', "k4");
    ledger(0, "m1", true, true, HIST_OK);
    ledger(0, "m2", true, true, HIST_OK);
    ledger(0, "m4", true, true, HIST_INTERRUPTED);

    life(0, 0, 50000);
    life(0, 53000, 0);
    life(1, 0, 0);
    trans(0, 100, HIST_NONE, HIST_IDLE);
    trans(0, 900, HIST_IDLE, HIST_GOING_ACTIVE);
    trans(0, 1900, HIST_GOING_ACTIVE, HIST_ACTIVE);
    trans(1, 100, HIST_NONE, HIST_IDLE);
    trans(1, 51000, HIST_IDLE, HIST_GOING_ACTIVE);
    trans(1, 52000, HIST_GOING_ACTIVE, HIST_ACTIVE);
    trans(0, 53100, HIST_NONE, HIST_IDLE);
    fault(FAULT_AGENT_KILL, HOST_AGENT, 0, 50000, 53000);
    fault(FAULT_CENTRAL_KILL, HOST_CENTRAL, 0, 60000, 61000);

    observed(11, 20000, true);
    observed(12, 30000, true);
    observed(13, 60500, false); /* central was down: not checked */
    observed(14, 59500, false); /* the kill -9 window */
}

static check_report_t run_check(void)
{
    check_report_t r;
    check_run(&H, &CFG, &r);
    return r;
}

static void expect_violation(const char *needle)
{
    check_report_t r = run_check();
    bool found = false;
    for (size_t i = 0; i < r.n_v; i++) {
        if (strstr(r.v[i].text, needle) != NULL)
            found = true;
    }
    if (!found) {
        fprintf(stderr, "# wanted a violation with '%s'; got %zu:\n", needle, r.n_v);
        for (size_t i = 0; i < r.n_v; i++)
            fprintf(stderr, "#   %s\n", r.v[i].text);
    }
    assert_false(check_passed(&r));
    assert_true(found);
    check_report_free(&r);
}

static void expect_pass(void)
{
    check_report_t r = run_check();
    for (size_t i = 0; i < r.n_v; i++)
        fprintf(stderr, "# unexpected: %s\n", r.v[i].text);
    assert_true(check_passed(&r));
    check_report_free(&r);
}

/* ---- the clean history -------------------------------------------------------------------- */

static void test_clean_history_passes_with_its_figures(void **state)
{
    (void)state;
    clean_history();
    check_report_t r = run_check();
    for (size_t i = 0; i < r.n_v; i++)
        fprintf(stderr, "# unexpected: %s\n", r.v[i].text);
    assert_true(check_passed(&r));
    assert_int_equal(r.submitted, 4);
    assert_int_equal(r.accepted, 4);
    assert_int_equal(r.finished, 4);
    assert_int_equal(r.by_status[HIST_OK], 2);
    assert_int_equal(r.ran, 3);
    assert_int_equal(r.expired_by_central, 1);
    assert_int_equal(r.interrupted_started, 1);
    /* n1 killed at 50 s, n2 ACTIVE at 52 s. */
    assert_int_equal(r.res[0].longest_gap_ms, 2000);
    assert_int_equal(r.res[0].longest_gap_at, 50000);
    assert_int_equal(r.res[0].double_outside_ms, 0);
    assert_int_equal(r.gap_bound_ms, 12 * TX + TX / 2 + TW + 1000);
    assert_int_equal(r.rec_checked, 2);
    assert_int_equal(r.rec_excluded, 2);
    assert_int_equal(r.rec_excluded_missing, 2);
    assert_int_equal(r.rec_kill_window_missing, 1);
    check_report_free(&r);
}

/* ---- messages ----------------------------------------------------------------------------------- */

static void test_twice_run_fails(void **state)
{
    (void)state;
    clean_history();
    trace(0, 'S', "k1"); /* k1 again, after k4 */
    trace(0, 'E', "k1");
    expect_violation("ran 2 times");
}

static void test_out_of_order_fails(void **state)
{
    (void)state;
    msg(0, "k1", 1, HIST_SHELL, HIST_OK, true);
    msg(0, "k2", 2, HIST_TEXT, HIST_OK, true);
    ledger(0, "m1", true, true, HIST_OK);
    ledger(0, "m2", true, true, HIST_OK);
    trace(0, 'T', "k2");
    trace(0, 'S', "k1");
    trace(0, 'E', "k1");
    expect_violation("not in accept order");
}

static void test_order_across_nodes_is_free(void **state)
{
    (void)state;
    msg(0, "k1", 1, HIST_TEXT, HIST_OK, true);
    msg(1, "k2", 2, HIST_TEXT, HIST_OK, true);
    msg(0, "k3", 3, HIST_TEXT, HIST_OK, true);
    ledger(0, "m1", true, true, HIST_OK);
    ledger(1, "m2", true, true, HIST_OK);
    ledger(0, "m3", true, true, HIST_OK);
    trace(1, 'T', "k2");
    trace(0, 'T', "k1");
    trace(0, 'T', "k3");
    life(0, 0, 0);
    life(1, 0, 0);
    trans(0, 500, HIST_IDLE, HIST_ACTIVE);
    expect_pass();
}

static void test_lost_submission_fails(void **state)
{
    (void)state;
    clean_history();
    hist_submit_t s = {.node = 1, .written_ms = 5000};
    snprintf(s.token, sizeof s.token, "k9");
    history_add_submit(&H, &s);
    expect_violation("never accepted");
}

static void test_accepted_twice_fails(void **state)
{
    (void)state;
    clean_history();
    hist_msg_t m = H.msgs[0];
    snprintf(m.id, sizeof m.id, "m99");
    m.seq = 99;
    history_add_msg(&H, &m);
    expect_violation("accepted 2 times");
}

static void test_missing_final_result_fails(void **state)
{
    (void)state;
    clean_history();
    msg(1, "k5", 5, HIST_SHELL, HIST_PENDING, false);
    expect_violation("no final result");
}

static void test_expired_answer_for_a_run_fails(void **state)
{
    (void)state;
    clean_history();
    msg(1, "k5", 5, HIST_SHELL, HIST_EXPIRED, true);
    ledger(1, "m5", true, true, HIST_OK);
    trace(1, 'S', "k5");
    trace(1, 'E', "k5");
    expect_violation("answered EXPIRED (not run), but it ran");
}

static void test_central_expiry_may_have_run(void **state)
{
    (void)state;
    clean_history();
    msg(1, "k5", 5, HIST_SHELL, HIST_EXPIRED, false);
    ledger(1, "m5", true, true, HIST_OK);
    trace(1, 'S', "k5");
    trace(1, 'E', "k5");
    check_report_t r = run_check();
    assert_true(check_passed(&r));
    assert_int_equal(r.expired_by_central_ran, 1);
    check_report_free(&r);
}

static void test_ok_without_trace_fails(void **state)
{
    (void)state;
    clean_history();
    msg(1, "k5", 5, HIST_SHELL, HIST_OK, true);
    ledger(1, "m5", true, true, HIST_OK);
    trace(1, 'S', "k5"); /* no end line */
    expect_violation("no complete run");
}

static void test_ledger_disagreeing_fails(void **state)
{
    (void)state;
    clean_history();
    msg(1, "k5", 5, HIST_SHELL, HIST_OK, true);
    ledger(1, "m5", true, true, HIST_INTERRUPTED);
    trace(1, 'S', "k5");
    trace(1, 'E', "k5");
    expect_violation("ledger recorded INTERRUPTED");
}

static void test_run_missing_from_ledger_fails(void **state)
{
    (void)state;
    clean_history();
    msg(1, "k5", 5, HIST_TEXT, HIST_EXPIRED, false);
    trace(1, 'T', "k5");
    expect_violation("ledger has no row");
}

static void test_conflicting_result_lines_fail(void **state)
{
    (void)state;
    clean_history();
    H.msgs[0].log_lines = 2;
    H.msgs[0].log_conflicts = 1;
    expect_violation("final status other than");
}

static void test_repeated_result_lines_are_counted(void **state)
{
    (void)state;
    clean_history();
    H.msgs[0].log_lines = 2;
    check_report_t r = run_check();
    assert_true(check_passed(&r));
    assert_int_equal(r.repeated_log_lines, 1);
    check_report_free(&r);
}

static void test_phantom_execution_fails(void **state)
{
    (void)state;
    clean_history();
    trace(1, 'T', "k1"); /* k1 was n1's */
    expect_violation("never accepted for n2");
}

static void test_unexpected_status_fails(void **state)
{
    (void)state;
    clean_history();
    msg(1, "k5", 5, HIST_SHELL, HIST_FAILED, true);
    expect_violation("unexpected final status FAILED");
}

/* ---- elections ------------------------------------------------------------------------------------ */

/* n1 ACTIVE all along; n2 ACTIVE too from 20 s for dur ms. */
static void two_active(int64_t dur)
{
    life(0, 0, 0);
    life(1, 0, 0);
    trans(0, 500, HIST_IDLE, HIST_ACTIVE);
    trans(1, 20000, HIST_GOING_ACTIVE, HIST_ACTIVE);
    trans(1, 20000 + dur, HIST_ACTIVE, HIST_IDLE);
}

static void test_two_active_outside_partition_fails(void **state)
{
    (void)state;
    two_active(1000);
    expect_violation("two ACTIVE nodes that could hear each other (n1, n2) for 1000 ms");
}

static void test_two_active_within_one_tx_passes(void **state)
{
    (void)state;
    two_active(TX);
    check_report_t r = run_check();
    assert_true(check_passed(&r));
    assert_int_equal(r.res[0].double_outside_ms, TX);
    check_report_free(&r);
}

static void test_two_active_during_cut_is_expected(void **state)
{
    (void)state;
    two_active(5000);
    fault(FAULT_CUT, HOST_AGENT, 1, 18000, 24800); /* healed 200 ms before n2 yields */
    check_report_t r = run_check();
    for (size_t i = 0; i < r.n_v; i++)
        fprintf(stderr, "# unexpected: %s\n", r.v[i].text);
    assert_true(check_passed(&r));
    assert_int_equal(r.res[0].double_partition_ms, 4800);
    assert_int_equal(r.res[0].double_outside_ms, 200);
    check_report_free(&r);
}

static void test_two_active_long_after_heal_fails(void **state)
{
    (void)state;
    two_active(5000);
    fault(FAULT_CUT, HOST_AGENT, 1, 18000, 22000); /* n2 keeps ACTIVE 3 s after the heal */
    expect_violation("(n1, n2) for 3000 ms");
}

static void test_loss_counts_as_partition(void **state)
{
    (void)state;
    two_active(3000);
    fault(FAULT_LOSS, HOST_AGENT, 0, 10000, 30000);
    expect_pass();
}

static void test_long_gap_fails(void **state)
{
    (void)state;
    life(0, 0, 50000);
    life(1, 0, 0);
    trans(0, 500, HIST_IDLE, HIST_ACTIVE);
    trans(1, 60000, HIST_GOING_ACTIVE, HIST_ACTIVE);
    fault(FAULT_AGENT_KILL, HOST_AGENT, 0, 50000, 0);
    expect_violation("no ACTIVE node for 10000 ms");
}

static void test_gap_without_healthy_candidate_is_not_counted(void **state)
{
    (void)state;
    life(0, 0, 50000);
    life(1, 0, 0);
    trans(0, 500, HIST_IDLE, HIST_ACTIVE);
    trans(1, 60000, HIST_GOING_ACTIVE, HIST_ACTIVE);
    fault(FAULT_AGENT_KILL, HOST_AGENT, 0, 50000, 0);
    fault(FAULT_CUT, HOST_AGENT, 1, 49000, 59000); /* n2 cut off: nobody healthy until 59 s */
    check_report_t r = run_check();
    assert_true(check_passed(&r));
    assert_int_equal(r.res[0].longest_gap_ms, 1000);
    check_report_free(&r);
}

static void test_cut_active_leaves_a_gap(void **state)
{
    (void)state;
    /* n1 ACTIVE but cut off: n2, healthy, must take over within the bound. */
    life(0, 0, 0);
    life(1, 0, 0);
    trans(0, 500, HIST_IDLE, HIST_ACTIVE);
    trans(1, 40000, HIST_GOING_ACTIVE, HIST_ACTIVE);
    fault(FAULT_CUT, HOST_AGENT, 0, 30000, 80000);
    expect_violation("no ACTIVE node for 10000 ms");
}

/* ---- recorder and runner ---------------------------------------------------------------------- */

static void test_unrecorded_event_fails(void **state)
{
    (void)state;
    clean_history();
    observed(21, 40000, false);
    expect_violation("not in the recorder");
}

static void test_unrecorded_event_in_nats_fault_is_excused(void **state)
{
    (void)state;
    clean_history();
    observed(21, 40000, false);
    fault(FAULT_NATS_KILL, HOST_NATS, 2, 39500, 41000);
    check_report_t r = run_check();
    assert_true(check_passed(&r));
    assert_int_equal(r.rec_excluded_missing, 3);
    check_report_free(&r);
}

static void test_recorder_drops_fail(void **state)
{
    (void)state;
    clean_history();
    H.recorder_dropped = 3;
    expect_violation("3 dropped events");
}

static void test_recorder_files_short_of_its_count_fail(void **state)
{
    (void)state;
    clean_history();
    H.recorder_written = 3; /* the files hold 2 */
    expect_violation("its files hold 2");
}

static void test_recorder_stop_missing_fails(void **state)
{
    (void)state;
    clean_history();
    H.recorder_stop_seen = false;
    expect_violation("no recorder stop line");
}

static void test_anomaly_fails(void **state)
{
    (void)state;
    clean_history();
    history_anomaly(&H, 7000, "central exited by itself (wait status 0x%x)", 0x86);
    expect_violation("central exited by itself");
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_clean_history_passes_with_its_figures),
        T(test_twice_run_fails),
        T(test_out_of_order_fails),
        T(test_order_across_nodes_is_free),
        T(test_lost_submission_fails),
        T(test_accepted_twice_fails),
        T(test_missing_final_result_fails),
        T(test_expired_answer_for_a_run_fails),
        T(test_central_expiry_may_have_run),
        T(test_ok_without_trace_fails),
        T(test_ledger_disagreeing_fails),
        T(test_run_missing_from_ledger_fails),
        T(test_conflicting_result_lines_fail),
        T(test_repeated_result_lines_are_counted),
        T(test_phantom_execution_fails),
        T(test_unexpected_status_fails),
        T(test_two_active_outside_partition_fails),
        T(test_two_active_within_one_tx_passes),
        T(test_two_active_during_cut_is_expected),
        T(test_two_active_long_after_heal_fails),
        T(test_loss_counts_as_partition),
        T(test_long_gap_fails),
        T(test_gap_without_healthy_candidate_is_not_counted),
        T(test_cut_active_leaves_a_gap),
        T(test_unrecorded_event_fails),
        T(test_unrecorded_event_in_nats_fault_is_excused),
        T(test_recorder_drops_fail),
        T(test_recorder_files_short_of_its_count_fail),
        T(test_recorder_stop_missing_fails),
        T(test_anomaly_fails),
    };
    return cmocka_run_group_tests_name("chaos checker", tests, NULL, NULL);
}
