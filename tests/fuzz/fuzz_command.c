/*
 * fuzz_command.c - libFuzzer target: a Command as the agent receives it on
 * <node>.command.<method> (agent/commands.c): bosun_codec_decode, the JSON
 * rendering and its read-back, the name checks the agent applies, and the
 * signature check (lib/sign.c) an agent with a trusted key runs next.
 *
 * The input is verified as it came against one trusted key (made once from
 * a fixed seed); then it is signed with that key, which must verify, and
 * with its creation time moved by 1 ms, which must not.
 */
#include <sodium.h>
#include <string.h>

#include "codec.h"
#include "fuzz_util.h"
#include "methods.h"
#include "name.h"
#include "sign.h"

static sign_key_t key;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    uint8_t seed[crypto_sign_SEEDBYTES];
    char b64[SIGN_PK_B64_LEN];
    if (sodium_init() < 0)
        fuzz_fail("sodium_init");
    memset(seed, 0x5a, sizeof seed);
    crypto_sign_seed_keypair(key.pub.pk, key.sk, seed);
    sodium_bin2base64(b64, sizeof b64, key.pub.pk, sizeof key.pub.pk, sodium_base64_VARIANT_ORIGINAL);
    if (sign_pubkey_parse(b64, &key.pub, NULL) != BOSUN_OK)
        fuzz_fail("sign_pubkey_parse of a fresh key");
    return 0;
}

/* The agent's check (commands.c: authentic) with its default limits. */
static sign_verdict_t verify(const Bosun__Command *cmd, uint64_t now)
{
    return sign_verify_command(&key.pub, 1, cmd, now, 86400000u - 300000u, 300000u);
}

static void check_signature_path(Bosun__Command *cmd)
{
    /* As received: any verdict, but never a crash or a read out of bounds. */
    (void)sign_verdict_str(verify(cmd, cmd->created_ms));
    (void)verify(cmd, cmd->created_ms + 90000000u);
    (void)verify(cmd, 0);

    /* Signed by the trusted key now: accepted; one signed field changed: not.
     * sign_command points the two fields at sig, so restore the decoder's
     * own buffers before the message is freed. */
    ProtobufCBinaryData old_sig = cmd->signature, old_id = cmd->key_id;
    sign_sig_t sig;
    if (sign_command(&key, cmd, &sig) == BOSUN_OK) {
        sign_verdict_t v = verify(cmd, cmd->created_ms);
        if (v != SIGN_OK && v != SIGN_NOMEM)
            fuzz_fail("a command signed by the trusted key does not verify");
        cmd->created_ms++;
        v = verify(cmd, cmd->created_ms);
        if (v != SIGN_BAD && v != SIGN_NOMEM)
            fuzz_fail("a signed command with its creation time changed still verifies");
        cmd->created_ms--;
    }
    cmd->signature = old_sig;
    cmd->key_id = old_id;
}

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
    check_signature_path(cmd);
    bosun__command__free_unpacked(cmd, NULL);
    return 0;
}
