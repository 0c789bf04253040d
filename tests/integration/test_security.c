/*
 * test_security.c - signed commands and allow-lists with real processes
 * (issue 8): a nats-server and a bosun-agent that trusts one key made by the
 * test. Unsigned, wrongly signed, tampered (each signed field), expired, too
 * old and replayed commands are refused or answered from the ledger, and
 * none runs: each would append a line to MARKER in the agent's data
 * directory, and the file proves what ran. Allow-lists refuse methods and
 * argv outside them. End to end, bosun-central (real binary, its key from
 * `bosun-central keygen`) delivers a signed command from inmsg.txt to an
 * agent trusting central.pub, and `bosun-central request` signs with the
 * same key (unsigned without it, and refused); and an agent with runAsUser
 * "nobody" runs commands and transition scripts as nobody, with only its
 * fixed environment and no inherited file descriptors.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "agent_fixture.h"
#include "sign.h"

#define NODE "ship1"

static agent_fixture_t fx;
static sign_key_t *key;      /* trusted by the agent */
static sign_key_t *stranger; /* not trusted */
static char *keydir;

static uint64_t now_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (uint64_t)tv.tv_sec * 1000u + (uint64_t)tv.tv_usec / 1000u;
}

static int setup(void **state)
{
    (void)state;
    keydir = harness_tmpdir("seckey");
    char sk[600], pk[600];
    snprintf(sk, sizeof sk, "%s/t.key", keydir);
    snprintf(pk, sizeof pk, "%s/t.pub", keydir);
    if (sign_keygen(sk, pk, false, &key, NULL) != BOSUN_OK)
        return -1;
    snprintf(sk, sizeof sk, "%s/s.key", keydir);
    snprintf(pk, sizeof pk, "%s/s.pub", keydir);
    if (sign_keygen(sk, pk, false, &stranger, NULL) != BOSUN_OK)
        return -1;
    char pub[SIGN_PK_B64_LEN], extra[1024];
    sign_pubkey_b64(&key->pub, pub);
    /* Retention 30 s: commands older than 15 s are refused (15 s skew margin). */
    snprintf(extra, sizeof extra,
             "\"commands\": {\"resultRetentionSecs\": 30},\n"
             " \"security\": {\"trustedKeys\": [\"%s\"], \"allow\": {"
             "\"methods\": [\"ping\", \"shellCommand\"], "
             "\"shellCommand\": [[\"bash\", \"-c\", \"echo [a-z] >> MARKER\"], [\"true\", \"**\"]]}}",
             pub);
    return fixture_start(&fx, NODE, extra);
}

static int teardown(void **state)
{
    (void)state;
    fixture_stop(&fx);
    sign_key_free(key);
    sign_key_free(stranger);
    harness_rmtree(keydir);
    free(keydir);
    return 0;
}

static char *marker_argv[] = {"bash", "-c", "echo x >> MARKER"};

/* A Command to NODE created now, unsigned. */
static Bosun__Command make(const char *id, const char *method, char **data, size_t n)
{
    Bosun__Command c = BOSUN__COMMAND__INIT;
    c.id = (char *)id;
    c.node = NODE;
    c.method = (char *)method;
    c.data = data;
    c.n_data = n;
    c.created_ms = now_ms();
    c.ttl_ms = 60000;
    c.method_timeout_ms = 5000;
    c.sender = "test";
    c.attempt = 1;
    return c;
}

static Bosun__Ack *send_on(const char *subject_method, const Bosun__Command *c)
{
    char subject[128];
    snprintf(subject, sizeof subject, NODE ".command.%s", subject_method);
    return client_send(fx.nc, subject, c, 10000);
}

/* Sends c and checks the answer's status and that its error holds `why`. */
static void expect(const char *subject_method, const Bosun__Command *c, Bosun__AckStatus status,
                   const char *why)
{
    Bosun__Ack *ack = send_on(subject_method, c);
    assert_non_null(ack);
    if (ack->status != status || strstr(ack->error, why) == NULL)
        fail_msg("%s: status %d error '%s'; wanted %d and '%s'", c->id, ack->status, ack->error,
                 status, why);
    bosun__ack__free_unpacked(ack, NULL);
}

