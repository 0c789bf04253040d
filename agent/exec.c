/* exec.c - fork/exec of one command with capture, timeout and group kill. */
#include "exec.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"

#define KILL_GRACE_MS 2000u
#define POLL_SLICE_MS 50

typedef struct {
    int fd;
    uint8_t *buf;
    size_t len;
    size_t cap;
    bool truncated;
} stream_t;

uint64_t exec_start_ticks(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    /* The command name may hold spaces and ')'; fields resume after the last ')'. */
    char *p = strrchr(buf, ')');
    if (p == NULL)
        return 0;
    /* After ") " come fields 3..; start time is field 22. */
    unsigned long long ticks = 0;
    int field = 2;
    char *save = NULL;
    /* strtok_r: pool workers call this concurrently (via on_started). */
    for (char *tok = strtok_r(p + 1, " ", &save); tok != NULL; tok = strtok_r(NULL, " ", &save)) {
        if (++field == 22) {
            ticks = strtoull(tok, NULL, 10);
            break;
        }
    }
    return ticks;
}

bool exec_kill_stale_group(pid_t pgid, uint64_t start_ticks)
{
    if (pgid <= 1 || start_ticks == 0)
        return false;
    uint64_t now_ticks = exec_start_ticks(pgid);
    /* A living leader must be the very process we started, not a reused pid. */
    if (now_ticks != 0 && now_ticks != start_ticks)
        return false;
    /* With the leader gone, any process still in the group is one of ours:
     * Linux never hands out a pid that is still in use as a group id. */
    return kill(-pgid, SIGKILL) == 0;
}

/* Reads what is available on s->fd; returns false at EOF or error. */
static bool stream_read(stream_t *s)
{
    uint8_t chunk[16384];
    ssize_t n = read(s->fd, chunk, sizeof chunk);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return true;
    if (n <= 0)
        return false;
    size_t room = s->cap - s->len;
    size_t take = (size_t)n < room ? (size_t)n : room;
    memcpy(s->buf + s->len, chunk, take);
    s->len += take;
    if (take < (size_t)n)
        s->truncated = true;
    return true;
}

/* In the child: only async-signal-safe calls until exec. */
static void child_exec(const exec_spec_t *spec, int out_fd, int err_fd, int status_fd, int go_r, int go_w)
{
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    for (int sig = 1; sig < 32; sig++)
        signal(sig, SIG_DFL);
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    /* Nothing runs before the parent has had its on_started call: a byte
     * says go; end of file means the parent is gone, and nothing runs. */
    close(go_w);
    char go;
    ssize_t n;
    do {
        n = read(go_r, &go, 1);
    } while (n < 0 && errno == EINTR);
    if (n != 1)
        _exit(127);
    close(go_r);

    int devnull = open("/dev/null", O_RDONLY);
    if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(err_fd, 2) < 0)
        goto fail;
    /* dup2 onto the same number keeps close-on-exec: clear it on 0, 1, 2. */
    for (int fd = 0; fd < 3; fd++)
        fcntl(fd, F_SETFD, 0);
    /* status_fd is close-on-exec: it reports an exec failure, else closes. */
    if (status_fd != 3) {
        if (dup3(status_fd, 3, O_CLOEXEC) < 0)
            goto fail;
    } else {
        fcntl(3, F_SETFD, FD_CLOEXEC);
    }
    syscall(SYS_close_range, 4u, ~0u, 0u);
    if (spec->switch_user) {
        /* Groups first: after setuid we could no longer change them. */
        if (setgroups(spec->n_groups, spec->groups) != 0 || setgid(spec->gid) != 0 ||
            setuid(spec->uid) != 0)
            goto fail;
        /* A change of credentials clears the parent-death signal: set it again. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
    }
    if (spec->cwd != NULL && chdir(spec->cwd) != 0 && (!spec->switch_user || chdir("/") != 0))
        goto fail;
    execvpe(spec->argv[0], spec->argv, spec->envp);
fail:;
    int e = errno;
    ssize_t w = write(3, &e, sizeof e);
    (void)w;
    _exit(127);
}

/* Returns the errno the child reported for a failed exec, or 0 if exec worked. */
static int read_exec_status(int fd)
{
    int e = 0;
    ssize_t n;
    do {
        n = read(fd, &e, sizeof e);
    } while (n < 0 && errno == EINTR);
    return n == (ssize_t)sizeof e ? e : 0;
}

/* True once the leader has exited; it stays a zombie (not reaped). */
static bool leader_exited(pid_t pid)
{
    siginfo_t si;
    memset(&si, 0, sizeof si);
    if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) != 0)
        return errno == ECHILD;
    return si.si_pid == pid;
}

static void record_exit(exec_result_t *r, int wstatus)
{
    if (WIFEXITED(wstatus))
        r->exit_code = WEXITSTATUS(wstatus);
    else if (WIFSIGNALED(wstatus))
        r->term_signal = WTERMSIG(wstatus);
}

