/*
 * test_codec.c - lib/codec.c and lib/codec_json.c: every message type through
 * the wire and through JSON, the exact JSON a person sees, hostile payloads,
 * bad JSON, and the subject -> type table.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---- sample messages: every field holds a non-default value ------------------------ */

static const uint8_t cipher_bytes[] = {0xde, 0xad, 0xbe, 0xef, 0xff};
static const uint8_t signature_bytes[] = {0xf0, 0xf1, 0xf2, 0xf3, 0x00, 0x01, 0x02, 0x03};
static const uint8_t stdout_binary[] = {0xff, 0xfe, 'o', 'k', '\n'};

#define BIN(a) ((ProtobufCBinaryData){sizeof(a), (uint8_t *)(a)})
#define TEXT(s) ((ProtobufCBinaryData){sizeof(s) - 1, (uint8_t *)(s)})

/* One instance of every message type, wired together (no heap). */
typedef struct {
    Bosun__HostStatus host;
    Bosun__ResourceStatus res[2];
    Bosun__ResourceStatus *res_p[2];
    Bosun__AgentCounters counters;
    Bosun__ProbeResult probe[2];
    Bosun__ProbeResult *probe_p[2];
    Bosun__Heartbeat hb;
    Bosun__Bid bid[2];
    Bosun__Bid *bid_p[2];
    Bosun__ElectionPacket ep;
    Bosun__SealedPacket sealed;
    Bosun__StateChange sc;
    char *cmd_data[3];
    Bosun__Command cmd;
    char *ev_data[2];
    Bosun__Event ev;
    Bosun__Ack ack;
    Bosun__Result result;
    Bosun__NodeStatus ns;
} sample_t;

static void sample_init(sample_t *s)
{
    memset(s, 0, sizeof *s);
    s->host = (Bosun__HostStatus)BOSUN__HOST_STATUS__INIT;
    s->host.hostname = (char *)"node-1.example";
    s->host.os = (char *)"Linux 6.1";
    s->host.cores = 8;
    s->host.cpu_model = (char *)"Xeon";
    s->host.cpu_usage_percent = 12.5;
    s->host.load1 = 0.75;
    s->host.load5 = 1.25;
    s->host.load15 = 2.5;
    s->host.mem_total_bytes = 17179869184u;
    s->host.mem_available_bytes = 8589934592u;
    s->host.host_boot_time_ms = 1700000000000u;
    s->host.agent_rss_bytes = 4194304;

    const char *res_names[2] = {"vip-1", "vip-2"};
    const char *owners[2] = {"node-1", "node-2"};
    for (int i = 0; i < 2; i++) {
        s->res[i] = (Bosun__ResourceStatus)BOSUN__RESOURCE_STATUS__INIT;
        s->res[i].resource = (char *)res_names[i];
        s->res[i].state = i == 0 ? BOSUN__RESOURCE_STATE__RESOURCE_STATE_ACTIVE
                                 : BOSUN__RESOURCE_STATE__RESOURCE_STATE_GOING_ACTIVE;
        s->res[i].priority = 100u - 50u * (unsigned)i;
        s->res[i].owner = (char *)owners[i];
        s->res[i].since_ms = 1700000001000u + 1000u * (unsigned)i;
        s->res_p[i] = &s->res[i];
    }

    s->counters = (Bosun__AgentCounters)BOSUN__AGENT_COUNTERS__INIT;
    for (unsigned i = 0; i < bosun__agent_counters__descriptor.n_fields; i++) /* 1, 2, ... 18 */
        *(uint64_t *)((char *)&s->counters + bosun__agent_counters__descriptor.fields[i].offset) =
            i + 1u;

    const char *targets[2] = {"node-2", "node-3"};
    const char *errors[2] = {"none", "slow"};
    const char *addrs[2] = {"10.0.0.2:8757", "[fd00::3]:8757"};
    for (int i = 0; i < 2; i++) {
        s->probe[i] = (Bosun__ProbeResult)BOSUN__PROBE_RESULT__INIT;
        s->probe[i].target = (char *)targets[i];
        s->probe[i].tcp_ok = 1;
        s->probe[i].tcp_connect_us = 250u + 50u * (unsigned)i;
        s->probe[i].nats_ok = 1;
        s->probe[i].nats_rtt_us = 900u + 300u * (unsigned)i;
        s->probe[i].time_ms = 1700000003000u + 1000u * (unsigned)i;
        s->probe[i].error = (char *)errors[i];
        s->probe[i].tcp_tested = 1;
        s->probe[i].address = (char *)addrs[i];
        s->probe_p[i] = &s->probe[i];
    }

    s->hb = (Bosun__Heartbeat)BOSUN__HEARTBEAT__INIT;
    s->hb.node = (char *)"node-1";
    s->hb.instance_id = 0xfedcba9876543210u;
    s->hb.sequence = 42;
    s->hb.boot_time_ms = 1700000000500u;
    s->hb.send_time_ms = 1700000005000u;
    s->hb.pid = 4321;
    s->hb.version = (char *)"0.1.0";
    s->hb.host = &s->host;
    s->hb.n_resources = 2;
    s->hb.resources = s->res_p;
    s->hb.counters = &s->counters;
    s->hb.n_probes = 2;
    s->hb.probes = s->probe_p;
    s->hb.interval_ms = 1000;
    s->hb.probe_address = (char *)"10.0.0.1:8757";

    for (int i = 0; i < 2; i++) {
        s->bid[i] = (Bosun__Bid)BOSUN__BID__INIT;
        s->bid[i].resource = (char *)res_names[i];
        s->bid[i].state = s->res[i].state;
        s->bid[i].priority = s->res[i].priority;
        s->bid[i].token = 1500000u + 100000u * (unsigned)i;
        s->bid[i].release = 1;
        s->bid[i].preempt = 1;
        s->bid[i].query = 1;
        s->bid_p[i] = &s->bid[i];
    }
    s->ep = (Bosun__ElectionPacket)BOSUN__ELECTION_PACKET__INIT;
    s->ep.sender = (char *)"node-1";
    s->ep.instance_id = 0x1122334455667788u;
    s->ep.sequence = 7;
    s->ep.send_time_ms = 1700000006000u;
    s->ep.n_bids = 2;
    s->ep.bids = s->bid_p;
    s->ep.tx_interval_ms = 1000;

    s->sealed = (Bosun__SealedPacket)BOSUN__SEALED_PACKET__INIT;
    s->sealed.version = 1;
    s->sealed.instance_id = 0x8877665544332211u;
    s->sealed.sequence = 99;
    s->sealed.ciphertext = BIN(cipher_bytes);
    s->sealed.plaintext = TEXT("hello");

    s->sc = (Bosun__StateChange)BOSUN__STATE_CHANGE__INIT;
    s->sc.node = (char *)"node-1";
    s->sc.instance_id = 0x1122334455667788u;
    s->sc.resource = (char *)"vip-1";
    s->sc.from = BOSUN__RESOURCE_STATE__RESOURCE_STATE_IDLE;
    s->sc.to = BOSUN__RESOURCE_STATE__RESOURCE_STATE_GOING_ACTIVE;
    s->sc.reason = (char *)"orphaned";
    s->sc.time_ms = 1700000007000u;
    s->sc.token = 1500000;
    s->sc.priority = 100;

    s->cmd_data[0] = (char *)"ls";
    s->cmd_data[1] = (char *)"-l";
    s->cmd_data[2] = (char *)"/tmp";
    s->cmd = (Bosun__Command)BOSUN__COMMAND__INIT;
    s->cmd.id = (char *)"01HV0000000000000000000001";
    s->cmd.node = (char *)"node-1";
    s->cmd.method = (char *)"shellCommand";
    s->cmd.n_data = 3;
    s->cmd.data = s->cmd_data;
    s->cmd.kind = BOSUN__MESSAGE_KIND__MESSAGE_KIND_EVENT;
    s->cmd.created_ms = 1700000008000u;
    s->cmd.ttl_ms = 60000;
    s->cmd.method_timeout_ms = 5000;
    s->cmd.sender = (char *)"central";
    s->cmd.attempt = 2;
    s->cmd.signature = BIN(signature_bytes);
    s->cmd.key_id = TEXT("k1");

    s->ev_data[0] = (char *)"line one";
    s->ev_data[1] = (char *)"line two";
    s->ev = (Bosun__Event)BOSUN__EVENT__INIT;
    s->ev.id = (char *)"01HV0000000000000000000002";
    s->ev.from = (char *)"central";
    s->ev.node = (char *)"node-1";
    s->ev.method = (char *)"textLogging";
    s->ev.n_data = 2;
    s->ev.data = s->ev_data;
    s->ev.time_ms = 1700000009000u;

    s->ack = (Bosun__Ack)BOSUN__ACK__INIT;
    s->ack.id = (char *)"01HV0000000000000000000001";
    s->ack.node = (char *)"node-1";
    s->ack.method = (char *)"shellCommand";
    s->ack.status = BOSUN__ACK_STATUS__ACK_STATUS_FAILED;
    s->ack.exit_code = -3;
    s->ack.stdout = BIN(stdout_binary);
    s->ack.stderr = TEXT("caf\xc3\xa9\n");
    s->ack.stdout_truncated = 1;
    s->ack.stderr_truncated = 1;
    s->ack.start_ms = 1700000010000u;
    s->ack.end_ms = 1700000010250u;
    s->ack.error = (char *)"exit status 3";
    s->ack.recv_time_us = 1700000009999000u;
    s->ack.reply_time_us = 1700000010251000u;
    s->ack.instance_id = 0x8000000000000001u;
    s->ack.term_signal = 9;

    s->result = (Bosun__Result)BOSUN__RESULT__INIT;
    s->result.message = &s->cmd;
    s->result.status = BOSUN__ACK_STATUS__ACK_STATUS_FAILED;
    s->result.ack = &s->ack;
    s->result.attempts = 3;
    s->result.accepted_ms = 1700000008000u;
    s->result.finished_ms = 1700000010300u;
    s->result.error = (char *)"exit status 3";

    s->ns = (Bosun__NodeStatus)BOSUN__NODE_STATUS__INIT;
    s->ns.node = (char *)"node-1";
    s->ns.status = BOSUN__NODE_LIVENESS__NODE_LIVENESS_DEAD;
    s->ns.previous = BOSUN__NODE_LIVENESS__NODE_LIVENESS_WARN;
    s->ns.instance_id = 0x1122334455667788u;
    s->ns.restarted = 1;
    s->ns.last_heartbeat_ms = 1700000005000u;
    s->ns.time_ms = 1700000020000u;
    s->ns.clock_offset_us = -1234;
    s->ns.rtt_us = 456;
}

