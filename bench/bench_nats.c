/* bench_nats.c - a connection and time-sync answers for the fleet benchmarks. */
#include "bench_nats.h"

#include <stdint.h>

#include "bench_util.h"
#include "bosun.pb-c.h"

natsConnection *bench_nats_connect(const char *url, bool send_asap)
{
    natsOptions *o = NULL;
    natsConnection *nc = NULL;
    if (natsOptions_Create(&o) != NATS_OK)
        return NULL;
    natsOptions_SetURL(o, url);
    natsOptions_SetSendAsap(o, send_asap);
    natsOptions_SetMaxReconnect(o, 0);
    if (natsConnection_Connect(&nc, o) != NATS_OK)
        nc = NULL;
    natsOptions_Destroy(o);
    return nc;
}

void bench_answer_ping(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
    (void)sub;
    atomic_uint_fast64_t *answered = closure;
    uint64_t recv = bench_wall_us();
    const char *reply = natsMsg_GetReply(msg);
    Bosun__Command *cmd = bosun__command__unpack(NULL, (size_t)natsMsg_GetDataLength(msg),
                                                 (const uint8_t *)natsMsg_GetData(msg));
    if (cmd != NULL && reply != NULL) {
        Bosun__Ack ack = BOSUN__ACK__INIT;
        ack.id = cmd->id;
        ack.node = cmd->node;
        ack.method = "ping";
        ack.status = BOSUN__ACK_STATUS__ACK_STATUS_OK;
        ack.recv_time_us = recv;
        ack.start_ms = ack.end_ms = recv / 1000;
        ack.reply_time_us = bench_wall_us();
        uint8_t buf[512];
        if (bosun__ack__get_packed_size(&ack) <= sizeof buf) {
            size_t len = bosun__ack__pack(&ack, buf);
            natsConnection_Publish(nc, reply, buf, (int)len);
            if (answered != NULL)
                atomic_fetch_add(answered, 1);
        }
    }
    if (cmd != NULL)
        bosun__command__free_unpacked(cmd, NULL);
    natsMsg_Destroy(msg);
}
