/*
 * test_natsconn.c - lib/natsconn.c against a real nats-server.
 *
 * Each test gets a fixture with its own directory, a log file that the
 * bosun_log_t writes to (so that logged connection events can be asserted),
 * and slots for the connections, subscriptions and servers it makes; the
 * teardown releases whatever a failed test left behind, connections first,
 * so no nats.c callback ever writes to a closed log.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdatomic.h>
#include <stdio.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "natsconn.h"

/* Documented nkeys example pair (nats docs); the seed is a test-only key. */
#define NKEY_SEED "SUACSSL3UAHUDXKFSNVUZRF5UHPMWZ6BFDTJ7M6USDXIEDNPPQYYYCU3VY"
#define NKEY_PUBLIC "UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4"

#define MAX_CONNS 4
#define MAX_SUBS 4
#define MAX_SERVERS 2

typedef struct {
    char *dir;
    char *log_path;
    FILE *log_file;
    bosun_log_t log;
    char url[64];
    char *servers[1];
    bosun_nats_config_t cfg;
    bosun_nats_t *conns[MAX_CONNS];
    natsSubscription *subs[MAX_SUBS];
    harness_natsd_t *srv[MAX_SERVERS];
} fx_t;

static int fx_setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    fx->dir = harness_tmpdir("natsconn");
    assert_non_null(fx->dir);
    assert_true(asprintf(&fx->log_path, "%s/test.log", fx->dir) > 0);
    fx->log_file = fopen(fx->log_path, "ae");
    assert_non_null(fx->log_file);
    fx->log.level = BOSUN_LOG_DEBUG;
    fx->log.out = fx->log_file;
    fx->servers[0] = fx->url;
    fx->cfg.servers = fx->servers;
    fx->cfg.n_servers = 1;
    fx->cfg.reconnect_wait_secs = 0.1;
    fx->cfg.reconnect_jitter_secs = 0.05;
    fx->cfg.connect_timeout_secs = 1;
    *state = fx;
    return 0;
}

static int fx_teardown(void **state)
{
    fx_t *fx = *state;
    for (int i = 0; i < MAX_SUBS; i++)
        natsSubscription_Destroy(fx->subs[i]);
    for (int i = 0; i < MAX_CONNS; i++)
        bosun_nats_close(fx->conns[i], 100);
    for (int i = 0; i < MAX_SERVERS; i++)
        harness_natsd_stop(fx->srv[i]);
    fclose(fx->log_file);
    if (getenv("BOSUN_TEST_SHOW_LOG") != NULL) {
        char *text = harness_read_file(fx->log_path, NULL);
        fprintf(stderr, "---- log ----\n%s-------------\n", text ? text : "");
        free(text);
    }
    harness_rmtree(fx->dir);
    free(fx->log_path);
    free(fx->dir);
    free(fx);
    return 0;
}

/* Starts server slot i with extra_args and points fx->url at it. */
static void start_server(fx_t *fx, int i, const char *const *extra_args)
{
    assert_int_equal(harness_natsd_start(extra_args, &fx->srv[i]), 0);
    snprintf(fx->url, sizeof fx->url, "%s", harness_natsd_url(fx->srv[i]));
}

/* Opens connection slot i with fx->cfg; asserts BOSUN_OK. */
static bosun_nats_t *open_conn(fx_t *fx, int i, const char *name, bool no_echo)
{
    bosun_nats_opts_t opts = {.client_name = name, .no_echo = no_echo};
    bosun_err_t err;
    bosun_err_clear(&err);
    bosun_status_t st = bosun_nats_open(&fx->cfg, &opts, &fx->log, &fx->conns[i], &err);
    if (st != BOSUN_OK)
        fail_msg("bosun_nats_open: %s", err.msg);
    assert_non_null(fx->conns[i]);
    return fx->conns[i];
}

static bool log_has(const fx_t *fx, const char *needle)
{
    char *text = harness_read_file(fx->log_path, NULL);
    bool found = text != NULL && strstr(text, needle) != NULL;
    free(text);
    return found;
}

static void assert_log_has(const fx_t *fx, const char *needle)
{
    if (!log_has(fx, needle)) {
        char *text = harness_read_file(fx->log_path, NULL);
        fail_msg("log lacks \"%s\"; log:\n%s", needle, text ? text : "(unreadable)");
        free(text);
    }
}