/* Where each of the 14 message types lives in a sample_t. */
typedef struct {
    const ProtobufCMessageDescriptor *d;
    size_t offset;
} sample_type_t;

static const sample_type_t sample_types[] = {
    {&bosun__host_status__descriptor, offsetof(sample_t, host)},
    {&bosun__resource_status__descriptor, offsetof(sample_t, res)},
    {&bosun__agent_counters__descriptor, offsetof(sample_t, counters)},
    {&bosun__probe_result__descriptor, offsetof(sample_t, probe)},
    {&bosun__heartbeat__descriptor, offsetof(sample_t, hb)},
    {&bosun__bid__descriptor, offsetof(sample_t, bid)},
    {&bosun__election_packet__descriptor, offsetof(sample_t, ep)},
    {&bosun__sealed_packet__descriptor, offsetof(sample_t, sealed)},
    {&bosun__state_change__descriptor, offsetof(sample_t, sc)},
    {&bosun__command__descriptor, offsetof(sample_t, cmd)},
    {&bosun__event__descriptor, offsetof(sample_t, ev)},
    {&bosun__ack__descriptor, offsetof(sample_t, ack)},
    {&bosun__result__descriptor, offsetof(sample_t, result)},
    {&bosun__node_status__descriptor, offsetof(sample_t, ns)},
};

static ProtobufCMessage *sample_msg(sample_t *s, size_t i)
{
    ProtobufCMessage *m = (ProtobufCMessage *)((char *)s + sample_types[i].offset);
    assert_ptr_equal(m->descriptor, sample_types[i].d);
    return m;
}

/* Fails unless every field of m (recursively) holds a non-default value and
 * every repeated field has at least two elements, so the round trips below
 * cover each field, including fields added to the schema later. */
static void assert_all_set(const ProtobufCMessage *m)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        const char *p = (const char *)m + f->offset;
        size_t n = 1;
        if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
            if (*(const uint32_t *)((const char *)m + f->quantifier_offset) != f->id)
                continue;
        } else if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            n = *(const size_t *)((const char *)m + f->quantifier_offset);
            if (n < 2)
                fail_msg("%s.%s has %zu elements", d->short_name, f->name, n);
        }
        for (size_t k = 0; k < n; k++) {
            const char *v = p;
            if (f->label == PROTOBUF_C_LABEL_REPEATED) {
                const char *arr = *(char *const *)p;
                size_t size = f->type == PROTOBUF_C_TYPE_STRING || f->type == PROTOBUF_C_TYPE_MESSAGE
                                  ? sizeof(void *)
                                  : f->type == PROTOBUF_C_TYPE_BYTES ? sizeof(ProtobufCBinaryData) : 0;
                assert_int_not_equal(size, 0); /* no repeated scalars in bosun.proto yet */
                v = arr + k * size;
            }
            bool set;
            switch (f->type) {
            case PROTOBUF_C_TYPE_STRING: set = (*(char *const *)v)[0] != '\0'; break;
            case PROTOBUF_C_TYPE_BYTES: set = ((const ProtobufCBinaryData *)v)->len > 0; break;
            case PROTOBUF_C_TYPE_MESSAGE:
                set = *(ProtobufCMessage *const *)v != NULL;
                if (set)
                    assert_all_set(*(ProtobufCMessage *const *)v);
                break;
            case PROTOBUF_C_TYPE_INT64:
            case PROTOBUF_C_TYPE_SINT64:
            case PROTOBUF_C_TYPE_SFIXED64:
            case PROTOBUF_C_TYPE_UINT64:
            case PROTOBUF_C_TYPE_FIXED64:
            case PROTOBUF_C_TYPE_DOUBLE: set = *(const uint64_t *)v != 0; break;
            default: set = *(const uint32_t *)v != 0; break;
            }
            if (!set)
                fail_msg("%s.%s holds its default value", d->short_name, f->name);
        }
    }
}

/* ---- helpers ------------------------------------------------------------------------------ */

static char *dump(const json_t *j)
{
    assert_non_null(j);
    char *text = json_dumps(j, JSON_COMPACT);
    assert_non_null(text);
    return text;
}

static void assert_json(const json_t *j, const char *expected)
{
    char *text = dump(j);
    assert_string_equal(text, expected);
    free(text);
}

static json_t *parse(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);
    if (j == NULL)
        fail_msg("bad test JSON %s: %s", text, e.text);
    return j;
}

/* Packs m; the caller frees the result. */
static uint8_t *pack(const ProtobufCMessage *m, size_t *len)
{
    uint8_t *buf = NULL;
    assert_int_equal(bosun_codec_encode(m, &buf, len), BOSUN_OK);
    assert_non_null(buf);
    assert_int_equal(*len, protobuf_c_message_get_packed_size(m));
    return buf;
}

static void assert_same_wire(const ProtobufCMessage *a, const ProtobufCMessage *b)
{
    size_t la, lb;
    uint8_t *pa = pack(a, &la), *pb = pack(b, &lb);
    assert_int_equal(la, lb);
    assert_memory_equal(pa, pb, la);
    free(pa);
    free(pb);
}

/* Expects from_json(d, text) to fail with BOSUN_ERR_DECODE and message msg. */
static void assert_from_json_fails(const ProtobufCMessageDescriptor *d, const char *text,
                                   const char *msg)
{
    json_t *j = parse(text);
    ProtobufCMessage *out = (ProtobufCMessage *)(uintptr_t)1;
    bosun_err_t err;
    bosun_err_clear(&err);
    assert_int_equal(bosun_codec_from_json(d, j, &out, &err), BOSUN_ERR_DECODE);
    assert_null(out);
    assert_int_equal(err.status, BOSUN_ERR_DECODE);
    assert_string_equal(err.msg, msg);
    json_decref(j);
}

