/*
 * The MySQL backend's claim (hw_my_claim): the next due events picked
 * without a lock, locked and read by primary key, leased and committed, and
 * the read in store order without a lease. Owns the claim's statements kept
 * prepared in struct hw_my's in_st slots. Called only through store.c, under
 * the handle's lock.
 */
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/log.h"
#include "store_mysql.h"
#include "store_mysql_row.h"

/* A fetch helper's HW_EIO is a failed client call: map (and log) st's error for it. */
static int fetched(struct hw_my *b, MYSQL_STMT *st, int err, const char *what)
{
    return err == HW_EIO ? hw_my_stmt_fail(b, st, what) : err;
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
 * Runs statement k (HW_MY_*, kept prepared) with parameters p and reads its
 * (seq, size) rows into seqs and sizes (at most max; *n of them).
 */
static int read_seqs(struct hw_my *b, int k, MYSQL_BIND *p, int64_t *seqs, int64_t *sizes,
                     size_t max, size_t *n)
{
    int err = 0;
    MYSQL_STMT *st = hw_my_stmt(b, k, &err);

    *n = 0;
    if (!st)
        return err;
    err = hw_my_execute(b, st, p, "claim");
    if (!err)
        err = fetched(b, st, hw_my_fetch_i64s(st, seqs, sizes, max, n), "claim");
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
    if (st && mysql_stmt_affected_rows(st) != out->n) {
        /* Rows this transaction holds locked cannot have changed: the claim is rolled back. */
        HW_WARN("store %s: claim: the lease changed %llu rows of the %zu locked; rolled back",
                b->url->name, (unsigned long long)mysql_stmt_affected_rows(st), out->n);
        err = HW_EIO;
    }
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
        err = read_seqs(b, HW_MY_NEXT_SOURCE, p, seqs, sizes, max, &n);
    else if (!scan)
        err = read_seqs(b, source ? HW_MY_PICK_SOURCE : HW_MY_PICK, p, seqs, sizes, max, &n);
    else
        err = read_seqs(b, source ? HW_MY_CLAIM_SOURCE : HW_MY_CLAIM, p, seqs, sizes, max, &n);
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
    out->capped = n < cand; /* within_cap() left due events behind */
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
