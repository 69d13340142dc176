/*
 * Live history written finished (hw_store_append_finished_async()) and read
 * back through every reader: listed newest first among queued rows (status,
 * source, path and page filters), shown byte-exact with its SHA-256 and its
 * attempt, requeued (one by one and in bulk), kept apart per source, counted
 * by the summary, purged by age and by count. On SQLite these webhooks are
 * packed (schema 10: no row of their own in hookwire_events), on MySQL rows:
 * the same answers on both. SQLite also: the pack queries' plans and the
 * upgrade of a schema-9 store.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "core/err.h"
#include "core/id.h"
#include "store/store.h"
#include "store/store_backend.h"
#include "store_util.h"

static const char *g_mysql;

#define N 12 /* alice's live webhooks: every third failed */

struct fixture {
    struct tu_db d;
    struct tu_wake w;
    struct hw_store *s;
    char live[N][HW_ID_LEN + 1]; /* alice's, oldest first */
    char bob[HW_ID_LEN + 1];     /* bob's one live webhook */
    char queued[HW_ID_LEN + 1];  /* alice's queued (pending) one, appended after live[5] */
    int ran, failed;
};

static void on_append(void *arg, int err, const struct hw_store_result *res)
{
    struct fixture *x = arg;

    (void)res;
    x->ran++;
    x->failed += err != 0;
}

/* Submits one finished webhook and waits until it is committed (each its own group commit). */
static void live(struct fixture *x, const char *source, const char *path, int failed, char *id)
{
    struct hw_store_event ev;
    struct hw_store_attempt ok = { .at_ms = tu_now_ms(), .duration_ms = 2, .http_status = 200 };
    struct hw_store_attempt bad = {
        .at_ms = tu_now_ms(), .duration_ms = 7, .http_status = 500, .error = "app error"
    };
    int64_t deadline = tu_now_ms() + 20000;
    int want = x->ran + 1;
    char body[64];

    snprintf(body, sizeof(body), "{\"n\":\"%s\"}", path);
    tu_event(&ev, source, body);
    ev.path = path;
    hw_id_new(ev.id);
    memcpy(id, ev.id, HW_ID_LEN + 1);
    CHECK_EQ(hw_store_append_finished_async(x->s, &ev, failed ? &bad : &ok,
                                            failed ? HW_STORE_FAILED : HW_STORE_DELIVERED,
                                            on_append, x),
             0);
    while (x->ran < want && tu_now_ms() < deadline)
        tu_wake_poll(&x->w, x->s, 100);
    CHECK_EQ(x->ran, want);
    CHECK_EQ(x->failed, 0);
}

/* A store with alice's 12 live webhooks around one queued one, and bob's one. */
static void setup(struct fixture *x)
{
    struct hw_store_event ev;
    struct hw_store_result res;
    char path[32];

    memset(x, 0, sizeof(*x));
    tu_db_fresh(&x->d, g_mysql);
    tu_wake_init(&x->w);
    CHECK_EQ(hw_store_open(x->d.url,
                           &(struct hw_store_opts){ .wake = tu_wake_fn, .wake_arg = &x->w }, &x->s),
             0);
    for (int i = 0; i < N; i++) {
        snprintf(path, sizeof(path), i % 2 ? "/odd/%d" : "/even/%d", i);
        live(x, "alice", path, i % 3 == 2, x->live[i]);
        if (i == 5) {
            tu_event(&ev, "alice", "{\"queued\":1}");
            CHECK_EQ(hw_store_append(x->s, &ev, &res), 0);
            memcpy(x->queued, res.id, sizeof(x->queued));
        }
    }
    live(x, "bob", "/bob", 0, x->bob);
}

static void teardown(struct fixture *x)
{
    hw_store_close(x->s);
    tu_wake_cleanup(&x->w);
    tu_db_drop(&x->d, g_mysql);
}

