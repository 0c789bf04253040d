/*
 * test_inbox.c - central/inbox.c: the inmsg.txt parser (drops, fields,
 * defaults, reasons, broken and incomplete input, byte-by-byte feeding) and
 * the file follower on real files in a fresh temporary directory (appends
 * while reading, crash and reopen, rotation and draining, incomplete tails).
 * The follower's timers run on a fake clock passed as now_ms.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "harness.h"
#include "inbox.h"

static const bosun_delivery_config_t DEFAULTS = {
    .ack_timeout_secs = 5,
    .retries = -1,
    .retry_wait_secs = 1,
    .max_retry_wait_secs = 30,
    .method_timeout_secs = 60,
    .ttl_secs = 86400,
};

/* steward's README examples, as `cat myfile.json >> inmsg.txt` leaves them. */
static const char STEWARD_ONE[] = "[\n"
                                  "    {\n"
                                  "        \n"
                                  "        \"toNode\": \"ship1\",\n"
                                  "        \"data\": [\"bash\",\"-c\",\"ls -l ../\"],\n"
                                  "        \"commandOrEvent\":\"command\",\n"
                                  "        \"method\":\"shellCommand\"\n"
                                  "            \n"
                                  "    }\n"
                                  "]\n";
static const char STEWARD_TWO[] = "[\n"
                                  "    {\n"
                                  "        \n"
                                  "        \"toNode\": \"ship1\",\n"
                                  "        \"data\": [\"bash\",\"-c\",\"ls -l ../\"],\n"
                                  "        \"commandOrEvent\":\"command\",\n"
                                  "        \"method\":\"shellCommand\"\n"
                                  "            \n"
                                  "    },\n"
                                  "    {\n"
                                  "        \n"
                                  "        \"toNode\": \"ship2\",\n"
                                  "        \"data\": [\"bash\",\"-c\",\"ls -l ../\"],\n"
                                  "        \"commandOrEvent\":\"command\",\n"
                                  "        \"method\":\"shellCommand\"\n"
                                  "            \n"
                                  "    }\n"
                                  "]\n";
static const char STEWARD_EVENT[] = "[\n"
                                    "    {\n"
                                    "        \"toNode\": \"central\",\n"
                                    "        \"data\": [\"some message sent from a ship for testing\\n\"],\n"
                                    "        \"commandOrEvent\":\"event\",\n"
                                    "        \"method\":\"textLogging\"\n"
                                    "    }\n"
                                    "]\n";

#define PING(node) "[{\"toNode\":\"" node "\",\"method\":\"ping\"}]"

/* Parses all of text in one call. */
static void parse(const char *text, bool final, inbox_batch_t *b)
{
    inbox_batch_init(b);
    assert_int_equal(inbox_parse(text, strlen(text), final, 1, &DEFAULTS, b), BOSUN_OK);
}

/* ---- parsing --------------------------------------------------------------- */

static void test_parse_one_drop(void **state)
{
    (void)state;
    inbox_batch_t b;
    parse(STEWARD_ONE, false, &b);
    assert_int_equal(b.consumed, strlen(STEWARD_ONE));
    assert_int_equal(b.drops, 1);
    assert_int_equal(b.n_rejects, 0);
    assert_int_equal(b.n_messages, 1);
    const message_t *m = b.messages[0];
    assert_string_equal(m->node, "ship1");
    assert_string_equal(m->method, "shellCommand");
    assert_false(m->is_event);
    assert_int_equal(m->n_data, 3);
    assert_string_equal(m->data[0], "bash");
    assert_string_equal(m->data[2], "ls -l ../");
    assert_string_equal(m->id, "");
    inbox_batch_free(&b);
    assert_int_equal(b.n_messages, 0);
}

static void test_parse_back_to_back_drops(void **state)
{
    (void)state;
    const char *texts[] = {
        PING("a") PING("b") PING("c"),
        PING("a") "\n" PING("b") "\n\n" PING("c") "\n",
        "\n  " PING("a") " \t\r\n" PING("b") "\r\n   " PING("c") "   \n\n",
    };
    for (size_t t = 0; t < sizeof texts / sizeof texts[0]; t++) {
        inbox_batch_t b;
        parse(texts[t], false, &b);
        assert_int_equal(b.consumed, strlen(texts[t]));
        assert_int_equal(b.drops, 3);
        assert_int_equal(b.n_rejects, 0);
        assert_int_equal(b.n_messages, 3);
        assert_string_equal(b.messages[0]->node, "a");
        assert_string_equal(b.messages[1]->node, "b");
        assert_string_equal(b.messages[2]->node, "c");
        inbox_batch_free(&b);
    }
    /* Nothing but space is all consumed; an empty array is a drop without messages. */
    inbox_batch_t b;
    parse(" \n\n ", false, &b);
    assert_int_equal(b.consumed, 4);
    assert_int_equal(b.drops, 0);
    inbox_batch_free(&b);
    parse("[]\n", false, &b);
    assert_int_equal(b.consumed, 3);
    assert_int_equal(b.drops, 1);
    assert_int_equal(b.n_messages + b.n_rejects, 0);
    inbox_batch_free(&b);
}

