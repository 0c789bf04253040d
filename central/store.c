/*
 * store.c - central's durable state in SQLite: accepted messages, delivery
 * attempts, outcomes, rejects and the inbox position (see store.h).
 *
 * This is the one file that talks to SQLite for central; every SQLite error
 * becomes BOSUN_ERR_DB with "store: <what>: <sqlite3_errmsg>". Statements on
 * the hot paths (accept, attempt, finish) are prepared once at open. Accepts
 * commit one transaction per call; attempts and finishes are queued in
 * memory and committed together by store_flush().
 */
#include "store.h"

#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STORE_FILE "central.db"
#define STORE_SCHEMA_VERSION 1
#define STORE_BUSY_TIMEOUT_MS 5000

/* One queued change for store_flush(). */
typedef enum {
    OP_ATTEMPT, /* an attempts row, and the message's attempts/next_attempt_ms */
    OP_FINISH,  /* the message's outcome */
} op_kind_t;

typedef struct {
    op_kind_t kind;
    uint64_t seq;
    uint32_t attempts;
    uint64_t next_attempt_ms;
    uint64_t at_ms;       /* sent_ms or finished_ms */
    char *text;           /* attempt outcome or finish error (owned, may be NULL) */
    int status;           /* finish: Bosun__AckStatus */
    uint8_t *ack;         /* finish: packed Ack (owned), NULL if none */
    size_t ack_len;
} op_t;

struct store {
    sqlite3 *db;
    bool readonly;
    uint64_t next_seq;
    op_t *ops;
    size_t n_ops, cap_ops;
    sqlite3_stmt *begin, *commit, *rollback;
    sqlite3_stmt *ins_message, *ins_reject, *put_inbox, *get_inbox;
    sqlite3_stmt *ins_attempt, *upd_attempt, *upd_finish;
};

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS messages("
    "  seq INTEGER PRIMARY KEY,"          /* the accept order */
    "  id TEXT NOT NULL UNIQUE,"
    "  node TEXT NOT NULL,"
    "  method TEXT NOT NULL,"
    "  kind INTEGER NOT NULL,"            /* Bosun__MessageKind */
    "  data TEXT NOT NULL,"               /* JSON array of strings */
    "  ack_timeout_ms INTEGER NOT NULL,"
    "  retries INTEGER NOT NULL,"
    "  retry_wait_ms INTEGER NOT NULL,"
    "  max_retry_wait_ms INTEGER NOT NULL,"
    "  method_timeout_ms INTEGER NOT NULL,"
    "  ttl_ms INTEGER NOT NULL,"
    "  accepted_ms INTEGER NOT NULL,"
    "  attempts INTEGER NOT NULL,"
    "  next_attempt_ms INTEGER NOT NULL,"
    "  finished_ms INTEGER,"              /* NULL while pending */
    "  status INTEGER,"                   /* Bosun__AckStatus once finished */
    "  ack BLOB,"                         /* packed Bosun__Ack */
    "  error TEXT);"
    "CREATE INDEX IF NOT EXISTS messages_finished ON messages(finished_ms);"
    "CREATE INDEX IF NOT EXISTS messages_node ON messages(node, seq);"
    "CREATE TABLE IF NOT EXISTS attempts("
    "  message_seq INTEGER NOT NULL,"
    "  n INTEGER NOT NULL,"
    "  sent_ms INTEGER NOT NULL,"
    "  outcome TEXT);"
    "CREATE TABLE IF NOT EXISTS rejects("
    "  id INTEGER PRIMARY KEY,"
    "  at_ms INTEGER NOT NULL,"
    "  reason TEXT NOT NULL,"
    "  text TEXT);"
    "CREATE TABLE IF NOT EXISTS inbox("
    "  id INTEGER PRIMARY KEY CHECK (id = 1),"
    "  inode INTEGER NOT NULL,"
    "  offset INTEGER NOT NULL,"
    "  draining_inode INTEGER NOT NULL,"
    "  draining_offset INTEGER NOT NULL);";

/* The columns load_pending and results read, in this order. */
#define MESSAGE_COLUMNS                                                                        \
    "seq, id, node, method, kind, data, ack_timeout_ms, retries, retry_wait_ms, "              \
    "max_retry_wait_ms, method_timeout_ms, ttl_ms, accepted_ms, attempts, next_attempt_ms, " \
    "finished_ms, status, ack, error"
enum {
    COL_SEQ, COL_ID, COL_NODE, COL_METHOD, COL_KIND, COL_DATA, COL_ACK_TIMEOUT, COL_RETRIES,
    COL_RETRY_WAIT, COL_MAX_RETRY_WAIT, COL_METHOD_TIMEOUT, COL_TTL, COL_ACCEPTED, COL_ATTEMPTS,
    COL_NEXT_ATTEMPT, COL_FINISHED, COL_STATUS, COL_ACK, COL_ERROR,
};

static bosun_status_t db_err(sqlite3 *db, const char *what, bosun_err_t *err)
{
    return bosun_errf(err, BOSUN_ERR_DB, "store: %s: %s", what,
                      db ? sqlite3_errmsg(db) : "out of memory");
}

static sqlite3_int64 i64(uint64_t v)
{
    return (sqlite3_int64)v;
}

static uint64_t col_u64(sqlite3_stmt *st, int col)
{
    return (uint64_t)sqlite3_column_int64(st, col);
}

/* Steps a statement that returns no rows, then resets it. */
static int run(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
}

/* Undoes an open transaction, if SQLite has not already done so. */
static void rollback(store_t *s)
{
    if (!sqlite3_get_autocommit(s->db))
        run(s->rollback);
}

/* ---- open and close ----------------------------------------------------------- */

static int prepare(store_t *s, const char *sql, sqlite3_stmt **st)
{
    return sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL);
}

