/*
 * The MySQL backend's insert of events that arrive already finished
 * (hw_store_append_finished_async()): up to 16 rows per statement, each
 * statement prepared once per connection, and an attempt row only for an
 * outcome that is not a plain success. Called only through store.c, on the
 * store thread, inside a group commit, under the handle's lock.
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
    *body_len = (int64_t)ev->body_len;
    hw_my_param_str(&p[0], ev->id);
    hw_my_param_str(&p[1], ev->source);
    hw_my_param_i64(&p[2], &ev->received_ms);
    hw_my_param_str(&p[3], ev->method);
    hw_my_param_str(&p[4], ev->path);
    hw_my_param_str(&p[5], ev->query);
    hw_my_param_bytes(&p[6], ev->headers, ev->headers_len);
    hw_my_param_bytes(&p[7], ev->body, ev->body_len);
    hw_my_param_i64(&p[8], body_len);
    hw_my_param_bytes(&p[9], ev->body_sha256, HW_STORE_SHA256_LEN);
    hw_my_param_int(&p[10], &ev->verify);
    hw_my_param_str(&p[11], ev->dedup_key && ev->dedup_key[0] ? ev->dedup_key : NULL);
    hw_my_param_int(&p[12], &ev->status);
    hw_my_param_i64(&p[13], &ev->next_attempt_ms);
    hw_my_param_int(&p[14], &ev->last_status);
    hw_my_param_str(&p[15], ev->last_error ? ev->last_error : "");
}

/* Bytes an event adds to an INSERT packet, generously. */
static size_t done_bytes(const struct hw_store_event *ev)
{
    return ev->headers_len + ev->body_len + strlen(ev->path) + strlen(ev->query) + 1024;
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
                bytes += done_bytes(rows[i + j].ev);
            if (bytes <= b->max_packet / 2)
                k = HW_MY_DONE_ROWS;
        }
        if (k == 1 && done_bytes(rows[i].ev) + HW_MY_PACKET_SLACK > b->max_packet) {
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
