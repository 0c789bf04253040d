/*
 * test_store.c - central/store.c against a real SQLite database in a
 * temporary directory: accept with the inbox position, reloading pending
 * messages, attempts, finishes and results, the read-only handle beside a
 * writer, failures that must store nothing (made real with SQLite triggers
 * from a second connection), and a child killed with SIGKILL mid-accept.
 * The last test prints accept and finish rates (issue 5's goals).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "store.h"

#define T0 1700000000000ull

/* ---- helpers ----------------------------------------------------------------- */

static message_t *new_message(const char *node, const char *method, size_t n_data,
                              const char *const *data)
{
    message_t *m = message_new();
    assert_non_null(m);
    m->node = node ? strdup(node) : NULL;
    m->method = strdup(method);
    if (n_data > 0) {
        m->data = calloc(n_data, sizeof *m->data);
        assert_non_null(m->data);
        for (size_t i = 0; i < n_data; i++)
            m->data[i] = strdup(data[i]);
        m->n_data = n_data;
    }
    m->ack_timeout_ms = 2000;
    m->retries = 5;
    m->retry_wait_ms = 500;
    m->max_retry_wait_ms = 30000;
    m->method_timeout_ms = 60000;
    m->ttl_ms = 3600000;
    return m;
}

static message_t *simple(const char *node)
{
    static const char *const data[] = {"echo", "hi"};
    return new_message(node, "shellCommand", 2, data);
}

static void free_all(message_t **msgs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        message_free(msgs[i]);
}

static store_t *open_store(const char *dir)
{
    store_t *s = NULL;
    bosun_err_t err = {0};
    assert_int_equal(store_open(dir, &s, &err), BOSUN_OK);
    assert_non_null(s);
    return s;
}

static void accept_ok(store_t *s, message_t **msgs, size_t n, const inbox_position_t *pos,
                      uint64_t now)
{
    bosun_err_t err = {0};
    bosun_status_t rc = store_accept(s, msgs, n, NULL, 0, pos, now, &err);
    if (rc != BOSUN_OK)
        fail_msg("store_accept: %s", err.msg);
}

static void flush_ok(store_t *s)
{
    bosun_err_t err = {0};
    bosun_status_t rc = store_flush(s, &err);
    if (rc != BOSUN_OK)
        fail_msg("store_flush: %s", err.msg);
}

/* A second, raw connection to the same database, for triggers and checks. */
static sqlite3 *raw_open(const char *dir)
{
    char path[512];
    snprintf(path, sizeof path, "%s/central.db", dir);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    return db;
}

static void raw_exec(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("%s: %s", sql, msg ? msg : "?");
}

static int64_t raw_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* Collects load_pending's messages. */
typedef struct {
    message_t *m[256];
    size_t n;
} pending_t;

static void collect_pending(void *arg, message_t *m)
{
    pending_t *p = arg;
    assert_true(p->n < 256);
    p->m[p->n++] = m;
}

static void load_pending(store_t *s, pending_t *p)
{
    bosun_err_t err = {0};
    p->n = 0;
    bosun_status_t rc = store_load_pending(s, collect_pending, p, &err);
    if (rc != BOSUN_OK)
        fail_msg("store_load_pending: %s", err.msg);
}

static void pending_free(pending_t *p)
{
    free_all(p->m, p->n);
    p->n = 0;
}

/* Collects results as packed Results, so they outlive the callback. */
typedef struct {
    Bosun__Result *r[256];
    size_t n;
} results_t;

static void collect_result(void *arg, const Bosun__Result *r)
{
    results_t *out = arg;
    assert_true(out->n < 256);
    size_t len = bosun__result__get_packed_size(r);
    uint8_t *buf = malloc(len + 1);
    assert_non_null(buf);
    bosun__result__pack(r, buf);
    out->r[out->n] = bosun__result__unpack(NULL, len, buf);
    assert_non_null(out->r[out->n]);
    out->n++;
    free(buf);
}

static void query(store_t *s, const store_query_t *q, results_t *out)
{
    bosun_err_t err = {0};
    out->n = 0;
    bosun_status_t rc = store_results(s, q, collect_result, out, &err);
    if (rc != BOSUN_OK)
        fail_msg("store_results: %s", err.msg);
}

static void results_free(results_t *out)
{
    for (size_t i = 0; i < out->n; i++)
        bosun__result__free_unpacked(out->r[i], NULL);
    out->n = 0;
}

/* The results' ids joined with ',' into buf. */
static const char *result_ids(const results_t *r, char *buf, size_t size)
{
    buf[0] = '\0';
    for (size_t i = 0; i < r->n; i++) {
        strncat(buf, r->r[i]->message->id, size - strlen(buf) - 1);
        if (i + 1 < r->n)
            strncat(buf, ",", size - strlen(buf) - 1);
    }
    return buf;
}

