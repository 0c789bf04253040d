/*
 * cfgschema.c - the generic, table-driven configuration walker (see
 * cfgschema.h). This is the one file that talks to jansson for configuration
 * and translates its errors into bosun_err_t sentences.
 */
#include "cfgschema.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "suggest.h"

/* Largest edit distance that still earns a suggestion. */
#define SUGGEST_MAX_DIST 2

/* ---- paths and messages --------------------------------------------------- */

void cfgschema_walk_init(cfgschema_walk_t *w, const char *source, bosun_err_t *err)
{
    w->source = source != NULL ? source : "config";
    w->err = err;
    w->path[0] = '\0';
    w->path_len = 0;
}

/* Appends formatted text to the path, truncating at the buffer's end. */
static size_t path_append(cfgschema_walk_t *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static size_t path_append(cfgschema_walk_t *w, const char *fmt, ...)
{
    size_t mark = w->path_len;
    size_t room = sizeof w->path - mark;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(w->path + mark, room, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    w->path_len = (size_t)n < room ? mark + (size_t)n : sizeof w->path - 1;
    return mark;
}

size_t cfgschema_path_push_key(cfgschema_walk_t *w, const char *key)
{
    return path_append(w, "%s%s", w->path_len > 0 ? "." : "", key);
}

size_t cfgschema_path_push_index(cfgschema_walk_t *w, size_t index)
{
    return path_append(w, "[%zu]", index);
}

void cfgschema_path_pop(cfgschema_walk_t *w, size_t mark)
{
    if (mark < sizeof w->path) {
        w->path_len = mark;
        w->path[mark] = '\0';
    }
}

/*
 * Describes a JSON value for "got ...": its text, and with with_kind also its
 * kind ("\"abc\" (a string)"). With hide, the text of scalars is left out.
 */
static void describe(const json_t *v, bool with_kind, bool hide, char *buf, size_t n)
{
    switch (json_typeof(v)) {
    case JSON_STRING: {
        const char *s = json_string_value(v);
        if (hide)
            snprintf(buf, n, "a string");
        else
            snprintf(buf, n, "\"%.40s%s\" (a string)", s, strlen(s) > 40 ? "..." : "");
        return;
    }
    case JSON_INTEGER:
    case JSON_REAL: {
        char num[48];
        if (json_is_integer(v))
            snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v));
        else
            snprintf(num, sizeof num, "%g", json_real_value(v));
        if (hide)
            snprintf(buf, n, "a number");
        else
            snprintf(buf, n, "%s%s", num, with_kind ? " (a number)" : "");
        return;
    }
    case JSON_TRUE:
    case JSON_FALSE:
        if (hide)
            snprintf(buf, n, "a boolean");
        else
            snprintf(buf, n, "%s%s", json_is_true(v) ? "true" : "false", with_kind ? " (a boolean)" : "");
        return;
    case JSON_NULL: snprintf(buf, n, "null"); return;
    case JSON_OBJECT: snprintf(buf, n, "an object"); return;
    case JSON_ARRAY: snprintf(buf, n, "an array"); return;
    }
    snprintf(buf, n, "a JSON value");
}

/* "<source>: key '<path>' must be <expect>, got <v>". */
static bosun_status_t mismatch(cfgschema_walk_t *w, const char *expect, const json_t *v, bool with_kind,
                               bool hide)
{
    char got[96];
    describe(v, with_kind, hide, got, sizeof got);
    return bosun_errf(w->err, BOSUN_ERR_CONFIG, "%s: key '%s' must be %s, got %s", w->source, w->path,
                      expect, got);
}

bosun_status_t cfgschema_type_error(cfgschema_walk_t *w, const char *expect, const json_t *v)
{
    return mismatch(w, expect, v, true, false);
}

bosun_status_t cfgschema_fail(cfgschema_walk_t *w, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return bosun_errf(w->err, BOSUN_ERR_CONFIG, "%s: key '%s': %s", w->source, w->path, msg);
}

