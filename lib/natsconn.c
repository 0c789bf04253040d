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
 * derives it, so the public key is computed here from the seed (nkey.c).
 */
#include "natsconn.h"

#include "clock.h"

#include "nkey.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
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
/* How long bosun_nats_close() waits for nats.c's closed callbacks. */
#define CLOSED_CB_WAIT_MS 5000
/* Reopening after nats.c gave up: first wait, doubled per failure up to the cap. */
#define REOPEN_FIRST_MS 1000u
#define REOPEN_MAX_MS 10000u
/* How long unsubscribing waits for a message callback still running. */
#define SUB_COMPLETE_WAIT_MS 10000

/* A subscription made again on every connection that replaces the first. */
typedef struct sub_entry {
    struct sub_entry *next;
    char *subject;
    natsMsgHandler cb;
    void *closure;
    int max_msgs, max_bytes;     /* pending limits; 0: nats.c's */
    natsSubscription *live;      /* on the current connection; NULL while it is closed */
    uint64_t dropped_before;     /* slow-consumer drops of the subscriptions it replaced */
    struct bosun_nats *owner;
    unsigned running;            /* its subscriptions whose delivery has not completed; under mu */
} sub_entry_t;

struct bosun_nats {
    /* The current connection; replaced only by the reopener (reopen_main). */
    natsConnection *_Atomic nc;
    natsOptions *opts;    /* kept to reopen with; retry-on-failed-connect off then */
    const bosun_log_t *log;
    char auth[600];       /* the credentials presented, named when refused */

    /* Counters, written by nats.c's callback thread. */
    atomic_uint_fast64_t connects;
    atomic_uint_fast64_t disconnects;
    atomic_uint_fast64_t reconnects;
    atomic_uint_fast64_t async_errors;
    atomic_uint_fast64_t discovered;
    atomic_uint_fast64_t lame_duck;

    atomic_uint_fast64_t reopens;

    atomic_bool closing;  /* bosun_nats_close() has begun */
    bool tls;             /* TLS configured: named when the first connect fails */

    pthread_mutex_t mu;
    pthread_cond_t cv;    /* closed callbacks, reopen requests, stop */
    /* Under mu. */
    bool closed;          /* the current connection's closed callback ran */
    size_t live;          /* connections whose closed callback has not run yet */
    bool reopen_wanted;   /* nats.c gave up on the current connection */
    bool stop_reopen;
    bool reopener_started;
    pthread_t reopener;
    sub_entry_t *subs;
    natsConnection **retired; /* replaced connections, destroyed at close */
    size_t n_retired;
};

static natsConnection *current(const bosun_nats_t *n)
{
    return atomic_load((natsConnection *_Atomic *)&n->nc);
}

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
            found = nkey_public_from_seed(s, l, pub);
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

/*
 * nats.c closes a connection for good when a server refuses the credentials
 * twice in a row (or at once, before the first connect): then the reopener
 * is asked to open a new one. A closed callback of a connection that is no
 * longer the current one only counts.
 */
static void on_closed(natsConnection *nc, void *closure)
{
    bosun_nats_t *n = closure;
    /* Before bosun_nats_open stored the first connection, nc can only be it. */
    natsConnection *cur = current(n);
    bool is_current = cur == NULL || cur == nc;
    bool closing = atomic_load(&n->closing);
    if (closing) {
        log_info(n->log, NATS_COMPONENT, "connection closed");
    } else if (!is_current) {
        log_debug(n->log, NATS_COMPONENT, "a replaced connection closed");
    } else if (atomic_load(&n->connects) == 0) {
        /* nats.c reports no reason for auth or TLS failures before the first connect. */
        log_error(n->log, NATS_COMPONENT,
                  "connection closed for good before it ever connected (%s); most likely "
                  "the server refused the credentials (%s)%s: check the user, password, token "
                  "or keys%s; nats.c stops here, bosun reopens the connection with backoff",
                  last_error_of(nc), n->auth, n->tls ? " or the TLS handshake failed" : "",
                  n->tls ? ", and that tls.ca signed the server's certificate and the server "
                           "accepts tls.cert" : "");
    } else {
        log_error(n->log, NATS_COMPONENT,
                  "connection closed for good by nats.c, which stopped reconnecting (%s; most "
                  "likely the server now refuses the credentials: %s); bosun reopens the "
                  "connection with backoff", last_error_of(nc), n->auth);
    }
    pthread_mutex_lock(&n->mu);
    if (n->live > 0)
        n->live--;
    if (is_current) {
        n->closed = true;
        if (!closing)
            n->reopen_wanted = true;
    }
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

/*
 * User/password, token, and a creds file or else an nkey seed file. Names
 * what is presented in n->auth (never a secret), for the refusal message.
 */
static bosun_status_t set_auth(natsOptions *o, const bosun_nats_config_t *cfg, bosun_nats_t *n,
                               bosun_err_t *err)
{
    bosun_status_t st = BOSUN_OK;
    char what[600];

    if (set(cfg->user))
        snprintf(n->auth, sizeof n->auth, "user %s", cfg->user);
    else if (set(cfg->token))
        snprintf(n->auth, sizeof n->auth, "token");
    else if (set(cfg->creds_file))
        snprintf(n->auth, sizeof n->auth, "credsFile %s", cfg->creds_file);
    else if (set(cfg->nkey_seed_file))
        snprintf(n->auth, sizeof n->auth, "nkeySeedFile %s", cfg->nkey_seed_file);
    else
        snprintf(n->auth, sizeof n->auth, "no credentials configured");

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
    natsOptions_Destroy(n->opts);
    pthread_cond_destroy(&n->cv);
    pthread_mutex_destroy(&n->mu);
    free(n);
}

/* ---- reopening after nats.c gave up -------------------------------------------- */

/* The CLOCK_MONOTONIC time ms from now, for pthread_cond_timedwait on n->cv. */
static struct timespec deadline_in(unsigned ms)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    t.tv_sec += ms / 1000;
    t.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    return t;
}