static void assert_message_equal(const message_t *a, const message_t *b)
{
    assert_string_equal(a->id, b->id);
    assert_int_equal(a->seq, b->seq);
    assert_string_equal(a->node, b->node);
    assert_string_equal(a->method, b->method);
    assert_int_equal(a->is_event, b->is_event);
    assert_int_equal(a->n_data, b->n_data);
    for (size_t i = 0; i < a->n_data; i++)
        assert_string_equal(a->data[i], b->data[i]);
    assert_int_equal(a->ack_timeout_ms, b->ack_timeout_ms);
    assert_int_equal(a->retries, b->retries);
    assert_int_equal(a->retry_wait_ms, b->retry_wait_ms);
    assert_int_equal(a->max_retry_wait_ms, b->max_retry_wait_ms);
    assert_int_equal(a->method_timeout_ms, b->method_timeout_ms);
    assert_int_equal(a->ttl_ms, b->ttl_ms);
    assert_int_equal(a->accepted_ms, b->accepted_ms);
    assert_int_equal(a->attempts, b->attempts);
    assert_int_equal(a->next_attempt_ms, b->next_attempt_ms);
}

static int setup(void **state)
{
    char *dir = harness_tmpdir("store");
    if (dir == NULL)
        return -1;
    *state = dir;
    return 0;
}

static int teardown(void **state)
{
    harness_rmtree(*state);
    free(*state);
    return 0;
}

/* ---- accept -------------------------------------------------------------------- */

static void test_accept_assigns_seq_and_sortable_ids(void **state)
{
    const char *dir = *state;
    store_t *s = open_store(dir);
    assert_int_equal(store_next_seq(s), 1);

    message_t *msgs[12];
    for (size_t i = 0; i < 12; i++)
        msgs[i] = simple(i % 2 ? "alpha" : "beta");
    /* Two accepts, the second crossing from seq 9 to 10 at a later time. */
    accept_ok(s, msgs, 8, NULL, T0);
    accept_ok(s, msgs + 8, 4, NULL, T0 + 1);
    for (size_t i = 0; i < 12; i++) {
        assert_int_equal(msgs[i]->seq, i + 1);
        assert_int_equal(msgs[i]->accepted_ms, i < 8 ? T0 : T0 + 1);
        char want[MESSAGE_ID_MAX];
        message_make_id(msgs[i]->accepted_ms, msgs[i]->seq, want);
        assert_string_equal(msgs[i]->id, want);
        if (i > 0)
            assert_true(strcmp(msgs[i - 1]->id, msgs[i]->id) < 0);
    }
    assert_int_equal(store_next_seq(s), 13);
    store_close(s);

    /* The sequence continues after a reopen. */
    s = open_store(dir);
    assert_int_equal(store_next_seq(s), 13);
    message_t *more = simple("gamma");
    accept_ok(s, &more, 1, NULL, T0 + 2);
    assert_int_equal(more->seq, 13);
    assert_true(strcmp(msgs[11]->id, more->id) < 0);
    store_close(s);
    message_free(more);
    free_all(msgs, 12);
}

static void test_accept_persists_position_with_messages(void **state)
{
    const char *dir = *state;
    store_t *s = open_store(dir);
    inbox_position_t pos;
    assert_int_equal(store_inbox_position(s, &pos), BOSUN_OK);
    assert_int_equal(pos.inode, 0);
    assert_int_equal(pos.offset, 0);

    message_t *msgs[3] = {simple("a"), simple("b"), simple("c")};
    inbox_reject_t rej[2] = {{(char *)"drop 1: not JSON", (char *)"[{"},
                             {(char *)"drop 2, element 1: missing method", NULL}};
    const inbox_position_t want = {.inode = 0xfedcba9876543210ull, .offset = 1234,
                                   .draining_inode = 7, .draining_offset = 99};
    bosun_err_t err = {0};
    assert_int_equal(store_accept(s, msgs, 3, rej, 2, &want, T0, &err), BOSUN_OK);
    store_close(s);

    s = open_store(dir);
    assert_int_equal(store_inbox_position(s, &pos), BOSUN_OK);
    assert_memory_equal(&pos, &want, sizeof pos);
    pending_t p;
    load_pending(s, &p);
    assert_int_equal(p.n, 3);
    for (size_t i = 0; i < 3; i++)
        assert_message_equal(p.m[i], msgs[i]);
    pending_free(&p);
    store_counts_t c;
    assert_int_equal(store_counts(s, &c), BOSUN_OK);
    assert_int_equal(c.rejected_drops, 2);

    /* A position alone (rotation) replaces it. */
    const inbox_position_t rotated = {.inode = 8, .offset = 0, .draining_inode = 0xfedcba9876543210ull,
                                      .draining_offset = 1234};
    assert_int_equal(store_save_position(s, &rotated, &err), BOSUN_OK);
    store_close(s);
    s = open_store(dir);
    assert_int_equal(store_inbox_position(s, &pos), BOSUN_OK);
    assert_memory_equal(&pos, &rotated, sizeof pos);
    store_close(s);
    free_all(msgs, 3);
}

/* Checks that a failed accept left the store as it was and the messages without ids. */
static void assert_nothing_accepted(store_t *s, message_t **msgs, size_t n, uint64_t next_seq,
                                    const inbox_position_t *old_pos)
{
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(msgs[i]->id, "");
        assert_int_equal(msgs[i]->seq, 0);
    }
    assert_int_equal(store_next_seq(s), next_seq);
    store_counts_t c;
    assert_int_equal(store_counts(s, &c), BOSUN_OK);
    assert_int_equal(c.accepted, next_seq - 1);
    assert_int_equal(c.rejected_drops, 0);
    inbox_position_t pos;
    assert_int_equal(store_inbox_position(s, &pos), BOSUN_OK);
    assert_memory_equal(&pos, old_pos, sizeof pos);
}

