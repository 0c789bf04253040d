/* collect.c - a finished run's files into a history (see collect.h). */
#include "collect.h"

#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "bosun.pb-c.h"
#include "harness.h"
#include "workload.h"

#define TOOL_TIMEOUT_MS 300000
#define PATH_LEN 700

/* ---- helpers ------------------------------------------------------------------------------ */

/* Runs a bosun-central tool with its output in out_path; 0 if it exited 0. */
static int run_tool(char *const argv[], const char *out_path)
{
    remove(out_path);
    harness_proc_t *p = NULL;
    if (harness_proc_start(argv, out_path, &p) != 0)
        return -1;
    int ws = 0;
    if (harness_proc_wait(p, TOOL_TIMEOUT_MS, &ws) != 0) {
        fprintf(stderr, "chaos: %s %s did not finish within %d ms\n", argv[0], argv[1], TOOL_TIMEOUT_MS);
        harness_proc_stop(p, 1000, NULL);
        return -1;
    }
    harness_proc_stop(p, 0, NULL);
    if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0) {
        fprintf(stderr, "chaos: %s %s failed (wait status 0x%x); see %s\n", argv[0], argv[1], (unsigned)ws,
                out_path);
        return -1;
    }
    return 0;
}

/* Calls fn for every line of path that is a JSON object; -1 if unreadable. */
/*
 * Calls fn for every line of path. A file that cannot be read is -1 (said
 * on stderr), or 0 with no call when missing_ok.
 */
static int each_line(const char *path, bool missing_ok, void (*fn)(void *arg, const char *line), void *arg)
{
    FILE *fp = fopen(path, "r");
    if (fp == NULL) {
        if (missing_ok)
            return 0;
        fprintf(stderr, "chaos: cannot read %s\n", path);
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, fp) > 0)
        fn(arg, line);
    free(line);
    fclose(fp);
    return 0;
}

typedef struct {
    void (*fn)(void *arg, json_t *obj);
    void *arg;
} json_lines_t;

static void on_json_line(void *arg, const char *line)
{
    const json_lines_t *j = arg;
    if (line[0] != '{')
        return;
    json_t *obj = json_loads(line, 0, NULL);
    if (obj != NULL && json_is_object(obj))
        j->fn(j->arg, obj);
    json_decref(obj);
}

static int each_json_line(const char *path, void (*fn)(void *arg, json_t *obj), void *arg)
{
    json_lines_t j = {.fn = fn, .arg = arg};
    return each_line(path, false, on_json_line, &j);
}

static int node_index(const char *name)
{
    int n = 0;
    char extra;
    if (name == NULL || sscanf(name, "n%d%c", &n, &extra) != 1 || n < 1 || n > HIST_MAX_NODES)
        return -1;
    return n - 1;
}

static int status_of(const char *name)
{
    for (int s = 1; s <= HIST_BUSY; s++)
        if (name != NULL && strcmp(name, hist_status_str(s)) == 0)
            return s;
    return HIST_PENDING; /* "UNSPECIFIED": not finished */
}

static int64_t jint(const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);
    if (json_is_integer(v))
        return (int64_t)json_integer_value(v);
    if (json_is_string(v))
        return strtoll(json_string_value(v), NULL, 10);
    return 0;
}

static const char *jstr(const json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s ? s : "";
}

/* ---- central ---------------------------------------------------------------------------- */

static void on_store_line(void *arg, json_t *obj)
{
    history_t *h = arg;
    const json_t *m = json_object_get(obj, "message");
    const json_t *data = json_object_get(m, "data");
    hist_msg_t x = {0};
    snprintf(x.id, sizeof x.id, "%s", jstr(m, "id"));
    const char *dash = strrchr(x.id, '-');
    x.seq = dash ? strtoull(dash + 1, NULL, 10) : 0;
    x.node = node_index(jstr(m, "node"));
    const char *method = jstr(m, "method");
    x.method = strcmp(method, "textLogging") == 0 ? HIST_TEXT : HIST_SHELL;
    char *strings[4] = {0};
    size_t n = json_array_size(data);
    for (size_t i = 0; i < n && i < 4; i++)
        strings[i] = (char *)json_string_value(json_array_get(data, i));
    if (n > 4 || !workload_token(method, strings, n, x.token))
        snprintf(x.token, sizeof x.token, "?%.20s", x.id);
    x.accepted_ms = jint(obj, "accepted_ms");
    x.finished_ms = jint(obj, "finished_ms");
    x.status = x.finished_ms ? status_of(jstr(obj, "status")) : HIST_PENDING;
    x.has_ack = json_is_object(json_object_get(obj, "ack"));
    x.attempts = (uint32_t)jint(obj, "attempts");
    snprintf(x.error, sizeof x.error, "%s", jstr(obj, "error"));
    history_add_msg(h, &x);
}

