/*
 * natsconn.c - the NATS connection both binaries use (see natsconn.h).
 *
 * Options are built once from bosun_nats_config_t; the connection then lives
 * in nats.c's own threads. Connection events arrive on nats.c's callback
 * thread, where they are only counted (atomics) and logged: nothing here
 * changes the owner's state. This is the one file that turns a natsStatus
 * into a bosun_status_t.
 *
 * nats.c needs the public key next to an nkey seed file
 * (natsOptions_SetNKeyFromSeed takes both) and has no public call that
 * derives it, so the public key is computed here from the seed: base32,
 * CRC16 and ed25519 (libsodium), as the nkeys format defines them.
 */
#include "natsconn.h"

#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NATS_COMPONENT "nats"

/* A dead server is noticed after about PING_INTERVAL_MS * (MAX_PINGS_OUT + 1). */
#define PING_INTERVAL_MS 2000
#define MAX_PINGS_OUT 2
/* Publications made while disconnected are kept up to this size. */
#define RECONNECT_BUF_BYTES (8 * 1024 * 1024)
/* How long bosun_nats_close() waits for nats.c's closed callback. */
#define CLOSED_CB_WAIT_MS 5000

struct bosun_nats {
    natsConnection *nc;
    const bosun_log_t *log;

    /* Counters, written by nats.c's callback thread. */
    atomic_uint_fast64_t connects;
    atomic_uint_fast64_t disconnects;
    atomic_uint_fast64_t reconnects;
    atomic_uint_fast64_t async_errors;
    atomic_uint_fast64_t discovered;
    atomic_uint_fast64_t lame_duck;

    atomic_bool closing;  /* bosun_nats_close() has begun */
    bool tls;             /* TLS configured: named when the first connect fails */

    /* Set by the closed callback, so that close can free *n safely after it. */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool closed;
};

/* ---- library lifetime --------------------------------------------------- */

/*
 * pthread_once needs process-wide storage; this is the only static state of
 * the module and it is written once.
 */
static pthread_once_t lib_once = PTHREAD_ONCE_INIT;
static natsStatus lib_open_status = NATS_OK;

static void lib_open(void)
{
    lib_open_status = nats_Open(-1);
}

void bosun_nats_library_close(void)
{
    /* Waits for nats.c's threads so that leak checkers see a clean exit. */
    (void)nats_CloseAndWait(2000);
}

/* ---- errors --------------------------------------------------------------- */

bosun_status_t bosun_nats_err(natsStatus s, const char *call, bosun_err_t *err)
{
    bosun_status_t st;
    switch (s) {
    case NATS_OK: return BOSUN_OK;
    case NATS_TIMEOUT: st = BOSUN_ERR_TIMEOUT; break;
    case NATS_NO_MEMORY: st = BOSUN_ERR_NOMEM; break;
    default: st = BOSUN_ERR_NATS; break;
    }
    const char *text = natsStatus_GetText(s);
    natsStatus last = NATS_OK;
    const char *detail = nats_GetLastError(&last);
    /* The thread's last error may be older than s: only use a matching one. */
    if (last == s && detail != NULL && detail[0] != '\0' && strcmp(detail, text) != 0)
        return bosun_errf(err, st, "%s: %s (%s)", call, text, detail);
    return bosun_errf(err, st, "%s: %s", call, text);
}

/* ---- nkey public key from a seed --------------------------------------------- */

#define NKEY_SEED_LEN 58      /* base32 of 2 prefix bytes + 32 + CRC16 */
#define NKEY_PUBLIC_LEN 56    /* base32 of 1 prefix byte + 32 + CRC16 */
#define NKEY_PREFIX_SEED (18 << 3)

static const char b32_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/* CRC-16/XMODEM, as nkeys use it. */
static uint16_t nkey_crc16(const unsigned char *p, size_t len)
{
    uint16_t crc = 0;
    for (size_t i = 0; i < len; i++) {
        crc ^= (uint16_t)(p[i] << 8);
        for (int b = 0; b < 8; b++)
            crc = (crc & 0x8000) ? (uint16_t)((crc << 1) ^ 0x1021) : (uint16_t)(crc << 1);
    }
    return crc;
}

