/*
 * fuzz_heartbeat.c - libFuzzer target: a Heartbeat as central receives it on
 * <node>.event.heartbeat: bosun_codec_decode, the JSON rendering and its
 * read-back, then the fleet table and the ownership view that consume it
 * (central/fleet.c, central/ownership.c), twice and with a liveness check.
 */
#include "codec.h"
#include "config.h"
#include "fleet.h"
#include "fuzz_util.h"
#include "name.h"
#include "ownership.h"

static bosun_central_config_t cfg;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (bosun_central_config_init(&cfg) != BOSUN_OK)
        fuzz_fail("bosun_central_config_init");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Bosun__Heartbeat *hb =
        (Bosun__Heartbeat *)fuzz_codec_roundtrip(&bosun__heartbeat__descriptor, data, size);
    if (hb == NULL)
        return 0;
    /* central/telemetry.c accepts only heartbeats whose node is a valid name. */
    if (bosun_name_valid(hb->node)) {
        fleet_now_t now = {.mono_ms = 1000000, .wall_ms = 1800000000000ull};
        fleet_t *fleet = NULL;
        ownership_t *own = NULL;
        fleet_actions_t fa;
        ownership_actions_t oa;
        fleet_actions_init(&fa);
        ownership_actions_init(&oa);
        if (fleet_new(&cfg.liveness, &cfg.time_sync, NULL, 0, now, &fleet) != BOSUN_OK ||
            ownership_new(&own) != BOSUN_OK)
            fuzz_fail("fleet_new / ownership_new");
        for (int i = 0; i < 2; i++) {
            if (fleet_on_heartbeat(fleet, hb, now, &fa) == FLEET_HB_APPLIED)
                ownership_on_heartbeat(own, hb, now);
            now.mono_ms += 1500;
            now.wall_ms += 1500;
            fleet_check(fleet, now, &fa);
            ownership_check(own, now, &oa);
        }
        ownership_actions_free(&oa);
        fleet_actions_free(&fa);
        ownership_free(own);
        fleet_free(fleet);
    }
    bosun__heartbeat__free_unpacked(hb, NULL);
    return 0;
}
