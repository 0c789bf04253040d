/* test_log.c - log line format, levels and the status type (lib/log.c, lib/status.c). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "status.h"

static char *capture(int level, bosun_log_level_t at, const char *text)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    bosun_log_t log = {.level = level, .out = f};
    bosun_logf(&log, at, "election", "%s", text);
    fclose(f);
    return buf;
}

static void test_line_format(void **state)
{
    (void)state;
    char *line = capture(BOSUN_LOG_INFO, BOSUN_LOG_WARN, "res01 IDLE -> GOING_ACTIVE");
    regex_t re;
    assert_int_equal(regcomp(&re,
                             "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z "
                             "WARN   election: res01 IDLE -> GOING_ACTIVE\n$",
                             REG_EXTENDED),
                     0);
    assert_int_equal(regexec(&re, line, 0, NULL, 0), 0);
    regfree(&re);
    free(line);
}

static void test_levels_filter(void **state)
{
    (void)state;
    char *line = capture(BOSUN_LOG_WARN, BOSUN_LOG_INFO, "dropped");
    assert_string_equal(line, "");
    free(line);
    line = capture(BOSUN_LOG_CHATTY, BOSUN_LOG_CHATTY, "kept");
    assert_non_null(strstr(line, "CHATTY election: kept"));
    free(line);
    bosun_log_t log = {.level = BOSUN_LOG_FATAL};
    assert_true(bosun_log_enabled(&log, BOSUN_LOG_FATAL));
    assert_false(bosun_log_enabled(&log, BOSUN_LOG_ERROR));
    assert_false(bosun_log_enabled(NULL, BOSUN_LOG_FATAL));
    assert_string_equal(bosun_log_level_str(0), "FATAL");
    assert_string_equal(bosun_log_level_str(5), "CHATTY");
    assert_string_equal(bosun_log_level_str(6), "?");
}

static void test_long_lines_are_cut_not_overrun(void **state)
{
    (void)state;
    char big[5000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    char *line = capture(BOSUN_LOG_INFO, BOSUN_LOG_INFO, big);
    size_t n = strlen(line);
    assert_true(n < 2048);
    assert_memory_equal(line + n - 4, "...\n", 4);
    free(line);
}

static void test_status_strings_and_errf(void **state)
{
    (void)state;
    for (int s = BOSUN_OK; s <= BOSUN_ERR_CLOSED; s++)
        assert_string_not_equal(bosun_status_str((bosun_status_t)s), "unknown status");
    assert_string_equal(bosun_status_str((bosun_status_t)999), "unknown status");
    bosun_err_t err;
    assert_int_equal(bosun_errf(&err, BOSUN_ERR_CONFIG, "key '%s' bad", "x"), BOSUN_ERR_CONFIG);
    assert_string_equal(err.msg, "key 'x' bad");
    assert_int_equal(err.status, BOSUN_ERR_CONFIG);
    assert_int_equal(bosun_errf(NULL, BOSUN_ERR_IO, "ignored"), BOSUN_ERR_IO);
    bosun_err_clear(&err);
    assert_int_equal(err.status, BOSUN_OK);
    assert_string_equal(err.msg, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_line_format),
        cmocka_unit_test(test_levels_filter),
        cmocka_unit_test(test_long_lines_are_cut_not_overrun),
        cmocka_unit_test(test_status_strings_and_errf),
    };
    return cmocka_run_group_tests_name("log", tests, NULL, NULL);
}