/* Decodes unpadded base32 text of length len into out; returns bytes or -1. */
static int b32_decode(const char *text, size_t len, unsigned char *out, size_t cap)
{
    uint32_t acc = 0;
    int bits = 0;
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        const char *p = strchr(b32_alphabet, text[i]);
        if (p == NULL || text[i] == '\0')
            return -1;
        acc = (acc << 5) | (uint32_t)(p - b32_alphabet);
        bits += 5;
        if (bits >= 8) {
            if (n == cap)
                return -1;
            bits -= 8;
            out[n++] = (unsigned char)(acc >> bits);
        }
    }
    return (int)n;
}

/* Encodes len bytes as unpadded base32 into out (NUL-terminated). */
static void b32_encode(const unsigned char *in, size_t len, char *out)
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

/* True for the key types nkeys define (account, cluster, server, operator, user). */
static bool nkey_type_valid(unsigned t)
{
    return t == (0 << 3) || t == (2 << 3) || t == (13 << 3) || t == (14 << 3) || t == (20 << 3);
}

/*
 * Derives the public key of the 58-character seed text into pub (at least
 * NKEY_PUBLIC_LEN + 1 bytes). Returns false if text is not a valid seed.
 */
static bool nkey_public_from_seed_text(const char *text, char *pub)
{
    unsigned char raw[40];
    unsigned char pk[crypto_sign_PUBLICKEYBYTES];
    unsigned char sk[crypto_sign_SECRETKEYBYTES];
    unsigned char out[1 + crypto_sign_PUBLICKEYBYTES + 2];
    bool ok = false;

    int n = b32_decode(text, NKEY_SEED_LEN, raw, sizeof raw);
    if (n != 36)
        goto done;
    uint16_t crc = (uint16_t)(raw[34] | (raw[35] << 8));
    if (nkey_crc16(raw, 34) != crc)
        goto done;
    if ((raw[0] & 0xF8) != NKEY_PREFIX_SEED)
        goto done;
    unsigned type = ((unsigned)(raw[0] & 7) << 5) | (unsigned)(raw[1] >> 3);
    if (!nkey_type_valid(type))
        goto done;
    if (crypto_sign_seed_keypair(pk, sk, raw + 2) != 0)
        goto done;
    out[0] = (unsigned char)type;
    memcpy(out + 1, pk, sizeof pk);
    crc = nkey_crc16(out, 1 + sizeof pk);
    out[1 + sizeof pk] = (unsigned char)(crc & 0xFF);
    out[2 + sizeof pk] = (unsigned char)(crc >> 8);
    b32_encode(out, sizeof out, pub);
    ok = true;
done:
    sodium_memzero(raw, sizeof raw);
    sodium_memzero(sk, sizeof sk);
    return ok;
}

bosun_status_t bosun_nats_nkey_public(const char *seed_file, char *pub, size_t len,
                                      bosun_err_t *err)
{
    if (seed_file == NULL || pub == NULL || len < NKEY_PUBLIC_LEN + 1)
        return bosun_errf(err, BOSUN_ERR_INVALID, "nkey: bad arguments");

    FILE *f = fopen(seed_file, "re");
    if (f == NULL)
        return bosun_errf(err, BOSUN_ERR_IO, "%s: cannot open nkey seed file: %s", seed_file,
                          strerror(errno));
    /* A plain seed file or a .creds file: the seed is a line of its own. */
    char line[512];
    bool found = false, seen_seedish = false;
    while (!found && fgets(line, sizeof line, f) != NULL) {
        char *s = line;
        while (*s == ' ' || *s == '\t')
            s++;
        size_t l = strcspn(s, " \t\r\n");
        if (l == NKEY_SEED_LEN && s[0] == 'S') {
            seen_seedish = true;
            found = nkey_public_from_seed_text(s, pub);
        }
    }
    sodium_memzero(line, sizeof line);
    fclose(f);
    if (!found)
        return bosun_errf(err, BOSUN_ERR_CONFIG, "%s: %s", seed_file,
                          seen_seedish ? "the nkey seed is corrupt (bad encoding or checksum)"
                                       : "no nkey seed (a line starting with 'S') found");
    return BOSUN_OK;
}

/* ---- connection events (nats.c's callback thread: count and log only) -------- */

static void url_of(natsConnection *nc, char *buf, size_t len)
{
    if (natsConnection_GetConnectedUrl(nc, buf, len) != NATS_OK)
        buf[0] = '\0';
}

static const char *last_error_of(natsConnection *nc)
{
    const char *txt = NULL;
    if (natsConnection_GetLastError(nc, &txt) == NATS_OK || txt == NULL || txt[0] == '\0')
        return "no error recorded";
    return txt;
}

