/*
 * The MySQL backend's operations on events, attempts and tokens (see
 * store_mysql.h for the connection they run on). Each call checks the
 * connection first, so a vanished server costs one fast HW_EUNAVAIL. Called
 * only through store.c, under the handle's lock.
 */
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/log.h"
#include "store_mysql.h"
#include "store_mysql_row.h"

/*
 * Passes on what a store_mysql_row.c fetch helper returned. Their HW_EIO is
 * a failed client call not yet looked at: map (and log) st's error for it.
 * hw_my_execute() maps its own errors, so only fetch results come here.
 */
static int fetched(struct hw_my *b, MYSQL_STMT *st, int err, const char *what)
{
    return err == HW_EIO ? hw_my_stmt_fail(b, st, what) : err;
}

/* Looks up the id stored under (source, dedup_key) after a duplicate-key error. */
static int find_dup(struct hw_my *b, const struct hw_store_event *ev, struct hw_store_result *res)
{
    MYSQL_BIND p[2];
    char id[HW_ID_LEN + 2];
    int err = 0, found = 0;
    MYSQL_STMT *st = hw_my_stmt(b, HW_MY_FIND_DUP, &err);

    if (!st)
        return err;
    hw_my_param_str(&p[0], ev->source);
    hw_my_param_str(&p[1], ev->dedup_key);
    err = hw_my_execute(b, st, p, "find duplicate");
    if (!err)
        err = fetched(b, st, hw_my_fetch_str(st, id, sizeof(id), &found), "find duplicate");
    if (err)
        return err;
    if (!found)
        return HW_EIO;
    memcpy(res->id, id, sizeof(res->id));
    res->id[HW_ID_LEN] = '\0';
    res->duplicate = 1;
    return 0;
}

/* 1 when an event with this id is stored (committed, or written by this transaction), 0 if not. */
static int id_stored(struct hw_my *b, const char *id)
{
    char found[HW_ID_LEN + 2];
    MYSQL_BIND p[1];
    int hit = 0, err = 0;
    MYSQL_STMT *st = hw_my_stmt(b, HW_MY_EXISTS, &err);

    if (!st)
        return err;
    hw_my_param_str(&p[0], id);
    err = hw_my_execute(b, st, p, "find event");
    if (!err)
        err = fetched(b, st, hw_my_fetch_str(st, found, sizeof(found), &hit), "find event");
    return err ? err : hit;
}

int hw_my_exists(void *be, const char *id)
{
    struct hw_my *b = be;
    int err = hw_my_ready(b);

    return err ? err : id_stored(b, id);
}

static const char *dedup_of(const struct hw_store_event *ev)
{
    return ev->dedup_key && ev->dedup_key[0] ? ev->dedup_key : NULL;
}

/* Binds one row of HW_SQL_INSERT_ROW at p (HW_SQL_INSERT_PARAMS entries). */
static void bind_row(MYSQL_BIND *p, const struct hw_store_event *ev, int64_t *body_len)
{
    hw_my_param_event(p, ev, body_len);
    hw_my_param_i64(&p[HW_MY_EVENT_COLS], &ev->next_attempt_ms);
}

static int insert_one(struct hw_my *b, const struct hw_store_row *row)
{
    const struct hw_store_event *ev = row->ev;
    MYSQL_BIND p[HW_SQL_INSERT_PARAMS];
    int64_t body_len;
    int err;

    /* The server would drop the connection over an oversized packet; refuse it here. */
    if (hw_my_event_bytes(ev) + HW_MY_PACKET_SLACK > b->max_packet) {
        HW_ERR("store %s: event of %zu bytes exceeds max_allowed_packet (%lu)", b->url->name,
               ev->body_len + ev->headers_len, b->max_packet);
        return HW_E2BIG;
    }
    bind_row(p, ev, &body_len);
    err = hw_my_run(b, HW_MY_INSERT, p, NULL, "insert event");
    if (!err) {
        memcpy(row->res->id, ev->id, sizeof(row->res->id));
        row->res->duplicate = 0;
        return 0;
    }
    if (err != HW_EEXIST)
        return err;
    /*
     * The id itself is taken: an earlier try of this very append committed
     * after all (its answer was lost), and a transaction still waiting on
     * its COMMIT would have made us wait for it. The event is stored once.
     */
    err = id_stored(b, ev->id);
    if (err == 1) {
        memcpy(row->res->id, ev->id, sizeof(row->res->id));
        row->res->duplicate = 0;
        return 0;
    }
    if (err < 0)
        return err;
    return dedup_of(ev) ? find_dup(b, ev, row->res) : HW_EIO;
}

