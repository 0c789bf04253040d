/*
 * harness.c - real processes for integration tests (see harness.h).
 *
 * Every child is started by spawn(): fork, then in the child
 * PR_SET_PDEATHSIG(SIGKILL) (and a getppid() check for the race where the
 * parent died first), stdin from /dev/null, stdout and stderr to a log file
 * or pipe, every other descriptor closed at exec. The parent learns whether
 * execv worked through a close-on-exec pipe. Live children and the
 * directories of nats-servers are kept in a registry; an atexit handler
 * SIGKILLs and reaps what is left and removes those directories, so a
 * failing test (cmocka jumps out of it) leaves nothing behind.
 *
 * The registry is static: this is test-only code, used from the test's main
 * thread (PR_SET_PDEATHSIG fires when the forking *thread* exits).
 */
#include "harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TMP_PREFIX "/tmp/bosun-"
#define NATSD_START_MS 10000
#define NATSD_STOP_MS 5000
#define NATSD_RESTART_TRIES 5
#define KILL_REAP_MS 5000
#define RUN_OUTPUT_MAX (16 * 1024 * 1024)

/* ---- small helpers ------------------------------------------------------------- */

static void fail_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fail_msg(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("harness: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* Reaps pid if it has exited, waiting at most timeout_ms. True if reaped. */
static bool reap_within(pid_t pid, int timeout_ms, int *wstatus)
{
    uint64_t deadline = now_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);
    for (;;) {
        int st = 0;
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid) {
            if (wstatus != NULL)
                *wstatus = st;
            return true;
        }
        if (r < 0 && errno != EINTR)
            return true; /* not our child (any more): nothing to wait for */
        if (now_ms() >= deadline)
            return false;
        sleep_ms(5);
    }
}

/* ---- registry of live children and server directories ---------------------- */

#define REG_MAX 128

static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static pid_t reg_pids[REG_MAX];
static char *reg_dirs[REG_MAX];
static bool reg_atexit_done;

static void reg_cleanup(void)
{
    pthread_mutex_lock(&reg_mu);
    for (int i = 0; i < REG_MAX; i++) {
        if (reg_pids[i] > 0) {
            kill(reg_pids[i], SIGKILL);
            if (!reap_within(reg_pids[i], KILL_REAP_MS, NULL))
                fail_msg("pid %d did not die after SIGKILL", (int)reg_pids[i]);
            reg_pids[i] = 0;
        }
    }
    for (int i = 0; i < REG_MAX; i++) {
        if (reg_dirs[i] != NULL) {
            harness_rmtree(reg_dirs[i]);
            free(reg_dirs[i]);
            reg_dirs[i] = NULL;
        }
    }
    pthread_mutex_unlock(&reg_mu);
}

static void reg_init(void)
{
    /* Called with reg_mu held. */
    if (!reg_atexit_done) {
        atexit(reg_cleanup);
        reg_atexit_done = true;
    }
}

static int reg_add_pid(pid_t pid)
{
    pthread_mutex_lock(&reg_mu);
    reg_init();
    int rc = -1;
    for (int i = 0; i < REG_MAX && rc != 0; i++) {
        if (reg_pids[i] == 0) {
            reg_pids[i] = pid;
            rc = 0;
        }
    }
    pthread_mutex_unlock(&reg_mu);
    return rc;
}

static void reg_del_pid(pid_t pid)
{
    pthread_mutex_lock(&reg_mu);
    for (int i = 0; i < REG_MAX; i++)
        if (reg_pids[i] == pid)
            reg_pids[i] = 0;
    pthread_mutex_unlock(&reg_mu);
}

static int reg_add_dir(const char *dir)
{
    pthread_mutex_lock(&reg_mu);
    reg_init();
    int rc = -1;
    for (int i = 0; i < REG_MAX && rc != 0; i++) {
        if (reg_dirs[i] == NULL) {
            reg_dirs[i] = strdup(dir);
            rc = reg_dirs[i] ? 0 : -1;
        }
    }
    pthread_mutex_unlock(&reg_mu);
    return rc;
}