static void on_connected(natsConnection *nc, void *closure)
{
    bosun_nats_t *n = closure;
    char url[256];
    url_of(nc, url, sizeof url);
    atomic_fetch_add(&n->connects, 1);
    log_info(n->log, NATS_COMPONENT, "connected to %s", url);
}

static void on_disconnected(natsConnection *nc, void *closure)
{
    bosun_nats_t *n = closure;
    if (atomic_load(&n->closing)) {
        log_debug(n->log, NATS_COMPONENT, "disconnected (closing)");
        return;
    }
    uint64_t k = atomic_fetch_add(&n->disconnects, 1) + 1;
    const char *txt = NULL;
    bool why = natsConnection_GetLastError(nc, &txt) != NATS_OK && txt != NULL && txt[0] != '\0';
    log_warn(n->log, NATS_COMPONENT, "disconnected (#%llu%s%s); reconnecting",
             (unsigned long long)k, why ? ": " : "", why ? txt : "");
}

static void on_reconnected(natsConnection *nc, void *closure)
{
    bosun_nats_t *n = closure;
    char url[256];
    url_of(nc, url, sizeof url);
    uint64_t k = atomic_fetch_add(&n->reconnects, 1) + 1;
    log_info(n->log, NATS_COMPONENT, "reconnected to %s (reconnect #%llu)", url,
             (unsigned long long)k);
}

static void on_closed(natsConnection *nc, void *closure)
{
    bosun_nats_t *n = closure;
    if (atomic_load(&n->closing)) {
        log_info(n->log, NATS_COMPONENT, "connection closed");
    } else if (atomic_load(&n->connects) == 0) {
        /* nats.c reports no reason for auth or TLS failures before the first connect. */
        log_error(n->log, NATS_COMPONENT,
                  "connection closed for good before it ever connected (%s); most likely "
                  "the server refused the credentials%s (nats.c then stops retrying): check "
                  "the user, password, token or keys%s", last_error_of(nc),
                  n->tls ? " or the TLS handshake failed" : "",
                  n->tls ? ", and that tls.ca signed the server's certificate and the server "
                           "accepts tls.cert" : "");
    } else {
        log_error(n->log, NATS_COMPONENT,
                  "connection closed for good, no more reconnect attempts (%s)",
                  last_error_of(nc));
    }
    pthread_mutex_lock(&n->mu);
    n->closed = true;
    pthread_cond_broadcast(&n->cv);
    pthread_mutex_unlock(&n->mu);
}

static void on_error(natsConnection *nc, natsSubscription *sub, natsStatus s, void *closure)
{
    bosun_nats_t *n = closure;
    atomic_fetch_add(&n->async_errors, 1);
    const char *subject = NULL;
    if (sub != NULL)
        subject = natsSubscription_GetSubject(sub);
    log_error(n->log, NATS_COMPONENT, "async error%s%s: %s (%s)", subject ? " on " : "",
              subject ? subject : "", natsStatus_GetText(s), last_error_of(nc));
}

static void on_discovered(natsConnection *nc, void *closure)
{
    bosun_nats_t *n = closure;
    atomic_fetch_add(&n->discovered, 1);
    char **servers = NULL;
    int count = 0;
    if (natsConnection_GetDiscoveredServers(nc, &servers, &count) != NATS_OK) {
        log_info(n->log, NATS_COMPONENT, "discovered new servers");
        return;
    }
    char list[1024];
    size_t used = 0;
    list[0] = '\0';
    for (int i = 0; i < count; i++) {
        int k = snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "", servers[i]);
        if (k > 0 && (size_t)k < sizeof list - used)
            used += (size_t)k;
        free(servers[i]);
    }
    free(servers);
    log_info(n->log, NATS_COMPONENT, "discovered servers: %s", count ? list : "(none)");
}

static void on_lame_duck(natsConnection *nc, void *closure)
{
    bosun_nats_t *n = closure;
    char url[256];
    url_of(nc, url, sizeof url);
    atomic_fetch_add(&n->lame_duck, 1);
    log_warn(n->log, NATS_COMPONENT, "server %s entered lame duck mode; it will go away soon",
             url);
}

/* ---- open and close --------------------------------------------------------- */

static int64_t secs_to_ms(double secs)
{
    if (!(secs > 0))
        return 0;
    return (int64_t)(secs * 1000.0 + 0.5);
}

