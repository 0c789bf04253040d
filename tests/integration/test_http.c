/*
 * test_http.c - central's HTTP server (issue 7) with real processes: a
 * nats-server, bosun-central listening on 127.0.0.1:<free port>, and two
 * real agents (n1, n2) electing an owner for "vip" (n2 has the higher
 * priority).
 *
 * - /api/nodes lists both nodes ALIVE; /api/resources names n2 ACTIVE.
 * - /metrics holds the expected series and both nodes, and is well formed
 *   text format 0.0.4 (checked here line by line, and by `promtool check
 *   metrics` when promtool is installed).
 * - /api/messages answers JSON, and shows a message sent with
 *   `bosun-central send` once it is finished; unknown paths are 404, POST
 *   is 405.
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
#include <unistd.h>

#include "harness.h"

#define N_AGENTS 2

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

static int write_agent_config(int i, char *path, size_t cap)
{
    char json[2048];
    snprintf(path, cap, "%s/n%d.json", fx.dir, i + 1);
    snprintf(json, sizeof json,
             "{\"id\": \"n%d\", \"dataDir\": \"%s/n%d\", \"nats\": {\"servers\": [\"%s\"]},\n"
             " \"networking\": {\"interfaceName\": \"lo\", \"address\": \"239.255.77.%d\", \"port\": %d,"
             " \"cryptoPassword\": \"http-test\"},\n"
             " \"resources\": [{\"id\": \"vip\", \"priority\": %d}],\n"
             " \"timing\": {\"heartbeatIntervalMs\": 200, \"txIntervalSecs\": 0.1,"
             " \"transitionWaitSecs\": 0.3}}\n",
             i + 1, fx.dir, i + 1, harness_natsd_url(fx.natsd), 1 + getpid() % 250, fx.mcast_port,
             110 + 10 * i);
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

static int teardown(void **state)
{
    (void)state;
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

/* Both agents are ALIVE in /api/nodes, and n2 is ACTIVE for vip in /api/resources. */
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
    json_t *r = json_array_get(json_object_get(j, "resources"), 0);
    ok = r && strcmp(json_string_value(json_object_get(r, "resource")) ?: "", "vip") == 0 &&
         strcmp(json_string_value(json_object_get(r, "active")) ?: "", "n2") == 0;
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

/* Fails the test at the first malformed line; each sample needs its family's TYPE before it. */
static void check_exposition(const char *text)
{
    char typed[64][96];
    size_t n_typed = 0;
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
            assert_true(n_typed < 64);
            snprintf(typed[n_typed++], sizeof typed[0], "%s", name);
        } else {
            assert_true(len > 0 && buf[0] != '#');
            size_t nl = strcspn(buf, "{ ");
            assert_true(metric_name_ok(buf, nl));
            bool known = false;
            for (size_t i = 0; i < n_typed; i++)
                known |= strlen(typed[i]) == nl && strncmp(typed[i], buf, nl) == 0;
            if (!known)
                fail_msg("sample before its TYPE line: %s", buf);
            const char *p = buf + nl;
            if (*p == '{')
                assert_non_null(p = skip_labels(p));
            assert_int_equal(*p, ' ');
            char *vend;
            strtod(p + 1, &vend);
            if (vend == p + 1 || *vend != '\0')
                fail_msg("bad sample value: %s", buf);
        }
        line = end + 1;
    }
}

/* ---- tests -------------------------------------------------------------------------- */

static void test_api_lists_both_nodes_and_the_owner(void **state)
{
    (void)state;
    assert_true(harness_wait_until(fleet_ready, NULL, 20000));
    char *body;
    assert_int_equal(http_get("/api/nodes", &body), 200);
    json_t *j = json_loads(body, 0, NULL);
    assert_non_null(j);
    json_t *nodes = json_object_get(j, "nodes");
    assert_int_equal(json_array_size(nodes), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(nodes, 0), "node")), "n1");
    assert_string_equal(json_string_value(json_object_get(json_array_get(nodes, 1), "node")), "n2");
    assert_non_null(json_object_get(json_object_get(json_array_get(nodes, 0), "host"), "load1"));
    json_decref(j);
    free(body);

    assert_int_equal(http_get("/api/messages?limit=5", &body), 200);
    assert_non_null(j = json_loads(body, 0, NULL));
    assert_true(json_is_array(json_object_get(j, "messages")));
    json_decref(j);
    free(body);
    assert_int_equal(http_get("/api/messages?limit=x", &body), 400);
    free(body);

    assert_int_equal(http_get("/", &body), 200);
    assert_non_null(strstr(body, "/api/nodes"));
    assert_null(strstr(body, "http://")); /* no network fetches */
    assert_null(strstr(body, "https://"));
    free(body);
}

