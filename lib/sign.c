/*
 * sign.c - Ed25519 (libsodium) signatures over Commands, and key files.
 * See sign.h for what is signed and why.
 */
#include "sign.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "files.h"

#define DOMAIN "bosun-command-v1"
/* Largest key file read: a base64 secret key is 88 characters. */
#define KEY_FILE_MAX 1024

/* ---- canonical form ---------------------------------------------------------------- */

static uint8_t *put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 3; i >= 0; i--)
        *p++ = (uint8_t)(v >> (8 * i));
    return p;
}

static uint8_t *put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--)
        *p++ = (uint8_t)(v >> (8 * i));
    return p;
}

static uint8_t *put_str(uint8_t *p, const char *s, size_t n)
{
    p = put_u32(p, (uint32_t)n);
    memcpy(p, s, n);
    return p + n;
}

bosun_status_t sign_canonical(const Bosun__Command *cmd, uint8_t **out, size_t *len)
{
    const char *strs[] = {cmd->id ? cmd->id : "", cmd->node ? cmd->node : "",
                          cmd->method ? cmd->method : ""};
    size_t lens[3];
    size_t total = sizeof DOMAIN - 1 + 1 + 4 + 3 * 8;
    for (size_t i = 0; i < 3; i++) {
        lens[i] = strlen(strs[i]);
        if (lens[i] > UINT32_MAX)
            return BOSUN_ERR_TOO_BIG;
        total += 4 + lens[i];
    }
    if (cmd->n_data > UINT32_MAX)
        return BOSUN_ERR_TOO_BIG;
    for (size_t i = 0; i < cmd->n_data; i++) {
        size_t l = strlen(cmd->data[i] ? cmd->data[i] : "");
        if (l > UINT32_MAX)
            return BOSUN_ERR_TOO_BIG;
        total += 4 + l;
    }
    uint8_t *buf = malloc(total);
    if (buf == NULL)
        return BOSUN_ERR_NOMEM;
    uint8_t *p = buf;
    memcpy(p, DOMAIN, sizeof DOMAIN - 1);
    p += sizeof DOMAIN - 1;
    for (size_t i = 0; i < 3; i++)
        p = put_str(p, strs[i], lens[i]);
    *p++ = (uint8_t)cmd->kind;
    p = put_u32(p, (uint32_t)cmd->n_data);
    for (size_t i = 0; i < cmd->n_data; i++) {
        const char *d = cmd->data[i] ? cmd->data[i] : "";
        p = put_str(p, d, strlen(d));
    }
    p = put_u64(p, cmd->created_ms);
    p = put_u64(p, cmd->ttl_ms);
    p = put_u64(p, cmd->method_timeout_ms);
    *out = buf;
    *len = (size_t)(p - buf);
    return BOSUN_OK;
}

/* ---- signing and verifying ------------------------------------------------------------ */

static void key_id_of(const uint8_t pk[SIGN_PK_LEN], uint8_t id[SIGN_KEY_ID_LEN])
{
    uint8_t h[32];
    crypto_generichash(h, sizeof h, pk, SIGN_PK_LEN, NULL, 0);
    memcpy(id, h, SIGN_KEY_ID_LEN);
}

bosun_status_t sign_command(const sign_key_t *key, Bosun__Command *cmd, sign_sig_t *sig)
{
    cmd->signature.len = 0;
    cmd->key_id.len = 0;
    uint8_t *buf;
    size_t len;
    bosun_status_t st = sign_canonical(cmd, &buf, &len);
    if (st != BOSUN_OK)
        return st;
    crypto_sign_detached(sig->sig, NULL, buf, len, key->sk);
    free(buf);
    memcpy(sig->key_id, key->pub.key_id, SIGN_KEY_ID_LEN);
    cmd->signature.data = sig->sig;
    cmd->signature.len = SIGN_SIG_LEN;
    cmd->key_id.data = sig->key_id;
    cmd->key_id.len = SIGN_KEY_ID_LEN;
    return BOSUN_OK;
}