/* Parses text as a d and returns the message; the caller frees it. */
static ProtobufCMessage *from_text(const ProtobufCMessageDescriptor *d, const char *text)
{
    json_t *j = parse(text);
    ProtobufCMessage *out = NULL;
    bosun_err_t err;
    bosun_err_clear(&err);
    if (bosun_codec_from_json(d, j, &out, &err) != BOSUN_OK)
        fail_msg("from_json(%s): %s", text, err.msg);
    json_decref(j);
    return out;
}

/* ---- every message type through the wire and through JSON ------------------------------ */

static void test_roundtrip(void **state)
{
    size_t idx = (size_t)(uintptr_t)*state;
    sample_t s;
    sample_init(&s);
    const ProtobufCMessage *m = sample_msg(&s, idx);
    const ProtobufCMessageDescriptor *d = m->descriptor;
    assert_all_set(m);

    /* wire: pack -> decode -> pack gives the same bytes */
    size_t len;
    uint8_t *wire = pack(m, &len);
    ProtobufCMessage *decoded = NULL;
    bosun_err_t err;
    assert_int_equal(bosun_codec_decode(d, wire, len, 0, &decoded, &err), BOSUN_OK);
    assert_non_null(decoded);
    assert_ptr_equal(decoded->descriptor, d);
    assert_same_wire(m, decoded);

    /* JSON: to_json -> from_json -> pack gives the same bytes */
    json_t *j = bosun_codec_to_json(m);
    assert_non_null(j);
    assert_int_equal(json_object_size(j), d->n_fields);
    ProtobufCMessage *back = NULL;
    bosun_err_clear(&err);
    if (bosun_codec_from_json(d, j, &back, &err) != BOSUN_OK)
        fail_msg("%s from_json: %s", d->short_name, err.msg);
    assert_same_wire(m, back);

    /* the decoded copy renders exactly as the original, also after a text trip */
    json_t *j2 = bosun_codec_to_json(decoded);
    assert_true(json_equal(j, j2));
    char *text = dump(j);
    json_t *reparsed = parse(text);
    assert_true(json_equal(j, reparsed));

    json_decref(reparsed);
    free(text);
    json_decref(j2);
    protobuf_c_message_free_unpacked(back, NULL);
    json_decref(j);
    protobuf_c_message_free_unpacked(decoded, NULL);
    free(wire);
}

static void test_type_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(sample_types); i++) {
        const ProtobufCMessageDescriptor *d = sample_types[i].d;
        assert_ptr_equal(bosun_codec_type_by_name(d->short_name), d);
        assert_string_equal(bosun_codec_type_name(d), d->short_name);
    }
    assert_string_equal(bosun_codec_type_name(&bosun__heartbeat__descriptor), "Heartbeat");
    assert_ptr_equal(bosun_codec_type_by_name("Ack"), &bosun__ack__descriptor);
    assert_null(bosun_codec_type_by_name("bosun.Ack"));
    assert_null(bosun_codec_type_by_name("ack"));
    assert_null(bosun_codec_type_by_name(""));
    assert_null(bosun_codec_type_by_name(NULL));
    assert_null(bosun_codec_type_name(NULL));
}

/* ---- exact JSON ------------------------------------------------------------------------------ */

static void test_json_heartbeat(void **state)
{
    (void)state;
    sample_t s;
    sample_init(&s);
    json_t *j = bosun_codec_to_json(&s.hb.base);
    assert_json(j,
                "{\"node\":\"node-1\",\"instance_id\":\"18364758544493064720\",\"sequence\":42,"
                "\"boot_time_ms\":1700000000500,\"send_time_ms\":1700000005000,\"pid\":4321,"
                "\"version\":\"0.1.0\","
                "\"host\":{\"hostname\":\"node-1.example\",\"os\":\"Linux 6.1\",\"cores\":8,"
                "\"cpu_model\":\"Xeon\",\"cpu_usage_percent\":12.5,\"load1\":0.75,\"load5\":1.25,"
                "\"load15\":2.5,\"mem_total_bytes\":17179869184,\"mem_available_bytes\":8589934592,"
                "\"host_boot_time_ms\":1700000000000,\"agent_rss_bytes\":4194304},"
                "\"resources\":[{\"resource\":\"vip-1\",\"state\":\"ACTIVE\",\"priority\":100,"
                "\"owner\":\"node-1\",\"since_ms\":1700000001000},"
                "{\"resource\":\"vip-2\",\"state\":\"GOING_ACTIVE\",\"priority\":50,"
                "\"owner\":\"node-2\",\"since_ms\":1700000002000}],"
                "\"counters\":{\"heartbeats_sent\":1,\"commands_received\":2,\"commands_ok\":3,"
                "\"commands_failed\":4,\"commands_rejected\":5,\"commands_duplicate\":6,"
                "\"events_received\":7,\"malformed_messages\":8,\"election_packets_tx\":9,"
                "\"election_packets_rx\":10,\"election_packets_dropped\":11,"
                "\"election_transitions\":12,\"nats_reconnects\":13,\"election_tx_errors\":14,"
                "\"election_rx_errors\":15,\"election_script_failures\":16,\"probes_run\":17,"
                "\"probes_failed\":18},"
                "\"probes\":[{\"target\":\"node-2\",\"tcp_ok\":true,\"tcp_connect_us\":250,"
                "\"nats_ok\":true,\"nats_rtt_us\":900,\"time_ms\":1700000003000,\"error\":\"none\","
                "\"tcp_tested\":true,\"address\":\"10.0.0.2:8757\"},"
                "{\"target\":\"node-3\",\"tcp_ok\":true,\"tcp_connect_us\":300,\"nats_ok\":true,"
                "\"nats_rtt_us\":1200,\"time_ms\":1700000004000,\"error\":\"slow\","
                "\"tcp_tested\":true,\"address\":\"[fd00::3]:8757\"}],"
                "\"interval_ms\":1000,\"probe_address\":\"10.0.0.1:8757\"}");
    json_decref(j);

    /* defaults are shown, not left out; an unset sub-message is null */
    Bosun__Heartbeat empty = BOSUN__HEARTBEAT__INIT;
    j = bosun_codec_to_json(&empty.base);
    assert_json(j, "{\"node\":\"\",\"instance_id\":0,\"sequence\":0,\"boot_time_ms\":0,"
                   "\"send_time_ms\":0,\"pid\":0,\"version\":\"\",\"host\":null,\"resources\":[],"
                   "\"counters\":null,\"probes\":[],\"interval_ms\":0,\"probe_address\":\"\"}");
    ProtobufCMessage *back = NULL;
    assert_int_equal(bosun_codec_from_json(&bosun__heartbeat__descriptor, j, &back, NULL), BOSUN_OK);
    assert_null(((Bosun__Heartbeat *)back)->host);
    assert_same_wire(&empty.base, back);
    protobuf_c_message_free_unpacked(back, NULL);
    json_decref(j);
}

