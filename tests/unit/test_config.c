/* test_config.c - unit tests for lib/config.c and the walker in lib/cfgschema.c. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "name.h"

#define SRC "agent.json"

/* ---- helpers ------------------------------------------------------------------ */

static bosun_status_t agent_parse(bosun_agent_config_t *c, const char *json, bosun_err_t *err)
{
    assert_int_equal(bosun_agent_config_init(c), BOSUN_OK);
    return bosun_agent_config_parse(c, json, strlen(json), SRC, err);
}

/* Parses and finishes json (as a binary would) and expects exactly msg. */
static void expect_agent_error(const char *json, const char *msg)
{
    bosun_agent_config_t c;
    bosun_err_t err;
    bosun_err_clear(&err);
    bosun_status_t st = agent_parse(&c, json, &err);
    if (st == BOSUN_OK)
        st = bosun_agent_config_finish(&c, SRC, &err);
    assert_int_equal(st, BOSUN_ERR_CONFIG);
    assert_int_equal(err.status, BOSUN_ERR_CONFIG);
    assert_string_equal(err.msg, msg);
    bosun_agent_config_free(&c);
}

static void expect_central_error(const char *json, const char *msg)
{
    bosun_central_config_t c;
    bosun_err_t err;
    bosun_err_clear(&err);
    assert_int_equal(bosun_central_config_init(&c), BOSUN_OK);
    bosun_status_t st = bosun_central_config_parse(&c, json, strlen(json), "central.json", &err);
    if (st == BOSUN_OK)
        st = bosun_central_config_finish(&c, "central.json", &err);
    assert_int_equal(st, BOSUN_ERR_CONFIG);
    assert_string_equal(err.msg, msg);
    bosun_central_config_free(&c);
}

/* Parses and finishes json, expecting success. */
static void agent_ok(bosun_agent_config_t *c, const char *json)
{
    bosun_err_t err;
    bosun_err_clear(&err);
    bosun_status_t st = agent_parse(c, json, &err);
    if (st == BOSUN_OK)
        st = bosun_agent_config_finish(c, SRC, &err);
    if (st != BOSUN_OK)
        fail_msg("unexpected error: %s", err.msg);
}

/* A private temporary directory per test group. */
static char tmpdir[64];

static int group_setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/bosun-config-XXXXXX");
    return mkdtemp(tmpdir) != NULL ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    char path[128];
    /* Only the few files this program made. */
    const char *names[] = {"big.json", "max.json", "one.json", "two.json"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", tmpdir, names[i]);
        unlink(path);
    }
    return rmdir(tmpdir);
}

/* Writes n bytes of text to tmpdir/name; returns the path (static buffer). */
static const char *write_tmp(const char *name, const char *text, size_t n)
{
    static char path[128];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
    return path;
}

/* ---- defaults ----------------------------------------------------------------- */

static void test_agent_defaults(void **state)
{
    (void)state;
    bosun_agent_config_t c;
    assert_int_equal(bosun_agent_config_init(&c), BOSUN_OK);
    assert_null(c.id);
    assert_string_equal(c.data_dir, "/var/lib/bosun/agent");
    assert_int_equal(c.priority, 100);
    assert_int_equal(c.n_resources, 0);
    assert_int_equal(c.token_start, 1000000);
    assert_int_equal(c.token_end, 2000000);
    assert_string_equal(c.net.interface_name, "lo");
    assert_string_equal(c.net.address, "239.255.85.13");
    assert_int_equal(c.net.port, 8513);
    assert_int_equal(c.net.ttl, 1);
    assert_int_equal(c.net.tos, 0);
    assert_int_equal(c.net.tx_oversend, 0);
    assert_null(c.net.crypto_password);
    assert_true(c.net.rx_loss_pct == 0 && c.net.tx_loss_pct == 0);
    assert_true(c.net.rx_error_pct == 0 && c.net.tx_error_pct == 0);
    assert_null(c.run.on_idle);
    assert_null(c.run.before_going_active);
    assert_null(c.run.on_active);
    assert_true(c.run.script_timeout_secs == 5);
    assert_true(c.timing.internal_multiplier == 1);
    assert_true(c.timing.tx_interval_secs == 1);
    assert_true(c.timing.transition_wait_secs == 3);
    assert_int_equal(c.timing.heartbeat_interval_ms, 500);
    assert_int_equal(c.logging.level, 3);
    assert_false(c.logging.dashboard);
    assert_false(c.logging.log_command_output);
    assert_int_equal(c.nats.n_servers, 1);
    assert_string_equal(c.nats.servers[0], "nats://127.0.0.1:4222");
    assert_null(c.nats.user);
    assert_null(c.nats.password);
    assert_null(c.nats.token);
    assert_null(c.nats.tls_ca);
    assert_true(c.nats.reconnect_wait_secs == 0.25);
    assert_true(c.nats.reconnect_jitter_secs == 0.25);
    assert_true(c.nats.connect_timeout_secs == 2);
    assert_int_equal(c.commands.max_concurrent, 8);
    assert_int_equal(c.commands.max_queued, 256);
    assert_int_equal(c.commands.max_output_bytes, 65536);
    assert_true(c.commands.default_timeout_secs == 60);
    assert_true(c.commands.result_retention_secs == 86400);
    assert_true(c.commands.shutdown_grace_secs == 5);
    assert_int_equal(c.commands.max_payload_bytes, 1024 * 1024);
    assert_true(c.max_run_secs == 0);
    /* The defaults alone are a valid configuration. */
    bosun_err_t err;
    assert_int_equal(bosun_agent_config_finish(&c, "defaults", &err), BOSUN_OK);
    assert_true(bosun_name_valid(c.id));
    bosun_agent_config_free(&c);
}

static void test_central_defaults(void **state)
{
    (void)state;
    bosun_central_config_t c;
    assert_int_equal(bosun_central_config_init(&c), BOSUN_OK);
    assert_string_equal(c.id, "central");
    assert_string_equal(c.data_dir, "/var/lib/bosun/central");
    assert_int_equal(c.logging.level, 3);
    assert_int_equal(c.nats.n_servers, 1);
    assert_string_equal(c.nats.servers[0], "nats://127.0.0.1:4222");
    assert_true(c.delivery.ack_timeout_secs == 5);
    assert_int_equal(c.delivery.retries, -1);
    assert_true(c.delivery.retry_wait_secs == 1);
    assert_true(c.delivery.max_retry_wait_secs == 30);
    assert_true(c.delivery.method_timeout_secs == 60);
    assert_true(c.delivery.ttl_secs == 86400);
    bosun_err_t err;
    assert_int_equal(bosun_central_config_finish(&c, "defaults", &err), BOSUN_OK);
    bosun_central_config_free(&c);
}

/* ---- a full file ---------------------------------------------------------------- */

