/*
 * test_exec.c - running one command as a process group (agent/exec.c):
 * capture, truncation, exit status, timeout and cancel killing the whole
 * group, environment, working directory, fd hygiene, and the recovery kill
 * of a stale group.
 *
 * The test process makes itself a child subreaper, so every grandchild a
 * command leaves behind is reparented to it: the tests can reap them by pid,
 * and the teardown kills and reaps whatever a failed test left running.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "exec.h"
#include "harness.h"

#define MAX_TRACKED 16

/* Children of this process that a test started and must not outlive it. */
static pid_t tracked[MAX_TRACKED];

static char *path_env[] = {"PATH=/usr/bin:/bin", NULL};

static void track(pid_t pid)
{
    for (int i = 0; i < MAX_TRACKED; i++)
        if (tracked[i] == 0) {
            tracked[i] = pid;
            return;
        }
}

/* Kills and reaps every tracked pid that is still an unreaped child of ours. */
static int reap_tracked(void **state)
{
    (void)state;
    for (int i = 0; i < MAX_TRACKED; i++) {
        pid_t pid = tracked[i];
        tracked[i] = 0;
        if (pid <= 0)
            continue;
        if (waitpid(pid, NULL, WNOHANG) == 0) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
        }
    }
    return 0;
}

/* State letter of pid from /proc/PID/stat ('R', 'S', 'Z'...), 0 if gone. */
static char proc_state(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    return p != NULL && p[1] == ' ' ? p[2] : 0;
}

/*
 * True once pid is dead (gone, or a zombie) within timeout_ms. Reaps it when
 * it is our child, so the pid is not left as a zombie.
 */
static bool proc_dead(pid_t pid, int timeout_ms)
{
    uint64_t until = bosun_mono_ms() + (uint64_t)timeout_ms;
    for (;;) {
        int ws;
        if (waitpid(pid, &ws, WNOHANG) == pid)
            return true;
        char s = proc_state(pid);
        if (s == 0 || s == 'Z' || s == 'X')
            return true;
        if (bosun_mono_ms() >= until)
            return false;
        bosun_sleep_ms(10);
    }
}

/* The pid a command wrote into path (as text), or -1. */
static pid_t read_pid_file(const char *path)
{
    char *text = harness_read_file(path, NULL);
    if (text == NULL)
        return -1;
    long v = strtol(text, NULL, 10);
    free(text);
    return v > 0 && v < INT_MAX ? (pid_t)v : -1;
}

/* Runs argv with PATH only, no cancel; returns exec_run's status. */
static bosun_status_t run_simple(char *const *argv, uint64_t timeout_ms, size_t max_output,
                                 exec_result_t *r)
{
    exec_spec_t spec = {
        .argv = argv,
        .envp = path_env,
        .timeout_ms = timeout_ms,
        .max_output = max_output,
    };
    return exec_run(&spec, r);
}

static void test_captures_stdout_and_stderr_exactly(void **state)
{
    (void)state;
    char *argv[] = {"sh", "-c", "printf 'line1\\nbin\\001\\000end'; printf 'to stderr\\n' >&2", NULL};
    exec_result_t r;
    assert_int_equal(run_simple(argv, 10000, 4096, &r), BOSUN_OK);
    static const uint8_t want_out[] = "line1\nbin\001\000end";
    assert_int_equal(r.out_len, sizeof want_out - 1);
    assert_memory_equal(r.out, want_out, sizeof want_out - 1);
    assert_int_equal(r.err_len, 10);
    assert_memory_equal(r.err, "to stderr\n", 10);
    assert_false(r.out_truncated);
    assert_false(r.err_truncated);
    assert_false(r.spawn_failed);
    assert_false(r.timed_out);
    assert_false(r.cancelled);
    assert_int_equal(r.exit_code, 0);
    assert_int_equal(r.term_signal, 0);
    assert_true(r.start_ms > 0);
    assert_true(r.end_ms >= r.start_ms);
    exec_result_free(&r);
    assert_null(r.out);
    assert_null(r.err);
}

