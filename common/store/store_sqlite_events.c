/*
 * The SQLite backend's operations on events, attempts and tokens (see
 * store_sqlite.h for the connection they run on). Writes that touch more
 * than one row run in a BEGIN IMMEDIATE transaction. Called only through
 * store.c, under the handle's lock.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "store_sqlite.h"

/* Builds an owned event from the current row of an HW_SQL_EVENT_COLS[_FULL] query. */
static int row_event(sqlite3_stmt *st, int full, struct hw_store_event **out)
{
    struct hw_store_event ev = { .seq = sqlite3_column_int64(st, HW_COL_SEQ) };

    snprintf(ev.id, sizeof(ev.id), "%s", hw_lite_col_str(st, HW_COL_ID));
    ev.source = hw_lite_col_str(st, HW_COL_SOURCE);
    ev.received_ms = sqlite3_column_int64(st, HW_COL_RECEIVED);
    ev.method = hw_lite_col_str(st, HW_COL_METHOD);
    ev.path = hw_lite_col_str(st, HW_COL_PATH);
    ev.query = hw_lite_col_str(st, HW_COL_QUERY);
    ev.headers_len = (size_t)sqlite3_column_int64(st, HW_COL_HEADERS_LEN);
    ev.body_len = (size_t)sqlite3_column_int64(st, HW_COL_BODY_LEN);
    if (sqlite3_column_bytes(st, HW_COL_SHA256) == HW_STORE_SHA256_LEN)
        memcpy(ev.body_sha256, sqlite3_column_blob(st, HW_COL_SHA256), HW_STORE_SHA256_LEN);
    ev.verify = sqlite3_column_int(st, HW_COL_VERIFY);
    ev.dedup_key = hw_lite_col_str(st, HW_COL_DEDUP);
    ev.status = sqlite3_column_int(st, HW_COL_STATUS);
    ev.attempts = sqlite3_column_int(st, HW_COL_ATTEMPTS);
    ev.next_attempt_ms = sqlite3_column_int64(st, HW_COL_NEXT_ATTEMPT);
    ev.last_status = sqlite3_column_int(st, HW_COL_LAST_STATUS);
    ev.last_error = hw_lite_col_str(st, HW_COL_LAST_ERROR);
    ev.lease_until_ms = sqlite3_column_int64(st, HW_COL_LEASE_UNTIL);
    ev.lease = sqlite3_column_int64(st, HW_COL_LEASE_TOKEN);
    if (full) {
        ev.headers = sqlite3_column_blob(st, HW_COL_HEADERS);
        ev.headers_len = (size_t)sqlite3_column_bytes(st, HW_COL_HEADERS);
        ev.body = sqlite3_column_blob(st, HW_COL_BODY);
        ev.body_len = (size_t)sqlite3_column_bytes(st, HW_COL_BODY);
        if (!ev.headers)
            ev.headers = "";
        if (!ev.body)
            ev.body = "";
    }
    *out = hw_store_event_build(&ev);
    return *out ? 0 : HW_ENOMEM;
}

/*
 * Ends a read of st's rows: rc is the last step's code and err what reading
 * the rows gave. A failed step is mapped before the reset, as in
 * hw_lite_run(). Returns err, the mapped error or 0.
 */
static int read_done(struct hw_lite *b, sqlite3_stmt *st, int rc, int err, const char *what)
{
    if (!err && rc != SQLITE_DONE)
        err = hw_lite_fail(b, rc, what);
    sqlite3_reset(st);
    return err;
}

/*
 * Reads column 0 of st's first row into out (cap bytes, cut to fit).
 * Returns 0, HW_ENOTFOUND without a row, or the mapped error.
 */
static int fetch_str(struct hw_lite *b, sqlite3_stmt *st, char *out, size_t cap, const char *what)
{
    int rc = sqlite3_step(st), err = 0;

    if (rc == SQLITE_ROW)
        snprintf(out, cap, "%s", hw_lite_col_str(st, 0));
    else if (rc == SQLITE_DONE)
        err = HW_ENOTFOUND;
    else
        err = hw_lite_fail(b, rc, what);
    sqlite3_reset(st);
    return err;
}

