/*
 * sim_main.c - election_sim: runs the election simulator from the command line.
 *
 *   election_sim --seed N [--verbose]          one scenario (--verbose: every event)
 *   election_sim --scenarios K --first-seed S  K scenarios, seeds S..S+K-1
 *   options: --nodes N --resources R --duration-ms D (else drawn from the seed),
 *            --clock-step-ms S (a restarted node's clock may step by +-S; 300)
 *
 * Prints the figures (failover in tx intervals, double-ACTIVE time by cause)
 * and, for each failing seed, the scenario and the events before the first
 * violation. Exits 1 when any scenario fails, 2 on a usage error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sim.h"

#define MAX_DETAILED 3

static void usage(void)
{
    fprintf(stderr, "usage: election_sim (--seed N [--verbose] | --scenarios K [--first-seed S])\n"
                    "                    [--nodes N] [--resources R] [--duration-ms D]\n"
                    "                    [--clock-step-ms S]\n");
    exit(2);
}

static unsigned long long number(const char *s)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (*s == '\0' || *end != '\0')
        usage();
    return v;
}

static void print_figures(const sim_result_t *t, double secs)
{
    printf("scenarios %u, failures %u (violations %u), %.1f s\n", t->scenarios, t->failures,
           t->violations, secs);
    printf("transitions %llu; packets sent %llu, delivered %llu, lost %llu\n",
           (unsigned long long)t->transitions, (unsigned long long)t->packets_sent,
           (unsigned long long)t->packets_delivered, (unsigned long long)t->packets_lost);
    printf("failover after a crash of the only ACTIVE: max %.2f tx in clean scenarios, %.2f tx "
           "in all (seed %llu), mean %.2f tx over %u\n",
           t->max_failover_clean_tx, t->max_failover_tx, (unsigned long long)t->seed_max_failover,
           t->n_failover ? t->sum_failover_tx / t->n_failover : 0.0, t->n_failover);
    printf("handover after a clean stop: max %.2f tx where checked, %.2f tx in all (seed %llu), "
           "mean %.2f tx over %u; longest checked gap %.2f tx\n",
           t->max_handover_clean_tx, t->max_handover_tx, (unsigned long long)t->seed_max_handover,
           t->n_handover ? t->sum_handover_tx / t->n_handover : 0.0, t->n_handover, t->max_gap_tx);
    printf("double-ACTIVE ms: clean %llu, during partitions %llu, after heals %llu (max %.2f tx), "
           "after loss %llu, slow network %llu\n",
           (unsigned long long)t->dbl_clean_ms, (unsigned long long)t->dbl_partition_ms,
           (unsigned long long)t->dbl_heal_ms, t->max_heal_tx, (unsigned long long)t->dbl_lossy_ms,
           (unsigned long long)t->dbl_slow_ms);
}

int main(int argc, char **argv)
{
    sim_opts_t o = {0};
    unsigned long long seed = 0, scenarios = 0, first = 1;
    bool have_seed = false, verbose = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--verbose") == 0) {
            verbose = true;
            continue;
        }
        if (i + 1 >= argc)
            usage();
        unsigned long long v = number(argv[++i]);
        if (strcmp(a, "--seed") == 0) {
            seed = v;
            have_seed = true;
        } else if (strcmp(a, "--scenarios") == 0) {
            scenarios = v;
        } else if (strcmp(a, "--first-seed") == 0) {
            first = v;
        } else if (strcmp(a, "--nodes") == 0 && v >= 1 && v <= SIM_MAX_NODES) {
            o.nodes = (unsigned)v;
        } else if (strcmp(a, "--resources") == 0 && v >= 1 && v <= SIM_MAX_RES) {
            o.resources = (unsigned)v;
        } else if (strcmp(a, "--duration-ms") == 0 && v > 0) {
            o.duration_ms = v;
        } else if (strcmp(a, "--clock-step-ms") == 0 && v > 0 && v < 100000) {
            o.clock_step_ms = v;
        } else {
            usage();
        }
    }
    if (have_seed == (scenarios > 0))
        usage();

    sim_scenario_t sc;
    sim_result_t total = {0}, one;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (have_seed) {
        sim_scenario_random(seed, &o, &sc);
        sim_scenario_print(&sc, stdout);
        sim_run(&sc, verbose ? stdout : NULL, &one);
        sim_result_add(&total, &one);
        if (one.violations > 0 && verbose)
            printf("FAILED seed %llu: %s\n", seed, one.first_violation);
        else if (one.violations > 0)
            sim_print_failure(&sc, 60, stdout);
    } else {
        for (unsigned long long k = 0; k < scenarios; k++) {
            sim_scenario_random(first + k, &o, &sc);
            sim_run(&sc, NULL, &one);
            sim_result_add(&total, &one);
            if (one.violations == 0)
                continue;
            if (total.failures <= MAX_DETAILED)
                sim_print_failure(&sc, 60, stdout);
            else
                printf("FAILED seed %llu: %s\n", first + k, one.first_violation);
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    print_figures(&total, (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    return total.failures > 0 ? 1 : 0;
}
