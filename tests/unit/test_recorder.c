/*
 * test_recorder.c - central/recorder.c on real files: rotation and names,
 * gzip output equal to the lines, leftovers of a crash compressed at start,
 * real write failures (a directory blocked by a regular file; a full tmpfs
 * when the test may mount one) counted and recovered from with nothing lost,
 * the queue bound, and a stop that writes everything it holds.
 *
 * Events are pushed with recorder_push (what the NATS callback calls), as
 * Heartbeats of node n1 whose sequence numbers the files must hold exactly
 * once and in order.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "clock.h"
#include "codec.h"
#include "harness.h"
#include "recorder.h"

static const bosun_log_t LOG = {.level = BOSUN_LOG_INFO, .out = NULL};

typedef struct {
    char *tmp;
    char dir[1024];
    char mnt[800]; /* a tmpfs mounted by the test, or "" */
    char blocker[800]; /* a regular file standing where dir's parent should be */
    recorder_t *r;
} fx_t;

static int setup(void **state)
{
    fx_t *f = calloc(1, sizeof *f);
    if (f == NULL || (f->tmp = harness_tmpdir("recorder")) == NULL)
        return -1;
    snprintf(f->dir, sizeof f->dir, "%s/rec", f->tmp);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx_t *f = *state;
    recorder_free(f->r);
    if (f->mnt[0] != '\0')
        umount2(f->mnt, MNT_DETACH);
    harness_rmtree(f->tmp);
    free(f->tmp);
    free(f);
    return 0;
}

static recorder_t *start(fx_t *f, double interval_secs, int queue_max)
{
    bosun_recorder_config_t cfg = {
        .enabled = true,
        .storage_interval_secs = interval_secs,
        .dir = f->dir,
        .queue_max = queue_max,
    };
    bosun_err_t err = {0};
    assert_int_equal(recorder_new(&cfg, "/nonexistent", &LOG, &f->r, &err), BOSUN_OK);
    assert_string_equal(recorder_dir(f->r), f->dir);
    return f->r;
}

/* Pushes the heartbeat of n1 with this sequence number. */
static bool push_seq(recorder_t *r, uint64_t seq)
{
    Bosun__Heartbeat hb = BOSUN__HEARTBEAT__INIT;
    hb.node = "n1";
    hb.sequence = seq;
    hb.instance_id = 42;
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(bosun_codec_encode(&hb.base, &buf, &len), BOSUN_OK);
    bool ok = recorder_push(r, "n1.event.heartbeat", buf, len, bosun_wall_ms());
    free(buf);
    return ok;
}

static recorder_stats_t stats(recorder_t *r)
{
    recorder_stats_t s;
    recorder_stats(r, &s);
    return s;
}

typedef enum { ST_MESSAGES, ST_ERRORS, ST_FILES } stat_t;

