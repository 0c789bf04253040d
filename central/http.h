/*
 * http.h - central's HTTP server: /health, /metrics (Prometheus text format
 * 0.0.4), a JSON API (/api/nodes, /api/resources, /api/messages,
 * /api/connectivity) and a dashboard page at /, built into the binary.
 *
 *   http.c            the server, responses, routing, /health
 *   http_metrics.c    /metrics
 *   http_api.c        the JSON API
 *   dashboard/        the page's HTML, CSS and JavaScript, compiled in
 *                     (dashboard/embed.cmake)
 *
 * libmicrohttpd runs every request on its own internal thread. Handlers
 * read only what is safe from another thread: fleet and ownership
 * snapshots (fleet.h, ownership.h), recorder_stats(), msgstats_read(), the
 * NATS connection state, and a read-only store handle of their own.
 */
#ifndef BOSUN_CENTRAL_HTTP_H
#define BOSUN_CENTRAL_HTTP_H

#include "fleetview.h"
#include "log.h"
#include "msgstats.h"
#include "natsconn.h"
#include "recorder.h"
#include "status.h"

typedef struct http_server http_server_t;

/* What the handlers read; all borrowed, and must outlive the server. */
typedef struct {
    const char *data_dir;   /* for a read-only store handle */
    bosun_nats_t *nats;
    fleetview_t *fleetview;
    recorder_t *recorder;   /* NULL when the recorder is off */
    msgstats_t *msgstats;   /* NULL: no retry and latency figures */
} http_sources_t;

/*
 * Listens on listen ("ADDR:PORT", an IPv4 or IPv6 literal; "[v6]:PORT"
 * accepted) and serves until http_free(). An empty or NULL listen starts
 * nothing and leaves *out NULL with BOSUN_OK. BOSUN_ERR_CONFIG for a bad
 * address, BOSUN_ERR_IO when the address cannot be bound.
 */
bosun_status_t http_new(const char *listen, const http_sources_t *src, const bosun_log_t *log,
                        http_server_t **out, bosun_err_t *err);

/* Stops the server (waits for requests in progress) and frees; NULL is a no-op. */
void http_free(http_server_t *h);

/*
 * Splits "ADDR:PORT" into a socket address. Returns BOSUN_ERR_CONFIG with a
 * reason in err when it is not a literal address and a port 1-65535.
 */
struct sockaddr_storage;
bosun_status_t http_parse_listen(const char *listen, struct sockaddr_storage *out, unsigned *len,
                                 bosun_err_t *err);

#endif
