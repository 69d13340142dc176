/*
 * MySQL: leases given back unused, many in one statement per chunk
 * (release_batch in struct hw_store_ops): one fenced UPDATE joined with the
 * (id, lease) pairs, instead of a round trip per lease, so that a receiver
 * that stops gives back thousands of leases in a few. Runs inside the
 * caller's transaction, on the thread holding the lock.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "store_mysql.h"
#include "store_mysql_row.h"

/*
 * Per lease: id lease; then now (the new due time) and now (the fence's);
 * then the ids again, so that the UPDATE walks the id index. The fence is
 * HW_SQL_RELEASE's.
 */
#define RELEASE_HEAD "UPDATE hookwire_events e JOIN ("
#define RELEASE_ROW0 \
    "SELECT CAST(? AS CHAR(30) CHARACTER SET ascii) COLLATE ascii_bin AS id, ? AS lease"
#define RELEASE_ROW " UNION ALL SELECT ?, ?"
#define RELEASE_TAIL                                                                       \
    ") v ON e.id = v.id SET e.next_attempt_ms = ?, e.lease_owner = '', e.lease_until = 0 " \
    "WHERE e.status = 1 AND e.lease_token = v.lease AND e.lease_until > ? AND e.id IN "
#define RELEASE_PARAMS 3 /* per lease: id and lease, and the id once more in the IN list */
/* A chunk's statement stays far below max_allowed_packet and the placeholder limit. */
#define CHUNK_MAX 256u

/* The UPDATE for n leases; an owned string or NULL. */
static char *release_sql(size_t n)
{
    size_t cap = sizeof(RELEASE_HEAD RELEASE_ROW0 RELEASE_TAIL) + n * (sizeof(RELEASE_ROW) + 2) + 8;
    char *sql = malloc(cap), *p = sql;
    int k;

    if (!sql)
        return NULL;
    k = snprintf(p, cap, "%s", RELEASE_HEAD RELEASE_ROW0);
    for (size_t i = 1; i < n; i++)
        k += snprintf(p + k, cap - (size_t)k, "%s", RELEASE_ROW);
    k += snprintf(p + k, cap - (size_t)k, "%s", RELEASE_TAIL "(");
    for (size_t i = 0; i < n; i++)
        k += snprintf(p + k, cap - (size_t)k, "%s", i ? ",?" : "?");
    snprintf(p + k, cap - (size_t)k, ")");
    return sql;
}

/* v[0..n), n <= CHUNK_MAX, with the parameter array p: HW_ELEASE unless every lease passed. */
static int release_chunk(struct hw_my *b, int64_t *now_ms, const struct hw_store_lease *v, size_t n,
                         MYSQL_BIND *p)
{
    char *sql = release_sql(n);
    MYSQL_STMT *st;
    size_t k = 0;
    int err;

    if (!sql)
        return HW_ENOMEM;
    st = mysql_stmt_init(b->conn);
    if (!st) {
        free(sql);
        return HW_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        hw_my_param_str(&p[k++], v[i].id);
        hw_my_param_i64(&p[k++], &v[i].lease);
    }
    hw_my_param_i64(&p[k++], now_ms);
    hw_my_param_i64(&p[k++], now_ms);
    for (size_t i = 0; i < n; i++)
        hw_my_param_str(&p[k++], v[i].id);
    if (mysql_stmt_prepare(st, sql, strlen(sql)))
        err = hw_my_stmt_fail(b, st, "release leases");
    else
        err = hw_my_execute(b, st, p, "release leases");
    /* A stale lease, an unknown id or an id twice changed fewer rows: go one by one. */
    if (!err && (uint64_t)mysql_stmt_affected_rows(st) != n)
        err = HW_ELEASE;
    mysql_stmt_close(st);
    free(sql);
    return err;
}

int hw_my_release_batch(void *be, int64_t now_ms, const struct hw_store_lease *v, size_t n)
{
    struct hw_my *b = be;
    size_t chunk = n < CHUNK_MAX ? n : CHUNK_MAX;
    MYSQL_BIND *p = calloc(RELEASE_PARAMS * chunk + 2, sizeof(*p));
    int err = 0;

    if (!p)
        return HW_ENOMEM;
    for (size_t i = 0; i < n && !err; i += chunk)
        err = release_chunk(b, &now_ms, v + i, n - i < chunk ? n - i : chunk, p);
    free(p);
    return err;
}