static const char full_nsm[] =
    "{\n"
    "  \"id\": \"web-server-01\",\n"
    "  \"dataDir\": \"/srv/bosun\",\n"
    "  \"resources\": [\n"
    "    {\"id\": \"res01\", \"priority\": 200},\n"
    "    \"res02\",\n"
    "    {\"id\": \"res03\", \"preempt\": false}\n"
    "  ],\n"
    "  \"priority\": 42,\n"
    "  \"electionToken\": {\"start\": 3000000, \"end\": 3500000},\n"
    "  \"networking\": {\n"
    "    \"interfaceName\": \"en0\", \"address\": \"255.255.255.255\", \"port\": 9000,\n"
    "    \"ttl\": 64, \"tos\": 184, \"txOversend\": 2, \"cryptoPassword\": \"secure-password-123\",\n"
    "    \"rxLossPercentage\": 5, \"txLossPercentage\": 2.5, \"rxErrorPercentage\": 1,\n"
    "    \"txErrorPercentage\": 0.5\n"
    "  },\n"
    "  \"run\": {\"onIdle\": \"./onIdle.sh\", \"beforeGoingActive\": \"./bga.sh\",\n"
    "          \"onGoingActive\": \"./oga.sh\", \"beforeActive\": \"./ba.sh\", \"onActive\": \"./oa.sh\",\n"
    "          \"scriptTimeoutSecs\": 2.5},\n"
    "  \"timing\": {\"internalMultiplier\": 0.5, \"txIntervalSecs\": 0.02, \"transitionWaitSecs\": 2,\n"
    "             \"heartbeatIntervalMs\": 250},\n"
    "  \"logging\": {\"level\": 5, \"dashboard\": true, \"logCommandOutput\": true},\n"
    "  \"nats\": {\"servers\": [\"nats://a:4222\", \"tls://b:4443\"], \"token\": \"s3cret\",\n"
    "           \"tls\": {\"ca\": \"/ca.pem\", \"cert\": \"/c.pem\", \"key\": \"/k.pem\",\n"
    "                   \"serverName\": \"nats.local\"},\n"
    "           \"reconnectWaitSecs\": 1, \"reconnectJitterSecs\": 0.1, \"connectTimeoutSecs\": 3},\n"
    "  \"commands\": {\"maxConcurrent\": 4, \"maxQueued\": 10, \"maxOutputBytes\": 1000,\n"
    "               \"defaultTimeoutSecs\": 30, \"resultRetentionSecs\": 3600,\n"
    "               \"shutdownGraceSecs\": 0, \"maxPayloadBytes\": 2048},\n"
    "  \"maxRunSecs\": 60\n"
    "}\n";

static void test_agent_full_file(void **state)
{
    (void)state;
    bosun_agent_config_t c;
    agent_ok(&c, full_nsm);
    assert_string_equal(c.id, "web-server-01");
    assert_string_equal(c.data_dir, "/srv/bosun");
    assert_int_equal(c.priority, 42);
    assert_int_equal(c.n_resources, 3);
    assert_string_equal(c.resources[0].id, "res01");
    assert_int_equal(c.resources[0].priority, 200);
    assert_true(c.resources[0].preempt);
    assert_string_equal(c.resources[1].id, "res02");
    assert_int_equal(c.resources[1].priority, 42);
    assert_true(c.resources[1].preempt);
    assert_string_equal(c.resources[2].id, "res03");
    assert_int_equal(c.resources[2].priority, 42);
    assert_false(c.resources[2].preempt);
    assert_int_equal(c.token_start, 3000000);
    assert_int_equal(c.token_end, 3500000);
    assert_string_equal(c.net.interface_name, "en0");
    assert_string_equal(c.net.address, "255.255.255.255");
    assert_int_equal(c.net.port, 9000);
    assert_int_equal(c.net.ttl, 64);
    assert_int_equal(c.net.tos, 184);
    assert_int_equal(c.net.tx_oversend, 2);
    assert_string_equal(c.net.crypto_password, "secure-password-123");
    assert_true(c.net.rx_loss_pct == 5);
    assert_true(c.net.tx_loss_pct == 2.5);
    assert_true(c.net.rx_error_pct == 1);
    assert_true(c.net.tx_error_pct == 0.5);
    assert_string_equal(c.run.on_idle, "./onIdle.sh");
    assert_string_equal(c.run.before_going_active, "./bga.sh");
    assert_string_equal(c.run.on_going_active, "./oga.sh");
    assert_string_equal(c.run.before_active, "./ba.sh");
    assert_string_equal(c.run.on_active, "./oa.sh");
    assert_true(c.run.script_timeout_secs == 2.5);
    assert_true(c.timing.internal_multiplier == 0.5);
    assert_true(c.timing.tx_interval_secs == 0.02);
    assert_true(c.timing.transition_wait_secs == 2);
    assert_int_equal(c.timing.heartbeat_interval_ms, 250);
    assert_int_equal(c.logging.level, 5);
    assert_true(c.logging.dashboard);
    assert_true(c.logging.log_command_output);
    assert_int_equal(c.nats.n_servers, 2);
    assert_string_equal(c.nats.servers[0], "nats://a:4222");
    assert_string_equal(c.nats.servers[1], "tls://b:4443");
    assert_string_equal(c.nats.token, "s3cret");
    assert_string_equal(c.nats.tls_ca, "/ca.pem");
    assert_string_equal(c.nats.tls_cert, "/c.pem");
    assert_string_equal(c.nats.tls_key, "/k.pem");
    assert_string_equal(c.nats.tls_server_name, "nats.local");
    assert_true(c.nats.reconnect_wait_secs == 1);
    assert_true(c.nats.reconnect_jitter_secs == 0.1);
    assert_true(c.nats.connect_timeout_secs == 3);
    assert_int_equal(c.commands.max_concurrent, 4);
    assert_int_equal(c.commands.max_queued, 10);
    assert_int_equal(c.commands.max_output_bytes, 1000);
    assert_true(c.commands.default_timeout_secs == 30);
    assert_true(c.commands.result_retention_secs == 3600);
    assert_true(c.commands.shutdown_grace_secs == 0);
    assert_int_equal(c.commands.max_payload_bytes, 2048);
    assert_true(c.max_run_secs == 60);
    bosun_agent_config_free(&c);
}

static void test_central_full_file(void **state)
{
    (void)state;
    static const char json[] =
        "{\"id\": \"hq\", \"dataDir\": \"/srv/central\",\n"
        " \"logging\": {\"level\": 4, \"dashboard\": true},\n"
        " \"nats\": {\"servers\": \"a:4222\", \"user\": \"u\", \"password\": \"p\"},\n"
        " \"delivery\": {\"ackTimeoutSecs\": 0.5, \"retries\": 3, \"retryWaitSecs\": 2,\n"
        "              \"maxRetryWaitSecs\": 10, \"methodTimeoutSecs\": 7, \"ttlSecs\": 600}}";
    bosun_central_config_t c;
    bosun_err_t err;
    assert_int_equal(bosun_central_config_init(&c), BOSUN_OK);
    assert_int_equal(bosun_central_config_parse(&c, json, strlen(json), "central.json", &err), BOSUN_OK);
    assert_int_equal(bosun_central_config_finish(&c, "central.json", &err), BOSUN_OK);
    assert_string_equal(c.id, "hq");
    assert_string_equal(c.data_dir, "/srv/central");
    assert_int_equal(c.logging.level, 4);
    assert_true(c.logging.dashboard);
    assert_int_equal(c.nats.n_servers, 1);
    assert_string_equal(c.nats.servers[0], "a:4222");
    assert_string_equal(c.nats.user, "u");
    assert_string_equal(c.nats.password, "p");
    assert_true(c.delivery.ack_timeout_secs == 0.5);
    assert_int_equal(c.delivery.retries, 3);
    assert_true(c.delivery.retry_wait_secs == 2);
    assert_true(c.delivery.max_retry_wait_secs == 10);
    assert_true(c.delivery.method_timeout_secs == 7);
    assert_true(c.delivery.ttl_secs == 600);
    bosun_central_config_free(&c);
}

/* ---- error classes ------------------------------------------------------------------ */

static void test_unknown_key(void **state)
{
    (void)state;
    expect_agent_error("{\"priorty\": 5}", SRC ": unknown key 'priorty' (did you mean 'priority'?)");
    expect_agent_error("{\"bogus\": 5}", SRC ": unknown key 'bogus'");
    /* A case-insensitive match is suggested however far it is otherwise. */
    expect_agent_error("{\"DATADIR\": \"/x\"}", SRC ": unknown key 'DATADIR' (did you mean 'dataDir'?)");
}

