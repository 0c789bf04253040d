/* elector.c - the election thread: poll loop, actions, NATS mirror, control. */
#include "elector.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "rng.h"
#include "codec.h"
#include "mirror.h"
#include "scripts.h"

#define MIRROR_EVERY_MS 1000u
#define MAX_RX_PER_WAKE 256
#define CONTROL_WAIT_MS 2000
#define MIRROR_QUEUE 64
#define MIRROR_DRAIN_MS 1000

typedef struct {
    bool pending;
    bool done;
    elector_op_t op;
    long resource;
    bosun_status_t rc;
    char msg[256];
} control_t;

struct elector {
    const bosun_agent_config_t *cfg;
    const bosun_log_t *log;
    bosun_nats_t *nats;
    char *const *envp;
    uint64_t instance_id;

    election_resource_t *res;
    election_config_t ecfg;
    election_t *core;
    election_actions_t act;
    mcast_t *mc;
    seal_t *seal;
    scripts_t *scripts;
    mirror_t *mirror;            /* NULL without NATS */
    uint64_t rng;

    pthread_t thread;
    bool thread_started;
    int wake_fd;
    atomic_bool stopping;

    pthread_mutex_t mu;          /* guards snap, stats, ctl */
    pthread_cond_t ctl_cond;
    control_t ctl;
    elector_resource_t *snap;
    elector_stats_t stats;

    uint64_t last_mirror_ms;
    uint64_t mirror_sig;
};


static election_now_t clock_now(void)
{
    return (election_now_t){.mono_ms = bosun_mono_ms(), .wall_ms = bosun_wall_ms()};
}

static const char *script_path(const elector_t *el, election_script_t s)
{
    const bosun_run_config_t *run = &el->cfg->run;
    switch (s) {
    case ELECTION_ON_IDLE: return run->on_idle;
    case ELECTION_BEFORE_GOING_ACTIVE: return run->before_going_active;
    case ELECTION_ON_GOING_ACTIVE: return run->on_going_active;
    case ELECTION_BEFORE_ACTIVE: return run->before_active;
    case ELECTION_ON_ACTIVE: return run->on_active;
    default: return NULL;
    }
}

/* ---- NATS mirror ------------------------------------------------------------------ */

/* On the mirror's thread: a publish may wait for nats.c's reconnect (mirror.h). */
static void nats_publish(void *arg, const char *subject, const uint8_t *data, size_t len)
{
    natsConnection_Publish(bosun_nats_conn(arg), subject, data, (int)len);
}

/* Queues m for NATS; never waits for the broker. */
static void publish(elector_t *el, const char *kind, const ProtobufCMessage *m)
{
    if (el->mirror == NULL)
        return;
    uint8_t *buf = NULL;
    size_t len = 0;
    if (bosun_codec_encode(m, &buf, &len) != BOSUN_OK)
        return;
    char subject[BOSUN_NAME_MAX + 32];
    snprintf(subject, sizeof subject, "%s.event.%s", el->cfg->id, kind);
    mirror_push(el->mirror, subject, buf, len);
    free(buf);
}

static uint64_t bids_signature(const Bosun__ElectionPacket *p)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < p->n_bids; i++) {
        const Bosun__Bid *b = p->bids[i];
        uint64_t parts[] = {(uint64_t)b->state, b->priority, b->token, b->release, b->preempt};
        for (size_t k = 0; k < sizeof parts / sizeof parts[0]; k++)
            h = (h ^ parts[k]) * 1099511628211ull;
        for (const char *c = b->resource; *c; c++)
            h = (h ^ (uint8_t)*c) * 1099511628211ull;
    }
    return h;
}

/* ---- actions ---------------------------------------------------------------------- */

