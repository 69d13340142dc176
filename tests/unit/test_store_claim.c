/*
 * Successive claims on one handle, on SQLite and on MySQL: claims of one
 * size, then of another, then of the first again (MySQL keeps a claim's
 * statements prepared for the next claim of the same size), each taking
 * the next due events in order with a fresh fencing value; and on MySQL a
 * claim after the server killed the handle's connection, which must
 * reconnect and claim on a newly prepared statement, never on the old one;
 * on MySQL a claim next to rows another transaction holds locked; and on
 * MySQL the upgrade to fixed-width lease columns (schema 9), whose
 * leases a claim writes without changing the record's size.
 */
#include <mysql.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/err.h"
#include "store/store.h"
#include "store_util.h"

#define NEV 40

static const char *g_mysql;

/* Appends NEV events, due one millisecond apart in append order; their ids into ids. */
static void fill(struct hw_store *s, char ids[NEV][HW_ID_LEN + 1])
{
    struct hw_store_event ev;
    struct hw_store_result r;
    int64_t now = tu_now_ms();

    for (int i = 0; i < NEV; i++) {
        tu_event(&ev, "src", "body");
        ev.next_attempt_ms = now - 60000 + i;
        CHECK_EQ(hw_store_append(s, &ev, &r), 0);
        memcpy(ids[i], r.id, HW_ID_LEN + 1);
    }
}

/*
 * Claims max events and checks they are ids[*next..*next+want) in order,
 * leased, with bodies; a stale fencing value of the first is refused.
 */
static void claim_next(struct hw_store *s, char ids[NEV][HW_ID_LEN + 1], int *next, size_t max,
                       size_t want)
{
    struct hw_store_attempt a = { .at_ms = tu_now_ms(), .http_status = 200 };
    struct hw_store_events l;

    CHECK_EQ(hw_store_claim(s, NULL, 60000, max, 0, &l), 0);
    CHECK_EQ(l.n, want);
    for (size_t i = 0; i < l.n; i++) {
        CHECK_STR(l.v[i]->id, ids[*next + (int)i]);
        CHECK(l.v[i]->lease > 0);
        CHECK(l.v[i]->lease_until_ms > tu_now_ms());
        CHECK_EQ(l.v[i]->body_len, 4);
        CHECK(memcmp(l.v[i]->body, "body", 4) == 0);
    }
    if (l.n) {
        /* The fencing value is the claim's own: one below it changes nothing. */
        CHECK_EQ(
            hw_store_record_attempt(s, l.v[0]->id, l.v[0]->lease - 1, &a, HW_STORE_DELIVERED, 0),
            HW_ELEASE);
        CHECK_EQ(hw_store_record_attempt(s, l.v[0]->id, l.v[0]->lease, &a, HW_STORE_DELIVERED, 0),
                 0);
    }
    *next += (int)l.n;
    hw_store_events_cleanup(&l);
}

static void test_claim_sizes(void)
{
    char ids[NEV][HW_ID_LEN + 1];
    struct hw_store *s;
    struct tu_db d;
    int next = 0;

    tu_db_fresh(&d, g_mysql);
    CHECK_EQ(hw_store_open(d.url, NULL, &s), 0);
    fill(s, ids);
    claim_next(s, ids, &next, 5, 5);
    claim_next(s, ids, &next, 5, 5); /* the same size again */
    claim_next(s, ids, &next, 3, 3); /* another size */
    claim_next(s, ids, &next, 5, 5); /* and back */
    claim_next(s, ids, &next, 1, 1);
    claim_next(s, ids, &next, 50, NEV - next); /* fewer due than asked */
    claim_next(s, ids, &next, 5, 0);           /* all leased or delivered */
    CHECK_EQ(next, NEV);
    hw_store_close(s);
    tu_db_drop(&d, g_mysql);
}

