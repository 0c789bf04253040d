/*
 * test_nats_auth.c - the real bosun-agent and bosun-central against a
 * nats-server that demands TLS with client certificates, a user and
 * password, or a token (issue 8).
 *
 * The certificates are made at run time with the openssl CLI: a CA, a
 * server certificate for 127.0.0.1 and localhost, a client certificate, and
 * a second CA that signed neither. The test's own client (nats.c directly,
 * no bosun code) checks what the daemons do: it pings the agent, reads its
 * heartbeats, and central's round trip is read back with
 * `bosun-central results`.
 *
 * nkey authentication is covered by test_natsconn.c. A creds file (user JWT
 * and seed) needs a server in operator mode: the test makes the operator,
 * account and user keys and JWTs itself (harness/natsjwt.c, what nsc would
 * make) and preloads the account into the server's memory resolver. Both
 * daemons connect with nats.credsFile; a user signed by an account the
 * server does not know is refused, and the agent says so.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <jansson.h>
#include <nats/nats.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"
#include "harness.h"
#include "natsjwt.h"

/* How long a daemon with wrong settings is watched for a heartbeat. */
#define SILENCE_MS 3000

typedef struct {
    char *dir;                 /* certificates and configs, shared by the tests */
    char ca[600], other_ca[600];
    char client_cert[600], client_key[600];
    char tls_conf[600];        /* nats-server: tls{} with verify */
} certs_t;

static certs_t g;

/* One test's processes, stopped by teardown whatever happened. */
typedef struct {
    harness_natsd_t *natsd;
    harness_proc_t *agent, *central;
    natsConnection *nc;
    natsSubscription *hb;
    char *dir;
} fx_t;

/* ---- certificates ---------------------------------------------------------------- */

/* Runs openssl with args (NULL-terminated), in g.dir; fails the test on error. */
static int openssl(const char *const *args)
{
    char *argv[32] = {"/usr/bin/openssl"};
    size_t n = 1;
    for (; args[n - 1] != NULL && n < 31; n++)
        argv[n] = (char *)args[n - 1];
    argv[n] = NULL;
    char *out = NULL;
    int code = -1;
    if (harness_run(argv, 30000, &out, &code) != 0 || code != 0) {
        fprintf(stderr, "openssl %s failed (%d):\n%s\n", args[0], code, out ? out : "");
        free(out);
        return -1;
    }
    free(out);
    return 0;
}

static void path_in(char *buf, size_t len, const char *dir, const char *name)
{
    snprintf(buf, len, "%s/%s", dir, name);
}

