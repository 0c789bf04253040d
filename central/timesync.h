/*
 * timesync.h - a node's clock offset and round trip from `ping` exchanges,
 * as NTP computes them. No I/O: central's loop sends the pings and feeds
 * the four timestamps here.
 *
 * Sign convention: offset = node clock - central clock. A node whose clock
 * is 250 ms ahead of central's has offset +250000 us; add the offset to a
 * central time to get the node's reading, subtract it from a node's time
 * stamp to put it on central's clock. (The NoPE seed applied its
 * correction with the opposite sign.)
 *
 * One exchange, all times in microseconds:
 *   t0  central's wall clock when it sent the ping
 *   t1  the node's wall clock when the ping arrived   (Ack.recv_time_us)
 *   t2  the node's wall clock when it sent the Ack    (Ack.reply_time_us)
 *   t3  central's wall clock when the Ack arrived
 *
 *   offset = ((t1 - t0) + (t2 - t3)) / 2
 *   rtt    = (t3 - t0) - (t2 - t1)       (network time, without the node's)
 *
 * With one-way delays d_out and d_back, offset is off by (d_out - d_back)/2,
 * which is at most rtt/2 in size; so the sample with the smallest rtt is
 * the most trustworthy. The filter keeps the last TIMESYNC_FILTER_SIZE
 * samples and answers with the one of least rtt (NTP's clock filter). When
 * a new sample's interval [offset - rtt/2, offset + rtt/2] does not overlap
 * the chosen one's, the true offset cannot lie in both: the node's clock
 * was stepped, and the older samples are dropped.
 */
#ifndef BOSUN_CENTRAL_TIMESYNC_H
#define BOSUN_CENTRAL_TIMESYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "status.h"

#define TIMESYNC_FILTER_SIZE 8

typedef struct {
    int64_t offset_us; /* node clock - central clock */
    uint64_t rtt_us;
    uint64_t t3_us;    /* when it was taken, on central's clock */
} timesync_sample_t;

typedef struct {
    timesync_sample_t s[TIMESYNC_FILTER_SIZE];
    size_t n;    /* samples held, up to TIMESYNC_FILTER_SIZE */
    size_t next; /* where the next one goes */
} timesync_filter_t;

/*
 * Computes one sample from an exchange. Returns BOSUN_ERR_INVALID (and
 * leaves *out alone) when the times cannot come from one exchange: t3
 * before t0, t2 before t1, a zero node time, or the node taking longer
 * than the whole round trip.
 */
bosun_status_t timesync_sample(uint64_t t0, uint64_t t1, uint64_t t2, uint64_t t3,
                               timesync_sample_t *out);

/* Empties f. */
void timesync_filter_init(timesync_filter_t *f);

/*
 * Adds s to f and stores the current estimate in *best (may be NULL).
 * Returns true when s showed the node's clock had stepped and the older
 * samples were dropped.
 */
bool timesync_filter_add(timesync_filter_t *f, const timesync_sample_t *s, timesync_sample_t *best);

/* The sample of least rtt (the most recent of equals); false when empty. */
bool timesync_filter_best(const timesync_filter_t *f, timesync_sample_t *best);

/*
 * Tracks whether |offset_us| exceeds warn_ms. Returns +1 when it just
 * crossed above the bound, -1 when it just came back within, 0 otherwise,
 * and keeps the state in *over.
 */
int timesync_check_bound(bool *over, int64_t offset_us, double warn_ms);

#endif
