/* test_probe.c - the connectivity probes' core (agent/probe.c) on a fake clock. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "probe.h"

#define MS 1000u             /* microseconds */
#define INTERVAL (1000 * MS)
#define TIMEOUT (300 * MS)
#define FORGET (5000 * MS)
#define WALL 1700000000000u  /* any wall clock, ms */

static probe_t *make(size_t max_targets, bool learn)
{
    probe_params_t params = {
        .self = "me",
        .interval_us = INTERVAL,
        .timeout_us = TIMEOUT,
        .forget_us = FORGET,
        .max_targets = max_targets,
        .learn = learn,
    };
    probe_t *p = NULL;
    assert_int_equal(probe_new(&params, &p), BOSUN_OK);
    return p;
}

/* Takes the due jobs at now; returns how many, jobs in j. */
static size_t due(probe_t *p, uint64_t now, probe_job_t *j, size_t max)
{
    return probe_take_due(p, now, WALL + now / MS, j, max);
}

/* The latest result of target, or NULL (points into a static copy). */
static const probe_result_t *result_of(probe_t *p, const char *target)
{
    static probe_result_t r[16];
    size_t n = probe_results(p, r, 16);
    for (size_t i = 0; i < n; i++)
        if (strcmp(r[i].target, target) == 0)
            return &r[i];
    return NULL;
}

static const probe_job_t *job_for(const probe_job_t *j, size_t n, const char *target)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(j[i].target, target) == 0)
            return &j[i];
    fail_msg("no job for %s", target);
    return NULL;
}

static void test_configured_peers_are_probed_every_interval(void **state)
{
    (void)state;
    probe_t *p = make(8, false);
    assert_int_equal(probe_add_peer(p, "n2", "10.0.0.2:8757"), BOSUN_OK);
    assert_int_equal(probe_add_peer(p, "n3", NULL), BOSUN_OK);
    assert_int_equal(probe_count(p), 2);
    assert_int_equal(probe_next_deadline(p), 0); /* due at once */

    probe_job_t j[4];
    uint64_t t = 1000 * MS;
    assert_int_equal(due(p, t, j, 4), 2);
    const probe_job_t *j2 = job_for(j, 2, "n2"), *j3 = job_for(j, 2, "n3");
    assert_string_equal(j2->address, "10.0.0.2:8757");
    assert_string_equal(j3->address, ""); /* nothing known: NATS only */
    assert_int_not_equal(j2->seq, j3->seq);
    assert_true(probe_awaited(p, "n2", j2->seq, PROBE_TCP));
    assert_false(probe_awaited(p, "n3", j3->seq, PROBE_TCP));
    assert_true(probe_awaited(p, "n3", j3->seq, PROBE_NATS));
    /* In flight: not due again, and no result yet. */
    assert_int_equal(due(p, t + 10 * MS, j, 4), 0);
    assert_null(result_of(p, "n2"));
    assert_int_equal(probe_next_deadline(p), t + TIMEOUT);

    /* The parts report; the times are measured from their start. */
    probe_started(p, "n2", j2->seq, PROBE_TCP, t + 5);
    assert_true(probe_done(p, "n2", j2->seq, PROBE_TCP, true, t + 105, NULL));
    assert_null(result_of(p, "n2")); /* NATS still open */
    assert_true(probe_done(p, "n2", j2->seq, PROBE_NATS, true, t + 480, NULL));
    assert_true(probe_done(p, "n3", j3->seq, PROBE_NATS, true, t + 700, NULL));
    const probe_result_t *r = result_of(p, "n2");
    assert_non_null(r);
    assert_true(r->tcp_tested && r->tcp_ok && r->nats_ok);
    assert_int_equal(r->tcp_connect_us, 100);
    assert_int_equal(r->nats_rtt_us, 480);
    assert_string_equal(r->address, "10.0.0.2:8757");
    assert_string_equal(r->error, "");
    assert_int_equal(r->time_ms, WALL + t / MS);
    r = result_of(p, "n3");
    assert_false(r->tcp_tested);
    assert_false(r->tcp_ok);
    assert_int_equal(r->tcp_connect_us, 0);
    assert_true(r->nats_ok);
    assert_string_equal(r->error, ""); /* TCP not measured is not a failure */
    probe_stats_t st;
    probe_stats(p, &st);
    assert_int_equal(st.attempts, 2);
    assert_int_equal(st.failed, 0);

    /* Next attempts one interval after the first. */
    assert_int_equal(probe_next_deadline(p), t + INTERVAL);
    assert_int_equal(due(p, t + INTERVAL - 1, j, 4), 0);
    assert_int_equal(due(p, t + INTERVAL, j, 4), 2);
    probe_free(p);
}

