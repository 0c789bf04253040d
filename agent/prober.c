/*
 * prober.c - the connectivity probes' thread: listener, connects and NATS
 * pings around the core in probe.c (see prober.h).
 *
 * Each pass of the loop: apply what nats.c's callbacks queued (answers,
 * peers' heartbeats), let the core time out and forget, close connects the
 * core no longer awaits, start the attempts now due (ping first, then a
 * non-blocking connect), and poll the wake-up eventfd, the listener and the
 * connects until the core's next deadline. The core is guarded by `mu`
 * only so that the heartbeat can copy the results.
 */
#include "prober.h"

#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "codec.h"
#include "name.h"
#include "ratelimit.h"

/* Events queued by callbacks, at most; more are dropped and counted.
 * Heartbeats may fill only half, so a heartbeat storm never costs answers. */
#define QUEUE_MAX 1024
#define QUEUE_MAX_HEARTBEATS (QUEUE_MAX / 2)
/* Attempts started per pass; the rest start on the next pass, at once. */
#define JOBS_PER_PASS 64
/* Connections accepted per pass, so a flood cannot hold the loop. */
#define ACCEPTS_PER_PASS 256
/* Largest Ack to a ping, and largest heartbeat, decoded. */
#define ACK_MAX_BYTES (64 * 1024)
#define HEARTBEAT_MAX_BYTES (1024 * 1024)
/* The loop wakes at least this often, whatever the core says. */
#define MAX_SLEEP_MS 1000

typedef enum {
    EV_HEARTBEAT, /* a peer heartbeat: node, address */
    EV_ANSWER,    /* the reply to a ping: node, seq, ok, why */
} event_kind_t;

typedef struct {
    event_kind_t kind;
    char node[BOSUN_NAME_MAX + 1];
    char address[PROBE_ADDR_MAX];
    uint64_t seq;
    uint64_t t_us;   /* monotonic, when it arrived */
    bool ok;
    char why[160];
} event_t;

/* A connect in progress. */
typedef struct {
    int fd;          /* -1: slot free */
    char target[BOSUN_NAME_MAX + 1];
    uint64_t seq;
} conn_t;

struct prober {
    const bosun_probes_config_t *cfg;
    const bosun_log_t *log;
    bosun_nats_t *nats;
    char self[BOSUN_NAME_MAX + 1];
    char advertised[PROBE_ADDR_MAX];
    char prefix[64];            /* reply subjects: <prefix>.<target>.<seq> */
    size_t prefix_len;
    int listen_fd;              /* -1 without probes.listen */
    int wake_fd;                /* eventfd: queue non-empty, or stop */
    bool subscribed;            /* on_answer / on_heartbeat, with closure pr */

    pthread_mutex_t mu;         /* guards core */
    probe_t *core;

    pthread_mutex_t qmu;        /* guards queue */
    event_t *queue;
    size_t q_len;
    event_t *batch;             /* the thread's copy of the queue */

    /* Owned by the thread. */
    conn_t *conns;
    size_t n_conns_max;
    struct pollfd *pfds;
    size_t *pfd_conn;           /* pfds[i] -> conns index */
    probe_job_t jobs[JOBS_PER_PASS];
    ratelimit_t warn_log;

    pthread_t thread;
    bool started;
    atomic_bool stop;
    atomic_uint_fast64_t accepted, dropped, bad_hb;
};

bool prober_wanted(const bosun_agent_config_t *cfg)
{
    const bosun_probes_config_t *p = &cfg->probes;
    return p->n_peers > 0 || p->probe_peers || p->listen != NULL;
}

/* ---- callbacks (nats.c's threads): validate and queue ------------------------------ */

static void enqueue(prober_t *pr, const event_t *ev)
{
    pthread_mutex_lock(&pr->qmu);
    if (pr->q_len >= (ev->kind == EV_HEARTBEAT ? QUEUE_MAX_HEARTBEATS : QUEUE_MAX)) {
        pthread_mutex_unlock(&pr->qmu);
        atomic_fetch_add(&pr->dropped, 1);
        return;
    }
    pr->queue[pr->q_len++] = *ev;
    if (pr->q_len == 1) {
        uint64_t one = 1;
        ssize_t w = write(pr->wake_fd, &one, sizeof one);
        (void)w; /* a full counter still wakes the thread */
    }
    pthread_mutex_unlock(&pr->qmu);
}

