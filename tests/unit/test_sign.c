/*
 * test_sign.c - lib/sign.c: sign and verify round trip, every signed field
 * tampered, unsigned and unknown-key commands, expiry, age and clock-skew
 * bounds, key files (permissions, no overwrite, atomic replacement) and the
 * cost of signing and verifying (printed, never asserted).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "sign.h"

#define NOW 1700000000000ull
#define DAY 86400000ull
#define SKEW 300000ull

static sign_key_t *key, *other;
static char *dir;

static int setup(void **state)
{
    (void)state;
    if (sodium_init() < 0)
        return -1;
    dir = harness_tmpdir("sign");
    if (dir == NULL)
        return -1;
    char sk[600], pk[600];
    snprintf(sk, sizeof sk, "%s/a.key", dir);
    snprintf(pk, sizeof pk, "%s/a.pub", dir);
    if (sign_keygen(sk, pk, false, &key, NULL) != BOSUN_OK)
        return -1;
    snprintf(sk, sizeof sk, "%s/b.key", dir);
    snprintf(pk, sizeof pk, "%s/b.pub", dir);
    return sign_keygen(sk, pk, false, &other, NULL) == BOSUN_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    sign_key_free(key);
    sign_key_free(other);
    harness_rmtree(dir);
    free(dir);
    return 0;
}

static char *data[] = {"bash", "-c", "echo x >> MARKER"};

static Bosun__Command sample(void)
{
    Bosun__Command c = BOSUN__COMMAND__INIT;
    c.id = "m0001700000000000-0000000001";
    c.node = "ship1";
    c.method = "shellCommand";
    c.data = data;
    c.n_data = 3;
    c.kind = BOSUN__MESSAGE_KIND__MESSAGE_KIND_COMMAND;
    c.created_ms = NOW - 1000;
    c.ttl_ms = 60000;
    c.method_timeout_ms = 5000;
    c.sender = "central";
    c.attempt = 1;
    return c;
}

static sign_verdict_t verify(const Bosun__Command *c)
{
    return sign_verify_command(&key->pub, 1, c, NOW, DAY, SKEW);
}

/* Packs and unpacks c, as the wire does. */
static Bosun__Command *wire(const Bosun__Command *c)
{
    uint8_t buf[4096];
    size_t n = bosun__command__pack(c, buf);
    return bosun__command__unpack(NULL, n, buf);
}

static void test_round_trip_through_the_wire(void **state)
{
    (void)state;
    Bosun__Command c = sample();
    sign_sig_t sig;
    assert_int_equal(sign_command(key, &c, &sig), BOSUN_OK);
    assert_int_equal(c.signature.len, SIGN_SIG_LEN);
    assert_int_equal(c.key_id.len, SIGN_KEY_ID_LEN);
    assert_memory_equal(c.key_id.data, key->pub.key_id, SIGN_KEY_ID_LEN);
    Bosun__Command *w = wire(&c);
    assert_non_null(w);
    assert_int_equal(verify(w), SIGN_OK);
    /* Unsigned fields may change (a retry carries a new attempt number). */
    w->attempt = 7;
    char *sender = w->sender;
    w->sender = "someone";
    assert_int_equal(verify(w), SIGN_OK);
    w->sender = sender;
    /* With several trusted keys, the key id picks the right one. */
    sign_pubkey_t both[2] = {other->pub, key->pub};
    assert_int_equal(sign_verify_command(both, 2, w, NOW, DAY, SKEW), SIGN_OK);
    bosun__command__free_unpacked(w, NULL);
}

