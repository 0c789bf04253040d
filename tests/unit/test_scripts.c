/*
 * test_scripts.c - the transition-script runner (agent/scripts.c): argument
 * and output, exit codes, timeouts that kill the whole group, per-resource
 * order, parallelism across resources, a scripts_run that never blocks, the
 * eventfd, the environment, the queue bound and a prompt scripts_free.
 *
 * Each test writes its scripts into a fresh temporary directory. Scripts that
 * hang write their pid (and their background child's) to files, so the tests
 * can check that nothing they started outlives the runner.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "harness.h"
#include "scripts.h"

static char *test_env[] = {"PATH=/usr/bin:/bin", NULL};

/* A long-running script: records its own pid and its background child's,
 * then waits. The timeout kills the group or the test fails. */
#define HANG_BODY                                                                                  \
    "sleep 300 &\n"                                                                                \
    "echo $! > \"$0.child\"\n"                                                                     \
    "echo $$ > \"$0.pid\"\n"                                                                       \
    "wait\n"

typedef struct {
    char *dir;
    scripts_t *s;
} fixture_t;

static char *dir_file(const fixture_t *f, const char *name)
{
    char *path = NULL;
    assert_true(asprintf(&path, "%s/%s", f->dir, name) > 0);
    return path;
}

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->dir = harness_tmpdir("scripts");
    assert_non_null(f->dir);
    *state = f;
    return 0;
}

/* True if pid's command line is one a test script of f started. */
static bool is_ours(const fixture_t *f, pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
    FILE *fp = fopen(path, "re");
    if (fp == NULL)
        return false;
    size_t n = fread(buf, 1, sizeof buf - 1, fp);
    fclose(fp);
    for (size_t i = 0; i < n; i++)
        if (buf[i] == '\0')
            buf[i] = ' ';
    buf[n] = '\0';
    return strstr(buf, f->dir) != NULL || strcmp(buf, "sleep 300 ") == 0;
}

/* Kills whatever a failed test left running: every pid a script recorded. */
static void kill_leftovers(const fixture_t *f)
{
    DIR *d = opendir(f->dir);
    if (d == NULL)
        return;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t len = strlen(de->d_name);
        if (!(len > 4 && strcmp(de->d_name + len - 4, ".pid") == 0) &&
            !(len > 6 && strcmp(de->d_name + len - 6, ".child") == 0))
            continue;
        char *path = dir_file(f, de->d_name);
        char *text = harness_read_file(path, NULL);
        pid_t pid = text != NULL ? (pid_t)atoi(text) : 0;
        if (pid > 1 && is_ours(f, pid))
            kill(pid, SIGKILL);
        free(text);
        free(path);
    }
    closedir(d);
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    scripts_free(f->s);
    kill_leftovers(f);
    harness_rmtree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

/* Writes an executable "#!/bin/sh" script NAME into the fixture's directory;
 * returns its path (caller frees). */
static char *write_script(const fixture_t *f, const char *name, const char *body)
{
    char *path = NULL;
    assert_true(asprintf(&path, "%s/%s", f->dir, name) > 0);
    char *text = NULL;
    assert_true(asprintf(&text, "#!/bin/sh\n%s", body) > 0);
    assert_int_equal(harness_write_file(path, text), 0);
    assert_int_equal(chmod(path, 0755), 0);
    free(text);
    return path;
}

/* Waits at most timeout_ms for a result (polling the runner's eventfd). */
static bool wait_result(scripts_t *s, scripts_result_t *out, int timeout_ms)
{
    uint64_t deadline = bosun_mono_ms() + (uint64_t)timeout_ms;
    for (;;) {
        if (scripts_take(s, out))
            return true;
        uint64_t now = bosun_mono_ms();
        if (now >= deadline)
            return false;
        struct pollfd p = {.fd = scripts_fd(s), .events = POLLIN};
        poll(&p, 1, (int)(deadline - now));
    }
}