/* Reply subjects are <prefix>.<target>.<seq>. */
static void on_answer(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
    (void)nc;
    (void)sub;
    prober_t *pr = closure;
    event_t ev = {.kind = EV_ANSWER, .t_us = bosun_mono_us()};
    const char *subject = natsMsg_GetSubject(msg);
    ProtobufCMessage *m = NULL;
    if (atomic_load(&pr->stop) || strncmp(subject, pr->prefix, pr->prefix_len) != 0 ||
        subject[pr->prefix_len] != '.')
        goto out;
    const char *node = subject + pr->prefix_len + 1, *dot = strchr(node, '.');
    if (dot == NULL || dot == node || (size_t)(dot - node) > BOSUN_NAME_MAX)
        goto out;
    memcpy(ev.node, node, (size_t)(dot - node));
    char *end;
    ev.seq = strtoull(dot + 1, &end, 10);
    if (*end != '\0' || ev.seq == 0 || !bosun_name_valid(ev.node))
        goto out;
    int len = natsMsg_GetDataLength(msg);
    bosun_err_t err;
    if (natsMsg_IsNoResponders(msg)) {
        snprintf(ev.why, sizeof ev.why, "no responders (no agent subscribed to %s.command.ping)",
                 ev.node);
    } else if (bosun_codec_decode(&bosun__ack__descriptor, natsMsg_GetData(msg),
                                  len > 0 ? (size_t)len : 0, ACK_MAX_BYTES, &m, &err) != BOSUN_OK) {
        snprintf(ev.why, sizeof ev.why, "undecodable answer: %.90s", err.msg);
    } else {
        const Bosun__Ack *ack = (const Bosun__Ack *)m;
        /* Any Ack completes the round trip (REJECTED or BUSY ones too). */
        if (ack->node[0] != '\0' && strcmp(ack->node, ev.node) != 0)
            snprintf(ev.why, sizeof ev.why, "answered by node '%.64s'", ack->node);
        else
            ev.ok = true;
    }
    enqueue(pr, &ev);
out:
    if (m != NULL)
        protobuf_c_message_free_unpacked(m, NULL);
    natsMsg_Destroy(msg);
}

/* <node>.event.heartbeat of a peer: who it is and where its listener is. */
static void on_heartbeat(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
    (void)nc;
    (void)sub;
    prober_t *pr = closure;
    event_t ev = {.kind = EV_HEARTBEAT, .t_us = bosun_mono_us()};
    const char *subject = natsMsg_GetSubject(msg);
    const char *dot = strchr(subject, '.');
    ProtobufCMessage *m = NULL;
    bosun_err_t err;
    int len = natsMsg_GetDataLength(msg);
    if (atomic_load(&pr->stop))
        goto out;
    if (dot == NULL || dot == subject || (size_t)(dot - subject) > BOSUN_NAME_MAX ||
        bosun_codec_decode(&bosun__heartbeat__descriptor, natsMsg_GetData(msg),
                           len > 0 ? (size_t)len : 0, HEARTBEAT_MAX_BYTES, &m, &err) != BOSUN_OK) {
        atomic_fetch_add(&pr->bad_hb, 1);
        goto out;
    }
    const Bosun__Heartbeat *hb = (const Bosun__Heartbeat *)m;
    size_t nl = (size_t)(dot - subject);
    if (strlen(hb->node) != nl || strncmp(hb->node, subject, nl) != 0 || !bosun_name_valid(hb->node)) {
        atomic_fetch_add(&pr->bad_hb, 1); /* a heartbeat must come from the node it names */
        goto out;
    }
    snprintf(ev.node, sizeof ev.node, "%s", hb->node);
    struct sockaddr_storage ss;
    socklen_t sl;
    if (hb->probe_address[0] != '\0' && strlen(hb->probe_address) < sizeof ev.address &&
        bosun_sockaddr_parse(hb->probe_address, false, &ss, &sl, NULL) == BOSUN_OK)
        snprintf(ev.address, sizeof ev.address, "%s", hb->probe_address);
    else if (hb->probe_address[0] != '\0')
        atomic_fetch_add(&pr->bad_hb, 1); /* still a sign of life; no TCP address */
    enqueue(pr, &ev);
out:
    if (m != NULL)
        protobuf_c_message_free_unpacked(m, NULL);
    natsMsg_Destroy(msg);
}