/* Writes what a row accepts ("an integer from 1 to 65535") into buf. */
static void expectation(const cfgschema_key_t *row, char *buf, size_t n)
{
    switch (row->type) {
    case CFGSCHEMA_T_STR: snprintf(buf, n, "a string"); return;
    case CFGSCHEMA_T_INT:
    case CFGSCHEMA_T_U64:
        if (row->imin == 0 && row->imax == LLONG_MAX)
            snprintf(buf, n, "a non-negative integer");
        else
            snprintf(buf, n, "an integer from %lld to %lld", row->imin, row->imax);
        return;
    case CFGSCHEMA_T_NUM:
        if (row->flags & CFGSCHEMA_F_MIN_EXCL)
            snprintf(buf, n, "a number greater than %g and at most %g", row->dmin, row->dmax);
        else
            snprintf(buf, n, "a number from %g to %g", row->dmin, row->dmax);
        return;
    case CFGSCHEMA_T_BOOL: snprintf(buf, n, "true or false"); return;
    case CFGSCHEMA_T_OBJ: snprintf(buf, n, "an object"); return;
    case CFGSCHEMA_T_LIST: snprintf(buf, n, "%s", row->list->expect_list); return;
    case CFGSCHEMA_T_CUSTOM: snprintf(buf, n, "a valid value"); return;
    }
}

/* The row's own mismatch message: with_kind for a wrong type, not for range. */
static bosun_status_t row_error(cfgschema_walk_t *w, const cfgschema_key_t *row, const json_t *v,
                                bool with_kind)
{
    char expect[96];
    expectation(row, expect, sizeof expect);
    return mismatch(w, expect, v, with_kind, (row->flags & CFGSCHEMA_F_SECRET) != 0);
}

/* ---- "did you mean" ------------------------------------------------------ */

/* Returns the known key closest to `key` when it is close enough, else NULL. */
static const char *suggest(const cfgschema_key_t *table, const char *key)
{
    const char *best = NULL;
    size_t best_d = SIZE_MAX;
    for (const cfgschema_key_t *row = table; row->name != NULL; row++) {
        size_t len = strlen(row->name);
        size_t d = bosun_edit_distance(key, row->name); /* SIZE_MAX when too long */
        /* A case-insensitive match always qualifies; otherwise the distance
         * must be small and less than the known key's length. */
        if ((d == 0 || (d <= SUGGEST_MAX_DIST && d < len)) && d < best_d) {
            best = row->name;
            best_d = d;
        }
    }
    return best;
}

/* Reports the key just pushed (after `mark`) as unknown at this level. */
static bosun_status_t unknown_key(cfgschema_walk_t *w, const cfgschema_key_t *table, size_t mark)
{
    /* The path may have been cut short by a very long key. */
    const char *key = mark < w->path_len ? w->path + mark + (mark > 0 ? 1 : 0) : "";
    const char *near = suggest(table, key);
    if (near == NULL)
        return bosun_errf(w->err, BOSUN_ERR_CONFIG, "%s: unknown key '%s'", w->source, w->path);
    return bosun_errf(w->err, BOSUN_ERR_CONFIG, "%s: unknown key '%s' (did you mean '%.*s%s%s'?)",
                      w->source, w->path, (int)mark, w->path, mark > 0 ? "." : "", near);
}

/* ---- lists of entries ---------------------------------------------------------- */

static void list_free(const cfgschema_list_t *l, void *items, size_t n);

static void *entry(const cfgschema_list_t *l, const void *items, size_t i)
{
    return (char *)(uintptr_t)items + i * l->size;
}

static const char *entry_key(const cfgschema_list_t *l, const void *items, size_t i)
{
    return *(char *const *)(const void *)((const char *)entry(l, items, i) + l->key_offset);
}

/* Fails when entry i repeats the key of an earlier one (path at the entry). */
static bosun_status_t list_check_distinct(cfgschema_walk_t *w, const cfgschema_list_t *l,
                                          const void *items, size_t i)
{
    const char *key = entry_key(l, items, i);
    for (size_t j = 0; key != NULL && j < i; j++) {
        const char *other = entry_key(l, items, j);
        if (other != NULL && strcmp(key, other) == 0)
            return cfgschema_fail(w, "%s '%s' is already used by %s[%zu]", l->key_what, key, l->name, j);
    }
    return BOSUN_OK;
}

/* The row of the entry's key field. */
static const cfgschema_key_t *list_key_row(const cfgschema_list_t *l)
{
    for (const cfgschema_key_t *row = l->keys; row->name != NULL; row++)
        if (row->type == CFGSCHEMA_T_STR && row->offset == l->key_offset)
            return row;
    return NULL;
}

