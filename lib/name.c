/* name.c - validation of node and method names. */
#include "name.h"

#include <string.h>

static bool name_char_ok(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '-';
}

/* Returns the index of the first bad character, or -1 if s is a good name. */
static long first_bad(const char *s, size_t *len)
{
    size_t n = 0;
    for (; s[n] != '\0'; n++)
        if (!name_char_ok(s[n]))
            return (long)n;
    *len = n;
    return -1;
}

bool bosun_name_valid(const char *s)
{
    size_t len = 0;
    return s != NULL && first_bad(s, &len) < 0 && len >= 1 && len <= BOSUN_NAME_MAX;
}

bool bosun_method_valid(const char *s) { return bosun_name_valid(s); }

bosun_status_t bosun_name_check(const char *s, const char *what, bosun_err_t *err)
{
    if (s == NULL || s[0] == '\0')
        return bosun_errf(err, BOSUN_ERR_INVALID, "%s is empty; expected 1 to %d of [A-Za-z0-9_-]",
                          what, BOSUN_NAME_MAX);
    size_t len = 0;
    long bad = first_bad(s, &len);
    if (bad >= 0)
        return bosun_errf(err, BOSUN_ERR_INVALID,
                          "%s '%.80s' has a character not allowed at position %ld (0x%02x); "
                          "expected only [A-Za-z0-9_-]",
                          what, s, bad + 1, (unsigned char)s[bad]);
    if (len > BOSUN_NAME_MAX)
        return bosun_errf(err, BOSUN_ERR_INVALID, "%s '%.80s...' is %zu characters; at most %d allowed",
                          what, s, len, BOSUN_NAME_MAX);
    return BOSUN_OK;
}