/* ---- the thread ------------------------------------------------------------------------ */

/* Applies the queued events to the core (mu held). */
static void drain(prober_t *pr)
{
    pthread_mutex_lock(&pr->qmu);
    size_t n = pr->q_len;
    memcpy(pr->batch, pr->queue, n * sizeof *pr->batch);
    pr->q_len = 0;
    uint64_t v;
    ssize_t r = read(pr->wake_fd, &v, sizeof v); /* under qmu: the next enqueue wakes us again */
    (void)r;
    pthread_mutex_unlock(&pr->qmu);
    for (size_t i = 0; i < n; i++) {
        const event_t *ev = &pr->batch[i];
        if (ev->kind == EV_ANSWER) {
            probe_done(pr->core, ev->node, ev->seq, PROBE_NATS, ev->ok, ev->t_us, ev->why);
            continue;
        }
        probe_hb_t what = probe_on_heartbeat(pr->core, ev->node, ev->address, ev->t_us);
        uint64_t suppressed = 0;
        if (what == PROBE_HB_LEARNED)
            log_info(pr->log, "probe", "probing %s, heard heartbeating (%s)", ev->node,
                     ev->address[0] ? ev->address : "no probe address: NATS only");
        else if (what == PROBE_HB_FULL && ratelimit_allow(&pr->warn_log, bosun_mono_ms(), &suppressed))
            log_warn(pr->log, "probe", "not probing %s: probes.maxTargets (%d) reached%s", ev->node,
                     pr->cfg->max_targets, suppressed ? " (more not logged)" : "");
    }
}

/* Logs targets that became unreachable or reachable again (mu held). */
static void log_changes(prober_t *pr)
{
    probe_result_t c[8];
    size_t n;
    while ((n = probe_take_changes(pr->core, c, 8)) > 0)
        for (size_t i = 0; i < n; i++) {
            if (probe_result_failed(&c[i]))
                log_warn(pr->log, "probe", "%s unreachable: %s", c[i].target, c[i].error);
            else if (c[i].tcp_tested)
                log_info(pr->log, "probe", "%s reachable: tcp connect %u us, nats ping %u us",
                         c[i].target, c[i].tcp_connect_us, c[i].nats_rtt_us);
            else
                log_info(pr->log, "probe", "%s reachable: nats ping %u us (no TCP address)",
                         c[i].target, c[i].nats_rtt_us);
        }
}

/* Closes connects whose TCP part the core no longer awaits (mu held). */
static void drop_stale(prober_t *pr)
{
    for (size_t i = 0; i < pr->n_conns_max; i++) {
        conn_t *c = &pr->conns[i];
        if (c->fd >= 0 && !probe_awaited(pr->core, c->target, c->seq, PROBE_TCP)) {
            close(c->fd);
            c->fd = -1;
        }
    }
}

static void report(prober_t *pr, const probe_job_t *j, probe_part_t part, bool ok, const char *why)
{
    uint64_t now = bosun_mono_us();
    pthread_mutex_lock(&pr->mu);
    probe_done(pr->core, j->target, j->seq, part, ok, now, why);
    pthread_mutex_unlock(&pr->mu);
}

static void started(prober_t *pr, const probe_job_t *j, probe_part_t part, uint64_t t_us)
{
    pthread_mutex_lock(&pr->mu);
    probe_started(pr->core, j->target, j->seq, part, t_us);
    pthread_mutex_unlock(&pr->mu);
}