static bosun_status_t prepare_all(store_t *s, bosun_err_t *err)
{
    static const struct {
        size_t offset;
        const char *sql;
    } stmts[] = {
        {offsetof(store_t, begin), "BEGIN IMMEDIATE"},
        {offsetof(store_t, commit), "COMMIT"},
        {offsetof(store_t, rollback), "ROLLBACK"},
        {offsetof(store_t, ins_message),
         "INSERT INTO messages(seq, id, node, method, kind, data, ack_timeout_ms, retries, "
         "retry_wait_ms, max_retry_wait_ms, method_timeout_ms, ttl_ms, accepted_ms, attempts, "
         "next_attempt_ms) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)"},
        {offsetof(store_t, ins_reject), "INSERT INTO rejects(at_ms, reason, text) VALUES(?1, ?2, ?3)"},
        {offsetof(store_t, put_inbox),
         "INSERT OR REPLACE INTO inbox(id, inode, offset, draining_inode, draining_offset) "
         "VALUES(1, ?1, ?2, ?3, ?4)"},
        {offsetof(store_t, get_inbox),
         "SELECT inode, offset, draining_inode, draining_offset FROM inbox WHERE id = 1"},
        {offsetof(store_t, ins_attempt),
         "INSERT INTO attempts(message_seq, n, sent_ms, outcome) VALUES(?1, ?2, ?3, ?4)"},
        {offsetof(store_t, upd_attempt),
         "UPDATE messages SET attempts = ?2, next_attempt_ms = ?3 WHERE seq = ?1"},
        {offsetof(store_t, upd_finish),
         "UPDATE messages SET finished_ms = ?2, status = ?3, ack = ?4, error = ?5, attempts = ?6 "
         "WHERE seq = ?1"},
    };
    for (size_t i = 0; i < sizeof stmts / sizeof stmts[0]; i++) {
        sqlite3_stmt **st = (sqlite3_stmt **)((char *)s + stmts[i].offset);
        if (prepare(s, stmts[i].sql, st) != SQLITE_OK)
            return db_err(s->db, "prepare", err);
    }
    return BOSUN_OK;
}

/* Reads PRAGMA user_version into *v. */
static int schema_version(store_t *s, int *v)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL);
    if (rc != SQLITE_OK)
        return rc;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *v = sqlite3_column_int(st, 0);
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    return rc;
}