/* Both pipes carry more than a pipe buffer at once; both arrive whole. */
static void test_captures_large_output_on_both_streams(void **state)
{
    (void)state;
    char *argv[] = {"sh", "-c", "seq 1 100000 & seq 1 100000 >&2; wait", NULL};
    exec_result_t r;
    assert_int_equal(run_simple(argv, 10000, 1 << 20, &r), BOSUN_OK);
    size_t cap = 700000, len = 0;
    char *want = malloc(cap);
    assert_non_null(want);
    for (int i = 1; i <= 100000; i++)
        len += (size_t)snprintf(want + len, cap - len, "%d\n", i);
    assert_int_equal(r.out_len, len);
    assert_int_equal(r.err_len, len);
    assert_memory_equal(r.out, want, len);
    assert_memory_equal(r.err, want, len);
    assert_false(r.out_truncated);
    assert_false(r.err_truncated);
    assert_int_equal(r.exit_code, 0);
    free(want);
    exec_result_free(&r);
}

static void test_truncates_at_max_output_without_blocking_child(void **state)
{
    (void)state;
    char *argv[] = {"sh", "-c", "head -c 10485760 /dev/zero; head -c 3000 /dev/zero | tr '\\0' e >&2",
                    NULL};
    exec_result_t r;
    uint64_t t0 = bosun_mono_ms();
    assert_int_equal(run_simple(argv, 15000, 1024, &r), BOSUN_OK);
    uint64_t took = bosun_mono_ms() - t0;
    assert_true(took < 5000);
    assert_false(r.timed_out);
    assert_int_equal(r.exit_code, 0);
    assert_int_equal(r.term_signal, 0);
    assert_int_equal(r.out_len, 1024);
    assert_true(r.out_truncated);
    for (size_t i = 0; i < r.out_len; i++)
        assert_int_equal(r.out[i], 0);
    assert_int_equal(r.err_len, 1024);
    assert_true(r.err_truncated);
    for (size_t i = 0; i < r.err_len; i++)
        assert_int_equal(r.err[i], 'e');
    exec_result_free(&r);
}

static void test_output_of_exactly_max_is_not_truncated(void **state)
{
    (void)state;
    char *exact[] = {"head", "-c", "1024", "/dev/zero", NULL};
    char *over[] = {"head", "-c", "1025", "/dev/zero", NULL};
    exec_result_t r;
    assert_int_equal(run_simple(exact, 10000, 1024, &r), BOSUN_OK);
    assert_int_equal(r.out_len, 1024);
    assert_false(r.out_truncated);
    exec_result_free(&r);
    assert_int_equal(run_simple(over, 10000, 1024, &r), BOSUN_OK);
    assert_int_equal(r.out_len, 1024);
    assert_true(r.out_truncated);
    exec_result_free(&r);
}

static void test_exit_codes_and_signals(void **state)
{
    (void)state;
    exec_result_t r;
    char *ok[] = {"true", NULL};
    assert_int_equal(run_simple(ok, 10000, 64, &r), BOSUN_OK);
    assert_int_equal(r.exit_code, 0);
    assert_int_equal(r.term_signal, 0);
    exec_result_free(&r);

    char *three[] = {"sh", "-c", "exit 3", NULL};
    assert_int_equal(run_simple(three, 10000, 64, &r), BOSUN_OK);
    assert_int_equal(r.exit_code, 3);
    assert_int_equal(r.term_signal, 0);
    assert_false(r.spawn_failed);
    exec_result_free(&r);

    char *killed[] = {"sh", "-c", "kill -KILL $$", NULL};
    assert_int_equal(run_simple(killed, 10000, 64, &r), BOSUN_OK);
    assert_int_equal(r.term_signal, SIGKILL);
    assert_false(r.timed_out);
    assert_false(r.cancelled);
    exec_result_free(&r);
}

