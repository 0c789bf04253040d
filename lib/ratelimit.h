/*
 * ratelimit.h - a lock-free "at most N per second" gate for log lines.
 *
 * Hostile input must be logged with its reason, but a flood of it must not
 * flood the log: callers ask ratelimit_allow() before logging and report the
 * number suppressed in the next line that gets through.
 */
#ifndef BOSUN_RATELIMIT_H
#define BOSUN_RATELIMIT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct {
    uint32_t per_second;
    _Atomic uint64_t window;     /* current second (monotonic) */
    _Atomic uint32_t used;       /* lines allowed in this window */
    _Atomic uint64_t suppressed; /* lines refused since the last allowed one */
} ratelimit_t;

void ratelimit_init(ratelimit_t *r, uint32_t per_second);

/*
 * True if one more line may be written at now_ms (monotonic). When true,
 * *suppressed receives how many were refused since the last allowed line.
 */
bool ratelimit_allow(ratelimit_t *r, uint64_t now_ms, uint64_t *suppressed);

#endif
