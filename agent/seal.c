/*
 * seal.c - the election packet's wire form: the SealedPacket envelope around
 * an ElectionPacket, sealed with XChaCha20-Poly1305 or sent in clear.
 *
 * The one file that wraps libsodium for the election. Sits between the
 * election core (which builds and judges ElectionPackets) and mcast.c (which
 * moves datagrams); it does no I/O.
 *
 * Sealed layout. The envelope carries instance_id and sequence in clear; the
 * inner ElectionPacket is packed with both left at 0, so they are not sent
 * twice. The 24-byte nonce is instance_id (8 bytes, little-endian) ||
 * sequence (8, little-endian) || 8 zero bytes, so no nonce travels; it is
 * unique as long as a sender never reuses (instance_id, sequence): the
 * instance id is random per process start and the sequence strictly
 * increases. The associated data is the same 16 bytes plus the version byte,
 * which binds the clear envelope fields to the ciphertext.
 *
 * Measured datagram sizes (test_seal.c, test_typical_packet_size), for the
 * packet {sender "node1", send_time_ms 1.79e12, tx_interval_ms 1000, one bid
 * {res01, ACTIVE, priority 100, token 1500000}} with sequence 1000:
 *   sealed 64 bytes, clear 48 bytes; each further such bid adds 17 bytes.
 * The sealed packet is the 34-byte inner packet plus 16 bytes of Poly1305
 * tag and 14 bytes of envelope (instance id 9, sequence 3, ciphertext
 * header 2); the clear one is the same without the tag. The sequence is a
 * varint: 1 byte less below 128, 1 more from 16384 (4.5 hours at 1 packet/s)
 * and 2 more from 2^21 (24 days).
 * The budget is 62 bytes for one resource at 1 packet/s and about 18 per
 * extra resource: the extra-resource cost fits, the one-resource packet is
 * 2 bytes over when sealed.
 */
#include "seal.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "name.h"

/*
 * Key derivation. The salt is fixed so that every node derives the same key
 * from the same password (there is no exchange in which a per-node salt could
 * travel). The key is derived once at start, so INTERACTIVE's time cost is
 * paid once; 8 MiB of memory (libsodium's INTERACTIVE is 64 MiB) keeps the
 * peak small on small agents while still making each password guess cost a
 * memory-hard Argon2id run.
 */
#define SEAL_SALT "bosun-election-1"
#define SEAL_MEMLIMIT ((size_t)8 * 1024 * 1024)
#define SEAL_KEY_BYTES crypto_aead_xchacha20poly1305_ietf_KEYBYTES
#define SEAL_NONCE_BYTES crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define SEAL_TAG_BYTES crypto_aead_xchacha20poly1305_ietf_ABYTES
#define SEAL_VERSION 0u
#define SEAL_AD_BYTES 17

_Static_assert(sizeof SEAL_SALT - 1 == crypto_pwhash_SALTBYTES, "salt is exactly 16 bytes");
_Static_assert(SEAL_KEY_BYTES == 32, "XChaCha20-Poly1305 key is 32 bytes");
_Static_assert(SEAL_NONCE_BYTES == 24, "XChaCha20 nonce is 24 bytes");

struct seal {
    unsigned char *key; /* SEAL_KEY_BYTES in sodium_malloc'd memory; NULL: clear text */
};

const char *seal_verdict_str(seal_verdict_t v)
{
    switch (v) {
    case SEAL_OK: return "ok";
    case SEAL_DROP_SIZE: return "size";
    case SEAL_DROP_MALFORMED: return "malformed";
    case SEAL_DROP_AUTH: return "auth";
    case SEAL_DROP_MODE: return "mode";
    case SEAL_DROP_INVALID: return "invalid";
    case SEAL_DROP_COUNT: break;
    }
    return "unknown";
}

