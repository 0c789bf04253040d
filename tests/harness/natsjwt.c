/* natsjwt.c - operator, account and user JWTs for tests (see natsjwt.h). */
#include "natsjwt.h"

#include <fcntl.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int natsjwt_key_new(nkey_type_t type, natsjwt_key_t *out)
{
    uint8_t seed[NKEY_RAW_LEN], pk[crypto_sign_PUBLICKEYBYTES];
    if (sodium_init() < 0 || !nkey_type_valid(type))
        return -1;
    memset(out, 0, sizeof *out);
    out->type = type;
    randombytes_buf(seed, sizeof seed);
    if (crypto_sign_seed_keypair(pk, out->sk, seed) != 0)
        return -1;
    nkey_encode_public(type, pk, out->pub);
    nkey_encode_seed(type, seed, out->seed);
    sodium_memzero(seed, sizeof seed);
    return 0;
}

void natsjwt_key_wipe(natsjwt_key_t *k)
{
    sodium_memzero(k, sizeof *k);
}

/* base64url without padding of len bytes, as a new string. */
static char *b64url(const void *data, size_t len)
{
    size_t cap = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    char *out = malloc(cap);
    if (out != NULL)
        sodium_bin2base64(out, cap, data, len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    return out;
}

/* The "nats" member for a subject of type t. */
static json_t *nats_claims(nkey_type_t t)
{
    json_t *n = NULL;
    switch (t) {
    case NKEY_OPERATOR:
        n = json_pack("{s:s, s:i}", "type", "operator", "version", 2);
        break;
    case NKEY_ACCOUNT:
        /* Absent limits decode as 0 (no connections, no subscriptions): -1 is unlimited. */
        n = json_pack("{s:{s:i, s:i, s:i, s:i, s:i, s:b, s:i, s:i}, s:{s:{}, s:{}}, s:s, s:i}",
                      "limits", "subs", -1, "data", -1, "payload", -1, "imports", -1, "exports", -1,
                      "wildcards", 1, "conn", -1, "leaf", -1, "default_permissions", "pub", "sub",
                      "type", "account", "version", 2);
        break;
    case NKEY_USER:
        n = json_pack("{s:{}, s:{}, s:i, s:i, s:i, s:s, s:i}", "pub", "sub", "subs", -1, "data", -1,
                      "payload", -1, "type", "user", "version", 2);
        break;
    default:
        break;
    }
    return n;
}

char *natsjwt_issue(const natsjwt_key_t *issuer, const natsjwt_key_t *subject, const char *name)
{
    json_t *nats = nats_claims(subject->type);
    if (nats == NULL)
        return NULL;
    json_t *claims = json_pack("{s:I, s:s, s:s, s:s, s:o}", "iat", (json_int_t)time(NULL), "iss",
                               issuer->pub, "name", name, "sub", subject->pub, "nats", nats);
    if (claims == NULL)
        return NULL;
    /* jti: a hash of the claims without it (nsc uses base32 SHA-512/256; the
     * server only needs a unique id). */
    char *body = json_dumps(claims, JSON_COMPACT | JSON_SORT_KEYS);
    uint8_t h[crypto_hash_sha256_BYTES];
    char jti[2 * sizeof h + 1];
    crypto_hash_sha256(h, (const uint8_t *)body, strlen(body));
    sodium_bin2hex(jti, sizeof jti, h, sizeof h);
    free(body);
    json_object_set_new(claims, "jti", json_string(jti));

    static const char header[] = "{\"typ\":\"JWT\",\"alg\":\"ed25519-nkey\"}";
    body = json_dumps(claims, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(claims);
    char *h64 = b64url(header, sizeof header - 1);
    char *c64 = body ? b64url(body, strlen(body)) : NULL;
    free(body);
    char *jwt = NULL;
    if (h64 != NULL && c64 != NULL) {
        size_t signed_len = strlen(h64) + 1 + strlen(c64);
        uint8_t sig[crypto_sign_BYTES];
        char *text = malloc(signed_len + 1);
        if (text != NULL) {
            snprintf(text, signed_len + 1, "%s.%s", h64, c64);
            crypto_sign_detached(sig, NULL, (const uint8_t *)text, signed_len, issuer->sk);
            char *s64 = b64url(sig, sizeof sig);
            if (s64 != NULL && asprintf(&jwt, "%s.%s", text, s64) < 0)
                jwt = NULL;
            free(s64);
            free(text);
        }
    }
    free(h64);
    free(c64);
    return jwt;
}

int natsjwt_write_creds(const char *path, const char *user_jwt, const natsjwt_key_t *user)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    FILE *f = fdopen(fd, "w");
    if (f == NULL) {
        close(fd);
        return -1;
    }
    /* The layout nsc writes; nats.c takes the JWT and the seed from the
     * first and second block between dashed lines. */
    fprintf(f,
            "-----BEGIN NATS USER JWT-----\n%s\n------END NATS USER JWT------\n\n"
            "************************* IMPORTANT *************************\n"
            "NKEY Seed printed below can be used to sign and prove identity.\n"
            "NKEYs are sensitive and should be treated as secrets.\n\n"
            "-----BEGIN USER NKEY SEED-----\n%s\n------END USER NKEY SEED------\n\n"
            "*************************************************************\n",
            user_jwt, user->seed);
    return fclose(f) == 0 ? 0 : -1;
}

int natsjwt_write_server_config(const char *path, const char *operator_jwt,
                                const char *const *account_pubs, const char *const *account_jwts,
                                size_t n)
{
    FILE *f = fopen(path, "we");
    if (f == NULL)
        return -1;
    fprintf(f, "operator: %s\nresolver: MEMORY\nresolver_preload: {\n", operator_jwt);
    for (size_t i = 0; i < n; i++)
        fprintf(f, "  %s: %s\n", account_pubs[i], account_jwts[i]);
    fprintf(f, "}\n");
    return fclose(f) == 0 ? 0 : -1;
}
