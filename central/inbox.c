/*
 * inbox.c - inmsg.txt: steward's drops parsed into messages, and the file
 * follower that reads them exactly once (see inbox.h for the model).
 *
 * The first half is the parser: pure, no I/O, fed any byte range. The
 * second half follows the file: it reads from the committed offset, never
 * past an incomplete drop, renames a quiet, fully read file aside and drains
 * it before deleting it. This is the one file that talks to jansson about
 * inmsg.txt and turns its errors into reasons.
 */
#include "inbox.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "name.h"
#include "suggest.h"

/* Most bytes of an offending text kept in a reject. */
#define REJECT_TEXT_MAX 4096
/* Longest reason kept; reasons quote at most 80 bytes of a value. */
#define REASON_MAX 1024
/*
 * A JSON error this close to the end of the input may be caused by the end
 * itself: jansson reports a UTF-8 character cut short at its first byte, up
 * to three bytes before the end. Such an error means "wait for more".
 */
#define INCOMPLETE_MARGIN 4
/* Upper bound of the second-valued fields: ten years. */
#define SECS_MAX (10.0 * 365.0 * 86400.0)
#define RETRIES_MAX 1000000
/* Largest read per inbox_read; at least twice INBOX_MAX_DROP so that a full
 * window always lets the parser make progress. */
#define READ_MAX (2u * INBOX_MAX_DROP)

/* ======================================================================
 * Parsing
 * ====================================================================== */

void inbox_batch_init(inbox_batch_t *b)
{
    memset(b, 0, sizeof *b);
}

static void reject_free(inbox_reject_t *r)
{
    free(r->reason);
    free(r->text);
}

/* Frees the messages and rejects from index m and r on (a failed drop). */
static void batch_truncate(inbox_batch_t *b, size_t m, size_t r)
{
    while (b->n_messages > m)
        message_free(b->messages[--b->n_messages]);
    while (b->n_rejects > r)
        reject_free(&b->rejects[--b->n_rejects]);
}

void inbox_batch_free(inbox_batch_t *b)
{
    batch_truncate(b, 0, 0);
    free(b->messages);
    free(b->rejects);
    inbox_batch_init(b);
}

/*
 * Makes room for element n of *arr. Arrays only grow through this, so their
 * capacity is the next power of two from 8 on and need not be stored.
 */
static bool grow(void **arr, size_t n, size_t elem)
{
    if (n != 0 && (n < 8 || (n & (n - 1)) != 0))
        return true;
    size_t cap = n == 0 ? 8 : n * 2;
    void *p = realloc(*arr, cap * elem);
    if (p == NULL)
        return false;
    *arr = p;
    return true;
}

/* Length of the valid UTF-8 character at s[0..n), or 0 (also for NUL). */
static size_t utf8_char(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    unsigned min;
    if (c < 0x80)
        return c != 0;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
        min = 0x80;
    } else if ((c & 0xf0) == 0xe0) {
        len = 3;
        min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        min = 0x10000;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    unsigned cp = c & (0x7fu >> len);
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3fu);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

/*
 * A NUL-terminated copy of at most max bytes of s[0..len) that is valid
 * UTF-8 (a bad byte or a NUL becomes '?'), so that the rejects file, which
 * is JSON, can hold any input. A character is never cut in half.
 */
static char *clean_text(const char *s, size_t len, size_t max)
{
    size_t n = len < max ? len : max;
    char *d = malloc(n + 1);
    if (d == NULL)
        return NULL;
    size_t i = 0;
    while (i < n) {
        size_t k = utf8_char((const unsigned char *)s + i, len - i);
        if (k == 0) {
            d[i++] = '?';
            continue;
        }
        if (i + k > n)
            break;
        memcpy(d + i, s + i, k);
        i += k;
    }
    d[i] = '\0';
    return d;
}