static void reg_del_dir(const char *dir)
{
    pthread_mutex_lock(&reg_mu);
    for (int i = 0; i < REG_MAX; i++) {
        if (reg_dirs[i] != NULL && strcmp(reg_dirs[i], dir) == 0) {
            free(reg_dirs[i]);
            reg_dirs[i] = NULL;
        }
    }
    pthread_mutex_unlock(&reg_mu);
}

/* ---- spawning ------------------------------------------------------------------- */

/*
 * Starts argv with stdin from /dev/null and stdout+stderr on out_fd, and
 * registers the child. Returns its pid, or -1 (with a reason on stderr) if
 * it could not be forked or execv failed.
 */
static pid_t spawn(char *const argv[], int out_fd)
{
    int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (devnull < 0) {
        fail_msg("open /dev/null: %s", strerror(errno));
        return -1;
    }
    int errpipe[2];
    if (pipe2(errpipe, O_CLOEXEC) != 0) {
        fail_msg("pipe2: %s", strerror(errno));
        close(devnull);
        return -1;
    }
    /* Registering before the fork keeps reg_mu out of the child. */
    pthread_mutex_lock(&reg_mu);
    reg_init();
    pthread_mutex_unlock(&reg_mu);

    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        fail_msg("fork: %s", strerror(errno));
        close(devnull);
        close(errpipe[0]);
        close(errpipe[1]);
        return -1;
    }
    if (pid == 0) {
        /* Child: async-signal-safe calls only. */
        int e = 0;
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
            _exit(127);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        if (dup2(devnull, STDIN_FILENO) < 0 || dup2(out_fd, STDOUT_FILENO) < 0 ||
            dup2(out_fd, STDERR_FILENO) < 0) {
            e = errno;
            goto child_fail;
        }
        /* Everything above stderr goes at exec, the error pipe included. */
        if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) != 0) {
            for (int fd = 3; fd < 4096; fd++)
                if (fd != errpipe[1])
                    close(fd);
        }
        execv(argv[0], argv);
        e = errno;
child_fail:
        (void)!write(errpipe[1], &e, sizeof e);
        _exit(127);
    }

    close(devnull);
    close(errpipe[1]);
    int child_errno = 0;
    ssize_t r;
    do {
        r = read(errpipe[0], &child_errno, sizeof child_errno);
    } while (r < 0 && errno == EINTR);
    close(errpipe[0]);
    if (r > 0) {
        reap_within(pid, KILL_REAP_MS, NULL);
        fail_msg("cannot run %s: %s", argv[0], strerror(child_errno));
        return -1;
    }
    if (reg_add_pid(pid) != 0) {
        kill(pid, SIGKILL);
        reap_within(pid, KILL_REAP_MS, NULL);
        fail_msg("too many live children");
        return -1;
    }
    return pid;
}

/*
 * Sends sig, waits timeout_ms, then SIGKILLs; always reaps. Unregisters pid.
 * Returns 0 once reaped (status in *wstatus), -1 if it would not die.
 */
static int stop_pid(pid_t pid, int sig, int timeout_ms, int *wstatus)
{
    int st = 0;
    kill(pid, sig);
    if (!reap_within(pid, timeout_ms, &st)) {
        kill(pid, SIGKILL);
        if (!reap_within(pid, KILL_REAP_MS, &st)) {
            fail_msg("pid %d did not die after SIGKILL", (int)pid);
            return -1;
        }
    }
    reg_del_pid(pid);
    if (wstatus != NULL)
        *wstatus = st;
    return 0;
}

/* ---- temporary directories and files ---------------------------------------------- */

