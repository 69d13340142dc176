/*
 * SQLite: the readers of packed live history that walk many packs
 * (schema 10, store_pack.h): listings merged with the events table's, purge
 * by age, retention by count, and the summary's counts. Each reads the
 * packs' meta blobs only, never their data. Called only through store.c
 * and the SQLite backend, under the handle's lock.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/log.h"
#include "store_sqlite.h"

void hw_store_pack_list_sql(const struct hw_store_filter *f, char *sql, size_t cap)
{
    snprintf(sql, cap,
             "SELECT seq, n, source, meta FROM hookwire_packs%s WHERE 1 = 1%s%s%s%s%s"
             " ORDER BY seq DESC",
             f->source ? " INDEXED BY hookwire_packs_source" : "",
             f->status == HW_STORE_FAILED      ? " AND failed > 0"
             : f->status == HW_STORE_DELIVERED ? " AND delivered > 0"
                                               : "",
             f->source ? " AND source = ?" : "", f->since_ms ? " AND received_hi >= ?" : "",
             f->until_ms ? " AND received_lo < ?" : "",
             f->cursor ? " AND seq < ? + 4096 AND seq - n < ? - 1" : "");
}

/* Does e pass f (its seq given; path: a GLOB pattern or NULL)? */
static int matches(const struct hw_pack_entry *e, int64_t seq, const struct hw_store_filter *f,
                   const char *path)
{
    return e->flag == HW_PACK_LIVE && (!f->status || e->status == f->status) &&
           (!f->since_ms || e->received_ms >= f->since_ms) &&
           (!f->until_ms || e->received_ms < f->until_ms) && (!f->cursor || seq < f->cursor) &&
           (!path || sqlite3_strglob(path, e->path) == 0);
}

/*
 * Reads all n entries of a pack's meta into *v, grown as needed (*cap
 * entries; free() it when done). Returns 0, HW_EIO or HW_ENOMEM.
 */
static int entries(const void *meta, size_t len, uint32_t n, struct hw_pack_entry **v,
                   uint32_t *cap)
{
    struct hw_pack_reader r;
    uint32_t i = 0;
    int got;

    if (n > HW_PACK_MAX)
        return HW_EIO;
    if (n > *cap) {
        struct hw_pack_entry *p = realloc(*v, n * sizeof(*p));

        if (!p)
            return HW_ENOMEM;
        *v = p;
        *cap = n;
    }
    /* Listings never read data: its length is not known here, and no offset is used. */
    if (hw_pack_open(&r, meta, len, SIZE_MAX) || r.n != n)
        return HW_EIO;
    while (i < n && (got = hw_pack_next(&r, &(*v)[i])) == 1)
        i++;
    return i == n ? 0 : HW_EIO;
}

int hw_lite_pack_list(struct hw_lite *b, const struct hw_store_filter *f, const char *path,
                      size_t limit, struct hw_store_events *out)
{
    struct hw_pack_entry *v = NULL;
    uint32_t cap = 0;
    char sql[512];
    sqlite3_stmt *st = NULL;
    size_t got = 0;
    int i = 1, rc = SQLITE_DONE, err = 0;

    if (f->status == HW_STORE_PENDING)
        return 0; /* a pack holds finished webhooks only */
    hw_store_pack_list_sql(f, sql, sizeof(sql));
    rc = sqlite3_prepare_v2(b->db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK)
        return hw_lite_fail(b, rc, "prepare pack list");
    if (f->source)
        hw_lite_bind_str(st, i++, f->source);
    if (f->since_ms)
        sqlite3_bind_int64(st, i++, f->since_ms);
    if (f->until_ms)
        sqlite3_bind_int64(st, i++, f->until_ms);
    if (f->cursor) {
        sqlite3_bind_int64(st, i++, f->cursor);
        sqlite3_bind_int64(st, i++, f->cursor);
    }
    /* Packs hold disjoint seq ranges: newest pack first, each newest entry first, is seq order. */
    while (!err && got < limit && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t hi = sqlite3_column_int64(st, 0);
        uint32_t n = (uint32_t)sqlite3_column_int64(st, 1);
        const char *source = hw_lite_col_str(st, 2);

        err = entries(sqlite3_column_blob(st, 3), (size_t)sqlite3_column_bytes(st, 3), n, &v, &cap);
        for (uint32_t k = n; !err && k-- > 0 && got < limit;) {
            int64_t seq = hi - n + 1 + k;
            struct hw_store_event *ev;

            if (!matches(&v[k], seq, f, path))
                continue;
            ev = hw_pack_event(&v[k], source, seq, NULL, 0);
            err = ev ? hw_store_events_push(out, ev) : HW_ENOMEM;
            got += !err;
        }
    }
    if (!err && got < limit && rc != SQLITE_DONE)
        err = hw_lite_fail(b, rc, "pack list");
    if (err == HW_EIO)
        HW_ERR("store %s: a pack of live history is damaged", b->name);
    sqlite3_finalize(st);
    free(v);
    return err;
}

