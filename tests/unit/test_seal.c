/*
 * test_seal.c - agent/seal.c: sealed and clear round trips, wrong keys,
 * tampering at every bit, envelope field changes, mode mismatches,
 * truncation, size bounds, field validation, random input, and the
 * datagram size of a typical packet.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "seal.h"

#define MAX_TEST_BIDS 1100

/* Sealers shared by all tests: key derivation is deliberately slow. */
typedef struct {
    seal_t *keyed;   /* password "correct horse" */
    seal_t *keyed2;  /* the same password, derived independently */
    seal_t *other;   /* a different password */
    seal_t *clear;   /* no password */
} sealers_t;

static sealers_t g;

static int setup(void **state)
{
    (void)state;
    bosun_err_t err;
    if (seal_new("correct horse", &g.keyed, &err) != BOSUN_OK ||
        seal_new("correct horse", &g.keyed2, &err) != BOSUN_OK ||
        seal_new("battery staple", &g.other, &err) != BOSUN_OK || seal_new(NULL, &g.clear, &err) != BOSUN_OK)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    seal_free(g.keyed);
    seal_free(g.keyed2);
    seal_free(g.other);
    seal_free(g.clear);
    return 0;
}

/* A packet with up to MAX_TEST_BIDS bids, all storage inline. */
typedef struct {
    Bosun__ElectionPacket p;
    Bosun__Bid bid[MAX_TEST_BIDS];
    Bosun__Bid *bid_p[MAX_TEST_BIDS];
    char names[MAX_TEST_BIDS][16];
} pkt_t;

/* Fills *k with n bids named res00, res01, ... with non-default fields. */
static void pkt_init(pkt_t *k, size_t n)
{
    k->p = (Bosun__ElectionPacket)BOSUN__ELECTION_PACKET__INIT;
    k->p.sender = (char *)"node1";
    k->p.instance_id = 0x0123456789abcdefULL;
    k->p.sequence = 4242;
    k->p.send_time_ms = 1790000000123ULL;
    k->p.tx_interval_ms = 1000;
    for (size_t i = 0; i < n; i++) {
        k->bid[i] = (Bosun__Bid)BOSUN__BID__INIT;
        snprintf(k->names[i], sizeof k->names[i], "res%02u", (unsigned)(i % 10000));
        k->bid[i].resource = k->names[i];
        k->bid[i].state = (Bosun__ResourceState)(i % 4);
        k->bid[i].priority = (uint32_t)(i % 257);
        k->bid[i].token = 1500000 + i;
        k->bid[i].release = (i % 2) == 1;
        k->bid[i].preempt = (i % 3) == 1;
        k->bid_p[i] = &k->bid[i];
    }
    k->p.n_bids = n;
    k->p.bids = n > 0 ? k->bid_p : NULL;
}

static pkt_t *pkt_new(size_t n)
{
    pkt_t *k = malloc(sizeof *k);
    assert_non_null(k);
    pkt_init(k, n);
    return k;
}

static void assert_same_packet(const Bosun__ElectionPacket *a, const Bosun__ElectionPacket *b)
{
    assert_string_equal(a->sender, b->sender);
    assert_int_equal(a->instance_id, b->instance_id);
    assert_int_equal(a->sequence, b->sequence);
    assert_int_equal(a->send_time_ms, b->send_time_ms);
    assert_int_equal(a->tx_interval_ms, b->tx_interval_ms);
    assert_int_equal(a->n_bids, b->n_bids);
    for (size_t i = 0; i < a->n_bids; i++) {
        assert_string_equal(a->bids[i]->resource, b->bids[i]->resource);
        assert_int_equal(a->bids[i]->state, b->bids[i]->state);
        assert_int_equal(a->bids[i]->priority, b->bids[i]->priority);
        assert_int_equal(a->bids[i]->token, b->bids[i]->token);
        assert_int_equal(a->bids[i]->release, b->bids[i]->release);
        assert_int_equal(a->bids[i]->preempt, b->bids[i]->preempt);
    }
}

/* Seals with s; asserts success. */
static size_t seal_ok(const seal_t *s, const Bosun__ElectionPacket *p, uint8_t *buf)
{
    size_t len = 0;
    assert_int_equal(seal_packet(s, p, buf, SEAL_MAX_DATAGRAM, &len), BOSUN_OK);
    assert_true(len > 0 && len <= SEAL_MAX_DATAGRAM);
    return len;
}

