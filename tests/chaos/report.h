/*
 * report.h - what a chaos run prints: its settings and figures, the
 * violations with the part of the history each one concerns, and the whole
 * history as a text file (one line per record, in time order, then each
 * node's trace in file order).
 */
#ifndef BOSUN_CHAOS_REPORT_H
#define BOSUN_CHAOS_REPORT_H

#include <stdint.h>
#include <stdio.h>

#include "check.h"
#include "history.h"

typedef struct {
    uint64_t seed;
    int duration_s;
    double rate;                /* messages per second */
    double tx, tw;              /* agents' txIntervalSecs, transitionWaitSecs */
    bool retries;               /* the workload uses limited retries (--retries) */
    const char *const *res_ids; /* h->n_res names */
} report_settings_t;

/* The replay command line for s (into buf). */
void report_replay_cmd(const report_settings_t *s, char *buf, size_t len);

/* Settings, counts and figures. */
void report_figures(FILE *out, const report_settings_t *s, const history_t *h, const check_report_t *r);

/* Each violation with the history lines of its message, node or resource. */
void report_violations(FILE *out, const report_settings_t *s, const history_t *h, const check_report_t *r);

/* Writes the whole history to path; 0 or -1. */
int report_write_history(const char *path, const report_settings_t *s, const history_t *h);

#endif