/* Creates or checks the schema (writer only); one transaction. */
static bosun_status_t init_schema(store_t *s, bosun_err_t *err)
{
    if (sqlite3_exec(s->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", NULL, NULL, NULL) !=
        SQLITE_OK)
        return db_err(s->db, "pragmas", err);
    if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return db_err(s->db, "begin schema", err);
    int v = 0;
    bosun_status_t rc = BOSUN_OK;
    if (schema_version(s, &v) != SQLITE_OK) {
        rc = db_err(s->db, "schema version", err);
    } else if (v > STORE_SCHEMA_VERSION) {
        rc = bosun_errf(err, BOSUN_ERR_DB,
                        "store: schema version %d is newer than this central understands (%d)", v,
                        STORE_SCHEMA_VERSION);
    } else if (sqlite3_exec(s->db, schema, NULL, NULL, NULL) != SQLITE_OK) {
        rc = db_err(s->db, "create schema", err);
    } else if (v < STORE_SCHEMA_VERSION) {
        char sql[64];
        snprintf(sql, sizeof sql, "PRAGMA user_version = %d", STORE_SCHEMA_VERSION);
        if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
            rc = db_err(s->db, "set schema version", err);
    }
    if (rc == BOSUN_OK && sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        rc = db_err(s->db, "commit schema", err);
    if (rc != BOSUN_OK && !sqlite3_get_autocommit(s->db))
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

/* Checks that a database opened read-only has a schema we understand. */
static bosun_status_t check_schema(store_t *s, bosun_err_t *err)
{
    int v = 0;
    if (schema_version(s, &v) != SQLITE_OK)
        return db_err(s->db, "schema version", err);
    if (v != STORE_SCHEMA_VERSION)
        return bosun_errf(err, BOSUN_ERR_DB, "store: schema version %d, this central understands %d",
                          v, STORE_SCHEMA_VERSION);
    return BOSUN_OK;
}

static bosun_status_t load_next_seq(store_t *s, bosun_err_t *err)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "SELECT coalesce(max(seq), 0) FROM messages", -1, &st, NULL) !=
        SQLITE_OK)
        return db_err(s->db, "read last seq", err);
    bosun_status_t rc = BOSUN_OK;
    if (sqlite3_step(st) == SQLITE_ROW)
        s->next_seq = col_u64(st, 0) + 1;
    else
        rc = db_err(s->db, "read last seq", err);
    sqlite3_finalize(st);
    return rc;
}

