/* dashboard.c - a once-a-second terminal frame of the election's state. */
#include "dashboard.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"

struct dashboard {
    const bosun_agent_config_t *cfg;
    elector_t *el;
    FILE *out;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    bool stop;
};

static const char *state_colour(election_state_t s)
{
    switch (s) {
    case ELECTION_ACTIVE: return "\033[1;32m";
    case ELECTION_GOING_ACTIVE: return "\033[1;33m";
    case ELECTION_IDLE: return "\033[0;36m";
    default: return "\033[0m";
    }
}

static void format_uptime(uint64_t ms, char *buf, size_t len)
{
    uint64_t s = ms / 1000;
    snprintf(buf, len, "%llud %02llu:%02llu:%02llu", (unsigned long long)(s / 86400),
             (unsigned long long)(s / 3600 % 24), (unsigned long long)(s / 60 % 60),
             (unsigned long long)(s % 60));
}

void dashboard_render(const bosun_agent_config_t *cfg, elector_t *el, FILE *out, uint64_t uptime_ms,
                      const elector_stats_t *prev, double secs)
{
    elector_stats_t st;
    elector_stats(el, &st);
    char up[32];
    format_uptime(uptime_ms, up, sizeof up);
    double tx_kbps = secs > 0 ? (double)(st.net.tx_bytes - prev->net.tx_bytes) * 8.0 / 1000.0 / secs : 0;
    double rx_kbps = secs > 0 ? (double)(st.net.rx_bytes - prev->net.rx_bytes) * 8.0 / 1000.0 / secs : 0;
    uint64_t dropped = 0;
    for (int i = 1; i < SEAL_DROP_COUNT; i++)
        dropped += st.dropped[i];

    fprintf(out, "\033[H\033[2J");
    fprintf(out, "\033[1mbosun election\033[0m  node %s  priority %d  up %s\n", cfg->id, cfg->priority, up);
    fprintf(out, "transport %s  %s\n", st.transport,
            st.encrypted ? "encrypted" : "\033[1;31mIN CLEAR\033[0m");
    fprintf(out, "TX %llu pkts %llu bytes %.2f kbit/s errors %llu   RX %llu pkts %llu bytes %.2f kbit/s "
                 "errors %llu dropped %llu\n",
            (unsigned long long)st.net.tx_packets, (unsigned long long)st.net.tx_bytes, tx_kbps,
            (unsigned long long)st.net.tx_errors, (unsigned long long)st.net.rx_packets,
            (unsigned long long)st.net.rx_bytes, rx_kbps, (unsigned long long)st.net.rx_errors,
            (unsigned long long)dropped);
    fprintf(out, "forced loss: rx %.1f%% tx %.1f%% rx-error %.1f%% tx-error %.1f%%\n\n",
            cfg->net.rx_loss_pct, cfg->net.tx_loss_pct, cfg->net.rx_error_pct, cfg->net.tx_error_pct);
    fprintf(out, "%-20s %-13s %8s  %-20s%s\n", "RESOURCE", "STATE", "PRIORITY", "OWNER",
            cfg->dashboard_token ? "  TOKEN     OWNER TOKEN" : "");

    size_t n = cfg->n_resources;
    elector_resource_t *snap = calloc(n ? n : 1, sizeof *snap);
    if (snap != NULL) {
        elector_snapshot(el, snap, n);
        for (size_t i = 0; i < n; i++) {
            const elector_resource_t *r = &snap[i];
            fprintf(out, "%-20s %s%-13s\033[0m %8u%s %-20s", r->id, state_colour(r->state),
                    election_state_str(r->state), r->priority, r->forced ? "F" : " ",
                    r->owner[0] ? r->owner : "-");
            if (cfg->dashboard_token)
                fprintf(out, "  %-9llu %llu", (unsigned long long)r->token,
                        (unsigned long long)r->owner_token);
            fputc('\n', out);
        }
        free(snap);
    }
    fflush(out);
}

static void *draw(void *arg)
{
    dashboard_t *d = arg;
    elector_stats_t prev;
    elector_stats(d->el, &prev);
    uint64_t last = bosun_mono_ms();
    pthread_mutex_lock(&d->mu);
    while (!d->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&d->cond, &d->mu, &ts);
        if (d->stop)
            break;
        pthread_mutex_unlock(&d->mu);
        uint64_t now = bosun_mono_ms();
        elector_stats_t st;
        elector_stats(d->el, &st);
        dashboard_render(d->cfg, d->el, d->out, bosun_wall_ms() - st.started_wall_ms, &prev,
                         (double)(now - last) / 1000.0);
        prev = st;
        last = now;
        pthread_mutex_lock(&d->mu);
    }
    pthread_mutex_unlock(&d->mu);
    return NULL;
}

bosun_status_t dashboard_start(const bosun_agent_config_t *cfg, elector_t *el, FILE *out,
                               dashboard_t **result)
{
    dashboard_t *d = calloc(1, sizeof *d);
    if (d == NULL)
        return BOSUN_ERR_NOMEM;
    d->cfg = cfg;
    d->el = el;
    d->out = out;
    pthread_mutex_init(&d->mu, NULL);
    pthread_cond_init(&d->cond, NULL);
    if (pthread_create(&d->thread, NULL, draw, d) != 0) {
        pthread_cond_destroy(&d->cond);
        pthread_mutex_destroy(&d->mu);
        free(d);
        return BOSUN_ERR_SYS;
    }
    *result = d;
    return BOSUN_OK;
}

void dashboard_stop(dashboard_t *d)
{
    if (d == NULL)
        return;
    pthread_mutex_lock(&d->mu);
    d->stop = true;
    pthread_cond_signal(&d->cond);
    pthread_mutex_unlock(&d->mu);
    pthread_join(d->thread, NULL);
    pthread_cond_destroy(&d->cond);
    pthread_mutex_destroy(&d->mu);
    free(d);
}
