/*
 * scripts.c - the election's transition scripts, run on worker threads.
 *
 * One list of entries, in the order scripts_run queued them, holds every
 * script that is waiting; a worker takes the oldest entry whose resource has
 * no script running, runs it through exec_run and moves the same entry to the
 * result list (so finishing a script never allocates). The eventfd is a
 * semaphore whose count equals the number of results waiting: +1 when a
 * result is appended, -1 when scripts_take removes one, both under the lock.
 *
 * scripts_run refuses a timeout of 0 (BOSUN_ERR_INVALID: no script may run
 * unbounded) and returns BOSUN_ERR_TOO_BIG while SCRIPTS_MAX_PENDING scripts
 * are queued, running or finished but not yet taken, which bounds memory
 * even when the caller stops taking results.
 */
#include "scripts.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "clock.h"
#include "exec.h"
#include "security.h"

/* Scripts queued, running or finished but not yet taken, at most. */
#define SCRIPTS_MAX_PENDING 1024u
#define SCRIPTS_MAX_WORKERS 64

typedef struct entry {
    struct entry *next;
    char *path;           /* owned; NULL once the entry is a result */
    char *resource_id;    /* owned; NULL once the entry is a result */
    uint64_t timeout_ms;
    scripts_result_t res; /* resource, kind and gen are set at queue time */
} entry_t;

typedef struct {
    scripts_t *s;
    pthread_t thread;
    bool busy;            /* running a script of `resource` */
    size_t resource;
} worker_t;

struct scripts {
    pthread_mutex_t mu;
    pthread_cond_t cv;    /* a job was queued, a resource became free, or stopping */
    entry_t *jobs, *jobs_tail;
    entry_t *results, *results_tail;
    size_t pending;       /* entries alive: queued + running + results */
    bool stopping;
    atomic_bool cancel;   /* read by exec_run: kills the running groups */
    int efd;
    char *const *envp;    /* borrowed */
    char *cwd;            /* owned, or NULL */
    security_user_t user; /* who scripts run as */
    worker_t *workers;
    int n_workers;        /* threads started */
};

static void entry_free(entry_t *e)
{
    free(e->path);
    free(e->resource_id);
    free(e);
}

static void entry_list_free(entry_t *e)
{
    while (e != NULL) {
        entry_t *next = e->next;
        entry_free(e);
        e = next;
    }
}

/* Called with the lock held: true while some worker runs a script of resource. */
static bool resource_busy(const scripts_t *s, size_t resource)
{
    for (int i = 0; i < s->n_workers; i++)
        if (s->workers[i].busy && s->workers[i].resource == resource)
            return true;
    return false;
}

/*
 * Called with the lock held: unlinks and returns the oldest queued entry
 * whose resource is idle, or NULL. Taking the oldest eligible one keeps each
 * resource's scripts in queue order, since the first queued entry of an idle
 * resource is always met before its later ones.
 */
static entry_t *take_next_job(scripts_t *s)
{
    entry_t *prev = NULL;
    for (entry_t *e = s->jobs; e != NULL; prev = e, e = e->next) {
        if (resource_busy(s, e->res.resource))
            continue;
        if (prev == NULL)
            s->jobs = e->next;
        else
            prev->next = e->next;
        if (s->jobs_tail == e)
            s->jobs_tail = prev;
        e->next = NULL;
        return e;
    }
    return NULL;
}