/* True if fd is readable right now. */
static bool readable(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

static bool file_exists(void *arg)
{
    return access((const char *)arg, F_OK) == 0;
}

/* Waits for a pid file written by a script and returns the pid in it. */
static pid_t wait_pid_file(const char *path)
{
    assert_true(harness_wait_until(file_exists, (void *)path, 5000));
    pid_t pid = 0;
    for (int i = 0; i < 100 && pid <= 0; i++) {
        char *text = harness_read_file(path, NULL);
        if (text != NULL)
            pid = (pid_t)atoi(text);
        free(text);
        if (pid <= 0)
            bosun_sleep_ms(10);
    }
    assert_true(pid > 0);
    return pid;
}

/* State letter of pid from /proc/PID/stat ('R', 'S', 'Z'...), 0 if gone. */
static char proc_state(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *fp = fopen(path, "re");
    if (fp == NULL)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, fp);
    fclose(fp);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    return p != NULL && p[1] == ' ' ? p[2] : 0;
}

static bool pid_dead(pid_t pid)
{
    char st = proc_state(pid);
    return st == 0 || st == 'Z' || st == 'X';
}

/* Asserts that neither pid recorded by a HANG_BODY script still runs. The
 * orphaned child is reaped by init, so give it a moment to disappear. */
static void assert_hang_gone(const fixture_t *f, const char *name)
{
    char pid_name[64], child_name[64];
    snprintf(pid_name, sizeof pid_name, "%s.pid", name);
    snprintf(child_name, sizeof child_name, "%s.child", name);
    char *pp = dir_file(f, pid_name), *cp = dir_file(f, child_name);
    pid_t pid = wait_pid_file(pp), child = wait_pid_file(cp);
    for (int i = 0; i < 100 && !(pid_dead(pid) && pid_dead(child)); i++)
        bosun_sleep_ms(10);
    if (!pid_dead(pid) || !pid_dead(child)) {
        char pst = proc_state(pid), cst = proc_state(child);
        kill(pid, SIGKILL);
        kill(child, SIGKILL);
        fail_msg("script %s left processes: pid %d (state %c), child %d (state %c)", name,
                 (int)pid, pst ? pst : '-', (int)child, cst ? cst : '-');
    }
    free(pp);
    free(cp);
}

/* ---- tests ---------------------------------------------------------------- */

static void test_output_and_argument(void **state)
{
    fixture_t *f = *state;
    char *path = write_script(f, "before", "printf '%s:1000-2000' \"$1\"\n");
    assert_int_equal(scripts_new(1, test_env, NULL, NULL, &f->s), BOSUN_OK);
    assert_int_equal(scripts_run(f->s, path, 7, "web-vip", 3, 42, 5000), BOSUN_OK);
    scripts_result_t r;
    assert_true(wait_result(f->s, &r, 5000));
    assert_true(r.ok);
    assert_int_equal(r.exit_code, 0);
    assert_false(r.timed_out);
    assert_string_equal(r.output, "web-vip:1000-2000");
    assert_string_equal(r.error, "");
    assert_int_equal(r.resource, 7);
    assert_int_equal(r.kind, 3);
    assert_int_equal(r.gen, 42);
    assert_true(r.duration_ms < 5000);
    assert_false(scripts_take(f->s, &r));
    free(path);
}

static void test_nonzero_exit(void **state)
{
    fixture_t *f = *state;
    char *path = write_script(f, "fail", "echo partial\nexit 3\n");
    assert_int_equal(scripts_new(1, test_env, NULL, NULL, &f->s), BOSUN_OK);
    assert_int_equal(scripts_run(f->s, path, 0, "r", 0, 0, 5000), BOSUN_OK);
    scripts_result_t r;
    assert_true(wait_result(f->s, &r, 5000));
    assert_false(r.ok);
    assert_int_equal(r.exit_code, 3);
    assert_false(r.timed_out);
    assert_string_equal(r.error, "exited with code 3");
    assert_string_equal(r.output, "partial\n");
    free(path);
}