/* Fills entry e from one element of the array. */
static bosun_status_t list_parse_one(cfgschema_walk_t *w, const cfgschema_list_t *l, const json_t *v,
                                     void *e)
{
    bosun_status_t st = cfgschema_defaults(l->keys, e);
    if (st != BOSUN_OK)
        return st;
    if (json_is_object(v))
        return cfgschema_apply(w, l->keys, v, e);
    const cfgschema_key_t *row = list_key_row(l);
    if (!json_is_string(v) || row == NULL)
        return cfgschema_type_error(w, l->expect_entry, v);
    const char *s = json_string_value(v);
    if (row->check != NULL) {
        bosun_err_t err;
        bosun_err_clear(&err);
        if (row->check(s, &err) != BOSUN_OK)
            return cfgschema_fail(w, "%s", err.msg);
    }
    return cfgschema_set_str((char **)(void *)((char *)e + l->key_offset), s);
}

static bosun_status_t list_parse(cfgschema_walk_t *w, const cfgschema_list_t *l, const json_t *v,
                                 void **items, size_t *n)
{
    *items = NULL;
    *n = 0;
    if (!json_is_array(v))
        return cfgschema_type_error(w, l->expect_list, v);
    size_t count = json_array_size(v);
    if (count > l->max)
        return cfgschema_fail(w, "at most %zu %s are allowed, got %zu", l->max, l->name, count);
    void *arr = count > 0 ? calloc(count, l->size) : NULL;
    if (count > 0 && arr == NULL)
        return BOSUN_ERR_NOMEM;
    bosun_status_t st = BOSUN_OK;
    for (size_t i = 0; i < count && st == BOSUN_OK; i++) {
        size_t mark = cfgschema_path_push_index(w, i);
        st = list_parse_one(w, l, json_array_get(v, i), entry(l, arr, i));
        if (st == BOSUN_OK)
            st = list_check_distinct(w, l, arr, i);
        if (st == BOSUN_OK)
            cfgschema_path_pop(w, mark);
    }
    if (st != BOSUN_OK) {
        list_free(l, arr, count);
        return st;
    }
    *items = arr;
    *n = count;
    return BOSUN_OK;
}

static bosun_status_t list_validate(cfgschema_walk_t *w, const cfgschema_list_t *l, const void *items,
                                    size_t n)
{
    for (size_t i = 0; i < n; i++) {
        size_t mark = cfgschema_path_push_index(w, i);
        bosun_status_t st = cfgschema_validate(w, l->keys, entry(l, items, i));
        if (st == BOSUN_OK)
            st = list_check_distinct(w, l, items, i);
        if (st != BOSUN_OK)
            return st;
        cfgschema_path_pop(w, mark);
    }
    return BOSUN_OK;
}

static void list_free(const cfgschema_list_t *l, void *items, size_t n)
{
    for (size_t i = 0; items != NULL && i < n; i++)
        cfgschema_free(l->keys, entry(l, items, i));
    free(items);
}

/* ---- applying JSON --------------------------------------------------------- */

static const cfgschema_key_t *find_row(const cfgschema_key_t *table, const char *key)
{
    for (const cfgschema_key_t *row = table; row->name != NULL; row++)
        if (strcmp(row->name, key) == 0)
            return row;
    return NULL;
}

/* Reads v as a whole number (a real such as 8513.0 counts); false if it is not one. */
static bool whole_number(const json_t *v, long long *out)
{
    if (json_is_integer(v)) {
        *out = (long long)json_integer_value(v);
        return true;
    }
    if (json_is_real(v)) {
        double x = json_real_value(v);
        if (x >= -9.0e18 && x <= 9.0e18 && (double)(long long)x == x) {
            *out = (long long)x;
            return true;
        }
    }
    return false;
}

static bosun_status_t apply_str(cfgschema_walk_t *w, const cfgschema_key_t *row, const json_t *v,
                                char **slot)
{
    bool nullable = (row->flags & CFGSCHEMA_F_NULLABLE) != 0;
    if (nullable && json_is_null(v))
        return cfgschema_set_str(slot, NULL);
    if (!json_is_string(v))
        return row_error(w, row, v, true);
    const char *s = json_string_value(v);
    if (nullable && s[0] == '\0')
        s = NULL;
    if (s != NULL && row->check != NULL) {
        bosun_err_t e;
        bosun_err_clear(&e);
        if (row->check(s, &e) != BOSUN_OK)
            return cfgschema_fail(w, "%s", e.msg);
    }
    return cfgschema_set_str(slot, s);
}