/* Lines in MARKER (in the agent's data directory): how many commands ran. */
static int marker_lines(void)
{
    char path[700];
    snprintf(path, sizeof path, "%s/MARKER", fx.data_dir);
    char *text = harness_read_file(path, NULL);
    if (text == NULL)
        return 0;
    int n = 0;
    for (char *p = text; *p; p++)
        n += *p == '\n';
    free(text);
    return n;
}

static void test_forged_commands_are_refused_and_none_runs(void **state)
{
    (void)state;
    const Bosun__AckStatus rejected = BOSUN__ACK_STATUS__ACK_STATUS_REJECTED;
    sign_sig_t sig;

    Bosun__Command c = make("f-unsigned", "shellCommand", marker_argv, 3);
    expect("shellCommand", &c, rejected, "unsigned");

    c = make("f-stranger", "shellCommand", marker_argv, 3);
    assert_int_equal(sign_command(stranger, &c, &sig), BOSUN_OK);
    expect("shellCommand", &c, rejected, "signed by an unknown key");

    /* Signed by a stranger, claiming the trusted key's id. */
    memcpy(sig.key_id, key->pub.key_id, SIGN_KEY_ID_LEN);
    expect("shellCommand", &c, rejected, "bad signature (tampered or wrong key)");

    /* Every signed field changed after signing. */
    char *other_argv[] = {"bash", "-c", "echo y >> MARKER"};
    char *longer_argv[] = {"bash", "-c", "echo x >> MARKER", "z"};
    for (int field = 0; field < 9; field++) {
        char id[32];
        snprintf(id, sizeof id, "f-tamper-%d", field);
        c = make(id, "shellCommand", marker_argv, 3);
        assert_int_equal(sign_command(key, &c, &sig), BOSUN_OK);
        switch (field) {
        case 0: c.id = "f-tamper-other"; break;
        case 1: c.node = ""; break;
        case 2: c.method = ""; break;
        case 3: c.data = other_argv; break;
        case 4: c.data = longer_argv; c.n_data = 4; break;
        case 5: c.created_ms += 1; break;
        case 6: c.ttl_ms = 0; break;
        case 7: c.method_timeout_ms = 1; break;
        case 8: c.kind = BOSUN__MESSAGE_KIND__MESSAGE_KIND_EVENT; break;
        }
        expect("shellCommand", &c, rejected, "bad signature");
    }

    /* A signed command for another node, sent to this one. */
    c = make("f-other-node", "shellCommand", marker_argv, 3);
    c.node = "ship2";
    assert_int_equal(sign_command(key, &c, &sig), BOSUN_OK);
    expect("shellCommand", &c, rejected, "addressed to node 'ship2'");

    /* Expired (ttl ran out), too old for the ledger, and from the future. */
    c = make("f-expired", "shellCommand", marker_argv, 3);
    c.created_ms -= 10000;
    c.ttl_ms = 5000;
    assert_int_equal(sign_command(key, &c, &sig), BOSUN_OK);
    expect("shellCommand", &c, BOSUN__ACK_STATUS__ACK_STATUS_EXPIRED, "expired");

    c = make("f-old", "shellCommand", marker_argv, 3);
    c.created_ms -= 20000;
    c.ttl_ms = 0;
    assert_int_equal(sign_command(key, &c, &sig), BOSUN_OK);
    expect("shellCommand", &c, rejected, "too old to be checked against replays");

    c = make("f-future", "shellCommand", marker_argv, 3);
    c.created_ms += 60000;
    assert_int_equal(sign_command(key, &c, &sig), BOSUN_OK);
    expect("shellCommand", &c, rejected, "created in the future");

    assert_int_equal(marker_lines(), 0);
}