static void test_killed_by_signal(void **state)
{
    fixture_t *f = *state;
    char *path = write_script(f, "suicide", "kill -9 $$\n");
    assert_int_equal(scripts_new(1, test_env, NULL, NULL, &f->s), BOSUN_OK);
    assert_int_equal(scripts_run(f->s, path, 0, "r", 0, 0, 5000), BOSUN_OK);
    scripts_result_t r;
    assert_true(wait_result(f->s, &r, 5000));
    assert_false(r.ok);
    assert_false(r.timed_out);
    assert_int_equal(r.exit_code, -1);
    assert_string_equal(r.error, "killed by signal 9");
    free(path);
}

static void test_timeout_kills_group(void **state)
{
    fixture_t *f = *state;
    char *path = write_script(f, "hang", HANG_BODY);
    assert_int_equal(scripts_new(1, test_env, NULL, NULL, &f->s), BOSUN_OK);
    uint64_t t0 = bosun_mono_ms();
    assert_int_equal(scripts_run(f->s, path, 0, "r", 0, 0, 300), BOSUN_OK);
    scripts_result_t r;
    assert_true(wait_result(f->s, &r, 10000));
    uint64_t took = bosun_mono_ms() - t0;
    assert_true(took < 3000);
    assert_true(r.timed_out);
    assert_false(r.ok);
    assert_int_equal(r.exit_code, -1);
    assert_string_equal(r.error, "timed out after 300 ms; process group killed");
    assert_true(r.duration_ms >= 300 && r.duration_ms < 3000);
    assert_hang_gone(f, "hang");
    free(path);
}

static void test_missing_script(void **state)
{
    fixture_t *f = *state;
    char *path = dir_file(f, "no-such-script");
    assert_int_equal(scripts_new(1, test_env, NULL, NULL, &f->s), BOSUN_OK);
    assert_int_equal(scripts_run(f->s, path, 0, "r", 0, 0, 5000), BOSUN_OK);
    scripts_result_t r;
    assert_true(wait_result(f->s, &r, 5000));
    assert_false(r.ok);
    assert_false(r.timed_out);
    assert_int_equal(r.exit_code, -1);
    char want[512];
    snprintf(want, sizeof want, "cannot execute '%s': No such file or directory", path);
    assert_string_equal(r.error, want);
    free(path);
}

/* Queued back to back, the first sleeps longest: run in parallel, the lines
 * would come out reversed. */
static void test_one_resource_in_order(void **state)
{
    fixture_t *f = *state;
    char *a = write_script(f, "a", "sleep 0.3; echo a >> \"$0.out\"\n");
    char *b = write_script(f, "b", "sleep 0.15; echo b >> \"$(dirname \"$0\")/a.out\"\n");
    char *c = write_script(f, "c", "echo c >> \"$(dirname \"$0\")/a.out\"\n");
    assert_int_equal(scripts_new(3, test_env, NULL, NULL, &f->s), BOSUN_OK);
    assert_int_equal(scripts_run(f->s, a, 5, "r", 1, 0, 5000), BOSUN_OK);
    assert_int_equal(scripts_run(f->s, b, 5, "r", 2, 0, 5000), BOSUN_OK);
    assert_int_equal(scripts_run(f->s, c, 5, "r", 3, 0, 5000), BOSUN_OK);
    for (int kind = 1; kind <= 3; kind++) {
        scripts_result_t r;
        assert_true(wait_result(f->s, &r, 5000));
        assert_true(r.ok);
        assert_int_equal(r.kind, kind);
    }
    char *out = dir_file(f, "a.out");
    char *text = harness_read_file(out, NULL);
    assert_non_null(text);
    assert_string_equal(text, "a\nb\nc\n");
    free(text);
    free(out);
    free(a);
    free(b);
    free(c);
}

