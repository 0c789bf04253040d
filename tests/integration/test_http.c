/*
 * test_http.c - central's HTTP server (issue 7) with real processes: a
 * nats-server, bosun-central listening on 127.0.0.1:<free port>, and three
 * real agents (n1, n2, n3) electing owners for "vip" (n3 has the highest
 * priority) and "db" (n1 has).
 *
 * - /api/nodes lists the three nodes ALIVE; /api/resources names n3 ACTIVE
 *   for vip and n1 for db.
 * - /metrics holds the expected series: nodes, the agents' own counters for
 *   each of the three, resource owners and transitions, and is well formed
 *   text format 0.0.4 (checked here line by line, and by `promtool check
 *   metrics` when promtool is installed).
 * - /api/messages answers JSON newest first, with results, by node and
 *   limited; the delivery latency histogram counts what finished; a message
 *   to a node nobody serves is retried and expires, and the retries and the
 *   expiry are counted. Unknown paths are 404, POST is 405.
 * - Connectivity: a test node publishes real Heartbeats carrying probes
 *   (the agents' own probes are another part's work; this is the input
 *   central gets from them): /metrics has bosun_connectivity_up and _rtt
 *   for each (source, target, probe), once each even when a target repeats,
 *   with label values escaped; /api/connectivity has the matrix, limited
 *   and filtered on request.
 * - /health is 200 and `bosun-central health` exits 0; after the
 *   nats-server is killed, /health is 503 and the tool exits 1.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#include "bosun.pb-c.h"
#include "client.h"
#include "clock.h"
#include "harness.h"

#define N_AGENTS 3

static struct {
    char *dir;
    harness_natsd_t *natsd;
    int http_port, mcast_port;
    char listen[64];
    char central_cfg[600];
    harness_proc_t *central, *agent[N_AGENTS];
} fx;

/* ---- a tiny HTTP/1.0 client --------------------------------------------------------- */

/* Sends "METHOD path" to central; returns the status (or -1) and the body in *body (caller frees). */
static int http_do(const char *method, const char *path, char **body)
{
    *body = NULL;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct timeval tv = {.tv_sec = 5};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)fx.http_port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    char req[512];
    int n = snprintf(req, sizeof req, "%s %s HTTP/1.0\r\nContent-Length: 0\r\n\r\n", method, path);
    if (write(fd, req, (size_t)n) != n) {
        close(fd);
        return -1;
    }
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (len + 1 >= cap)
            buf = realloc(buf, cap *= 2);
        ssize_t r = read(fd, buf + len, cap - 1 - len);
        if (r <= 0)
            break;
        len += (size_t)r;
    }
    close(fd);
    buf[len] = '\0';
    int status = -1;
    if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1)
        status = -1;
    char *b = strstr(buf, "\r\n\r\n");
    *body = strdup(b ? b + 4 : "");
    free(buf);
    return status;
}

static int http_get(const char *path, char **body)
{
    return http_do("GET", path, body);
}

/* Runs `bosun-central health --http ADDR:PORT`; returns its exit code. */
static int run_health_tool(char **output)
{
    char *argv[] = {BOSUN_CENTRAL_BIN, "health", "--http", fx.listen, NULL};
    int code = -1;
    if (harness_run(argv, 10000, output, &code) != 0)
        return -1;
    return code;
}

/* ---- fixture ------------------------------------------------------------------------ */

/* n1..n3: vip goes to the highest (n3), db to the lowest (n1). */
static int write_agent_config(int i, char *path, size_t cap)
{
    char json[2048];
    snprintf(path, cap, "%s/n%d.json", fx.dir, i + 1);
    snprintf(json, sizeof json,
             "{\"id\": \"n%d\", \"dataDir\": \"%s/n%d\", \"nats\": {\"servers\": [\"%s\"]},\n"
             " \"networking\": {\"interfaceName\": \"lo\", \"address\": \"239.255.77.%d\", \"port\": %d,"
             " \"cryptoPassword\": \"http-test\"},\n"
             " \"resources\": [{\"id\": \"vip\", \"priority\": %d}, {\"id\": \"db\", \"priority\": %d}],\n"
             " \"timing\": {\"heartbeatIntervalMs\": 200, \"txIntervalSecs\": 0.1,"
             " \"transitionWaitSecs\": 0.3}}\n",
             i + 1, fx.dir, i + 1, harness_natsd_url(fx.natsd), 1 + getpid() % 250, fx.mcast_port,
             110 + 10 * i, 130 - 10 * i);
    return harness_write_file(path, json);
}

