/*
 * scripts.h - the election's transition scripts, run off the election's
 * thread.
 *
 * onIdle, beforeGoingActive, onGoingActive, beforeActive and onActive run via
 * fork/exec (exec.c: own process group, fixed environment, no inherited
 * fds), as security.runAsUser when set (like commands), with the resource
 * id as argv[1] and a timeout; a script that hangs is
 * killed with its group and reported as failed (for beforeGoingActive and
 * beforeActive that is a refusal). Scripts of one resource run one at a time
 * in the order asked; different resources run in parallel on a few workers.
 * Results come back through a queue whose eventfd the election loop polls,
 * so a slow script never delays a packet.
 */
#ifndef BOSUN_AGENT_SCRIPTS_H
#define BOSUN_AGENT_SCRIPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "status.h"

typedef struct scripts scripts_t;

/* One finished script. output is its stdout (at most 4 KiB), NUL-terminated. */
typedef struct {
    size_t resource;      /* index given to scripts_run */
    int kind;             /* caller's script kind, passed through */
    uint64_t gen;         /* caller's generation, passed through */
    bool ok;              /* exited 0 within the timeout */
    int exit_code;        /* -1 when killed or not started */
    bool timed_out;
    char output[4096];
    char error[256];      /* why it failed, "" when ok */
    uint64_t duration_ms;
} scripts_result_t;

/*
 * Starts the runner with `workers` threads. envp is borrowed (it must
 * outlive the runner); cwd may be NULL; scripts run as the user run_as_user
 * (NULL or "": the agent's own). Returns BOSUN_ERR_CONFIG when that user
 * cannot be resolved or switched to (see security_user_resolve).
 */
bosun_status_t scripts_new(int workers, char *const *envp, const char *cwd, const char *run_as_user,
                           scripts_t **out);

/* Stops: running scripts get their group killed; queued ones are dropped. NULL: no-op. */
void scripts_free(scripts_t *s);

/* An eventfd that is readable while results are waiting. */
int scripts_fd(const scripts_t *s);

/*
 * Queues `path resource_id` to run after any earlier script of the same
 * resource, for at most timeout_ms. path and resource_id are copied.
 */
bosun_status_t scripts_run(scripts_t *s, const char *path, size_t resource, const char *resource_id,
                           int kind, uint64_t gen, uint64_t timeout_ms);

/* Takes one finished result into *out; false when none is waiting. */
bool scripts_take(scripts_t *s, scripts_result_t *out);

#endif
