/*
 * codec.c - bosun's messages on the wire: bounded decode, encode, the type
 * each subject carries, and a subject's payload as one JSON object for
 * `watch` and the recorder. The JSON converter itself is in codec_json.c.
 */
#include "codec.h"

#include <sodium.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "name.h"

/* Every message type of proto/bosun.proto, for lookups by name. */
static const ProtobufCMessageDescriptor *const codec_types[] = {
    &bosun__host_status__descriptor,   &bosun__resource_status__descriptor,
    &bosun__agent_counters__descriptor, &bosun__probe_result__descriptor,
    &bosun__heartbeat__descriptor,     &bosun__bid__descriptor,
    &bosun__election_packet__descriptor, &bosun__sealed_packet__descriptor,
    &bosun__state_change__descriptor,  &bosun__command__descriptor,
    &bosun__event__descriptor,         &bosun__ack__descriptor,
    &bosun__result__descriptor,        &bosun__node_status__descriptor,
};

/* Longest subject bosun_codec_type_for_subject examines; a valid one is
 * at most 64 + ".command." + 64 characters. */
#define CODEC_SUBJECT_MAX 256

/* Most tokens a subject is split into; more means no known type. */
#define CODEC_SUBJECT_TOKENS 4

const char *bosun_codec_type_name(const ProtobufCMessageDescriptor *d)
{
    return d != NULL ? d->short_name : NULL;
}

const ProtobufCMessageDescriptor *bosun_codec_type_by_name(const char *name)
{
    if (name == NULL)
        return NULL;
    for (size_t i = 0; i < sizeof codec_types / sizeof codec_types[0]; i++)
        if (strcmp(codec_types[i]->short_name, name) == 0)
            return codec_types[i];
    return NULL;
}

/*
 * True when msg, or a message inside it, kept an unknown field numbered 0.
 * Field number 0 is not valid protobuf, but protobuf-c accepts it when the
 * tag is spelt in two or more bytes (0x80 0x00) and then packs it as the
 * one-byte tag 0x00, which it rejects: such a message decodes once and never
 * again (central stores Acks packed and reads them back). Found by
 * tests/fuzz (regressions/fuzz_ack/field-zero-tag).
 */
static bool has_field_zero(const ProtobufCMessage *msg)
{
    for (unsigned i = 0; i < msg->n_unknown_fields; i++)
        if (msg->unknown_fields[i].tag == 0)
            return true;
    const ProtobufCMessageDescriptor *d = msg->descriptor;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        const char *base = (const char *)msg;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)(base + f->quantifier_offset);
            ProtobufCMessage *const *items = *(ProtobufCMessage *const *const *)(base + f->offset);
            for (size_t k = 0; k < n; k++)
                if (items[k] != NULL && has_field_zero(items[k]))
                    return true;
            continue;
        }
        if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
            *(const uint32_t *)(base + f->quantifier_offset) != f->id)
            continue;
        const ProtobufCMessage *sub = *(ProtobufCMessage *const *)(base + f->offset);
        if (sub != NULL && has_field_zero(sub))
            return true;
    }
    return false;
}

bosun_status_t bosun_codec_decode(const ProtobufCMessageDescriptor *d, const void *buf, size_t len,
                                  size_t max_len, ProtobufCMessage **out, bosun_err_t *err)
{
    if (out != NULL)
        *out = NULL;
    if (d == NULL || out == NULL || (buf == NULL && len > 0))
        return bosun_errf(err, BOSUN_ERR_INVALID, "bosun_codec_decode: missing argument");
    size_t limit = max_len != 0 ? max_len : BOSUN_CODEC_MAX_PAYLOAD;
    if (len > limit)
        return bosun_errf(err, BOSUN_ERR_TOO_BIG, "%s payload of %zu bytes exceeds the limit of %zu",
                          d->short_name, len, limit);
    ProtobufCMessage *msg = protobuf_c_message_unpack(d, NULL, len, len > 0 ? buf : (const void *)"");
    if (msg != NULL && has_field_zero(msg)) {
        protobuf_c_message_free_unpacked(msg, NULL);
        msg = NULL;
    }
    if (msg == NULL)
        return bosun_errf(err, BOSUN_ERR_DECODE, "malformed %s payload (%zu bytes)", d->short_name,
                          len);
    *out = msg;
    return BOSUN_OK;
}

