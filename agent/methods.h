/*
 * methods.h - the table of built-in methods an agent executes.
 *
 * Adding a method is one function and one row in methods.c. Each row says
 * whether the method serves commands, events or both, and how it runs:
 *   METHOD_INLINE   on the NATS thread, not recorded (idempotent, e.g. ping)
 *   METHOD_RECORDED on the NATS thread, recorded in the ledger (quick, not
 *                   idempotent, e.g. textLogging)
 *   METHOD_POOLED   on a pool worker, recorded (may take long: shellCommand)
 */
#ifndef BOSUN_AGENT_METHODS_H
#define BOSUN_AGENT_METHODS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bosun.pb-c.h"
#include "exec.h"

struct agent;

typedef enum { METHOD_INLINE, METHOD_RECORDED, METHOD_POOLED } method_mode_t;

/* One invocation, borrowed by the method for its duration. */
typedef struct {
    struct agent *agent;
    const char *id;
    const char *method;
    char *const *data;        /* data[0..n_data) */
    size_t n_data;
    uint64_t timeout_ms;      /* methodTimeout; 0: the agent's default */
    const atomic_bool *cancel;
} method_call_t;

/* What a method produced; method_result_free() releases the output. */
typedef struct {
    Bosun__AckStatus status;
    int exit_code;
    int term_signal;
    char error[512];
    exec_result_t exec;       /* captured output (owned) */
    uint64_t start_ms;
    uint64_t end_ms;
} method_result_t;

typedef void (*method_fn)(const method_call_t *call, method_result_t *res);

typedef struct {
    const char *name;
    method_mode_t mode;
    bool command;             /* served on <node>.command.<name> */
    bool event;               /* served on <node>.event.<name> */
    method_fn fn;
} method_t;

/* The row for name, or NULL. */
const method_t *methods_find(const char *name);

/* Writes "ping, shellCommand, ..." (names serving commands or events) into buf. */
void methods_names(bool events, char *buf, size_t len);

void method_result_free(method_result_t *res);

/* The election's methods (election_methods.c). */
void method_election_status(const method_call_t *call, method_result_t *res);
void method_election_force(const method_call_t *call, method_result_t *res);
void method_election_release(const method_call_t *call, method_result_t *res);

#endif