/* MySQL: the server ends the handle's connection between two claims of the same size. */
static void test_claim_after_lost_connection(void)
{
    char ids[NEV][HW_ID_LEN + 1], sql[512];
    struct hw_store_events l;
    struct hw_store *s;
    struct tu_db d;
    MYSQL *c;
    MYSQL_RES *r;
    MYSQL_ROW row;
    int next = 0, killed = 0, err;

    tu_db_fresh(&d, g_mysql);
    CHECK_EQ(hw_store_open(d.url, NULL, &s), 0);
    fill(s, ids);
    claim_next(s, ids, &next, 5, 5);

    /* Every connection of the store's database but this one is the handle's. */
    c = tu_mysql_connect(d.url);
    snprintf(sql, sizeof(sql),
             "SELECT id FROM information_schema.PROCESSLIST WHERE db = '%s' AND "
             "id <> CONNECTION_ID()",
             d.name);
    CHECK_EQ(mysql_query(c, sql), 0);
    r = mysql_store_result(c);
    CHECK(r != NULL);
    while ((row = mysql_fetch_row(r))) {
        snprintf(sql, sizeof(sql), "KILL CONNECTION %s", row[0]);
        tu_mysql_exec(c, sql);
        killed++;
    }
    mysql_free_result(r);
    mysql_close(c);
    CHECK(killed >= 1);

    /*
     * The next claim finds the connection gone (HW_EUNAVAIL, nothing
     * leased); a dropped connection, unlike a hung one, is rebuilt at the
     * very next call, so the claim after it succeeds on a fresh connection
     * and freshly prepared statements (a statement kept from the old
     * connection would fail it again).
     */
    err = hw_store_claim(s, NULL, 60000, 5, 0, &l);
    if (err == HW_EUNAVAIL) {
        CHECK_EQ(l.n, 0);
        hw_store_events_cleanup(&l);
        err = hw_store_claim(s, NULL, 60000, 5, 0, &l);
    }
    CHECK_EQ(err, 0);
    CHECK_EQ(l.n, 5);
    for (size_t i = 0; i < l.n; i++)
        CHECK_STR(l.v[i]->id, ids[next + (int)i]);
    next += (int)l.n;
    hw_store_events_cleanup(&l);
    claim_next(s, ids, &next, 5, 5);
    hw_store_close(s);
    tu_db_drop(&d, g_mysql);
}

/*
 * Rows another transaction holds locked at the head of the due range: the
 * claim skips them and still takes its full count, the next due events in
 * order (the picks read without a lock include the held rows, so the
 * claim must fall back to a locking read of the range); once they are
 * released, the next claim takes them.
 */
static void test_claim_skips_held_rows(void)
{
    char ids[NEV][HW_ID_LEN + 1], sql[512];
    struct hw_store_events l;
    struct hw_store *s;
    struct tu_db d;
    MYSQL *c;
    int next = 3;

    tu_db_fresh(&d, g_mysql);
    CHECK_EQ(hw_store_open(d.url, NULL, &s), 0);
    fill(s, ids);
    c = tu_mysql_connect(g_mysql);
    snprintf(sql, sizeof(sql), "USE %s", d.name);
    CHECK_EQ(mysql_query(c, sql), 0);
    CHECK_EQ(mysql_query(c, "BEGIN"), 0);
    snprintf(sql, sizeof(sql),
             "SELECT seq FROM hookwire_events WHERE id IN ('%s', '%s', '%s') FOR UPDATE", ids[0],
             ids[1], ids[2]);
    CHECK_EQ(mysql_query(c, sql), 0);
    mysql_free_result(mysql_store_result(c));
    claim_next(s, ids, &next, 5, 5); /* ids[3..8) */
    CHECK_EQ(mysql_query(c, "ROLLBACK"), 0);
    mysql_close(c);
    /* Released: the three are the earliest due again, then ids[8..). */
    CHECK_EQ(hw_store_claim(s, NULL, 60000, 5, 0, &l), 0);
    CHECK_EQ(l.n, 5);
    CHECK_STR(l.v[0]->id, ids[0]);
    CHECK_STR(l.v[1]->id, ids[1]);
    CHECK_STR(l.v[2]->id, ids[2]);
    CHECK_STR(l.v[3]->id, ids[8]);
    CHECK_STR(l.v[4]->id, ids[9]);
    for (size_t i = 0; i < l.n; i++)
        CHECK_EQ(l.v[i]->lease, 1);
    hw_store_events_cleanup(&l);
    hw_store_close(s);
    tu_db_drop(&d, g_mysql);
}

/* The single value a query on the store's MySQL database returns, as a number. */
static long long my_value(const struct tu_db *d, const char *sql)
{
    MYSQL *c = tu_mysql_connect(g_mysql);
    long long v;

    CHECK_EQ(mysql_select_db(c, d->name), 0);
    v = tu_mysql_number(c, sql, 0);
    mysql_close(c);
    return v;
}

/* Whether both lease columns are fixed-width and NOT NULL (what a claim writes in place). */
static int lease_fixed(const struct tu_db *d)
{
    return my_value(d, "SELECT COUNT(*) FROM information_schema.COLUMNS WHERE "
                       "TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'hookwire_events' AND "
                       "IS_NULLABLE = 'NO' AND ((COLUMN_NAME = 'lease_owner' AND "
                       "COLUMN_TYPE = 'binary(64)') OR (COLUMN_NAME = 'lease_until' AND "
                       "DATA_TYPE = 'bigint'))") == 2;
}