/* True when s is a failure of `what`, with *st and *err then filled in. */
static bool opt_failed(natsStatus s, const char *what, bosun_status_t *st, bosun_err_t *err)
{
    if (s == NATS_OK)
        return false;
    *st = bosun_nats_err(s, what, err);
    return true;
}

static bool set(const char *str)
{
    return str != NULL && str[0] != '\0';
}

/* Servers, reconnection, timeouts and flow: everything but events and auth. */
static bosun_status_t set_transport(natsOptions *o, const bosun_nats_config_t *cfg,
                                    const bosun_nats_opts_t *opts, bosun_nats_t *n,
                                    bosun_err_t *err)
{
    bosun_status_t st = BOSUN_OK;
    int64_t jitter = secs_to_ms(cfg->reconnect_jitter_secs);

    if (opt_failed(natsOptions_SetServers(o, (const char **)cfg->servers, (int)cfg->n_servers),
                   "natsOptions_SetServers", &st, err) ||
        opt_failed(natsOptions_SetMaxReconnect(o, -1), "natsOptions_SetMaxReconnect", &st, err) ||
        opt_failed(natsOptions_SetReconnectWait(o, secs_to_ms(cfg->reconnect_wait_secs)),
                   "natsOptions_SetReconnectWait", &st, err) ||
        opt_failed(natsOptions_SetReconnectJitter(o, jitter, jitter),
                   "natsOptions_SetReconnectJitter", &st, err) ||
        opt_failed(natsOptions_SetRetryOnFailedConnect(o, true, on_connected, n),
                   "natsOptions_SetRetryOnFailedConnect", &st, err) ||
        opt_failed(natsOptions_SetSendAsap(o, true), "natsOptions_SetSendAsap", &st, err) ||
        opt_failed(natsOptions_SetNoEcho(o, opts != NULL && opts->no_echo),
                   "natsOptions_SetNoEcho", &st, err) ||
        opt_failed(natsOptions_SetPingInterval(o, PING_INTERVAL_MS),
                   "natsOptions_SetPingInterval", &st, err) ||
        opt_failed(natsOptions_SetMaxPingsOut(o, MAX_PINGS_OUT), "natsOptions_SetMaxPingsOut",
                   &st, err) ||
        opt_failed(natsOptions_SetReconnectBufSize(o, RECONNECT_BUF_BYTES),
                   "natsOptions_SetReconnectBufSize", &st, err))
        return st;
    if (opts != NULL && set(opts->client_name) &&
        opt_failed(natsOptions_SetName(o, opts->client_name), "natsOptions_SetName", &st, err))
        return st;
    if (cfg->connect_timeout_secs > 0 &&
        opt_failed(natsOptions_SetTimeout(o, secs_to_ms(cfg->connect_timeout_secs)),
                   "natsOptions_SetTimeout", &st, err))
        return st;
    return BOSUN_OK;
}

/* The connection event callbacks, each with n as closure. */
static bosun_status_t set_events(natsOptions *o, bosun_nats_t *n, bosun_err_t *err)
{
    bosun_status_t st = BOSUN_OK;
    if (opt_failed(natsOptions_SetDisconnectedCB(o, on_disconnected, n),
                   "natsOptions_SetDisconnectedCB", &st, err) ||
        opt_failed(natsOptions_SetReconnectedCB(o, on_reconnected, n),
                   "natsOptions_SetReconnectedCB", &st, err) ||
        opt_failed(natsOptions_SetClosedCB(o, on_closed, n), "natsOptions_SetClosedCB", &st,
                   err) ||
        opt_failed(natsOptions_SetErrorHandler(o, on_error, n), "natsOptions_SetErrorHandler",
                   &st, err) ||
        opt_failed(natsOptions_SetDiscoveredServersCB(o, on_discovered, n),
                   "natsOptions_SetDiscoveredServersCB", &st, err) ||
        opt_failed(natsOptions_SetLameDuckModeCB(o, on_lame_duck, n),
                   "natsOptions_SetLameDuckModeCB", &st, err))
        return st;
    return BOSUN_OK;
}

