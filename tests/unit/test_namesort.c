/*
 * test_namesort.c - central/namesort.c: records sorted by their embedded
 * name, every record intact, for sizes 0 to a few thousand, with repeats.
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

#include "namesort.h"

typedef struct {
    uint64_t before;  /* a field in front of the name */
    char name[24];
    uint32_t payload[37]; /* an odd size, so records are not a power of two */
} rec_t;

static void fill(rec_t *r, size_t n, uint64_t seed)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        memset(&r[i], 0, sizeof r[i]);
        r[i].before = i;
        snprintf(r[i].name, sizeof r[i].name, "node-%05llu", (unsigned long long)((seed >> 33) % (n + 1)));
        for (size_t k = 0; k < 37; k++)
            r[i].payload[k] = (uint32_t)(i * 37 + k);
    }
}

static void test_sorts_and_keeps_every_record(void **state)
{
    (void)state;
    static const size_t sizes[] = {0, 1, 2, 3, 10, 257, 4000};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        size_t n = sizes[s];
        rec_t *r = calloc(n ? n : 1, sizeof *r);
        bool *seen = calloc(n ? n : 1, sizeof *seen);
        fill(r, n, 42 + n);
        assert_int_equal(namesort(r, n, sizeof *r, offsetof(rec_t, name)), BOSUN_OK);
        for (size_t i = 0; i < n; i++) {
            if (i > 0)
                assert_true(strcmp(r[i - 1].name, r[i].name) <= 0);
            size_t was = (size_t)r[i].before; /* the record moved whole */
            assert_true(was < n);
            assert_false(seen[was]);
            seen[was] = true;
            for (size_t k = 0; k < 37; k++)
                assert_int_equal(r[i].payload[k], was * 37 + k);
        }
        free(seen);
        free(r);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sorts_and_keeps_every_record),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