/* Appends a reject: the reason from fmt, the text from text[0..len). */
static bosun_status_t add_reject(inbox_batch_t *b, const char *text, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static bosun_status_t add_reject(inbox_batch_t *b, const char *text, size_t len, const char *fmt, ...)
{
    char reason[REASON_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    if (!grow((void **)&b->rejects, b->n_rejects, sizeof *b->rejects))
        return BOSUN_ERR_NOMEM;
    inbox_reject_t *r = &b->rejects[b->n_rejects];
    r->reason = clean_text(reason, strlen(reason), sizeof reason);
    r->text = clean_text(text, len, REJECT_TEXT_MAX);
    if (r->reason == NULL || r->text == NULL) {
        reject_free(r);
        return BOSUN_ERR_NOMEM;
    }
    b->n_rejects++;
    return BOSUN_OK;
}

/* ---- one element ------------------------------------------------------- */

/* The fields a message object may have; anything else is a mistake. */
static const char *const FIELDS[] = {
    "toNode", "toNodes", "method", "data", "commandOrEvent", "ackTimeout",
    "retries", "retryWait", "methodTimeout", "ttl", NULL,
};

/* The known field that `key` most likely meant, or NULL. */
static const char *field_suggest(const char *key)
{
    const char *best = NULL;
    size_t best_d = 3;
    for (const char *const *f = FIELDS; *f != NULL; f++) {
        size_t d = bosun_edit_distance(key, *f);
        if (d < best_d && d < strlen(*f) / 2 + 1) {
            best = *f;
            best_d = d;
        }
    }
    return best;
}

/* A short description of v for "got ...": "\"cmd\"", "5", "an object". */
static void describe(const json_t *v, char *buf, size_t n)
{
    switch (json_typeof(v)) {
    case JSON_STRING: snprintf(buf, n, "\"%.80s\"", json_string_value(v)); return;
    case JSON_INTEGER: snprintf(buf, n, "%lld", (long long)json_integer_value(v)); return;
    case JSON_REAL: snprintf(buf, n, "%g", json_real_value(v)); return;
    case JSON_TRUE: snprintf(buf, n, "true"); return;
    case JSON_FALSE: snprintf(buf, n, "false"); return;
    case JSON_NULL: snprintf(buf, n, "null"); return;
    case JSON_OBJECT: snprintf(buf, n, "an object"); return;
    case JSON_ARRAY: snprintf(buf, n, "an array"); return;
    }
    snprintf(buf, n, "a JSON value");
}

/* What a valid element asks for; strings are borrowed from the JSON. */
typedef struct {
    const char *to_node;     /* or: */
    const json_t *to_nodes;  /* a checked array of distinct names */
    const char *method;
    const json_t *data;      /* a checked array of strings, or NULL */
    bool is_event;
    int retries;
    uint64_t ack_timeout_ms, retry_wait_ms, max_retry_wait_ms, method_timeout_ms, ttl_ms;
} spec_t;

/* Seconds from the config or a drop to ms; a positive value is at least 1 ms. */
static uint64_t secs_to_ms(double s)
{
    return s > 0 ? (uint64_t)ceil(s * 1000.0) : 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Checks the toNodes array; false with the reason in why. */
static bool check_to_nodes(const json_t *v, char *why, size_t n)
{
    size_t count = json_is_array(v) ? json_array_size(v) : 0;
    if (count == 0) {
        char got[100];
        describe(v, got, sizeof got);
        snprintf(why, n, "'toNodes' must be a non-empty array of node names, got %s",
                 json_is_array(v) ? "an empty array" : got);
        return false;
    }
    const char **names = malloc(count * sizeof *names);
    if (names == NULL) {
        snprintf(why, n, "out of memory checking 'toNodes'");
        return false;
    }
    bool ok = true;
    for (size_t i = 0; ok && i < count; i++) {
        const json_t *e = json_array_get(v, i);
        char what[40];
        bosun_err_t err;
        snprintf(what, sizeof what, "toNodes entry %zu", i + 1);
        if (!json_is_string(e)) {
            char got[100];
            describe(e, got, sizeof got);
            snprintf(why, n, "%s must be a node name, got %s", what, got);
            ok = false;
        } else if (bosun_name_check(json_string_value(e), what, &err) != BOSUN_OK) {
            snprintf(why, n, "%s", err.msg);
            ok = false;
        } else {
            names[i] = json_string_value(e);
        }
    }
    if (ok) {
        qsort(names, count, sizeof *names, cmp_str);
        for (size_t i = 1; ok && i < count; i++)
            if (strcmp(names[i - 1], names[i]) == 0) {
                snprintf(why, n, "'toNodes' lists '%s' more than once", names[i]);
                ok = false;
            }
    }
    free(names);
    return ok;
}

/* Reads a seconds field (absent: def_secs); false with the reason in why. */
static bool check_secs(const json_t *obj, const char *key, double def_secs, uint64_t *ms, char *why,
                       size_t n)
{
    const json_t *v = json_object_get(obj, key);
    if (v == NULL) {
        *ms = secs_to_ms(def_secs);
        return true;
    }
    double x = json_is_number(v) ? json_number_value(v) : -1.0;
    if (!(x > 0 && x <= SECS_MAX)) {
        char got[100];
        describe(v, got, sizeof got);
        snprintf(why, n, "'%s' must be a number of seconds greater than 0 and at most %.0f, got %s",
                 key, SECS_MAX, got);
        return false;
    }
    *ms = secs_to_ms(x);
    return true;
}

/* Validates one element; false with the reason (without prefix) in why. */
static bool check_element(const json_t *el, const bosun_delivery_config_t *d, spec_t *s, char *why,
                          size_t n)
{
    char got[100];
    memset(s, 0, sizeof *s);
    if (!json_is_object(el)) {
        describe(el, got, sizeof got);
        snprintf(why, n, "must be an object with 'toNode' and 'method', got %s", got);
        return false;
    }
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)el, key, v) {
        bool known = false;
        for (const char *const *f = FIELDS; *f != NULL && !known; f++)
            known = strcmp(key, *f) == 0;
        if (!known) {
            const char *near = field_suggest(key);
            if (near != NULL)
                snprintf(why, n, "unknown field '%.80s' (did you mean '%s'?)", key, near);
            else
                snprintf(why, n, "unknown field '%.80s'", key);
            return false;
        }
    }

    bosun_err_t err;
    const json_t *to = json_object_get(el, "toNode");
    const json_t *tos = json_object_get(el, "toNodes");
    if (to != NULL && tos != NULL) {
        snprintf(why, n, "give 'toNode' or 'toNodes', not both");
        return false;
    }
    if (to == NULL && tos == NULL) {
        snprintf(why, n, "missing 'toNode' (or 'toNodes')");
        return false;
    }
    if (to != NULL) {
        if (!json_is_string(to)) {
            describe(to, got, sizeof got);
            snprintf(why, n, "'toNode' must be a node name, got %s", got);
            return false;
        }
        if (bosun_name_check(json_string_value(to), "toNode", &err) != BOSUN_OK) {
            snprintf(why, n, "%s", err.msg);
            return false;
        }
        s->to_node = json_string_value(to);
    } else {
        if (!check_to_nodes(tos, why, n))
            return false;
        s->to_nodes = tos;
    }

    v = json_object_get(el, "method");
    if (v == NULL) {
        snprintf(why, n, "missing 'method'");
        return false;
    }
    if (!json_is_string(v)) {
        describe(v, got, sizeof got);
        snprintf(why, n, "'method' must be a method name, got %s", got);
        return false;
    }
    s->method = json_string_value(v);
    if (!bosun_method_valid(s->method)) {
        if (bosun_name_check(s->method, "method", &err) != BOSUN_OK)
            snprintf(why, n, "%s", err.msg);
        else
            snprintf(why, n, "method '%.80s' is not a valid method name", s->method);
        return false;
    }

    v = json_object_get(el, "commandOrEvent");
    if (v != NULL) {
        const char *k = json_is_string(v) ? json_string_value(v) : "";
        if (strcmp(k, "command") != 0 && strcmp(k, "event") != 0) {
            describe(v, got, sizeof got);
            snprintf(why, n, "'commandOrEvent' must be \"command\" or \"event\", got %s", got);
            return false;
        }
        s->is_event = strcmp(k, "event") == 0;
    }

    v = json_object_get(el, "data");
    if (v != NULL) {
        if (!json_is_array(v)) {
            describe(v, got, sizeof got);
            snprintf(why, n, "'data' must be an array of strings, got %s", got);
            return false;
        }
        for (size_t i = 0; i < json_array_size(v); i++) {
            const json_t *e = json_array_get(v, i);
            if (!json_is_string(e)) {
                describe(e, got, sizeof got);
                snprintf(why, n, "'data' must be an array of strings; entry %zu is %s", i + 1, got);
                return false;
            }
        }
        s->data = v;
    }

    if (!check_secs(el, "ackTimeout", d->ack_timeout_secs, &s->ack_timeout_ms, why, n) ||
        !check_secs(el, "retryWait", d->retry_wait_secs, &s->retry_wait_ms, why, n) ||
        !check_secs(el, "methodTimeout", d->method_timeout_secs, &s->method_timeout_ms, why, n) ||
        !check_secs(el, "ttl", d->ttl_secs, &s->ttl_ms, why, n))
        return false;
    s->max_retry_wait_ms = secs_to_ms(d->max_retry_wait_secs);
    if (s->max_retry_wait_ms < s->retry_wait_ms)
        s->max_retry_wait_ms = s->retry_wait_ms;

    s->retries = d->retries;
    v = json_object_get(el, "retries");
    if (v != NULL) {
        json_int_t r = json_is_integer(v) ? json_integer_value(v) : -2;
        if (r < -1 || r > RETRIES_MAX) {
            describe(v, got, sizeof got);
            snprintf(why, n, "'retries' must be an integer from -1 (until ttl) to %d, got %s",
                     RETRIES_MAX, got);
            return false;
        }
        s->retries = (int)r;
    }
    return true;
}

/* Appends the message spec s asks for, to `node`. */
static bosun_status_t add_message(inbox_batch_t *b, const spec_t *s, const char *node)
{
    if (!grow((void **)&b->messages, b->n_messages, sizeof *b->messages))
        return BOSUN_ERR_NOMEM;
    message_t *m = message_new();
    if (m == NULL)
        return BOSUN_ERR_NOMEM;
    m->node = strdup(node);
    m->method = strdup(s->method);
    bool ok = m->node != NULL && m->method != NULL;
    size_t nd = s->data != NULL ? json_array_size(s->data) : 0;
    if (ok && nd > 0) {
        m->data = calloc(nd, sizeof *m->data);
        ok = m->data != NULL;
        for (size_t i = 0; ok && i < nd; i++) {
            m->data[i] = strdup(json_string_value(json_array_get(s->data, i)));
            m->n_data = i + 1;
            ok = m->data[i] != NULL;
        }
    }
    if (!ok) {
        message_free(m);
        return BOSUN_ERR_NOMEM;
    }
    m->is_event = s->is_event;
    m->ack_timeout_ms = s->ack_timeout_ms;
    m->retries = s->retries;
    m->retry_wait_ms = s->retry_wait_ms;
    m->max_retry_wait_ms = s->max_retry_wait_ms;
    m->method_timeout_ms = s->method_timeout_ms;
    m->ttl_ms = s->ttl_ms;
    b->messages[b->n_messages++] = m;
    return BOSUN_OK;
}

/* Turns one complete drop into messages and rejects. */
static bosun_status_t take_drop(const json_t *root, const char *text, size_t len, size_t dropno,
                                const bosun_delivery_config_t *d, inbox_batch_t *b)
{
    if (!json_is_array(root))
        return add_reject(b, text, len, "drop %zu: must be a JSON array of messages, got %s", dropno,
                          json_is_object(root) ? "an object" : "another JSON value");
    for (size_t i = 0; i < json_array_size(root); i++) {
        const json_t *el = json_array_get(root, i);
        spec_t s;
        char why[REASON_MAX - 64];
        bosun_status_t st = BOSUN_OK;
        if (!check_element(el, d, &s, why, sizeof why)) {
            char *dump = json_dumps(el, JSON_COMPACT | JSON_ENCODE_ANY);
            if (dump == NULL)
                return BOSUN_ERR_NOMEM;
            st = add_reject(b, dump, strlen(dump), "drop %zu, element %zu: %s", dropno, i + 1, why);
            free(dump);
        } else if (s.to_node != NULL) {
            st = add_message(b, &s, s.to_node);
        } else {
            for (size_t k = 0; st == BOSUN_OK && k < json_array_size(s.to_nodes); k++)
                st = add_message(b, &s, json_string_value(json_array_get(s.to_nodes, k)));
        }
        if (st != BOSUN_OK)
            return st;
    }
    return BOSUN_OK;
}

/* ---- the stream of drops ------------------------------------------------- */

static size_t skip_space(const char *buf, size_t len, size_t p)
{
    while (p < len && (buf[p] == ' ' || buf[p] == '\t' || buf[p] == '\r' || buf[p] == '\n'))
        p++;
    return p;
}

/* The first line after p that starts with '[' (where a drop resumes), or len. */
static size_t next_line_bracket(const char *buf, size_t len, size_t p)
{
    while (p < len) {
        const char *nl = memchr(buf + p, '\n', len - p);
        if (nl == NULL)
            return len;
        p = (size_t)(nl - buf) + 1;
        if (p < len && buf[p] == '[')
            return p;
    }
    return len;
}

bosun_status_t inbox_parse(const char *buf, size_t len, bool final, size_t first_drop,
                           const bosun_delivery_config_t *defaults, inbox_batch_t *out)
{
    size_t p = 0, dropno = first_drop;
    bosun_status_t st = BOSUN_OK;
    for (;;) {
        p = skip_space(buf, len, p);
        if (p == len)
            break;
        size_t avail = len - p;
        size_t window = avail < INBOX_MAX_DROP ? avail : INBOX_MAX_DROP;
        size_t n_msg = out->n_messages, n_rej = out->n_rejects;
        json_error_t je;
        json_t *root = json_loadb(buf + p, window, JSON_DISABLE_EOF_CHECK | JSON_REJECT_DUPLICATES, &je);
        size_t end;
        if (root != NULL) {
            end = p + (size_t)je.position;
            st = take_drop(root, buf + p, end - p, dropno, defaults, out);
            json_decref(root);
        } else {
            if (json_error_code(&je) == json_error_out_of_memory) {
                st = BOSUN_ERR_NOMEM;
                break;
            }
            bool at_end = je.position < 0 || (size_t)je.position + INCOMPLETE_MARGIN >= window;
            bool too_big = at_end && window < avail;
            /* Cut short by the end of the input: the rest may still come. */
            if (at_end && !too_big && !final)
                break;
            end = next_line_bracket(buf, len, p);
            /* Broken, but where it ends is not known yet. */
            if (end == len && !final && avail <= INBOX_MAX_DROP)
                break;
            if (too_big)
                st = add_reject(out, buf + p, end - p,
                                "drop %zu: not complete within %u bytes, the largest drop allowed",
                                dropno, INBOX_MAX_DROP);
            else
                st = add_reject(out, buf + p, end - p, "drop %zu: invalid JSON at line %d, column %d: %s",
                                dropno, je.line, je.column, je.text);
        }
        if (st != BOSUN_OK) {
            batch_truncate(out, n_msg, n_rej);
            break;
        }
        p = end;
        dropno++;
        out->drops++;
    }
    out->consumed = p;
    return st;
}

/* ======================================================================
 * Following the file
 * ====================================================================== */

/* One file being read: inmsg.txt, or the renamed-aside one being drained. */
typedef struct {
    int fd;              /* -1: none */
    uint64_t inode;
    uint64_t committed;  /* bytes handled and committed by the store */
    uint64_t offered;    /* the offset the last inbox_read returned */
    bool seen;           /* size and changed_ms are known */
    uint64_t size;       /* at the last look */
    uint64_t changed_ms; /* when the size last changed */
} inbox_file_t;

struct inbox {
    char *path;
    char *draining_path;
    bosun_delivery_config_t defaults;
    int ifd;
    inbox_file_t cur;
    inbox_file_t drain;
    uint64_t rotate_bytes;
    size_t drops_done;    /* drops committed since open; numbers drops in reasons */
    size_t drops_offered; /* drops in the last inbox_read */
    char *buf;
    size_t buf_cap;
};

/* Milliseconds from since to now, 0 if the clock went back. */
static uint64_t elapsed(uint64_t now_ms, uint64_t since_ms)
{
    return now_ms > since_ms ? now_ms - since_ms : 0;
}

static void file_reset(inbox_file_t *f)
{
    memset(f, 0, sizeof *f);
    f->fd = -1;
}

static void file_close(inbox_file_t *f)
{
    if (f->fd >= 0)
        close(f->fd);
    file_reset(f);
}

/* Opens (creating if missing) path for reading into *f at offset 0. */
static bosun_status_t file_open(inbox_file_t *f, const char *path, bool create, bosun_err_t *err)
{
    file_reset(f);
    int fd = open(path, O_RDONLY | O_CLOEXEC | (create ? O_CREAT : 0), 0660);
    if (fd < 0)
        return bosun_errf(err, errno == ENOENT ? BOSUN_ERR_NOT_FOUND : BOSUN_ERR_IO,
                          "inbox: cannot open %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return bosun_errf(err, BOSUN_ERR_IO, "inbox: cannot stat %s: %s", path, strerror(e));
    }
    f->fd = fd;
    f->inode = (uint64_t)st.st_ino;
    return BOSUN_OK;
}

/* Looks at f's size at now_ms; a file cut shorter than what was read starts over. */
static bosun_status_t file_observe(inbox_file_t *f, uint64_t now_ms, bosun_err_t *err)
{
    if (f->fd < 0)
        return BOSUN_OK;
    struct stat st;
    if (fstat(f->fd, &st) != 0)
        return bosun_errf(err, BOSUN_ERR_IO, "inbox: fstat failed: %s", strerror(errno));
    uint64_t size = (uint64_t)st.st_size;
    if (!f->seen || size != f->size) {
        f->seen = true;
        f->size = size;
        f->changed_ms = now_ms;
    }
    if (f->committed > size) /* truncated in place by someone: new data starts at 0 */
        f->committed = f->offered = 0;
    return BOSUN_OK;
}

static void fill_position(const inbox_t *ib, bool offered, inbox_position_t *pos)
{
    pos->inode = ib->cur.inode;
    pos->offset = offered ? ib->cur.offered : ib->cur.committed;
    pos->draining_inode = ib->drain.fd >= 0 ? ib->drain.inode : 0;
    pos->draining_offset = ib->drain.fd >= 0 ? (offered ? ib->drain.offered : ib->drain.committed) : 0;
}

/* Reads and drops the pending inotify events: they only wake the caller. */
static void drain_events(inbox_t *ib)
{
    char evbuf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    while (read(ib->ifd, evbuf, sizeof evbuf) > 0)
        ;
}

/* Starts reading a fresh inmsg.txt at 0 (creating it if missing). */
static bosun_status_t open_current(inbox_t *ib, bosun_err_t *err)
{
    return file_open(&ib->cur, ib->path, true, err);
}

/*
 * Notices an inmsg.txt that was replaced or removed by someone else and
 * switches to the new file at offset 0. The old one is drained like a
 * rotated one when the draining slot is free; otherwise it is read to its
 * end first. *switched tells whether anything changed.
 */
static bosun_status_t check_path(inbox_t *ib, uint64_t now_ms, bool *switched, bosun_err_t *err)
{
    *switched = false;
    struct stat st;
    if (stat(ib->path, &st) == 0 && (uint64_t)st.st_ino == ib->cur.inode)
        return BOSUN_OK;
    if (ib->drain.fd < 0) {
        ib->drain = ib->cur;
        file_reset(&ib->cur);
    } else {
        bosun_status_t s = file_observe(&ib->cur, now_ms, err);
        if (s != BOSUN_OK)
            return s;
        if (ib->cur.committed < ib->cur.size)
            return BOSUN_OK;
        file_close(&ib->cur);
    }
    *switched = true;
    return open_current(ib, err);
}

bosun_status_t inbox_open(const char *path, const inbox_position_t *pos,
                          const bosun_delivery_config_t *defaults, inbox_t **out, bosun_err_t *err)
{
    static const inbox_position_t zero;
    if (pos == NULL)
        pos = &zero;
    *out = NULL;
    inbox_t *ib = calloc(1, sizeof *ib);
    if (ib == NULL)
        return bosun_errf(err, BOSUN_ERR_NOMEM, "inbox: out of memory");
    file_reset(&ib->cur);
    file_reset(&ib->drain);
    ib->ifd = -1;
    ib->defaults = *defaults;
    ib->rotate_bytes = INBOX_ROTATE_BYTES;
    bosun_status_t st;
    char *dir = NULL;
    ib->path = strdup(path);
    if (ib->path != NULL && asprintf(&ib->draining_path, "%s.draining", path) < 0)
        ib->draining_path = NULL;
    dir = strdup(path);
    if (ib->path == NULL || ib->draining_path == NULL || dir == NULL) {
        st = bosun_errf(err, BOSUN_ERR_NOMEM, "inbox: out of memory");
        goto fail;
    }
    char *slash = strrchr(dir, '/');
    if (slash == NULL)
        strcpy(dir, ".");
    else
        slash[slash == dir ? 1 : 0] = '\0';

    ib->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (ib->ifd < 0) {
        st = bosun_errf(err, BOSUN_ERR_SYS, "inbox: inotify_init1: %s", strerror(errno));
        goto fail;
    }
    if (inotify_add_watch(ib->ifd, dir,
                          IN_MODIFY | IN_CLOSE_WRITE | IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM |
                              IN_DELETE) < 0) {
        st = bosun_errf(err, BOSUN_ERR_SYS, "inbox: cannot watch %s: %s", dir, strerror(errno));
        goto fail;
    }

    st = open_current(ib, err);
    if (st != BOSUN_OK)
        goto fail;
    if (pos->inode != 0 && pos->inode == ib->cur.inode)
        ib->cur.committed = pos->offset;

    /* A renamed-aside file: the one the position names, the current file of
     * a position saved just before a rotation, or one never read at all. */
    st = file_open(&ib->drain, ib->draining_path, false, err);
    if (st == BOSUN_ERR_NOT_FOUND) {
        st = BOSUN_OK;
    } else if (st != BOSUN_OK) {
        goto fail;
    } else if (ib->drain.inode == ib->cur.inode) {
        file_close(&ib->drain); /* a hard link to inmsg.txt itself: not a separate file */
    } else if (pos->draining_inode != 0 && pos->draining_inode == ib->drain.inode) {
        ib->drain.committed = pos->draining_offset;
    } else if (pos->inode != 0 && pos->inode == ib->drain.inode) {
        ib->drain.committed = pos->offset;
    }
    ib->cur.offered = ib->cur.committed;
    ib->drain.offered = ib->drain.committed;
    free(dir);
    *out = ib;
    return BOSUN_OK;
fail:
    free(dir);
    inbox_close(ib);
    return st;
}

void inbox_close(inbox_t *ib)
{
    if (ib == NULL)
        return;
    file_close(&ib->cur);
    file_close(&ib->drain);
    if (ib->ifd >= 0)
        close(ib->ifd);
    free(ib->path);
    free(ib->draining_path);
    free(ib->buf);
    free(ib);
}

int inbox_fd(const inbox_t *ib)
{
    return ib->ifd;
}

void inbox_set_rotate_bytes(inbox_t *ib, uint64_t bytes)
{
    ib->rotate_bytes = bytes;
}

/* Reads [committed, committed + n) of f into ib->buf. */
static bosun_status_t file_pread(inbox_t *ib, const inbox_file_t *f, size_t n, size_t *got,
                                 bosun_err_t *err)
{
    if (n > ib->buf_cap) {
        char *b = realloc(ib->buf, n);
        if (b == NULL)
            return bosun_errf(err, BOSUN_ERR_NOMEM, "inbox: out of memory reading %zu bytes", n);
        ib->buf = b;
        ib->buf_cap = n;
    }
    size_t done = 0;
    while (done < n) {
        ssize_t r = pread(f->fd, ib->buf + done, n - done, (off_t)(f->committed + done));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return bosun_errf(err, BOSUN_ERR_IO, "inbox: read failed: %s", strerror(errno));
        if (r == 0)
            break; /* cut short since the fstat */
        done += (size_t)r;
    }
    *got = done;
    return BOSUN_OK;
}

/*
 * Parses what f holds past its committed offset, at most *budget bytes,
 * into out; sets f->offered. *more is set when the budget cut it short.
 */
static bosun_status_t file_read(inbox_t *ib, inbox_file_t *f, uint64_t now_ms, inbox_batch_t *out,
                                size_t *budget, bool *more, bosun_err_t *err)
{
    f->offered = f->committed;
    if (f->fd < 0)
        return BOSUN_OK;
    bosun_status_t st = file_observe(f, now_ms, err);
    if (st != BOSUN_OK || f->committed >= f->size)
        return st;
    uint64_t avail = f->size - f->committed;
    if (*budget == 0) {
        *more = true;
        return BOSUN_OK;
    }
    size_t n = avail < *budget ? (size_t)avail : *budget;
    st = file_pread(ib, f, n, &n, err);
    if (st != BOSUN_OK)
        return st;
    bool bounded = f->committed + n < f->size;
    /* A tail nobody has touched for a while will not be completed: a
     * writer died in the middle of a drop. */
    bool final = !bounded && elapsed(now_ms, f->changed_ms) >= INBOX_FINAL_QUIET_MS;

    st = inbox_parse(ib->buf, n, final, ib->drops_done + out->drops + 1, &ib->defaults, out);
    if (st != BOSUN_OK)
        return bosun_errf(err, st, "inbox: out of memory parsing");
    f->offered = f->committed + out->consumed;
    *budget -= n;
    if (bounded && out->consumed > 0)
        *more = true;
    return BOSUN_OK;
}

bosun_status_t inbox_read(inbox_t *ib, uint64_t now_ms, inbox_batch_t *out, inbox_position_t *pos,
                          bool *more, bosun_err_t *err)
{
    *more = false;
    drain_events(ib);
    bool switched;
    bosun_status_t st = check_path(ib, now_ms, &switched, err);
    size_t budget = READ_MAX;
    size_t drops0 = out->drops;
    if (st == BOSUN_OK)
        st = file_read(ib, &ib->drain, now_ms, out, &budget, more, err);
    if (st == BOSUN_OK)
        st = file_read(ib, &ib->cur, now_ms, out, &budget, more, err);
    ib->drops_offered = out->drops - drops0;
    /* Bytes handled in both files: 0 when nothing moved. */
    out->consumed = (size_t)(ib->drain.offered - ib->drain.committed) +
                    (size_t)(ib->cur.offered - ib->cur.committed);
    fill_position(ib, true, pos);
    return st;
}

void inbox_committed(inbox_t *ib, const inbox_position_t *pos)
{
    inbox_file_t *files[] = {&ib->cur, &ib->drain};
    bool all = true;
    for (size_t i = 0; i < 2; i++) {
        inbox_file_t *f = files[i];
        if (f->fd < 0)
            continue;
        uint64_t off = f->committed;
        if (pos->inode == f->inode && pos->offset > off)
            off = pos->offset;
        if (pos->draining_inode != 0 && pos->draining_inode == f->inode && pos->draining_offset > off)
            off = pos->draining_offset;
        if (off != f->offered)
            all = false;
        f->committed = off;
    }
    if (all) {
        ib->drops_done += ib->drops_offered;
        ib->drops_offered = 0;
    }
}

bosun_status_t inbox_tick(inbox_t *ib, uint64_t now_ms, inbox_position_t *pos, bool *changed,
                          bosun_err_t *err)
{
    *changed = false;
    drain_events(ib);
    bosun_status_t st = check_path(ib, now_ms, changed, err);
    if (st == BOSUN_OK)
        st = file_observe(&ib->cur, now_ms, err);
    if (st == BOSUN_OK)
        st = file_observe(&ib->drain, now_ms, err);
    if (st != BOSUN_OK)
        goto out;

    inbox_file_t *d = &ib->drain;
    if (d->fd >= 0 && d->committed >= d->size && elapsed(now_ms, d->changed_ms) >= INBOX_DRAIN_QUIET_MS) {
        /* Only the file we renamed aside is deleted; one replaced by
         * someone else is just let go. */
        struct stat sb;
        if (stat(ib->draining_path, &sb) == 0 && (uint64_t)sb.st_ino == d->inode &&
            unlink(ib->draining_path) != 0 && errno != ENOENT) {
            st = bosun_errf(err, BOSUN_ERR_IO, "inbox: cannot delete %s: %s", ib->draining_path,
                            strerror(errno));
            goto out;
        }
        /* The fd still reads the file: a write that raced the unlink is
         * drained before it is let go. */
        st = file_observe(d, now_ms, err);
        if (st != BOSUN_OK)
            goto out;
        if (d->committed >= d->size) {
            file_close(d);
            *changed = true;
        }
    }

    inbox_file_t *c = &ib->cur;
    if (d->fd < 0 && c->committed >= c->size && c->size >= ib->rotate_bytes &&
        elapsed(now_ms, c->changed_ms) >= INBOX_ROTATE_QUIET_MS) {
        /* A writer that opened the file before the rename appends to the
         * renamed one, which is drained; a later one creates a new file. */
        if (rename(ib->path, ib->draining_path) != 0) {
            st = bosun_errf(err, BOSUN_ERR_IO, "inbox: cannot rename %s to %s: %s", ib->path,
                            ib->draining_path, strerror(errno));
            goto out;
        }
        *d = *c;
        file_reset(c);
        *changed = true;
        st = open_current(ib, err);
    }
out:
    fill_position(ib, false, pos);
    return st;
}

uint64_t inbox_next_deadline(const inbox_t *ib)
{
    uint64_t t = UINT64_MAX;
    const inbox_file_t *files[] = {&ib->cur, &ib->drain};
    for (size_t i = 0; i < 2; i++) {
        const inbox_file_t *f = files[i];
        if (f->fd < 0 || !f->seen)
            continue;
        uint64_t due = UINT64_MAX;
        if (f->committed < f->size) /* a tail waiting for its end */
            due = f->changed_ms + INBOX_FINAL_QUIET_MS;
        if (f == &ib->drain && f->committed >= f->size)
            due = f->changed_ms + INBOX_DRAIN_QUIET_MS;
        if (f == &ib->cur && ib->drain.fd < 0 && f->committed >= f->size && f->size >= ib->rotate_bytes)
            due = f->changed_ms + INBOX_ROTATE_QUIET_MS;
        if (due < t)
            t = due;
    }
    return t;
}

/*
 * Appending: O_APPEND makes the kernel move to the end and write under the
 * inode's lock, so on Linux local filesystems one write call's bytes land
 * together, never interleaved with another writer's (this does not hold on
 * NFS). The drop therefore goes out in one writev, with a newline added if
 * it lacks one so the next drop starts on a fresh line. Only a short write
 * (a full disk, a signal in a huge write) continues with a second call.
 */
bosun_status_t inbox_append(const char *path, const char *drop, size_t len, bosun_err_t *err)
{
    if (len == 0)
        return bosun_errf(err, BOSUN_ERR_INVALID, "inbox: refusing to append an empty drop");
    if (len > INBOX_MAX_DROP)
        return bosun_errf(err, BOSUN_ERR_TOO_BIG, "inbox: a drop of %zu bytes is larger than %u", len,
                          INBOX_MAX_DROP);
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0660);
    if (fd < 0)
        return bosun_errf(err, BOSUN_ERR_IO, "inbox: cannot open %s: %s", path, strerror(errno));
    struct iovec iov[2] = {
        {.iov_base = (void *)drop, .iov_len = len},
        {.iov_base = (void *)"\n", .iov_len = drop[len - 1] == '\n' ? 0 : 1},
    };
    struct iovec *v = iov;
    int nv = iov[1].iov_len > 0 ? 2 : 1;
    bosun_status_t st = BOSUN_OK;
    while (nv > 0) {
        ssize_t w = writev(fd, v, nv);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            st = bosun_errf(err, BOSUN_ERR_IO, "inbox: cannot write %s: %s", path, strerror(errno));
            break;
        }
        size_t left = (size_t)w;
        while (nv > 0 && left >= v->iov_len) {
            left -= v->iov_len;
            v++;
            nv--;
        }
        if (nv > 0) {
            v->iov_base = (char *)v->iov_base + left;
            v->iov_len -= left;
        }
    }
    if (st == BOSUN_OK && fsync(fd) != 0)
        st = bosun_errf(err, BOSUN_ERR_IO, "inbox: cannot sync %s: %s", path, strerror(errno));
    if (close(fd) != 0 && st == BOSUN_OK)
        st = bosun_errf(err, BOSUN_ERR_IO, "inbox: cannot close %s: %s", path, strerror(errno));
    return st;
}
