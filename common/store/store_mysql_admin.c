/*
 * The MySQL backend's maintenance queries: purge in batches, and the counts
 * and latency percentiles of a store summary. Called only through
 * store_admin.c, under the handle's lock.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "store_mysql.h"
#include "store_mysql_row.h"

int hw_my_requeue_failed(void *be, const char *const *ids, size_t n, int64_t now_ms, uint64_t *rows)
{
    struct hw_my *b = be;
    char *sql = hw_store_in_sql(HW_SQL_REQUEUE_FAILED_IN, n);
    MYSQL_BIND *p = calloc(n + 1, sizeof(*p));
    MYSQL_STMT *st = NULL;
    int err = sql && p ? hw_my_ready(b) : HW_ENOMEM;

    *rows = 0;
    if (err)
        goto out;
    st = mysql_stmt_init(b->conn);
    if (!st) {
        err = HW_ENOMEM;
        goto out;
    }
    hw_my_param_i64(&p[0], &now_ms);
    for (size_t i = 0; i < n; i++)
        hw_my_param_str(&p[1 + i], ids[i]);
    /* Autocommit: the one UPDATE commits by itself, whole or not at all. */
    if (mysql_stmt_prepare(st, sql, strlen(sql)))
        err = hw_my_stmt_fail(b, st, "requeue");
    else
        err = hw_my_execute(b, st, p, "requeue");
    if (!err)
        *rows = (uint64_t)mysql_stmt_affected_rows(st);
out:
    if (st)
        mysql_stmt_close(st);
    free(sql);
    free(p);
    return err;
}

int hw_my_purge_batch(void *be, int64_t before_ms, const int stv[3], uint64_t *removed)
{
    struct hw_my *b = be;
    int64_t lim = HW_STORE_PURGE_BATCH, seq = 0;
    char id[HW_ID_LEN + 2];
    int64_t *seqs = malloc(HW_STORE_PURGE_BATCH * sizeof(*seqs));
    char(*ids)[HW_ID_LEN + 1] = malloc(HW_STORE_PURGE_BATCH * sizeof(*ids));
    MYSQL_BIND p[5], r[2];
    unsigned long idlen = 0;
    size_t n = 0;
    int rc, err = seqs && ids ? hw_my_begin(b) : HW_ENOMEM;
    MYSQL_STMT *st;

    *removed = 0;
    if (err)
        goto out;
    st = hw_my_stmt(b, HW_MY_PURGE_PICK, &err);
    if (!st)
        goto fail;
    hw_my_param_i64(&p[0], &before_ms);
    for (int i = 0; i < 3; i++)
        hw_my_param_int(&p[1 + i], &stv[i]);
    hw_my_param_i64(&p[4], &lim);
    err = hw_my_execute(b, st, p, "purge");
    if (err)
        goto fail;
    memset(r, 0, sizeof(r));
    hw_my_result_i64(&r[0], &seq, NULL);
    r[1].buffer_type = MYSQL_TYPE_STRING;
    r[1].buffer = id;
    r[1].buffer_length = sizeof(id);
    r[1].length = &idlen;
    if (mysql_stmt_bind_result(st, r)) {
        err = hw_my_stmt_fail(b, st, "purge");
        goto fail;
    }
    while ((rc = mysql_stmt_fetch(st)) == 0 || rc == MYSQL_DATA_TRUNCATED) {
        if (n < HW_STORE_PURGE_BATCH) {
            seqs[n] = seq;
            memcpy(ids[n], id, HW_ID_LEN);
            ids[n][idlen < HW_ID_LEN ? idlen : HW_ID_LEN] = '\0';
            n++;
        }
    }
    if (rc == 1) {
        err = hw_my_stmt_fail(b, st, "purge");
        goto fail;
    }
    mysql_stmt_free_result(st);
    for (size_t i = 0; i < n && !err; i++) {
        hw_my_param_str(&p[0], ids[i]);
        err = hw_my_run(b, HW_MY_PURGE_ATTEMPTS, p, NULL, "purge attempts");
        if (!err) {
            hw_my_param_i64(&p[0], &seqs[i]);
            err = hw_my_run(b, HW_MY_PURGE_EVENT, p, NULL, "purge events");
        }
    }
    if (!err)
        err = hw_my_commit(b);
    if (err)
        goto fail;
    *removed = n;
    goto out;

fail:
    hw_my_rollback(b);
out:
    free(seqs);
    free(ids);
    return err;
}