static void test_parse_to_nodes_makes_one_message_each(void **state)
{
    (void)state;
    inbox_batch_t b;
    parse("[{\"toNodes\":[\"n1\",\"n2\",\"n3\"],\"method\":\"shellCommand\",\"data\":[\"true\"],"
          "\"ttl\":60}]",
          false, &b);
    assert_int_equal(b.n_rejects, 0);
    assert_int_equal(b.n_messages, 3);
    for (size_t i = 0; i < 3; i++) {
        char name[8];
        snprintf(name, sizeof name, "n%zu", i + 1);
        assert_string_equal(b.messages[i]->node, name);
        assert_string_equal(b.messages[i]->method, "shellCommand");
        assert_int_equal(b.messages[i]->n_data, 1);
        assert_string_equal(b.messages[i]->data[0], "true");
        assert_int_equal(b.messages[i]->ttl_ms, 60000);
    }
    assert_ptr_not_equal(b.messages[0]->data[0], b.messages[1]->data[0]);
    inbox_batch_free(&b);
}

static void test_parse_defaults_and_overrides_in_ms(void **state)
{
    (void)state;
    inbox_batch_t b;
    parse("[{\"toNode\":\"a\",\"method\":\"ping\"},"
          "{\"toNode\":\"b\",\"method\":\"ping\",\"commandOrEvent\":\"event\",\"ackTimeout\":2.5,"
          "\"retries\":3,\"retryWait\":0.2,\"methodTimeout\":10,\"ttl\":0.0001}]",
          false, &b);
    assert_int_equal(b.n_rejects, 0);
    assert_int_equal(b.n_messages, 2);
    const message_t *d = b.messages[0];
    assert_false(d->is_event);
    assert_int_equal(d->n_data, 0);
    assert_int_equal(d->ack_timeout_ms, 5000);
    assert_int_equal(d->retries, -1);
    assert_int_equal(d->retry_wait_ms, 1000);
    assert_int_equal(d->max_retry_wait_ms, 30000);
    assert_int_equal(d->method_timeout_ms, 60000);
    assert_int_equal(d->ttl_ms, 86400000);
    const message_t *o = b.messages[1];
    assert_true(o->is_event);
    assert_int_equal(o->ack_timeout_ms, 2500);
    assert_int_equal(o->retries, 3);
    assert_int_equal(o->retry_wait_ms, 200);
    assert_int_equal(o->max_retry_wait_ms, 30000);
    assert_int_equal(o->method_timeout_ms, 10000);
    assert_int_equal(o->ttl_ms, 1); /* a positive ttl never rounds to 0 ("never expires") */
    inbox_batch_free(&b);
}

