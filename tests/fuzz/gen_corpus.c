/*
 * gen_corpus.c - writes the binary seed inputs of tests/fuzz/corpus/.
 *
 *   gen_corpus DIR     writes DIR/<target>/<name> for the protobuf targets
 *
 * The seeds are valid messages built with the real encoders, so the fuzzer
 * starts from inputs that reach past the decoders. The text seeds (inmsg,
 * config) are checked in by hand. Run it again after a proto change and
 * commit what changed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "codec.h"
#include "seal.h"

#define SEAL_PASSWORD "bosun fuzz password" /* as in fuzz_election_sealed.c */
#define WALL0 1800000000000ull              /* as in fuzz_election_packet.c */

static const char *root;

static void die(const char *what)
{
    fprintf(stderr, "gen_corpus: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void put(const char *target, const char *name, const void *head, size_t hlen, const void *data,
                size_t len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", root, target);
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        die(path);
    snprintf(path, sizeof path, "%s/%s/%s", root, target, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL || (hlen > 0 && fwrite(head, 1, hlen, f) != hlen) ||
        (len > 0 && fwrite(data, 1, len, f) != len) || fclose(f) != 0)
        die(path);
}

/* Packs msg and writes it as target/name (and, with a subject, as a subject_json seed). */
static void put_msg(const char *target, const char *name, const ProtobufCMessage *msg, const char *subject)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    if (bosun_codec_encode(msg, &buf, &len) != BOSUN_OK)
        die("encode");
    if (target != NULL)
        put(target, name, NULL, 0, buf, len);
    if (subject != NULL) {
        char head[256];
        int n = snprintf(head, sizeof head, "%s\n", subject);
        put("fuzz_subject_json", name, head, (size_t)n, buf, len);
    }
    free(buf);
}