typedef struct {
    const fx_t *fx;
    const char *needle;
} log_wait_t;

static bool cond_log_has(void *arg)
{
    const log_wait_t *w = arg;
    return log_has(w->fx, w->needle);
}

/* Waits at most timeout_ms for needle in the log (callbacks log a little late). */
static void wait_log(const fx_t *fx, const char *needle, int timeout_ms)
{
    log_wait_t w = {fx, needle};
    harness_wait_until(cond_log_has, &w, timeout_ms);
    assert_log_has(fx, needle);
}

static bool cond_one_reconnect(void *arg)
{
    return bosun_nats_reconnects(arg) == 1;
}

static bool cond_connected(void *arg)
{
    return bosun_nats_connected(arg);
}

static bool cond_disconnected(void *arg)
{
    return !bosun_nats_connected(arg);
}

/* Subscribes slot i synchronously to subject and flushes, so it is live. */
static natsSubscription *sub_sync(fx_t *fx, int i, bosun_nats_t *n, const char *subject)
{
    assert_int_equal(natsConnection_SubscribeSync(&fx->subs[i], bosun_nats_conn(n), subject),
                     NATS_OK);
    assert_int_equal(natsConnection_FlushTimeout(bosun_nats_conn(n), 2000), NATS_OK);
    return fx->subs[i];
}

/* Asserts that the next message on sub (within timeout_ms) carries text. */
static void expect_msg(natsSubscription *sub, const char *text, int timeout_ms)
{
    natsMsg *msg = NULL;
    natsStatus s = natsSubscription_NextMsg(&msg, sub, timeout_ms);
    if (s != NATS_OK)
        fail_msg("expected \"%s\", got %s", text, natsStatus_GetText(s));
    assert_int_equal(natsMsg_GetDataLength(msg), (int)strlen(text));
    assert_memory_equal(natsMsg_GetData(msg), text, strlen(text));
    natsMsg_Destroy(msg);
}

/* Subscribes slot i to subject, publishes text there, and expects it back. */
static void expect_roundtrip(fx_t *fx, int i, bosun_nats_t *n, const char *subject,
                             const char *text)
{
    natsSubscription *sub = sub_sync(fx, i, n, subject);
    assert_int_equal(natsConnection_PublishString(bosun_nats_conn(n), subject, text), NATS_OK);
    expect_msg(sub, text, 2000);
}

static void expect_no_msg(natsSubscription *sub, int timeout_ms)
{
    natsMsg *msg = NULL;
    natsStatus s = natsSubscription_NextMsg(&msg, sub, timeout_ms);
    if (s == NATS_OK) {
        fail_msg("unexpected message \"%.*s\"", natsMsg_GetDataLength(msg), natsMsg_GetData(msg));
        natsMsg_Destroy(msg);
    }
    assert_int_equal(s, NATS_TIMEOUT);
}

/* ---- tests ---------------------------------------------------------------------- */

static void test_pubsub_roundtrip(void **state)
{
    fx_t *fx = *state;
    start_server(fx, 0, NULL);
    bosun_nats_t *n = open_conn(fx, 0, "test pubsub", false);
    assert_true(bosun_nats_connected(n));

    char url[128];
    bosun_nats_server_url(n, url, sizeof url);
    assert_string_equal(url, harness_natsd_url(fx->srv[0]));

    expect_roundtrip(fx, 0, n, "bosun.test.pubsub", "hello");

    bosun_nats_stats_t st;
    bosun_nats_stats(n, &st);
    assert_int_equal(st.connects, 1);
    assert_int_equal(st.reconnects, 0);
    assert_int_equal(bosun_nats_reconnects(n), 0);
    assert_false(bosun_nats_closed(n));
    assert_log_has(fx, "nats: connected to nats://127.0.0.1:");
}

static void on_request(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
    (void)sub;
    (void)closure;
    char reply[256];
    snprintf(reply, sizeof reply, "re:%.*s", natsMsg_GetDataLength(msg), natsMsg_GetData(msg));
    natsConnection_PublishString(nc, natsMsg_GetReply(msg), reply);
    natsMsg_Destroy(msg);
}

