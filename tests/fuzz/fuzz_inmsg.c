/*
 * fuzz_inmsg.c - libFuzzer target: inmsg.txt as operators write it, parsed by
 * inbox_parse (central/inbox.c) with final false (more may come) and true.
 * Checked: consumed never exceeds the input, and parsing the unconsumed tail
 * again with final true accepts the same messages as one final parse.
 */
#include "fuzz_util.h"
#include "inbox.h"

static const bosun_delivery_config_t DEFAULTS = {
    .ack_timeout_secs = 5,
    .retries = -1,
    .retry_wait_secs = 1,
    .max_retry_wait_secs = 30,
    .method_timeout_secs = 60,
    .ttl_secs = 86400,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    inbox_batch_t part, rest, whole;
    inbox_batch_init(&part);
    inbox_batch_init(&rest);
    inbox_batch_init(&whole);

    if (inbox_parse(buf, size, false, 1, &DEFAULTS, &part) != BOSUN_OK ||
        inbox_parse(buf, size, true, 1, &DEFAULTS, &whole) != BOSUN_OK)
        fuzz_fail("inbox_parse out of memory");
    if (part.consumed > size || whole.consumed > size)
        fuzz_fail("inbox_parse consumed more than it was given");
    if (inbox_parse(buf + part.consumed, size - part.consumed, true, 1 + part.drops, &DEFAULTS,
                    &rest) != BOSUN_OK)
        fuzz_fail("inbox_parse out of memory");
    if (part.n_messages + rest.n_messages != whole.n_messages)
        fuzz_fail("parsing in two steps accepts other messages than in one");

    inbox_batch_free(&whole);
    inbox_batch_free(&rest);
    inbox_batch_free(&part);
    return 0;
}