/* Sends the ping of attempt j: a Command as central's time sync sends it. */
static void send_ping(prober_t *pr, const probe_job_t *j)
{
    if (!bosun_nats_connected(pr->nats)) {
        report(pr, j, PROBE_NATS, false, "not connected to NATS");
        return;
    }
    char subject[BOSUN_NAME_MAX + 32], reply[sizeof pr->prefix + BOSUN_NAME_MAX + 32];
    char id[2 * BOSUN_NAME_MAX + 48];
    snprintf(subject, sizeof subject, "%s.command.ping", j->target);
    snprintf(reply, sizeof reply, "%s.%s.%" PRIu64, pr->prefix, j->target, j->seq);
    snprintf(id, sizeof id, "probe-%s-%" PRIu64, pr->self, j->seq);
    Bosun__Command cmd = BOSUN__COMMAND__INIT;
    cmd.id = id;
    cmd.node = (char *)j->target;
    cmd.method = "ping";
    cmd.kind = BOSUN__MESSAGE_KIND__MESSAGE_KIND_COMMAND;
    cmd.sender = pr->self;
    cmd.attempt = 1;
    cmd.created_ms = bosun_wall_ms();
    uint8_t buf[512];
    size_t len = protobuf_c_message_get_packed_size(&cmd.base);
    if (len > sizeof buf) { /* cannot happen with names of at most 64 characters */
        report(pr, j, PROBE_NATS, false, "ping too large");
        return;
    }
    len = protobuf_c_message_pack(&cmd.base, buf);
    started(pr, j, PROBE_NATS, bosun_mono_us());
    natsStatus s = natsConnection_PublishRequest(bosun_nats_conn(pr->nats), subject, reply, buf, (int)len);
    if (s != NATS_OK)
        report(pr, j, PROBE_NATS, false, natsStatus_GetText(s));
}

/* Starts the non-blocking connect of attempt j. */
static void start_connect(prober_t *pr, const probe_job_t *j)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    if (bosun_sockaddr_parse(j->address, false, &ss, &sl, NULL) != BOSUN_OK) {
        report(pr, j, PROBE_TCP, false, "not a numeric ADDRESS:PORT");
        return;
    }
    conn_t *slot = NULL;
    for (size_t i = 0; i < pr->n_conns_max && slot == NULL; i++)
        if (pr->conns[i].fd < 0)
            slot = &pr->conns[i];
    if (slot == NULL) { /* one attempt per target: cannot happen */
        report(pr, j, PROBE_TCP, false, "too many connects in progress");
        return;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        report(pr, j, PROBE_TCP, false, strerror(errno));
        return;
    }
    started(pr, j, PROBE_TCP, bosun_mono_us());
    if (connect(fd, (struct sockaddr *)&ss, sl) == 0) {
        report(pr, j, PROBE_TCP, true, NULL);
        close(fd);
    } else if (errno == EINPROGRESS) {
        slot->fd = fd;
        snprintf(slot->target, sizeof slot->target, "%s", j->target);
        slot->seq = j->seq;
    } else {
        int e = errno;
        report(pr, j, PROBE_TCP, false, strerror(e));
        close(fd);
    }
}

/* Accepts what the listener holds and closes it at once: nothing is read or written. */
static void accept_all(prober_t *pr)
{
    for (int i = 0; i < ACCEPTS_PER_PASS; i++) {
        int fd = accept4(pr->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            close(fd);
            atomic_fetch_add(&pr->accepted, 1);
            continue;
        }
        if (errno == EINTR || errno == ECONNABORTED)
            continue;
        uint64_t suppressed = 0;
        if (errno != EAGAIN && errno != EWOULDBLOCK &&
            ratelimit_allow(&pr->warn_log, bosun_mono_ms(), &suppressed))
            log_warn(pr->log, "probe", "probe listener: accept: %s%s", strerror(errno),
                     suppressed ? " (more not logged)" : "");
        return;
    }
}

/* Reads each finished connect's outcome (after poll). */
static void finish_connects(prober_t *pr, size_t first, size_t n_pfds, uint64_t now)
{
    pthread_mutex_lock(&pr->mu);
    for (size_t i = first; i < n_pfds; i++) {
        if (pr->pfds[i].revents == 0)
            continue;
        conn_t *c = &pr->conns[pr->pfd_conn[i]];
        int soerr = 0;
        socklen_t sl = sizeof soerr;
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0)
            soerr = errno;
        probe_done(pr->core, c->target, c->seq, PROBE_TCP, soerr == 0, now, strerror(soerr));
        close(c->fd);
        c->fd = -1;
    }
    pthread_mutex_unlock(&pr->mu);
}