static bosun_status_t open_store(const char *dir, bool readonly, store_t **out, bosun_err_t *err)
{
    *out = NULL;
    char path[4096];
    if (snprintf(path, sizeof path, "%s/%s", dir, STORE_FILE) >= (int)sizeof path)
        return bosun_errf(err, BOSUN_ERR_INVALID, "store: directory name too long: %s", dir);
    store_t *s = calloc(1, sizeof *s);
    if (s == NULL)
        return bosun_errf(err, BOSUN_ERR_NOMEM, "store: out of memory");
    s->readonly = readonly;
    int flags = SQLITE_OPEN_NOMUTEX |
                (readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    bosun_status_t rc;
    if (sqlite3_open_v2(path, &s->db, flags, NULL) != SQLITE_OK) {
        rc = bosun_errf(err, BOSUN_ERR_DB, "store: cannot open %s: %s", path,
                        s->db ? sqlite3_errmsg(s->db) : "out of memory");
        goto fail;
    }
    sqlite3_extended_result_codes(s->db, 1);
    sqlite3_busy_timeout(s->db, STORE_BUSY_TIMEOUT_MS);
    rc = readonly ? check_schema(s, err) : init_schema(s, err);
    if (rc == BOSUN_OK)
        rc = load_next_seq(s, err);
    if (rc == BOSUN_OK)
        rc = prepare_all(s, err);
    if (rc != BOSUN_OK)
        goto fail;
    *out = s;
    return BOSUN_OK;
fail:
    store_close(s);
    return rc;
}

bosun_status_t store_open(const char *dir, store_t **out, bosun_err_t *err)
{
    return open_store(dir, false, out, err);
}

bosun_status_t store_open_readonly(const char *dir, store_t **out, bosun_err_t *err)
{
    return open_store(dir, true, out, err);
}

static void ops_clear(store_t *s)
{
    for (size_t i = 0; i < s->n_ops; i++) {
        free(s->ops[i].text);
        free(s->ops[i].ack);
    }
    s->n_ops = 0;
}

/* Closes the handle; what store_flush() has not committed is dropped. */
void store_close(store_t *s)
{
    if (s == NULL)
        return;
    ops_clear(s);
    free(s->ops);
    sqlite3_stmt *all[] = {s->begin,     s->commit,      s->rollback,    s->ins_message,
                           s->ins_reject, s->put_inbox,  s->get_inbox,   s->ins_attempt,
                           s->upd_attempt, s->upd_finish};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        sqlite3_finalize(all[i]);
    sqlite3_close(s->db);
    free(s);
}

uint64_t store_next_seq(store_t *s)
{
    return s->next_seq;
}

/* ---- inbox position ------------------------------------------------------------ */

bosun_status_t store_inbox_position(store_t *s, inbox_position_t *pos)
{
    memset(pos, 0, sizeof *pos);
    int rc = sqlite3_step(s->get_inbox);
    if (rc == SQLITE_ROW) {
        pos->inode = col_u64(s->get_inbox, 0);
        pos->offset = col_u64(s->get_inbox, 1);
        pos->draining_inode = col_u64(s->get_inbox, 2);
        pos->draining_offset = col_u64(s->get_inbox, 3);
    }
    sqlite3_reset(s->get_inbox);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? BOSUN_OK : BOSUN_ERR_DB;
}

static int put_position(store_t *s, const inbox_position_t *pos)
{
    sqlite3_bind_int64(s->put_inbox, 1, i64(pos->inode));
    sqlite3_bind_int64(s->put_inbox, 2, i64(pos->offset));
    sqlite3_bind_int64(s->put_inbox, 3, i64(pos->draining_inode));
    sqlite3_bind_int64(s->put_inbox, 4, i64(pos->draining_offset));
    return run(s->put_inbox);
}

bosun_status_t store_save_position(store_t *s, const inbox_position_t *pos, bosun_err_t *err)
{
    if (put_position(s, pos) != SQLITE_OK)
        return db_err(s->db, "save inbox position", err);
    return BOSUN_OK;
}

/* ---- accept ------------------------------------------------------------------------ */

/*
 * Encodes data as a compact JSON array of strings into *out (caller frees).
 * A string that is not valid UTF-8 cannot be stored and read back: INVALID.
 */
static bosun_status_t data_to_json(const message_t *m, char **out, bosun_err_t *err)
{
    *out = NULL;
    json_t *arr = json_array();
    if (arr == NULL)
        return bosun_errf(err, BOSUN_ERR_NOMEM, "store: out of memory");
    bosun_status_t rc = BOSUN_OK;
    for (size_t i = 0; i < m->n_data && rc == BOSUN_OK; i++) {
        json_t *str = m->data[i] ? json_string(m->data[i]) : NULL;
        if (str == NULL)
            rc = bosun_errf(err, BOSUN_ERR_INVALID,
                            "store: message to %s: data[%zu] is missing or not valid UTF-8",
                            m->node ? m->node : "?", i);
        else if (json_array_append_new(arr, str) != 0)
            rc = bosun_errf(err, BOSUN_ERR_NOMEM, "store: out of memory");
    }
    if (rc == BOSUN_OK) {
        *out = json_dumps(arr, JSON_COMPACT);
        if (*out == NULL)
            rc = bosun_errf(err, BOSUN_ERR_NOMEM, "store: out of memory");
    }
    json_decref(arr);
    return rc;
}

static int insert_message(store_t *s, const message_t *m, const char *data)
{
    sqlite3_stmt *st = s->ins_message;
    sqlite3_bind_int64(st, 1, i64(m->seq));
    sqlite3_bind_text(st, 2, m->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, m->node, -1, SQLITE_STATIC);     /* NULL fails NOT NULL */
    sqlite3_bind_text(st, 4, m->method, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 5, m->is_event ? BOSUN__MESSAGE_KIND__MESSAGE_KIND_EVENT
                                        : BOSUN__MESSAGE_KIND__MESSAGE_KIND_COMMAND);
    sqlite3_bind_text(st, 6, data, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 7, i64(m->ack_timeout_ms));
    sqlite3_bind_int64(st, 8, m->retries);
    sqlite3_bind_int64(st, 9, i64(m->retry_wait_ms));
    sqlite3_bind_int64(st, 10, i64(m->max_retry_wait_ms));
    sqlite3_bind_int64(st, 11, i64(m->method_timeout_ms));
    sqlite3_bind_int64(st, 12, i64(m->ttl_ms));
    sqlite3_bind_int64(st, 13, i64(m->accepted_ms));
    sqlite3_bind_int64(st, 14, m->attempts);
    sqlite3_bind_int64(st, 15, i64(m->next_attempt_ms));
    return run(st);
}

static int insert_reject(store_t *s, const inbox_reject_t *r, uint64_t now_ms)
{
    sqlite3_bind_int64(s->ins_reject, 1, i64(now_ms));
    sqlite3_bind_text(s->ins_reject, 2, r->reason ? r->reason : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(s->ins_reject, 3, r->text, -1, SQLITE_STATIC);
    return run(s->ins_reject);
}

bosun_status_t store_accept(store_t *s, message_t **msgs, size_t n, const inbox_reject_t *rejects,
                            size_t n_rejects, const inbox_position_t *pos, uint64_t now_ms,
                            bosun_err_t *err)
{
    if (sqlite3_step(s->begin) != SQLITE_DONE) {
        bosun_status_t rc = db_err(s->db, "begin accept", err);
        sqlite3_reset(s->begin);
        return rc;
    }
    sqlite3_reset(s->begin);

    bosun_status_t rc = BOSUN_OK;
    char *data = NULL;
    for (size_t i = 0; i < n; i++) {
        message_t *m = msgs[i];
        m->seq = s->next_seq + i;
        m->accepted_ms = now_ms;
        message_make_id(now_ms, m->seq, m->id);
        if ((rc = data_to_json(m, &data, err)) != BOSUN_OK)
            goto fail;
        if (insert_message(s, m, data) != SQLITE_OK) {
            char what[96];
            snprintf(what, sizeof what, "insert message %s", m->id);
            rc = db_err(s->db, what, err);
            goto fail;
        }
        free(data);
        data = NULL;
    }
    for (size_t i = 0; i < n_rejects; i++) {
        if (insert_reject(s, &rejects[i], now_ms) != SQLITE_OK) {
            rc = db_err(s->db, "insert reject", err);
            goto fail;
        }
    }
    if (pos != NULL && put_position(s, pos) != SQLITE_OK) {
        rc = db_err(s->db, "save inbox position", err);
        goto fail;
    }
    if (run(s->commit) != SQLITE_OK) {
        rc = db_err(s->db, "commit accept", err);
        goto fail;
    }
    s->next_seq += n;
    return BOSUN_OK;

fail:
    free(data);
    rollback(s);
    for (size_t i = 0; i < n; i++) {
        msgs[i]->id[0] = '\0';
        msgs[i]->seq = 0;
        msgs[i]->accepted_ms = 0;
    }
    return rc;
}

/* ---- attempts and finishes ------------------------------------------------------ */

static op_t *op_push(store_t *s, op_kind_t kind, const message_t *m)
{
    if (s->n_ops == s->cap_ops) {
        size_t cap = s->cap_ops ? s->cap_ops * 2 : 64;
        op_t *ops = realloc(s->ops, cap * sizeof *ops);
        if (ops == NULL)
            return NULL;
        s->ops = ops;
        s->cap_ops = cap;
    }
    op_t *op = &s->ops[s->n_ops];
    memset(op, 0, sizeof *op);
    op->kind = kind;
    op->seq = m->seq;
    op->attempts = m->attempts;
    op->next_attempt_ms = m->next_attempt_ms;
    return op;
}

/*
 * Queues attempt number m->attempts, sent at sent_ms, and the message's
 * attempts and next_attempt_ms as they are now. BOSUN_ERR_INVALID for a
 * message the store never accepted.
 */
bosun_status_t store_attempt(store_t *s, const message_t *m, uint64_t sent_ms, const char *outcome)
{
    if (m->seq == 0)
        return BOSUN_ERR_INVALID;
    char *text = outcome ? strdup(outcome) : NULL;
    if (outcome != NULL && text == NULL)
        return BOSUN_ERR_NOMEM;
    op_t *op = op_push(s, OP_ATTEMPT, m);
    if (op == NULL) {
        free(text);
        return BOSUN_ERR_NOMEM;
    }
    op->at_ms = sent_ms;
    op->text = text;
    s->n_ops++;
    return BOSUN_OK;
}

/* Queues the outcome of m; the Ack is packed now, so the caller may free it. */
bosun_status_t store_finish(store_t *s, const message_t *m, Bosun__AckStatus status,
                            const Bosun__Ack *ack, const char *error, uint64_t finished_ms)
{
    if (m->seq == 0)
        return BOSUN_ERR_INVALID;
    uint8_t *packed = NULL;
    size_t len = 0;
    char *text = NULL;
    if (ack != NULL) {
        len = bosun__ack__get_packed_size(ack);
        packed = malloc(len ? len : 1);
        if (packed == NULL)
            return BOSUN_ERR_NOMEM;
        bosun__ack__pack(ack, packed);
    }
    if (error != NULL && (text = strdup(error)) == NULL) {
        free(packed);
        return BOSUN_ERR_NOMEM;
    }
    op_t *op = op_push(s, OP_FINISH, m);
    if (op == NULL) {
        free(packed);
        free(text);
        return BOSUN_ERR_NOMEM;
    }
    op->at_ms = finished_ms;
    op->status = (int)status;
    op->ack = packed;
    op->ack_len = len;
    op->text = text;
    s->n_ops++;
    return BOSUN_OK;
}

static int apply_op(store_t *s, const op_t *op)
{
    int rc;
    if (op->kind == OP_ATTEMPT) {
        sqlite3_bind_int64(s->ins_attempt, 1, i64(op->seq));
        sqlite3_bind_int64(s->ins_attempt, 2, op->attempts);
        sqlite3_bind_int64(s->ins_attempt, 3, i64(op->at_ms));
        sqlite3_bind_text(s->ins_attempt, 4, op->text, -1, SQLITE_STATIC);
        if ((rc = run(s->ins_attempt)) != SQLITE_OK)
            return rc;
        sqlite3_bind_int64(s->upd_attempt, 1, i64(op->seq));
        sqlite3_bind_int64(s->upd_attempt, 2, op->attempts);
        sqlite3_bind_int64(s->upd_attempt, 3, i64(op->next_attempt_ms));
        return run(s->upd_attempt);
    }
    sqlite3_bind_int64(s->upd_finish, 1, i64(op->seq));
    sqlite3_bind_int64(s->upd_finish, 2, i64(op->at_ms));
    sqlite3_bind_int(s->upd_finish, 3, op->status);
    if (op->ack != NULL)
        sqlite3_bind_blob(s->upd_finish, 4, op->ack, (int)op->ack_len, SQLITE_STATIC);
    sqlite3_bind_text(s->upd_finish, 5, op->text, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s->upd_finish, 6, op->attempts);
    return run(s->upd_finish);
}

/*
 * Commits the queue in one transaction and empties it. On failure nothing
 * of it is stored and the queue is kept, so the next flush tries again.
 */
bosun_status_t store_flush(store_t *s, bosun_err_t *err)
{
    if (s->n_ops == 0)
        return BOSUN_OK;
    if (sqlite3_step(s->begin) != SQLITE_DONE) {
        bosun_status_t rc = db_err(s->db, "begin flush", err);
        sqlite3_reset(s->begin);
        return rc;
    }
    sqlite3_reset(s->begin);
    for (size_t i = 0; i < s->n_ops; i++) {
        if (apply_op(s, &s->ops[i]) != SQLITE_OK) {
            char what[64];
            snprintf(what, sizeof what, "flush %s of message %llu",
                     s->ops[i].kind == OP_ATTEMPT ? "attempt" : "result",
                     (unsigned long long)s->ops[i].seq);
            bosun_status_t rc = db_err(s->db, what, err);
            rollback(s);
            return rc;
        }
    }
    if (run(s->commit) != SQLITE_OK) {
        bosun_status_t rc = db_err(s->db, "commit flush", err);
        rollback(s);
        return rc;
    }
    ops_clear(s);
    return BOSUN_OK;
}

/* ---- reading messages back -------------------------------------------------------- */

static const char *col_text(sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    return t ? (const char *)t : "";
}

/* Parses the data column; NULL if it is not a JSON array of strings. */
static json_t *col_data(sqlite3_stmt *st)
{
    json_t *arr = json_loadb((const char *)sqlite3_column_text(st, COL_DATA),
                             (size_t)sqlite3_column_bytes(st, COL_DATA), 0, NULL);
    if (arr == NULL || !json_is_array(arr)) {
        json_decref(arr);
        return NULL;
    }
    for (size_t i = 0; i < json_array_size(arr); i++) {
        if (!json_is_string(json_array_get(arr, i))) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

/* Builds a message from the current row of a MESSAGE_COLUMNS query. */
static bosun_status_t row_to_message(sqlite3_stmt *st, message_t **out, bosun_err_t *err)
{
    *out = NULL;
    json_t *data = col_data(st);
    if (data == NULL)
        return bosun_errf(err, BOSUN_ERR_DB, "store: message %s: data is not a JSON array of strings",
                          col_text(st, COL_ID));
    message_t *m = message_new();
    if (m == NULL)
        goto nomem;
    snprintf(m->id, sizeof m->id, "%s", col_text(st, COL_ID));
    m->seq = col_u64(st, COL_SEQ);
    m->node = strdup(col_text(st, COL_NODE));
    m->method = strdup(col_text(st, COL_METHOD));
    if (m->node == NULL || m->method == NULL)
        goto nomem;
    m->is_event = sqlite3_column_int(st, COL_KIND) == BOSUN__MESSAGE_KIND__MESSAGE_KIND_EVENT;
    size_t n = json_array_size(data);
    if (n > 0) {
        m->data = calloc(n, sizeof *m->data);
        if (m->data == NULL)
            goto nomem;
        for (; m->n_data < n; m->n_data++) {
            m->data[m->n_data] = strdup(json_string_value(json_array_get(data, m->n_data)));
            if (m->data[m->n_data] == NULL)
                goto nomem;
        }
    }
    m->ack_timeout_ms = col_u64(st, COL_ACK_TIMEOUT);
    m->retries = sqlite3_column_int(st, COL_RETRIES);
    m->retry_wait_ms = col_u64(st, COL_RETRY_WAIT);
    m->max_retry_wait_ms = col_u64(st, COL_MAX_RETRY_WAIT);
    m->method_timeout_ms = col_u64(st, COL_METHOD_TIMEOUT);
    m->ttl_ms = col_u64(st, COL_TTL);
    m->accepted_ms = col_u64(st, COL_ACCEPTED);
    m->attempts = (uint32_t)sqlite3_column_int64(st, COL_ATTEMPTS);
    m->next_attempt_ms = col_u64(st, COL_NEXT_ATTEMPT);
    json_decref(data);
    *out = m;
    return BOSUN_OK;
nomem:
    json_decref(data);
    message_free(m);
    return bosun_errf(err, BOSUN_ERR_NOMEM, "store: out of memory");
}

bosun_status_t store_load_pending(store_t *s, void (*fn)(void *arg, message_t *m), void *arg,
                                  bosun_err_t *err)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT " MESSAGE_COLUMNS " FROM messages WHERE finished_ms IS NULL "
                           "ORDER BY seq",
                           -1, &st, NULL) != SQLITE_OK)
        return db_err(s->db, "load pending", err);
    bosun_status_t rc = BOSUN_OK;
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        message_t *m;
        if ((rc = row_to_message(st, &m, err)) != BOSUN_OK)
            break;
        fn(arg, m);
    }
    if (rc == BOSUN_OK && step != SQLITE_DONE)
        rc = db_err(s->db, "load pending", err);
    sqlite3_finalize(st);
    return rc;
}

