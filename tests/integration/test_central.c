/*
 * test_central.c - central's inbox, durable outbox and delivery with real
 * processes: a nats-server, three agents and bosun-central (issue 5).
 *
 * Messages are dropped into inmsg.txt as an operator would; outcomes are
 * read back with `bosun-central results`, and what ran is read from the
 * agents' textLogging.log files (an agent appends a line once per run).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "harness.h"

#define NODES 3

typedef struct {
    harness_natsd_t *natsd;
    char *dir;
    char central_dir[600];
    char inmsg[700];
    char central_cfg[700];
    harness_proc_t *central;
    harness_proc_t *agent[NODES];
    char agent_cfg[NODES][700];
    char agent_dir[NODES][700];
} fx_t;

static fx_t fx;

static void start_agent(int i)
{
    char log[800];
    snprintf(log, sizeof log, "%s/n%d.log", fx.dir, i + 1);
    char *argv[] = {BOSUN_AGENT_BIN, "--config-file", fx.agent_cfg[i], "--log-level", "4", NULL};
    assert_int_equal(harness_proc_start(argv, log, &fx.agent[i]), 0);
}

static void start_central(void)
{
    char log[800];
    snprintf(log, sizeof log, "%s/central.log", fx.dir);
    char *argv[] = {BOSUN_CENTRAL_BIN, "--config-file", fx.central_cfg, "--log-level", "4", NULL};
    assert_int_equal(harness_proc_start(argv, log, &fx.central), 0);
    assert_true(harness_proc_wait_log(fx.central, "running: inbox", 10000));
}

static int setup(void **state)
{
    (void)state;
    memset(&fx, 0, sizeof fx);
    fx.dir = harness_tmpdir("central");
    if (fx.dir == NULL || harness_natsd_start(NULL, &fx.natsd) != 0)
        return -1;
    snprintf(fx.central_dir, sizeof fx.central_dir, "%s/central", fx.dir);
    snprintf(fx.inmsg, sizeof fx.inmsg, "%s/inmsg.txt", fx.central_dir);
    snprintf(fx.central_cfg, sizeof fx.central_cfg, "%s/central.json", fx.dir);
    char json[2048];
    snprintf(json, sizeof json,
             "{\"id\": \"central\", \"dataDir\": \"%s\", \"nats\": {\"servers\": [\"%s\"]},\n"
             " \"delivery\": {\"ackTimeoutSecs\": 1, \"retryWaitSecs\": 0.2, \"maxRetryWaitSecs\": 2}}\n",
             fx.central_dir, harness_natsd_url(fx.natsd));
    if (harness_write_file(fx.central_cfg, json) != 0)
        return -1;
    for (int i = 0; i < NODES; i++) {
        snprintf(fx.agent_dir[i], sizeof fx.agent_dir[i], "%s/n%d", fx.dir, i + 1);
        snprintf(fx.agent_cfg[i], sizeof fx.agent_cfg[i], "%s/n%d.json", fx.dir, i + 1);
        snprintf(json, sizeof json,
                 "{\"id\": \"n%d\", \"dataDir\": \"%s\", \"nats\": {\"servers\": [\"%s\"]}}\n", i + 1,
                 fx.agent_dir[i], harness_natsd_url(fx.natsd));
        if (harness_write_file(fx.agent_cfg[i], json) != 0)
            return -1;
        start_agent(i);
    }
    start_central();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    harness_proc_stop(fx.central, 5000, NULL);
    for (int i = 0; i < NODES; i++)
        harness_proc_stop(fx.agent[i], 5000, NULL);
    harness_natsd_stop(fx.natsd);
    harness_rmtree(fx.dir);
    free(fx.dir);
    return 0;
}

/* Appends text to inmsg.txt in one write, as `cat m.json >> inmsg.txt` does. */
static void drop(const char *text)
{
    int fd = open(fx.inmsg, O_WRONLY | O_APPEND | O_CREAT, 0660);
    assert_true(fd >= 0);
    size_t len = strlen(text);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    close(fd);
}

/* Finished results as a JSON array (from `bosun-central results`). */
static json_t *results(void)
{
    char *out = NULL;
    int code = -1;
    char *argv[] = {BOSUN_CENTRAL_BIN, "results", "--data-dir", fx.central_dir, NULL};
    if (harness_run(argv, 20000, &out, &code) != 0 || code != 0) {
        free(out);
        return json_array();
    }
    json_t *all = json_array();
    for (char *save = NULL, *line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        json_t *j = json_loads(line, 0, NULL);
        if (j != NULL)
            json_array_append_new(all, j);
    }
    free(out);
    return all;
}

/* Waits until at least n results are finished; returns them. */
static json_t *wait_results(size_t n, int timeout_ms)
{
    for (int waited = 0;; waited += 200) {
        json_t *r = results();
        if (json_array_size(r) >= n || waited >= timeout_ms)
            return r;
        json_decref(r);
        usleep(200000);
    }
}