static int setup(void **state)
{
    (void)state;
    memset(&fx, 0, sizeof fx);
    fx.dir = harness_tmpdir("http");
    if (fx.dir == NULL || harness_natsd_start(NULL, &fx.natsd) != 0)
        return -1;
    fx.http_port = harness_free_port();
    fx.mcast_port = harness_free_port();
    if (fx.http_port < 0 || fx.mcast_port < 0)
        return -1;
    snprintf(fx.listen, sizeof fx.listen, "127.0.0.1:%d", fx.http_port);
    snprintf(fx.central_cfg, sizeof fx.central_cfg, "%s/central.json", fx.dir);
    char json[2048];
    snprintf(json, sizeof json,
             "{\"id\": \"central\", \"dataDir\": \"%s/central\", \"nats\": {\"servers\": [\"%s\"]},\n"
             " \"recorder\": {\"enabled\": false}, \"http\": {\"listen\": \"%s\"}}\n",
             fx.dir, harness_natsd_url(fx.natsd), fx.listen);
    if (harness_write_file(fx.central_cfg, json) != 0)
        return -1;
    char log[700];
    snprintf(log, sizeof log, "%s/central.log", fx.dir);
    char *cargv[] = {BOSUN_CENTRAL_BIN, "--config-file", fx.central_cfg, "--log-level", "4", NULL};
    if (harness_proc_start(cargv, log, &fx.central) != 0 ||
        !harness_proc_wait_log(fx.central, "running: inbox", 10000))
        return -1;
    for (int i = 0; i < N_AGENTS; i++) {
        char cfg[700];
        if (write_agent_config(i, cfg, sizeof cfg) != 0)
            return -1;
        snprintf(log, sizeof log, "%s/n%d.log", fx.dir, i + 1);
        char *argv[] = {BOSUN_AGENT_BIN, "--config-file", cfg, "--log-level", "4", NULL};
        if (harness_proc_start(argv, log, &fx.agent[i]) != 0)
            return -1;
    }
    return 0;
}

static void stop_injector(void);

static int teardown(void **state)
{
    (void)state;
    stop_injector();
    for (int i = 0; i < N_AGENTS; i++)
        harness_proc_stop(fx.agent[i], 5000, NULL);
    int ws = -1;
    harness_proc_stop(fx.central, 5000, &ws);
    harness_natsd_stop(fx.natsd);
    if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0) { /* a sanitizer report exits non-zero */
        char path[700];
        snprintf(path, sizeof path, "%s/central.log", fx.dir);
        char *log = harness_read_file(path, NULL);
        fprintf(stderr, "central did not exit cleanly (status %d):\n%s\n", ws, log ? log : "");
        free(log);
        harness_rmtree(fx.dir);
        free(fx.dir);
        return -1;
    }
    harness_rmtree(fx.dir);
    free(fx.dir);
    return 0;
}

/* ---- conditions --------------------------------------------------------------------- */

/* The ACTIVE node of resource in /api/resources JSON j, or "". */
static const char *active_of(json_t *j, const char *resource)
{
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(j, "resources"), i, r)
        if (strcmp(json_string_value(json_object_get(r, "resource")) ?: "", resource) == 0)
            return json_string_value(json_object_get(r, "active")) ?: "";
    return "";
}

/* The agents are ALIVE in /api/nodes; n3 is ACTIVE for vip and n1 for db in /api/resources. */
static bool fleet_ready(void *arg)
{
    (void)arg;
    char *body;
    bool ok = false;
    if (http_get("/api/nodes", &body) == 200) {
        json_t *j = json_loads(body, 0, NULL);
        size_t i, alive = 0;
        json_t *n;
        json_array_foreach(json_object_get(j, "nodes"), i, n)
            if (strcmp(json_string_value(json_object_get(n, "status")) ?: "", "ALIVE") == 0)
                alive++;
        ok = alive == N_AGENTS;
        json_decref(j);
    }
    free(body);
    if (!ok || http_get("/api/resources", &body) != 200) {
        if (ok)
            free(body);
        return false;
    }
    json_t *j = json_loads(body, 0, NULL);
    ok = strcmp(active_of(j, "vip"), "n3") == 0 && strcmp(active_of(j, "db"), "n1") == 0;
    json_decref(j);
    free(body);
    return ok;
}

static bool health_down(void *arg)
{
    (void)arg;
    char *body;
    int st = http_get("/health", &body);
    free(body);
    return st == 503;
}

/* ---- the Prometheus text format, checked line by line ------------------------------- */

static bool metric_name_ok(const char *s, size_t n)
{
    if (n == 0 || !(isalpha((unsigned char)s[0]) || s[0] == '_' || s[0] == ':'))
        return false;
    for (size_t i = 1; i < n; i++)
        if (!(isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == ':'))
            return false;
    return true;
}

/* Parses {name="value",...}; returns the position after '}', or NULL. */
static const char *skip_labels(const char *p)
{
    p++;
    while (*p != '}') {
        const char *q = p;
        while (isalnum((unsigned char)*q) || *q == '_')
            q++;
        if (q == p || q[0] != '=' || q[1] != '"')
            return NULL;
        q += 2;
        while (*q && *q != '"' && *q != '\n') {
            if (*q == '\\')
                q++;
            q++;
        }
        if (*q != '"')
            return NULL;
        p = q + 1;
        if (*p == ',')
            p++;
        else if (*p != '}')
            return NULL;
    }
    return p + 1;
}

