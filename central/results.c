/* results.c - the message log, the rejects file and central.event.result. */
#include "results.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"

static FILE *open_append(const char *dir, const char *name, bosun_err_t *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "ae");
    if (f == NULL)
        bosun_errf(err, BOSUN_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    return f;
}

bosun_status_t results_open(results_t *r, const char *dir, bosun_err_t *err)
{
    r->log = open_append(dir, "messages.ndjson", err);
    r->rejects = r->log ? open_append(dir, "inmsg.rejects.ndjson", err) : NULL;
    if (r->rejects == NULL) {
        results_close(r);
        return BOSUN_ERR_IO;
    }
    return BOSUN_OK;
}

void results_close(results_t *r)
{
    if (r->log)
        fclose(r->log);
    if (r->rejects)
        fclose(r->rejects);
    r->log = r->rejects = NULL;
}

void results_build(const message_t *m, const char *sender, Bosun__AckStatus status,
                   const Bosun__Ack *ack, const char *error, uint64_t finished_ms,
                   Bosun__Command *cmd, Bosun__Result *res)
{
    message_to_command(m, sender, m->attempts, cmd);
    cmd->kind = m->is_event ? BOSUN__MESSAGE_KIND__MESSAGE_KIND_EVENT : BOSUN__MESSAGE_KIND__MESSAGE_KIND_COMMAND;
    res->message = cmd;
    res->status = status;
    res->ack = (Bosun__Ack *)ack;
    res->attempts = m->attempts;
    res->accepted_ms = m->accepted_ms;
    res->finished_ms = finished_ms;
    res->error = (char *)(error ? error : "");
}

static bosun_status_t write_line(FILE *f, json_t *obj)
{
    if (obj == NULL)
        return BOSUN_ERR_NOMEM;
    char *line = json_dumps(obj, JSON_COMPACT);
    json_decref(obj);
    if (line == NULL)
        return BOSUN_ERR_NOMEM;
    int rc = fprintf(f, "%s\n", line);
    free(line);
    if (rc < 0 || fflush(f) != 0)
        return BOSUN_ERR_IO;
    return BOSUN_OK;
}

bosun_status_t results_log(results_t *r, const Bosun__Result *res)
{
    return write_line(r->log, bosun_codec_to_json(&res->base));
}

bosun_status_t results_reject(results_t *r, const inbox_reject_t *rej, uint64_t now_ms)
{
    json_t *obj = json_object();
    json_t *text = json_string(rej->text ? rej->text : "");
    if (text == NULL) /* the drop was not UTF-8: keep its bytes readable */
        text = json_string("(not valid UTF-8; see the reason)");
    json_object_set_new(obj, "time_ms", json_integer((json_int_t)now_ms));
    json_object_set_new(obj, "reason", json_string(rej->reason ? rej->reason : ""));
    json_object_set_new(obj, "text", text);
    return write_line(r->rejects, obj);
}

void results_publish(bosun_nats_t *nats, const Bosun__Result *res)
{
    if (nats == NULL)
        return;
    uint8_t *buf = NULL;
    size_t len = 0;
    if (bosun_codec_encode(&res->base, &buf, &len) != BOSUN_OK)
        return;
    natsConnection_Publish(bosun_nats_conn(nats), "central.event.result", buf, (int)len);
    free(buf);
}