static void test_resources_in_parallel(void **state)
{
    fixture_t *f = *state;
    char *path = write_script(f, "slow", "sleep 1\n");
    assert_int_equal(scripts_new(2, test_env, NULL, NULL, &f->s), BOSUN_OK);
    uint64_t t0 = bosun_mono_ms();
    assert_int_equal(scripts_run(f->s, path, 0, "r0", 0, 0, 5000), BOSUN_OK);
    assert_int_equal(scripts_run(f->s, path, 1, "r1", 0, 0, 5000), BOSUN_OK);
    scripts_result_t r;
    assert_true(wait_result(f->s, &r, 5000));
    assert_true(r.ok);
    assert_true(wait_result(f->s, &r, 5000));
    assert_true(r.ok);
    uint64_t took = bosun_mono_ms() - t0;
    print_message("two 1 s scripts on two resources took %llu ms\n", (unsigned long long)took);
    assert_true(took >= 1000 && took < 1800);
    free(path);
}

/* A resource whose script hangs holds back only its own later scripts. */
static void test_busy_resource_does_not_block_others(void **state)
{
    fixture_t *f = *state;
    char *hang = write_script(f, "hang", HANG_BODY);
    char *quick = write_script(f, "quick", "echo \"$1\"\n");
    assert_int_equal(scripts_new(2, test_env, NULL, NULL, &f->s), BOSUN_OK);
    assert_int_equal(scripts_run(f->s, hang, 0, "r0", 1, 0, 60000), BOSUN_OK);
    assert_int_equal(scripts_run(f->s, quick, 0, "r0", 2, 0, 5000), BOSUN_OK);
    assert_int_equal(scripts_run(f->s, quick, 1, "r1", 3, 0, 5000), BOSUN_OK);
    scripts_result_t r;
    assert_true(wait_result(f->s, &r, 3000));
    assert_int_equal(r.kind, 3);
    assert_string_equal(r.output, "r1\n");
    /* r0's second script waits behind the hanging one. */
    assert_false(wait_result(f->s, &r, 300));
    scripts_free(f->s);
    f->s = NULL;
    assert_hang_gone(f, "hang");
    free(hang);
    free(quick);
}

static void test_run_never_blocks(void **state)
{
    fixture_t *f = *state;
    char *h0 = write_script(f, "h0", HANG_BODY);
    char *h1 = write_script(f, "h1", HANG_BODY);
    char *quick = write_script(f, "quick", "true\n");
    assert_int_equal(scripts_new(2, test_env, NULL, NULL, &f->s), BOSUN_OK);
    assert_int_equal(scripts_run(f->s, h0, 0, "r0", 0, 0, 60000), BOSUN_OK);
    assert_int_equal(scripts_run(f->s, h1, 1, "r1", 0, 0, 60000), BOSUN_OK);
    /* Both workers are now inside hanging scripts. */
    char *p0 = dir_file(f, "h0.pid"), *p1 = dir_file(f, "h1.pid");
    wait_pid_file(p0);
    wait_pid_file(p1);
    uint64_t t0 = bosun_mono_us();
    for (size_t i = 0; i < 30; i++)
        assert_int_equal(scripts_run(f->s, quick, i % 3, "r", 0, 0, 5000), BOSUN_OK);
    uint64_t took_us = bosun_mono_us() - t0;
    print_message("30 scripts_run calls with every worker hung took %llu us\n",
                  (unsigned long long)took_us);
    assert_true(took_us < 100000);
    assert_false(readable(scripts_fd(f->s)));
    t0 = bosun_mono_ms();
    scripts_free(f->s);
    f->s = NULL;
    assert_true(bosun_mono_ms() - t0 < 3000);
    assert_hang_gone(f, "h0");
    assert_hang_gone(f, "h1");
    free(p0);
    free(p1);
    free(h0);
    free(h1);
    free(quick);
}