static void test_failed_accept_stores_nothing(void **state)
{
    const char *dir = *state;
    store_t *s = open_store(dir);
    const inbox_position_t pos1 = {.inode = 5, .offset = 100};
    message_t *first = simple("a");
    accept_ok(s, &first, 1, &pos1, T0);

    inbox_reject_t rej = {(char *)"bad", (char *)"{}"};
    const inbox_position_t pos2 = {.inode = 5, .offset = 200};
    bosun_err_t err = {0};

    /* The third message violates NOT NULL after two were inserted. */
    message_t *msgs[3] = {simple("b"), simple("c"), simple(NULL)};
    assert_int_equal(store_accept(s, msgs, 3, &rej, 1, &pos2, T0 + 1, &err), BOSUN_ERR_DB);
    assert_non_null(strstr(err.msg, "store: insert message"));
    assert_non_null(strstr(err.msg, "NOT NULL"));
    assert_nothing_accepted(s, msgs, 3, 2, &pos1);

    /* Data that is not UTF-8 could not be read back: refused, nothing stored. */
    msgs[2]->node = strdup("d");
    free(msgs[1]->data[1]);
    msgs[1]->data[1] = strdup("\xff\xfe");
    assert_int_equal(store_accept(s, msgs, 3, &rej, 1, &pos2, T0 + 1, &err), BOSUN_ERR_INVALID);
    assert_nothing_accepted(s, msgs, 3, 2, &pos1);
    free(msgs[1]->data[1]);
    msgs[1]->data[1] = strdup("ok");

    /* The very last step, saving the position, fails: messages and rejects roll back. */
    sqlite3 *raw = raw_open(dir);
    raw_exec(raw, "CREATE TRIGGER boom BEFORE INSERT ON inbox "
                  "BEGIN SELECT RAISE(ABORT, 'disk on fire'); END");
    assert_int_equal(store_accept(s, msgs, 3, &rej, 1, &pos2, T0 + 1, &err), BOSUN_ERR_DB);
    assert_non_null(strstr(err.msg, "store: save inbox position: disk on fire"));
    assert_nothing_accepted(s, msgs, 3, 2, &pos1);
    assert_int_equal(raw_int(raw, "SELECT count(*) FROM messages"), 1);

    /* Once the cause is gone the same messages go, with no gap in seq. */
    raw_exec(raw, "DROP TRIGGER boom");
    accept_ok(s, msgs, 3, &pos2, T0 + 2);
    assert_int_equal(msgs[0]->seq, 2);
    assert_int_equal(msgs[2]->seq, 4);
    sqlite3_close(raw);
    store_close(s);

    s = open_store(dir);
    pending_t p;
    load_pending(s, &p);
    assert_int_equal(p.n, 4);
    assert_message_equal(p.m[0], first);
    for (size_t i = 0; i < 3; i++)
        assert_message_equal(p.m[i + 1], msgs[i]);
    pending_free(&p);
    inbox_position_t pos;
    assert_int_equal(store_inbox_position(s, &pos), BOSUN_OK);
    assert_memory_equal(&pos, &pos2, sizeof pos);
    store_close(s);
    message_free(first);
    free_all(msgs, 3);
}

/* ---- reading back ------------------------------------------------------------- */

static void test_load_pending_round_trip(void **state)
{
    const char *dir = *state;
    store_t *s = open_store(dir);
    static const char *const uni[] = {"héllo wörld", "日本語", "rocket \xf0\x9f\x9a\x80",
                                      "quote \" backslash \\ tab \t nl \n", ""};
    message_t *msgs[4] = {
        new_message("node-1", "ping", 0, NULL),
        new_message("node-2", "shellCommand", 5, uni),
        new_message("node-1", "textLogging", 1, (const char *const[]){"x"}),
        new_message("node-3", "alarm", 0, NULL),
    };
    msgs[1]->retries = -1;
    msgs[1]->ttl_ms = 0;
    msgs[1]->ack_timeout_ms = (1ull << 40) + 3;
    msgs[2]->attempts = 3;
    msgs[2]->next_attempt_ms = T0 + 777;
    msgs[3]->is_event = true;
    accept_ok(s, msgs, 2, NULL, T0);
    accept_ok(s, msgs + 2, 2, NULL, T0 + 5);
    store_close(s);

    s = open_store(dir);
    pending_t p;
    load_pending(s, &p);
    assert_int_equal(p.n, 4);
    for (size_t i = 0; i < 4; i++)
        assert_message_equal(p.m[i], msgs[i]);
    assert_int_equal(p.m[0]->n_data, 0);
    assert_string_equal(p.m[1]->data[1], "日本語");
    pending_free(&p);
    store_close(s);
    free_all(msgs, 4);
}