/* Applies one value to its row; the row's key is already on the path. */
static bosun_status_t apply_value(cfgschema_walk_t *w, const cfgschema_key_t *row, const json_t *v,
                                  void *dst)
{
    char *field = (char *)dst + row->offset;
    long long i;
    switch (row->type) {
    case CFGSCHEMA_T_STR: return apply_str(w, row, v, (char **)(void *)field);
    case CFGSCHEMA_T_INT:
    case CFGSCHEMA_T_U64:
        if (!json_is_number(v))
            return row_error(w, row, v, true);
        if (!whole_number(v, &i) || i < row->imin || i > row->imax)
            return row_error(w, row, v, false);
        if (row->type == CFGSCHEMA_T_INT)
            *(int *)(void *)field = (int)i;
        else
            *(uint64_t *)(void *)field = (uint64_t)i;
        return BOSUN_OK;
    case CFGSCHEMA_T_NUM: {
        if (!json_is_number(v))
            return row_error(w, row, v, true);
        double x = json_number_value(v);
        bool low = (row->flags & CFGSCHEMA_F_MIN_EXCL) ? !(x > row->dmin) : !(x >= row->dmin);
        if (low || !(x <= row->dmax))
            return row_error(w, row, v, false);
        *(double *)(void *)field = x;
        return BOSUN_OK;
    }
    case CFGSCHEMA_T_BOOL:
        if (!json_is_boolean(v))
            return row_error(w, row, v, true);
        *(bool *)(void *)field = json_is_true(v);
        return BOSUN_OK;
    case CFGSCHEMA_T_OBJ: return cfgschema_apply(w, row->sub, v, field);
    case CFGSCHEMA_T_LIST: {
        void *items;
        size_t n;
        bosun_status_t st = list_parse(w, row->list, v, &items, &n);
        if (st != BOSUN_OK)
            return st;
        size_t *count = (size_t *)(void *)((char *)dst + row->count_offset);
        list_free(row->list, *(void **)(void *)field, *count);
        *(void **)(void *)field = items;
        *count = n;
        return BOSUN_OK;
    }
    case CFGSCHEMA_T_CUSTOM: return row->custom->parse(w, v, dst);
    }
    return bosun_errf(w->err, BOSUN_ERR_INVALID, "%s: key '%s': bad schema row", w->source, w->path);
}

bosun_status_t cfgschema_apply(cfgschema_walk_t *w, const cfgschema_key_t *table, const json_t *obj,
                               void *dst)
{
    if (!json_is_object(obj))
        return cfgschema_type_error(w, "an object", obj);
    const char *key;
    json_t *v;
    /* jansson's iteration takes a non-const object; it is only read here. */
    json_object_foreach((json_t *)obj, key, v) {
        size_t mark = cfgschema_path_push_key(w, key);
        const cfgschema_key_t *row = find_row(table, key);
        if (row == NULL)
            return unknown_key(w, table, mark);
        bosun_status_t st = apply_value(w, row, v, dst);
        if (st != BOSUN_OK)
            return st;
        cfgschema_path_pop(w, mark);
    }
    for (const cfgschema_key_t *row = table; row->name != NULL; row++) {
        if ((row->flags & CFGSCHEMA_F_REQUIRED) && json_object_get(obj, row->name) == NULL) {
            cfgschema_path_push_key(w, row->name);
            return bosun_errf(w->err, BOSUN_ERR_CONFIG, "%s: key '%s' is required", w->source, w->path);
        }
    }
    return BOSUN_OK;
}

bosun_status_t cfgschema_parse(const cfgschema_key_t *table, void *dst, const char *json, size_t len,
                               const char *source, bosun_err_t *err)
{
    cfgschema_walk_t w;
    cfgschema_walk_init(&w, source, err);
    json_error_t je;
    json_t *root = json_loadb(json != NULL ? json : "", json != NULL ? len : 0, JSON_REJECT_DUPLICATES, &je);
    if (root == NULL) {
        if (je.line > 0)
            return bosun_errf(err, BOSUN_ERR_CONFIG, "%s:%d:%d: invalid JSON: %s", w.source, je.line,
                              je.column, je.text);
        return bosun_errf(err, BOSUN_ERR_CONFIG, "%s: invalid JSON: %s", w.source, je.text);
    }
    bosun_status_t st;
    if (!json_is_object(root)) {
        char got[96];
        describe(root, true, false, got, sizeof got);
        st = bosun_errf(err, BOSUN_ERR_CONFIG, "%s: the top level must be a JSON object, got %s",
                        w.source, got);
    } else {
        st = cfgschema_apply(&w, table, root, dst);
        if (st == BOSUN_ERR_NOMEM)
            bosun_errf(err, st, "%s: key '%s': out of memory", w.source, w.path);
    }
    json_decref(root);
    return st;
}

