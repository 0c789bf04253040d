/*
 * fuzz_ack.c - libFuzzer target: an Ack from the wire (bosun_codec_decode),
 * rendered as JSON and read back (lib/codec.c, lib/codec_json.c).
 */
#include "codec.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ProtobufCMessage *msg = fuzz_codec_roundtrip(&bosun__ack__descriptor, data, size);
    if (msg != NULL)
        protobuf_c_message_free_unpacked(msg, NULL);
    return 0;
}