static void *run(void *arg)
{
    prober_t *pr = arg;
    while (!atomic_load(&pr->stop)) {
        uint64_t now = bosun_mono_us();
        pthread_mutex_lock(&pr->mu);
        drain(pr);
        probe_stats_t before, after;
        probe_stats(pr->core, &before);
        probe_expire(pr->core, now);
        probe_stats(pr->core, &after);
        if (after.forgotten > before.forgotten)
            log_info(pr->log, "probe", "stopped probing %llu peers silent for %d ms",
                     (unsigned long long)(after.forgotten - before.forgotten), pr->cfg->forget_after_ms);
        drop_stale(pr);
        log_changes(pr);
        size_t n_jobs = probe_take_due(pr->core, now, bosun_wall_ms(), pr->jobs, JOBS_PER_PASS);
        pthread_mutex_unlock(&pr->mu);

        for (size_t i = 0; i < n_jobs; i++) {
            send_ping(pr, &pr->jobs[i]);
            if (pr->jobs[i].address[0] != '\0')
                start_connect(pr, &pr->jobs[i]);
        }

        pthread_mutex_lock(&pr->mu);
        uint64_t deadline = probe_next_deadline(pr->core);
        pthread_mutex_unlock(&pr->mu);
        now = bosun_mono_us();
        int timeout = MAX_SLEEP_MS;
        if (n_jobs == JOBS_PER_PASS || deadline <= now)
            timeout = 0;
        else if (deadline - now < (uint64_t)MAX_SLEEP_MS * 1000u)
            timeout = (int)((deadline - now + 999u) / 1000u);

        size_t n_pfds = 0;
        pr->pfds[n_pfds++] = (struct pollfd){.fd = pr->wake_fd, .events = POLLIN};
        if (pr->listen_fd >= 0)
            pr->pfds[n_pfds++] = (struct pollfd){.fd = pr->listen_fd, .events = POLLIN};
        size_t first_conn = n_pfds;
        for (size_t i = 0; i < pr->n_conns_max; i++)
            if (pr->conns[i].fd >= 0) {
                pr->pfd_conn[n_pfds] = i;
                pr->pfds[n_pfds++] = (struct pollfd){.fd = pr->conns[i].fd, .events = POLLOUT};
            }
        if (atomic_load(&pr->stop))
            break; /* its wake-up may have been taken by the drain above */
        int r = poll(pr->pfds, (nfds_t)n_pfds, timeout);
        if (r <= 0)
            continue; /* timeout, or EINTR */
        now = bosun_mono_us();
        finish_connects(pr, first_conn, n_pfds, now);
        if (pr->listen_fd >= 0 && pr->pfds[1].revents != 0)
            accept_all(pr);
        /* The wake-up eventfd is read by drain() on the next pass. */
    }
    return NULL;
}

/* ---- building and stopping ----------------------------------------------------------- */

/* What peers are told: probes.advertise, else probes.listen unless it binds every address. */
static void choose_advertised(prober_t *pr)
{
    const bosun_probes_config_t *c = pr->cfg;
    if (c->advertise != NULL) {
        snprintf(pr->advertised, sizeof pr->advertised, "%s", c->advertise);
        return;
    }
    if (c->listen == NULL)
        return;
    struct sockaddr_storage ss;
    socklen_t sl;
    if (bosun_sockaddr_parse(c->listen, false, &ss, &sl, NULL) == BOSUN_OK)
        snprintf(pr->advertised, sizeof pr->advertised, "%s", c->listen);
    else
        log_warn(pr->log, "probe",
                 "probes.listen %s binds every address, so none is advertised: peers that learn of "
                 "this node measure NATS only; set probes.advertise", c->listen);
}

