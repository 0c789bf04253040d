/*
 * history.h - what a chaos run saw, as plain records (Jepsen-style): the
 * messages submitted and what central's store says of each, every execution
 * traced on every agent and every row of the agents' ledgers, every election
 * transition, each process lifetime, every fault with its times, and the
 * events an independent observer saw next to those central's recorder holds.
 *
 * The runner (chaos_main.c, collect.c) fills it; the checker (check.c) reads
 * it without any I/O, so unit tests build histories by hand. All times are
 * wall-clock milliseconds of one machine clock, shared by every process.
 * Nodes are indexes 0..n_nodes-1 ("n1".."n5"), resources 0..n_res-1.
 */
#ifndef BOSUN_CHAOS_HISTORY_H
#define BOSUN_CHAOS_HISTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HIST_TOKEN_MAX 24
#define HIST_ID_MAX 48
#define HIST_TEXT_MAX 200
#define HIST_MAX_NODES 8
#define HIST_MAX_RES 4

/* Election states; the values of agent/election.h. */
enum { HIST_NONE = 0, HIST_IDLE = 1, HIST_GOING_ACTIVE = 2, HIST_ACTIVE = 3 };

/* Final statuses; the values of bosun.AckStatus (proto/bosun.proto). */
enum {
    HIST_PENDING = 0, /* no final result (UNSPECIFIED) */
    HIST_OK = 1,
    HIST_FAILED = 2,
    HIST_RUNNING = 3,
    HIST_REJECTED = 4,
    HIST_EXPIRED = 5,
    HIST_INTERRUPTED = 6,
    HIST_TIMEOUT = 7,
    HIST_BUSY = 8,
};
const char *hist_status_str(int status);
const char *hist_state_str(int state);

/* Methods the workload uses. */
typedef enum { HIST_SHELL = 0, HIST_TEXT = 1 } hist_method_t;

/* One message the runner appended to inmsg.txt (one per target node). */
typedef struct {
    char token[HIST_TOKEN_MAX];
    int node;
    hist_method_t method;
    int64_t written_ms;
    int64_t ttl_ms;          /* 0: central's default */
    bool node_down;          /* the target was down or cut when written */
} hist_submit_t;

/* One message in central's store, with its final result. */
typedef struct {
    char id[HIST_ID_MAX];
    uint64_t seq;            /* accept order */
    int node;                /* -1: not one of ours */
    char token[HIST_TOKEN_MAX];
    hist_method_t method;
    int64_t accepted_ms;
    int64_t finished_ms;     /* 0 while pending */
    int status;              /* HIST_PENDING until final */
    bool has_ack;            /* the agent answered; false: central gave up by itself */
    uint32_t attempts;
    char error[HIST_TEXT_MAX];
    int log_lines;           /* lines for this id in messages.ndjson */
    int log_conflicts;       /* of those, lines whose status differs from the store's */
} hist_msg_t;

/* One line of a node's execution trace, in file order ('S' start, 'E' end
 * of a shellCommand, 'T' a textLogging line). */
typedef struct {
    int node;
    char phase;
    char token[HIST_TOKEN_MAX];
} hist_exec_t;

/* One row of a node's ledger (agent/ledger.c), the agent's own record. */
typedef struct {
    int node;
    char id[HIST_ID_MAX];
    int64_t claimed_ms;
    int64_t started_ms;      /* 0: never started */
    int64_t finished_ms;     /* 0: not finished */
    int status;              /* status of the stored Ack; HIST_PENDING if none */
} hist_ledger_t;

/* One election transition from an agent's log. */
typedef struct {
    int node;
    int res;
    int64_t ms;
    int from, to;
} hist_trans_t;

/* One run of an agent process: from its start to its end (the kill, or the
 * moment its exit was seen). end_ms 0: still running at the end. */
typedef struct {
    int node;
    int64_t start_ms;
    int64_t end_ms;
} hist_life_t;

typedef enum {
    FAULT_AGENT_KILL,    /* SIGKILL, restarted after the fault's duration */
    FAULT_AGENT_TERM,    /* SIGTERM, restarted after the duration */
    FAULT_CENTRAL_KILL,  /* SIGKILL */
    FAULT_NATS_KILL,     /* SIGKILL of one NATS server */
    FAULT_NATS_TERM,     /* SIGTERM of one NATS server */
    FAULT_CUT,           /* the host's bridge port down */
    FAULT_LOSS,          /* percent of the host's frames dropped at the bridge */
    FAULT_KINDS
} fault_kind_t;
const char *fault_kind_str(fault_kind_t k);

