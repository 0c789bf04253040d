/* central.c - central's loop: inbox -> store -> outbox -> NATS -> results. */
#include "central.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "clock.h"
#include "rng.h"
#include "codec.h"
#include "files.h"

#define TICK_MS 1000u


/* ---- the delivery pipeline ---------------------------------------------------------- */

static void resume(void *arg, message_t *m)
{
    central_t *c = arg;
    if (outbox_add(c->outbox, m) != BOSUN_OK) {
        log_error(c->log, "central", "%s: out of memory queueing it; it resumes at the next start", m->id);
        message_free(m);
    }
}

/* Reads new drops, accepts them in one transaction, queues them. */
static void take_inbox(central_t *c)
{
    for (int round = 0; round < 64; round++) {
        inbox_batch_t b;
        inbox_position_t pos;
        bool more = false;
        bosun_err_t err = {0};
        inbox_batch_init(&b);
        uint64_t now = bosun_wall_ms();
        if (inbox_read(c->inbox, now, &b, &pos, &more, &err) != BOSUN_OK) {
            log_error(c->log, "inbox", "%s", err.msg);
            inbox_batch_free(&b);
            return;
        }
        if (b.n_messages == 0 && b.n_rejects == 0 && b.consumed == 0) {
            inbox_batch_free(&b);
            return;
        }
        if (store_accept(c->store, b.messages, b.n_messages, b.rejects, b.n_rejects, &pos, now, &err) !=
            BOSUN_OK) {
            /* Not accepted: the same drops are offered again next time. */
            log_error(c->log, "inbox", "cannot accept %zu messages: %s", b.n_messages, err.msg);
            inbox_batch_free(&b);
            return;
        }
        inbox_committed(c->inbox, &pos);
        msgstats_accepted(c->msgstats, b.n_messages);
        for (size_t i = 0; i < b.n_rejects; i++) {
            log_warn(c->log, "inbox", "rejected: %s", b.rejects[i].reason);
            results_reject(&c->results, &b.rejects[i], now);
        }
        for (size_t i = 0; i < b.n_messages; i++) {
            message_t *m = b.messages[i];
            log_debug(c->log, "inbox", "accepted %s: %s %s to %s", m->id, m->is_event ? "event" : "command",
                      m->method, m->node);
            b.messages[i] = NULL;
            resume(c, m);
        }
        if (b.n_messages > 0)
            log_info(c->log, "inbox", "accepted %zu messages%s", b.n_messages,
                     b.n_rejects ? " (some rejected; see inmsg.rejects.ndjson)" : "");
        inbox_batch_free(&b);
        if (!more)
            return;
    }
}

/* Writes, commits and announces what the outbox finished. */
static void settle(central_t *c, uint64_t now)
{
    outbox_actions_t *a = &c->act;
    for (size_t i = 0; i < a->n_sends; i++) {
        message_t *m = a->sends[i];
        if (dispatch_send(c->dispatch, m) != BOSUN_OK)
            log_debug(c->log, "dispatch", "%s: attempt %u not sent now; it will be retried", m->id,
                      m->attempts);
        store_attempt(c->store, m, now, "sent");
    }
    for (size_t i = 0; i < a->n_finals; i++) {
        outbox_final_t *f = &a->finals[i];
        Bosun__Command cmd = BOSUN__COMMAND__INIT;
        Bosun__Result res = BOSUN__RESULT__INIT;
        results_build(f->m, c->cfg->id, f->status, f->ack, f->error, now, &cmd, &res);
        store_finish(c->store, f->m, f->status, f->ack, f->error, now);
        msgstats_finished(c->msgstats, (int)f->status, now > f->m->accepted_ms ? now - f->m->accepted_ms : 0);
        if (results_log(&c->results, &res) != BOSUN_OK)
            log_error(c->log, "results", "cannot append to messages.ndjson: %s", strerror(errno));
    }
    bosun_err_t err = {0};
    if (store_flush(c->store, &err) != BOSUN_OK)
        log_error(c->log, "store", "%s", err.msg);
    for (size_t i = 0; i < a->n_finals; i++) {
        outbox_final_t *f = &a->finals[i];
        Bosun__Command cmd = BOSUN__COMMAND__INIT;
        Bosun__Result res = BOSUN__RESULT__INIT;
        results_build(f->m, c->cfg->id, f->status, f->ack, f->error, now, &cmd, &res);
        results_publish(c->nats, &res);
        log_info(c->log, "dispatch", "%s %s %s on %s: %s after %u attempts%s%s", f->m->id,
                 f->m->is_event ? "event" : "command", f->m->method, f->m->node,
                 bosun_codec_enum_name(&bosun__ack_status__descriptor, f->status), f->m->attempts,
                 f->error[0] ? ": " : "", f->error);
        message_free(f->m);
    }
    msgstats_set_retried(c->msgstats, outbox_retries(c->outbox));
    outbox_actions_clear(a);
}