/* A self-signed P-256 CA: <name>.pem and <name>.key. */
static int make_ca(const char *name, const char *cn)
{
    char key[600], pem[600], subj[128];
    snprintf(key, sizeof key, "%s/%s.key", g.dir, name);
    snprintf(pem, sizeof pem, "%s/%s.pem", g.dir, name);
    snprintf(subj, sizeof subj, "/CN=%s", cn);
    const char *args[] = {"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                          "-nodes", "-keyout", key, "-out", pem, "-days", "2", "-subj", subj, NULL};
    return openssl(args);
}

/* A P-256 key and a certificate for it signed by ca.pem, with the extensions in ext. */
static int make_leaf(const char *name, const char *cn, const char *ext, int serial)
{
    char key[600], csr[600], pem[600], extf[600], subj[128], ser[16], ca[600], ca_key[600];
    snprintf(key, sizeof key, "%s/%s.key", g.dir, name);
    snprintf(csr, sizeof csr, "%s/%s.csr", g.dir, name);
    snprintf(pem, sizeof pem, "%s/%s.pem", g.dir, name);
    snprintf(extf, sizeof extf, "%s/%s.ext", g.dir, name);
    snprintf(subj, sizeof subj, "/CN=%s", cn);
    snprintf(ser, sizeof ser, "%d", serial);
    path_in(ca, sizeof ca, g.dir, "ca.pem");
    path_in(ca_key, sizeof ca_key, g.dir, "ca.key");
    if (harness_write_file(extf, ext) != 0)
        return -1;
    const char *req[] = {"req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                         "-nodes", "-keyout", key, "-out", csr, "-subj", subj, NULL};
    const char *sign[] = {"x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-set_serial", ser,
                          "-days", "2", "-out", pem, "-extfile", extf, NULL};
    return openssl(req) == 0 && openssl(sign) == 0 ? 0 : -1;
}

static int group_setup(void **state)
{
    (void)state;
    memset(&g, 0, sizeof g);
    g.dir = harness_tmpdir("natsauth");
    if (g.dir == NULL || make_ca("ca", "bosun test CA") != 0 || make_ca("other-ca", "some other CA") != 0 ||
        make_leaf("server", "localhost",
                  "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n"
                  "basicConstraints=CA:FALSE\n", 2) != 0 ||
        make_leaf("client", "bosun-client", "extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n",
                  3) != 0)
        return -1;
    path_in(g.ca, sizeof g.ca, g.dir, "ca.pem");
    path_in(g.other_ca, sizeof g.other_ca, g.dir, "other-ca.pem");
    path_in(g.client_cert, sizeof g.client_cert, g.dir, "client.pem");
    path_in(g.client_key, sizeof g.client_key, g.dir, "client.key");
    path_in(g.tls_conf, sizeof g.tls_conf, g.dir, "tls.conf");
    char conf[4096];
    snprintf(conf, sizeof conf,
             "tls {\n  cert_file: \"%s/server.pem\"\n  key_file: \"%s/server.key\"\n"
             "  ca_file: \"%s\"\n  verify: true\n  timeout: 3\n}\n",
             g.dir, g.dir, g.ca);
    return harness_write_file(g.tls_conf, conf);
}

static int group_teardown(void **state)
{
    (void)state;
    harness_rmtree(g.dir);
    free(g.dir);
    return 0;
}

/* Prints a process's log to stderr (cmocka truncates long failure messages). */
static void show_log(harness_proc_t *p, const char *who)
{
    char *log = p != NULL ? harness_proc_log(p) : NULL;
    fprintf(stderr, "---- %s log ----\n%s---------------\n", who, log ? log : "(none)");
    free(log);
}

/* ---- fixture -------------------------------------------------------------------------- */

static int setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    if (fx == NULL || (fx->dir = harness_tmpdir("natsauth-t")) == NULL)
        return -1;
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fx_t *fx = *state;
    harness_proc_stop(fx->central, 5000, NULL);
    harness_proc_stop(fx->agent, 5000, NULL);
    natsSubscription_Destroy(fx->hb);
    natsConnection_Destroy(fx->nc);
    harness_natsd_stop(fx->natsd);
    harness_rmtree(fx->dir);
    free(fx->dir);
    free(fx);
    return 0;
}

/* Starts nats-server with the config text conf (auth or tls blocks only). */
static void start_server(fx_t *fx, const char *conf_path)
{
    const char *args[] = {"-c", conf_path, NULL};
    assert_int_equal(harness_natsd_start(args, &fx->natsd), 0);
}

/* Writes conf text into the test's directory as name; returns the path (static buffer). */
static const char *write_conf(fx_t *fx, const char *name, const char *text)
{
    static char path[700];
    snprintf(path, sizeof path, "%s/%s", fx->dir, name);
    assert_int_equal(harness_write_file(path, text), 0);
    return path;
}

/*
 * Connects the test's client to the server: url may carry user:password@ or
 * token@; with tls, the CA and the client certificate are loaded; creds (may
 * be NULL) is a .creds file. NULL when it does not connect within a few tries.
 */
static natsConnection *connect_client(const char *url, bool tls, bool client_cert, const char *creds)
{
    natsOptions *o = NULL;
    natsConnection *nc = NULL;
    if (natsOptions_Create(&o) != NATS_OK)
        return NULL;
    natsOptions_SetURL(o, url);
    natsOptions_SetSendAsap(o, true);
    natsOptions_SetTimeout(o, 2000);
    if (tls) {
        natsOptions_SetSecure(o, true);
        natsOptions_LoadCATrustedCertificates(o, g.ca);
        if (client_cert)
            natsOptions_LoadCertificatesChain(o, g.client_cert, g.client_key);
    }
    if (creds != NULL)
        natsOptions_SetUserCredentialsFromFiles(o, creds, NULL);
    for (int i = 0; i < 10 && nc == NULL; i++)
        if (natsConnection_Connect(&nc, o) != NATS_OK)
            usleep(100000);
    natsOptions_Destroy(o);
    return nc;
}

/* Client connection plus a heartbeat subscription for node. */
static void client_up(fx_t *fx, const char *url, bool tls, const char *node)
{
    fx->nc = connect_client(url, tls, true, NULL);
    assert_non_null(fx->nc);
    char subject[128];
    snprintf(subject, sizeof subject, "%s.event.heartbeat", node);
    assert_int_equal(natsConnection_SubscribeSync(&fx->hb, fx->nc, subject), NATS_OK);
    assert_int_equal(natsConnection_Flush(fx->nc), NATS_OK);
}

/*
 * Writes the agent's config (node, its data directory, the server and the
 * "nats" members in nats_extra) and starts it.
 */
static void start_agent(fx_t *fx, const char *node, const char *nats_extra)
{
    char json[4096], cfg[700], data[700], log[700];
    snprintf(cfg, sizeof cfg, "%s/%s.json", fx->dir, node);
    snprintf(data, sizeof data, "%s/%s", fx->dir, node);
    /* A log per start, so a check never reads an earlier run's lines. */
    static int starts;
    snprintf(log, sizeof log, "%s/%s-%d.log", fx->dir, node, ++starts);
    snprintf(json, sizeof json,
             "{\"id\": \"%s\", \"dataDir\": \"%s\",\n"
             " \"nats\": {\"servers\": [\"%s\"], \"connectTimeoutSecs\": 2, %s},\n"
             " \"timing\": {\"heartbeatIntervalMs\": 100}}\n",
             node, data, harness_natsd_url(fx->natsd), nats_extra);
    assert_int_equal(harness_write_file(cfg, json), 0);
    char *argv[] = {BOSUN_AGENT_BIN, "--config-file", cfg, "--log-level", "4", NULL};
    assert_int_equal(harness_proc_start(argv, log, &fx->agent), 0);
}

static void stop_agent(fx_t *fx)
{
    assert_int_equal(harness_proc_stop(fx->agent, 5000, NULL), 0);
    fx->agent = NULL;
}

/* Drains the heartbeat subscription (what an earlier agent sent). */
static void drain_heartbeats(fx_t *fx)
{
    natsMsg *m = NULL;
    while (natsSubscription_NextMsg(&m, fx->hb, 50) == NATS_OK)
        natsMsg_Destroy(m);
}

/* Asserts a heartbeat of the running agent arrives within timeout_ms. */
static void expect_heartbeat(fx_t *fx, const char *node, int timeout_ms)
{
    Bosun__Heartbeat *hb = client_next_heartbeat(fx->hb, timeout_ms);
    if (hb == NULL) {
        show_log(fx->agent, node);
        fail_msg("no heartbeat from %s within %d ms", node, timeout_ms);
    }
    assert_string_equal(hb->node, node);
    bosun__heartbeat__free_unpacked(hb, NULL);
}

/* Asserts no heartbeat arrives for SILENCE_MS and the agent never connected. */
static void expect_silence(fx_t *fx)
{
    Bosun__Heartbeat *hb = client_next_heartbeat(fx->hb, SILENCE_MS);
    if (hb != NULL) {
        bosun__heartbeat__free_unpacked(hb, NULL);
        fail_msg("a heartbeat arrived from an agent with wrong settings");
    }
    char *log = harness_proc_log(fx->agent);
    assert_non_null(log);
    /* "connected to" also matches "reconnected to". */
    if (strstr(log, "connected to") != NULL) {
        show_log(fx->agent, "agent");
        fail_msg("the agent says it connected");
    }
    free(log);
}

/* Asserts the agent's log gains needle within timeout_ms. */
static void expect_log(harness_proc_t *p, const char *needle, int timeout_ms)
{
    if (!harness_proc_wait_log(p, needle, timeout_ms)) {
        show_log(p, "process");
        fail_msg("log lacks \"%s\"", needle);
    }
}

/* Pings node through the test's client; the Ack must be OK. */
static void expect_ping(fx_t *fx, const char *node)
{
    const char *none[] = {NULL};
    for (int i = 0; i < 50; i++) {
        Bosun__Ack *ack = client_command(fx->nc, node, "ping", "auth-ping", none, 0, 500);
        if (ack != NULL) {
            assert_int_equal(ack->status, BOSUN__ACK_STATUS__ACK_STATUS_OK);
            bosun__ack__free_unpacked(ack, NULL);
            return;
        }
        usleep(100000);
    }
    show_log(fx->agent, node);
    fail_msg("agent %s did not answer ping", node);
}

/* ---- TLS ----------------------------------------------------------------------------------- */

/* The "tls" member of a "nats" config with CA ca and the client certificate. */
static void tls_member(char *buf, size_t len, const char *ca)
{
    snprintf(buf, len, "\"tls\": {\"ca\": \"%s\", \"cert\": \"%s\", \"key\": \"%s\"}", ca, g.client_cert,
             g.client_key);
}

/* Finished results of central's data directory (`bosun-central results`). */
static json_t *central_results(const char *data_dir)
{
    char *out = NULL;
    int code = -1;
    char *argv[] = {BOSUN_CENTRAL_BIN, "results", "--data-dir", (char *)data_dir, NULL};
    json_t *all = json_array();
    if (harness_run(argv, 20000, &out, &code) == 0 && code == 0)
        for (char *save = NULL, *l = strtok_r(out, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
            json_t *j = json_loads(l, 0, NULL);
            if (j != NULL)
                json_array_append_new(all, j);
        }
    free(out);
    return all;
}

/*
 * Starts central with the "nats" members nats_extra on url, drops a ping to
 * node into its inmsg.txt, and asserts the result comes back OK (read with
 * `bosun-central results`) within 15 s.
 */
/* Starts central on url with nats_extra in its nats section; its data directory is <dir>/central. */
static void start_central(fx_t *fx, const char *url, const char *nats_extra)
{
    char cfg[700], data[700], log[700], json[4096];
    snprintf(cfg, sizeof cfg, "%s/central.json", fx->dir);
    snprintf(data, sizeof data, "%s/central", fx->dir);
    snprintf(log, sizeof log, "%s/central.log", fx->dir);
    snprintf(json, sizeof json,
             "{\"id\": \"central\", \"dataDir\": \"%s\",\n"
             " \"nats\": {\"servers\": [\"%s\"], %s},\n"
             " \"http\": {\"listen\": \"\"},\n"
             " \"delivery\": {\"ackTimeoutSecs\": 1, \"retryWaitSecs\": 0.2, \"maxRetryWaitSecs\": 1}}\n",
             data, url, nats_extra);
    assert_int_equal(harness_write_file(cfg, json), 0);
    char *argv[] = {BOSUN_CENTRAL_BIN, "--config-file", cfg, "--log-level", "4", NULL};
    assert_int_equal(harness_proc_start(argv, log, &fx->central), 0);
    expect_log(fx->central, "running: inbox", 10000);
}

/* A ping dropped into central's inmsg.txt for node ends OK (a command round trip through central). */
static void expect_central_delivers(fx_t *fx, const char *node)
{
    char data[700], inmsg[800], drop[256];
    snprintf(data, sizeof data, "%s/central", fx->dir);
    snprintf(inmsg, sizeof inmsg, "%s/inmsg.txt", data);
    snprintf(drop, sizeof drop, "[{\"toNode\": \"%s\", \"method\": \"ping\"}]\n", node);
    int fd = open(inmsg, O_WRONLY | O_APPEND | O_CREAT, 0660);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, drop, strlen(drop)), (ssize_t)strlen(drop));
    close(fd);

    json_t *res = NULL;
    for (int waited = 0; waited < 15000; waited += 250) {
        res = central_results(data);
        if (json_array_size(res) >= 1)
            break;
        json_decref(res);
        res = NULL;
        usleep(250000);
    }
    if (res == NULL) {
        show_log(fx->central, "central");
        fail_msg("central finished no message within 15 s");
    }
    assert_int_equal(json_array_size(res), 1);
    json_t *r = json_array_get(res, 0);
    assert_string_equal(json_string_value(json_object_get(r, "status")), "OK");
    assert_string_equal(json_string_value(json_object_get(json_object_get(r, "message"), "node")), node);
    json_decref(res);
}