/*
 * The INSERT of exactly k rows (2..HW_MY_ROWS_MAX), prepared on first use
 * and kept for the connection: a batch of any size is one statement, and
 * the server parses each size once. Statements of all sizes together hold
 * 2,079 rows of placeholders on the server per connection, a bounded cost;
 * text with the values inline was measured: the server's parse of every
 * value's bytes made each commit slower (see bench/RESULTS.md).
 */
static MYSQL_STMT *insert_stmt(struct hw_my *b, size_t k, int *err)
{
    size_t cap = sizeof(HW_SQL_INSERT_HEAD) + k * sizeof(HW_SQL_INSERT_ROW ", "), n;
    char *sql;
    MYSQL_STMT *st;

    if (b->ins[k])
        return b->ins[k];
    sql = malloc(cap);
    st = sql ? mysql_stmt_init(b->conn) : NULL;
    if (!st) {
        free(sql);
        *err = HW_ENOMEM;
        return NULL;
    }
    memcpy(sql, HW_SQL_INSERT_HEAD, sizeof(HW_SQL_INSERT_HEAD));
    n = sizeof(HW_SQL_INSERT_HEAD) - 1;
    for (size_t i = 0; i < k; i++) {
        if (i) {
            memcpy(sql + n, ", ", 2);
            n += 2;
        }
        memcpy(sql + n, HW_SQL_INSERT_ROW, sizeof(HW_SQL_INSERT_ROW) - 1);
        n += sizeof(HW_SQL_INSERT_ROW) - 1;
    }
    if (mysql_stmt_prepare(st, sql, (unsigned long)n)) {
        *err = hw_my_stmt_fail(b, st, "prepare insert");
        mysql_stmt_close(st);
        st = NULL;
    }
    free(sql);
    b->ins[k] = st;
    return st;
}

/* Inserts k rows with one statement; HW_EEXIST when any of them is a duplicate. */
static int insert_many(struct hw_my *b, const struct hw_store_row *rows, size_t k)
{
    int err = 0;
    MYSQL_STMT *st = insert_stmt(b, k, &err);

    if (!st)
        return err;
    for (size_t j = 0; j < k; j++)
        bind_row(&b->rows[j * HW_SQL_INSERT_PARAMS], rows[j].ev, &b->body_len[j]);
    err = hw_my_execute(b, st, b->rows, "insert events");
    for (size_t j = 0; j < k && !err; j++) {
        memcpy(rows[j].res->id, rows[j].ev->id, sizeof(rows[j].res->id));
        rows[j].res->duplicate = 0;
    }
    return err;
}

/*
 * Inserts rows[0..k) as one statement; when a duplicate key fails it (InnoDB
 * undoes just that statement), inserts each half the same way, down to
 * single rows, which tell a duplicate from an id already stored: one
 * duplicate among k rows costs about 2 log2(k) statements, not k. The halves
 * go in order, so the first of two copies in a batch is the one stored.
 */
static int insert_split(struct hw_my *b, const struct hw_store_row *rows, size_t k)
{
    int err;

    if (k == 1)
        return insert_one(b, rows);
    err = insert_many(b, rows, k);
    if (err != HW_EEXIST)
        return err;
    err = insert_split(b, rows, k / 2);
    return err ? err : insert_split(b, rows + k / 2, k - k / 2);
}

/*
 * A round trip per statement dominates a group commit, so a batch goes as
 * one INSERT of its exact size (up to HW_MY_ROWS_MAX rows and half of
 * max_allowed_packet; a larger batch as several), and a lone event through
 * the single-row statement; duplicates are found by insert_split.
 */
int hw_my_insert(void *be, const struct hw_store_row *rows, size_t n)
{
    struct hw_my *b = be;
    size_t limit = b->max_packet / 2, i = 0;
    int err = 0;

    while (i < n && !err) {
        size_t k = 0, bytes = 0;

        while (i + k < n && k < HW_MY_ROWS_MAX) {
            size_t r = hw_my_event_bytes(rows[i + k].ev);

            if (k && bytes + r > limit)
                break;
            bytes += r;
            k++;
        }
        err = insert_split(b, rows + i, k);
        i += k;
    }
    return err;
}