static void commands(void)
{
    static char *data[] = {"echo", "hello world"};
    Bosun__Command c = BOSUN__COMMAND__INIT;
    c.id = "01HZX3K2M8Q4T6V8W0Y2A4C6E8";
    c.node = "web-01";
    c.method = "shellCommand";
    c.data = data;
    c.n_data = 2;
    c.created_ms = WALL0;
    c.ttl_ms = 86400000;
    c.method_timeout_ms = 60000;
    c.sender = "central-1";
    c.attempt = 1;
    static uint8_t sig[64], key[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    memset(sig, 0xa5, sizeof sig);
    c.signature = (ProtobufCBinaryData){sizeof sig, sig};
    c.key_id = (ProtobufCBinaryData){sizeof key, key};
    put_msg("fuzz_command", "shell", &c.base, "web-01.command.shellCommand");

    Bosun__Command p = BOSUN__COMMAND__INIT;
    p.id = "01HZX3K2M8Q4T6V8W0Y2A4C6E9";
    p.node = "web-01";
    p.method = "ping";
    p.attempt = 3;
    put_msg("fuzz_command", "ping", &p.base, "web-01.command.ping");

    Bosun__Result r = BOSUN__RESULT__INIT;
    Bosun__Ack ack = BOSUN__ACK__INIT;
    ack.id = p.id;
    ack.status = BOSUN__ACK_STATUS__ACK_STATUS_OK;
    r.message = &p;
    r.ack = &ack;
    r.status = BOSUN__ACK_STATUS__ACK_STATUS_OK;
    r.attempts = 1;
    put_msg(NULL, "result", &r.base, "central.event.result");
}

static void acks(void)
{
    Bosun__Ack a = BOSUN__ACK__INIT;
    a.id = "01HZX3K2M8Q4T6V8W0Y2A4C6E8";
    a.node = "web-01";
    a.method = "shellCommand";
    a.status = BOSUN__ACK_STATUS__ACK_STATUS_OK;
    a.stdout = (ProtobufCBinaryData){12, (uint8_t *)"hello world\n"};
    a.start_ms = WALL0;
    a.end_ms = WALL0 + 7;
    a.recv_time_us = WALL0 * 1000;
    a.reply_time_us = WALL0 * 1000 + 7100;
    a.instance_id = 0x1234567890abcdefull;
    put_msg("fuzz_ack", "ok", &a.base, "_INBOX.abc.def");

    static uint8_t junk[] = {0xff, 0xfe, 0x00, 0xc3, 0x28, 'x'};
    Bosun__Ack f = BOSUN__ACK__INIT;
    f.id = "01HZX3K2M8Q4T6V8W0Y2A4C6E9";
    f.node = "web-01";
    f.method = "shellCommand";
    f.status = BOSUN__ACK_STATUS__ACK_STATUS_FAILED;
    f.exit_code = -1;
    f.term_signal = 9;
    f.stderr = (ProtobufCBinaryData){sizeof junk, junk};
    f.stderr_truncated = 1;
    f.error = "killed after methodTimeout";
    put_msg("fuzz_ack", "failed", &f.base, NULL);

    Bosun__Ack rj = BOSUN__ACK__INIT;
    rj.id = "x";
    rj.status = BOSUN__ACK_STATUS__ACK_STATUS_REJECTED;
    rj.error = "method 'rm' is not on the allow-list";
    put_msg("fuzz_ack", "rejected", &rj.base, NULL);
}

static void heartbeats(void)
{
    Bosun__HostStatus host = BOSUN__HOST_STATUS__INIT;
    host.hostname = "web-01.example.net";
    host.os = "Linux 6.1.0";
    host.cores = 8;
    host.cpu_model = "Xeon";
    host.cpu_usage_percent = 12.5;
    host.load1 = 0.5;
    host.mem_total_bytes = 16ull << 30;
    Bosun__ResourceStatus r1 = BOSUN__RESOURCE_STATUS__INIT, r2 = BOSUN__RESOURCE_STATUS__INIT;
    r1.resource = "vip-web";
    r1.state = BOSUN__RESOURCE_STATE__RESOURCE_STATE_ACTIVE;
    r1.priority = 150;
    r1.owner = "web-01";
    r2.resource = "vip-db";
    r2.state = BOSUN__RESOURCE_STATE__RESOURCE_STATE_IDLE;
    r2.owner = "web-02";
    Bosun__ResourceStatus *rs[] = {&r1, &r2};
    Bosun__AgentCounters cnt = BOSUN__AGENT_COUNTERS__INIT;
    cnt.heartbeats_sent = 100;
    cnt.commands_received = 3;
    Bosun__ProbeResult pr = BOSUN__PROBE_RESULT__INIT;
    pr.target = "nats://127.0.0.1:4222";
    pr.tcp_ok = 1;
    pr.tcp_connect_us = 120;
    Bosun__ProbeResult *prs[] = {&pr};
    Bosun__Heartbeat hb = BOSUN__HEARTBEAT__INIT;
    hb.node = "web-01";
    hb.instance_id = 0x1234567890abcdefull;
    hb.sequence = 42;
    hb.boot_time_ms = WALL0 - 60000;
    hb.send_time_ms = WALL0;
    hb.pid = 4242;
    hb.version = "0.1.0";
    hb.host = &host;
    hb.resources = rs;
    hb.n_resources = 2;
    hb.counters = &cnt;
    hb.probes = prs;
    hb.n_probes = 1;
    hb.interval_ms = 500;
    put_msg("fuzz_heartbeat", "full", &hb.base, "web-01.event.heartbeat");

    Bosun__Heartbeat small = BOSUN__HEARTBEAT__INIT;
    small.node = "db-7";
    small.instance_id = 7;
    small.sequence = 1;
    small.send_time_ms = WALL0;
    put_msg("fuzz_heartbeat", "small", &small.base, NULL);

    Bosun__StateChange sc = BOSUN__STATE_CHANGE__INIT;
    sc.node = "web-01";
    sc.resource = "vip-web";
    sc.from = BOSUN__RESOURCE_STATE__RESOURCE_STATE_GOING_ACTIVE;
    sc.to = BOSUN__RESOURCE_STATE__RESOURCE_STATE_ACTIVE;
    sc.reason = "transitionWait passed";
    put_msg(NULL, "state", &sc.base, "web-01.event.state");

    Bosun__NodeStatus ns = BOSUN__NODE_STATUS__INIT;
    ns.node = "web-01";
    ns.status = BOSUN__NODE_LIVENESS__NODE_LIVENESS_DEAD;
    ns.clock_offset_us = -1500;
    put_msg(NULL, "nodestatus", &ns.base, "central.event.nodeStatus");
}

static void events(void)
{
    static char *data[] = {"vip-web", "{\"k\": 1}"};
    Bosun__Event ev = BOSUN__EVENT__INIT;
    ev.id = "01HZX3K2M8Q4T6V8W0Y2A4C6EA";
    ev.from = "central-1";
    ev.node = "web-01";
    ev.method = "configChanged";
    ev.data = data;
    ev.n_data = 2;
    ev.time_ms = WALL0;
    put_msg("fuzz_event", "event", &ev.base, "web-01.event.configChanged");
}

/* An ElectionPacket from `sender` bidding on res01 (and res02). */
static void election_packet(Bosun__ElectionPacket *p, Bosun__Bid *b, Bosun__Bid **bids, const char *sender,
                            uint64_t seq, uint64_t t_ms, Bosun__ResourceState st, uint32_t prio)
{
    bosun__election_packet__init(p);
    for (int i = 0; i < 2; i++) {
        bosun__bid__init(&b[i]);
        b[i].resource = i == 0 ? "res01" : "res02";
        b[i].state = st;
        b[i].priority = prio;
        b[i].token = 1500000 + (uint64_t)i;
        b[i].preempt = i == 1;
        bids[i] = &b[i];
    }
    p->sender = (char *)sender;
    p->instance_id = 0x5eed;
    p->sequence = seq;
    p->send_time_ms = WALL0 + t_ms;
    p->bids = bids;
    p->n_bids = 2;
    p->tx_interval_ms = 1000;
}

static void elections(void)
{
    bosun_err_t err;
    seal_t *keyed = NULL, *clear = NULL;
    if (seal_new(SEAL_PASSWORD, &keyed, &err) != BOSUN_OK || seal_new(NULL, &clear, &err) != BOSUN_OK)
        die("seal_new");
    Bosun__ElectionPacket p;
    Bosun__Bid b[2];
    Bosun__Bid *bids[2];
    uint8_t buf[SEAL_MAX_DATAGRAM];
    size_t len = 0;

    election_packet(&p, b, bids, "node02", 1, 0, BOSUN__RESOURCE_STATE__RESOURCE_STATE_ACTIVE, 120);
    if (seal_packet(keyed, &p, buf, sizeof buf, &len) != BOSUN_OK)
        die("seal_packet");
    put("fuzz_election_sealed", "keyed", NULL, 0, buf, len);
    if (seal_packet(clear, &p, buf, sizeof buf, &len) != BOSUN_OK)
        die("seal_packet");
    put("fuzz_election_sealed", "clear", NULL, 0, buf, len);
    put_msg(NULL, "bid", &p.base, "node02.event.bid");
    p.bids[0]->query = 1;
    p.bids[0]->state = BOSUN__RESOURCE_STATE__RESOURCE_STATE_IDLE;
    p.n_bids = 1;
    if (seal_packet(keyed, &p, buf, sizeof buf, &len) != BOSUN_OK)
        die("seal_packet");
    put("fuzz_election_sealed", "query", NULL, 0, buf, len);

    /* Records for fuzz_election_packet: u8 step (x 50 ms), u16 length, packet. */
    static const struct {
        const char *sender;
        int state;
        uint32_t prio;
        uint8_t step;
    } script[] = {
        {"node02", BOSUN__RESOURCE_STATE__RESOURCE_STATE_ACTIVE, 120, 2},
        {"node02", BOSUN__RESOURCE_STATE__RESOURCE_STATE_ACTIVE, 120, 20},
        {"node03", BOSUN__RESOURCE_STATE__RESOURCE_STATE_GOING_ACTIVE, 200, 20},
        {"node02", BOSUN__RESOURCE_STATE__RESOURCE_STATE_IDLE, 120, 20},
        {"node03", BOSUN__RESOURCE_STATE__RESOURCE_STATE_ACTIVE, 200, 80},
    };
    uint8_t seq_buf[8192];
    size_t off = 0;
    uint64_t t = 0;
    for (size_t i = 0; i < sizeof script / sizeof script[0]; i++) {
        t += script[i].step * 50u;
        election_packet(&p, b, bids, script[i].sender, i + 1, t, (Bosun__ResourceState)script[i].state,
                        script[i].prio);
        if (script[i].state == BOSUN__RESOURCE_STATE__RESOURCE_STATE_IDLE)
            b[0].release = b[1].release = 1;
        size_t n = bosun__election_packet__get_packed_size(&p);
        seq_buf[off] = script[i].step;
        seq_buf[off + 1] = (uint8_t)(n >> 8);
        seq_buf[off + 2] = (uint8_t)n;
        bosun__election_packet__pack(&p, seq_buf + off + 3);
        off += 3 + n;
        if (i == 0)
            put("fuzz_election_packet", "one", NULL, 0, seq_buf, off);
    }
    put("fuzz_election_packet", "takeover", NULL, 0, seq_buf, off);
    /* Silence: the node's own detection window runs out and it claims. */
    static const uint8_t quiet[] = {200, 0, 0, 200, 0, 0, 200, 0, 0};
    put("fuzz_election_packet", "quiet", NULL, 0, quiet, sizeof quiet);
    seal_free(keyed);
    seal_free(clear);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: gen_corpus DIR\n");
        return 2;
    }
    root = argv[1];
    if (mkdir(root, 0755) != 0 && errno != EEXIST)
        die(root);
    commands();
    acks();
    heartbeats();
    events();
    elections();
    put("fuzz_subject_json", "unknown", NULL, 0, "foo.bar\nnot protobuf", 20);
    return 0;
}