static void test_signed_command_runs_once_and_replays_run_nothing(void **state)
{
    (void)state;
    sign_sig_t sig;
    int before = marker_lines();
    Bosun__Command c = make("r-1", "shellCommand", marker_argv, 3);
    c.ttl_ms = 0;
    assert_int_equal(sign_command(key, &c, &sig), BOSUN_OK);
    expect("shellCommand", &c, BOSUN__ACK_STATUS__ACK_STATUS_OK, "");
    assert_int_equal(marker_lines(), before + 1);

    /* The same bytes again, and with another (unsigned) attempt number:
     * answered with the stored result, not run. */
    expect("shellCommand", &c, BOSUN__ACK_STATUS__ACK_STATUS_OK, "");
    c.attempt = 9;
    expect("shellCommand", &c, BOSUN__ACK_STATUS__ACK_STATUS_OK, "");
    assert_int_equal(marker_lines(), before + 1);

    /* After a restart of the agent: still the stored result. */
    assert_int_equal(harness_proc_stop(fx.agent, 5000, NULL), 0);
    fx.agent = NULL;
    assert_int_equal(fixture_start_agent(&fx), 0);
    expect("shellCommand", &c, BOSUN__ACK_STATUS__ACK_STATUS_OK, "");
    assert_int_equal(marker_lines(), before + 1);

    /* A command that runs just before the age limit, replayed after it:
     * refused as too old, not run again. */
    c = make("r-2", "shellCommand", marker_argv, 3);
    c.ttl_ms = 0;
    c.created_ms -= 14000; /* limit: 15 s */
    assert_int_equal(sign_command(key, &c, &sig), BOSUN_OK);
    expect("shellCommand", &c, BOSUN__ACK_STATUS__ACK_STATUS_OK, "");
    assert_int_equal(marker_lines(), before + 2);
    usleep(1500000);
    expect("shellCommand", &c, BOSUN__ACK_STATUS__ACK_STATUS_REJECTED, "too old");
    assert_int_equal(marker_lines(), before + 2);
}

static void test_allow_lists(void **state)
{
    (void)state;
    const Bosun__AckStatus rejected = BOSUN__ACK_STATUS__ACK_STATUS_REJECTED;
    sign_sig_t sig;
    int before = marker_lines();

    char *line[] = {"hello"};
    Bosun__Command c = make("a-textlog", "textLogging", line, 1);
    assert_int_equal(sign_command(key, &c, &sig), BOSUN_OK);
    expect("textLogging", &c, rejected, "method 'textLogging' is not allowed on this node");

    char *two_letters[] = {"bash", "-c", "echo xy >> MARKER"};
    char *sneaky[] = {"bash", "-c", "echo x >> MARKER; touch PWNED"};
    char *shorter[] = {"bash", "-c"};
    char *rm[] = {"rm", "-rf", "/tmp/nothing-here"};
    char **bad[] = {two_letters, sneaky, shorter, rm};
    size_t lens[] = {3, 3, 2, 3};
    for (size_t i = 0; i < 4; i++) {
        char id[32];
        snprintf(id, sizeof id, "a-argv-%zu", i);
        c = make(id, "shellCommand", bad[i], lens[i]);
        assert_int_equal(sign_command(key, &c, &sig), BOSUN_OK);
        expect("shellCommand", &c, rejected, "argv not allowed by security.allow.shellCommand");
    }
    /* Inside the patterns: runs. */
    char *yes[] = {"true", "any", "thing"};
    c = make("a-true", "shellCommand", yes, 3);
    assert_int_equal(sign_command(key, &c, &sig), BOSUN_OK);
    expect("shellCommand", &c, BOSUN__ACK_STATUS__ACK_STATUS_OK, "");
    char *z[] = {"bash", "-c", "echo z >> MARKER"};
    c = make("a-z", "shellCommand", z, 3);
    assert_int_equal(sign_command(key, &c, &sig), BOSUN_OK);
    expect("shellCommand", &c, BOSUN__ACK_STATUS__ACK_STATUS_OK, "");

    /* Events are not signed, but the method allow-list holds for them. */
    Bosun__Event ev = BOSUN__EVENT__INIT;
    ev.id = "a-event";
    ev.node = NODE;
    ev.method = "textLogging";
    ev.data = line;
    ev.n_data = 1;
    uint8_t buf[256];
    size_t len = bosun__event__pack(&ev, buf);
    Bosun__Ack *ack = client_raw(fx.nc, NODE ".event.textLogging", buf, (int)len, 5000);
    assert_non_null(ack);
    assert_int_equal(ack->status, rejected);
    assert_non_null(strstr(ack->error, "not allowed"));
    bosun__ack__free_unpacked(ack, NULL);

    char path[700];
    snprintf(path, sizeof path, "%s/PWNED", fx.data_dir);
    assert_int_not_equal(access(path, F_OK), 0);
    assert_int_equal(marker_lines(), before + 1);
    char *log = harness_proc_log(fx.agent);
    assert_non_null(strstr(log, "refused: argv not allowed"));
    free(log);
}

/* Starts an agent named node on the fixture's server with `extra` config;
 * waits until it answers. */
