/*
 * MySQL: a batch of delivery outcomes (record_batch in struct hw_store_ops)
 * in a few statements, inside the caller's transaction, on the thread
 * holding the lock. Outcomes that set the same values (in a normal run
 * every delivered event: status delivered, its HTTP status, no error) are
 * one single-table UPDATE whose fence is the list of (id, lease) pairs;
 * the attempts of a chunk are one multi-row INSERT. Both are kept prepared
 * per size for the connection, as the appends' INSERT is, so the server
 * parses each size once. An outcome refused by its fence changes no row:
 * the statement changes fewer rows than it names, the batch gives
 * HW_ELEASE, and the caller records outcome by outcome. The fenced
 * UPDATE's text (hw_my_fence_sql) serves released leases too.
 */
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "store_mysql.h"
#include "store_mysql_row.h"

/*
 * Parameters: status next_attempt_ms last_status last_error, then for a
 * leased group now, the k ids and the k (id, lease) pairs; for a group
 * without a lease (HW_STORE_NO_LEASE: the relay's own events) the k ids.
 * The ids' IN list lets the server walk the id index; the pairs are the
 * fence, as HW_SQL_FINISH's and HW_SQL_SETTLE's are for one outcome.
 */
#define SET_HEAD     HW_SQL_OUTCOME_SET "WHERE status = 1 AND "
#define SET_LEASED   "lease_until > ? AND id IN ("
#define SET_UNLEASED "lease_until = 0 AND id IN ("
#define SET_PAIRS    ") AND (id, lease_token) IN ("
#define SET_PARAMS   5 /* and 3 per outcome */
#define ADD_HEAD                                                    \
    "INSERT INTO hookwire_attempts (event_id, at_ms, duration_ms, " \
    "http_status, error, excerpt) VALUES "
#define ADD_ROW    "(?, ?, ?, ?, ?, ?)"
#define ADD_PARAMS 6
/* Bytes of one attempt row in a statement: a chunk stays far below max_allowed_packet. */
#define ROW_BYTES (HW_STORE_ERROR_MAX + HW_STORE_EXCERPT_MAX + 256u)

_Static_assert(SET_PARAMS + 3 * HW_MY_ROWS_MAX <= HW_MY_ROWS_MAX * HW_SQL_INSERT_PARAMS &&
                   ADD_PARAMS * HW_MY_ROWS_MAX <= HW_MY_ROWS_MAX * HW_SQL_INSERT_PARAMS,
               "a chunk's parameters fit the connection's row parameters");

/* Appends n bytes of s to the statement text at sql (length *len; the callers size it). */
static void put(char *sql, size_t *len, const char *s, size_t n)
{
    memcpy(sql + *len, s, n);
    *len += n;
}

#define PUT(sql, len, lit) put(sql, len, lit, sizeof(lit) - 1)

char *hw_my_fence_sql(const char *head, int leased, size_t k, size_t *len)
{
    size_t cap = strlen(head) + sizeof(SET_UNLEASED SET_LEASED SET_PAIRS) +
                 k * (sizeof(", ?") + sizeof(", (?, ?)")) + 4;
    char *sql = malloc(cap);

    *len = 0;
    if (!sql)
        return NULL;
    put(sql, len, head, strlen(head));
    if (leased)
        PUT(sql, len, SET_LEASED);
    else
        PUT(sql, len, SET_UNLEASED);
    for (size_t i = 0; i < k; i++) {
        if (i)
            PUT(sql, len, ", ");
        PUT(sql, len, "?");
    }
    if (leased) {
        PUT(sql, len, SET_PAIRS);
        for (size_t i = 0; i < k; i++) {
            if (i)
                PUT(sql, len, ", ");
            PUT(sql, len, "(?, ?)");
        }
    }
    PUT(sql, len, ")");
    return sql;
}

/* The UPDATE of k outcomes (1..HW_MY_ROWS_MAX), leased or not, prepared on first use. */
static MYSQL_STMT *set_stmt(struct hw_my *b, int leased, size_t k, int *err)
{
    MYSQL_STMT **slot = &b->set[leased][k];
    size_t len;
    char *sql;

    if (*slot)
        return *slot;
    sql = hw_my_fence_sql(SET_HEAD, leased, k, &len);
    if (!sql) {
        *err = HW_ENOMEM;
        return NULL;
    }
    hw_my_prepare(b, slot, sql, len, err);
    free(sql);
    return *slot;
}

