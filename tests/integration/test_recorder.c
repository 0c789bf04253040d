/*
 * test_recorder.c - central's recorder with real processes: a nats-server
 * and bosun-central (issue 6).
 *
 * The test publishes N bosun events of 50 fake nodes (heartbeats, state
 * changes, plain events) on "<node>.event.*", flushes, and SIGTERMs central
 * at once. Central must have written every one exactly once into valid
 * gzip files (rotated every second), left no .ndjson behind, and
 * `bosun-central replay` must print them all (and filter by subject).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <zlib.h>

#include "client.h"
#include "clock.h"
#include "codec.h"
#include "harness.h"

#define EVENTS 5000
#define FAKE_NODES 50

typedef struct {
    harness_natsd_t *natsd;
    char *dir;
    char central_dir[600];
    char rec_dir[700];
    char cfg[700];
    harness_proc_t *central;
    natsConnection *nc;
} fx_t;

static fx_t fx;

static int setup(void **state)
{
    (void)state;
    memset(&fx, 0, sizeof fx);
    fx.dir = harness_tmpdir("recorder");
    if (fx.dir == NULL || harness_natsd_start(NULL, &fx.natsd) != 0)
        return -1;
    snprintf(fx.central_dir, sizeof fx.central_dir, "%s/central", fx.dir);
    snprintf(fx.rec_dir, sizeof fx.rec_dir, "%s/recorded", fx.central_dir);
    snprintf(fx.cfg, sizeof fx.cfg, "%s/central.json", fx.dir);
    char json[2048];
    snprintf(json, sizeof json,
             "{\"id\": \"central\", \"dataDir\": \"%s\", \"nats\": {\"servers\": [\"%s\"]},\n"
             " \"http\": {\"listen\": \"\"},\n"
             " \"recorder\": {\"storageIntervalSecs\": 1}}\n",
             fx.central_dir, harness_natsd_url(fx.natsd));
    if (harness_write_file(fx.cfg, json) != 0)
        return -1;
    char log[800];
    snprintf(log, sizeof log, "%s/central.log", fx.dir);
    char *argv[] = {BOSUN_CENTRAL_BIN, "--config-file", fx.cfg, "--log-level", "4", NULL};
    if (harness_proc_start(argv, log, &fx.central) != 0 ||
        !harness_proc_wait_log(fx.central, "recorder: recording", 10000) ||
        (fx.nc = client_connect(harness_natsd_url(fx.natsd))) == NULL)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    natsConnection_Destroy(fx.nc);
    harness_proc_stop(fx.central, 5000, NULL);
    harness_natsd_stop(fx.natsd);
    harness_rmtree(fx.dir);
    free(fx.dir);
    return 0;
}

/* Publishes event i: a Heartbeat, StateChange or Event of fake node i % 50, carrying i. */
static void publish(int i, char *subject, size_t len)
{
    char node[16];
    snprintf(node, sizeof node, "fake%02d", i % FAKE_NODES);
    uint8_t *buf = NULL;
    size_t n = 0;
    char id[32];
    snprintf(id, sizeof id, "ev-%d", i);
    Bosun__Heartbeat hb = BOSUN__HEARTBEAT__INIT;
    Bosun__StateChange sc = BOSUN__STATE_CHANGE__INIT;
    Bosun__Event ev = BOSUN__EVENT__INIT;
    switch (i % 3) {
    case 0:
        snprintf(subject, len, "%s.event.heartbeat", node);
        hb.node = node;
        hb.sequence = (uint64_t)i;
        hb.instance_id = 7;
        assert_int_equal(bosun_codec_encode(&hb.base, &buf, &n), BOSUN_OK);
        break;
    case 1:
        snprintf(subject, len, "%s.event.state", node);
        sc.node = node;
        sc.resource = "res01";
        sc.from = BOSUN__RESOURCE_STATE__RESOURCE_STATE_IDLE;
        sc.to = BOSUN__RESOURCE_STATE__RESOURCE_STATE_ACTIVE;
        sc.token = (uint64_t)i;
        assert_int_equal(bosun_codec_encode(&sc.base, &buf, &n), BOSUN_OK);
        break;
    default:
        snprintf(subject, len, "%s.event.textLogging", node);
        ev.id = id;
        ev.node = node;
        ev.method = "textLogging";
        assert_int_equal(bosun_codec_encode(&ev.base, &buf, &n), BOSUN_OK);
        break;
    }
    assert_int_equal(natsConnection_Publish(fx.nc, subject, buf, (int)n), NATS_OK);
    free(buf);
}

