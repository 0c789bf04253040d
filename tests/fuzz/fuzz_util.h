/*
 * fuzz_util.h - what the libFuzzer targets in tests/fuzz share.
 *
 * Each target is one small file whose LLVMFuzzerTestOneInput hands the input
 * to the real decoder. A broken invariant calls fuzz_fail(), which aborts so
 * libFuzzer records the input as a crash.
 */
#ifndef BOSUN_FUZZ_UTIL_H
#define BOSUN_FUZZ_UTIL_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

/* The libFuzzer entry points (declared for -Wmissing-prototypes). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Prints what broke and aborts. */
_Noreturn void fuzz_fail(const char *what);

/*
 * Decodes data as a message of type d (bosun_codec_decode, as the daemons
 * do); what decodes must decode again after packing. Renders it as JSON and
 * builds it back: bosun_codec_from_json must
 * accept whatever bosun_codec_to_json made, and after one pass (NaN becomes
 * null) JSON -> message -> JSON must be a fixed point.
 * Returns the decoded message (caller frees with
 * protobuf_c_message_free_unpacked) or NULL when it did not decode.
 */
ProtobufCMessage *fuzz_codec_roundtrip(const ProtobufCMessageDescriptor *d, const uint8_t *data,
                                       size_t size);

#endif