/* Executes st with p and appends the event rows to out. */
static int query_events(struct hw_my *b, MYSQL_STMT *st, MYSQL_BIND *p, int full,
                        struct hw_store_events *out)
{
    int err = hw_my_execute(b, st, p, "read events");

    if (!err)
        err = fetched(b, st, hw_my_fetch_events(st, full, out), "read events");
    return err;
}

int hw_my_get(void *be, const char *id, struct hw_store_event **out)
{
    struct hw_my *b = be;
    struct hw_store_events l = { 0 };
    MYSQL_BIND p[1];
    int err = hw_my_ready(b);
    MYSQL_STMT *st = err ? NULL : hw_my_stmt(b, HW_MY_GET, &err);

    if (!st)
        return err;
    hw_my_param_str(&p[0], id);
    err = query_events(b, st, p, 1, &l);
    return hw_store_events_take_first(&l, err, out);
}

int hw_my_list(void *be, const struct hw_store_filter *f, size_t limit, struct hw_store_events *out)
{
    struct hw_my *b = be;
    MYSQL_BIND p[7];
    int64_t lim = (int64_t)limit;
    char sql[1024], pattern[2 * HW_STORE_TARGET_MAX + 8];
    MYSQL_STMT *st;
    int n = 0, err = hw_my_ready(b);

    if (err)
        return err;
    if (f->path && hw_store_glob_pattern(f->path, HW_STORE_KIND_MYSQL, pattern, sizeof(pattern)))
        return HW_EINVAL;
    hw_store_list_sql(f, HW_STORE_KIND_MYSQL, sql, sizeof(sql));
    if (f->source)
        hw_my_param_str(&p[n++], f->source);
    if (f->since_ms)
        hw_my_param_i64(&p[n++], &f->since_ms);
    if (f->until_ms)
        hw_my_param_i64(&p[n++], &f->until_ms);
    if (f->cursor)
        hw_my_param_i64(&p[n++], &f->cursor);
    if (f->path)
        hw_my_param_str(&p[n++], pattern);
    hw_my_param_i64(&p[n], &lim);
    st = mysql_stmt_init(b->conn);
    if (!st)
        return HW_ENOMEM;
    if (mysql_stmt_prepare(st, sql, strlen(sql)))
        err = hw_my_stmt_fail(b, st, "prepare list");
    else
        err = query_events(b, st, p, 0, out);
    mysql_stmt_close(st);
    return err;
}

/* The claim's statements with one placeholder per claimed seq (slots of b->in_st). */
enum { IN_LEASE, IN_GET };

/* Which statement a slot holds: it is kept for the same statement and count only. */
enum { IN_SQL_LEASE, IN_SQL_LOCK_PICKED, IN_SQL_GET, IN_SQL_KINDS };

/* head, n placeholders in parentheses, tail: an owned string or NULL. */
static char *in_sql(const char *head, size_t n, const char *tail)
{
    char *list = hw_store_in_sql(head, n), *sql;
    size_t a, t = strlen(tail);

    if (!list || !t)
        return list;
    a = strlen(list);
    sql = realloc(list, a + t + 1);
    if (!sql) {
        free(list);
        return NULL;
    }
    memcpy(sql + a, tail, t + 1);
    return sql;
}

/*
 * Runs statement kind (IN_SQL_*: head, n placeholders, tail) in slot k:
 * binds first[0..nfirst), then seqs[0..n), and executes it. The statement
 * stays prepared for the next claim of the same kind and size (a claim
 * usually takes its full count), which saves a round trip and the server's
 * parse of 100 placeholders each time. Returns the executed statement
 * (owned by b) or NULL with *err set.
 */