static void test_json_ack_bytes(void **state)
{
    (void)state;
    sample_t s;
    sample_init(&s);
    json_t *j = bosun_codec_to_json(&s.ack.base);
    assert_json(j, "{\"id\":\"01HV0000000000000000000001\",\"node\":\"node-1\","
                   "\"method\":\"shellCommand\",\"status\":\"FAILED\",\"exit_code\":-3,"
                   "\"stdout\":{\"base64\":\"//5vawo=\"},\"stderr\":\"caf\xc3\xa9\\n\","
                   "\"stdout_truncated\":true,\"stderr_truncated\":true,"
                   "\"start_ms\":1700000010000,\"end_ms\":1700000010250,"
                   "\"error\":\"exit status 3\",\"recv_time_us\":1700000009999000,"
                   "\"reply_time_us\":1700000010251000,\"instance_id\":\"9223372036854775809\","
                   "\"term_signal\":9}");
    json_decref(j);

    /* UTF-8 output renders as a plain string, NUL bytes included */
    s.ack.stdout = (ProtobufCBinaryData){4, (uint8_t *)"ok\0!"};
    s.ack.stderr = (ProtobufCBinaryData){0, NULL};
    s.ack.status = BOSUN__ACK_STATUS__ACK_STATUS_OK;
    j = bosun_codec_to_json(&s.ack.base);
    assert_string_equal(json_string_value(json_object_get(j, "status")), "OK");
    assert_int_equal(json_string_length(json_object_get(j, "stdout")), 4);
    assert_memory_equal(json_string_value(json_object_get(j, "stdout")), "ok\0!", 4);
    assert_string_equal(json_string_value(json_object_get(j, "stderr")), "");
    ProtobufCMessage *back = NULL;
    assert_int_equal(bosun_codec_from_json(&bosun__ack__descriptor, j, &back, NULL), BOSUN_OK);
    assert_same_wire(&s.ack.base, back);
    protobuf_c_message_free_unpacked(back, NULL);
    json_decref(j);

    /* a string field that is not UTF-8 (protobuf-c does not check) keeps its bytes */
    s.ack.node = (char *)"n\xff\xfe";
    j = bosun_codec_to_json(&s.ack.base);
    assert_json(json_object_get(j, "node"), "{\"base64\":\"bv/+\"}");
    assert_int_equal(bosun_codec_from_json(&bosun__ack__descriptor, j, &back, NULL), BOSUN_OK);
    assert_string_equal(((Bosun__Ack *)back)->node, "n\xff\xfe");
    assert_same_wire(&s.ack.base, back);
    protobuf_c_message_free_unpacked(back, NULL);
    json_decref(j);

    /* bytes read from a string or from {"base64": ...} */
    Bosun__Ack *a = (Bosun__Ack *)from_text(&bosun__ack__descriptor,
                                            "{\"stdout\":{\"base64\":\"//5vawo=\"},"
                                            "\"stderr\":\"plain\"}");
    assert_int_equal(a->stdout.len, sizeof stdout_binary);
    assert_memory_equal(a->stdout.data, stdout_binary, sizeof stdout_binary);
    assert_int_equal(a->stderr.len, 5);
    assert_memory_equal(a->stderr.data, "plain", 5);
    protobuf_c_message_free_unpacked(&a->base, NULL);
}

static void test_json_state_change(void **state)
{
    (void)state;
    sample_t s;
    sample_init(&s);
    json_t *j = bosun_codec_to_json(&s.sc.base);
    assert_json(j, "{\"node\":\"node-1\",\"instance_id\":1234605616436508552,\"resource\":\"vip-1\","
                   "\"from\":\"IDLE\",\"to\":\"GOING_ACTIVE\",\"reason\":\"orphaned\","
                   "\"time_ms\":1700000007000,\"token\":1500000,\"priority\":100}");
    json_decref(j);

    /* an enum number the schema does not know renders as the number */
    s.sc.to = (Bosun__ResourceState)99;
    j = bosun_codec_to_json(&s.sc.base);
    assert_true(json_is_integer(json_object_get(j, "to")));
    assert_int_equal(json_integer_value(json_object_get(j, "to")), 99);
    ProtobufCMessage *back = NULL;
    assert_int_equal(bosun_codec_from_json(&bosun__state_change__descriptor, j, &back, NULL),
                     BOSUN_OK);
    assert_int_equal(((Bosun__StateChange *)back)->to, 99);
    protobuf_c_message_free_unpacked(back, NULL);
    json_decref(j);

    /* enum accepted by short name, full name or number */
    Bosun__StateChange *sc = (Bosun__StateChange *)from_text(
        &bosun__state_change__descriptor,
        "{\"from\":\"RESOURCE_STATE_ACTIVE\",\"to\":\"NONE\",\"priority\":7}");
    assert_int_equal(sc->from, BOSUN__RESOURCE_STATE__RESOURCE_STATE_ACTIVE);
    assert_int_equal(sc->to, BOSUN__RESOURCE_STATE__RESOURCE_STATE_NONE);
    protobuf_c_message_free_unpacked(&sc->base, NULL);
    sc = (Bosun__StateChange *)from_text(&bosun__state_change__descriptor, "{\"from\":2,\"to\":3}");
    assert_int_equal(sc->from, BOSUN__RESOURCE_STATE__RESOURCE_STATE_GOING_ACTIVE);
    assert_int_equal(sc->to, BOSUN__RESOURCE_STATE__RESOURCE_STATE_ACTIVE);
    protobuf_c_message_free_unpacked(&sc->base, NULL);

    Bosun__NodeStatus *ns = (Bosun__NodeStatus *)from_text(
        &bosun__node_status__descriptor, "{\"status\":\"MISSING\",\"previous\":\"NODE_LIVENESS_SLOW\"}");
    assert_int_equal(ns->status, BOSUN__NODE_LIVENESS__NODE_LIVENESS_MISSING);
    assert_int_equal(ns->previous, BOSUN__NODE_LIVENESS__NODE_LIVENESS_SLOW);
    protobuf_c_message_free_unpacked(&ns->base, NULL);
}

static void test_json_u64(void **state)
{
    (void)state;
    Bosun__NodeStatus ns = BOSUN__NODE_STATUS__INIT;
    ns.instance_id = UINT64_MAX;
    ns.last_heartbeat_ms = (uint64_t)INT64_MAX;
    ns.time_ms = (uint64_t)INT64_MAX + 1;
    ns.clock_offset_us = INT64_MIN;
    json_t *j = bosun_codec_to_json(&ns.base);
    assert_json(j, "{\"node\":\"\",\"status\":\"UNKNOWN\",\"previous\":\"UNKNOWN\","
                   "\"instance_id\":\"18446744073709551615\",\"restarted\":false,"
                   "\"last_heartbeat_ms\":9223372036854775807,"
                   "\"time_ms\":\"9223372036854775808\",\"clock_offset_us\":-9223372036854775808,"
                   "\"rtt_us\":0}");
    ProtobufCMessage *back = NULL;
    assert_int_equal(bosun_codec_from_json(&bosun__node_status__descriptor, j, &back, NULL), BOSUN_OK);
    assert_same_wire(&ns.base, back);
    protobuf_c_message_free_unpacked(back, NULL);
    json_decref(j);

    /* both forms are read for every 64-bit kind */
    Bosun__NodeStatus *p = (Bosun__NodeStatus *)from_text(
        &bosun__node_status__descriptor,
        "{\"instance_id\":5,\"rtt_us\":\"77\",\"clock_offset_us\":\"-9223372036854775808\","
        "\"time_ms\":\"0\"}");
    assert_true(p->instance_id == 5 && p->rtt_us == 77 && p->clock_offset_us == INT64_MIN);
    protobuf_c_message_free_unpacked(&p->base, NULL);
}

/* ---- JSON errors ----------------------------------------------------------------------------------- */