static void test_request_reply(void **state)
{
    fx_t *fx = *state;
    start_server(fx, 0, NULL);
    bosun_nats_t *responder = open_conn(fx, 0, "test responder", true);
    bosun_nats_t *requester = open_conn(fx, 1, "test requester", false);

    assert_int_equal(natsConnection_Subscribe(&fx->subs[0], bosun_nats_conn(responder),
                                              "node1.command.ping", on_request, NULL),
                     NATS_OK);
    assert_int_equal(natsConnection_FlushTimeout(bosun_nats_conn(responder), 2000), NATS_OK);

    natsMsg *reply = NULL;
    assert_int_equal(natsConnection_RequestString(&reply, bosun_nats_conn(requester),
                                                  "node1.command.ping", "ping-1", 2000),
                     NATS_OK);
    assert_int_equal(natsMsg_GetDataLength(reply), 9);
    assert_memory_equal(natsMsg_GetData(reply), "re:ping-1", 9);
    natsMsg_Destroy(reply);
}

static void test_no_echo(void **state)
{
    fx_t *fx = *state;
    start_server(fx, 0, NULL);
    bosun_nats_t *quiet = open_conn(fx, 0, "test no-echo", true);
    bosun_nats_t *echo = open_conn(fx, 1, "test echo", false);
    natsSubscription *qsub = sub_sync(fx, 0, quiet, "node1.event.>");
    natsSubscription *esub = sub_sync(fx, 1, echo, "node1.event.>");

    assert_int_equal(natsConnection_PublishString(bosun_nats_conn(quiet), "node1.event.a", "own"),
                     NATS_OK);
    assert_int_equal(natsConnection_FlushTimeout(bosun_nats_conn(quiet), 2000), NATS_OK);
    assert_int_equal(natsConnection_PublishString(bosun_nats_conn(echo), "node1.event.b", "other"),
                     NATS_OK);
    assert_int_equal(natsConnection_FlushTimeout(bosun_nats_conn(echo), 2000), NATS_OK);

    /* The no-echo side hears only the other; the echo side hears both. */
    expect_msg(qsub, "other", 2000);
    expect_no_msg(qsub, 300);
    expect_msg(esub, "own", 2000);
    expect_msg(esub, "other", 2000);
}

static void test_open_before_server(void **state)
{
    fx_t *fx = *state;
    int port = harness_free_port();
    assert_true(port > 0);
    snprintf(fx->url, sizeof fx->url, "nats://127.0.0.1:%d", port);

    bosun_nats_t *n = open_conn(fx, 0, "test early", false);
    assert_false(bosun_nats_connected(n));
    char url[128] = "x";
    bosun_nats_server_url(n, url, sizeof url);
    assert_string_equal(url, "");
    assert_log_has(fx, "no server reachable yet");

    char port_arg[16];
    snprintf(port_arg, sizeof port_arg, "%d", port);
    const char *args[] = {"-p", port_arg, NULL};
    assert_int_equal(harness_natsd_start(args, &fx->srv[0]), 0);
    assert_int_equal(harness_natsd_port(fx->srv[0]), port);

    assert_true(harness_wait_until(cond_connected, n, 5000));
    bosun_nats_server_url(n, url, sizeof url);
    assert_string_equal(url, fx->url);
    char expect[128];
    snprintf(expect, sizeof expect, "nats: connected to %s", fx->url);
    wait_log(fx, expect, 2000);

    expect_roundtrip(fx, 0, n, "bosun.test.late", "late");

    bosun_nats_stats_t st;
    bosun_nats_stats(n, &st);
    assert_int_equal(st.connects, 1);
    assert_int_equal(st.reconnects, 0);
}