/* The number i an event line carries (see publish), or -1. */
static int number_of(json_t *ev)
{
    json_t *m = json_object_get(ev, "message");
    const char *type = json_string_value(json_object_get(ev, "type"));
    if (m == NULL || type == NULL)
        return -1;
    if (strcmp(type, "Heartbeat") == 0)
        return (int)json_integer_value(json_object_get(m, "sequence"));
    if (strcmp(type, "StateChange") == 0)
        return (int)json_integer_value(json_object_get(m, "token"));
    const char *id = json_string_value(json_object_get(m, "id"));
    return id != NULL && strncmp(id, "ev-", 3) == 0 ? atoi(id + 3) : -1;
}

/* Decompresses a file that must be complete, valid gzip; returns its text. */
static char *gunzip(const char *path)
{
    unsigned char magic[2] = {0};
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    assert_int_equal(fread(magic, 1, 2, fp), 2);
    fclose(fp);
    assert_true(magic[0] == 0x1f && magic[1] == 0x8b);
    gzFile gz = gzopen(path, "rb");
    assert_non_null(gz);
    size_t cap = 1 << 20, used = 0;
    char *out = malloc(cap);
    for (int n;; used += (size_t)n) {
        if (cap - used < 65536)
            out = realloc(out, cap *= 2);
        assert_non_null(out);
        n = gzread(gz, out + used, 65536);
        assert_true(n >= 0);
        if (n == 0)
            break;
    }
    int zerr;
    gzerror(gz, &zerr);
    assert_int_equal(zerr, Z_OK);
    assert_int_equal(gzdirect(gz), 0);
    assert_int_equal(gzclose(gz), Z_OK);
    out[used] = '\0';
    return out;
}

/*
 * Checks the recorded directory: only *_events.ndjson.gz files, each valid
 * gzip; every fake event exactly once. Returns the number of files and
 * fills *paths (a JSON array of their paths, in name order).
 */
static size_t check_recorded(json_t *paths)
{
    DIR *d = opendir(fx.rec_dir);
    assert_non_null(d);
    json_t *names = json_array();
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (de->d_name[0] != '.')
            json_array_append_new(names, json_string(de->d_name));
    closedir(d);

    char *seen = calloc(EVENTS, 1);
    size_t fake = 0, others = 0, idx;
    json_t *name;
    json_array_foreach(names, idx, name) {
        const char *nm = json_string_value(name);
        size_t len = strlen(nm);
        if (len != 36 || strcmp(nm + 19, "_events.ndjson.gz") != 0)
            fail_msg("unexpected file in %s: %s", fx.rec_dir, nm);
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", fx.rec_dir, nm);
        json_array_append_new(paths, json_string(path));
        char *text = gunzip(path);
        for (char *save = NULL, *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
            json_t *ev = json_loads(line, 0, NULL);
            assert_non_null(ev);
            const char *subject = json_string_value(json_object_get(ev, "subject"));
            assert_non_null(subject);
            assert_non_null(json_object_get(ev, "received_ms"));
            if (strncmp(subject, "fake", 4) == 0) {
                int i = number_of(ev);
                assert_true(i >= 0 && i < EVENTS);
                if (seen[i])
                    fail_msg("event %d (%s) recorded twice", i, subject);
                char want[64];
                snprintf(want, sizeof want, "fake%02d.event.%s", i % FAKE_NODES,
                         i % 3 == 0 ? "heartbeat" : i % 3 == 1 ? "state" : "textLogging");
                assert_string_equal(subject, want);
                seen[i] = 1;
                fake++;
            } else {
                assert_true(strncmp(subject, "central.", 8) == 0); /* central's own events */
                others++;
            }
            json_decref(ev);
        }
        free(text);
    }
    for (int i = 0; i < EVENTS; i++)
        if (!seen[i])
            fail_msg("event %d is missing", i);
    assert_int_equal(fake, EVENTS);
    free(seen);
    size_t n = json_array_size(names);
    json_decref(names);
    fprintf(stderr, "recorded: %d events in %zu files (+%zu of central's own)\n", EVENTS, n, others);
    return n;
}

/* Runs `bosun-central replay ARGS...`; returns its lines that are JSON objects. */
static size_t replay_lines(char **extra, size_t n_extra, int *exit_code, size_t *non_json)
{
    char *argv[64] = {BOSUN_CENTRAL_BIN, "replay"};
    size_t argc = 2;
    for (size_t i = 0; i < n_extra && argc < 63; i++)
        argv[argc++] = extra[i];
    argv[argc] = NULL;
    char *out = NULL;
    assert_int_equal(harness_run(argv, 30000, &out, exit_code), 0);
    size_t lines = 0;
    *non_json = 0;
    for (char *save = NULL, *line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        json_t *ev = json_loads(line, 0, NULL);
        if (json_is_object(ev))
            lines++;
        else
            ++*non_json;
        json_decref(ev);
    }
    free(out);
    return lines;
}

