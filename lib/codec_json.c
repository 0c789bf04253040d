/*
 * codec_json.c - the reflective protobuf <-> JSON converter behind codec.h.
 *
 * Nothing here knows a bosun message: both directions walk protobuf-c's
 * message and field descriptors, so a field added to proto/bosun.proto shows
 * up in `watch`, the recorder and the HTTP API without code. The mapping is
 * the one codec.h documents. Messages built from JSON are laid out exactly as
 * protobuf_c_message_unpack lays them out (every string, bytes buffer, array
 * and sub-message malloc'd), so protobuf_c_message_free_unpacked(msg, NULL)
 * frees them, also half-built after an error.
 */
#include "codec.h"

#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Deepest nesting of messages bosun_codec_from_json follows. */
#define CODEC_MAX_DEPTH 16

/* Longest enum type name whose UPPER_SNAKE prefix is derived. */
#define CODEC_ENUM_NAME_MAX 128

/* Walking state of bosun_codec_from_json: the field path for messages. */
typedef struct {
    char path[256];
    size_t len;
    bosun_err_t *err;
} codec_walk_t;

/* ---- helpers shared by both directions ------------------------------------ */

static void *field_ptr(const ProtobufCMessage *msg, unsigned offset)
{
    return (char *)msg + offset;
}

/* Size of one element of a repeated field of type t. */
static size_t elem_size(ProtobufCType t)
{
    switch (t) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32: return sizeof(uint32_t);
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64: return sizeof(uint64_t);
    case PROTOBUF_C_TYPE_FLOAT: return sizeof(float);
    case PROTOBUF_C_TYPE_DOUBLE: return sizeof(double);
    case PROTOBUF_C_TYPE_BOOL: return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_ENUM: return sizeof(int);
    case PROTOBUF_C_TYPE_STRING: return sizeof(char *);
    case PROTOBUF_C_TYPE_BYTES: return sizeof(ProtobufCBinaryData);
    case PROTOBUF_C_TYPE_MESSAGE: return sizeof(ProtobufCMessage *);
    }
    return 0;
}

/* True when f is an optional field whose presence is a has_ flag (proto2
 * optional or proto3 `optional` scalars, bytes included). */
