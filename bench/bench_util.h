/*
 * bench_util.h - what the C benchmarks in bench/ share: clocks, latency
 * samples with nearest-rank percentiles, medians over runs, a process's CPU
 * time, and the machine and software lines every benchmark prints.
 */
#ifndef BOSUN_BENCH_UTIL_H
#define BOSUN_BENCH_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* CLOCK_MONOTONIC in microseconds. */
uint64_t bench_mono_us(void);

/* CLOCK_REALTIME in microseconds: the clock bosun stamps its records with. */
uint64_t bench_wall_us(void);

/* A growable array of samples (microseconds, milliseconds: the caller's unit). */
typedef struct {
    uint32_t *v;
    size_t n, cap;
} bench_samples_t;

/* Appends v (clamped to UINT32_MAX); false when out of memory. */
bool bench_samples_add(bench_samples_t *s, uint64_t v);

/* Sorts s; bench_percentile needs it sorted. */
void bench_samples_sort(bench_samples_t *s);

/* Nearest-rank percentile of a sorted, non-empty s (q in 0..1]. */
uint32_t bench_percentile(const bench_samples_t *s, double q);

/*
 * Sorts s and prints "label: n=N p50=.. p90=.. p99=.. max=.. mean=.. (unit)".
 * s must not be empty.
 */
void bench_samples_print(const char *label, bench_samples_t *s, const char *unit);

/* Frees the samples; s is empty afterwards. */
void bench_samples_free(bench_samples_t *s);

/* The median of v[0..n) (sorts v); 0 when n is 0. */
double bench_median(double *v, size_t n);

/* utime + stime of pid in seconds, from /proc/PID/stat; -1 if unreadable. */
double bench_cpu_secs(pid_t pid);

/*
 * CPU seconds the whole machine has spent busy (all but idle and iowait)
 * and in total, summed over all cores, from /proc/stat; -1 if unreadable.
 * The difference of two readings shows how busy the machine was meanwhile,
 * including processes that are not part of the benchmark.
 */
int bench_machine_cpu(double *busy_secs, double *total_secs);

/* The "model name" of /proc/cpuinfo into buf ("unknown" if none). */
void bench_cpu_model(char *buf, size_t len);

/* The first line of `nats-server --version` into buf ("unknown" if none). */
void bench_natsd_version(char *buf, size_t len);

/* Prints "machine: cpu=\"...\" cores=N kernel=..." on stdout. */
void bench_print_machine(void);

/* Parses a whole decimal s into *out if it lies in [lo, hi]; false otherwise. */
bool bench_parse_long(const char *s, long lo, long hi, long *out);

/* Today's date and time ("2026-11-25 13:15:24 UTC") into buf. */
void bench_date(char *buf, size_t len);

#endif