static void test_json_errors(void **state)
{
    (void)state;
    const ProtobufCMessageDescriptor *hb = &bosun__heartbeat__descriptor;
    const ProtobufCMessageDescriptor *ack = &bosun__ack__descriptor;
    const ProtobufCMessageDescriptor *ns = &bosun__node_status__descriptor;
    assert_from_json_fails(hb, "{\"host\":{\"cpu_usge\":1}}", "Heartbeat.host.cpu_usge: unknown field");
    assert_from_json_fails(hb, "{\"nodes\":\"x\"}", "Heartbeat.nodes: unknown field");
    assert_from_json_fails(hb, "{\"resources\":[{},{\"state\":\"BOGUS\"}]}",
                           "Heartbeat.resources[1].state: unknown ResourceState value 'BOGUS'");
    assert_from_json_fails(hb, "{\"resources\":[{},{\"State\":1}]}",
                           "Heartbeat.resources[1].State: unknown field");
    assert_from_json_fails(hb, "{\"resources\":[{\"state\":\"active\"}]}",
                           "Heartbeat.resources[0].state: unknown ResourceState value 'active'");
    assert_from_json_fails(hb, "{\"resources\":[{\"state\":\"ACK_STATUS_OK\"}]}",
                           "Heartbeat.resources[0].state: unknown ResourceState value 'ACK_STATUS_OK'");
    assert_from_json_fails(hb, "{\"resources\":{}}",
                           "Heartbeat.resources: expected an array, got an object");
    assert_from_json_fails(hb, "{\"resources\":[{},5]}",
                           "Heartbeat.resources[1]: expected an object, got an integer");
    assert_from_json_fails(hb, "{\"resources\":[null]}",
                           "Heartbeat.resources[0]: expected an object, got null");
    assert_from_json_fails(hb, "{\"host\":[]}", "Heartbeat.host: expected an object, got an array");
    assert_from_json_fails(hb, "[]", "Heartbeat: expected an object, got an array");
    assert_from_json_fails(hb, "{\"pid\":\"abc\"}",
                           "Heartbeat.pid: 'abc' is not a decimal integer; "
                           "expected an unsigned 32-bit integer");
    assert_from_json_fails(hb, "{\"pid\":true}",
                           "Heartbeat.pid: expected an unsigned 32-bit integer, got a boolean");
    assert_from_json_fails(hb, "{\"pid\":4294967296}",
                           "Heartbeat.pid: value out of range; expected an unsigned 32-bit integer");
    assert_from_json_fails(hb, "{\"pid\":-1}",
                           "Heartbeat.pid: value out of range; expected an unsigned 32-bit integer");
    assert_from_json_fails(hb, "{\"host\":{\"cores\":1.5}}",
                           "Heartbeat.host.cores: expected an unsigned 32-bit integer, got a real number");
    assert_from_json_fails(hb, "{\"host\":{\"load1\":\"x\"}}",
                           "Heartbeat.host.load1: expected a number, got a string");
    assert_from_json_fails(hb, "{\"sequence\":-1}",
                           "Heartbeat.sequence: value out of range; expected an unsigned 64-bit "
                           "integer (number or decimal string)");
    assert_from_json_fails(hb, "{\"sequence\":\"18446744073709551616\"}",
                           "Heartbeat.sequence: value out of range; expected an unsigned 64-bit "
                           "integer (number or decimal string)");
    assert_from_json_fails(hb, "{\"sequence\":\" 1\"}",
                           "Heartbeat.sequence: ' 1' is not a decimal integer; expected an unsigned "
                           "64-bit integer (number or decimal string)");
    assert_from_json_fails(hb, "{\"sequence\":\"-\"}",
                           "Heartbeat.sequence: '-' is not a decimal integer; expected an unsigned "
                           "64-bit integer (number or decimal string)");
    assert_from_json_fails(hb, "{\"node\":5}",
                           "Heartbeat.node: expected a string or {\"base64\": \"...\"}, got an integer");
    assert_from_json_fails(hb, "{\"probes\":[{\"tcp_ok\":1}]}",
                           "Heartbeat.probes[0].tcp_ok: expected a boolean, got an integer");
    assert_from_json_fails(ack, "{\"status\":1.0}",
                           "Ack.status: expected an enum value name or number, got a real number");
    assert_from_json_fails(ack, "{\"status\":4294967296}",
                           "Ack.status: value out of range; expected an enum value name or number");
    assert_from_json_fails(ack, "{\"exit_code\":2147483648}",
                           "Ack.exit_code: value out of range; expected a signed 32-bit integer");
    assert_from_json_fails(ack, "{\"stdout\":{\"base64\":\"!!\"}}",
                           "Ack.stdout: \"base64\" is not valid base64");
    assert_from_json_fails(ack, "{\"stdout\":{\"base64\":\"AAE\"}}",
                           "Ack.stdout: \"base64\" is not valid base64");
    assert_from_json_fails(ack, "{\"stdout\":{\"base64\":\"AA==\",\"x\":1}}",
                           "Ack.stdout: expected a string or {\"base64\": \"...\"}, got an object");
    assert_from_json_fails(ack, "{\"stdout\":{\"b64\":\"AA==\"}}",
                           "Ack.stdout: expected a string or {\"base64\": \"...\"}, got an object");
    assert_from_json_fails(ns, "{\"clock_offset_us\":\"-9223372036854775809\"}",
                           "NodeStatus.clock_offset_us: value out of range; expected a signed 64-bit "
                           "integer (number or decimal string)");
    assert_from_json_fails(&bosun__result__descriptor, "{\"ack\":{\"status\":\"NOPE\"}}",
                           "Result.ack.status: unknown AckStatus value 'NOPE'");
    assert_from_json_fails(&bosun__result__descriptor, "{\"message\":{\"data\":[\"a\",7]}}",
                           "Result.message.data[1]: expected a string or {\"base64\": \"...\"}, "
                           "got an integer");

    /* a string field cannot carry NUL, which a C string would cut */
    json_t *j = json_pack("{s:o}", "node", json_stringn("a\0b", 3));
    ProtobufCMessage *out = NULL;
    bosun_err_t err;
    assert_int_equal(bosun_codec_from_json(hb, j, &out, &err), BOSUN_ERR_DECODE);
    assert_string_equal(err.msg, "Heartbeat.node: a string field cannot hold a NUL byte");
    assert_null(out);
    json_decref(j);

    /* a failure late in a populated message frees what was built (ASan) */
    sample_t s;
    sample_init(&s);
    j = bosun_codec_to_json(&s.result.base);
    json_object_set_new(json_object_get(j, "ack"), "zzz", json_true());
    assert_int_equal(bosun_codec_from_json(&bosun__result__descriptor, j, &out, &err),
                     BOSUN_ERR_DECODE);
    assert_string_equal(err.msg, "Result.ack.zzz: unknown field");
    json_decref(j);

    assert_int_equal(bosun_codec_from_json(NULL, NULL, &out, NULL), BOSUN_ERR_INVALID);
    assert_null(bosun_codec_to_json(NULL));
}

/* ---- field kinds bosun.proto does not use yet, through a hand-built descriptor ----- */

/* message Kitchen { int32 i32 = 1; float f = 2; int64 i64 = 3; optional uint32 opt = 4;
 *   repeated uint32 nums = 5; repeated ResourceState states = 6; repeated bytes blobs = 7;
 *   repeated double reals = 8; oneof choice { string name = 9; Bid bid = 10; }
 *   Kitchen child = 11; } */
typedef struct kitchen {
    ProtobufCMessage base;
    int32_t i32;
    float f;
    int64_t i64;
    protobuf_c_boolean has_opt;
    uint32_t opt;
    size_t n_nums;
    uint32_t *nums;
    size_t n_states;
    Bosun__ResourceState *states;
    size_t n_blobs;
    ProtobufCBinaryData *blobs;
    size_t n_reals;
    double *reals;
    uint32_t choice_case;
    union {
        char *name;
        Bosun__Bid *bid;
    };
    struct kitchen *child;
} kitchen_t;

static void kitchen_init(ProtobufCMessage *m);
static const ProtobufCMessageDescriptor kitchen_descriptor;