static bool has_flag_field(const ProtobufCFieldDescriptor *f)
{
    return f->label == PROTOBUF_C_LABEL_OPTIONAL && !(f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
           f->type != PROTOBUF_C_TYPE_MESSAGE && f->type != PROTOBUF_C_TYPE_STRING;
}

/*
 * Length of the prefix every value name of ed carries and JSON drops: the
 * type name in UPPER_SNAKE plus "_" (AckStatus -> "ACK_STATUS_"), else the
 * values' longest common prefix ending in '_'. Zero when neither leaves every
 * name non-empty.
 */
static size_t enum_prefix_len(const ProtobufCEnumDescriptor *ed)
{
    char snake[CODEC_ENUM_NAME_MAX * 2 + 2];
    size_t n = 0;
    const char *s = ed->short_name;
    for (size_t i = 0; s[i] != '\0' && n + 3 < sizeof snake; i++) {
        char c = s[i];
        bool upper = c >= 'A' && c <= 'Z';
        bool prev_lower = i > 0 && ((s[i - 1] >= 'a' && s[i - 1] <= 'z') ||
                                    (s[i - 1] >= '0' && s[i - 1] <= '9'));
        bool next_lower = s[i + 1] >= 'a' && s[i + 1] <= 'z';
        bool prev_upper = i > 0 && s[i - 1] >= 'A' && s[i - 1] <= 'Z';
        if (upper && (prev_lower || (prev_upper && next_lower)))
            snake[n++] = '_';
        snake[n++] = (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : c;
    }
    snake[n++] = '_';
    snake[n] = '\0';

    bool all = ed->n_values > 0;
    for (unsigned i = 0; all && i < ed->n_values; i++)
        all = strncmp(ed->values[i].name, snake, n) == 0 && ed->values[i].name[n] != '\0';
    if (all)
        return n;

    if (ed->n_values < 2)
        return 0;
    size_t common = strlen(ed->values[0].name);
    for (unsigned i = 1; i < ed->n_values; i++) {
        size_t k = 0;
        while (k < common && ed->values[i].name[k] == ed->values[0].name[k])
            k++;
        common = k;
    }
    while (common > 0 && ed->values[0].name[common - 1] != '_')
        common--;
    for (unsigned i = 0; i < ed->n_values; i++)
        if (ed->values[i].name[common] == '\0')
            return 0;
    return common;
}

/* ---- message -> JSON ------------------------------------------------------------ */

static json_t *message_to_json(const ProtobufCMessage *msg);

/* {"base64": "..."} for len bytes at data; NULL on OOM. */
static json_t *base64_to_json(const uint8_t *data, size_t len)
{
    size_t cap = sodium_base64_encoded_len(len, sodium_base64_VARIANT_ORIGINAL);
    char *text = malloc(cap);
    if (text == NULL)
        return NULL;
    sodium_bin2base64(text, cap, data, len, sodium_base64_VARIANT_ORIGINAL);
    json_t *obj = json_pack("{s:s}", "base64", text);
    free(text);
    return obj;
}

/* A string when data is valid UTF-8 (jansson checks), else {"base64": ...}. */
static json_t *text_to_json(const void *data, size_t len)
{
    json_t *j = json_stringn(len > 0 ? data : "", len);
    return j != NULL ? j : base64_to_json(data, len);
}

static json_t *u64_to_json(uint64_t v)
{
    if (v <= (uint64_t)INT64_MAX)
        return json_integer((json_int_t)v);
    char text[24];
    snprintf(text, sizeof text, "%" PRIu64, v);
    return json_string(text);
}

static json_t *real_to_json(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

const char *bosun_codec_enum_name(const ProtobufCEnumDescriptor *ed, int v)
{
    const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(ed, v);
    return ev == NULL ? "?" : ev->name + enum_prefix_len(ed);
}

static json_t *enum_to_json(const ProtobufCEnumDescriptor *ed, int v)
{
    const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(ed, v);
    if (ev == NULL)
        return json_integer(v);
    return json_string(ev->name + enum_prefix_len(ed));
}

/* One value of field f stored at p (a member or an array element). */
static json_t *value_to_json(const ProtobufCFieldDescriptor *f, const void *p)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32: return json_integer(*(const int32_t *)p);
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32: return json_integer(*(const uint32_t *)p);
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64: return json_integer(*(const int64_t *)p);
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64: return u64_to_json(*(const uint64_t *)p);
    case PROTOBUF_C_TYPE_FLOAT: return real_to_json(*(const float *)p);
    case PROTOBUF_C_TYPE_DOUBLE: return real_to_json(*(const double *)p);
    case PROTOBUF_C_TYPE_BOOL: return json_boolean(*(const protobuf_c_boolean *)p);
    case PROTOBUF_C_TYPE_ENUM: return enum_to_json(f->descriptor, *(const int *)p);
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *)p;
        return s != NULL ? text_to_json(s, strlen(s)) : json_null();
    }
    case PROTOBUF_C_TYPE_BYTES: {
        const ProtobufCBinaryData *b = p;
        return text_to_json(b->data, b->data != NULL ? b->len : 0);
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessage *m = *(ProtobufCMessage *const *)p;
        return m != NULL ? message_to_json(m) : json_null();
    }
    }
    return json_null();
}

static json_t *repeated_to_json(const ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f)
{
    size_t n = *(const size_t *)field_ptr(msg, f->quantifier_offset);
    const char *arr = *(char *const *)field_ptr(msg, f->offset);
    size_t size = elem_size(f->type);
    json_t *out = json_array();
    if (out == NULL)
        return NULL;
    for (size_t i = 0; arr != NULL && i < n; i++) {
        if (json_array_append_new(out, value_to_json(f, arr + i * size)) != 0) {
            json_decref(out);
            return NULL;
        }
    }
    return out;
}