/* ---- read side ---------------------------------------------------------------------- */

/* Calls fn with the current row as a Result built on the stack. */
static bosun_status_t emit_result(sqlite3_stmt *st, void (*fn)(void *arg, const Bosun__Result *r),
                                  void *arg, bosun_err_t *err)
{
    json_t *data = col_data(st);
    if (data == NULL)
        return bosun_errf(err, BOSUN_ERR_DB, "store: message %s: data is not a JSON array of strings",
                          col_text(st, COL_ID));
    size_t n = json_array_size(data);
    char **strs = n ? calloc(n, sizeof *strs) : NULL;
    if (n && strs == NULL) {
        json_decref(data);
        return bosun_errf(err, BOSUN_ERR_NOMEM, "store: out of memory");
    }
    for (size_t i = 0; i < n; i++)
        strs[i] = (char *)json_string_value(json_array_get(data, i));

    Bosun__Ack *ack = NULL;
    if (sqlite3_column_type(st, COL_ACK) == SQLITE_BLOB) {
        ack = bosun__ack__unpack(NULL, (size_t)sqlite3_column_bytes(st, COL_ACK),
                                 sqlite3_column_blob(st, COL_ACK));
        if (ack == NULL) {
            free(strs);
            json_decref(data);
            return bosun_errf(err, BOSUN_ERR_DECODE, "store: message %s: stored Ack does not decode",
                              col_text(st, COL_ID));
        }
    }

    Bosun__Command cmd = BOSUN__COMMAND__INIT;
    cmd.id = (char *)col_text(st, COL_ID);
    cmd.node = (char *)col_text(st, COL_NODE);
    cmd.method = (char *)col_text(st, COL_METHOD);
    cmd.n_data = n;
    cmd.data = strs;
    cmd.kind = (Bosun__MessageKind)sqlite3_column_int(st, COL_KIND);
    cmd.created_ms = col_u64(st, COL_ACCEPTED);
    cmd.ttl_ms = col_u64(st, COL_TTL);
    cmd.method_timeout_ms = col_u64(st, COL_METHOD_TIMEOUT);

    Bosun__Result r = BOSUN__RESULT__INIT;
    r.message = &cmd;
    r.status = (Bosun__AckStatus)sqlite3_column_int(st, COL_STATUS); /* NULL reads as 0 */
    r.ack = ack;
    r.attempts = (uint32_t)sqlite3_column_int64(st, COL_ATTEMPTS);
    r.accepted_ms = col_u64(st, COL_ACCEPTED);
    r.finished_ms = col_u64(st, COL_FINISHED);
    r.error = (char *)col_text(st, COL_ERROR);
    fn(arg, &r);

    bosun__ack__free_unpacked(ack, NULL);
    free(strs);
    json_decref(data);
    return BOSUN_OK;
}