static void test_a_time_of_zero_counts_as_one(void **state)
{
    (void)state;
    probe_t *p = make(2, false);
    assert_int_equal(probe_add_peer(p, "n2", "127.0.0.1:1"), BOSUN_OK);
    probe_job_t j[1];
    assert_int_equal(due(p, 50, j, 1), 1);
    assert_true(probe_done(p, "n2", j[0].seq, PROBE_TCP, true, 50, NULL));
    assert_true(probe_done(p, "n2", j[0].seq, PROBE_NATS, false, 60, "no responders"));
    const probe_result_t *r = result_of(p, "n2");
    assert_int_equal(r->tcp_connect_us, 1);  /* ok: at least 1 */
    assert_int_equal(r->nats_rtt_us, 0);     /* failed: 0 */
    assert_false(r->nats_ok);
    assert_string_equal(r->error, "nats ping: no responders");
    probe_free(p);
}

static void test_parts_time_out_and_late_answers_are_ignored(void **state)
{
    (void)state;
    probe_t *p = make(4, false);
    assert_int_equal(probe_add_peer(p, "n2", "10.0.0.2:8757"), BOSUN_OK);
    probe_job_t j[1];
    uint64_t t = 7 * MS;
    assert_int_equal(due(p, t, j, 1), 1);
    uint64_t seq = j[0].seq;
    probe_expire(p, t + TIMEOUT - 1);
    assert_true(probe_awaited(p, "n2", seq, PROBE_TCP));
    probe_expire(p, t + TIMEOUT);
    assert_false(probe_awaited(p, "n2", seq, PROBE_TCP));
    assert_false(probe_awaited(p, "n2", seq, PROBE_NATS));
    const probe_result_t *r = result_of(p, "n2");
    assert_non_null(r);
    assert_false(r->tcp_ok);
    assert_false(r->nats_ok);
    assert_true(r->tcp_tested);
    assert_string_equal(r->error, "tcp 10.0.0.2:8757: no connection within 300 ms; "
                                  "nats ping: no answer within 300 ms");
    /* The answer that comes too late changes nothing. */
    assert_false(probe_done(p, "n2", seq, PROBE_NATS, true, t + TIMEOUT + 5, NULL));
    assert_false(result_of(p, "n2")->nats_ok);
    probe_stats_t st;
    probe_stats(p, &st);
    assert_int_equal(st.attempts, 1);
    assert_int_equal(st.failed, 1);

    /* A new attempt: its success replaces the failure; the old seq stays ignored. */
    assert_int_equal(due(p, t + INTERVAL, j, 1), 1);
    assert_int_not_equal(j[0].seq, seq);
    assert_false(probe_done(p, "n2", seq, PROBE_TCP, true, t + INTERVAL + 5, NULL));
    assert_false(probe_done(p, "nX", j[0].seq, PROBE_TCP, true, t + INTERVAL + 5, NULL));
    /* While it runs, the last finished result is what is reported. */
    assert_false(result_of(p, "n2")->nats_ok);
    assert_true(probe_done(p, "n2", j[0].seq, PROBE_TCP, false, t + INTERVAL + 9, "Connection refused"));
    assert_false(probe_done(p, "n2", j[0].seq, PROBE_TCP, true, t + INTERVAL + 9, NULL)); /* once */
    assert_true(probe_done(p, "n2", j[0].seq, PROBE_NATS, true, t + INTERVAL + 20, NULL));
    r = result_of(p, "n2");
    assert_false(r->tcp_ok);
    assert_true(r->nats_ok);
    assert_int_equal(r->nats_rtt_us, 20);
    assert_string_equal(r->error, "tcp 10.0.0.2:8757: Connection refused");
    probe_free(p);
}

