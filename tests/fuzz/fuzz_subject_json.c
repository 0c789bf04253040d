/*
 * fuzz_subject_json.c - libFuzzer target: bosun_codec_subject_json, which the
 * recorder and `watch` apply to every message seen on the bus. The input is
 * split at its first newline: the subject before it, the payload after.
 */
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size);
    size_t slen = nl != NULL ? (size_t)(nl - data) : size;
    char *subject = malloc(slen + 1);
    if (subject == NULL)
        return 0;
    memcpy(subject, data, slen);
    subject[slen] = '\0';
    const uint8_t *payload = nl != NULL ? nl + 1 : data + size;
    size_t plen = size - (size_t)(payload - data);

    json_t *obj = bosun_codec_subject_json(subject, payload, plen);
    if (obj == NULL)
        fuzz_fail("bosun_codec_subject_json returned NULL");
    char *text = json_dumps(obj, JSON_COMPACT);
    if (text == NULL)
        fuzz_fail("json_dumps failed on bosun_codec_subject_json's object");
    free(text);
    json_decref(obj);
    free(subject);
    return 0;
}
