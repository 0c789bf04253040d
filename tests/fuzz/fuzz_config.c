/*
 * fuzz_config.c - libFuzzer target: a config file (lib/config.c), read as
 * both an agent and a central config and, when it parses, finished (the
 * checks that span keys) as the daemons do at start.
 */
#include "config.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *json = (const char *)data;
    bosun_err_t err;

    bosun_agent_config_t ac;
    if (bosun_agent_config_init(&ac) != BOSUN_OK)
        fuzz_fail("bosun_agent_config_init");
    if (bosun_agent_config_parse(&ac, json, size, "fuzz.json", &err) == BOSUN_OK)
        (void)bosun_agent_config_finish(&ac, "fuzz.json", &err);
    bosun_agent_config_free(&ac);

    bosun_central_config_t cc;
    if (bosun_central_config_init(&cc) != BOSUN_OK)
        fuzz_fail("bosun_central_config_init");
    if (bosun_central_config_parse(&cc, json, size, "fuzz.json", &err) == BOSUN_OK)
        (void)bosun_central_config_finish(&cc, "fuzz.json", &err);
    bosun_central_config_free(&cc);
    return 0;
}
