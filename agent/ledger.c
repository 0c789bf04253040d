/* ledger.c - SQLite store of claimed, started and finished message ids. */
#include "ledger.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

struct ledger {
    sqlite3 *db;
    pthread_mutex_t mu;
    sqlite3_stmt *claim, *lookup, *started, *finish, *forget, *purge;
};

static const char schema[] =
    "PRAGMA journal_mode=WAL;"
    "PRAGMA synchronous=FULL;"
    "CREATE TABLE IF NOT EXISTS executions("
    "  id TEXT PRIMARY KEY,"
    "  method TEXT NOT NULL,"
    "  claimed_ms INTEGER NOT NULL,"
    "  started_ms INTEGER,"
    "  pgid INTEGER,"
    "  start_ticks INTEGER,"
    "  finished_ms INTEGER,"
    "  ack BLOB);"
    "CREATE INDEX IF NOT EXISTS executions_finished ON executions(finished_ms);";

static bosun_status_t db_err(sqlite3 *db, const char *what, bosun_err_t *err)
{
    return bosun_errf(err, BOSUN_ERR_DB, "ledger: %s: %s", what, db ? sqlite3_errmsg(db) : "no database");
}

static int prepare(ledger_t *l, const char *sql, sqlite3_stmt **st)
{
    return sqlite3_prepare_v2(l->db, sql, -1, st, NULL);
}

bosun_status_t ledger_open(const char *path, ledger_t **out, bosun_err_t *err)
{
    ledger_t *l = calloc(1, sizeof *l);
    if (l == NULL)
        return BOSUN_ERR_NOMEM;
    pthread_mutex_init(&l->mu, NULL);
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(path, &l->db, flags, NULL) != SQLITE_OK) {
        bosun_status_t rc = bosun_errf(err, BOSUN_ERR_DB, "ledger: cannot open %s: %s", path,
                                       l->db ? sqlite3_errmsg(l->db) : "out of memory");
        ledger_close(l);
        return rc;
    }
    sqlite3_busy_timeout(l->db, 5000);
    if (sqlite3_exec(l->db, schema, NULL, NULL, NULL) != SQLITE_OK ||
        prepare(l, "INSERT OR IGNORE INTO executions(id, method, claimed_ms) VALUES(?1, ?2, ?3)",
                &l->claim) != SQLITE_OK ||
        prepare(l, "SELECT finished_ms, ack FROM executions WHERE id = ?1", &l->lookup) != SQLITE_OK ||
        prepare(l, "UPDATE executions SET started_ms = ?2, pgid = ?3, start_ticks = ?4 WHERE id = ?1",
                &l->started) != SQLITE_OK ||
        prepare(l, "UPDATE executions SET finished_ms = ?2, ack = ?3 WHERE id = ?1", &l->finish) !=
            SQLITE_OK ||
        prepare(l,
                "DELETE FROM executions WHERE id = ?1 AND started_ms IS NULL AND finished_ms IS NULL",
                &l->forget) != SQLITE_OK ||
        prepare(l, "DELETE FROM executions WHERE finished_ms IS NOT NULL AND finished_ms < ?1",
                &l->purge) != SQLITE_OK) {
        bosun_status_t rc = db_err(l->db, path, err);
        ledger_close(l);
        return rc;
    }
    *out = l;
    return BOSUN_OK;
}

void ledger_close(ledger_t *l)
{
    if (l == NULL)
        return;
    sqlite3_stmt *all[] = {l->claim, l->lookup, l->started, l->finish, l->forget, l->purge};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        sqlite3_finalize(all[i]);
    sqlite3_close(l->db);
    pthread_mutex_destroy(&l->mu);
    free(l);
}