/* Waits (at most timeout_ms) until the counter reaches at least want; returns its value. */
static uint64_t wait_stat(recorder_t *r, stat_t which, uint64_t want, int timeout_ms)
{
    uint64_t v = 0;
    for (int waited = 0;; waited += 10) {
        recorder_stats_t s = stats(r);
        v = which == ST_MESSAGES ? s.messages : which == ST_ERRORS ? s.write_errors : s.files;
        if (v >= want || waited >= timeout_ms)
            return v;
        bosun_sleep_ms(10);
    }
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names in dir, sorted; *n their number. Caller frees each and the array. */
static char **list_dir(const char *dir, size_t *n)
{
    DIR *d = opendir(dir);
    char **names = calloc(4096, sizeof *names);
    *n = 0;
    assert_non_null(names);
    if (d == NULL)
        return names;
    struct dirent *de;
    while ((de = readdir(d)) != NULL && *n < 4096)
        if (de->d_name[0] != '.')
            names[(*n)++] = strdup(de->d_name);
    closedir(d);
    qsort(names, *n, sizeof *names, cmp_str);
    return names;
}

static void free_list(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/*
 * Decompresses path, which must be a complete gzip file (magic bytes, CRC
 * and length checked by zlib at the end). Returns its bytes (caller frees).
 */
static char *gunzip(const char *path, size_t *len)
{
    unsigned char magic[2] = {0};
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    assert_int_equal(fread(magic, 1, 2, fp), 2);
    fclose(fp);
    assert_int_equal(magic[0], 0x1f);
    assert_int_equal(magic[1], 0x8b);
    gzFile gz = gzopen(path, "rb");
    assert_non_null(gz);
    size_t cap = 65536, used = 0;
    char *out = malloc(cap);
    for (;;) {
        if (cap - used < 65536)
            out = realloc(out, cap *= 2);
        assert_non_null(out);
        int n = gzread(gz, out + used, 65536);
        assert_true(n >= 0);
        if (n == 0)
            break;
        used += (size_t)n;
    }
    assert_int_equal(gzdirect(gz), 0);
    int zerr;
    gzerror(gz, &zerr);
    assert_int_equal(zerr, Z_OK);
    assert_int_equal(gzclose(gz), Z_OK);
    out[used] = '\0';
    *len = used;
    return out;
}

/*
 * Reads every file of dir: they must all be *_events.ndjson.gz (nothing
 * uncompressed, no temporary file left), validly named after a UTC second
 * between t0 and t1 (epoch seconds; 0 = not checked), each valid gzip.
 * Appends every line, parsed, to events; returns the number of files.
 */
static size_t read_recorded(const char *dir, json_t *events, time_t t0, time_t t1)
{
    size_t n = 0;
    char **names = list_dir(dir, &n);
    for (size_t i = 0; i < n; i++) {
        int y, mo, d, h, mi, s, end = 0;
        const char *name = names[i];
        assert_int_equal(sscanf(name, "%4d_%2d_%2d_%2d-%2d-%2d_events.ndjson.gz%n", &y, &mo, &d, &h, &mi, &s, &end), 6);
        assert_int_equal(strlen(name), 36);
        assert_int_equal(end, 36);
        struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi, .tm_sec = s};
        time_t t = timegm(&tm);
        if (t0 != 0) {
            assert_true(t >= t0);
            assert_true(t <= t1);
        }
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", dir, name);
        size_t len = 0;
        char *text = gunzip(path, &len);
        assert_true(len > 0);
        assert_int_equal(text[len - 1], '\n');
        for (char *save = NULL, *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
            json_error_t jerr;
            json_t *ev = json_loads(line, 0, &jerr);
            if (ev == NULL)
                fail_msg("%s: bad line '%s': %s", name, line, jerr.text);
            json_array_append_new(events, ev);
        }
        free(text);
    }
    free_list(names, n);
    return n;
}

static uint64_t seq_of(json_t *ev)
{
    assert_string_equal(json_string_value(json_object_get(ev, "subject")), "n1.event.heartbeat");
    assert_string_equal(json_string_value(json_object_get(ev, "type")), "Heartbeat");
    assert_true(json_integer_value(json_object_get(ev, "received_ms")) > 0);
    return (uint64_t)json_integer_value(json_object_get(json_object_get(ev, "message"), "sequence"));
}

/* Checks that events hold exactly the sequences first..last, once each, in order. */
static void check_sequence(json_t *events, uint64_t first, uint64_t last)
{
    assert_int_equal(json_array_size(events), last - first + 1);
    for (size_t i = 0; i < json_array_size(events); i++)
        assert_int_equal(seq_of(json_array_get(events, i)), first + i);
}

/* ---- rotation, names, exactly once ------------------------------------------------------ */

static void test_rotation_gives_several_files_each_event_once(void **state)
{
    fx_t *f = *state;
    time_t t0 = time(NULL);
    recorder_t *r = start(f, 1.0, 100000);
    for (uint64_t seq = 1; seq <= 40; seq++) {
        assert_true(push_seq(r, seq));
        bosun_sleep_ms(90);
    }
    assert_int_equal(recorder_stop(r, 10000), BOSUN_OK);
    time_t t1 = time(NULL);
    recorder_stats_t s = stats(r);
    assert_int_equal(s.received, 40);
    assert_int_equal(s.messages, 40);
    assert_int_equal(s.drops, 0);
    assert_int_equal(s.write_errors, 0);
    assert_int_equal(s.queued, 0);
    assert_int_equal(s.pending_files, 0);

    json_t *events = json_array();
    size_t files = read_recorded(f->dir, events, t0, t1);
    assert_true(files >= 3); /* 3.6 s of events, rotated every second */
    assert_int_equal(files, s.files);
    check_sequence(events, 1, 40);
    json_decref(events);
}

/* ---- content ------------------------------------------------------------------------------ */

static void test_gzip_content_equals_the_lines(void **state)
{
    fx_t *f = *state;
    recorder_t *r = start(f, 600, 1000);
    /* A heartbeat, a payload that does not decode, a subject with no type. */
    Bosun__Heartbeat hb = BOSUN__HEARTBEAT__INIT;
    hb.node = "n2";
    hb.sequence = 7;
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(bosun_codec_encode(&hb.base, &buf, &len), BOSUN_OK);
    const struct {
        const char *subject;
        const void *data;
        size_t len;
        uint64_t at;
    } in[] = {
        {"n2.event.heartbeat", buf, len, 1700000000001},
        {"n2.event.state", "\xff\xff\xff garbage", 11, 1700000000002},
        {"something.else", "raw", 3, 1700000000003},
    };
    char *expect = NULL;
    size_t elen = 0;
    FILE *mem = open_memstream(&expect, &elen);
    for (size_t i = 0; i < 3; i++) {
        assert_true(recorder_push(r, in[i].subject, in[i].data, in[i].len, in[i].at));
        json_t *obj = bosun_codec_subject_json(in[i].subject, in[i].data, in[i].len);
        json_object_set_new(obj, "received_ms", json_integer((json_int_t)in[i].at));
        char *line = json_dumps(obj, JSON_COMPACT);
        fprintf(mem, "%s\n", line);
        free(line);
        json_decref(obj);
    }
    fclose(mem);
    free(buf);
    assert_int_equal(recorder_stop(r, 10000), BOSUN_OK);

    size_t n = 0;
    char **names = list_dir(f->dir, &n);
    assert_int_equal(n, 1);
    char path[2048];
    snprintf(path, sizeof path, "%s/%s", f->dir, names[0]);
    size_t glen = 0;
    char *got = gunzip(path, &glen);
    assert_string_equal(got, expect);
    /* Undecodable payloads keep their bytes. */
    assert_non_null(strstr(got, "\"payload_base64\":\"////IGdhcmJhZ2U=\""));
    assert_non_null(strstr(got, "\"payload_base64\":\"cmF3\""));
    free(got);
    free(expect);
    free_list(names, n);
}

/* ---- a crashed run's files ----------------------------------------------------------------- */

static void test_leftover_ndjson_compressed_at_start(void **state)
{
    fx_t *f = *state;
    assert_int_equal(mkdir(f->dir, 0750), 0);
    char path[1200], tmp[1300], gz[1300];
    snprintf(path, sizeof path, "%s/2020_01_02_03-04-05_events.ndjson", f->dir);
    snprintf(tmp, sizeof tmp, "%s.gz.tmp", path);
    snprintf(gz, sizeof gz, "%s.gz", path);
    const char *lines = "{\"subject\":\"a.event.x\",\"received_ms\":1}\n"
                        "{\"subject\":\"b.event.y\",\"received_ms\":2}\n"
                        "{\"subject\":\"c.event.z\",\"received_ms\":3}\n";
    assert_int_equal(harness_write_file(path, lines), 0);
    assert_int_equal(harness_write_file(tmp, "half a gzip"), 0);

    recorder_t *r = start(f, 600, 1000);
    assert_int_equal(wait_stat(r, ST_FILES, 1, 10000), 1);
    size_t len = 0;
    char *got = gunzip(gz, &len);
    assert_string_equal(got, lines);
    free(got);
    assert_int_equal(access(path, F_OK), -1);
    assert_int_equal(access(tmp, F_OK), -1);

    /* New events go to a new file, named now, not into the old one. */
    assert_true(push_seq(r, 1));
    assert_int_equal(recorder_stop(r, 10000), BOSUN_OK);
    json_t *events = json_array();
    assert_int_equal(read_recorded(f->dir, events, 0, 0), 2);
    assert_int_equal(json_array_size(events), 4);
    assert_int_equal(seq_of(json_array_get(events, 3)), 1);
    json_decref(events);
}

/*
 * A real failure to write without privileges: the recorder's directory
 * cannot be made while a regular file (f->blocker) stands where its parent
 * should be. Removing that file heals it.
 */
static void block_dir(fx_t *f)
{
    snprintf(f->blocker, sizeof f->blocker, "%s/blocker", f->tmp);
    snprintf(f->dir, sizeof f->dir, "%s/rec", f->blocker);
    assert_int_equal(harness_write_file(f->blocker, "not a directory"), 0);
}

/* ---- write failures ------------------------------------------------------------------------- */

static void test_blocked_directory_counted_then_resumes(void **state)
{
    fx_t *f = *state;
    block_dir(f);

    recorder_t *r = start(f, 600, 1000);
    for (uint64_t seq = 1; seq <= 20; seq++)
        assert_true(push_seq(r, seq));
    assert_true(wait_stat(r, ST_ERRORS, 2, 5000) >= 2); /* the first try and a retry */
    recorder_stats_t s = stats(r);
    assert_int_equal(s.messages, 0);
    assert_int_equal(s.queued, 20);

    assert_int_equal(unlink(f->blocker), 0);
    assert_int_equal(wait_stat(r, ST_MESSAGES, 20, 5000), 20);
    uint64_t errors = stats(r).write_errors;
    for (uint64_t seq = 21; seq <= 25; seq++)
        assert_true(push_seq(r, seq));
    assert_int_equal(recorder_stop(r, 10000), BOSUN_OK);
    s = stats(r);
    assert_int_equal(s.messages, 25);
    assert_int_equal(s.write_errors, errors); /* no more once it worked */
    assert_int_equal(s.drops, 0);

    json_t *events = json_array();
    read_recorded(f->dir, events, 0, 0);
    check_sequence(events, 1, 25);
    json_decref(events);
}

/* A full file system (ENOSPC) on a small tmpfs: needs CAP_SYS_ADMIN. */
static void test_disk_full_counted_then_resumes_nothing_lost(void **state)
{
    fx_t *f = *state;
    snprintf(f->mnt, sizeof f->mnt, "%s/mnt", f->tmp);
    assert_int_equal(mkdir(f->mnt, 0750), 0);
    if (mount("tmpfs", f->mnt, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m") != 0) {
        fprintf(stderr, "cannot mount a tmpfs (%s): skipping the ENOSPC test\n", strerror(errno));
        f->mnt[0] = '\0';
        skip();
    }
    snprintf(f->dir, sizeof f->dir, "%s/rec", f->mnt);
    recorder_t *r = start(f, 600, 100000);
    for (uint64_t seq = 1; seq <= 10; seq++)
        assert_true(push_seq(r, seq));
    assert_int_equal(wait_stat(r, ST_MESSAGES, 10, 5000), 10);

    /* Fill the file system. */
    char filler[1000];
    snprintf(filler, sizeof filler, "%s/filler", f->mnt);
    int fd = open(filler, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    static char block[4096];
    memset(block, 'x', sizeof block);
    while (write(fd, block, sizeof block) > 0) {
    }
    assert_int_equal(errno, ENOSPC);
    for (;;) { /* and the last partial block */
        if (write(fd, block, 1) <= 0)
            break;
    }
    close(fd);

    for (uint64_t seq = 11; seq <= 400; seq++)
        assert_true(push_seq(r, seq));
    assert_true(wait_stat(r, ST_ERRORS, 2, 5000) >= 2);
    recorder_stats_t s = stats(r);
    assert_true(s.queued > 0);
    assert_true(s.messages < 400);
    assert_int_equal(s.messages + s.queued, 400);

    assert_int_equal(unlink(filler), 0);
    assert_int_equal(wait_stat(r, ST_MESSAGES, 400, 5000), 400);
    assert_int_equal(recorder_stop(r, 10000), BOSUN_OK);
    s = stats(r);
    assert_int_equal(s.drops, 0);
    assert_int_equal(s.lost, 0);

    json_t *events = json_array();
    read_recorded(f->dir, events, 0, 0);
    check_sequence(events, 1, 400); /* no partial line, nothing twice */
    json_decref(events);
}

/* ---- the queue bound, and stopping --------------------------------------------------------------- */

static void test_full_queue_drops_and_counts(void **state)
{
    fx_t *f = *state;
    block_dir(f);

    recorder_t *r = start(f, 600, 50);
    for (uint64_t seq = 1; seq <= 60; seq++)
        assert_int_equal(push_seq(r, seq), seq <= 50);
    recorder_stats_t s = stats(r);
    assert_int_equal(s.received, 50);
    assert_int_equal(s.drops, 10);
    assert_int_equal(s.queued, 50);

    assert_int_equal(unlink(f->blocker), 0);
    assert_int_equal(wait_stat(r, ST_MESSAGES, 50, 5000), 50);
    assert_true(push_seq(r, 51)); /* room again */
    assert_int_equal(recorder_stop(r, 10000), BOSUN_OK);
    json_t *events = json_array();
    read_recorded(f->dir, events, 0, 0);
    check_sequence(events, 1, 51);
    json_decref(events);
}

static void test_stop_writes_and_compresses_everything_queued(void **state)
{
    fx_t *f = *state;
    recorder_t *r = start(f, 600, 100000);
    for (uint64_t seq = 1; seq <= 20000; seq++)
        assert_true(push_seq(r, seq));
    assert_int_equal(recorder_stop(r, 30000), BOSUN_OK);
    assert_false(push_seq(r, 20001)); /* stopped: refused and counted */
    recorder_stats_t s = stats(r);
    assert_int_equal(s.messages, 20000);
    assert_int_equal(s.drops, 1);
    json_t *events = json_array();
    assert_int_equal(read_recorded(f->dir, events, 0, 0), 1);
    check_sequence(events, 1, 20000);
    json_decref(events);
}

/*
 * Regression: a stop that woke the writer while it waited for a retry read
 * the stop deadline from before the wait (0), so after one batch it gave up
 * on the rest of the queue as "timed out".
 */
static void test_stop_during_retry_wait_writes_every_batch(void **state)
{
    fx_t *f = *state;
    block_dir(f);
    recorder_t *r = start(f, 600, 100000);
    for (uint64_t seq = 1; seq <= 10000; seq++) /* more than one batch */
        assert_true(push_seq(r, seq));
    assert_true(wait_stat(r, ST_ERRORS, 1, 5000) >= 1); /* now waiting to retry */
    assert_int_equal(unlink(f->blocker), 0);
    assert_int_equal(recorder_stop(r, 10000), BOSUN_OK);
    recorder_stats_t s = stats(r);
    assert_int_equal(s.lost, 0);
    assert_int_equal(s.messages, 10000);
    json_t *events = json_array();
    read_recorded(f->dir, events, 0, 0);
    check_sequence(events, 1, 10000);
    json_decref(events);
}

static void test_stop_is_bounded_when_writing_keeps_failing(void **state)
{
    fx_t *f = *state;
    block_dir(f);
    recorder_t *r = start(f, 600, 1000);
    for (uint64_t seq = 1; seq <= 5; seq++)
        assert_true(push_seq(r, seq));
    uint64_t t0 = bosun_mono_ms();
    assert_int_equal(recorder_stop(r, 1500), BOSUN_ERR_TIMEOUT);
    uint64_t took = bosun_mono_ms() - t0;
    assert_true(took >= 1000 && took < 4000);
    recorder_stats_t s = stats(r);
    assert_int_equal(s.lost, 5);
    assert_int_equal(s.queued, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_rotation_gives_several_files_each_event_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gzip_content_equals_the_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(test_leftover_ndjson_compressed_at_start, setup, teardown),
        cmocka_unit_test_setup_teardown(test_blocked_directory_counted_then_resumes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_disk_full_counted_then_resumes_nothing_lost, setup, teardown),
        cmocka_unit_test_setup_teardown(test_full_queue_drops_and_counts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_writes_and_compresses_everything_queued, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_during_retry_wait_writes_every_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_is_bounded_when_writing_keeps_failing, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