static MYSQL_STMT *run_in(struct hw_my *b, int k, int kind, MYSQL_BIND *first, size_t nfirst,
                          const int64_t *seqs, size_t n, int *err)
{
    static const char *const head[IN_SQL_KINDS] = { HW_SQL_LEASE_IN, HW_SQL_LOCK_PICKED,
                                                    HW_SQL_GET_IN };
    size_t key = n * IN_SQL_KINDS + (size_t)kind;
    MYSQL_BIND *p = calloc(nfirst + n, sizeof(*p));
    MYSQL_STMT *st = b->in_n[k] == key ? b->in_st[k] : NULL;
    char *sql = NULL;

    *err = 0;
    if (!p) {
        *err = HW_ENOMEM;
        return NULL;
    }
    if (!st) {
        if (b->in_st[k])
            mysql_stmt_close(b->in_st[k]);
        b->in_st[k] = NULL;
        sql = in_sql(head[kind], n, kind == IN_SQL_LOCK_PICKED ? HW_SQL_LOCK_PICKED_TAIL : "");
        st = sql ? mysql_stmt_init(b->conn) : NULL;
        if (!st)
            *err = HW_ENOMEM;
        else if (mysql_stmt_prepare(st, sql, strlen(sql)))
            *err = hw_my_stmt_fail(b, st, "claim");
        if (*err)
            goto fail;
    }
    if (nfirst)
        memcpy(p, first, nfirst * sizeof(*p));
    for (size_t i = 0; i < n; i++)
        hw_my_param_i64(&p[nfirst + i], &seqs[i]);
    *err = hw_my_execute(b, st, p, "claim");
    if (*err)
        goto fail;
    b->in_st[k] = st;
    b->in_n[k] = key;
    free(sql);
    free(p);
    return st;

fail:
    if (st)
        mysql_stmt_close(st);
    b->in_st[k] = NULL;
    free(sql);
    free(p);
    return NULL;
}

/* The byte cap: the first event always, then as many as fit. Returns how many. */
static size_t within_cap(const int64_t *sizes, size_t n, size_t max_bytes)
{
    size_t bytes = 0;

    for (size_t i = 0; i < n; i++) {
        size_t size = sizes[i] > 0 ? (size_t)sizes[i] : 0;
        if (i && size > max_bytes - bytes)
            return i;
        bytes += size < max_bytes ? size : max_bytes;
    }
    return n;
}

/*
 * Runs statement k (HW_MY_*) or, for k < 0, sql prepared for this call
 * only, with parameters p, and reads its (seq, size) rows into seqs and
 * sizes (at most max; *n of them).
 */
static int read_seqs(struct hw_my *b, int k, const char *sql, MYSQL_BIND *p, int64_t *seqs,
                     int64_t *sizes, size_t max, size_t *n)
{
    MYSQL_STMT *st;
    int err = 0;

    *n = 0;
    if (k >= 0) {
        st = hw_my_stmt(b, k, &err);
        if (!st)
            return err;
    } else {
        st = mysql_stmt_init(b->conn);
        if (!st)
            return HW_ENOMEM;
        if (mysql_stmt_prepare(st, sql, strlen(sql)))
            err = hw_my_stmt_fail(b, st, "claim");
    }
    if (!err)
        err = hw_my_execute(b, st, p, "claim");
    if (!err)
        err = fetched(b, st, hw_my_fetch_i64s(st, seqs, sizes, max, n), "claim");
    if (k < 0)
        mysql_stmt_close(st);
    return err;
}

/*
 * Locks and reads the picked events still due, skipping rows other
 * claimers hold: out gets them in the order of seqs. Inside the claim's
 * transaction.
 */
static int lock_picked(struct hw_my *b, int64_t now_ms, const int64_t *seqs, size_t n,
                       struct hw_store_events *out)
{
    MYSQL_BIND p[1];
    MYSQL_STMT *st;
    int err;

    hw_my_param_i64(&p[0], &now_ms);
    st = run_in(b, IN_GET, IN_SQL_LOCK_PICKED, p, 1, seqs, n, &err);
    if (!st)
        return err;
    err = fetched(b, st, hw_my_fetch_events(st, 1, out), "claim");
    if (err) {
        /* A read that failed may leave rows unread: never run that statement again. */
        mysql_stmt_close(st);
        b->in_st[IN_GET] = NULL;
        return err;
    }
    hw_store_events_order(out, seqs, n);
    return 0;
}

/*
 * Leases the events of out (locked by lock_picked) with one UPDATE and
 * sets on each what it wrote; seqs (room for out->n) is overwritten.
 */
static int lease(struct hw_my *b, const char *owner, int64_t lease_until_ms, int64_t *seqs,
                 struct hw_store_events *out)
{
    MYSQL_BIND p[3];
    MYSQL_STMT *st;
    int err;

    for (size_t i = 0; i < out->n; i++) {
        seqs[i] = out->v[i]->seq;
        out->v[i]->lease++;
        out->v[i]->lease_until_ms = lease_until_ms;
        out->v[i]->next_attempt_ms = lease_until_ms;
    }
    hw_my_param_str(&p[0], owner);
    hw_my_param_i64(&p[1], &lease_until_ms);
    hw_my_param_i64(&p[2], &lease_until_ms);
    st = run_in(b, IN_LEASE, IN_SQL_LEASE, p, 3, seqs, out->n, &err);
    if (st && mysql_stmt_affected_rows(st) != out->n)
        err = HW_EIO; /* rows this transaction holds locked cannot have changed */
    return err;
}

