/*
 * MySQL: many delivery outcomes in a few round trips (record_many in
 * struct hw_store_ops): one fenced UPDATE joined with the outcomes, one
 * multi-row INSERT of the attempts. Runs inside the caller's transaction,
 * on the thread holding the handle's lock.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "store_mysql.h"
#include "store_mysql_row.h"

/* Per outcome: id lease status next_attempt_ms last_status last_error. */
#define FINISH_HEAD "UPDATE hookwire_events e JOIN ("
#define FINISH_ROW0                                                                        \
    "SELECT CAST(? AS CHAR(30) CHARACTER SET ascii) COLLATE ascii_bin AS id, ? AS lease, " \
    "? AS st, ? AS nx, ? AS ls, ? AS le"
#define FINISH_ROW " UNION ALL SELECT CAST(? AS CHAR(30) CHARACTER SET ascii), ?, ?, ?, ?, ?"
/* Then the ids again for the index range, then now. */
#define FINISH_TAIL                                                         \
    ") v ON e.id = v.id SET e.attempts = e.attempts + 1, e.status = v.st, " \
    "e.next_attempt_ms = v.nx, e.last_status = v.ls, e.last_error = v.le, " \
    "e.lease_owner = NULL, e.lease_until = NULL WHERE e.status = 1 AND "    \
    "e.lease_token = v.lease AND e.lease_until > ? AND e.id IN "
#define ADD_HEAD                                                                                 \
    "INSERT INTO hookwire_attempts (event_id, at_ms, duration_ms, http_status, error, excerpt) " \
    "VALUES "
#define ADD_ROW "(?, ?, ?, ?, ?, ?)"

/* Builds the SQL text of parts; returns an owned string or NULL. */
static char *finish_sql(size_t n)
{
    size_t cap = sizeof(FINISH_HEAD FINISH_ROW0 FINISH_TAIL) + n * (sizeof(FINISH_ROW) + 4) + 8;
    char *sql = malloc(cap), *p = sql;

    if (!sql)
        return NULL;
    p += snprintf(p, cap, "%s", FINISH_HEAD FINISH_ROW0);
    for (size_t i = 1; i < n; i++)
        p += snprintf(p, cap - (size_t)(p - sql), "%s", FINISH_ROW);
    p += snprintf(p, cap - (size_t)(p - sql), "%s(", FINISH_TAIL);
    for (size_t i = 0; i < n; i++)
        p += snprintf(p, cap - (size_t)(p - sql), i ? ",?" : "?");
    snprintf(p, cap - (size_t)(p - sql), ")");
    return sql;
}

static char *add_sql(size_t n)
{
    size_t cap = sizeof(ADD_HEAD) + n * (sizeof(ADD_ROW) + 1);
    char *sql = malloc(cap), *p = sql;

    if (!sql)
        return NULL;
    p += snprintf(p, cap, "%s", ADD_HEAD);
    for (size_t i = 0; i < n; i++)
        p += snprintf(p, cap - (size_t)(p - sql), i ? "," ADD_ROW : ADD_ROW);
    return sql;
}

/* Prepares sql, binds p and executes it; *rows (may be NULL) gets the rows changed. */
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

int hw_my_record_many(void *be, const struct hw_store_outcome *const *o,
                      const struct hw_store_attempt *cut, size_t n, int64_t now_ms)
{
    struct hw_my *b = be;
    MYSQL_BIND *p = calloc(7 * n + 1, sizeof(*p));
    char *fin = finish_sql(n), *add = add_sql(n);
    uint64_t rows = 0;
    size_t k = 0;
    int err;

    if (!p || !fin || !add) {
        err = HW_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        hw_my_param_str(&p[k++], o[i]->id);
        hw_my_param_i64(&p[k++], &o[i]->lease);
        hw_my_param_int(&p[k++], &o[i]->new_status);
        hw_my_param_i64(&p[k++], &o[i]->next_attempt_ms);
        hw_my_param_int(&p[k++], &cut[i].http_status);
        hw_my_param_str(&p[k++], cut[i].error);
    }
    hw_my_param_i64(&p[k++], &now_ms);
    for (size_t i = 0; i < n; i++)
        hw_my_param_str(&p[k++], o[i]->id);
    err = run_once(b, fin, p, &rows, "finish attempts");
    /* Some outcome did not pass its fence (or came twice): the caller goes one by one. */
    if (!err && rows != n)
        err = HW_ELEASE;
    if (err)
        goto out;
    k = 0;
    for (size_t i = 0; i < n; i++) {
        hw_my_param_str(&p[k++], o[i]->id);
        hw_my_param_i64(&p[k++], &cut[i].at_ms);
        hw_my_param_int(&p[k++], &cut[i].duration_ms);
        hw_my_param_int(&p[k++], &cut[i].http_status);
        hw_my_param_str(&p[k++], cut[i].error);
        hw_my_param_bytes(&p[k++], cut[i].excerpt, cut[i].excerpt_len);
    }
    err = run_once(b, add, p, NULL, "record attempts");
out:
    free(p);
    free(fin);
    free(add);
    return err;
}
