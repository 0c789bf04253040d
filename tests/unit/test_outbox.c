/*
 * test_outbox.c - delivery rules of central's outbox under a fake clock:
 * per-node order, one on its way per node, retries with backoff, RUNNING,
 * no responders, retries and ttl ending in EXPIRED (central/outbox.c).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "outbox.h"

static uint64_t seq_counter;

static message_t *msg(const char *node, const char *method)
{
    message_t *m = message_new();
    m->node = strdup(node);
    m->method = strdup(method);
    m->seq = ++seq_counter;
    snprintf(m->id, sizeof m->id, "m-%llu", (unsigned long long)m->seq);
    m->ack_timeout_ms = 1000;
    m->retries = -1;
    m->retry_wait_ms = 1000;
    m->max_retry_wait_ms = 8000;
    m->ttl_ms = 0;
    m->accepted_ms = 0;
    return m;
}

static uint64_t half(void *arg)
{
    (void)arg;
    return 0; /* jitter factor 0.5: backoff = wait / 2 */
}

typedef struct {
    outbox_t *o;
    outbox_actions_t a;
} fx_t;

static fx_t *fx_new(uint64_t (*rnd)(void *))
{
    fx_t *f = calloc(1, sizeof *f);
    assert_int_equal(outbox_new(rnd, NULL, &f->o), BOSUN_OK);
    outbox_actions_init(&f->a);
    seq_counter = 0;
    return f;
}

static void fx_free(fx_t *f)
{
    for (size_t i = 0; i < f->a.n_finals; i++)
        message_free(f->a.finals[i].m);
    outbox_free(f->o);
    outbox_actions_free(&f->a);
    free(f);
}

static void clear(fx_t *f)
{
    for (size_t i = 0; i < f->a.n_finals; i++)
        message_free(f->a.finals[i].m);
    outbox_actions_clear(&f->a);
}

static void answer(fx_t *f, const message_t *m, Bosun__AckStatus st, uint64_t now)
{
    Bosun__Ack ack = BOSUN__ACK__INIT;
    ack.id = (char *)m->id;
    ack.status = st;
    outbox_on_answer(f->o, m->node, m->seq, m->attempts, &ack, false, now, &f->a);
}

static void test_per_node_order_and_independence(void **state)
{
    (void)state;
    fx_t *f = fx_new(NULL);
    message_t *a1 = msg("a", "x"), *a2 = msg("a", "y"), *b1 = msg("b", "z");
    outbox_add(f->o, a1);
    outbox_add(f->o, a2);
    outbox_add(f->o, b1);
    outbox_due(f->o, 0, &f->a);
    assert_int_equal(f->a.n_sends, 2); /* heads of a and b, not a2 */
    assert_ptr_equal(f->a.sends[0], a1);
    assert_ptr_equal(f->a.sends[1], b1);
    assert_int_equal(a1->attempts, 1);
    clear(f);
    outbox_due(f->o, 10, &f->a);
    assert_int_equal(f->a.n_sends, 0); /* nothing more while they are on their way */

    answer(f, a1, BOSUN__ACK_STATUS__ACK_STATUS_OK, 20);
    assert_int_equal(f->a.n_finals, 1);
    assert_ptr_equal(f->a.finals[0].m, a1);
    assert_int_equal(f->a.finals[0].status, BOSUN__ACK_STATUS__ACK_STATUS_OK);
    clear(f);
    outbox_due(f->o, 20, &f->a);
    assert_int_equal(f->a.n_sends, 1);
    assert_ptr_equal(f->a.sends[0], a2);
    assert_int_equal(outbox_pending(f->o), 2);
    assert_int_equal(outbox_in_flight(f->o), 2);
    fx_free(f);
}

static void test_timeout_retries_with_capped_exponential_backoff(void **state)
{
    (void)state;
    fx_t *f = fx_new(half);
    message_t *m = msg("a", "x");
    outbox_add(f->o, m);
    uint64_t t = 0;
    uint64_t expect_wait[] = {500, 1000, 2000, 4000, 4000, 4000}; /* x0.5 jitter, cap 8000 */
    for (int i = 0; i < 6; i++) {
        outbox_due(f->o, t, &f->a);
        assert_int_equal(f->a.n_sends, 1);
        assert_int_equal(m->attempts, (uint32_t)i + 1);
        clear(f);
        assert_int_equal(outbox_next_deadline(f->o), t + 1000); /* ack timeout */
        t += 1000;
        outbox_due(f->o, t, &f->a);
        assert_int_equal(f->a.n_sends, 0);
        assert_int_equal(outbox_next_deadline(f->o), t + expect_wait[i]);
        t += expect_wait[i];
    }
    answer(f, m, BOSUN__ACK_STATUS__ACK_STATUS_OK, t); /* a late answer to the 6th attempt */
    assert_int_equal(f->a.n_finals, 1);
    fx_free(f);
}