static void send_packet(elector_t *el, election_now_t now)
{
    Bosun__ElectionPacket p = BOSUN__ELECTION_PACKET__INIT;
    election_packet(el->core, now, &p);
    uint8_t buf[SEAL_MAX_DATAGRAM];
    size_t len = 0;
    if (seal_packet(el->seal, &p, buf, sizeof buf, &len) != BOSUN_OK) {
        log_error(el->log, "election", "cannot seal a packet of %zu bids", p.n_bids);
        return;
    }
    for (int i = 0; i <= el->cfg->net.tx_oversend; i++)
        mcast_send(el->mc, buf, len);

    uint64_t sig = bids_signature(&p);
    if (sig != el->mirror_sig || now.mono_ms >= el->last_mirror_ms + MIRROR_EVERY_MS) {
        publish(el, "bid", &p.base);
        el->mirror_sig = sig;
        el->last_mirror_ms = now.mono_ms;
    }
}

static void report_transition(elector_t *el, const election_transition_t *t, election_now_t now)
{
    const char *id = el->res[t->resource].id;
    if (t->to == ELECTION_IDLE)
        log_info(el->log, "election", "%s: %s -> %s (%s%s%s)", id, election_state_str(t->from),
                 election_state_str(t->to), t->reason, t->peer ? ": " : "", t->peer ? t->peer : "");
    else
        log_info(el->log, "election", "%s: %s -> %s (%s%s%s) priority %u token %llu", id,
                 election_state_str(t->from), election_state_str(t->to), t->reason,
                 t->peer ? ": " : "", t->peer ? t->peer : "", t->priority,
                 (unsigned long long)t->token);
    Bosun__StateChange sc = BOSUN__STATE_CHANGE__INIT;
    sc.node = (char *)el->cfg->id;
    sc.instance_id = el->instance_id;
    sc.resource = (char *)id;
    sc.from = (Bosun__ResourceState)t->from;
    sc.to = (Bosun__ResourceState)t->to;
    char reason[160];
    snprintf(reason, sizeof reason, "%s%s%s", t->reason, t->peer ? ": " : "", t->peer ? t->peer : "");
    sc.reason = reason;
    sc.time_ms = now.wall_ms;
    sc.token = t->token;
    sc.priority = t->priority;
    publish(el, "state", &sc.base);
    pthread_mutex_lock(&el->mu);
    el->stats.transitions++;
    el->snap[t->resource].transitions++;
    pthread_mutex_unlock(&el->mu);
}

static void carry_out(elector_t *el, election_now_t now)
{
    election_actions_t *a = &el->act;
    /* The packet first: transitionWait runs from the core's decision, so
     * logging or NATS must not stand between the decision and the bid. */
    if (a->send)
        send_packet(el, now);
    for (size_t i = 0; i < a->n_transitions; i++)
        report_transition(el, &a->transitions[i], now);
    uint64_t timeout = (uint64_t)(el->cfg->run.script_timeout_secs * 1000.0);
    for (size_t i = 0; i < a->n_scripts; i++) {
        const election_script_req_t *s = &a->scripts[i];
        const char *path = script_path(el, s->script);
        if (path == NULL)
            continue;
        if (scripts_run(el->scripts, path, s->resource, el->res[s->resource].id, (int)s->script,
                        s->gen, timeout) != BOSUN_OK)
            log_error(el->log, "election", "%s: cannot queue %s", el->res[s->resource].id,
                      election_script_str(s->script));
    }
    election_actions_clear(a);
}

static void refresh_snapshot(elector_t *el, election_now_t now)
{
    pthread_mutex_lock(&el->mu);
    for (size_t r = 0; r < el->cfg->n_resources; r++) {
        election_view_t v;
        election_view(el->core, r, now, &v);
        elector_resource_t *s = &el->snap[r];
        s->state = v.state;
        s->priority = v.priority;
        s->preempt = v.preempt;
        s->forced = v.forced;
        s->token = v.token;
        s->since_wall_ms = now.wall_ms - (now.mono_ms - v.since_mono_ms);
        snprintf(s->owner, sizeof s->owner, "%s", v.owner);
        s->owner_token = v.owner_token;
        s->claimants = v.claimants;
    }
    mcast_stats(el->mc, &el->stats.net);
    pthread_mutex_unlock(&el->mu);
}