static void test_heartbeats_teach_addresses_and_the_configured_one_wins(void **state)
{
    (void)state;
    probe_t *p = make(4, false);
    assert_int_equal(probe_add_peer(p, "n2", NULL), BOSUN_OK);
    assert_int_equal(probe_add_peer(p, "n3", "10.0.0.3:1"), BOSUN_OK);
    assert_int_equal(probe_on_heartbeat(p, "n2", "10.0.0.2:8757", 10), PROBE_HB_UPDATED);
    assert_int_equal(probe_on_heartbeat(p, "n3", "192.168.0.3:8757", 10), PROBE_HB_UPDATED);
    /* Without probePeers, strangers and this node are not probed. */
    assert_int_equal(probe_on_heartbeat(p, "n9", "10.0.0.9:1", 10), PROBE_HB_IGNORED);
    assert_int_equal(probe_on_heartbeat(p, "me", "10.0.0.1:1", 10), PROBE_HB_IGNORED);
    assert_int_equal(probe_count(p), 2);
    probe_job_t j[4];
    assert_int_equal(due(p, 20, j, 4), 2);
    assert_string_equal(job_for(j, 2, "n2")->address, "10.0.0.2:8757");
    assert_string_equal(job_for(j, 2, "n3")->address, "10.0.0.3:1");
    /* A heartbeat without an address takes the learned one back. */
    probe_expire(p, 20 + TIMEOUT);
    assert_int_equal(probe_on_heartbeat(p, "n2", "", 30), PROBE_HB_UPDATED);
    assert_int_equal(due(p, 20 + INTERVAL, j, 4), 2);
    assert_string_equal(job_for(j, 2, "n2")->address, "");
    probe_free(p);
}

static void test_learned_targets_are_forgotten_after_silence(void **state)
{
    (void)state;
    probe_t *p = make(8, true);
    assert_int_equal(probe_add_peer(p, "n2", NULL), BOSUN_OK);
    uint64_t t = 100 * MS;
    assert_int_equal(probe_on_heartbeat(p, "n4", "10.0.0.4:1", t), PROBE_HB_LEARNED);
    assert_int_equal(probe_on_heartbeat(p, "n3", NULL, t), PROBE_HB_LEARNED);
    assert_int_equal(probe_on_heartbeat(p, "n3", NULL, t + 1), PROBE_HB_UPDATED);
    assert_int_equal(probe_on_heartbeat(p, "me", NULL, t), PROBE_HB_IGNORED);
    assert_int_equal(probe_count(p), 3);
    probe_job_t j[8];
    assert_int_equal(due(p, t, j, 8), 3); /* learned ones are due at once */
    for (size_t i = 0; i < 3; i++) {
        if (j[i].address[0])
            probe_done(p, j[i].target, j[i].seq, PROBE_TCP, true, t + 50, NULL);
        probe_done(p, j[i].target, j[i].seq, PROBE_NATS, true, t + 100, NULL);
    }
    /* Results come out in name order. */
    probe_result_t r[8];
    assert_int_equal(probe_results(p, r, 8), 3);
    assert_string_equal(r[0].target, "n2");
    assert_string_equal(r[1].target, "n3");
    assert_string_equal(r[2].target, "n4");

    /* n3 keeps heartbeating; n4 falls silent; n2 is configured and never forgotten. */
    for (uint64_t s = t + 1000 * MS; s <= t + FORGET + 2000 * MS; s += 1000 * MS) {
        probe_on_heartbeat(p, "n3", NULL, s);
        probe_expire(p, s);
    }
    assert_int_equal(probe_count(p), 2);
    assert_null(result_of(p, "n4"));
    assert_non_null(result_of(p, "n3"));
    assert_non_null(result_of(p, "n2"));
    probe_stats_t st;
    probe_stats(p, &st);
    assert_int_equal(st.learned, 2);
    assert_int_equal(st.forgotten, 1);
    /* It is learned afresh when it comes back. */
    assert_int_equal(probe_on_heartbeat(p, "n4", NULL, t + 9000 * MS), PROBE_HB_LEARNED);
    probe_free(p);
}