static json_t *message_to_json(const ProtobufCMessage *msg)
{
    const ProtobufCMessageDescriptor *d = msg->descriptor;
    json_t *obj = json_object();
    if (obj == NULL)
        return NULL;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        json_t *j;
        if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
            *(const uint32_t *)field_ptr(msg, f->quantifier_offset) != f->id)
            continue; /* another member of its oneof is the one set */
        if (f->label == PROTOBUF_C_LABEL_REPEATED)
            j = repeated_to_json(msg, f);
        else if (has_flag_field(f) && !*(const protobuf_c_boolean *)field_ptr(msg, f->quantifier_offset))
            j = json_null();
        else
            j = value_to_json(f, field_ptr(msg, f->offset));
        if (json_object_set_new(obj, f->name, j) != 0) {
            json_decref(obj);
            return NULL;
        }
    }
    return obj;
}

json_t *bosun_codec_to_json(const ProtobufCMessage *msg)
{
    if (msg == NULL || msg->descriptor == NULL)
        return NULL;
    return message_to_json(msg);
}

/* ---- JSON -> message ------------------------------------------------------------- */

static bosun_status_t message_from_json(ProtobufCMessage *msg, const json_t *obj, codec_walk_t *w,
                                        int depth);

/* Appends sep and seg to the path; returns the length walk_pop restores. */
static size_t walk_push(codec_walk_t *w, const char *sep, const char *seg)
{
    size_t saved = w->len;
    int n = snprintf(w->path + w->len, sizeof w->path - w->len, "%s%s", sep, seg);
    if (n > 0)
        w->len += (size_t)n < sizeof w->path - w->len ? (size_t)n : sizeof w->path - 1 - w->len;
    return saved;
}

static void walk_pop(codec_walk_t *w, size_t saved)
{
    w->len = saved;
    w->path[saved] = '\0';
}

static const char *json_kind(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a real number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "something else";
}

static const char *type_expected(ProtobufCType t)
{
    switch (t) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32: return "a signed 32-bit integer";
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32: return "an unsigned 32-bit integer";
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64: return "a signed 64-bit integer (number or decimal string)";
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64: return "an unsigned 64-bit integer (number or decimal string)";
    case PROTOBUF_C_TYPE_FLOAT:
    case PROTOBUF_C_TYPE_DOUBLE: return "a number";
    case PROTOBUF_C_TYPE_BOOL: return "a boolean";
    case PROTOBUF_C_TYPE_ENUM: return "an enum value name or number";
    case PROTOBUF_C_TYPE_STRING:
    case PROTOBUF_C_TYPE_BYTES: return "a string or {\"base64\": \"...\"}";
    case PROTOBUF_C_TYPE_MESSAGE: return "an object";
    }
    return "a value";
}

static bosun_status_t type_error(codec_walk_t *w, const char *expected, const json_t *v)
{
    return bosun_errf(w->err, BOSUN_ERR_DECODE, "%s: expected %s, got %s", w->path, expected,
                      json_kind(v));
}

static bosun_status_t range_error(codec_walk_t *w, const ProtobufCFieldDescriptor *f)
{
    return bosun_errf(w->err, BOSUN_ERR_DECODE, "%s: value out of range; expected %s", w->path,
                      type_expected(f->type));
}

/*
 * Reads an integer from a JSON integer or a decimal string ("-12") as a sign
 * and a magnitude. Fails, naming the field, on another JSON type, a string
 * that is not a plain decimal, or a magnitude beyond 64 bits.
 */
static bosun_status_t integer_parse(const ProtobufCFieldDescriptor *f, const json_t *v, bool *neg,
                                    uint64_t *mag, codec_walk_t *w)
{
    if (json_is_integer(v)) {
        json_int_t x = json_integer_value(v);
        *neg = x < 0;
        *mag = x < 0 ? (uint64_t)(-(x + 1)) + 1 : (uint64_t)x;
        return BOSUN_OK;
    }
    if (!json_is_string(v))
        return type_error(w, type_expected(f->type), v);
    const char *s = json_string_value(v);
    const char *digits = s + (s[0] == '-');
    size_t n = strlen(digits);
    *neg = digits != s;
    if (n == 0 || strspn(digits, "0123456789") != n ||
        (size_t)(digits - s) + n != json_string_length(v))
        return bosun_errf(w->err, BOSUN_ERR_DECODE, "%s: '%.32s' is not a decimal integer; expected %s",
                          w->path, s, type_expected(f->type));
    errno = 0;
    *mag = strtoull(digits, NULL, 10);
    return errno == 0 ? BOSUN_OK : range_error(w, f);
}

