/* recorder.c - events -> bounded queue -> rotated NDJSON -> gzip, losing nothing. */
#include "recorder.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "clock.h"
#include "codec.h"
#include "files.h"
#include "natsconn.h"
#include "ratelimit.h"

#define STREAM "events"               /* the one stream: every subject, arrival order */
#define NDJSON ".ndjson"
#define RETRY_MS 1000u                /* between attempts while writing fails */
#define BATCH_MAX_EVENTS 4096u        /* events rendered and written in one go */
#define BATCH_MAX_BYTES (4u << 20)
#define OUTAGE_LOG_EVERY_MS 60000u    /* "still failing" lines during an outage */
#define DRAIN_MAX_MS 5000             /* for the NATS subscriptions at stop */
#define JOIN_MARGIN_MS 2000           /* beyond the stop deadline, for the threads to notice it */
#define COPY_CHUNK (64u * 1024u)

/* One queued event; subject and payload share its allocation. */
typedef struct {
    uint64_t received_ms;
    size_t len;
    char *subject;
    unsigned char data[];
} rec_event_t;

/* A run of failures: logged when it starts, once a minute while it lasts, and when it ends. */
typedef struct {
    bool failing;
    uint64_t since_ms, logged_ms, errors, drops_at_start;
} outage_t;

/* The writer thread's own state. */
typedef struct {
    bool dir_ready;       /* the directory exists (as far as we know) */
    bool scanned;         /* leftovers of an earlier run were queued for compression */
    int fd;               /* current .ndjson, or -1 */
    char *path;
    uint64_t opened_ms;   /* monotonic */
    off_t good;           /* bytes of whole lines in the file */
    bool dirty;           /* a failed write may have left bytes after `good` */
    int64_t last_sec;     /* UTC second of the last name used */
    uint64_t retry_at;    /* monotonic: no write attempt before this */
    char *buf;            /* the pending batch, rendered */
    size_t used, cap;
    size_t batch_n;       /* events in buf, from the queue's head */
    outage_t outage;
} writer_t;

struct recorder {
    const bosun_log_t *log;
    char *dir;
    char **subjects;
    size_t n_subjects;
    uint64_t interval_ms;
    size_t cap;

    pthread_mutex_t mu;           /* the event queue and the flags below */
    pthread_cond_t wake;          /* writer: an event arrived, or stop */
    rec_event_t **ring;
    size_t head, count;           /* head is moved by the writer only */
    bool writer_waiting;
    bool stopping;                /* no more pushes; the writer finishes */
    _Atomic uint64_t deadline_ms; /* monotonic; 0 until stopping */

    pthread_mutex_t zmu;          /* the compress queue */
    pthread_cond_t zwake;
    char **zq;                    /* .ndjson paths, oldest first */
    size_t zn, zcap;
    bool writer_done;

    pthread_t writer, compressor;
    bool writer_started, compressor_started;
    bool stopped, abandoned;
    bosun_status_t stop_status;

    bosun_nats_t *nats;
    bool subscribed;              /* on_msg, with closure r, on nats */

    ratelimit_t drop_rl;
    _Atomic uint64_t received, messages, bytes, files, drops, write_errors, lost;
};

/* ---- small helpers ------------------------------------------------------------------- */

static void cond_init_mono(pthread_cond_t *cv)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(cv, &ca);
    pthread_condattr_destroy(&ca);
}