static const ProtobufCFieldDescriptor kitchen_fields[] = {
    {"i32", 1, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_INT32, 0, offsetof(kitchen_t, i32), NULL, NULL,
     0, 0, NULL, NULL},
    {"f", 2, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_FLOAT, 0, offsetof(kitchen_t, f), NULL, NULL, 0,
     0, NULL, NULL},
    {"i64", 3, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_INT64, 0, offsetof(kitchen_t, i64), NULL, NULL,
     0, 0, NULL, NULL},
    {"opt", 4, PROTOBUF_C_LABEL_OPTIONAL, PROTOBUF_C_TYPE_UINT32, offsetof(kitchen_t, has_opt),
     offsetof(kitchen_t, opt), NULL, NULL, 0, 0, NULL, NULL},
    {"nums", 5, PROTOBUF_C_LABEL_REPEATED, PROTOBUF_C_TYPE_UINT32, offsetof(kitchen_t, n_nums),
     offsetof(kitchen_t, nums), NULL, NULL, PROTOBUF_C_FIELD_FLAG_PACKED, 0, NULL, NULL},
    {"states", 6, PROTOBUF_C_LABEL_REPEATED, PROTOBUF_C_TYPE_ENUM, offsetof(kitchen_t, n_states),
     offsetof(kitchen_t, states), &bosun__resource_state__descriptor, NULL,
     PROTOBUF_C_FIELD_FLAG_PACKED, 0, NULL, NULL},
    {"blobs", 7, PROTOBUF_C_LABEL_REPEATED, PROTOBUF_C_TYPE_BYTES, offsetof(kitchen_t, n_blobs),
     offsetof(kitchen_t, blobs), NULL, NULL, 0, 0, NULL, NULL},
    {"reals", 8, PROTOBUF_C_LABEL_REPEATED, PROTOBUF_C_TYPE_DOUBLE, offsetof(kitchen_t, n_reals),
     offsetof(kitchen_t, reals), NULL, NULL, PROTOBUF_C_FIELD_FLAG_PACKED, 0, NULL, NULL},
    {"name", 9, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_STRING, offsetof(kitchen_t, choice_case),
     offsetof(kitchen_t, name), NULL, NULL, PROTOBUF_C_FIELD_FLAG_ONEOF, 0, NULL, NULL},
    {"bid", 10, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_MESSAGE, offsetof(kitchen_t, choice_case),
     offsetof(kitchen_t, bid), &bosun__bid__descriptor, NULL, PROTOBUF_C_FIELD_FLAG_ONEOF, 0, NULL,
     NULL},
    {"child", 11, PROTOBUF_C_LABEL_OPTIONAL, PROTOBUF_C_TYPE_MESSAGE, 0, offsetof(kitchen_t, child),
     &kitchen_descriptor, NULL, 0, 0, NULL, NULL},
};
/* bid blobs child f i32 i64 name nums opt reals states */
static const unsigned kitchen_by_name[] = {9, 6, 10, 1, 0, 2, 8, 4, 3, 7, 5};
static const ProtobufCIntRange kitchen_ranges[] = {{1, 0}, {0, 11}};
static const ProtobufCMessageDescriptor kitchen_descriptor = {
    PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC,
    "test.Kitchen",
    "Kitchen",
    "Kitchen",
    "test",
    sizeof(kitchen_t),
    ARRAY_LEN(kitchen_fields),
    kitchen_fields,
    kitchen_by_name,
    1,
    kitchen_ranges,
    kitchen_init,
    NULL,
    NULL,
    NULL,
};

static void kitchen_init(ProtobufCMessage *m)
{
    memset(m, 0, sizeof(kitchen_t));
    *m = (ProtobufCMessage)PROTOBUF_C_MESSAGE_INIT(&kitchen_descriptor);
}

static void test_json_field_kinds(void **state)
{
    (void)state;
    uint32_t nums[] = {1, 4294967295u};
    Bosun__ResourceState states[] = {BOSUN__RESOURCE_STATE__RESOURCE_STATE_IDLE,
                                     (Bosun__ResourceState)42};
    ProtobufCBinaryData blobs[] = {TEXT("ab"), BIN(cipher_bytes)};
    double reals[] = {0.5, -2.25};
    sample_t s;
    sample_init(&s);
    kitchen_t k;
    kitchen_init(&k.base);
    k.i32 = -7;
    k.f = 1.5f;
    k.i64 = -9000000000;
    k.has_opt = 1;
    k.opt = 0; /* present although zero */
    k.n_nums = 2;
    k.nums = nums;
    k.n_states = 2;
    k.states = states;
    k.n_blobs = 2;
    k.blobs = blobs;
    k.n_reals = 2;
    k.reals = reals;
    k.choice_case = 10;
    k.bid = &s.bid[0];
    kitchen_t child;
    kitchen_init(&child.base);
    child.i32 = 1;
    k.child = &child;

    json_t *j = bosun_codec_to_json(&k.base);
    const char *expected =
        "{\"i32\":-7,\"f\":1.5,\"i64\":-9000000000,\"opt\":0,\"nums\":[1,4294967295],"
        "\"states\":[\"IDLE\",42],\"blobs\":[\"ab\",{\"base64\":\"3q2+7/8=\"}],"
        "\"reals\":[0.5,-2.25],\"bid\":{\"resource\":\"vip-1\",\"state\":\"ACTIVE\","
        "\"priority\":100,\"token\":1500000,\"release\":true,\"preempt\":true,\"query\":true},\"child\":{\"i32\":1,\"f\":0.0,"
        "\"i64\":0,\"opt\":null,\"nums\":[],\"states\":[],\"blobs\":[],\"reals\":[],\"child\":null}}";
    assert_json(j, expected);
    ProtobufCMessage *back = NULL;
    bosun_err_t err;
    if (bosun_codec_from_json(&kitchen_descriptor, j, &back, &err) != BOSUN_OK)
        fail_msg("%s", err.msg);
    assert_same_wire(&k.base, back);
    json_t *j2 = bosun_codec_to_json(back);
    assert_json(j2, expected);
    json_decref(j2);
    protobuf_c_message_free_unpacked(back, NULL);
    json_decref(j);

    /* through the wire as well */
    size_t len;
    uint8_t *wire = pack(&k.base, &len);
    assert_int_equal(bosun_codec_decode(&kitchen_descriptor, wire, len, 0, &back, &err), BOSUN_OK);
    j = bosun_codec_to_json(back);
    assert_json(j, expected);
    json_decref(j);
    protobuf_c_message_free_unpacked(back, NULL);
    free(wire);

    /* optional unset renders null; the other oneof member; NaN and Inf render null */
    kitchen_init(&k.base);
    k.choice_case = 9;
    k.name = (char *)"chosen";
    k.f = (float)NAN;
    k.n_reals = 2;
    double odd[] = {INFINITY, -INFINITY};
    k.reals = odd;
    j = bosun_codec_to_json(&k.base);
    assert_json(j, "{\"i32\":0,\"f\":null,\"i64\":0,\"opt\":null,\"nums\":[],\"states\":[],"
                   "\"blobs\":[],\"reals\":[null,null],\"name\":\"chosen\",\"child\":null}");
    json_decref(j);

    kitchen_t *p = (kitchen_t *)from_text(&kitchen_descriptor,
                                          "{\"f\":\"NaN\",\"reals\":[\"Infinity\",\"-Infinity\",3],"
                                          "\"name\":\"x\",\"opt\":null,\"i64\":\"-5\"}");
    assert_true(isnan(p->f));
    assert_int_equal(p->n_reals, 3);
    assert_true(p->reals[0] > 1e308 && p->reals[1] < -1e308 && p->reals[2] == 3.0);
    assert_int_equal(p->choice_case, 9);
    assert_string_equal(p->name, "x");
    assert_false(p->has_opt);
    assert_int_equal(p->i64, -5);
    protobuf_c_message_free_unpacked(&p->base, NULL);

    assert_from_json_fails(&kitchen_descriptor, "{\"name\":\"x\",\"bid\":{}}",
                           "Kitchen.bid: another member of the same oneof is already set");
    assert_from_json_fails(&kitchen_descriptor, "{\"f\":1e300}",
                           "Kitchen.f: value out of range; expected a number");
    assert_from_json_fails(&kitchen_descriptor, "{\"nums\":[1,-1]}",
                           "Kitchen.nums[1]: value out of range; expected an unsigned 32-bit integer");
    assert_from_json_fails(&kitchen_descriptor, "{\"states\":[\"IDLE\",\"X\"]}",
                           "Kitchen.states[1]: unknown ResourceState value 'X'");
    assert_from_json_fails(&kitchen_descriptor, "{\"blobs\":[\"a\",{\"base64\":1}]}",
                           "Kitchen.blobs[1]: expected a string or {\"base64\": \"...\"}, got an object");

    /* nesting: 16 levels are read, the 17th is refused */
    char text[512] = "", want[256] = "Kitchen";
    for (int level = 1; level < 16; level++)
        strcat(text, "{\"child\":");
    strcat(text, "{\"i32\":5}");
    for (int level = 1; level < 16; level++)
        strcat(text, "}");
    p = (kitchen_t *)from_text(&kitchen_descriptor, text);
    int levels = 1;
    for (const kitchen_t *q = p; q->child != NULL; q = q->child)
        levels++;
    assert_int_equal(levels, 16);
    protobuf_c_message_free_unpacked(&p->base, NULL);
    const char *open = "{\"child\":";
    memmove(text + strlen(open), text, strlen(text) + 1);
    memcpy(text, open, strlen(open));
    strcat(text, "}");
    for (int level = 1; level < 17; level++)
        strcat(want, ".child");
    strcat(want, ": messages nested deeper than 16 levels");
    assert_from_json_fails(&kitchen_descriptor, text, want);
}

