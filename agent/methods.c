/* methods.c - the built-in methods and their table. */
#include "methods.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "clock.h"

/* ping: a no-op whose Ack carries the agent's clock (recv/reply times). */
static void method_ping(const method_call_t *call, method_result_t *res)
{
    (void)call;
    res->status = BOSUN__ACK_STATUS__ACK_STATUS_OK;
}

static void note_started(void *arg, pid_t pgid, uint64_t start_ticks)
{
    const method_call_t *call = arg;
    ledger_started(call->agent->ledger, call->id, pgid, start_ticks, bosun_wall_ms());
}

/* shellCommand: data is an argv, run directly (no shell of ours). */
static void method_shell(const method_call_t *call, method_result_t *res)
{
    agent_t *a = call->agent;
    if (call->n_data == 0 || call->data[0][0] == '\0') {
        res->status = BOSUN__ACK_STATUS__ACK_STATUS_REJECTED;
        snprintf(res->error, sizeof res->error,
                 "shellCommand needs data as an argv, e.g. [\"bash\",\"-c\",\"ls -l\"]; got %s",
                 call->n_data == 0 ? "no data" : "an empty program name");
        return;
    }
    char **argv = calloc(call->n_data + 1, sizeof *argv);
    if (argv == NULL) {
        res->status = BOSUN__ACK_STATUS__ACK_STATUS_FAILED;
        snprintf(res->error, sizeof res->error, "out of memory");
        return;
    }
    memcpy(argv, call->data, call->n_data * sizeof *argv);

    uint64_t timeout = call->timeout_ms;
    if (timeout == 0)
        timeout = (uint64_t)(a->cfg->commands.default_timeout_secs * 1000.0);
    exec_spec_t spec = {
        .argv = argv,
        .envp = a->child_env,
        .cwd = a->cfg->data_dir,
        .switch_user = a->sec.switch_user,
        .uid = a->sec.uid,
        .gid = a->sec.gid,
        .groups = a->sec.groups,
        .n_groups = a->sec.n_groups,
        .timeout_ms = timeout,
        .max_output = (size_t)a->cfg->commands.max_output_bytes,
        .cancel = call->cancel,
        .on_started = note_started,
        .arg = (void *)call,
    };
    bosun_status_t st = exec_run(&spec, &res->exec);
    free(argv);
    res->start_ms = res->exec.start_ms;
    res->end_ms = res->exec.end_ms;
    res->exit_code = res->exec.exit_code;
    res->term_signal = res->exec.term_signal;

    if (st != BOSUN_OK) {
        res->status = BOSUN__ACK_STATUS__ACK_STATUS_FAILED;
        snprintf(res->error, sizeof res->error, "could not start '%s': %s", call->data[0],
                 bosun_status_str(st));
    } else if (res->exec.spawn_failed) {
        res->status = BOSUN__ACK_STATUS__ACK_STATUS_FAILED;
        snprintf(res->error, sizeof res->error, "cannot execute '%s': %s", call->data[0],
                 strerror(res->exec.spawn_errno));
    } else if (res->exec.cancelled) {
        res->status = BOSUN__ACK_STATUS__ACK_STATUS_INTERRUPTED;
        snprintf(res->error, sizeof res->error, "interrupted: the agent shut down while it ran");
    } else if (res->exec.timed_out) {
        res->status = BOSUN__ACK_STATUS__ACK_STATUS_TIMEOUT;
        snprintf(res->error, sizeof res->error,
                 "killed after methodTimeout of %llu ms (whole process group)",
                 (unsigned long long)timeout);
    } else if (res->term_signal != 0) {
        res->status = BOSUN__ACK_STATUS__ACK_STATUS_FAILED;
        snprintf(res->error, sizeof res->error, "killed by signal %d (%s)", res->term_signal,
                 strsignal(res->term_signal));
    } else {
        res->status = res->exit_code == 0 ? BOSUN__ACK_STATUS__ACK_STATUS_OK
                                          : BOSUN__ACK_STATUS__ACK_STATUS_FAILED;
        if (res->exit_code != 0)
            snprintf(res->error, sizeof res->error, "exited with code %d", res->exit_code);
    }
}

/* textLogging: appends each data element as a line to the agent's text log. */
static void method_text_logging(const method_call_t *call, method_result_t *res)
{
    size_t total = 0;
    for (size_t i = 0; i < call->n_data; i++)
        total += strlen(call->data[i]) + 1;
    char *buf = malloc(total + 1);
    if (buf == NULL) {
        res->status = BOSUN__ACK_STATUS__ACK_STATUS_FAILED;
        snprintf(res->error, sizeof res->error, "out of memory");
        return;
    }
    size_t n = 0;
    for (size_t i = 0; i < call->n_data; i++) {
        size_t l = strlen(call->data[i]);
        memcpy(buf + n, call->data[i], l);
        n += l;
        if (l == 0 || call->data[i][l - 1] != '\n')
            buf[n++] = '\n';
    }
    /* One write to an O_APPEND file: lines of concurrent writers never mix. */
    int fd = open(call->agent->text_log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    ssize_t w = fd < 0 ? -1 : write(fd, buf, n);
    int e = errno;
    if (fd >= 0 && fsync(fd) != 0 && w >= 0)
        w = -1, e = errno;
    if (fd >= 0)
        close(fd);
    free(buf);
    if (w != (ssize_t)n) {
        res->status = BOSUN__ACK_STATUS__ACK_STATUS_FAILED;
        snprintf(res->error, sizeof res->error, "cannot append to %s: %s",
                 call->agent->text_log_path, w < 0 ? strerror(e) : "short write");
        return;
    }
    res->status = BOSUN__ACK_STATUS__ACK_STATUS_OK;
}

static const method_t table[] = {
    {"ping", METHOD_INLINE, true, false, method_ping},
    {"shellCommand", METHOD_POOLED, true, false, method_shell},
    {"textLogging", METHOD_RECORDED, true, true, method_text_logging},
    {"electionStatus", METHOD_INLINE, true, false, method_election_status},
    {"electionForce", METHOD_RECORDED, true, false, method_election_force},
    {"electionRelease", METHOD_RECORDED, true, false, method_election_release},
};

const method_t *methods_find(const char *name)
{
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (strcmp(table[i].name, name) == 0)
            return &table[i];
    return NULL;
}

void methods_names(bool events, char *buf, size_t len)
{
    size_t n = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        if (events ? !table[i].event : !table[i].command)
            continue;
        int k = snprintf(buf + n, len - n, "%s%s", n ? ", " : "", table[i].name);
        if (k < 0 || (size_t)k >= len - n)
            break;
        n += (size_t)k;
    }
}

void method_result_free(method_result_t *res) { exec_result_free(&res->exec); }
