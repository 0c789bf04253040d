/* hoststat.c - host facts from /proc for the heartbeat. */
#include "hoststat.h"

#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"

/* Copies the value of `key: value` lines (cpuinfo) or KEY="value" (os-release). */
static void read_keyed(const char *path, const char *key, char sep, char *out, size_t len)
{
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return;
    char line[512];
    size_t klen = strlen(key);
    while (fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, key, klen) != 0)
            continue;
        char *v = strchr(line + klen, sep);
        if (v == NULL)
            continue;
        v++;
        while (*v == ' ' || *v == '\t' || *v == '"')
            v++;
        size_t n = strcspn(v, "\"\n");
        if (n >= len)
            n = len - 1;
        memcpy(out, v, n);
        out[n] = '\0';
        break;
    }
    fclose(f);
}

static void read_cpu(uint64_t *busy, uint64_t *total)
{
    unsigned long long v[10] = {0};
    FILE *f = fopen("/proc/stat", "re");
    *busy = *total = 0;
    if (f == NULL)
        return;
    int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1],
                   &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9]);
    fclose(f);
    if (n < 4)
        return;
    /* guest time (8, 9) is already counted in user and nice */
    for (int i = 0; i < 8; i++)
        *total += v[i];
    *busy = *total - v[3] - v[4]; /* minus idle and iowait */
}

static void read_meminfo(uint64_t *total, uint64_t *avail)
{
    FILE *f = fopen("/proc/meminfo", "re");
    if (f == NULL)
        return;
    char line[128];
    unsigned long long kb;
    while (fgets(line, sizeof line, f) != NULL) {
        if (sscanf(line, "MemTotal: %llu kB", &kb) == 1)
            *total = (uint64_t)kb * 1024u;
        else if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1)
            *avail = (uint64_t)kb * 1024u;
    }
    fclose(f);
}

void hoststat_init(hoststat_t *h)
{
    memset(h, 0, sizeof *h);
    if (gethostname(h->hostname, sizeof h->hostname - 1) != 0)
        strcpy(h->hostname, "unknown");

    struct utsname u;
    read_keyed("/etc/os-release", "PRETTY_NAME", '=', h->os, sizeof h->os);
    if (h->os[0] == '\0' && uname(&u) == 0)
        snprintf(h->os, sizeof h->os, "%.60s %.60s", u.sysname, u.release);

    read_keyed("/proc/cpuinfo", "model name", ':', h->cpu_model, sizeof h->cpu_model);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    h->cores = n > 0 ? (uint32_t)n : 1;

    struct timespec up;
    clock_gettime(CLOCK_BOOTTIME, &up);
    uint64_t up_ms = (uint64_t)up.tv_sec * 1000u + (uint64_t)up.tv_nsec / 1000000u;
    h->boot_time_ms = bosun_wall_ms() - up_ms;

    read_cpu(&h->prev_busy, &h->prev_total);
}

void hoststat_sample(hoststat_t *h, Bosun__HostStatus *out)
{
    out->hostname = h->hostname;
    out->os = h->os;
    out->cpu_model = h->cpu_model;
    out->cores = h->cores;
    out->host_boot_time_ms = h->boot_time_ms;

    uint64_t busy, total;
    read_cpu(&busy, &total);
    if (total > h->prev_total && busy >= h->prev_busy)
        out->cpu_usage_percent =
            100.0 * (double)(busy - h->prev_busy) / (double)(total - h->prev_total);
    h->prev_busy = busy;
    h->prev_total = total;

    FILE *f = fopen("/proc/loadavg", "re");
    if (f != NULL) {
        if (fscanf(f, "%lf %lf %lf", &out->load1, &out->load5, &out->load15) != 3)
            out->load1 = out->load5 = out->load15 = 0;
        fclose(f);
    }

    read_meminfo(&out->mem_total_bytes, &out->mem_available_bytes);

    long pages = 0, resident = 0;
    f = fopen("/proc/self/statm", "re");
    if (f != NULL) {
        if (fscanf(f, "%ld %ld", &pages, &resident) == 2)
            out->agent_rss_bytes = (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
        fclose(f);
    }
}
