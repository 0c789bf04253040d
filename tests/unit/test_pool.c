/*
 * test_pool.c - the bounded worker pool (agent/pool.c): concurrency, FIFO
 * order, the queue bound, and shutdown (drop what waits, grace for what
 * runs, then cancel).
 *
 * Jobs are small structs owned by the test; every wait is bounded so a
 * broken pool fails a test instead of hanging it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "pool.h"

#define MAX_JOBS 16
#define WAIT_MS 5000

typedef enum {
    JOB_RECORD,       /* records its order and returns */
    JOB_BARRIER,      /* waits until every barrier job runs at the same time */
    JOB_GATE,         /* waits until the test opens the gate */
    JOB_UNTIL_CANCEL, /* loops until *cancel is true */
    JOB_SLEEP,        /* sleeps 200 ms */
} job_kind_t;

typedef struct fixture fixture_t;

typedef struct {
    fixture_t *f;
    job_kind_t kind;
    int id;
    bool ok;          /* barrier reached, or job ended as expected */
    bool saw_cancel;  /* *cancel was true when the job ended */
} job_t;

struct fixture {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    pool_t *pool;
    job_t jobs[MAX_JOBS];
    int order[MAX_JOBS];
    int n_order;
    int started;
    int done;
    int dropped;
    int dropped_ids[MAX_JOBS];
    int barrier_n;
    int barrier_in;
    bool gate_open;
    bosun_status_t submit_in_drop; /* what pool_submit returned inside drop */
};

/* Deadline ms from now for pthread_cond_timedwait (CLOCK_REALTIME). */
static struct timespec deadline_in(int ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

static void job_run(void *ctx, void *arg, const atomic_bool *cancel)
{
    fixture_t *f = ctx;
    job_t *j = arg;
    pthread_mutex_lock(&f->mu);
    f->started++;
    f->order[f->n_order++] = j->id;
    pthread_cond_broadcast(&f->cond);
    struct timespec until = deadline_in(WAIT_MS);
    switch (j->kind) {
    case JOB_RECORD:
        j->ok = true;
        break;
    case JOB_BARRIER:
        f->barrier_in++;
        pthread_cond_broadcast(&f->cond);
        while (f->barrier_in < f->barrier_n)
            if (pthread_cond_timedwait(&f->cond, &f->mu, &until) != 0)
                break;
        j->ok = f->barrier_in >= f->barrier_n;
        break;
    case JOB_GATE:
        while (!f->gate_open)
            if (pthread_cond_timedwait(&f->cond, &f->mu, &until) != 0)
                break;
        j->ok = f->gate_open;
        break;
    case JOB_UNTIL_CANCEL: {
        pthread_mutex_unlock(&f->mu);
        uint64_t end = bosun_mono_ms() + WAIT_MS;
        while (!atomic_load(cancel) && bosun_mono_ms() < end)
            bosun_sleep_ms(5);
        pthread_mutex_lock(&f->mu);
        j->ok = atomic_load(cancel);
        break;
    }
    case JOB_SLEEP:
        pthread_mutex_unlock(&f->mu);
        bosun_sleep_ms(200);
        pthread_mutex_lock(&f->mu);
        j->ok = true;
        break;
    }
    j->saw_cancel = atomic_load(cancel);
    f->done++;
    pthread_cond_broadcast(&f->cond);
    pthread_mutex_unlock(&f->mu);
}

static void job_drop(void *ctx, void *arg)
{
    fixture_t *f = ctx;
    job_t *j = arg;
    pthread_mutex_lock(&f->mu);
    f->dropped_ids[f->dropped++] = j->id;
    pthread_mutex_unlock(&f->mu);
}

/* A drop that tries to queue the job again (the pool is closing by then). */
static void job_drop_resubmit(void *ctx, void *arg)
{
    fixture_t *f = ctx;
    bosun_status_t st = pool_submit(f->pool, arg);
    pthread_mutex_lock(&f->mu);
    f->submit_in_drop = st;
    pthread_mutex_unlock(&f->mu);
    job_drop(ctx, arg);
}

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    if (f == NULL)
        return -1;
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cond, NULL);
    for (int i = 0; i < MAX_JOBS; i++)
        f->jobs[i] = (job_t){.f = f, .id = i};
    f->submit_in_drop = BOSUN_OK;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    /* Let gate jobs of a failed test end so shutdown does not wait on them. */
    pthread_mutex_lock(&f->mu);
    f->gate_open = true;
    pthread_cond_broadcast(&f->cond);
    pthread_mutex_unlock(&f->mu);
    pool_shutdown(f->pool, 0);
    pthread_cond_destroy(&f->cond);
    pthread_mutex_destroy(&f->mu);
    free(f);
    return 0;
}