static void test_missing_program_is_spawn_failure(void **state)
{
    (void)state;
    char *argv[] = {"bosun-test-no-such-program", "x", NULL};
    exec_result_t r;
    assert_int_equal(run_simple(argv, 10000, 64, &r), BOSUN_OK);
    assert_true(r.spawn_failed);
    assert_int_equal(r.spawn_errno, ENOENT);
    assert_int_equal(r.exit_code, 127);
    assert_int_equal(r.term_signal, 0);
    assert_int_equal(r.out_len, 0);
    exec_result_free(&r);

    char *abs[] = {"/nonexistent/bosun/prog", NULL};
    assert_int_equal(run_simple(abs, 10000, 64, &r), BOSUN_OK);
    assert_true(r.spawn_failed);
    assert_int_equal(r.spawn_errno, ENOENT);
    exec_result_free(&r);
}

static void test_bad_cwd_is_spawn_failure(void **state)
{
    (void)state;
    char *argv[] = {"true", NULL};
    exec_spec_t spec = {.argv = argv, .envp = path_env, .cwd = "/nonexistent/bosun-dir",
                        .timeout_ms = 10000, .max_output = 64};
    exec_result_t r;
    assert_int_equal(exec_run(&spec, &r), BOSUN_OK);
    assert_true(r.spawn_failed);
    assert_int_equal(r.spawn_errno, ENOENT);
    assert_int_equal(r.exit_code, 127);
    exec_result_free(&r);
}

static void test_empty_argv_is_invalid(void **state)
{
    (void)state;
    char *empty[] = {"", NULL};
    char *none[] = {NULL};
    exec_result_t r;
    assert_int_equal(run_simple(empty, 1000, 64, &r), BOSUN_ERR_INVALID);
    exec_result_free(&r);
    assert_int_equal(run_simple(none, 1000, 64, &r), BOSUN_ERR_INVALID);
    exec_result_free(&r);
}

/*
 * The leader dies of SIGTERM at the timeout, but a grandchild that ignores
 * SIGTERM (and holds stdout) is killed too, well before the 2 s grace.
 */
static void test_timeout_kills_group_including_term_trapping_grandchild(void **state)
{
    (void)state;
    char *dir = harness_tmpdir("exec");
    assert_non_null(dir);
    char pidfile[512];
    snprintf(pidfile, sizeof pidfile, "%s/gc.pid", dir);
    char *argv[] = {"sh", "-c", "(trap '' TERM; exec sleep 30) & echo $! > \"$0\"; wait", pidfile,
                    NULL};
    exec_result_t r;
    uint64_t t0 = bosun_mono_ms();
    assert_int_equal(run_simple(argv, 500, 1024, &r), BOSUN_OK);
    uint64_t took = bosun_mono_ms() - t0;
    pid_t gc = read_pid_file(pidfile);
    harness_rmtree(dir);
    free(dir);
    assert_true(gc > 0);
    track(gc);
    assert_true(r.timed_out);
    assert_false(r.cancelled);
    assert_int_equal(r.term_signal, SIGTERM);
    assert_true(took >= 450);
    assert_true(took < 2000);
    assert_true(proc_dead(gc, 2000));
    exec_result_free(&r);
}

/* Leader and grandchild both ignore SIGTERM: SIGKILL follows 2 s later. */
static void test_timeout_sends_sigkill_after_grace(void **state)
{
    (void)state;
    char *dir = harness_tmpdir("exec");
    assert_non_null(dir);
    char pidfile[512];
    snprintf(pidfile, sizeof pidfile, "%s/gc.pid", dir);
    char *argv[] = {"sh", "-c", "trap '' TERM; sleep 30 & echo $! > \"$0\"; wait", pidfile, NULL};
    exec_result_t r;
    uint64_t t0 = bosun_mono_ms();
    assert_int_equal(run_simple(argv, 300, 1024, &r), BOSUN_OK);
    uint64_t took = bosun_mono_ms() - t0;
    pid_t gc = read_pid_file(pidfile);
    harness_rmtree(dir);
    free(dir);
    assert_true(gc > 0);
    track(gc);
    assert_true(r.timed_out);
    assert_false(r.cancelled);
    assert_int_equal(r.term_signal, SIGKILL);
    assert_true(took >= 300 + 2000 - 50);
    assert_true(took < 300 + 2000 + 2000);
    assert_true(proc_dead(gc, 2000));
    exec_result_free(&r);
}

