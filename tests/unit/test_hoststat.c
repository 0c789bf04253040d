/*
 * test_hoststat.c - host facts for the heartbeat (agent/hoststat.c), checked
 * against what the test reads itself from sysconf, /proc and the clock.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "hoststat.h"

#define Y2000_MS 946684800000ull

/* MemTotal from /proc/meminfo in bytes, 0 if unreadable. */
static uint64_t meminfo_total(void)
{
    FILE *f = fopen("/proc/meminfo", "re");
    if (f == NULL)
        return 0;
    char line[128];
    unsigned long long kb = 0;
    while (fgets(line, sizeof line, f) != NULL)
        if (sscanf(line, "MemTotal: %llu kB", &kb) == 1)
            break;
    fclose(f);
    return (uint64_t)kb * 1024u;
}

/* Spins for ms milliseconds of wall time. */
static void busy_loop(uint64_t ms)
{
    volatile uint64_t sink = 0;
    uint64_t until = bosun_mono_ms() + ms;
    while (bosun_mono_ms() < until)
        for (int i = 0; i < 10000; i++)
            sink += (uint64_t)i;
    (void)sink;
}

static void test_static_facts(void **state)
{
    (void)state;
    hoststat_t h;
    hoststat_init(&h);
    Bosun__HostStatus hs;
    bosun__host_status__init(&hs);
    hoststat_sample(&h, &hs);

    char name[256] = "";
    assert_int_equal(gethostname(name, sizeof name - 1), 0);
    assert_string_equal(hs.hostname, name);
    assert_true(hs.os[0] != '\0');
    assert_int_equal(hs.cores, (uint32_t)sysconf(_SC_NPROCESSORS_ONLN));

    uint64_t now = bosun_wall_ms();
    assert_true(hs.host_boot_time_ms > Y2000_MS);
    assert_true(hs.host_boot_time_ms < now);
    /* Stable between samples (it is read once). */
    Bosun__HostStatus again;
    bosun__host_status__init(&again);
    hoststat_sample(&h, &again);
    assert_true(again.host_boot_time_ms == hs.host_boot_time_ms);
}

static void test_memory_and_rss(void **state)
{
    (void)state;
    hoststat_t h;
    hoststat_init(&h);
    Bosun__HostStatus hs;
    bosun__host_status__init(&hs);
    hoststat_sample(&h, &hs);

    uint64_t total = meminfo_total();
    assert_true(total > 0);
    assert_true(hs.mem_total_bytes == total);
    assert_true(hs.mem_available_bytes > 0);
    assert_true(hs.mem_available_bytes <= hs.mem_total_bytes);
    assert_true(hs.agent_rss_bytes > 0);
    assert_true(hs.agent_rss_bytes < hs.mem_total_bytes);
    assert_true(hs.load1 >= 0.0 && hs.load5 >= 0.0 && hs.load15 >= 0.0);
}

static void test_cpu_usage_after_busy_loop(void **state)
{
    (void)state;
    hoststat_t h;
    hoststat_init(&h);
    busy_loop(250);
    Bosun__HostStatus hs;
    bosun__host_status__init(&hs);
    hoststat_sample(&h, &hs);
    assert_true(hs.cpu_usage_percent > 0.0);
    assert_true(hs.cpu_usage_percent <= 100.0);

    /* A second sample covers only the time since the first. */
    busy_loop(250);
    Bosun__HostStatus next;
    bosun__host_status__init(&next);
    hoststat_sample(&h, &next);
    assert_true(next.cpu_usage_percent > 0.0);
    assert_true(next.cpu_usage_percent <= 100.0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_static_facts),
        cmocka_unit_test(test_memory_and_rss),
        cmocka_unit_test(test_cpu_usage_after_busy_loop),
    };
    return cmocka_run_group_tests_name("hoststat", tests, NULL, NULL);
}