static bosun_status_t open_listener(prober_t *pr, bosun_err_t *err)
{
    const char *addr = pr->cfg->listen;
    struct sockaddr_storage ss;
    socklen_t sl;
    bosun_status_t st = bosun_sockaddr_parse(addr, true, &ss, &sl, err);
    if (st != BOSUN_OK)
        return st;
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(fd, (struct sockaddr *)&ss, sl) != 0 || listen(fd, 128) != 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        return bosun_errf(err, BOSUN_ERR_IO, "probes.listen %s: cannot listen: %s", addr, strerror(e));
    }
    pr->listen_fd = fd;
    return BOSUN_OK;
}

/* Made again on a reopened connection (natsconn.h); all with closure pr. */
static bosun_status_t subscribe(prober_t *pr, const char *subject, natsMsgHandler cb, bosun_err_t *err)
{
    pr->subscribed = true;
    return bosun_nats_subscribe(pr->nats, subject, cb, pr, 65536, 64 * 1024 * 1024, err);
}

/* The reply inbox, and the heartbeats to learn peers (and their addresses) from. */
static bosun_status_t subscribe_all(prober_t *pr, bosun_err_t *err)
{
    const bosun_probes_config_t *c = pr->cfg;
    char subject[sizeof pr->prefix + BOSUN_NAME_MAX + 32];
    snprintf(subject, sizeof subject, "%s.>", pr->prefix);
    bosun_status_t st = subscribe(pr, subject, on_answer, err);
    if (st != BOSUN_OK)
        return st;
    if (c->probe_peers)
        return subscribe(pr, "*.event.heartbeat", on_heartbeat, err);
    for (size_t i = 0; i < c->n_peers; i++) {
        if (c->peers[i].address != NULL)
            continue;
        snprintf(subject, sizeof subject, "%s.event.heartbeat", c->peers[i].node);
        if ((st = subscribe(pr, subject, on_heartbeat, err)) != BOSUN_OK)
            return st;
    }
    return BOSUN_OK;
}