/* ---- inputs ---------------------------------------------------------------------- */

static void receive(elector_t *el)
{
    uint8_t buf[SEAL_MAX_DATAGRAM + 1];
    for (int i = 0; i < MAX_RX_PER_WAKE; i++) {
        long n = mcast_recv(el->mc, buf, sizeof buf);
        if (n <= 0)
            return;
        Bosun__ElectionPacket *p = NULL;
        seal_verdict_t sv = seal_open(el->seal, buf, (size_t)n, &p);
        if (sv != SEAL_OK) {
            pthread_mutex_lock(&el->mu);
            uint64_t count = ++el->stats.dropped[sv];
            pthread_mutex_unlock(&el->mu);
            /* Log the first of each kind, then every 1000th. */
            if (count == 1 || count % 1000 == 0)
                log_warn(el->log, "election", "dropped a %ld-byte packet: %s (%llu so far)%s", n,
                         seal_verdict_str(sv), (unsigned long long)count,
                         sv == SEAL_DROP_AUTH ? "; is cryptoPassword the same on every node?"
                         : sv == SEAL_DROP_MODE ? "; one node has a cryptoPassword, another none"
                                                : "");
            continue;
        }
        election_now_t now = clock_now();
        election_verdict_t v = election_on_packet(el->core, p, now, &el->act);
        if (v != ELECTION_ACCEPTED && v != ELECTION_DROP_OWN) {
            pthread_mutex_lock(&el->mu);
            uint64_t count = ++el->stats.rejected[v];
            pthread_mutex_unlock(&el->mu);
            if (v == ELECTION_DROP_NAME_CLASH && (count == 1 || count % 100 == 0))
                log_error(el->log, "election", "another node is using our id '%s' (instance %llu): "
                          "give every node its own id", el->cfg->id, (unsigned long long)p->instance_id);
            else if (v != ELECTION_DROP_DUPLICATE && (count == 1 || count % 1000 == 0))
                log_warn(el->log, "election", "dropped a packet from %s: %s (%llu so far)", p->sender,
                         election_verdict_str(v), (unsigned long long)count);
        }
        bosun__election_packet__free_unpacked(p, NULL);
        carry_out(el, now);
    }
}

/* Applies finished scripts; returns how many of them were onIdle. */
static size_t take_scripts(elector_t *el)
{
    scripts_result_t res;
    size_t idles = 0;
    while (scripts_take(el->scripts, &res)) {
        idles += res.kind == ELECTION_ON_IDLE;
        const char *id = el->res[res.resource].id;
        const char *name = election_script_str((election_script_t)res.kind);
        if (!res.ok) {
            pthread_mutex_lock(&el->mu);
            el->stats.script_failures++;
            pthread_mutex_unlock(&el->mu);
            log_warn(el->log, "election", "%s: %s failed: %s", id, name, res.error);
        }
        if (el->cfg->logging.log_command_output && res.output[0] != '\0')
            log_info(el->log, "election", "%s: %s printed: %s", id, name, res.output);
        election_now_t now = clock_now();
        election_on_script(el->core, res.resource, (election_script_t)res.kind, res.gen, res.ok,
                           res.output, now, &el->act);
        carry_out(el, now);
    }
    return idles;
}

static void take_control(elector_t *el)
{
    pthread_mutex_lock(&el->mu);
    if (!el->ctl.pending || el->ctl.done) {
        pthread_mutex_unlock(&el->mu);
        return;
    }
    control_t c = el->ctl;
    pthread_mutex_unlock(&el->mu);

    election_now_t now = clock_now();
    const char *id = el->res[c.resource].id;
    if (c.op == ELECTOR_FORCE) {
        c.rc = election_force(el->core, (size_t)c.resource, now, &el->act);
        snprintf(c.msg, sizeof c.msg, "%s: forced on %s; it bids with priority %u until released", id,
                 el->cfg->id, ELECTION_FORCED_PRIORITY);
    } else {
        c.rc = election_release(el->core, (size_t)c.resource, now, &el->act);
        snprintf(c.msg, sizeof c.msg, "%s: released by %s; it will not claim it again for a while",
                 id, el->cfg->id);
    }
    log_info(el->log, "election", "%s", c.msg);
    carry_out(el, now);

    pthread_mutex_lock(&el->mu);
    el->ctl.rc = c.rc;
    snprintf(el->ctl.msg, sizeof el->ctl.msg, "%s", c.msg);
    el->ctl.done = true;
    pthread_cond_broadcast(&el->ctl_cond);
    pthread_mutex_unlock(&el->mu);
}

