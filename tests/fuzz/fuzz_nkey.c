/*
 * fuzz_nkey.c - libFuzzer target: an nkey seed file or .creds file as
 * nats.nkeySeedFile / nats.credsFile name it (lib/natsconn.c:
 * bosun_nats_nkey_public, reading the file line by line), and the nkey
 * text decoders under it (lib/nkey.c).
 *
 * Invariants: a seed that decodes encodes back to text that decodes to the
 * same type and bytes; its public key decodes, with the same type, to the
 * Ed25519 key of the seed; what the file reader accepts is such a key.
 */
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz_util.h"
#include "natsconn.h"
#include "nkey.h"

static int memfd = -1;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (sodium_init() < 0)
        fuzz_fail("sodium_init");
    memfd = memfd_create("fuzz_nkey", MFD_CLOEXEC);
    if (memfd < 0)
        fuzz_fail("memfd_create");
    return 0;
}

static void check_text(const char *text, size_t len)
{
    nkey_type_t t, t2;
    uint8_t seed[NKEY_RAW_LEN], seed2[NKEY_RAW_LEN], pk[NKEY_RAW_LEN];
    char again[NKEY_SEED_LEN + 1], pub[NKEY_PUBLIC_LEN + 1];
    if (nkey_decode_public(text, len, &t, pk) && !nkey_type_valid(t))
        fuzz_fail("nkey_decode_public accepted an unknown type");
    if (!nkey_decode_seed(text, len, &t, seed)) {
        if (nkey_public_from_seed(text, len, pub))
            fuzz_fail("nkey_public_from_seed accepted what nkey_decode_seed refused");
        return;
    }
    nkey_encode_seed(t, seed, again);
    if (!nkey_decode_seed(again, strlen(again), &t2, seed2) || t2 != t ||
        memcmp(seed, seed2, sizeof seed) != 0)
        fuzz_fail("a seed does not survive encode and decode");
    if (!nkey_public_from_seed(text, len, pub))
        fuzz_fail("a valid seed has no public key");
    uint8_t want[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
    crypto_sign_seed_keypair(want, sk, seed);
    if (!nkey_decode_public(pub, strlen(pub), &t2, pk) || t2 != t || memcmp(pk, want, sizeof pk) != 0)
        fuzz_fail("the public key of a seed does not decode to its Ed25519 key");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_text((const char *)data, size);

    /* The file reader, on the input as a file's content. */
    if (ftruncate(memfd, 0) != 0 || pwrite(memfd, data, size, 0) != (ssize_t)size)
        fuzz_fail("memfd write");
    char path[64], pub[NKEY_PUBLIC_LEN + 1];
    snprintf(path, sizeof path, "/proc/self/fd/%d", memfd);
    bosun_err_t err;
    if (bosun_nats_nkey_public(path, pub, sizeof pub, &err) == BOSUN_OK) {
        nkey_type_t t;
        uint8_t pk[NKEY_RAW_LEN];
        if (strlen(pub) != NKEY_PUBLIC_LEN || !nkey_decode_public(pub, strlen(pub), &t, pk))
            fuzz_fail("bosun_nats_nkey_public returned an invalid public key");
    }
    return 0;
}