/* Appends text to sql[0..len) as far as it fits; len counts what did not fit too. */
static void append(char *sql, size_t size, size_t *len, const char *text)
{
    if (*len < size)
        snprintf(sql + *len, size - *len, "%s", text);
    *len += strlen(text);
}

bosun_status_t store_results(store_t *s, const store_query_t *q,
                             void (*fn)(void *arg, const Bosun__Result *r), void *arg, bosun_err_t *err)
{
    /* Only the filters asked for go into the SQL, so SQLite can use its indexes. */
    char sql[512] = "SELECT " MESSAGE_COLUMNS " FROM messages WHERE 1";
    size_t len = strlen(sql);
    if (q->node != NULL)
        append(sql, sizeof sql, &len, " AND node = :node");
    if (q->id != NULL)
        append(sql, sizeof sql, &len, " AND id = :id");
    if (q->since_ms > 0 && q->include_pending)
        append(sql, sizeof sql, &len, " AND (finished_ms >= :since OR finished_ms IS NULL)");
    else if (q->since_ms > 0)
        append(sql, sizeof sql, &len, " AND finished_ms >= :since");
    else if (!q->include_pending)
        append(sql, sizeof sql, &len, " AND finished_ms IS NOT NULL");
    append(sql, sizeof sql, &len, q->newest_first ? " ORDER BY seq DESC" : " ORDER BY seq");
    if (q->limit > 0)
        append(sql, sizeof sql, &len, " LIMIT :limit");
    if (len >= sizeof sql)
        return bosun_errf(err, BOSUN_ERR_INVALID, "store: results query too long");

    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return db_err(s->db, "results", err);
    sqlite3_bind_text(st, sqlite3_bind_parameter_index(st, ":node"), q->node, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, sqlite3_bind_parameter_index(st, ":id"), q->id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, sqlite3_bind_parameter_index(st, ":since"), i64(q->since_ms));
    sqlite3_bind_int64(st, sqlite3_bind_parameter_index(st, ":limit"),
                       q->limit > (size_t)INT64_MAX ? INT64_MAX : (sqlite3_int64)q->limit);

    bosun_status_t rc = BOSUN_OK;
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if ((rc = emit_result(st, fn, arg, err)) != BOSUN_OK)
            break;
    }
    if (rc == BOSUN_OK && step != SQLITE_DONE)
        rc = db_err(s->db, "results", err);
    sqlite3_finalize(st);
    return rc;
}