static void *raise_cancel(void *arg)
{
    bosun_sleep_ms(200);
    atomic_store((atomic_bool *)arg, true);
    return NULL;
}

static void test_cancel_from_another_thread(void **state)
{
    (void)state;
    atomic_bool cancel;
    atomic_init(&cancel, false);
    char *argv[] = {"sleep", "30", NULL};
    exec_spec_t spec = {.argv = argv, .envp = path_env, .timeout_ms = 15000, .max_output = 64,
                        .cancel = &cancel};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, raise_cancel, &cancel), 0);
    exec_result_t r;
    uint64_t t0 = bosun_mono_ms();
    bosun_status_t st = exec_run(&spec, &r);
    uint64_t took = bosun_mono_ms() - t0;
    pthread_join(th, NULL);
    assert_int_equal(st, BOSUN_OK);
    assert_true(r.cancelled);
    assert_false(r.timed_out);
    assert_int_equal(r.term_signal, SIGTERM);
    assert_true(took >= 150);
    assert_true(took < 3000);
    exec_result_free(&r);
}

static void test_child_gets_exactly_envp(void **state)
{
    (void)state;
    char *envp[] = {"A=1", "B=two words", "EMPTY=", NULL};
    char *argv[] = {"env", NULL};
    exec_spec_t spec = {.argv = argv, .envp = envp, .timeout_ms = 10000, .max_output = 4096};
    exec_result_t r;
    assert_int_equal(exec_run(&spec, &r), BOSUN_OK);
    assert_false(r.spawn_failed);
    const char want[] = "A=1\nB=two words\nEMPTY=\n";
    assert_int_equal(r.out_len, sizeof want - 1);
    assert_memory_equal(r.out, want, sizeof want - 1);
    exec_result_free(&r);
}

static void test_child_runs_in_cwd(void **state)
{
    (void)state;
    char *dir = harness_tmpdir("exec");
    assert_non_null(dir);
    char *real = realpath(dir, NULL);
    assert_non_null(real);
    char *argv[] = {"pwd", NULL};
    exec_spec_t spec = {.argv = argv, .envp = path_env, .cwd = dir, .timeout_ms = 10000,
                        .max_output = 4096};
    exec_result_t r;
    bosun_status_t st = exec_run(&spec, &r);
    harness_rmtree(dir);
    free(dir);
    assert_int_equal(st, BOSUN_OK);
    assert_int_equal(r.exit_code, 0);
    assert_int_equal(r.out_len, strlen(real) + 1);
    assert_memory_equal(r.out, real, strlen(real));
    assert_int_equal(r.out[strlen(real)], '\n');
    free(real);
    exec_result_free(&r);
}

/* fd 3 is what ls opens for /proc/self/fd; nothing else may be there. */
static void test_child_inherits_no_fds(void **state)
{
    (void)state;
    int leak = open("/dev/null", O_RDONLY); /* deliberately without O_CLOEXEC */
    assert_true(leak >= 0);
    int high = dup2(leak, 50);
    assert_int_equal(high, 50);
    char *argv[] = {"ls", "/proc/self/fd", NULL};
    exec_result_t r;
    bosun_status_t st = run_simple(argv, 10000, 4096, &r);
    close(leak);
    close(high);
    assert_int_equal(st, BOSUN_OK);
    assert_int_equal(r.exit_code, 0);
    const char want[] = "0\n1\n2\n3\n";
    assert_int_equal(r.out_len, sizeof want - 1);
    assert_memory_equal(r.out, want, sizeof want - 1);
    exec_result_free(&r);
}