/* A signed integer in [min, max] into *out. */
static bosun_status_t signed_from_json(const ProtobufCFieldDescriptor *f, const json_t *v,
                                       int64_t min, int64_t max, int64_t *out, codec_walk_t *w)
{
    bool neg;
    uint64_t mag;
    bosun_status_t st = integer_parse(f, v, &neg, &mag, w);
    if (st != BOSUN_OK)
        return st;
    if (neg ? mag > (uint64_t)INT64_MAX + 1 : mag > (uint64_t)INT64_MAX)
        return range_error(w, f);
    int64_t x = neg ? (int64_t)(0 - mag) : (int64_t)mag;
    if (x < min || x > max)
        return range_error(w, f);
    *out = x;
    return BOSUN_OK;
}

/* An unsigned integer at most max into *out. */
static bosun_status_t unsigned_from_json(const ProtobufCFieldDescriptor *f, const json_t *v,
                                         uint64_t max, uint64_t *out, codec_walk_t *w)
{
    bool neg;
    uint64_t mag;
    bosun_status_t st = integer_parse(f, v, &neg, &mag, w);
    if (st != BOSUN_OK)
        return st;
    if ((neg && mag != 0) || mag > max)
        return range_error(w, f);
    *out = mag;
    return BOSUN_OK;
}

/* A number, or one of the strings "NaN", "Infinity", "-Infinity". */
static bosun_status_t real_from_json(const ProtobufCFieldDescriptor *f, const json_t *v, double *out,
                                     codec_walk_t *w)
{
    if (json_is_number(v))
        *out = json_number_value(v);
    else if (json_is_string(v) && strcmp(json_string_value(v), "NaN") == 0)
        *out = NAN;
    else if (json_is_string(v) && strcmp(json_string_value(v), "Infinity") == 0)
        *out = INFINITY;
    else if (json_is_string(v) && strcmp(json_string_value(v), "-Infinity") == 0)
        *out = -INFINITY;
    else
        return type_error(w, type_expected(f->type), v);
    if (f->type == PROTOBUF_C_TYPE_FLOAT && isfinite(*out) && fabs(*out) > FLT_MAX)
        return range_error(w, f);
    return BOSUN_OK;
}

static bosun_status_t enum_from_json(const ProtobufCFieldDescriptor *f, const json_t *v, int *out,
                                     codec_walk_t *w)
{
    const ProtobufCEnumDescriptor *ed = f->descriptor;
    if (json_is_integer(v)) {
        json_int_t x = json_integer_value(v);
        if (x < INT32_MIN || x > INT32_MAX)
            return range_error(w, f);
        *out = (int)x;
        return BOSUN_OK;
    }
    if (!json_is_string(v))
        return type_error(w, type_expected(f->type), v);
    const char *s = json_string_value(v);
    size_t plen = enum_prefix_len(ed);
    for (unsigned i = 0; i < ed->n_value_names; i++) {
        const char *name = ed->values_by_name[i].name;
        if (strcmp(name, s) == 0 || (strlen(name) > plen && strcmp(name + plen, s) == 0 &&
                                     strncmp(name, ed->values[0].name, plen) == 0)) {
            *out = ed->values[ed->values_by_name[i].index].value;
            return BOSUN_OK;
        }
    }
    return bosun_errf(w->err, BOSUN_ERR_DECODE, "%s: unknown %s value '%.64s'", w->path,
                      ed->short_name, s);
}

/*
 * Reads a string or {"base64": "..."} into a new NUL-terminated buffer
 * (*data, *len); the caller frees *data.
 */
