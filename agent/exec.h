/*
 * exec.h - run one argv as a child process group, with bounded output and a
 * timeout that kills the whole group.
 *
 * No shell of ours is involved: argv[0] is looked up in PATH and executed
 * directly. The child gets its own process group, optionally another user
 * (supplementary groups, gid, then uid), a fixed environment, stdin
 * from /dev/null, no inherited file descriptors and default signal handling.
 * stdout and stderr are captured up to max_output bytes each; the rest is
 * read and discarded, and the truncation flag set. When the timeout passes or
 * *cancel becomes true, the group gets SIGTERM and, 2 s later, SIGKILL. When
 * the leader exits, what is left of its group is killed too, so nothing a
 * command started outlives it.
 */
#ifndef BOSUN_AGENT_EXEC_H
#define BOSUN_AGENT_EXEC_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "status.h"

typedef struct {
    char *const *argv;        /* NULL-terminated; argv[0] non-empty */
    char *const *envp;        /* NULL-terminated environment for the child */
    const char *cwd;          /* working directory, or NULL to keep ours; when the
                                 switched-to user cannot enter it, "/" */
    bool switch_user;         /* run as uid/gid/groups (we are root) */
    uid_t uid;
    gid_t gid;
    const gid_t *groups;      /* supplementary groups, n_groups of them */
    size_t n_groups;
    uint64_t timeout_ms;      /* 0: no timeout */
    size_t max_output;        /* per stream */
    const atomic_bool *cancel;/* may be NULL */
    /* Called once the child process exists, before it may run the command:
     * the child waits until this returns, so what it records (the ledger's
     * "started") is there before anything runs. Called also when exec then
     * fails. May be NULL. */
    void (*on_started)(void *arg, pid_t pgid, uint64_t start_ticks);
    void *arg;
} exec_spec_t;

typedef struct {
    bool spawn_failed;        /* exec itself failed; spawn_errno says why */
    int spawn_errno;
    int exit_code;            /* valid when term_signal == 0 */
    int term_signal;          /* signal that ended the leader, or 0 */
    bool timed_out;
    bool cancelled;
    uint8_t *out;             /* owned; out_len bytes (not NUL-terminated) */
    size_t out_len;
    bool out_truncated;
    uint8_t *err;
    size_t err_len;
    bool err_truncated;
    uint64_t start_ms;        /* wall clock */
    uint64_t end_ms;
} exec_result_t;

/*
 * Runs spec to completion and fills *r (which the caller frees with
 * exec_result_free). Returns BOSUN_OK when the child was started or exec
 * failed in it (see r->spawn_failed); BOSUN_ERR_SYS when pipes or fork failed.
 */
bosun_status_t exec_run(const exec_spec_t *spec, exec_result_t *r);

/* Frees the captured output; r itself is not freed. */
void exec_result_free(exec_result_t *r);

/* Start time of pid in clock ticks since boot (/proc/PID/stat), 0 if gone. */
uint64_t exec_start_ticks(pid_t pid);

/*
 * Kills what is left of process group pgid (a command cut off by a crash)
 * with SIGKILL: when its leader still lives, only if it is the process that
 * started at start_ticks (so a reused pid is never hit); when the leader is
 * gone, the remaining members are necessarily the command's. Returns true if
 * any process was signalled.
 */
bool exec_kill_stale_group(pid_t pgid, uint64_t start_ticks);

#endif
