/*
 * test_ledger.c - the durable record of executed ids (agent/ledger.c), on a
 * real SQLite file in a fresh temporary directory per test: claim states,
 * stored Acks, forget, crash recovery, reopening, purge and concurrent
 * claims.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "ledger.h"

typedef struct {
    char *dir;
    char path[512];
    ledger_t *l;
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    if (f == NULL)
        return -1;
    f->dir = harness_tmpdir("ledger");
    if (f->dir == NULL) {
        free(f);
        return -1;
    }
    snprintf(f->path, sizeof f->path, "%s/ledger.db", f->dir);
    bosun_err_t err;
    if (ledger_open(f->path, &f->l, &err) != BOSUN_OK) {
        fprintf(stderr, "%s\n", err.msg);
        harness_rmtree(f->dir);
        free(f->dir);
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    ledger_close(f->l);
    harness_rmtree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

/* Claims id and returns the state; a DONE Ack goes to *ack (may be NULL). */
static ledger_claim_t claim(ledger_t *l, const char *id, uint64_t now_ms, uint8_t **ack,
                            size_t *ack_len)
{
    ledger_claim_t st = (ledger_claim_t)-1;
    uint8_t *a = NULL;
    size_t n = 0;
    bosun_err_t err;
    assert_int_equal(ledger_claim(l, id, "shellCommand", now_ms, &st, &a, &n, &err), BOSUN_OK);
    if (ack != NULL) {
        *ack = a;
        *ack_len = n;
    } else {
        free(a);
    }
    return st;
}

static void test_claim_new_running_done(void **state)
{
    fixture_t *f = *state;
    assert_int_equal(claim(f->l, "m1", 1000, NULL, NULL), LEDGER_NEW);
    assert_int_equal(claim(f->l, "m1", 1001, NULL, NULL), LEDGER_RUNNING);
    assert_int_equal(ledger_started(f->l, "m1", 4242, 777, 1002), BOSUN_OK);
    assert_int_equal(claim(f->l, "m1", 1003, NULL, NULL), LEDGER_RUNNING);

    static const uint8_t ack[] = {0x08, 0x00, 0x12, 0x03, 'a', 0x00, 'b', 0xff};
    assert_int_equal(ledger_finish(f->l, "m1", ack, sizeof ack, 1004), BOSUN_OK);
    uint8_t *got = NULL;
    size_t len = 0;
    assert_int_equal(claim(f->l, "m1", 1005, &got, &len), LEDGER_DONE);
    assert_non_null(got);
    assert_int_equal(len, sizeof ack);
    assert_memory_equal(got, ack, sizeof ack);
    free(got);

    /* Other ids are independent. */
    assert_int_equal(claim(f->l, "m2", 1006, NULL, NULL), LEDGER_NEW);
}

static void test_finish_with_empty_ack_is_done(void **state)
{
    fixture_t *f = *state;
    assert_int_equal(claim(f->l, "e", 1, NULL, NULL), LEDGER_NEW);
    assert_int_equal(ledger_finish(f->l, "e", NULL, 0, 2), BOSUN_OK);
    uint8_t *got = NULL;
    size_t len = 99;
    assert_int_equal(claim(f->l, "e", 3, &got, &len), LEDGER_DONE);
    assert_non_null(got);
    assert_int_equal(len, 0);
    free(got);
}

