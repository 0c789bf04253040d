/*
 * test_ratelimit.c - the per-second log gate (lib/ratelimit.c): the budget,
 * the count of refused lines reported by the next allowed one, and the reset
 * in each new second. Time is passed in, so no test sleeps.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>

#include "ratelimit.h"

static void test_budget_per_second(void **state)
{
    (void)state;
    ratelimit_t r;
    ratelimit_init(&r, 3);
    uint64_t sup = 99;
    for (int i = 0; i < 3; i++) {
        sup = 99;
        assert_true(ratelimit_allow(&r, 5000 + (uint64_t)i * 100, &sup));
        assert_int_equal(sup, 0);
    }
    assert_false(ratelimit_allow(&r, 5500, &sup));
    assert_false(ratelimit_allow(&r, 5999, &sup));
}

static void test_suppressed_count_reported_once_in_next_window(void **state)
{
    (void)state;
    ratelimit_t r;
    ratelimit_init(&r, 2);
    uint64_t sup = 0;
    assert_true(ratelimit_allow(&r, 10000, &sup));
    assert_true(ratelimit_allow(&r, 10001, &sup));
    for (int i = 0; i < 5; i++)
        assert_false(ratelimit_allow(&r, 10500, &sup));

    /* A new second: the budget is back and the first line carries the count. */
    sup = 0;
    assert_true(ratelimit_allow(&r, 11000, &sup));
    assert_int_equal(sup, 5);
    assert_true(ratelimit_allow(&r, 11001, &sup));
    assert_int_equal(sup, 0);
    assert_false(ratelimit_allow(&r, 11002, &sup));

    /* Long idle gap: a fresh window, one refused line reported. */
    assert_true(ratelimit_allow(&r, 99000, &sup));
    assert_int_equal(sup, 1);
    assert_true(ratelimit_allow(&r, 99999, &sup));
    assert_int_equal(sup, 0);
    assert_false(ratelimit_allow(&r, 99999, &sup));
}

static void test_first_second_and_zero_budget(void **state)
{
    (void)state;
    ratelimit_t r;
    ratelimit_init(&r, 1);
    uint64_t sup = 99;
    assert_true(ratelimit_allow(&r, 0, &sup)); /* window 0 is the initial one */
    assert_int_equal(sup, 0);
    assert_false(ratelimit_allow(&r, 999, &sup));
    assert_true(ratelimit_allow(&r, 1000, &sup));
    assert_int_equal(sup, 1);

    ratelimit_init(&r, 0);
    for (uint64_t t = 0; t < 5000; t += 500)
        assert_false(ratelimit_allow(&r, t, &sup));
}

#define THREADS 8
#define CALLS 1000
#define BUDGET 100

typedef struct {
    ratelimit_t *r;
    int allowed;
    uint64_t reported;
} caller_t;

static void *caller(void *arg)
{
    caller_t *c = arg;
    for (int i = 0; i < CALLS; i++) {
        uint64_t sup = 0;
        if (ratelimit_allow(c->r, 42000, &sup)) {
            c->allowed++;
            c->reported += sup;
        }
    }
    return NULL;
}

/* Within one second, concurrent callers never exceed the budget together. */
static void test_concurrent_callers_share_the_budget(void **state)
{
    (void)state;
    ratelimit_t r;
    ratelimit_init(&r, BUDGET);
    uint64_t sup = 0;
    assert_true(ratelimit_allow(&r, 42000, &sup)); /* opens the window */
    caller_t c[THREADS];
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++) {
        c[i] = (caller_t){.r = &r};
        assert_int_equal(pthread_create(&th[i], NULL, caller, &c[i]), 0);
    }
    int allowed = 1;
    uint64_t reported = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        allowed += c[i].allowed;
        reported += c[i].reported;
    }
    assert_int_equal(allowed, BUDGET);
    /* Every refused call is reported exactly once, by some allowed call. */
    assert_true(ratelimit_allow(&r, 43000, &sup));
    assert_int_equal(reported + sup, (uint64_t)(THREADS * CALLS - (BUDGET - 1)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_budget_per_second),
        cmocka_unit_test(test_suppressed_count_reported_once_in_next_window),
        cmocka_unit_test(test_first_second_and_zero_budget),
        cmocka_unit_test(test_concurrent_callers_share_the_budget),
    };
    return cmocka_run_group_tests_name("ratelimit", tests, NULL, NULL);
}