/*
 * One claim in a few round trips. The next due events are picked without
 * a lock, then locked by primary key (those still due; rows other claimers
 * hold are skipped), read and leased, and committed. When picks were lost
 * to other claimers while more events may be due, the claim runs again as
 * a locking read of the due range, which steps over held rows to the next.
 * Without an owner this is a read in store order after seq now_ms
 * (hw_store_next_pending), nothing locked or leased.
 */
int hw_my_claim(void *be, const char *source, const char *owner, int64_t now_ms,
                int64_t lease_until_ms, size_t max, size_t max_bytes, struct hw_store_events *out)
{
    struct hw_my *b = be;
    int64_t *seqs = calloc(max, sizeof(*seqs)), *sizes = calloc(max, sizeof(*sizes));
    int64_t lim = (int64_t)max;
    MYSQL_BIND p[3];
    size_t n = 0, cand = 0;
    MYSQL_STMT *st;
    int err, scan = 0;

    if (!seqs || !sizes) {
        free(seqs);
        free(sizes);
        return HW_ENOMEM;
    }
    err = hw_my_begin(b);
    if (err)
        goto out;
again:
    if (source)
        hw_my_param_str(&p[0], source);
    hw_my_param_i64(&p[source ? 1 : 0], &now_ms);
    hw_my_param_i64(&p[source ? 2 : 1], &lim);
    if (!owner)
        err = read_seqs(b, HW_MY_NEXT_SOURCE, NULL, p, seqs, sizes, max, &n);
    else if (!scan)
        err = read_seqs(b, -1, source ? HW_SQL_CLAIM_SOURCE_MY : HW_SQL_CLAIM_MY, p, seqs, sizes,
                        max, &n);
    else
        err =
            read_seqs(b, source ? HW_MY_CLAIM_SOURCE : HW_MY_CLAIM, NULL, p, seqs, sizes, max, &n);
    cand = n;
    n = within_cap(sizes, n, max_bytes);
    if (!err && n && owner) {
        err = lock_picked(b, now_ms, seqs, n, out);
        if (!err && !scan && out->n < n && cand == max) {
            /*
             * Picks lost to other claimers: a locking read of the due range
             * steps over the rows they hold to the next (the rows locked so
             * far are this transaction's and come first again).
             */
            hw_store_events_cleanup(out);
            scan = 1;
            goto again;
        }
        if (!err && out->n)
            err = lease(b, owner, lease_until_ms, seqs, out);
    } else if (!err && n) {
        st = run_in(b, IN_GET, IN_SQL_GET, NULL, 0, seqs, n, &err);
        if (st)
            err = fetched(b, st, hw_my_fetch_events(st, 1, out), "claim");
        if (st && err) {
            /* A read that failed may leave rows unread: never run that statement again. */
            mysql_stmt_close(st);
            b->in_st[IN_GET] = NULL;
        }
        hw_store_events_order(out, seqs, n);
    }
    if (!err)
        err = hw_my_commit(b);
    if (!err)
        goto out;

    hw_my_rollback(b);
    hw_store_events_cleanup(out);
out:
    free(seqs);
    free(sizes);
    return err;
}

/* Why finishing an attempt changed no row: no such event, or not the caller's valid claim. */
static int not_ours(struct hw_my *b, const char *id)
{
    int err = id_stored(b, id);

    return err == 1 ? HW_ELEASE : err == 0 ? HW_ENOTFOUND : err;
}