/* True when sample name s[0..n) belongs to family fam of type histogram or not. */
static bool in_family(const char *fam, bool histogram, const char *s, size_t n)
{
    size_t fl = strlen(fam);
    if (n == fl)
        return strncmp(fam, s, n) == 0;
    if (!histogram || n < fl || strncmp(fam, s, fl) != 0)
        return false;
    return (n - fl == 7 && strncmp(s + fl, "_bucket", 7) == 0) || (n - fl == 4 && strncmp(s + fl, "_sum", 4) == 0) ||
           (n - fl == 6 && strncmp(s + fl, "_count", 6) == 0);
}

static int by_string(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * Fails the test at the first malformed line; each sample needs its
 * family's TYPE before it, and no series may appear twice.
 */
static void check_exposition(const char *text)
{
    char typed[128][96];
    bool histogram[128] = {false};
    size_t n_typed = 0;
    size_t n_series = 0, cap_series = 0;
    char **series = NULL;
    const char *line = text;
    assert_true(*text != '\0');
    while (*line) {
        const char *end = strchr(line, '\n');
        assert_non_null(end); /* every line ends with \n */
        size_t len = (size_t)(end - line);
        char buf[512];
        assert_true(len < sizeof buf);
        memcpy(buf, line, len);
        buf[len] = '\0';
        if (strncmp(buf, "# HELP ", 7) == 0) {
            const char *sp = strchr(buf + 7, ' ');
            assert_non_null(sp);
            assert_true(metric_name_ok(buf + 7, (size_t)(sp - buf - 7)));
        } else if (strncmp(buf, "# TYPE ", 7) == 0) {
            char name[96], type[32];
            assert_int_equal(sscanf(buf + 7, "%95s %31s", name, type), 2);
            assert_true(metric_name_ok(name, strlen(name)));
            assert_true(strcmp(type, "gauge") == 0 || strcmp(type, "counter") == 0 ||
                        strcmp(type, "histogram") == 0 || strcmp(type, "summary") == 0 ||
                        strcmp(type, "untyped") == 0);
            for (size_t i = 0; i < n_typed; i++)
                assert_string_not_equal(typed[i], name); /* one TYPE per family */
            assert_true(n_typed < 128);
            histogram[n_typed] = strcmp(type, "histogram") == 0;
            snprintf(typed[n_typed++], sizeof typed[0], "%s", name);
        } else {
            assert_true(len > 0 && buf[0] != '#');
            size_t nl = strcspn(buf, "{ ");
            assert_true(metric_name_ok(buf, nl));
            bool known = false;
            for (size_t i = 0; i < n_typed; i++)
                known |= in_family(typed[i], histogram[i], buf, nl);
            if (!known)
                fail_msg("sample before its TYPE line: %s", buf);
            const char *p = buf + nl;
            if (*p == '{')
                assert_non_null(p = skip_labels(p));
            if (n_series == cap_series)
                series = realloc(series, (cap_series = cap_series ? 2 * cap_series : 256) * sizeof *series);
            series[n_series++] = strndup(buf, (size_t)(p - buf));
            assert_int_equal(*p, ' ');
            char *vend;
            strtod(p + 1, &vend);
            if (vend == p + 1 || *vend != '\0')
                fail_msg("bad sample value: %s", buf);
        }
        line = end + 1;
    }
    qsort(series, n_series, sizeof *series, by_string);
    for (size_t i = 0; i < n_series; i++) {
        if (i > 0 && strcmp(series[i - 1], series[i]) == 0)
            fail_msg("series twice: %s", series[i]);
    }
    for (size_t i = 0; i < n_series; i++)
        free(series[i]);
    free(series);
}

/* Writes text to a file and runs `promtool check metrics` on it, when promtool is installed. */
static void check_with_promtool(const char *text)
{
    char *probe[] = {"/bin/sh", "-c", "command -v promtool", NULL};
    int code = -1;
    char *out = NULL;
    if (harness_run(probe, 5000, &out, &code) == 0 && code == 0) {
        free(out);
        char path[700];
        snprintf(path, sizeof path, "%s/metrics.txt", fx.dir);
        assert_int_equal(harness_write_file(path, text), 0);
        char *check[] = {"/bin/sh", "-c", "promtool check metrics < \"$1\"", "sh", path, NULL};
        assert_int_equal(harness_run(check, 30000, &out, &code), 0);
        if (code != 0)
            fail_msg("promtool check metrics:\n%s", out);
    } else {
        print_message("promtool not installed: format checked in C only\n");
    }
    free(out);
}

/* The value of the sample that starts with prefix (name and labels, up to the space), or -1. */
static double sample_value(const char *text, const char *series)
{
    size_t n = strlen(series);
    for (const char *p = text; (p = strstr(p, series)) != NULL; p += n)
        if ((p == text || p[-1] == '\n') && p[n] == ' ')
            return strtod(p + n + 1, NULL);
    return -1;
}

/* ---- tests -------------------------------------------------------------------------- */

static void test_api_lists_the_nodes_and_the_owners(void **state)
{
    (void)state;
    assert_true(harness_wait_until(fleet_ready, NULL, 20000));
    char *body;
    assert_int_equal(http_get("/api/nodes", &body), 200);
    json_t *j = json_loads(body, 0, NULL);
    assert_non_null(j);
    json_t *nodes = json_object_get(j, "nodes");
    assert_int_equal(json_array_size(nodes), N_AGENTS);
    for (int i = 0; i < N_AGENTS; i++) {
        char name[8];
        snprintf(name, sizeof name, "n%d", i + 1);
        json_t *n = json_array_get(nodes, (size_t)i);
        assert_string_equal(json_string_value(json_object_get(n, "node")), name);
        assert_string_equal(json_string_value(json_object_get(n, "status")), "ALIVE");
        assert_non_null(json_object_get(json_object_get(n, "host"), "load1"));
        assert_true(json_integer_value(json_object_get(json_object_get(n, "counters"), "heartbeatsSent")) > 0);
    }
    json_decref(j);
    free(body);

    assert_int_equal(http_get("/api/resources", &body), 200);
    assert_non_null(j = json_loads(body, 0, NULL));
    assert_string_equal(active_of(j, "vip"), "n3");
    assert_string_equal(active_of(j, "db"), "n1");
    json_decref(j);
    free(body);

    assert_int_equal(http_get("/api/messages?limit=5", &body), 200);
    assert_non_null(j = json_loads(body, 0, NULL));
    assert_true(json_is_array(json_object_get(j, "messages")));
    json_decref(j);
    free(body);
    assert_int_equal(http_get("/api/messages?limit=x", &body), 400);
    free(body);
    assert_int_equal(http_get("/api/messages?limit=0", &body), 400);
    free(body);
    assert_int_equal(http_get("/api/messages?node=bad.name", &body), 400);
    assert_non_null(strstr(body, "node"));
    free(body);

    /* The dashboard: its page, script and style come from central, and nothing from elsewhere. */
    assert_int_equal(http_get("/", &body), 200);
    assert_non_null(strstr(body, "/dashboard.js"));
    assert_null(strstr(body, "http://"));
    assert_null(strstr(body, "https://"));
    free(body);
    assert_int_equal(http_get("/dashboard.js", &body), 200);
    assert_non_null(strstr(body, "/api/nodes"));
    assert_non_null(strstr(body, "/api/connectivity"));
    assert_null(strstr(body, "http://"));
    assert_null(strstr(body, "https://"));
    free(body);
    assert_int_equal(http_get("/dashboard.css", &body), 200);
    assert_null(strstr(body, "url("));
    free(body);
}

/* Every message in /api/messages has finished, and there are *(size_t *)arg of them. */
static bool all_finished(void *arg)
{
    char *body;
    bool ok = false;
    if (http_get("/api/messages?limit=10", &body) == 200) {
        json_t *j = json_loads(body, 0, NULL);
        json_t *msgs = json_object_get(j, "messages"), *m;
        size_t i;
        ok = json_array_size(msgs) == *(size_t *)arg;
        json_array_foreach(msgs, i, m)
            ok &= json_integer_value(json_object_get(m, "finished_ms")) > 0;
        json_decref(j);
    }
    free(body);
    return ok;
}

static void send_message(char *const *extra)
{
    char dir[700], *out = NULL;
    int code = -1;
    snprintf(dir, sizeof dir, "%s/central", fx.dir);
    char *argv[32] = {BOSUN_CENTRAL_BIN, "send", "--data-dir", dir};
    int n = 4;
    for (; *extra != NULL && n < 31; extra++)
        argv[n++] = *extra;
    argv[n] = NULL;
    assert_int_equal(harness_run(argv, 10000, &out, &code), 0);
    if (code != 0)
        fail_msg("bosun-central send: %s", out);
    free(out);
}

/* The node of message i in /api/messages?<query> JSON, or "". */
static const char *message_node(json_t *j, size_t i)
{
    json_t *m = json_object_get(json_array_get(json_object_get(j, "messages"), i), "message");
    return json_string_value(json_object_get(m, "node")) ?: "";
}

static void test_messages_show_results(void **state)
{
    (void)state;
    char *event[] = {"--to", "n1", "--method", "textLogging", "--event", "--", "via-http-test", NULL};
    char *ping[] = {"--to", "n2", "--method", "ping", NULL};
    send_message(event);
    send_message(ping);
    size_t two = 2;
    if (!harness_wait_until(all_finished, &two, 20000)) {
        char *body;
        http_get("/api/messages", &body);
        fail_msg("not two finished messages in /api/messages: %s", body);
    }
    /* Newest first, with its result. */
    char *body;
    json_t *j;
    assert_int_equal(http_get("/api/messages", &body), 200);
    assert_non_null(j = json_loads(body, 0, NULL));
    assert_string_equal(message_node(j, 0), "n2");
    assert_string_equal(message_node(j, 1), "n1");
    json_t *first = json_array_get(json_object_get(j, "messages"), 0);
    assert_string_equal(json_string_value(json_object_get(first, "status")), "OK");
    assert_non_null(json_object_get(first, "ack"));
    json_decref(j);
    free(body);
    /* The newest one only, and one node's only. */
    assert_int_equal(http_get("/api/messages?limit=1", &body), 200);
    assert_non_null(j = json_loads(body, 0, NULL));
    assert_int_equal(json_array_size(json_object_get(j, "messages")), 1);
    assert_string_equal(message_node(j, 0), "n2");
    json_decref(j);
    free(body);
    assert_int_equal(http_get("/api/messages?node=n1&limit=10", &body), 200);
    assert_non_null(j = json_loads(body, 0, NULL));
    assert_int_equal(json_array_size(json_object_get(j, "messages")), 1);
    assert_string_equal(message_node(j, 0), "n1");
    json_decref(j);
    free(body);

    assert_int_equal(http_get("/metrics", &body), 200);
    check_exposition(body);
    assert_non_null(strstr(body, "bosun_messages_accepted_total 2\n"));
    assert_non_null(strstr(body, "bosun_messages_delivered_total 2\n"));
    assert_non_null(strstr(body, "# TYPE bosun_message_delivery_seconds histogram\n"));
    assert_non_null(strstr(body, "bosun_message_delivery_seconds_bucket{le=\"+Inf\"} 2\n"));
    assert_non_null(strstr(body, "bosun_message_delivery_seconds_count 2\n"));
    /* Loopback: both finished well within 10 s. */
    assert_true(sample_value(body, "bosun_message_delivery_seconds_bucket{le=\"10\"}") == 2);
    assert_true(sample_value(body, "bosun_message_delivery_seconds_sum") < 20);
    free(body);

    /* Nobody serves "ghost": every attempt finds no responder; two retries, then it expires. */
    char *ghost[] = {"--to", "ghost", "--method", "ping", "--retries", "2", "--retry-wait", "0.05",
                     "--ack-timeout", "0.5", NULL};
    send_message(ghost);
    size_t three = 3;
    assert_true(harness_wait_until(all_finished, &three, 20000));
    assert_int_equal(http_get("/metrics", &body), 200);
    check_exposition(body);
    if (strstr(body, "bosun_messages_retried_total 2\n") == NULL ||
        strstr(body, "bosun_messages_finished_total{status=\"expired\"} 1\n") == NULL ||
        strstr(body, "bosun_message_delivery_seconds_count 3\n") == NULL)
        fail_msg("retries, expiry or latency not counted:\n%s", body);
    assert_non_null(strstr(body, "bosun_messages_delivered_total 2\n"));
    free(body);
}

static void test_metrics_are_well_formed_and_complete(void **state)
{
    (void)state;
    assert_true(harness_wait_until(fleet_ready, NULL, 20000));
    char *body;
    assert_int_equal(http_get("/metrics", &body), 200);
    check_exposition(body);
    static const char *const expected[] = {
        "bosun_nodes{status=\"alive\"} 3\n",
        "# TYPE bosun_node_last_heartbeat_age_seconds gauge\n",
        "# TYPE bosun_node_clock_offset_seconds gauge\n",
        "# TYPE bosun_node_rtt_seconds gauge\n",
        "bosun_resource_active{resource=\"vip\",node=\"n3\"} 1\n",
        "bosun_resource_active{resource=\"db\",node=\"n1\"} 1\n",
        "bosun_resource_active_nodes{resource=\"vip\"} 1\n",
        "bosun_resource_active_nodes{resource=\"db\"} 1\n",
        "# TYPE bosun_resource_transitions_total counter\n",
        "bosun_messages{state=\"pending\"} 0\n",
        "# TYPE bosun_messages_accepted_total counter\n",
        "# TYPE bosun_messages_delivered_total counter\n",
        "# TYPE bosun_messages_finished_total counter\n",
        "bosun_messages_finished_total{status=\"ok\"} 0\n",
        "bosun_messages_finished_total{status=\"failed\"} 0\n",
        "bosun_messages_finished_total{status=\"expired\"} 0\n",
        "bosun_messages_retried_total 0\n",
        "# TYPE bosun_message_delivery_seconds histogram\n",
        "bosun_message_delivery_seconds_count 0\n",
        "# TYPE bosun_connectivity_up gauge\n",
        "# TYPE bosun_connectivity_rtt_seconds gauge\n",
        "# TYPE bosun_recorder_bytes_total counter\n",
        "# TYPE bosun_recorder_files_total counter\n",
        "# TYPE bosun_recorder_dropped_total counter\n",
        "bosun_nats_connected 1\n",
    };
    for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++)
        if (strstr(body, expected[i]) == NULL)
            fail_msg("/metrics lacks '%s':\n%s", expected[i], body);
    assert_null(strstr(body, "resource=\"vip\",node=\"n1\"} 1\n")); /* n1 is not ACTIVE for vip */
    /* Each resource got its owner at least once since central started. */
    assert_true(sample_value(body, "bosun_resource_transitions_total{resource=\"vip\"}") >= 1);
    assert_true(sample_value(body, "bosun_resource_transitions_total{resource=\"db\"}") >= 1);

    /* Per node: the heartbeat age and each of the agent's own counters, as reported in its heartbeats. */
    static const char *const per_node[] = {
        "bosun_node_last_heartbeat_age_seconds",
        "bosun_agent_heartbeats_sent_total",
        "bosun_agent_commands_received_total",
        "bosun_agent_commands_finished_total{node=\"%s\",outcome=\"ok\"}",
        "bosun_agent_commands_finished_total{node=\"%s\",outcome=\"failed\"}",
        "bosun_agent_commands_finished_total{node=\"%s\",outcome=\"rejected\"}",
        "bosun_agent_commands_duplicate_total",
        "bosun_agent_events_received_total",
        "bosun_agent_malformed_messages_total",
        "bosun_agent_election_packets_sent_total",
        "bosun_agent_election_packets_received_total",
        "bosun_agent_election_packets_dropped_total",
        "bosun_agent_election_transitions_total",
        "bosun_agent_nats_reconnects_total",
        "bosun_agent_election_send_errors_total",
        "bosun_agent_election_receive_errors_total",
        "bosun_agent_election_script_failures_total",
        "bosun_agent_probes_total",
        "bosun_agent_probes_failed_total",
    };
    for (int i = 0; i < N_AGENTS; i++) {
        char node[8];
        snprintf(node, sizeof node, "n%d", i + 1);
        for (size_t k = 0; k < sizeof per_node / sizeof per_node[0]; k++) {
            char series[160];
            if (strchr(per_node[k], '{') != NULL)
                snprintf(series, sizeof series, per_node[k], node);
            else
                snprintf(series, sizeof series, "%s{node=\"%s\"}", per_node[k], node);
            if (sample_value(body, series) < 0)
                fail_msg("/metrics lacks %s:\n%s", series, body);
        }
        char series[160];
        snprintf(series, sizeof series, "# TYPE bosun_agent_heartbeats_sent_total counter\n");
        assert_non_null(strstr(body, series));
        /* Values are the agents' own: they sent heartbeats, and elections moved packets. */
        snprintf(series, sizeof series, "bosun_agent_heartbeats_sent_total{node=\"%s\"}", node);
        assert_true(sample_value(body, series) >= 1);
        snprintf(series, sizeof series, "bosun_agent_election_packets_received_total{node=\"%s\"}", node);
        assert_true(sample_value(body, series) >= 1);
    }
    assert_true(sample_value(body, "bosun_agent_election_transitions_total{node=\"n3\"}") >= 1);
    check_with_promtool(body);
    free(body);
}

