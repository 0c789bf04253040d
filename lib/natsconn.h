/*
 * natsconn.h - the NATS connection both binaries use.
 *
 * Wraps nats.c: a list of servers, reconnect forever with backoff and jitter,
 * user/password, token, nkey seed or creds file, TLS (CA, client cert),
 * send-asap for low latency, and every connection event logged. The
 * connection is started even when no server answers yet (retry on failed
 * connect), so an agent runs its elections without a broker.
 *
 * nats.c gives up for good when a server refuses the credentials (twice in
 * a row, or at once before the first connect): its connection is closed and
 * never reconnects. Then a thread of this module opens a new connection,
 * after 1 s and twice as long after each failure up to 10 s, logging each
 * attempt, so a node whose credentials were fixed on the server comes back
 * by itself. The new connection replaces the old one (bosun_nats_conn()
 * returns it from then on), and subscriptions made with
 * bosun_nats_subscribe() are made again on it; subscriptions made directly
 * on a natsConnection are not.
 *
 * This is the one file that translates natsStatus into bosun_status_t.
 */
#ifndef BOSUN_NATSCONN_H
#define BOSUN_NATSCONN_H

#include <nats/nats.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "log.h"
#include "status.h"

typedef struct bosun_nats bosun_nats_t;

typedef struct {
    const char *client_name;  /* shown by the server (e.g. "bosun-agent ship1") */
    bool no_echo;             /* never deliver our own publications to us */
} bosun_nats_opts_t;

/*
 * Starts a connection per cfg. Returns BOSUN_OK once the connection exists,
 * whether or not a server has answered yet (see bosun_nats_connected()).
 * log is borrowed and must outlive the connection. On success *out is owned
 * by the caller, to be released with bosun_nats_close().
 */
bosun_status_t bosun_nats_open(const bosun_nats_config_t *cfg, const bosun_nats_opts_t *opts,
                               const bosun_log_t *log, bosun_nats_t **out, bosun_err_t *err);

/*
 * The current connection (borrowed). Ask again for each use: after a reopen
 * it is another one. A replaced connection stays valid (closed) until
 * bosun_nats_close().
 */
natsConnection *bosun_nats_conn(bosun_nats_t *n);

/*
 * Subscribes cb(closure) to subject on the current connection and again on
 * every connection that replaces it; max_msgs and max_bytes are the pending
 * limits (0: nats.c's defaults). While nats.c has given up on the current
 * connection, the subscription starts with the reopened one.
 */
bosun_status_t bosun_nats_subscribe(bosun_nats_t *n, const char *subject, natsMsgHandler cb,
                                    void *closure, int max_msgs, int max_bytes, bosun_err_t *err);

/*
 * Ends every subscription made by bosun_nats_subscribe() with closure; when
 * it returns, no callback with closure is running or starts any more (it
 * waits for one in progress, up to 10 s, logged), so closure may be freed.
 * Never call it from one of closure's own callbacks. n NULL: no-op.
 */
void bosun_nats_unsubscribe(bosun_nats_t *n, void *closure);

/*
 * Like bosun_nats_unsubscribe(), but first takes every message the server
 * had sent to them (a NATS drain), all within timeout_ms; adds their
 * slow-consumer drops to *dropped (may be NULL). False when a drain did not
 * complete in time (what was left is dropped). n NULL: true.
 */
bool bosun_nats_unsubscribe_drain(bosun_nats_t *n, void *closure, int timeout_ms, uint64_t *dropped);

/*
 * Over closure's subscriptions: messages waiting in nats.c's buffers now,
 * and slow-consumer drops since they were made (across reopens).
 */
void bosun_nats_sub_stats(bosun_nats_t *n, void *closure, uint64_t *pending, uint64_t *dropped);

/* True while connected to a server. */
bool bosun_nats_connected(const bosun_nats_t *n);

/*
 * True while the current connection is closed: nats.c gave up on it (see
 * above) and no new one could be opened yet.
 */
bool bosun_nats_closed(const bosun_nats_t *n);

/* Number of successful reconnections since open. */
uint64_t bosun_nats_reconnects(const bosun_nats_t *n);

/* URL of the server currently connected to, or "" (copied into buf). */
void bosun_nats_server_url(bosun_nats_t *n, char *buf, size_t len);

/*
 * Stops reopening, flushes for at most timeout_ms, closes, and frees (with
 * every subscription still registered). NULL is a no-op. Waits (at most
 * 5 s) for nats.c's closed callbacks before freeing, so it must not be
 * called from a nats.c callback.
 */
void bosun_nats_close(bosun_nats_t *n, int timeout_ms);

/* Connection event counters since open (read atomically, one by one). */
typedef struct {
    uint64_t connects;           /* first connection (immediate or retried) */
    uint64_t disconnects;
    uint64_t reconnects;
    uint64_t async_errors;       /* slow consumer, permission violation... */
    uint64_t discovered_servers; /* server pool updates from the cluster */
    uint64_t lame_duck;          /* a server announced it will shut down */
    uint64_t reopens;            /* new connections after nats.c gave up */
} bosun_nats_stats_t;

/* Fills *out with n's counters (all zero when n is NULL). */
void bosun_nats_stats(const bosun_nats_t *n, bosun_nats_stats_t *out);

/*
 * Reads an nkey seed file (a bare seed, or a .creds file) and writes the
 * seed's public key ("U...", 56 characters) into pub (len >= 57). nats.c
 * needs it next to the seed file and cannot derive it itself. Returns
 * BOSUN_ERR_IO if the file is unreadable, BOSUN_ERR_CONFIG if it holds no
 * valid seed. Secret material read is wiped.
 */
bosun_status_t bosun_nats_nkey_public(const char *seed_file, char *pub, size_t len,
                                      bosun_err_t *err);

/*
 * Releases nats.c's library-wide resources (nats_Close, waiting at most 2 s
 * for its threads). For the binaries' main(), once, after every connection
 * is closed; no bosun_nats_* call may follow. bosun_nats_open() opens the
 * library itself on first use (nats_Open, once per process).
 */
void bosun_nats_library_close(void);

/*
 * Translates a natsStatus from `call` into a bosun status, filling *err with
 * "<call>: <nats text>" (plus nats_GetLastError's detail when present).
 */
bosun_status_t bosun_nats_err(natsStatus s, const char *call, bosun_err_t *err);

#endif