int hw_my_record_one(void *be, const char *id, int64_t lease, int64_t now_ms,
                     const struct hw_store_attempt *a, int status, int64_t next_attempt_ms)
{
    struct hw_my *b = be;
    MYSQL_BIND p[7];
    uint64_t rows = 0;
    int err;

    hw_my_param_int(&p[0], &status);
    hw_my_param_i64(&p[1], &next_attempt_ms);
    hw_my_param_int(&p[2], &a->http_status);
    hw_my_param_str(&p[3], a->error);
    hw_my_param_str(&p[4], id);
    hw_my_param_i64(&p[5], &lease);
    hw_my_param_i64(&p[6], &now_ms);
    err = hw_my_run(b, lease == HW_STORE_NO_LEASE ? HW_MY_SETTLE : HW_MY_FINISH, p, &rows,
                    "finish attempt");
    if (!err && rows == 0)
        err = not_ours(b, id);
    if (!err) {
        hw_my_param_str(&p[0], id);
        hw_my_param_i64(&p[1], &a->at_ms);
        hw_my_param_int(&p[2], &a->duration_ms);
        hw_my_param_int(&p[3], &a->http_status);
        hw_my_param_str(&p[4], a->error);
        hw_my_param_bytes(&p[5], a->excerpt, a->excerpt_len);
        err = hw_my_run(b, HW_MY_ADD_ATTEMPT, p, NULL, "record attempt");
    }
    return err;
}

int hw_my_attempts(void *be, const char *id, struct hw_store_attempts *out)
{
    struct hw_my *b = be;
    MYSQL_BIND p[1];
    int err = hw_my_ready(b);
    MYSQL_STMT *st = err ? NULL : hw_my_stmt(b, HW_MY_ATTEMPTS, &err);

    if (!st)
        return err;
    hw_my_param_str(&p[0], id);
    err = hw_my_execute(b, st, p, "read attempts");
    if (!err)
        err = fetched(b, st, hw_my_fetch_attempts(st, out), "read attempts");
    return err;
}

int hw_my_requeue(void *be, const char *id, int64_t now_ms, int force)
{
    struct hw_my *b = be;
    MYSQL_BIND p[3];
    uint64_t rows = 0;
    int err = hw_my_ready(b);

    if (err)
        return err;
    hw_my_param_i64(&p[0], &now_ms);
    hw_my_param_str(&p[1], id);
    hw_my_param_int(&p[2], &force);
    err = hw_my_run(b, HW_MY_REQUEUE, p, &rows, "requeue");
    if (err || rows)
        return err;
    /* Nothing changed: no such event, or a delivered one without force. */
    err = id_stored(b, id);
    return err == 1 ? HW_EEXIST : err == 0 ? HW_ENOTFOUND : err;
}

int hw_my_token_add(void *be, const char *channel, const unsigned char *hash, int64_t now_ms)
{
    struct hw_my *b = be;
    MYSQL_BIND p[3];
    int err = hw_my_ready(b);

    if (err)
        return err;
    hw_my_param_bytes(&p[0], hash, HW_STORE_SHA256_LEN);
    hw_my_param_str(&p[1], channel);
    hw_my_param_i64(&p[2], &now_ms);
    return hw_my_run(b, HW_MY_TOKEN_ADD, p, NULL, "add token");
}

int hw_my_token_revoke(void *be, const char *channel, unsigned *removed)
{
    struct hw_my *b = be;
    MYSQL_BIND p[1];
    uint64_t rows = 0;
    int err = hw_my_ready(b);

    if (err)
        return err;
    hw_my_param_str(&p[0], channel);
    err = hw_my_run(b, HW_MY_TOKEN_REVOKE, p, &rows, "revoke tokens");
    *removed = (unsigned)rows;
    return err;
}

int hw_my_token_lookup(void *be, const unsigned char *hash, char *channel)
{
    struct hw_my *b = be;
    MYSQL_BIND p[1];
    int found = 0, err = hw_my_ready(b);
    MYSQL_STMT *st = err ? NULL : hw_my_stmt(b, HW_MY_TOKEN_LOOKUP, &err);

    if (!st)
        return err;
    hw_my_param_bytes(&p[0], hash, HW_STORE_SHA256_LEN);
    err = hw_my_execute(b, st, p, "look up token");
    if (!err)
        err = fetched(b, st, hw_my_fetch_str(st, channel, HW_STORE_NAME_MAX + 1, &found),
                      "look up token");
    if (err)
        return err;
    return found ? 0 : HW_ENOTFOUND;
}

int hw_my_token_list(void *be, struct hw_store_token **out, size_t *n)
{
    struct hw_my *b = be;
    int err = hw_my_ready(b);
    MYSQL_STMT *st = err ? NULL : hw_my_stmt(b, HW_MY_TOKEN_LIST, &err);

    if (!st)
        return err;
    err = hw_my_execute(b, st, NULL, "list tokens");
    if (!err)
        err = fetched(b, st, hw_my_fetch_tokens(st, out, n), "list tokens");
    return err;
}
