/*
 * harness.h - real processes for integration tests.
 *
 * Starts a private nats-server on 127.0.0.1 on a port the server picks
 * (nats-server -p -1 --ports_file_dir DIR), and the real bosun binaries,
 * each with its output in a log file. Everything started is stopped by its
 * pid: by the test's own stop call, and otherwise at exit (atexit) or when
 * the test process dies (PR_SET_PDEATHSIG in each child). Every wait is
 * bounded in time.
 *
 * Functions return 0 on success and -1 on failure (with a line on stderr
 * saying why), so tests can assert_int_equal(..., 0).
 */
#ifndef BOSUN_HARNESS_H
#define BOSUN_HARNESS_H

#include <stdbool.h>
#include <sys/types.h>

/* ---- temporary directories --------------------------------------------- */

/* Creates a fresh directory /tmp/bosun-<prefix>-XXXXXX; caller frees the path. */
char *harness_tmpdir(const char *prefix);

/* Removes a directory tree made by harness_tmpdir (refuses other paths). */
void harness_rmtree(const char *path);

/* Writes text to path (creating or truncating); 0 on success. */
int harness_write_file(const char *path, const char *text);

/* Reads a whole file into a new NUL-terminated buffer; NULL if unreadable. */
char *harness_read_file(const char *path, size_t *len);

/* ---- nats-server --------------------------------------------------------- */

typedef struct harness_natsd harness_natsd_t;

/*
 * Starts nats-server on 127.0.0.1 with a server-chosen port, plus the
 * optional NULL-terminated extra_args (e.g. {"-js", NULL}), waits until it
 * accepts connections (at most 10 s). "-p PORT" (or "--port PORT") in
 * extra_args picks the port instead; "-a" is refused (always 127.0.0.1).
 * *out is owned by the caller.
 */
int harness_natsd_start(const char *const *extra_args, harness_natsd_t **out);

/* "nats://127.0.0.1:PORT" (borrowed). */
const char *harness_natsd_url(const harness_natsd_t *s);
int harness_natsd_port(const harness_natsd_t *s);
pid_t harness_natsd_pid(const harness_natsd_t *s);

/* Stops the server (SIGINT, then SIGKILL after 5 s) but keeps *s for restart. */
int harness_natsd_kill(harness_natsd_t *s);

/* Starts the server again on the same port; waits until it accepts. */
int harness_natsd_restart(harness_natsd_t *s);

/* Stops the server if running, removes its directory, frees s. NULL: no-op. */
void harness_natsd_stop(harness_natsd_t *s);

/*
 * A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0 and
 * released), or -1. Pass it as {"-p", "<port>", NULL} in extra_args to start
 * a server on a port known beforehand, e.g. to open a client first.
 */
int harness_free_port(void);

/* ---- other processes -------------------------------------------------------- */

typedef struct harness_proc harness_proc_t;

/*
 * Starts argv (argv[0] a path) with stdout and stderr appended to log_path
 * (a new temporary file when NULL), stdin from /dev/null. *out is owned by
 * the caller.
 */
int harness_proc_start(char *const argv[], const char *log_path, harness_proc_t **out);

pid_t harness_proc_pid(const harness_proc_t *p);
const char *harness_proc_log_path(const harness_proc_t *p);

/* Sends sig to the process (if it still runs). */
int harness_proc_signal(harness_proc_t *p, int sig);

/*
 * Waits at most timeout_ms for the process to exit. Returns 0 and stores the
 * waitpid status in *wstatus (may be NULL) if it did, -1 if it still runs.
 */
int harness_proc_wait(harness_proc_t *p, int timeout_ms, int *wstatus);

/* True while the process has not exited. */
bool harness_proc_running(harness_proc_t *p);

/*
 * Waits at most timeout_ms until the process's log contains needle.
 * Returns true if it appeared.
 */
bool harness_proc_wait_log(harness_proc_t *p, const char *needle, int timeout_ms);

/* The log so far, as a new NUL-terminated string (caller frees). */
char *harness_proc_log(const harness_proc_t *p);

/*
 * Stops the process: SIGTERM, then SIGKILL after timeout_ms; reaps it, stores
 * its waitpid status in *wstatus (may be NULL) and frees p. NULL: no-op.
 */
int harness_proc_stop(harness_proc_t *p, int timeout_ms, int *wstatus);

/*
 * Runs argv to completion (at most timeout_ms, then SIGKILL), capturing
 * stdout and stderr together into *output (caller frees; may be NULL).
 * Returns 0 and sets *exit_code (-signal if killed by a signal), or -1 on
 * timeout or failure to start.
 */
int harness_run(char *const argv[], int timeout_ms, char **output, int *exit_code);

/* Polls cond(arg) every 10 ms for at most timeout_ms; true if it held. */
bool harness_wait_until(bool (*cond)(void *arg), void *arg, int timeout_ms);

#endif