/* Waits on n->cv (mu held) until ms passed or stop_reopen; true if stopped. */
static bool reopen_sleep(bosun_nats_t *n, unsigned ms)
{
    struct timespec until = deadline_in(ms);
    while (!n->stop_reopen)
        if (pthread_cond_timedwait(&n->cv, &n->mu, &until) == ETIMEDOUT)
            break;
    return n->stop_reopen;
}

/*
 * nats.c calls this on a subscription's own thread once it is closed and its
 * last message callback has returned: e's closure is then free of it.
 */
static void on_sub_complete(void *closure)
{
    sub_entry_t *e = closure;
    pthread_mutex_lock(&e->owner->mu);
    if (e->running > 0)
        e->running--;
    pthread_cond_broadcast(&e->owner->cv);
    pthread_mutex_unlock(&e->owner->mu);
}

/* Subscribes e on nc (mu held); the subscription is e's next live one. */
static natsStatus sub_on(natsConnection *nc, sub_entry_t *e, natsSubscription **out)
{
    natsStatus s = natsConnection_Subscribe(out, nc, e->subject, e->cb, e->closure);
    if (s == NATS_OK && (e->max_msgs > 0 || e->max_bytes > 0))
        s = natsSubscription_SetPendingLimits(*out, e->max_msgs > 0 ? e->max_msgs : -1,
                                              e->max_bytes > 0 ? e->max_bytes : -1);
    if (s == NATS_OK && natsSubscription_SetOnCompleteCB(*out, on_sub_complete, e) == NATS_OK)
        e->running++;
    return s;
}

/*
 * Waits until every subscription ever made for e (now all closed) has
 * finished its last callback, so e's closure may be freed. Bounded: a
 * callback that does not return within SUB_COMPLETE_WAIT_MS is logged.
 */
static void wait_complete(bosun_nats_t *n, sub_entry_t *e)
{
    struct timespec until = deadline_in(SUB_COMPLETE_WAIT_MS);
    pthread_mutex_lock(&n->mu);
    while (e->running > 0)
        if (pthread_cond_timedwait(&n->cv, &n->mu, &until) == ETIMEDOUT)
            break;
    unsigned left = e->running;
    pthread_mutex_unlock(&n->mu);
    if (left > 0)
        log_warn(n->log, NATS_COMPONENT, "a callback on %s did not return within %d ms of unsubscribing", e->subject,
                 SUB_COMPLETE_WAIT_MS);
}

/*
 * Makes nc (connected) the current connection, with every registered
 * subscription on it; mu held. Returns false (nc untouched) when a
 * subscription fails.
 */
