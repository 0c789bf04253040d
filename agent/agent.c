/* agent.c - building, running and stopping the agent. */
#include "agent.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "files.h"
#include "name.h"

#define PURGE_EVERY_MS 60000u

/* The fixed environment commands run with (nothing inherited from ours). */
static bosun_status_t build_env(agent_t *a)
{
    const char *path = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    char **env = a->child_env;
    if ((env[0] = strdup(path)) == NULL || (env[1] = strdup("LANG=C.UTF-8")) == NULL)
        return BOSUN_ERR_NOMEM;
    if (asprintf(&env[2], "BOSUN_NODE=%s", a->node) < 0) {
        env[2] = NULL;
        return BOSUN_ERR_NOMEM;
    }
    if (asprintf(&env[3], "HOME=%s", a->cfg->data_dir) < 0) {
        env[3] = NULL;
        return BOSUN_ERR_NOMEM;
    }
    a->child_env[4] = NULL;
    return BOSUN_OK;
}

bosun_status_t agent_new(const bosun_agent_config_t *cfg, const bosun_log_t *log, agent_t **out,
                         bosun_err_t *err)
{
    if (sodium_init() < 0)
        return bosun_errf(err, BOSUN_ERR_CRYPTO, "libsodium failed to initialise");
    agent_t *a = calloc(1, sizeof *a);
    if (a == NULL)
        return BOSUN_ERR_NOMEM;
    a->cfg = cfg;
    a->dir_lock = -1;
    a->log = log;
    a->node = cfg->id;
    randombytes_buf(&a->instance_id, sizeof a->instance_id);
    a->boot_ms = bosun_wall_ms();
    atomic_init(&a->closing, false);
    ratelimit_init(&a->reject_log, 10);
    hoststat_init(&a->host);

    bosun_status_t rc = security_init(&cfg->security, log, &a->sec, err);
    if (rc != BOSUN_OK)
        goto fail;
    rc = bosun_mkdirs(cfg->data_dir, 0750, err);
    if (rc == BOSUN_OK)
        rc = bosun_dir_lock(cfg->data_dir, "bosun-agent", &a->dir_lock, err);
    if (rc != BOSUN_OK)
        goto fail;
    rc = BOSUN_ERR_NOMEM;
    char *ledger_path = bosun_path_join(cfg->data_dir, "agent-ledger.db");
    a->text_log_path = bosun_path_join(cfg->data_dir, "textLogging.log");
    if (ledger_path == NULL || a->text_log_path == NULL || build_env(a) != BOSUN_OK) {
        free(ledger_path);
        goto fail;
    }
    rc = ledger_open(ledger_path, &a->ledger, err);
    free(ledger_path);
    if (rc != BOSUN_OK)
        goto fail;
    agent_recover(a);

    rc = pool_new(cfg->commands.max_concurrent, cfg->commands.max_queued, agent_job_run,
                  agent_job_drop, a, &a->pool);
    if (rc != BOSUN_OK) {
        bosun_errf(err, rc, "cannot start %d command workers", cfg->commands.max_concurrent);
        goto fail;
    }

    char name[BOSUN_NAME_MAX + 16];
    snprintf(name, sizeof name, "bosun-agent %s", a->node);
    bosun_nats_opts_t nopts = {.client_name = name, .no_echo = true};
    rc = bosun_nats_open(&cfg->nats, &nopts, log, &a->nats, err);
    if (rc != BOSUN_OK)
        goto fail;
    if (cfg->n_resources > 0) {
        rc = elector_new(cfg, a->instance_id, log, a->nats, a->child_env, &a->elector, err);
        if (rc != BOSUN_OK)
            goto fail;
        if ((rc = elector_start(a->elector)) != BOSUN_OK) {
            bosun_errf(err, rc, "cannot start the election thread");
            goto fail;
        }
        if (cfg->logging.dashboard && isatty(STDOUT_FILENO) &&
            dashboard_start(cfg, a->elector, stdout, &a->dashboard) != BOSUN_OK)
            log_warn(log, "agent", "cannot start the dashboard");
    }
    if (prober_wanted(cfg)) {
        if ((rc = prober_new(cfg, log, a->nats, &a->prober, err)) != BOSUN_OK)
            goto fail;
        if ((rc = prober_start(a->prober)) != BOSUN_OK) {
            bosun_errf(err, rc, "cannot start the probe thread");
            goto fail;
        }
    }
    rc = agent_subscribe(a, err);
    if (rc != BOSUN_OK)
        goto fail;
    *out = a;
    return BOSUN_OK;
fail:
    agent_free(a);
    return rc;
}