/* ---- connectivity: a test node's heartbeats carry probes ------------------------------ */

/*
 * What "probe-src" reports: n1 fine, n2 not on TCP, n3 not at all, n1 again, a hostile name, and
 * n4 whose address it does not know (TCP not measured: neither a failure nor a tcp series).
 */
typedef struct {
    const char *target;
    bool tcp_tested, tcp_ok, nats_ok;
    uint32_t tcp_us, nats_us;
    const char *error;
} probe_in_t;

static const probe_in_t probes_in[] = {
    {"n1", true, true, true, 250, 900, ""},
    {"n2", true, false, true, 0, 1200, "connect: Connection refused"},
    {"n3", true, false, false, 0, 0, "timeout after 2000 ms"},
    {"n1", true, true, true, 260, 910, ""}, /* a repeat: central keeps one of them */
    {"evil\"tar\\get", true, false, false, 0, 0, "no such node"},
    {"n4", false, false, true, 0, 700, ""},
};
#define N_PROBES_IN (sizeof probes_in / sizeof probes_in[0])

static struct {
    pthread_t thread;
    bool running;
    atomic_bool stop;
    natsConnection *nc;
    uint64_t seq;
} inj;

/* Publishes one real Heartbeat of "probe-src" with probes_in[], measured 1 s before it is sent. */
static void publish_probe_heartbeat(void)
{
    Bosun__Heartbeat hb = BOSUN__HEARTBEAT__INIT;
    Bosun__ProbeResult pr[N_PROBES_IN], *prp[N_PROBES_IN];
    uint64_t now = bosun_wall_ms();
    hb.node = "probe-src";
    hb.instance_id = 0x7e57;
    hb.sequence = ++inj.seq;
    hb.boot_time_ms = now - 60000;
    hb.send_time_ms = now;
    hb.pid = 4242;
    hb.version = "test";
    hb.interval_ms = 200;
    for (size_t i = 0; i < N_PROBES_IN; i++) {
        bosun__probe_result__init(&pr[i]);
        pr[i].target = (char *)probes_in[i].target;
        pr[i].tcp_tested = probes_in[i].tcp_tested;
        pr[i].tcp_ok = probes_in[i].tcp_ok;
        pr[i].nats_ok = probes_in[i].nats_ok;
        pr[i].tcp_connect_us = probes_in[i].tcp_us;
        pr[i].nats_rtt_us = probes_in[i].nats_us;
        pr[i].time_ms = now - 1000;
        pr[i].error = (char *)probes_in[i].error;
        prp[i] = &pr[i];
    }
    hb.probes = prp;
    hb.n_probes = N_PROBES_IN;
    uint8_t buf[2048];
    size_t len = bosun__heartbeat__pack(&hb, buf);
    natsConnection_Publish(inj.nc, "probe-src.event.heartbeat", buf, (int)len);
}