static bool adopt(bosun_nats_t *n, natsConnection *nc, bosun_err_t *err)
{
    size_t count = 0;
    for (sub_entry_t *e = n->subs; e != NULL; e = e->next)
        count++;
    natsConnection **grown = realloc(n->retired, (n->n_retired + 1) * sizeof *grown);
    natsSubscription **fresh = calloc(count ? count : 1, sizeof *fresh);
    if (grown != NULL)
        n->retired = grown;
    if (grown == NULL || fresh == NULL) {
        free(fresh);
        bosun_errf(err, BOSUN_ERR_NOMEM, "out of memory");
        return false;
    }
    size_t i = 0;
    for (sub_entry_t *e = n->subs; e != NULL; e = e->next, i++) {
        natsStatus s = sub_on(nc, e, &fresh[i]);
        if (s != NATS_OK) {
            bosun_nats_err(s, e->subject, err);
            while (i-- > 0)
                natsSubscription_Destroy(fresh[i]);
            free(fresh);
            return false;
        }
    }
    i = 0;
    for (sub_entry_t *e = n->subs; e != NULL; e = e->next, i++) {
        int64_t d = 0;
        if (e->live != NULL && natsSubscription_GetDropped(e->live, &d) == NATS_OK && d > 0)
            e->dropped_before += (uint64_t)d;
        natsSubscription_Destroy(e->live);
        e->live = fresh[i];
    }
    free(fresh);
    /* Other threads may still hold the old pointer for a moment: it stays
     * valid (closed) until bosun_nats_close. */
    n->retired[n->n_retired++] = current(n);
    atomic_store(&n->nc, nc);
    n->live++;
    n->closed = false;
    n->reopen_wanted = false;
    return true;
}

/*
 * The reopener thread: sleeps until nats.c gives up on the current
 * connection, then opens a new one, waiting REOPEN_FIRST_MS before the first
 * attempt and twice as long after each failure (at most REOPEN_MAX_MS), and
 * logs every attempt. A connection is adopted only once it is connected.
 */
static void *reopen_main(void *arg)
{
    bosun_nats_t *n = arg;
    pthread_mutex_lock(&n->mu);
    while (!n->stop_reopen) {
        if (!n->reopen_wanted) {
            pthread_cond_wait(&n->cv, &n->mu);
            continue;
        }
        unsigned wait_ms = REOPEN_FIRST_MS;
        for (unsigned attempt = 1; n->reopen_wanted; attempt++) {
            log_warn(n->log, NATS_COMPONENT, "reopening the NATS connection in %u ms (attempt %u)",
                     wait_ms, attempt);
            if (reopen_sleep(n, wait_ms))
                break;
            pthread_mutex_unlock(&n->mu);
            natsConnection *nc = NULL;
            bosun_err_t err = {0};
            natsStatus s = natsConnection_Connect(&nc, n->opts);
            if (s != NATS_OK)
                bosun_nats_err(s, "natsConnection_Connect", &err);
            pthread_mutex_lock(&n->mu);
            if (s == NATS_OK && !n->stop_reopen && adopt(n, nc, &err)) {
                char url[256];
                url_of(nc, url, sizeof url);
                atomic_fetch_add(&n->connects, 1);
                atomic_fetch_add(&n->reopens, 1);
                log_info(n->log, NATS_COMPONENT, "reopened: connected to %s (attempt %u)", url,
                         attempt);
                break;
            }
            if (s == NATS_OK) {
                /* Stopping, or the subscriptions failed: its closed callback counts it. */
                n->live++;
                pthread_mutex_unlock(&n->mu);
                natsConnection_Destroy(nc);
                pthread_mutex_lock(&n->mu);
            }
            if (n->stop_reopen)
                break;
            log_warn(n->log, NATS_COMPONENT, "reopen attempt %u failed: %s (%s)", attempt, err.msg,
                     n->auth);
            wait_ms = wait_ms * 2 > REOPEN_MAX_MS ? REOPEN_MAX_MS : wait_ms * 2;
        }
    }
    pthread_mutex_unlock(&n->mu);
    return NULL;
}

/* Starts the reopener with every signal blocked (they belong to the owner's thread). */
static bosun_status_t reopener_start(bosun_nats_t *n, bosun_err_t *err)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int e = pthread_create(&n->reopener, NULL, reopen_main, n);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (e != 0)
        return bosun_errf(err, BOSUN_ERR_SYS, "cannot start the NATS reopen thread: %s", strerror(e));
    n->reopener_started = true;
    return BOSUN_OK;
}