static void expect_central_ping(fx_t *fx, const char *url, const char *nats_extra, const char *node)
{
    start_central(fx, url, nats_extra);
    expect_log(fx->central, "connected to", 5000);
    expect_central_delivers(fx, node);
}

static void test_tls_client_certs_agent_and_central(void **state)
{
    fx_t *fx = *state;
    start_server(fx, g.tls_conf);
    const char *url = harness_natsd_url(fx->natsd);

    /* The server really demands TLS and a client certificate. */
    natsConnection *plain = connect_client(url, false, false, NULL);
    assert_null(plain);
    natsConnection *no_cert = connect_client(url, true, false, NULL);
    assert_null(no_cert);

    client_up(fx, url, true, "tls-n1");
    char tls[2048];
    tls_member(tls, sizeof tls, g.ca);
    start_agent(fx, "tls-n1", tls);
    expect_ping(fx, "tls-n1");
    expect_heartbeat(fx, "tls-n1", 5000);
    expect_log(fx->agent, "connected to", 1000);

    /* Central over TLS: a ping dropped into inmsg.txt comes back OK. */
    expect_central_ping(fx, url, tls, "tls-n1");
}

static void test_tls_wrong_ca_never_connects(void **state)
{
    fx_t *fx = *state;
    start_server(fx, g.tls_conf);
    client_up(fx, harness_natsd_url(fx->natsd), true, "tls-n2");
    char tls[2048];
    tls_member(tls, sizeof tls, g.other_ca);
    start_agent(fx, "tls-n2", tls);
    expect_log(fx->agent, "before it ever connected", 5000);
    expect_log(fx->agent, "or the TLS handshake failed", 100);
    expect_silence(fx);
}