/* ---- the thread ------------------------------------------------------------------- */

static void shut_down(elector_t *el)
{
    election_now_t now = clock_now();
    election_stop(el->core, now, &el->act);
    size_t idles = 0;
    for (size_t i = 0; i < el->act.n_scripts; i++)
        idles += el->act.scripts[i].script == ELECTION_ON_IDLE && el->cfg->run.on_idle != NULL;
    bool releasing = el->act.send;
    carry_out(el, now);
    /* The second release, at once rather than a tx interval later. */
    if (releasing)
        send_packet(el, clock_now());
    refresh_snapshot(el, clock_now());

    /* Let onIdle finish (bounded by the script timeout, plus the kill grace). */
    uint64_t limit = bosun_mono_ms() + (uint64_t)(el->cfg->run.script_timeout_secs * 1000.0) + 3000u;
    while (idles > 0 && bosun_mono_ms() < limit) {
        struct pollfd pf = {.fd = scripts_fd(el->scripts), .events = POLLIN};
        if (poll(&pf, 1, 100) > 0) {
            size_t done = take_scripts(el);
            idles = done >= idles ? 0 : idles - done;
        }
    }
}

static void *loop(void *arg)
{
    elector_t *el = arg;
    election_now_t now = clock_now();
    election_start(el->core, now, &el->act);
    carry_out(el, now);
    refresh_snapshot(el, now);

    while (!atomic_load(&el->stopping)) {
        now = clock_now();
        uint64_t deadline = election_next_deadline(el->core);
        uint64_t wait = MIRROR_EVERY_MS;
        if (deadline != UINT64_MAX)
            wait = deadline <= now.mono_ms ? 0 : deadline - now.mono_ms;
        if (wait > MIRROR_EVERY_MS)
            wait = MIRROR_EVERY_MS;
        struct pollfd pf[3] = {
            {.fd = mcast_fd(el->mc), .events = POLLIN},
            {.fd = scripts_fd(el->scripts), .events = POLLIN},
            {.fd = el->wake_fd, .events = POLLIN},
        };
        int n = poll(pf, 3, (int)wait);
        if (n < 0 && errno != EINTR) {
            log_error(el->log, "election", "poll: %s", strerror(errno));
            bosun_sleep_ms(10);
        }
        if (n > 0 && (pf[0].revents & POLLIN))
            receive(el);
        if (n > 0 && (pf[1].revents & POLLIN))
            take_scripts(el);
        if (n > 0 && (pf[2].revents & POLLIN)) {
            uint64_t v;
            ssize_t r = read(el->wake_fd, &v, sizeof v);
            (void)r;
            take_control(el);
        }
        now = clock_now();
        election_on_timer(el->core, now, &el->act);
        carry_out(el, now);
        refresh_snapshot(el, now);
    }
    shut_down(el);
    return NULL;
}

/* ---- public ------------------------------------------------------------------------- */

