/*
 * The SQLite backend's writes for a relay's history: events that arrive
 * already finished (hw_store_append_finished_async(): packed, one row per
 * source and group commit, store_sqlite_pack.c; one row each, with an
 * attempt row for an outcome that is not a plain success, for an event
 * with a dedup key), and retention by count (hw_store_purge_excess()) over
 * rows and packs.
 * Called only through store.c and store_history.c, under the handle's lock.
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
    int err = 0;
    sqlite3_stmt *st = hw_lite_stmt(b, HW_LITE_INSERT_DONE, &err);

    if (!st)
        return err;
    hw_lite_bind_event(st, ev);
    sqlite3_bind_int(st, HW_LITE_EVENT_COLS + 1, ev->status);
    sqlite3_bind_int64(st, HW_LITE_EVENT_COLS + 2, ev->next_attempt_ms);
    sqlite3_bind_int(st, HW_LITE_EVENT_COLS + 3, ev->last_status);
    hw_lite_bind_str(st, HW_LITE_EVENT_COLS + 4, ev->last_error ? ev->last_error : "");
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
    /* Packed (schema 10): one row per source and batch; a keyed event still gets its own row. */
    return hw_lite_pack_insert(be, rows, n, insert_done);
}

/*
 * Runs query k with source and the integers v[0..nv) and reads the first
 * row's seq into *seq. Returns 0, HW_ENOTFOUND without a row, or the mapped
 * error.
 */
static int one_seq(struct hw_lite *b, int k, const char *source, const int64_t *v, int nv,
                   int64_t *seq)
{
    int err = 0, rc;
    sqlite3_stmt *st = hw_lite_stmt(b, k, &err);

    if (!st)
        return err;
    hw_lite_bind_str(st, 1, source);
    for (int i = 0; i < nv; i++)
        sqlite3_bind_int64(st, 2 + i, v[i]);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *seq = sqlite3_column_int64(st, 0);
    else if (rc == SQLITE_DONE)
        err = HW_ENOTFOUND;
    else
        err = hw_lite_fail(b, rc, "retention by count");
    sqlite3_reset(st);
    return err;
}

/* Runs delete k for the finished events of source at or below upper. */
static int delete_upto(struct hw_lite *b, int k, const char *source, int64_t upper)
{
    int err = 0;
    sqlite3_stmt *st = hw_lite_stmt(b, k, &err);

    if (!st)
        return err;
    hw_lite_bind_str(st, 1, source);
    sqlite3_bind_int64(st, 2, upper);
    return hw_lite_run(b, st, "retention by count");
}

int hw_lite_purge_excess_batch(void *be, const char *source, uint64_t keep, uint64_t *removed)
{
    struct hw_lite *b = be;
    int64_t cutoff = 0, upper = 0, arg[2];
    int err = hw_lite_begin(b), packed = 0;

    *removed = 0;
    if (err)
        return err;
    /* Rows and packed webhooks count alike toward the keep newest. */
    err = hw_lite_pack_cutoff(b, source, keep, &cutoff);
    if (err == HW_ENOTFOUND) { /* no more than keep events */
        hw_lite_rollback(b);
        return 0;
    }
    arg[0] = cutoff;
    arg[1] = HW_STORE_PURGE_BATCH - 1;
    if (!err)
        err = one_seq(b, HW_LITE_EXCESS_UPPER, source, arg, 2, &upper);
    if (err == HW_ENOTFOUND) { /* fewer than a batch: all of them */
        upper = cutoff;
        err = 0;
    }
    if (!err)
        err = delete_upto(b, HW_LITE_EXCESS_ATTEMPTS, source, upper);
    if (!err)
        err = delete_upto(b, HW_LITE_EXCESS_EVENTS, source, upper);
    if (!err)
        *removed = (uint64_t)sqlite3_changes(b->db);
    /* Rows first; once none is left at or below the cutoff, the packs' webhooks. */
    if (!err && !*removed) {
        packed = 1;
        err = hw_lite_pack_excess(b, source, cutoff, removed);
    }
    if (!err)
        err = hw_lite_pack_commit(b, packed ? *removed : 0);
    if (err) {
        *removed = 0;
        hw_lite_rollback(b);
    }
    return err;
}
