/*
 * test_message.c - central/message.c: ids (format, ordering, alphabet),
 * deep copies, and the Command and Event a message turns into.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "message.h"

/* A message with every field set, owned by the caller. */
static message_t *sample(void)
{
    message_t *m = message_new();
    assert_non_null(m);
    message_make_id(1700000000123ull, 42, m->id);
    m->seq = 42;
    m->node = strdup("ship1");
    m->method = strdup("shellCommand");
    m->n_data = 3;
    m->data = calloc(3, sizeof *m->data);
    m->data[0] = strdup("bash");
    m->data[1] = strdup("-c");
    m->data[2] = strdup("ls -l ../");
    m->ack_timeout_ms = 5000;
    m->retries = -1;
    m->retry_wait_ms = 1000;
    m->max_retry_wait_ms = 30000;
    m->method_timeout_ms = 60000;
    m->ttl_ms = 86400000;
    m->accepted_ms = 1700000000123ull;
    m->attempts = 2;
    m->next_attempt_ms = 1700000001000ull;
    return m;
}

static void test_make_id_format(void **state)
{
    (void)state;
    char id[MESSAGE_ID_MAX];
    message_make_id(1700000000123ull, 42, id);
    assert_string_equal(id, "m1700000000123-0000000042");
    message_make_id(5, 0, id);
    assert_string_equal(id, "m0000000000005-0000000000");
    /* Every character is in the agent's id alphabet [A-Za-z0-9._:-]. */
    message_make_id(UINT64_MAX, UINT64_MAX, id);
    assert_true(strlen(id) < MESSAGE_ID_MAX);
    for (const char *c = id; *c != '\0'; c++)
        assert_true((*c >= '0' && *c <= '9') || *c == 'm' || *c == '-');
}

static void test_make_id_sorts_by_time_then_seq(void **state)
{
    (void)state;
    /* (ms, seq) in accept order: ids must compare the same way as strings. */
    const uint64_t order[][2] = {
        {999, 1}, {1000, 2}, {1000, 3}, {1000, 10}, {1699999999999ull, 11},
        {1700000000000ull, 12}, {1700000000000ull, 9999999999ull}, {1700000000001ull, 1},
    };
    size_t n = sizeof order / sizeof order[0];
    char prev[MESSAGE_ID_MAX], cur[MESSAGE_ID_MAX];
    message_make_id(order[0][0], order[0][1], prev);
    for (size_t i = 1; i < n; i++) {
        message_make_id(order[i][0], order[i][1], cur);
        assert_true(strcmp(prev, cur) < 0);
        memcpy(prev, cur, sizeof prev);
    }
}

static void test_dup_is_deep(void **state)
{
    (void)state;
    message_t *m = sample();
    message_t *d = message_dup(m);
    assert_non_null(d);
    assert_string_equal(d->id, m->id);
    assert_string_equal(d->node, "ship1");
    assert_ptr_not_equal(d->node, m->node);
    assert_string_equal(d->method, "shellCommand");
    assert_int_equal(d->n_data, 3);
    assert_ptr_not_equal(d->data, m->data);
    assert_string_equal(d->data[2], "ls -l ../");
    assert_ptr_not_equal(d->data[2], m->data[2]);
    assert_int_equal(d->retries, -1);
    assert_int_equal(d->ttl_ms, 86400000);
    assert_int_equal(d->attempts, 2);
    message_free(m);
    /* The copy outlives the original. */
    assert_string_equal(d->data[0], "bash");
    message_free(d);

    message_t *e = message_new();
    message_t *ed = message_dup(e);
    assert_non_null(ed);
    assert_null(ed->node);
    assert_null(ed->data);
    message_free(e);
    message_free(ed);
    message_free(NULL);
}

static void test_to_command_fields(void **state)
{
    (void)state;
    message_t *m = sample();
    Bosun__Command cmd = BOSUN__COMMAND__INIT;
    message_to_command(m, "central", 3, &cmd);
    assert_string_equal(cmd.id, "m1700000000123-0000000042");
    assert_string_equal(cmd.node, "ship1");
    assert_string_equal(cmd.method, "shellCommand");
    assert_int_equal(cmd.n_data, 3);
    assert_string_equal(cmd.data[1], "-c");
    assert_int_equal(cmd.kind, BOSUN__MESSAGE_KIND__MESSAGE_KIND_COMMAND);
    assert_int_equal(cmd.created_ms, 1700000000123ull);
    assert_int_equal(cmd.ttl_ms, 86400000);
    assert_int_equal(cmd.method_timeout_ms, 60000);
    assert_string_equal(cmd.sender, "central");
    assert_int_equal(cmd.attempt, 3);
    assert_int_equal(cmd.signature.len, 0);

    /* It packs and unpacks to the same fields. */
    size_t len = bosun__command__get_packed_size(&cmd);
    uint8_t *buf = malloc(len);
    assert_non_null(buf);
    bosun__command__pack(&cmd, buf);
    Bosun__Command *back = bosun__command__unpack(NULL, len, buf);
    assert_non_null(back);
    assert_string_equal(back->id, cmd.id);
    assert_string_equal(back->data[2], "ls -l ../");
    assert_int_equal(back->attempt, 3);
    bosun__command__free_unpacked(back, NULL);
    free(buf);

    m->is_event = true;
    message_to_command(m, "central", 1, &cmd);
    assert_int_equal(cmd.kind, BOSUN__MESSAGE_KIND__MESSAGE_KIND_EVENT);
    message_free(m);
}

static void test_to_event_fields(void **state)
{
    (void)state;
    message_t *m = sample();
    m->is_event = true;
    Bosun__Event ev = BOSUN__EVENT__INIT;
    message_to_event(m, "central", &ev);
    assert_string_equal(ev.id, m->id);
    assert_string_equal(ev.from, "central");
    assert_string_equal(ev.node, "ship1");
    assert_string_equal(ev.method, "shellCommand");
    assert_int_equal(ev.n_data, 3);
    assert_string_equal(ev.data[0], "bash");
    assert_int_equal(ev.time_ms, 1700000000123ull);
    message_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_make_id_format),
        cmocka_unit_test(test_make_id_sorts_by_time_then_seq),
        cmocka_unit_test(test_dup_is_deep),
        cmocka_unit_test(test_to_command_fields),
        cmocka_unit_test(test_to_event_fields),
    };
    return cmocka_run_group_tests_name("message", tests, NULL, NULL);
}