bosun_status_t seal_new(const char *password, seal_t **out, bosun_err_t *err)
{
    *out = NULL;
    if (sodium_init() < 0)
        return bosun_errf(err, BOSUN_ERR_CRYPTO, "libsodium failed to initialise");
    seal_t *s = calloc(1, sizeof *s);
    if (s == NULL)
        return bosun_errf(err, BOSUN_ERR_NOMEM, "out of memory creating the packet sealer");
    if (password == NULL || password[0] == '\0') {
        *out = s;
        return BOSUN_OK;
    }
    s->key = sodium_malloc(SEAL_KEY_BYTES);
    if (s->key == NULL) {
        free(s);
        return bosun_errf(err, BOSUN_ERR_NOMEM, "out of memory for the election key");
    }
    unsigned char salt[crypto_pwhash_SALTBYTES];
    memcpy(salt, SEAL_SALT, sizeof salt);
    if (crypto_pwhash(s->key, SEAL_KEY_BYTES, password, strlen(password), salt,
                      crypto_pwhash_OPSLIMIT_INTERACTIVE, SEAL_MEMLIMIT,
                      crypto_pwhash_ALG_ARGON2ID13) != 0) {
        seal_free(s);
        return bosun_errf(err, BOSUN_ERR_CRYPTO,
                          "deriving the election key from cryptoPassword failed "
                          "(Argon2id needs %zu MiB of memory)",
                          SEAL_MEMLIMIT >> 20);
    }
    /* Best effort: a stray write to the key now faults. */
    (void)sodium_mprotect_readonly(s->key);
    *out = s;
    return BOSUN_OK;
}

void seal_free(seal_t *s)
{
    if (s == NULL)
        return;
    /* sodium_free makes the region writable again and zeroes it before release. */
    sodium_free(s->key);
    free(s);
}

bool seal_encrypted(const seal_t *s) { return s->key != NULL; }

static void put_le64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* Fills the nonce and the associated data for (instance_id, sequence). */
static void nonce_and_ad(uint64_t instance_id, uint64_t sequence, unsigned char nonce[SEAL_NONCE_BYTES],
                         unsigned char ad[SEAL_AD_BYTES])
{
    memset(nonce, 0, SEAL_NONCE_BYTES);
    put_le64(nonce, instance_id);
    put_le64(nonce + 8, sequence);
    memcpy(ad, nonce, 16);
    ad[16] = (unsigned char)SEAL_VERSION;
}

bosun_status_t seal_packet(const seal_t *s, const Bosun__ElectionPacket *p, uint8_t *buf, size_t cap,
                           size_t *len)
{
    *len = 0;
    Bosun__ElectionPacket inner = *p;
    inner.instance_id = 0;
    inner.sequence = 0;
    size_t inner_len = bosun__election_packet__get_packed_size(&inner);
    if (inner_len > SEAL_MAX_DATAGRAM)
        return BOSUN_ERR_TOO_BIG;

    uint8_t plain[SEAL_MAX_DATAGRAM];
    uint8_t sealed[SEAL_MAX_DATAGRAM + SEAL_TAG_BYTES];
    bosun__election_packet__pack(&inner, plain);

    Bosun__SealedPacket env = BOSUN__SEALED_PACKET__INIT;
    env.version = SEAL_VERSION;
    env.instance_id = p->instance_id;
    env.sequence = p->sequence;
    if (s->key != NULL) {
        unsigned char nonce[SEAL_NONCE_BYTES], ad[SEAL_AD_BYTES];
        nonce_and_ad(p->instance_id, p->sequence, nonce, ad);
        unsigned long long clen = 0;
        crypto_aead_xchacha20poly1305_ietf_encrypt(sealed, &clen, plain, inner_len, ad, sizeof ad, NULL,
                                                   nonce, s->key);
        env.ciphertext.data = sealed;
        env.ciphertext.len = (size_t)clen;
    } else {
        env.plaintext.data = plain;
        env.plaintext.len = inner_len;
    }
    size_t need = bosun__sealed_packet__get_packed_size(&env);
    bosun_status_t st = BOSUN_ERR_TOO_BIG;
    if (need <= cap && need <= SEAL_MAX_DATAGRAM) {
        *len = bosun__sealed_packet__pack(&env, buf);
        st = BOSUN_OK;
    }
    sodium_memzero(plain, inner_len);
    return st;
}

static int cmp_str_ptr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

