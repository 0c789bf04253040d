/* central.c - central's NATS presence and its view of who is sending heartbeats. */
#include "central.h"

#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "codec.h"

static void on_heartbeat(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
    (void)nc;
    (void)sub;
    central_t *c = closure;
    ProtobufCMessage *m = NULL;
    bosun_err_t err;
    if (bosun_codec_decode(&bosun__heartbeat__descriptor, natsMsg_GetData(msg),
                           (size_t)natsMsg_GetDataLength(msg), 0, &m, &err) != BOSUN_OK) {
        log_debug(c->log, "central", "%s: %s", natsMsg_GetSubject(msg), err.msg);
        natsMsg_Destroy(msg);
        return;
    }
    const Bosun__Heartbeat *hb = (const Bosun__Heartbeat *)m;
    char inst[24];
    snprintf(inst, sizeof inst, "%llu", (unsigned long long)hb->instance_id);
    pthread_mutex_lock(&c->mu);
    const char *known = json_string_value(json_object_get(c->instances, hb->node));
    if (known == NULL || strcmp(known, inst) != 0) {
        log_info(c->log, "central", "node %s %s (instance %s, pid %u, %s)", hb->node,
                 known ? "restarted" : "appeared", inst, hb->pid, hb->version);
        json_object_set_new(c->instances, hb->node, json_string(inst));
    }
    pthread_mutex_unlock(&c->mu);
    protobuf_c_message_free_unpacked(m, NULL);
    natsMsg_Destroy(msg);
}

bosun_status_t central_new(const bosun_central_config_t *cfg, const bosun_log_t *log,
                           central_t **out, bosun_err_t *err)
{
    central_t *c = calloc(1, sizeof *c);
    if (c == NULL || (c->instances = json_object()) == NULL) {
        free(c);
        return BOSUN_ERR_NOMEM;
    }
    c->cfg = cfg;
    c->log = log;
    pthread_mutex_init(&c->mu, NULL);
    char name[128];
    snprintf(name, sizeof name, "bosun-central %s", cfg->id);
    bosun_nats_opts_t opts = {.client_name = name, .no_echo = true};
    bosun_status_t rc = bosun_nats_open(&cfg->nats, &opts, log, &c->nats, err);
    if (rc == BOSUN_OK) {
        natsStatus s = natsConnection_Subscribe(&c->heartbeat_sub, bosun_nats_conn(c->nats),
                                                "*.event.heartbeat", on_heartbeat, c);
        if (s != NATS_OK)
            rc = bosun_nats_err(s, "natsConnection_Subscribe", err);
    }
    if (rc != BOSUN_OK) {
        central_free(c);
        return rc;
    }
    *out = c;
    return BOSUN_OK;
}

int central_run(central_t *c, int sigfd)
{
    log_info(c->log, "central", "%s running (data %s)", c->cfg->id, c->cfg->data_dir);
    for (;;) {
        struct pollfd pf = {.fd = sigfd, .events = POLLIN};
        if (poll(&pf, 1, -1) <= 0)
            continue;
        struct signalfd_siginfo si;
        if (read(sigfd, &si, sizeof si) == (ssize_t)sizeof si &&
            (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)) {
            log_info(c->log, "central", "%s received; stopping", strsignal((int)si.ssi_signo));
            break;
        }
    }
    return 0;
}

void central_free(central_t *c)
{
    if (c == NULL)
        return;
    if (c->heartbeat_sub != NULL) {
        natsSubscription_Unsubscribe(c->heartbeat_sub);
        natsSubscription_Destroy(c->heartbeat_sub);
    }
    bosun_nats_close(c->nats, 1000);
    json_decref(c->instances);
    pthread_mutex_destroy(&c->mu);
    free(c);
}
