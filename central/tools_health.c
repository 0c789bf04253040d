/*
 * tools_health.c - `bosun-central health`: asks a running central's HTTP
 * /health, for the Docker healthcheck (deploy/docker-healthcheck.sh).
 * One HTTP/1.0 GET over a plain TCP socket, everything within 2 s.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "http.h"
#include "tools.h"

#define HEALTH_TIMEOUT_MS 2000
#define HEALTH_MAX_REPLY 65536

static const char health_usage[] =
    "usage: bosun-central health [--http ADDR:PORT]\n"
    "\n"
    "Asks central's HTTP server for /health (default 127.0.0.1:8756); exit 0 when it\n"
    "answers 200, 1 otherwise (the body is printed either way).\n";

/* Waits for events on fd until deadline (monotonic ms); false on timeout or error. */
static bool wait_fd(int fd, short events, uint64_t deadline)
{
    for (;;) {
        uint64_t now = bosun_mono_ms();
        if (now >= deadline)
            return false;
        struct pollfd pf = {.fd = fd, .events = events};
        int n = poll(&pf, 1, (int)(deadline - now));
        if (n > 0)
            return true;
        if (n < 0 && errno != EINTR)
            return false;
    }
}

/* Connects, sends the request and reads the whole reply into buf; -1 with a reason in *why. */
static ssize_t fetch(const char *listen, char *buf, size_t cap, const char **why)
{
    struct sockaddr_storage addr;
    unsigned alen;
    bosun_err_t err = {0};
    static char reason[600];
    if (http_parse_listen(listen, &addr, &alen, &err) != BOSUN_OK) {
        snprintf(reason, sizeof reason, "%s", err.msg);
        *why = reason;
        return -1;
    }
    uint64_t deadline = bosun_mono_ms() + HEALTH_TIMEOUT_MS;
    int fd = socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        *why = strerror(errno);
        return -1;
    }
    ssize_t len = -1;
    *why = "timed out";
    if (connect(fd, (struct sockaddr *)&addr, alen) < 0 && errno != EINPROGRESS) {
        *why = strerror(errno);
        goto out;
    }
    if (!wait_fd(fd, POLLOUT, deadline))
        goto out;
    int soerr = 0;
    socklen_t sl = sizeof soerr;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0 || soerr != 0) {
        *why = strerror(soerr ? soerr : errno);
        goto out;
    }
    static const char req[] = "GET /health HTTP/1.0\r\nAccept: application/json\r\n\r\n";
    size_t sent = 0;
    while (sent < sizeof req - 1) {
        ssize_t w = send(fd, req + sent, sizeof req - 1 - sent, MSG_NOSIGNAL);
        if (w > 0)
            sent += (size_t)w;
        else if (w < 0 && errno != EAGAIN && errno != EINTR) {
            *why = strerror(errno);
            goto out;
        } else if (!wait_fd(fd, POLLOUT, deadline))
            goto out;
    }
    size_t got = 0;
    for (;;) {
        if (got + 1 >= cap) {
            *why = "reply too long";
            goto out;
        }
        ssize_t r = recv(fd, buf + got, cap - 1 - got, 0);
        if (r == 0)
            break;
        if (r > 0)
            got += (size_t)r;
        else if (errno != EAGAIN && errno != EINTR) {
            *why = strerror(errno);
            goto out;
        } else if (!wait_fd(fd, POLLIN, deadline))
            goto out;
    }
    buf[got] = '\0';
    len = (ssize_t)got;
out:
    close(fd);
    return len;
}

int tool_health(int argc, char **argv)
{
    static const struct option options[] = {
        {"http", required_argument, NULL, 'a'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *listen = "127.0.0.1:8756";
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
        switch (c) {
        case 'a': listen = optarg; break;
        case 'h': fputs(health_usage, stdout); return 0;
        default: fprintf(stderr, "bosun-central health: bad option\n\n%s", health_usage); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "bosun-central health: unexpected argument '%s'\n\n%s", argv[optind], health_usage);
        return 2;
    }
    char *buf = malloc(HEALTH_MAX_REPLY);
    if (buf == NULL)
        return 1;
    const char *why = NULL;
    ssize_t n = fetch(listen, buf, HEALTH_MAX_REPLY, &why);
    if (n < 0) {
        fprintf(stderr, "bosun-central health: %s: %s\n", listen, why);
        free(buf);
        return 1;
    }
    int status = 0;
    if (sscanf(buf, "HTTP/%*d.%*d %d", &status) != 1) {
        fprintf(stderr, "bosun-central health: %s: not an HTTP reply\n", listen);
        free(buf);
        return 1;
    }
    char *body = strstr(buf, "\r\n\r\n");
    body = body ? body + 4 : buf + n;
    fputs(body, stdout);
    if (n > 0 && body < buf + n && buf[n - 1] != '\n')
        fputc('\n', stdout);
    free(buf);
    return status == 200 ? 0 : 1;
}