seal_verdict_t seal_validate(const Bosun__ElectionPacket *p)
{
    if (!bosun_name_valid(p->sender))
        return SEAL_DROP_INVALID;
    if (p->n_bids > SEAL_MAX_BIDS || p->tx_interval_ms > SEAL_MAX_TX_INTERVAL_MS)
        return SEAL_DROP_INVALID;
    const char *names[SEAL_MAX_BIDS];
    for (size_t i = 0; i < p->n_bids; i++) {
        const Bosun__Bid *b = p->bids[i];
        /* The state is read as an int: a decoded enum may hold any value. */
        int state = (int)b->state;
        if (!bosun_name_valid(b->resource) || state < BOSUN__RESOURCE_STATE__RESOURCE_STATE_NONE ||
            state > BOSUN__RESOURCE_STATE__RESOURCE_STATE_ACTIVE || b->priority > SEAL_MAX_PRIORITY)
            return SEAL_DROP_INVALID;
        names[i] = b->resource;
    }
    if (p->n_bids > 1) {
        qsort(names, p->n_bids, sizeof names[0], cmp_str_ptr);
        for (size_t i = 1; i < p->n_bids; i++)
            if (strcmp(names[i - 1], names[i]) == 0)
                return SEAL_DROP_INVALID;
    }
    return SEAL_OK;
}

/* The inner ElectionPacket, or NULL when it does not decode. */
static Bosun__ElectionPacket *decode_inner(const uint8_t *buf, size_t len)
{
    bosun_err_t err;
    ProtobufCMessage *m = NULL;
    if (bosun_codec_decode(&bosun__election_packet__descriptor, buf, len, SEAL_MAX_DATAGRAM, &m, &err) !=
        BOSUN_OK)
        return NULL;
    return (Bosun__ElectionPacket *)m;
}

seal_verdict_t seal_open(const seal_t *s, const uint8_t *buf, size_t len, Bosun__ElectionPacket **out)
{
    *out = NULL;
    if (len == 0 || len > SEAL_MAX_DATAGRAM)
        return SEAL_DROP_SIZE;

    /* Through bosun_codec_decode, which also refuses what protobuf-c would
     * not decode again once packed (see lib/codec.c). */
    bosun_err_t err;
    ProtobufCMessage *m = NULL;
    if (bosun_codec_decode(&bosun__sealed_packet__descriptor, buf, len, SEAL_MAX_DATAGRAM, &m, &err) !=
        BOSUN_OK)
        return SEAL_DROP_MALFORMED;
    Bosun__SealedPacket *env = (Bosun__SealedPacket *)m;

    seal_verdict_t v = SEAL_OK;
    Bosun__ElectionPacket *p = NULL;
    uint8_t plain[SEAL_MAX_DATAGRAM];
    size_t plain_len = 0;
    bool has_ct = env->ciphertext.len > 0, has_pt = env->plaintext.len > 0;

    if (env->version != SEAL_VERSION || (has_ct && has_pt)) {
        v = SEAL_DROP_MALFORMED;
        goto done;
    }
    if (has_ct != (s->key != NULL)) {
        v = SEAL_DROP_MODE;
        goto done;
    }
    if (s->key != NULL) {
        /* The envelope fits in len <= SEAL_MAX_DATAGRAM, so the plaintext fits in plain. */
        if (env->ciphertext.len < SEAL_TAG_BYTES) {
            v = SEAL_DROP_AUTH;
            goto done;
        }
        unsigned char nonce[SEAL_NONCE_BYTES], ad[SEAL_AD_BYTES];
        nonce_and_ad(env->instance_id, env->sequence, nonce, ad);
        unsigned long long mlen = 0;
        if (crypto_aead_xchacha20poly1305_ietf_decrypt(plain, &mlen, NULL, env->ciphertext.data,
                                                       env->ciphertext.len, ad, sizeof ad, nonce,
                                                       s->key) != 0) {
            v = SEAL_DROP_AUTH;
            goto done;
        }
        plain_len = (size_t)mlen;
        p = decode_inner(plain, plain_len);
    } else {
        p = decode_inner(env->plaintext.data, env->plaintext.len);
    }
    if (p == NULL) {
        v = SEAL_DROP_MALFORMED;
        goto done;
    }
    p->instance_id = env->instance_id;
    p->sequence = env->sequence;
    v = seal_validate(p);

done:
    if (plain_len > 0)
        sodium_memzero(plain, plain_len);
    bosun__sealed_packet__free_unpacked(env, NULL);
    if (v == SEAL_OK) {
        *out = p;
    } else if (p != NULL) {
        bosun__election_packet__free_unpacked(p, NULL);
    }
    return v;
}