/* Opens; asserts *out is set exactly on SEAL_OK, frees it, returns the verdict. */
static seal_verdict_t open_verdict(const seal_t *s, const uint8_t *buf, size_t len)
{
    Bosun__ElectionPacket *out = (Bosun__ElectionPacket *)&out; /* poison: must be reset */
    seal_verdict_t v = seal_open(s, buf, len, &out);
    if (v == SEAL_OK) {
        assert_non_null(out);
        bosun__election_packet__free_unpacked(out, NULL);
    } else {
        assert_null(out);
    }
    return v;
}

static void round_trip(const seal_t *tx, const seal_t *rx)
{
    pkt_t *k = pkt_new(5);
    uint8_t buf[SEAL_MAX_DATAGRAM];
    size_t len = seal_ok(tx, &k->p, buf);
    Bosun__ElectionPacket *out = NULL;
    assert_int_equal(seal_open(rx, buf, len, &out), SEAL_OK);
    assert_non_null(out);
    assert_same_packet(&k->p, out);
    bosun__election_packet__free_unpacked(out, NULL);
    free(k);
}

static void test_round_trip_sealed(void **state)
{
    (void)state;
    assert_true(seal_encrypted(g.keyed));
    round_trip(g.keyed, g.keyed);
}

static void test_round_trip_clear(void **state)
{
    (void)state;
    assert_false(seal_encrypted(g.clear));
    round_trip(g.clear, g.clear);

    /* "" is clear text too. */
    seal_t *s = NULL;
    assert_int_equal(seal_new("", &s, NULL), BOSUN_OK);
    assert_false(seal_encrypted(s));
    round_trip(s, g.clear);
    seal_free(s);
}

static void test_key_derivation_deterministic(void **state)
{
    (void)state;
    round_trip(g.keyed, g.keyed2);
    round_trip(g.keyed2, g.keyed);
}

static void test_wrong_password_auth(void **state)
{
    (void)state;
    pkt_t *k = pkt_new(2);
    uint8_t buf[SEAL_MAX_DATAGRAM];
    size_t len = seal_ok(g.keyed, &k->p, buf);
    assert_int_equal(open_verdict(g.other, buf, len), SEAL_DROP_AUTH);
    free(k);
}

static void test_bit_flips_never_ok(void **state)
{
    (void)state;
    pkt_t *k = pkt_new(3);
    uint8_t buf[SEAL_MAX_DATAGRAM], bad[SEAL_MAX_DATAGRAM];
    size_t len = seal_ok(g.keyed, &k->p, buf);
    int seen[SEAL_DROP_COUNT] = {0};
    for (size_t i = 0; i < len; i++) {
        for (int bit = 0; bit < 8; bit++) {
            memcpy(bad, buf, len);
            bad[i] ^= (uint8_t)(1u << bit);
            seal_verdict_t v = open_verdict(g.keyed, bad, len);
            /* MODE too: turning the ciphertext tag (field 4) into plaintext (field 5)
             * is one bit (0x22 ^ 0x08 = 0x2a) and reads as a clear packet. */
            if (v != SEAL_DROP_AUTH && v != SEAL_DROP_MALFORMED && v != SEAL_DROP_SIZE &&
                v != SEAL_DROP_MODE)
                fail_msg("flip of bit %d at byte %zu gave '%s'", bit, i, seal_verdict_str(v));
            seen[v]++;
        }
    }
    print_message("bit flips: auth %d, malformed %d, mode %d, size %d\n", seen[SEAL_DROP_AUTH],
                  seen[SEAL_DROP_MALFORMED], seen[SEAL_DROP_MODE], seen[SEAL_DROP_SIZE]);
    assert_true(seen[SEAL_DROP_AUTH] > 0);
    assert_true(seen[SEAL_DROP_MALFORMED] > 0);
    free(k);
}

/* Re-encodes the envelope of buf with fields changed by `change`; returns the new length. */
static size_t reencode(const uint8_t *buf, size_t len, uint8_t *out, int change)
{
    Bosun__SealedPacket *env = bosun__sealed_packet__unpack(NULL, len, buf);
    assert_non_null(env);
    if (change == 0)
        env->sequence++;
    else if (change == 1)
        env->instance_id ^= 1;
    else
        env->version = 1;
    size_t n = bosun__sealed_packet__get_packed_size(env);
    assert_true(n <= SEAL_MAX_DATAGRAM);
    bosun__sealed_packet__pack(env, out);
    bosun__sealed_packet__free_unpacked(env, NULL);
    return n;
}