/* ---- user/password and token -------------------------------------------------------------- */

/*
 * Starts a server with the authorization block conf; the test's client logs
 * in with userinfo ("user:password" or the token) in its URL. The agent
 * with the "nats" members right sends heartbeats; restarted with wrong, it
 * logs the refusal and sends none.
 */
static void check_credentials(fx_t *fx, const char *node, const char *conf, const char *userinfo,
                              const char *right, const char *wrong)
{
    start_server(fx, write_conf(fx, "auth.conf", conf));
    char url[256];
    snprintf(url, sizeof url, "nats://%s@127.0.0.1:%d", userinfo, harness_natsd_port(fx->natsd));
    client_up(fx, url, false, node);

    start_agent(fx, node, right);
    expect_heartbeat(fx, node, 5000);
    stop_agent(fx);
    drain_heartbeats(fx);

    start_agent(fx, node, wrong);
    expect_log(fx->agent, "most likely the server refused the credentials", 5000);
    expect_silence(fx);
}

static void test_user_password(void **state)
{
    check_credentials(*state, "user-n1", "authorization {\n  user: bosun\n  password: \"pw-s3cret\"\n}\n",
                      "bosun:pw-s3cret", "\"user\": \"bosun\", \"password\": \"pw-s3cret\"",
                      "\"user\": \"bosun\", \"password\": \"wrong\"");
}