bosun_status_t elector_new(const bosun_agent_config_t *cfg, uint64_t instance_id,
                           const bosun_log_t *log, bosun_nats_t *nats, char *const *envp,
                           elector_t **out, bosun_err_t *err)
{
    elector_t *el = calloc(1, sizeof *el);
    if (el == NULL)
        return BOSUN_ERR_NOMEM;
    el->cfg = cfg;
    el->log = log;
    el->nats = nats;
    el->envp = envp;
    el->instance_id = instance_id;
    el->wake_fd = -1;
    pthread_mutex_init(&el->mu, NULL);
    pthread_cond_init(&el->ctl_cond, NULL);
    atomic_init(&el->stopping, false);
    election_actions_init(&el->act);
    bosun_rng_seed(&el->rng);

    size_t n = cfg->n_resources;
    el->res = calloc(n ? n : 1, sizeof *el->res);
    el->snap = calloc(n ? n : 1, sizeof *el->snap);
    bosun_status_t rc = BOSUN_ERR_NOMEM;
    if (el->res == NULL || el->snap == NULL)
        goto fail;
    for (size_t r = 0; r < n; r++) {
        el->res[r] = (election_resource_t){cfg->resources[r].id, (uint32_t)cfg->resources[r].priority,
                                           cfg->resources[r].preempt};
        snprintf(el->snap[r].id, sizeof el->snap[r].id, "%s", cfg->resources[r].id);
        el->snap[r].priority = (uint32_t)cfg->resources[r].priority;
        el->snap[r].preempt = cfg->resources[r].preempt;
    }

    election_config_defaults(&el->ecfg);
    el->ecfg.node = cfg->id;
    el->ecfg.instance_id = instance_id;
    el->ecfg.resources = el->res;
    el->ecfg.n_resources = n;
    double mult = cfg->timing.internal_multiplier;
    el->ecfg.tx_interval_ms = (uint64_t)(cfg->timing.tx_interval_secs * mult * 1000.0 + 0.5);
    if (el->ecfg.tx_interval_ms == 0)
        el->ecfg.tx_interval_ms = 1;
    el->ecfg.transition_wait_ms = (uint64_t)(cfg->timing.transition_wait_secs * mult * 1000.0 + 0.5);
    el->ecfg.token_start = cfg->token_start;
    el->ecfg.token_end = cfg->token_end;
    el->ecfg.fixed_token_set = cfg->fixed_token_set;
    el->ecfg.fixed_token = cfg->fixed_token;
    for (int s = 0; s < ELECTION_SCRIPT_COUNT; s++)
        el->ecfg.scripts[s] = script_path(el, (election_script_t)s) != NULL;
    el->ecfg.random = bosun_rng_next;
    el->ecfg.random_arg = &el->rng;
    if ((rc = election_new(&el->ecfg, &el->core)) != BOSUN_OK) {
        bosun_errf(err, rc, "cannot set up the election");
        goto fail;
    }

    if ((rc = seal_new(cfg->net.crypto_password, &el->seal, err)) != BOSUN_OK)
        goto fail;
    if ((rc = mcast_open(&cfg->net, &el->mc, err)) != BOSUN_OK)
        goto fail;
    if ((rc = scripts_new(n > 4 ? 4 : (n ? (int)n : 1), envp, cfg->data_dir,
                           cfg->security.run_as_user, &el->scripts)) != BOSUN_OK) {
        bosun_errf(err, rc, "cannot start the script runner");
        goto fail;
    }
    if (nats != NULL && (rc = mirror_new(nats_publish, nats, MIRROR_QUEUE, &el->mirror)) != BOSUN_OK) {
        bosun_errf(err, rc, "cannot start the election's NATS mirror");
        goto fail;
    }
    el->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (el->wake_fd < 0) {
        rc = bosun_errf(err, BOSUN_ERR_SYS, "eventfd: %s", strerror(errno));
        goto fail;
    }
    el->stats.encrypted = seal_encrypted(el->seal);
    snprintf(el->stats.transport, sizeof el->stats.transport, "%s", mcast_describe(el->mc));
    if (!el->stats.encrypted)
        log_warn(log, "election",
                 "no networking.cryptoPassword: election packets are sent IN CLEAR and anyone on "
                 "the network can forge them; set a password on every node");
    *out = el;
    return BOSUN_OK;
fail:
    elector_free(el);
    return rc;
}

