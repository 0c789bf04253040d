/*
 * fuzz_election_sealed.c - libFuzzer target: an election datagram as it comes
 * off the multicast socket, opened by seal_open (agent/seal.c) both with a
 * fixed password and without one. A packet that opens must seal again and
 * open to the same packet.
 */
#include <string.h>

#include "fuzz_util.h"
#include "seal.h"

/* The seed generator (gen_corpus.c) seals with the same password. */
#define FUZZ_SEAL_PASSWORD "bosun fuzz password"

static seal_t *keyed, *clear;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    bosun_err_t err;
    /* Argon2id takes a moment: derive the key once, not per input. */
    if (seal_new(FUZZ_SEAL_PASSWORD, &keyed, &err) != BOSUN_OK || seal_new(NULL, &clear, &err) != BOSUN_OK)
        fuzz_fail("seal_new");
    return 0;
}

static void open_one(const seal_t *s, const uint8_t *data, size_t size)
{
    Bosun__ElectionPacket *p = NULL;
    seal_verdict_t v = seal_open(s, data, size, &p);
    if (v != SEAL_OK) {
        if (p != NULL)
            fuzz_fail("seal_open dropped a packet but returned it");
        return;
    }
    if (p == NULL || seal_validate(p) != SEAL_OK)
        fuzz_fail("seal_open accepted a packet seal_validate rejects");
    uint8_t buf[SEAL_MAX_DATAGRAM];
    size_t len = 0;
    if (seal_packet(s, p, buf, sizeof buf, &len) == BOSUN_OK) {
        Bosun__ElectionPacket *q = NULL;
        if (seal_open(s, buf, len, &q) != SEAL_OK)
            fuzz_fail("a packet seal_open accepted does not open after sealing it again");
        uint8_t a[2 * SEAL_MAX_DATAGRAM], b[2 * SEAL_MAX_DATAGRAM];
        size_t la = bosun__election_packet__get_packed_size(p);
        size_t lb = bosun__election_packet__get_packed_size(q);
        if (la != lb || la > sizeof a || lb > sizeof b || bosun__election_packet__pack(p, a) != la ||
            bosun__election_packet__pack(q, b) != lb || memcmp(a, b, la) != 0)
            fuzz_fail("seal, open does not give back the same packet");
        bosun__election_packet__free_unpacked(q, NULL);
    }
    bosun__election_packet__free_unpacked(p, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    open_one(keyed, data, size);
    open_one(clear, data, size);
    return 0;
}
