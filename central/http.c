/*
 * http.c - central's HTTP server (libmicrohttpd): the listener, response
 * helpers, routing, /health and the dashboard's files. See http.h for
 * what is read from which thread. Every response is built whole in memory,
 * then handed to libmicrohttpd, which frees it.
 */
#include "http.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "http_internal.h"

/* ---- address ------------------------------------------------------------------------ */

bosun_status_t http_parse_listen(const char *listen, struct sockaddr_storage *out, unsigned *len,
                                 bosun_err_t *err)
{
    char host[64];
    const char *colon = strrchr(listen, ':');
    if (colon == NULL)
        return bosun_errf(err, BOSUN_ERR_CONFIG, "http listen '%s': expected ADDR:PORT", listen);
    const char *h = listen;
    size_t hlen = (size_t)(colon - listen);
    if (hlen >= 2 && h[0] == '[' && h[hlen - 1] == ']') {
        h++;
        hlen -= 2;
    }
    if (hlen == 0 || hlen >= sizeof host)
        return bosun_errf(err, BOSUN_ERR_CONFIG, "http listen '%s': bad address", listen);
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    char *end;
    unsigned long port = strtoul(colon + 1, &end, 10);
    if (colon[1] == '\0' || *end != '\0' || port == 0 || port > 65535)
        return bosun_errf(err, BOSUN_ERR_CONFIG, "http listen '%s': bad port", listen);
    memset(out, 0, sizeof *out);
    struct sockaddr_in *a4 = (struct sockaddr_in *)out;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)out;
    if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)port);
        *len = sizeof *a4;
    } else if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        *len = sizeof *a6;
    } else {
        return bosun_errf(err, BOSUN_ERR_CONFIG, "http listen '%s': '%s' is not an IP address", listen, host);
    }
    return BOSUN_OK;
}

/* ---- responses ---------------------------------------------------------------------- */

/* Queues body (malloc'd; freed by libmicrohttpd, or here on failure); allow, if set, is the Allow header. */
static enum MHD_Result reply_with(struct MHD_Connection *conn, unsigned code, const char *type, char *body,
                                  size_t len, const char *allow)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (r == NULL) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (allow != NULL)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
    enum MHD_Result ret = MHD_queue_response(conn, code, r);
    MHD_destroy_response(r);
    return ret;
}

enum MHD_Result http_reply(struct MHD_Connection *conn, unsigned code, const char *type, char *body, size_t len)
{
    return reply_with(conn, code, type, body, len, NULL);
}

enum MHD_Result http_reply_text(struct MHD_Connection *conn, unsigned code, const char *text)
{
    char *body = strdup(text);
    if (body == NULL)
        return MHD_NO;
    return http_reply(conn, code, "text/plain; charset=utf-8", body, strlen(body));
}

enum MHD_Result http_reply_json(struct MHD_Connection *conn, unsigned code, json_t *j)
{
    char *body = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (body == NULL)
        return http_reply_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
    return http_reply(conn, code, "application/json", body, strlen(body));
}

bool http_arg_uint(struct MHD_Connection *conn, const char *name, size_t def, size_t max, size_t *out,
                   enum MHD_Result *answered)
{
    *out = def;
    const char *s = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, name);
    if (s == NULL)
        return true;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (*s >= '0' && *s <= '9' && *end == '\0' && v >= 1 && v <= max) {
        *out = (size_t)v;
        return true;
    }
    char msg[96];
    snprintf(msg, sizeof msg, "%s: expected an integer 1-%zu\n", name, max);
    *answered = http_reply_text(conn, MHD_HTTP_BAD_REQUEST, msg);
    return false;
}

/* ---- /health ------------------------------------------------------------------------ */

static enum MHD_Result serve_health(http_server_t *h, struct MHD_Connection *conn)
{
    bool up = bosun_nats_connected(h->src.nats);
    bool store_ok = h->store != NULL && store_check(h->store) == BOSUN_OK;
    /* Only the NATS link decides the code: without it no command can be delivered. */
    json_t *j = json_pack("{s:s, s:s, s:s}", "status", up && store_ok ? "ok" : "degraded", "nats",
                          up ? "connected" : "disconnected", "store", store_ok ? "ok" : "unreadable");
    return http_reply_json(conn, up ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, j);
}

