/*
 * test_mirror.c - the election's NATS mirror (agent/mirror.c): pushing never
 * waits for a publisher that is stuck (as nats.c's publish is while it
 * reconnects), messages go out in order, a full queue drops the oldest, and
 * freeing drains what is queued.
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
#include <time.h>
#include <unistd.h>

#include "mirror.h"

/* A publisher that records what it got and can be held at a gate. */
typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    bool gate_open;
    int entered;       /* publish calls begun */
    char got[16][32];
    int n_got;
} pub_t;

static void publish(void *arg, const char *subject, const uint8_t *data, size_t len)
{
    pub_t *p = arg;
    pthread_mutex_lock(&p->mu);
    p->entered++;
    pthread_cond_broadcast(&p->cond);
    while (!p->gate_open)
        pthread_cond_wait(&p->cond, &p->mu);
    if (p->n_got < 16)
        snprintf(p->got[p->n_got++], sizeof p->got[0], "%s:%.*s", subject, (int)len, (const char *)data);
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->mu);
}

static void pub_init(pub_t *p, bool open)
{
    memset(p, 0, sizeof *p);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cond, NULL);
    p->gate_open = open;
}

static void pub_destroy(pub_t *p)
{
    pthread_cond_destroy(&p->cond);
    pthread_mutex_destroy(&p->mu);
}

static void open_gate(pub_t *p)
{
    pthread_mutex_lock(&p->mu);
    p->gate_open = true;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->mu);
}

/* Waits (at most 5 s) until the publisher has been entered n times / has n messages. */
static bool wait_for(pub_t *p, const int *field, int n)
{
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += 5;
    pthread_mutex_lock(&p->mu);
    while (*field < n)
        if (pthread_cond_timedwait(&p->cond, &p->mu, &dl) != 0)
            break;
    bool ok = *field >= n;
    pthread_mutex_unlock(&p->mu);
    return ok;
}

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void push(mirror_t *m, const char *text)
{
    assert_true(mirror_push(m, "n1.event.bid", (const uint8_t *)text, strlen(text)));
}

static void test_push_never_waits_for_a_stuck_publisher(void **state)
{
    (void)state;
    pub_t p;
    pub_init(&p, false);
    mirror_t *m = NULL;
    assert_int_equal(mirror_new(publish, &p, 8, &m), BOSUN_OK);
    push(m, "a");
    assert_true(wait_for(&p, &p.entered, 1)); /* the thread is stuck in publish("a") */
    uint64_t t0 = mono_ms();
    push(m, "b");
    push(m, "c");
    assert_true(mono_ms() - t0 < 200);
    open_gate(&p);
    assert_true(wait_for(&p, &p.n_got, 3));
    assert_string_equal(p.got[0], "n1.event.bid:a");
    assert_string_equal(p.got[1], "n1.event.bid:b");
    assert_string_equal(p.got[2], "n1.event.bid:c");
    assert_int_equal(mirror_dropped(m), 0);
    mirror_free(m, 1000);
    pub_destroy(&p);
}

static void test_full_queue_drops_the_oldest(void **state)
{
    (void)state;
    pub_t p;
    pub_init(&p, false);
    mirror_t *m = NULL;
    assert_int_equal(mirror_new(publish, &p, 3, &m), BOSUN_OK);
    push(m, "0");
    assert_true(wait_for(&p, &p.entered, 1));
    for (int i = 1; i <= 5; i++) { /* the queue holds 3: "1" and "2" go */
        char t[4];
        snprintf(t, sizeof t, "%d", i);
        push(m, t);
    }
    assert_int_equal(mirror_dropped(m), 2);
    open_gate(&p);
    assert_true(wait_for(&p, &p.n_got, 4));
    assert_string_equal(p.got[0], "n1.event.bid:0");
    assert_string_equal(p.got[1], "n1.event.bid:3");
    assert_string_equal(p.got[2], "n1.event.bid:4");
    assert_string_equal(p.got[3], "n1.event.bid:5");
    mirror_free(m, 1000);
    pub_destroy(&p);
}

static void test_free_drains_the_queue(void **state)
{
    (void)state;
    pub_t p;
    pub_init(&p, true);
    mirror_t *m = NULL;
    assert_int_equal(mirror_new(publish, &p, 16, &m), BOSUN_OK);
    push(m, "x");
    push(m, "y");
    push(m, "z");
    mirror_free(m, 2000);
    assert_int_equal(p.n_got, 3);
    assert_string_equal(p.got[2], "n1.event.bid:z");
    pub_destroy(&p);
}

static void *release_later(void *arg)
{
    usleep(300000);
    open_gate(arg);
    return NULL;
}

static void test_free_gives_up_on_the_queue_after_its_wait(void **state)
{
    (void)state;
    pub_t p;
    pub_init(&p, false);
    mirror_t *m = NULL;
    assert_int_equal(mirror_new(publish, &p, 16, &m), BOSUN_OK);
    push(m, "stuck");
    push(m, "left");
    assert_true(wait_for(&p, &p.entered, 1));
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, release_later, &p), 0);
    uint64_t t0 = mono_ms();
    mirror_free(m, 50); /* waits for "stuck" only; "left" is dropped */
    uint64_t took = mono_ms() - t0;
    pthread_join(t, NULL);
    assert_true(took >= 250 && took < 2000);
    assert_int_equal(p.n_got, 1);
    pub_destroy(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_push_never_waits_for_a_stuck_publisher),
        cmocka_unit_test(test_full_queue_drops_the_oldest),
        cmocka_unit_test(test_free_drains_the_queue),
        cmocka_unit_test(test_free_gives_up_on_the_queue_after_its_wait),
    };
    return cmocka_run_group_tests_name("election mirror", tests, NULL, NULL);
}