/* Fills e->res from what exec_run reported (rc, and *r when rc is BOSUN_OK). */
static void fill_result(entry_t *e, bosun_status_t rc, const exec_result_t *r)
{
    scripts_result_t *res = &e->res;
    char ebuf[128];
    res->ok = false;
    res->exit_code = -1;
    res->timed_out = false;
    res->output[0] = '\0';
    res->error[0] = '\0';
    if (rc != BOSUN_OK) {
        snprintf(res->error, sizeof res->error, "cannot run '%s': %s", e->path, bosun_status_str(rc));
        return;
    }
    size_t n = r->out_len < sizeof res->output - 1 ? r->out_len : sizeof res->output - 1;
    if (n > 0)
        memcpy(res->output, r->out, n);
    res->output[n] = '\0';

    if (r->spawn_failed) {
        snprintf(res->error, sizeof res->error, "cannot execute '%s': %s", e->path,
                 strerror_r(r->spawn_errno, ebuf, sizeof ebuf));
    } else if (r->timed_out) {
        res->timed_out = true;
        snprintf(res->error, sizeof res->error, "timed out after %llu ms; process group killed",
                 (unsigned long long)e->timeout_ms);
    } else if (r->cancelled) {
        snprintf(res->error, sizeof res->error, "cancelled; process group killed");
    } else if (r->term_signal != 0) {
        snprintf(res->error, sizeof res->error, "killed by signal %d", r->term_signal);
    } else {
        res->exit_code = r->exit_code;
        if (r->exit_code == 0)
            res->ok = true;
        else
            snprintf(res->error, sizeof res->error, "exited with code %d", r->exit_code);
    }
}

/* Runs one entry's script to completion; called without the lock. */
static void run_entry(scripts_t *s, entry_t *e)
{
    char *argv[] = {e->path, e->resource_id, NULL};
    exec_spec_t spec = {
        .argv = argv,
        .envp = s->envp,
        .cwd = s->cwd,
        .switch_user = s->user.switch_user,
        .uid = s->user.uid,
        .gid = s->user.gid,
        .groups = s->user.groups,
        .n_groups = s->user.n_groups,
        .timeout_ms = e->timeout_ms,
        .max_output = sizeof e->res.output - 1,
        .cancel = &s->cancel,
    };
    exec_result_t r;
    uint64_t t0 = bosun_mono_ms();
    bosun_status_t rc = exec_run(&spec, &r);
    e->res.duration_ms = bosun_mono_ms() - t0;
    fill_result(e, rc, &r);
    exec_result_free(&r);
    free(e->path);
    free(e->resource_id);
    e->path = e->resource_id = NULL;
}