#define ANSWER_BATCH 256

/*
 * Applies waiting answers in batches and settles each batch with one store
 * commit (one fsync per batch, not per message; an unflushed result lost in
 * a crash is only asked for again). The decoded Acks are borrowed by the
 * finals until settle() has run.
 */
static void take_answers(central_t *c)
{
    for (int round = 0; round < 40; round++) {
        ProtobufCMessage *acks[ANSWER_BATCH];
        size_t n = 0;
        dispatch_answer_t ans;
        while (n < ANSWER_BATCH && dispatch_take(c->dispatch, &ans)) {
            ProtobufCMessage *ack = NULL;
            bosun_err_t err;
            if (!ans.no_responders &&
                bosun_codec_decode(&bosun__ack__descriptor, ans.data, ans.len, 0, &ack, &err) != BOSUN_OK)
                log_warn(c->log, "dispatch", "answer from %s for seq %llu: %s", ans.node,
                         (unsigned long long)ans.seq, err.msg);
            else
                outbox_on_answer(c->outbox, ans.node, ans.seq, ans.attempt, (const Bosun__Ack *)ack,
                                 ans.no_responders, bosun_wall_ms(), &c->act);
            free(ans.data);
            acks[n++] = ack;
        }
        if (n == 0)
            return;
        /* Next messages of the answered nodes go out in the same turn. */
        outbox_due(c->outbox, bosun_wall_ms(), &c->act);
        settle(c, bosun_wall_ms());
        for (size_t i = 0; i < n; i++)
            if (acks[i] != NULL)
                protobuf_c_message_free_unpacked(acks[i], NULL);
        if (n < ANSWER_BATCH)
            return;
    }
}

/* ---- life --------------------------------------------------------------------------- */

/* The store's message counts, once, for /metrics (msgstats.h keeps them from here on). */
static bosun_status_t count_messages(central_t *c, bosun_err_t *err)
{
    store_counts_t sc;
    _Static_assert(sizeof sc.by_status / sizeof sc.by_status[0] == MSGSTATS_STATUSES, "same status range");
    if (store_counts(c->store, &sc) != BOSUN_OK)
        return bosun_errf(err, BOSUN_ERR_DB, "store: cannot count the messages in central.db");
    msgstats_set_counts(c->msgstats, sc.accepted, sc.pending, sc.by_status);
    return BOSUN_OK;
}

/* Loads signing.keyFile (default <dataDir>/central.key), creating it on first start. */
static bosun_status_t open_signing_key(central_t *c, bosun_err_t *err)
{
    char *sk_path, *pk_path;
    bool created = false;
    bosun_status_t rc = sign_key_paths(c->cfg->signing.key_file, c->cfg->data_dir, &sk_path, &pk_path);
    if (rc == BOSUN_OK)
        rc = sign_key_open(sk_path, pk_path, &c->sign_key, &created, err);
    if (rc == BOSUN_OK) {
        char pub[SIGN_PK_B64_LEN];
        sign_pubkey_b64(&c->sign_key->pub, pub);
        log_info(c->log, "central", "%s signing key %s; public key %s (in %s: put it in each agent's "
                 "security.trustedKeys)", created ? "created" : "loaded", sk_path, pub, pk_path);
    }
    free(sk_path);
    free(pk_path);
    return rc;
}