/* Looks up the id stored under (source, dedup_key) after a unique-key conflict. */
static int find_dup(struct hw_lite *b, const struct hw_store_event *ev, struct hw_store_result *res)
{
    int err = 0;
    sqlite3_stmt *st = hw_lite_stmt(b, HW_LITE_FIND_DUP, &err);

    if (!st)
        return err;
    hw_lite_bind_str(st, 1, ev->source);
    hw_lite_bind_str(st, 2, ev->dedup_key);
    err = fetch_str(b, st, res->id, sizeof(res->id), "find duplicate");
    if (err == HW_ENOTFOUND)
        return HW_EIO; /* the row that conflicted must be there */
    if (!err)
        res->duplicate = 1;
    return err;
}

static int insert_one(struct hw_lite *b, const struct hw_store_event *ev,
                      struct hw_store_result *res)
{
    const char *dedup = ev->dedup_key && ev->dedup_key[0] ? ev->dedup_key : NULL;
    int err = 0, rc, dup;
    sqlite3_stmt *st = hw_lite_stmt(b, HW_LITE_INSERT, &err);

    if (!st)
        return err;
    hw_lite_bind_event(st, ev);
    sqlite3_bind_int64(st, HW_LITE_EVENT_COLS + 1, ev->next_attempt_ms);
    sqlite3_bind_int64(st, HW_LITE_EVENT_COLS + 2, ev->lease_until_ms);
    rc = sqlite3_step(st);
    dup = rc == SQLITE_CONSTRAINT_UNIQUE && dedup;
    /* Map before the reset, which would replace the error details. */
    if (rc != SQLITE_DONE && !dup)
        err = hw_lite_fail(b, rc, "insert event");
    sqlite3_reset(st);
    if (dup)
        return find_dup(b, ev, res);
    if (err)
        return err;
    memcpy(res->id, ev->id, sizeof(res->id));
    res->duplicate = 0;
    return 0;
}

/* In-process inserts are cheap: one statement per row. */
int hw_lite_insert(void *be, const struct hw_store_row *rows, size_t n)
{
    int err = 0;

    for (size_t i = 0; i < n && !err; i++)
        err = insert_one(be, rows[i].ev, rows[i].res);
    return err;
}

/* Runs a prepared event query (bound by the caller) and collects its rows. */
static int collect(struct hw_lite *b, sqlite3_stmt *st, int full, struct hw_store_events *out)
{
    struct hw_store_event *ev;
    int rc, err = 0;

    while (!err && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        err = row_event(st, full, &ev);
        if (!err)
            err = hw_store_events_push(out, ev);
    }
    return read_done(b, st, rc, err, "read events");
}

int hw_lite_get(void *be, const char *id, struct hw_store_event **out)
{
    struct hw_lite *b = be;
    struct hw_store_events l = { 0 };
    int err = 0;
    sqlite3_stmt *st = hw_lite_stmt(b, HW_LITE_GET, &err);

    if (!st)
        return err;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    err = collect(b, st, 1, &l);
    err = hw_store_events_take_first(&l, err, out);
    /* Not a row: a live webhook still in its pack. */
    return err == HW_ENOTFOUND ? hw_lite_pack_get(b, id, out) : err;
}

/* Moves the events of more (newest first) into out (newest first), keeping the limit newest. */
static int merge(struct hw_store_events *out, struct hw_store_events *more, size_t limit)
{
    struct hw_store_events m = { 0 };
    size_t i = 0, j = 0;
    int err = 0;

    while (!err && m.n < limit && (i < out->n || j < more->n)) {
        struct hw_store_events *from =
            j >= more->n || (i < out->n && out->v[i]->seq > more->v[j]->seq) ? out : more;
        size_t *k = from == out ? &i : &j;

        err = hw_store_events_push(&m, from->v[*k]);
        from->v[(*k)++] = NULL;
    }
    hw_store_events_cleanup(out);
    hw_store_events_cleanup(more);
    *out = m;
    return err;
}