static const char *str(json_t *obj, const char *path1, const char *path2)
{
    json_t *v = json_object_get(obj, path1);
    if (path2 != NULL)
        v = json_object_get(v, path2);
    return json_string_value(v);
}

/* The lines of node i's textLogging.log. */
static json_t *ran_on(int i)
{
    char path[800];
    snprintf(path, sizeof path, "%s/textLogging.log", fx.agent_dir[i]);
    char *text = harness_read_file(path, NULL);
    json_t *lines = json_array();
    for (char *save = NULL, *l = text ? strtok_r(text, "\n", &save) : NULL; l; l = strtok_r(NULL, "\n", &save))
        json_array_append_new(lines, json_string(l));
    free(text);
    return lines;
}

/* Checks: n results, all OK, each marker ran exactly once, per node in accept order. */
static void check_exactly_once_in_order(json_t *res, size_t n)
{
    assert_int_equal(json_array_size(res), n);
    /* results come in accept order; per node, the agent's lines must follow it. */
    for (int i = 0; i < NODES; i++) {
        char node[8];
        snprintf(node, sizeof node, "n%d", i + 1);
        json_t *ran = ran_on(i);
        size_t k = 0, idx;
        json_t *r;
        json_array_foreach(res, idx, r) {
            if (strcmp(str(r, "message", "node"), node) != 0)
                continue;
            assert_string_equal(str(r, "status", NULL), "OK");
            const char *marker = json_string_value(json_array_get(json_object_get(json_object_get(r, "message"), "data"), 0));
            const char *line = json_string_value(json_array_get(ran, k));
            if (line == NULL || strcmp(line, marker) != 0)
                fprintf(stderr, "node %s: run %zu was '%s', accept order says '%s'\n", node, k,
                        line ? line : "(none)", marker);
            assert_non_null(line);
            assert_string_equal(line, marker);
            k++;
        }
        assert_int_equal(json_array_size(ran), k); /* nothing ran twice or unasked */
        json_decref(ran);
    }
}