static void *inject_main(void *arg)
{
    (void)arg;
    while (!atomic_load(&inj.stop)) {
        publish_probe_heartbeat();
        usleep(200 * 1000);
    }
    return NULL;
}

/* Stops the injecting thread, if it runs (also after a failed assertion). */
static void stop_injector(void)
{
    if (inj.nc == NULL)
        return;
    atomic_store(&inj.stop, true);
    if (inj.running)
        pthread_join(inj.thread, NULL);
    inj.running = false;
    natsConnection_Destroy(inj.nc);
    inj.nc = NULL;
}

/* /api/connectivity lists probe-src's cells. */
static bool matrix_ready(void *arg)
{
    (void)arg;
    char *body;
    bool ok = false;
    if (http_get("/api/connectivity", &body) == 200) {
        json_t *j = json_loads(body, 0, NULL);
        ok = json_array_size(json_object_get(j, "cells")) == N_PROBES_IN - 1; /* n1 once */
        json_decref(j);
    }
    free(body);
    return ok;
}

/* The cell source -> target in /api/connectivity JSON j, or NULL. */
static json_t *cell_of(json_t *j, const char *source, const char *target)
{
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(j, "cells"), i, c)
        if (strcmp(json_string_value(json_object_get(c, "source")) ?: "", source) == 0 &&
            strcmp(json_string_value(json_object_get(c, "target")) ?: "", target) == 0)
            return c;
    return NULL;
}

