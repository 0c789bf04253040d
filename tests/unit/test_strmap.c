/*
 * test_strmap.c - central's string map (central/strmap.c): put, get,
 * replace, remove with backward shift, growth, and a long random run
 * checked against a plain array.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strmap.h"

static void test_put_get_replace_remove(void **state)
{
    (void)state;
    strmap_t m;
    strmap_init(&m);
    int a = 1, b = 2, c = 3;
    assert_null(strmap_get(&m, "x"));
    assert_null(strmap_remove(&m, "x"));
    assert_int_equal(strmap_put(&m, "alpha", &a), BOSUN_OK);
    assert_int_equal(strmap_put(&m, "beta", &b), BOSUN_OK);
    assert_ptr_equal(strmap_get(&m, "alpha"), &a);
    assert_ptr_equal(strmap_get(&m, "beta"), &b);
    assert_null(strmap_get(&m, "gamma"));
    assert_int_equal(strmap_put(&m, "alpha", &c), BOSUN_OK); /* replace */
    assert_int_equal(m.count, 2);
    assert_ptr_equal(strmap_get(&m, "alpha"), &c);
    assert_ptr_equal(strmap_remove(&m, "alpha"), &c);
    assert_null(strmap_get(&m, "alpha"));
    assert_ptr_equal(strmap_get(&m, "beta"), &b);
    assert_int_equal(m.count, 1);
    strmap_free(&m);
    assert_int_equal(m.count, 0);
    strmap_free(&m); /* again */
}

/* Keys and values live here; a NULL value means "not in the map". */
enum { KEYS = 5000 };
static char keys[KEYS][16];
static int vals[KEYS];

static void test_random_run_matches_a_plain_array(void **state)
{
    (void)state;
    strmap_t m;
    strmap_init(&m);
    bool in[KEYS] = {false};
    size_t count = 0;
    for (int i = 0; i < KEYS; i++)
        snprintf(keys[i], sizeof keys[i], "node-%d", i);
    srand(12345);
    for (int step = 0; step < 200000; step++) {
        int k = rand() % KEYS;
        if (rand() % 3 != 0) {
            assert_int_equal(strmap_put(&m, keys[k], &vals[k]), BOSUN_OK);
            count += !in[k];
            in[k] = true;
        } else {
            void *v = strmap_remove(&m, keys[k]);
            assert_ptr_equal(v, in[k] ? &vals[k] : NULL);
            count -= in[k];
            in[k] = false;
        }
        if (step % 997 == 0)
            for (int j = 0; j < KEYS; j++)
                assert_ptr_equal(strmap_get(&m, keys[j]), in[j] ? &vals[j] : NULL);
    }
    assert_int_equal(m.count, count);
    assert_true(m.cap >= 2 * m.count);
    /* Remove everything: the table is empty and still answers. */
    for (int j = 0; j < KEYS; j++)
        strmap_remove(&m, keys[j]);
    assert_int_equal(m.count, 0);
    for (size_t i = 0; i < m.cap; i++)
        assert_null(m.slots[i].key);
    strmap_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_get_replace_remove),
        cmocka_unit_test(test_random_run_matches_a_plain_array),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