static void test_running_waits_without_spending_retries(void **state)
{
    (void)state;
    fx_t *f = fx_new(half);
    message_t *m = msg("a", "x");
    m->retries = 0;
    outbox_add(f->o, m);
    outbox_due(f->o, 0, &f->a);
    clear(f);
    for (int i = 0; i < 5; i++) {
        answer(f, m, BOSUN__ACK_STATUS__ACK_STATUS_RUNNING, 100 + 2000u * (unsigned)i);
        assert_int_equal(f->a.n_finals, 0);
        assert_int_equal(outbox_next_deadline(f->o), 100 + 2000u * (unsigned)i + 1000);
        outbox_due(f->o, 100 + 2000u * (unsigned)i + 1000, &f->a);
        assert_int_equal(f->a.n_sends, 1);
        clear(f);
    }
    answer(f, m, BOSUN__ACK_STATUS__ACK_STATUS_FAILED, 20000);
    assert_int_equal(f->a.n_finals, 1);
    assert_int_equal(f->a.finals[0].status, BOSUN__ACK_STATUS__ACK_STATUS_FAILED);
    assert_int_equal(m->attempts, 6);
    assert_int_equal(outbox_retries(f->o), 0); /* polls of a RUNNING message are no retries */
    fx_free(f);
}

static void test_no_responders_and_busy_back_off_and_retries_expire(void **state)
{
    (void)state;
    fx_t *f = fx_new(half);
    message_t *m = msg("down", "x");
    m->retries = 2;
    outbox_add(f->o, m);
    outbox_due(f->o, 0, &f->a);
    clear(f);
    outbox_on_answer(f->o, "down", m->seq, 1, NULL, true, 5, &f->a);
    assert_int_equal(f->a.n_finals, 0);
    assert_int_equal(outbox_retries(f->o), 1);
    assert_int_equal(outbox_next_deadline(f->o), 5 + 500);
    outbox_due(f->o, 505, &f->a);
    clear(f);
    answer(f, m, BOSUN__ACK_STATUS__ACK_STATUS_BUSY, 510);
    assert_int_equal(outbox_retries(f->o), 2);
    assert_int_equal(outbox_next_deadline(f->o), 510 + 1000);
    outbox_due(f->o, 1510, &f->a);
    clear(f);
    outbox_due(f->o, 2510, &f->a); /* third attempt unanswered: no retries left */
    assert_int_equal(outbox_retries(f->o), 2); /* given up, not retried */
    assert_int_equal(f->a.n_finals, 1);
    assert_int_equal(f->a.finals[0].status, BOSUN__ACK_STATUS__ACK_STATUS_EXPIRED);
    assert_non_null(strstr(f->a.finals[0].error, "3 attempts and no retries left"));
    fx_free(f);
}

static void test_ttl_expires_unsent_messages_anywhere_in_the_queue(void **state)
{
    (void)state;
    fx_t *f = fx_new(half);
    message_t *a = msg("n", "x"), *b = msg("n", "y"), *c = msg("n", "z");
    b->ttl_ms = 2000; /* waits behind a, which the node never answers */
    outbox_add(f->o, a);
    outbox_add(f->o, b);
    outbox_add(f->o, c);
    for (uint64_t t = 0; t < 2000; t += 100)
        outbox_due(f->o, t, &f->a);
    assert_int_equal(f->a.n_finals, 0);
    clear(f);
    assert_true(outbox_next_deadline(f->o) <= 2000);
    outbox_due(f->o, 2000, &f->a);
    assert_int_equal(f->a.n_finals, 1);
    assert_ptr_equal(f->a.finals[0].m, b);
    assert_int_equal(f->a.finals[0].status, BOSUN__ACK_STATUS__ACK_STATUS_EXPIRED);
    assert_non_null(strstr(f->a.finals[0].error, "ran out before it could be sent"));
    clear(f);
    /* a and c keep their order. */
    answer(f, a, BOSUN__ACK_STATUS__ACK_STATUS_OK, 2100);
    clear(f);
    outbox_due(f->o, 2100, &f->a);
    assert_int_equal(f->a.n_sends, 1);
    assert_ptr_equal(f->a.sends[0], c);
    fx_free(f);
}