static bool json_bool_at(json_t *o, const char *a, const char *b)
{
    return json_is_true(json_object_get(json_object_get(o, a), b));
}

static void test_connectivity_from_heartbeat_probes(void **state)
{
    (void)state;
    assert_non_null(inj.nc = client_connect(harness_natsd_url(fx.natsd)));
    atomic_store(&inj.stop, false);
    assert_int_equal(pthread_create(&inj.thread, NULL, inject_main, NULL), 0);
    inj.running = true;
    bool ready = harness_wait_until(matrix_ready, NULL, 10000);
    char *body = NULL;
    json_t *j = NULL;

    if (!ready) {
        http_get("/api/connectivity", &body);
        fail_msg("probe-src's probes not in /api/connectivity: %s", body);
    }
    assert_int_equal(http_get("/api/connectivity", &body), 200);
    assert_non_null(j = json_loads(body, 0, NULL));
    json_t *nodes = json_object_get(j, "nodes");
    assert_int_equal(json_array_size(nodes), 6); /* evil"tar\get, n1, n2, n3, n4, probe-src */
    assert_string_equal(json_string_value(json_array_get(nodes, 5)), "probe-src");
    assert_int_equal(json_integer_value(json_object_get(j, "failingCells")), 3);
    assert_int_equal(json_array_size(json_object_get(j, "failing")), 3);
    json_t *c = cell_of(j, "probe-src", "n2");
    assert_non_null(c);
    assert_false(json_bool_at(c, "tcp", "up"));
    assert_true(json_bool_at(c, "nats", "up"));
    assert_int_equal(json_integer_value(json_object_get(json_object_get(c, "nats"), "us")), 1200);
    assert_string_equal(json_string_value(json_object_get(c, "error")), "connect: Connection refused");
    assert_string_equal(json_string_value(json_object_get(c, "sourceStatus")), "ALIVE");
    /* Measured 1 s before its heartbeat left: the age says so, whatever the clocks. */
    json_int_t age = json_integer_value(json_object_get(c, "ageMs"));
    assert_true(age >= 1000 && age < 5000);
    /* No address known for n4: TCP not measured, and the link is not failing (failingCells is 3). */
    c = cell_of(j, "probe-src", "n4");
    assert_non_null(c);
    assert_false(json_bool_at(c, "tcp", "tested"));
    assert_true(json_bool_at(c, "nats", "up"));
    c = cell_of(j, "probe-src", "n1");
    assert_true(json_bool_at(c, "tcp", "tested"));
    assert_true(json_bool_at(c, "tcp", "up") && json_bool_at(c, "nats", "up"));
    json_int_t us = json_integer_value(json_object_get(json_object_get(c, "tcp"), "us"));
    assert_true(us == 250 || us == 260);
    json_decref(j);
    free(body);

    /* At most 2 nodes: those in failing cells first; filtered: names containing "N3" (any case). */
    assert_int_equal(http_get("/api/connectivity?limit=2", &body), 200);
    assert_non_null(j = json_loads(body, 0, NULL));
    assert_int_equal(json_array_size(json_object_get(j, "nodes")), 2);
    assert_true(json_is_true(json_object_get(j, "truncated")));
    assert_int_equal(json_integer_value(json_object_get(j, "totalNodes")), 6);
    json_decref(j);
    free(body);
    assert_int_equal(http_get("/api/connectivity?filter=N3", &body), 200);
    assert_non_null(j = json_loads(body, 0, NULL));
    assert_int_equal(json_array_size(json_object_get(j, "nodes")), 1);
    assert_string_equal(json_string_value(json_array_get(json_object_get(j, "nodes"), 0)), "n3");
    /* The failing links of n3 are listed though the matrix has no cell for them. */
    assert_int_equal(json_array_size(json_object_get(j, "cells")), 0);
    assert_int_equal(json_array_size(json_object_get(j, "failing")), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(j, "failing"), 0), "target")),
                        "n3");
    json_decref(j);
    free(body);
    assert_int_equal(http_get("/api/connectivity?limit=-1", &body), 400);
    free(body);

    assert_int_equal(http_get("/metrics", &body), 200);
    check_exposition(body); /* also: the repeated n1 gives no series twice */
    static const struct {
        const char *series;
        double value;
    } want[] = {
        {"bosun_connectivity_up{source=\"probe-src\",target=\"n1\",probe=\"tcp\"}", 1},
        {"bosun_connectivity_up{source=\"probe-src\",target=\"n1\",probe=\"nats\"}", 1},
        {"bosun_connectivity_up{source=\"probe-src\",target=\"n2\",probe=\"tcp\"}", 0},
        {"bosun_connectivity_up{source=\"probe-src\",target=\"n2\",probe=\"nats\"}", 1},
        {"bosun_connectivity_up{source=\"probe-src\",target=\"n3\",probe=\"tcp\"}", 0},
        {"bosun_connectivity_up{source=\"probe-src\",target=\"n3\",probe=\"nats\"}", 0},
        {"bosun_connectivity_up{source=\"probe-src\",target=\"evil\\\"tar\\\\get\",probe=\"tcp\"}", 0},
        {"bosun_connectivity_rtt_seconds{source=\"probe-src\",target=\"n2\",probe=\"nats\"}", 0.0012},
        {"bosun_connectivity_up{source=\"probe-src\",target=\"n4\",probe=\"nats\"}", 1},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        double v = sample_value(body, want[i].series);
        if (v < want[i].value - 1e-9 || v > want[i].value + 1e-9)
            fail_msg("%s is %g, expected %g:\n%s", want[i].series, v, want[i].value, body);
    }
    /* One of the repeated n1 probes is kept (250 or 260 us): one series. */
    double rtt = sample_value(body, "bosun_connectivity_rtt_seconds{source=\"probe-src\",target=\"n1\",probe=\"tcp\"}");
    assert_true(rtt > 0.000249 && rtt < 0.000261);
    /* No round trip for a probe that failed. */
    assert_true(sample_value(body, "bosun_connectivity_rtt_seconds{source=\"probe-src\",target=\"n2\",probe=\"tcp\"}") < 0);
    assert_true(sample_value(body, "bosun_connectivity_rtt_seconds{source=\"probe-src\",target=\"n3\",probe=\"nats\"}") < 0);
    /* TCP to n4 was not measured: no tcp series at all rather than a false "down". */
    assert_true(sample_value(body, "bosun_connectivity_up{source=\"probe-src\",target=\"n4\",probe=\"tcp\"}") < 0);
    check_with_promtool(body);
    free(body);

    stop_injector();
}