/*
 * The leader exits at once while a background child keeps stdout open:
 * exec_run returns soon (not at the timeout) and the child is killed.
 */
static void test_background_child_holding_stdout_does_not_hang(void **state)
{
    (void)state;
    char *argv[] = {"sh", "-c", "sleep 30 & echo $!", NULL};
    exec_result_t r;
    uint64_t t0 = bosun_mono_ms();
    assert_int_equal(run_simple(argv, 15000, 1024, &r), BOSUN_OK);
    uint64_t took = bosun_mono_ms() - t0;
    char text[32] = "";
    memcpy(text, r.out, r.out_len < sizeof text - 1 ? r.out_len : sizeof text - 1);
    pid_t bg = (pid_t)strtol(text, NULL, 10);
    assert_true(bg > 0);
    track(bg);
    assert_true(took < 2000);
    assert_false(r.timed_out);
    assert_int_equal(r.exit_code, 0);
    assert_int_equal(r.term_signal, 0);
    assert_true(proc_dead(bg, 2000));
    exec_result_free(&r);
}

typedef struct {
    int calls;
    pid_t pgid;
    uint64_t ticks;
    pid_t pgid_of_leader;
    uint64_t ticks_now;
} started_t;

static void on_started(void *arg, pid_t pgid, uint64_t start_ticks)
{
    started_t *s = arg;
    s->calls++;
    s->pgid = pgid;
    s->ticks = start_ticks;
    s->pgid_of_leader = getpgid(pgid);
    s->ticks_now = exec_start_ticks(pgid);
}

static void test_on_started_reports_group_and_start_time(void **state)
{
    (void)state;
    started_t s = {0};
    char *argv[] = {"sleep", "0.2", NULL};
    exec_spec_t spec = {.argv = argv, .envp = path_env, .timeout_ms = 10000, .max_output = 64,
                        .on_started = on_started, .arg = &s};
    exec_result_t r;
    assert_int_equal(exec_run(&spec, &r), BOSUN_OK);
    assert_int_equal(r.exit_code, 0);
    assert_int_equal(s.calls, 1);
    assert_true(s.pgid > 1);
    assert_int_equal(s.pgid_of_leader, s.pgid);
    assert_true(s.ticks != 0);
    assert_true(s.ticks == s.ticks_now);
    assert_true(s.ticks >= exec_start_ticks(getpid()));
    exec_result_free(&r);

    /* The callback comes before exec, so also when exec then fails. */
    s.calls = 0;
    char *missing[] = {"bosun-test-no-such-program", NULL};
    spec.argv = missing;
    assert_int_equal(exec_run(&spec, &r), BOSUN_OK);
    assert_true(r.spawn_failed);
    assert_int_equal(s.calls, 1);
    exec_result_free(&r);
}

typedef struct {
    const char *path;
    bool ran_before_return; /* the command had run while on_started had not returned */
} before_t;

static void on_started_slowly(void *arg, pid_t pgid, uint64_t start_ticks)
{
    (void)pgid;
    (void)start_ticks;
    before_t *b = arg;
    usleep(300000); /* a slow record (the agent's ledger): the command must wait for it */
    b->ran_before_return = access(b->path, F_OK) == 0;
}

/*
 * Regression (chaos suite review, reproduced under gdb): the agent's ledger
 * said "started" only after exec, so a kill -9 of the agent after the
 * command had run and before that record made the restarted agent forget
 * the id, and the retry ran it a second time.
 */
