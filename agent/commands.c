/*
 * commands.c - how the agent takes requests from NATS and answers them.
 *
 * Both <node>.command.<method> (payload Command) and <node>.event.<method>
 * (payload Event) arrive here on nats.c's threads. Each message is handled in
 * the fixed order of STYLE.md habit 8: size check, decode, authenticate (the
 * Command's signature, when keys are trusted), validate (including the
 * allow-lists), then act.
 * Acting means: answer at once (ping, rejections, duplicates), run a quick
 * recorded method in place, or queue the work for the pool. Every message
 * with a reply subject gets exactly one Ack; every rejection is counted and
 * logged (rate-limited) with its reason.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "clock.h"
#include "codec.h"
#include "exec.h"
#include "methods.h"
#include "name.h"
#include "security.h"
#include "sign.h"

#define MAX_ID_LEN 128
/* How far a signed command's creation time may lie ahead of our clock. */
#define MAX_CLOCK_SKEW_MS 300000u

/* One request, whichever subject it came on; strings borrowed from the payload. */
typedef struct {
    const char *id;
    const char *method;
    char *const *data;
    size_t n_data;
    uint64_t timeout_ms;
    const char *reply;  /* NULL or "" when nobody waits for the Ack */
    uint64_t recv_us;
    bool is_event;
    /* A command whose ttl ran out: not run if it is new, but a retry of an
     * id the ledger knows is answered from the ledger (dispatch). */
    bool expired;
    uint64_t ttl_ms, overdue_ms;
} request_t;

/* A pooled request: owns its decoded payload, reply subject and method
 * name (req.method points into the NATS subject, which dies with the message). */
typedef struct {
    ProtobufCMessage *payload;
    request_t req;
    char *reply;
    char method[BOSUN_NAME_MAX + 1];
    const method_t *m;
} job_t;

static bool id_valid(const char *id)
{
    size_t n = strlen(id);
    if (n == 0 || n > MAX_ID_LEN)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.' || c == ':'))
            return false;
    }
    return true;
}

static void count_outcome(agent_t *a, Bosun__AckStatus st)
{
    switch (st) {
    case BOSUN__ACK_STATUS__ACK_STATUS_OK:
        atomic_fetch_add(&a->counters.commands_ok, 1);
        break;
    case BOSUN__ACK_STATUS__ACK_STATUS_REJECTED:
    case BOSUN__ACK_STATUS__ACK_STATUS_EXPIRED:
    case BOSUN__ACK_STATUS__ACK_STATUS_BUSY:
        atomic_fetch_add(&a->counters.commands_rejected, 1);
        break;
    case BOSUN__ACK_STATUS__ACK_STATUS_RUNNING:
        break;
    default:
        atomic_fetch_add(&a->counters.commands_failed, 1);
        break;
    }
}

static void publish(agent_t *a, const char *reply, const uint8_t *buf, size_t len)
{
    if (reply == NULL || reply[0] == '\0')
        return;
    natsStatus s = natsConnection_Publish(bosun_nats_conn(a->nats), reply, buf, (int)len);
    if (s != NATS_OK)
        log_warn(a->log, "commands", "cannot send ack to %s: %s", reply, natsStatus_GetText(s));
}

/*
 * Builds the Ack for req from res, records it in the ledger when `record`,
 * and sends it to the reply subject (if any).
 */
static void answer(agent_t *a, const request_t *req, const method_result_t *res, bool record)
{
    Bosun__Ack ack = BOSUN__ACK__INIT;
    ack.id = (char *)(req->id ? req->id : "");
    ack.node = (char *)a->node;
    ack.method = (char *)(req->method ? req->method : "");
    ack.status = res->status;
    ack.exit_code = res->exit_code;
    ack.term_signal = res->term_signal;
    ack.stdout.data = res->exec.out;
    ack.stdout.len = res->exec.out_len;
    ack.stdout_truncated = res->exec.out_truncated;
    ack.stderr.data = res->exec.err;
    ack.stderr.len = res->exec.err_len;
    ack.stderr_truncated = res->exec.err_truncated;
    ack.start_ms = res->start_ms;
    ack.end_ms = res->end_ms;
    ack.error = (char *)res->error;
    ack.recv_time_us = req->recv_us;
    ack.instance_id = a->instance_id;
    ack.reply_time_us = bosun_wall_us();

    uint8_t *buf = NULL;
    size_t len = 0;
    if (bosun_codec_encode(&ack.base, &buf, &len) != BOSUN_OK) {
        log_error(a->log, "commands", "%s: cannot encode ack: out of memory", ack.id);
        return;
    }
    if (record && ledger_finish(a->ledger, req->id, buf, len, bosun_wall_ms()) != BOSUN_OK)
        log_error(a->log, "commands", "%s: cannot record result in the ledger", req->id);
    publish(a, req->reply, buf, len);
    free(buf);
    count_outcome(a, res->status);
}

