/* test_name.c - node name rules and their error messages (lib/name.c). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "name.h"

static void test_valid_names(void **state)
{
    (void)state;
    assert_true(bosun_name_valid("ship1"));
    assert_true(bosun_name_valid("A-b_9"));
    assert_true(bosun_name_valid("x"));
    char max[BOSUN_NAME_MAX + 1];
    memset(max, 'a', BOSUN_NAME_MAX);
    max[BOSUN_NAME_MAX] = '\0';
    assert_true(bosun_name_valid(max));
}

static void test_invalid_names(void **state)
{
    (void)state;
    const char *bad[] = {"", "a.b", "a b", "*", ">", "ship1.", "tab\t", "ü", "a/b"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(bosun_name_valid(bad[i]));
    assert_false(bosun_name_valid(NULL));
    char long_name[BOSUN_NAME_MAX + 2];
    memset(long_name, 'a', BOSUN_NAME_MAX + 1);
    long_name[BOSUN_NAME_MAX + 1] = '\0';
    assert_false(bosun_name_valid(long_name));
}

static void test_error_messages_name_the_problem(void **state)
{
    (void)state;
    bosun_err_t err;
    assert_int_equal(bosun_name_check("ship.1", "toNode", &err), BOSUN_ERR_INVALID);
    assert_string_equal(err.msg, "toNode 'ship.1' has a character not allowed at position 5 (0x2e); "
                                 "expected only [A-Za-z0-9_-]");
    assert_int_equal(bosun_name_check("", "node name", &err), BOSUN_ERR_INVALID);
    assert_string_equal(err.msg, "node name is empty; expected 1 to 64 of [A-Za-z0-9_-]");
    char long_name[80];
    memset(long_name, 'b', 70);
    long_name[70] = '\0';
    assert_int_equal(bosun_name_check(long_name, "--id", &err), BOSUN_ERR_INVALID);
    assert_non_null(strstr(err.msg, "is 70 characters; at most 64 allowed"));
    assert_int_equal(bosun_name_check("good-name", "--id", &err), BOSUN_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_names),
        cmocka_unit_test(test_invalid_names),
        cmocka_unit_test(test_error_messages_name_the_problem),
    };
    return cmocka_run_group_tests_name("name", tests, NULL, NULL);
}