static job_t *job(fixture_t *f, int i, job_kind_t kind)
{
    f->jobs[i].kind = kind;
    return &f->jobs[i];
}

/* Waits up to WAIT_MS until *counter >= n; returns its value. */
static int wait_count(fixture_t *f, const int *counter, int n)
{
    struct timespec until = deadline_in(WAIT_MS);
    pthread_mutex_lock(&f->mu);
    while (*counter < n)
        if (pthread_cond_timedwait(&f->cond, &f->mu, &until) != 0)
            break;
    int v = *counter;
    pthread_mutex_unlock(&f->mu);
    return v;
}

/* Waits up to WAIT_MS until no job runs (a worker counts a job as running
 * until run returns, a moment after the job recorded that it is done). */
static bool wait_idle(pool_t *p)
{
    uint64_t until = bosun_mono_ms() + WAIT_MS;
    while (pool_running(p) != 0) {
        if (bosun_mono_ms() >= until)
            return false;
        bosun_sleep_ms(1);
    }
    return true;
}

static void open_gate(fixture_t *f)
{
    pthread_mutex_lock(&f->mu);
    f->gate_open = true;
    pthread_cond_broadcast(&f->cond);
    pthread_mutex_unlock(&f->mu);
}

static void test_new_rejects_bad_arguments(void **state)
{
    fixture_t *f = *state;
    pool_t *p = NULL;
    assert_int_equal(pool_new(0, 1, job_run, job_drop, f, &p), BOSUN_ERR_INVALID);
    assert_int_equal(pool_new(1, -1, job_run, job_drop, f, &p), BOSUN_ERR_INVALID);
    assert_int_equal(pool_new(1, 1, NULL, job_drop, f, &p), BOSUN_ERR_INVALID);
    assert_int_equal(pool_new(1, 1, job_run, NULL, f, &p), BOSUN_ERR_INVALID);
    assert_null(p);
    pool_shutdown(NULL, 0);
}

/* N jobs that each wait for all N to be running can only finish in parallel. */
static void test_jobs_run_concurrently(void **state)
{
    fixture_t *f = *state;
    enum { N = 4 };
    assert_int_equal(pool_new(N, 0, job_run, job_drop, f, &f->pool), BOSUN_OK);
    f->barrier_n = N;
    for (int i = 0; i < N; i++)
        assert_int_equal(pool_submit(f->pool, job(f, i, JOB_BARRIER)), BOSUN_OK);
    assert_int_equal(wait_count(f, &f->done, N), N);
    for (int i = 0; i < N; i++)
        assert_true(f->jobs[i].ok);
    assert_true(wait_idle(f->pool));
    assert_int_equal(pool_queued(f->pool), 0);
}

static void test_one_worker_runs_in_fifo_order(void **state)
{
    fixture_t *f = *state;
    enum { N = 10 };
    assert_int_equal(pool_new(1, N, job_run, job_drop, f, &f->pool), BOSUN_OK);
    /* Job 0 holds the worker so the rest queue up behind it. */
    assert_int_equal(pool_submit(f->pool, job(f, 0, JOB_GATE)), BOSUN_OK);
    assert_int_equal(wait_count(f, &f->started, 1), 1);
    for (int i = 1; i < N; i++)
        assert_int_equal(pool_submit(f->pool, job(f, i, JOB_RECORD)), BOSUN_OK);
    assert_int_equal(pool_queued(f->pool), N - 1);
    open_gate(f);
    assert_int_equal(wait_count(f, &f->done, N), N);
    assert_int_equal(f->n_order, N);
    for (int i = 0; i < N; i++)
        assert_int_equal(f->order[i], i);
}

static void test_submit_beyond_bound_is_too_big(void **state)
{
    fixture_t *f = *state;
    enum { WORKERS = 2, QUEUED = 3 };
    assert_int_equal(pool_new(WORKERS, QUEUED, job_run, job_drop, f, &f->pool), BOSUN_OK);
    for (int i = 0; i < WORKERS + QUEUED; i++)
        assert_int_equal(pool_submit(f->pool, job(f, i, JOB_GATE)), BOSUN_OK);
    assert_int_equal(pool_submit(f->pool, job(f, WORKERS + QUEUED, JOB_GATE)), BOSUN_ERR_TOO_BIG);
    assert_int_equal(wait_count(f, &f->started, WORKERS), WORKERS);
    assert_int_equal(pool_running(f->pool), WORKERS);
    assert_int_equal(pool_queued(f->pool), QUEUED);
    assert_int_equal(pool_submit(f->pool, job(f, WORKERS + QUEUED, JOB_GATE)), BOSUN_ERR_TOO_BIG);

    /* Once the jobs are done there is room again. */
    open_gate(f);
    assert_int_equal(wait_count(f, &f->done, WORKERS + QUEUED), WORKERS + QUEUED);
    assert_int_equal(pool_submit(f->pool, job(f, WORKERS + QUEUED, JOB_RECORD)), BOSUN_OK);
    assert_int_equal(wait_count(f, &f->done, WORKERS + QUEUED + 1), WORKERS + QUEUED + 1);
    assert_int_equal(f->dropped, 0);
}

