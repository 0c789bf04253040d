/*
 * natsjwt.h - NATS operator-mode credentials made by a test: operator,
 * account and user nkeys, the JWTs that chain them, .creds files and the
 * nats-server config that trusts them (what the nsc tool would make).
 *
 * A JWT is base64url(header).base64url(claims).base64url(signature), no
 * padding, with the header {"typ":"JWT","alg":"ed25519-nkey"}; the issuer's
 * Ed25519 key signs the text "header.claims". The claims carry jti, iat,
 * iss (the issuer's public nkey), sub (the subject's), name, and "nats"
 * with type (operator, account or user), version 2 and unlimited limits.
 * An operator signs itself and its accounts; an account signs its users.
 *
 * The server runs with `operator: <jwt>`, `resolver: MEMORY` and
 * `resolver_preload: {<account>: <jwt>}`: it accepts a user whose JWT was
 * signed by a preloaded account and who proves it holds the user's seed.
 */
#ifndef BOSUN_TEST_NATSJWT_H
#define BOSUN_TEST_NATSJWT_H

#include <stddef.h>
#include <stdint.h>

#include "nkey.h"

/* One nkey pair. Secret: wipe with natsjwt_key_wipe. */
typedef struct {
    nkey_type_t type;
    uint8_t sk[64];                 /* libsodium Ed25519 secret key */
    char pub[NKEY_PUBLIC_LEN + 1];  /* "O...", "A...", "U..." */
    char seed[NKEY_SEED_LEN + 1];   /* "SO...", "SA...", "SU..." */
} natsjwt_key_t;

/* Makes a fresh key pair of type (NKEY_OPERATOR, NKEY_ACCOUNT, NKEY_USER). 0 on success. */
int natsjwt_key_new(nkey_type_t type, natsjwt_key_t *out);

void natsjwt_key_wipe(natsjwt_key_t *k);

/*
 * The JWT that issuer signs for subject, named name, issued now. The claim
 * type follows the subject's key type. Returns a new string (caller frees)
 * or NULL.
 */
char *natsjwt_issue(const natsjwt_key_t *issuer, const natsjwt_key_t *subject, const char *name);

/* Writes a .creds file (user JWT and the user's seed), mode 0600. 0 on success. */
int natsjwt_write_creds(const char *path, const char *user_jwt, const natsjwt_key_t *user);

/*
 * Writes a nats-server config that trusts operator_jwt and preloads the n
 * accounts (public keys and JWTs) into the memory resolver. 0 on success.
 */
int natsjwt_write_server_config(const char *path, const char *operator_jwt,
                                const char *const *account_pubs, const char *const *account_jwts,
                                size_t n);

#endif