static void test_token(void **state)
{
    check_credentials(*state, "token-n1", "authorization {\n  token: \"t0ken-s3cret\"\n}\n",
                      "t0ken-s3cret", "\"token\": \"t0ken-s3cret\"", "\"token\": \"not-the-token\"");
}

/* Starts a server on port (of fx->dir's config `name`) that accepts user bosun with password pw only. */
static void start_password_server(fx_t *fx, int port, const char *name, const char *pw)
{
    char port_s[16], conf[128];
    snprintf(port_s, sizeof port_s, "%d", port);
    snprintf(conf, sizeof conf, "authorization {\n  user: bosun\n  password: \"%s\"\n}\n", pw);
    const char *path = write_conf(fx, name, conf);
    const char *args[] = {"-c", path, "-p", port_s, NULL};
    assert_int_equal(harness_natsd_start(args, &fx->natsd), 0);
}

/*
 * nats.c gives up for good when the server refuses the credentials; bosun
 * reopens the connection with backoff. The agent starts against a server
 * that refuses its password; the server is replaced (same port) by one
 * that accepts it; the agent comes back by itself: heartbeats, and its
 * command subscription works again (ping).
 */
static void test_agent_recovers_when_credentials_are_fixed(void **state)
{
    fx_t *fx = *state;
    int port = harness_free_port();
    assert_true(port > 0);
    start_password_server(fx, port, "refuse.conf", "old-pw");

    start_agent(fx, "fixed-n1", "\"user\": \"bosun\", \"password\": \"new-pw\"");
    expect_log(fx->agent, "most likely the server refused the credentials (user bosun)", 5000);
    expect_log(fx->agent, "reopen attempt 1 failed", 5000);

    harness_natsd_stop(fx->natsd);
    fx->natsd = NULL;
    start_password_server(fx, port, "accept.conf", "new-pw");
    char url[256];
    snprintf(url, sizeof url, "nats://bosun:new-pw@127.0.0.1:%d", port);
    client_up(fx, url, false, "fixed-n1");

    /* Backoff is at most 10 s between attempts. */
    expect_heartbeat(fx, "fixed-n1", 20000);
    expect_ping(fx, "fixed-n1");
    expect_log(fx->agent, "reopened: connected to", 1000);
}