static void test_parse_validation_reasons(void **state)
{
    (void)state;
    static const struct {
        const char *element;
        const char *reason;
    } cases[] = {
        {"{\"toNode\":\"a.b\",\"method\":\"ping\"}",
         "toNode 'a.b' has a character not allowed at position 2 (0x2e); expected only [A-Za-z0-9_-]"},
        {"{\"toNode\":\"\",\"method\":\"ping\"}", "toNode is empty; expected 1 to 64 of [A-Za-z0-9_-]"},
        {"{\"toNode\":5,\"method\":\"ping\"}", "'toNode' must be a node name, got 5"},
        {"{\"toNode\":\"a\"}", "missing 'method'"},
        {"{\"method\":\"ping\"}", "missing 'toNode' (or 'toNodes')"},
        {"{\"tonode\":\"a\",\"method\":\"ping\"}", "unknown field 'tonode' (did you mean 'toNode'?)"},
        {"{\"toNode\":\"a\",\"methd\":\"ping\"}", "unknown field 'methd' (did you mean 'method'?)"},
        {"{\"toNode\":\"a\",\"method\":\"ping\",\"ttlSecs\":5}", "unknown field 'ttlSecs'"},
        {"{\"toNode\":\"a\",\"method\":\"ping\",\"colour\":1}", "unknown field 'colour'"},
        {"{\"toNode\":\"a\",\"method\":\"ping\",\"data\":\"ls\"}",
         "'data' must be an array of strings, got \"ls\""},
        {"{\"toNode\":\"a\",\"method\":\"ping\",\"data\":[\"ls\",1]}",
         "'data' must be an array of strings; entry 2 is 1"},
        {"{\"toNode\":\"a\",\"method\":\"ping\",\"commandOrEvent\":\"cmd\"}",
         "'commandOrEvent' must be \"command\" or \"event\", got \"cmd\""},
        {"{\"toNode\":\"a\",\"toNodes\":[\"b\"],\"method\":\"ping\"}",
         "give 'toNode' or 'toNodes', not both"},
        {"{\"toNodes\":[],\"method\":\"ping\"}",
         "'toNodes' must be a non-empty array of node names, got an empty array"},
        {"{\"toNodes\":\"a\",\"method\":\"ping\"}",
         "'toNodes' must be a non-empty array of node names, got \"a\""},
        {"{\"toNodes\":[\"a\",\"b c\"],\"method\":\"ping\"}",
         "toNodes entry 2 'b c' has a character not allowed at position 2 (0x20); expected only [A-Za-z0-9_-]"},
        {"{\"toNodes\":[\"a\",\"b\",\"a\"],\"method\":\"ping\"}",
         "'toNodes' lists 'a' more than once"},
        {"{\"toNode\":\"a\",\"method\":\"ping.x\"}",
         "method 'ping.x' has a character not allowed at position 5 (0x2e); expected only [A-Za-z0-9_-]"},
        {"{\"toNode\":\"a\",\"method\":null}", "'method' must be a method name, got null"},
        {"{\"toNode\":\"a\",\"method\":\"ping\",\"ackTimeout\":0}",
         "'ackTimeout' must be a number of seconds greater than 0 and at most 315360000, got 0"},
        {"{\"toNode\":\"a\",\"method\":\"ping\",\"ttl\":-1}",
         "'ttl' must be a number of seconds greater than 0 and at most 315360000, got -1"},
        {"{\"toNode\":\"a\",\"method\":\"ping\",\"retryWait\":\"1\"}",
         "'retryWait' must be a number of seconds greater than 0 and at most 315360000, got \"1\""},
        {"{\"toNode\":\"a\",\"method\":\"ping\",\"methodTimeout\":400000000}",
         "'methodTimeout' must be a number of seconds greater than 0 and at most 315360000, got 400000000"},
        {"{\"toNode\":\"a\",\"method\":\"ping\",\"retries\":-2}",
         "'retries' must be an integer from -1 (until ttl) to 1000000, got -2"},
        {"{\"toNode\":\"a\",\"method\":\"ping\",\"retries\":1.5}",
         "'retries' must be an integer from -1 (until ttl) to 1000000, got 1.5"},
        {"\"ping\"", "must be an object with 'toNode' and 'method', got \"ping\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        /* The bad element sits between two good ones of drop 2. */
        char text[1024], want[1024];
        snprintf(text, sizeof text, "%s\n[{\"toNode\":\"x\",\"method\":\"ping\"},%s,"
                 "{\"toNode\":\"y\",\"method\":\"ping\"}]\n", PING("w"), cases[i].element);
        snprintf(want, sizeof want, "drop 2, element 2: %s", cases[i].reason);
        inbox_batch_t b;
        parse(text, false, &b);
        assert_int_equal(b.consumed, strlen(text));
        assert_int_equal(b.drops, 2);
        assert_int_equal(b.n_messages, 3);
        assert_string_equal(b.messages[1]->node, "x");
        assert_string_equal(b.messages[2]->node, "y");
        assert_int_equal(b.n_rejects, 1);
        assert_string_equal(b.rejects[0].reason, want);
        assert_non_null(strstr(text, b.rejects[0].text)); /* compact JSON of the element */
        inbox_batch_free(&b);
    }
}

static void test_parse_non_array_drop_rejected_whole(void **state)
{
    (void)state;
    const char *text = "{\"toNode\":\"a\",\"method\":\"ping\"}\n" PING("b") "\n";
    inbox_batch_t b;
    parse(text, false, &b);
    assert_int_equal(b.consumed, strlen(text));
    assert_int_equal(b.n_messages, 1);
    assert_string_equal(b.messages[0]->node, "b");
    assert_int_equal(b.n_rejects, 1);
    assert_string_equal(b.rejects[0].reason, "drop 1: must be a JSON array of messages, got an object");
    assert_string_equal(b.rejects[0].text, "{\"toNode\":\"a\",\"method\":\"ping\"}");
    inbox_batch_free(&b);
}

static void test_parse_broken_json_between_good_drops(void **state)
{
    (void)state;
    const char *broken = "[{\"toNode\": \"a\", \"method\": ping}]\n";
    char text[512];
    snprintf(text, sizeof text, "%s%s%s", STEWARD_ONE, broken, STEWARD_EVENT);
    inbox_batch_t b;
    parse(text, false, &b);
    assert_int_equal(b.consumed, strlen(text));
    assert_int_equal(b.drops, 3);
    assert_int_equal(b.n_messages, 2);
    assert_string_equal(b.messages[0]->node, "ship1");
    assert_string_equal(b.messages[1]->node, "central");
    assert_int_equal(b.n_rejects, 1);
    assert_string_equal(b.rejects[0].reason,
                        "drop 2: invalid JSON at line 1, column 31: invalid token near 'ping'");
    assert_string_equal(b.rejects[0].text, broken);
    inbox_batch_free(&b);

    /* An unclosed drop followed by a good one on its own line. */
    snprintf(text, sizeof text, "[{\"toNode\":\"a\",\"method\":\"ping\"}\n%s", PING("b") "\n");
    parse(text, false, &b);
    assert_int_equal(b.consumed, strlen(text));
    assert_int_equal(b.n_messages, 1);
    assert_string_equal(b.messages[0]->node, "b");
    assert_int_equal(b.n_rejects, 1);
    assert_string_equal(b.rejects[0].text, "[{\"toNode\":\"a\",\"method\":\"ping\"}\n");
    inbox_batch_free(&b);

    /* Garbage with no next drop yet waits for where it ends, unless final. */
    snprintf(text, sizeof text, "%s garbage here", PING("a"));
    parse(text, false, &b);
    assert_int_equal(b.n_messages, 1);
    assert_int_equal(b.n_rejects, 0);
    assert_int_equal(b.consumed, strlen(PING("a")) + 1);
    inbox_batch_free(&b);
    parse(text, true, &b);
    assert_int_equal(b.consumed, strlen(text));
    assert_int_equal(b.n_rejects, 1);
    assert_string_equal(b.rejects[0].text, "garbage here");
    inbox_batch_free(&b);
}

static void test_parse_incomplete_tail_waits_unless_final(void **state)
{
    (void)state;
    const char *good = PING("a") "\n";
    const char *tail = "[{\"toNode\":\"b\",\"meth";
    char text[256];
    snprintf(text, sizeof text, "%s%s", good, tail);
    inbox_batch_t b;
    parse(text, false, &b);
    assert_int_equal(b.n_messages, 1);
    assert_int_equal(b.n_rejects, 0);
    assert_int_equal(b.drops, 1);
    assert_int_equal(b.consumed, strlen(good)); /* right after the last complete drop */
    inbox_batch_free(&b);

    parse(text, true, &b);
    assert_int_equal(b.n_messages, 1);
    assert_int_equal(b.n_rejects, 1);
    assert_int_equal(b.consumed, strlen(text));
    assert_string_equal(b.rejects[0].text, tail);
    assert_non_null(strstr(b.rejects[0].reason, "drop 2: invalid JSON"));
    inbox_batch_free(&b);

    /* A UTF-8 character cut at the end is incomplete, not invalid. */
    const char cut[] = "[{\"toNode\":\"a\",\"method\":\"ping\",\"data\":[\"\xc3";
    parse(cut, false, &b);
    assert_int_equal(b.consumed, 0);
    assert_int_equal(b.n_rejects, 0);
    inbox_batch_free(&b);
}

static void test_parse_oversized_drop_rejected(void **state)
{
    (void)state;
    size_t big = INBOX_MAX_DROP + 100;
    const char *head = "[{\"toNode\":\"a\",\"method\":\"ping\",\"data\":[\"";
    const char *rest = "\"]}]\n" PING("b") "\n";
    size_t hl = strlen(head), rl = strlen(rest);
    char *text = malloc(hl + big + rl + 1);
    assert_non_null(text);
    memcpy(text, head, hl);
    memset(text + hl, 'x', big);
    memcpy(text + hl + big, rest, rl + 1);
    inbox_batch_t b;
    parse(text, false, &b);
    assert_int_equal(b.consumed, strlen(text));
    assert_int_equal(b.n_messages, 1);
    assert_string_equal(b.messages[0]->node, "b");
    assert_int_equal(b.n_rejects, 1);
    assert_string_equal(b.rejects[0].reason,
                        "drop 1: not complete within 8388608 bytes, the largest drop allowed");
    assert_int_equal(strlen(b.rejects[0].text), 4096);
    inbox_batch_free(&b);
    free(text);
}

static void test_parse_reject_text_is_clean_utf8(void **state)
{
    (void)state;
    /* Broken JSON with a bad byte, then 5000 'é' so the 4 KiB cut falls
     * inside a two-byte character. */
    size_t n = 5000;
    char *text = malloc(16 + 2 * n + 64);
    assert_non_null(text);
    size_t len = (size_t)sprintf(text, "[\xff!");
    for (size_t i = 0; i < n; i++)
        len += (size_t)sprintf(text + len, "\xc3\xa9");
    len += (size_t)sprintf(text + len, "\n%s", PING("b"));
    inbox_batch_t b;
    inbox_batch_init(&b);
    assert_int_equal(inbox_parse(text, len, false, 7, &DEFAULTS, &b), BOSUN_OK);
    assert_int_equal(b.n_messages, 1);
    assert_int_equal(b.n_rejects, 1);
    assert_string_equal(b.messages[0]->node, "b");
    assert_int_equal(strncmp(b.rejects[0].reason, "drop 7: invalid JSON", 20), 0);
    const char *t = b.rejects[0].text;
    assert_int_equal(strncmp(t, "[?!\xc3\xa9", 5), 0);
    assert_int_equal(strlen(t), 4095); /* "[?!" and 2046 whole characters */
    inbox_batch_free(&b);
    free(text);
}

static void test_parse_steward_examples(void **state)
{
    (void)state;
    char text[2048];
    snprintf(text, sizeof text, "%s%s%s", STEWARD_ONE, STEWARD_TWO, STEWARD_EVENT);
    inbox_batch_t b;
    parse(text, false, &b);
    assert_int_equal(b.consumed, strlen(text));
    assert_int_equal(b.drops, 3);
    assert_int_equal(b.n_rejects, 0);
    assert_int_equal(b.n_messages, 4);
    assert_string_equal(b.messages[1]->node, "ship1");
    assert_string_equal(b.messages[2]->node, "ship2");
    const message_t *ev = b.messages[3];
    assert_string_equal(ev->node, "central");
    assert_string_equal(ev->method, "textLogging");
    assert_true(ev->is_event);
    assert_int_equal(ev->n_data, 1);
    assert_string_equal(ev->data[0], "some message sent from a ship for testing\n");
    inbox_batch_free(&b);
}

/* A one-line summary of a message, for comparing runs. */
static void summary(const message_t *m, char *buf, size_t n)
{
    int k = snprintf(buf, n, "%s|%s|%d|%llu|%d|%llu|%llu|%llu|", m->node, m->method, m->is_event,
                     (unsigned long long)m->ack_timeout_ms, m->retries,
                     (unsigned long long)m->retry_wait_ms, (unsigned long long)m->method_timeout_ms,
                     (unsigned long long)m->ttl_ms);
    for (size_t i = 0; i < m->n_data && k > 0 && (size_t)k < n; i++)
        k += snprintf(buf + k, n - (size_t)k, "%s,", m->data[i]);
}

static void test_parse_byte_by_byte_matches_one_shot(void **state)
{
    (void)state;
    char text[4096];
    snprintf(text, sizeof text,
             "%s%s"
             "[{\"toNodes\":[\"n1\",\"n2\"],\"method\":\"shellCommand\","
             "\"data\":[\"caf\xc3\xa9\",\"\\u00e9\\ud83d\\ude00\",\"\xf0\x9f\x9a\xa2\"],\"ttl\":12.5}]"
             "[{\"toNode\":\"bad.name\",\"method\":\"ping\"},"
             "{\"toNode\":\"z\",\"method\":\"ping\",\"retries\":4}]\n"
             "[{\"toNode\": \"q\", \"method\": ping}]\n"
             "  \n%s"
             "{\"toNode\":\"obj\",\"method\":\"ping\"}"
             "[1,2,\n"
             "[{\"toNode\":\"after\",\"method\":\"ping\",\"commandOrEvent\":\"event\",\"data\":[]}]\n"
             "[{\"toNode\":\"last\",\"method\":\"ping\"",
             STEWARD_ONE, STEWARD_TWO, STEWARD_EVENT);
    size_t len = strlen(text);

    inbox_batch_t one;
    parse(text, true, &one);
    assert_int_equal(one.consumed, len);
    assert_true(one.n_messages >= 8);
    assert_true(one.n_rejects >= 4);

    inbox_batch_t acc;
    inbox_batch_init(&acc);
    size_t start = 0;
    for (size_t end = 1; end <= len; end++) {
        bool final = end == len;
        inbox_batch_t part;
        inbox_batch_init(&part);
        assert_int_equal(inbox_parse(text + start, end - start, final, 1 + acc.drops, &DEFAULTS, &part),
                         BOSUN_OK);
        start += part.consumed;
        acc.drops += part.drops;
        for (size_t i = 0; i < part.n_messages; i++) {
            acc.messages = realloc(acc.messages, (acc.n_messages + 1) * sizeof *acc.messages);
            acc.messages[acc.n_messages++] = part.messages[i];
        }
        for (size_t i = 0; i < part.n_rejects; i++) {
            acc.rejects = realloc(acc.rejects, (acc.n_rejects + 1) * sizeof *acc.rejects);
            acc.rejects[acc.n_rejects++] = part.rejects[i];
        }
        free(part.messages);
        free(part.rejects);
    }
    assert_int_equal(start, len);
    assert_int_equal(acc.drops, one.drops);
    assert_int_equal(acc.n_messages, one.n_messages);
    for (size_t i = 0; i < one.n_messages; i++) {
        char a[512], b[512];
        summary(one.messages[i], a, sizeof a);
        summary(acc.messages[i], b, sizeof b);
        assert_string_equal(a, b);
    }
    assert_int_equal(acc.n_rejects, one.n_rejects);
    for (size_t i = 0; i < one.n_rejects; i++) {
        assert_string_equal(acc.rejects[i].reason, one.rejects[i].reason);
        assert_string_equal(acc.rejects[i].text, one.rejects[i].text);
    }
    inbox_batch_free(&one);
    inbox_batch_free(&acc);
}

/* ---- following the file ---------------------------------------------------- */

typedef struct {
    char *dir;
    char path[512];
    char draining[512];
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    if (f == NULL)
        return -1;
    f->dir = harness_tmpdir("inbox");
    if (f->dir == NULL) {
        free(f);
        return -1;
    }
    snprintf(f->path, sizeof f->path, "%s/inmsg.txt", f->dir);
    snprintf(f->draining, sizeof f->draining, "%s/inmsg.txt.draining", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    harness_rmtree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

static inbox_t *open_inbox(const fixture_t *f, const inbox_position_t *pos)
{
    inbox_t *ib = NULL;
    bosun_err_t err;
    bosun_status_t st = inbox_open(f->path, pos, &DEFAULTS, &ib, &err);
    if (st != BOSUN_OK)
        fail_msg("inbox_open: %s", err.msg);
    return ib;
}

static void append(const char *path, const char *drop)
{
    bosun_err_t err;
    if (inbox_append(path, drop, strlen(drop), &err) != BOSUN_OK)
        fail_msg("inbox_append: %s", err.msg);
}

/* Writes raw bytes to the end of path, without inbox_append's newline. */
static void append_raw(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

static uint64_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (uint64_t)st.st_size : UINT64_MAX;
}

static uint64_t file_inode(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (uint64_t)st.st_ino : 0;
}

/* One inbox_read at now; the batch is the caller's to free. */
static void read_at(inbox_t *ib, uint64_t now, inbox_batch_t *b, inbox_position_t *pos)
{
    bool more = false;
    bosun_err_t err;
    inbox_batch_init(b);
    if (inbox_read(ib, now, b, pos, &more, &err) != BOSUN_OK)
        fail_msg("inbox_read: %s", err.msg);
    assert_false(more);
}

/*
 * Reads at now and commits. Expects exactly the nodes listed (comma-
 * separated), and either no reject (reject NULL) or one with that text
 * whose reason starts with `reason`.
 */
static void expect_read(inbox_t *ib, uint64_t now, const char *nodes, const char *reject,
                        const char *reason, inbox_position_t *pos)
{
    inbox_batch_t b;
    read_at(ib, now, &b, pos);
    char got[512] = "";
    for (size_t i = 0; i < b.n_messages; i++)
        snprintf(got + strlen(got), sizeof got - strlen(got), "%s%s", i ? "," : "", b.messages[i]->node);
    assert_string_equal(got, nodes);
    assert_int_equal(b.n_rejects, reject != NULL);
    if (reject != NULL) {
        assert_string_equal(b.rejects[0].text, reject);
        assert_int_equal(strncmp(b.rejects[0].reason, reason, strlen(reason)), 0);
    }
    inbox_committed(ib, pos);
    inbox_batch_free(&b);
}

static void expect_nodes(inbox_t *ib, uint64_t now, const char *nodes, inbox_position_t *pos)
{
    expect_read(ib, now, nodes, NULL, NULL, pos);
}

static void test_follow_reads_once(void **state)
{
    fixture_t *f = *state;
    inbox_t *ib = open_inbox(f, NULL);
    assert_int_equal(file_size(f->path), 0); /* created on open */
    inbox_position_t pos;
    expect_nodes(ib, 1000, "", &pos);
    assert_int_equal(pos.inode, file_inode(f->path));
    assert_int_equal(pos.offset, 0);

    append(f->path, PING("a"));
    append(f->path, PING("b") "\n");
    expect_nodes(ib, 1001, "a,b", &pos);
    assert_int_equal(pos.offset, file_size(f->path));
    /* inbox_append ends every drop with one newline. */
    char *text = harness_read_file(f->path, NULL);
    assert_string_equal(text, PING("a") "\n" PING("b") "\n");
    free(text);
    expect_nodes(ib, 1002, "", &pos);

    /* Until committed, the same data is offered again. */
    append(f->path, PING("c"));
    inbox_batch_t b;
    read_at(ib, 1003, &b, &pos);
    assert_int_equal(b.n_messages, 1);
    assert_int_equal(b.consumed, strlen(PING("c")) + 1);
    inbox_batch_free(&b);
    expect_nodes(ib, 1004, "c", &pos);
    expect_nodes(ib, 1005, "", &pos);
    assert_int_equal(inbox_next_deadline(ib), UINT64_MAX);
    inbox_close(ib);
}

typedef struct {
    const char *path;
    int writer;
    int count;
    int failures;
} writer_t;

static void *writer_main(void *arg)
{
    writer_t *w = arg;
    for (int i = 0; i < w->count; i++) {
        char drop[128];
        int n = snprintf(drop, sizeof drop, "[{\"toNode\":\"w%d\",\"method\":\"ping\",\"data\":[\"%d\"]}]",
                         w->writer, i);
        if (inbox_append(w->path, drop, (size_t)n, NULL) != BOSUN_OK)
            w->failures++;
        if (i % 50 == 0)
            usleep(1000);
    }
    return NULL;
}

/*
 * Runs `writers` threads appending `each` drops while this thread follows
 * the file with poll + read + commit; every writer's drops must arrive
 * exactly once, in that writer's order, with nothing rejected.
 */
static void follow_while_writing(const fixture_t *f, int writers, int each)
{
    inbox_t *ib = open_inbox(f, NULL);
    writer_t w[8];
    pthread_t th[8];
    for (int i = 0; i < writers; i++) {
        w[i] = (writer_t){.path = f->path, .writer = i, .count = each};
        assert_int_equal(pthread_create(&th[i], NULL, writer_main, &w[i]), 0);
    }
    int next[8] = {0};
    int total = 0, want = writers * each;
    uint64_t deadline = bosun_mono_ms() + 30000;
    while (total < want && bosun_mono_ms() < deadline) {
        struct pollfd pfd = {.fd = inbox_fd(ib), .events = POLLIN};
        poll(&pfd, 1, 100);
        bool more = true;
        while (more) {
            inbox_batch_t b;
            inbox_position_t pos;
            bosun_err_t err;
            inbox_batch_init(&b);
            assert_int_equal(inbox_read(ib, bosun_mono_ms(), &b, &pos, &more, &err), BOSUN_OK);
            assert_int_equal(b.n_rejects, 0);
            for (size_t i = 0; i < b.n_messages; i++) {
                int wi = atoi(b.messages[i]->node + 1);
                assert_true(wi >= 0 && wi < writers);
                assert_int_equal(atoi(b.messages[i]->data[0]), next[wi]);
                next[wi]++;
                total++;
            }
            inbox_committed(ib, &pos);
            inbox_batch_free(&b);
        }
    }
    for (int i = 0; i < writers; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].failures, 0);
    }
    assert_int_equal(total, want);
    /* Nothing more, and nothing left over. */
    inbox_position_t pos;
    expect_nodes(ib, bosun_mono_ms(), "", &pos);
    assert_int_equal(pos.offset, file_size(f->path));
    inbox_close(ib);
}

static void test_follow_appends_while_reading(void **state)
{
    follow_while_writing(*state, 1, 1000);
}

static void test_follow_concurrent_writers_never_interleave(void **state)
{
    follow_while_writing(*state, 4, 250);
}

static void test_follow_reopen_offers_only_uncommitted(void **state)
{
    fixture_t *f = *state;
    inbox_t *ib = open_inbox(f, NULL);
    append(f->path, PING("a"));
    append(f->path, PING("b"));
    inbox_position_t committed, pending;
    expect_nodes(ib, 1000, "a,b", &committed);
    append(f->path, PING("c"));
    append(f->path, PING("d"));
    inbox_batch_t b;
    read_at(ib, 1001, &b, &pending); /* read, but the store never committed it */
    assert_int_equal(b.n_messages, 2);
    assert_true(pending.offset > committed.offset);
    inbox_batch_free(&b);
    inbox_close(ib); /* the crash */

    ib = open_inbox(f, &committed);
    inbox_position_t pos;
    expect_nodes(ib, 2000, "c,d", &pos);
    assert_int_equal(pos.offset, pending.offset);
    inbox_close(ib);

    /* Reopening at the end offers nothing; a fresh start reads it all. */
    ib = open_inbox(f, &pos);
    expect_nodes(ib, 3000, "", &pos);
    inbox_close(ib);
    ib = open_inbox(f, NULL);
    expect_nodes(ib, 4000, "a,b,c,d", &pos);
    inbox_close(ib);
}

static void test_follow_incomplete_tail_waits_then_rejected(void **state)
{
    fixture_t *f = *state;
    inbox_t *ib = open_inbox(f, NULL);
    append(f->path, PING("a"));
    append_raw(f->path, "[{\"toNode\":\"b\",");
    inbox_position_t pos;
    expect_nodes(ib, 1000, "a", &pos);
    uint64_t after_a = pos.offset;
    assert_true(after_a < file_size(f->path));
    assert_int_equal(inbox_next_deadline(ib), 1000 + INBOX_FINAL_QUIET_MS);

    /* The writer finishes within the quiet time: the drop goes through. */
    append_raw(f->path, "\"method\":\"ping\"}]\n");
    expect_nodes(ib, 5000, "b", &pos);
    assert_int_equal(pos.offset, file_size(f->path));

    /* A writer that dies mid-drop: the tail is rejected after the quiet time. */
    append_raw(f->path, "[{\"toNode\":\"c\",");
    expect_nodes(ib, 6000, "", &pos);
    expect_nodes(ib, 6000 + INBOX_FINAL_QUIET_MS - 1, "", &pos);
    expect_read(ib, 6000 + INBOX_FINAL_QUIET_MS, "", "[{\"toNode\":\"c\",", "drop 3: invalid JSON",
                &pos);
    assert_int_equal(pos.offset, file_size(f->path));
    inbox_close(ib);
}

static void test_follow_unclosed_drop_does_not_swallow_later_ones(void **state)
{
    fixture_t *f = *state;
    inbox_t *ib = open_inbox(f, NULL);
    /* A drop left open with a trailing comma takes the next drop in as a
     * nested array, so nothing is certain yet; the drop after that shows it
     * broken, and both good drops go through. */
    append(f->path, "[{\"toNode\":\"a\",\"method\":\"ping\"},");
    append(f->path, PING("b"));
    inbox_position_t pos;
    expect_nodes(ib, 1000, "", &pos);
    assert_int_equal(pos.offset, 0);
    append(f->path, PING("c"));
    expect_read(ib, 2000, "b,c", "[{\"toNode\":\"a\",\"method\":\"ping\"},\n",
                "drop 1: invalid JSON at line 3, column 1: ']' expected near '['", &pos);
    assert_int_equal(pos.offset, file_size(f->path));
    inbox_close(ib);
}

static void test_follow_rotation_and_draining(void **state)
{
    fixture_t *f = *state;
    inbox_t *ib = open_inbox(f, NULL);
    inbox_set_rotate_bytes(ib, 64);
    uint64_t old_inode = file_inode(f->path);
    append(f->path, PING("a"));
    append(f->path, PING("b"));
    append(f->path, PING("c"));
    inbox_position_t pos;
    bool changed;
    bosun_err_t err;
    expect_nodes(ib, 1000, "a,b,c", &pos);
    assert_true(pos.offset >= 64);

    /* A writer that opened the file before the rotation. */
    int late = open(f->path, O_WRONLY | O_APPEND);
    assert_true(late >= 0);

    assert_int_equal(inbox_next_deadline(ib), 1000 + INBOX_ROTATE_QUIET_MS);
    assert_int_equal(inbox_tick(ib, 1000 + INBOX_ROTATE_QUIET_MS - 1, &pos, &changed, &err), BOSUN_OK);
    assert_false(changed);
    assert_int_equal(file_inode(f->draining), 0);
    assert_int_equal(inbox_tick(ib, 1000 + INBOX_ROTATE_QUIET_MS, &pos, &changed, &err), BOSUN_OK);
    assert_true(changed);
    assert_int_equal(file_inode(f->draining), old_inode);
    uint64_t new_inode = file_inode(f->path);
    assert_true(new_inode != 0 && new_inode != old_inode);
    assert_int_equal(pos.inode, new_inode);
    assert_int_equal(pos.offset, 0);
    assert_int_equal(pos.draining_inode, old_inode);
    assert_int_equal(pos.draining_offset, file_size(f->draining));

    /* The new file is read from 0, the late append to the old one too. */
    append(f->path, PING("d"));
    const char *late_drop = PING("late") "\n";
    assert_int_equal(write(late, late_drop, strlen(late_drop)), (ssize_t)strlen(late_drop));
    close(late);
    expect_nodes(ib, 4000, "late,d", &pos);
    assert_int_equal(pos.offset, file_size(f->path));
    assert_int_equal(pos.draining_offset, file_size(f->draining));

    /* The drained file goes once it has been quiet long enough. */
    assert_int_equal(inbox_next_deadline(ib), 4000 + INBOX_DRAIN_QUIET_MS);
    assert_int_equal(inbox_tick(ib, 4000 + INBOX_DRAIN_QUIET_MS - 1, &pos, &changed, &err), BOSUN_OK);
    assert_false(changed);
    assert_int_equal(inbox_tick(ib, 4000 + INBOX_DRAIN_QUIET_MS, &pos, &changed, &err), BOSUN_OK);
    assert_true(changed);
    assert_int_equal(file_inode(f->draining), 0);
    assert_int_equal(pos.draining_inode, 0);
    assert_int_equal(pos.inode, new_inode);
    expect_nodes(ib, 20000, "", &pos);
    inbox_close(ib);
}

static void test_follow_small_file_not_rotated(void **state)
{
    fixture_t *f = *state;
    inbox_t *ib = open_inbox(f, NULL);
    append(f->path, PING("a"));
    inbox_position_t pos;
    bool changed;
    expect_nodes(ib, 1000, "a", &pos);
    assert_int_equal(inbox_tick(ib, 1000000, &pos, &changed, NULL), BOSUN_OK);
    assert_false(changed);
    assert_int_equal(file_inode(f->draining), 0);
    assert_int_equal(inbox_next_deadline(ib), UINT64_MAX);
    inbox_close(ib);
}

static void test_follow_resumes_draining_after_crash(void **state)
{
    fixture_t *f = *state;
    inbox_t *ib = open_inbox(f, NULL);
    inbox_set_rotate_bytes(ib, 10);
    append(f->path, PING("a"));
    inbox_position_t before, after;
    bool changed;
    expect_nodes(ib, 1000, "a", &before);
    int late = open(f->path, O_WRONLY | O_APPEND);
    assert_true(late >= 0);
    assert_int_equal(inbox_tick(ib, 5000, &after, &changed, NULL), BOSUN_OK);
    assert_true(changed);
    inbox_close(ib);

    /* Crash before the rotation was committed: the old position names the
     * renamed file as current. A late append there is still read. */
    const char *late_drop = PING("late") "\n";
    assert_int_equal(write(late, late_drop, strlen(late_drop)), (ssize_t)strlen(late_drop));
    append(f->path, PING("b"));
    ib = open_inbox(f, &before);
    inbox_position_t pos;
    expect_nodes(ib, 6000, "late,b", &pos);
    assert_int_equal(pos.draining_inode, before.inode);
    inbox_close(ib);

    /* Restart with the committed position: nothing again; more late data is. */
    assert_int_equal(write(late, late_drop, strlen(late_drop)), (ssize_t)strlen(late_drop));
    close(late);
    ib = open_inbox(f, &pos);
    expect_nodes(ib, 7000, "late", &pos);
    expect_nodes(ib, 7001, "", &pos);
    assert_int_equal(inbox_tick(ib, 7001 + INBOX_DRAIN_QUIET_MS, &pos, &changed, NULL), BOSUN_OK);
    assert_true(changed);
    assert_int_equal(file_inode(f->draining), 0);
    inbox_close(ib);
}

static void test_follow_file_replaced_by_someone(void **state)
{
    fixture_t *f = *state;
    inbox_t *ib = open_inbox(f, NULL);
    append(f->path, PING("a"));
    inbox_position_t pos;
    expect_nodes(ib, 1000, "a", &pos);
    uint64_t old_inode = pos.inode;
    append(f->path, PING("b")); /* not read yet when the file is replaced */
    char other[600];
    snprintf(other, sizeof other, "%s/other", f->dir);
    assert_int_equal(harness_write_file(other, PING("c") "\n"), 0);
    assert_int_equal(rename(other, f->path), 0);
    expect_nodes(ib, 2000, "b,c", &pos);
    assert_true(pos.inode != old_inode);
    assert_int_equal(pos.draining_inode, old_inode);

    /* Removed altogether: a new file is made and read. */
    assert_int_equal(unlink(f->path), 0);
    bool changed;
    assert_int_equal(inbox_tick(ib, 3000, &pos, &changed, NULL), BOSUN_OK);
    assert_true(changed);
    assert_int_equal(file_size(f->path), 0);
    append(f->path, PING("d"));
    expect_nodes(ib, 4000, "d", &pos);
    inbox_close(ib);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_one_drop),
        cmocka_unit_test(test_parse_back_to_back_drops),
        cmocka_unit_test(test_parse_to_nodes_makes_one_message_each),
        cmocka_unit_test(test_parse_defaults_and_overrides_in_ms),
        cmocka_unit_test(test_parse_validation_reasons),
        cmocka_unit_test(test_parse_non_array_drop_rejected_whole),
        cmocka_unit_test(test_parse_broken_json_between_good_drops),
        cmocka_unit_test(test_parse_incomplete_tail_waits_unless_final),
        cmocka_unit_test(test_parse_oversized_drop_rejected),
        cmocka_unit_test(test_parse_reject_text_is_clean_utf8),
        cmocka_unit_test(test_parse_steward_examples),
        cmocka_unit_test(test_parse_byte_by_byte_matches_one_shot),
        cmocka_unit_test_setup_teardown(test_follow_reads_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_follow_appends_while_reading, setup, teardown),
        cmocka_unit_test_setup_teardown(test_follow_concurrent_writers_never_interleave, setup, teardown),
        cmocka_unit_test_setup_teardown(test_follow_reopen_offers_only_uncommitted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_follow_incomplete_tail_waits_then_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_follow_unclosed_drop_does_not_swallow_later_ones,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_follow_rotation_and_draining, setup, teardown),
        cmocka_unit_test_setup_teardown(test_follow_small_file_not_rotated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_follow_resumes_draining_after_crash, setup, teardown),
        cmocka_unit_test_setup_teardown(test_follow_file_replaced_by_someone, setup, teardown),
    };
    return cmocka_run_group_tests_name("inbox", tests, NULL, NULL);
}