static Bosun__Ack *make_ack(const char *id)
{
    static uint8_t out[] = {'o', 'k', 0, 0xff, '\n'};
    static uint8_t errb[] = "warning: ✓";
    Bosun__Ack *a = calloc(1, sizeof *a);
    assert_non_null(a);
    bosun__ack__init(a);
    a->id = (char *)id;
    a->node = (char *)"b";
    a->method = (char *)"shellCommand";
    a->status = BOSUN__ACK_STATUS__ACK_STATUS_FAILED;
    a->exit_code = -3;
    a->stdout.data = out;
    a->stdout.len = sizeof out;
    a->stderr.data = errb;
    a->stderr.len = sizeof errb - 1;
    a->stdout_truncated = true;
    a->start_ms = T0 + 10;
    a->end_ms = T0 + 20;
    a->error = (char *)"";
    a->recv_time_us = 123456789;
    a->reply_time_us = 123456999;
    a->instance_id = 0xdeadbeefcafef00dull;
    a->term_signal = 9;
    return a;
}

static void test_finish_flush_results_with_ack(void **state)
{
    const char *dir = *state;
    store_t *s = open_store(dir);
    message_t *msgs[3] = {simple("a"), simple("b"), simple("c")};
    accept_ok(s, msgs, 3, NULL, T0);

    /*
     * An empty flush touches nothing: it returns at once even while another
     * connection holds the write lock (starting a write would wait 5 s and fail).
     */
    sqlite3 *raw = raw_open(dir);
    raw_exec(raw, "BEGIN IMMEDIATE");
    bosun_err_t err = {0};
    assert_int_equal(store_flush(s, &err), BOSUN_OK);
    raw_exec(raw, "COMMIT");
    sqlite3_close(raw);

    Bosun__Ack *ack = make_ack(msgs[1]->id);
    size_t ack_len = bosun__ack__get_packed_size(ack);
    uint8_t *ack_bytes = malloc(ack_len);
    assert_non_null(ack_bytes);
    bosun__ack__pack(ack, ack_bytes);

    msgs[1]->attempts = 2;
    assert_int_equal(store_finish(s, msgs[1], BOSUN__ACK_STATUS__ACK_STATUS_FAILED, ack,
                                  "exit code -3", T0 + 30),
                     BOSUN_OK);
    free(ack); /* the store copied what it needs */
    msgs[2]->attempts = 4;
    assert_int_equal(store_finish(s, msgs[2], BOSUN__ACK_STATUS__ACK_STATUS_EXPIRED, NULL,
                                  "ttl ran out", T0 + 40),
                     BOSUN_OK);
    flush_ok(s);
    store_close(s);

    s = open_store(dir);
    pending_t p;
    load_pending(s, &p);
    assert_int_equal(p.n, 1);
    assert_string_equal(p.m[0]->id, msgs[0]->id);
    pending_free(&p);

    results_t r;
    query(s, &(store_query_t){0}, &r);
    assert_int_equal(r.n, 2);
    const Bosun__Result *r1 = r.r[0];
    assert_string_equal(r1->message->id, msgs[1]->id);
    assert_string_equal(r1->message->node, "b");
    assert_string_equal(r1->message->method, "shellCommand");
    assert_int_equal(r1->message->n_data, 2);
    assert_string_equal(r1->message->data[0], "echo");
    assert_string_equal(r1->message->data[1], "hi");
    assert_int_equal(r1->message->kind, BOSUN__MESSAGE_KIND__MESSAGE_KIND_COMMAND);
    assert_int_equal(r1->message->created_ms, T0);
    assert_int_equal(r1->message->ttl_ms, 3600000);
    assert_int_equal(r1->message->method_timeout_ms, 60000);
    assert_int_equal(r1->status, BOSUN__ACK_STATUS__ACK_STATUS_FAILED);
    assert_int_equal(r1->attempts, 2);
    assert_int_equal(r1->accepted_ms, T0);
    assert_int_equal(r1->finished_ms, T0 + 30);
    assert_string_equal(r1->error, "exit code -3");
    assert_non_null(r1->ack);
    size_t got_len = bosun__ack__get_packed_size(r1->ack);
    uint8_t *got = malloc(got_len);
    assert_non_null(got);
    bosun__ack__pack(r1->ack, got);
    assert_int_equal(got_len, ack_len);
    assert_memory_equal(got, ack_bytes, ack_len);
    free(got);

    const Bosun__Result *r2 = r.r[1];
    assert_string_equal(r2->message->id, msgs[2]->id);
    assert_int_equal(r2->status, BOSUN__ACK_STATUS__ACK_STATUS_EXPIRED);
    assert_null(r2->ack);
    assert_int_equal(r2->attempts, 4);
    assert_string_equal(r2->error, "ttl ran out");
    results_free(&r);
    store_close(s);
    free(ack_bytes);
    free_all(msgs, 3);
}