static void test_reconnect_after_restart(void **state)
{
    fx_t *fx = *state;
    start_server(fx, 0, NULL);
    bosun_nats_t *n = open_conn(fx, 0, "test reconnect", false);
    assert_true(bosun_nats_connected(n));
    natsSubscription *sub = sub_sync(fx, 0, n, "bosun.test.survive");
    assert_int_equal(bosun_nats_reconnects(n), 0);

    assert_int_equal(harness_natsd_kill(fx->srv[0]), 0);
    assert_true(harness_wait_until(cond_disconnected, n, 5000));
    wait_log(fx, "nats: disconnected", 2000);

    /* Published while disconnected: kept in the reconnect buffer. */
    assert_int_equal(natsConnection_PublishString(bosun_nats_conn(n), "bosun.test.survive",
                                                  "buffered"),
                     NATS_OK);

    assert_int_equal(harness_natsd_restart(fx->srv[0]), 0);
    assert_true(harness_wait_until(cond_connected, n, 10000));
    assert_true(harness_wait_until(cond_one_reconnect, n, 2000));
    char expect[128];
    snprintf(expect, sizeof expect, "nats: reconnected to %s (reconnect #1)", fx->url);
    wait_log(fx, expect, 2000);

    expect_msg(sub, "buffered", 3000);
    assert_int_equal(natsConnection_PublishString(bosun_nats_conn(n), "bosun.test.survive",
                                                  "after"),
                     NATS_OK);
    expect_msg(sub, "after", 3000);

    bosun_nats_stats_t st;
    bosun_nats_stats(n, &st);
    assert_int_equal(st.disconnects, 1);
    assert_int_equal(st.connects, 1);
}

static bool cond_closed(void *arg)
{
    return bosun_nats_closed(arg);
}

/*
 * Opens slot i with credentials the server refuses: open succeeds (retry in
 * the background), it never connects, nats.c gives up, and an error says so.
 */
static void expect_auth_refused(fx_t *fx, int i)
{
    bosun_nats_t *n = open_conn(fx, i, "test refused", false);
    assert_true(harness_wait_until(cond_closed, n, 5000));
    assert_false(bosun_nats_connected(n));
    assert_log_has(fx, "no server reachable yet");
    wait_log(fx, "ERROR  nats: connection closed for good before it ever connected", 2000);
}

/* Starts server 0 with --user u --pass p and connects slot 0 with those. */
static bosun_nats_t *connect_user_password(fx_t *fx, const char *name)
{
    const char *args[] = {"--user", "u", "--pass", "p", NULL};
    start_server(fx, 0, args);
    fx->cfg.user = "u";
    fx->cfg.password = "p";
    bosun_nats_t *n = open_conn(fx, 0, name, false);
    assert_true(bosun_nats_connected(n));
    return n;
}

static void test_user_password(void **state)
{
    fx_t *fx = *state;
    bosun_nats_t *n = connect_user_password(fx, "test user");
    expect_roundtrip(fx, 0, n, "bosun.test.auth", "in");
    assert_false(log_has(fx, "Authorization Violation"));

    fx->cfg.password = "wrong";
    expect_auth_refused(fx, 1);
}

static void on_counted(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
    (void)nc;
    (void)sub;
    atomic_fetch_add((atomic_int *)closure, 1);
    natsMsg_Destroy(msg);
}

static bool cond_counted(void *arg)
{
    return atomic_load((atomic_int *)arg) > 0;
}

/*
 * The server comes back with other credentials: the error is logged, nats.c
 * gives up, bosun keeps reopening (logged, with backoff). When the server
 * takes the old credentials again, the connection is reopened and a
 * subscription made with bosun_nats_subscribe works on it.
 */
