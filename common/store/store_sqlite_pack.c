/*
 * SQLite: packed live history, written and found by id (schema 10,
 * store_pack.h). A group commit of finished live webhooks writes one
 * hookwire_packs row per source (and per HW_PACK_SPAN_MS of id times);
 * get, exists, attempts and requeue look there for an id the events table
 * does not hold. Called only through store.c, under the handle's lock.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/id.h"
#include "store_pack.h"
#include "store_sqlite.h"

/* Takes n seqs from the events' sequence; *hi gets the last. Returns 0 or the mapped error. */
static int reserve(struct hw_lite *b, uint32_t n, int64_t *hi)
{
    int err = 0, rc;
    sqlite3_stmt *st = hw_lite_stmt(b, HW_LITE_PACK_RESERVE, &err);

    if (!st)
        return err;
    sqlite3_bind_int64(st, 1, n);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *hi = sqlite3_column_int64(st, 0);
    /* Step past RETURNING's row so the update completes before the reset. */
    if (rc == SQLITE_ROW)
        rc = sqlite3_step(st);
    if (rc != SQLITE_DONE)
        err = hw_lite_fail(b, rc, "reserve seqs");
    else if (sqlite3_changes(b->db) == 0)
        err = HW_ENOTFOUND;
    sqlite3_reset(st);
    if (err != HW_ENOTFOUND)
        return err;
    /* No event was ever stored: the sequence starts here. */
    st = hw_lite_stmt(b, HW_LITE_PACK_START, &err);
    if (!st)
        return err;
    sqlite3_bind_int64(st, 1, n);
    *hi = n;
    return hw_lite_run(b, st, "reserve seqs");
}

/*
 * Writes pack p of source; fills the results of its rows. Its data goes to
 * the store's data file (schema 12) before the row that refers to it, or
 * into the row for a store without a file.
 */
static int write_pack(struct hw_lite *b, const char *source, struct hw_pack_buf *p,
                      const struct hw_store_row *rows, size_t nrows)
{
    int64_t hi = 0, seg = 0, off = 0;
    unsigned char *data = NULL;
    int err = reserve(b, p->n, &hi);
    sqlite3_stmt *st = err ? NULL : hw_lite_stmt(b, HW_LITE_PACK_INSERT, &err);

    if (st && b->seg.dir)
        err = hw_lite_seg_append(&b->seg, p->iov, p->iov_n, p->data_len, &seg, &off);
    else if (st && !(data = hw_pack_data(p)))
        err = HW_ENOMEM;
    if (!st || err)
        return err;
    sqlite3_bind_int64(st, 1, hi);
    sqlite3_bind_int64(st, 2, p->n);
    hw_lite_bind_str(st, 3, source);
    sqlite3_bind_int64(st, 4, p->id_lo);
    sqlite3_bind_int64(st, 5, p->id_hi);
    sqlite3_bind_int64(st, 6, p->received_lo);
    sqlite3_bind_int64(st, 7, p->received_hi);
    sqlite3_bind_int64(st, 8, p->delivered);
    sqlite3_bind_int64(st, 9, p->failed);
    hw_lite_bind_bytes(st, 10, p->meta, p->meta_len);
    if (seg) {
        hw_lite_bind_bytes(st, 11, "", 0);
        sqlite3_bind_int64(st, 12, seg);
        sqlite3_bind_int64(st, 13, off);
        sqlite3_bind_int64(st, 14, (int64_t)p->data_len);
    } else {
        hw_lite_bind_bytes(st, 11, data, p->data_len);
        for (int i = 12; i <= 14; i++)
            sqlite3_bind_null(st, i);
    }
    err = hw_lite_run(b, st, "insert pack");
    free(data);
    for (size_t i = 0; !err && i < nrows; i++) {
        memcpy(rows[i].res->id, rows[i].ev->id, sizeof(rows[i].res->id));
        rows[i].res->duplicate = 0;
    }
    return err;
}

/* The id time of a packable event (no dedup key: a key needs the unique index), or -1. */
static int64_t packable(const struct hw_store_event *ev)
{
    return ev->dedup_key && ev->dedup_key[0] ? -1 : hw_id_time_ms(ev->id);
}

int hw_lite_pack_insert(struct hw_lite *b, const struct hw_store_row *rows, size_t n,
                        int (*one)(struct hw_lite *, const struct hw_store_row *))
{
    struct hw_pack_buf p = { 0 };
    size_t i = 0, first = 0;
    int err = 0;

    /* rows come sorted by source (store_writers.c): one pack per run of a source. */
    while (!err && i <= n) {
        const struct hw_store_event *ev = i < n ? rows[i].ev : NULL;
        int64_t t = ev ? packable(ev) : -1;
        int flush = p.n && (!ev || strcmp(ev->source, rows[first].ev->source) != 0 || t < 0 ||
                            !hw_pack_fits(&p, t));

        if (flush) {
            err = write_pack(b, rows[first].ev->source, &p, rows + first, i - first);
            hw_pack_buf_reset(&p);
        }
        if (err || !ev)
            break;
        if (t < 0) {
            err = one(b, &rows[i++]);
            continue;
        }
        if (!p.n)
            first = i;
        err = hw_pack_add(&p, ev, t, rows[i].done, ev->status);
        i++;
    }
    hw_pack_buf_reset(&p);
    return err;
}

