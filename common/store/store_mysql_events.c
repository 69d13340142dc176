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
    hw_my_param_i64(&p[HW_MY_EVENT_COLS + 1], &ev->lease_until_ms);
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

/*
 * Why a fenced update (an attempt finished, a lease released) changed no
 * row: no such event, or not the caller's valid claim.
 */
static int not_ours(struct hw_my *b, const char *id)
{
    int err = id_stored(b, id);

    return err == 1 ? HW_ELEASE : err == 0 ? HW_ENOTFOUND : err;
}

/* Whether (a, status) is id's stored outcome under lease (HW_SQL_OUTCOME_STORED): 1, 0, error. */
static int outcome_stored(struct hw_my *b, const char *id, const struct hw_store_attempt *a,
                          int status, int64_t lease)
{
    char found[HW_ID_LEN + 2];
    MYSQL_BIND p[6];
    int hit = 0, err = 0;
    MYSQL_STMT *st = hw_my_stmt(b, HW_MY_OUTCOME_STORED, &err);

    if (!st)
        return err;
    hw_my_param_str(&p[0], id);
    hw_my_param_i64(&p[1], &a->at_ms);
    hw_my_param_int(&p[2], &a->http_status);
    hw_my_param_int(&p[3], &status);
    hw_my_param_i64(&p[4], &lease);
    hw_my_param_i64(&p[5], &lease);
    err = hw_my_execute(b, st, p, "find attempt");
    if (!err)
        err = fetched(b, st, hw_my_fetch_str(st, found, sizeof(found), &hit), "find attempt");
    return err ? err : hit;
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
    if (!err && rows == 0) {
        /*
         * This very outcome, written by an earlier try whose COMMIT's answer
         * was lost (the retry finds its own fence moved): done, not refused.
         */
        err = outcome_stored(b, id, a, status, lease);
        if (err == 1)
            return 0;
        err = err ? err : not_ours(b, id);
    }
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

int hw_my_release_one(void *be, const char *id, int64_t lease, int64_t now_ms)
{
    struct hw_my *b = be;
    MYSQL_BIND p[4];
    uint64_t rows = 0;
    int err;

    hw_my_param_i64(&p[0], &now_ms);
    hw_my_param_str(&p[1], id);
    hw_my_param_i64(&p[2], &lease);
    hw_my_param_i64(&p[3], &now_ms);
    err = hw_my_run(b, HW_MY_RELEASE, p, &rows, "release lease");
    if (!err && rows == 0)
        err = not_ours(b, id);
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