static void test_auth_refused_after_reconnect(void **state)
{
    fx_t *fx = *state;
    bosun_nats_t *n = connect_user_password(fx, "test rotated");
    atomic_int got = 0;
    bosun_err_t err;
    assert_int_equal(bosun_nats_subscribe(n, "bosun.test.reopen", on_counted, &got, 0, 0, &err),
                     BOSUN_OK);
    assert_int_equal(natsConnection_FlushTimeout(bosun_nats_conn(n), 2000), NATS_OK);
    natsConnection *first = bosun_nats_conn(n);

    char port[16];
    snprintf(port, sizeof port, "%d", harness_natsd_port(fx->srv[0]));
    assert_int_equal(harness_natsd_kill(fx->srv[0]), 0);
    const char *rotated[] = {"-p", port, "--user", "u", "--pass", "rotated", NULL};
    assert_int_equal(harness_natsd_start(rotated, &fx->srv[1]), 0);

    assert_true(harness_wait_until(cond_closed, n, 5000));
    assert_false(bosun_nats_connected(n));
    assert_int_equal(bosun_nats_reconnects(n), 0);
    wait_log(fx, "nats: disconnected", 2000);
    wait_log(fx, "ERROR  nats: async error: ", 2000);
    wait_log(fx, "Authorization Violation", 2000);
    wait_log(fx, "ERROR  nats: connection closed for good by nats.c, which stopped reconnecting", 2000);
    wait_log(fx, "most likely the server now refuses the credentials: user u", 100);
    wait_log(fx, "reopen attempt 1 failed: natsConnection_Connect: Authentication Violation", 3000);

    assert_int_equal(harness_natsd_kill(fx->srv[1]), 0);
    const char *back[] = {"-p", port, "--user", "u", "--pass", "p", NULL};
    harness_natsd_stop(fx->srv[1]);
    fx->srv[1] = NULL;
    assert_int_equal(harness_natsd_start(back, &fx->srv[1]), 0);
    /* Backoff: 1, 2, 4 s so far; the next attempt comes within 8 s. */
    assert_true(harness_wait_until(cond_connected, n, 15000));
    wait_log(fx, "reopened: connected to", 1000);
    assert_false(bosun_nats_closed(n));
    assert_ptr_not_equal(bosun_nats_conn(n), first);
    bosun_nats_stats_t st;
    bosun_nats_stats(n, &st);
    assert_int_equal(st.reopens, 1);

    /* The subscription was made again on the new connection. */
    assert_int_equal(natsConnection_PublishString(bosun_nats_conn(n), "bosun.test.reopen", "x"),
                     NATS_OK);
    assert_true(harness_wait_until(cond_counted, &got, 3000));
    bosun_nats_unsubscribe(n, &got);
}

static void test_token(void **state)
{
    fx_t *fx = *state;
    const char *args[] = {"--auth", "s3cret-token", NULL};
    start_server(fx, 0, args);

    fx->cfg.token = "s3cret-token";
    bosun_nats_t *n = open_conn(fx, 0, "test token", false);
    assert_true(bosun_nats_connected(n));
    assert_false(log_has(fx, "Authorization Violation"));

    fx->cfg.token = "not-the-token";
    expect_auth_refused(fx, 1);
}

static void test_nkey(void **state)
{
    fx_t *fx = *state;
    char conf[512], seed[512], pub[64];
    snprintf(conf, sizeof conf, "%s/nkey.conf", fx->dir);
    snprintf(seed, sizeof seed, "%s/user.nk", fx->dir);
    assert_int_equal(harness_write_file(conf, "authorization { users = [ { nkey: \"" NKEY_PUBLIC
                                              "\" } ] }\n"),
                     0);
    assert_int_equal(harness_write_file(seed, NKEY_SEED "\n"), 0);

    bosun_err_t err;
    assert_int_equal(bosun_nats_nkey_public(seed, pub, sizeof pub, &err), BOSUN_OK);
    assert_string_equal(pub, NKEY_PUBLIC);

    const char *args[] = {"-c", conf, NULL};
    start_server(fx, 0, args);
    fx->cfg.nkey_seed_file = seed;
    bosun_nats_t *n = open_conn(fx, 0, "test nkey", false);
    assert_true(bosun_nats_connected(n));

    char missing[512];
    snprintf(missing, sizeof missing, "%s/missing.nk", fx->dir);
    assert_int_equal(bosun_nats_nkey_public(missing, pub, sizeof pub, &err), BOSUN_ERR_IO);
    assert_non_null(strstr(err.msg, missing));

    /* A corrupted seed (one character changed) is refused before connecting. */
    char bad[512];
    snprintf(bad, sizeof bad, "%s/bad.nk", fx->dir);
    char text[] = NKEY_SEED "\n";
    text[10] = text[10] == 'A' ? 'B' : 'A';
    assert_int_equal(harness_write_file(bad, text), 0);
    fx->cfg.nkey_seed_file = bad;
    bosun_nats_opts_t opts = {.client_name = "test bad nkey"};
    assert_int_equal(bosun_nats_open(&fx->cfg, &opts, &fx->log, &fx->conns[1], &err),
                     BOSUN_ERR_CONFIG);
    assert_null(fx->conns[1]);
    assert_non_null(strstr(err.msg, "corrupt"));
}