bosun_status_t prober_new(const bosun_agent_config_t *cfg, const bosun_log_t *log, bosun_nats_t *nats,
                          prober_t **out, bosun_err_t *err)
{
    const bosun_probes_config_t *c = &cfg->probes;
    prober_t *pr = calloc(1, sizeof *pr);
    if (pr == NULL)
        return bosun_errf(err, BOSUN_ERR_NOMEM, "out of memory");
    pr->cfg = c;
    pr->log = log;
    pr->nats = nats;
    pr->listen_fd = -1;
    snprintf(pr->self, sizeof pr->self, "%s", cfg->id);
    pthread_mutex_init(&pr->mu, NULL);
    pthread_mutex_init(&pr->qmu, NULL);
    atomic_init(&pr->stop, false);
    ratelimit_init(&pr->warn_log, 10);
    bosun_status_t st = BOSUN_ERR_NOMEM;
    pr->n_conns_max = (size_t)c->max_targets;
    pr->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    pr->queue = calloc(QUEUE_MAX, sizeof *pr->queue);
    pr->batch = calloc(QUEUE_MAX, sizeof *pr->batch);
    pr->conns = calloc(pr->n_conns_max, sizeof *pr->conns);
    pr->pfds = calloc(pr->n_conns_max + 2, sizeof *pr->pfds);
    pr->pfd_conn = calloc(pr->n_conns_max + 2, sizeof *pr->pfd_conn);
    if (pr->queue == NULL || pr->batch == NULL || pr->conns == NULL || pr->pfds == NULL ||
        pr->pfd_conn == NULL) {
        bosun_errf(err, st, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < pr->n_conns_max; i++)
        pr->conns[i].fd = -1;
    if (pr->wake_fd < 0) {
        st = bosun_errf(err, BOSUN_ERR_SYS, "eventfd: %s", strerror(errno));
        goto fail;
    }
    probe_params_t params = {
        .self = cfg->id,
        .interval_us = (uint64_t)c->interval_ms * 1000u,
        .timeout_us = (uint64_t)c->timeout_ms * 1000u,
        .forget_us = (uint64_t)c->forget_after_ms * 1000u,
        .max_targets = (size_t)c->max_targets,
        .learn = c->probe_peers,
    };
    if ((st = probe_new(&params, &pr->core)) != BOSUN_OK) {
        bosun_errf(err, st, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < c->n_peers; i++) {
        st = probe_add_peer(pr->core, c->peers[i].node, c->peers[i].address);
        if (st != BOSUN_OK) { /* the config checks make this unreachable */
            bosun_errf(err, BOSUN_ERR_CONFIG, "probes.peers[%zu] '%s': %s", i, c->peers[i].node,
                       bosun_status_str(st));
            goto fail;
        }
    }
    if (c->listen != NULL && (st = open_listener(pr, err)) != BOSUN_OK)
        goto fail;
    choose_advertised(pr);
    uint8_t rnd[6];
    randombytes_buf(rnd, sizeof rnd);
    snprintf(pr->prefix, sizeof pr->prefix, "_INBOX.bosun.probe.%02x%02x%02x%02x%02x%02x", rnd[0],
             rnd[1], rnd[2], rnd[3], rnd[4], rnd[5]);
    pr->prefix_len = strlen(pr->prefix);
    if ((st = subscribe_all(pr, err)) != BOSUN_OK)
        goto fail;
    *out = pr;
    return BOSUN_OK;
fail:
    prober_free(pr);
    return st;
}

bosun_status_t prober_start(prober_t *pr)
{
    if (pthread_create(&pr->thread, NULL, run, pr) != 0)
        return BOSUN_ERR_SYS;
    pr->started = true;
    size_t n = probe_count(pr->core);
    log_info(pr->log, "probe", "probing %zu configured peers%s every %d ms (timeout %d ms)%s%s", n,
             pr->cfg->probe_peers ? " and every node heard heartbeating" : "", pr->cfg->interval_ms,
             pr->cfg->timeout_ms, pr->listen_fd >= 0 ? "; listening on " : "",
             pr->listen_fd >= 0 ? pr->cfg->listen : "");
    return BOSUN_OK;
}

void prober_stop(prober_t *pr)
{
    if (pr == NULL)
        return;
    atomic_store(&pr->stop, true);
    if (pr->started) {
        uint64_t one = 1;
        ssize_t w = write(pr->wake_fd, &one, sizeof one);
        (void)w;
        pthread_join(pr->thread, NULL);
        pr->started = false;
    }
    if (pr->subscribed) {
        bosun_nats_unsubscribe(pr->nats, pr);
        pr->subscribed = false;
    }
    for (size_t i = 0; pr->conns != NULL && i < pr->n_conns_max; i++)
        if (pr->conns[i].fd >= 0) {
            close(pr->conns[i].fd);
            pr->conns[i].fd = -1;
        }
    if (pr->listen_fd >= 0) {
        close(pr->listen_fd);
        pr->listen_fd = -1;
    }
}

void prober_free(prober_t *pr)
{
    if (pr == NULL)
        return;
    prober_stop(pr);
    if (pr->wake_fd >= 0)
        close(pr->wake_fd);
    probe_free(pr->core);
    free(pr->queue);
    free(pr->batch);
    free(pr->conns);
    free(pr->pfds);
    free(pr->pfd_conn);
    pthread_mutex_destroy(&pr->mu);
    pthread_mutex_destroy(&pr->qmu);
    free(pr);
}

const char *prober_advertised(const prober_t *pr)
{
    return pr != NULL ? pr->advertised : "";
}

size_t prober_snapshot(prober_t *pr, probe_result_t **out)
{
    *out = NULL;
    if (pr == NULL)
        return 0;
    pthread_mutex_lock(&pr->mu);
    size_t n = probe_count(pr->core);
    probe_result_t *r = n > 0 ? malloc(n * sizeof *r) : NULL;
    size_t k = r != NULL ? probe_results(pr->core, r, n) : 0;
    pthread_mutex_unlock(&pr->mu);
    if (k == 0) {
        free(r);
        return 0;
    }
    *out = r;
    return k;
}

void prober_stats(prober_t *pr, prober_stats_t *out)
{
    memset(out, 0, sizeof *out);
    if (pr == NULL)
        return;
    pthread_mutex_lock(&pr->mu);
    probe_stats(pr->core, &out->core);
    pthread_mutex_unlock(&pr->mu);
    out->accepted = atomic_load(&pr->accepted);
    out->dropped_events = atomic_load(&pr->dropped);
    out->bad_heartbeats = atomic_load(&pr->bad_hb);
}