/*
 * A MySQL store of schema 8 (NULL-able variable-width lease columns, NULL
 * when unleased, one event leased) upgrades to 9 at open: the columns are
 * fixed-width NOT NULL, "no lease" is ''/0, the live lease is kept and
 * still fenced, and claims, fenced outcomes and unleased outcomes work.
 */
static void test_upgrade_to_fixed_lease(void)
{
    struct hw_store_attempt a = { .at_ms = tu_now_ms(), .http_status = 500 };
    char ids[NEV][HW_ID_LEN + 1], sql[512];
    int64_t until = tu_now_ms() + 3600 * 1000;
    struct hw_store *s;
    struct tu_db d;
    int next = 1, version = 0;

    tu_db_fresh(&d, g_mysql);
    CHECK_EQ(hw_store_open(d.url, NULL, &s), 0);
    CHECK(lease_fixed(&d));
    fill(s, ids);
    hw_store_close(s);
    /* Back to version 8's lease columns; ids[0] leased (fencing value 7) by another owner. */
    snprintf(sql, sizeof(sql),
             "ALTER TABLE hookwire_events MODIFY lease_owner VARBINARY(64) NULL, "
             "MODIFY lease_until BIGINT NULL; "
             "UPDATE hookwire_events SET lease_owner = NULL, lease_until = NULL; "
             "UPDATE hookwire_events SET lease_owner = 'other/1/00', lease_until = %lld, "
             "next_attempt_ms = %lld, lease_token = 7 WHERE id = '%s'; "
             "DELETE FROM hookwire_schema WHERE version >= 9",
             (long long)until, (long long)until, ids[0]);
    tu_db_exec(&d, sql);
    CHECK(!lease_fixed(&d));

    CHECK_EQ(hw_store_open(d.url, NULL, &s), 0);
    CHECK_EQ(hw_store_schema_version(s, &version), 0);
    CHECK_EQ(version, HW_STORE_SCHEMA_VERSION);
    CHECK(lease_fixed(&d));
    CHECK_EQ(my_value(&d, "SELECT COUNT(*) FROM hookwire_events WHERE lease_until = 0 AND "
                          "lease_owner = CAST('' AS BINARY(64))"),
             NEV - 1);
    snprintf(sql, sizeof(sql),
             "SELECT lease_until FROM hookwire_events WHERE id = '%s' AND lease_token = 7 AND "
             "TRIM(TRAILING '\\0' FROM lease_owner) = 'other/1/00'",
             ids[0]);
    CHECK_EQ(my_value(&d, sql), until);
    /* The leased event is not due; the rest are claimed in order, fenced. */
    claim_next(s, ids, &next, 10, 10);
    claim_next(s, ids, &next, 10, 10);
    /* The kept lease still fences: only its own value finishes ids[0]; then no lease is left. */
    CHECK_EQ(hw_store_record_attempt(s, ids[0], 6, &a, HW_STORE_FAILED, 0), HW_ELEASE);
    CHECK_EQ(hw_store_record_attempt(s, ids[0], HW_STORE_NO_LEASE, &a, HW_STORE_FAILED, 0),
             HW_ELEASE);
    CHECK_EQ(hw_store_record_attempt(s, ids[0], 7, &a, HW_STORE_PENDING, tu_now_ms() - 1), 0);
    snprintf(sql, sizeof(sql),
             "SELECT COUNT(*) FROM hookwire_events WHERE id = '%s' AND lease_until = 0 AND "
             "lease_owner = CAST('' AS BINARY(64))",
             ids[0]);
    CHECK_EQ(my_value(&d, sql), 1);
    /* Unleased now: an outcome without a lease settles it (the relay's own events). */
    CHECK_EQ(hw_store_record_attempt(s, ids[0], HW_STORE_NO_LEASE, &a, HW_STORE_FAILED, 0), 0);
    /* A claim's lease is the owner's, padded to the column's width. */
    CHECK_EQ(my_value(&d, "SELECT COUNT(*) FROM hookwire_events WHERE LENGTH(lease_owner) = 64 "
                          "AND lease_owner <> CAST('' AS BINARY(64)) AND lease_until > 0"),
             18);
    hw_store_close(s);
    tu_db_drop(&d, g_mysql);
}

static void run_suite(const char *mysql_url)
{
    g_mysql = mysql_url;
    RUN(test_claim_sizes);
    if (mysql_url) {
        RUN(test_claim_after_lost_connection);
        RUN(test_claim_skips_held_rows);
        RUN(test_upgrade_to_fixed_lease);
    }
}

int main(void)
{
    return tu_run_backends(run_suite);
}
