/* client.c - test-side NATS requests and heartbeats. */
#include "client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

natsConnection *client_connect(const char *url)
{
    natsOptions *o = NULL;
    natsConnection *nc = NULL;
    if (natsOptions_Create(&o) != NATS_OK)
        return NULL;
    natsOptions_SetURL(o, url);
    natsOptions_SetSendAsap(o, true);
    natsOptions_SetMaxReconnect(o, -1);
    natsOptions_SetReconnectWait(o, 100);
    for (int i = 0; i < 50 && nc == NULL; i++)
        if (natsConnection_Connect(&nc, o) != NATS_OK)
            usleep(100000);
    natsOptions_Destroy(o);
    return nc;
}

Bosun__Ack *client_raw(natsConnection *nc, const char *subject, const void *buf, int len,
                       int timeout_ms)
{
    natsMsg *reply = NULL;
    if (natsConnection_Request(&reply, nc, subject, buf, len, timeout_ms) != NATS_OK)
        return NULL;
    Bosun__Ack *ack = bosun__ack__unpack(NULL, (size_t)natsMsg_GetDataLength(reply),
                                         (const uint8_t *)natsMsg_GetData(reply));
    natsMsg_Destroy(reply);
    return ack;
}

Bosun__Ack *client_send(natsConnection *nc, const char *subject, const Bosun__Command *cmd,
                        int timeout_ms)
{
    size_t len = bosun__command__get_packed_size(cmd);
    uint8_t *buf = malloc(len ? len : 1);
    if (buf == NULL)
        return NULL;
    bosun__command__pack(cmd, buf);
    Bosun__Ack *ack = client_raw(nc, subject, buf, (int)len, timeout_ms);
    free(buf);
    return ack;
}

Bosun__Ack *client_command(natsConnection *nc, const char *node, const char *method, const char *id,
                           const char *const *data, uint64_t method_timeout_ms, int timeout_ms)
{
    Bosun__Command cmd = BOSUN__COMMAND__INIT;
    size_t n = 0;
    while (data != NULL && data[n] != NULL)
        n++;
    cmd.id = (char *)id;
    cmd.node = (char *)node;
    cmd.method = (char *)method;
    cmd.data = (char **)data;
    cmd.n_data = n;
    cmd.created_ms = now_ms();
    cmd.method_timeout_ms = method_timeout_ms;
    cmd.attempt = 1;
    char subject[256];
    snprintf(subject, sizeof subject, "%s.command.%s", node, method);
    return client_send(nc, subject, &cmd, timeout_ms);
}

Bosun__Heartbeat *client_next_heartbeat(natsSubscription *sub, int timeout_ms)
{
    natsMsg *msg = NULL;
    if (natsSubscription_NextMsg(&msg, sub, timeout_ms) != NATS_OK)
        return NULL;
    Bosun__Heartbeat *hb = bosun__heartbeat__unpack(NULL, (size_t)natsMsg_GetDataLength(msg),
                                                    (const uint8_t *)natsMsg_GetData(msg));
    natsMsg_Destroy(msg);
    return hb;
}
