/*
 * test_security.c - agent/security.c and the "security" config section:
 * argv patterns (fnmatch per element, a final "**"), method allow-lists,
 * absent versus empty lists, bad config values, and runAsUser resolution.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "security.h"

static bosun_status_t parse(bosun_agent_config_t *c, const char *json, bosun_err_t *err)
{
    assert_int_equal(bosun_agent_config_init(c), BOSUN_OK);
    return bosun_agent_config_parse(c, json, strlen(json), "agent.json", err);
}

static bool argv_ok(const bosun_allow_config_t *a, size_t n, ...)
{
    char *argv[16];
    va_list ap;
    va_start(ap, n);
    for (size_t i = 0; i < n; i++)
        argv[i] = va_arg(ap, char *);
    va_end(ap);
    return security_argv_allowed(a, argv, n);
}

static void test_argv_patterns(void **state)
{
    (void)state;
    bosun_agent_config_t c;
    bosun_err_t err = {0};
    assert_int_equal(parse(&c,
                           "{\"security\": {\"allow\": {\"shellCommand\": ["
                           "[\"uptime\"], [\"systemctl\", \"restart\", \"nginx*\"],"
                           "[\"df\", \"**\"], [\"/usr/bin/[a-c]at\", \"/var/log/*.log\"]]}}}",
                           &err),
                     BOSUN_OK);
    const bosun_allow_config_t *a = &c.security.allow;
    assert_true(a->shell_set);
    assert_int_equal(a->n_shell, 4);
    assert_true(argv_ok(a, 1, "uptime"));
    assert_false(argv_ok(a, 2, "uptime", "-p"));                 /* same length required */
    assert_true(argv_ok(a, 3, "systemctl", "restart", "nginx"));
    assert_true(argv_ok(a, 3, "systemctl", "restart", "nginx-proxy"));
    assert_false(argv_ok(a, 3, "systemctl", "stop", "nginx"));
    assert_false(argv_ok(a, 4, "systemctl", "restart", "nginx", "sshd"));
    assert_true(argv_ok(a, 1, "df"));                            /* "**": also nothing */
    assert_true(argv_ok(a, 3, "df", "-h", "/"));
    assert_false(argv_ok(a, 2, "dfx", "-h"));
    assert_true(argv_ok(a, 2, "/usr/bin/cat", "/var/log/syslog.log"));
    assert_false(argv_ok(a, 2, "/usr/bin/tac", "/var/log/syslog.log"));
    assert_false(argv_ok(a, 3, "bash", "-c", "echo x"));
    assert_true(security_method_allowed(a, "shellCommand")); /* methods absent: all */
    bosun_agent_config_free(&c);

    /* Absent: anything goes; empty list: nothing. */
    assert_int_equal(parse(&c, "{}", &err), BOSUN_OK);
    assert_true(argv_ok(&c.security.allow, 3, "bash", "-c", "anything"));
    bosun_agent_config_free(&c);
    assert_int_equal(parse(&c, "{\"security\": {\"allow\": {\"shellCommand\": [], \"methods\": []}}}", &err),
                     BOSUN_OK);
    assert_false(argv_ok(&c.security.allow, 1, "uptime"));
    assert_false(security_method_allowed(&c.security.allow, "ping"));
    bosun_agent_config_free(&c);
}

static void test_method_allow_list(void **state)
{
    (void)state;
    bosun_agent_config_t c;
    bosun_err_t err = {0};
    assert_int_equal(parse(&c, "{\"security\": {\"allow\": {\"methods\": [\"ping\", \"shellCommand\"]}}}", &err),
                     BOSUN_OK);
    assert_true(security_method_allowed(&c.security.allow, "ping"));
    assert_true(security_method_allowed(&c.security.allow, "shellCommand"));
    assert_false(security_method_allowed(&c.security.allow, "textLogging"));
    bosun_agent_config_free(&c);
}

static void test_bad_config_values(void **state)
{
    (void)state;
    static const struct {
        const char *json, *want;
    } cases[] = {
        {"{\"security\": {\"trustedKeys\": [\"nope\"]}}", "security.trustedKeys[0]"},
        {"{\"security\": {\"trustedKeys\": \"AAAA\"}}", "security.trustedKeys"},
        {"{\"security\": {\"allow\": {\"methods\": [\"a.b\"]}}}", "security.allow.methods[0]"},
        {"{\"security\": {\"allow\": {\"shellCommand\": [[]]}}}", "security.allow.shellCommand[0]"},
        {"{\"security\": {\"allow\": {\"shellCommand\": [\"ls\"]}}}", "security.allow.shellCommand[0]"},
        {"{\"security\": {\"allow\": {\"shellCommand\": [[\"ls\", \"**\", \"x\"]]}}}",
         "may only be the last"},
        {"{\"security\": {\"allow\": {\"shellCommand\": [[\"ls\", 3]]}}}", "security.allow.shellCommand[0][1]"},
        {"{\"security\": {\"runAs\": \"x\"}}", "security.runAs"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bosun_agent_config_t c;
        bosun_err_t err = {0};
        assert_int_equal(parse(&c, cases[i].json, &err), BOSUN_ERR_CONFIG);
        if (strstr(err.msg, cases[i].want) == NULL)
            fail_msg("case %zu: '%s' lacks '%s'", i, err.msg, cases[i].want);
        bosun_agent_config_free(&c);
    }
    bosun_agent_config_t c;
    bosun_err_t err = {0};
    assert_int_equal(parse(&c, "{\"security\": {\"trustedKeys\": "
                               "[\"11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\"]}}", &err),
                     BOSUN_OK);
    assert_int_equal(c.security.n_trusted_keys, 1);
    bosun_agent_config_free(&c);
}

static void test_run_as_user(void **state)
{
    (void)state;
    bosun_log_t log = {.level = BOSUN_LOG_ERROR, .out = stderr};
    bosun_security_config_t cfg = {0};
    security_t s;
    bosun_err_t err = {0};
    cfg.run_as_user = "no-such-user-bosun";
    assert_int_equal(security_init(&cfg, &log, &s, &err), BOSUN_ERR_CONFIG);
    assert_non_null(strstr(err.msg, "no user 'no-such-user-bosun'"));
    cfg.run_as_user = "nobody";
    bosun_status_t st = security_init(&cfg, &log, &s, &err);
    if (geteuid() == 0) {
        assert_int_equal(st, BOSUN_OK);
        assert_true(s.switch_user);
        assert_int_not_equal(s.uid, 0);
        assert_true(s.n_groups >= 1);
        security_free(&s);
    } else {
        assert_int_equal(st, BOSUN_ERR_CONFIG);
        assert_non_null(strstr(err.msg, "not root"));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_argv_patterns),
        cmocka_unit_test(test_method_allow_list),
        cmocka_unit_test(test_bad_config_values),
        cmocka_unit_test(test_run_as_user),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