/* User/password, token, and a creds file or else an nkey seed file. */
static bosun_status_t set_auth(natsOptions *o, const bosun_nats_config_t *cfg, bosun_err_t *err)
{
    bosun_status_t st = BOSUN_OK;
    char what[600];

    if (set(cfg->user) &&
        opt_failed(natsOptions_SetUserInfo(o, cfg->user, cfg->password ? cfg->password : ""),
                   "natsOptions_SetUserInfo", &st, err))
        return st;
    if (set(cfg->token) &&
        opt_failed(natsOptions_SetToken(o, cfg->token), "natsOptions_SetToken", &st, err))
        return st;
    if (set(cfg->creds_file)) {
        snprintf(what, sizeof what, "credsFile %s", cfg->creds_file);
        if (opt_failed(natsOptions_SetUserCredentialsFromFiles(o, cfg->creds_file, NULL), what,
                       &st, err))
            return st;
    } else if (set(cfg->nkey_seed_file)) {
        char pub[NKEY_PUBLIC_LEN + 1];
        st = bosun_nats_nkey_public(cfg->nkey_seed_file, pub, sizeof pub, err);
        if (st != BOSUN_OK)
            return st;
        snprintf(what, sizeof what, "nkeySeedFile %s", cfg->nkey_seed_file);
        if (opt_failed(natsOptions_SetNKeyFromSeed(o, pub, cfg->nkey_seed_file), what, &st, err))
            return st;
    }
    return BOSUN_OK;
}

/* TLS, on when a CA or a client certificate is given. */
static bosun_status_t set_tls(natsOptions *o, const bosun_nats_config_t *cfg, bosun_err_t *err)
{
    bosun_status_t st = BOSUN_OK;
    char what[600];

    if (!set(cfg->tls_ca) && !set(cfg->tls_cert))
        return BOSUN_OK;
    if (opt_failed(natsOptions_SetSecure(o, true), "natsOptions_SetSecure", &st, err))
        return st;
    if (set(cfg->tls_ca)) {
        snprintf(what, sizeof what, "tls.ca %s", cfg->tls_ca);
        if (opt_failed(natsOptions_LoadCATrustedCertificates(o, cfg->tls_ca), what, &st, err))
            return st;
    }
    if (set(cfg->tls_cert)) {
        snprintf(what, sizeof what, "tls.cert %s / tls.key %s", cfg->tls_cert,
                 cfg->tls_key ? cfg->tls_key : "");
        if (opt_failed(natsOptions_LoadCertificatesChain(o, cfg->tls_cert, cfg->tls_key), what,
                       &st, err))
            return st;
    }
    if (set(cfg->tls_server_name) &&
        opt_failed(natsOptions_SetExpectedHostname(o, cfg->tls_server_name),
                   "natsOptions_SetExpectedHostname", &st, err))
        return st;
    return BOSUN_OK;
}

/* Checks the settings nats.c would not reject clearly by itself. */
static bosun_status_t check_config(const bosun_nats_config_t *cfg, bosun_err_t *err)
{
    if (cfg->n_servers == 0 || cfg->servers == NULL)
        return bosun_errf(err, BOSUN_ERR_INVALID, "nats: no server configured");
    if (cfg->n_servers > 1024)
        return bosun_errf(err, BOSUN_ERR_INVALID, "nats: too many servers (%zu)", cfg->n_servers);
    for (size_t i = 0; i < cfg->n_servers; i++)
        if (cfg->servers[i] == NULL || cfg->servers[i][0] == '\0')
            return bosun_errf(err, BOSUN_ERR_INVALID, "nats: server %zu is empty", i + 1);
    if (set(cfg->tls_cert) != set(cfg->tls_key))
        return bosun_errf(err, BOSUN_ERR_INVALID, "nats: tls.cert and tls.key go together");
    return BOSUN_OK;
}

static void nats_free(bosun_nats_t *n)
{
    pthread_cond_destroy(&n->cv);
    pthread_mutex_destroy(&n->mu);
    free(n);
}