/* Steps a prepared statement to completion and resets it. */
static int run(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

bosun_status_t ledger_claim(ledger_t *l, const char *id, const char *method, uint64_t now_ms,
                            ledger_claim_t *state, uint8_t **ack, size_t *ack_len, bosun_err_t *err)
{
    bosun_status_t rc = BOSUN_OK;
    *ack = NULL;
    *ack_len = 0;
    pthread_mutex_lock(&l->mu);
    sqlite3_bind_text(l->claim, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(l->claim, 2, method, -1, SQLITE_STATIC);
    sqlite3_bind_int64(l->claim, 3, (sqlite3_int64)now_ms);
    if (run(l->claim) != SQLITE_OK) {
        rc = db_err(l->db, "claim", err);
        goto out;
    }
    if (sqlite3_changes(l->db) == 1) {
        *state = LEDGER_NEW;
        goto out;
    }
    sqlite3_bind_text(l->lookup, 1, id, -1, SQLITE_STATIC);
    if (sqlite3_step(l->lookup) != SQLITE_ROW) {
        rc = db_err(l->db, "lookup", err);
    } else if (sqlite3_column_type(l->lookup, 0) == SQLITE_NULL) {
        *state = LEDGER_RUNNING;
    } else {
        *state = LEDGER_DONE;
        int n = sqlite3_column_bytes(l->lookup, 1);
        const void *blob = sqlite3_column_blob(l->lookup, 1);
        *ack = malloc(n > 0 ? (size_t)n : 1);
        if (*ack == NULL)
            rc = BOSUN_ERR_NOMEM;
        else {
            if (n > 0)
                memcpy(*ack, blob, (size_t)n);
            *ack_len = (size_t)n;
        }
    }
    sqlite3_reset(l->lookup);
    sqlite3_clear_bindings(l->lookup);
out:
    pthread_mutex_unlock(&l->mu);
    return rc;
}

bosun_status_t ledger_started(ledger_t *l, const char *id, pid_t pgid, uint64_t start_ticks,
                              uint64_t now_ms)
{
    pthread_mutex_lock(&l->mu);
    sqlite3_bind_text(l->started, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(l->started, 2, (sqlite3_int64)now_ms);
    sqlite3_bind_int64(l->started, 3, pgid);
    sqlite3_bind_int64(l->started, 4, (sqlite3_int64)start_ticks);
    int rc = run(l->started);
    pthread_mutex_unlock(&l->mu);
    return rc == SQLITE_OK ? BOSUN_OK : BOSUN_ERR_DB;
}

bosun_status_t ledger_finish(ledger_t *l, const char *id, const uint8_t *ack, size_t len,
                             uint64_t now_ms)
{
    pthread_mutex_lock(&l->mu);
    sqlite3_bind_text(l->finish, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(l->finish, 2, (sqlite3_int64)now_ms);
    sqlite3_bind_blob(l->finish, 3, ack, (int)len, SQLITE_STATIC);
    int rc = run(l->finish);
    pthread_mutex_unlock(&l->mu);
    return rc == SQLITE_OK ? BOSUN_OK : BOSUN_ERR_DB;
}

bosun_status_t ledger_forget(ledger_t *l, const char *id)
{
    pthread_mutex_lock(&l->mu);
    sqlite3_bind_text(l->forget, 1, id, -1, SQLITE_STATIC);
    int rc = run(l->forget);
    pthread_mutex_unlock(&l->mu);
    return rc == SQLITE_OK ? BOSUN_OK : BOSUN_ERR_DB;
}

static char *dup_col(sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    return strdup(t ? (const char *)t : "");
}

bosun_status_t ledger_recover(ledger_t *l, ledger_orphan_t **orphans, size_t *n, size_t *forgotten)
{
    bosun_status_t rc = BOSUN_OK;
    sqlite3_stmt *st = NULL;
    *orphans = NULL;
    *n = 0;
    *forgotten = 0;
    pthread_mutex_lock(&l->mu);
    if (sqlite3_exec(l->db, "DELETE FROM executions WHERE started_ms IS NULL AND finished_ms IS NULL",
                     NULL, NULL, NULL) != SQLITE_OK) {
        rc = BOSUN_ERR_DB;
        goto out;
    }
    *forgotten = (size_t)sqlite3_changes(l->db);
    if (prepare(l,
                "SELECT id, method, pgid, start_ticks, started_ms FROM executions "
                "WHERE started_ms IS NOT NULL AND finished_ms IS NULL ORDER BY claimed_ms",
                &st) != SQLITE_OK) {
        rc = BOSUN_ERR_DB;
        goto out;
    }
    size_t cap = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 8;
            ledger_orphan_t *grown = realloc(*orphans, cap * sizeof **orphans);
            if (grown == NULL) {
                rc = BOSUN_ERR_NOMEM;
                break;
            }
            *orphans = grown;
        }
        ledger_orphan_t *o = &(*orphans)[(*n)++];
        o->id = dup_col(st, 0);
        o->method = dup_col(st, 1);
        o->pgid = (pid_t)sqlite3_column_int64(st, 2);
        o->start_ticks = (uint64_t)sqlite3_column_int64(st, 3);
        o->started_ms = (uint64_t)sqlite3_column_int64(st, 4);
    }
out:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&l->mu);
    return rc;
}

void ledger_orphans_free(ledger_orphan_t *orphans, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(orphans[i].id);
        free(orphans[i].method);
    }
    free(orphans);
}

bosun_status_t ledger_purge(ledger_t *l, uint64_t before_ms, size_t *purged)
{
    pthread_mutex_lock(&l->mu);
    sqlite3_bind_int64(l->purge, 1, (sqlite3_int64)before_ms);
    int rc = run(l->purge);
    *purged = rc == SQLITE_OK ? (size_t)sqlite3_changes(l->db) : 0;
    pthread_mutex_unlock(&l->mu);
    return rc == SQLITE_OK ? BOSUN_OK : BOSUN_ERR_DB;
}
