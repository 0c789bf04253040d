/*
 * check.h - the chaos suite's checker: reads a history (history.h) and
 * returns figures and violations. No I/O, no clock: unit tests feed it
 * hand-made histories (tests/chaos/test_chaos_check.c).
 *
 * What is checked, precisely (DESIGN.md, "Commands" and "Election"):
 *
 * Messages. A message is what central's store holds for one (node, token):
 *  - every message the runner submitted was accepted exactly once, and
 *    nothing else was accepted;
 *  - every accepted message has a final result in the store when the run
 *    ends, its line in messages.ndjson, and no line there with another
 *    status (repeated lines with the same status, written again after a
 *    central kill -9, are counted, not refused);
 *  - it ran at most once: its node's trace holds at most one start ('S' or
 *    'T') and one end ('E') of it; a trace line of a message the store does
 *    not hold for that node is a violation;
 *  - each node ran its messages in accept order: the first trace lines of
 *    its messages, in file order, have strictly increasing accept sequence.
 *    Messages that did not run (EXPIRED before delivery, refused) leave no
 *    line and are simply absent; an INTERRUPTED one counts where its start
 *    line is, if it has one; one that central gave up on after sending it
 *    (EXPIRED without an Ack: "may have run") counts where it ran, if it did;
 *  - the result tells the truth: OK means the trace has the whole run
 *    (start and end, or the text line); EXPIRED or REJECTED from the agent
 *    ("not run") means no trace line; a final status other than OK,
 *    INTERRUPTED or EXPIRED is unexpected for this workload; when the agent
 *    answered and its ledger holds a finished row, both say the same;
 *  - the agent's own record agrees: a message that ran has a ledger row that
 *    says it started, and a ledger row finished OK has a trace.
 *
 * Elections, per resource, over [run_start, run_end]. A node is ACTIVE from
 * its "-> ACTIVE" log line until its next transition or the end of its
 * process (the kill, or the exit seen). A node is cut while its bridge port
 * is down, lossy while its frames are dropped; healthy while its process
 * runs and it is neither.
 *  - Two ACTIVE nodes at a moment count as "during a partition" unless two of
 *    the ACTIVE nodes are both neither cut nor lossy ("outside"). Each
 *    maximal stretch outside must be at most one tx interval plus
 *    double_allow_ms (the time from a heal to the next bid of the better
 *    node); the total of each kind is reported.
 *  - A no-ACTIVE gap is a moment when no node outside a cut is ACTIVE while
 *    some node is healthy. Each gap must end within the design's worst
 *    case: max_missed tx intervals (the detection window on a path seen
 *    losing packets) + half an interval (skew) + transitionWait +
 *    gap_allow_ms. The longest is reported.
 *
 * Recorder. An event the observer saw is one central received unless
 * central's link to NATS may have been down then: before central's first
 * start + rec_restart_ms; within [start - rec_before_ms, end +
 * rec_restart_ms] of a central kill or a NATS server's kill or stop; within
 * [start - rec_before_ms, end + rec_after_ms] of a cut of, or loss on,
 * central's host or a NATS server's; and from rec_before_ms before
 * central's final SIGTERM. Every observed event
 * outside those windows must be in the recorder's files; inside them,
 * missing events are counted and reported (the kill -9 window: events still
 * queued in central's memory when it was killed). Central's last run, which
 * ends with a clean stop, must report 0 dropped events, and the files must
 * hold exactly as many events received in that run as its stop line says
 * it wrote (its own counter against the compressed files).
 *
 * Anything the runner flagged (hist_anomaly_t) is a violation.
 */
#ifndef BOSUN_CHAOS_CHECK_H
#define BOSUN_CHAOS_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "history.h"

typedef struct {
    int64_t tx_ms;            /* the agents' txIntervalSecs */
    int64_t tw_ms;            /* their transitionWaitSecs */
    int max_missed;           /* ceiling of the detection window, in tx intervals (12) */
    int64_t double_allow_ms;  /* added to one tx interval: scheduling and log stamps */
    int64_t gap_allow_ms;     /* added to the no-ACTIVE bound: process start, scheduling */
    int64_t rec_before_ms;    /* recorder exclusion before a fault */
    int64_t rec_after_ms;     /* and after a cut or loss ended (stalled TCP, ping timeouts) */
    int64_t rec_restart_ms;   /* and after a killed central or NATS server is back (reconnect, routes) */
} check_config_t;

/* Defaults for tx and tw (ms): max_missed 12, allowances 100 ms and 1000 ms,
 * recorder windows 1000 ms before, 8000 ms after a cut or loss and 5000 ms
 * after a restart. */
void check_config_defaults(check_config_t *c, int64_t tx_ms, int64_t tw_ms);

typedef struct {
    int64_t ms;               /* when, for ordering a report; 0 if none */
    int node;                 /* -1 if none */
    int res;                  /* -1 if none */
    char token[HIST_TOKEN_MAX];
    char text[320];
} check_violation_t;

typedef struct {
    int64_t double_partition_ms;  /* two ACTIVE, explained by a cut or loss */
    int64_t double_outside_ms;    /* two ACTIVE that could hear each other */
    int64_t longest_outside_ms;
    int64_t longest_outside_at;
    unsigned longest_outside_nodes; /* bit i: node i was one of them */
    size_t outside_stretches;
    int64_t longest_gap_ms;
    int64_t longest_gap_at;
    size_t gaps;
    size_t transitions;
    size_t activations;           /* "-> ACTIVE" lines */
} check_res_t;

typedef struct {
    /* messages */
    size_t submitted, submitted_to_down, accepted, finished;
    size_t by_status[9];
    size_t ran;                   /* messages with a trace line */
    size_t expired_by_central, expired_by_central_ran;
    size_t expired_by_agent;
    size_t interrupted_started;   /* INTERRUPTED with a start line */
    size_t repeated_log_lines;
    size_t ledger_rows, trace_lines;
    /* elections */
    check_res_t res[HIST_MAX_RES];
    int64_t double_bound_ms, gap_bound_ms;
    int64_t measured_ms;
    size_t faults[FAULT_KINDS];
    size_t agent_lives;
    /* recorder */
    size_t observed, recorded, rec_checked, rec_missing;
    size_t recorded_last_run;     /* recorded events received by central's last (clean) run */
    size_t rec_excluded, rec_excluded_missing, rec_kill_window_missing;
    /* verdict */
    check_violation_t *v;
    size_t n_v, cap_v;
    size_t v_dropped;             /* beyond CHECK_MAX_VIOLATIONS: counted only */
} check_report_t;

#define CHECK_MAX_VIOLATIONS 200

/* Checks h against cfg into *out (initialised here; free with check_report_free). */
void check_run(const history_t *h, const check_config_t *cfg, check_report_t *out);
void check_report_free(check_report_t *r);

/* True when no violation was found. */
bool check_passed(const check_report_t *r);

#endif
