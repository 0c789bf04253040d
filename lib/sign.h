/*
 * sign.h - Ed25519 signatures over Commands, and the key files that hold them.
 *
 * Central signs every Command it sends; an agent with trusted keys executes
 * only Commands that carry a valid signature by one of them. The signature
 * covers the canonical bytes of every field that changes what runs or when
 * (id, node, method, kind, data, created_ms, ttl_ms, method_timeout_ms), so a
 * signed command can be neither altered nor sent to another node, and its
 * age is bounded: an agent refuses one older than its ledger remembers ids,
 * which is what stops a replay (steward signed only the arguments).
 *
 * Not signed: sender and attempt (informational; retries reuse the
 * signature). Events are not Commands and are never signed.
 *
 * Key files: the secret key file holds libsodium's 64-byte Ed25519 secret
 * key in base64 on one line and must not be readable by group or others;
 * the public key file holds the 32-byte public key in base64, the text that
 * goes into an agent's security.trustedKeys.
 */
#ifndef BOSUN_SIGN_H
#define BOSUN_SIGN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bosun.pb-c.h"
#include "status.h"

#define SIGN_KEY_ID_LEN 8
#define SIGN_SIG_LEN 64
#define SIGN_PK_LEN 32
#define SIGN_SK_LEN 64
/* Base64 (original variant, padded) of a public key, with its NUL. */
#define SIGN_PK_B64_LEN 45

/* A public key trusted by an agent. */
typedef struct {
    uint8_t pk[SIGN_PK_LEN];
    uint8_t key_id[SIGN_KEY_ID_LEN]; /* first 8 bytes of BLAKE2b-256(pk) */
} sign_pubkey_t;

/* A key pair; wiped by sign_key_free. */
typedef struct {
    uint8_t sk[SIGN_SK_LEN];
    sign_pubkey_t pub;
} sign_key_t;

/* A signature and key id that a signed Command borrows (keep it alive while
 * the Command is packed). */
typedef struct {
    uint8_t sig[SIGN_SIG_LEN];
    uint8_t key_id[SIGN_KEY_ID_LEN];
} sign_sig_t;

/*
 * The canonical bytes of cmd that the signature covers, in a new buffer
 * (*out, caller frees): "bosun-command-v1", then u32 big-endian length +
 * bytes of id, node and method, kind as one byte, n_data as u32 BE and each
 * data string length-prefixed, then created_ms, ttl_ms and method_timeout_ms
 * as u64 BE. Returns BOSUN_ERR_NOMEM or BOSUN_ERR_TOO_BIG (a string over 4 GiB).
 */
bosun_status_t sign_canonical(const Bosun__Command *cmd, uint8_t **out, size_t *len);

/*
 * Signs cmd with key: fills *sig and points cmd->signature and cmd->key_id
 * into it. Returns BOSUN_OK, or BOSUN_ERR_NOMEM.
 */
bosun_status_t sign_command(const sign_key_t *key, Bosun__Command *cmd, sign_sig_t *sig);

/* What sign_verify_command found; sign_verdict_str() names each for people. */
typedef enum {
    SIGN_OK = 0,
    SIGN_UNSIGNED,    /* "unsigned" */
    SIGN_UNKNOWN_KEY, /* "signed by an unknown key" */
    SIGN_BAD,         /* "bad signature (tampered or wrong key)" */
    SIGN_EXPIRED,     /* "expired": its ttl ran out */
    SIGN_TOO_OLD,     /* "too old to be checked against replays" */
    SIGN_FUTURE,      /* "created in the future (clocks too far apart?)" */
    SIGN_NOMEM,       /* "cannot check the signature now: out of memory" */
} sign_verdict_t;

const char *sign_verdict_str(sign_verdict_t v);

/*
 * Checks cmd against the n trusted keys at now_ms. A Command is accepted
 * (SIGN_OK) when it carries a valid signature of a trusted key, its ttl (if
 * any) has not run out, it is at most max_age_ms old and was not created
 * more than max_skew_ms in the future. Times are checked only after the
 * signature, so they are the signer's.
 */
sign_verdict_t sign_verify_command(const sign_pubkey_t *keys, size_t n, const Bosun__Command *cmd,
                                   uint64_t now_ms, uint64_t max_age_ms, uint64_t max_skew_ms);

/* Parses a base64 public key (surrounding white space ignored). */
bosun_status_t sign_pubkey_parse(const char *b64, sign_pubkey_t *out, bosun_err_t *err);

/* Writes the base64 text of pub into out. */
void sign_pubkey_b64(const sign_pubkey_t *pub, char out[SIGN_PK_B64_LEN]);

/* Reads a public key file (one base64 line). */
bosun_status_t sign_pubkey_load(const char *path, sign_pubkey_t *out, bosun_err_t *err);

/*
 * Reads a secret key file into a new key (*out; sign_key_free). Refuses,
 * with BOSUN_ERR_CONFIG and a message saying how to fix it, a file that
 * group or others may read; BOSUN_ERR_NOT_FOUND when it does not exist.
 */
bosun_status_t sign_key_load(const char *path, sign_key_t **out, bosun_err_t *err);

/*
 * Generates a key pair and writes the secret key to sk_path (mode 0600) and
 * the public key to pk_path (0644), each atomically (temporary file, fsync,
 * rename). An existing sk_path is never replaced unless force:
 * BOSUN_ERR_EXISTS. *out (may be NULL) receives the new key.
 */
bosun_status_t sign_keygen(const char *sk_path, const char *pk_path, bool force, sign_key_t **out,
                           bosun_err_t *err);

/*
 * Loads the key at sk_path, or on first use (no such file) generates it,
 * writing the public key to pk_path; *created says which. When the key
 * exists but pk_path does not, pk_path is written again.
 */
bosun_status_t sign_key_open(const char *sk_path, const char *pk_path, sign_key_t **out, bool *created,
                             bosun_err_t *err);

/* The public key file that goes with sk_path: "x.key" -> "x.pub", else
 * sk_path + ".pub". New string (caller frees), NULL on OOM. */
char *sign_pub_path(const char *sk_path);

/*
 * Central's key file paths: key_file when set (not NULL or ""), else
 * <data_dir>/central.key, and its public key file (sign_pub_path). New
 * strings (caller frees both); BOSUN_ERR_NOMEM leaves both NULL.
 */
bosun_status_t sign_key_paths(const char *key_file, const char *data_dir, char **sk_path, char **pk_path);

/* Wipes and frees key; NULL is a no-op. */
void sign_key_free(sign_key_t *key);

#endif