int collect_store(const char *central_dir, const char *work_dir, history_t *h)
{
    char out[PATH_LEN];
    snprintf(out, sizeof out, "%s/store.ndjson", work_dir);
    char *argv[] = {BOSUN_CENTRAL_BIN, "results", "--data-dir", (char *)central_dir, "--pending", NULL};
    if (run_tool(argv, out) != 0)
        return -1;
    return each_json_line(out, on_store_line, h);
}

typedef struct {
    history_t *h;
    const hist_msg_t **by_id;
} logctx_t;

static int cmp_id(const void *a, const void *b)
{
    return strcmp((*(const hist_msg_t *const *)a)->id, (*(const hist_msg_t *const *)b)->id);
}

static void on_log_line(void *arg, json_t *obj)
{
    logctx_t *c = arg;
    hist_msg_t key = {0};
    snprintf(key.id, sizeof key.id, "%s", jstr(json_object_get(obj, "message"), "id"));
    const hist_msg_t *kp = &key;
    const hist_msg_t **hit = bsearch(&kp, c->by_id, c->h->n_msgs, sizeof *c->by_id, cmp_id);
    if (hit == NULL)
        return; /* a message the store does not hold: the check finds it by its absence */
    hist_msg_t *m = (hist_msg_t *)*hit;
    m->log_lines++;
    if (status_of(jstr(obj, "status")) != m->status)
        m->log_conflicts++;
}

int collect_message_log(const char *central_dir, history_t *h)
{
    char path[PATH_LEN];
    snprintf(path, sizeof path, "%s/messages.ndjson", central_dir);
    logctx_t c = {h, calloc(h->n_msgs ? h->n_msgs : 1, sizeof *c.by_id)};
    if (c.by_id == NULL)
        return -1;
    for (size_t i = 0; i < h->n_msgs; i++)
        c.by_id[i] = &h->msgs[i];
    qsort(c.by_id, h->n_msgs, sizeof *c.by_id, cmp_id);
    int rc = each_json_line(path, on_log_line, &c);
    free(c.by_id);
    return rc;
}

/* ---- agents ------------------------------------------------------------------------------ */

int collect_ledger(int node, const char *agent_dir, history_t *h)
{
    char path[PATH_LEN];
    snprintf(path, sizeof path, "%s/agent-ledger.db", agent_dir);
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int rc = -1;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db,
                           "SELECT id, claimed_ms, started_ms, finished_ms, ack FROM executions "
                           "ORDER BY claimed_ms",
                           -1, &st, NULL) != SQLITE_OK) {
        fprintf(stderr, "chaos: cannot read the ledger %s: %s\n", path, db ? sqlite3_errmsg(db) : "no memory");
        goto out;
    }
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        hist_ledger_t x = {.node = node};
        snprintf(x.id, sizeof x.id, "%s", (const char *)sqlite3_column_text(st, 0));
        x.claimed_ms = sqlite3_column_int64(st, 1);
        x.started_ms = sqlite3_column_int64(st, 2);
        x.finished_ms = sqlite3_column_int64(st, 3);
        int len = sqlite3_column_bytes(st, 4);
        const void *blob = sqlite3_column_blob(st, 4);
        x.status = HIST_PENDING;
        if (blob != NULL && len > 0) {
            Bosun__Ack *ack = bosun__ack__unpack(NULL, (size_t)len, blob);
            if (ack != NULL) {
                x.status = (int)ack->status;
                bosun__ack__free_unpacked(ack, NULL);
            }
        }
        history_add_ledger(h, &x);
    }
    if (step != SQLITE_DONE)
        fprintf(stderr, "chaos: reading the ledger %s: %s\n", path, sqlite3_errmsg(db));
    else
        rc = 0;
out:
    sqlite3_finalize(st);
    sqlite3_close(db);
    return rc;
}

/* What a per-line callback of one node's files needs. */
typedef struct {
    int node;
    history_t *h;
    const char *const *res_ids;
    int64_t since_ms;
} line_ctx_t;

static void on_trace_line(void *arg, const char *line)
{
    line_ctx_t *c = arg;
    hist_exec_t x = {.node = c->node};
    if (workload_trace_line(line, &x.phase, x.token))
        history_add_exec(c->h, &x);
    else
        history_anomaly(c->h, 0, "n%d's trace holds a line that is no trace: %.80s", c->node + 1, line);
}

int collect_trace(int node, const char *agent_dir, history_t *h)
{
    char path[PATH_LEN];
    snprintf(path, sizeof path, "%s/textLogging.log", agent_dir);
    line_ctx_t c = {.node = node, .h = h};
    return each_line(path, true, on_trace_line, &c); /* missing: nothing ran on this node */
}