static void test_forget_removes_only_unstarted_claims(void **state)
{
    fixture_t *f = *state;
    /* Claimed, never started: forgotten, so a retry runs it. */
    assert_int_equal(claim(f->l, "queued", 1, NULL, NULL), LEDGER_NEW);
    assert_int_equal(ledger_forget(f->l, "queued"), BOSUN_OK);
    assert_int_equal(claim(f->l, "queued", 2, NULL, NULL), LEDGER_NEW);

    /* Started: kept. */
    assert_int_equal(claim(f->l, "running", 1, NULL, NULL), LEDGER_NEW);
    assert_int_equal(ledger_started(f->l, "running", 100, 5, 2), BOSUN_OK);
    assert_int_equal(ledger_forget(f->l, "running"), BOSUN_OK);
    assert_int_equal(claim(f->l, "running", 3, NULL, NULL), LEDGER_RUNNING);

    /* Finished, started or not (a spawn failure never starts): kept with its
     * Ack. Regression: forget deleted a finished record that had no start. */
    static const uint8_t ack[] = {1, 2, 3};
    assert_int_equal(claim(f->l, "done", 1, NULL, NULL), LEDGER_NEW);
    assert_int_equal(ledger_started(f->l, "done", 100, 5, 2), BOSUN_OK);
    assert_int_equal(ledger_finish(f->l, "done", ack, sizeof ack, 3), BOSUN_OK);
    assert_int_equal(ledger_forget(f->l, "done"), BOSUN_OK);
    assert_int_equal(claim(f->l, "done", 4, NULL, NULL), LEDGER_DONE);

    assert_int_equal(claim(f->l, "spawnfail", 1, NULL, NULL), LEDGER_NEW);
    assert_int_equal(ledger_finish(f->l, "spawnfail", ack, sizeof ack, 2), BOSUN_OK);
    assert_int_equal(ledger_forget(f->l, "spawnfail"), BOSUN_OK);
    uint8_t *got = NULL;
    size_t len = 0;
    assert_int_equal(claim(f->l, "spawnfail", 3, &got, &len), LEDGER_DONE);
    assert_int_equal(len, sizeof ack);
    assert_memory_equal(got, ack, sizeof ack);
    free(got);

    /* Forgetting an unknown id is harmless. */
    assert_int_equal(ledger_forget(f->l, "never-claimed"), BOSUN_OK);
}

static void test_recover_forgets_unstarted_and_returns_orphans(void **state)
{
    fixture_t *f = *state;
    static const uint8_t ack[] = {9, 9};
    assert_int_equal(claim(f->l, "q1", 10, NULL, NULL), LEDGER_NEW);
    assert_int_equal(claim(f->l, "q2", 11, NULL, NULL), LEDGER_NEW);
    assert_int_equal(claim(f->l, "cut1", 12, NULL, NULL), LEDGER_NEW);
    assert_int_equal(ledger_started(f->l, "cut1", 31337, 123456789012ull, 5000), BOSUN_OK);
    assert_int_equal(claim(f->l, "cut2", 13, NULL, NULL), LEDGER_NEW);
    assert_int_equal(ledger_started(f->l, "cut2", 0, 0, 6000), BOSUN_OK); /* recorded method */
    assert_int_equal(claim(f->l, "fin", 14, NULL, NULL), LEDGER_NEW);
    assert_int_equal(ledger_started(f->l, "fin", 7, 8, 15), BOSUN_OK);
    assert_int_equal(ledger_finish(f->l, "fin", ack, sizeof ack, 16), BOSUN_OK);
    assert_int_equal(claim(f->l, "fin-unstarted", 17, NULL, NULL), LEDGER_NEW);
    assert_int_equal(ledger_finish(f->l, "fin-unstarted", ack, sizeof ack, 18), BOSUN_OK);

    ledger_orphan_t *o = NULL;
    size_t n = 99, forgotten = 99;
    assert_int_equal(ledger_recover(f->l, &o, &n, &forgotten), BOSUN_OK);
    assert_int_equal(forgotten, 2);
    assert_int_equal(n, 2);
    assert_non_null(o);
    /* In claim order. */
    assert_string_equal(o[0].id, "cut1");
    assert_string_equal(o[0].method, "shellCommand");
    assert_int_equal(o[0].pgid, 31337);
    assert_true(o[0].start_ticks == 123456789012ull);
    assert_int_equal(o[0].started_ms, 5000);
    assert_string_equal(o[1].id, "cut2");
    assert_int_equal(o[1].pgid, 0);
    assert_int_equal(o[1].start_ticks, 0);
    assert_int_equal(o[1].started_ms, 6000);
    ledger_orphans_free(o, n);

    /* The never-started ones are gone, finished ones untouched. */
    assert_int_equal(claim(f->l, "q1", 20, NULL, NULL), LEDGER_NEW);
    assert_int_equal(claim(f->l, "fin", 21, NULL, NULL), LEDGER_DONE);
    assert_int_equal(claim(f->l, "fin-unstarted", 21, NULL, NULL), LEDGER_DONE);
    assert_int_equal(claim(f->l, "cut1", 22, NULL, NULL), LEDGER_RUNNING);

    /* Recording the orphans' result (INTERRUPTED) makes them DONE. */
    static const uint8_t interrupted[] = {0x10, 0x07};
    assert_int_equal(ledger_finish(f->l, "cut1", interrupted, sizeof interrupted, 30), BOSUN_OK);
    assert_int_equal(ledger_finish(f->l, "cut2", interrupted, sizeof interrupted, 30), BOSUN_OK);
    uint8_t *got = NULL;
    size_t len = 0;
    assert_int_equal(claim(f->l, "cut1", 31, &got, &len), LEDGER_DONE);
    assert_int_equal(len, sizeof interrupted);
    assert_memory_equal(got, interrupted, sizeof interrupted);
    free(got);

    /* A second recovery finds nothing but the fresh claim of q1. */
    assert_int_equal(ledger_recover(f->l, &o, &n, &forgotten), BOSUN_OK);
    assert_int_equal(forgotten, 1);
    assert_int_equal(n, 0);
    ledger_orphans_free(o, n);
    assert_int_equal(ledger_recover(f->l, &o, &n, &forgotten), BOSUN_OK);
    assert_int_equal(forgotten, 0);
    assert_int_equal(n, 0);
    ledger_orphans_free(o, n);
}