const char *sign_verdict_str(sign_verdict_t v)
{
    switch (v) {
    case SIGN_OK: return "ok";
    case SIGN_UNSIGNED: return "unsigned";
    case SIGN_UNKNOWN_KEY: return "signed by an unknown key";
    case SIGN_BAD: return "bad signature (tampered or wrong key)";
    case SIGN_EXPIRED: return "expired";
    case SIGN_TOO_OLD: return "too old to be checked against replays";
    case SIGN_FUTURE: return "created in the future (clocks too far apart?)";
    case SIGN_NOMEM: return "cannot check the signature now: out of memory";
    }
    return "?";
}

sign_verdict_t sign_verify_command(const sign_pubkey_t *keys, size_t n, const Bosun__Command *cmd,
                                   uint64_t now_ms, uint64_t max_age_ms, uint64_t max_skew_ms)
{
    if (cmd->signature.len == 0)
        return SIGN_UNSIGNED;
    const sign_pubkey_t *key = NULL;
    for (size_t i = 0; cmd->key_id.len == SIGN_KEY_ID_LEN && i < n && key == NULL; i++)
        if (memcmp(keys[i].key_id, cmd->key_id.data, SIGN_KEY_ID_LEN) == 0)
            key = &keys[i];
    if (key == NULL)
        return SIGN_UNKNOWN_KEY;
    if (cmd->signature.len != SIGN_SIG_LEN)
        return SIGN_BAD;
    uint8_t *buf;
    size_t len;
    if (sign_canonical(cmd, &buf, &len) != BOSUN_OK)
        return SIGN_NOMEM;
    int bad = crypto_sign_verify_detached(cmd->signature.data, buf, len, key->pk);
    free(buf);
    if (bad)
        return SIGN_BAD;
    /* Differences, not sums: a signed time near UINT64_MAX must not wrap. */
    uint64_t age = now_ms > cmd->created_ms ? now_ms - cmd->created_ms : 0;
    if (cmd->ttl_ms > 0 && age > cmd->ttl_ms)
        return SIGN_EXPIRED;
    if (age > max_age_ms)
        return SIGN_TOO_OLD;
    if (cmd->created_ms > now_ms && cmd->created_ms - now_ms > max_skew_ms)
        return SIGN_FUTURE;
    return SIGN_OK;
}

/* ---- keys as text ---------------------------------------------------------------------- */

/* Decodes base64 text (white space around it ignored) into exactly n bytes. */
static bool b64_decode(const char *text, uint8_t *out, size_t n)
{
    size_t len = strlen(text);
    while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r' || text[len - 1] == ' ' ||
                       text[len - 1] == '\t'))
        len--;
    size_t skip = strspn(text, " \t\r\n");
    if (skip > len)
        return false;
    size_t got = 0;
    const char *end = NULL;
    if (sodium_base642bin(out, n, text + skip, len - skip, NULL, &got, &end,
                          sodium_base64_VARIANT_ORIGINAL) != 0)
        return false;
    return got == n && end == text + len;
}

bosun_status_t sign_pubkey_parse(const char *b64, sign_pubkey_t *out, bosun_err_t *err)
{
    if (sodium_init() < 0)
        return bosun_errf(err, BOSUN_ERR_CRYPTO, "libsodium failed to initialise");
    if (!b64_decode(b64, out->pk, SIGN_PK_LEN))
        return bosun_errf(err, BOSUN_ERR_INVALID,
                          "'%.60s' is not a public key: expected 44 characters of base64 "
                          "(32 bytes), as in central.pub",
                          b64);
    key_id_of(out->pk, out->key_id);
    return BOSUN_OK;
}

void sign_pubkey_b64(const sign_pubkey_t *pub, char out[SIGN_PK_B64_LEN])
{
    sodium_bin2base64(out, SIGN_PK_B64_LEN, pub->pk, SIGN_PK_LEN, sodium_base64_VARIANT_ORIGINAL);
}

/* ---- key files --------------------------------------------------------------------------- */