static void *worker_main(void *arg)
{
    worker_t *w = arg;
    scripts_t *s = w->s;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        entry_t *e = NULL;
        while (!s->stopping && (e = take_next_job(s)) == NULL)
            pthread_cond_wait(&s->cv, &s->mu);
        if (e == NULL)
            break; /* stopping; what is still queued is dropped by scripts_free */
        w->busy = true;
        w->resource = e->res.resource;
        pthread_mutex_unlock(&s->mu);

        run_entry(s, e);

        pthread_mutex_lock(&s->mu);
        w->busy = false;
        if (s->stopping) {
            s->pending--;
            entry_free(e);
        } else {
            if (s->results_tail != NULL)
                s->results_tail->next = e;
            else
                s->results = e;
            s->results_tail = e;
            uint64_t one = 1;
            /* Cannot fail: the count stays far below the eventfd maximum. */
            ssize_t wr = write(s->efd, &one, sizeof one);
            (void)wr;
        }
        /* The resource is free again: a worker may now take its next script. */
        pthread_cond_broadcast(&s->cv);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* Stops and joins the started workers, then frees everything. */
static void scripts_destroy(scripts_t *s)
{
    pthread_mutex_lock(&s->mu);
    s->stopping = true;
    atomic_store(&s->cancel, true);
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    for (int i = 0; i < s->n_workers; i++)
        pthread_join(s->workers[i].thread, NULL);
    entry_list_free(s->jobs);
    entry_list_free(s->results);
    if (s->efd >= 0)
        close(s->efd);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    free(s->workers);
    free(s->cwd);
    security_user_free(&s->user);
    free(s);
}

bosun_status_t scripts_new(int workers, char *const *envp, const char *cwd, const char *run_as_user,
                           scripts_t **out)
{
    if (out == NULL || envp == NULL || workers < 1 || workers > SCRIPTS_MAX_WORKERS)
        return BOSUN_ERR_INVALID;
    *out = NULL;
    scripts_t *s = calloc(1, sizeof *s);
    if (s == NULL)
        return BOSUN_ERR_NOMEM;
    s->efd = -1;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    atomic_init(&s->cancel, false);
    s->envp = envp;
    s->workers = calloc((size_t)workers, sizeof *s->workers);
    if (s->workers == NULL || (cwd != NULL && (s->cwd = strdup(cwd)) == NULL)) {
        scripts_destroy(s);
        return BOSUN_ERR_NOMEM;
    }
    s->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC | EFD_SEMAPHORE);
    if (s->efd < 0) {
        scripts_destroy(s);
        return BOSUN_ERR_SYS;
    }
    bosun_status_t st = security_user_resolve(run_as_user, &s->user, NULL);
    if (st != BOSUN_OK) {
        scripts_destroy(s);
        return st;
    }

    /* Workers block every signal, so that process signals reach the
     * agent's own thread and never interrupt a script's supervision. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    bosun_status_t rc = BOSUN_OK;
    for (int i = 0; i < workers; i++) {
        s->workers[i].s = s;
        if (pthread_create(&s->workers[i].thread, NULL, worker_main, &s->workers[i]) != 0) {
            rc = BOSUN_ERR_SYS;
            break;
        }
        s->n_workers = i + 1;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != BOSUN_OK) {
        scripts_destroy(s);
        return rc;
    }
    *out = s;
    return BOSUN_OK;
}

void scripts_free(scripts_t *s)
{
    if (s != NULL)
        scripts_destroy(s);
}

int scripts_fd(const scripts_t *s)
{
    return s != NULL ? s->efd : -1;
}

bosun_status_t scripts_run(scripts_t *s, const char *path, size_t resource, const char *resource_id,
                           int kind, uint64_t gen, uint64_t timeout_ms)
{
    if (s == NULL || path == NULL || path[0] == '\0' || resource_id == NULL || timeout_ms == 0)
        return BOSUN_ERR_INVALID;
    entry_t *e = calloc(1, sizeof *e);
    if (e == NULL)
        return BOSUN_ERR_NOMEM;
    e->path = strdup(path);
    e->resource_id = strdup(resource_id);
    if (e->path == NULL || e->resource_id == NULL) {
        entry_free(e);
        return BOSUN_ERR_NOMEM;
    }
    e->timeout_ms = timeout_ms;
    e->res.resource = resource;
    e->res.kind = kind;
    e->res.gen = gen;

    bosun_status_t rc = BOSUN_OK;
    pthread_mutex_lock(&s->mu);
    if (s->stopping) {
        rc = BOSUN_ERR_CLOSED;
    } else if (s->pending >= SCRIPTS_MAX_PENDING) {
        rc = BOSUN_ERR_TOO_BIG;
    } else {
        if (s->jobs_tail != NULL)
            s->jobs_tail->next = e;
        else
            s->jobs = e;
        s->jobs_tail = e;
        s->pending++;
        pthread_cond_broadcast(&s->cv);
    }
    pthread_mutex_unlock(&s->mu);
    if (rc != BOSUN_OK)
        entry_free(e);
    return rc;
}

bool scripts_take(scripts_t *s, scripts_result_t *out)
{
    if (s == NULL || out == NULL)
        return false;
    pthread_mutex_lock(&s->mu);
    entry_t *e = s->results;
    if (e != NULL) {
        s->results = e->next;
        if (s->results == NULL)
            s->results_tail = NULL;
        s->pending--;
        uint64_t one;
        /* Decrements the semaphore by one; it reaches 0 with the last result. */
        ssize_t rd = read(s->efd, &one, sizeof one);
        (void)rd;
    }
    pthread_mutex_unlock(&s->mu);
    if (e == NULL)
        return false;
    *out = e->res;
    entry_free(e);
    return true;
}