static void test_survives_close_and_reopen(void **state)
{
    fixture_t *f = *state;
    static const uint8_t ack[] = {'o', 'k', 0, 1};
    assert_int_equal(claim(f->l, "done", 1, NULL, NULL), LEDGER_NEW);
    assert_int_equal(ledger_started(f->l, "done", 11, 12, 2), BOSUN_OK);
    assert_int_equal(ledger_finish(f->l, "done", ack, sizeof ack, 3), BOSUN_OK);
    assert_int_equal(claim(f->l, "cut", 4, NULL, NULL), LEDGER_NEW);
    assert_int_equal(ledger_started(f->l, "cut", 21, 22, 5), BOSUN_OK);
    assert_int_equal(claim(f->l, "queued", 6, NULL, NULL), LEDGER_NEW);

    ledger_close(f->l);
    f->l = NULL;
    bosun_err_t err;
    assert_int_equal(ledger_open(f->path, &f->l, &err), BOSUN_OK);

    uint8_t *got = NULL;
    size_t len = 0;
    assert_int_equal(claim(f->l, "done", 7, &got, &len), LEDGER_DONE);
    assert_int_equal(len, sizeof ack);
    assert_memory_equal(got, ack, sizeof ack);
    free(got);

    ledger_orphan_t *o = NULL;
    size_t n = 0, forgotten = 0;
    assert_int_equal(ledger_recover(f->l, &o, &n, &forgotten), BOSUN_OK);
    assert_int_equal(forgotten, 1);
    assert_int_equal(n, 1);
    assert_string_equal(o[0].id, "cut");
    assert_int_equal(o[0].pgid, 21);
    assert_int_equal(o[0].start_ticks, 22);
    assert_int_equal(o[0].started_ms, 5);
    ledger_orphans_free(o, n);
}

static void test_open_in_missing_directory_fails(void **state)
{
    fixture_t *f = *state;
    char path[600];
    snprintf(path, sizeof path, "%s/no/such/dir/ledger.db", f->dir);
    ledger_t *l = NULL;
    bosun_err_t err;
    memset(&err, 0, sizeof err);
    assert_int_equal(ledger_open(path, &l, &err), BOSUN_ERR_DB);
    assert_null(l);
    assert_non_null(strstr(err.msg, path));
}