bosun_status_t central_new(const bosun_central_config_t *cfg, const bosun_log_t *log,
                           central_t **out, bosun_err_t *err)
{
    if (sodium_init() < 0)
        return bosun_errf(err, BOSUN_ERR_CRYPTO, "libsodium failed to initialise");
    central_t *c = calloc(1, sizeof *c);
    if (c == NULL)
        return BOSUN_ERR_NOMEM;
    c->cfg = cfg;
    c->dir_lock = -1;
    c->log = log;
    outbox_actions_init(&c->act);
    bosun_rng_seed(&c->rng);

    bosun_status_t rc;
    inbox_position_t pos;
    if ((rc = bosun_mkdirs(cfg->data_dir, 0750, err)) != BOSUN_OK ||
        (rc = bosun_dir_lock(cfg->data_dir, "bosun-central", &c->dir_lock, err)) != BOSUN_OK ||
        (rc = store_open(cfg->data_dir, &c->store, err)) != BOSUN_OK ||
        (rc = results_open(&c->results, cfg->data_dir, err)) != BOSUN_OK ||
        (rc = outbox_new(bosun_rng_next, &c->rng, &c->outbox)) != BOSUN_OK ||
        (rc = msgstats_new(&c->msgstats)) != BOSUN_OK || (rc = count_messages(c, err)) != BOSUN_OK ||
        (rc = store_inbox_position(c->store, &pos)) != BOSUN_OK)
        goto fail;
    if ((c->inbox_path = bosun_path_join(cfg->data_dir, "inmsg.txt")) == NULL) {
        rc = BOSUN_ERR_NOMEM;
        goto fail;
    }
    if ((rc = inbox_open(c->inbox_path, &pos, &cfg->delivery, &c->inbox, err)) != BOSUN_OK)
        goto fail;
    if ((rc = store_load_pending(c->store, resume, c, err)) != BOSUN_OK)
        goto fail;
    if (outbox_pending(c->outbox) > 0)
        log_info(log, "central", "resuming %zu pending messages for %zu nodes, in accept order",
                 outbox_pending(c->outbox), outbox_nodes(c->outbox));

    char name[128];
    snprintf(name, sizeof name, "bosun-central %s", cfg->id);
    bosun_nats_opts_t opts = {.client_name = name, .no_echo = true};
    if ((rc = bosun_nats_open(&cfg->nats, &opts, log, &c->nats, err)) != BOSUN_OK ||
        (rc = open_signing_key(c, err)) != BOSUN_OK ||
        (rc = dispatch_new(c->nats, cfg->id, c->sign_key, log, &c->dispatch, err)) != BOSUN_OK)
        goto fail;
    if ((rc = fleetview_new(cfg, c->nats, log, &c->fleetview, err)) != BOSUN_OK)
        goto fail;
    if (cfg->recorder.enabled) {
        char rec_name[160];
        snprintf(rec_name, sizeof rec_name, "bosun-central %s recorder", cfg->id);
        if ((rc = recorder_new(&cfg->recorder, cfg->data_dir, log, &c->recorder, err)) != BOSUN_OK ||
            (rc = recorder_subscribe(c->recorder, &cfg->nats, rec_name, err)) != BOSUN_OK)
            goto fail;
    }
    http_sources_t hs = {.data_dir = cfg->data_dir, .nats = c->nats, .fleetview = c->fleetview,
                         .recorder = c->recorder, .msgstats = c->msgstats};
    bosun_err_t herr = {0};
    /* An address in use is not worth refusing to deliver commands for: logged, and /health is down. */
    if (http_new(cfg->http.listen, &hs, log, &c->http, &herr) != BOSUN_OK)
        log_error(log, "http", "%s; serving no HTTP", herr.msg);
    *out = c;
    return BOSUN_OK;
fail:
    central_free(c);
    return rc;
}