/* ---- defaults, validation, freeing ------------------------------------------ */

bosun_status_t cfgschema_defaults(const cfgschema_key_t *table, void *dst)
{
    for (const cfgschema_key_t *row = table; row->name != NULL; row++) {
        char *field = (char *)dst + row->offset;
        bosun_status_t st = BOSUN_OK;
        switch (row->type) {
        case CFGSCHEMA_T_STR: st = cfgschema_set_str((char **)(void *)field, row->sdef); break;
        case CFGSCHEMA_T_INT: *(int *)(void *)field = (int)row->idef; break;
        case CFGSCHEMA_T_U64: *(uint64_t *)(void *)field = (uint64_t)row->idef; break;
        case CFGSCHEMA_T_NUM: *(double *)(void *)field = row->ddef; break;
        case CFGSCHEMA_T_BOOL: *(bool *)(void *)field = row->idef != 0; break;
        case CFGSCHEMA_T_OBJ: st = cfgschema_defaults(row->sub, field); break;
        case CFGSCHEMA_T_LIST:
            *(void **)(void *)field = NULL;
            *(size_t *)(void *)((char *)dst + row->count_offset) = 0;
            break;
        case CFGSCHEMA_T_CUSTOM:
            if (row->custom->init != NULL)
                st = row->custom->init(dst);
            break;
        }
        if (st != BOSUN_OK) {
            cfgschema_free(table, dst);
            return st;
        }
    }
    return BOSUN_OK;
}

/* Checks one row's current value; the row's key is already on the path. */
static bosun_status_t validate_row(cfgschema_walk_t *w, const cfgschema_key_t *row, const void *src)
{
    const char *field = (const char *)src + row->offset;
    char expect[96];
    expectation(row, expect, sizeof expect);
    switch (row->type) {
    case CFGSCHEMA_T_STR: {
        const char *s = *(char *const *)(const void *)field;
        /* A string that may not be left out is checked even when unset. */
        if (s == NULL && !(row->flags & CFGSCHEMA_F_NULLABLE))
            s = "";
        if (s != NULL && row->check != NULL) {
            bosun_err_t e;
            bosun_err_clear(&e);
            if (row->check(s, &e) != BOSUN_OK)
                return cfgschema_fail(w, "%s", e.msg);
        }
        return BOSUN_OK;
    }
    case CFGSCHEMA_T_INT: {
        int x = *(const int *)(const void *)field;
        if (x < row->imin || x > row->imax)
            return bosun_errf(w->err, BOSUN_ERR_CONFIG, "%s: key '%s' must be %s, got %d", w->source,
                              w->path, expect, x);
        return BOSUN_OK;
    }
    case CFGSCHEMA_T_U64: {
        uint64_t x = *(const uint64_t *)(const void *)field;
        if (x < (uint64_t)row->imin || x > (uint64_t)row->imax)
            return bosun_errf(w->err, BOSUN_ERR_CONFIG, "%s: key '%s' must be %s, got %llu", w->source,
                              w->path, expect, (unsigned long long)x);
        return BOSUN_OK;
    }
    case CFGSCHEMA_T_NUM: {
        double x = *(const double *)(const void *)field;
        bool low = (row->flags & CFGSCHEMA_F_MIN_EXCL) ? !(x > row->dmin) : !(x >= row->dmin);
        if (low || !(x <= row->dmax))
            return bosun_errf(w->err, BOSUN_ERR_CONFIG, "%s: key '%s' must be %s, got %g", w->source,
                              w->path, expect, x);
        return BOSUN_OK;
    }
    case CFGSCHEMA_T_BOOL: return BOSUN_OK;
    case CFGSCHEMA_T_OBJ: return cfgschema_validate(w, row->sub, field);
    case CFGSCHEMA_T_LIST:
        return list_validate(w, row->list, *(void *const *)(const void *)field,
                             *(const size_t *)(const void *)((const char *)src + row->count_offset));
    case CFGSCHEMA_T_CUSTOM:
        return row->custom->validate != NULL ? row->custom->validate(w, src) : BOSUN_OK;
    }
    return BOSUN_OK;
}