static void test_ten_writers_thousand_messages_exactly_once_in_order(void **state)
{
    (void)state;
    pid_t kids[10];
    for (int w = 0; w < 10; w++) {
        kids[w] = fork();
        assert_true(kids[w] >= 0);
        if (kids[w] == 0) {
            for (int i = 0; i < 100; i++) {
                char d[256];
                snprintf(d, sizeof d,
                         "[{\"toNode\": \"n%d\", \"commandOrEvent\": \"command\", \"method\": "
                         "\"textLogging\", \"data\": [\"w%d-%03d\"]}]\n",
                         1 + (w + i) % NODES, w, i);
                int fd = open(fx.inmsg, O_WRONLY | O_APPEND | O_CREAT, 0660);
                if (fd < 0 || write(fd, d, strlen(d)) != (ssize_t)strlen(d))
                    _exit(1);
                close(fd);
                if (i % 10 == 0)
                    usleep(1000);
            }
            _exit(0);
        }
    }
    for (int w = 0; w < 10; w++) {
        int ws;
        assert_int_equal(waitpid(kids[w], &ws, 0), kids[w]);
        assert_true(WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
    }
    json_t *res = wait_results(1000, 60000);
    check_exactly_once_in_order(res, 1000);
    /* Each writer's own drops were accepted in the order it wrote them. */
    int last[10];
    memset(last, -1, sizeof last);
    size_t idx;
    json_t *r;
    json_array_foreach(res, idx, r) {
        int w, i;
        const char *marker = json_string_value(json_array_get(json_object_get(json_object_get(r, "message"), "data"), 0));
        assert_int_equal(sscanf(marker, "w%d-%d", &w, &i), 2);
        assert_true(i > last[w]);
        last[w] = i;
    }
    json_decref(res);
}

static void test_bad_drops_are_rejected_with_reasons_rest_delivered(void **state)
{
    (void)state;
    drop("[{\"toNode\": \"n1\", \"method\": \"textLogging\", \"commandOrEvent\": \"command\", \"data\": [\"good-1\"]}]\n");
    drop("[{\"toNode\": \"n1\", \"method\": \n");
    drop("[{\"toNode\": \"n2\", \"method\": \"textLogging\", \"data\": [\"good-2\"]}]\n");
    drop("[{\"toNode\": \"n.1\", \"method\": \"textLogging\", \"data\": [\"bad-node\"]},\n"
         " {\"toNode\": \"n3\", \"data\": [\"no-method\"]},\n"
         " {\"toNode\": \"n3\", \"method\": \"textLogging\", \"data\": [\"good-3\"]}]\n");
    json_t *res = wait_results(3, 20000);
    check_exactly_once_in_order(res, 3);
    json_decref(res);

    char path[800];
    snprintf(path, sizeof path, "%s/inmsg.rejects.ndjson", fx.central_dir);
    char *rejects = harness_read_file(path, NULL);
    assert_non_null(rejects);
    assert_non_null(strstr(rejects, "invalid JSON"));
    assert_non_null(strstr(rejects, "toNode 'n.1'"));
    assert_non_null(strstr(rejects, "missing 'method'"));
    free(rejects);
    assert_true(harness_proc_wait_log(fx.central, "rejected:", 100));
}

static void test_kill9_mid_burst_loses_nothing_runs_once(void **state)
{
    (void)state;
    pid_t writer = fork();
    assert_true(writer >= 0);
    if (writer == 0) {
        for (int i = 0; i < 600; i++) {
            char d[256];
            snprintf(d, sizeof d, "[{\"toNode\": \"n%d\", \"method\": \"textLogging\", \"data\": [\"b-%04d\"]}]\n",
                     1 + i % NODES, i);
            int fd = open(fx.inmsg, O_WRONLY | O_APPEND | O_CREAT, 0660);
            if (fd < 0 || write(fd, d, strlen(d)) != (ssize_t)strlen(d))
                _exit(1);
            close(fd);
            usleep(1000);
        }
        _exit(0);
    }
    usleep(300000);
    int ws;
    assert_int_equal(harness_proc_signal(fx.central, SIGKILL), 0);
    assert_int_equal(harness_proc_wait(fx.central, 5000, &ws), 0);
    harness_proc_stop(fx.central, 1000, NULL);
    fx.central = NULL;
    usleep(200000);
    start_central();
    assert_int_equal(waitpid(writer, &ws, 0), writer);
    assert_true(WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
    json_t *res = wait_results(600, 60000);
    check_exactly_once_in_order(res, 600);
    json_decref(res);
}

static void test_offline_node_catches_up_in_order_others_unaffected(void **state)
{
    (void)state;
    assert_int_equal(harness_proc_stop(fx.agent[2], 5000, NULL), 0);
    fx.agent[2] = NULL;
    for (int i = 0; i < 5; i++) {
        char d[256];
        snprintf(d, sizeof d, "[{\"toNode\": \"n3\", \"method\": \"textLogging\", \"data\": [\"late-%d\"]}]\n", i);
        drop(d);
        snprintf(d, sizeof d, "[{\"toNode\": \"n1\", \"method\": \"textLogging\", \"data\": [\"now-%d\"]}]\n", i);
        drop(d);
    }
    drop("[{\"toNode\": \"n3\", \"method\": \"textLogging\", \"data\": [\"too-late\"], \"ttl\": 2}]\n");
    /* n1's messages go at once, whatever n3 does. */
    json_t *res = wait_results(5, 10000);
    assert_int_equal(json_array_size(res), 5);
    json_decref(res);
    /* The short-ttl message expires while n3 is away. */
    res = wait_results(6, 10000);
    assert_int_equal(json_array_size(res), 6);
    json_t *last = json_array_get(res, 5);
    assert_string_equal(str(last, "status", NULL), "EXPIRED");
    json_decref(res);

    sleep(30 - 10); /* n3 stays away 30 s in all (about 10 s have passed) */
    start_agent(2);
    res = wait_results(11, 30000);
    assert_int_equal(json_array_size(res), 11);
    json_t *ran = ran_on(2);
    assert_int_equal(json_array_size(ran), 5);
    for (int i = 0; i < 5; i++) {
        char want[16];
        snprintf(want, sizeof want, "late-%d", i);
        assert_string_equal(json_string_value(json_array_get(ran, (size_t)i)), want);
    }
    json_decref(ran);
    json_decref(res);
}

static void test_send_tool_and_events(void **state)
{
    (void)state;
    char *out = NULL;
    int code = -1;
    char *argv[] = {BOSUN_CENTRAL_BIN, "send", "--data-dir", fx.central_dir, "--to", "n1,n2",
                    "--method", "textLogging", "--event", "--", "via-send", NULL};
    assert_int_equal(harness_run(argv, 10000, &out, &code), 0);
    assert_int_equal(code, 0);
    assert_non_null(strstr(out, "queued in"));
    free(out);
    json_t *res = wait_results(2, 20000);
    check_exactly_once_in_order(res, 2);
    assert_string_equal(str(json_array_get(res, 0), "message", "kind"), "EVENT");
    json_decref(res);

    char *bad[] = {BOSUN_CENTRAL_BIN, "send", "--data-dir", fx.central_dir, "--to", "n.1", "--method", "x", NULL};
    assert_int_equal(harness_run(bad, 10000, &out, &code), 0);
    assert_int_equal(code, 2);
    assert_non_null(strstr(out, "'n.1'"));
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ten_writers_thousand_messages_exactly_once_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_drops_are_rejected_with_reasons_rest_delivered, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kill9_mid_burst_loses_nothing_runs_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_offline_node_catches_up_in_order_others_unaffected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_send_tool_and_events, setup, teardown),
    };
    return cmocka_run_group_tests_name("central", tests, NULL, NULL);
}