int hw_lite_list(void *be, const struct hw_store_filter *f, size_t limit,
                 struct hw_store_events *out)
{
    struct hw_lite *b = be;
    char sql[1024], pattern[2 * HW_STORE_TARGET_MAX + 8];
    sqlite3_stmt *st = NULL;
    int i = 1, rc, err;

    if (f->path && hw_store_glob_pattern(f->path, HW_STORE_KIND_SQLITE, pattern, sizeof(pattern)))
        return HW_EINVAL;
    hw_store_list_sql(f, HW_STORE_KIND_SQLITE, sql, sizeof(sql));
    rc = sqlite3_prepare_v2(b->db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK)
        return hw_lite_fail(b, rc, "prepare list");
    if (f->source)
        hw_lite_bind_str(st, i++, f->source);
    if (f->since_ms)
        sqlite3_bind_int64(st, i++, f->since_ms);
    if (f->until_ms)
        sqlite3_bind_int64(st, i++, f->until_ms);
    if (f->cursor)
        sqlite3_bind_int64(st, i++, f->cursor);
    if (f->path)
        sqlite3_bind_text(st, i++, pattern, -1, SQLITE_STATIC); /* GLOB wants text */
    sqlite3_bind_int64(st, i, (sqlite3_int64)limit);
    err = collect(b, st, 0, out);
    sqlite3_finalize(st);
    /* The packed webhooks of the same page, merged in seq order. */
    if (!err) {
        struct hw_store_events more = { 0 };

        err = hw_lite_pack_list(b, f, f->path ? pattern : NULL, limit, &more);
        err = err ? err : merge(out, &more, limit);
        hw_store_events_cleanup(&more);
    }
    return err;
}

/* Prepares head + n placeholders and binds first[0..nfirst) (integers), then seqs[0..n). */
static sqlite3_stmt *prepare_in(struct hw_lite *b, const char *head, const char *owner,
                                int64_t until, const int64_t *seqs, size_t n, int *err)
{
    char *sql = hw_store_in_sql(head, n);
    sqlite3_stmt *st = NULL;
    int rc, k = 1;

    if (!sql) {
        *err = HW_ENOMEM;
        return NULL;
    }
    rc = sqlite3_prepare_v2(b->db, sql, -1, &st, NULL);
    free(sql);
    if (rc != SQLITE_OK) {
        *err = hw_lite_fail(b, rc, "claim");
        return NULL;
    }
    if (owner) {
        hw_lite_bind_str(st, k++, owner);
        sqlite3_bind_int64(st, k++, until);
        sqlite3_bind_int64(st, k++, until);
    }
    for (size_t i = 0; i < n; i++)
        sqlite3_bind_int64(st, k++, seqs[i]);
    return st;
}

/*
 * One claim in one write transaction (SQLite has one writer: no other
 * claimer runs meanwhile): the due rows, leased with one UPDATE, read with
 * one SELECT, committed.
 */