char *harness_tmpdir(const char *prefix)
{
    if (prefix == NULL || strchr(prefix, '/') != NULL) {
        fail_msg("bad tmpdir prefix");
        return NULL;
    }
    char *path = NULL;
    if (asprintf(&path, TMP_PREFIX "%s-XXXXXX", prefix) < 0)
        return NULL;
    if (mkdtemp(path) == NULL) {
        fail_msg("mkdtemp %s: %s", path, strerror(errno));
        free(path);
        return NULL;
    }
    return path;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    if (remove(path) != 0 && errno != ENOENT)
        fail_msg("remove %s: %s", path, strerror(errno));
    return 0;
}

void harness_rmtree(const char *path)
{
    if (path == NULL)
        return;
    if (strncmp(path, TMP_PREFIX, strlen(TMP_PREFIX)) != 0 || strstr(path, "/..") != NULL ||
        strlen(path) <= strlen(TMP_PREFIX)) {
        fail_msg("refusing to remove %s (not under " TMP_PREFIX "*)", path);
        return;
    }
    nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int harness_write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "we");
    if (f == NULL) {
        fail_msg("open %s: %s", path, strerror(errno));
        return -1;
    }
    size_t len = strlen(text);
    int rc = (fwrite(text, 1, len, f) == len) ? 0 : -1;
    if (fclose(f) != 0)
        rc = -1;
    if (rc != 0)
        fail_msg("write %s failed", path);
    return rc;
}