/* The INSERT of k attempts (1..HW_MY_ROWS_MAX), prepared on first use. */
static MYSQL_STMT *add_stmt(struct hw_my *b, size_t k, int *err)
{
    MYSQL_STMT **slot = &b->add[k];
    size_t cap = sizeof(ADD_HEAD) + k * sizeof(", " ADD_ROW), len = 0;
    char *sql;

    if (*slot)
        return *slot;
    sql = malloc(cap);
    if (!sql) {
        *err = HW_ENOMEM;
        return NULL;
    }
    PUT(sql, &len, ADD_HEAD);
    for (size_t i = 0; i < k; i++) {
        if (i)
            PUT(sql, &len, ", ");
        PUT(sql, &len, ADD_ROW);
    }
    hw_my_prepare(b, slot, sql, len, err);
    free(sql);
    return *slot;
}

/* Whether a and b set the same values (and so can share one UPDATE). */
static int same_set(const struct hw_store_outcome *a, const struct hw_store_outcome *b)
{
    return (a->lease == HW_STORE_NO_LEASE) == (b->lease == HW_STORE_NO_LEASE) &&
           a->status == b->status && a->next_attempt_ms == b->next_attempt_ms &&
           a->attempt.http_status == b->attempt.http_status &&
           strcmp(a->attempt.error, b->attempt.error) == 0;
}

/* One UPDATE for the outcomes v[g[0..k)], which set the same values. */
static int set_group(struct hw_my *b, int64_t now_ms, const struct hw_store_outcome *v,
                     const size_t *g, size_t k)
{
    const struct hw_store_outcome *o = &v[g[0]];
    int leased = o->lease != HW_STORE_NO_LEASE, err = 0;
    MYSQL_STMT *st = set_stmt(b, leased, k, &err);
    MYSQL_BIND *p = b->rows;
    size_t n = 0;

    if (!st)
        return err;
    hw_my_param_int(&p[n++], &o->status);
    hw_my_param_i64(&p[n++], &o->next_attempt_ms);
    hw_my_param_int(&p[n++], &o->attempt.http_status);
    hw_my_param_str(&p[n++], o->attempt.error);
    if (leased)
        hw_my_param_i64(&p[n++], &now_ms);
    for (size_t i = 0; i < k; i++)
        hw_my_param_str(&p[n++], v[g[i]].id);
    for (size_t i = 0; leased && i < k; i++) {
        hw_my_param_str(&p[n++], v[g[i]].id);
        hw_my_param_i64(&p[n++], &v[g[i]].lease);
    }
    err = hw_my_execute(b, st, p, "finish attempts");
    /* A stale lease, an unknown id or an id twice changed fewer rows: go one by one. */
    if (!err && (uint64_t)mysql_stmt_affected_rows(st) != k)
        err = HW_ELEASE;
    return err;
}

/* v[0..n), n <= HW_MY_ROWS_MAX: an UPDATE per group of equal outcomes, then one INSERT. */
static int record_chunk(struct hw_my *b, int64_t now_ms, const struct hw_store_outcome *v, size_t n)
{
    size_t g[HW_MY_ROWS_MAX], k;
    unsigned char done[HW_MY_ROWS_MAX] = { 0 };
    MYSQL_BIND *p = b->rows;
    MYSQL_STMT *st;
    int err = 0;

    for (size_t i = 0; i < n && !err; i++) {
        if (done[i])
            continue;
        k = 0;
        for (size_t j = i; j < n; j++) {
            if (!done[j] && same_set(&v[i], &v[j])) {
                done[j] = 1;
                g[k++] = j;
            }
        }
        err = set_group(b, now_ms, v, g, k);
    }
    st = err ? NULL : add_stmt(b, n, &err);
    if (!st)
        return err;
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
    return hw_my_execute(b, st, p, "record attempts");
}

int hw_my_record_batch(void *be, int64_t now_ms, const struct hw_store_outcome *v, size_t n)
{
    struct hw_my *b = be;
    size_t chunk = b->max_packet / 2 / ROW_BYTES;
    int err = 0;

    if (chunk > HW_MY_ROWS_MAX)
        chunk = HW_MY_ROWS_MAX;
    if (chunk < 1)
        chunk = 1;
    for (size_t i = 0; i < n && !err; i += chunk)
        err = record_chunk(b, now_ms, v + i, n - i < chunk ? n - i : chunk);
    return err;
}