/* ---- open and close (continued) ------------------------------------------------ */

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

    natsStatus s = natsOptions_Create(&n->opts);
    if (s != NATS_OK) {
        st = bosun_nats_err(s, "natsOptions_Create", err);
        goto fail;
    }
    st = set_transport(n->opts, cfg, opts, n, err);
    if (st == BOSUN_OK)
        st = set_events(n->opts, n, err);
    if (st == BOSUN_OK)
        st = set_auth(n->opts, cfg, n, err);
    if (st == BOSUN_OK)
        st = set_tls(n->opts, cfg, err);
    if (st == BOSUN_OK)
        st = reopener_start(n, err);
    if (st != BOSUN_OK)
        goto fail;

    natsConnection *nc = NULL;
    s = natsConnection_Connect(&nc, n->opts);
    if (s == NATS_OK) {
        char url[256];
        url_of(nc, url, sizeof url);
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
    pthread_mutex_lock(&n->mu);
    atomic_store(&n->nc, nc);
    /* Unless its closed callback already ran (nats.c gave up at once), it is yet to come. */
    if (!n->closed)
        n->live = 1;
    pthread_mutex_unlock(&n->mu);
    /* Reopening needs a synchronous connect: a failure must be seen, not retried inside. */
    natsOptions_SetRetryOnFailedConnect(n->opts, false, NULL, NULL);
    *out = n;
    return BOSUN_OK;

fail:
    if (n->reopener_started) {
        pthread_mutex_lock(&n->mu);
        n->stop_reopen = true;
        pthread_cond_broadcast(&n->cv);
        pthread_mutex_unlock(&n->mu);
        pthread_join(n->reopener, NULL);
    }
    nats_free(n);
    return st;
}

bosun_status_t bosun_nats_subscribe(bosun_nats_t *n, const char *subject, natsMsgHandler cb,
                                    void *closure, int max_msgs, int max_bytes, bosun_err_t *err)
{
    if (n == NULL || subject == NULL || cb == NULL)
        return bosun_errf(err, BOSUN_ERR_INVALID, "bosun_nats_subscribe: NULL argument");
    sub_entry_t *e = calloc(1, sizeof *e);
    if (e == NULL || (e->subject = strdup(subject)) == NULL) {
        free(e);
        return bosun_errf(err, BOSUN_ERR_NOMEM, "bosun_nats_subscribe: out of memory");
    }
    e->cb = cb;
    e->closure = closure;
    e->owner = n;
    e->max_msgs = max_msgs;
    e->max_bytes = max_bytes;
    pthread_mutex_lock(&n->mu);
    natsStatus s = sub_on(current(n), e, &e->live);
    /* On a connection nats.c gave up on, the reopened one will have it. */
    if (s == NATS_CONNECTION_CLOSED && !atomic_load(&n->closing)) {
        natsSubscription_Destroy(e->live);
        e->live = NULL;
        s = NATS_OK;
    }
    if (s == NATS_OK) {
        e->next = n->subs;
        n->subs = e;
    }
    pthread_mutex_unlock(&n->mu);
    if (s != NATS_OK) {
        natsSubscription_Destroy(e->live);
        free(e->subject);
        free(e);
        char what[300];
        snprintf(what, sizeof what, "natsConnection_Subscribe(%.200s)", subject);
        return bosun_nats_err(s, what, err);
    }
    return BOSUN_OK;
}

/* Unlinks closure's subscriptions from n's list and returns them (a list of their own). */
static sub_entry_t *take_subs(bosun_nats_t *n, void *closure)
{
    sub_entry_t *gone = NULL;
    pthread_mutex_lock(&n->mu);
    for (sub_entry_t **pp = &n->subs; *pp != NULL;) {
        sub_entry_t *e = *pp;
        if (e->closure == closure) {
            *pp = e->next;
            e->next = gone;
            gone = e;
        } else {
            pp = &e->next;
        }
    }
    pthread_mutex_unlock(&n->mu);
    return gone;
}

void bosun_nats_unsubscribe(bosun_nats_t *n, void *closure)
{
    if (n == NULL)
        return;
    sub_entry_t *gone = take_subs(n, closure);
    while (gone != NULL) {
        sub_entry_t *next = gone->next;
        if (gone->live != NULL) {
            natsSubscription_Unsubscribe(gone->live);
            natsSubscription_Destroy(gone->live);
        }
        wait_complete(n, gone);
        free(gone->subject);
        free(gone);
        gone = next;
    }
}

void bosun_nats_sub_stats(bosun_nats_t *n, void *closure, uint64_t *pending, uint64_t *dropped)
{
    *pending = 0;
    *dropped = 0;
    if (n == NULL)
        return;
    pthread_mutex_lock(&n->mu);
    for (sub_entry_t *e = n->subs; e != NULL; e = e->next) {
        if (e->closure != closure)
            continue;
        *dropped += e->dropped_before;
        int msgs = 0, bytes = 0;
        int64_t d = 0;
        if (e->live != NULL && natsSubscription_GetPending(e->live, &msgs, &bytes) == NATS_OK && msgs > 0)
            *pending += (uint64_t)msgs;
        if (e->live != NULL && natsSubscription_GetDropped(e->live, &d) == NATS_OK && d > 0)
            *dropped += (uint64_t)d;
    }
    pthread_mutex_unlock(&n->mu);
}

