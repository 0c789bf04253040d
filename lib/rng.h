/*
 * rng.h - a small, fast, non-cryptographic random number generator
 * (xorshift64*, Vigna) for jitter, election tokens and loss simulation.
 * Each user owns its state (seed it from libsodium's randombytes_buf);
 * secrets never come from here.
 */
#ifndef BOSUN_RNG_H
#define BOSUN_RNG_H

#include <stdint.h>

/* Seeds *state from libsodium (never 0). */
void bosun_rng_seed(uint64_t *state);

/* The next number; arg is a uint64_t * state, so it fits callbacks. */
uint64_t bosun_rng_next(void *state);

#endif