int hw_lite_claim(void *be, const char *source, const char *owner, int64_t now_ms,
                  int64_t lease_until_ms, size_t max, size_t max_bytes, struct hw_store_events *out)
{
    struct hw_lite *b = be;
    int64_t *seqs = calloc(max, sizeof(*seqs));
    size_t n = 0, bytes = 0;
    int err = 0, rc, capped = 0;
    sqlite3_stmt *st, *in;

    if (!seqs)
        return HW_ENOMEM;
    /*
     * A lease need not survive a crash (the event is then claimed again:
     * delivery is at least once), so a claim's commit is not fsynced; the
     * next durable commit (an append, an outcome) syncs the WAL up to it.
     */
    if (!b->nosync && owner)
        sqlite3_exec(b->db, "PRAGMA synchronous = NORMAL", NULL, NULL, NULL);
    err = hw_lite_begin(b);
    if (err)
        goto out;
    /* Without an owner this is a read in store order after seq now_ms (hw_store_next_pending). */
    st = hw_lite_stmt(b,
                      !owner   ? HW_LITE_NEXT_SOURCE
                      : source ? HW_LITE_CLAIM_SOURCE
                               : HW_LITE_CLAIM,
                      &err);
    if (!st)
        goto fail;
    if (source)
        hw_lite_bind_str(st, 1, source);
    sqlite3_bind_int64(st, source ? 2 : 1, now_ms);
    sqlite3_bind_int64(st, source ? 3 : 2, (sqlite3_int64)max);
    /* The byte cap stops the claim early; the first event is always taken. */
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && n < max) {
        size_t size = (size_t)sqlite3_column_int64(st, 1);
        if (n && size > max_bytes - bytes) {
            capped = 1;
            break;
        }
        bytes += size < max_bytes ? size : max_bytes;
        seqs[n++] = sqlite3_column_int64(st, 0);
    }
    /* Stopping early leaves the statement on a row, which is no error. */
    err = read_done(b, st, rc == SQLITE_ROW ? SQLITE_DONE : rc, 0, "claim");
    if (!err && n && owner) {
        in = prepare_in(b, HW_SQL_LEASE_IN, owner, lease_until_ms, seqs, n, &err);
        if (in) {
            err = hw_lite_run(b, in, "lease");
            sqlite3_finalize(in);
        }
    }
    if (!err && n) {
        in = prepare_in(b, HW_SQL_GET_IN, NULL, 0, seqs, n, &err);
        if (in) {
            err = collect(b, in, 1, out);
            sqlite3_finalize(in);
        }
        hw_store_events_order(out, seqs, n);
    }
    out->capped = capped;
    if (!err)
        err = hw_lite_commit(b);
    if (!err)
        goto out;

fail:
    hw_lite_rollback(b);
out:
    if (!b->nosync && owner &&
        sqlite3_exec(b->db, "PRAGMA synchronous = FULL", NULL, NULL, NULL) != SQLITE_OK)
        err = err ? err : hw_lite_fail(b, sqlite3_errcode(b->db), "synchronous=FULL");
    free(seqs);
    return err;
}

/*
 * Why a fenced update (an attempt finished, a lease released) changed no
 * row: no such event, or not the caller's valid claim.
 */
static int not_ours(struct hw_lite *b, const char *id)
{
    char found[HW_ID_LEN + 1];
    int err = 0;
    sqlite3_stmt *st = hw_lite_stmt(b, HW_LITE_EXISTS, &err);

    if (!st)
        return err;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    err = fetch_str(b, st, found, sizeof(found), "find event");
    return err ? err : HW_ELEASE;
}

int hw_lite_exists(void *be, const char *id)
{
    struct hw_lite *b = be;
    char found[HW_ID_LEN + 1];
    int err = 0;
    sqlite3_stmt *st = hw_lite_stmt(b, HW_LITE_EXISTS, &err);

    if (!st)
        return err;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    err = fetch_str(b, st, found, sizeof(found), "find event");
    if (err == HW_ENOTFOUND) {
        struct hw_lite_packed k;

        err = hw_lite_pack_find(b, id, 0, &k);
        hw_lite_packed_free(&k);
        return err == HW_ENOTFOUND ? 0 : err ? err : 1;
    }
    return err ? err : 1;
}