static void test_nested_unknown_key(void **state)
{
    (void)state;
    expect_agent_error("{\"networking\": {\"port\": 1, \"prot\": 2}}",
                       SRC ": unknown key 'networking.prot' (did you mean 'networking.port'?)");
    expect_agent_error("{\"nats\": {\"tls\": {\"cer\": \"/c\"}}}",
                       SRC ": unknown key 'nats.tls.cer' (did you mean 'nats.tls.cert'?)");
    expect_agent_error("{\"resources\": [\"a\", {\"id\": \"b\", \"priorty\": 1}]}",
                       SRC ": unknown key 'resources[1].priorty' (did you mean 'resources[1].priority'?)");
    expect_agent_error("{\"timing\": {\"TXINTERVALSECS\": 1}}",
                       SRC ": unknown key 'timing.TXINTERVALSECS' (did you mean 'timing.txIntervalSecs'?)");
    expect_agent_error("{\"timing\": {\"nothingLikeIt\": 1}}", SRC ": unknown key 'timing.nothingLikeIt'");
    /* Keys of other sections are unknown here: "delivery" is central's. */
    expect_agent_error("{\"delivery\": {}}", SRC ": unknown key 'delivery'");
}

static void test_wrong_type(void **state)
{
    (void)state;
    expect_agent_error("{\"networking\": {\"port\": \"abc\"}}",
                       SRC ": key 'networking.port' must be an integer from 1 to 65535, got \"abc\" (a string)");
    expect_agent_error("{\"logging\": {\"dashboard\": \"yes\"}}",
                       SRC ": key 'logging.dashboard' must be true or false, got \"yes\" (a string)");
    expect_agent_error("{\"networking\": {\"interfaceName\": 5}}",
                       SRC ": key 'networking.interfaceName' must be a string, got 5 (a number)");
    expect_agent_error("{\"timing\": {\"txIntervalSecs\": true}}",
                       SRC ": key 'timing.txIntervalSecs' must be a number greater than 0 and at most 3600, "
                           "got true (a boolean)");
    expect_agent_error("{\"networking\": []}", SRC ": key 'networking' must be an object, got an array");
    expect_agent_error("{\"priority\": null}",
                       SRC ": key 'priority' must be an integer from 0 to 255, got null");
    /* A secret's value is never quoted back. */
    expect_agent_error("{\"networking\": {\"cryptoPassword\": 12345}}",
                       SRC ": key 'networking.cryptoPassword' must be a string, got a number");
    expect_agent_error("{\"resources\": \"a\"}",
                       SRC ": key 'resources' must be a list of resource ids or objects "
                           "{\"id\", \"priority\", \"preempt\"}, got \"a\" (a string)");
    expect_agent_error("{\"resources\": [\"a\", 7]}",
                       SRC ": key 'resources[1]' must be a resource id or an object "
                           "{\"id\", \"priority\", \"preempt\"}, got 7 (a number)");
    expect_agent_error("[1, 2]", SRC ": the top level must be a JSON object, got an array");
}

static void test_out_of_range(void **state)
{
    (void)state;
    expect_agent_error("{\"networking\": {\"port\": 70000}}",
                       SRC ": key 'networking.port' must be an integer from 1 to 65535, got 70000");
    expect_agent_error("{\"networking\": {\"port\": 1.5}}",
                       SRC ": key 'networking.port' must be an integer from 1 to 65535, got 1.5");
    expect_agent_error("{\"networking\": {\"rxLossPercentage\": 100.5}}",
                       SRC ": key 'networking.rxLossPercentage' must be a number from 0 to 100, got 100.5");
    expect_agent_error("{\"timing\": {\"txIntervalSecs\": 0}}",
                       SRC ": key 'timing.txIntervalSecs' must be a number greater than 0 and at most 3600, "
                           "got 0");
    expect_agent_error("{\"resources\": [{\"id\": \"a\", \"priority\": 256}]}",
                       SRC ": key 'resources[0].priority' must be an integer from 0 to 255, got 256");
    expect_agent_error("{\"electionToken\": {\"start\": -1}}",
                       SRC ": key 'electionToken.start' must be a non-negative integer, got -1");
    /* A whole number written as a real is still an integer. */
    bosun_agent_config_t c;
    agent_ok(&c, "{\"networking\": {\"port\": 8514.0}}");
    assert_int_equal(c.net.port, 8514);
    bosun_agent_config_free(&c);
}

static void test_bad_names(void **state)
{
    (void)state;
    expect_agent_error("{\"id\": \"web.01\"}",
                       SRC ": key 'id': node name 'web.01' has a character not allowed at position 4 "
                           "(0x2e); expected only [A-Za-z0-9_-]");
    expect_agent_error("{\"resources\": [\"ok\", \"not ok\"]}",
                       SRC ": key 'resources[1]': resource id 'not ok' has a character not allowed at "
                           "position 4 (0x20); expected only [A-Za-z0-9_-]");
    expect_agent_error("{\"resources\": [{\"id\": \"a*\"}]}",
                       SRC ": key 'resources[0].id': resource id 'a*' has a character not allowed at "
                           "position 2 (0x2a); expected only [A-Za-z0-9_-]");
    expect_agent_error("{\"resources\": [{\"priority\": 5}]}", SRC ": key 'resources[0].id' is required");
    expect_agent_error("{\"resources\": [\"\"]}",
                       SRC ": key 'resources[0]': resource id is empty; expected 1 to 64 of [A-Za-z0-9_-]");
    expect_agent_error("{\"dataDir\": \"\"}", SRC ": key 'dataDir': must not be empty");
    expect_agent_error("{\"networking\": {\"address\": \"239.1.1\"}}",
                       SRC ": key 'networking.address': '239.1.1' is not an IPv4 address like 239.255.85.13");
}

static void test_duplicate_resource(void **state)
{
    (void)state;
    expect_agent_error("{\"resources\": [\"a\", \"b\", {\"id\": \"a\", \"priority\": 1}]}",
                       SRC ": key 'resources[2]': resource id 'a' is already used by resources[0]");
    /* A duplicate made after parsing (say by a flag) is caught by _finish. */
    bosun_agent_config_t c;
    bosun_err_t err;
    assert_int_equal(agent_parse(&c, "{\"resources\": [\"a\", \"b\"]}", &err), BOSUN_OK);
    assert_int_equal(bosun_config_set_str(&c.resources[1].id, "a"), BOSUN_OK);
    assert_int_equal(bosun_agent_config_finish(&c, "command line", &err), BOSUN_ERR_CONFIG);
    assert_string_equal(err.msg, "command line: key 'resources[1]': resource id 'a' is already used by "
                                 "resources[0]");
    bosun_agent_config_free(&c);
}

static void test_duplicate_json_key(void **state)
{
    (void)state;
    expect_agent_error("{\n  \"networking\": {\"port\": 1,\n                 \"port\": 2}\n}",
                       SRC ":3:23: invalid JSON: duplicate object key near '\"port\"'");
}

static void test_invalid_json(void **state)
{
    (void)state;
    expect_agent_error("{\n  \"id\": \"a\",\n  \"priority\": 5,,\n}",
                       SRC ":3:17: invalid JSON: string or '}' expected near ','");
    expect_agent_error("", SRC ":1:0: invalid JSON: '[' or '{' expected near end of file");
}

static void test_token_range(void **state)
{
    (void)state;
    expect_agent_error("{\"electionToken\": {\"end\": 10, \"start\": 11}}",
                       SRC ": key 'electionToken.start' (11) must not be greater than 'electionToken.end' (10)");
    bosun_agent_config_t c;
    agent_ok(&c, "{\"electionToken\": {\"start\": 7, \"end\": 7}}");
    assert_int_equal(c.token_start, 7);
    assert_int_equal(c.token_end, 7);
    bosun_agent_config_free(&c);
}