static void test_ttl_of_a_sent_message_waits_for_the_node_then_gives_up(void **state)
{
    (void)state;
    fx_t *f = fx_new(half);
    message_t *a = msg("n", "x");
    a->ttl_ms = 3000;
    outbox_add(f->o, a);
    uint64_t t = 0;
    for (; t < 3000 + 60000; t += 100) {
        outbox_due(f->o, t, &f->a);
        assert_int_equal(f->a.n_finals, 0); /* it was sent: the node may have it */
        clear(f);
    }
    for (; t < 3000 + 60000 + 2000 && f->a.n_finals == 0; t += 100)
        outbox_due(f->o, t, &f->a);
    assert_int_equal(f->a.n_finals, 1);
    assert_int_equal(f->a.finals[0].status, BOSUN__ACK_STATUS__ACK_STATUS_EXPIRED);
    assert_non_null(strstr(f->a.finals[0].error, "may have run"));
    fx_free(f);

    /* Once the node said RUNNING, the ttl no longer cuts it off. */
    f = fx_new(half);
    a = msg("n", "x");
    a->ttl_ms = 3000;
    outbox_add(f->o, a);
    outbox_due(f->o, 0, &f->a);
    answer(f, a, BOSUN__ACK_STATUS__ACK_STATUS_RUNNING, 10);
    clear(f);
    for (t = 10; t < 200000; t += 500) {
        outbox_due(f->o, t, &f->a);
        for (size_t i = 0; i < f->a.n_sends; i++)
            answer(f, f->a.sends[i], BOSUN__ACK_STATUS__ACK_STATUS_RUNNING, t);
        assert_int_equal(f->a.n_finals, 0);
        clear(f);
    }
    answer(f, a, BOSUN__ACK_STATUS__ACK_STATUS_OK, t);
    assert_int_equal(f->a.n_finals, 1);
    assert_int_equal(f->a.finals[0].status, BOSUN__ACK_STATUS__ACK_STATUS_OK);
    fx_free(f);
}

static void test_answers_for_finished_or_unknown_messages_are_ignored(void **state)
{
    (void)state;
    fx_t *f = fx_new(NULL);
    message_t *a = msg("n", "x"), *b = msg("n", "y");
    uint64_t aseq = a->seq;
    outbox_add(f->o, a);
    outbox_add(f->o, b);
    outbox_due(f->o, 0, &f->a);
    answer(f, a, BOSUN__ACK_STATUS__ACK_STATUS_OK, 1);
    clear(f);
    outbox_due(f->o, 1, &f->a);
    clear(f);
    Bosun__Ack ack = BOSUN__ACK__INIT;
    ack.status = BOSUN__ACK_STATUS__ACK_STATUS_OK;
    outbox_on_answer(f->o, "n", aseq, 1, &ack, false, 2, &f->a); /* duplicate answer for a */
    outbox_on_answer(f->o, "ghost", 99, 1, &ack, false, 2, &f->a);
    assert_int_equal(f->a.n_finals, 0);
    assert_int_equal(outbox_pending(f->o), 1);
    /* An answer to an older attempt of the current head still finishes it. */
    answer(f, b, BOSUN__ACK_STATUS__ACK_STATUS_REJECTED, 3);
    assert_int_equal(f->a.n_finals, 1);
    fx_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_per_node_order_and_independence),
        cmocka_unit_test(test_timeout_retries_with_capped_exponential_backoff),
        cmocka_unit_test(test_running_waits_without_spending_retries),
        cmocka_unit_test(test_no_responders_and_busy_back_off_and_retries_expire),
        cmocka_unit_test(test_ttl_expires_unsent_messages_anywhere_in_the_queue),
        cmocka_unit_test(test_ttl_of_a_sent_message_waits_for_the_node_then_gives_up),
        cmocka_unit_test(test_answers_for_finished_or_unknown_messages_are_ignored),
    };
    return cmocka_run_group_tests_name("outbox", tests, NULL, NULL);
}
