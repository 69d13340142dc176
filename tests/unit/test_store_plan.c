/*
 * Query plans of the store's hot queries, on both backends: with a few
 * thousand events of every status in the store (statistics gathered),
 * EXPLAIN must show each query on its index and no full table scan. The
 * SQL is the store's own (store_backend.h), with literal values put in for
 * MySQL's EXPLAIN.
 */
#include "check.h"
#include "core/err.h"
#include "store/store.h"
#include "store/store_backend.h"
#include "store_util.h"

static const char *g_mysql;

/* Replaces each '?' of sql with the next of vals (literal SQL), into out. */
static void fill(const char *sql, const char *const *vals, char *out, size_t cap)
{
    size_t n = 0;
    int k = 0;

    for (const char *p = sql; *p && n + 64 < cap; p++) {
        if (*p == '?')
            n += (size_t)snprintf(out + n, cap - n, "%s", vals[k++]);
        else
            out[n++] = *p;
    }
    out[n] = '\0';
}

/* The plan of sql as one line of text (every row's detail, or key/type columns, joined). */
static void plan(const struct tu_db *d, const char *sql, const char *const *vals, char *out,
                 size_t cap)
{
    char q[4096];
    size_t n = 0;

    out[0] = '\0';
    if (d->mysql) {
        MYSQL *c = tu_mysql_connect(d->url);
        MYSQL_RES *r;
        MYSQL_ROW row;
        MYSQL_FIELD *f;
        unsigned nf;

        snprintf(q, sizeof(q), "EXPLAIN ");
        fill(sql, vals, q + 8, sizeof(q) - 8);
        CHECK_EQ(mysql_select_db(c, d->name), 0);
        if (mysql_query(c, q)) {
            fprintf(stderr, "%s: %s\n", q, mysql_error(c));
            abort();
        }
        r = mysql_store_result(c);
        CHECK(r != NULL);
        nf = mysql_num_fields(r);
        f = mysql_fetch_fields(r);
        while ((row = mysql_fetch_row(r))) {
            /* A subquery's result (one row of aggregates here) is read whole: not a walk. */
            int derived = 0;

            for (unsigned i = 0; i < nf; i++)
                derived |= strcmp(f[i].name, "table") == 0 && row[i] &&
                           strncmp(row[i], "<derived", 8) == 0;
            for (unsigned i = 0; i < nf; i++)
                if (strcmp(f[i].name, "table") == 0 ||
                    (strcmp(f[i].name, "type") == 0 && !derived) || strcmp(f[i].name, "key") == 0 ||
                    strcmp(f[i].name, "Extra") == 0)
                    n += (size_t)snprintf(out + n, cap - n, "%s=%s; ", f[i].name,
                                          row[i] ? row[i] : "NULL");
        }
        mysql_free_result(r);
        mysql_close(c);
        return;
    }
    sqlite3 *db;
    sqlite3_stmt *st;

    snprintf(q, sizeof(q), "EXPLAIN QUERY PLAN %s", sql);
    CHECK_EQ(sqlite3_open(d->name, &db), SQLITE_OK);
    if (sqlite3_prepare_v2(db, q, -1, &st, NULL) != SQLITE_OK) {
        fprintf(stderr, "%s: %s\n", q, sqlite3_errmsg(db));
        abort();
    }
    while (sqlite3_step(st) == SQLITE_ROW)
        n += (size_t)snprintf(out + n, cap - n, "%s; ", (const char *)sqlite3_column_text(st, 3));
    sqlite3_finalize(st);
    sqlite3_close(db);
}

/*
 * Whether a SQLite plan walks a whole table or index: a SCAN of anything but
 * a subquery's result (a name the plan introduced with CO-ROUTINE).
 */
static int sqlite_walks(const char *p)
{
    for (const char *s = strstr(p, "SCAN "); s; s = strstr(s + 5, "SCAN ")) {
        char name[64], co[80];
        size_t n = strcspn(s + 5, " ;");

        if (n >= sizeof(name))
            return 1;
        memcpy(name, s + 5, n);
        name[n] = '\0';
        snprintf(co, sizeof(co), "CO-ROUTINE %s;", name);
        if (!strstr(p, co))
            return 1;
    }
    return 0;
}

/* Checks that sql runs on index (on the events table) without a full scan. */
static void expect(const struct tu_db *d, const char *what, const char *sql,
                   const char *const *vals, const char *index)
{
    char p[2048], want[128];

    plan(d, sql, vals, p, sizeof(p));
    fprintf(stderr, "    %-28s %s\n", what, p);
    if (d->mysql) {
        snprintf(want, sizeof(want), "key=%s;", index);
        CHECK(strstr(p, want) != NULL);
        CHECK(strstr(p, "type=ALL") == NULL);
        CHECK(strstr(p, "type=index;") == NULL); /* a whole-index walk is a scan too */
    } else {
        snprintf(want, sizeof(want), "INDEX %s", index);
        CHECK(strstr(p, want) != NULL);
        /* SQLite says SCAN for a walk over a whole table or index, SEARCH for a range. */
        CHECK(!sqlite_walks(p));
    }
}