static void test_nats_rules(void **state)
{
    (void)state;
    expect_agent_error("{\"nats\": {\"tls\": {\"cert\": \"/c.pem\"}}}",
                       SRC ": key 'nats.tls.cert' is given without 'nats.tls.key'; give both or neither");
    expect_agent_error("{\"nats\": {\"tls\": {\"key\": \"/k.pem\"}}}",
                       SRC ": key 'nats.tls.key' is given without 'nats.tls.cert'; give both or neither");
    expect_agent_error("{\"nats\": {\"user\": \"u\"}}",
                       SRC ": key 'nats.user' is given without 'nats.password'; give both or neither");
    expect_agent_error("{\"nats\": {\"password\": \"p\"}}",
                       SRC ": key 'nats.password' is given without 'nats.user'; give both or neither");
    expect_agent_error("{\"nats\": {\"user\": \"u\", \"password\": \"p\", \"token\": \"t\"}}",
                       SRC ": keys 'nats.user' and 'nats.token' both set how to authenticate; give at most "
                           "one of user, token, nkeySeedFile, credsFile");
    expect_agent_error("{\"nats\": {\"nkeySeedFile\": \"/s\", \"credsFile\": \"/c\"}}",
                       SRC ": keys 'nats.nkeySeedFile' and 'nats.credsFile' both set how to authenticate; "
                           "give at most one of user, token, nkeySeedFile, credsFile");
    /* "" and null mean "not given". */
    bosun_agent_config_t c;
    agent_ok(&c, "{\"nats\": {\"user\": \"\", \"token\": null, \"credsFile\": \"/c\"},"
                 " \"run\": {\"onIdle\": \"\"}}");
    assert_null(c.nats.user);
    assert_null(c.nats.token);
    assert_string_equal(c.nats.creds_file, "/c");
    assert_null(c.run.on_idle);
    bosun_agent_config_free(&c);
}

/* ---- NSM quirks --------------------------------------------------------------------- */

static void test_resource_strings_take_top_priority(void **state)
{
    (void)state;
    const char *docs[] = {
        "{\"priority\": 17, \"resources\": [\"a\", {\"id\": \"b\"}, {\"id\": \"c\", \"priority\": 3}]}",
        "{\"resources\": [\"a\", {\"id\": \"b\"}, {\"id\": \"c\", \"priority\": 3}], \"priority\": 17}",
    };
    for (size_t i = 0; i < 2; i++) {
        bosun_agent_config_t c;
        agent_ok(&c, docs[i]);
        assert_int_equal(c.n_resources, 3);
        assert_int_equal(c.resources[0].priority, 17);
        assert_int_equal(c.resources[1].priority, 17);
        assert_int_equal(c.resources[2].priority, 3);
        bosun_agent_config_free(&c);
    }
    /* Without a top-level priority they take its default, 100. */
    bosun_agent_config_t c;
    agent_ok(&c, "{\"resources\": [\"a\"]}");
    assert_int_equal(c.resources[0].priority, 100);
    bosun_agent_config_free(&c);
}

static void test_servers_forms(void **state)
{
    (void)state;
    bosun_agent_config_t c;
    agent_ok(&c, "{\"nats\": {\"servers\": \"nats://a:4222, tls://u:p@b:4443 ,c.example:4222,[::1]:4222\"}}");
    assert_int_equal(c.nats.n_servers, 4);
    assert_string_equal(c.nats.servers[0], "nats://a:4222");
    assert_string_equal(c.nats.servers[1], "tls://u:p@b:4443");
    assert_string_equal(c.nats.servers[2], "c.example:4222");
    assert_string_equal(c.nats.servers[3], "[::1]:4222");
    bosun_agent_config_free(&c);

    agent_ok(&c, "{\"nats\": {\"servers\": [\"nats://x\", \"y:1\"]}}");
    assert_int_equal(c.nats.n_servers, 2);
    assert_string_equal(c.nats.servers[0], "nats://x");
    assert_string_equal(c.nats.servers[1], "y:1");
    bosun_agent_config_free(&c);

    expect_agent_error("{\"nats\": {\"servers\": \"a:4222,,b:4222\"}}",
                       SRC ": key 'nats.servers': server list 'a:4222,,b:4222' has an empty entry");
    expect_agent_error("{\"nats\": {\"servers\": [\"nats://a:4222\", \"http://b\"]}}",
                       SRC ": key 'nats.servers[1]': server 'http://b' is not like nats://host:4222, "
                           "tls://host:4222 or host:4222");
    expect_agent_error("{\"nats\": {\"servers\": [\"localhost\"]}}",
                       SRC ": key 'nats.servers[0]': server 'localhost' is not like nats://host:4222, "
                           "tls://host:4222 or host:4222");
    expect_agent_error("{\"nats\": {\"servers\": \"a:0\"}}",
                       SRC ": key 'nats.servers': server 'a:0' is not like nats://host:4222, "
                           "tls://host:4222 or host:4222");
    expect_agent_error("{\"nats\": {\"servers\": []}}", SRC ": key 'nats.servers': must list 1 to 32 servers, got 0");
    expect_agent_error("{\"nats\": {\"servers\": [4222]}}",
                       SRC ": key 'nats.servers[0]' must be a server URL, got 4222 (a number)");

    /* The public setter used by --brokerAddress. */
    bosun_nats_config_t n;
    memset(&n, 0, sizeof n);
    bosun_err_t err;
    assert_int_equal(bosun_nats_config_set_servers(&n, "nats://p:1,nats://q:2", &err), BOSUN_OK);
    assert_int_equal(n.n_servers, 2);
    assert_string_equal(n.servers[1], "nats://q:2");
    assert_int_equal(bosun_nats_config_set_servers(&n, "bad host:1", &err), BOSUN_ERR_INVALID);
    assert_int_equal(n.n_servers, 2); /* unchanged on error */
    for (size_t i = 0; i < n.n_servers; i++)
        free(n.servers[i]);
    free(n.servers);
}

static void test_generated_id(void **state)
{
    (void)state;
    char host[256] = "";
    assert_int_equal(gethostname(host, sizeof host - 1), 0);
    host[strcspn(host, ".")] = '\0';

    bosun_agent_config_t a, b;
    agent_ok(&a, "{\"id\": \"\"}");
    agent_ok(&b, "{}");
    assert_true(bosun_name_valid(a.id));
    assert_true(bosun_name_valid(b.id));
    assert_string_not_equal(a.id, b.id);
    size_t len = strlen(a.id);
    assert_true(len >= 8);
    assert_int_equal(a.id[len - 7], '-');
    assert_int_equal(strspn(a.id + len - 6, "0123456789abcdef"), 6);
    if (bosun_name_valid(host) && strlen(host) <= BOSUN_NAME_MAX - 7)
        assert_memory_equal(a.id, host, strlen(host));
    /* Once generated, the id stays as it is. */
    char *before = strdup(a.id);
    bosun_err_t err;
    assert_int_equal(bosun_agent_config_finish(&a, SRC, &err), BOSUN_OK);
    assert_string_equal(a.id, before);
    free(before);
    bosun_agent_config_free(&a);
    bosun_agent_config_free(&b);
}

/* ---- _finish on values set after parsing ----------------------------------------------- */