/* Which host a fault hits. */
typedef enum { HOST_AGENT, HOST_NATS, HOST_CENTRAL, HOST_OBSERVER } host_role_t;

/* "n1", "nats s2", "central", "observer" into buf; returns buf. */
const char *hist_host_name(host_role_t role, int index, char *buf, size_t len);

/* One fault as it happened: start_ms when it was applied (before the
 * command), end_ms when it was undone (after the restart or heal command
 * returned). */
typedef struct {
    fault_kind_t kind;
    host_role_t role;
    int index;               /* node, NATS server or 0 */
    int percent;             /* FAULT_LOSS */
    int64_t start_ms, end_ms;
} hist_fault_t;

/* One event on *.event.>: key is a hash of its subject and decoded payload
 * (bosun_codec_subject_json, receive time left out). */
typedef struct {
    uint64_t key;
    int64_t ms;              /* when the observer received it */
    char subject[64];
} hist_event_t;

/* Something the runner itself saw go wrong (a process that died by itself,
 * a stop that was not clean). Always a violation. */
typedef struct {
    int64_t ms;
    char text[HIST_TEXT_MAX];
} hist_anomaly_t;

#define HIST_ARRAY(T, name) \
    T *name;                \
    size_t n_##name, cap_##name

typedef struct {
    int n_nodes, n_res;
    HIST_ARRAY(hist_submit_t, submits);
    HIST_ARRAY(hist_msg_t, msgs);
    HIST_ARRAY(hist_exec_t, execs);
    HIST_ARRAY(hist_ledger_t, ledger);
    HIST_ARRAY(hist_trans_t, trans);
    HIST_ARRAY(hist_life_t, lives);
    HIST_ARRAY(hist_fault_t, faults);
    HIST_ARRAY(hist_event_t, observed);
    HIST_ARRAY(hist_event_t, recorded);  /* the events in the recorder's files (ms: central's receive time) */
    HIST_ARRAY(hist_anomaly_t, anomalies);
    int64_t central_start_ms;    /* central's first start (restarts are in faults) */
    int64_t central_last_start_ms; /* the start of central's last run, which ended cleanly */
    int64_t run_start_ms;    /* faults and workload start */
    int64_t run_end_ms;      /* the quiet phase ended; clean stops begin */
    int64_t final_stop_ms;   /* central got its final SIGTERM */
    bool recorder_stop_seen; /* central's log has the recorder's stop line */
    uint64_t recorder_dropped;   /* what that line says was dropped */
    uint64_t recorder_written;   /* and written, in that last run */
} history_t;

void history_init(history_t *h, int n_nodes, int n_res);
void history_free(history_t *h);

/* Each add copies *x; returns a pointer to the stored copy, or NULL when out
 * of memory (the caller treats it as fatal). */
hist_submit_t *history_add_submit(history_t *h, const hist_submit_t *x);
hist_msg_t *history_add_msg(history_t *h, const hist_msg_t *x);
hist_exec_t *history_add_exec(history_t *h, const hist_exec_t *x);
hist_ledger_t *history_add_ledger(history_t *h, const hist_ledger_t *x);
hist_trans_t *history_add_trans(history_t *h, const hist_trans_t *x);
hist_life_t *history_add_life(history_t *h, const hist_life_t *x);
hist_fault_t *history_add_fault(history_t *h, const hist_fault_t *x);
hist_event_t *history_add_observed(history_t *h, const hist_event_t *x);
hist_event_t *history_add_recorded(history_t *h, const hist_event_t *x);
void history_anomaly(history_t *h, int64_t ms, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* The store's message for (node, token), or NULL. Linear; for reports. */
const hist_msg_t *history_find_msg(const history_t *h, int node, const char *token);

/* 64-bit FNV-1a of len bytes, continuing from h (start with HIST_HASH_INIT). */
#define HIST_HASH_INIT 0xcbf29ce484222325ull
uint64_t hist_hash(uint64_t h, const void *data, size_t len);

#endif