/* Reads the (status, count) rows of HW_SQL_COUNT_STATUS into sum. */
static int count_status(struct hw_my *b, struct hw_store_summary *sum)
{
    MYSQL_STMT *st = mysql_stmt_init(b->conn);
    MYSQL_BIND r[2];
    int64_t status = 0, count = 0;
    int err = 0, rc;

    if (!st)
        return HW_ENOMEM;
    hw_my_result_i64(&r[0], &status, NULL);
    hw_my_result_i64(&r[1], &count, NULL);
    if (mysql_stmt_prepare(st, HW_SQL_COUNT_STATUS, strlen(HW_SQL_COUNT_STATUS)) ||
        mysql_stmt_execute(st) || mysql_stmt_bind_result(st, r)) {
        err = hw_my_stmt_fail(b, st, "summary");
        goto out;
    }
    while ((rc = mysql_stmt_fetch(st)) == 0)
        if (status >= HW_STORE_PENDING && status <= HW_STORE_FAILED)
            sum->by_status[status] = (uint64_t)count;
    if (rc == 1)
        err = hw_my_stmt_fail(b, st, "summary");
out:
    mysql_stmt_close(st);
    return err;
}

/* Reads the (source, status, count) rows of HW_SQL_COUNT_SOURCE into sum (1000 sources at most). */
static int count_source(struct hw_my *b, struct hw_store_summary *sum)
{
    MYSQL_STMT *st = mysql_stmt_init(b->conn);
    MYSQL_BIND r[3];
    char src[HW_STORE_NAME_MAX + 2];
    unsigned long len = 0;
    int64_t status = 0, count = 0;
    int err = 0, rc;

    if (!st)
        return HW_ENOMEM;
    memset(r, 0, sizeof(r));
    r[0].buffer_type = MYSQL_TYPE_STRING;
    r[0].buffer = src;
    r[0].buffer_length = sizeof(src);
    r[0].length = &len;
    hw_my_result_i64(&r[1], &status, NULL);
    hw_my_result_i64(&r[2], &count, NULL);
    if (mysql_stmt_prepare(st, HW_SQL_COUNT_SOURCE, strlen(HW_SQL_COUNT_SOURCE)) ||
        mysql_stmt_execute(st) || mysql_stmt_bind_result(st, r)) {
        err = hw_my_stmt_fail(b, st, "summary");
        goto out;
    }
    while (!err && ((rc = mysql_stmt_fetch(st)) == 0 || rc == MYSQL_DATA_TRUNCATED)) {
        src[len < sizeof(src) ? len : sizeof(src) - 1] = '\0';
        err = hw_store_summary_count(sum, src, (int)status, (uint64_t)count);
    }
    if (!err && rc == 1)
        err = hw_my_stmt_fail(b, st, "summary");
    if (err == HW_ENOMEM)
        mysql_stmt_free_result(st);
out:
    mysql_stmt_close(st);
    return err;
}

int hw_my_summarize(void *be, int64_t now_ms, struct hw_store_summary *sum)
{
    struct hw_my *b = be;
    int64_t since = now_ms - 3600 * 1000, v = 0;
    int err = hw_my_ready(b);

    if (!err)
        err = count_status(b, sum);
    if (!err)
        err = count_source(b, sum);
    if (!err)
        err = hw_my_query_i64(b, HW_SQL_OLDEST_PENDING_MY, NULL, 0, &sum->oldest_pending_ms);
    if (!err)
        err = hw_my_query_i64(b, HW_SQL_FAILED_SINCE_MY, &since, 1, &v);
    sum->failed_last_hour = (uint64_t)v;
    return err;
}

int hw_my_backlog(void *be, const char *source, uint64_t *pending, int64_t *oldest_ms)
{
    struct hw_my *b = be;
    MYSQL_STMT *st;
    MYSQL_BIND p[1], r[2];
    int64_t count = 0;
    int err = hw_my_ready(b);

    if (err)
        return err;
    st = mysql_stmt_init(b->conn);
    if (!st)
        return HW_ENOMEM;
    hw_my_param_str(&p[0], source);
    hw_my_result_i64(&r[0], &count, NULL);
    hw_my_result_i64(&r[1], oldest_ms, NULL);
    if (mysql_stmt_prepare(st, HW_SQL_BACKLOG_MY, strlen(HW_SQL_BACKLOG_MY)) ||
        mysql_stmt_bind_param(st, p) || mysql_stmt_execute(st) || mysql_stmt_bind_result(st, r) ||
        mysql_stmt_fetch(st) == 1)
        err = hw_my_stmt_fail(b, st, "backlog");
    *pending = (uint64_t)count;
    mysql_stmt_close(st);
    return err;
}

int hw_my_latency(void *be, int64_t since_ms, uint64_t *n, const uint64_t *k, int *lat, size_t nk)
{
    struct hw_my *b = be;
    int64_t v = 0, p[2] = { since_ms, 0 };
    int err = hw_my_ready(b);

    if (!err)
        err = hw_my_query_i64(b, HW_SQL_LATENCY_COUNT, p, 1, &v);
    if (err)
        return err;
    *n = (uint64_t)v;
    for (size_t i = 0; i < nk && !err; i++) {
        p[1] = (int64_t)k[i];
        err = hw_my_query_i64(b, HW_SQL_LATENCY_AT, p, 2, &v);
        lat[i] = (int)v;
    }
    return err;
}
