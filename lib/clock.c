/* clock.c - monotonic and wall clocks in micro- and milliseconds. */
#include "clock.h"

#include <errno.h>
#include <time.h>

static uint64_t read_us(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t bosun_mono_us(void) { return read_us(CLOCK_MONOTONIC); }
uint64_t bosun_mono_ms(void) { return read_us(CLOCK_MONOTONIC) / 1000u; }
uint64_t bosun_wall_us(void) { return read_us(CLOCK_REALTIME); }
uint64_t bosun_wall_ms(void) { return read_us(CLOCK_REALTIME) / 1000u; }

void bosun_sleep_ms(uint64_t ms)
{
    struct timespec ts = {.tv_sec = (time_t)(ms / 1000u), .tv_nsec = (long)(ms % 1000u) * 1000000L};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {
    }
}