/* Reads a small key file into buf (NUL-terminated); *st receives its stat. */
static bosun_status_t read_key_file(const char *path, char *buf, size_t cap, struct stat *st,
                                    bosun_err_t *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return bosun_errf(err, errno == ENOENT ? BOSUN_ERR_NOT_FOUND : BOSUN_ERR_IO,
                          "%s: cannot open key file: %s", path, strerror(errno));
    if (fstat(fd, st) != 0 || !S_ISREG(st->st_mode)) {
        close(fd);
        return bosun_errf(err, BOSUN_ERR_IO, "%s: not a regular file", path);
    }
    ssize_t n = read(fd, buf, cap - 1);
    int e = errno;
    close(fd);
    if (n < 0)
        return bosun_errf(err, BOSUN_ERR_IO, "%s: cannot read: %s", path, strerror(e));
    if ((size_t)n == cap - 1)
        return bosun_errf(err, BOSUN_ERR_TOO_BIG, "%s: too big for a key file", path);
    buf[n] = '\0';
    return BOSUN_OK;
}

bosun_status_t sign_pubkey_load(const char *path, sign_pubkey_t *out, bosun_err_t *err)
{
    char buf[KEY_FILE_MAX];
    struct stat st;
    bosun_status_t rc = read_key_file(path, buf, sizeof buf, &st, err);
    if (rc != BOSUN_OK)
        return rc;
    bosun_err_t e;
    bosun_err_clear(&e);
    if (sign_pubkey_parse(buf, out, &e) != BOSUN_OK)
        return bosun_errf(err, BOSUN_ERR_INVALID, "%s: %s", path, e.msg);
    return BOSUN_OK;
}

bosun_status_t sign_key_load(const char *path, sign_key_t **out, bosun_err_t *err)
{
    if (sodium_init() < 0)
        return bosun_errf(err, BOSUN_ERR_CRYPTO, "libsodium failed to initialise");
    char buf[KEY_FILE_MAX];
    struct stat st;
    bosun_status_t rc = read_key_file(path, buf, sizeof buf, &st, err);
    if (rc != BOSUN_OK)
        return rc;
    if (st.st_mode & (S_IRWXG | S_IRWXO)) {
        sodium_memzero(buf, sizeof buf);
        return bosun_errf(err, BOSUN_ERR_CONFIG,
                          "%s: private key file has mode %04o, so group or others may read it; "
                          "refusing to use it (run: chmod 600 %s, and make a new key with "
                          "`bosun-central keygen --force` if others may have read it)",
                          path, (unsigned)(st.st_mode & 07777), path);
    }
    sign_key_t *k = sodium_malloc(sizeof *k);
    if (k == NULL) {
        sodium_memzero(buf, sizeof buf);
        return BOSUN_ERR_NOMEM;
    }
    bool ok = b64_decode(buf, k->sk, SIGN_SK_LEN);
    sodium_memzero(buf, sizeof buf);
    if (!ok) {
        sign_key_free(k);
        return bosun_errf(err, BOSUN_ERR_INVALID,
                          "%s: not a bosun private key (expected 88 characters of base64, 64 bytes)",
                          path);
    }
    crypto_sign_ed25519_sk_to_pk(k->pub.pk, k->sk);
    key_id_of(k->pub.pk, k->pub.key_id);
    *out = k;
    return BOSUN_OK;
}

/*
 * Writes len bytes to path atomically with mode: a temporary file beside it,
 * fsync, then rename (replace) or link (only if path does not exist yet,
 * BOSUN_ERR_EXISTS otherwise).
 */
static bosun_status_t write_atomic(const char *path, const void *data, size_t len, mode_t mode,
                                   bool replace, bosun_err_t *err)
{
    size_t pl = strlen(path);
    char *tmp = malloc(pl + 16);
    if (tmp == NULL)
        return BOSUN_ERR_NOMEM;
    snprintf(tmp, pl + 16, "%s.tmp.XXXXXX", path);
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        bosun_status_t rc = bosun_errf(err, BOSUN_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
        free(tmp);
        return rc;
    }
    bosun_status_t rc = BOSUN_OK;
    ssize_t w = -1;
    if (fchmod(fd, mode) != 0 || (w = write(fd, data, len)) != (ssize_t)len || fsync(fd) != 0)
        rc = bosun_errf(err, BOSUN_ERR_IO, "%s: cannot write: %s", tmp,
                        w >= 0 && w != (ssize_t)len ? "short write" : strerror(errno));
    close(fd);
    if (rc == BOSUN_OK && replace && rename(tmp, path) != 0)
        rc = bosun_errf(err, BOSUN_ERR_IO, "%s: cannot rename into place: %s", path, strerror(errno));
    if (rc == BOSUN_OK && !replace && link(tmp, path) != 0)
        rc = bosun_errf(err, errno == EEXIST ? BOSUN_ERR_EXISTS : BOSUN_ERR_IO,
                        "%s: %s", path, errno == EEXIST ? "already exists; not replaced (use --force)"
                                                       : strerror(errno));
    if (rc != BOSUN_OK || !replace)
        unlink(tmp);
    free(tmp);
    return rc;
}

