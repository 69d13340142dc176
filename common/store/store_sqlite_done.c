/*
 * The SQLite backend's insert of events that arrive already finished
 * (hw_store_append_finished_async()): one row each, through one statement
 * prepared once, and an attempt row only for an outcome that is not a plain
 * success. Called only through store.c, on the store thread, inside a
 * group commit, under the handle's lock.
 */
#include <string.h>

#include "core/err.h"
#include "store_sqlite.h"

/* The attempt row of a finished event that is not a plain success. */
static int add_attempt(struct hw_lite *b, const char *id, const struct hw_store_attempt *a)
{
    int err = 0;
    sqlite3_stmt *st = hw_lite_stmt(b, HW_LITE_ADD_ATTEMPT, &err);

    if (!st)
        return err;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, a->at_ms);
    sqlite3_bind_int(st, 3, a->duration_ms);
    sqlite3_bind_int(st, 4, a->http_status);
    hw_lite_bind_str(st, 5, a->error ? a->error : "");
    hw_lite_bind_bytes(st, 6, "", 0);
    return hw_lite_run(b, st, "record attempt");
}

static int insert_done(struct hw_lite *b, const struct hw_store_row *row)
{
    const struct hw_store_event *ev = row->ev;
    const char *dedup = ev->dedup_key && ev->dedup_key[0] ? ev->dedup_key : NULL;
    int err = 0;
    sqlite3_stmt *st = hw_lite_stmt(b, HW_LITE_INSERT_DONE, &err);

    if (!st)
        return err;
    sqlite3_bind_text(st, 1, ev->id, -1, SQLITE_STATIC);
    hw_lite_bind_str(st, 2, ev->source);
    sqlite3_bind_int64(st, 3, ev->received_ms);
    hw_lite_bind_str(st, 4, ev->method);
    hw_lite_bind_str(st, 5, ev->path);
    hw_lite_bind_str(st, 6, ev->query);
    hw_lite_bind_bytes(st, 7, ev->headers, ev->headers_len);
    hw_lite_bind_bytes(st, 8, ev->body, ev->body_len);
    sqlite3_bind_int64(st, 9, (sqlite3_int64)ev->body_len);
    hw_lite_bind_bytes(st, 10, ev->body_sha256, HW_STORE_SHA256_LEN);
    sqlite3_bind_int(st, 11, ev->verify);
    hw_lite_bind_str(st, 12, dedup);
    sqlite3_bind_int(st, 13, ev->status);
    sqlite3_bind_int64(st, 14, ev->next_attempt_ms);
    sqlite3_bind_int(st, 15, ev->last_status);
    hw_lite_bind_str(st, 16, ev->last_error ? ev->last_error : "");
    /* One connection writes, and a SQLite commit is never left unanswered: no retry to settle. */
    err = hw_lite_run(b, st, "insert finished event");
    if (!err && !HW_SQL_DONE_PLAIN(ev))
        err = add_attempt(b, ev->id, row->done);
    if (err)
        return err;
    memcpy(row->res->id, ev->id, sizeof(row->res->id));
    row->res->duplicate = 0;
    return 0;
}

int hw_lite_insert_finished(void *be, const struct hw_store_row *rows, size_t n)
{
    int err = 0;

    for (size_t i = 0; i < n && !err; i++)
        err = insert_done(be, &rows[i]);
    return err;
}