/* A pack read for a change: its seq, count, page key and an owned copy of its meta. */
struct held {
    int64_t seq, key;
    uint32_t n;
    unsigned char *meta;
    size_t len;
};

static void held_free(struct held *h, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(h[i].meta);
}

/* Reads up to max packs of st (columns seq, n, meta, the page key) into h. */
static int hold(struct hw_lite *b, sqlite3_stmt *st, struct held *h, size_t max, size_t *n)
{
    const int mcol = 2;
    int rc, err = 0;

    *n = 0;
    while (*n < max && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct held *x = &h[*n];

        x->seq = sqlite3_column_int64(st, 0);
        x->n = (uint32_t)sqlite3_column_int64(st, 1);
        x->key = sqlite3_column_int64(st, 3);
        x->len = (size_t)sqlite3_column_bytes(st, mcol);
        x->meta = malloc(x->len ? x->len : 1);
        if (!x->meta) {
            err = HW_ENOMEM;
            break;
        }
        memcpy(x->meta, sqlite3_column_blob(st, mcol), x->len);
        ++*n;
    }
    if (!err && *n < max && rc != SQLITE_DONE)
        err = hw_lite_fail(b, rc, "read packs");
    sqlite3_reset(st);
    return err;
}

/*
 * Marks gone the live entries of pack h that go (by age: received before
 * before with a status in st; by count: seq at or below upper), while
 * *removed stays under a batch, and writes the pack back (dropped once
 * empty). *removed grows by how many went.
 */
static int cut(struct hw_lite *b, struct held *h, int64_t before, const int st[3], int64_t upper,
               struct hw_pack_entry **ents, uint32_t *cap, uint64_t *removed)
{
    int64_t delivered = 0, failed = 0;
    int err = entries(h->meta, h->len, h->n, ents, cap);
    struct hw_pack_entry *v = *ents;

    for (uint32_t k = 0; !err && k < h->n; k++) {
        int64_t seq = h->seq - h->n + 1 + k;
        int go = v[k].flag == HW_PACK_LIVE &&
                 *removed + (uint64_t)(delivered + failed) < HW_STORE_PURGE_BATCH &&
                 (st ? v[k].received_ms < before &&
                           (v[k].status == st[0] || v[k].status == st[1] || v[k].status == st[2])
                     : seq <= upper);

        if (!go)
            continue;
        h->meta[v[k].flag_off] = HW_PACK_GONE;
        delivered += v[k].status == HW_STORE_DELIVERED;
        failed += v[k].status == HW_STORE_FAILED;
    }
    if (err || delivered + failed == 0)
        return err;
    *removed += (uint64_t)(delivered + failed);
    return hw_lite_pack_mark(b, h->seq, h->meta, h->len, delivered, failed);
}

/*
 * Runs cut() over the packs st picks, a page of 64 at a time (st's last
 * parameters, from index at, say where the previous page ended: the key
 * twice and the seq for purge, the seq alone for retention), until a batch
 * of webhooks went or no pack is left. A pack with nothing to remove (a
 * status not asked for, a stale received_lo) never hides the ones after it.
 */
