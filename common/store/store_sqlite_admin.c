/*
 * The SQLite backend's maintenance queries: purge in batches, and the
 * counts and latency percentiles of a store summary. Called only through
 * store_admin.c, under the handle's lock.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "store_sqlite.h"

int hw_lite_requeue_failed(void *be, const char *const *ids, size_t n, int64_t now_ms,
                           uint64_t *rows)
{
    struct hw_lite *b = be;
    char *sql = hw_store_in_sql(HW_SQL_REQUEUE_FAILED_IN, n);
    sqlite3_stmt *st = NULL;
    int rc, err;

    if (!sql)
        return HW_ENOMEM;
    rc = sqlite3_prepare_v2(b->db, sql, -1, &st, NULL);
    free(sql);
    if (rc != SQLITE_OK)
        return hw_lite_fail(b, rc, "requeue");
    sqlite3_bind_int64(st, 1, now_ms);
    for (size_t i = 0; i < n; i++)
        sqlite3_bind_text(st, 2 + (int)i, ids[i], -1, SQLITE_STATIC);
    /* One transaction: the rows' statement, then the packed webhooks among the ids. */
    *rows = 0;
    err = hw_lite_begin(b);
    if (!err)
        err = hw_lite_run(b, st, "requeue");
    if (!err)
        *rows = (uint64_t)sqlite3_changes(b->db);
    sqlite3_finalize(st);
    /* A packed webhook is delivered or failed (or moved out): without force, only failed goes. */
    for (size_t i = 0; i < n && !err; i++) {
        int e = hw_lite_pack_requeue(b, ids[i], now_ms, 0);

        if (!e)
            ++*rows;
        else if (e != HW_ENOTFOUND && e != HW_EEXIST)
            err = e;
    }
    if (!err)
        err = hw_lite_commit(b);
    if (err) {
        *rows = 0;
        hw_lite_rollback(b);
    }
    return err;
}

int hw_lite_purge_batch(void *be, int64_t before_ms, const int stv[3], uint64_t *removed)
{
    struct hw_lite *b = be;
    int64_t seq[HW_STORE_PURGE_BATCH];
    char(*ids)[HW_ID_LEN + 1] = malloc(HW_STORE_PURGE_BATCH * sizeof(*ids));
    size_t n = 0;
    int err = ids ? hw_lite_begin(b) : HW_ENOMEM, rc;
    sqlite3_stmt *pick, *att, *ev;

    *removed = 0;
    if (err)
        goto out;
    pick = hw_lite_stmt(b, HW_LITE_PURGE_PICK, &err);
    att = hw_lite_stmt(b, HW_LITE_PURGE_ATTEMPTS, &err);
    ev = hw_lite_stmt(b, HW_LITE_PURGE_EVENT, &err);
    if (!pick || !att || !ev)
        goto fail;
    sqlite3_bind_int64(pick, 1, before_ms);
    for (int i = 0; i < 3; i++)
        sqlite3_bind_int(pick, 2 + i, stv[i]);
    sqlite3_bind_int(pick, 5, HW_STORE_PURGE_BATCH);
    while ((rc = sqlite3_step(pick)) == SQLITE_ROW && n < HW_STORE_PURGE_BATCH) {
        seq[n] = sqlite3_column_int64(pick, 0);
        snprintf(ids[n], sizeof(ids[n]), "%s", hw_lite_col_str(pick, 1));
        n++;
    }
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        err = hw_lite_fail(b, rc, "purge");
        sqlite3_reset(pick);
        goto fail;
    }
    sqlite3_reset(pick);
    for (size_t i = 0; i < n && !err; i++) {
        sqlite3_bind_text(att, 1, ids[i], -1, SQLITE_STATIC);
        err = hw_lite_run(b, att, "purge attempts");
        if (!err) {
            sqlite3_bind_int64(ev, 1, seq[i]);
            err = hw_lite_run(b, ev, "purge events");
        }
    }
    if (!err)
        err = hw_lite_commit(b);
    if (err)
        goto fail;
    *removed = n;
    /* No row left to purge: the packed webhooks, a batch in a transaction of its own. */
    if (!n) {
        err = hw_lite_begin(b);
        if (!err)
            err = hw_lite_pack_purge(b, before_ms, stv, removed);
        if (!err)
            err = hw_lite_pack_commit(b, *removed);
        if (err) {
            *removed = 0;
            goto fail;
        }
    }
    goto out;