char *harness_read_file(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf != NULL) {
        if (cap - n < 2) {
            char *nb = realloc(buf, cap * 2);
            if (nb == NULL) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        ssize_t r = read(fd, buf + n, cap - n - 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            free(buf);
            buf = NULL;
            break;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    if (buf == NULL)
        return NULL;
    buf[n] = '\0';
    if (len != NULL)
        *len = n;
    return buf;
}

/* ---- nats-server ------------------------------------------------------------------ */

struct harness_natsd {
    pid_t pid;        /* 0 while not running */
    int port;
    int fixed_port;   /* from "-p PORT" in the extra args; 0: server's choice */
    char url[64];
    char *dir;
    char *log_path;
    char **extra;     /* extra args without any port option, NULL-terminated */
};

static bool port_accepts(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

/* Reads the client port from the server's ports file; 0 if not (yet) there. */
static int read_ports_file(const harness_natsd_t *s)
{
    char path[512];
    snprintf(path, sizeof path, "%s/nats-server_%d.ports", s->dir, (int)s->pid);
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    if (root == NULL)
        return 0;
    int port = 0;
    const char *url = json_string_value(json_array_get(json_object_get(root, "nats"), 0));
    const char *colon = url ? strrchr(url, ':') : NULL;
    if (colon != NULL) {
        char *end = NULL;
        long p = strtol(colon + 1, &end, 10);
        if (end != colon + 1 && *end == '\0' && p > 0 && p < 65536)
            port = (int)p;
    }
    json_decref(root);
    return port;
}

/*
 * Starts the server once with port_arg ("-1" or a number) and waits until it
 * accepts. Returns 0; -1 if it failed or exited (pid then reaped and 0).
 */
static int natsd_spawn(harness_natsd_t *s, const char *port_arg)
{
    size_t n_extra = 0;
    while (s->extra[n_extra] != NULL)
        n_extra++;
    char **argv = calloc(n_extra + 9, sizeof *argv);
    if (argv == NULL)
        return -1;
    size_t k = 0;
    argv[k++] = (char *)BOSUN_NATS_SERVER;
    argv[k++] = (char *)"-a";
    argv[k++] = (char *)"127.0.0.1";
    argv[k++] = (char *)"-p";
    argv[k++] = (char *)port_arg;
    argv[k++] = (char *)"--ports_file_dir";
    argv[k++] = s->dir;
    for (size_t i = 0; i < n_extra; i++)
        argv[k++] = s->extra[i];
    argv[k] = NULL;

    int fd = open(s->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
        fail_msg("open %s: %s", s->log_path, strerror(errno));
        free(argv);
        return -1;
    }
    pid_t pid = spawn(argv, fd);
    close(fd);
    free(argv);
    if (pid < 0)
        return -1;
    s->pid = pid;

    uint64_t deadline = now_ms() + NATSD_START_MS;
    int port = 0;
    while (now_ms() < deadline) {
        int st;
        if (reap_within(pid, 0, &st)) {
            reg_del_pid(pid);
            s->pid = 0;
            fail_msg("nats-server exited during start (status 0x%x); see %s", st, s->log_path);
            return -1;
        }
        if (port == 0)
            port = read_ports_file(s);
        if (port > 0 && port_accepts(port)) {
            s->port = port;
            snprintf(s->url, sizeof s->url, "nats://127.0.0.1:%d", port);
            return 0;
        }
        sleep_ms(10);
    }
    fail_msg("nats-server did not accept connections within %d ms; see %s", NATSD_START_MS,
             s->log_path);
    stop_pid(pid, SIGKILL, 0, NULL);
    s->pid = 0;
    return -1;
}

static void natsd_free(harness_natsd_t *s)
{
    if (s == NULL)
        return;
    if (s->extra != NULL)
        for (size_t i = 0; s->extra[i] != NULL; i++)
            free(s->extra[i]);
    free(s->extra);
    free(s->log_path);
    free(s->dir);
    free(s);
}

/* Copies extra_args into s->extra, taking out "-p N" / "--port N" into fixed_port. */
static int natsd_take_args(harness_natsd_t *s, const char *const *extra_args)
{
    size_t n = 0;
    while (extra_args != NULL && extra_args[n] != NULL)
        n++;
    s->extra = calloc(n + 1, sizeof *s->extra);
    if (s->extra == NULL)
        return -1;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const char *a = extra_args[i];
        if (strcmp(a, "-a") == 0 || strcmp(a, "--addr") == 0 || strcmp(a, "--net") == 0) {
            fail_msg("nats-server always binds 127.0.0.1; do not pass %s", a);
            return -1;
        }
        if (strcmp(a, "-p") == 0 || strcmp(a, "--port") == 0) {
            char *end = NULL;
            long p = (i + 1 < n) ? strtol(extra_args[i + 1], &end, 10) : 0;
            if (end == NULL || *end != '\0' || p <= 0 || p > 65535) {
                fail_msg("bad nats-server port option");
                return -1;
            }
            s->fixed_port = (int)p;
            i++;
            continue;
        }
        s->extra[k] = strdup(a);
        if (s->extra[k++] == NULL)
            return -1;
    }
    return 0;
}

int harness_natsd_start(const char *const *extra_args, harness_natsd_t **out)
{
    *out = NULL;
    harness_natsd_t *s = calloc(1, sizeof *s);
    if (s == NULL)
        return -1;
    if (natsd_take_args(s, extra_args) != 0)
        goto fail;
    s->dir = harness_tmpdir("natsd");
    if (s->dir == NULL || reg_add_dir(s->dir) != 0)
        goto fail;
    if (asprintf(&s->log_path, "%s/nats-server.log", s->dir) < 0) {
        s->log_path = NULL;
        goto fail;
    }
    char port_arg[16];
    if (s->fixed_port > 0)
        snprintf(port_arg, sizeof port_arg, "%d", s->fixed_port);
    else
        snprintf(port_arg, sizeof port_arg, "-1");
    if (natsd_spawn(s, port_arg) != 0)
        goto fail;
    *out = s;
    return 0;

fail:
    if (s->dir != NULL) {
        harness_rmtree(s->dir);
        reg_del_dir(s->dir);
    }
    natsd_free(s);
    return -1;
}

const char *harness_natsd_url(const harness_natsd_t *s)
{
    return s->url;
}

int harness_natsd_port(const harness_natsd_t *s)
{
    return s->port;
}

pid_t harness_natsd_pid(const harness_natsd_t *s)
{
    return s->pid;
}

int harness_natsd_kill(harness_natsd_t *s)
{
    if (s == NULL || s->pid == 0)
        return 0;
    pid_t pid = s->pid;
    s->pid = 0;
    /* nats-server exits 0 on SIGINT (SIGTERM would be exit 1). */
    return stop_pid(pid, SIGINT, NATSD_STOP_MS, NULL);
}

int harness_natsd_restart(harness_natsd_t *s)
{
    if (s == NULL || s->port <= 0)
        return -1;
    if (harness_natsd_kill(s) != 0)
        return -1;
    char port_arg[16];
    snprintf(port_arg, sizeof port_arg, "%d", s->port);
    /* The port may be held for a moment after the old server went away. */
    for (int i = 0; i < NATSD_RESTART_TRIES; i++) {
        if (natsd_spawn(s, port_arg) == 0)
            return 0;
        sleep_ms(200);
    }
    fail_msg("nats-server could not be restarted on port %d", s->port);
    return -1;
}

void harness_natsd_stop(harness_natsd_t *s)
{
    if (s == NULL)
        return;
    harness_natsd_kill(s);
    harness_rmtree(s->dir);
    reg_del_dir(s->dir);
    natsd_free(s);
}

int harness_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    int port = -1;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

/* ---- other processes ---------------------------------------------------------------- */

struct harness_proc {
    pid_t pid;
    bool reaped;
    int wstatus;
    bool own_log;     /* a temporary log made by us, removed at stop */
    char *log_path;
};

int harness_proc_start(char *const argv[], const char *log_path, harness_proc_t **out)
{
    *out = NULL;
    harness_proc_t *p = calloc(1, sizeof *p);
    if (p == NULL)
        return -1;
    int fd;
    if (log_path != NULL) {
        p->log_path = strdup(log_path);
        fd = p->log_path ? open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644) : -1;
    } else {
        p->log_path = strdup(TMP_PREFIX "proc-XXXXXX.log");
        fd = p->log_path ? mkostemps(p->log_path, 4, O_APPEND | O_CLOEXEC) : -1;
        p->own_log = fd >= 0;
    }
    if (fd < 0) {
        fail_msg("cannot open log %s: %s", p->log_path ? p->log_path : "?", strerror(errno));
        free(p->log_path);
        free(p);
        return -1;
    }
    p->pid = spawn(argv, fd);
    close(fd);
    if (p->pid < 0) {
        if (p->own_log)
            unlink(p->log_path);
        free(p->log_path);
        free(p);
        return -1;
    }
    *out = p;
    return 0;
}

pid_t harness_proc_pid(const harness_proc_t *p)
{
    return p->pid;
}

const char *harness_proc_log_path(const harness_proc_t *p)
{
    return p->log_path;
}

/* Reaps p if it exited within timeout_ms; true once reaped. */
static bool proc_reap(harness_proc_t *p, int timeout_ms)
{
    if (p->reaped)
        return true;
    if (reap_within(p->pid, timeout_ms, &p->wstatus)) {
        p->reaped = true;
        reg_del_pid(p->pid);
    }
    return p->reaped;
}

int harness_proc_signal(harness_proc_t *p, int sig)
{
    /* An unreaped child's pid cannot have been reused. */
    if (proc_reap(p, 0))
        return -1;
    return kill(p->pid, sig);
}

int harness_proc_wait(harness_proc_t *p, int timeout_ms, int *wstatus)
{
    if (!proc_reap(p, timeout_ms))
        return -1;
    if (wstatus != NULL)
        *wstatus = p->wstatus;
    return 0;
}

bool harness_proc_running(harness_proc_t *p)
{
    return !proc_reap(p, 0);
}

bool harness_proc_wait_log(harness_proc_t *p, const char *needle, int timeout_ms)
{
    uint64_t deadline = now_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);
    size_t nlen = strlen(needle);
    for (;;) {
        size_t len = 0;
        char *text = harness_read_file(p->log_path, &len);
        bool found = text != NULL && memmem(text, len, needle, nlen) != NULL;
        free(text);
        if (found)
            return true;
        if (now_ms() >= deadline)
            return false;
        sleep_ms(20);
    }
}