/* Ends the run: stop intake, finish or interrupt commands, flush replies. */
static void agent_stop(agent_t *a)
{
    /* Release resources first, so a standby takes over while we finish. */
    dashboard_stop(a->dashboard);
    a->dashboard = NULL;
    elector_stop(a->elector);
    prober_stop(a->prober); /* wakes and ends at once */
    atomic_store(&a->closing, true);
    agent_unsubscribe(a);
    size_t running = pool_running(a->pool);
    if (running > 0)
        log_info(a->log, "agent", "waiting up to %.1f s for %zu running commands",
                 a->cfg->commands.shutdown_grace_secs, running);
    pool_shutdown(a->pool, (uint64_t)(a->cfg->commands.shutdown_grace_secs * 1000.0));
    a->pool = NULL;
    if (bosun_nats_connected(a->nats)) /* no broker: nothing to wait for */
        natsConnection_FlushTimeout(bosun_nats_conn(a->nats), 2000);
}

int agent_run(agent_t *a, int sigfd)
{
    const bosun_agent_config_t *cfg = a->cfg;
    uint64_t start = bosun_mono_ms();
    uint64_t interval = (uint64_t)cfg->timing.heartbeat_interval_ms;
    uint64_t next_hb = start, next_purge = start + PURGE_EVERY_MS;
    uint64_t deadline = cfg->max_run_secs > 0 ? start + (uint64_t)(cfg->max_run_secs * 1000.0) : 0;

    log_info(a->log, "agent", "node %s running (instance %llu, pid %d, %zu resources, data %s)",
             a->node, (unsigned long long)a->instance_id, (int)getpid(), cfg->n_resources,
             cfg->data_dir);
    for (;;) {
        uint64_t now = bosun_mono_ms();
        if (deadline != 0 && now >= deadline) {
            log_info(a->log, "agent", "maxRunSecs of %.1f s reached; stopping", cfg->max_run_secs);
            break;
        }
        if (now >= next_hb) {
            agent_publish_heartbeat(a);
            next_hb += interval;
            if (next_hb <= now) /* we were held up: skip, never burst */
                next_hb = now + interval;
        }
        if (now >= next_purge) {
            size_t purged = 0;
            uint64_t keep = (uint64_t)(cfg->commands.result_retention_secs * 1000.0);
            uint64_t wall = bosun_wall_ms();
            if (ledger_purge(a->ledger, wall > keep ? wall - keep : 0, &purged) == BOSUN_OK &&
                purged > 0)
                log_debug(a->log, "agent", "forgot %zu results older than %.0f s", purged,
                          cfg->commands.result_retention_secs);
            next_purge = now + PURGE_EVERY_MS;
        }
        uint64_t wake = next_hb < next_purge ? next_hb : next_purge;
        if (deadline != 0 && deadline < wake)
            wake = deadline;
        now = bosun_mono_ms();
        int timeout = wake > now ? (int)(wake - now) : 0;
        struct pollfd pf = {.fd = sigfd, .events = POLLIN};
        if (poll(&pf, 1, timeout) > 0) {
            struct signalfd_siginfo si;
            if (read(sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
                if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
                    log_info(a->log, "agent", "%s received; stopping", strsignal((int)si.ssi_signo));
                    break;
                }
            }
        }
    }
    agent_stop(a);
    log_info(a->log, "agent", "stopped");
    return 0;
}

void agent_free(agent_t *a)
{
    if (a == NULL)
        return;
    agent_unsubscribe(a);
    dashboard_stop(a->dashboard);
    elector_free(a->elector);
    prober_stop(a->prober);
    pool_shutdown(a->pool, 0);
    bosun_nats_close(a->nats, 1000);
    prober_free(a->prober); /* prober_stop unsubscribed and waited for its callbacks */
    ledger_close(a->ledger);
    if (a->dir_lock >= 0)
        close(a->dir_lock); /* last: the directory is ours until everything in it is closed */
    for (size_t i = 0; a->child_env[i] != NULL; i++)
        free(a->child_env[i]);
    free(a->text_log_path);
    security_free(&a->sec);
    free(a);
}
