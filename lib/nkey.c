/* nkey.c - text form of NATS nkeys: base32, CRC16 and type bytes (see nkey.h). */
#include "nkey.h"

#include <sodium.h>
#include <string.h>

#define PREFIX_SEED (18 << 3)
#define PUBLIC_RAW (1 + NKEY_RAW_LEN + 2)
#define SEED_RAW (2 + NKEY_RAW_LEN + 2)

static const char b32_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/* CRC-16/XMODEM (polynomial 0x1021, initial 0), as nkeys use it. */
static uint16_t crc16(const uint8_t *p, size_t len)
{
    uint16_t crc = 0;
    for (size_t i = 0; i < len; i++) {
        crc ^= (uint16_t)(p[i] << 8);
        for (int b = 0; b < 8; b++)
            crc = (crc & 0x8000) ? (uint16_t)((crc << 1) ^ 0x1021) : (uint16_t)(crc << 1);
    }
    return crc;
}

static int b32_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= '2' && c <= '7')
        return c - '2' + 26;
    return -1;
}

/* Decodes unpadded base32 text of length len into out; returns bytes or -1. */
static int b32_decode(const char *text, size_t len, uint8_t *out, size_t cap)
{
    uint32_t acc = 0;
    int bits = 0;
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        int v = b32_value(text[i]);
        if (v < 0)
            return -1;
        acc = (acc << 5) | (uint32_t)v;
        bits += 5;
        if (bits >= 8) {
            if (n == cap)
                return -1;
            bits -= 8;
            out[n++] = (uint8_t)(acc >> bits);
        }
    }
    return (int)n;
}

/* Encodes len bytes as unpadded base32 into out (NUL-terminated). */
static void b32_encode(const uint8_t *in, size_t len, char *out)
{
    uint32_t acc = 0;
    int bits = 0;
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        acc = (acc << 8) | in[i];
        bits += 8;
        while (bits >= 5) {
            bits -= 5;
            out[n++] = b32_alphabet[(acc >> bits) & 31];
        }
    }
    if (bits > 0)
        out[n++] = b32_alphabet[(acc << (5 - bits)) & 31];
    out[n] = '\0';
}

/* Appends the little-endian CRC of raw[0..len) at raw[len]. */
static void put_crc(uint8_t *raw, size_t len)
{
    uint16_t crc = crc16(raw, len);
    raw[len] = (uint8_t)(crc & 0xFF);
    raw[len + 1] = (uint8_t)(crc >> 8);
}

static bool crc_ok(const uint8_t *raw, size_t len)
{
    return crc16(raw, len - 2) == (uint16_t)(raw[len - 2] | (raw[len - 1] << 8));
}

bool nkey_type_valid(unsigned type)
{
    return type == NKEY_ACCOUNT || type == NKEY_CLUSTER || type == NKEY_SERVER ||
           type == NKEY_OPERATOR || type == NKEY_USER;
}

void nkey_encode_public(nkey_type_t t, const uint8_t pk[NKEY_RAW_LEN], char out[NKEY_PUBLIC_LEN + 1])
{
    uint8_t raw[PUBLIC_RAW];
    raw[0] = (uint8_t)t;
    memcpy(raw + 1, pk, NKEY_RAW_LEN);
    put_crc(raw, 1 + NKEY_RAW_LEN);
    b32_encode(raw, sizeof raw, out);
}

void nkey_encode_seed(nkey_type_t t, const uint8_t seed[NKEY_RAW_LEN], char out[NKEY_SEED_LEN + 1])
{
    uint8_t raw[SEED_RAW];
    /* The type's 8 bits straddle two bytes so both leading letters print. */
    raw[0] = (uint8_t)(PREFIX_SEED | ((unsigned)t >> 5));
    raw[1] = (uint8_t)(((unsigned)t & 31) << 3);
    memcpy(raw + 2, seed, NKEY_RAW_LEN);
    put_crc(raw, 2 + NKEY_RAW_LEN);
    b32_encode(raw, sizeof raw, out);
    sodium_memzero(raw, sizeof raw);
}

bool nkey_decode_seed(const char *text, size_t len, nkey_type_t *type, uint8_t seed[NKEY_RAW_LEN])
{
    uint8_t raw[SEED_RAW + 1];
    bool ok = false;
    if (len != NKEY_SEED_LEN || b32_decode(text, len, raw, sizeof raw) != SEED_RAW)
        goto done;
    if (!crc_ok(raw, SEED_RAW) || (raw[0] & 0xF8) != PREFIX_SEED)
        goto done;
    unsigned t = ((unsigned)(raw[0] & 7) << 5) | (unsigned)(raw[1] >> 3);
    if (!nkey_type_valid(t))
        goto done;
    *type = (nkey_type_t)t;
    memcpy(seed, raw + 2, NKEY_RAW_LEN);
    ok = true;
done:
    sodium_memzero(raw, sizeof raw);
    return ok;
}

bool nkey_decode_public(const char *text, size_t len, nkey_type_t *type, uint8_t pk[NKEY_RAW_LEN])
{
    uint8_t raw[PUBLIC_RAW + 1];
    if (len != NKEY_PUBLIC_LEN || b32_decode(text, len, raw, sizeof raw) != PUBLIC_RAW)
        return false;
    if (!crc_ok(raw, PUBLIC_RAW) || !nkey_type_valid(raw[0]))
        return false;
    *type = (nkey_type_t)raw[0];
    memcpy(pk, raw + 1, NKEY_RAW_LEN);
    return true;
}

bool nkey_public_from_seed(const char *text, size_t len, char pub[NKEY_PUBLIC_LEN + 1])
{
    uint8_t seed[NKEY_RAW_LEN];
    uint8_t pk[crypto_sign_PUBLICKEYBYTES];
    uint8_t sk[crypto_sign_SECRETKEYBYTES];
    nkey_type_t t;
    bool ok = nkey_decode_seed(text, len, &t, seed) && crypto_sign_seed_keypair(pk, sk, seed) == 0;
    if (ok)
        nkey_encode_public(t, pk, pub);
    sodium_memzero(seed, sizeof seed);
    sodium_memzero(sk, sizeof sk);
    return ok;
}