/* ---- hostile payloads --------------------------------------------------------------------------- */

static void test_decode_truncated(void **state)
{
    (void)state;
    sample_t s;
    sample_init(&s);
    size_t len;
    uint8_t *wire = pack(&s.hb.base, &len);
    size_t failures = 0;
    for (size_t cut = 0; cut < len; cut++) {
        uint8_t *copy = malloc(cut > 0 ? cut : 1); /* exact size, so ASan sees overreads */
        assert_non_null(copy);
        memcpy(copy, wire, cut);
        ProtobufCMessage *m = NULL;
        bosun_err_t err;
        bosun_err_clear(&err);
        bosun_status_t st = bosun_codec_decode(&bosun__heartbeat__descriptor, copy, cut, 0, &m, &err);
        if (st == BOSUN_OK) {
            assert_non_null(m);
            protobuf_c_message_free_unpacked(m, NULL);
        } else {
            char want[64];
            snprintf(want, sizeof want, "malformed Heartbeat payload (%zu bytes)", cut);
            assert_int_equal(st, BOSUN_ERR_DECODE);
            assert_string_equal(err.msg, want);
            assert_null(m);
            failures++;
        }
        /* a cut inside the node string or inside the last varint must fail */
        if (cut == 3 || cut == len - 1)
            assert_int_equal(st, BOSUN_ERR_DECODE);
        if (cut == 0)
            assert_int_equal(st, BOSUN_OK);
        free(copy);
    }
    assert_true(failures > len / 2);
    free(wire);
}