static int cut_all(struct hw_lite *b, sqlite3_stmt *st, int at, int64_t before, const int stv[3],
                   int64_t upper, uint64_t *removed)
{
    struct held h[64];
    struct hw_pack_entry *v = NULL;
    uint32_t cap = 0;
    int64_t key = INT64_MIN, seq = INT64_MIN;
    size_t n = 64;
    int err = 0;

    while (!err && n == 64 && *removed < HW_STORE_PURGE_BATCH) {
        if (stv) {
            sqlite3_bind_int64(st, at, key);
            sqlite3_bind_int64(st, at + 1, key);
            sqlite3_bind_int64(st, at + 2, seq);
        } else {
            sqlite3_bind_int64(st, at, seq);
        }
        err = hold(b, st, h, 64, &n);
        for (size_t i = 0; !err && i < n && *removed < HW_STORE_PURGE_BATCH; i++)
            err = cut(b, &h[i], before, stv, upper, &v, &cap, removed);
        if (n) {
            key = h[n - 1].key;
            seq = h[n - 1].seq;
        }
        held_free(h, n);
    }
    free(v);
    return err;
}

int hw_lite_pack_purge(struct hw_lite *b, int64_t before_ms, const int stv[3], uint64_t *removed)
{
    int err = 0;
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(b->db, HW_SQL_PACK_PURGE_PICK, -1, &st, NULL);

    if (rc != SQLITE_OK)
        return hw_lite_fail(b, rc, "purge packs");
    sqlite3_bind_int64(st, 1, before_ms);
    err = cut_all(b, st, 2, before_ms, stv, 0, removed);
    sqlite3_finalize(st);
    return err;
}

int hw_lite_pack_excess(struct hw_lite *b, const char *source, int64_t upper, uint64_t *removed)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(b->db, HW_SQL_PACK_EXCESS, -1, &st, NULL), err;

    if (rc != SQLITE_OK)
        return hw_lite_fail(b, rc, "retention by count");
    hw_lite_bind_str(st, 1, source);
    sqlite3_bind_int64(st, 2, upper);
    err = cut_all(b, st, 3, 0, NULL, upper, removed);
    sqlite3_finalize(st);
    return err;
}

/* The next seq of a newest-first walk over rows (st) and packed webhooks (pk), or 0 at the end. */
struct walk {
    sqlite3_stmt *rows, *packs;
    int64_t row;             /* the rows' current seq, 0 when done */
    struct hw_pack_entry *v; /* the current pack's entries (cap of them) */
    uint32_t cap;
    int64_t hi;
    uint32_t n, k; /* entries of the current pack left: v[0..k) */
};

static int walk_row(struct hw_lite *b, struct walk *w)
{
    int rc = sqlite3_step(w->rows);

    w->row = rc == SQLITE_ROW ? sqlite3_column_int64(w->rows, 0) : 0;
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : hw_lite_fail(b, rc, "retention by count");
}

/* Moves to the next live packed webhook; its seq in *seq (0 at the end). */
static int walk_pack(struct hw_lite *b, struct walk *w, int64_t *seq)
{
    for (;;) {
        int rc;

        while (w->k > 0) {
            w->k--;
            if (w->v[w->k].flag == HW_PACK_LIVE) {
                *seq = w->hi - w->n + 1 + w->k;
                return 0;
            }
        }
        rc = sqlite3_step(w->packs);
        if (rc == SQLITE_DONE) {
            *seq = 0;
            return 0;
        }
        if (rc != SQLITE_ROW)
            return hw_lite_fail(b, rc, "retention by count");
        w->hi = sqlite3_column_int64(w->packs, 0);
        w->n = (uint32_t)sqlite3_column_int64(w->packs, 1);
        rc = entries(sqlite3_column_blob(w->packs, 2), (size_t)sqlite3_column_bytes(w->packs, 2),
                     w->n, &w->v, &w->cap);
        if (rc)
            return rc;
        w->k = w->n;
    }
}