static bosun_status_t text_from_json(const ProtobufCFieldDescriptor *f, const json_t *v,
                                     uint8_t **data, size_t *len, codec_walk_t *w)
{
    if (json_is_string(v)) {
        *len = json_string_length(v);
        *data = malloc(*len + 1);
        if (*data == NULL)
            return bosun_errf(w->err, BOSUN_ERR_NOMEM, "%s: out of memory", w->path);
        memcpy(*data, json_string_value(v), *len + 1);
        return BOSUN_OK;
    }
    const json_t *b64 = json_object_get(v, "base64");
    if (!json_is_object(v) || json_object_size(v) != 1 || !json_is_string(b64))
        return type_error(w, type_expected(f->type), v);
    const char *text = json_string_value(b64);
    size_t tlen = json_string_length(b64);
    *data = malloc(tlen / 4 * 3 + 3);
    if (*data == NULL)
        return bosun_errf(w->err, BOSUN_ERR_NOMEM, "%s: out of memory", w->path);
    const char *end = NULL;
    if (sodium_base642bin(*data, tlen / 4 * 3 + 2, text, tlen, NULL, len, &end,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        end != text + tlen) {
        free(*data);
        *data = NULL;
        return bosun_errf(w->err, BOSUN_ERR_DECODE, "%s: \"base64\" is not valid base64", w->path);
    }
    (*data)[*len] = '\0';
    return BOSUN_OK;
}

static ProtobufCMessage *message_new(const ProtobufCMessageDescriptor *d)
{
    ProtobufCMessage *m = malloc(d->sizeof_message);
    if (m != NULL)
        protobuf_c_message_init(d, m);
    return m;
}

/* Converts v into one value of field f at dst (a member or array slot). */
static bosun_status_t value_from_json(const ProtobufCFieldDescriptor *f, const json_t *v, void *dst,
                                      codec_walk_t *w, int depth)
{
    bosun_status_t st = BOSUN_OK;
    int64_t s64 = 0;
    uint64_t u64 = 0;
    double real = 0;
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        if ((st = signed_from_json(f, v, INT32_MIN, INT32_MAX, &s64, w)) == BOSUN_OK)
            *(int32_t *)dst = (int32_t)s64;
        return st;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        if ((st = unsigned_from_json(f, v, UINT32_MAX, &u64, w)) == BOSUN_OK)
            *(uint32_t *)dst = (uint32_t)u64;
        return st;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        if ((st = signed_from_json(f, v, INT64_MIN, INT64_MAX, &s64, w)) == BOSUN_OK)
            *(int64_t *)dst = s64;
        return st;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        if ((st = unsigned_from_json(f, v, UINT64_MAX, &u64, w)) == BOSUN_OK)
            *(uint64_t *)dst = u64;
        return st;
    case PROTOBUF_C_TYPE_FLOAT:
        if ((st = real_from_json(f, v, &real, w)) == BOSUN_OK)
            *(float *)dst = (float)real;
        return st;
    case PROTOBUF_C_TYPE_DOUBLE:
        if ((st = real_from_json(f, v, &real, w)) == BOSUN_OK)
            *(double *)dst = real;
        return st;
    case PROTOBUF_C_TYPE_BOOL:
        if (!json_is_boolean(v))
            return type_error(w, type_expected(f->type), v);
        *(protobuf_c_boolean *)dst = json_is_true(v);
        return BOSUN_OK;
    case PROTOBUF_C_TYPE_ENUM: return enum_from_json(f, v, dst, w);
    case PROTOBUF_C_TYPE_STRING: {
        uint8_t *data = NULL;
        size_t len = 0;
        if ((st = text_from_json(f, v, &data, &len, w)) != BOSUN_OK)
            return st;
        if (memchr(data, '\0', len) != NULL) {
            free(data);
            return bosun_errf(w->err, BOSUN_ERR_DECODE, "%s: a string field cannot hold a NUL byte",
                              w->path);
        }
        *(char **)dst = (char *)data; /* replaces the shared empty-string default */
        return BOSUN_OK;
    }
    case PROTOBUF_C_TYPE_BYTES: {
        ProtobufCBinaryData *b = dst;
        if ((st = text_from_json(f, v, &b->data, &b->len, w)) == BOSUN_OK && b->len == 0) {
            free(b->data);
            b->data = NULL;
        }
        return st;
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        if (!json_is_object(v))
            return type_error(w, type_expected(f->type), v);
        ProtobufCMessage *sub = message_new(f->descriptor);
        if (sub == NULL)
            return bosun_errf(w->err, BOSUN_ERR_NOMEM, "%s: out of memory", w->path);
        *(ProtobufCMessage **)dst = sub; /* owned by the parent from here on */
        return message_from_json(sub, v, w, depth + 1);
    }
    }
    return bosun_errf(w->err, BOSUN_ERR_DECODE, "%s: unsupported field type %d", w->path,
                      (int)f->type);
}