/* Whether (a, status) is id's stored outcome under lease (HW_SQL_OUTCOME_STORED): 1, 0, error. */
static int outcome_stored(struct hw_lite *b, const char *id, const struct hw_store_attempt *a,
                          int status, int64_t lease)
{
    char found[HW_ID_LEN + 1];
    int err = 0;
    sqlite3_stmt *st = hw_lite_stmt(b, HW_LITE_OUTCOME_STORED, &err);

    if (!st)
        return err;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, a->at_ms);
    sqlite3_bind_int(st, 3, a->http_status);
    sqlite3_bind_int(st, 4, status);
    sqlite3_bind_int64(st, 5, lease);
    sqlite3_bind_int64(st, 6, lease);
    err = fetch_str(b, st, found, sizeof(found), "find attempt");
    return err == HW_ENOTFOUND ? 0 : err ? err : 1;
}

int hw_lite_record_one(void *be, const char *id, int64_t lease, int64_t now_ms,
                       const struct hw_store_attempt *a, int status, int64_t next_attempt_ms)
{
    struct hw_lite *b = be;
    int err = 0;
    sqlite3_stmt *fin, *add;

    fin = hw_lite_stmt(b, lease == HW_STORE_NO_LEASE ? HW_LITE_SETTLE : HW_LITE_FINISH, &err);
    add = hw_lite_stmt(b, HW_LITE_ADD_ATTEMPT, &err);
    if (!fin || !add)
        goto fail;
    sqlite3_bind_int(fin, 1, status);
    sqlite3_bind_int64(fin, 2, next_attempt_ms);
    sqlite3_bind_int(fin, 3, a->http_status);
    hw_lite_bind_str(fin, 4, a->error);
    sqlite3_bind_text(fin, 5, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(fin, 6, lease);
    sqlite3_bind_int64(fin, 7, now_ms);
    err = hw_lite_run(b, fin, "finish attempt");
    if (!err && sqlite3_changes(b->db) == 0) {
        /* This very outcome, written by an earlier try: done, not refused. */
        err = outcome_stored(b, id, a, status, lease);
        if (err == 1)
            return 0;
        err = err ? err : not_ours(b, id);
    }
    if (err)
        goto fail;
    sqlite3_bind_text(add, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(add, 2, a->at_ms);
    sqlite3_bind_int(add, 3, a->duration_ms);
    sqlite3_bind_int(add, 4, a->http_status);
    hw_lite_bind_str(add, 5, a->error);
    hw_lite_bind_bytes(add, 6, a->excerpt, a->excerpt_len);
    err = hw_lite_run(b, add, "record attempt");
fail:
    return err;
}

int hw_lite_release_one(void *be, const char *id, int64_t lease, int64_t now_ms)
{
    struct hw_lite *b = be;
    int err = 0;
    sqlite3_stmt *st = hw_lite_stmt(b, HW_LITE_RELEASE, &err);

    if (!st)
        return err;
    sqlite3_bind_int64(st, 1, now_ms);
    sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, lease);
    sqlite3_bind_int64(st, 4, now_ms);
    err = hw_lite_run(b, st, "release lease");
    if (!err && sqlite3_changes(b->db) == 0)
        err = not_ours(b, id);
    return err;
}

int hw_lite_attempts(void *be, const char *id, struct hw_store_attempts *out)
{
    struct hw_lite *b = be;
    int err = 0, rc;
    sqlite3_stmt *st = hw_lite_stmt(b, HW_LITE_ATTEMPTS, &err);

    if (!st)
        return err;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    while (!err && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct hw_store_attempt a = {
            .at_ms = sqlite3_column_int64(st, 0),
            .duration_ms = sqlite3_column_int(st, 1),
            .http_status = sqlite3_column_int(st, 2),
            .error = hw_lite_col_str(st, 3),
            .excerpt = sqlite3_column_blob(st, 4),
            .excerpt_len = (size_t)sqlite3_column_bytes(st, 4),
        };
        struct hw_store_attempt *copy = hw_store_attempt_build(&a);
        err = copy ? hw_store_attempts_push(out, copy) : HW_ENOMEM;
    }
    err = read_done(b, st, rc, err, "read attempts");
    /* No attempt rows: a packed webhook keeps its one attempt in its pack. */
    return !err && !out->n ? hw_lite_pack_attempts(b, id, out) : err;
}

int hw_lite_requeue(void *be, const char *id, int64_t now_ms, int force)
{
    struct hw_lite *b = be;
    int err = 0;
    sqlite3_stmt *st = hw_lite_stmt(b, HW_LITE_REQUEUE, &err);

    if (!st)
        return err;
    sqlite3_bind_int64(st, 1, now_ms);
    sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, force);
    err = hw_lite_run(b, st, "requeue");
    if (err || sqlite3_changes(b->db) != 0)
        return err;
    /* Nothing changed: a packed webhook, no such event, or a delivered one without force. */
    err = hw_lite_begin(b);
    if (!err)
        err = hw_lite_pack_requeue(b, id, now_ms, force);
    if (!err)
        return hw_lite_commit(b);
    hw_lite_rollback(b);
    if (err == HW_ENOTFOUND) {
        err = hw_lite_exists(b, id);
        err = err == 1 ? HW_EEXIST : err == 0 ? HW_ENOTFOUND : err;
    }
    return err;
}