char *harness_proc_log(const harness_proc_t *p)
{
    return harness_read_file(p->log_path, NULL);
}

int harness_proc_stop(harness_proc_t *p, int timeout_ms, int *wstatus)
{
    if (p == NULL)
        return 0;
    int rc = 0;
    if (!proc_reap(p, 0)) {
        rc = stop_pid(p->pid, SIGTERM, timeout_ms, &p->wstatus);
        p->reaped = rc == 0;
    }
    if (rc == 0 && wstatus != NULL)
        *wstatus = p->wstatus;
    if (p->own_log)
        unlink(p->log_path);
    free(p->log_path);
    free(p);
    return rc;
}

/* Appends up to RUN_OUTPUT_MAX bytes read from fd to *buf; false at EOF. */
static bool drain_fd(int fd, char **buf, size_t *len, size_t *cap)
{
    char chunk[4096];
    for (;;) {
        ssize_t r = read(fd, chunk, sizeof chunk);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK;
        if (r == 0)
            return false;
        if (*len + (size_t)r > RUN_OUTPUT_MAX)
            continue; /* over the bound: the excess is dropped */
        if (*len + (size_t)r + 1 > *cap) {
            size_t ncap = *cap ? *cap : 4096;
            while (*len + (size_t)r + 1 > ncap)
                ncap *= 2;
            char *nb = realloc(*buf, ncap);
            if (nb == NULL)
                continue;
            *buf = nb;
            *cap = ncap;
        }
        memcpy(*buf + *len, chunk, (size_t)r);
        *len += (size_t)r;
        (*buf)[*len] = '\0';
    }
}