static bosun_status_t repeated_from_json(ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f,
                                         const json_t *v, codec_walk_t *w, int depth)
{
    if (!json_is_array(v))
        return type_error(w, "an array", v);
    size_t n = json_array_size(v);
    if (n == 0)
        return BOSUN_OK;
    size_t size = elem_size(f->type);
    char *arr = calloc(n, size);
    if (arr == NULL)
        return bosun_errf(w->err, BOSUN_ERR_NOMEM, "%s: out of memory", w->path);
    /* Zeroed slots are safe for free_unpacked, so the array is attached now. */
    *(void **)field_ptr(msg, f->offset) = arr;
    *(size_t *)field_ptr(msg, f->quantifier_offset) = n;
    for (size_t i = 0; i < n; i++) {
        char seg[32];
        snprintf(seg, sizeof seg, "[%zu]", i);
        size_t saved = walk_push(w, "", seg);
        bosun_status_t st = value_from_json(f, json_array_get(v, i), arr + i * size, w, depth);
        walk_pop(w, saved);
        if (st != BOSUN_OK)
            return st;
    }
    return BOSUN_OK;
}

static bosun_status_t field_from_json(ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f,
                                      const json_t *v, codec_walk_t *w, int depth)
{
    if (json_is_null(v))
        return BOSUN_OK; /* unset: the field keeps its default */
    if (f->label == PROTOBUF_C_LABEL_REPEATED)
        return repeated_from_json(msg, f, v, w, depth);
    if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
        uint32_t *which = field_ptr(msg, f->quantifier_offset);
        if (*which != 0 && *which != f->id)
            return bosun_errf(w->err, BOSUN_ERR_DECODE,
                              "%s: another member of the same oneof is already set", w->path);
        *which = f->id;
    }
    bosun_status_t st = value_from_json(f, v, field_ptr(msg, f->offset), w, depth);
    if (st == BOSUN_OK && has_flag_field(f))
        *(protobuf_c_boolean *)field_ptr(msg, f->quantifier_offset) = 1;
    return st;
}

static bosun_status_t message_from_json(ProtobufCMessage *msg, const json_t *obj, codec_walk_t *w,
                                        int depth)
{
    const ProtobufCMessageDescriptor *d = msg->descriptor;
    if (depth > CODEC_MAX_DEPTH)
        return bosun_errf(w->err, BOSUN_ERR_DECODE, "%s: messages nested deeper than %d levels",
                          w->path, CODEC_MAX_DEPTH);
    if (!json_is_object(obj))
        return type_error(w, "an object", obj);
    const char *key;
    size_t key_len;
    json_t *v;
    json_object_keylen_foreach((json_t *)obj, key, key_len, v) {
        size_t saved = walk_push(w, ".", key);
        const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(d, key);
        bosun_status_t st = f == NULL || key_len != strlen(key)
                                ? bosun_errf(w->err, BOSUN_ERR_DECODE, "%s: unknown field", w->path)
                                : field_from_json(msg, f, v, w, depth);
        walk_pop(w, saved);
        if (st != BOSUN_OK)
            return st;
    }
    return BOSUN_OK;
}

bosun_status_t bosun_codec_from_json(const ProtobufCMessageDescriptor *d, const json_t *obj,
                                     ProtobufCMessage **out, bosun_err_t *err)
{
    if (out != NULL)
        *out = NULL;
    if (d == NULL || obj == NULL || out == NULL)
        return bosun_errf(err, BOSUN_ERR_INVALID, "bosun_codec_from_json: missing argument");
    codec_walk_t w = {.err = err};
    walk_push(&w, "", d->short_name);
    ProtobufCMessage *msg = message_new(d);
    if (msg == NULL)
        return bosun_errf(err, BOSUN_ERR_NOMEM, "%s: out of memory", w.path);
    bosun_status_t st = message_from_json(msg, obj, &w, 1);
    if (st != BOSUN_OK) {
        protobuf_c_message_free_unpacked(msg, NULL);
        return st;
    }
    *out = msg;
    return BOSUN_OK;
}