fail:
    hw_lite_rollback(b);
out:
    free(ids);
    return err;
}

/* Prepares sql, binds up to two integers (nb of them) and returns the statement, or NULL. */
static sqlite3_stmt *query(struct hw_lite *b, const char *sql, const int64_t *v, int nb, int *err)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(b->db, sql, -1, &st, NULL);

    if (rc != SQLITE_OK) {
        *err = hw_lite_fail(b, rc, "summary");
        return NULL;
    }
    for (int i = 0; i < nb; i++)
        sqlite3_bind_int64(st, i + 1, v[i]);
    return st;
}

/* Runs a one-row, one-integer query. */
static int query_i64(struct hw_lite *b, const char *sql, const int64_t *v, int nb, int64_t *out)
{
    int err = 0, rc;
    sqlite3_stmt *st = query(b, sql, v, nb, &err);

    if (!st)
        return err;
    rc = sqlite3_step(st);
    *out = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        err = hw_lite_fail(b, rc, "summary");
    sqlite3_finalize(st);
    return err;
}

int hw_lite_summarize(void *be, int64_t now_ms, struct hw_store_summary *sum)
{
    struct hw_lite *b = be;
    int64_t since = now_ms - 3600 * 1000, v;
    int err = 0, rc;
    sqlite3_stmt *st = query(b, HW_SQL_COUNT_STATUS, NULL, 0, &err);

    if (!st)
        return err;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int status = sqlite3_column_int(st, 0);
        if (status >= HW_STORE_PENDING && status <= HW_STORE_FAILED)
            sum->by_status[status] = (uint64_t)sqlite3_column_int64(st, 1);
    }
    if (rc != SQLITE_DONE)
        err = hw_lite_fail(b, rc, "summary");
    sqlite3_finalize(st);
    st = err ? NULL : query(b, HW_SQL_COUNT_SOURCE, NULL, 0, &err);
    while (st && !err && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *src = hw_lite_col_str(st, 0);
        int status = sqlite3_column_int(st, 1);
        err = hw_store_summary_count(sum, src, status, (uint64_t)sqlite3_column_int64(st, 2));
    }
    if (st && !err && rc != SQLITE_DONE && rc != SQLITE_ROW)
        err = hw_lite_fail(b, rc, "summary");
    sqlite3_finalize(st);
    if (!err)
        err = query_i64(b, HW_SQL_OLDEST_PENDING, NULL, 0, &sum->oldest_pending_ms);
    if (!err)
        err = query_i64(b, HW_SQL_FAILED_SINCE, &since, 1, &v);
    if (!err)
        sum->failed_last_hour = (uint64_t)v;
    if (!err)
        err = hw_lite_pack_summarize(b, since, sum);
    return err;
}

int hw_lite_backlog(void *be, const char *source, uint64_t *pending, int64_t *oldest_ms)
{
    struct hw_lite *b = be;
    int err = 0, rc;
    sqlite3_stmt *st = query(b, HW_SQL_BACKLOG, NULL, 0, &err);

    if (!st)
        return err;
    hw_lite_bind_str(st, 1, source);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *pending = (uint64_t)sqlite3_column_int64(st, 0);
        *oldest_ms = sqlite3_column_int64(st, 1);
    } else {
        err = hw_lite_fail(b, rc, "backlog");
    }
    sqlite3_finalize(st);
    return err;
}

int hw_lite_latency(void *be, int64_t since_ms, uint64_t *n, const uint64_t *k, int *lat, size_t nk)
{
    struct hw_lite *b = be;
    int64_t v, p[2] = { since_ms, 0 };
    int err = query_i64(b, HW_SQL_LATENCY_COUNT, p, 1, &v);

    if (err)
        return err;
    *n = (uint64_t)v;
    for (size_t i = 0; i < nk && !err; i++) {
        p[1] = (int64_t)k[i];
        err = query_i64(b, HW_SQL_LATENCY_AT, p, 2, &v);
        lat[i] = (int)v;
    }
    return err;
}
