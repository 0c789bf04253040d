/*
 * clock.h - the two clocks bosun uses.
 *
 * Monotonic time drives every timer and timeout (it never jumps); wall time is
 * what goes on the wire and into logs. Protocol cores never call these: they
 * take `now` as an argument so that tests can drive them with a fake clock.
 */
#ifndef BOSUN_CLOCK_H
#define BOSUN_CLOCK_H

#include <stdint.h>

uint64_t bosun_mono_us(void);
uint64_t bosun_mono_ms(void);
uint64_t bosun_wall_us(void);
uint64_t bosun_wall_ms(void);

/* Sleeps for ms milliseconds, resuming after signals. */
void bosun_sleep_ms(uint64_t ms);

#endif