int hw_lite_pack_cutoff(struct hw_lite *b, const char *source, uint64_t keep, int64_t *cutoff)
{
    struct walk w = { 0 };
    int64_t packed = 0;
    uint64_t seen = 0;
    int err = 0, rc;

    rc = sqlite3_prepare_v2(b->db, HW_SQL_PACK_SOURCE_ROWS, -1, &w.rows, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(b->db, HW_SQL_PACK_SOURCE, -1, &w.packs, NULL);
    if (rc != SQLITE_OK) {
        err = hw_lite_fail(b, rc, "retention by count");
        goto out;
    }
    hw_lite_bind_str(w.rows, 1, source);
    hw_lite_bind_str(w.packs, 1, source);
    err = walk_row(b, &w);
    if (!err)
        err = walk_pack(b, &w, &packed);
    /* Merge the two newest-first streams until the one past the keep newest. */
    for (;;) {
        int64_t next = w.row > packed ? w.row : packed;

        if (err || !next) {
            err = err ? err : HW_ENOTFOUND;
            break;
        }
        if (seen++ == keep) {
            *cutoff = next;
            break;
        }
        if (next == w.row)
            err = walk_row(b, &w);
        else
            err = walk_pack(b, &w, &packed);
    }
out:
    sqlite3_finalize(w.rows);
    sqlite3_finalize(w.packs);
    free(w.v);
    return err;
}

/* Failed packed webhooks received at or after since. */
static int failed_since(struct hw_lite *b, int64_t since, uint64_t *out)
{
    struct hw_pack_entry *v = NULL;
    uint32_t cap = 0;
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(b->db, HW_SQL_PACK_FAILED_SINCE, -1, &st, NULL);
    int err = 0;

    if (rc != SQLITE_OK)
        return hw_lite_fail(b, rc, "summary");
    sqlite3_bind_int64(st, 1, since);
    sqlite3_bind_int64(st, 2, since);
    while (!err && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        uint32_t n = (uint32_t)sqlite3_column_int64(st, 1);

        err = entries(sqlite3_column_blob(st, 3), (size_t)sqlite3_column_bytes(st, 3), n, &v, &cap);
        for (uint32_t k = 0; !err && k < n; k++)
            *out += v[k].flag == HW_PACK_LIVE && v[k].status == HW_STORE_FAILED &&
                    v[k].received_ms >= since;
    }
    if (!err && rc != SQLITE_DONE)
        err = hw_lite_fail(b, rc, "summary");
    sqlite3_finalize(st);
    free(v);
    return err;
}

int hw_lite_pack_summarize(struct hw_lite *b, int64_t since, struct hw_store_summary *sum)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(b->db, HW_SQL_PACK_COUNT, -1, &st, NULL), err = 0;

    if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        sum->by_status[HW_STORE_DELIVERED] += (uint64_t)sqlite3_column_int64(st, 0);
        sum->by_status[HW_STORE_FAILED] += (uint64_t)sqlite3_column_int64(st, 1);
    }
    if (rc != SQLITE_ROW)
        err = hw_lite_fail(b, rc, "summary");
    sqlite3_finalize(st);
    st = NULL;
    rc = err ? SQLITE_OK : sqlite3_prepare_v2(b->db, HW_SQL_PACK_COUNT_SOURCE, -1, &st, NULL);
    if (rc != SQLITE_OK)
        err = hw_lite_fail(b, rc, "summary");
    while (!err && st && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *src = hw_lite_col_str(st, 0);

        err = hw_store_summary_count(sum, src, HW_STORE_DELIVERED,
                                     (uint64_t)sqlite3_column_int64(st, 1));
        if (!err)
            err = hw_store_summary_count(sum, src, HW_STORE_FAILED,
                                         (uint64_t)sqlite3_column_int64(st, 2));
    }
    if (!err && st && rc != SQLITE_DONE)
        err = hw_lite_fail(b, rc, "summary");
    sqlite3_finalize(st);
    return err ? err : failed_since(b, since, &sum->failed_last_hour);
}