static void test_finish_checks_flags(void **state)
{
    (void)state;
    bosun_agent_config_t c;
    bosun_err_t err;
    assert_int_equal(agent_parse(&c, "{}", &err), BOSUN_OK);
    c.net.port = 0;
    assert_int_equal(bosun_agent_config_finish(&c, "command line", &err), BOSUN_ERR_CONFIG);
    assert_string_equal(err.msg,
                        "command line: key 'networking.port' must be an integer from 1 to 65535, got 0");
    c.net.port = 8513;
    c.logging.level = 9;
    assert_int_equal(bosun_agent_config_finish(&c, "command line", &err), BOSUN_ERR_CONFIG);
    assert_string_equal(err.msg, "command line: key 'logging.level' must be an integer from 0 to 5, got 9");
    c.logging.level = 3;
    assert_int_equal(bosun_config_set_str(&c.id, "bad id"), BOSUN_OK);
    assert_int_equal(bosun_agent_config_finish(&c, "command line", &err), BOSUN_ERR_CONFIG);
    assert_string_equal(err.msg, "command line: key 'id': node name 'bad id' has a character not allowed at "
                                 "position 4 (0x20); expected only [A-Za-z0-9_-]");
    assert_int_equal(bosun_config_set_str(&c.id, "good"), BOSUN_OK);
    assert_int_equal(bosun_config_set_str(&c.data_dir, NULL), BOSUN_OK);
    assert_int_equal(bosun_agent_config_finish(&c, "command line", &err), BOSUN_ERR_CONFIG);
    assert_string_equal(err.msg, "command line: key 'dataDir': must not be empty");
    assert_int_equal(bosun_config_set_str(&c.data_dir, "/d"), BOSUN_OK);
    assert_int_equal(bosun_agent_config_finish(&c, "command line", &err), BOSUN_OK);
    bosun_agent_config_free(&c);
}

static void test_central_errors(void **state)
{
    (void)state;
    expect_central_error("{\"delivery\": {\"ttlSec\": 5}}",
                         "central.json: unknown key 'delivery.ttlSec' (did you mean 'delivery.ttlSecs'?)");
    expect_central_error("{\"resources\": []}", "central.json: unknown key 'resources'");
    expect_central_error("{\"id\": \"\"}",
                         "central.json: key 'id': node name is empty; expected 1 to 64 of [A-Za-z0-9_-]");
    expect_central_error("{\"delivery\": {\"retries\": -2}}",
                         "central.json: key 'delivery.retries' must be an integer from -1 to 1000000, got -2");
    expect_central_error("{\"delivery\": {\"retryWaitSecs\": 60, \"maxRetryWaitSecs\": 30}}",
                         "central.json: key 'delivery.retryWaitSecs' (60) must not be greater than "
                         "'delivery.maxRetryWaitSecs' (30)");
    expect_central_error("{\"nats\": {\"token\": \"t\", \"credsFile\": \"/c\"}}",
                         "central.json: keys 'nats.token' and 'nats.credsFile' both set how to "
                         "authenticate; give at most one of user, token, nkeySeedFile, credsFile");
    expect_central_error("{\"logging\": {\"level\": 6}}",
                         "central.json: key 'logging.level' must be an integer from 0 to 5, got 6");
}

/* The "recorder" section: defaults, a full one, and what is refused. */
static void test_central_recorder_section(void **state)
{
    (void)state;
    bosun_central_config_t c;
    bosun_err_t err;
    assert_int_equal(bosun_central_config_init(&c), BOSUN_OK);
    assert_true(c.recorder.enabled);
    assert_int_equal(c.recorder.n_subjects, 1);
    assert_string_equal(c.recorder.subjects[0], "*.event.>");
    assert_true(c.recorder.storage_interval_secs == 600);
    assert_true(c.recorder.dir == NULL || c.recorder.dir[0] == '\0');
    assert_int_equal(c.recorder.queue_max, 100000);
    const char *json = "{\"recorder\": {\"enabled\": false, \"subjects\": [\"*.event.state\", \"central.event.>\"],\n"
                       " \"storageIntervalSecs\": 0.5, \"dir\": \"/srv/rec\", \"queueMax\": 100}}";
    assert_int_equal(bosun_central_config_parse(&c, json, strlen(json), "central.json", &err), BOSUN_OK);
    assert_int_equal(bosun_central_config_finish(&c, "central.json", &err), BOSUN_OK);
    assert_false(c.recorder.enabled);
    assert_int_equal(c.recorder.n_subjects, 2);
    assert_string_equal(c.recorder.subjects[1], "central.event.>");
    assert_true(c.recorder.storage_interval_secs == 0.5);
    assert_string_equal(c.recorder.dir, "/srv/rec");
    assert_int_equal(c.recorder.queue_max, 100);
    bosun_central_config_free(&c);

    expect_central_error("{\"recorder\": {\"subjects\": \"*.event.>\"}}",
                         "central.json: key 'recorder.subjects' must be a list of NATS subjects, got \"*.event.>\" (a string)");
    expect_central_error("{\"recorder\": {\"subjects\": [\"a b\"]}}",
                         "central.json: key 'recorder.subjects[0]': subject 'a b' holds white space or a control character");
    expect_central_error("{\"recorder\": {\"subjects\": [\"a..b\"]}}",
                         "central.json: key 'recorder.subjects[0]': 'a..b' is not a NATS subject");
    expect_central_error("{\"recorder\": {\"subjects\": [\"x.>\", \"x.>\"]}}",
                         "central.json: key 'recorder.subjects[1]': 'x.>' is listed twice");
    expect_central_error("{\"recorder\": {\"storageIntervalSecs\": 0}}",
                         "central.json: key 'recorder.storageIntervalSecs' must be a number greater than 0 and at most 604800, got 0");
    expect_central_error("{\"recorder\": {\"queueMax\": 10}}",
                         "central.json: key 'recorder.queueMax' must be an integer from 100 to 100000000, got 10");
    expect_central_error("{\"recorder\": {\"storageInterval\": 60}}",
                         "central.json: unknown key 'recorder.storageInterval'");
}

