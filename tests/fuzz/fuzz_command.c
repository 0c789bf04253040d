/*
 * fuzz_command.c - libFuzzer target: a Command as the agent receives it on
 * <node>.command.<method> (agent/commands.c): bosun_codec_decode, the JSON
 * rendering and its read-back, then the name checks the agent applies.
 */
#include "codec.h"
#include "fuzz_util.h"
#include "methods.h"
#include "name.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Bosun__Command *cmd =
        (Bosun__Command *)fuzz_codec_roundtrip(&bosun__command__descriptor, data, size);
    if (cmd == NULL)
        return 0;
    if (bosun_method_valid(cmd->method))
        (void)methods_find(cmd->method);
    (void)bosun_name_valid(cmd->node);
    (void)bosun_name_valid(cmd->sender);
    bosun__command__free_unpacked(cmd, NULL);
    return 0;
}
