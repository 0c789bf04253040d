/*
 * cfgschema.h - a generic, table-driven JSON configuration walker.
 *
 * A schema is a static array of cfgschema_key_t rows, one per key, ending with
 * CFGSCHEMA_END. Each row names the key, its type, where the value lives in
 * the target struct (offsetof), its range and default, and for sections a
 * nested table. The same tables drive four things, so a key is described in
 * exactly one place: setting defaults, applying a JSON document over a struct,
 * checking a struct's values again (after command-line flags changed them),
 * and freeing what the struct owns.
 *
 * Every error is one sentence naming the source and the full dotted key path,
 * e.g. "agent.json: key 'networking.port' must be an integer from 1 to 65535,
 * got 70000". config.c holds bosun's tables; this file knows nothing of them.
 */
#ifndef BOSUN_CFGSCHEMA_H
#define BOSUN_CFGSCHEMA_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "status.h"

/* Value types a row can hold. */
typedef enum {
    CFGSCHEMA_T_STR,    /* char *, owned; JSON string */
    CFGSCHEMA_T_INT,    /* int; JSON integer in [imin, imax] */
    CFGSCHEMA_T_U64,    /* uint64_t; JSON integer in [imin, imax], imin >= 0 */
    CFGSCHEMA_T_NUM,    /* double; JSON integer or real in [dmin, dmax] */
    CFGSCHEMA_T_BOOL,   /* bool; JSON true or false */
    CFGSCHEMA_T_OBJ,    /* a section: JSON object walked with row.sub at row.offset */
    CFGSCHEMA_T_LIST,   /* entries per row.list: array at row.offset, count at row.count_offset */
    CFGSCHEMA_T_CUSTOM, /* anything else: row.custom's hooks do the work */
} cfgschema_type_t;

/* Row flags. */
enum {
    CFGSCHEMA_F_SECRET = 1u << 0,   /* STR: its value is never quoted in a message */
    CFGSCHEMA_F_NULLABLE = 1u << 1, /* STR: "" or null in the file leave it NULL */
    CFGSCHEMA_F_MIN_EXCL = 1u << 2, /* NUM: the value must be greater than dmin */
    CFGSCHEMA_F_REQUIRED = 1u << 3, /* the key must be present in its object */
};

/* Path and error state of one walk. */
typedef struct {
    const char *source;   /* the file (or "command line") named in messages */
    bosun_err_t *err;     /* may be NULL */
    char path[192];       /* dotted key path of the value being looked at */
    size_t path_len;
} cfgschema_walk_t;

typedef struct cfgschema_key cfgschema_key_t;

/*
 * A LIST row's entries: structs described by `keys`, each given in JSON as
 * an object or, for short, as a string that sets the entry's key field:
 *   "resources": ["vip", {"id": "db", "priority": 200}]
 * Entries start from the table's defaults and must differ in their key
 * field; errors name the entry ("resources[2]") and, for a repeated key,
 * the earlier one. The struct holds an array pointer (NULL when empty) and
 * a size_t count.
 */
typedef struct {
    const cfgschema_key_t *keys;  /* an entry's rows; the key field is a STR row */
    size_t size;                  /* sizeof one entry */
    size_t key_offset;            /* offsetof the entry's char * key field */
    size_t max;                   /* most entries */
    const char *key_what;         /* the key field in messages: "resource id", "node" */
    const char *name;             /* the list in messages: "resources" -> "resources[2]" */
    const char *expect_list;      /* "a list of ..." for a wrong type */
    const char *expect_entry;     /* what one entry must be, for a wrong type */
} cfgschema_list_t;

/*
 * Hooks for a CUSTOM row (arrays such as "resources" or "servers"). Each gets
 * the struct the row belongs to, not a field, since such a value usually
 * spans a pointer and a count.
 */
typedef struct {
    /* Applies v (path already pushed) over obj; on error fills w->err. */
    bosun_status_t (*parse)(cfgschema_walk_t *w, const json_t *v, void *obj);
    /* Sets the default; may be NULL (zero is the default). */
    bosun_status_t (*init)(void *obj);
    /* Checks the current value (path already pushed); may be NULL. */
    bosun_status_t (*validate)(cfgschema_walk_t *w, const void *obj);
    /* Frees what the value owns and zeroes it; may be NULL. */
    void (*free)(void *obj);
} cfgschema_custom_t;

struct cfgschema_key {
    const char *name;             /* key in its JSON object; NULL ends a table */
    cfgschema_type_t type;
    unsigned flags;               /* CFGSCHEMA_F_* */
    size_t offset;                /* offsetof the field in the row's struct */
    long long imin, imax, idef;   /* INT and U64 */
    double dmin, dmax, ddef;      /* NUM */
    const char *sdef;             /* STR default (copied); NULL for none */
    const cfgschema_key_t *sub;   /* OBJ: the section's table */
    const cfgschema_list_t *list; /* LIST: its entries */
    size_t count_offset;          /* LIST: offsetof the size_t count */
    const cfgschema_custom_t *custom; /* CUSTOM: its hooks */
    /* STR: extra check of a value (at validation, NULL counts as "" unless
     * the row is NULLABLE); fills err with a sentence. */
    bosun_status_t (*check)(const char *value, bosun_err_t *err);
};

/* Row constructors: name, struct type, field, then range and default. */
#define CFGSCHEMA_STR(nm, T, f, def, fl, chk)                                              \
    {.name = (nm), .type = CFGSCHEMA_T_STR, .offset = offsetof(T, f), .sdef = (def),      \
     .flags = (fl), .check = (chk)}
