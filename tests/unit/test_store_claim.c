/*
 * Successive claims on one handle, on SQLite and on MySQL: claims of one
 * size, then of another, then of the first again (MySQL keeps a claim's
 * statements prepared for the next claim of the same size), each taking
 * the next due events in order with a fresh fencing value; and on MySQL a
 * claim after the server killed the handle's connection, which must
 * reconnect and claim on a newly prepared statement, never on the old one.
 */
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

static void run_suite(const char *mysql_url)
{
    g_mysql = mysql_url;
    RUN(test_claim_sizes);
    if (mysql_url)
        RUN(test_claim_after_lost_connection);
}

int main(void)
{
    return tu_run_backends(run_suite);
}