/*
 * Shutdown hands queued jobs to drop at once, waits the grace for running
 * ones, then raises cancel so jobs that only stop when told do stop.
 */
static void test_shutdown_drops_queued_then_cancels_running(void **state)
{
    fixture_t *f = *state;
    enum { WORKERS = 2, QUEUED = 5 };
    assert_int_equal(pool_new(WORKERS, QUEUED, job_run, job_drop, f, &f->pool), BOSUN_OK);
    for (int i = 0; i < WORKERS; i++)
        assert_int_equal(pool_submit(f->pool, job(f, i, JOB_UNTIL_CANCEL)), BOSUN_OK);
    assert_int_equal(wait_count(f, &f->started, WORKERS), WORKERS);
    for (int i = WORKERS; i < WORKERS + QUEUED; i++)
        assert_int_equal(pool_submit(f->pool, job(f, i, JOB_RECORD)), BOSUN_OK);

    uint64_t t0 = bosun_mono_ms();
    pool_shutdown(f->pool, 300);
    f->pool = NULL;
    uint64_t took = bosun_mono_ms() - t0;

    assert_true(took >= 290);  /* the grace was given */
    assert_true(took < 3000);  /* and then cancel ended the jobs */
    assert_int_equal(f->dropped, QUEUED);
    for (int i = 0; i < QUEUED; i++)
        assert_int_equal(f->dropped_ids[i], WORKERS + i);
    assert_int_equal(f->started, WORKERS); /* no dropped job ran */
    assert_int_equal(f->done, WORKERS);
    for (int i = 0; i < WORKERS; i++) {
        assert_true(f->jobs[i].ok);
        assert_true(f->jobs[i].saw_cancel);
    }
}

/* Jobs that end within the grace end normally, and shutdown does not wait it out. */
static void test_shutdown_lets_running_jobs_finish_within_grace(void **state)
{
    fixture_t *f = *state;
    enum { WORKERS = 2 };
    assert_int_equal(pool_new(WORKERS, 2, job_run, job_drop, f, &f->pool), BOSUN_OK);
    for (int i = 0; i < WORKERS; i++)
        assert_int_equal(pool_submit(f->pool, job(f, i, JOB_SLEEP)), BOSUN_OK);
    assert_int_equal(wait_count(f, &f->started, WORKERS), WORKERS);

    uint64_t t0 = bosun_mono_ms();
    pool_shutdown(f->pool, 5000);
    f->pool = NULL;
    uint64_t took = bosun_mono_ms() - t0;

    assert_true(took < 2000);
    assert_int_equal(f->done, WORKERS);
    assert_int_equal(f->dropped, 0);
    for (int i = 0; i < WORKERS; i++) {
        assert_true(f->jobs[i].ok);
        assert_false(f->jobs[i].saw_cancel);
    }
}

/*
 * drop runs without the pool's mutex held, so it may call pool_submit: the
 * pool is closing by then and refuses with BOSUN_ERR_CLOSED.
 */
static void test_submit_while_closing_is_closed(void **state)
{
    fixture_t *f = *state;
    assert_int_equal(pool_new(1, 1, job_run, job_drop_resubmit, f, &f->pool), BOSUN_OK);
    assert_int_equal(pool_submit(f->pool, job(f, 0, JOB_UNTIL_CANCEL)), BOSUN_OK);
    assert_int_equal(wait_count(f, &f->started, 1), 1);
    assert_int_equal(pool_submit(f->pool, job(f, 1, JOB_RECORD)), BOSUN_OK);
    pool_shutdown(f->pool, 0);
    f->pool = NULL;
    assert_int_equal(f->dropped, 1);
    assert_int_equal(f->dropped_ids[0], 1);
    assert_int_equal(f->submit_in_drop, BOSUN_ERR_CLOSED);
    assert_int_equal(f->started, 1);
    assert_true(f->jobs[0].saw_cancel);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_new_rejects_bad_arguments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_jobs_run_concurrently, setup, teardown),
        cmocka_unit_test_setup_teardown(test_one_worker_runs_in_fifo_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_submit_beyond_bound_is_too_big, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shutdown_drops_queued_then_cancels_running, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_shutdown_lets_running_jobs_finish_within_grace, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_submit_while_closing_is_closed, setup, teardown),
    };
    return cmocka_run_group_tests_name("pool", tests, NULL, NULL);
}