int hw_lite_token_add(void *be, const char *channel, const unsigned char *hash, int64_t now_ms)
{
    struct hw_lite *b = be;
    int err = 0, rc;
    sqlite3_stmt *st = hw_lite_stmt(b, HW_LITE_TOKEN_ADD, &err);

    if (!st)
        return err;
    hw_lite_bind_bytes(st, 1, hash, HW_STORE_SHA256_LEN);
    hw_lite_bind_str(st, 2, channel);
    sqlite3_bind_int64(st, 3, now_ms);
    rc = sqlite3_step(st);
    if (rc != SQLITE_DONE && (rc & 0xff) != SQLITE_CONSTRAINT)
        err = hw_lite_fail(b, rc, "add token");
    sqlite3_reset(st);
    if (rc != SQLITE_DONE && !err)
        return HW_EEXIST;
    return err;
}

int hw_lite_token_revoke(void *be, const char *channel, unsigned *removed)
{
    struct hw_lite *b = be;
    int err = 0;
    sqlite3_stmt *st = hw_lite_stmt(b, HW_LITE_TOKEN_REVOKE, &err);

    if (!st)
        return err;
    hw_lite_bind_str(st, 1, channel);
    err = hw_lite_run(b, st, "revoke tokens");
    if (!err)
        *removed = (unsigned)sqlite3_changes(b->db);
    return err;
}

int hw_lite_token_lookup(void *be, const unsigned char *hash, char *channel)
{
    struct hw_lite *b = be;
    int err = 0;
    sqlite3_stmt *st = hw_lite_stmt(b, HW_LITE_TOKEN_LOOKUP, &err);

    if (!st)
        return err;
    hw_lite_bind_bytes(st, 1, hash, HW_STORE_SHA256_LEN);
    return fetch_str(b, st, channel, HW_STORE_NAME_MAX + 1, "look up token");
}

int hw_lite_token_list(void *be, struct hw_store_token **out, size_t *n)
{
    struct hw_lite *b = be;
    int err = 0, rc;
    sqlite3_stmt *st = hw_lite_stmt(b, HW_LITE_TOKEN_LIST, &err);

    if (!st)
        return err;
    while (!err && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct hw_store_token *v = realloc(*out, (*n + 1) * sizeof(**out));
        if (!v) {
            err = HW_ENOMEM;
            break;
        }
        *out = v;
        memset(&v[*n], 0, sizeof(v[*n]));
        snprintf(v[*n].channel, sizeof(v[*n].channel), "%s", hw_lite_col_str(st, 0));
        if (sqlite3_column_bytes(st, 1) == HW_STORE_SHA256_LEN)
            memcpy(v[*n].hash, sqlite3_column_blob(st, 1), HW_STORE_SHA256_LEN);
        v[*n].created_ms = sqlite3_column_int64(st, 2);
        (*n)++;
    }
    return read_done(b, st, rc, err, "list tokens");
}
