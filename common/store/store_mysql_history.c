/*
 * The MySQL backend's writes for a relay's history: events that arrive
 * already finished (hw_store_append_finished_async(): up to 16 rows per
 * statement, each statement prepared once per connection, and an attempt
 * row only for an outcome that is not a plain success), and retention by
 * count (hw_store_purge_excess()). Called only through store.c and
 * store_history.c, under the handle's lock.
 */
#include <string.h>

#include "core/err.h"
#include "core/log.h"
#include "store_mysql.h"
#include "store_mysql_row.h"

_Static_assert(HW_MY_DONE_ROWS <= HW_MY_ROWS_MAX && HW_MY_DONE_ROWS * HW_SQL_INSERT_DONE_PARAMS <=
                                                        HW_MY_ROWS_MAX * HW_SQL_INSERT_PARAMS,
               "the handle's bind arrays hold one multi-row insert of finished events");

/* Binds one row of HW_SQL_INSERT_DONE_ROW at p (HW_SQL_INSERT_DONE_PARAMS entries). */
static void bind_done(MYSQL_BIND *p, const struct hw_store_event *ev, int64_t *body_len)
{
    hw_my_param_event(p, ev, body_len);
    hw_my_param_int(&p[HW_MY_EVENT_COLS], &ev->status);
    hw_my_param_i64(&p[HW_MY_EVENT_COLS + 1], &ev->next_attempt_ms);
    hw_my_param_int(&p[HW_MY_EVENT_COLS + 2], &ev->last_status);
    hw_my_param_str(&p[HW_MY_EVENT_COLS + 3], ev->last_error ? ev->last_error : "");
}

/* Inserts rows[0..k) with one statement (k is 1 or HW_MY_DONE_ROWS). */
static int insert_rows(struct hw_my *b, const struct hw_store_row *rows, size_t k)
{
    int err;

    for (size_t j = 0; j < k; j++)
        bind_done(&b->rows[j * HW_SQL_INSERT_DONE_PARAMS], rows[j].ev, &b->body_len[j]);
    err = hw_my_run(b, k == 1 ? HW_MY_INSERT_DONE : HW_MY_INSERT_DONE_N, b->rows, NULL,
                    "insert finished events");
    /*
     * The id is taken: ids are random, so it is an earlier try of this very
     * batch whose commit committed after all (its answer was lost).
     */
    if (err == HW_EEXIST && k == 1)
        err = 0;
    return err;
}

/* The attempt rows of the events in rows[0..n) that are not a plain success. */
static int add_attempts(struct hw_my *b, const struct hw_store_row *rows, size_t n)
{
    int err = 0;

    for (size_t i = 0; i < n && !err; i++) {
        const struct hw_store_attempt *a = rows[i].done;
        MYSQL_BIND p[6];

        if (HW_SQL_DONE_PLAIN(rows[i].ev))
            continue;
        memset(p, 0, sizeof(p));
        hw_my_param_str(&p[0], rows[i].ev->id);
        hw_my_param_i64(&p[1], &a->at_ms);
        hw_my_param_int(&p[2], &a->duration_ms);
        hw_my_param_int(&p[3], &a->http_status);
        hw_my_param_str(&p[4], a->error ? a->error : "");
        hw_my_param_bytes(&p[5], "", 0);
        err = hw_my_run(b, HW_MY_ADD_ATTEMPT, p, NULL, "record attempt");
    }
    return err;
}