bosun_status_t sign_keygen(const char *sk_path, const char *pk_path, bool force, sign_key_t **out,
                           bosun_err_t *err)
{
    if (sodium_init() < 0)
        return bosun_errf(err, BOSUN_ERR_CRYPTO, "libsodium failed to initialise");
    struct stat st;
    if (!force && lstat(sk_path, &st) == 0)
        return bosun_errf(err, BOSUN_ERR_EXISTS, "%s: already exists; not replaced (use --force)",
                          sk_path);
    sign_key_t *k = sodium_malloc(sizeof *k);
    if (k == NULL)
        return BOSUN_ERR_NOMEM;
    crypto_sign_keypair(k->pub.pk, k->sk);
    key_id_of(k->pub.pk, k->pub.key_id);
    char sk_text[sodium_base64_ENCODED_LEN(SIGN_SK_LEN, sodium_base64_VARIANT_ORIGINAL) + 1];
    sodium_bin2base64(sk_text, sizeof sk_text - 1, k->sk, SIGN_SK_LEN, sodium_base64_VARIANT_ORIGINAL);
    size_t n = strlen(sk_text);
    sk_text[n++] = '\n';
    char pk_text[SIGN_PK_B64_LEN + 1];
    sign_pubkey_b64(&k->pub, pk_text);
    size_t pn = strlen(pk_text);
    pk_text[pn++] = '\n';

    bosun_status_t rc = write_atomic(sk_path, sk_text, n, 0600, force, err);
    sodium_memzero(sk_text, sizeof sk_text);
    if (rc == BOSUN_OK)
        rc = write_atomic(pk_path, pk_text, pn, 0644, true, err);
    if (rc != BOSUN_OK || out == NULL)
        sign_key_free(k);
    else
        *out = k;
    return rc;
}

bosun_status_t sign_key_open(const char *sk_path, const char *pk_path, sign_key_t **out, bool *created,
                             bosun_err_t *err)
{
    *created = false;
    bosun_status_t rc = sign_key_load(sk_path, out, err);
    if (rc == BOSUN_ERR_NOT_FOUND) {
        *created = true;
        return sign_keygen(sk_path, pk_path, false, out, err);
    }
    struct stat st;
    if (rc == BOSUN_OK && lstat(pk_path, &st) != 0) {
        char text[SIGN_PK_B64_LEN + 1];
        sign_pubkey_b64(&(*out)->pub, text);
        size_t n = strlen(text);
        text[n++] = '\n';
        rc = write_atomic(pk_path, text, n, 0644, true, err);
        if (rc != BOSUN_OK) {
            sign_key_free(*out);
            *out = NULL;
        }
    }
    return rc;
}

char *sign_pub_path(const char *sk_path)
{
    size_t n = strlen(sk_path);
    char *p = malloc(n + 5);
    if (p == NULL)
        return NULL;
    if (n > 4 && strcmp(sk_path + n - 4, ".key") == 0)
        snprintf(p, n + 5, "%.*s.pub", (int)(n - 4), sk_path);
    else
        snprintf(p, n + 5, "%s.pub", sk_path);
    return p;
}

bosun_status_t sign_key_paths(const char *key_file, const char *data_dir, char **sk_path, char **pk_path)
{
    char *sk = key_file != NULL && key_file[0] != '\0' ? strdup(key_file) : bosun_path_join(data_dir, "central.key");
    char *pk = sk != NULL ? sign_pub_path(sk) : NULL;
    if (pk == NULL) {
        free(sk);
        *sk_path = *pk_path = NULL;
        return BOSUN_ERR_NOMEM;
    }
    *sk_path = sk;
    *pk_path = pk;
    return BOSUN_OK;
}

void sign_key_free(sign_key_t *key)
{
    if (key != NULL)
        sodium_free(key); /* sodium_free wipes before it frees */
}