static harness_proc_t *start_agent(const char *node, const char *extra, char *data_dir, size_t cap)
{
    char cfg[700], json[2048], log[700];
    snprintf(data_dir, cap, "%s/%s", fx.dir, node);
    snprintf(cfg, sizeof cfg, "%s/%s.json", fx.dir, node);
    snprintf(log, sizeof log, "%s/%s.log", fx.dir, node);
    snprintf(json, sizeof json, "{\"id\": \"%s\", \"dataDir\": \"%s\", \"nats\": {\"servers\": [\"%s\"]}%s%s}\n",
             node, data_dir, harness_natsd_url(fx.natsd), extra ? ", " : "", extra ? extra : "");
    assert_int_equal(harness_write_file(cfg, json), 0);
    char *argv[] = {BOSUN_AGENT_BIN, "--config-file", cfg, "--log-level", "4", NULL};
    harness_proc_t *p = NULL;
    assert_int_equal(harness_proc_start(argv, log, &p), 0);
    const char *none[] = {NULL};
    for (int i = 0; i < 100; i++) {
        Bosun__Ack *ack = client_command(fx.nc, node, "ping", "ready", none, 0, 200);
        if (ack != NULL) {
            bosun__ack__free_unpacked(ack, NULL);
            return p;
        }
        usleep(100000);
    }
    fail_msg("agent %s did not start", node);
    return NULL;
}

static bool file_exists(void *path) { return access(path, F_OK) == 0; }

static void test_central_signs_what_it_delivers(void **state)
{
    (void)state;
    char central_dir[700], out_path[800];
    snprintf(central_dir, sizeof central_dir, "%s/central", fx.dir);

    /* keygen writes the key pair and prints the public key; never twice. */
    char *out = NULL;
    int code = -1;
    char *keygen[] = {BOSUN_CENTRAL_BIN, "keygen", "--data-dir", central_dir, NULL};
    assert_int_equal(harness_run(keygen, 10000, &out, &code), 0);
    assert_int_equal(code, 0);
    char pub_path[800];
    snprintf(pub_path, sizeof pub_path, "%s/central.pub", central_dir);
    char *pub = harness_read_file(pub_path, NULL);
    assert_non_null(pub);
    pub[strcspn(pub, "\n")] = '\0';
    assert_int_equal(strlen(pub), 44);
    assert_non_null(strstr(out, pub));
    free(out);
    assert_int_equal(harness_run(keygen, 10000, &out, &code), 0);
    assert_int_not_equal(code, 0);
    assert_non_null(strstr(out, "already exists"));
    free(out);

    /* An agent trusting central.pub only. */
    char extra[512], data_dir[700];
    snprintf(extra, sizeof extra, "\"security\": {\"trustedKeys\": [\"%s\"]}", pub);
    harness_proc_t *agent = start_agent("ship2", extra, data_dir, sizeof data_dir);

    /* The test's own key is not central's: refused there. */
    Bosun__Command c = make("e-test-key", "shellCommand", marker_argv, 3);
    c.node = "ship2";
    sign_sig_t sig;
    assert_int_equal(sign_command(key, &c, &sig), BOSUN_OK);
    Bosun__Ack *ack = client_send(fx.nc, "ship2.command.shellCommand", &c, 10000);
    assert_non_null(ack);
    assert_int_equal(ack->status, BOSUN__ACK_STATUS__ACK_STATUS_REJECTED);
    assert_string_equal(ack->error, "signed by an unknown key");
    bosun__ack__free_unpacked(ack, NULL);

    char cfg[800], json[1024], log[800];
    snprintf(cfg, sizeof cfg, "%s/central.json", fx.dir);
    snprintf(log, sizeof log, "%s/central.log", fx.dir);
    snprintf(json, sizeof json,
             "{\"id\": \"central\", \"dataDir\": \"%s\", \"nats\": {\"servers\": [\"%s\"]},"
             " \"http\": {\"listen\": \"\"}, \"timeSync\": {\"intervalSecs\": 0}}\n",
             central_dir, harness_natsd_url(fx.natsd));
    assert_int_equal(harness_write_file(cfg, json), 0);
    char *argv[] = {BOSUN_CENTRAL_BIN, "--config-file", cfg, "--log-level", "4", NULL};
    harness_proc_t *central = NULL;
    assert_int_equal(harness_proc_start(argv, log, &central), 0);
    assert_true(harness_proc_wait_log(central, "running: inbox", 10000));
    assert_true(harness_proc_wait_log(central, "loaded signing key", 100));
    char *clog = harness_proc_log(central);
    assert_non_null(strstr(clog, pub));
    free(clog);

    char inmsg[800];
    snprintf(inmsg, sizeof inmsg, "%s/inmsg.txt", central_dir);
    const char *drop = "[{\"toNode\": \"ship2\", \"commandOrEvent\": \"command\", \"method\": "
                       "\"shellCommand\", \"data\": [\"bash\", \"-c\", \"echo e2e > E2E\"]}]\n";
    int fd = open(inmsg, O_WRONLY | O_APPEND | O_CREAT, 0660);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, drop, strlen(drop)), (ssize_t)strlen(drop));
    close(fd);
    snprintf(out_path, sizeof out_path, "%s/E2E", data_dir);
    assert_true(harness_wait_until(file_exists, out_path, 15000));
    assert_true(harness_proc_wait_log(central, "shellCommand on ship2: OK", 10000));

    harness_proc_stop(central, 5000, NULL);
    harness_proc_stop(agent, 5000, NULL);
    free(pub);
}

