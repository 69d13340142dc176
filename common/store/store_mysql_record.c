/*
 * MySQL: a batch of delivery outcomes in two statements per chunk (record_batch
 * in struct hw_store_ops): one fenced UPDATE joined with the outcomes, one
 * multi-row INSERT of the attempts, instead of two round trips per outcome.
 * Runs inside the caller's transaction, on the thread holding the lock.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "store_mysql.h"
#include "store_mysql_row.h"

/*
 * Per outcome: id lease status next_attempt_ms last_status last_error; then
 * now; then the ids again, so that the UPDATE walks the id index. The fence
 * is HW_SQL_FINISH's for a leased outcome and HW_SQL_SETTLE's for one
 * without a lease (lease_token is never negative).
 */
#define FINISH_HEAD "UPDATE hookwire_events e JOIN ("
#define FINISH_ROW0                                                                        \
    "SELECT CAST(? AS CHAR(30) CHARACTER SET ascii) COLLATE ascii_bin AS id, ? AS lease, " \
    "? AS st, ? AS nx, ? AS ls, ? AS le"
#define FINISH_ROW " UNION ALL SELECT ?, ?, ?, ?, ?, ?"
#define FINISH_TAIL                                                                        \
    ") v ON e.id = v.id SET e.attempts = e.attempts + 1, e.status = v.st, "                \
    "e.next_attempt_ms = v.nx, e.last_status = v.ls, e.last_error = v.le, "                \
    "e.lease_owner = '', e.lease_until = 0 WHERE e.status = 1 AND "                        \
    "((v.lease = -1 AND e.lease_until = 0) OR (e.lease_token = v.lease AND e.lease_until " \
    "> ?)) AND e.id IN "
#define FINISH_PARAMS 6 /* per outcome, and its id once more in the IN list */
/* A chunk's statements stay far below max_allowed_packet and the placeholder limit. */
#define CHUNK_MAX 256u
#define ROW_BYTES (HW_STORE_ERROR_MAX + HW_STORE_EXCERPT_MAX + 256u)

/* Appends s to the string at *p (capacity left *cap); the callers size their buffers. */
static void put(char **p, size_t *cap, const char *s)
{
    int k = snprintf(*p, *cap, "%s", s);

    if (k > 0 && (size_t)k < *cap) {
        *p += k;
        *cap -= (size_t)k;
    }
}

/* The UPDATE for n outcomes; an owned string or NULL. */
static char *finish_sql(size_t n)
{
    size_t cap = sizeof(FINISH_HEAD FINISH_ROW0 FINISH_TAIL) + n * (sizeof(FINISH_ROW) + 2) + 8;
    char *sql = malloc(cap), *p = sql;

    if (!sql)
        return NULL;
    put(&p, &cap, FINISH_HEAD FINISH_ROW0);
    for (size_t i = 1; i < n; i++)
        put(&p, &cap, FINISH_ROW);
    put(&p, &cap, FINISH_TAIL "(");
    for (size_t i = 0; i < n; i++)
        put(&p, &cap, i ? ",?" : "?");
    put(&p, &cap, ")");
    return sql;
}

/* The INSERT of n attempts; an owned string or NULL. */
static char *add_sql(size_t n)
{
    static const char head[] = "INSERT INTO hookwire_attempts (event_id, at_ms, duration_ms, "
                               "http_status, error, excerpt) VALUES ";
    size_t cap = sizeof(head) + n * sizeof(",(?,?,?,?,?,?)");
    char *sql = malloc(cap), *p = sql;

    if (!sql)
        return NULL;
    put(&p, &cap, head);
    for (size_t i = 0; i < n; i++)
        put(&p, &cap, i ? ",(?,?,?,?,?,?)" : "(?,?,?,?,?,?)");
    return sql;
}

/* Prepares sql, executes it with p and closes it; *rows (may be NULL) gets the rows changed. */
static int run_once(struct hw_my *b, const char *sql, MYSQL_BIND *p, uint64_t *rows,
                    const char *what)
{
    MYSQL_STMT *st = mysql_stmt_init(b->conn);
    int err;

    if (!st)
        return HW_ENOMEM;
    if (mysql_stmt_prepare(st, sql, strlen(sql)))
        err = hw_my_stmt_fail(b, st, what);
    else
        err = hw_my_execute(b, st, p, what);
    if (!err && rows)
        *rows = (uint64_t)mysql_stmt_affected_rows(st);
    mysql_stmt_close(st);
    return err;
}

/* v[0..n), n <= CHUNK_MAX: the UPDATE, then (every outcome passed its fence) the INSERT. */
static int record_chunk(struct hw_my *b, int64_t now_ms, const struct hw_store_outcome *v, size_t n,
                        MYSQL_BIND *p)
{
    char *fin = finish_sql(n), *add = add_sql(n);
    uint64_t rows = 0;
    size_t k = 0;
    int err;

    if (!fin || !add) {
        err = HW_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        hw_my_param_str(&p[k++], v[i].id);
        hw_my_param_i64(&p[k++], &v[i].lease);
        hw_my_param_int(&p[k++], &v[i].status);
        hw_my_param_i64(&p[k++], &v[i].next_attempt_ms);
        hw_my_param_int(&p[k++], &v[i].attempt.http_status);
        hw_my_param_str(&p[k++], v[i].attempt.error);
    }
    hw_my_param_i64(&p[k++], &now_ms);
    for (size_t i = 0; i < n; i++)
        hw_my_param_str(&p[k++], v[i].id);
    err = run_once(b, fin, p, &rows, "finish attempts");
    /* A stale lease, an unknown id or an id twice changed fewer rows: go one by one. */
    if (!err && rows != n)
        err = HW_ELEASE;
    if (err)
        goto out;
    k = 0;
    for (size_t i = 0; i < n; i++) {
        const struct hw_store_attempt *a = &v[i].attempt;

        hw_my_param_str(&p[k++], v[i].id);
        hw_my_param_i64(&p[k++], &a->at_ms);
        hw_my_param_int(&p[k++], &a->duration_ms);
        hw_my_param_int(&p[k++], &a->http_status);
        hw_my_param_str(&p[k++], a->error);
        hw_my_param_bytes(&p[k++], a->excerpt, a->excerpt_len);
    }
    err = run_once(b, add, p, NULL, "record attempts");
out:
    free(fin);
    free(add);
    return err;
}

int hw_my_record_batch(void *be, int64_t now_ms, const struct hw_store_outcome *v, size_t n)
{
    struct hw_my *b = be;
    size_t chunk = b->max_packet / 2 / ROW_BYTES;
    MYSQL_BIND *p;
    int err = 0;

    if (chunk > CHUNK_MAX)
        chunk = CHUNK_MAX;
    if (chunk < 1)
        chunk = 1;
    p = calloc((FINISH_PARAMS + 1) * (n < chunk ? n : chunk) + 1, sizeof(*p));
    if (!p)
        return HW_ENOMEM;
    for (size_t i = 0; i < n && !err; i += chunk)
        err = record_chunk(b, now_ms, v + i, n - i < chunk ? n - i : chunk, p);
    free(p);
    return err;
}