void hw_lite_packed_free(struct hw_lite_packed *k)
{
    free(k->meta);
    free(k->data);
    memset(k, 0, sizeof(*k));
}

/* Searches the meta blob of the current row of st (HW_SQL_PACK_FIND) for id; 1 found, 0 not. */
static int search(sqlite3_stmt *st, const char *id, struct hw_lite_packed *k)
{
    struct hw_pack_reader r;
    const void *meta = sqlite3_column_blob(st, 3);
    size_t len = (size_t)sqlite3_column_bytes(st, 3);
    int got;

    if (hw_pack_open(&r, meta, len, (size_t)sqlite3_column_int64(st, 4)))
        return HW_EIO;
    while ((got = hw_pack_next(&r, &k->e)) == 1) {
        if (k->e.flag != HW_PACK_LIVE || strcmp(k->e.id, id) != 0)
            continue;
        k->meta = malloc(len);
        if (!k->meta)
            return HW_ENOMEM;
        memcpy(k->meta, meta, len);
        k->meta_len = len;
        k->seq = sqlite3_column_int64(st, 0) - sqlite3_column_int64(st, 1) + 1 + k->e.index;
        k->pack = sqlite3_column_int64(st, 0);
        snprintf(k->source, sizeof(k->source), "%s", hw_lite_col_str(st, 2));
        /* Point the entry into our copy (the same bytes: it reads back the same). */
        uint32_t index = k->e.index;
        hw_pack_open(&r, k->meta, len, (size_t)sqlite3_column_int64(st, 4));
        for (uint32_t j = 0; j <= index; j++)
            hw_pack_next(&r, &k->e);
        return 1;
    }
    return got;
}

/* Reads the pack's data (its file's bytes, or its data blob) into k. */
static int load_data(struct hw_lite *b, struct hw_lite_packed *k)
{
    int err = 0, rc;
    sqlite3_stmt *st = hw_lite_stmt(b, HW_LITE_PACK_DATA, &err);

    if (!st)
        return err;
    sqlite3_bind_int64(st, 1, k->pack);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        int in_file = sqlite3_column_type(st, 1) != SQLITE_NULL;
        int64_t flen = in_file ? sqlite3_column_int64(st, 3) : sqlite3_column_bytes(st, 0);
        size_t len = flen > 0 ? (size_t)flen : 0;

        if (flen < 0)
            err = HW_EIO; /* a lying seg_len */
        else if (!(k->data = malloc(len + 1)))
            err = HW_ENOMEM;
        else if (in_file)
            err = hw_lite_seg_read(&b->seg, sqlite3_column_int64(st, 1),
                                   sqlite3_column_int64(st, 2), k->data, len);
        else if (len)
            memcpy(k->data, sqlite3_column_blob(st, 0), len);
        k->data_len = len;
        /* The entry was checked against the blob's length when found; it still must fit. */
        if (!err &&
            (k->e.headers_off + k->e.headers_len > len || k->e.body_off + k->e.body_len > len))
            err = HW_EIO;
    } else {
        err = rc == SQLITE_DONE ? HW_ENOTFOUND : hw_lite_fail(b, rc, "read pack");
    }
    sqlite3_reset(st);
    return err;
}

int hw_lite_pack_find(struct hw_lite *b, const char *id, int data, struct hw_lite_packed *k)
{
    int64_t t = hw_id_time_ms(id);
    int err = 0, rc, got = 0;
    sqlite3_stmt *st;

    memset(k, 0, sizeof(*k));
    if (t < 0)
        return HW_ENOTFOUND;
    st = hw_lite_stmt(b, HW_LITE_PACK_FIND, &err);
    if (!st)
        return err;
    sqlite3_bind_int64(st, 1, t - HW_PACK_SPAN_MS);
    sqlite3_bind_int64(st, 2, t);
    sqlite3_bind_int64(st, 3, t);
    while (!got && (rc = sqlite3_step(st)) == SQLITE_ROW)
        got = search(st, id, k);
    if (!got && rc != SQLITE_DONE)
        got = hw_lite_fail(b, rc, "find packed event");
    sqlite3_reset(st);
    if (got < 0) {
        hw_lite_packed_free(k);
        return got;
    }
    if (!got)
        return HW_ENOTFOUND;
    err = data ? load_data(b, k) : 0;
    if (err)
        hw_lite_packed_free(k);
    return err;
}

int hw_lite_pack_get(struct hw_lite *b, const char *id, struct hw_store_event **out)
{
    struct hw_lite_packed k;
    int err = hw_lite_pack_find(b, id, 1, &k);

    if (err)
        return err;
    *out = hw_pack_event(&k.e, k.source, k.seq, k.data, 1);
    hw_lite_packed_free(&k);
    return *out ? 0 : HW_ENOMEM;
}

/* Not a plain success: its attempt is kept, as a row would have had one. */
static int has_attempt(const struct hw_pack_entry *e)
{
    return e->status != HW_STORE_DELIVERED || e->attempt.error[0];
}