static void test_changed_envelope_fields(void **state)
{
    (void)state;
    pkt_t *k = pkt_new(2);
    uint8_t buf[SEAL_MAX_DATAGRAM], alt[SEAL_MAX_DATAGRAM];
    size_t len = seal_ok(g.keyed, &k->p, buf);
    size_t n = reencode(buf, len, alt, 0);
    assert_int_equal(open_verdict(g.keyed, alt, n), SEAL_DROP_AUTH);
    n = reencode(buf, len, alt, 1);
    assert_int_equal(open_verdict(g.keyed, alt, n), SEAL_DROP_AUTH);
    /* A future version is not understood. */
    n = reencode(buf, len, alt, 2);
    assert_int_equal(open_verdict(g.keyed, alt, n), SEAL_DROP_MALFORMED);

    /* In clear there is nothing to authenticate: the envelope's values win. */
    len = seal_ok(g.clear, &k->p, buf);
    n = reencode(buf, len, alt, 0);
    Bosun__ElectionPacket *out = NULL;
    assert_int_equal(seal_open(g.clear, alt, n, &out), SEAL_OK);
    assert_int_equal(out->sequence, k->p.sequence + 1);
    bosun__election_packet__free_unpacked(out, NULL);
    free(k);
}

static void test_mode_mismatch(void **state)
{
    (void)state;
    pkt_t *k = pkt_new(1);
    uint8_t buf[SEAL_MAX_DATAGRAM];
    size_t len = seal_ok(g.clear, &k->p, buf);
    assert_int_equal(open_verdict(g.keyed, buf, len), SEAL_DROP_MODE);
    len = seal_ok(g.keyed, &k->p, buf);
    assert_int_equal(open_verdict(g.clear, buf, len), SEAL_DROP_MODE);

    /* An envelope holding both is malformed, whoever reads it. */
    Bosun__SealedPacket env = BOSUN__SEALED_PACKET__INIT;
    uint8_t blob[40] = {1};
    env.ciphertext = (ProtobufCBinaryData){sizeof blob, blob};
    env.plaintext = (ProtobufCBinaryData){sizeof blob, blob};
    len = bosun__sealed_packet__pack(&env, buf);
    assert_int_equal(open_verdict(g.keyed, buf, len), SEAL_DROP_MALFORMED);
    assert_int_equal(open_verdict(g.clear, buf, len), SEAL_DROP_MALFORMED);

    /* A ciphertext shorter than the tag. */
    env.plaintext = (ProtobufCBinaryData){0, NULL};
    env.ciphertext.len = 15;
    len = bosun__sealed_packet__pack(&env, buf);
    assert_int_equal(open_verdict(g.keyed, buf, len), SEAL_DROP_AUTH);
    free(k);
}

static void test_truncated_every_length(void **state)
{
    (void)state;
    pkt_t *k = pkt_new(4);
    const seal_t *both[] = {g.keyed, g.clear};
    uint8_t buf[SEAL_MAX_DATAGRAM];
    for (size_t s = 0; s < 2; s++) {
        size_t len = seal_ok(both[s], &k->p, buf);
        for (size_t n = 0; n < len; n++) {
            /* A copy of exactly n bytes, so ASan sees any read past the end. */
            uint8_t *t = malloc(n > 0 ? n : 1);
            assert_non_null(t);
            memcpy(t, buf, n);
            seal_verdict_t v = open_verdict(both[s], t, n);
            if (v == SEAL_OK)
                fail_msg("truncated to %zu of %zu bytes, still opened", n, len);
            if (n == 0)
                assert_int_equal(v, SEAL_DROP_SIZE);
            free(t);
        }
    }
    free(k);
}

static void test_size_bounds(void **state)
{
    (void)state;
    uint8_t big[SEAL_MAX_DATAGRAM + 1];
    memset(big, 0, sizeof big);
    assert_int_equal(open_verdict(g.keyed, big, 0), SEAL_DROP_SIZE);
    assert_int_equal(open_verdict(g.clear, big, 0), SEAL_DROP_SIZE);
    assert_int_equal(open_verdict(g.keyed, big, sizeof big), SEAL_DROP_SIZE);
    assert_int_equal(open_verdict(g.clear, big, sizeof big), SEAL_DROP_SIZE);

    /* Sealing into a buffer too small, and a packet too large for a datagram. */
    pkt_t *k = pkt_new(3);
    uint8_t buf[SEAL_MAX_DATAGRAM];
    size_t need = seal_ok(g.keyed, &k->p, buf), len = 99;
    assert_int_equal(seal_packet(g.keyed, &k->p, buf, need - 1, &len), BOSUN_ERR_TOO_BIG);
    assert_int_equal(len, 0);
    assert_int_equal(seal_packet(g.keyed, &k->p, buf, need, &len), BOSUN_OK);
    assert_int_equal(len, need);
    free(k);

    k = pkt_new(100); /* 100 bids of ~17 bytes */
    assert_int_equal(seal_packet(g.keyed, &k->p, buf, sizeof buf, &len), BOSUN_ERR_TOO_BIG);
    assert_int_equal(seal_packet(g.clear, &k->p, buf, sizeof buf, &len), BOSUN_ERR_TOO_BIG);
    free(k);
}

