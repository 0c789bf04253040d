/* timesync.c - NTP's on-wire arithmetic and clock filter for central's pings. */
#include "timesync.h"

#include <string.h>

bosun_status_t timesync_sample(uint64_t t0, uint64_t t1, uint64_t t2, uint64_t t3,
                               timesync_sample_t *out)
{
    if (t0 == 0 || t1 == 0 || t2 == 0 || t3 < t0 || t2 < t1 || t0 > INT64_MAX || t1 > INT64_MAX ||
        t2 > INT64_MAX || t3 > INT64_MAX)
        return BOSUN_ERR_INVALID;
    uint64_t round_trip = t3 - t0, at_node = t2 - t1;
    if (at_node > round_trip)
        return BOSUN_ERR_INVALID;
    int64_t a = (int64_t)t1 - (int64_t)t0, b = (int64_t)t2 - (int64_t)t3;
    /* Halve each term before adding, so that even absurd times cannot overflow. */
    out->offset_us = a / 2 + b / 2 + (a % 2 + b % 2) / 2;
    out->rtt_us = round_trip - at_node;
    out->t3_us = t3;
    return BOSUN_OK;
}

void timesync_filter_init(timesync_filter_t *f) { memset(f, 0, sizeof *f); }

bool timesync_filter_best(const timesync_filter_t *f, timesync_sample_t *best)
{
    if (f->n == 0)
        return false;
    const timesync_sample_t *b = NULL;
    for (size_t i = 0; i < f->n; i++) {
        const timesync_sample_t *s = &f->s[i];
        if (b == NULL || s->rtt_us < b->rtt_us || (s->rtt_us == b->rtt_us && s->t3_us > b->t3_us))
            b = s;
    }
    *best = *b;
    return true;
}

/* True when the intervals offset +- rtt/2 of a and b are disjoint. */
static bool disjoint(const timesync_sample_t *a, const timesync_sample_t *b)
{
    int64_t gap = a->offset_us - b->offset_us;
    uint64_t dist = gap < 0 ? (uint64_t)(-(gap + 1)) + 1 : (uint64_t)gap;
    return dist > a->rtt_us / 2 + b->rtt_us / 2 + 1;
}

bool timesync_filter_add(timesync_filter_t *f, const timesync_sample_t *s, timesync_sample_t *best)
{
    timesync_sample_t prev;
    bool stepped = false;
    if (timesync_filter_best(f, &prev) && disjoint(&prev, s)) {
        timesync_filter_init(f);
        stepped = true;
    }
    f->s[f->next] = *s;
    f->next = (f->next + 1) % TIMESYNC_FILTER_SIZE;
    if (f->n < TIMESYNC_FILTER_SIZE)
        f->n++;
    if (best != NULL)
        timesync_filter_best(f, best);
    return stepped;
}

int timesync_check_bound(bool *over, int64_t offset_us, double warn_ms)
{
    double off_ms = (double)offset_us / 1000.0;
    bool now_over = off_ms > warn_ms || off_ms < -warn_ms;
    if (now_over == *over)
        return 0;
    *over = now_over;
    return now_over ? 1 : -1;
}