int harness_run(char *const argv[], int timeout_ms, char **output, int *exit_code)
{
    if (output != NULL)
        *output = NULL;
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
        fail_msg("pipe2: %s", strerror(errno));
        return -1;
    }
    pid_t pid = spawn(argv, fds[1]);
    close(fds[1]);
    if (pid < 0) {
        close(fds[0]);
        return -1;
    }
    fcntl(fds[0], F_SETFL, fcntl(fds[0], F_GETFL) | O_NONBLOCK);

    char *buf = NULL;
    size_t len = 0, cap = 0;
    uint64_t deadline = now_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);
    bool open_fd = true, exited = false, timed_out = false;
    int st = 0;
    while (!exited) {
        uint64_t now = now_ms();
        if (now >= deadline) {
            timed_out = true;
            break;
        }
        if (open_fd) {
            struct pollfd pfd = {.fd = fds[0], .events = POLLIN};
            int wait = (int)(deadline - now);
            /* Wake up now and then to notice an exit with the pipe still held. */
            poll(&pfd, 1, wait < 50 ? wait : 50);
            if (pfd.revents != 0)
                open_fd = drain_fd(fds[0], &buf, &len, &cap);
        } else {
            sleep_ms(5);
        }
        exited = reap_within(pid, 0, &st);
    }
    if (exited) {
        reg_del_pid(pid);
        if (open_fd)
            drain_fd(fds[0], &buf, &len, &cap);
    }
    close(fds[0]);
    if (timed_out) {
        stop_pid(pid, SIGKILL, 0, NULL);
        fail_msg("%s did not finish within %d ms", argv[0], timeout_ms);
        free(buf);
        return -1;
    }
    if (exit_code != NULL)
        *exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? -WTERMSIG(st) : -1;
    if (output != NULL)
        *output = buf ? buf : strdup("");
    else
        free(buf);
    return 0;
}

bool harness_wait_until(bool (*cond)(void *arg), void *arg, int timeout_ms)
{
    uint64_t deadline = now_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);
    for (;;) {
        if (cond(arg))
            return true;
        if (now_ms() >= deadline)
            return false;
        sleep_ms(10);
    }
}