/* Seals k with both sealers and expects `want` from opening each. */
static void expect_verdict(pkt_t *k, seal_verdict_t want)
{
    uint8_t buf[SEAL_MAX_DATAGRAM];
    size_t len = seal_ok(g.keyed, &k->p, buf);
    assert_int_equal(open_verdict(g.keyed, buf, len), want);
    len = seal_ok(g.clear, &k->p, buf);
    assert_int_equal(open_verdict(g.clear, buf, len), want);
}

static void test_invalid_fields(void **state)
{
    (void)state;
    pkt_t *k = pkt_new(3);
    expect_verdict(k, SEAL_OK);

    k->p.sender = (char *)"a.b";
    expect_verdict(k, SEAL_DROP_INVALID);
    k->p.sender = (char *)"";
    expect_verdict(k, SEAL_DROP_INVALID);
    pkt_init(k, 3);

    k->bid[1].state = (Bosun__ResourceState)7;
    expect_verdict(k, SEAL_DROP_INVALID);
    k->bid[1].state = (Bosun__ResourceState)-1;
    expect_verdict(k, SEAL_DROP_INVALID);
    k->bid[1].state = BOSUN__RESOURCE_STATE__RESOURCE_STATE_ACTIVE;
    expect_verdict(k, SEAL_OK);

    k->bid[2].priority = 300;
    expect_verdict(k, SEAL_DROP_INVALID);
    k->bid[2].priority = 257;
    expect_verdict(k, SEAL_DROP_INVALID);
    k->bid[2].priority = 256;
    expect_verdict(k, SEAL_OK);

    k->bid[2].resource = (char *)"res00";
    expect_verdict(k, SEAL_DROP_INVALID);
    k->bid[2].resource = (char *)"res 2";
    expect_verdict(k, SEAL_DROP_INVALID);
    k->bid[2].resource = (char *)"";
    expect_verdict(k, SEAL_DROP_INVALID);
    pkt_init(k, 3);

    k->p.tx_interval_ms = 60001;
    expect_verdict(k, SEAL_DROP_INVALID);
    k->p.tx_interval_ms = 60000;
    expect_verdict(k, SEAL_OK);
    free(k);
}

static void test_bid_count_limit(void **state)
{
    (void)state;
    /* 1025 bids cannot fit a datagram, so the count limit is checked directly. */
    pkt_t *k = pkt_new(1025);
    assert_int_equal(seal_validate(&k->p), SEAL_DROP_INVALID);
    size_t len = 0;
    uint8_t buf[SEAL_MAX_DATAGRAM];
    assert_int_equal(seal_packet(g.keyed, &k->p, buf, sizeof buf, &len), BOSUN_ERR_TOO_BIG);
    pkt_init(k, 1024);
    for (size_t i = 0; i < 1024; i++)
        k->bid[i].priority = 1;
    assert_int_equal(seal_validate(&k->p), SEAL_OK);
    /* A duplicate far apart in a large set is found. */
    k->bid[1000].resource = k->names[3];
    assert_int_equal(seal_validate(&k->p), SEAL_DROP_INVALID);
    free(k);
}

static void test_ten_bids_fit(void **state)
{
    (void)state;
    pkt_t *k = pkt_new(10);
    for (size_t i = 0; i < 10; i++) {
        snprintf(k->names[i], sizeof k->names[i], "resrc%03zu", i);
        assert_int_equal(strlen(k->names[i]), 8);
        k->bid[i].token = 1999999;
        k->bid[i].priority = 255;
    }
    k->p.sequence = 1ULL << 40;
    uint8_t buf[SEAL_MAX_DATAGRAM];
    size_t len = seal_ok(g.keyed, &k->p, buf);
    print_message("10 bids of 8-character names: %zu bytes sealed\n", len);
    Bosun__ElectionPacket *out = NULL;
    assert_int_equal(seal_open(g.keyed, buf, len, &out), SEAL_OK);
    assert_same_packet(&k->p, out);
    bosun__election_packet__free_unpacked(out, NULL);
    free(k);
}

/* xorshift64*, fixed seed: the same bytes on every run. */
static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545F4914F6CDD1DULL;
}