static void test_forgetting_is_exact_and_drops_the_attempt_in_flight(void **state)
{
    (void)state;
    probe_t *p = make(4, true);
    assert_int_equal(probe_on_heartbeat(p, "n5", "10.0.0.5:1", 0), PROBE_HB_LEARNED);
    probe_job_t j[1];
    assert_int_equal(due(p, FORGET - 100, j, 1), 1);
    assert_int_equal(probe_next_deadline(p), FORGET); /* before the attempt's timeout */
    probe_expire(p, FORGET - 1);
    assert_int_equal(probe_count(p), 1);
    probe_expire(p, FORGET);
    assert_int_equal(probe_count(p), 0);
    assert_false(probe_awaited(p, "n5", j[0].seq, PROBE_TCP));
    assert_false(probe_done(p, "n5", j[0].seq, PROBE_NATS, true, FORGET + 1, NULL));
    assert_int_equal(probe_next_deadline(p), UINT64_MAX);
    probe_free(p);
}

static void test_the_number_of_targets_is_bounded(void **state)
{
    (void)state;
    probe_t *p = make(3, true);
    assert_int_equal(probe_add_peer(p, "n2", NULL), BOSUN_OK);
    assert_int_equal(probe_add_peer(p, "n2", NULL), BOSUN_ERR_EXISTS);
    assert_int_equal(probe_add_peer(p, "me", NULL), BOSUN_ERR_INVALID);
    assert_int_equal(probe_add_peer(p, "bad.name", NULL), BOSUN_ERR_INVALID);
    assert_int_equal(probe_on_heartbeat(p, "a", NULL, 1), PROBE_HB_LEARNED);
    assert_int_equal(probe_on_heartbeat(p, "b", NULL, 1), PROBE_HB_LEARNED);
    assert_int_equal(probe_on_heartbeat(p, "c", NULL, 1), PROBE_HB_FULL);
    assert_int_equal(probe_on_heartbeat(p, "d", NULL, 1), PROBE_HB_FULL);
    assert_int_equal(probe_on_heartbeat(p, "b", NULL, 2), PROBE_HB_UPDATED); /* known ones still update */
    assert_int_equal(probe_on_heartbeat(p, "bad.name", NULL, 2), PROBE_HB_IGNORED);
    assert_int_equal(probe_add_peer(p, "n3", NULL), BOSUN_ERR_TOO_BIG);
    assert_int_equal(probe_count(p), 3);
    probe_stats_t st;
    probe_stats(p, &st);
    assert_int_equal(st.refused_full, 2);
    /* Once one is forgotten, there is room again. */
    probe_on_heartbeat(p, "b", NULL, FORGET);
    probe_expire(p, FORGET + 1);
    assert_int_equal(probe_count(p), 2);
    assert_int_equal(probe_on_heartbeat(p, "c", NULL, FORGET + 2), PROBE_HB_LEARNED);
    probe_free(p);
}

static void test_take_due_respects_max_and_keeps_the_cadence(void **state)
{
    (void)state;
    probe_t *p = make(8, false);
    const char *names[] = {"a", "b", "c", "d", "e"};
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(probe_add_peer(p, names[i], NULL), BOSUN_OK);
    probe_job_t j[8];
    assert_int_equal(due(p, 0, j, 2), 2);
    assert_int_equal(due(p, 0, j + 2, 2), 2);
    assert_int_equal(due(p, 0, j + 4, 2), 1);
    assert_int_equal(due(p, 0, j, 8), 0);
    for (size_t i = 0; i < 5; i++)
        assert_true(probe_done(p, j[i].target, j[i].seq, PROBE_NATS, true, 10, NULL));
    /* A stall: the agent comes back 3.5 intervals later. One attempt each, not a burst. */
    uint64_t late = 3 * INTERVAL + INTERVAL / 2;
    assert_int_equal(due(p, late, j, 8), 5);
    for (size_t i = 0; i < 5; i++)
        probe_done(p, j[i].target, j[i].seq, PROBE_NATS, true, late + 10, NULL);
    assert_int_equal(due(p, late + 10, j, 8), 0);
    assert_int_equal(probe_next_deadline(p), late + INTERVAL);
    assert_int_equal(due(p, late + INTERVAL, j, 8), 5);
    probe_free(p);
}