int central_run(central_t *c, int sigfd)
{
    log_info(c->log, "central", "%s running: inbox %s, data %s", c->cfg->id, c->inbox_path,
             c->cfg->data_dir);
    uint64_t next_tick = 0, next_fleet_check = 0;
    for (;;) {
        uint64_t now = bosun_wall_ms();
        uint64_t due = outbox_next_deadline(c->outbox);
        uint64_t wake = next_tick < due ? next_tick : due;
        int timeout = wake <= now ? 0 : (wake - now > TICK_MS ? (int)TICK_MS : (int)(wake - now));
        uint64_t mono = bosun_mono_ms(); /* the fleet's timers run on the monotonic clock */
        if (next_fleet_check <= mono)
            timeout = 0;
        else if (next_fleet_check - mono < (uint64_t)timeout)
            timeout = (int)(next_fleet_check - mono);
        struct pollfd pf[4] = {
            {.fd = sigfd, .events = POLLIN},
            {.fd = inbox_fd(c->inbox), .events = POLLIN},
            {.fd = dispatch_fd(c->dispatch), .events = POLLIN},
            {.fd = fleetview_fd(c->fleetview), .events = POLLIN},
        };
        int n = poll(pf, 4, timeout);
        if (n < 0 && errno != EINTR)
            bosun_sleep_ms(10);
        if (n > 0 && (pf[0].revents & POLLIN)) {
            struct signalfd_siginfo si;
            if (read(sigfd, &si, sizeof si) == (ssize_t)sizeof si &&
                (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)) {
                log_info(c->log, "central", "%s received; stopping", strsignal((int)si.ssi_signo));
                break;
            }
        }
        if (n > 0 && (pf[1].revents & POLLIN))
            take_inbox(c);
        if (n > 0 && (pf[2].revents & POLLIN))
            take_answers(c);
        if (n > 0 && (pf[3].revents & POLLIN))
            fleetview_take(c->fleetview);
        if (bosun_mono_ms() >= next_fleet_check)
            next_fleet_check = fleetview_check(c->fleetview);
        now = bosun_wall_ms();
        if (now >= next_tick) {
            inbox_position_t pos;
            bool changed = false;
            bosun_err_t err = {0};
            take_inbox(c); /* also picks up a tail left waiting */
            if (inbox_tick(c->inbox, now, &pos, &changed, &err) != BOSUN_OK)
                log_error(c->log, "inbox", "%s", err.msg);
            else if (changed && store_save_position(c->store, &pos, &err) == BOSUN_OK)
                inbox_committed(c->inbox, &pos);
            next_tick = now + TICK_MS;
        }
        outbox_due(c->outbox, now, &c->act);
        settle(c, now);
    }
    return 0;
}

void central_free(central_t *c)
{
    if (c == NULL)
        return;
    http_free(c->http); /* before all it reads: the fleet view, recorder, NATS link */
    recorder_free(c->recorder); /* first: drains, writes and compresses all it received */
    fleetview_free(c->fleetview);
    dispatch_free(c->dispatch);
    sign_key_free(c->sign_key);
    bosun_nats_close(c->nats, 1000);
    if (c->store != NULL) {
        bosun_err_t err;
        store_flush(c->store, &err);
    }
    outbox_free(c->outbox);
    outbox_actions_free(&c->act);
    msgstats_free(c->msgstats);
    inbox_close(c->inbox);
    store_close(c->store);
    results_close(&c->results);
    free(c->inbox_path);
    if (c->dir_lock >= 0)
        close(c->dir_lock); /* last: the directory is ours until everything in it is closed */
    free(c);
}