static void test_random_bytes(void **state)
{
    (void)state;
    uint64_t rng = 0x9e3779b97f4a7c15ULL;
    uint8_t buf[SEAL_MAX_DATAGRAM + 8], inner[SEAL_MAX_DATAGRAM];
    int ok = 0;
    for (int i = 0; i < 4000; i++) {
        size_t len = (size_t)(rng_next(&rng) % (i < 2000 ? 64 : sizeof buf + 1));
        for (size_t j = 0; j < len; j++)
            buf[j] = (uint8_t)rng_next(&rng);
        uint8_t *t = malloc(len > 0 ? len : 1);
        assert_non_null(t);
        memcpy(t, buf, len);
        assert_true(open_verdict(g.keyed, t, len) != SEAL_OK);
        if (open_verdict(g.clear, t, len) == SEAL_OK)
            ok++;
        free(t);
    }

    /* Random inner packets in a well-formed clear envelope reach the inner
     * decoder and the validator. */
    for (int i = 0; i < 3000; i++) {
        size_t n = (size_t)(rng_next(&rng) % 200);
        for (size_t j = 0; j < n; j++)
            inner[j] = (uint8_t)rng_next(&rng);
        Bosun__SealedPacket env = BOSUN__SEALED_PACKET__INIT;
        env.sequence = i;
        env.plaintext = (ProtobufCBinaryData){n, inner};
        size_t len = bosun__sealed_packet__pack(&env, buf);
        if (open_verdict(g.clear, buf, len) == SEAL_OK)
            ok++;
    }
    print_message("random inputs that opened in clear: %d\n", ok);
}

static void test_typical_packet_size(void **state)
{
    (void)state;
    pkt_t *k = pkt_new(2);
    k->p.sender = (char *)"node1";
    k->p.instance_id = 0x8c3f5a0d11e2b6f7ULL; /* random per start: all 8 bytes used */
    k->p.sequence = 1000;
    k->p.send_time_ms = 1790000000000ULL;
    k->p.tx_interval_ms = 1000;
    for (size_t i = 0; i < 2; i++) {
        snprintf(k->names[i], sizeof k->names[i], "res%02zu", i + 1);
        k->bid[i].state = BOSUN__RESOURCE_STATE__RESOURCE_STATE_ACTIVE;
        k->bid[i].priority = 100;
        k->bid[i].token = 1500000;
        k->bid[i].release = false;
        k->bid[i].preempt = false;
    }
    uint8_t buf[SEAL_MAX_DATAGRAM];
    k->p.n_bids = 1;
    size_t sealed1 = seal_ok(g.keyed, &k->p, buf);
    size_t clear1 = seal_ok(g.clear, &k->p, buf);
    k->p.n_bids = 2;
    size_t sealed2 = seal_ok(g.keyed, &k->p, buf);
    size_t clear2 = seal_ok(g.clear, &k->p, buf);
    print_message("typical packet: sealed %zu bytes, clear %zu; +%zu per further bid\n", sealed1,
                  clear1, sealed2 - sealed1);
    /* Pinned so the numbers in seal.c's header comment stay true. */
    assert_int_equal(sealed1, 64);
    assert_int_equal(clear1, 48);
    assert_int_equal(sealed2 - sealed1, 17);
    assert_int_equal(clear2 - clear1, 17);
    free(k);
}

static void test_verdict_names(void **state)
{
    (void)state;
    assert_string_equal(seal_verdict_str(SEAL_OK), "ok");
    assert_string_equal(seal_verdict_str(SEAL_DROP_SIZE), "size");
    assert_string_equal(seal_verdict_str(SEAL_DROP_MALFORMED), "malformed");
    assert_string_equal(seal_verdict_str(SEAL_DROP_AUTH), "auth");
    assert_string_equal(seal_verdict_str(SEAL_DROP_MODE), "mode");
    assert_string_equal(seal_verdict_str(SEAL_DROP_INVALID), "invalid");
    seal_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_sealed),
        cmocka_unit_test(test_round_trip_clear),
        cmocka_unit_test(test_key_derivation_deterministic),
        cmocka_unit_test(test_wrong_password_auth),
        cmocka_unit_test(test_bit_flips_never_ok),
        cmocka_unit_test(test_changed_envelope_fields),
        cmocka_unit_test(test_mode_mismatch),
        cmocka_unit_test(test_truncated_every_length),
        cmocka_unit_test(test_size_bounds),
        cmocka_unit_test(test_invalid_fields),
        cmocka_unit_test(test_bid_count_limit),
        cmocka_unit_test(test_ten_bids_fit),
        cmocka_unit_test(test_random_bytes),
        cmocka_unit_test(test_typical_packet_size),
        cmocka_unit_test(test_verdict_names),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