static void test_command_waits_for_on_started(void **state)
{
    (void)state;
    char path[64];
    snprintf(path, sizeof path, "/tmp/bosun-test-exec-before-%d", (int)getpid());
    unlink(path);
    char script[128];
    snprintf(script, sizeof script, "echo ran > %s", path);
    char *argv[] = {"sh", "-c", script, NULL};
    before_t b = {.path = path};
    exec_spec_t spec = {.argv = argv, .envp = path_env, .timeout_ms = 10000, .max_output = 64,
                        .on_started = on_started_slowly, .arg = &b};
    exec_result_t r;
    assert_int_equal(exec_run(&spec, &r), BOSUN_OK);
    assert_int_equal(r.exit_code, 0);
    assert_false(b.ran_before_return);
    assert_int_equal(access(path, F_OK), 0);
    unlink(path);
    exec_result_free(&r);
}

static void test_start_ticks_of_self_is_stable(void **state)
{
    (void)state;
    uint64_t a = exec_start_ticks(getpid());
    assert_true(a != 0);
    bosun_sleep_ms(20);
    assert_true(exec_start_ticks(getpid()) == a);
    assert_true(exec_start_ticks(0x3fffffff) == 0); /* above any pid_max */
}

typedef struct {
    pid_t pid;
    uint64_t want;
    int wrong;
} ticks_job_t;

static void *ticks_worker(void *arg)
{
    ticks_job_t *j = arg;
    for (int i = 0; i < 20000; i++)
        if (exec_start_ticks(j->pid) != j->want)
            j->wrong++;
    return NULL;
}

/*
 * Pool workers call exec_start_ticks concurrently (from on_started).
 * Regression: it parsed /proc/PID/stat with strtok, whose hidden state is
 * shared by all threads, and now and then returned another pid's field.
 */
static void test_start_ticks_is_thread_safe(void **state)
{
    (void)state;
    pid_t pids[] = {getpid(), getppid(), 1, getpid(), getppid(), 1};
    enum { N = sizeof pids / sizeof pids[0] };
    ticks_job_t jobs[N];
    pthread_t th[N];
    for (int i = 0; i < N; i++) {
        jobs[i] = (ticks_job_t){.pid = pids[i], .want = exec_start_ticks(pids[i])};
        assert_int_equal(pthread_create(&th[i], NULL, ticks_worker, &jobs[i]), 0);
    }
    int wrong = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        wrong += jobs[i].wrong;
    }
    assert_int_equal(wrong, 0);
}

/* Forks a child that leads its own group and waits to be killed. */
static pid_t fork_group_leader(void)
{
    pid_t pid = fork();
    if (pid == 0) {
        setpgid(0, 0);
        for (;;)
            pause();
    }
    if (pid > 0) {
        setpgid(pid, pid);
        track(pid);
    }
    return pid;
}

static void test_kill_stale_group_refuses_other_start_time(void **state)
{
    (void)state;
    pid_t pid = fork_group_leader();
    assert_true(pid > 0);
    uint64_t ticks = exec_start_ticks(pid);
    assert_true(ticks != 0);

    assert_false(exec_kill_stale_group(pid, ticks + 1));
    assert_false(exec_kill_stale_group(pid, 0));
    assert_false(exec_kill_stale_group(1, ticks));
    assert_false(exec_kill_stale_group(0, ticks));
    bosun_sleep_ms(100);
    assert_int_equal(waitpid(pid, NULL, WNOHANG), 0); /* still alive */

    assert_true(exec_kill_stale_group(pid, ticks));
    int ws = 0;
    assert_int_equal(waitpid(pid, &ws, 0), pid);
    assert_true(WIFSIGNALED(ws));
    assert_int_equal(WTERMSIG(ws), SIGKILL);
}

/*
 * The leader of a group exits (and is reaped) while its child lives on in the
 * group, as after an agent crash: the group is still killed.
 */