bool bosun_nats_unsubscribe_drain(bosun_nats_t *n, void *closure, int timeout_ms, uint64_t *dropped)
{
    if (n == NULL)
        return true;
    sub_entry_t *gone = take_subs(n, closure);
    /* Drain all at once, then wait for each within what is left of the one deadline. */
    bool drain = bosun_nats_connected(n), complete = true;
    for (sub_entry_t *e = gone; e != NULL; e = e->next)
        if (e->live != NULL && (!drain || natsSubscription_DrainTimeout(e->live, timeout_ms) != NATS_OK))
            natsSubscription_Unsubscribe(e->live);
    uint64_t until = bosun_mono_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 1);
    while (gone != NULL) {
        sub_entry_t *next = gone->next;
        if (gone->live != NULL) {
            if (drain) {
                uint64_t now = bosun_mono_ms();
                int64_t left = until > now ? (int64_t)(until - now) : 1;
                if (natsSubscription_WaitForDrainCompletion(gone->live, left) != NATS_OK)
                    complete = false;
            }
            int64_t d = 0;
            if (dropped != NULL && natsSubscription_GetDropped(gone->live, &d) == NATS_OK && d > 0)
                *dropped += (uint64_t)d;
            natsSubscription_Destroy(gone->live);
        }
        wait_complete(n, gone);
        if (dropped != NULL)
            *dropped += gone->dropped_before;
        free(gone->subject);
        free(gone);
        gone = next;
    }
    return complete;
}

natsConnection *bosun_nats_conn(bosun_nats_t *n)
{
    return n ? current(n) : NULL;
}

bool bosun_nats_connected(const bosun_nats_t *n)
{
    return n != NULL && natsConnection_Status(current(n)) == NATS_CONN_STATUS_CONNECTED;
}

bool bosun_nats_closed(const bosun_nats_t *n)
{
    return n != NULL && natsConnection_IsClosed(current(n));
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
    out->reopens = atomic_load(&n->reopens);
}

void bosun_nats_server_url(bosun_nats_t *n, char *buf, size_t len)
{
    if (buf == NULL || len == 0)
        return;
    buf[0] = '\0';
    if (n == NULL || !bosun_nats_connected(n))
        return;
    url_of(current(n), buf, len);
}

void bosun_nats_close(bosun_nats_t *n, int timeout_ms)
{
    if (n == NULL)
        return;
    /* The reopener first: no connection may replace the one closed below. */
    pthread_mutex_lock(&n->mu);
    n->stop_reopen = true;
    pthread_cond_broadcast(&n->cv);
    pthread_mutex_unlock(&n->mu);
    if (n->reopener_started)
        pthread_join(n->reopener, NULL);

    natsConnection *nc = current(n);
    if (bosun_nats_connected(n) && timeout_ms > 0) {
        natsStatus s = natsConnection_FlushTimeout(nc, timeout_ms);
        if (s != NATS_OK)
            log_warn(n->log, NATS_COMPONENT, "flush before close: %s", natsStatus_GetText(s));
    }
    atomic_store(&n->closing, true);
    natsConnection_Close(nc);

    /*
     * Closed callbacks get n as their closure and run on nats.c's thread; n
     * may only be freed once every connection's has run. Bounded wait: if
     * one never comes, n is leaked rather than freed under its feet.
     */
    struct timespec until = deadline_in(CLOSED_CB_WAIT_MS);
    pthread_mutex_lock(&n->mu);
    while (n->live > 0) {
        if (pthread_cond_timedwait(&n->cv, &n->mu, &until) == ETIMEDOUT)
            break;
    }
    bool done = n->live == 0;
    sub_entry_t *subs = n->subs;
    n->subs = NULL;
    pthread_mutex_unlock(&n->mu);

    /* Subscriptions the owner left registered go with the connection, once
     * their last callbacks (and nats.c's completion calls, which use them) ran. */
    while (subs != NULL) {
        sub_entry_t *next = subs->next;
        natsSubscription_Destroy(subs->live);
        wait_complete(n, subs);
        free(subs->subject);
        free(subs);
        subs = next;
    }
    natsConnection_Destroy(nc);
    for (size_t i = 0; i < n->n_retired; i++)
        natsConnection_Destroy(n->retired[i]);
    free(n->retired);
    atomic_store(&n->nc, NULL);
    if (!done) {
        log_error(n->log, NATS_COMPONENT, "closed callback did not run within %d ms; leaking "
                  "the connection's context", CLOSED_CB_WAIT_MS);
        return;
    }
    nats_free(n);
}