int hw_my_insert_finished(void *be, const struct hw_store_row *rows, size_t n)
{
    struct hw_my *b = be;
    size_t i = 0;
    int err = 0;

    while (i < n && !err) {
        size_t k = 1, bytes = 0;

        if (n - i >= HW_MY_DONE_ROWS) {
            for (size_t j = 0; j < HW_MY_DONE_ROWS; j++)
                bytes += hw_my_event_bytes(rows[i + j].ev);
            if (bytes <= b->max_packet / 2)
                k = HW_MY_DONE_ROWS;
        }
        if (k == 1 && hw_my_event_bytes(rows[i].ev) + HW_MY_PACKET_SLACK > b->max_packet) {
            HW_ERR("store %s: event of %zu bytes exceeds max_allowed_packet (%lu)", b->url->name,
                   rows[i].ev->body_len + rows[i].ev->headers_len, b->max_packet);
            return HW_E2BIG;
        }
        err = insert_rows(b, rows + i, k);
        if (err == HW_EEXIST && k > 1) {
            /* InnoDB undid just that statement: the rows go one by one to find which. */
            err = 0;
            for (size_t j = 0; j < k && !err; j++)
                err = insert_rows(b, rows + i + j, 1);
        }
        if (!err)
            err = add_attempts(b, rows + i, k);
        for (size_t j = 0; j < k && !err; j++) {
            memcpy(rows[i + j].res->id, rows[i + j].ev->id, sizeof(rows[i + j].res->id));
            rows[i + j].res->duplicate = 0;
        }
        i += k;
    }
    return err;
}

/*
 * Runs statement k with source and the integers v[0..nv) and reads the
 * first row's seq into *seq. Returns 0, HW_ENOTFOUND without a row, or the
 * mapped error.
 */
static int one_seq(struct hw_my *b, int k, const char *source, const int64_t *v, int nv,
                   int64_t *seq)
{
    MYSQL_BIND p[3], r[1];
    hw_my_flag nul = 0;
    int err = 0, rc;
    MYSQL_STMT *st = hw_my_stmt(b, k, &err);

    if (!st)
        return err;
    memset(p, 0, sizeof(p));
    memset(r, 0, sizeof(r));
    hw_my_param_str(&p[0], source);
    for (int i = 0; i < nv; i++)
        hw_my_param_i64(&p[1 + i], &v[i]);
    err = hw_my_execute(b, st, p, "retention by count");
    if (err)
        return err;
    hw_my_result_i64(&r[0], seq, &nul);
    if (mysql_stmt_bind_result(st, r)) {
        err = hw_my_stmt_fail(b, st, "retention by count");
    } else {
        rc = mysql_stmt_fetch(st);
        if (rc == 1)
            err = hw_my_stmt_fail(b, st, "retention by count");
        else if (rc == MYSQL_NO_DATA || nul)
            err = HW_ENOTFOUND;
    }
    mysql_stmt_free_result(st);
    return err;
}

/* Runs delete k for the finished events of source at or below upper. */
static int delete_upto(struct hw_my *b, int k, const char *source, int64_t upper, uint64_t *rows)
{
    MYSQL_BIND p[2];

    memset(p, 0, sizeof(p));
    hw_my_param_str(&p[0], source);
    hw_my_param_i64(&p[1], &upper);
    return hw_my_run(b, k, p, rows, "retention by count");
}

int hw_my_purge_excess_batch(void *be, const char *source, uint64_t keep, uint64_t *removed)
{
    struct hw_my *b = be;
    int64_t cutoff = 0, upper = 0, arg[2];
    int err = hw_my_begin(b);

    *removed = 0;
    if (err)
        return err;
    arg[0] = (int64_t)keep;
    err = one_seq(b, HW_MY_EXCESS_CUTOFF, source, arg, 1, &cutoff);
    if (err == HW_ENOTFOUND) { /* no more than keep events */
        hw_my_rollback(b);
        return 0;
    }
    arg[0] = cutoff;
    arg[1] = HW_STORE_PURGE_BATCH - 1;
    if (!err)
        err = one_seq(b, HW_MY_EXCESS_UPPER, source, arg, 2, &upper);
    if (err == HW_ENOTFOUND) { /* fewer than a batch: all of them */
        upper = cutoff;
        err = 0;
    }
    if (!err)
        err = delete_upto(b, HW_MY_EXCESS_ATTEMPTS, source, upper, NULL);
    if (!err)
        err = delete_upto(b, HW_MY_EXCESS_EVENTS, source, upper, removed);
    if (!err)
        err = hw_my_commit(b);
    if (err) {
        *removed = 0;
        hw_my_rollback(b);
    }
    return err;
}