/* Waits on cv (a CLOCK_MONOTONIC condition) until the monotonic time until_ms at most. */
static void cond_wait_until(pthread_cond_t *cv, pthread_mutex_t *mu, uint64_t until_ms)
{
    struct timespec ts = {.tv_sec = (time_t)(until_ms / 1000u), .tv_nsec = (long)(until_ms % 1000u) * 1000000L};
    pthread_cond_timedwait(cv, mu, &ts);
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

static bool path_exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

/* Makes a rename or unlink in dir durable; best effort. */
static void sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

static void outage_fail(recorder_t *r, outage_t *o, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Counts one write error and logs it at a bounded rate. */
static void outage_fail(recorder_t *r, outage_t *o, const char *fmt, ...)
{
    char what[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    uint64_t now = bosun_mono_ms();
    atomic_fetch_add(&r->write_errors, 1);
    o->errors++;
    if (!o->failing) {
        o->failing = true;
        o->since_ms = o->logged_ms = now;
        o->drops_at_start = atomic_load(&r->drops);
        log_error(r->log, "recorder", "%s; nothing is given up, retrying every second", what);
    } else if (now - o->logged_ms >= OUTAGE_LOG_EVERY_MS) {
        o->logged_ms = now;
        log_error(r->log, "recorder", "still failing after %llu s (%llu errors): %s",
                  (unsigned long long)((now - o->since_ms) / 1000u), (unsigned long long)o->errors, what);
    }
}

/* Ends an outage, if one is on, with a line saying how it went. */
static void outage_over(recorder_t *r, outage_t *o, const char *what)
{
    if (!o->failing)
        return;
    uint64_t dropped = atomic_load(&r->drops) - o->drops_at_start;
    log_info(r->log, "recorder", "%s works again after %.1f s and %llu errors; %llu events dropped meanwhile",
             what, (double)(bosun_mono_ms() - o->since_ms) / 1000.0, (unsigned long long)o->errors,
             (unsigned long long)dropped);
    o->failing = false;
    o->errors = 0;
}

/* ---- the compress queue ----------------------------------------------------------------- */

/* Hands a finished .ndjson (path, owned) to the compressor. */
static void zq_push(recorder_t *r, char *path)
{
    pthread_mutex_lock(&r->zmu);
    if (r->zn == r->zcap) {
        size_t ncap = r->zcap ? r->zcap * 2 : 16;
        char **nq = realloc(r->zq, ncap * sizeof *nq);
        if (nq == NULL) {
            pthread_mutex_unlock(&r->zmu);
            log_error(r->log, "recorder", "out of memory queueing %s for compression; it is compressed at the next start",
                      path);
            free(path);
            return;
        }
        r->zq = nq;
        r->zcap = ncap;
    }
    r->zq[r->zn++] = path;
    pthread_cond_signal(&r->zwake);
    pthread_mutex_unlock(&r->zmu);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * Queues every .ndjson a crashed run left (oldest name first) and removes
 * half-written .gz.tmp files. Runs once, before the writer's first file.
 */
static void scan_leftovers(recorder_t *r)
{
    DIR *d = opendir(r->dir);
    if (d == NULL)
        return;
    char **found = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char *path = bosun_path_join(r->dir, de->d_name);
        if (path == NULL)
            break;
        if (ends_with(de->d_name, NDJSON ".gz.tmp")) {
            log_info(r->log, "recorder", "removing %s, left half-written by an earlier run", path);
            unlink(path);
            free(path);
            continue;
        }
        struct stat st;
        if (!ends_with(de->d_name, NDJSON) || lstat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
            free(path);
            continue;
        }
        if (n == cap) {
            char **nf = realloc(found, (cap = cap ? cap * 2 : 16) * sizeof *nf);
            if (nf == NULL) {
                free(path);
                break;
            }
            found = nf;
        }
        found[n++] = path;
    }
    closedir(d);
    if (n > 0) {
        qsort(found, n, sizeof *found, cmp_str);
        log_info(r->log, "recorder", "compressing %zu files left uncompressed by an earlier run", n);
    }
    for (size_t i = 0; i < n; i++)
        zq_push(r, found[i]);
    free(found);
}

/* ---- the writer ---------------------------------------------------------------------------- */

static bool ensure_dir(recorder_t *r, writer_t *w)
{
    if (!w->dir_ready) {
        bosun_err_t err = {0};
        if (bosun_mkdirs(r->dir, 0750, &err) != BOSUN_OK) {
            outage_fail(r, &w->outage, "%s", err.msg);
            return false;
        }
        w->dir_ready = true;
    }
    if (!w->scanned) {
        w->scanned = true;
        scan_leftovers(r);
    }
    return true;
}

/* Monotonic time of the start of the next UTC second after wall time wall_ms. */
static uint64_t next_second(uint64_t now_ms, uint64_t wall_ms)
{
    return now_ms + (1000u - wall_ms % 1000u);
}

/*
 * Starts a new file named after the current UTC second. Returns 0 when
 * open, 1 when that name is taken (try again next second), -1 on error
 * (counted and logged).
 */
static int open_file(recorder_t *r, writer_t *w, uint64_t now_ms)
{
    uint64_t wall = bosun_wall_ms();
    int64_t sec = (int64_t)(wall / 1000u);
    if (sec <= w->last_sec) {
        w->retry_at = next_second(now_ms, wall);
        return 1;
    }
    w->last_sec = sec;
    time_t t = (time_t)sec;
    struct tm tm;
    char name[80];
    gmtime_r(&t, &tm);
    strftime(name, sizeof name, "%Y_%m_%d_%H-%M-%S_" STREAM NDJSON, &tm);
    char *path = bosun_path_join(r->dir, name);
    char *gz = NULL, *tmp = NULL;
    if (path == NULL || asprintf(&gz, "%s.gz", path) < 0 || asprintf(&tmp, "%s.gz.tmp", path) < 0) {
        free(path);
        free(gz);
        outage_fail(r, &w->outage, "out of memory naming a new file");
        return -1;
    }
    bool taken = path_exists(gz) || path_exists(tmp);
    free(gz);
    free(tmp);
    int fd = taken ? -1 : open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    if (fd < 0 && (taken || errno == EEXIST)) {
        free(path);
        w->retry_at = next_second(now_ms, wall);
        return 1;
    }
    if (fd < 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            w->dir_ready = false; /* made again at the next attempt */
        outage_fail(r, &w->outage, "cannot create %s: %s", path, strerror(errno));
        free(path);
        return -1;
    }
    w->fd = fd;
    w->path = path;
    w->opened_ms = now_ms;
    w->good = 0;
    w->dirty = false;
    log_debug(r->log, "recorder", "writing %s", path);
    return 0;
}

/* Closes the current file and hands it to the compressor (an empty one is removed). */
static void close_file(recorder_t *r, writer_t *w)
{
    if (w->fd < 0)
        return;
    if (w->dirty && ftruncate(w->fd, w->good) != 0)
        log_warn(r->log, "recorder", "%s may end in a partial line: %s", w->path, strerror(errno));
    if (close(w->fd) != 0)
        log_warn(r->log, "recorder", "closing %s: %s", w->path, strerror(errno));
    w->fd = -1;
    if (w->good == 0) {
        unlink(w->path);
        free(w->path);
    } else {
        zq_push(r, w->path);
    }
    w->path = NULL;
}

static bool buf_append(writer_t *w, const char *s, size_t n)
{
    if (w->used + n > w->cap) {
        size_t ncap = w->cap ? w->cap : 65536;
        while (ncap < w->used + n)
            ncap *= 2;
        char *nb = realloc(w->buf, ncap);
        if (nb == NULL)
            return false;
        w->buf = nb;
        w->cap = ncap;
    }
    memcpy(w->buf + w->used, s, n);
    w->used += n;
    return true;
}

/* One event as a JSON line in the batch buffer. */
static bool render_one(writer_t *w, const rec_event_t *e)
{
    json_t *obj = bosun_codec_subject_json(e->subject, e->data, e->len);
    if (obj == NULL ||
        json_object_set_new(obj, "received_ms", json_integer((json_int_t)e->received_ms)) != 0) {
        json_decref(obj);
        return false;
    }
    char *line = json_dumps(obj, JSON_COMPACT);
    json_decref(obj);
    bool ok = line != NULL && buf_append(w, line, strlen(line)) && buf_append(w, "\n", 1);
    free(line);
    return ok;
}

/*
 * Renders up to `queued` events from the queue's head into w->buf. The
 * slots from head to head + count are the writer's to read: the producer
 * only fills slots beyond them.
 */
static bool render(recorder_t *r, writer_t *w, size_t queued)
{
    w->used = 0;
    w->batch_n = 0;
    while (w->batch_n < queued && w->batch_n < BATCH_MAX_EVENTS && w->used < BATCH_MAX_BYTES) {
        size_t mark = w->used;
        if (!render_one(w, r->ring[(r->head + w->batch_n) % r->cap])) {
            w->used = mark;
            break;
        }
        w->batch_n++;
    }
    return w->batch_n > 0;
}

/* Writes the batch after the file's last whole line; on failure cuts the file back to it. */
static bool write_batch(recorder_t *r, writer_t *w)
{
    if (w->dirty) {
        if (ftruncate(w->fd, w->good) != 0) {
            outage_fail(r, &w->outage, "cannot cut %s back to its last whole line: %s", w->path,
                        strerror(errno));
            return false;
        }
        w->dirty = false;
    }
    for (size_t off = 0; off < w->used;) {
        ssize_t k = pwrite(w->fd, w->buf + off, w->used - off, w->good + (off_t)off);
        if (k > 0) {
            off += (size_t)k;
            continue;
        }
        if (k < 0 && errno == EINTR)
            continue;
        int e = k < 0 ? errno : EIO;
        w->dirty = ftruncate(w->fd, w->good) != 0;
        outage_fail(r, &w->outage, "cannot write %zu events to %s: %s", w->batch_n, w->path, strerror(e));
        if (w->dirty) {
            /* The file cannot even be cut back: finish it; the batch goes to a new one. */
            close_file(r, w);
        }
        return false;
    }
    w->good += (off_t)w->used;
    return true;
}

/* Removes the first n events from the queue (written) and frees them. */
static void pop(recorder_t *r, size_t n)
{
    rec_event_t *done[BATCH_MAX_EVENTS];
    pthread_mutex_lock(&r->mu);
    for (size_t i = 0; i < n; i++) {
        done[i] = r->ring[r->head];
        r->ring[r->head] = NULL;
        r->head = (r->head + 1) % r->cap;
    }
    r->count -= n;
    pthread_mutex_unlock(&r->mu);
    for (size_t i = 0; i < n; i++)
        free(done[i]);
}

/* One attempt to write the head of the queue. */
static void write_step(recorder_t *r, writer_t *w, size_t queued, uint64_t now)
{
    if (!ensure_dir(r, w)) {
        w->retry_at = now + RETRY_MS;
        return;
    }
    if (w->batch_n == 0 && !render(r, w, queued)) {
        outage_fail(r, &w->outage, "out of memory rendering events");
        w->retry_at = now + RETRY_MS;
        return;
    }
    if (w->fd < 0) {
        int o = open_file(r, w, now);
        if (o < 0)
            w->retry_at = now + RETRY_MS;
        if (o != 0)
            return;
    }
    if (!write_batch(r, w)) {
        w->retry_at = now + RETRY_MS;
        return;
    }
    outage_over(r, &w->outage, "recording");
    atomic_fetch_add(&r->bytes, w->used);
    atomic_fetch_add(&r->messages, w->batch_n);
    pop(r, w->batch_n);
    w->used = 0;
    w->batch_n = 0;
}

/* At a stop that ran out of time: what is still queued is lost (and said so). */
static void give_up(recorder_t *r, writer_t *w)
{
    pthread_mutex_lock(&r->mu);
    size_t n = r->count;
    for (size_t i = 0; i < n; i++) {
        free(r->ring[r->head]);
        r->ring[r->head] = NULL;
        r->head = (r->head + 1) % r->cap;
    }
    r->count = 0;
    pthread_mutex_unlock(&r->mu);
    w->batch_n = 0;
    w->used = 0;
    atomic_fetch_add(&r->lost, n);
    log_error(r->log, "recorder", "stop timed out: %zu received events could not be written to %s", n, r->dir);
}

static void *writer_main(void *arg)
{
    recorder_t *r = arg;
    writer_t w = {.fd = -1, .last_sec = -1};
    if (!ensure_dir(r, &w))
        w.retry_at = bosun_mono_ms() + RETRY_MS;
    for (;;) {
        uint64_t now = bosun_mono_ms();
        uint64_t rotate_at = w.opened_ms + r->interval_ms;
        bool rotate_due = w.fd >= 0 && w.batch_n == 0 && now >= rotate_at;
        pthread_mutex_lock(&r->mu);
        uint64_t deadline = atomic_load(&r->deadline_ms);
        bool can_write = r->count > 0 && now >= w.retry_at;
        bool finish = r->stopping && (r->count == 0 || now >= deadline);
        if (!can_write && !finish && !rotate_due) {
            uint64_t until = now + RETRY_MS;
            if (r->count > 0 && w.retry_at < until)
                until = w.retry_at;
            if (w.fd >= 0 && w.batch_n == 0 && rotate_at < until)
                until = rotate_at;
            if (r->stopping && deadline < until)
                until = deadline;
            r->writer_waiting = true;
            cond_wait_until(&r->wake, &r->mu, until);
            r->writer_waiting = false;
        }
        size_t queued = r->count;
        bool stopping = r->stopping;
        deadline = atomic_load(&r->deadline_ms); /* set before stopping, both under mu */
        pthread_mutex_unlock(&r->mu);

        now = bosun_mono_ms();
        if (w.fd >= 0 && w.batch_n == 0 && now >= w.opened_ms + r->interval_ms)
            close_file(r, &w);
        if (!w.dir_ready && queued == 0 && now >= w.retry_at && !ensure_dir(r, &w))
            w.retry_at = now + RETRY_MS;
        if (queued > 0 && now >= w.retry_at)
            write_step(r, &w, queued, now);
        if (stopping) {
            pthread_mutex_lock(&r->mu);
            queued = r->count;
            pthread_mutex_unlock(&r->mu);
            if (queued == 0)
                break;
            if (bosun_mono_ms() >= deadline) {
                give_up(r, &w);
                break;
            }
        }
    }
    close_file(r, &w);
    free(w.buf);
    pthread_mutex_lock(&r->zmu);
    r->writer_done = true;
    pthread_cond_signal(&r->zwake);
    pthread_mutex_unlock(&r->zmu);
    return NULL;
}

/* ---- the compressor ------------------------------------------------------------------------------ */

/*
 * Gzips src to src.gz by way of src.gz.tmp (fsync, rename), then unlinks
 * src. On failure removes the .tmp, leaves src, and puts the reason in why.
 */
static bool compress_file(recorder_t *r, const char *src, char *why, size_t whylen)
{
    char *dst = NULL, *tmp = NULL;
    unsigned char *buf = malloc(COPY_CHUNK);
    int in = -1, out = -1;
    gzFile gz = NULL;
    bool ok = false;
    if (buf == NULL || asprintf(&dst, "%s.gz", src) < 0 || asprintf(&tmp, "%s.gz.tmp", src) < 0) {
        snprintf(why, whylen, "out of memory compressing %s", src);
        dst = NULL;
        goto out;
    }
    if ((in = open(src, O_RDONLY | O_CLOEXEC)) < 0) {
        if (errno == ENOENT && path_exists(dst)) { /* done before a crash, or queued twice */
            ok = true;
            goto out;
        }
        snprintf(why, whylen, "cannot read %s: %s", src, strerror(errno));
        goto out;
    }
    if ((out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640)) < 0) {
        snprintf(why, whylen, "cannot create %s: %s", tmp, strerror(errno));
        goto out;
    }
    int gzfd = dup(out); /* gzclose closes this one; `out` stays open for fsync */
    if (gzfd < 0 || (gz = gzdopen(gzfd, "wb6")) == NULL) {
        if (gzfd >= 0)
            close(gzfd);
        snprintf(why, whylen, "cannot start compressing %s", src);
        goto out;
    }
    for (;;) {
        ssize_t n = read(in, buf, COPY_CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            snprintf(why, whylen, "cannot read %s: %s", src, strerror(errno));
            goto out;
        }
        if (n == 0)
            break;
        if (gzwrite(gz, buf, (unsigned)n) != (int)n) {
            int zerr;
            const char *ztext = gzerror(gz, &zerr);
            snprintf(why, whylen, "cannot write %s: %s", tmp, zerr == Z_ERRNO ? strerror(errno) : ztext);
            goto out;
        }
    }
    int zrc = gzclose(gz);
    gz = NULL;
    if (zrc != Z_OK) {
        snprintf(why, whylen, "cannot finish %s: %s", tmp, zrc == Z_ERRNO ? strerror(errno) : "zlib error");
        goto out;
    }
    if (fsync(out) != 0 || close(out) != 0) {
        out = -1;
        snprintf(why, whylen, "cannot sync %s: %s", tmp, strerror(errno));
        goto out;
    }
    out = -1;
    if (rename(tmp, dst) != 0) {
        snprintf(why, whylen, "cannot rename %s: %s", tmp, strerror(errno));
        goto out;
    }
    sync_dir(r->dir);
    if (unlink(src) != 0)
        log_warn(r->log, "recorder", "%s is compressed but cannot be removed: %s", src, strerror(errno));
    sync_dir(r->dir);
    atomic_fetch_add(&r->files, 1);
    log_debug(r->log, "recorder", "compressed %s", dst);
    ok = true;
out:
    if (gz != NULL)
        gzclose(gz);
    if (out >= 0)
        close(out);
    if (in >= 0)
        close(in);
    if (!ok && tmp != NULL)
        unlink(tmp);
    free(buf);
    free(dst);
    free(tmp);
    return ok;
}

static void *compressor_main(void *arg)
{
    recorder_t *r = arg;
    outage_t o = {0};
    char why[768];
    pthread_mutex_lock(&r->zmu);
    for (;;) {
        if (r->zn == 0) {
            if (r->writer_done)
                break;
            pthread_cond_wait(&r->zwake, &r->zmu);
            continue;
        }
        uint64_t deadline = atomic_load(&r->deadline_ms);
        if (r->writer_done && deadline != 0 && bosun_mono_ms() >= deadline) {
            log_error(r->log, "recorder", "stop timed out: %zu files left uncompressed in %s; they are compressed at the next start",
                      r->zn, r->dir);
            break;
        }
        char *src = r->zq[0];
        pthread_mutex_unlock(&r->zmu);
        bool ok = compress_file(r, src, why, sizeof why);
        pthread_mutex_lock(&r->zmu);
        if (ok) {
            outage_over(r, &o, "compressing");
            memmove(r->zq, r->zq + 1, (r->zn - 1) * sizeof *r->zq);
            r->zn--;
            free(src);
            continue;
        }
        outage_fail(r, &o, "%s", why);
        uint64_t now = bosun_mono_ms(), until = now + RETRY_MS;
        if (deadline != 0 && deadline > now && deadline < until)
            until = deadline;
        cond_wait_until(&r->zwake, &r->zmu, until);
    }
    pthread_mutex_unlock(&r->zmu);
    return NULL;
}

/* ---- life ------------------------------------------------------------------------------------------ */

bool recorder_push(recorder_t *r, const char *subject, const void *data, size_t len, uint64_t received_ms)
{
    if (subject == NULL)
        subject = "";
    if (data == NULL)
        len = 0;
    size_t slen = strlen(subject);
    rec_event_t *e = malloc(sizeof *e + len + slen + 1);
    bool queued = false, stopping = false;
    if (e != NULL) {
        e->received_ms = received_ms;
        e->len = len;
        if (len > 0)
            memcpy(e->data, data, len);
        e->subject = (char *)e->data + len;
        memcpy(e->subject, subject, slen + 1);
        pthread_mutex_lock(&r->mu);
        stopping = r->stopping;
        if (!stopping && r->count < r->cap) {
            r->ring[(r->head + r->count) % r->cap] = e;
            r->count++;
            queued = true;
            if (r->writer_waiting)
                pthread_cond_signal(&r->wake);
        }
        pthread_mutex_unlock(&r->mu);
    }
    if (queued) {
        atomic_fetch_add(&r->received, 1);
        return true;
    }
    const char *why = stopping ? "stopped" : e == NULL ? "out of memory" : "queue full";
    free(e);
    atomic_fetch_add(&r->drops, 1);
    uint64_t suppressed = 0;
    if (ratelimit_allow(&r->drop_rl, bosun_mono_ms(), &suppressed))
        log_warn(r->log, "recorder", "%s (queueMax %zu): dropped an event on %.200s (%llu more since the last such line)",
                 why, r->cap, subject, (unsigned long long)suppressed);
    return false;
}

static void on_msg(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
    (void)nc;
    (void)sub;
    uint64_t now = bosun_wall_ms();
    recorder_push(closure, natsMsg_GetSubject(msg), natsMsg_GetData(msg),
                  (size_t)natsMsg_GetDataLength(msg), now);
    natsMsg_Destroy(msg);
}

bosun_status_t recorder_new(const bosun_recorder_config_t *cfg, const char *data_dir,
                            const bosun_log_t *log, recorder_t **out, bosun_err_t *err)
{
    recorder_t *r = calloc(1, sizeof *r);
    if (r == NULL)
        return bosun_errf(err, BOSUN_ERR_NOMEM, "out of memory starting the recorder");
    r->log = log;
    r->cap = cfg->queue_max > 0 ? (size_t)cfg->queue_max : 1;
    double ms = cfg->storage_interval_secs * 1000.0;
    r->interval_ms = ms < 1.0 ? 1u : (uint64_t)ms;
    pthread_mutex_init(&r->mu, NULL);
    pthread_mutex_init(&r->zmu, NULL);
    cond_init_mono(&r->wake);
    cond_init_mono(&r->zwake);
    ratelimit_init(&r->drop_rl, 1);
    r->dir = cfg->dir != NULL && cfg->dir[0] != '\0' ? strdup(cfg->dir) : bosun_path_join(data_dir, "recorded");
    r->ring = calloc(r->cap, sizeof *r->ring);
    r->subjects = calloc(cfg->n_subjects ? cfg->n_subjects : 1, sizeof *r->subjects);
    bool ok = r->dir != NULL && r->ring != NULL && r->subjects != NULL;
    for (size_t i = 0; ok && i < cfg->n_subjects; i++) {
        ok = (r->subjects[i] = strdup(cfg->subjects[i])) != NULL;
        r->n_subjects += ok;
    }
    if (!ok) {
        recorder_free(r);
        return bosun_errf(err, BOSUN_ERR_NOMEM, "out of memory starting the recorder");
    }
    int e1 = pthread_create(&r->writer, NULL, writer_main, r);
    r->writer_started = e1 == 0;
    int e2 = e1 == 0 ? pthread_create(&r->compressor, NULL, compressor_main, r) : e1;
    r->compressor_started = e2 == 0;
    if (e1 != 0 || e2 != 0) {
        recorder_free(r);
        return bosun_errf(err, BOSUN_ERR_SYS, "cannot start the recorder's threads: %s", strerror(e1 ? e1 : e2));
    }
    *out = r;
    return BOSUN_OK;
}

bosun_status_t recorder_subscribe(recorder_t *r, const bosun_nats_config_t *nats, const char *client_name,
                                  bosun_err_t *err)
{
    bosun_nats_opts_t opts = {.client_name = client_name, .no_echo = false};
    bosun_status_t rc = bosun_nats_open(nats, &opts, r->log, &r->nats, err);
    if (rc != BOSUN_OK)
        return rc;
    /* Made again on a reopened connection (natsconn.h). */
    r->subscribed = true;
    for (size_t i = 0; i < r->n_subjects; i++)
        if ((rc = bosun_nats_subscribe(r->nats, r->subjects[i], on_msg, r, 0, 0, err)) != BOSUN_OK)
            return rc;
    /* So that what is published once we report "recording" is recorded. */
    bool flushed = bosun_nats_connected(r->nats) &&
                   natsConnection_FlushTimeout(bosun_nats_conn(r->nats), 2000) == NATS_OK;
    log_info(r->log, "recorder", "recording %zu subject%s (%s%s) to %s%s", r->n_subjects,
             r->n_subjects == 1 ? "" : "s", r->n_subjects ? r->subjects[0] : "", r->n_subjects > 1 ? ", ..." : "",
             r->dir, flushed ? "" : " once NATS is connected");
    return BOSUN_OK;
}

void recorder_stats(recorder_t *r, recorder_stats_t *out)
{
    memset(out, 0, sizeof *out);
    if (r == NULL)
        return;
    out->received = atomic_load(&r->received);
    out->messages = atomic_load(&r->messages);
    out->bytes = atomic_load(&r->bytes);
    out->files = atomic_load(&r->files);
    out->drops = atomic_load(&r->drops);
    out->write_errors = atomic_load(&r->write_errors);
    out->lost = atomic_load(&r->lost);
    uint64_t pending = 0, dropped = 0;
    pthread_mutex_lock(&r->mu);
    out->queued = r->count;
    bosun_nats_sub_stats(r->nats, r, &pending, &dropped); /* r->nats is NULL once stopped */
    pthread_mutex_unlock(&r->mu);
    out->drops += dropped;
    pthread_mutex_lock(&r->zmu);
    out->pending_files = r->zn;
    pthread_mutex_unlock(&r->zmu);
}

const char *recorder_dir(const recorder_t *r)
{
    return r->dir;
}

/* Removes interest and takes every message the server sent before (bounded). */
static void unsubscribe_all(recorder_t *r, int timeout_ms)
{
    if (r->subscribed) {
        uint64_t dropped = 0;
        int wait = timeout_ms < DRAIN_MAX_MS ? timeout_ms : DRAIN_MAX_MS;
        if (!bosun_nats_unsubscribe_drain(r->nats, r, wait, &dropped))
            log_warn(r->log, "recorder", "draining the subscriptions did not complete in %d ms", wait);
        atomic_fetch_add(&r->drops, dropped);
        r->subscribed = false;
    }
    pthread_mutex_lock(&r->mu);
    bosun_nats_t *n = r->nats;
    r->nats = NULL; /* recorder_stats() no longer reads it */
    pthread_mutex_unlock(&r->mu);
    bosun_nats_close(n, 1000);
}

/* Joins t by the wall-clock deadline; false if it is still running. */
static bool join_by(pthread_t t, uint64_t wall_deadline_ms)
{
    struct timespec ts = {.tv_sec = (time_t)(wall_deadline_ms / 1000u),
                          .tv_nsec = (long)(wall_deadline_ms % 1000u) * 1000000L};
    return pthread_timedjoin_np(t, NULL, &ts) == 0;
}

bosun_status_t recorder_stop(recorder_t *r, int timeout_ms)
{
    if (r == NULL)
        return BOSUN_OK;
    if (r->stopped)
        return r->stop_status;
    r->stopped = true;
    uint64_t t0 = bosun_mono_ms();
    uint64_t deadline = t0 + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);
    unsubscribe_all(r, timeout_ms);

    pthread_mutex_lock(&r->mu);
    atomic_store(&r->deadline_ms, deadline > t0 ? deadline : t0 + 1);
    r->stopping = true;
    pthread_cond_signal(&r->wake);
    pthread_mutex_unlock(&r->mu);

    uint64_t now = bosun_mono_ms();
    uint64_t wall_deadline = bosun_wall_ms() + (deadline > now ? deadline - now : 0) + JOIN_MARGIN_MS;
    bool joined = true;
    if (r->writer_started && !(joined = join_by(r->writer, wall_deadline)))
        pthread_detach(r->writer);
    if (!r->writer_started) { /* no writer: nothing can be pending */
        pthread_mutex_lock(&r->zmu);
        r->writer_done = true;
        pthread_mutex_unlock(&r->zmu);
    }
    pthread_mutex_lock(&r->zmu);
    pthread_cond_signal(&r->zwake);
    pthread_mutex_unlock(&r->zmu);
    if (joined && r->compressor_started && !(joined = join_by(r->compressor, wall_deadline)))
        pthread_detach(r->compressor);
    if (!joined) {
        /* A thread is stuck in a system call: leave it its memory. */
        r->abandoned = true;
        log_error(r->log, "recorder", "stop did not finish within %d ms; giving up on %s", timeout_ms, r->dir);
        return r->stop_status = BOSUN_ERR_TIMEOUT;
    }
    recorder_stats_t st;
    recorder_stats(r, &st);
    r->stop_status = st.lost == 0 && st.pending_files == 0 ? BOSUN_OK : BOSUN_ERR_TIMEOUT;
    log_info(r->log, "recorder", "stopped in %llu ms: %llu events in %llu compressed files (%llu dropped%s)",
             (unsigned long long)(bosun_mono_ms() - t0), (unsigned long long)st.messages,
             (unsigned long long)st.files, (unsigned long long)st.drops,
             r->stop_status == BOSUN_OK ? "" : "; see the errors above");
    return r->stop_status;
}

void recorder_free(recorder_t *r)
{
    if (r == NULL)
        return;
    recorder_stop(r, RECORDER_STOP_TIMEOUT_MS);
    if (r->abandoned)
        return;
    for (size_t i = 0; r->ring != NULL && i < r->count; i++)
        free(r->ring[(r->head + i) % r->cap]);
    free(r->ring);
    for (size_t i = 0; i < r->zn; i++)
        free(r->zq[i]);
    free(r->zq);
    for (size_t i = 0; i < r->n_subjects; i++)
        free(r->subjects[i]);
    free(r->subjects);
    free(r->dir);
    pthread_mutex_destroy(&r->mu);
    pthread_mutex_destroy(&r->zmu);
    pthread_cond_destroy(&r->wake);
    pthread_cond_destroy(&r->zwake);
    free(r);
}
