/*
 * MySQL: leases given back unused, many in one statement per chunk
 * (release_batch in struct hw_store_ops): one fenced single-table UPDATE
 * whose fence is the list of (id, lease) pairs, built as the outcomes'
 * (hw_my_fence_sql), instead of a round trip per lease, so that a receiver
 * that stops gives back thousands of leases in a few. Runs inside the
 * caller's transaction, on the thread holding the lock.
 */
#include <stdlib.h>

#include "core/err.h"
#include "store_mysql.h"
#include "store_mysql_row.h"

/* Parameters: now (the new due time), now (the fence's), the k ids, the k (id, lease) pairs. */
#define RELEASE_HEAD                                                                           \
    "UPDATE hookwire_events SET next_attempt_ms = ?, lease_owner = '', lease_until = 0 WHERE " \
    "status = 1 AND "

_Static_assert(2 + 3 * HW_MY_ROWS_MAX <= HW_MY_ROWS_MAX * HW_SQL_INSERT_PARAMS,
               "a chunk's parameters fit the connection's row parameters");

/* v[0..n), n <= HW_MY_ROWS_MAX: HW_ELEASE unless every lease passed its fence. */
static int release_chunk(struct hw_my *b, const int64_t *now_ms, const struct hw_store_lease *v,
                         size_t n)
{
    MYSQL_BIND *p = b->rows;
    MYSQL_STMT *st = NULL;
    size_t len, k = 0;
    char *sql = hw_my_fence_sql(RELEASE_HEAD, 1, n, &len);
    int err = 0;

    if (!sql)
        return HW_ENOMEM;
    hw_my_param_i64(&p[k++], now_ms);
    hw_my_param_i64(&p[k++], now_ms);
    for (size_t i = 0; i < n; i++)
        hw_my_param_str(&p[k++], v[i].id);
    for (size_t i = 0; i < n; i++) {
        hw_my_param_str(&p[k++], v[i].id);
        hw_my_param_i64(&p[k++], &v[i].lease);
    }
    if (hw_my_prepare(b, &st, sql, len, &err))
        err = hw_my_execute(b, st, p, "release leases");
    /* A stale lease, an unknown id or an id twice changed fewer rows: go one by one. */
    if (!err && (uint64_t)mysql_stmt_affected_rows(st) != n)
        err = HW_ELEASE;
    if (st)
        mysql_stmt_close(st);
    free(sql);
    return err;
}

int hw_my_release_batch(void *be, int64_t now_ms, const struct hw_store_lease *v, size_t n)
{
    struct hw_my *b = be;
    int err = 0;

    for (size_t i = 0; i < n && !err; i += HW_MY_ROWS_MAX)
        err = release_chunk(b, &now_ms, v + i, n - i < HW_MY_ROWS_MAX ? n - i : HW_MY_ROWS_MAX);
    return err;
}