bosun_status_t bosun_nats_open(const bosun_nats_config_t *cfg, const bosun_nats_opts_t *opts,
                               const bosun_log_t *log, bosun_nats_t **out, bosun_err_t *err)
{
    if (out == NULL || cfg == NULL)
        return bosun_errf(err, BOSUN_ERR_INVALID, "bosun_nats_open: NULL argument");
    *out = NULL;
    bosun_status_t st = check_config(cfg, err);
    if (st != BOSUN_OK)
        return st;

    pthread_once(&lib_once, lib_open);
    if (lib_open_status != NATS_OK)
        return bosun_nats_err(lib_open_status, "nats_Open", err);
    if (sodium_init() < 0)
        return bosun_errf(err, BOSUN_ERR_CRYPTO, "sodium_init failed");

    bosun_nats_t *n = calloc(1, sizeof *n);
    if (n == NULL)
        return bosun_errf(err, BOSUN_ERR_NOMEM, "bosun_nats_open: out of memory");
    n->log = log;
    n->tls = set(cfg->tls_ca) || set(cfg->tls_cert);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&n->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&n->mu, NULL);

    natsOptions *o = NULL;
    natsStatus s = natsOptions_Create(&o);
    if (s != NATS_OK) {
        st = bosun_nats_err(s, "natsOptions_Create", err);
        goto fail;
    }
    st = set_transport(o, cfg, opts, n, err);
    if (st == BOSUN_OK)
        st = set_events(o, n, err);
    if (st == BOSUN_OK)
        st = set_auth(o, cfg, err);
    if (st == BOSUN_OK)
        st = set_tls(o, cfg, err);
    if (st != BOSUN_OK)
        goto fail;

    s = natsConnection_Connect(&n->nc, o);
    natsOptions_Destroy(o);
    o = NULL;
    if (s == NATS_OK) {
        char url[256];
        url_of(n->nc, url, sizeof url);
        atomic_fetch_add(&n->connects, 1);
        log_info(log, NATS_COMPONENT, "connected to %s", url);
    } else if (s == NATS_NOT_YET_CONNECTED) {
        /* nats.c clears the first attempt's reason before returning. */
        log_warn(log, NATS_COMPONENT,
                 "no server reachable yet (first: %s, %zu in all); retrying in the background",
                 cfg->servers[0], cfg->n_servers);
    } else {
        st = bosun_nats_err(s, "natsConnection_Connect", err);
        goto fail;
    }
    *out = n;
    return BOSUN_OK;

fail:
    natsOptions_Destroy(o);
    nats_free(n);
    return st;
}

natsConnection *bosun_nats_conn(bosun_nats_t *n)
{
    return n ? n->nc : NULL;
}

bool bosun_nats_connected(const bosun_nats_t *n)
{
    return n != NULL && natsConnection_Status(n->nc) == NATS_CONN_STATUS_CONNECTED;
}

bool bosun_nats_closed(const bosun_nats_t *n)
{
    return n != NULL && natsConnection_IsClosed(n->nc);
}

uint64_t bosun_nats_reconnects(const bosun_nats_t *n)
{
    return n ? (uint64_t)atomic_load(&n->reconnects) : 0;
}

void bosun_nats_stats(const bosun_nats_t *n, bosun_nats_stats_t *out)
{
    memset(out, 0, sizeof *out);
    if (n == NULL)
        return;
    out->connects = atomic_load(&n->connects);
    out->disconnects = atomic_load(&n->disconnects);
    out->reconnects = atomic_load(&n->reconnects);
    out->async_errors = atomic_load(&n->async_errors);
    out->discovered_servers = atomic_load(&n->discovered);
    out->lame_duck = atomic_load(&n->lame_duck);
}

void bosun_nats_server_url(bosun_nats_t *n, char *buf, size_t len)
{
    if (buf == NULL || len == 0)
        return;
    buf[0] = '\0';
    if (n == NULL || !bosun_nats_connected(n))
        return;
    url_of(n->nc, buf, len);
}

void bosun_nats_close(bosun_nats_t *n, int timeout_ms)
{
    if (n == NULL)
        return;
    if (bosun_nats_connected(n) && timeout_ms > 0) {
        natsStatus s = natsConnection_FlushTimeout(n->nc, timeout_ms);
        if (s != NATS_OK)
            log_warn(n->log, NATS_COMPONENT, "flush before close: %s", natsStatus_GetText(s));
    }
    atomic_store(&n->closing, true);
    natsConnection_Close(n->nc);

    /*
     * The closed callback gets n as its closure and runs on nats.c's thread;
     * n may only be freed once it has run. Bounded wait: if it never comes,
     * n is leaked rather than freed under the callback's feet.
     */
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += CLOSED_CB_WAIT_MS / 1000;
    until.tv_nsec += (long)(CLOSED_CB_WAIT_MS % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&n->mu);
    while (!n->closed) {
        if (pthread_cond_timedwait(&n->cv, &n->mu, &until) == ETIMEDOUT)
            break;
    }
    bool closed = n->closed;
    pthread_mutex_unlock(&n->mu);

    natsConnection_Destroy(n->nc);
    n->nc = NULL;
    if (!closed) {
        log_error(n->log, NATS_COMPONENT, "closed callback did not run within %d ms; leaking "
                  "the connection's context", CLOSED_CB_WAIT_MS);
        return;
    }
    nats_free(n);
}