static void test_attempts_survive_reopen(void **state)
{
    const char *dir = *state;
    store_t *s = open_store(dir);
    message_t *m = simple("a");
    message_t *other = simple("b");
    assert_int_equal(store_attempt(s, m, T0, "sent"), BOSUN_ERR_INVALID); /* not accepted */
    message_t *both[2] = {m, other};
    accept_ok(s, both, 2, NULL, T0);

    m->attempts = 1;
    m->next_attempt_ms = T0 + 500;
    assert_int_equal(store_attempt(s, m, T0 + 1, "timeout"), BOSUN_OK);
    m->attempts = 2;
    m->next_attempt_ms = T0 + 1500;
    assert_int_equal(store_attempt(s, m, T0 + 501, "no responders"), BOSUN_OK);
    flush_ok(s);
    store_close(s);

    s = open_store(dir);
    pending_t p;
    load_pending(s, &p);
    assert_int_equal(p.n, 2);
    assert_message_equal(p.m[0], m);
    assert_int_equal(p.m[0]->attempts, 2);
    assert_int_equal(p.m[0]->next_attempt_ms, T0 + 1500);
    assert_int_equal(p.m[1]->attempts, 0); /* untouched */
    pending_free(&p);
    store_close(s);

    sqlite3 *raw = raw_open(dir);
    assert_int_equal(raw_int(raw, "SELECT count(*) FROM attempts WHERE message_seq = 1"), 2);
    assert_int_equal(raw_int(raw, "SELECT sent_ms FROM attempts WHERE n = 2"), (int64_t)(T0 + 501));
    sqlite3_close(raw);
    message_free(m);
    message_free(other);
}

/* Documented semantics: what store_flush() did not commit is lost on close. */
static void test_unflushed_finish_is_lost(void **state)
{
    const char *dir = *state;
    store_t *s = open_store(dir);
    message_t *msgs[2] = {simple("a"), simple("b")};
    accept_ok(s, msgs, 2, NULL, T0);
    assert_int_equal(store_finish(s, msgs[0], BOSUN__ACK_STATUS__ACK_STATUS_OK, NULL, NULL, T0 + 1),
                     BOSUN_OK);
    assert_int_equal(store_attempt(s, msgs[1], T0 + 1, "sent"), BOSUN_OK);
    store_close(s);

    s = open_store(dir);
    pending_t p;
    load_pending(s, &p);
    assert_int_equal(p.n, 2);
    assert_string_equal(p.m[0]->id, msgs[0]->id);
    pending_free(&p);
    results_t r;
    query(s, &(store_query_t){0}, &r);
    assert_int_equal(r.n, 0);
    store_close(s);
    free_all(msgs, 2);
}

/* A flush that fails stores none of its batch and keeps it for the next try. */
static void test_failed_flush_keeps_batch(void **state)
{
    const char *dir = *state;
    store_t *s = open_store(dir);
    message_t *msgs[2] = {simple("a"), simple("b")};
    accept_ok(s, msgs, 2, NULL, T0);
    msgs[0]->attempts = 1;
    assert_int_equal(store_attempt(s, msgs[0], T0 + 1, "sent"), BOSUN_OK);
    assert_int_equal(store_finish(s, msgs[0], BOSUN__ACK_STATUS__ACK_STATUS_OK, NULL, NULL, T0 + 2),
                     BOSUN_OK);
    assert_int_equal(store_finish(s, msgs[1], BOSUN__ACK_STATUS__ACK_STATUS_OK, NULL, NULL, T0 + 3),
                     BOSUN_OK);

    sqlite3 *raw = raw_open(dir);
    raw_exec(raw, "CREATE TRIGGER boom BEFORE UPDATE OF finished_ms ON messages "
                  "WHEN NEW.seq = 2 BEGIN SELECT RAISE(ABORT, 'no space'); END");
    bosun_err_t err = {0};
    assert_int_equal(store_flush(s, &err), BOSUN_ERR_DB);
    assert_non_null(strstr(err.msg, "store: flush result of message 2: no space"));
    assert_int_equal(raw_int(raw, "SELECT count(*) FROM attempts"), 0);
    assert_int_equal(raw_int(raw, "SELECT count(*) FROM messages WHERE finished_ms IS NULL"), 2);
    assert_int_equal(raw_int(raw, "SELECT attempts FROM messages WHERE seq = 1"), 0);

    raw_exec(raw, "DROP TRIGGER boom");
    flush_ok(s);
    assert_int_equal(raw_int(raw, "SELECT count(*) FROM attempts"), 1);
    assert_int_equal(raw_int(raw, "SELECT count(*) FROM messages WHERE finished_ms IS NULL"), 0);
    assert_int_equal(raw_int(raw, "SELECT attempts FROM messages WHERE seq = 1"), 1);
    sqlite3_close(raw);
    store_close(s);
    free_all(msgs, 2);
}

/* Checks that query q returns exactly the messages msgs[k-1] for each k in want ("1,3"). */
static void expect_results(store_t *s, const store_query_t *q, message_t *const *msgs,
                           const char *want)
{
    char want_ids[512] = "", got_ids[512];
    for (const char *p = want; *p != '\0';) {
        char *end;
        unsigned long k = strtoul(p, &end, 10);
        if (want_ids[0] != '\0')
            strcat(want_ids, ",");
        strcat(want_ids, msgs[k - 1]->id);
        p = *end == ',' ? end + 1 : end;
    }
    results_t r;
    query(s, q, &r);
    assert_string_equal(result_ids(&r, got_ids, sizeof got_ids), want_ids);
    results_free(&r);
}