static void test_long_errors_are_cut_not_overrun(void **state)
{
    (void)state;
    probe_t *p = make(2, false);
    assert_int_equal(probe_add_peer(p, "n2", "[fd00:1111:2222:3333:4444:5555:6666:7777]:65535"), BOSUN_OK);
    probe_job_t j[1];
    assert_int_equal(due(p, 0, j, 1), 1);
    char why[600];
    memset(why, 'x', sizeof why - 1);
    why[sizeof why - 1] = '\0';
    assert_true(probe_done(p, "n2", j[0].seq, PROBE_TCP, false, 5, why));
    assert_true(probe_done(p, "n2", j[0].seq, PROBE_NATS, false, 6, why));
    const probe_result_t *r = result_of(p, "n2");
    assert_int_equal(strlen(r->error), PROBE_ERROR_MAX - 1);
    assert_true(strncmp(r->error, "tcp [fd00:", 10) == 0);
    probe_free(p);
}

/* One attempt for target at t: TCP (if any) and NATS each ok or not. */
static void attempt_once(probe_t *p, uint64_t t, bool ok)
{
    probe_job_t j[1];
    assert_int_equal(due(p, t, j, 1), 1);
    if (j[0].address[0])
        assert_true(probe_done(p, j[0].target, j[0].seq, PROBE_TCP, ok, t + 10, "Connection refused"));
    assert_true(probe_done(p, j[0].target, j[0].seq, PROBE_NATS, ok, t + 20, "no responders"));
}

static void test_reachability_changes_are_reported_once(void **state)
{
    (void)state;
    probe_t *p = make(2, false);
    assert_int_equal(probe_add_peer(p, "n2", "10.0.0.2:1"), BOSUN_OK);
    probe_result_t c[2];
    assert_int_equal(probe_take_changes(p, c, 2), 0);
    attempt_once(p, 0, true); /* a first success is no change */
    assert_int_equal(probe_take_changes(p, c, 2), 0);
    attempt_once(p, INTERVAL, false);
    assert_int_equal(probe_take_changes(p, c, 2), 1);
    assert_string_equal(c[0].target, "n2");
    assert_true(probe_result_failed(&c[0]));
    assert_int_equal(probe_take_changes(p, c, 2), 0); /* once */
    attempt_once(p, 2 * INTERVAL, false);
    assert_int_equal(probe_take_changes(p, c, 2), 0); /* still failing: no change */
    attempt_once(p, 3 * INTERVAL, true);
    assert_int_equal(probe_take_changes(p, c, 2), 1);
    assert_false(probe_result_failed(&c[0]));
    /* A failure undone before anyone looked is none. */
    attempt_once(p, 4 * INTERVAL, false);
    attempt_once(p, 5 * INTERVAL, true);
    assert_int_equal(probe_take_changes(p, c, 2), 0);
    probe_free(p);

    /* A first result that fails is a change; TCP not measured is no failure. */
    p = make(2, false);
    assert_int_equal(probe_add_peer(p, "n3", NULL), BOSUN_OK);
    attempt_once(p, 0, false);
    assert_int_equal(probe_take_changes(p, c, 2), 1);
    attempt_once(p, INTERVAL, true);
    assert_int_equal(probe_take_changes(p, c, 2), 1);
    assert_false(c[0].tcp_tested);
    assert_false(probe_result_failed(&c[0]));
    probe_free(p);
}

static void test_free_null(void **state)
{
    (void)state;
    probe_free(NULL);
    probe_t *p = make(1, true);
    assert_int_equal(probe_next_deadline(p), UINT64_MAX);
    probe_job_t j[1];
    assert_int_equal(due(p, 0, j, 1), 0);
    assert_int_equal(probe_results(p, NULL, 0), 0);
    probe_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_configured_peers_are_probed_every_interval),
        cmocka_unit_test(test_a_time_of_zero_counts_as_one),
        cmocka_unit_test(test_parts_time_out_and_late_answers_are_ignored),
        cmocka_unit_test(test_heartbeats_teach_addresses_and_the_configured_one_wins),
        cmocka_unit_test(test_learned_targets_are_forgotten_after_silence),
        cmocka_unit_test(test_forgetting_is_exact_and_drops_the_attempt_in_flight),
        cmocka_unit_test(test_the_number_of_targets_is_bounded),
        cmocka_unit_test(test_take_due_respects_max_and_keeps_the_cadence),
        cmocka_unit_test(test_long_errors_are_cut_not_overrun),
        cmocka_unit_test(test_reachability_changes_are_reported_once),
        cmocka_unit_test(test_free_null),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