static void test_unknown_paths_and_methods(void **state)
{
    (void)state;
    char *body;
    assert_int_equal(http_get("/nope", &body), 404);
    free(body);
    assert_int_equal(http_get("/api/nodes/extra", &body), 404);
    free(body);
    assert_int_equal(http_do("POST", "/health", &body), 405);
    free(body);
    assert_int_equal(http_do("DELETE", "/metrics", &body), 405);
    free(body);
}

static void test_health_follows_the_nats_link(void **state)
{
    (void)state;
    char *body, *out = NULL;
    assert_int_equal(http_get("/health", &body), 200);
    json_t *j = json_loads(body, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(j, "status")), "ok");
    assert_string_equal(json_string_value(json_object_get(j, "nats")), "connected");
    assert_string_equal(json_string_value(json_object_get(j, "store")), "ok");
    json_decref(j);
    free(body);
    assert_int_equal(run_health_tool(&out), 0);
    assert_non_null(strstr(out, "\"connected\""));
    free(out);

    assert_int_equal(harness_natsd_kill(fx.natsd), 0);
    assert_true(harness_wait_until(health_down, NULL, 10000));
    assert_int_equal(http_get("/health", &body), 503);
    assert_non_null(strstr(body, "\"disconnected\""));
    assert_non_null(strstr(body, "\"degraded\""));
    free(body);
    assert_int_equal(http_get("/metrics", &body), 200);
    assert_non_null(strstr(body, "bosun_nats_connected 0\n"));
    free(body);
    assert_int_equal(run_health_tool(&out), 1);
    assert_non_null(strstr(out, "\"disconnected\""));
    free(out);
}

static void test_health_tool_fails_without_a_server(void **state)
{
    (void)state;
    char *argv[] = {BOSUN_CENTRAL_BIN, "health", "--http", "127.0.0.1:1", NULL};
    int code = -1;
    char *out = NULL;
    assert_int_equal(harness_run(argv, 10000, &out, &code), 0);
    assert_int_equal(code, 1);
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_api_lists_the_nodes_and_the_owners),
        cmocka_unit_test(test_metrics_are_well_formed_and_complete),
        cmocka_unit_test(test_unknown_paths_and_methods),
        cmocka_unit_test(test_messages_show_results),
        cmocka_unit_test(test_connectivity_from_heartbeat_probes),
        cmocka_unit_test(test_health_follows_the_nats_link), /* last: kills the nats-server */
        cmocka_unit_test(test_health_tool_fails_without_a_server),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