bosun_status_t cfgschema_validate(cfgschema_walk_t *w, const cfgschema_key_t *table, const void *src)
{
    for (const cfgschema_key_t *row = table; row->name != NULL; row++) {
        size_t mark = cfgschema_path_push_key(w, row->name);
        bosun_status_t st = validate_row(w, row, src);
        if (st != BOSUN_OK)
            return st;
        cfgschema_path_pop(w, mark);
    }
    return BOSUN_OK;
}

void cfgschema_free(const cfgschema_key_t *table, void *dst)
{
    for (const cfgschema_key_t *row = table; row->name != NULL; row++) {
        char *field = (char *)dst + row->offset;
        if (row->type == CFGSCHEMA_T_STR) {
            char **slot = (char **)(void *)field;
            cfgschema_free_str(*slot);
            *slot = NULL;
        } else if (row->type == CFGSCHEMA_T_LIST) {
            size_t *count = (size_t *)(void *)((char *)dst + row->count_offset);
            list_free(row->list, *(void **)(void *)field, *count);
            *(void **)(void *)field = NULL;
            *count = 0;
        } else if (row->type == CFGSCHEMA_T_OBJ) {
            cfgschema_free(row->sub, field);
        } else if (row->type == CFGSCHEMA_T_CUSTOM && row->custom->free != NULL) {
            row->custom->free(dst);
        }
    }
}

void cfgschema_free_str(char *s)
{
    if (s != NULL) {
        sodium_memzero(s, strlen(s));
        free(s);
    }
}

bosun_status_t cfgschema_set_str(char **slot, const char *value)
{
    char *copy = NULL;
    if (value != NULL && (copy = strdup(value)) == NULL)
        return BOSUN_ERR_NOMEM;
    cfgschema_free_str(*slot);
    *slot = copy;
    return BOSUN_OK;
}

/* ---- reading files ------------------------------------------------------------ */

bosun_status_t cfgschema_read_file(const char *path, size_t max, char **out, size_t *len, bosun_err_t *err)
{
    *out = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return bosun_errf(err, BOSUN_ERR_IO, "%s: cannot read: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && (uintmax_t)sb.st_size > max) {
        close(fd);
        return bosun_errf(err, BOSUN_ERR_CONFIG, "%s: too big: a config file may be at most %zu bytes",
                          path, max);
    }
    /* One byte more than allowed, to tell "exactly max" from "more". */
    char *buf = malloc(max + 2);
    if (buf == NULL) {
        close(fd);
        return bosun_errf(err, BOSUN_ERR_NOMEM, "%s: cannot read: out of memory", path);
    }
    size_t n = 0;
    while (n <= max) {
        ssize_t r = read(fd, buf + n, max + 1 - n);
        if (r == 0)
            break;
        if (r < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            free(buf);
            close(fd);
            return bosun_errf(err, BOSUN_ERR_IO, "%s: cannot read: %s", path, strerror(e));
        }
        n += (size_t)r;
    }
    close(fd);
    if (n > max) {
        free(buf);
        return bosun_errf(err, BOSUN_ERR_CONFIG, "%s: too big: a config file may be at most %zu bytes",
                          path, max);
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return BOSUN_OK;
}

static void each_key(const cfgschema_key_t *rows, char *path, size_t len, size_t cap,
                     void (*fn)(const char *path, void *arg), void *arg)
{
    for (const cfgschema_key_t *k = rows; k->name != NULL; k++) {
        int n = snprintf(path + len, cap - len, "%s%s", len > 0 ? "." : "", k->name);
        if (n < 0 || (size_t)n >= cap - len)
            continue; /* deeper than any real table */
        fn(path, arg);
        if (k->type == CFGSCHEMA_T_OBJ && k->sub != NULL)
            each_key(k->sub, path, len + (size_t)n, cap, fn, arg);
        else if (k->type == CFGSCHEMA_T_LIST && k->list != NULL &&
                 len + (size_t)n + 2 < cap) {
            memcpy(path + len + (size_t)n, "[]", 3);
            each_key(k->list->keys, path, len + (size_t)n + 2, cap, fn, arg);
        }
        path[len] = '\0';
    }
}

void cfgschema_each_key(const cfgschema_key_t *rows, void (*fn)(const char *path, void *arg), void *arg)
{
    char path[256] = "";
    each_key(rows, path, 0, sizeof path, fn, arg);
}