static void test_bad_config_and_errors(void **state)
{
    fx_t *fx = *state;
    bosun_err_t err;
    fx->cfg.n_servers = 0;
    assert_int_equal(bosun_nats_open(&fx->cfg, NULL, &fx->log, &fx->conns[0], &err),
                     BOSUN_ERR_INVALID);
    assert_null(fx->conns[0]);

    /* A TLS file that cannot be read is named in the error. */
    snprintf(fx->url, sizeof fx->url, "nats://127.0.0.1:1");
    fx->cfg.n_servers = 1;
    fx->cfg.tls_ca = "/nonexistent/bosun-ca.pem";
    assert_int_equal(bosun_nats_open(&fx->cfg, NULL, &fx->log, &fx->conns[0], &err),
                     BOSUN_ERR_NATS);
    assert_null(fx->conns[0]);
    assert_non_null(strstr(err.msg, "tls.ca /nonexistent/bosun-ca.pem: "));
    fx->cfg.tls_ca = NULL;
    fx->cfg.tls_cert = "/nonexistent/cert.pem";
    assert_int_equal(bosun_nats_open(&fx->cfg, NULL, &fx->log, &fx->conns[0], &err),
                     BOSUN_ERR_INVALID);
    fx->cfg.tls_cert = NULL;

    assert_int_equal(bosun_nats_err(NATS_TIMEOUT, "natsConnection_Request", &err),
                     BOSUN_ERR_TIMEOUT);
    assert_int_equal(err.status, BOSUN_ERR_TIMEOUT);
    assert_non_null(strstr(err.msg, "natsConnection_Request: "));
    assert_int_equal(bosun_nats_err(NATS_NO_MEMORY, "x", &err), BOSUN_ERR_NOMEM);
    assert_int_equal(bosun_nats_err(NATS_NO_SERVER, "natsConnection_Connect", &err),
                     BOSUN_ERR_NATS);
    assert_non_null(strstr(err.msg, natsStatus_GetText(NATS_NO_SERVER)));
    assert_int_equal(bosun_nats_err(NATS_OK, "x", NULL), BOSUN_OK);

    bosun_nats_close(NULL, 0);
    assert_false(bosun_nats_connected(NULL));
    assert_int_equal(bosun_nats_reconnects(NULL), 0);
}

/* A callback that takes a while; entered and left are set as it starts and ends. */
typedef struct {
    atomic_bool entered, left;
} slow_cb_t;

static void on_slow(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
    (void)nc;
    (void)sub;
    slow_cb_t *c = closure;
    atomic_store(&c->entered, true);
    usleep(400 * 1000);
    atomic_store(&c->left, true);
    natsMsg_Destroy(msg);
}

static bool slow_entered(void *arg)
{
    return atomic_load(&((slow_cb_t *)arg)->entered);
}

/*
 * bosun_nats_unsubscribe returns only once a callback in progress has
 * returned: its closure may then be freed (central frees its telemetry and
 * dispatch state, the agent its prober, right after).
 */
static void test_unsubscribe_waits_for_a_running_callback(void **state)
{
    fx_t *fx = *state;
    start_server(fx, 0, NULL);
    bosun_nats_t *n = open_conn(fx, 0, "test unsubscribe", false);
    slow_cb_t c;
    atomic_init(&c.entered, false);
    atomic_init(&c.left, false);
    bosun_err_t err;
    assert_int_equal(bosun_nats_subscribe(n, "bosun.test.slow", on_slow, &c, 0, 0, &err), BOSUN_OK);
    assert_int_equal(natsConnection_FlushTimeout(bosun_nats_conn(n), 2000), NATS_OK);
    assert_int_equal(natsConnection_PublishString(bosun_nats_conn(n), "bosun.test.slow", "x"), NATS_OK);
    assert_true(harness_wait_until(slow_entered, &c, 5000));
    assert_false(atomic_load(&c.left));
    bosun_nats_unsubscribe(n, &c);
    assert_true(atomic_load(&c.left));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pubsub_roundtrip, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_request_reply, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_no_echo, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_open_before_server, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_reconnect_after_restart, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_user_password, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_auth_refused_after_reconnect, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_token, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_nkey, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_bad_config_and_errors, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_unsubscribe_waits_for_a_running_callback, fx_setup, fx_teardown),
    };
    int failed = cmocka_run_group_tests_name("natsconn", tests, NULL, NULL);
    bosun_nats_library_close();
    return failed;
}