static void test_sigterm_right_after_publishing_loses_nothing(void **state)
{
    (void)state;
    char subject[64];
    for (int i = 0; i < EVENTS; i++) {
        publish(i, subject, sizeof subject);
        if (i % 1000 == 999) /* spread over a few seconds: several files */
            bosun_sleep_ms(400);
    }
    /* Once the server has them all, stop central at once. */
    assert_int_equal(natsConnection_FlushTimeout(fx.nc, 10000), NATS_OK);
    assert_int_equal(harness_proc_signal(fx.central, SIGTERM), 0);
    int st = 0;
    assert_int_equal(harness_proc_wait(fx.central, 60000, &st), 0);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    char *log = harness_proc_log(fx.central);
    assert_non_null(strstr(log, "recorder: stopped"));
    assert_null(strstr(log, "stop timed out"));
    free(log);

    json_t *paths = json_array();
    size_t files = check_recorded(paths);
    assert_true(files >= 2);

    /* replay: every file by name, then the directory, then a subject filter. */
    char *args[64];
    size_t n = 0, idx, bad = 0;
    json_t *p;
    json_array_foreach(paths, idx, p) {
        if (n < 60)
            args[n++] = (char *)json_string_value(p);
    }
    assert_true(n < 60);
    int code = -1;
    size_t all = replay_lines(args, n, &code, &bad);
    assert_int_equal(code, 0);
    assert_int_equal(bad, 0);
    assert_true(all >= EVENTS);
    char *dir_arg[] = {fx.rec_dir};
    assert_int_equal(replay_lines(dir_arg, 1, &code, &bad), all);
    assert_int_equal(code, 0);
    char *filter[] = {"--subject", "fake07.event.*", "--subject", "*.event.heartbeat", fx.rec_dir};
    size_t want = 0;
    for (int i = 0; i < EVENTS; i++)
        want += i % FAKE_NODES == 7 || i % 3 == 0;
    assert_int_equal(replay_lines(filter, 5, &code, &bad), want);
    assert_int_equal(code, 0);
    json_decref(paths);
}

static void test_replay_reports_bad_lines_and_unreadable_files(void **state)
{
    (void)state;
    char good[800], missing[800], truncated[800];
    snprintf(good, sizeof good, "%s/hand.ndjson", fx.dir);
    snprintf(missing, sizeof missing, "%s/none.ndjson.gz", fx.dir);
    snprintf(truncated, sizeof truncated, "%s/cut.ndjson.gz", fx.dir);
    assert_int_equal(harness_write_file(good, "{\"subject\":\"a.event.x\",\"received_ms\":1}\nnot json\n"
                                              "{\"subject\":\"b.event.y\",\"received_ms\":2}\n"),
                     0);
    /* A gzip file cut in half. */
    gzFile gz = gzopen(truncated, "wb6");
    assert_non_null(gz);
    for (int i = 0; i < 2000; i++)
        gzprintf(gz, "{\"subject\":\"c.event.z\",\"received_ms\":%d,\"pad\":\"%08x\"}\n", i, (unsigned)(i * 2654435761u));
    assert_int_equal(gzclose(gz), Z_OK);
    size_t len = 0;
    char *bytes = harness_read_file(truncated, &len);
    FILE *fp = fopen(truncated, "wb");
    fwrite(bytes, 1, len / 2, fp);
    fclose(fp);
    free(bytes);

    char *out = NULL;
    int code = -1;
    char *argv1[] = {BOSUN_CENTRAL_BIN, "replay", good, NULL};
    assert_int_equal(harness_run(argv1, 10000, &out, &code), 0);
    assert_int_equal(code, 0);
    char where[900];
    snprintf(where, sizeof where, "%s:2: not a recorded event", good);
    assert_non_null(strstr(out, where));
    assert_non_null(strstr(out, "\"b.event.y\""));
    free(out);

    char *argv2[] = {BOSUN_CENTRAL_BIN, "replay", good, missing, truncated, NULL};
    assert_int_equal(harness_run(argv2, 10000, &out, &code), 0);
    assert_int_equal(code, 1);
    assert_non_null(strstr(out, "cannot open"));
    assert_non_null(strstr(out, "truncated or corrupt"));
    free(out);

    char *argv3[] = {BOSUN_CENTRAL_BIN, "replay", "--subject", "a.>.b", good, NULL};
    assert_int_equal(harness_run(argv3, 10000, &out, &code), 0);
    assert_int_equal(code, 2);
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sigterm_right_after_publishing_loses_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replay_reports_bad_lines_and_unreadable_files, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