static int rows_of(const struct tu_db *d, const char *sql)
{
    if (d->mysql) {
        MYSQL *c = tu_mysql_connect(d->url);
        long long v;

        CHECK_EQ(mysql_select_db(c, d->name), 0);
        v = tu_mysql_number(c, sql, 0);
        mysql_close(c);
        return (int)v;
    }
    sqlite3 *db;
    sqlite3_stmt *st;
    int v;

    CHECK_EQ(sqlite3_open(d->name, &db), SQLITE_OK);
    CHECK_EQ(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    CHECK_EQ(sqlite3_step(st), SQLITE_ROW);
    v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

/* The ids of a listing, newest first, with their seqs strictly falling. */
static size_t list_ids(struct hw_store *s, const struct hw_store_filter *f,
                       char out[][HW_ID_LEN + 1], size_t cap, int64_t *next)
{
    struct hw_store_events l;
    size_t n;

    CHECK_EQ(hw_store_list(s, f, &l), 0);
    CHECK(l.n <= cap);
    for (size_t i = 0; i < l.n; i++) {
        memcpy(out[i], l.v[i]->id, HW_ID_LEN + 1);
        CHECK(l.v[i]->headers == NULL && l.v[i]->body == NULL);
        if (i)
            CHECK(l.v[i]->seq < l.v[i - 1]->seq);
    }
    n = l.n;
    if (next)
        *next = l.next_cursor;
    hw_store_events_cleanup(&l);
    return n;
}

static void test_packed_rows(void)
{
    struct fixture x;

    setup(&x);
    if (!x.d.mysql) {
        /* Packed: no row of their own, one pack per group commit, the queued one a row. */
        CHECK_EQ(rows_of(&x.d, "SELECT COUNT(*) FROM hookwire_events"), 1);
        CHECK_EQ(rows_of(&x.d, "SELECT COUNT(*) FROM hookwire_packs"), N + 1);
        CHECK_EQ(rows_of(&x.d, "SELECT SUM(delivered + failed) FROM hookwire_packs"), N + 1);
    } else {
        CHECK_EQ(rows_of(&x.d, "SELECT COUNT(*) FROM hookwire_events"), N + 2);
    }
    teardown(&x);
}

static void test_list(void)
{
    struct fixture x;
    struct hw_store_filter f = { .source = "alice" };
    char ids[64][HW_ID_LEN + 1];
    int64_t next = 0;
    size_t n, k = 0;

    setup(&x);
    /* Newest first, the queued row in its place among them. */
    n = list_ids(x.s, &f, ids, 64, NULL);
    CHECK_EQ(n, N + 1);
    for (int i = N - 1; i >= 0; i--) {
        CHECK_STR(ids[k], x.live[i]);
        k++;
        if (i == 6)
            CHECK_STR(ids[k++], x.queued);
    }
    /* Pages of 4 walk the same list: none missed, none twice. */
    f.limit = 4;
    k = 0;
    do {
        f.cursor = next;
        n = list_ids(x.s, &f, ids + k, 64 - k, &next);
        k += n;
    } while (next);
    CHECK_EQ(k, N + 1);
    CHECK_STR(ids[0], x.live[N - 1]);
    CHECK_STR(ids[N], x.live[0]);
    /* Failed ones only: every third. */
    f = (struct hw_store_filter){ .status = HW_STORE_FAILED };
    n = list_ids(x.s, &f, ids, 64, NULL);
    CHECK_EQ(n, N / 3);
    CHECK_STR(ids[0], x.live[11]);
    CHECK_STR(ids[3], x.live[2]);
    /* Pending: the queued row alone. */
    f = (struct hw_store_filter){ .status = HW_STORE_PENDING };
    CHECK_EQ(list_ids(x.s, &f, ids, 64, NULL), 1);
    CHECK_STR(ids[0], x.queued);
    /* One source; a path glob; a time window that holds everything. */
    f = (struct hw_store_filter){ .source = "bob" };
    CHECK_EQ(list_ids(x.s, &f, ids, 64, NULL), 1);
    CHECK_STR(ids[0], x.bob);
    f = (struct hw_store_filter){ .path = "/odd/*" };
    CHECK_EQ(list_ids(x.s, &f, ids, 64, NULL), N / 2);
    CHECK_STR(ids[0], x.live[11]);
    f = (struct hw_store_filter){ .since_ms = tu_now_ms() - 60000, .until_ms = tu_now_ms() + 1 };
    CHECK_EQ(list_ids(x.s, &f, ids, 64, NULL), N + 2);
    f.since_ms = tu_now_ms() + 1000;
    CHECK_EQ(list_ids(x.s, &f, ids, 64, NULL), 0);
    teardown(&x);
}

static void test_show(void)
{
    struct fixture x;
    struct hw_store_event *ev;
    struct hw_store_attempts at;
    unsigned char sha[32];

    setup(&x);
    CHECK_EQ(hw_store_inspect(x.s, x.live[3], &ev, &at), 0);
    CHECK_STR(ev->id, x.live[3]);
    CHECK_STR(ev->source, "alice");
    CHECK_STR(ev->method, "POST");
    CHECK_STR(ev->path, "/odd/3");
    CHECK_EQ(ev->status, HW_STORE_DELIVERED);
    CHECK_EQ(ev->attempts, 1);
    CHECK_EQ(ev->last_status, 200);
    CHECK_EQ(ev->headers_len, strlen(TU_HEADERS));
    CHECK_MEM(ev->headers, TU_HEADERS, ev->headers_len);
    CHECK_EQ(ev->body_len, strlen("{\"n\":\"/odd/3\"}"));
    CHECK_MEM(ev->body, "{\"n\":\"/odd/3\"}", ev->body_len);
    crypto_hash_sha256(sha, (const unsigned char *)ev->body, ev->body_len);
    CHECK_MEM(ev->body_sha256, sha, 32);
    CHECK_EQ(at.n, 0); /* a plain success has no attempt of its own */
    hw_store_event_free(ev);
    hw_store_attempts_cleanup(&at);

    CHECK_EQ(hw_store_inspect(x.s, x.live[2], &ev, &at), 0);
    CHECK_EQ(ev->status, HW_STORE_FAILED);
    CHECK_EQ(ev->last_status, 500);
    CHECK_STR(ev->last_error, "app error");
    CHECK_EQ(at.n, 1);
    CHECK_EQ(at.v[0]->http_status, 500);
    CHECK_EQ(at.v[0]->duration_ms, 7);
    CHECK_STR(at.v[0]->error, "app error");
    hw_store_event_free(ev);
    hw_store_attempts_cleanup(&at);

    /* Kept apart by source: bob's is bob's. Unknown ids are not found. */
    CHECK_EQ(hw_store_get(x.s, x.bob, &ev), 0);
    CHECK_STR(ev->source, "bob");
    hw_store_event_free(ev);
    {
        char unknown[HW_ID_LEN + 1];

        hw_id_new(unknown);
        CHECK_EQ(hw_store_get(x.s, unknown, &ev), HW_ENOTFOUND);
        CHECK_EQ(hw_store_get(x.s, "evt_nope", &ev), HW_ENOTFOUND);
    }
    teardown(&x);
}

static void test_requeue(void)
{
    struct fixture x;
    struct hw_store_events l;
    struct hw_store_event *ev;
    struct hw_store_filter f = { .source = "alice" };
    char ids[64][HW_ID_LEN + 1], unknown[HW_ID_LEN + 1];
    const char *many[3];
    int64_t seq;
    uint64_t n = 0;

    setup(&x);
    CHECK_EQ(hw_store_get(x.s, x.live[2], &ev), 0);
    seq = ev->seq;
    hw_store_event_free(ev);
    CHECK_EQ(hw_store_requeue(x.s, x.live[2], 0), 0);
    CHECK_EQ(hw_store_requeue(x.s, x.live[3], 0), HW_EEXIST); /* delivered */
    hw_id_new(unknown);
    CHECK_EQ(hw_store_requeue(x.s, unknown, 0), HW_ENOTFOUND);
    /* Pending now, same id and seq, with its first attempt, and listed once. */
    CHECK_EQ(hw_store_get(x.s, x.live[2], &ev), 0);
    CHECK_EQ(ev->status, HW_STORE_PENDING);
    CHECK_EQ(ev->seq, seq);
    CHECK_EQ(ev->attempts, 1);
    hw_store_event_free(ev);
    CHECK_EQ(hw_store_next_pending(x.s, "alice", 0, 10, 0, &l), 0);
    CHECK_EQ(l.n, 2);
    CHECK_STR(l.v[0]->id, x.live[2]); /* in store order: before the queued one */
    CHECK_STR(l.v[1]->id, x.queued);
    CHECK_MEM(l.v[0]->body, "{\"n\":\"/even/2\"}", l.v[0]->body_len);
    hw_store_events_cleanup(&l);
    CHECK_EQ(list_ids(x.s, &f, ids, 64, NULL), N + 1);
    CHECK_STR(ids[10], x.live[2]); /* live 11..6, queued, 5..3, then 2 */
    /* In bulk: the failed one only; a delivered one and an unknown one are left alone. */
    many[0] = x.live[4];
    many[1] = unknown;
    many[2] = x.live[5];
    CHECK_EQ(hw_store_requeue_failed(x.s, many, 3, &n), 0);
    CHECK_EQ(n, 1); /* live[5] failed; live[4] delivered */
    /* Again, as a second run over the same listing: live[5] is a pending row now. */
    CHECK_EQ(hw_store_requeue_failed(x.s, many, 3, &n), 0);
    CHECK_EQ(n, 0);
    CHECK_EQ(hw_store_get(x.s, x.live[4], &ev), 0);
    CHECK_EQ(ev->status, HW_STORE_DELIVERED);
    hw_store_event_free(ev);
    CHECK_EQ(list_ids(x.s, &f, ids, 64, NULL), N + 1);
    teardown(&x);
}

static void test_summary_and_purge(void)
{
    struct fixture x;
    struct hw_store_summary sum;
    struct hw_store_filter f = { .source = "alice" };
    struct hw_store_event *ev;
    char ids[64][HW_ID_LEN + 1];
    uint64_t removed = 0;

    setup(&x);
    CHECK_EQ(hw_store_summarize(x.s, 0, &sum), 0);
    CHECK_EQ(sum.by_status[HW_STORE_DELIVERED], N - N / 3 + 1);
    CHECK_EQ(sum.by_status[HW_STORE_FAILED], N / 3);
    CHECK_EQ(sum.by_status[HW_STORE_PENDING], 1);
    CHECK_EQ(sum.failed_last_hour, N / 3);
    CHECK_EQ(sum.nsources, 2);
    CHECK_STR(sum.sources[0].source, "alice");
    CHECK_EQ(sum.sources[0].by_status[HW_STORE_DELIVERED], N - N / 3);
    CHECK_EQ(sum.sources[0].by_status[HW_STORE_FAILED], N / 3);
    CHECK_EQ(sum.sources[0].by_status[HW_STORE_PENDING], 1);
    CHECK_STR(sum.sources[1].source, "bob");
    CHECK_EQ(sum.sources[1].by_status[HW_STORE_DELIVERED], 1);
    hw_store_summary_cleanup(&sum);

    /* By count: alice keeps her 5 newest (the queued one among them counts). */
    CHECK_EQ(hw_store_purge_excess(x.s, "alice", 5, &removed), 0);
    CHECK_EQ(removed, N + 1 - 5 - 1); /* the pending one past them stays */
    CHECK_EQ(list_ids(x.s, &f, ids, 64, NULL), 6);
    CHECK_STR(ids[0], x.live[11]);
    CHECK_STR(ids[4], x.live[7]);
    CHECK_STR(ids[5], x.queued);
    CHECK_EQ(hw_store_get(x.s, x.live[6], &ev), HW_ENOTFOUND);
    CHECK_EQ(hw_store_get(x.s, x.queued, &ev), 0); /* pending: never by count */
    hw_store_event_free(ev);
    CHECK_EQ(hw_store_get(x.s, x.bob, &ev), 0); /* another source: untouched */
    hw_store_event_free(ev);

    /* By age: failed ones only, then the rest; the pending one stays. */
    CHECK_EQ(hw_store_purge(x.s, tu_now_ms() + 1000, HW_STORE_PURGE_FAILED, &removed), 0);
    CHECK_EQ(removed, 2); /* live[8] and live[11] */
    CHECK_EQ(hw_store_get(x.s, x.live[11], &ev), HW_ENOTFOUND);
    CHECK_EQ(hw_store_purge(x.s, tu_now_ms() + 1000, 0, &removed), 0);
    CHECK_EQ(removed, 4); /* live[7], [9], [10] and bob's */
    CHECK_EQ(hw_store_get(x.s, x.bob, &ev), HW_ENOTFOUND);
    f.source = NULL;
    CHECK_EQ(list_ids(x.s, &f, ids, 64, NULL), 1);
    CHECK_STR(ids[0], x.queued);
    if (!x.d.mysql)
        CHECK_EQ(rows_of(&x.d, "SELECT COUNT(*) FROM hookwire_packs"), 0);
    teardown(&x);
}

/*
 * Purge by age pages through the packs: the failed webhook of the 71st
 * oldest pack goes although the 70 before it hold only delivered ones
 * (a first page of packs with nothing to purge must not end the purge).
 */
static void test_purge_pages(void)
{
    struct fixture x;
    struct hw_store_event *ev;
    char id[HW_ID_LEN + 1], failed[HW_ID_LEN + 1];
    uint64_t removed = 0;

    memset(&x, 0, sizeof(x));
    tu_db_fresh(&x.d, g_mysql);
    tu_wake_init(&x.w);
    CHECK_EQ(hw_store_open(x.d.url, &(struct hw_store_opts){ .wake = tu_wake_fn, .wake_arg = &x.w },
                           &x.s),
             0);
    for (int i = 0; i < 70; i++)
        live(&x, "alice", "/ok", 0, id);
    live(&x, "alice", "/bad", 1, failed);
    if (!x.d.mysql)
        CHECK_EQ(rows_of(&x.d, "SELECT COUNT(*) FROM hookwire_packs"), 71);
    CHECK_EQ(hw_store_purge(x.s, tu_now_ms() + 1000, HW_STORE_PURGE_FAILED, &removed), 0);
    CHECK_EQ(removed, 1);
    CHECK_EQ(hw_store_get(x.s, failed, &ev), HW_ENOTFOUND);
    CHECK_EQ(hw_store_get(x.s, id, &ev), 0);
    hw_store_event_free(ev);
    teardown(&x);
}

/*
 * Finished appends arriving a little apart (6 over about 3 ms, as live
 * webhooks do) gather into one commit (one pack on SQLite), not one commit
 * each: the store thread waits up to 20 ms for company. Each is still shown
 * whole.
 */
static void test_gathered(void)
{
    struct fixture x;
    struct hw_store_event ev, *got;
    struct hw_store_attempt ok = { .at_ms = tu_now_ms(), .duration_ms = 1, .http_status = 200 };
    struct hw_store_stats before, after;
    struct timespec apart = { 0, 500000 };
    char ids[6][HW_ID_LEN + 1];
    int64_t deadline;

    memset(&x, 0, sizeof(x));
    tu_db_fresh(&x.d, g_mysql);
    tu_wake_init(&x.w);
    CHECK_EQ(hw_store_open(x.d.url, &(struct hw_store_opts){ .wake = tu_wake_fn, .wake_arg = &x.w },
                           &x.s),
             0);
    hw_store_stats(x.s, &before);
    for (int i = 0; i < 6; i++) {
        tu_event(&ev, "alice", "{\"gathered\":1}");
        hw_id_new(ev.id);
        memcpy(ids[i], ev.id, sizeof(ids[i]));
        CHECK_EQ(hw_store_append_finished_async(x.s, &ev, &ok, HW_STORE_DELIVERED, on_append, &x),
                 0);
        nanosleep(&apart, NULL); /* the arrivals' spacing, not a wait for a result */
    }
    deadline = tu_now_ms() + 20000;
    while (x.ran < 6 && tu_now_ms() < deadline)
        tu_wake_poll(&x.w, x.s, 100);
    CHECK_EQ(x.ran, 6);
    CHECK_EQ(x.failed, 0);
    hw_store_stats(x.s, &after);
    CHECK(after.commits - before.commits <= 2);
    if (!x.d.mysql)
        CHECK(rows_of(&x.d, "SELECT COUNT(*) FROM hookwire_packs") <= 2);
    for (int i = 0; i < 6; i++) {
        CHECK_EQ(hw_store_get(x.s, ids[i], &got), 0);
        CHECK_MEM(got->body, "{\"gathered\":1}", got->body_len);
        hw_store_event_free(got);
    }
    teardown(&x);
}

/* The SQLite plan of sql as one line (every row's detail joined). */
static void lite_plan(const struct tu_db *d, const char *sql, char *out, size_t cap)
{
    char q[2048];
    sqlite3 *db;
    sqlite3_stmt *st;
    size_t n = 0;

    snprintf(q, sizeof(q), "EXPLAIN QUERY PLAN %s", sql);
    out[0] = '\0';
    CHECK_EQ(sqlite3_open(d->name, &db), SQLITE_OK);
    if (sqlite3_prepare_v2(db, q, -1, &st, NULL) != SQLITE_OK) {
        fprintf(stderr, "%s: %s\n", q, sqlite3_errmsg(db));
        abort();
    }
    while (sqlite3_step(st) == SQLITE_ROW && n < cap)
        n += (size_t)snprintf(out + n, cap - n, "%s; ", (const char *)sqlite3_column_text(st, 3));
    sqlite3_finalize(st);
    sqlite3_close(db);
}

/* sql runs on want (an index or the rowid), and sorts nothing. */
static void expect_plan(const struct tu_db *d, const char *what, const char *sql, const char *want)
{
    char p[1024];

    lite_plan(d, sql, p, sizeof(p));
    fprintf(stderr, "    %-28s %s\n", what, p);
    CHECK(strstr(p, want) != NULL);
    CHECK(strstr(p, "TEMP B-TREE") == NULL);
}

/* Every pack query (store_backend.h) on its index, with packs and rows in the store (SQLite). */
static void test_pack_plans(void)
{
    struct fixture x;
    struct hw_store_filter f = { 0 };
    char sql[512];

    if (g_mysql)
        return; /* MySQL keeps rows: no packs */
    setup(&x);
    tu_db_exec(&x.d, "ANALYZE");
    expect_plan(&x.d, "find by id", HW_SQL_PACK_FIND, "USING INDEX hookwire_packs_id (id_lo>? AND");
    expect_plan(&x.d, "pack data", HW_SQL_PACK_DATA, "INTEGER PRIMARY KEY (rowid=?)");
    expect_plan(&x.d, "mark", HW_SQL_PACK_UPDATE, "INTEGER PRIMARY KEY (rowid=?)");
    expect_plan(&x.d, "drop empty", HW_SQL_PACK_DELETE, "INTEGER PRIMARY KEY (rowid=?)");
    expect_plan(&x.d, "purge by age", HW_SQL_PACK_PURGE_PICK,
                "USING INDEX hookwire_packs_received (received_lo<?)");
    expect_plan(&x.d, "a source's packs", HW_SQL_PACK_SOURCE,
                "USING INDEX hookwire_packs_source (source=?)");
    expect_plan(&x.d, "a source's rows", HW_SQL_PACK_SOURCE_ROWS,
                "USING COVERING INDEX hookwire_events_source (source=?)");
    expect_plan(&x.d, "excess packs", HW_SQL_PACK_EXCESS,
                "USING INDEX hookwire_packs_source (source=? AND rowid>?)");
    expect_plan(&x.d, "count by source", HW_SQL_PACK_COUNT_SOURCE, "hookwire_packs_source");
    expect_plan(&x.d, "failed since", HW_SQL_PACK_FAILED_SINCE,
                "USING INDEX hookwire_packs_received (received_lo>?)");
    /* Listings: the rowid newest first, or one source's index; a cursor bounds the range. */
    hw_store_pack_list_sql(&f, sql, sizeof(sql));
    expect_plan(&x.d, "list all", sql, "SCAN hookwire_packs");
    f.cursor = 100;
    f.status = HW_STORE_FAILED;
    hw_store_pack_list_sql(&f, sql, sizeof(sql));
    expect_plan(&x.d, "list failed, cursor", sql, "INTEGER PRIMARY KEY (rowid<?)");
    f.source = "alice";
    f.since_ms = 1;
    hw_store_pack_list_sql(&f, sql, sizeof(sql));
    expect_plan(&x.d, "list one source", sql, "USING INDEX hookwire_packs_source (source=?");
    teardown(&x);
}

/*
 * A schema-9 store with events upgrades to the current schema at open: its
 * rows read as before, and new live history is packed (SQLite) or written
 * as rows (MySQL, whose version 10 changes nothing and whose version 11
 * drops the claim index across sources).
 */
static void test_upgrade_from_v9(void)
{
    struct fixture x;
    struct hw_store_event *ev;
    struct hw_store_filter f = { 0 };
    char ids[64][HW_ID_LEN + 1], id[HW_ID_LEN + 1];
    int version = 0;

    setup(&x);
    hw_store_close(x.s);
    x.s = NULL;
    /* Back to 9: the finished rows of a schema-9 relay would be rows; drop what 10 adds. */
    if (!x.d.mysql)
        tu_db_exec(&x.d, "DELETE FROM hookwire_packs; DROP TABLE hookwire_packs");
    else
        tu_db_exec(&x.d, "ALTER TABLE hookwire_events ADD INDEX hookwire_events_next "
                         "(status, next_attempt_ms, seq)");
    tu_db_exec(&x.d, "DELETE FROM hookwire_schema WHERE version >= 10");
    CHECK_EQ(hw_store_open(x.d.url, &(struct hw_store_opts){ .wake = tu_wake_fn, .wake_arg = &x.w },
                           &x.s),
             0);
    CHECK_EQ(hw_store_schema_version(x.s, &version), 0);
    CHECK_EQ(version, HW_STORE_SCHEMA_VERSION);
    if (x.d.mysql)
        CHECK_EQ(rows_of(&x.d, "SELECT COUNT(*) FROM information_schema.statistics WHERE "
                               "table_schema = DATABASE() AND index_name = 'hookwire_events_next'"),
                 0);
    CHECK_EQ(hw_store_get(x.s, x.queued, &ev), 0);
    CHECK_EQ(ev->status, HW_STORE_PENDING);
    hw_store_event_free(ev);
    live(&x, "alice", "/after", 1, id);
    CHECK_EQ(hw_store_get(x.s, id, &ev), 0);
    CHECK_EQ(ev->status, HW_STORE_FAILED);
    hw_store_event_free(ev);
    CHECK_EQ(list_ids(x.s, &f, ids, 64, NULL), x.d.mysql ? N + 3 : 2);
    CHECK_STR(ids[0], id);
    if (!x.d.mysql)
        CHECK_EQ(rows_of(&x.d, "SELECT COUNT(*) FROM hookwire_packs"), 1);
    teardown(&x);
}

/* The size of a file, or -1 when it does not exist. */
static long long file_size(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

/*
 * SQLite (schema 12): a pack's headers and bodies are in PATH-packs/, its
 * row keeps where; a writer follows a newer file another process began;
 * a file that lost its bytes reads as HW_EIO, never as other bytes; files
 * no pack refers to are removed after a purge, except the newest.
 */
static void test_data_files(void)
{
    struct fixture x;
    struct hw_store_event *ev;
    struct hw_store_filter f = { .source = "alice" };
    char ids[64][HW_ID_LEN + 1], one[512], two[512], id[HW_ID_LEN + 1];
    uint64_t removed = 0;
    FILE *fp;

    setup(&x);
    if (x.d.mysql) {
        teardown(&x);
        return;
    }
    snprintf(one, sizeof(one), "%s-packs/00000001.seg", x.d.name);
    snprintf(two, sizeof(two), "%s-packs/00000002.seg", x.d.name);
    CHECK_EQ(rows_of(&x.d, "SELECT COUNT(*) FROM hookwire_packs WHERE seg = 1 AND "
                           "LENGTH(data) = 0 AND seg_len > 0"),
             N + 1);
    CHECK_EQ(file_size(one), rows_of(&x.d, "SELECT SUM(seg_len) FROM hookwire_packs"));
    CHECK_EQ(rows_of(&x.d, "SELECT COUNT(*) FROM hookwire_packs a JOIN hookwire_packs b ON "
                           "a.seq < b.seq AND a.seg_off + a.seg_len > b.seg_off"),
             0);
    CHECK_EQ(hw_store_get(x.s, x.live[4], &ev), 0);
    CHECK_EQ(ev->body_len, strlen("{\"n\":\"/even/4\"}"));
    CHECK(memcmp(ev->body, "{\"n\":\"/even/4\"}", ev->body_len) == 0);
    hw_store_event_free(ev);

    /* Another process went on to file 2: the next pack goes there too. */
    fp = fopen(two, "w");
    CHECK(fp != NULL);
    fclose(fp);
    live(&x, "alice", "/two", 0, id);
    CHECK_EQ(rows_of(&x.d, "SELECT seg FROM hookwire_packs ORDER BY seq DESC LIMIT 1"), 2);
    CHECK_EQ(rows_of(&x.d, "SELECT seg_off FROM hookwire_packs ORDER BY seq DESC LIMIT 1"), 0);
    CHECK_EQ(hw_store_get(x.s, id, &ev), 0);
    CHECK(memcmp(ev->body, "{\"n\":\"/two\"}", ev->body_len) == 0);
    hw_store_event_free(ev);

    /* File 1 lost its bytes (an OS crash before write-back): an error, listings unharmed. */
    CHECK_EQ(truncate(one, 0), 0);
    CHECK_EQ(hw_store_get(x.s, x.live[4], &ev), HW_EIO);
    CHECK_EQ(list_ids(x.s, &f, ids, 64, NULL), N + 2);

    /* Bob's pack still refers to file 1: it stays; once nothing does, it goes, file 2 stays. */
    CHECK_EQ(hw_store_purge_excess(x.s, "alice", 1, &removed), 0);
    CHECK_EQ(file_size(one), 0);
    CHECK_EQ(hw_store_purge(x.s, tu_now_ms() + 1000, 0, &removed), 0);
    CHECK_EQ(rows_of(&x.d, "SELECT COUNT(*) FROM hookwire_packs"), 0);
    CHECK_EQ(file_size(one), -1);
    CHECK(file_size(two) > 0);
    teardown(&x);
}

static void suite(const char *mysql)
{
    g_mysql = mysql;
    RUN(test_packed_rows);
    RUN(test_list);
    RUN(test_show);
    RUN(test_requeue);
    RUN(test_summary_and_purge);
    RUN(test_purge_pages);
    RUN(test_gathered);
    RUN(test_pack_plans);
    RUN(test_upgrade_from_v9);
    RUN(test_data_files);
}

int main(void)
{
    return tu_run_backends(suite);
}