static void test_fd_readable_only_with_results(void **state)
{
    fixture_t *f = *state;
    char *path = write_script(f, "late", "sleep 0.3; echo hi\n");
    assert_int_equal(scripts_new(2, test_env, NULL, NULL, &f->s), BOSUN_OK);
    int fd = scripts_fd(f->s);
    assert_true(fd >= 0);
    assert_false(readable(fd));
    uint64_t t0 = bosun_mono_ms();
    assert_int_equal(scripts_run(f->s, path, 0, "r0", 1, 0, 5000), BOSUN_OK);
    assert_int_equal(scripts_run(f->s, path, 1, "r1", 2, 0, 5000), BOSUN_OK);
    assert_false(readable(fd));
    struct pollfd p = {.fd = fd, .events = POLLIN};
    assert_int_equal(poll(&p, 1, 5000), 1);
    assert_true(bosun_mono_ms() - t0 >= 250);
    /* Wait for the second result too, then take them one by one. */
    bosun_sleep_ms(500);
    scripts_result_t r;
    assert_true(readable(fd));
    assert_true(scripts_take(f->s, &r));
    assert_string_equal(r.output, "hi\n");
    assert_true(readable(fd));
    assert_true(scripts_take(f->s, &r));
    assert_false(readable(fd));
    assert_false(scripts_take(f->s, &r));
    assert_false(readable(fd));
    free(path);
}

static void test_environment(void **state)
{
    fixture_t *f = *state;
    char *path = write_script(f, "env",
                              "printf '%s|%s|%s' \"$BOSUN_GIVEN\" \"${BOSUN_LEAK-none}\" "
                              "\"${HOME-unset}\"\n");
    char *env[] = {"PATH=/usr/bin:/bin", "BOSUN_GIVEN=hello world", NULL};
    assert_int_equal(setenv("BOSUN_LEAK", "leaked", 1), 0);
    assert_int_equal(scripts_new(1, env, NULL, NULL, &f->s), BOSUN_OK);
    assert_int_equal(scripts_run(f->s, path, 0, "r", 0, 0, 5000), BOSUN_OK);
    scripts_result_t r;
    assert_true(wait_result(f->s, &r, 5000));
    unsetenv("BOSUN_LEAK");
    assert_true(r.ok);
    assert_string_equal(r.output, "hello world|none|unset");
    free(path);
}

static void test_working_directory(void **state)
{
    fixture_t *f = *state;
    char *path = write_script(f, "pwd", "pwd -P\n");
    char real[PATH_MAX], want[PATH_MAX + 2];
    assert_non_null(realpath(f->dir, real));
    snprintf(want, sizeof want, "%s\n", real);
    assert_int_equal(scripts_new(1, test_env, f->dir, NULL, &f->s), BOSUN_OK);
    assert_int_equal(scripts_run(f->s, path, 0, "r", 0, 0, 5000), BOSUN_OK);
    scripts_result_t r;
    assert_true(wait_result(f->s, &r, 5000));
    assert_true(r.ok);
    assert_string_equal(r.output, want);
    free(path);
}

static void test_output_truncated(void **state)
{
    fixture_t *f = *state;
    char *path = write_script(f, "chatty", "head -c 10000 /dev/zero | tr '\\0' x\n");
    assert_int_equal(scripts_new(1, test_env, NULL, NULL, &f->s), BOSUN_OK);
    assert_int_equal(scripts_run(f->s, path, 0, "r", 0, 0, 5000), BOSUN_OK);
    scripts_result_t r;
    assert_true(wait_result(f->s, &r, 5000));
    assert_true(r.ok);
    assert_int_equal(strlen(r.output), sizeof r.output - 1);
    assert_int_equal(strspn(r.output, "x"), sizeof r.output - 1);
    free(path);
}

static void test_free_kills_running(void **state)
{
    fixture_t *f = *state;
    char *path = write_script(f, "hang", HANG_BODY);
    assert_int_equal(scripts_new(1, test_env, NULL, NULL, &f->s), BOSUN_OK);
    assert_int_equal(scripts_run(f->s, path, 0, "r", 0, 0, 60000), BOSUN_OK);
    char *pp = dir_file(f, "hang.pid");
    wait_pid_file(pp);
    uint64_t t0 = bosun_mono_ms();
    scripts_free(f->s);
    f->s = NULL;
    uint64_t took = bosun_mono_ms() - t0;
    print_message("scripts_free with a hanging script took %llu ms\n", (unsigned long long)took);
    assert_true(took < 3000);
    assert_hang_gone(f, "hang");
    free(pp);
    free(path);
}