static void fill_store(const struct tu_db *d)
{
    struct hw_store_event ev;
    struct hw_store_result r;
    struct hw_store *s;
    char src[16], key[16], sql[256];
    int64_t now = tu_now_ms();

    CHECK_EQ(hw_store_open(d->url, NULL, &s), 0);
    for (int i = 0; i < 3000; i++) {
        snprintf(src, sizeof(src), "src%d", i % 7);
        snprintf(key, sizeof(key), "key-%d", i);
        tu_event(&ev, src, "x");
        ev.dedup_key = i % 3 == 0 ? key : NULL;             /* a third of the events carry a key */
        ev.received_ms = now - (int64_t)(3000 - i) * 60000; /* two days, a minute apart */
        CHECK_EQ(hw_store_append(s, &ev, &r), 0);
    }
    hw_store_close(s);
    /* 10% pending and due, the rest delivered or failed. */
    tu_db_exec(d, "UPDATE hookwire_events SET status = 2 WHERE seq % 10 <> 0");
    tu_db_exec(d, "UPDATE hookwire_events SET status = 3 WHERE seq % 10 = 5");
    snprintf(sql, sizeof(sql),
             "INSERT INTO hookwire_attempts (event_id, at_ms, duration_ms, http_status, error, "
             "excerpt) SELECT id, received_ms, 10, 200, '', '' FROM hookwire_events");
    tu_db_exec(d, sql);
    tu_db_exec(d, d->mysql ? "ANALYZE TABLE hookwire_events, hookwire_attempts" : "ANALYZE");
}

/* Checks that sql reads its rows in the listing's order (newest first), without a sort. */
static void no_sort(const struct tu_db *d, const char *sql, const char *const *vals)
{
    char p[2048];

    plan(d, sql, vals, p, sizeof(p));
    if (d->mysql)
        CHECK(strstr(p, "filesort") == NULL);
    else
        CHECK(strstr(p, "TEMP B-TREE") == NULL);
}

/*
 * SQLite, delivered events of all sources without times: no index holds
 * them alone (schema 7), so the listing walks the table newest first, on
 * its rowid (seq): the first LIMIT delivered rows end it, without a sort.
 */
static void check_delivered_walk(const struct tu_db *d)
{
    struct hw_store_filter f = { .status = HW_STORE_DELIVERED };
    const char *vals[] = { "100" };
    char list[1024], p[2048];

    hw_store_list_sql(&f, HW_STORE_KIND_SQLITE, list, sizeof(list));
    plan(d, list, vals, p, sizeof(p));
    fprintf(stderr, "    %-28s %s\n", "list delivered", p);
    CHECK(strstr(p, "SCAN hookwire_events") != NULL);
    CHECK(strstr(p, "INDEX") == NULL);
    CHECK(strstr(p, "TEMP B-TREE") == NULL);
}