/* The fleet view's keys: "expectedNodes", "liveness", "timeSync" (issue 6). */
static void test_central_fleet_sections(void **state)
{
    (void)state;
    bosun_central_config_t c;
    bosun_err_t err;
    assert_int_equal(bosun_central_config_init(&c), BOSUN_OK);
    assert_int_equal(c.n_expected_nodes, 0);
    assert_int_equal(c.liveness.slow_ms, 1000); /* NoPE's defaults */
    assert_int_equal(c.liveness.warn_ms, 2000);
    assert_int_equal(c.liveness.dead_ms, 5000);
    assert_int_equal(c.liveness.remove_ms, 10000);
    assert_int_equal(c.liveness.check_interval_ms, 250);
    assert_true(c.time_sync.interval_secs == 10);
    assert_true(c.time_sync.warn_offset_ms == 100);
    const char *json = "{\"expectedNodes\": [\"web-01\", \"db_2\"],\n"
                       " \"liveness\": {\"slowMs\": 300, \"warnMs\": 600, \"deadMs\": 1000, \"removeMs\": 1500,\n"
                       "              \"checkIntervalMs\": 50},\n"
                       " \"timeSync\": {\"intervalSecs\": 0, \"warnOffsetMs\": 2.5}}";
    assert_int_equal(bosun_central_config_parse(&c, json, strlen(json), "central.json", &err), BOSUN_OK);
    assert_int_equal(bosun_central_config_finish(&c, "central.json", &err), BOSUN_OK);
    assert_int_equal(c.n_expected_nodes, 2);
    assert_string_equal(c.expected_nodes[0], "web-01");
    assert_string_equal(c.expected_nodes[1], "db_2");
    assert_int_equal(c.liveness.slow_ms, 300);
    assert_int_equal(c.liveness.warn_ms, 600);
    assert_int_equal(c.liveness.dead_ms, 1000);
    assert_int_equal(c.liveness.remove_ms, 1500);
    assert_int_equal(c.liveness.check_interval_ms, 50);
    assert_true(c.time_sync.interval_secs == 0); /* off */
    assert_true(c.time_sync.warn_offset_ms == 2.5);
    bosun_central_config_free(&c);

    expect_central_error("{\"expectedNodes\": \"web-01\"}",
                         "central.json: key 'expectedNodes' must be a list of node names, got \"web-01\" (a string)");
    expect_central_error("{\"expectedNodes\": [\"web-01\", 7]}",
                         "central.json: key 'expectedNodes[1]' must be a string, got 7 (a number)");
    expect_central_error("{\"expectedNodes\": [\"web.01\"]}",
                         "central.json: key 'expectedNodes[0]': node name 'web.01' has a character not allowed "
                         "at position 4 (0x2e); expected only [A-Za-z0-9_-]");
    expect_central_error("{\"expectedNodes\": [\"a\", \"b\", \"a\"]}",
                         "central.json: key 'expectedNodes[2]': 'a' is listed twice");
    expect_central_error("{\"liveness\": {\"slowMs\": 0}}",
                         "central.json: key 'liveness.slowMs' must be an integer from 1 to 86400000, got 0");
    expect_central_error("{\"liveness\": {\"deadMs\": 1.5}}",
                         "central.json: key 'liveness.deadMs' must be an integer from 1 to 86400000, got 1.5");
    expect_central_error("{\"liveness\": {\"checkIntervalMs\": 5}}",
                         "central.json: key 'liveness.checkIntervalMs' must be an integer from 10 to 60000, got 5");
    expect_central_error("{\"liveness\": {\"slow\": 500}}",
                         "central.json: unknown key 'liveness.slow' (did you mean 'liveness.slowMs'?)");
    expect_central_error("{\"liveness\": {\"warnMs\": 6000}}",
                         "central.json: keys 'liveness.slowMs' <= 'warnMs' <= 'deadMs' <= 'removeMs' must hold, "
                         "got 1000, 6000, 5000, 10000");
    expect_central_error("{\"liveness\": {\"removeMs\": 4000}}",
                         "central.json: keys 'liveness.slowMs' <= 'warnMs' <= 'deadMs' <= 'removeMs' must hold, "
                         "got 1000, 2000, 5000, 4000");
    expect_central_error("{\"timeSync\": {\"intervalSecs\": -1}}",
                         "central.json: key 'timeSync.intervalSecs' must be a number from 0 to 86400, got -1");
    expect_central_error("{\"timeSync\": {\"warnOffsetMs\": 0}}",
                         "central.json: key 'timeSync.warnOffsetMs' must be a number greater than 0 and at most "
                         "8.64e+07, got 0");
    expect_central_error("{\"timeSync\": {\"interval\": 5}}",
                         "central.json: unknown key 'timeSync.interval'");
    expect_central_error("{\"timeSync\": 10}",
                         "central.json: key 'timeSync' must be an object, got 10 (a number)");
}

/* ---- files -------------------------------------------------------------------------- */

static void test_file_missing(void **state)
{
    (void)state;
    bosun_agent_config_t c;
    bosun_err_t err;
    assert_int_equal(bosun_agent_config_init(&c), BOSUN_OK);
    assert_int_equal(bosun_agent_config_load(&c, "/nonexistent/bosun/agent.json", &err), BOSUN_ERR_IO);
    assert_string_equal(err.msg, "/nonexistent/bosun/agent.json: cannot read: No such file or directory");
    assert_int_equal(bosun_agent_config_load(&c, "/", &err), BOSUN_ERR_IO);
    assert_string_equal(err.msg, "/: cannot read: Is a directory");
    bosun_agent_config_free(&c);
}

static void test_file_size_bound(void **state)
{
    (void)state;
    const size_t max = 1024 * 1024;
    char *text = malloc(max + 1);
    assert_non_null(text);
    memset(text, ' ', max + 1);
    memcpy(text, "{\"priority\": 7}", 15);

    bosun_agent_config_t c;
    bosun_err_t err;
    assert_int_equal(bosun_agent_config_init(&c), BOSUN_OK);
    /* Exactly 1 MiB is read ... */
    const char *path = write_tmp("max.json", text, max);
    assert_int_equal(bosun_agent_config_load(&c, path, &err), BOSUN_OK);
    assert_int_equal(c.priority, 7);
    /* ... one byte more is refused. */
    path = write_tmp("big.json", text, max + 1);
    char expect[256];
    snprintf(expect, sizeof expect, "%s: too big: a config file may be at most 1048576 bytes", path);
    assert_int_equal(bosun_agent_config_load(&c, path, &err), BOSUN_ERR_CONFIG);
    assert_string_equal(err.msg, expect);
    /* A device that never ends is cut off at the bound too. */
    assert_int_equal(bosun_agent_config_load(&c, "/dev/zero", &err), BOSUN_ERR_CONFIG);
    assert_string_equal(err.msg, "/dev/zero: too big: a config file may be at most 1048576 bytes");
    bosun_agent_config_free(&c);
    free(text);
}

static void test_load_applies_over_earlier_values(void **state)
{
    (void)state;
    bosun_agent_config_t c;
    bosun_err_t err;
    assert_int_equal(bosun_agent_config_init(&c), BOSUN_OK);
    const char *one = "{\"priority\": 5, \"resources\": [\"a\", \"b\"], \"networking\": {\"port\": 1000}}";
    const char *two = "{\"resources\": [\"c\"], \"networking\": {\"ttl\": 9}}";
    char *p1 = strdup(write_tmp("one.json", one, strlen(one)));
    char *p2 = strdup(write_tmp("two.json", two, strlen(two)));
    assert_int_equal(bosun_agent_config_load(&c, p1, &err), BOSUN_OK);
    assert_int_equal(bosun_agent_config_load(&c, p2, &err), BOSUN_OK);
    assert_int_equal(bosun_agent_config_finish(&c, p2, &err), BOSUN_OK);
    assert_int_equal(c.priority, 5);
    assert_int_equal(c.net.port, 1000);
    assert_int_equal(c.net.ttl, 9);
    assert_int_equal(c.n_resources, 1);
    assert_string_equal(c.resources[0].id, "c");
    assert_int_equal(c.resources[0].priority, 5);
    /* Messages name the file that was read. */
    assert_int_equal(bosun_agent_config_parse(&c, "{\"x\": 1}", 8, p1, &err), BOSUN_ERR_CONFIG);
    char expect[256];
    snprintf(expect, sizeof expect, "%s: unknown key 'x'", p1);
    assert_string_equal(err.msg, expect);
    free(p1);
    free(p2);
    bosun_agent_config_free(&c);
}

static void test_example_files(void **state)
{
    (void)state;
    bosun_err_t err;
    bosun_agent_config_t a;
    assert_int_equal(bosun_agent_config_init(&a), BOSUN_OK);
    const char *apath = BOSUN_SOURCE_DIR "/deploy/examples/agent.json";
    if (bosun_agent_config_load(&a, apath, &err) != BOSUN_OK ||
        bosun_agent_config_finish(&a, apath, &err) != BOSUN_OK)
        fail_msg("%s", err.msg);
    assert_string_equal(a.id, "web-01");
    assert_int_equal(a.n_resources, 3);
    assert_int_equal(a.resources[2].priority, 100);
    assert_non_null(a.nats.creds_file);
    bosun_agent_config_free(&a);

    bosun_central_config_t c;
    assert_int_equal(bosun_central_config_init(&c), BOSUN_OK);
    const char *cpath = BOSUN_SOURCE_DIR "/deploy/examples/central.json";
    if (bosun_central_config_load(&c, cpath, &err) != BOSUN_OK ||
        bosun_central_config_finish(&c, cpath, &err) != BOSUN_OK)
        fail_msg("%s", err.msg);
    assert_string_equal(c.id, "central");
    assert_int_equal(c.nats.n_servers, 2);
    assert_non_null(c.nats.tls_key);
    bosun_central_config_free(&c);
}