#define CFGSCHEMA_INT(nm, T, f, lo, hi, def)                                               \
    {.name = (nm), .type = CFGSCHEMA_T_INT, .offset = offsetof(T, f), .imin = (lo),       \
     .imax = (hi), .idef = (def)}
#define CFGSCHEMA_U64(nm, T, f, lo, hi, def)                                               \
    {.name = (nm), .type = CFGSCHEMA_T_U64, .offset = offsetof(T, f), .imin = (lo),       \
     .imax = (hi), .idef = (def)}
#define CFGSCHEMA_NUM(nm, T, f, lo, hi, def, fl)                                           \
    {.name = (nm), .type = CFGSCHEMA_T_NUM, .offset = offsetof(T, f), .dmin = (lo),       \
     .dmax = (hi), .ddef = (def), .flags = (fl)}
#define CFGSCHEMA_BOOL(nm, T, f, def)                                                      \
    {.name = (nm), .type = CFGSCHEMA_T_BOOL, .offset = offsetof(T, f), .idef = (def)}
#define CFGSCHEMA_OBJ(nm, T, f, table)                                                     \
    {.name = (nm), .type = CFGSCHEMA_T_OBJ, .offset = offsetof(T, f), .sub = (table)}
/* A JSON section whose keys are fields of the enclosing struct itself. */
#define CFGSCHEMA_GROUP(nm, table) {.name = (nm), .type = CFGSCHEMA_T_OBJ, .offset = 0, .sub = (table)}
#define CFGSCHEMA_LIST(nm, T, f, nf, spec)                                                 \
    {.name = (nm), .type = CFGSCHEMA_T_LIST, .offset = offsetof(T, f),                    \
     .count_offset = offsetof(T, nf), .list = (spec)}
#define CFGSCHEMA_CUSTOM(nm, hooks, fl) {.name = (nm), .type = CFGSCHEMA_T_CUSTOM, .custom = (hooks), .flags = (fl)}
#define CFGSCHEMA_END {.name = NULL}

/*
 * Calls fn with the dotted path of every key rows accepts, sections first
 * then their keys ("networking", "networking.port"); a list's entry keys as
 * "resources[].id". For documentation checks and tools.
 */
void cfgschema_each_key(const cfgschema_key_t *rows, void (*fn)(const char *path, void *arg), void *arg);

/* Starts a walk whose messages name `source`; err may be NULL. */
void cfgschema_walk_init(cfgschema_walk_t *w, const char *source, bosun_err_t *err);

/* Appends ".key" (or "key" at the top) to the path; returns the mark to pop to. */
size_t cfgschema_path_push_key(cfgschema_walk_t *w, const char *key);

/* Appends "[index]" to the path; returns the mark to pop to. */
size_t cfgschema_path_push_index(cfgschema_walk_t *w, size_t index);

/* Cuts the path back to a mark returned by a push. */
void cfgschema_path_pop(cfgschema_walk_t *w, size_t mark);

/*
 * Records "<source>: key '<path>' must be <expect>, got <v>" (v described with
 * its JSON kind, e.g. "\"abc\" (a string)") and returns BOSUN_ERR_CONFIG.
 */
bosun_status_t cfgschema_type_error(cfgschema_walk_t *w, const char *expect, const json_t *v);

/* Records "<source>: key '<path>': <message>" and returns BOSUN_ERR_CONFIG. */
bosun_status_t cfgschema_fail(cfgschema_walk_t *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Applies the JSON object `obj` over the struct at dst, described by table.
 * Unknown keys, wrong types, out-of-range values and failed checks are
 * errors (BOSUN_ERR_CONFIG, or BOSUN_ERR_NOMEM); dst may be partly updated.
 */
bosun_status_t cfgschema_apply(cfgschema_walk_t *w, const cfgschema_key_t *table, const json_t *obj,
                               void *dst);

/*
 * Parses `len` bytes of JSON (duplicate keys rejected) and applies the
 * top-level object over dst. Syntax errors read "<source>:<line>:<col>:
 * invalid JSON: <text>".
 */
bosun_status_t cfgschema_parse(const cfgschema_key_t *table, void *dst, const char *json, size_t len,
                               const char *source, bosun_err_t *err);

/*
 * Sets every field the table names to its default (the caller zeroes the
 * struct first). On BOSUN_ERR_NOMEM, what was allocated is freed again.
 */
bosun_status_t cfgschema_defaults(const cfgschema_key_t *table, void *dst);

/*
 * Checks the current values of dst against the table's ranges and checks
 * (path prefix already in w); the first failure is reported as the walker
 * would report it for the file.
 */
bosun_status_t cfgschema_validate(cfgschema_walk_t *w, const cfgschema_key_t *table, const void *dst);

/*
 * Frees every string and custom value the table names in dst, wiping strings
 * with sodium_memzero first, and leaves those fields NULL/zero. Safe to call
 * again, and on a zeroed struct.
 */
void cfgschema_free(const cfgschema_key_t *table, void *dst);

/* Replaces *slot with a copy of value (NULL allowed), wiping the old string. */
bosun_status_t cfgschema_set_str(char **slot, const char *value);

/* Wipes and frees a string; NULL is a no-op. */
void cfgschema_free_str(char *s);

/*
 * Reads the whole file at path into a new NUL-terminated buffer (*out, caller
 * frees; *len excludes the NUL). Fails with BOSUN_ERR_IO and
 * "<path>: cannot read: <strerror>", or BOSUN_ERR_CONFIG and
 * "<path>: too big: a config file may be at most <max> bytes".
 */
bosun_status_t cfgschema_read_file(const char *path, size_t max, char **out, size_t *len,
                                   bosun_err_t *err);

#endif
