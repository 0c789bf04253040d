/*
 * fuzz_election_packet.c - libFuzzer target: ElectionPackets after
 * decryption, as agent/elector.c hands them on: decode, seal_validate, then
 * election_on_packet on a small election core (agent/election.c) with a fake
 * clock.
 *
 * The input is a sequence of records, so one input can drive the core
 * through several packets and timer expiries:
 *   u8 step      the clock advances step * 50 ms, then timers run
 *   u16 len      big-endian, then len bytes of ElectionPacket
 * Each packet the core asks to send must pass seal_validate itself.
 */
#include <string.h>

#include "codec.h"
#include "election.h"
#include "fuzz_util.h"
#include "seal.h"

/* Wall time of the fake clock at mono 0; the seeds' send times match it. */
#define FUZZ_WALL0 1800000000000ull

static uint64_t next_random(void *arg)
{
    uint64_t *s = arg;
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Runs what the core asked for: a send is built and checked. */
static void act(election_t *e, election_now_t now, election_actions_t *a)
{
    if (a->send) {
        Bosun__ElectionPacket p = BOSUN__ELECTION_PACKET__INIT;
        election_packet(e, now, &p);
        if (seal_validate(&p) != SEAL_OK)
            fuzz_fail("the core built a packet seal_validate rejects");
    }
    election_actions_clear(a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const election_resource_t res[2] = {{"res01", 100, false}, {"res02", 50, true}};
    uint64_t rng = 88172645463325252ull;
    election_config_t cfg;
    election_config_defaults(&cfg);
    cfg.node = "node01";
    cfg.instance_id = 0xabcdef;
    cfg.resources = res;
    cfg.n_resources = 2;
    cfg.tx_interval_ms = 1000;
    cfg.transition_wait_ms = 3000;
    cfg.token_start = 1000000;
    cfg.token_end = 2000000;
    cfg.random = next_random;
    cfg.random_arg = &rng;

    election_t *e = NULL;
    if (election_new(&cfg, &e) != BOSUN_OK)
        fuzz_fail("election_new");
    election_actions_t a;
    election_actions_init(&a);
    election_now_t now = {.mono_ms = 0, .wall_ms = FUZZ_WALL0};
    election_start(e, now, &a);
    act(e, now, &a);

    size_t off = 0;
    while (size - off >= 3) {
        uint64_t step = (uint64_t)data[off] * 50;
        size_t len = ((size_t)data[off + 1] << 8) | data[off + 2];
        off += 3;
        if (len > size - off)
            len = size - off;
        now.mono_ms += step;
        now.wall_ms += step;
        if (election_next_deadline(e) <= now.mono_ms) {
            election_on_timer(e, now, &a);
            act(e, now, &a);
        }
        /* As seal_open decodes the inner packet: at most one datagram's worth. */
        ProtobufCMessage *m = NULL;
        bosun_err_t err;
        bool ok = bosun_codec_decode(&bosun__election_packet__descriptor, data + off, len,
                                     SEAL_MAX_DATAGRAM, &m, &err) == BOSUN_OK;
        off += len;
        if (!ok)
            continue;
        Bosun__ElectionPacket *p = (Bosun__ElectionPacket *)m;
        if (seal_validate(p) == SEAL_OK) {
            (void)election_on_packet(e, p, now, &a);
            act(e, now, &a);
        }
        bosun__election_packet__free_unpacked(p, NULL);
    }
    now.mono_ms += 60000;
    now.wall_ms += 60000;
    election_on_timer(e, now, &a);
    act(e, now, &a);
    election_stop(e, now, &a);
    act(e, now, &a);
    election_actions_free(&a);
    election_free(e);
    return 0;
}