/* ---- "probes" (connectivity probes) -------------------------------------------------- */

static void test_probes_defaults_and_forms(void **state)
{
    (void)state;
    bosun_agent_config_t c;
    agent_ok(&c, "{\"id\": \"n1\"}");
    assert_int_equal(c.probes.interval_ms, 10000);
    assert_int_equal(c.probes.timeout_ms, 2000);
    assert_null(c.probes.listen);
    assert_null(c.probes.advertise);
    assert_int_equal(c.probes.n_peers, 0);
    assert_false(c.probes.probe_peers);
    assert_int_equal(c.probes.forget_after_ms, 60000);
    assert_int_equal(c.probes.max_targets, 256);
    bosun_agent_config_free(&c);

    agent_ok(&c, "{\"id\": \"n1\", \"probes\": {\"intervalMs\": 500, \"timeoutMs\": 500,"
                 " \"listen\": \"0.0.0.0:8757\", \"advertise\": \"10.0.0.1:8757\","
                 " \"peers\": [\"n2\", {\"node\": \"n3\", \"address\": \"10.0.0.3:8757\"},"
                 " {\"node\": \"n4\"}, {\"node\": \"n5\", \"address\": \"[fd00::5]:1\"}],"
                 " \"probePeers\": true, \"forgetAfterMs\": 5000, \"maxTargets\": 4}}");
    assert_int_equal(c.probes.interval_ms, 500);
    assert_int_equal(c.probes.timeout_ms, 500);
    assert_string_equal(c.probes.listen, "0.0.0.0:8757");
    assert_string_equal(c.probes.advertise, "10.0.0.1:8757");
    assert_int_equal(c.probes.n_peers, 4);
    assert_string_equal(c.probes.peers[0].node, "n2");
    assert_null(c.probes.peers[0].address);
    assert_string_equal(c.probes.peers[1].node, "n3");
    assert_string_equal(c.probes.peers[1].address, "10.0.0.3:8757");
    assert_null(c.probes.peers[2].address);
    assert_string_equal(c.probes.peers[3].address, "[fd00::5]:1");
    assert_true(c.probes.probe_peers);
    assert_int_equal(c.probes.forget_after_ms, 5000);
    assert_int_equal(c.probes.max_targets, 4);
    bosun_agent_config_free(&c);

    /* "" turns the listener off, like an absent key. */
    agent_ok(&c, "{\"id\": \"n1\", \"probes\": {\"listen\": \"\", \"advertise\": null}}");
    assert_null(c.probes.listen);
    assert_null(c.probes.advertise);
    bosun_agent_config_free(&c);
}

static void test_probes_errors_name_the_key(void **state)
{
    (void)state;
    const char *addr_msg = "is not a numeric ADDRESS:PORT like 10.0.0.2:8757 or [fd00::2]:8757";
    char want[512];
    expect_agent_error("{\"id\": \"n1\", \"probes\": {\"peers\": [\"n2\", \"n.3\"]}}",
                       SRC ": key 'probes.peers[1]': node name 'n.3' has a character not allowed at "
                           "position 2 (0x2e); expected only [A-Za-z0-9_-]");
    expect_agent_error("{\"id\": \"n1\", \"probes\": {\"peers\": [{\"node\": \"n 2\"}]}}",
                       SRC ": key 'probes.peers[0].node': node name 'n 2' has a character not allowed "
                           "at position 2 (0x20); expected only [A-Za-z0-9_-]");
    expect_agent_error("{\"id\": \"n1\", \"probes\": {\"peers\": [\"n2\", {\"node\": \"n2\"}]}}",
                       SRC ": key 'probes.peers[1]': node 'n2' is already used by peers[0]");
    expect_agent_error("{\"id\": \"n1\", \"probes\": {\"peers\": [\"n2\", \"n1\"]}}",
                       SRC ": key 'probes.peers[1]': 'n1' is this node itself; a node does not probe "
                           "itself");
    expect_agent_error("{\"id\": \"n1\", \"probes\": {\"peers\": [{\"address\": \"10.0.0.2:1\"}]}}",
                       SRC ": key 'probes.peers[0].node' is required");
    expect_agent_error("{\"id\": \"n1\", \"probes\": {\"peers\": [7]}}",
                       SRC ": key 'probes.peers[0]' must be a node name or an object {\"node\", "
                           "\"address\"}, got 7 (a number)");
    expect_agent_error("{\"id\": \"n1\", \"probes\": {\"peers\": \"n2\"}}",
                       SRC ": key 'probes.peers' must be a list of node names or objects {\"node\", "
                           "\"address\"}, got \"n2\" (a string)");
    expect_agent_error("{\"id\": \"n1\", \"probes\": {\"peers\": [{\"node\": \"n2\", \"adress\": \"x\"}]}}",
                       SRC ": unknown key 'probes.peers[0].adress' (did you mean "
                           "'probes.peers[0].address'?)");
    const char *bad_addrs[] = {"10.0.0.2", "n2.example:8757", "10.0.0.2:0", "10.0.0.2:65536",
                               "10.0.0.2:87a", "[fd00::2]8757", "fd00::2:8757", ":8757"};
    for (size_t i = 0; i < sizeof bad_addrs / sizeof bad_addrs[0]; i++) {
        char json[256];
        snprintf(json, sizeof json,
                 "{\"id\": \"n1\", \"probes\": {\"peers\": [{\"node\": \"n2\", \"address\": \"%s\"}]}}",
                 bad_addrs[i]);
        snprintf(want, sizeof want, SRC ": key 'probes.peers[0].address': '%s' %s", bad_addrs[i],
                 addr_msg);
        expect_agent_error(json, want);
    }
    expect_agent_error("{\"id\": \"n1\", \"probes\": {\"peers\": [{\"node\": \"n2\", \"address\": "
                       "\"0.0.0.0:8757\"}]}}",
                       SRC ": key 'probes.peers[0].address': '0.0.0.0:8757' is the unspecified "
                           "address, which names no peer; give the address others reach this node at");
    snprintf(want, sizeof want, SRC ": key 'probes.listen': 'localhost:8757' %s", addr_msg);
    expect_agent_error("{\"id\": \"n1\", \"probes\": {\"listen\": \"localhost:8757\"}}", want);
    expect_agent_error("{\"id\": \"n1\", \"probes\": {\"advertise\": \"[::]:8757\"}}",
                       SRC ": key 'probes.advertise': '[::]:8757' is the unspecified address, which "
                           "names no peer; give the address others reach this node at");
    expect_agent_error("{\"id\": \"n1\", \"probes\": {\"intervalMs\": 1000, \"timeoutMs\": 1500}}",
                       SRC ": key 'probes.timeoutMs' (1500) must not be greater than "
                           "'probes.intervalMs' (1000): one attempt per peer at a time");
    expect_agent_error("{\"id\": \"n1\", \"probes\": {\"intervalMs\": 50}}",
                       SRC ": key 'probes.intervalMs' must be an integer from 100 to 3600000, got 50");
    expect_agent_error("{\"id\": \"n1\", \"probes\": {\"maxTargets\": 1, \"peers\": [\"a\", \"b\"]}}",
                       SRC ": key 'probes.peers' lists 2 peers, more than 'probes.maxTargets' (1)");
    expect_agent_error("{\"id\": \"n1\", \"probes\": {\"probepeers\": true}}",
                       SRC ": unknown key 'probes.probepeers' (did you mean 'probes.probePeers'?)");
    expect_agent_error("{\"id\": \"n1\", \"probes\": {\"probePeers\": \"yes\"}}",
                       SRC ": key 'probes.probePeers' must be true or false, got \"yes\" (a string)");
}

