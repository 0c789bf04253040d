/* ratelimit.c - per-second budget with a count of what was refused. */
#include "ratelimit.h"

void ratelimit_init(ratelimit_t *r, uint32_t per_second)
{
    r->per_second = per_second;
    atomic_init(&r->window, 0);
    atomic_init(&r->used, 0);
    atomic_init(&r->suppressed, 0);
}

bool ratelimit_allow(ratelimit_t *r, uint64_t now_ms, uint64_t *suppressed)
{
    uint64_t sec = now_ms / 1000u;
    uint64_t w = atomic_load(&r->window);
    if (w != sec && atomic_compare_exchange_strong(&r->window, &w, sec))
        atomic_store(&r->used, 0);
    if (atomic_fetch_add(&r->used, 1) >= r->per_second) {
        atomic_fetch_add(&r->suppressed, 1);
        return false;
    }
    *suppressed = atomic_exchange(&r->suppressed, 0);
    return true;
}