/* The first column of the first row of sql on d (NULL as ""), as text into out. */
static void query_text(const struct tu_db *d, const char *sql, char *out, size_t cap)
{
    if (d->mysql) {
        MYSQL *c = tu_mysql_connect(d->url);
        MYSQL_RES *r;
        MYSQL_ROW row;

        CHECK_EQ(mysql_select_db(c, d->name), 0);
        CHECK_EQ(mysql_query(c, sql), 0);
        r = mysql_store_result(c);
        CHECK(r != NULL);
        row = mysql_fetch_row(r);
        CHECK(row != NULL);
        snprintf(out, cap, "%s", row[0] ? row[0] : "");
        mysql_free_result(r);
        mysql_close(c);
        return;
    }
    sqlite3 *db;
    sqlite3_stmt *st;

    CHECK_EQ(sqlite3_open(d->name, &db), SQLITE_OK);
    CHECK_EQ(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    CHECK_EQ(sqlite3_step(st), SQLITE_ROW);
    snprintf(out, cap, "%s",
             sqlite3_column_text(st, 0) ? (const char *)sqlite3_column_text(st, 0) : "");
    sqlite3_finalize(st);
    sqlite3_close(db);
}

/* The number sql's first column holds on d (an empty value is 0). */
static int64_t query_i64(const struct tu_db *d, const char *sql)
{
    char v[64];

    query_text(d, sql, v, sizeof(v));
    return strtoll(v, NULL, 10);
}

/* The id of a stored event, quoted as an SQL literal, into out. */
static void some_id(const struct tu_db *d, char *out, size_t cap)
{
    char id[48];

    query_text(d, "SELECT id FROM hookwire_events WHERE seq = 7", id, sizeof(id));
    CHECK(id[0] != '\0');
    snprintf(out, cap, "'%s'", id);
}

/*
 * The rest of the store's queries on events and attempts: lookups by id,
 * the relay's owner delivery, retention by count, the summary's oldest
 * pending event, the listings the checks above leave out. The summary's
 * counts by status and source are the one deliberate walk of a whole
 * index: they count every event.
 */
static void check_more_plans(const struct tu_db *d)
{
    struct hw_store_filter f = { 0 };
    char id[64], list[1024], p[2048];
    char hour_ago[32];
    const char *by_id[] = { id };
    const char *next_source[] = { "'src3'", "2000", "100" };
    const char *cutoff[] = { "'src3'", "100" };
    const char *upper[] = { "'src3'", "2500", "10" };
    const char *excess[] = { "'src3'", "2500" };
    const char *none[] = { NULL };
    const char *limit[] = { "100" };
    const char *since[] = { hour_ago, "100" };
    const char *source_only[] = { "'src3'", "100" };
    const char *status_source_since[] = { "'src3'", hour_ago, "100" };
    int kind = d->mysql ? HW_STORE_KIND_MYSQL : HW_STORE_KIND_SQLITE;

    snprintf(hour_ago, sizeof(hour_ago), "%lld", (long long)(tu_now_ms() - 3600 * 1000));
    some_id(d, id, sizeof(id));
    expect(d, "get by id", HW_SQL_GET, by_id,
           d->mysql ? "hookwire_events_id" : "sqlite_autoindex_hookwire_events_1");
    expect(d, "attempts of an event", HW_SQL_ATTEMPTS, by_id, "hookwire_attempts_event");
    /*
     * Unhinted: the planner takes the source's pending range of the claim
     * index (and sorts it) or the source index after the cursor, by its
     * statistics; either is a range, never the table.
     */
    plan(d, HW_SQL_NEXT_SOURCE, next_source, p, sizeof(p));
    fprintf(stderr, "    %-28s %s\n", "pending of a source, after", p);
    if (d->mysql) {
        CHECK(strstr(p, "type=ALL") == NULL && strstr(p, "type=index;") == NULL);
        CHECK(strstr(p, "key=hookwire_events_source;") != NULL ||
              strstr(p, "key=hookwire_events_source_next;") != NULL);
    } else {
        CHECK(strstr(p, "SCAN ") == NULL);
        CHECK(strstr(p, "INDEX hookwire_events_source ") != NULL ||
              strstr(p, "INDEX hookwire_events_source_next ") != NULL);
    }
    expect(d, "retention cutoff",
           d->mysql ? HW_SQL_EXCESS_CUTOFF_("FORCE INDEX (hookwire_events_source)")
                    : HW_SQL_EXCESS_CUTOFF_("INDEXED BY hookwire_events_source"),
           cutoff, "hookwire_events_source");
    expect(d, "retention upper",
           d->mysql ? HW_SQL_EXCESS_UPPER_("FORCE INDEX (hookwire_events_source)")
                    : HW_SQL_EXCESS_UPPER_("INDEXED BY hookwire_events_source"),
           upper, "hookwire_events_source");
    if (d->mysql) {
        /*
         * MariaDB deletes on the primary key's range up to the batch's
         * last seq (all sources), or on the source index: a range either
         * way, never the table (DELETE takes no index hint there).
         */
        plan(d, HW_SQL_EXCESS_EVENTS, excess, p, sizeof(p));
        fprintf(stderr, "    %-28s %s\n", "retention delete", p);
        CHECK(strstr(p, "type=range;") != NULL);
        CHECK(strstr(p, "key=PRIMARY;") != NULL ||
              strstr(p, "key=hookwire_events_source;") != NULL);
    } else {
        expect(d, "retention delete", HW_SQL_EXCESS_EVENTS, excess, "hookwire_events_source");
    }

    /*
     * All sources since T: the time index. Failed events of one source
     * since T: the failed events newest first, the rest filtered.
     */
    f.since_ms = 1;
    hw_store_list_sql(&f, kind, list, sizeof(list));
    expect(d, "list since T", list, since, "hookwire_events_received");
    f.status = HW_STORE_FAILED;
    f.source = "src3";
    hw_store_list_sql(&f, kind, list, sizeof(list));
    expect(d, "list failed, source, T", list, status_source_since, "hookwire_events_due");
    no_sort(d, list, status_source_since);
    if (d->mysql) {
        /* Pending events since T (MySQL): the pending ones newest first, no sort. */
        memset(&f, 0, sizeof(f));
        f.status = HW_STORE_PENDING;
        f.since_ms = 1;
        hw_store_list_sql(&f, kind, list, sizeof(list));
        expect(d, "list pending since T", list, since, "hookwire_events_due");
        no_sort(d, list, since);
    }
    /* One source, newest first: its index, no sort. */
    memset(&f, 0, sizeof(f));
    f.source = "src3";
    hw_store_list_sql(&f, kind, list, sizeof(list));
    expect(d, "list one source", list, source_only, "hookwire_events_source");
    no_sort(d, list, source_only);
    /* No filter: the table newest first, on its key; the LIMIT ends the walk, no sort. */
    memset(&f, 0, sizeof(f));
    hw_store_list_sql(&f, kind, list, sizeof(list));
    plan(d, list, limit, p, sizeof(p));
    fprintf(stderr, "    %-28s %s\n", "list all", p);
    no_sort(d, list, limit);
    CHECK(strstr(p, d->mysql ? "key=PRIMARY" : "SCAN hookwire_events") != NULL);

    /* The oldest pending event: the claim index's pending range. */
    if (d->mysql) {
        /* MIN(seq) of the pending range is the first entry of (status, seq): read, not walked. */
        plan(d, HW_SQL_OLDEST_PENDING_MY, none, p, sizeof(p));
        fprintf(stderr, "    %-28s %s\n", "oldest pending", p);
        CHECK(strstr(p, "Select tables optimized away") != NULL);
        CHECK(strstr(p, "type=ALL") == NULL && strstr(p, "type=index;") == NULL);
    } else {
        /* The whole of a partial index that holds pending events only: the backlog. */
        plan(d, HW_SQL_OLDEST_PENDING, none, p, sizeof(p));
        fprintf(stderr, "    %-28s %s\n", "oldest pending", p);
        CHECK(strstr(p, "INDEX hookwire_events_next") != NULL);
        CHECK(strstr(p, "SEARCH e USING INTEGER PRIMARY KEY") != NULL && !sqlite_walks(p));
    }
    /* One source's backlog (the receiver's /metrics): its claim index's pending range. */
    {
        const char *src[] = { "'src3'" };

        expect(d, "backlog of one source", d->mysql ? HW_SQL_BACKLOG_MY : HW_SQL_BACKLOG, src,
               "hookwire_events_source_next");
        if (!d->mysql) {
            /* Then one row, by its rowid. */
            plan(d, HW_SQL_BACKLOG, src, p, sizeof(p));
            CHECK(strstr(p, "SEARCH e USING INTEGER PRIMARY KEY") != NULL);
        }
        if (d->mysql) {
            /* The count and MIN(seq) read the index alone, never every pending row. */
            plan(d, HW_SQL_BACKLOG_MY, src, p, sizeof(p));
            CHECK(strstr(p, "key=hookwire_events_source_next; Extra=Using where; Using index;") !=
                  NULL);
        }
    }
}

/* Checks the plan of every hot query on the filled store d. */
static void check_plans(const struct tu_db *d)
{
    struct hw_store_filter f = { 0 };
    char now[32], hour_ago[32], list[1024];
    const char *claim[] = { now, "100" };
    const char *claim_src[] = { "'src3'", now, "100" };
    const char *since[] = { hour_ago };
    const char *status_since[] = { hour_ago, "100" };
    const char *source_since[] = { "'src3'", hour_ago, "100" };
    const char *status_only[] = { "100" };
    const char *status_source[] = { "'src3'", "100" };
    const char *purge[] = { hour_ago, "0", "2", "3", "1000" };
    const char *dup[] = { "'src3'", "'key-3'" }; /* a stored key */
    int kind = d->mysql ? HW_STORE_KIND_MYSQL : HW_STORE_KIND_SQLITE;
    int64_t t = tu_now_ms();

    snprintf(now, sizeof(now), "%lld", (long long)t);
    snprintf(hour_ago, sizeof(hour_ago), "%lld", (long long)(t - 3600 * 1000));

    expect(d, "duplicate lookup", HW_SQL_FIND_DUP, dup, "hookwire_events_dedup");
    expect(d, "claim, all sources", d->mysql ? HW_SQL_CLAIM_MY : HW_SQL_CLAIM, claim,
           d->mysql ? "hookwire_events_due" : "hookwire_events_next");
    expect(d, "claim, one source", d->mysql ? HW_SQL_CLAIM_SOURCE_MY : HW_SQL_CLAIM_SOURCE,
           claim_src, "hookwire_events_source_next");
    if (d->mysql) {
        /* The claim's locking read of its picks: by primary key, never the due range. */
        const char *picked[] = { now, "1", "2", "3" };

        expect(d, "claim, lock the picks", HW_SQL_LOCK_PICKED "(?, ?, ?)" HW_SQL_LOCK_PICKED_TAIL,
               picked, "PRIMARY");
        CHECK(strstr(HW_SQL_LOCK_PICKED, "FORCE INDEX (PRIMARY)") != NULL);
    }
    f.status = HW_STORE_FAILED;
    f.since_ms = 1;
    hw_store_list_sql(&f, kind, list, sizeof(list));
    expect(d, "list failed since T", list, status_since, "hookwire_events_due");
    no_sort(d, list, status_since);
    memset(&f, 0, sizeof(f));
    f.source = "src3";
    f.since_ms = 1;
    hw_store_list_sql(&f, kind, list, sizeof(list));
    expect(d, "list source since T", list, source_since, "hookwire_events_received");
    memset(&f, 0, sizeof(f));
    f.status = HW_STORE_FAILED;
    hw_store_list_sql(&f, kind, list, sizeof(list));
    expect(d, "list failed", list, status_only, "hookwire_events_due");
    no_sort(d, list, status_only);
    f.source = "src3";
    hw_store_list_sql(&f, kind, list, sizeof(list));
    expect(d, "list failed of one source", list, status_source, "hookwire_events_due");
    no_sort(d, list, status_source);
    if (!d->mysql) {
        /*
         * Delivered events on SQLite (schema 7: the status indexes hold
         * failed ones only): newest first on the source index, or by time.
         */
        memset(&f, 0, sizeof(f));
        f.status = HW_STORE_DELIVERED;
        f.source = "src3";
        hw_store_list_sql(&f, kind, list, sizeof(list));
        expect(d, "list delivered of one source", list, status_source, "hookwire_events_source");
        no_sort(d, list, status_source);
        f.since_ms = 1;
        hw_store_list_sql(&f, kind, list, sizeof(list));
        expect(d, "list delivered, source, T", list, source_since, "hookwire_events_received");
        f.source = NULL;
        hw_store_list_sql(&f, kind, list, sizeof(list));
        expect(d, "list delivered since T", list, status_since, "hookwire_events_received");
        check_delivered_walk(d);
    }
    if (!d->mysql) {
        /*
         * Pending events on SQLite: the claim indexes hold them alone, so a
         * walk of one (and a sort) reads the backlog, never the table.
         */
        char p[2048];
        const char *pending_source[] = { "'src3'", "100" };

        memset(&f, 0, sizeof(f));
        f.status = HW_STORE_PENDING;
        hw_store_list_sql(&f, kind, list, sizeof(list));
        plan(d, list, status_only, p, sizeof(p));
        fprintf(stderr, "    %-28s %s\n", "list pending", p);
        CHECK(strstr(p, "INDEX hookwire_events_next") != NULL);
        f.source = "src3";
        hw_store_list_sql(&f, kind, list, sizeof(list));
        expect(d, "list pending of one source", list, pending_source,
               "hookwire_events_source_next");
    }
    expect(d, "failed in the last hour", d->mysql ? HW_SQL_FAILED_SINCE_MY : HW_SQL_FAILED_SINCE,
           since, "hookwire_events_received");
    check_more_plans(d);
    expect(d, "purge batch", d->mysql ? HW_SQL_PURGE_PICK_MY : HW_SQL_PURGE_PICK, purge,
           "hookwire_events_received");
    expect(d, "delivered in the last hour", HW_SQL_LATENCY_COUNT, since, "hookwire_attempts_at");
}

static void test_plans(void)
{
    struct hw_store *s;
    struct tu_db d;

    tu_db_fresh(&d, g_mysql);
    CHECK_EQ(hw_store_open(d.url, NULL, &s), 0); /* the schema */
    hw_store_close(s);
    fill_store(&d);
    check_plans(&d);
    tu_db_drop(&d, g_mysql);
}

/* The SQL that defined index name in SQLite's catalogue, into out. */
static void index_sql(const struct tu_db *d, const char *name, char *out, size_t cap)
{
    sqlite3 *db;
    sqlite3_stmt *st;

    out[0] = '\0';
    CHECK_EQ(sqlite3_open(d->name, &db), SQLITE_OK);
    CHECK_EQ(sqlite3_prepare_v2(db, "SELECT sql FROM sqlite_master WHERE name = ?", -1, &st, NULL),
             SQLITE_OK);
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    CHECK_EQ(sqlite3_step(st), SQLITE_ROW);
    snprintf(out, cap, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(db);
}

/* 1 when index name exists on the events table of d. */
static int has_index(const struct tu_db *d, const char *name)
{
    char sql[512];

    if (d->mysql)
        snprintf(sql, sizeof(sql),
                 "SELECT COUNT(*) FROM information_schema.statistics WHERE table_schema = "
                 "DATABASE() AND table_name = 'hookwire_events' AND index_name = '%s'",
                 name);
    else
        snprintf(sql, sizeof(sql),
                 "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name = '%s'", name);
    return query_i64(d, sql) > 0;
}

/*
 * Turns the filled current store d back into schema 7: no packs table
 * (SQLite, schema 10), its two time indexes by source and by status (on
 * SQLite, the latter failed only) and no record of version 8 or later.
 * Older schemas are built from there.
 */
static void back_to_v7(const struct tu_db *d)
{
    if (!d->mysql)
        tu_db_exec(d, "DROP TABLE hookwire_packs");
    if (d->mysql)
        tu_db_exec(d, "ALTER TABLE hookwire_events"
                      " ADD INDEX hookwire_events_status_time (status, received_ms),"
                      " ADD INDEX hookwire_events_source_time (source, received_ms)");
    else
        tu_db_exec(d, "CREATE INDEX hookwire_events_status_time ON hookwire_events "
                      "(status, received_ms) WHERE status = 3; "
                      "CREATE INDEX hookwire_events_source_time ON hookwire_events "
                      "(source, received_ms)");
    tu_db_exec(d, "DELETE FROM hookwire_schema WHERE version >= 8");
    CHECK(has_index(d, "hookwire_events_status_time"));
    CHECK(has_index(d, "hookwire_events_source_time"));
}

/*
 * A SQLite store filled at the current schema, then taken back to an older
 * one by downgrade_sql (which also deletes the newer versions' rows from
 * hookwire_schema).
 */
static void old_store(struct tu_db *d, const char *downgrade_sql)
{
    tu_db_fresh(d, NULL);
    fill_store(d);
    back_to_v7(d);
    tu_db_exec(d, downgrade_sql);
}

/* Opens d, which upgrades it, and checks that it is at the current schema version. */
static struct hw_store *open_upgraded(const struct tu_db *d)
{
    struct hw_store *s;
    int version = 0;

    CHECK_EQ(hw_store_open(d->url, NULL, &s), 0);
    CHECK_EQ(hw_store_schema_version(s, &version), 0);
    CHECK_EQ(version, HW_STORE_SCHEMA_VERSION);
    return s;
}

/*
 * A SQLite store of schema 4 (full indexes), filled, upgrades to 5 at open:
 * its claim and listing indexes become partial, the queries run on them,
 * and claims and listings return the same events as before the upgrade.
 */
static void test_upgrade_from_v4(void)
{
    struct hw_store_filter f = { 0 };
    struct hw_store_events l;
    struct hw_store *s;
    struct tu_db d;
    char sql[512];

    /* Back to schema 4: version 4's index definitions, version 5 unrecorded. */
    old_store(&d, "DROP INDEX hookwire_events_next; DROP INDEX hookwire_events_source_next; "
                  "DROP INDEX hookwire_events_due; DROP INDEX hookwire_events_status_time; "
                  "CREATE INDEX hookwire_events_next ON hookwire_events "
                  "(status, next_attempt_ms, seq); "
                  "CREATE INDEX hookwire_events_source_next ON hookwire_events "
                  "(source, status, next_attempt_ms, seq); "
                  "CREATE INDEX hookwire_events_due ON hookwire_events (status, seq); "
                  "CREATE INDEX hookwire_events_status_time ON hookwire_events "
                  "(status, received_ms); "
                  "DELETE FROM hookwire_schema WHERE version >= 5");
    index_sql(&d, "hookwire_events_next", sql, sizeof(sql));
    CHECK(strstr(sql, "WHERE") == NULL);

    s = open_upgraded(&d);
    index_sql(&d, "hookwire_events_next", sql, sizeof(sql));
    CHECK(strstr(sql, "WHERE status = 1") != NULL);
    index_sql(&d, "hookwire_events_source_next", sql, sizeof(sql));
    CHECK(strstr(sql, "WHERE status = 1") != NULL);
    index_sql(&d, "hookwire_events_due", sql, sizeof(sql));
    CHECK(strstr(sql, "WHERE status = 3") != NULL);
    CHECK(!has_index(&d, "hookwire_events_status_time")); /* schema 8 */
    CHECK(!has_index(&d, "hookwire_events_source_time"));
    check_plans(&d);

    /* 3000 events: seq % 10 == 0 pending (300), == 5 failed (300), the rest delivered. */
    f.status = HW_STORE_FAILED;
    f.limit = 1000;
    CHECK_EQ(hw_store_list(s, &f, &l), 0);
    CHECK_EQ(l.n, 300);
    CHECK_EQ(l.v[0]->seq, 2995); /* newest first */
    for (size_t i = 0; i < l.n; i++)
        CHECK_EQ(l.v[i]->status, HW_STORE_FAILED);
    hw_store_events_cleanup(&l);
    f.status = HW_STORE_PENDING;
    f.source = "src3";
    CHECK_EQ(hw_store_list(s, &f, &l), 0);
    CHECK(l.n > 0);
    for (size_t i = 0; i < l.n; i++) {
        CHECK_EQ(l.v[i]->status, HW_STORE_PENDING);
        CHECK_STR(l.v[i]->source, "src3");
        CHECK(i == 0 || l.v[i]->seq < l.v[i - 1]->seq);
    }
    hw_store_events_cleanup(&l);
    /* Claims take pending events only, earliest due first, and all 300 of them. */
    CHECK_EQ(hw_store_claim(s, NULL, 60000, 1000, 0, &l), 0);
    CHECK_EQ(l.n, 300);
    for (size_t i = 0; i < l.n; i++) {
        CHECK_EQ(l.v[i]->status, HW_STORE_PENDING);
        CHECK_EQ(l.v[i]->seq % 10, 0);
        CHECK(i == 0 || l.v[i]->seq > l.v[i - 1]->seq);
    }
    hw_store_events_cleanup(&l);
    CHECK_EQ(hw_store_claim(s, NULL, 60000, 1000, 0, &l), 0);
    CHECK_EQ(l.n, 0); /* all leased */
    hw_store_close(s);
    tu_db_drop(&d, NULL);
}

/*
 * A SQLite store of schema 5 (a full unique dedup index, NULL keys
 * included) upgrades to 6 at open: the index holds keyed events only, the
 * duplicate lookup runs on it, and a keyed redelivery is still recognised
 * while events without a key never collide.
 */
static void test_upgrade_from_v5(void)
{
    struct hw_store_event ev;
    struct hw_store_result r;
    struct hw_store *s;
    struct tu_db d;
    char sql[512], first[HW_ID_LEN + 1];
    sqlite3 *db;
    sqlite3_stmt *st;

    old_store(&d, "DROP INDEX hookwire_events_dedup; "
                  "CREATE UNIQUE INDEX hookwire_events_dedup ON hookwire_events "
                  "(source, dedup_key); "
                  "DELETE FROM hookwire_schema WHERE version >= 6");
    index_sql(&d, "hookwire_events_dedup", sql, sizeof(sql));
    CHECK(strstr(sql, "WHERE") == NULL);

    s = open_upgraded(&d);
    index_sql(&d, "hookwire_events_dedup", sql, sizeof(sql));
    CHECK(strstr(sql, "WHERE dedup_key IS NOT NULL") != NULL);
    check_plans(&d);

    /* The index holds the 1000 keyed events of the 3000, none without a key. */
    CHECK_EQ(sqlite3_open(d.name, &db), SQLITE_OK);
    CHECK_EQ(sqlite3_prepare_v2(db,
                                "SELECT COUNT(*) FROM hookwire_events INDEXED BY "
                                "hookwire_events_dedup WHERE dedup_key IS NOT NULL",
                                -1, &st, NULL),
             SQLITE_OK);
    CHECK_EQ(sqlite3_step(st), SQLITE_ROW);
    CHECK_EQ(sqlite3_column_int(st, 0), 1000);
    sqlite3_finalize(st);
    sqlite3_close(db);

    /* A stored key comes back as a duplicate of its event; keyless events never collide. */
    tu_event(&ev, "src3", "again");
    ev.dedup_key = "key-3";
    CHECK_EQ(hw_store_append(s, &ev, &r), 0);
    CHECK_EQ(r.duplicate, 1);
    snprintf(first, sizeof(first), "%s", r.id);
    CHECK_EQ(hw_store_append(s, &ev, &r), 0);
    CHECK_EQ(r.duplicate, 1);
    CHECK_STR(r.id, first);
    ev.dedup_key = "key-3-new";
    CHECK_EQ(hw_store_append(s, &ev, &r), 0);
    CHECK_EQ(r.duplicate, 0);
    CHECK_EQ(hw_store_append(s, &ev, &r), 0);
    CHECK_EQ(r.duplicate, 1);
    ev.dedup_key = NULL;
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(hw_store_append(s, &ev, &r), 0);
        CHECK_EQ(r.duplicate, 0);
    }
    hw_store_close(s);
    tu_db_drop(&d, NULL);
}

/* COUNT(*) of sql on the SQLite store d. */
static int count_of(const struct tu_db *d, const char *sql)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    int n;

    CHECK_EQ(sqlite3_open(d->name, &db), SQLITE_OK);
    CHECK_EQ(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    CHECK_EQ(sqlite3_step(st), SQLITE_ROW);
    n = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

/*
 * A SQLite store of schema 6 (status indexes holding every finished event)
 * upgrades at open: they hold failed events only, every listing still
 * runs on an index or a newest-first walk, and listings by status return
 * the same events as the table holds.
 */
static void test_upgrade_from_v6(void)
{
    struct hw_store_filter f = { 0 };
    struct hw_store_events l;
    struct hw_store *s;
    struct tu_db d;
    char sql[512];
    int newer = 1;

    old_store(&d, "DROP INDEX hookwire_events_due; DROP INDEX hookwire_events_status_time; "
                  "CREATE INDEX hookwire_events_due ON hookwire_events (status) "
                  "WHERE status > 1; "
                  "CREATE INDEX hookwire_events_status_time ON hookwire_events "
                  "(status, received_ms) WHERE status > 1; "
                  "DELETE FROM hookwire_schema WHERE version >= 7");
    CHECK_EQ(count_of(&d, "SELECT COUNT(*) FROM hookwire_events INDEXED BY hookwire_events_due "
                          "WHERE status > 1"),
             2700);

    s = open_upgraded(&d);
    index_sql(&d, "hookwire_events_due", sql, sizeof(sql));
    CHECK(strstr(sql, "WHERE status = 3") != NULL);
    CHECK(!has_index(&d, "hookwire_events_status_time")); /* schema 8 */
    check_plans(&d);
    /* The 300 failed events of the 3000 and no other. */
    CHECK_EQ(count_of(&d, "SELECT COUNT(*) FROM hookwire_events INDEXED BY hookwire_events_due "
                          "WHERE status = 3"),
             300);

    /* Listings by status find what the table holds, newest first. */
    f.status = HW_STORE_FAILED;
    f.limit = 1000;
    CHECK_EQ(hw_store_list(s, &f, &l), 0);
    CHECK_EQ(l.n, 300);
    hw_store_events_cleanup(&l);
    f.status = HW_STORE_DELIVERED;
    f.source = "src3";
    CHECK_EQ(hw_store_list(s, &f, &l), 0);
    CHECK_EQ((int)l.n, count_of(&d, "SELECT COUNT(*) FROM hookwire_events WHERE status = 2 AND "
                                    "source = CAST('src3' AS BLOB)"));
    CHECK(l.n > 0);
    for (size_t i = 0; i < l.n; i++) {
        CHECK_EQ(l.v[i]->status, HW_STORE_DELIVERED);
        CHECK(i == 0 || l.v[i]->seq < l.v[i - 1]->seq);
    }
    hw_store_events_cleanup(&l);
    f.source = NULL;
    f.limit = 50;
    CHECK_EQ(hw_store_list(s, &f, &l), 0);
    CHECK_EQ(l.n, 50);
    for (size_t i = 0; i < l.n; i++) {
        CHECK_EQ(l.v[i]->status, HW_STORE_DELIVERED);
        newer = newer && (i == 0 || l.v[i]->seq < l.v[i - 1]->seq);
    }
    CHECK(newer);
    hw_store_events_cleanup(&l);
    hw_store_close(s);
    tu_db_drop(&d, NULL);
}

/*
 * A store of schema 7 (with the time indexes by source and by status),
 * filled, upgrades to 8 at open on either backend: both indexes are gone,
 * every query keeps an index range, and the listings and the summary that
 * used them return what the table holds, in the same order: newest first,
 * a cursor's pages covering the window once.
 */
static void test_upgrade_from_v7(void)
{
    struct hw_store_filter f = { 0 };
    struct hw_store_events l;
    struct hw_store_summary sum;
    struct hw_store *s;
    struct tu_db d;
    char sql[512];
    int64_t now = tu_now_ms(), hour_ago = now - 3600 * 1000, day_ago = now - 86400 * 1000;
    int64_t total = 0, last = 0;
    const char *src = g_mysql ? "'src3'" : "CAST('src3' AS BLOB)";

    tu_db_fresh(&d, g_mysql);
    fill_store(&d);
    back_to_v7(&d);

    s = open_upgraded(&d);
    CHECK(!has_index(&d, "hookwire_events_status_time"));
    CHECK(!has_index(&d, "hookwire_events_source_time"));
    check_plans(&d);

    /* Failed events of the last hour: all of them, newest first, nothing else. */
    f.status = HW_STORE_FAILED;
    f.since_ms = hour_ago;
    f.limit = 1000;
    CHECK_EQ(hw_store_list(s, &f, &l), 0);
    snprintf(sql, sizeof(sql),
             "SELECT COUNT(*) FROM hookwire_events WHERE status = 3 AND received_ms >= %lld",
             (long long)hour_ago);
    CHECK_EQ((int64_t)l.n, query_i64(&d, sql));
    CHECK(l.n > 0);
    for (size_t i = 0; i < l.n; i++) {
        CHECK_EQ(l.v[i]->status, HW_STORE_FAILED);
        CHECK(l.v[i]->received_ms >= hour_ago);
        CHECK(i == 0 || l.v[i]->seq < l.v[i - 1]->seq);
    }
    hw_store_events_cleanup(&l);

    /* One source's last day, 7 at a time: the pages cover it once, newest first. */
    memset(&f, 0, sizeof(f));
    f.source = "src3";
    f.since_ms = day_ago;
    f.limit = 7;
    do {
        CHECK_EQ(hw_store_list(s, &f, &l), 0);
        for (size_t i = 0; i < l.n; i++) {
            CHECK_STR(l.v[i]->source, "src3");
            CHECK(l.v[i]->received_ms >= day_ago);
            CHECK(last == 0 || l.v[i]->seq < last);
            last = l.v[i]->seq;
        }
        total += (int64_t)l.n;
        f.cursor = l.next_cursor;
        hw_store_events_cleanup(&l);
    } while (f.cursor);
    snprintf(sql, sizeof(sql),
             "SELECT COUNT(*) FROM hookwire_events WHERE source = %s AND received_ms >= %lld", src,
             (long long)day_ago);
    CHECK_EQ(total, query_i64(&d, sql));
    CHECK(total > 7);

    /* Failed events before an hour ago, 9 at a time (an upper bound only): the same. */
    memset(&f, 0, sizeof(f));
    f.status = HW_STORE_FAILED;
    f.until_ms = hour_ago;
    f.limit = 9;
    total = 0;
    last = 0;
    do {
        CHECK_EQ(hw_store_list(s, &f, &l), 0);
        for (size_t i = 0; i < l.n; i++) {
            CHECK_EQ(l.v[i]->status, HW_STORE_FAILED);
            CHECK(l.v[i]->received_ms < hour_ago);
            CHECK(last == 0 || l.v[i]->seq < last);
            last = l.v[i]->seq;
        }
        total += (int64_t)l.n;
        f.cursor = l.next_cursor;
        hw_store_events_cleanup(&l);
    } while (f.cursor);
    snprintf(sql, sizeof(sql),
             "SELECT COUNT(*) FROM hookwire_events WHERE status = 3 AND received_ms < %lld",
             (long long)hour_ago);
    CHECK_EQ(total, query_i64(&d, sql));
    CHECK(total > 9);

    /* The summary: failures of the last hour, the oldest pending event. */
    CHECK_EQ(hw_store_summarize(s, now, &sum), 0);
    snprintf(sql, sizeof(sql),
             "SELECT COUNT(*) FROM hookwire_events WHERE status = 3 AND received_ms >= %lld",
             (long long)hour_ago);
    CHECK_EQ((int64_t)sum.failed_last_hour, query_i64(&d, sql));
    CHECK(sum.failed_last_hour > 0);
    /* The receipt of the pending event stored first (docs/store.md, "backlog"). */
    CHECK_EQ(sum.oldest_pending_ms,
             query_i64(&d, "SELECT received_ms FROM hookwire_events WHERE status = 1 "
                           "ORDER BY seq LIMIT 1"));
    CHECK(sum.oldest_pending_ms > 0);
    hw_store_summary_cleanup(&sum);
    hw_store_close(s);
    tu_db_drop(&d, g_mysql);
}

int main(void)
{
    const char *mysql_url = tu_mysql_url();

    tu_init_dir();
    fprintf(stderr, "SQLite backend\n");
    RUN(test_plans);
    RUN(test_upgrade_from_v4);
    RUN(test_upgrade_from_v5);
    RUN(test_upgrade_from_v6);
    RUN(test_upgrade_from_v7);
    if (mysql_url) {
        g_mysql = mysql_url;
        fprintf(stderr, "MySQL backend\n");
        RUN(test_plans);
        RUN(test_upgrade_from_v7);
    }
    tu_remove_dir();
    return 0;
}