static uint64_t prng_next(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

/* Whatever decodes must render, parse back and render the same again. */
static void check_decoded(const ProtobufCMessageDescriptor *d, const ProtobufCMessage *m)
{
    json_t *j1 = bosun_codec_to_json(m);
    assert_non_null(j1);
    char *text = dump(j1);
    free(text);
    ProtobufCMessage *m2 = NULL, *m3 = NULL;
    bosun_err_t err;
    if (bosun_codec_from_json(d, j1, &m2, &err) != BOSUN_OK)
        fail_msg("%s: %s", d->short_name, err.msg);
    json_t *j2 = bosun_codec_to_json(m2);
    if (bosun_codec_from_json(d, j2, &m3, &err) != BOSUN_OK)
        fail_msg("%s: %s", d->short_name, err.msg);
    json_t *j3 = bosun_codec_to_json(m3);
    assert_true(json_equal(j2, j3));
    assert_same_wire(m2, m3);
    json_decref(j3);
    json_decref(j2);
    json_decref(j1);
    protobuf_c_message_free_unpacked(m3, NULL);
    protobuf_c_message_free_unpacked(m2, NULL);
}

static void test_decode_random(void **state)
{
    (void)state;
    static const char *const subjects[] = {"n.event.heartbeat", "n.event.bid", "n.event.state",
                                           "central.event.result", "central.event.nodeStatus",
                                           "n.command.ping", "n.event.textLogging"};
    sample_t s;
    sample_init(&s);
    uint64_t seed = 0x9e3779b97f4a7c15u;
    size_t ok = 0, bad = 0;
    for (int round = 0; round < 6000; round++) {
        size_t ti = (size_t)prng_next(&seed) % ARRAY_LEN(sample_types);
        const ProtobufCMessageDescriptor *d = sample_types[ti].d;
        size_t len;
        uint8_t *buf;
        if (round % 2 == 0) { /* random bytes */
            len = (size_t)(prng_next(&seed) % 97);
            buf = malloc(len > 0 ? len : 1);
            assert_non_null(buf);
            for (size_t i = 0; i < len; i++)
                buf[i] = (uint8_t)prng_next(&seed);
        } else { /* a valid message with a few bytes changed */
            buf = pack(sample_msg(&s, ti), &len);
            for (int flips = 1 + (int)(prng_next(&seed) % 3); flips > 0 && len > 0; flips--)
                buf[prng_next(&seed) % len] ^= (uint8_t)(1u << (prng_next(&seed) % 8));
        }
        ProtobufCMessage *m = NULL;
        bosun_err_t err;
        bosun_err_clear(&err);
        bosun_status_t st = bosun_codec_decode(d, buf, len, 0, &m, &err);
        if (st == BOSUN_OK) {
            ok++;
            check_decoded(d, m);
            protobuf_c_message_free_unpacked(m, NULL);
        } else {
            bad++;
            assert_int_equal(st, BOSUN_ERR_DECODE);
            assert_null(m);
            assert_non_null(strstr(err.msg, d->short_name));
        }
        const char *subject = subjects[round % ARRAY_LEN(subjects)];
        json_t *j = bosun_codec_subject_json(subject, buf, len);
        assert_non_null(j);
        bool decoded = json_object_get(j, "message") != NULL;
        assert_true(decoded != (json_object_get(j, "payload_base64") != NULL));
        json_decref(j);
        free(buf);
    }
    /* both outcomes were exercised */
    assert_true(ok > 100);
    assert_true(bad > 100);
}

/*
 * Regression (found by tests/fuzz, fuzz_ack and fuzz_election_sealed): an
 * unknown field numbered 0 with its tag spelt in two bytes (0x80 0x00).
 * protobuf-c decoded it, kept it, and packed it as the one-byte tag 0x00 it
 * then refused, so an Ack central stored could not be read back. Such a
 * message, at the top or nested, is now malformed.
 */
static void test_decode_field_zero_tag(void **state)
{
    (void)state;
    static const uint8_t ack[] = {0x0a, 0x02, 'i', 'd', 0x80, 0x00, 0x05};
    /* Result{message: Command{id: "x", <field 0> = 5}} */
    static const uint8_t nested[] = {0x0a, 0x06, 0x0a, 0x01, 'x', 0x80, 0x00, 0x05};
    ProtobufCMessage *m = NULL;
    bosun_err_t err;
    assert_int_equal(bosun_codec_decode(&bosun__ack__descriptor, ack, sizeof ack, 0, &m, &err),
                     BOSUN_ERR_DECODE);
    assert_null(m);
    assert_int_equal(bosun_codec_decode(&bosun__result__descriptor, nested, sizeof nested, 0, &m, &err),
                     BOSUN_ERR_DECODE);
    assert_null(m);
    /* The same Ack without the bad field decodes. */
    assert_int_equal(bosun_codec_decode(&bosun__ack__descriptor, ack, 4, 0, &m, &err), BOSUN_OK);
    protobuf_c_message_free_unpacked(m, NULL);
}

static void test_decode_limits(void **state)
{
    (void)state;
    sample_t s;
    sample_init(&s);
    size_t len;
    uint8_t *wire = pack(&s.ack.base, &len);
    ProtobufCMessage *m = NULL;
    bosun_err_t err;
    assert_int_equal(bosun_codec_decode(&bosun__ack__descriptor, wire, len, len - 1, &m, &err),
                     BOSUN_ERR_TOO_BIG);
    assert_null(m);
    char want[128];
    snprintf(want, sizeof want, "Ack payload of %zu bytes exceeds the limit of %zu", len, len - 1);
    assert_string_equal(err.msg, want);
    assert_int_equal(bosun_codec_decode(&bosun__ack__descriptor, wire, len, len, &m, &err), BOSUN_OK);
    protobuf_c_message_free_unpacked(m, NULL);

    /* max_len 0 is BOSUN_CODEC_MAX_PAYLOAD, inclusive */
    uint8_t *big = calloc(1, BOSUN_CODEC_MAX_PAYLOAD + 1u);
    assert_non_null(big);
    assert_int_equal(bosun_codec_decode(&bosun__ack__descriptor, big, BOSUN_CODEC_MAX_PAYLOAD + 1u,
                                        0, &m, &err),
                     BOSUN_ERR_TOO_BIG);
    assert_int_equal(bosun_codec_decode(&bosun__ack__descriptor, big, BOSUN_CODEC_MAX_PAYLOAD, 0, &m,
                                        &err),
                     BOSUN_ERR_DECODE); /* zero bytes are not a valid tag */
    assert_null(m);
    free(big);

    assert_int_equal(bosun_codec_decode(NULL, wire, len, 0, &m, &err), BOSUN_ERR_INVALID);
    assert_int_equal(bosun_codec_decode(&bosun__ack__descriptor, NULL, 1, 0, &m, &err),
                     BOSUN_ERR_INVALID);
    assert_int_equal(bosun_codec_decode(&bosun__ack__descriptor, NULL, 0, 0, &m, &err), BOSUN_OK);
    protobuf_c_message_free_unpacked(m, NULL);
    uint8_t *out = NULL;
    size_t out_len = 1;
    assert_int_equal(bosun_codec_encode(NULL, &out, &out_len), BOSUN_ERR_INVALID);
    assert_null(out);
    free(wire);
}

/* ---- subjects ------------------------------------------------------------------------------------- */

static void test_type_for_subject(void **state)
{
    (void)state;
    static const struct {
        const char *subject;
        const ProtobufCMessageDescriptor *d;
    } cases[] = {
        {"node-1.event.heartbeat", &bosun__heartbeat__descriptor},
        {"node-1.event.bid", &bosun__election_packet__descriptor},
        {"node-1.event.state", &bosun__state_change__descriptor},
        {"central.event.result", &bosun__result__descriptor},
        {"central.event.nodeStatus", &bosun__node_status__descriptor},
        {"central.event.heartbeat", &bosun__heartbeat__descriptor},
        {"node_2.command.shellCommand", &bosun__command__descriptor},
        {"central.command.ping", &bosun__command__descriptor},
        {"node-1.event.textLogging", &bosun__event__descriptor},
        {"central.event.textLogging", &bosun__event__descriptor},
        {"node-1.event.result", &bosun__event__descriptor},
        {"node-1.event.nodeStatus", &bosun__event__descriptor},
        {"node-1.event.Heartbeat", &bosun__event__descriptor},
        {"", NULL},
        {"a", NULL},
        {"a.b", NULL},
        {"a..b", NULL},
        {"a.event", NULL},
        {"a.event.", NULL},
        {".event.x", NULL},
        {"a.event..x", NULL},
        {"no de.event.x", NULL},
        {"a.event.x.y", NULL},
        {"a.command.x.y", NULL},
        {"a.command.", NULL},
        {"a.cmd.x", NULL},
        {"a.Event.x", NULL},
        {"*.event.x", NULL},
        {">.command.x", NULL},
        {"a.event.*", NULL},
        {"a.event.>", NULL},
        {"a.*.x", NULL},
        {"a.event.x y", NULL},
        {"a.event.heartbeat.", NULL},
        {"a.b.c.d.e.f.g.h", NULL},
        {"...", NULL},
        {"a.event.x.", NULL},
        {"0123456789012345678901234567890123456789012345678901234567890123.event.x",
         &bosun__event__descriptor},
        {"01234567890123456789012345678901234567890123456789012345678901234.event.x", NULL},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        const ProtobufCMessageDescriptor *got = bosun_codec_type_for_subject(cases[i].subject);
        if (got != cases[i].d)
            fail_msg("'%s': got %s, want %s", cases[i].subject, got ? got->short_name : "NULL",
                     cases[i].d ? cases[i].d->short_name : "NULL");
    }
    assert_null(bosun_codec_type_for_subject(NULL));
    char longer[400];
    memset(longer, 'a', sizeof longer - 1);
    longer[sizeof longer - 1] = '\0';
    memcpy(longer + 10, ".event.x", 8);
    assert_null(bosun_codec_type_for_subject(longer));
}

static void test_subject_json(void **state)
{
    (void)state;
    sample_t s;
    sample_init(&s);
    size_t len;
    uint8_t *wire = pack(&s.hb.base, &len);
    json_t *j = bosun_codec_subject_json("node-1.event.heartbeat", wire, len);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "subject")), "node-1.event.heartbeat");
    assert_string_equal(json_string_value(json_object_get(j, "type")), "Heartbeat");
    assert_int_equal(json_integer_value(json_object_get(j, "size")), len);
    assert_null(json_object_get(j, "error"));
    assert_null(json_object_get(j, "payload_base64"));
    json_t *want = bosun_codec_to_json(&s.hb.base);
    assert_true(json_equal(json_object_get(j, "message"), want));
    assert_int_equal(json_object_size(j), 4);
    json_decref(want);
    json_decref(j);
    free(wire);

    static const uint8_t junk[] = {0xff, 0xff, 0xff};
    j = bosun_codec_subject_json("node-1.event.heartbeat", junk, sizeof junk);
    assert_json(j, "{\"subject\":\"node-1.event.heartbeat\",\"size\":3,\"type\":\"Heartbeat\","
                   "\"error\":\"malformed Heartbeat payload (3 bytes)\",\"payload_base64\":\"////\"}");
    json_decref(j);

    j = bosun_codec_subject_json("a.b", "hi", 2);
    assert_json(j, "{\"subject\":\"a.b\",\"size\":2,"
                   "\"error\":\"no message type is known for this subject\","
                   "\"payload_base64\":\"aGk=\"}");
    json_decref(j);

    j = bosun_codec_subject_json(NULL, NULL, 5);
    assert_json(j, "{\"subject\":null,\"size\":0,"
                   "\"error\":\"no message type is known for this subject\",\"payload_base64\":\"\"}");
    json_decref(j);

    j = bosun_codec_subject_json("\xff.event.x", "", 0);
    assert_json(j, "{\"subject\":null,\"size\":0,"
                   "\"error\":\"no message type is known for this subject\",\"payload_base64\":\"\"}");
    json_decref(j);

    /* an empty payload is a valid all-defaults message */
    j = bosun_codec_subject_json("n.command.ping", "", 0);
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "message"), "method")),
                        "");
    json_decref(j);
}

int main(void)
{
    struct CMUnitTest tests[] = {
        cmocka_unit_test(test_type_table),
        cmocka_unit_test(test_json_heartbeat),
        cmocka_unit_test(test_json_ack_bytes),
        cmocka_unit_test(test_json_state_change),
        cmocka_unit_test(test_json_u64),
        cmocka_unit_test(test_json_errors),
        cmocka_unit_test(test_json_field_kinds),
        cmocka_unit_test(test_decode_truncated),
        cmocka_unit_test(test_decode_random),
        cmocka_unit_test(test_decode_limits),
        cmocka_unit_test(test_decode_field_zero_tag),
        cmocka_unit_test(test_type_for_subject),
        cmocka_unit_test(test_subject_json),
        /* one round trip per message type; names and states are set below */
        cmocka_unit_test(test_roundtrip), cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_roundtrip), cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_roundtrip), cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_roundtrip), cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_roundtrip), cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_roundtrip), cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_roundtrip), cmocka_unit_test(test_roundtrip),
    };
    size_t first = ARRAY_LEN(tests) - ARRAY_LEN(sample_types);
    char names[ARRAY_LEN(sample_types)][48];
    for (size_t i = 0; i < ARRAY_LEN(sample_types); i++) {
        if (tests[first + i].test_func != test_roundtrip)
            return 1; /* the table above and sample_types disagree */
        snprintf(names[i], sizeof names[i], "test_roundtrip_%s", sample_types[i].d->short_name);
        tests[first + i].name = names[i];
        tests[first + i].initial_state = (void *)(uintptr_t)i;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
