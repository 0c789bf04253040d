/*
 * hoststat.h - what the agent reports about its machine in each heartbeat.
 *
 * Reads /proc and uname: hostname, OS, cores, CPU model and usage, load,
 * memory, boot time, and the agent's own resident memory. The static parts
 * are read once; CPU usage is the busy share between two samples.
 */
#ifndef BOSUN_AGENT_HOSTSTAT_H
#define BOSUN_AGENT_HOSTSTAT_H

#include <stdint.h>

#include "bosun.pb-c.h"

typedef struct {
    char hostname[256];
    char os[128];
    char cpu_model[128];
    uint32_t cores;
    uint64_t boot_time_ms;
    uint64_t prev_busy;   /* jiffies at the previous sample */
    uint64_t prev_total;
} hoststat_t;

/* Reads the static facts and takes the first CPU sample. */
void hoststat_init(hoststat_t *h);

/*
 * Fills *out (an initialised Bosun__HostStatus) with a fresh sample. String
 * fields point into *h (borrowed), so *h must outlive *out's use.
 */
void hoststat_sample(hoststat_t *h, Bosun__HostStatus *out);

#endif