static void test_kill_stale_group_kills_group_without_leader(void **state)
{
    (void)state;
    int to_parent[2], to_leader[2];
    assert_int_equal(pipe2(to_parent, O_CLOEXEC), 0);
    assert_int_equal(pipe2(to_leader, O_CLOEXEC), 0);
    pid_t leader = fork();
    assert_true(leader >= 0);
    if (leader == 0) {
        setpgid(0, 0);
        pid_t gc = fork();
        if (gc == 0) {
            for (;;)
                pause();
        }
        ssize_t w = write(to_parent[1], &gc, sizeof gc);
        char c;
        ssize_t rd = read(to_leader[0], &c, 1);
        _exit(w == (ssize_t)sizeof gc && rd >= 0 ? 0 : 1);
    }
    setpgid(leader, leader);
    track(leader);
    close(to_parent[1]);
    close(to_leader[0]);
    pid_t gc = -1;
    ssize_t n = read(to_parent[0], &gc, sizeof gc);
    close(to_parent[0]);
    if (n == (ssize_t)sizeof gc && gc > 0)
        track(gc);
    uint64_t ticks = exec_start_ticks(leader);
    assert_int_equal(write(to_leader[1], "x", 1), 1);
    close(to_leader[1]);
    int ws = 0;
    assert_int_equal(waitpid(leader, &ws, 0), leader);
    assert_true(WIFEXITED(ws));
    assert_int_equal(WEXITSTATUS(ws), 0);
    assert_int_equal(n, (ssize_t)sizeof gc);
    assert_true(gc > 0);
    assert_true(ticks != 0);
    assert_int_equal(exec_start_ticks(leader), 0); /* the leader is gone */
    assert_int_equal(getpgid(gc), leader);         /* its child lives on in the group */

    assert_true(exec_kill_stale_group(leader, ticks));
    assert_int_equal(waitpid(gc, &ws, 0), gc); /* reparented to us, the subreaper */
    assert_true(WIFSIGNALED(ws));
    assert_int_equal(WTERMSIG(ws), SIGKILL);

    /* Nothing is left in the group now. */
    assert_false(exec_kill_stale_group(leader, ticks));
}

int main(void)
{
    /* Orphaned grandchildren come to us, so tests can reap them by pid. */
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_captures_stdout_and_stderr_exactly, reap_tracked),
        cmocka_unit_test_teardown(test_captures_large_output_on_both_streams, reap_tracked),
        cmocka_unit_test_teardown(test_truncates_at_max_output_without_blocking_child, reap_tracked),
        cmocka_unit_test_teardown(test_output_of_exactly_max_is_not_truncated, reap_tracked),
        cmocka_unit_test_teardown(test_exit_codes_and_signals, reap_tracked),
        cmocka_unit_test_teardown(test_missing_program_is_spawn_failure, reap_tracked),
        cmocka_unit_test_teardown(test_bad_cwd_is_spawn_failure, reap_tracked),
        cmocka_unit_test_teardown(test_empty_argv_is_invalid, reap_tracked),
        cmocka_unit_test_teardown(test_timeout_kills_group_including_term_trapping_grandchild,
                                  reap_tracked),
        cmocka_unit_test_teardown(test_timeout_sends_sigkill_after_grace, reap_tracked),
        cmocka_unit_test_teardown(test_cancel_from_another_thread, reap_tracked),
        cmocka_unit_test_teardown(test_child_gets_exactly_envp, reap_tracked),
        cmocka_unit_test_teardown(test_child_runs_in_cwd, reap_tracked),
        cmocka_unit_test_teardown(test_child_inherits_no_fds, reap_tracked),
        cmocka_unit_test_teardown(test_background_child_holding_stdout_does_not_hang, reap_tracked),
        cmocka_unit_test_teardown(test_on_started_reports_group_and_start_time, reap_tracked),
        cmocka_unit_test(test_command_waits_for_on_started),
        cmocka_unit_test_teardown(test_start_ticks_of_self_is_stable, reap_tracked),
        cmocka_unit_test_teardown(test_start_ticks_is_thread_safe, reap_tracked),
        cmocka_unit_test_teardown(test_kill_stale_group_refuses_other_start_time, reap_tracked),
        cmocka_unit_test_teardown(test_kill_stale_group_kills_group_without_leader, reap_tracked),
    };
    return cmocka_run_group_tests_name("exec", tests, NULL, NULL);
}