/*
 * The same for central, whose subscriptions (command answers, the fleet's
 * events, the recorder's) must all be made again on the reopened connection:
 * it hears the agent's heartbeats (the node appears) and a command dropped
 * into inmsg.txt gets its Ack.
 */
static void test_central_recovers_when_credentials_are_fixed(void **state)
{
    fx_t *fx = *state;
    int port = harness_free_port();
    assert_true(port > 0);
    start_password_server(fx, port, "refuse.conf", "old-pw");
    char url[256];
    snprintf(url, sizeof url, "nats://127.0.0.1:%d", port);
    start_central(fx, url, "\"user\": \"bosun\", \"password\": \"new-pw\"");
    expect_log(fx->central, "reopen attempt 1 failed", 5000);

    harness_natsd_stop(fx->natsd);
    fx->natsd = NULL;
    start_password_server(fx, port, "accept.conf", "new-pw");
    expect_log(fx->central, "reopened: connected to", 20000); /* backoff: at most 10 s */
    start_agent(fx, "fixed-c1", "\"user\": \"bosun\", \"password\": \"new-pw\"");
    expect_log(fx->central, "node fixed-c1 appeared", 10000);
    expect_central_delivers(fx, "fixed-c1");
}

/* ---- creds file (operator mode) ----------------------------------------------------------- */

/* Keys and JWTs of one operator, a known account and a stranger account. */
typedef struct {
    natsjwt_key_t op, acc, other_acc, user, other_user;
    char *op_jwt, *acc_jwt, *user_jwt, *other_user_jwt;
} chain_t;

static void chain_free(chain_t *c)
{
    free(c->op_jwt);
    free(c->acc_jwt);
    free(c->user_jwt);
    free(c->other_user_jwt);
    natsjwt_key_wipe(&c->op);
    natsjwt_key_wipe(&c->acc);
    natsjwt_key_wipe(&c->other_acc);
    natsjwt_key_wipe(&c->user);
    natsjwt_key_wipe(&c->other_user);
}