static void test_results_filters(void **state)
{
    const char *dir = *state;
    store_t *s = open_store(dir);
    const char *nodes[6] = {"a", "b", "a", "b", "a", "c"};
    message_t *msgs[6];
    for (size_t i = 0; i < 6; i++)
        msgs[i] = simple(nodes[i]);
    accept_ok(s, msgs, 6, NULL, T0);
    /* Finished: 1 (a) at +10, 2 (b) at +20, 3 (a) at +30, 4 (b) at +40; pending: 5 (a), 6 (c). */
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(store_finish(s, msgs[i], BOSUN__ACK_STATUS__ACK_STATUS_OK, NULL, NULL,
                                      T0 + 10 * (i + 1)),
                         BOSUN_OK);
    flush_ok(s);

    expect_results(s, &(store_query_t){0}, msgs, "1,2,3,4");
    expect_results(s, &(store_query_t){.include_pending = true}, msgs, "1,2,3,4,5,6");
    expect_results(s, &(store_query_t){.node = "a"}, msgs, "1,3");
    expect_results(s, &(store_query_t){.node = "a", .include_pending = true}, msgs, "1,3,5");
    expect_results(s, &(store_query_t){.node = "c"}, msgs, "");
    expect_results(s, &(store_query_t){.node = "c", .include_pending = true}, msgs, "6");
    expect_results(s, &(store_query_t){.node = "zz", .include_pending = true}, msgs, "");
    expect_results(s, &(store_query_t){.id = msgs[1]->id}, msgs, "2");
    expect_results(s, &(store_query_t){.id = msgs[4]->id}, msgs, "");
    expect_results(s, &(store_query_t){.id = msgs[4]->id, .include_pending = true}, msgs, "5");
    expect_results(s, &(store_query_t){.id = msgs[1]->id, .node = "a"}, msgs, "");
    expect_results(s, &(store_query_t){.since_ms = T0 + 30}, msgs, "3,4");
    expect_results(s, &(store_query_t){.since_ms = T0 + 31}, msgs, "4");
    expect_results(s, &(store_query_t){.since_ms = T0 + 30, .include_pending = true}, msgs, "3,4,5,6");
    expect_results(s, &(store_query_t){.since_ms = T0 + 20, .node = "b"}, msgs, "2,4");
    expect_results(s, &(store_query_t){.limit = 3}, msgs, "1,2,3");
    expect_results(s, &(store_query_t){.limit = 2, .include_pending = true, .since_ms = T0 + 40}, msgs, "4,5");
    expect_results(s, &(store_query_t){.limit = 1, .node = "b"}, msgs, "2");
    /* Newest first: the HTTP API's "latest N", for one node or all. */
    expect_results(s, &(store_query_t){.newest_first = true}, msgs, "4,3,2,1");
    expect_results(s, &(store_query_t){.newest_first = true, .include_pending = true, .limit = 2}, msgs, "6,5");
    expect_results(s, &(store_query_t){.newest_first = true, .include_pending = true, .node = "a", .limit = 2},
                   msgs, "5,3");
    expect_results(s, &(store_query_t){.newest_first = true, .node = "b", .limit = 10}, msgs, "4,2");
    store_close(s);
    free_all(msgs, 6);
}

static void test_counts(void **state)
{
    const char *dir = *state;
    store_t *s = open_store(dir);
    store_counts_t c;
    assert_int_equal(store_check(s), BOSUN_OK); /* readable, also when empty */
    assert_int_equal(store_counts(s, &c), BOSUN_OK);
    assert_int_equal(c.accepted, 0);
    assert_int_equal(c.pending, 0);

    message_t *msgs[7];
    for (size_t i = 0; i < 7; i++)
        msgs[i] = simple("n");
    inbox_reject_t rej[3] = {{(char *)"r1", NULL}, {(char *)"r2", NULL}, {(char *)"r3", NULL}};
    bosun_err_t err = {0};
    assert_int_equal(store_accept(s, msgs, 7, rej, 3, NULL, T0, &err), BOSUN_OK);
    Bosun__AckStatus st[4] = {BOSUN__ACK_STATUS__ACK_STATUS_OK, BOSUN__ACK_STATUS__ACK_STATUS_OK,
                              BOSUN__ACK_STATUS__ACK_STATUS_EXPIRED,
                              BOSUN__ACK_STATUS__ACK_STATUS_TIMEOUT};
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(store_finish(s, msgs[i], st[i], NULL, NULL, T0 + 1), BOSUN_OK);
    flush_ok(s);
    assert_int_equal(store_counts(s, &c), BOSUN_OK);
    assert_int_equal(c.accepted, 7);
    assert_int_equal(c.pending, 3);
    assert_int_equal(c.rejected_drops, 3);
    assert_int_equal(c.by_status[BOSUN__ACK_STATUS__ACK_STATUS_OK], 2);
    assert_int_equal(c.by_status[BOSUN__ACK_STATUS__ACK_STATUS_EXPIRED], 1);
    assert_int_equal(c.by_status[BOSUN__ACK_STATUS__ACK_STATUS_TIMEOUT], 1);
    assert_int_equal(c.by_status[BOSUN__ACK_STATUS__ACK_STATUS_FAILED], 0);
    assert_int_equal(c.by_status[BOSUN__ACK_STATUS__ACK_STATUS_UNSPECIFIED], 0);
    store_close(s);
    free_all(msgs, 7);
}

/* ---- read-only handle, schema ---------------------------------------------------- */