/* Wall-clock ms of a log line "2026-11-25T13:24:21.639Z ..."; false if none. */
static bool log_time(const char *line, int64_t *ms)
{
    struct tm tm = {0};
    int msec = 0;
    if (sscanf(line, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &tm.tm_sec, &msec) != 7)
        return false;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    *ms = (int64_t)timegm(&tm) * 1000 + msec;
    return true;
}

static int state_of(const char *s, size_t len)
{
    for (int k = 0; k < 4; k++)
        if (strlen(hist_state_str(k)) == len && strncmp(s, hist_state_str(k), len) == 0)
            return k;
    return -1;
}

/* "<time> INFO   election: r2: IDLE -> GOING_ACTIVE (why) ..." */
static bool parse_transition(const char *line, const char *const *res_ids, int n_res, hist_trans_t *t)
{
    const char *e = strstr(line, " election: ");
    if (e == NULL || !log_time(line, &t->ms))
        return false;
    e += strlen(" election: ");
    const char *colon = strchr(e, ':'), *arrow = strstr(e, " -> ");
    if (colon == NULL || arrow == NULL || arrow < colon)
        return false;
    t->res = -1;
    for (int r = 0; r < n_res; r++)
        if (strlen(res_ids[r]) == (size_t)(colon - e) && strncmp(e, res_ids[r], (size_t)(colon - e)) == 0)
            t->res = r;
    const char *from = colon + 2, *to = arrow + 4;
    t->from = state_of(from, (size_t)(arrow - from));
    t->to = state_of(to, strcspn(to, " \n"));
    return t->res >= 0 && t->from >= 0 && t->to >= 0;
}

static void on_transition_line(void *arg, const char *line)
{
    line_ctx_t *c = arg;
    hist_trans_t t = {.node = c->node};
    if (parse_transition(line, c->res_ids, c->h->n_res, &t))
        history_add_trans(c->h, &t);
}

int collect_transitions(int node, const char *log_path, const char *const *res_ids, history_t *h)
{
    line_ctx_t c = {.node = node, .h = h, .res_ids = res_ids};
    return each_line(log_path, false, on_transition_line, &c);
}

/* ---- events --------------------------------------------------------------------------------- */

/* Hash of an event line without its receive time; the subject and that time out. */
static bool event_key(json_t *obj, uint64_t *key, int64_t *ms, char subject[64])
{
    *ms = jint(obj, "received_ms");
    snprintf(subject, 64, "%s", jstr(obj, "subject"));
    json_object_del(obj, "received_ms");
    char *text = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS);
    if (text == NULL)
        return false;
    *key = hist_hash(HIST_HASH_INIT, text, strlen(text));
    free(text);
    return true;
}

static void on_observed(void *arg, json_t *obj)
{
    history_t *h = arg;
    hist_event_t e = {0};
    if (event_key(obj, &e.key, &e.ms, e.subject))
        history_add_observed(h, &e);
}

int collect_observer(const char *path, history_t *h)
{
    return each_json_line(path, on_observed, h);
}

static void on_recorded(void *arg, json_t *obj)
{
    history_t *h = arg;
    hist_event_t e = {0};
    if (event_key(obj, &e.key, &e.ms, e.subject))
        history_add_recorded(h, &e);
}

int collect_recorder(const char *central_dir, const char *work_dir, history_t *h)
{
    char dir[PATH_LEN], out[PATH_LEN];
    snprintf(dir, sizeof dir, "%s/recorded", central_dir);
    snprintf(out, sizeof out, "%s/recorded.ndjson", work_dir);
    char *argv[] = {BOSUN_CENTRAL_BIN, "replay", dir, NULL};
    if (run_tool(argv, out) != 0)
        return -1;
    return each_json_line(out, on_recorded, h);
}

static void on_central_line(void *arg, const char *line)
{
    line_ctx_t *c = arg;
    const char *s = strstr(line, " recorder: stopped in ");
    int64_t ms = 0;
    unsigned long long took, written, files, dropped;
    if (s == NULL || !log_time(line, &ms) || ms < c->since_ms ||
        sscanf(s, " recorder: stopped in %llu ms: %llu events in %llu compressed files (%llu dropped", &took,
               &written, &files, &dropped) != 4)
        return;
    c->h->recorder_stop_seen = true;
    c->h->recorder_written = written;
    c->h->recorder_dropped = dropped;
}

int collect_recorder_stop(const char *central_log, int64_t since_ms, history_t *h)
{
    line_ctx_t c = {.h = h, .since_ms = since_ms};
    return each_line(central_log, false, on_central_line, &c);
}