/* Runs a query of one integer; *v is 0 when it returns no row. */
static int query_u64(store_t *s, const char *sql, uint64_t *v)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK)
        return rc;
    *v = 0;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *v = col_u64(st, 0);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
}

bosun_status_t store_check(store_t *s)
{
    uint64_t newest;
    return query_u64(s, "SELECT max(seq) FROM messages", &newest) == SQLITE_OK ? BOSUN_OK : BOSUN_ERR_DB;
}

bosun_status_t store_counts(store_t *s, store_counts_t *out)
{
    memset(out, 0, sizeof *out);
    /* One read transaction, so the counts agree with each other. */
    if (sqlite3_exec(s->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
        return BOSUN_ERR_DB;
    bosun_status_t rc = BOSUN_OK;
    sqlite3_stmt *st = NULL;
    if (query_u64(s, "SELECT count(*) FROM messages", &out->accepted) != SQLITE_OK ||
        query_u64(s, "SELECT count(*) FROM messages WHERE finished_ms IS NULL", &out->pending) !=
            SQLITE_OK ||
        query_u64(s, "SELECT count(*) FROM rejects", &out->rejected_drops) != SQLITE_OK ||
        sqlite3_prepare_v2(s->db,
                           "SELECT status, count(*) FROM messages WHERE finished_ms IS NOT NULL "
                           "GROUP BY status",
                           -1, &st, NULL) != SQLITE_OK) {
        rc = BOSUN_ERR_DB;
        goto out;
    }
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        sqlite3_int64 status = sqlite3_column_int64(st, 0);
        if (status >= 0 && status < (sqlite3_int64)(sizeof out->by_status / sizeof out->by_status[0]))
            out->by_status[status] = col_u64(st, 1);
    }
    if (step != SQLITE_DONE)
        rc = BOSUN_ERR_DB;
out:
    sqlite3_finalize(st);
    sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
    return rc;
}