bosun_status_t elector_start(elector_t *el)
{
    el->stats.started_wall_ms = bosun_wall_ms();
    log_info(el->log, "election", "%zu resources on %s, %s, tx every %llu ms, transition wait %llu ms",
             el->cfg->n_resources, el->stats.transport,
             el->stats.encrypted ? "sealed (XChaCha20-Poly1305)" : "in clear",
             (unsigned long long)el->ecfg.tx_interval_ms,
             (unsigned long long)el->ecfg.transition_wait_ms);
    if (pthread_create(&el->thread, NULL, loop, el) != 0)
        return BOSUN_ERR_SYS;
    el->thread_started = true;
    return BOSUN_OK;
}

void elector_stop(elector_t *el)
{
    if (el == NULL || !el->thread_started)
        return;
    atomic_store(&el->stopping, true);
    uint64_t one = 1;
    ssize_t w = write(el->wake_fd, &one, sizeof one);
    (void)w;
    pthread_join(el->thread, NULL);
    el->thread_started = false;
}

void elector_free(elector_t *el)
{
    if (el == NULL)
        return;
    elector_stop(el);
    mirror_free(el->mirror, MIRROR_DRAIN_MS); /* after the thread: its last states go out */
    scripts_free(el->scripts);
    mcast_close(el->mc);
    seal_free(el->seal);
    election_free(el->core);
    election_actions_free(&el->act);
    if (el->wake_fd >= 0)
        close(el->wake_fd);
    pthread_cond_destroy(&el->ctl_cond);
    pthread_mutex_destroy(&el->mu);
    free(el->res);
    free(el->snap);
    free(el);
}

size_t elector_snapshot(elector_t *el, elector_resource_t *out, size_t max)
{
    size_t n = el->cfg->n_resources;
    pthread_mutex_lock(&el->mu);
    for (size_t r = 0; r < n && r < max; r++)
        out[r] = el->snap[r];
    pthread_mutex_unlock(&el->mu);
    return n;
}

void elector_stats(elector_t *el, elector_stats_t *out)
{
    pthread_mutex_lock(&el->mu);
    *out = el->stats;
    pthread_mutex_unlock(&el->mu);
}

bosun_status_t elector_control(elector_t *el, elector_op_t op, const char *resource, char *msg,
                               size_t len)
{
    long r = election_find(el->core, resource);
    if (r < 0) {
        char names[512] = "";
        size_t k = 0;
        for (size_t i = 0; i < el->cfg->n_resources && k < sizeof names - 80; i++)
            k += (size_t)snprintf(names + k, sizeof names - k, "%s%s", i ? ", " : "", el->res[i].id);
        snprintf(msg, len, "unknown resource '%.64s'; this node has: %s", resource,
                 el->cfg->n_resources ? names : "none");
        return BOSUN_ERR_NOT_FOUND;
    }
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += CONTROL_WAIT_MS / 1000;

    pthread_mutex_lock(&el->mu);
    while (el->ctl.pending && !el->ctl.done)
        if (pthread_cond_timedwait(&el->ctl_cond, &el->mu, &deadline) != 0)
            break;
    if (el->ctl.pending && !el->ctl.done) {
        pthread_mutex_unlock(&el->mu);
        snprintf(msg, len, "the election thread is busy; try again");
        return BOSUN_ERR_TIMEOUT;
    }
    el->ctl = (control_t){.pending = true, .op = op, .resource = r};
    uint64_t one = 1;
    ssize_t w = write(el->wake_fd, &one, sizeof one);
    (void)w;
    bosun_status_t rc = BOSUN_ERR_TIMEOUT;
    while (!el->ctl.done)
        if (pthread_cond_timedwait(&el->ctl_cond, &el->mu, &deadline) != 0)
            break;
    if (el->ctl.done) {
        rc = el->ctl.rc;
        snprintf(msg, len, "%s", el->ctl.msg);
    } else {
        snprintf(msg, len, "the election thread did not answer within %d ms", CONTROL_WAIT_MS);
    }
    el->ctl.pending = false;
    pthread_cond_broadcast(&el->ctl_cond);
    pthread_mutex_unlock(&el->mu);
    return rc;
}
