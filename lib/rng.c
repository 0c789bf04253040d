/* rng.c - xorshift64*. */
#include "rng.h"

#include <sodium.h>

void bosun_rng_seed(uint64_t *state)
{
    randombytes_buf(state, sizeof *state);
    *state |= 1;
}

uint64_t bosun_rng_next(void *state)
{
    uint64_t *s = state;
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545F4914F6CDD1Dull;
}