bosun_status_t exec_run(const exec_spec_t *spec, exec_result_t *r)
{
    memset(r, 0, sizeof *r);
    r->start_ms = bosun_wall_ms();
    if (spec->argv == NULL || spec->argv[0] == NULL || spec->argv[0][0] == '\0')
        return BOSUN_ERR_INVALID;

    stream_t st[2] = {{.fd = -1}, {.fd = -1}};
    int p_out[2] = {-1, -1}, p_err[2] = {-1, -1}, p_stat[2] = {-1, -1}, p_go[2] = {-1, -1};
    bosun_status_t rc = BOSUN_ERR_SYS;

    for (int i = 0; i < 2; i++) {
        st[i].cap = spec->max_output;
        st[i].buf = malloc(spec->max_output > 0 ? spec->max_output : 1);
        if (st[i].buf == NULL) {
            rc = BOSUN_ERR_NOMEM;
            goto out;
        }
    }
    if (pipe2(p_out, O_CLOEXEC) < 0 || pipe2(p_err, O_CLOEXEC) < 0 || pipe2(p_stat, O_CLOEXEC) < 0 ||
        pipe2(p_go, O_CLOEXEC) < 0)
        goto out;

    pid_t pid = fork();
    if (pid < 0)
        goto out;
    if (pid == 0)
        child_exec(spec, p_out[1], p_err[1], p_stat[1], p_go[0], p_go[1]);

    setpgid(pid, pid); /* also in the child; whichever runs first wins the race */
    close(p_out[1]);
    close(p_err[1]);
    close(p_stat[1]);
    close(p_go[0]);
    p_out[1] = p_err[1] = p_stat[1] = p_go[0] = -1;

    /* The child waits for this: whatever on_started records (the agent's
     * ledger: "started") is there before the command can run. */
    if (spec->on_started != NULL)
        spec->on_started(spec->arg, pid, exec_start_ticks(pid));
    ssize_t gw;
    do {
        gw = write(p_go[1], "g", 1);
    } while (gw < 0 && errno == EINTR);
    close(p_go[1]);
    p_go[1] = -1;

    int exec_errno = read_exec_status(p_stat[0]);
    if (exec_errno != 0) {
        int ws;
        while (waitpid(pid, &ws, 0) < 0 && errno == EINTR) {
        }
        r->spawn_failed = true;
        r->spawn_errno = exec_errno;
        r->exit_code = 127;
        rc = BOSUN_OK;
        goto out;
    }
    int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    st[0].fd = p_out[0];
    st[1].fd = p_err[0];
    p_out[0] = p_err[0] = -1;
    for (int i = 0; i < 2; i++)
        fcntl(st[i].fd, F_SETFL, O_NONBLOCK);

    uint64_t t0 = bosun_mono_ms();
    uint64_t term_at = 0; /* when SIGTERM went to the group; 0 if not yet */
    bool exited = false;
    int wstatus = 0;
    uint64_t exited_at = 0;

    for (;;) {
        struct pollfd pf[3];
        int n = 0, idx[2] = {-1, -1};
        for (int i = 0; i < 2; i++)
            if (st[i].fd >= 0) {
                idx[i] = n;
                pf[n++] = (struct pollfd){.fd = st[i].fd, .events = POLLIN};
            }
        if (!exited && pidfd >= 0)
            pf[n++] = (struct pollfd){.fd = pidfd, .events = POLLIN};
        if (n == 0 && exited)
            break;
        int pr = poll(pf, (nfds_t)n, POLL_SLICE_MS);
        for (int i = 0; i < 2; i++)
            if (idx[i] >= 0 && pr > 0 && (pf[idx[i]].revents & (POLLIN | POLLHUP | POLLERR)))
                if (!stream_read(&st[i])) {
                    close(st[i].fd);
                    st[i].fd = -1;
                }
        uint64_t now = bosun_mono_ms();
        if (!exited && leader_exited(pid)) {
            exited = true;
            exited_at = now;
        }
        if (exited) {
            /* Output still open after the leader exited means the group lives
             * on (a background child); give it a moment to flush, then end it. */
            if ((st[0].fd >= 0 || st[1].fd >= 0) && now - exited_at > 200) {
                kill(-pid, SIGKILL);
                for (int i = 0; i < 2; i++)
                    if (st[i].fd >= 0) {
                        while (stream_read(&st[i])) {
                            if (st[i].truncated && st[i].len == st[i].cap)
                                break;
                            struct pollfd q = {.fd = st[i].fd, .events = POLLIN};
                            if (poll(&q, 1, 100) <= 0)
                                break;
                        }
                        close(st[i].fd);
                        st[i].fd = -1;
                    }
            }
            if (st[0].fd < 0 && st[1].fd < 0)
                break;
            continue;
        }
        bool cancel = spec->cancel != NULL && atomic_load(spec->cancel);
        bool late = spec->timeout_ms > 0 && now - t0 >= spec->timeout_ms;
        if (term_at == 0 && (cancel || late)) {
            r->cancelled = cancel;
            r->timed_out = !cancel && late;
            kill(-pid, SIGTERM);
            term_at = now;
        } else if (term_at != 0 && now - term_at >= KILL_GRACE_MS) {
            kill(-pid, SIGKILL);
        }
    }
    if (pidfd >= 0)
        close(pidfd);
    /* The unreaped leader still holds the group id, so this cannot hit a
     * reused one: end whatever is left of the group, then reap. */
    kill(-pid, SIGKILL);
    while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
    }
    record_exit(r, wstatus);
    rc = BOSUN_OK;

out:
    for (int i = 0; i < 2; i++)
        if (st[i].fd >= 0)
            close(st[i].fd);
    int fds[] = {p_out[0], p_out[1], p_err[0], p_err[1], p_stat[0], p_stat[1], p_go[0], p_go[1]};
    for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    r->out = st[0].buf;
    r->out_len = st[0].len;
    r->out_truncated = st[0].truncated;
    r->err = st[1].buf;
    r->err_len = st[1].len;
    r->err_truncated = st[1].truncated;
    r->end_ms = bosun_wall_ms();
    return rc;
}

void exec_result_free(exec_result_t *r)
{
    free(r->out);
    free(r->err);
    r->out = r->err = NULL;
    r->out_len = r->err_len = 0;
}
