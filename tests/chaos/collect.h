/*
 * collect.h - reads what a finished chaos run left on disk into a history:
 * central's store (through `bosun-central results`), its message log, each
 * agent's ledger (SQLite, read-only), trace file and log (election
 * transitions), the observer's JSON lines and the recorder's files
 * (through `bosun-central replay`). Run after every process has stopped.
 *
 * Each function returns 0, or -1 with a line on stderr saying what could
 * not be read.
 */
#ifndef BOSUN_CHAOS_COLLECT_H
#define BOSUN_CHAOS_COLLECT_H

#include <stdint.h>

#include "history.h"

/* Every message in central's store with its final result; tool output goes to work_dir. */
int collect_store(const char *central_dir, const char *work_dir, history_t *h);

/* Counts each message's lines in <central_dir>/messages.ndjson (after collect_store). */
int collect_message_log(const char *central_dir, history_t *h);

/* Node's ledger rows, from <agent_dir>/agent-ledger.db. */
int collect_ledger(int node, const char *agent_dir, history_t *h);

/* Node's trace lines, from <agent_dir>/textLogging.log, in file order. */
int collect_trace(int node, const char *agent_dir, history_t *h);

/* Node's election transitions, from its log; res_ids names the resources (h->n_res of them). */
int collect_transitions(int node, const char *log_path, const char *const *res_ids, history_t *h);

/* The observer's events (a `bosun-central watch` output file). */
int collect_observer(const char *path, history_t *h);

/* The keys of every event in the recorder's files under <central_dir>/recorded. */
int collect_recorder(const char *central_dir, const char *work_dir, history_t *h);

/* The recorder's stop line in central's log at or after since_ms (the final stop). */
int collect_recorder_stop(const char *central_log, int64_t since_ms, history_t *h);

#endif
