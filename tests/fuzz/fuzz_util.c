/*
 * fuzz_util.c - helpers shared by the libFuzzer targets (see fuzz_util.h).
 */
#include "fuzz_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"

void fuzz_fail(const char *what)
{
    fprintf(stderr, "fuzz: invariant broken: %s\n", what);
    abort();
}

/* bosun_codec_from_json, which must accept what bosun_codec_to_json made. */
static ProtobufCMessage *from_json_or_fail(const ProtobufCMessageDescriptor *d, const json_t *obj,
                                           const char *text, ProtobufCMessage **out)
{
    bosun_err_t err;
    if (bosun_codec_from_json(d, obj, out, &err) != BOSUN_OK) {
        fprintf(stderr, "fuzz: %s does not read back: %s\n%s\n", bosun_codec_type_name(d), err.msg,
                text);
        fuzz_fail("bosun_codec_from_json rejects what bosun_codec_to_json made");
    }
    return *out;
}

ProtobufCMessage *fuzz_codec_roundtrip(const ProtobufCMessageDescriptor *d, const uint8_t *data,
                                       size_t size)
{
    ProtobufCMessage *msg = NULL;
    bosun_err_t err;
    if (bosun_codec_decode(d, data, size, 0, &msg, &err) != BOSUN_OK)
        return NULL;

    /* What decoded must decode again once packed (central stores Acks packed). */
    uint8_t *packed = NULL;
    size_t plen = 0;
    ProtobufCMessage *again = NULL;
    if (bosun_codec_encode(msg, &packed, &plen) != BOSUN_OK ||
        bosun_codec_decode(d, packed, plen, 0, &again, &err) != BOSUN_OK)
        fuzz_fail("a decoded message does not decode again after packing");
    protobuf_c_message_free_unpacked(again, NULL);
    free(packed);

    json_t *obj = bosun_codec_to_json(msg);
    if (obj == NULL)
        fuzz_fail("bosun_codec_to_json returned NULL");
    char *text = json_dumps(obj, JSON_COMPACT);
    if (text == NULL)
        fuzz_fail("json_dumps failed on a rendered message");

    ProtobufCMessage *back = NULL;
    json_t *second = NULL, *third = NULL;
    if (from_json_or_fail(d, obj, text, &back) != NULL)
        second = bosun_codec_to_json(back);
    if (second == NULL)
        fuzz_fail("bosun_codec_to_json returned NULL");
    /* Values JSON cannot carry (NaN becomes null, then 0) may change once;
     * after that, JSON -> message -> JSON must be a fixed point. */
    ProtobufCMessage *back2 = NULL;
    char *text2 = json_dumps(second, JSON_COMPACT);
    if (text2 == NULL)
        fuzz_fail("json_dumps failed on a rendered message");
    if (from_json_or_fail(d, second, text2, &back2) != NULL)
        third = bosun_codec_to_json(back2);
    if (third == NULL || !json_equal(second, third)) {
        char *t3 = third != NULL ? json_dumps(third, JSON_COMPACT) : NULL;
        fprintf(stderr, "fuzz: second: %s\nfuzz: third:  %s\n", text2, t3 ? t3 : "(null)");
        free(t3);
        fuzz_fail("JSON -> message -> JSON is not stable");
    }
    json_decref(third);
    json_decref(second);
    protobuf_c_message_free_unpacked(back2, NULL);
    protobuf_c_message_free_unpacked(back, NULL);
    free(text2);
    free(text);
    json_decref(obj);
    return msg;
}
