/*
 * natsconn.h - the NATS connection both binaries use.
 *
 * Wraps nats.c: a list of servers, reconnect forever with backoff and jitter,
 * user/password, token, nkey seed or creds file, TLS (CA, client cert),
 * send-asap for low latency, and every connection event logged. The
 * connection is started even when no server answers yet (retry on failed
 * connect), so an agent runs its elections without a broker.
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

/* The underlying connection (borrowed; valid until bosun_nats_close()). */
natsConnection *bosun_nats_conn(bosun_nats_t *n);

/* True while connected to a server. */
bool bosun_nats_connected(const bosun_nats_t *n);

/*
 * True once nats.c has given up for good: it stops reconnecting when a
 * server refuses the credentials twice in a row (also before the first
 * connect). The owner must bosun_nats_close() and open again to retry.
 */
bool bosun_nats_closed(const bosun_nats_t *n);

/* Number of successful reconnections since open. */
uint64_t bosun_nats_reconnects(const bosun_nats_t *n);

/* URL of the server currently connected to, or "" (copied into buf). */
void bosun_nats_server_url(bosun_nats_t *n, char *buf, size_t len);

/*
 * Flushes for at most timeout_ms, closes, and frees. NULL is a no-op.
 * Waits (at most 5 s) for nats.c's closed callback before freeing, so it
 * must not be called from a nats.c callback.
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