/* One finished message in /api/messages. */
static bool one_result(void *arg)
{
    (void)arg;
    char *body;
    bool ok = false;
    if (http_get("/api/messages?limit=10", &body) == 200) {
        json_t *j = json_loads(body, 0, NULL);
        json_t *m = json_array_get(json_object_get(j, "messages"), 0);
        ok = json_array_size(json_object_get(j, "messages")) == 1 && json_object_get(m, "status") != NULL &&
             strcmp(json_string_value(json_object_get(m, "status")) ?: "", "RUNNING") != 0;
        json_decref(j);
    }
    free(body);
    return ok;
}

static void test_messages_show_results(void **state)
{
    (void)state;
    char dir[700], *out = NULL;
    int code = -1;
    snprintf(dir, sizeof dir, "%s/central", fx.dir);
    char *argv[] = {BOSUN_CENTRAL_BIN, "send", "--data-dir", dir, "--to", "n1", "--method", "textLogging",
                    "--event", "--", "via-http-test", NULL};
    assert_int_equal(harness_run(argv, 10000, &out, &code), 0);
    assert_int_equal(code, 0);
    free(out);
    if (!harness_wait_until(one_result, NULL, 20000)) {
        char *body;
        http_get("/api/messages", &body);
        fail_msg("no finished message in /api/messages: %s", body);
    }
    char *body;
    assert_int_equal(http_get("/metrics", &body), 200);
    check_exposition(body);
    assert_non_null(strstr(body, "bosun_messages_accepted_total 1\n"));
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
        "bosun_nodes{status=\"alive\"} 2\n",
        "# TYPE bosun_node_last_heartbeat_age_seconds gauge\n",
        "bosun_node_last_heartbeat_age_seconds{node=\"n1\"} ",
        "bosun_node_last_heartbeat_age_seconds{node=\"n2\"} ",
        "# TYPE bosun_node_clock_offset_seconds gauge\n",
        "# TYPE bosun_node_rtt_seconds gauge\n",
        "bosun_resource_active{resource=\"vip\",node=\"n2\"} 1\n",
        "bosun_messages{state=\"pending\"} 0\n",
        "# TYPE bosun_messages_finished_total counter\n",
        "bosun_messages_finished_total{status=\"ok\"} 0\n",
        "# TYPE bosun_recorder_bytes_total counter\n",
        "# TYPE bosun_recorder_files_total counter\n",
        "# TYPE bosun_recorder_dropped_total counter\n",
        "bosun_nats_connected 1\n",
    };
    for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++)
        if (strstr(body, expected[i]) == NULL)
            fail_msg("/metrics lacks '%s':\n%s", expected[i], body);
    assert_null(strstr(body, "node=\"n1\"} 1\n")); /* n1 is not ACTIVE */

    char *probe[] = {"/bin/sh", "-c", "command -v promtool", NULL};
    int code = -1;
    char *out = NULL;
    if (harness_run(probe, 5000, &out, &code) == 0 && code == 0) {
        free(out);
        char path[700];
        snprintf(path, sizeof path, "%s/metrics.txt", fx.dir);
        assert_int_equal(harness_write_file(path, body), 0);
        char *check[] = {"/bin/sh", "-c", "promtool check metrics < \"$1\"", "sh", path, NULL};
        assert_int_equal(harness_run(check, 30000, &out, &code), 0);
        if (code != 0)
            fail_msg("promtool check metrics:\n%s", out);
    } else {
        print_message("promtool not installed: format checked in C only\n");
    }
    free(out);
    free(body);
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
        cmocka_unit_test(test_api_lists_both_nodes_and_the_owner),
        cmocka_unit_test(test_metrics_are_well_formed_and_complete),
        cmocka_unit_test(test_unknown_paths_and_methods),
        cmocka_unit_test(test_messages_show_results),
        cmocka_unit_test(test_health_follows_the_nats_link), /* last: kills the nats-server */
        cmocka_unit_test(test_health_tool_fails_without_a_server),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