/* The self check runs at finish, so an id given later (--id) is caught too. */
static void test_probes_self_via_flag(void **state)
{
    (void)state;
    bosun_agent_config_t c;
    bosun_err_t err;
    bosun_err_clear(&err);
    assert_int_equal(agent_parse(&c, "{\"probes\": {\"peers\": [\"ship2\"]}}", &err), BOSUN_OK);
    assert_int_equal(bosun_config_set_str(&c.id, "ship2"), BOSUN_OK);
    assert_int_equal(bosun_agent_config_finish(&c, "command line", &err), BOSUN_ERR_CONFIG);
    assert_string_equal(err.msg, "command line: key 'probes.peers[0]': 'ship2' is this node itself; a "
                                 "node does not probe itself");
    bosun_agent_config_free(&c);
}

static void test_sockaddr_parse(void **state)
{
    (void)state;
    struct sockaddr_storage ss;
    socklen_t len = 0;
    bosun_err_t err;
    assert_int_equal(bosun_sockaddr_parse("127.0.0.1:8757", false, &ss, &len, &err), BOSUN_OK);
    assert_int_equal(ss.ss_family, AF_INET);
    assert_int_equal(len, sizeof(struct sockaddr_in));
    assert_int_equal(ntohs(((struct sockaddr_in *)&ss)->sin_port), 8757);
    assert_int_equal(bosun_sockaddr_parse("[::1]:1", false, &ss, &len, &err), BOSUN_OK);
    assert_int_equal(ss.ss_family, AF_INET6);
    assert_int_equal(len, sizeof(struct sockaddr_in6));
    assert_int_equal(ntohs(((struct sockaddr_in6 *)&ss)->sin6_port), 1);
    assert_int_equal(bosun_sockaddr_parse("0.0.0.0:65535", true, &ss, &len, &err), BOSUN_OK);
    assert_int_equal(bosun_sockaddr_parse("0.0.0.0:65535", false, &ss, &len, &err), BOSUN_ERR_INVALID);
    assert_int_equal(bosun_sockaddr_parse("", true, &ss, &len, &err), BOSUN_ERR_INVALID);
    assert_int_equal(bosun_sockaddr_parse("[]:1", true, &ss, &len, &err), BOSUN_ERR_INVALID);
    assert_int_equal(bosun_sockaddr_parse("1.2.3.4:", true, &ss, &len, &err), BOSUN_ERR_INVALID);
    assert_int_equal(bosun_sockaddr_parse("1.2.3.4:+80", true, &ss, &len, &err), BOSUN_ERR_INVALID);
    assert_int_equal(bosun_sockaddr_parse("1.2.3.4:000080", true, &ss, &len, &err), BOSUN_ERR_INVALID);
    char longest[200];
    memset(longest, '1', sizeof longest - 1);
    longest[sizeof longest - 1] = '\0';
    assert_int_equal(bosun_sockaddr_parse(longest, true, &ss, &len, &err), BOSUN_ERR_INVALID);
    assert_non_null(strstr(err.msg, "is not a numeric ADDRESS:PORT"));
}

/* ---- freeing -------------------------------------------------------------------------- */

static void test_free_is_safe(void **state)
{
    (void)state;
    bosun_agent_config_t a;
    memset(&a, 0, sizeof a);
    bosun_agent_config_free(&a);
    bosun_agent_config_free(NULL);
    agent_ok(&a, full_nsm);
    bosun_agent_config_free(&a);
    assert_null(a.net.crypto_password);
    assert_null(a.nats.token);
    assert_null(a.resources);
    assert_int_equal(a.n_resources, 0);
    assert_int_equal(a.nats.n_servers, 0);
    bosun_agent_config_free(&a); /* again */

    bosun_central_config_t c;
    memset(&c, 0, sizeof c);
    bosun_central_config_free(&c);
    bosun_central_config_free(NULL);
    assert_int_equal(bosun_central_config_init(&c), BOSUN_OK);
    bosun_central_config_free(&c);
    assert_null(c.id);
    bosun_central_config_free(&c);

    /* A failed parse leaves nothing that _free cannot release. */
    bosun_err_t err;
    assert_int_equal(agent_parse(&a, "{\"resources\": [\"a\", \"b\", \"a\"]}", &err), BOSUN_ERR_CONFIG);
    bosun_agent_config_free(&a);
}

/* ---- the documentation ------------------------------------------------------------------ */

typedef struct {
    const char *doc;     /* README's configuration reference */
    size_t doc_len;
    int missing;
} doc_check_t;

/* Whether name appears as a whole component of a `dotted.key` in text: `name`, `a.name`, `name.b`. */
static bool names_key(const char *text, size_t len, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = text; (p = memmem(p, len - (size_t)(p - text), name, n)) != NULL; p++) {
        char before = p > text ? p[-1] : 0, after = (size_t)(p - text) + n < len ? p[n] : 0;
        if ((before == '`' || before == '.') && (after == '`' || after == '.'))
            return true;
    }
    return false;
}

/* The key's own name (after the last '.', list markers dropped) must appear in the reference. */
static void check_documented(const char *path, void *arg)
{
    doc_check_t *d = arg;
    const char *leaf = strrchr(path, '.');
    leaf = leaf ? leaf + 1 : path;
    char name[128];
    snprintf(name, sizeof name, "%s", leaf);
    char *cut = strstr(name, "[]");
    if (cut != NULL)
        *cut = '\0';
    if (!names_key(d->doc, d->doc_len, name)) {
        fprintf(stderr, "README.md's configuration reference does not describe %s (no `%s`)\n", path, name);
        d->missing++;
    }
}

static void test_every_key_is_documented(void **state)
{
    (void)state;
    FILE *f = fopen(BOSUN_SOURCE_DIR "/README.md", "r");
    assert_non_null(f);
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *start = strstr(buf, "\n## Configuration reference\n");
    assert_non_null(start);
    const char *end = strstr(start + 1, "\n## ");
    doc_check_t d = {.doc = start, .doc_len = end ? (size_t)(end - start) : strlen(start)};
    bosun_agent_config_each_key(check_documented, &d);
    bosun_central_config_each_key(check_documented, &d);
    assert_int_equal(d.missing, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_agent_defaults),
        cmocka_unit_test(test_central_defaults),
        cmocka_unit_test(test_agent_full_file),
        cmocka_unit_test(test_central_full_file),
        cmocka_unit_test(test_unknown_key),
        cmocka_unit_test(test_nested_unknown_key),
        cmocka_unit_test(test_wrong_type),
        cmocka_unit_test(test_out_of_range),
        cmocka_unit_test(test_bad_names),
        cmocka_unit_test(test_duplicate_resource),
        cmocka_unit_test(test_duplicate_json_key),
        cmocka_unit_test(test_invalid_json),
        cmocka_unit_test(test_token_range),
        cmocka_unit_test(test_nats_rules),
        cmocka_unit_test(test_resource_strings_take_top_priority),
        cmocka_unit_test(test_servers_forms),
        cmocka_unit_test(test_generated_id),
        cmocka_unit_test(test_finish_checks_flags),
        cmocka_unit_test(test_central_errors),
        cmocka_unit_test(test_central_fleet_sections),
        cmocka_unit_test(test_central_recorder_section),
        cmocka_unit_test(test_file_missing),
        cmocka_unit_test(test_file_size_bound),
        cmocka_unit_test(test_load_applies_over_earlier_values),
        cmocka_unit_test(test_example_files),
        cmocka_unit_test(test_free_is_safe),
        cmocka_unit_test(test_probes_defaults_and_forms),
        cmocka_unit_test(test_probes_errors_name_the_key),
        cmocka_unit_test(test_probes_self_via_flag),
        cmocka_unit_test(test_sockaddr_parse),
        cmocka_unit_test(test_every_key_is_documented),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