static void test_purge_removes_only_old_finished(void **state)
{
    fixture_t *f = *state;
    static const uint8_t ack[] = {1};
    const char *fin[] = {"f1000", "f2000", "f3000"};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(claim(f->l, fin[i], 0, NULL, NULL), LEDGER_NEW);
        assert_int_equal(ledger_finish(f->l, fin[i], ack, sizeof ack, (uint64_t)(i + 1) * 1000),
                         BOSUN_OK);
    }
    assert_int_equal(claim(f->l, "running", 0, NULL, NULL), LEDGER_NEW);
    assert_int_equal(ledger_started(f->l, "running", 5, 6, 0), BOSUN_OK);
    assert_int_equal(claim(f->l, "queued", 0, NULL, NULL), LEDGER_NEW);

    size_t purged = 99;
    assert_int_equal(ledger_purge(f->l, 2000, &purged), BOSUN_OK);
    assert_int_equal(purged, 1);
    assert_int_equal(claim(f->l, "f2000", 1, NULL, NULL), LEDGER_DONE);
    assert_int_equal(claim(f->l, "f3000", 1, NULL, NULL), LEDGER_DONE);
    assert_int_equal(claim(f->l, "f1000", 1, NULL, NULL), LEDGER_NEW);
    assert_int_equal(ledger_forget(f->l, "f1000"), BOSUN_OK);

    assert_int_equal(ledger_purge(f->l, 1000000, &purged), BOSUN_OK);
    assert_int_equal(purged, 2);
    assert_int_equal(claim(f->l, "running", 1, NULL, NULL), LEDGER_RUNNING);
    assert_int_equal(claim(f->l, "queued", 1, NULL, NULL), LEDGER_RUNNING);
    assert_int_equal(claim(f->l, "f3000", 1, NULL, NULL), LEDGER_NEW);

    assert_int_equal(ledger_purge(f->l, 1000000, &purged), BOSUN_OK);
    assert_int_equal(purged, 0);
}

#define CLAIMERS 8
#define ROUNDS 20

typedef struct {
    ledger_t *l;
    pthread_barrier_t *barrier;
    int counts[ROUNDS][3]; /* per round: NEW, RUNNING, DONE */
    int errors;
} claimer_t;

static void *claimer(void *arg)
{
    claimer_t *c = arg;
    for (int r = 0; r < ROUNDS; r++) {
        char id[32];
        snprintf(id, sizeof id, "same-%d", r);
        pthread_barrier_wait(c->barrier);
        ledger_claim_t st;
        uint8_t *ack = NULL;
        size_t len = 0;
        if (ledger_claim(c->l, id, "shellCommand", 1, &st, &ack, &len, NULL) != BOSUN_OK ||
            st > LEDGER_DONE)
            c->errors++;
        else
            c->counts[r][st]++;
        free(ack);
    }
    return NULL;
}

static void test_concurrent_claims_give_exactly_one_new(void **state)
{
    fixture_t *f = *state;
    pthread_barrier_t barrier;
    pthread_barrier_init(&barrier, NULL, CLAIMERS);
    claimer_t c[CLAIMERS];
    pthread_t th[CLAIMERS];
    for (int i = 0; i < CLAIMERS; i++) {
        memset(&c[i], 0, sizeof c[i]);
        c[i].l = f->l;
        c[i].barrier = &barrier;
        assert_int_equal(pthread_create(&th[i], NULL, claimer, &c[i]), 0);
    }
    for (int i = 0; i < CLAIMERS; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&barrier);
    for (int r = 0; r < ROUNDS; r++) {
        int news = 0, running = 0, done = 0;
        for (int i = 0; i < CLAIMERS; i++) {
            assert_int_equal(c[i].errors, 0);
            news += c[i].counts[r][LEDGER_NEW];
            running += c[i].counts[r][LEDGER_RUNNING];
            done += c[i].counts[r][LEDGER_DONE];
        }
        assert_int_equal(news, 1);
        assert_int_equal(running, CLAIMERS - 1);
        assert_int_equal(done, 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_claim_new_running_done, setup, teardown),
        cmocka_unit_test_setup_teardown(test_finish_with_empty_ack_is_done, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forget_removes_only_unstarted_claims, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recover_forgets_unstarted_and_returns_orphans, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_survives_close_and_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_in_missing_directory_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_purge_removes_only_old_finished, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_claims_give_exactly_one_new, setup,
                                        teardown),
    };
    return cmocka_run_group_tests_name("ledger", tests, NULL, NULL);
}