static void test_readonly_beside_writer(void **state)
{
    const char *dir = *state;
    store_t *ro = NULL;
    bosun_err_t err = {0};
    /* Nothing to read yet: an error, and no database is created. */
    assert_int_equal(store_open_readonly(dir, &ro, &err), BOSUN_ERR_DB);
    assert_null(ro);
    assert_non_null(strstr(err.msg, "store: cannot open"));
    char path[512];
    snprintf(path, sizeof path, "%s/central.db", dir);
    assert_int_equal(access(path, F_OK), -1);

    store_t *w = open_store(dir);
    message_t *msgs[3] = {simple("a"), simple("b"), simple("c")};
    accept_ok(w, msgs, 2, &(inbox_position_t){.inode = 1, .offset = 10}, T0);

    assert_int_equal(store_open_readonly(dir, &ro, &err), BOSUN_OK);
    results_t r;
    query(ro, &(store_query_t){.include_pending = true}, &r);
    assert_int_equal(r.n, 2);
    results_free(&r);

    /* The writer goes on; the reader sees each commit as it lands. */
    accept_ok(w, msgs + 2, 1, &(inbox_position_t){.inode = 1, .offset = 20}, T0 + 1);
    assert_int_equal(store_finish(w, msgs[0], BOSUN__ACK_STATUS__ACK_STATUS_OK, NULL, NULL, T0 + 2),
                     BOSUN_OK);
    query(ro, &(store_query_t){0}, &r);
    assert_int_equal(r.n, 0); /* not flushed yet */
    results_free(&r);
    flush_ok(w);
    query(ro, &(store_query_t){0}, &r);
    assert_int_equal(r.n, 1);
    assert_string_equal(r.r[0]->message->id, msgs[0]->id);
    results_free(&r);
    store_counts_t c;
    assert_int_equal(store_counts(ro, &c), BOSUN_OK);
    assert_int_equal(c.accepted, 3);
    assert_int_equal(c.pending, 2);
    inbox_position_t pos;
    assert_int_equal(store_inbox_position(ro, &pos), BOSUN_OK);
    assert_int_equal(pos.offset, 20);

    /* It cannot write. */
    message_t *extra = simple("d");
    assert_int_equal(store_accept(ro, &extra, 1, NULL, 0, NULL, T0 + 3, &err), BOSUN_ERR_DB);
    assert_non_null(strstr(err.msg, "store: "));
    assert_string_equal(extra->id, "");
    message_free(extra);
    /* A flush with something queued cannot write either. */
    assert_int_equal(store_finish(ro, msgs[1], BOSUN__ACK_STATUS__ACK_STATUS_OK, NULL, NULL, T0 + 4),
                     BOSUN_OK);
    assert_int_equal(store_flush(ro, &err), BOSUN_ERR_DB);

    store_close(ro);
    store_close(w);
    free_all(msgs, 3);
}

static void test_newer_schema_refused(void **state)
{
    const char *dir = *state;
    store_close(open_store(dir));
    sqlite3 *raw = raw_open(dir);
    raw_exec(raw, "PRAGMA user_version = 99");
    sqlite3_close(raw);
    store_t *s = NULL;
    bosun_err_t err = {0};
    assert_int_equal(store_open(dir, &s, &err), BOSUN_ERR_DB);
    assert_null(s);
    assert_non_null(strstr(err.msg, "schema version 99"));
    assert_int_equal(store_open_readonly(dir, &s, &err), BOSUN_ERR_DB);
    assert_null(s);
}

/* ---- crash ------------------------------------------------------------------------- */

#define CRASH_BATCH_MAX 40
#define CRASH_ROUNDS 4

/*
 * The child: accepts batches forever. Message seq k goes to node "n<k>" with
 * data ["<k>"]; the inbox offset after a batch is the last seq in it. After
 * each accept that returned OK it writes that seq to fd.
 */
static void crash_child(const char *dir, int fd, unsigned seed)
{
    store_t *s = NULL;
    bosun_err_t err;
    if (store_open(dir, &s, &err) != BOSUN_OK)
        _exit(2);
    message_t *msgs[CRASH_BATCH_MAX];
    for (;;) {
        size_t n = 1 + (size_t)rand_r(&seed) % CRASH_BATCH_MAX;
        uint64_t first = store_next_seq(s);
        for (size_t i = 0; i < n; i++) {
            char node[32], data[32];
            snprintf(node, sizeof node, "n%llu", (unsigned long long)(first + i));
            snprintf(data, sizeof data, "%llu", (unsigned long long)(first + i));
            const char *d = data;
            msgs[i] = message_new();
            msgs[i]->node = strdup(node);
            msgs[i]->method = strdup("ping");
            msgs[i]->data = malloc(sizeof *msgs[i]->data);
            msgs[i]->data[0] = strdup(d);
            msgs[i]->n_data = 1;
        }
        uint64_t last = first + n - 1;
        inbox_position_t pos = {.inode = 77, .offset = last};
        if (store_accept(s, msgs, n, NULL, 0, &pos, T0 + last, &err) != BOSUN_OK)
            _exit(3);
        if (write(fd, &last, sizeof last) != (ssize_t)sizeof last)
            _exit(4);
        for (size_t i = 0; i < n; i++)
            message_free(msgs[i]);
    }
}

/* Reads every seq the child reported; returns the last (0 if none). */
static uint64_t drain_reports(int fd)
{
    uint64_t last = 0, v;
    ssize_t got;
    while ((got = read(fd, &v, sizeof v)) == (ssize_t)sizeof v)
        last = v;
    assert_true(got == 0);
    return last;
}