static void test_every_signed_field_tampered_fails(void **state)
{
    (void)state;
    char *data2[] = {"bash", "-c", "echo y >> MARKER"};
    char *data_more[] = {"bash", "-c", "echo x >> MARKER", "extra"};
    char *data_split[] = {"bash", "-c", "echo x >>", " MARKER"};
    for (int field = 0; field < 11; field++) {
        Bosun__Command c = sample();
        sign_sig_t sig;
        assert_int_equal(sign_command(key, &c, &sig), BOSUN_OK);
        switch (field) {
        case 0: c.id = "m0001700000000000-0000000002"; break;
        case 1: c.node = "ship2"; break;
        case 2: c.method = "textLogging"; break;
        case 3: c.kind = BOSUN__MESSAGE_KIND__MESSAGE_KIND_EVENT; break;
        case 4: c.data = data2; break;
        case 5: c.data = data_more; c.n_data = 4; break;
        case 6: c.n_data = 2; break;
        case 7: c.data = data_split; c.n_data = 4; break;
        case 8: c.created_ms += 1; break;
        case 9: c.ttl_ms = 0; break;
        case 10: c.method_timeout_ms = 0; break;
        }
        assert_int_equal(verify(&c), SIGN_BAD);
    }
    /* A flipped bit anywhere in the signature. */
    for (size_t bit = 0; bit < SIGN_SIG_LEN * 8; bit += 37) {
        Bosun__Command c = sample();
        sign_sig_t sig;
        assert_int_equal(sign_command(key, &c, &sig), BOSUN_OK);
        sig.sig[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        assert_int_equal(verify(&c), SIGN_BAD);
    }
    /* A truncated signature. */
    Bosun__Command c = sample();
    sign_sig_t sig;
    assert_int_equal(sign_command(key, &c, &sig), BOSUN_OK);
    c.signature.len = 63;
    assert_int_equal(verify(&c), SIGN_BAD);
}

static void test_unsigned_unknown_and_wrong_key(void **state)
{
    (void)state;
    Bosun__Command c = sample();
    assert_int_equal(verify(&c), SIGN_UNSIGNED);
    assert_string_equal(sign_verdict_str(SIGN_UNSIGNED), "unsigned");

    sign_sig_t sig;
    assert_int_equal(sign_command(other, &c, &sig), BOSUN_OK);
    assert_int_equal(verify(&c), SIGN_UNKNOWN_KEY);
    assert_string_equal(sign_verdict_str(SIGN_UNKNOWN_KEY), "signed by an unknown key");

    /* Signed by another key but claiming ours: the signature fails. */
    memcpy(sig.key_id, key->pub.key_id, SIGN_KEY_ID_LEN);
    assert_int_equal(verify(&c), SIGN_BAD);
    assert_string_equal(sign_verdict_str(SIGN_BAD), "bad signature (tampered or wrong key)");

    /* No key id at all. */
    c.key_id.len = 0;
    assert_int_equal(verify(&c), SIGN_UNKNOWN_KEY);
    /* No trusted keys. */
    assert_int_equal(sign_verify_command(NULL, 0, &c, NOW, DAY, SKEW), SIGN_UNKNOWN_KEY);
}

static void test_expired_too_old_and_future(void **state)
{
    (void)state;
    sign_sig_t sig;
    Bosun__Command c = sample();
    c.created_ms = NOW - 60001; /* ttl 60000 */
    assert_int_equal(sign_command(key, &c, &sig), BOSUN_OK);
    assert_int_equal(verify(&c), SIGN_EXPIRED);
    assert_string_equal(sign_verdict_str(SIGN_EXPIRED), "expired");

    c = sample();
    c.ttl_ms = 0; /* never expires, but the ledger forgets */
    c.created_ms = NOW - DAY - 1;
    assert_int_equal(sign_command(key, &c, &sig), BOSUN_OK);
    assert_int_equal(verify(&c), SIGN_TOO_OLD);
    assert_string_equal(sign_verdict_str(SIGN_TOO_OLD), "too old to be checked against replays");
    c.created_ms = NOW - DAY;
    assert_int_equal(sign_command(key, &c, &sig), BOSUN_OK);
    assert_int_equal(verify(&c), SIGN_OK);

    c.created_ms = NOW + SKEW;
    assert_int_equal(sign_command(key, &c, &sig), BOSUN_OK);
    assert_int_equal(verify(&c), SIGN_OK);
    c.created_ms = NOW + SKEW + 1;
    assert_int_equal(sign_command(key, &c, &sig), BOSUN_OK);
    assert_int_equal(verify(&c), SIGN_FUTURE);
    /* Times near the top of the range do not wrap around. */
    c.created_ms = UINT64_MAX - 10;
    c.ttl_ms = 100;
    assert_int_equal(sign_command(key, &c, &sig), BOSUN_OK);
    assert_int_equal(verify(&c), SIGN_FUTURE);
}

static void test_canonical_form_is_fixed(void **state)
{
    (void)state;
    Bosun__Command c = BOSUN__COMMAND__INIT;
    char *d[] = {"x"};
    c.id = "i";
    c.node = "n";
    c.method = "m";
    c.data = d;
    c.n_data = 1;
    c.kind = BOSUN__MESSAGE_KIND__MESSAGE_KIND_EVENT;
    c.created_ms = 0x0102030405060708ull;
    c.ttl_ms = 9;
    c.method_timeout_ms = 10;
    uint8_t *buf;
    size_t len;
    assert_int_equal(sign_canonical(&c, &buf, &len), BOSUN_OK);
    static const uint8_t want[] = {
        'b', 'o', 's', 'u', 'n', '-', 'c', 'o', 'm', 'm', 'a', 'n', 'd', '-', 'v', '1',
        0, 0, 0, 1, 'i', 0, 0, 0, 1, 'n', 0, 0, 0, 1, 'm', 1, 0, 0, 0, 1, 0, 0, 0, 1, 'x',
        1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 10,
    };
    assert_int_equal(len, sizeof want);
    assert_memory_equal(buf, want, sizeof want);
    free(buf);
}

static void test_key_files(void **state)
{
    (void)state;
    char sk[600], pk[600];
    snprintf(sk, sizeof sk, "%s/k.key", dir);
    snprintf(pk, sizeof pk, "%s/k.pub", dir);
    sign_key_t *k = NULL, *loaded = NULL;
    bosun_err_t err = {0};
    assert_int_equal(sign_keygen(sk, pk, false, &k, &err), BOSUN_OK);
    struct stat st;
    assert_int_equal(stat(sk, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);

    /* Load gives the same key; the public file parses to the same key. */
    assert_int_equal(sign_key_load(sk, &loaded, &err), BOSUN_OK);
    assert_memory_equal(loaded->sk, k->sk, SIGN_SK_LEN);
    assert_memory_equal(loaded->pub.key_id, k->pub.key_id, SIGN_KEY_ID_LEN);
    sign_pubkey_t pub;
    assert_int_equal(sign_pubkey_load(pk, &pub, &err), BOSUN_OK);
    assert_memory_equal(pub.pk, k->pub.pk, SIGN_PK_LEN);
    char text[SIGN_PK_B64_LEN];
    sign_pubkey_b64(&k->pub, text);
    assert_int_equal(strlen(text), 44);
    assert_int_equal(sign_pubkey_parse(text, &pub, &err), BOSUN_OK);
    assert_int_not_equal(sign_pubkey_parse("not base64!", &pub, &err), BOSUN_OK);
    assert_int_not_equal(sign_pubkey_parse("AAAA", &pub, &err), BOSUN_OK);
    sign_key_free(loaded);
    loaded = NULL;

    /* keygen never replaces a key without force. */
    sign_key_t *k2 = NULL;
    assert_int_equal(sign_keygen(sk, pk, false, &k2, &err), BOSUN_ERR_EXISTS);
    assert_non_null(strstr(err.msg, "--force"));
    assert_null(k2);
    assert_int_equal(sign_key_load(sk, &loaded, &err), BOSUN_OK);
    assert_memory_equal(loaded->sk, k->sk, SIGN_SK_LEN);
    sign_key_free(loaded);
    loaded = NULL;
    /* With force it does, and leaves no temporary file behind. */
    assert_int_equal(sign_keygen(sk, pk, true, &k2, &err), BOSUN_OK);
    assert_memory_not_equal(k2->sk, k->sk, SIGN_SK_LEN);
    assert_int_equal(stat(sk, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    char *out = NULL;
    int code = -1;
    char cmd[700];
    snprintf(cmd, sizeof cmd, "ls %s | grep -c tmp || true", dir);
    char *argv[] = {"/bin/sh", "-c", cmd, NULL};
    assert_int_equal(harness_run(argv, 5000, &out, &code), 0);
    assert_string_equal(out, "0\n");
    free(out);

    /* A private key that group or others may read is refused. */
    assert_int_equal(chmod(sk, 0640), 0);
    err = (bosun_err_t){0};
    assert_int_equal(sign_key_load(sk, &loaded, &err), BOSUN_ERR_CONFIG);
    assert_non_null(strstr(err.msg, "chmod 600"));
    assert_non_null(strstr(err.msg, "0640"));
    assert_int_equal(chmod(sk, 0604), 0);
    assert_int_equal(sign_key_load(sk, &loaded, &err), BOSUN_ERR_CONFIG);
    assert_int_equal(chmod(sk, 0600), 0);
    assert_int_equal(sign_key_load(sk, &loaded, &err), BOSUN_OK);
    sign_key_free(loaded);
    loaded = NULL;

    /* Garbage and missing files. */
    char bad[600];
    snprintf(bad, sizeof bad, "%s/bad.key", dir);
    assert_int_equal(harness_write_file(bad, "hello\n"), 0);
    assert_int_equal(chmod(bad, 0600), 0);
    assert_int_equal(sign_key_load(bad, &loaded, &err), BOSUN_ERR_INVALID);
    snprintf(bad, sizeof bad, "%s/missing.key", dir);
    assert_int_equal(sign_key_load(bad, &loaded, &err), BOSUN_ERR_NOT_FOUND);

    /* sign_key_open: creates on first use, then loads the same key. */
    char pk2[600];
    snprintf(pk2, sizeof pk2, "%s/missing.pub", dir);
    bool created = false;
    assert_int_equal(sign_key_open(bad, pk2, &loaded, &created, &err), BOSUN_OK);
    assert_true(created);
    sign_key_t *again = NULL;
    assert_int_equal(unlink(pk2), 0);
    assert_int_equal(sign_key_open(bad, pk2, &again, &created, &err), BOSUN_OK);
    assert_false(created);
    assert_memory_equal(again->sk, loaded->sk, SIGN_SK_LEN);
    assert_int_equal(sign_pubkey_load(pk2, &pub, &err), BOSUN_OK); /* written again */
    sign_key_free(again);
    sign_key_free(loaded);

    char *p = sign_pub_path("/x/central.key");
    assert_string_equal(p, "/x/central.pub");
    free(p);
    p = sign_pub_path("/x/mykey");
    assert_string_equal(p, "/x/mykey.pub");
    free(p);
    sign_key_free(k);
    sign_key_free(k2);
}

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* Prints the cost per command; a figure for docs/BENCHMARKS.md, not a check. */
static void test_cost_of_sign_and_verify(void **state)
{
    (void)state;
    enum { N = 10000 };
    Bosun__Command c = sample();
    sign_sig_t sig;
    double t0 = now_us();
    for (int i = 0; i < N; i++)
        assert_int_equal(sign_command(key, &c, &sig), BOSUN_OK);
    double t1 = now_us();
    for (int i = 0; i < N; i++)
        assert_int_equal(verify(&c), SIGN_OK);
    double t2 = now_us();
    printf("sign: %.1f us per command, verify: %.1f us per command (%d each, shellCommand with 3 args)\n",
           (t1 - t0) / N, (t2 - t1) / N, N);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_through_the_wire),
        cmocka_unit_test(test_every_signed_field_tampered_fails),
        cmocka_unit_test(test_unsigned_unknown_and_wrong_key),
        cmocka_unit_test(test_expired_too_old_and_future),
        cmocka_unit_test(test_canonical_form_is_fixed),
        cmocka_unit_test(test_key_files),
        cmocka_unit_test(test_cost_of_sign_and_verify),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