static void chain_make(chain_t *c)
{
    memset(c, 0, sizeof *c);
    assert_int_equal(natsjwt_key_new(NKEY_OPERATOR, &c->op), 0);
    assert_int_equal(natsjwt_key_new(NKEY_ACCOUNT, &c->acc), 0);
    assert_int_equal(natsjwt_key_new(NKEY_ACCOUNT, &c->other_acc), 0);
    assert_int_equal(natsjwt_key_new(NKEY_USER, &c->user), 0);
    assert_int_equal(natsjwt_key_new(NKEY_USER, &c->other_user), 0);
    assert_true(c->op.pub[0] == 'O' && c->acc.pub[0] == 'A' && c->user.pub[0] == 'U');
    assert_true(strncmp(c->user.seed, "SU", 2) == 0 && strncmp(c->op.seed, "SO", 2) == 0);
    c->op_jwt = natsjwt_issue(&c->op, &c->op, "bosun-test-operator");
    c->acc_jwt = natsjwt_issue(&c->op, &c->acc, "bosun");
    c->user_jwt = natsjwt_issue(&c->acc, &c->user, "bosun-user");
    /* Signed by an account the server was never given. */
    c->other_user_jwt = natsjwt_issue(&c->other_acc, &c->other_user, "intruder");
    assert_non_null(c->op_jwt);
    assert_non_null(c->acc_jwt);
    assert_non_null(c->user_jwt);
    assert_non_null(c->other_user_jwt);
}

static void test_creds_file_agent_and_central(void **state)
{
    fx_t *fx = *state;
    chain_t c;
    chain_make(&c);
    char conf[700], creds[700], other_creds[700];
    snprintf(conf, sizeof conf, "%s/operator.conf", fx->dir);
    snprintf(creds, sizeof creds, "%s/bosun.creds", fx->dir);
    snprintf(other_creds, sizeof other_creds, "%s/intruder.creds", fx->dir);
    const char *pubs[] = {c.acc.pub};
    const char *jwts[] = {c.acc_jwt};
    assert_int_equal(natsjwt_write_server_config(conf, c.op_jwt, pubs, jwts, 1), 0);
    assert_int_equal(natsjwt_write_creds(creds, c.user_jwt, &c.user), 0);
    assert_int_equal(natsjwt_write_creds(other_creds, c.other_user_jwt, &c.other_user), 0);
    start_server(fx, conf);
    const char *url = harness_natsd_url(fx->natsd);

    /* The server really is in operator mode: no credentials, no entry. */
    natsConnection *anon = connect_client(url, false, false, NULL);
    assert_null(anon);

    fx->nc = connect_client(url, false, false, creds);
    assert_non_null(fx->nc);
    assert_int_equal(natsConnection_SubscribeSync(&fx->hb, fx->nc, "creds-n1.event.heartbeat"), NATS_OK);
    assert_int_equal(natsConnection_Flush(fx->nc), NATS_OK);

    char member[900];
    snprintf(member, sizeof member, "\"credsFile\": \"%s\"", creds);
    start_agent(fx, "creds-n1", member);
    expect_ping(fx, "creds-n1");
    expect_heartbeat(fx, "creds-n1", 5000);

    /* Central with the same creds file: a ping from inmsg.txt comes back OK. */
    expect_central_ping(fx, url, member, "creds-n1");

    /* A user of an account the server does not trust: refused, and said so. */
    stop_agent(fx);
    drain_heartbeats(fx);
    snprintf(member, sizeof member, "\"credsFile\": \"%s\"", other_creds);
    start_agent(fx, "creds-n1", member);
    expect_log(fx->agent, "the server refused the credentials (credsFile ", 5000);
    expect_log(fx->agent, other_creds, 100);
    expect_silence(fx);
    chain_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_tls_client_certs_agent_and_central, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tls_wrong_ca_never_connects, setup, teardown),
        cmocka_unit_test_setup_teardown(test_user_password, setup, teardown),
        cmocka_unit_test_setup_teardown(test_token, setup, teardown),
        cmocka_unit_test_setup_teardown(test_creds_file_agent_and_central, setup, teardown),
        cmocka_unit_test_setup_teardown(test_agent_recovers_when_credentials_are_fixed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_central_recovers_when_credentials_are_fixed, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