bosun_status_t bosun_codec_encode(const ProtobufCMessage *msg, uint8_t **out, size_t *len)
{
    if (out != NULL)
        *out = NULL;
    if (len != NULL)
        *len = 0;
    if (msg == NULL || msg->descriptor == NULL || out == NULL || len == NULL)
        return BOSUN_ERR_INVALID;
    size_t size = protobuf_c_message_get_packed_size(msg);
    uint8_t *buf = malloc(size > 0 ? size : 1);
    if (buf == NULL)
        return BOSUN_ERR_NOMEM;
    *len = protobuf_c_message_pack(msg, buf);
    *out = buf;
    return BOSUN_OK;
}

/*
 * Splits subject at '.' into at most CODEC_SUBJECT_TOKENS tokens in buf.
 * Returns the token count (tokens may be empty), or 0 when the subject is
 * empty, too long, or has more tokens than that.
 */
static size_t subject_split(const char *subject, char buf[CODEC_SUBJECT_MAX],
                            char *tok[CODEC_SUBJECT_TOKENS])
{
    size_t len = strlen(subject);
    if (len == 0 || len >= CODEC_SUBJECT_MAX)
        return 0;
    memcpy(buf, subject, len + 1);
    size_t n = 0;
    for (char *p = buf;; p++) {
        if (n == CODEC_SUBJECT_TOKENS)
            return 0;
        tok[n++] = p;
        p = strchr(p, '.');
        if (p == NULL)
            break;
        *p = '\0';
    }
    return n;
}

const ProtobufCMessageDescriptor *bosun_codec_type_for_subject(const char *subject)
{
    char buf[CODEC_SUBJECT_MAX];
    char *tok[CODEC_SUBJECT_TOKENS];
    if (subject == NULL || subject_split(subject, buf, tok) != 3)
        return NULL;
    const char *node = tok[0], *kind = tok[1], *what = tok[2];
    /* The name checks also refuse empty tokens ("a..b", "a.event."). */
    if (!bosun_name_valid(node) || !bosun_method_valid(what))
        return NULL;
    if (strcmp(kind, "command") == 0)
        return &bosun__command__descriptor;
    if (strcmp(kind, "event") != 0)
        return NULL;
    if (strcmp(what, "heartbeat") == 0)
        return &bosun__heartbeat__descriptor;
    if (strcmp(what, "bid") == 0)
        return &bosun__election_packet__descriptor;
    if (strcmp(what, "state") == 0)
        return &bosun__state_change__descriptor;
    if (strcmp(node, "central") == 0 && strcmp(what, "result") == 0)
        return &bosun__result__descriptor;
    if (strcmp(node, "central") == 0 && strcmp(what, "nodeStatus") == 0)
        return &bosun__node_status__descriptor;
    return &bosun__event__descriptor;
}

/* Adds "error" and "payload_base64" to obj; false on OOM. */
static bool subject_json_fail(json_t *obj, const char *why, const void *buf, size_t len)
{
    size_t cap = sodium_base64_encoded_len(len, sodium_base64_VARIANT_ORIGINAL);
    char *text = malloc(cap);
    if (text == NULL)
        return false;
    sodium_bin2base64(text, cap, len > 0 ? buf : (const void *)"", len,
                      sodium_base64_VARIANT_ORIGINAL);
    bool ok = json_object_set_new(obj, "error", json_string(why)) == 0 &&
              json_object_set_new(obj, "payload_base64", json_string(text)) == 0;
    free(text);
    return ok;
}

json_t *bosun_codec_subject_json(const char *subject, const void *buf, size_t len)
{
    if (buf == NULL)
        len = 0;
    json_t *obj = json_object();
    if (obj == NULL)
        return NULL;
    /* A subject that is not UTF-8 has no type either; it renders as null. */
    json_t *subj = subject != NULL ? json_string(subject) : NULL;
    if (json_object_set_new(obj, "subject", subj != NULL ? subj : json_null()) != 0 ||
        json_object_set_new(obj, "size", json_integer((json_int_t)len)) != 0)
        goto oom;

    const ProtobufCMessageDescriptor *d = bosun_codec_type_for_subject(subject);
    if (d == NULL) {
        if (!subject_json_fail(obj, "no message type is known for this subject", buf, len))
            goto oom;
        return obj;
    }
    if (json_object_set_new(obj, "type", json_string(d->short_name)) != 0)
        goto oom;
    ProtobufCMessage *msg = NULL;
    bosun_err_t err;
    bosun_err_clear(&err);
    if (bosun_codec_decode(d, buf, len, 0, &msg, &err) != BOSUN_OK) {
        if (!subject_json_fail(obj, err.msg, buf, len))
            goto oom;
        return obj;
    }
    json_t *body = bosun_codec_to_json(msg);
    protobuf_c_message_free_unpacked(msg, NULL);
    if (json_object_set_new(obj, "message", body) != 0)
        goto oom;
    return obj;
oom:
    json_decref(obj);
    return NULL;
}