/* ---- the dashboard's files ------------------------------------------------------------- */

static enum MHD_Result serve_asset(struct MHD_Connection *conn, const http_asset_t *a)
{
    /* Static and built in: handed over without a copy. */
    struct MHD_Response *r =
        MHD_create_response_from_buffer(a->len, (void *)a->data, MHD_RESPMEM_PERSISTENT);
    if (r == NULL)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, a->content_type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Content-Security-Policy",
                            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:");
    enum MHD_Result ret = MHD_queue_response(conn, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ret;
}

/* ---- routing ------------------------------------------------------------------------ */

typedef enum MHD_Result (*handler_t)(http_server_t *h, struct MHD_Connection *conn);

static const struct {
    const char *path;
    handler_t fn;
} routes[] = {
    {"/health", serve_health},
    {"/metrics", http_serve_metrics},
    {"/api/nodes", http_serve_nodes},
    {"/api/resources", http_serve_resources},
    {"/api/messages", http_serve_messages},
    {"/api/connectivity", http_serve_connectivity},
};

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_size,
                                  void **con_cls)
{
    (void)version;
    (void)upload_data;
    http_server_t *h = cls;
    /* First call: headers only. Bodies are not read; a request with one is answered 405. */
    if (*con_cls == NULL) {
        *con_cls = h;
        return MHD_YES;
    }
    *upload_size = 0;
    handler_t fn = NULL;
    for (size_t i = 0; i < sizeof routes / sizeof routes[0] && fn == NULL; i++)
        if (strcmp(url, routes[i].path) == 0)
            fn = routes[i].fn;
    const http_asset_t *asset = NULL;
    for (size_t i = 0; fn == NULL && i < http_n_assets && asset == NULL; i++)
        if (strcmp(url, http_assets[i].path) == 0)
            asset = &http_assets[i];
    if (fn == NULL && asset == NULL)
        return http_reply_text(conn, MHD_HTTP_NOT_FOUND, "not found\n");
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
        char *body = strdup("method not allowed\n");
        if (body == NULL)
            return MHD_NO;
        return reply_with(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain; charset=utf-8", body, strlen(body),
                          "GET, HEAD");
    }
    return fn != NULL ? fn(h, conn) : serve_asset(conn, asset);
}

/* libmicrohttpd's own complaints go to central's log. */
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    http_server_t *h = cls;
    char line[256];
    vsnprintf(line, sizeof line, fmt, ap);
    line[strcspn(line, "\n")] = '\0';
    log_warn(h->log, "http", "%s", line);
}

bosun_status_t http_new(const char *listen, const http_sources_t *src, const bosun_log_t *log,
                        http_server_t **out, bosun_err_t *err)
{
    *out = NULL;
    if (listen == NULL || listen[0] == '\0')
        return BOSUN_OK;
    struct sockaddr_storage addr;
    unsigned alen;
    bosun_status_t rc = http_parse_listen(listen, &addr, &alen, err);
    if (rc != BOSUN_OK)
        return rc;
    http_server_t *h = calloc(1, sizeof *h);
    if (h == NULL)
        return BOSUN_ERR_NOMEM;
    h->src = *src;
    h->log = log;
    bosun_err_t serr = {0};
    if (store_open_readonly(src->data_dir, &h->store, &serr) != BOSUN_OK)
        log_warn(log, "http", "no store for /api/messages and message metrics: %s", serr.msg);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
    if (addr.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    h->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR,
                                 (struct sockaddr *)&addr, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, h,
                                 MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_CONNECTION_LIMIT, 64u,
                                 MHD_OPTION_END);
    if (h->daemon == NULL) {
        store_close(h->store);
        free(h);
        return bosun_errf(err, BOSUN_ERR_IO, "http: cannot listen on %s", listen);
    }
    log_info(log, "http", "serving /health, /metrics, /api and the dashboard on http://%s/", listen);
    *out = h;
    return BOSUN_OK;
}

void http_free(http_server_t *h)
{
    if (h == NULL)
        return;
    MHD_stop_daemon(h->daemon);
    store_close(h->store);
    free(h->spare);
    free(h);
}