int hw_lite_pack_attempts(struct hw_lite *b, const char *id, struct hw_store_attempts *out)
{
    struct hw_lite_packed k;
    struct hw_store_attempt *a;
    int err = hw_lite_pack_find(b, id, 0, &k);

    if (err)
        return err == HW_ENOTFOUND ? 0 : err;
    a = has_attempt(&k.e) ? hw_store_attempt_build(&k.e.attempt) : NULL;
    if (has_attempt(&k.e))
        err = a ? hw_store_attempts_push(out, a) : HW_ENOMEM;
    hw_lite_packed_free(&k);
    return err;
}

/* Writes the webhook of k as a pending row under its own seq, with its attempt. */
static int unpack(struct hw_lite *b, const struct hw_lite_packed *k, int64_t now_ms)
{
    struct hw_store_event *ev = hw_pack_event(&k->e, k->source, k->seq, k->data, 1);
    int err = ev ? 0 : HW_ENOMEM;
    sqlite3_stmt *st = ev ? hw_lite_stmt(b, HW_LITE_PACK_UNPACK, &err) : NULL;

    if (!st)
        goto out;
    hw_lite_bind_event(st, ev); /* parameters 1-12, the dedup key NULL */
    sqlite3_bind_int64(st, 13, now_ms);
    sqlite3_bind_int(st, 14, ev->last_status);
    hw_lite_bind_str(st, 15, ev->last_error);
    sqlite3_bind_int64(st, 16, k->seq);
    err = hw_lite_run(b, st, "requeue packed event");
    if (!err && has_attempt(&k->e)) {
        st = hw_lite_stmt(b, HW_LITE_ADD_ATTEMPT, &err);
        if (st) {
            sqlite3_bind_text(st, 1, ev->id, -1, SQLITE_STATIC);
            sqlite3_bind_int64(st, 2, k->e.attempt.at_ms);
            sqlite3_bind_int(st, 3, k->e.attempt.duration_ms);
            sqlite3_bind_int(st, 4, k->e.attempt.http_status);
            hw_lite_bind_str(st, 5, k->e.attempt.error);
            hw_lite_bind_bytes(st, 6, "", 0);
            err = hw_lite_run(b, st, "requeue packed event");
        }
    }
out:
    free(ev);
    return err;
}

int hw_lite_pack_mark(struct hw_lite *b, int64_t pack, unsigned char *meta, size_t meta_len,
                      int64_t delivered, int64_t failed)
{
    int err = 0;
    sqlite3_stmt *st = hw_lite_stmt(b, HW_LITE_PACK_UPDATE, &err);

    if (!st)
        return err;
    hw_lite_bind_bytes(st, 1, meta, meta_len);
    sqlite3_bind_int64(st, 2, delivered);
    sqlite3_bind_int64(st, 3, failed);
    sqlite3_bind_int64(st, 4, pack);
    err = hw_lite_run(b, st, "update pack");
    st = err ? NULL : hw_lite_stmt(b, HW_LITE_PACK_DELETE, &err);
    if (!st)
        return err;
    sqlite3_bind_int64(st, 1, pack);
    return hw_lite_run(b, st, "drop empty pack");
}

int hw_lite_pack_requeue(struct hw_lite *b, const char *id, int64_t now_ms, int force)
{
    struct hw_lite_packed k;
    int err = hw_lite_pack_find(b, id, 1, &k);

    if (err)
        return err;
    if (k.e.status == HW_STORE_DELIVERED && !force) {
        hw_lite_packed_free(&k);
        return HW_EEXIST;
    }
    /* The row takes over: the pack keeps the bytes but marks the webhook moved. */
    err = unpack(b, &k, now_ms);
    k.meta[k.e.flag_off] = HW_PACK_MOVED;
    if (!err)
        err = hw_lite_pack_mark(b, k.pack, k.meta, k.meta_len, k.e.status == HW_STORE_DELIVERED,
                                k.e.status == HW_STORE_FAILED);
    hw_lite_packed_free(&k);
    return err;
}

/* The lowest data file a pack still refers to (0: none) into *lowest. */
static int seg_lowest(struct hw_lite *b, int64_t *lowest)
{
    int err = 0, rc;
    sqlite3_stmt *st = hw_lite_stmt(b, HW_LITE_PACK_SEG_LOWEST, &err);

    *lowest = 0;
    if (!st)
        return err;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *lowest = sqlite3_column_int64(st, 0); /* NULL reads as 0 */
    else
        err = hw_lite_fail(b, rc, "lowest pack data file");
    sqlite3_reset(st);
    return err;
}

int hw_lite_pack_commit(struct hw_lite *b, uint64_t dropped)
{
    int64_t lowest = 0;
    int reclaim = dropped && b->seg.dir;
    int err = reclaim ? seg_lowest(b, &lowest) : 0;

    if (!err)
        err = hw_lite_commit(b);
    /* Only once the packs are gone for good: a rolled-back purge still refers to its files. */
    if (!err && reclaim)
        hw_lite_seg_reclaim(&b->seg, lowest);
    return err;
}
