/*
 * test_timesync.c - the NTP arithmetic and clock filter of central's time
 * sync (central/timesync.c): known offsets with symmetric and asymmetric
 * delays, the sign convention (node minus central; the NoPE seed had it
 * backwards), impossible times, the least-rtt filter, clock steps, and the
 * warning bound's crossings.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>

#include "timesync.h"

#define T0 1764000000000000ull /* some wall time in microseconds */

/*
 * One exchange against a node whose clock reads central's + offset:
 * out-bound delay d_out, the node's own time p, back-bound delay d_back.
 */
static void exchange(int64_t offset, uint64_t d_out, uint64_t p, uint64_t d_back, uint64_t start,
                     uint64_t t[4])
{
    t[0] = start;
    t[1] = (uint64_t)((int64_t)(start + d_out) + offset);
    t[2] = t[1] + p;
    t[3] = start + d_out + p + d_back;
}

static timesync_sample_t sample_of(int64_t offset, uint64_t d_out, uint64_t p, uint64_t d_back, uint64_t start)
{
    uint64_t t[4];
    timesync_sample_t s;
    exchange(offset, d_out, p, d_back, start, t);
    assert_int_equal(timesync_sample(t[0], t[1], t[2], t[3], &s), BOSUN_OK);
    return s;
}

static void test_symmetric_delays_give_the_exact_offset(void **state)
{
    (void)state;
    /* Node 250 ms ahead, 300 us each way, 40 us in the agent. */
    timesync_sample_t s = sample_of(250000, 300, 40, 300, T0);
    assert_int_equal(s.offset_us, 250000);
    assert_int_equal(s.rtt_us, 600);
    assert_int_equal(s.t3_us, T0 + 640);
    /* Node 1.5 s behind: the sign says "node minus central". */
    s = sample_of(-1500000, 1000, 5000, 1000, T0);
    assert_int_equal(s.offset_us, -1500000);
    assert_int_equal(s.rtt_us, 2000);
    /* Equal clocks. */
    s = sample_of(0, 123, 7, 123, T0);
    assert_int_equal(s.offset_us, 0);
    assert_int_equal(s.rtt_us, 246);
    /* Hours apart. */
    s = sample_of(-3LL * 3600 * 1000000, 50, 0, 50, T0);
    assert_int_equal(s.offset_us, -3LL * 3600 * 1000000);
}

static void test_asymmetric_delays_err_by_half_the_asymmetry(void **state)
{
    (void)state;
    /* 900 us out, 100 us back: the estimate is off by (900 - 100) / 2 = +400 us. */
    timesync_sample_t s = sample_of(250000, 900, 40, 100, T0);
    assert_int_equal(s.offset_us, 250000 + 400);
    assert_int_equal(s.rtt_us, 1000);
    /* The other way round errs the other way. */
    s = sample_of(250000, 100, 40, 900, T0);
    assert_int_equal(s.offset_us, 250000 - 400);
    /* Never more than rtt / 2. */
    s = sample_of(-70000, 5000, 10, 0, T0);
    assert_int_equal(s.offset_us, -70000 + 2500);
    assert_true(llabs(s.offset_us - -70000) <= (long long)s.rtt_us / 2);
}

static void test_the_agents_processing_time_is_not_network_time(void **state)
{
    (void)state;
    /* A slow agent (20 ms between receipt and reply) changes neither figure. */
    timesync_sample_t a = sample_of(42000, 200, 0, 200, T0), b = sample_of(42000, 200, 20000, 200, T0);
    assert_int_equal(a.offset_us, b.offset_us);
    assert_int_equal(a.rtt_us, b.rtt_us);
}

static void test_impossible_times_are_refused(void **state)
{
    (void)state;
    timesync_sample_t s = {.offset_us = 7, .rtt_us = 7, .t3_us = 7};
    assert_int_equal(timesync_sample(T0, T0 + 10, T0 + 20, T0 - 1, &s), BOSUN_ERR_INVALID); /* t3 < t0 */
    assert_int_equal(timesync_sample(T0, T0 + 20, T0 + 10, T0 + 30, &s), BOSUN_ERR_INVALID); /* t2 < t1 */
    assert_int_equal(timesync_sample(T0, T0, T0 + 100, T0 + 50, &s), BOSUN_ERR_INVALID); /* node > round trip */
    assert_int_equal(timesync_sample(T0, 0, 0, T0 + 50, &s), BOSUN_ERR_INVALID); /* no node times */
    assert_int_equal(timesync_sample(0, T0, T0, T0, &s), BOSUN_ERR_INVALID);
    assert_int_equal(timesync_sample(T0, UINT64_MAX, UINT64_MAX, T0 + 5, &s), BOSUN_ERR_INVALID);
    assert_int_equal(s.offset_us, 7); /* untouched */
    /* Zero network time is possible (same host, coarse clock). */
    assert_int_equal(timesync_sample(T0, T0 + 5, T0 + 5, T0, &s), BOSUN_OK);
    assert_int_equal(s.rtt_us, 0);
    assert_int_equal(timesync_sample(T0, T0 + 5, T0 + 6, T0 + 1, &s), BOSUN_OK);
    assert_int_equal(s.rtt_us, 0);
    assert_int_equal(s.offset_us, 5);
}

