/* bench_util.c - helpers shared by the C benchmarks (see bench_util.h). */
#include "bench_util.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

static uint64_t clock_us(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t bench_mono_us(void)
{
    return clock_us(CLOCK_MONOTONIC);
}

uint64_t bench_wall_us(void)
{
    return clock_us(CLOCK_REALTIME);
}

bool bench_samples_add(bench_samples_t *s, uint64_t v)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16384;
        uint32_t *grown = realloc(s->v, cap * sizeof *grown);
        if (grown == NULL)
            return false;
        s->v = grown;
        s->cap = cap;
    }
    s->v[s->n++] = v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
    return true;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

void bench_samples_sort(bench_samples_t *s)
{
    if (s->n > 0)
        qsort(s->v, s->n, sizeof s->v[0], cmp_u32);
}

uint32_t bench_percentile(const bench_samples_t *s, double q)
{
    size_t rank = (size_t)(q * (double)s->n + 0.999999);
    if (rank < 1)
        rank = 1;
    if (rank > s->n)
        rank = s->n;
    return s->v[rank - 1];
}

void bench_samples_print(const char *label, bench_samples_t *s, const char *unit)
{
    bench_samples_sort(s);
    double sum = 0;
    for (size_t i = 0; i < s->n; i++)
        sum += s->v[i];
    printf("%s: n=%zu p50=%" PRIu32 " p90=%" PRIu32 " p99=%" PRIu32 " max=%" PRIu32
           " mean=%.0f (%s)\n",
           label, s->n, bench_percentile(s, 0.50), bench_percentile(s, 0.90),
           bench_percentile(s, 0.99), s->v[s->n - 1], sum / (double)s->n, unit);
}

void bench_samples_free(bench_samples_t *s)
{
    free(s->v);
    *s = (bench_samples_t){0};
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double bench_median(double *v, size_t n)
{
    if (n == 0)
        return 0;
    qsort(v, n, sizeof v[0], cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double bench_cpu_secs(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* Fields after the command name, which may hold spaces: state is 3rd,
     * utime the 14th and stime the 15th field of the line. */
    const char *p = strrchr(buf, ')');
    unsigned long long ut, st;
    if (p == NULL ||
        sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

int bench_machine_cpu(double *busy_secs, double *total_secs)
{
    FILE *f = fopen("/proc/stat", "re");
    if (f == NULL)
        return -1;
    unsigned long long v[8] = {0};
    int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
                   &v[4], &v[5], &v[6], &v[7]);
    fclose(f);
    if (n < 5)
        return -1;
    /* user nice system idle iowait irq softirq steal */
    unsigned long long total = 0;
    for (int i = 0; i < 8; i++)
        total += v[i];
    double hz = (double)sysconf(_SC_CLK_TCK);
    *total_secs = (double)total / hz;
    *busy_secs = (double)(total - v[3] - v[4]) / hz;
    return 0;
}

void bench_cpu_model(char *buf, size_t len)
{
    snprintf(buf, len, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "re");
    if (f == NULL)
        return;
    char line[512];
    while (fgets(line, sizeof line, f) != NULL) {
        char *colon = strchr(line, ':');
        if (strncmp(line, "model name", 10) == 0 && colon != NULL) {
            colon += strspn(colon + 1, " \t") + 1;
            colon[strcspn(colon, "\n")] = '\0';
            snprintf(buf, len, "%s", colon);
            break;
        }
    }
    fclose(f);
}

void bench_natsd_version(char *buf, size_t len)
{
    char *argv[] = {BOSUN_NATS_SERVER, "--version", NULL};
    char *out = NULL;
    int code = -1;
    snprintf(buf, len, "unknown");
    if (harness_run(argv, 5000, &out, &code) == 0 && code == 0 && out != NULL) {
        out[strcspn(out, "\n")] = '\0';
        snprintf(buf, len, "%s", out);
    }
    free(out);
}

void bench_print_machine(void)
{
    char model[256];
    struct utsname u;
    bench_cpu_model(model, sizeof model);
    if (uname(&u) != 0)
        snprintf(u.release, sizeof u.release, "unknown");
    printf("machine: cpu=\"%s\" cores=%ld kernel=%s\n", model, sysconf(_SC_NPROCESSORS_ONLN),
           u.release);
}

void bench_date(char *buf, size_t len)
{
    time_t now = time(NULL);
    struct tm tm;
    if (localtime_r(&now, &tm) == NULL || strftime(buf, len, "%Y-%m-%d %H:%M:%S %Z", &tm) == 0)
        snprintf(buf, len, "unknown");
}

bool bench_parse_long(const char *s, long lo, long hi, long *out)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}