/* A script that ignores SIGTERM is still gone, by SIGKILL, within 3 s. */
static void test_free_kills_term_ignoring(void **state)
{
    fixture_t *f = *state;
    char *path = write_script(f, "stubborn", "trap '' TERM\n" HANG_BODY);
    assert_int_equal(scripts_new(1, test_env, NULL, NULL, &f->s), BOSUN_OK);
    assert_int_equal(scripts_run(f->s, path, 0, "r", 0, 0, 60000), BOSUN_OK);
    char *pp = dir_file(f, "stubborn.pid");
    wait_pid_file(pp);
    uint64_t t0 = bosun_mono_ms();
    scripts_free(f->s);
    f->s = NULL;
    uint64_t took = bosun_mono_ms() - t0;
    print_message("scripts_free with a TERM-ignoring script took %llu ms\n",
                  (unsigned long long)took);
    assert_true(took < 3000);
    assert_hang_gone(f, "stubborn");
    free(pp);
    free(path);
}

static void test_queue_bound(void **state)
{
    fixture_t *f = *state;
    char *hang = write_script(f, "hang", HANG_BODY);
    char *quick = write_script(f, "quick", "true\n");
    assert_int_equal(scripts_new(1, test_env, NULL, NULL, &f->s), BOSUN_OK);
    assert_int_equal(scripts_run(f->s, hang, 0, "r", 0, 0, 60000), BOSUN_OK);
    char *pp = dir_file(f, "hang.pid");
    wait_pid_file(pp);
    int accepted = 1;
    bosun_status_t rc;
    while ((rc = scripts_run(f->s, quick, 0, "r", 0, 0, 5000)) == BOSUN_OK && accepted < 5000)
        accepted++;
    assert_int_equal(rc, BOSUN_ERR_TOO_BIG);
    assert_int_equal(accepted, 1024);
    uint64_t t0 = bosun_mono_ms();
    scripts_free(f->s);
    f->s = NULL;
    assert_true(bosun_mono_ms() - t0 < 3000);
    assert_hang_gone(f, "hang");
    free(pp);
    free(hang);
    free(quick);
}

static void test_invalid_arguments(void **state)
{
    fixture_t *f = *state;
    scripts_t *s = NULL;
    assert_int_equal(scripts_new(0, test_env, NULL, NULL, &s), BOSUN_ERR_INVALID);
    assert_int_equal(scripts_new(1, NULL, NULL, NULL, &s), BOSUN_ERR_INVALID);
    assert_null(s);
    assert_int_equal(scripts_new(1, test_env, NULL, NULL, &f->s), BOSUN_OK);
    assert_int_equal(scripts_run(f->s, NULL, 0, "r", 0, 0, 1000), BOSUN_ERR_INVALID);
    assert_int_equal(scripts_run(f->s, "", 0, "r", 0, 0, 1000), BOSUN_ERR_INVALID);
    assert_int_equal(scripts_run(f->s, "/bin/true", 0, NULL, 0, 0, 1000), BOSUN_ERR_INVALID);
    assert_int_equal(scripts_run(f->s, "/bin/true", 0, "r", 0, 0, 0), BOSUN_ERR_INVALID);
    scripts_result_t r;
    assert_false(scripts_take(f->s, &r));
    assert_int_equal(scripts_fd(NULL), -1);
    scripts_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_output_and_argument, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nonzero_exit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_killed_by_signal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeout_kills_group, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_script, setup, teardown),
        cmocka_unit_test_setup_teardown(test_one_resource_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resources_in_parallel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_busy_resource_does_not_block_others, setup, teardown),
        cmocka_unit_test_setup_teardown(test_run_never_blocks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fd_readable_only_with_results, setup, teardown),
        cmocka_unit_test_setup_teardown(test_environment, setup, teardown),
        cmocka_unit_test_setup_teardown(test_working_directory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_output_truncated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_kills_running, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_kills_term_ignoring, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue_bound, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_arguments, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