static void test_filter_takes_the_least_rtt_of_the_last_eight(void **state)
{
    (void)state;
    timesync_filter_t f;
    timesync_sample_t best;
    timesync_filter_init(&f);
    assert_false(timesync_filter_best(&f, &best));
    /* Node +250 ms; every sample but one has asymmetric queueing. */
    uint64_t outs[] = {3000, 200, 4000, 2500, 900, 6000, 1200, 3300};
    uint64_t backs[] = {100, 200, 300, 50, 700, 100, 200, 100};
    for (size_t i = 0; i < 8; i++) {
        timesync_sample_t s = sample_of(250000, outs[i], 30, backs[i], T0 + i * 10000000);
        assert_false(timesync_filter_add(&f, &s, &best));
    }
    assert_int_equal(best.rtt_us, 400);
    assert_int_equal(best.offset_us, 250000); /* the symmetric one wins */
    /* Eight more, all worse: the good one ages out, and the best of the new ones is used. */
    for (size_t i = 0; i < 8; i++) {
        timesync_sample_t s = sample_of(250000, 1000 + i * 100, 30, 1000, T0 + (i + 8) * 10000000);
        timesync_filter_add(&f, &s, &best);
    }
    assert_int_equal(f.n, TIMESYNC_FILTER_SIZE);
    assert_int_equal(best.rtt_us, 2000);
    assert_int_equal(best.offset_us, 250000);
    assert_true(timesync_filter_best(&f, &best));
    assert_int_equal(best.rtt_us, 2000);
}

static void test_equal_rtt_prefers_the_newest(void **state)
{
    (void)state;
    timesync_filter_t f;
    timesync_sample_t best;
    timesync_filter_init(&f);
    timesync_sample_t a = sample_of(1000, 100, 0, 100, T0), b = sample_of(1100, 100, 0, 100, T0 + 1000000);
    timesync_filter_add(&f, &a, &best);
    timesync_filter_add(&f, &b, &best);
    assert_int_equal(best.offset_us, 1100);
}

static void test_a_clock_step_drops_older_samples(void **state)
{
    (void)state;
    timesync_filter_t f;
    timesync_sample_t best;
    timesync_filter_init(&f);
    for (int i = 0; i < 5; i++) {
        timesync_sample_t s = sample_of(10000, 100, 0, 100, T0 + (uint64_t)i * 1000000);
        assert_false(timesync_filter_add(&f, &s, &best));
    }
    /* The node's clock is stepped by +1 s; the new sample has a worse rtt. */
    timesync_sample_t s = sample_of(1010000, 800, 0, 800, T0 + 9000000);
    assert_true(timesync_filter_add(&f, &s, &best));
    assert_int_equal(f.n, 1);
    assert_int_equal(best.offset_us, 1010000);
    /* A noisy sample whose interval overlaps is no step. */
    s = sample_of(1010000, 3000, 0, 100, T0 + 10000000);
    assert_false(timesync_filter_add(&f, &s, &best));
    assert_int_equal(best.offset_us, 1010000);
}

static void test_warning_bound_crossings(void **state)
{
    (void)state;
    bool over = false;
    assert_int_equal(timesync_check_bound(&over, 99000, 100), 0);
    assert_int_equal(timesync_check_bound(&over, 100000, 100), 0); /* at the bound is within */
    assert_int_equal(timesync_check_bound(&over, 100001, 100), 1);
    assert_true(over);
    assert_int_equal(timesync_check_bound(&over, 250000, 100), 0); /* once per crossing */
    assert_int_equal(timesync_check_bound(&over, -250000, 100), 0);
    assert_int_equal(timesync_check_bound(&over, -5000, 100), -1);
    assert_false(over);
    assert_int_equal(timesync_check_bound(&over, -5000, 100), 0);
    assert_int_equal(timesync_check_bound(&over, -100500, 100), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_symmetric_delays_give_the_exact_offset),
        cmocka_unit_test(test_asymmetric_delays_err_by_half_the_asymmetry),
        cmocka_unit_test(test_the_agents_processing_time_is_not_network_time),
        cmocka_unit_test(test_impossible_times_are_refused),
        cmocka_unit_test(test_filter_takes_the_least_rtt_of_the_last_eight),
        cmocka_unit_test(test_equal_rtt_prefers_the_newest),
        cmocka_unit_test(test_a_clock_step_drops_older_samples),
        cmocka_unit_test(test_warning_bound_crossings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
