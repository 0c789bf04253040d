/*
 * nkey.h - the text form of NATS nkeys (Ed25519 keys with a type).
 *
 * An nkey public key is base32 (RFC 4648 alphabet, no padding) of one type
 * byte, the 32-byte Ed25519 public key and a CRC-16/XMODEM of those 33 bytes
 * (little-endian): 56 characters, the first naming the type ('O'perator,
 * 'A'ccount, 'U'ser, ...). A seed packs the seed marker and the type into
 * two bytes, then the 32-byte Ed25519 seed and the CRC: 58 characters
 * starting with 'S' and the type letter ("SU..." for a user).
 *
 * natsconn.c derives the public key nats.c needs next to a seed file; the
 * tests make operator, account and user keys for JWTs (tests/harness/
 * natsjwt.c). The crypto is libsodium's; this file only encodes and checks.
 */
#ifndef BOSUN_NKEY_H
#define BOSUN_NKEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Key types, as the first byte of a public key. */
typedef enum {
    NKEY_ACCOUNT = 0,
    NKEY_CLUSTER = 2 << 3,
    NKEY_SERVER = 13 << 3,
    NKEY_OPERATOR = 14 << 3,
    NKEY_USER = 20 << 3,
} nkey_type_t;

#define NKEY_PUBLIC_LEN 56 /* characters, without the NUL */
#define NKEY_SEED_LEN 58
#define NKEY_RAW_LEN 32    /* Ed25519 public key or seed */

/* True for the five types above. */
bool nkey_type_valid(unsigned type);

/* Writes the public key text of pk (type t) into out, NUL-terminated. */
void nkey_encode_public(nkey_type_t t, const uint8_t pk[NKEY_RAW_LEN], char out[NKEY_PUBLIC_LEN + 1]);

/* Writes the seed text of seed (type t) into out, NUL-terminated. */
void nkey_encode_seed(nkey_type_t t, const uint8_t seed[NKEY_RAW_LEN], char out[NKEY_SEED_LEN + 1]);

/*
 * Decodes len characters of seed text: true when they are exactly a seed
 * (length, alphabet, checksum, seed marker, valid type), with *type and the
 * raw seed filled in. The caller wipes seed.
 */
bool nkey_decode_seed(const char *text, size_t len, nkey_type_t *type, uint8_t seed[NKEY_RAW_LEN]);

/* Decodes len characters of public key text; true when valid (as above). */
bool nkey_decode_public(const char *text, size_t len, nkey_type_t *type, uint8_t pk[NKEY_RAW_LEN]);

/*
 * Derives the public key text of a seed (len characters) into pub. Returns
 * false when text is not a valid seed. Secret material is wiped.
 */
bool nkey_public_from_seed(const char *text, size_t len, char pub[NKEY_PUBLIC_LEN + 1]);

#endif