static void test_crash_loses_no_accepted_message(void **state)
{
    const char *dir = *state;
    unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
    uint64_t prev_total = 0;
    for (int round = 0; round < CRASH_ROUNDS; round++) {
        int fds[2];
        assert_int_equal(pipe(fds), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            crash_child(dir, fds[1], seed + (unsigned)round);
        }
        close(fds[1]);
        /* Wait for the first report, so the child is surely accepting, then a random while. */
        uint64_t first_report;
        assert_int_equal(read(fds[0], &first_report, sizeof first_report), (ssize_t)sizeof first_report);
        struct timespec ts = {0, (long)(rand_r(&seed) % 150 + 1) * 1000000L};
        nanosleep(&ts, NULL);
        assert_int_equal(kill(pid, SIGKILL), 0);
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        uint64_t last_ok = drain_reports(fds[0]);
        if (last_ok == 0)
            last_ok = first_report;
        close(fds[0]);

        store_t *s = open_store(dir);
        uint64_t total = store_next_seq(s) - 1;
        /* Every acknowledged accept is there; at most one more batch got in unreported. */
        assert_true(total >= last_ok);
        assert_true(total <= last_ok + CRASH_BATCH_MAX);
        assert_true(total > prev_total);
        /* The position is the one committed with the last batch. */
        inbox_position_t pos;
        assert_int_equal(store_inbox_position(s, &pos), BOSUN_OK);
        assert_int_equal(pos.inode, 77);
        assert_int_equal(pos.offset, total);
        /* Every message is whole, and seq runs 1..total without gaps. */
        sqlite3 *raw = raw_open(dir);
        assert_int_equal(raw_int(raw, "SELECT count(*) FROM messages"), (int64_t)total);
        assert_int_equal(raw_int(raw, "SELECT count(*) FROM messages WHERE node <> 'n' || seq "
                                      "OR data <> '[\"' || seq || '\"]'"),
                         0);
        sqlite3_close(raw);
        store_close(s);
        fprintf(stderr, "# crash round %d: killed after %llu acknowledged, %llu stored\n", round,
                (unsigned long long)last_ok, (unsigned long long)total);
        prev_total = total;
    }
}

/* ---- rates (printed, not asserted) ------------------------------------------------ */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#define BENCH_N 100000
#define BENCH_ACCEPT_BATCH 1000
#define BENCH_FINISH_BATCH 500

static void test_rates(void **state)
{
    const char *dir = *state;
    store_t *s = open_store(dir);
    message_t *batch[BENCH_ACCEPT_BATCH];
    static const char *const data[] = {"/usr/bin/true", "--flag"};
    for (size_t i = 0; i < BENCH_ACCEPT_BATCH; i++) {
        char node[16];
        snprintf(node, sizeof node, "node-%02zu", i % 50);
        batch[i] = new_message(node, "ping", 2, data);
    }
    double t = now_s();
    for (uint64_t done = 0; done < BENCH_N; done += BENCH_ACCEPT_BATCH) {
        inbox_position_t pos = {.inode = 1, .offset = done * 100};
        accept_ok(s, batch, BENCH_ACCEPT_BATCH, &pos, T0 + done);
    }
    double accept_s = now_s() - t;
    free_all(batch, BENCH_ACCEPT_BATCH);
    assert_int_equal(store_next_seq(s), BENCH_N + 1);

    message_t *m = simple("node-00");
    Bosun__Ack *ack = make_ack("x");
    bosun_err_t err = {0};
    t = now_s();
    for (uint64_t seq = 1; seq <= BENCH_N; seq++) {
        m->seq = seq;
        m->attempts = 1;
        assert_int_equal(store_finish(s, m, BOSUN__ACK_STATUS__ACK_STATUS_OK, ack, NULL, T0 + seq),
                         BOSUN_OK);
        if (seq % BENCH_FINISH_BATCH == 0)
            assert_int_equal(store_flush(s, &err), BOSUN_OK);
    }
    double finish_s = now_s() - t;
    free(ack);
    message_free(m);

    store_counts_t c;
    assert_int_equal(store_counts(s, &c), BOSUN_OK);
    assert_int_equal(c.pending, 0);
    assert_int_equal(c.by_status[BOSUN__ACK_STATUS__ACK_STATUS_OK], BENCH_N);
    store_close(s);
    fprintf(stderr, "# accept: %d messages in batches of %d: %.0f messages/s\n", BENCH_N,
            BENCH_ACCEPT_BATCH, BENCH_N / accept_s);
    fprintf(stderr, "# finish+flush: %d messages in batches of %d: %.0f messages/s\n", BENCH_N,
            BENCH_FINISH_BATCH, BENCH_N / finish_s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_accept_assigns_seq_and_sortable_ids, setup, teardown),
        cmocka_unit_test_setup_teardown(test_accept_persists_position_with_messages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_accept_stores_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_load_pending_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_finish_flush_results_with_ack, setup, teardown),
        cmocka_unit_test_setup_teardown(test_attempts_survive_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unflushed_finish_is_lost, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_flush_keeps_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_results_filters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_counts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_readonly_beside_writer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_newer_schema_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_loses_no_accepted_message, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rates, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