/* Runs `bosun-central request` with args; returns its exit code, output in *out. */
static int run_request(char **args, char **out)
{
    char *argv[32] = {BOSUN_CENTRAL_BIN, "request", "--brokerAddress", (char *)harness_natsd_url(fx.natsd)};
    size_t n = 4;
    for (size_t i = 0; args[i] != NULL && n < 31; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    int code = -1;
    assert_int_equal(harness_run(argv, 20000, out, &code), 0);
    return code;
}

/*
 * `bosun-central request` signs with central's key (the one keygen made in
 * its data directory), so an agent trusting central.pub runs it; without a
 * key it warns that the command goes unsigned, and the agent refuses it.
 */
static void test_request_is_signed_with_central_key(void **state)
{
    (void)state;
    char central_dir[700], empty_dir[700], pub_path[800];
    snprintf(central_dir, sizeof central_dir, "%s/central-req", fx.dir);
    snprintf(empty_dir, sizeof empty_dir, "%s/no-key", fx.dir);
    char *out = NULL;
    int code = -1;
    char *keygen[] = {BOSUN_CENTRAL_BIN, "keygen", "--data-dir", central_dir, NULL};
    assert_int_equal(harness_run(keygen, 10000, &out, &code), 0);
    assert_int_equal(code, 0);
    free(out);
    snprintf(pub_path, sizeof pub_path, "%s/central.pub", central_dir);
    char *pub = harness_read_file(pub_path, NULL);
    assert_non_null(pub);
    pub[strcspn(pub, "\n")] = '\0';

    char extra[512], data_dir[700], path[800];
    snprintf(extra, sizeof extra, "\"security\": {\"trustedKeys\": [\"%s\"]}", pub);
    harness_proc_t *agent = start_agent("ship4", extra, data_dir, sizeof data_dir);

    char *signed_args[] = {"--data-dir", central_dir, "--to", "ship4", "--method", "shellCommand",
                           "--", "bash", "-c", "echo signed > REQ_SIGNED", NULL};
    code = run_request(signed_args, &out);
    if (code != 0)
        fail_msg("signed request failed (%d): %s", code, out);
    assert_non_null(strstr(out, "\"status\":\"OK\""));
    free(out);
    snprintf(path, sizeof path, "%s/REQ_SIGNED", data_dir);
    assert_int_equal(access(path, F_OK), 0);

    /* No key in that data directory: sent unsigned, said so, refused, not run. */
    char *unsigned_args[] = {"--data-dir", empty_dir, "--to", "ship4", "--method", "shellCommand",
                             "--", "bash", "-c", "echo unsigned > REQ_UNSIGNED", NULL};
    code = run_request(unsigned_args, &out);
    assert_int_equal(code, 1);
    assert_non_null(strstr(out, "goes UNSIGNED"));
    assert_non_null(strstr(out, "\"status\":\"REJECTED\""));
    assert_non_null(strstr(out, "unsigned"));
    free(out);
    snprintf(path, sizeof path, "%s/REQ_UNSIGNED", data_dir);
    assert_int_not_equal(access(path, F_OK), 0);

    harness_proc_stop(agent, 5000, NULL);
    free(pub);
}

/*
 * Checks what a child of the agent reported about itself: the lines after
 * "--env" up to "--fd" are its environment, those after "--fd" the output
 * of `ls /proc/self/fd`. Only the agent's fixed variables (and what a shell
 * adds itself) may be there, and only fds 0, 1, 2 and the one ls opened.
 */
static void check_child_report(const char *text, const char *who)
{
    static const char *allowed[] = {"PATH=", "LANG=", "BOSUN_NODE=", "HOME=", "PWD=", "OLDPWD=",
                                    "SHLVL=", "_=", NULL};
    const char *env = strstr(text, "--env\n"), *fds = strstr(text, "--fd\n");
    if (env == NULL || fds == NULL || fds < env)
        fail_msg("%s: malformed report:\n%s", who, text);
    char *copy = strndup(env + 6, (size_t)(fds - env - 6));
    for (char *save = NULL, *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        bool ok = false;
        for (size_t i = 0; allowed[i] != NULL && !ok; i++)
            ok = strncmp(l, allowed[i], strlen(allowed[i])) == 0;
        if (!ok)
            fail_msg("%s: unexpected environment variable '%s' in:\n%s", who, l, text);
    }
    free(copy);
    int seen[4] = {0};
    copy = strdup(fds + 5);
    for (char *save = NULL, *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        int fd = atoi(l);
        if (fd < 0 || fd > 3)
            fail_msg("%s: inherited file descriptor %d:\n%s", who, fd, text);
        seen[fd]++;
    }
    free(copy);
    for (int fd = 0; fd < 4; fd++)
        if (seen[fd] != 1)
            fail_msg("%s: fd %d listed %d times:\n%s", who, fd, seen[fd], text);
}

/* nobody's uid; skips the test unless we are root and nobody exists. */
static uid_t nobody_or_skip(void)
{
    struct passwd *pw = geteuid() == 0 ? getpwnam("nobody") : NULL;
    if (pw == NULL) {
        skip();
        return 0;
    }
    return pw->pw_uid;
}

/* The marker variable put into the test's (and so the agent's) environment. */
#define LEAK_VAR "BOSUN_TEST_SECRET"

static bool nonempty_file(void *path)
{
    char *t = harness_read_file(path, NULL);
    bool ok = t != NULL && strstr(t, "--fd\n") != NULL && strstr(t, "--end\n") != NULL;
    free(t);
    return ok;
}

/*
 * Transition scripts run like commands: as runAsUser, with the fixed
 * environment and no inherited file descriptors. The agent holds one
 * resource alone, so it goes active and runs onActive, which reports its
 * uid, environment and open fds into a file.
 */
static void test_scripts_run_as_nobody(void **state)
{
    (void)state;
    uid_t nobody = nobody_or_skip();
    /* The script and its output directory must be reachable by nobody. */
    char *sdir = harness_tmpdir("secscript");
    assert_non_null(sdir);
    assert_int_equal(chmod(sdir, 0755), 0);
    char script[700], outdir[700], out[800];
    snprintf(script, sizeof script, "%s/on_active.sh", sdir);
    snprintf(outdir, sizeof outdir, "%s/out", sdir);
    snprintf(out, sizeof out, "%s/res-sec.txt", outdir);
    assert_int_equal(mkdir(outdir, 0777), 0);
    assert_int_equal(chmod(outdir, 0777), 0);
    char text[1024];
    snprintf(text, sizeof text,
             "#!/bin/sh\n"
             "o=\"%s/$1.txt\"\n"
             "{ echo \"uid=$(id -u)\"; echo --env; env; echo --fd; ls /proc/self/fd; echo --end; }"
             " > \"$o.tmp\" && mv \"$o.tmp\" \"$o\"\n",
             outdir);
    assert_int_equal(harness_write_file(script, text), 0);
    assert_int_equal(chmod(script, 0755), 0);

    int port = harness_free_port();
    assert_true(port > 0);
    char extra[1536], data_dir[700];
    snprintf(extra, sizeof extra,
             "\"security\": {\"runAsUser\": \"nobody\"},\n"
             " \"networking\": {\"interfaceName\": \"lo\", \"address\": \"239.255.%d.%d\", \"port\": %d},\n"
             " \"resources\": [\"res-sec\"],\n"
             " \"timing\": {\"txIntervalSecs\": 0.1, \"transitionWaitSecs\": 0.2},\n"
             " \"run\": {\"onActive\": \"%s\"}",
             (int)(getpid() % 200) + 20, port % 250 + 1, port, script);
    setenv(LEAK_VAR, "must-not-reach-children", 1);
    harness_proc_t *agent = start_agent("ship5", extra, data_dir, sizeof data_dir);
    unsetenv(LEAK_VAR);
    if (!harness_wait_until(nonempty_file, out, 20000)) {
        char *log = harness_proc_log(agent);
        fprintf(stderr, "---- agent log ----\n%s\n", log ? log : "");
        free(log);
        fail_msg("onActive wrote no report within 20 s");
    }
    char *report = harness_read_file(out, NULL);
    char want[32];
    snprintf(want, sizeof want, "uid=%u\n", (unsigned)nobody);
    if (strncmp(report, want, strlen(want)) != 0)
        fail_msg("script did not run as nobody (uid %u):\n%s", (unsigned)nobody, report);
    assert_null(strstr(report, LEAK_VAR));
    char *end = strstr(report, "--end\n");
    *end = '\0';
    check_child_report(report, "onActive");
    free(report);
    harness_proc_stop(agent, 5000, NULL);
    harness_rmtree(sdir);
    free(sdir);
}

static void test_run_as_nobody(void **state)
{
    (void)state;
    uid_t nobody = nobody_or_skip();
    char data_dir[700];
    setenv(LEAK_VAR, "must-not-reach-children", 1);
    harness_proc_t *agent = start_agent("ship3", "\"security\": {\"runAsUser\": \"nobody\"}", data_dir,
                                        sizeof data_dir);
    unsetenv(LEAK_VAR);
    const char *id_u[] = {"id", "-u", NULL};
    Bosun__Ack *ack = client_command(fx.nc, "ship3", "shellCommand", "n-id", id_u, 5000, 10000);
    assert_non_null(ack);
    assert_int_equal(ack->status, BOSUN__ACK_STATUS__ACK_STATUS_OK);
    char want[32];
    snprintf(want, sizeof want, "%u\n", (unsigned)nobody);
    assert_int_equal(ack->stdout.len, strlen(want));
    assert_memory_equal(ack->stdout.data, want, strlen(want));
    bosun__ack__free_unpacked(ack, NULL);

    /* No root groups left, and the data directory (0750, root's) is not
     * nobody's: the command starts in "/". */
    const char *check[] = {"sh", "-c", "id -G; pwd", NULL};
    ack = client_command(fx.nc, "ship3", "shellCommand", "n-groups", check, 5000, 10000);
    assert_non_null(ack);
    assert_int_equal(ack->status, BOSUN__ACK_STATUS__ACK_STATUS_OK);
    char *text = strndup((const char *)ack->stdout.data, ack->stdout.len);
    assert_null(strstr(text, " 0 "));
    assert_true(strncmp(text, "0", 1) != 0);
    assert_non_null(strstr(text, "\n/\n"));
    free(text);
    bosun__ack__free_unpacked(ack, NULL);

    /* The environment is the agent's fixed one and no descriptor is inherited. */
    const char *report[] = {"sh", "-c", "echo --env; env; echo --fd; ls /proc/self/fd", NULL};
    ack = client_command(fx.nc, "ship3", "shellCommand", "n-report", report, 5000, 10000);
    assert_non_null(ack);
    assert_int_equal(ack->status, BOSUN__ACK_STATUS__ACK_STATUS_OK);
    text = strndup((const char *)ack->stdout.data, ack->stdout.len);
    assert_null(strstr(text, LEAK_VAR));
    check_child_report(text, "shellCommand");
    free(text);
    bosun__ack__free_unpacked(ack, NULL);

    char *log = harness_proc_log(agent);
    assert_non_null(strstr(log, "accepts unsigned commands from anyone who can publish on NATS"));
    assert_non_null(strstr(log, "commands run as user nobody"));
    free(log);
    harness_proc_stop(agent, 5000, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forged_commands_are_refused_and_none_runs),
        cmocka_unit_test(test_signed_command_runs_once_and_replays_run_nothing),
        cmocka_unit_test(test_allow_lists),
        cmocka_unit_test(test_central_signs_what_it_delivers),
        cmocka_unit_test(test_request_is_signed_with_central_key),
        cmocka_unit_test(test_run_as_nobody),
        cmocka_unit_test(test_scripts_run_as_nobody),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