/* Answers req with a status that ran nothing (rejected, expired, busy...). */
static void refuse(agent_t *a, const request_t *req, Bosun__AckStatus status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void refuse(agent_t *a, const request_t *req, Bosun__AckStatus status, const char *fmt, ...)
{
    method_result_t res = {.status = status};
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(res.error, sizeof res.error, fmt, ap);
    va_end(ap);
    res.start_ms = res.end_ms = bosun_wall_ms();

    uint64_t suppressed = 0;
    if (ratelimit_allow(&a->reject_log, bosun_mono_ms(), &suppressed))
        log_warn(a->log, "commands", "%s %s id=%s refused: %s%s", req->is_event ? "event" : "command",
                 req->method ? req->method : "?", req->id && req->id[0] ? req->id : "-", res.error,
                 suppressed ? " (and more refusals not logged)" : "");
    answer(a, req, &res, false);
}

static void refuse_expired(agent_t *a, const request_t *req)
{
    refuse(a, req, BOSUN__ACK_STATUS__ACK_STATUS_EXPIRED,
           "expired: its ttl of %llu ms ran out %llu ms ago; not run", (unsigned long long)req->ttl_ms,
           (unsigned long long)req->overdue_ms);
}

static void run_method(agent_t *a, const method_t *m, const request_t *req,
                       const atomic_bool *cancel, bool record)
{
    method_call_t call = {
        .agent = a,
        .id = req->id,
        .method = req->method,
        .data = req->data,
        .n_data = req->n_data,
        .timeout_ms = req->timeout_ms,
        .cancel = cancel,
    };
    method_result_t res = {.start_ms = bosun_wall_ms()};
    m->fn(&call, &res);
    if (res.end_ms == 0)
        res.end_ms = bosun_wall_ms();
    if (bosun_log_enabled(a->log, BOSUN_LOG_DEBUG))
        log_debug(a->log, "commands", "%s %s finished: status %d exit %d%s%s", req->method, req->id,
                  res.status, res.exit_code, res.error[0] ? ": " : "", res.error);
    answer(a, req, &res, record);
    method_result_free(&res);
}

/*
 * Acts on a validated request. Takes ownership of payload (freed here, or
 * handed to a pool job).
 */
static void dispatch(agent_t *a, const method_t *m, const request_t *req, ProtobufCMessage *payload)
{
    if (atomic_load(&a->closing)) {
        refuse(a, req, BOSUN__ACK_STATUS__ACK_STATUS_BUSY, "agent is shutting down; retry later");
        goto done;
    }
    if (m->mode == METHOD_INLINE || req->id[0] == '\0') {
        /* Unrecorded: idempotent methods, and events sent without an id. */
        if (req->expired)
            refuse_expired(a, req);
        else
            run_method(a, m, req, NULL, false);
        goto done;
    }

    ledger_claim_t state;
    uint8_t *stored = NULL;
    size_t stored_len = 0;
    bosun_err_t err;
    if (ledger_claim(a->ledger, req->id, req->method, bosun_wall_ms(), &state, &stored, &stored_len,
                     &err) != BOSUN_OK) {
        log_error(a->log, "commands", "%s", err.msg);
        refuse(a, req, BOSUN__ACK_STATUS__ACK_STATUS_BUSY, "agent cannot record the id now; retry later");
        goto done;
    }
    if (state == LEDGER_NEW && req->expired) {
        /* Never seen and too late: not run. A known id falls through to its
         * RUNNING or stored answer, whatever its ttl: it may have run. */
        ledger_forget(a->ledger, req->id);
        refuse_expired(a, req);
        goto done;
    }
    if (state == LEDGER_RUNNING) {
        atomic_fetch_add(&a->counters.commands_duplicate, 1);
        method_result_t res = {.status = BOSUN__ACK_STATUS__ACK_STATUS_RUNNING};
        snprintf(res.error, sizeof res.error, "id %s is still running; ask again for its result",
                 req->id);
        answer(a, req, &res, false);
        goto done;
    }
    if (state == LEDGER_DONE) {
        atomic_fetch_add(&a->counters.commands_duplicate, 1);
        log_debug(a->log, "commands", "%s %s already ran; resending its result", req->method, req->id);
        publish(a, req->reply, stored, stored_len);
        free(stored);
        goto done;
    }

    if (m->mode == METHOD_RECORDED) {
        ledger_started(a->ledger, req->id, 0, 0, bosun_wall_ms());
        run_method(a, m, req, NULL, true);
        goto done;
    }

    job_t *job = calloc(1, sizeof *job);
    char *reply = req->reply && req->reply[0] ? strdup(req->reply) : NULL;
    if (job == NULL || (req->reply && req->reply[0] && reply == NULL)) {
        free(job);
        free(reply);
        ledger_forget(a->ledger, req->id);
        refuse(a, req, BOSUN__ACK_STATUS__ACK_STATUS_BUSY, "agent out of memory; retry later");
        goto done;
    }
    job->payload = payload;
    job->req = *req;
    job->req.reply = reply;
    snprintf(job->method, sizeof job->method, "%s", req->method);
    job->req.method = job->method;
    job->reply = reply;
    job->m = m;
    bosun_status_t st = pool_submit(a->pool, job);
    if (st == BOSUN_OK)
        return; /* the job owns payload now */
    free(job);
    free(reply);
    ledger_forget(a->ledger, req->id);
    if (st == BOSUN_ERR_CLOSED)
        refuse(a, req, BOSUN__ACK_STATUS__ACK_STATUS_BUSY, "agent is shutting down; retry later");
    else
        refuse(a, req, BOSUN__ACK_STATUS__ACK_STATUS_BUSY,
               "agent busy: %zu commands running and %zu queued (maxConcurrent %d, maxQueued %d); "
               "retry later",
               pool_running(a->pool), pool_queued(a->pool), a->cfg->commands.max_concurrent,
               a->cfg->commands.max_queued);
done:
    protobuf_c_message_free_unpacked(payload, NULL);
}

void agent_job_run(void *agent, void *job_arg, const atomic_bool *cancel)
{
    agent_t *a = agent;
    job_t *job = job_arg;
    run_method(a, job->m, &job->req, cancel, true);
    protobuf_c_message_free_unpacked(job->payload, NULL);
    free(job->reply);
    free(job);
}

void agent_job_drop(void *agent, void *job_arg)
{
    agent_t *a = agent;
    job_t *job = job_arg;
    ledger_forget(a->ledger, job->req.id);
    refuse(a, &job->req, BOSUN__ACK_STATUS__ACK_STATUS_BUSY,
           "agent shut down before this started; it did not run; retry later");
    protobuf_c_message_free_unpacked(job->payload, NULL);
    free(job->reply);
    free(job);
}

/*
 * With trusted keys configured, checks cmd's signature and age (lib/sign.h)
 * and answers REJECTED (EXPIRED for a run-out ttl) when they fail. Commands
 * are refused once older than the ledger is sure to remember their ids
 * (resultRetentionSecs, less a clock-skew margin that it also allows into
 * the future), so no replay can outlive the ledger and run twice. ping runs
 * nothing and is answered unsigned (central's time sync sends it). Returns
 * true when cmd may go on.
 */
static bool authentic(agent_t *a, const request_t *req, const Bosun__Command *cmd)
{
    if (a->sec.n_keys == 0 || strcmp(req->method, "ping") == 0)
        return true;
    uint64_t keep = (uint64_t)(a->cfg->commands.result_retention_secs * 1000.0);
    uint64_t skew = keep / 2 < MAX_CLOCK_SKEW_MS ? keep / 2 : MAX_CLOCK_SKEW_MS;
    sign_verdict_t v = sign_verify_command(a->sec.keys, a->sec.n_keys, cmd, bosun_wall_ms(),
                                           keep - skew, skew);
    /* SIGN_EXPIRED is authentic but late: the caller's ttl check refuses it,
     * unless the ledger knows the id (see dispatch). */
    if ((v == SIGN_OK || v == SIGN_EXPIRED) && (cmd->node[0] == '\0' || cmd->method[0] == '\0'))
        refuse(a, req, BOSUN__ACK_STATUS__ACK_STATUS_REJECTED,
               "a signed command must name its node and method in the payload");
    else if (v == SIGN_EXPIRED)
        return true;
    else if (v != SIGN_OK)
        refuse(a, req, BOSUN__ACK_STATUS__ACK_STATUS_REJECTED, "%s", sign_verdict_str(v));
    else
        return true;
    return false;
}

/* The method token of "<node>.<kind>.<method>", or NULL if malformed. */
static const char *subject_method(const agent_t *a, const char *subject, const char *kind)
{
    size_t nl = strlen(a->node), kl = strlen(kind);
    if (strncmp(subject, a->node, nl) != 0 || subject[nl] != '.' ||
        strncmp(subject + nl + 1, kind, kl) != 0 || subject[nl + 1 + kl] != '.')
        return NULL;
    return subject + nl + kl + 2;
}

static void on_message(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure,
                       bool is_event)
{
    (void)nc;
    (void)sub;
    agent_t *a = closure;
    request_t req = {.recv_us = bosun_wall_us(), .is_event = is_event, .id = ""};
    req.reply = natsMsg_GetReply(msg);
    const char *subject = natsMsg_GetSubject(msg);
    int len = natsMsg_GetDataLength(msg);
    ProtobufCMessage *payload = NULL;
    bosun_err_t err;
    const Bosun__AckStatus rejected = BOSUN__ACK_STATUS__ACK_STATUS_REJECTED;

    req.method = subject_method(a, subject, is_event ? "event" : "command");
    if (is_event) {
        atomic_fetch_add(&a->counters.events_received, 1);
        /* Telemetry subjects of this node are not requests to it. */
        if (req.method && (!strcmp(req.method, "heartbeat") || !strcmp(req.method, "bid") ||
                           !strcmp(req.method, "state")))
            goto out;
    } else {
        atomic_fetch_add(&a->counters.commands_received, 1);
    }

    if (req.method == NULL || !bosun_method_valid(req.method)) {
        req.method = NULL;
        refuse(a, &req, rejected, "subject '%.200s' is not <node>.%s.<method> with one method token",
               subject, is_event ? "event" : "command");
        goto out;
    }
    if ((size_t)len > (size_t)a->cfg->commands.max_payload_bytes) {
        refuse(a, &req, rejected, "payload of %d bytes exceeds maxPayloadBytes %d", len,
               a->cfg->commands.max_payload_bytes);
        goto out;
    }
    const ProtobufCMessageDescriptor *type =
        is_event ? &bosun__event__descriptor : &bosun__command__descriptor;
    if (bosun_codec_decode(type, natsMsg_GetData(msg), (size_t)len, 0, &payload, &err) != BOSUN_OK) {
        atomic_fetch_add(&a->counters.malformed_messages, 1);
        refuse(a, &req, rejected, "%s", err.msg);
        goto out;
    }

    const char *target, *named_method;
    if (is_event) {
        const Bosun__Event *ev = (const Bosun__Event *)payload;
        req.id = ev->id;
        req.data = ev->data;
        req.n_data = ev->n_data;
        target = ev->node;
        named_method = ev->method;
    } else {
        const Bosun__Command *cmd = (const Bosun__Command *)payload;
        req.id = cmd->id;
        req.data = cmd->data;
        req.n_data = cmd->n_data;
        req.timeout_ms = cmd->method_timeout_ms;
        target = cmd->node;
        named_method = cmd->method;
        if (!id_valid(cmd->id)) {
            req.id = "";
            refuse(a, &req, rejected, "command id must be 1 to %d of [A-Za-z0-9._:-]", MAX_ID_LEN);
            goto out;
        }
        if (!authentic(a, &req, cmd))
            goto out;
        uint64_t now = bosun_wall_ms();
        if (cmd->ttl_ms > 0 && cmd->created_ms + cmd->ttl_ms < now) {
            req.expired = true;
            req.ttl_ms = cmd->ttl_ms;
            req.overdue_ms = now - cmd->created_ms - cmd->ttl_ms;
        }
    }
    if (req.id[0] != '\0' && !id_valid(req.id)) {
        req.id = "";
        refuse(a, &req, rejected, "message id must be 1 to %d of [A-Za-z0-9._:-]", MAX_ID_LEN);
        goto out;
    }
    if (target[0] != '\0' && strcmp(target, a->node) != 0) {
        refuse(a, &req, rejected, "addressed to node '%.64s', but this is '%s'", target, a->node);
        goto out;
    }
    if (named_method[0] != '\0' && strcmp(named_method, req.method) != 0) {
        refuse(a, &req, rejected, "payload names method '%.64s' but the subject says '%s'",
               named_method, req.method);
        goto out;
    }
    const method_t *m = methods_find(req.method);
    if (m == NULL || !(is_event ? m->event : m->command)) {
        char names[256];
        methods_names(is_event, names, sizeof names);
        refuse(a, &req, rejected, "unknown %s method '%s'; this agent serves: %s",
               is_event ? "event" : "command", req.method, names);
        goto out;
    }
    const bosun_allow_config_t *allow = &a->cfg->security.allow;
    if (!security_method_allowed(allow, req.method)) {
        refuse(a, &req, rejected, "method '%s' is not allowed on this node", req.method);
        goto out;
    }
    if (!is_event && strcmp(req.method, "shellCommand") == 0 &&
        !security_argv_allowed(allow, req.data, req.n_data)) {
        refuse(a, &req, rejected, "argv not allowed by security.allow.shellCommand");
        goto out;
    }
    dispatch(a, m, &req, payload);
    payload = NULL; /* dispatch owns it */
out:
    if (payload != NULL)
        protobuf_c_message_free_unpacked(payload, NULL);
    natsMsg_Destroy(msg);
}

static void on_command(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
    on_message(nc, sub, msg, closure, false);
}

static void on_event(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
    on_message(nc, sub, msg, closure, true);
}

bosun_status_t agent_subscribe(agent_t *a, bosun_err_t *err)
{
    /* Made again on a reopened connection (natsconn.h). A slow command must
     * not make NATS drop requests queued behind it: generous pending limits. */
    char subject[BOSUN_NAME_MAX + 32];
    snprintf(subject, sizeof subject, "%s.command.>", a->node);
    bosun_status_t st = bosun_nats_subscribe(a->nats, subject, on_command, a, 65536,
                                             64 * 1024 * 1024, err);
    if (st != BOSUN_OK)
        return st;
    snprintf(subject, sizeof subject, "%s.event.>", a->node);
    return bosun_nats_subscribe(a->nats, subject, on_event, a, 65536, 64 * 1024 * 1024, err);
}

void agent_unsubscribe(agent_t *a)
{
    /* Both subscriptions have the agent as closure. */
    bosun_nats_unsubscribe(a->nats, a);
}

void agent_recover(agent_t *a)
{
    ledger_orphan_t *orphans = NULL;
    size_t n = 0, forgotten = 0;
    if (ledger_recover(a->ledger, &orphans, &n, &forgotten) != BOSUN_OK) {
        log_error(a->log, "commands", "cannot read the ledger to recover interrupted commands");
        return;
    }
    if (forgotten > 0)
        log_info(a->log, "commands", "%zu queued commands never started before the last stop; "
                                     "they did not run and will run when retried", forgotten);
    for (size_t i = 0; i < n; i++) {
        ledger_orphan_t *o = &orphans[i];
        bool killed = exec_kill_stale_group(o->pgid, o->start_ticks);
        request_t req = {.id = o->id, .method = o->method, .recv_us = o->started_ms * 1000u};
        method_result_t res = {.status = BOSUN__ACK_STATUS__ACK_STATUS_INTERRUPTED,
                               .start_ms = o->started_ms,
                               .end_ms = bosun_wall_ms()};
        snprintf(res.error, sizeof res.error,
                 "the agent stopped while this ran (crash or kill); it is not run again%s",
                 killed ? "; its leftover processes were killed" : "");
        answer(a, &req, &res, true);
        log_warn(a->log, "commands", "%s %s was cut off by the last stop: recorded INTERRUPTED%s",
                 o->method, o->id, killed ? ", leftover process group killed" : "");
    }
    ledger_orphans_free(orphans, n);
}
