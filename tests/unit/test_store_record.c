/*
 * Batched delivery outcomes (hw_store_record_attempts), on SQLite and on
 * MySQL (HOOKWIRE_TEST_MYSQL_URL): many outcomes in one transaction, each
 * fenced on its own, so a stale lease, an unknown event or a bad field in
 * the middle of a batch refuses that outcome only and records the rest.
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/err.h"
#include "core/id.h"
#include "store/store.h"
#include "store_util.h"

#define N 6

static const char *g_mysql; /* the server URL in the MySQL half, NULL in the SQLite half */

/* Appends n events to source x and claims them all; ids and leases in claim (store) order. */
static void append_claim(struct hw_store *s, int lease_ms, size_t n, char id[][HW_ID_LEN + 1],
                         int64_t *lease, int64_t *until)
{
    struct hw_store_event ev;
    struct hw_store_result r;
    struct hw_store_events l;

    tu_event(&ev, "x", "payload");
    for (size_t i = 0; i < n; i++)
        CHECK_EQ(hw_store_append(s, &ev, &r), 0);
    CHECK_EQ(hw_store_claim(s, NULL, lease_ms, n, 0, &l), 0);
    CHECK_EQ(l.n, n);
    for (size_t i = 0; i < n; i++) {
        memcpy(id[i], l.v[i]->id, HW_ID_LEN + 1);
        lease[i] = l.v[i]->lease;
        if (until)
            until[i] = l.v[i]->lease_until_ms;
    }
    hw_store_events_cleanup(&l);
}

static void check_event(struct hw_store *s, const char *id, int status, int attempts, int last)
{
    struct hw_store_event *got = NULL;

    CHECK_EQ(hw_store_get(s, id, &got), 0);
    CHECK_EQ(got->status, status);
    CHECK_EQ(got->attempts, attempts);
    CHECK_EQ(got->last_status, last);
    hw_store_event_free(got);
}

static size_t attempt_count(struct hw_store *s, const char *id)
{
    struct hw_store_attempts at;
    size_t n;

    CHECK_EQ(hw_store_attempts(s, id, &at), 0);
    n = at.n;
    hw_store_attempts_cleanup(&at);
    return n;
}

/*
 * One batch of six: delivered, retry later, failed with a long error (cut),
 * a wrong fencing value, an unknown id and a bad status. The three good
 * ones are recorded with their attempts; the three others change nothing.
 */
static void test_batch_mixed(void)
{
    struct tu_db d;
    struct hw_store *s = NULL;
    struct hw_store_attempt ok = { 0 }, retry = { 0 }, bad = { 0 };
    struct hw_store_outcome v[N];
    struct hw_store_attempts at;
    struct hw_store_events l;
    char id[N][HW_ID_LEN + 1], long_error[HW_STORE_ERROR_MAX + 100];
    int64_t lease[N], now = tu_now_ms();

    tu_db_fresh(&d, g_mysql);
    CHECK_EQ(hw_store_open(d.url, NULL, &s), 0);
    append_claim(s, 60000, 5, id, lease, NULL);
    memset(long_error, 'e', sizeof(long_error) - 1);
    long_error[sizeof(long_error) - 1] = '\0';
    ok.at_ms = now;
    ok.duration_ms = 3;
    ok.http_status = 200;
    ok.excerpt = "ok\n";
    ok.excerpt_len = 3;
    retry.at_ms = now;
    retry.http_status = 503;
    bad.at_ms = now;
    bad.error = long_error;

    memset(v, 0, sizeof(v));
    v[0] = (struct hw_store_outcome){ id[0], lease[0], &ok, HW_STORE_DELIVERED, 0, 99 };
    v[1] = (struct hw_store_outcome){ id[1], lease[1], &retry, HW_STORE_PENDING, now + 3600 * 1000,
                                      99 };
    v[2] = (struct hw_store_outcome){ id[2], lease[2] + 1, &ok, HW_STORE_DELIVERED, 0, 99 };
    v[3] = (struct hw_store_outcome){
        "evt_00000000000000000000000000", 1, &ok, HW_STORE_DELIVERED, 0, 99
    };
    v[4] = (struct hw_store_outcome){ id[3], lease[3], &bad, HW_STORE_FAILED, 0, 99 };
    v[5] = (struct hw_store_outcome){ id[4], lease[4], &ok, 0, 0, 99 };
    CHECK_EQ(hw_store_record_attempts(s, v, N), 0);
    CHECK_EQ(v[0].err, 0);
    CHECK_EQ(v[1].err, 0);
    CHECK_EQ(v[2].err, HW_ELEASE);
    CHECK_EQ(v[3].err, HW_ENOTFOUND);
    CHECK_EQ(v[4].err, 0);
    CHECK_EQ(v[5].err, HW_EINVAL);

    check_event(s, id[0], HW_STORE_DELIVERED, 1, 200);
    check_event(s, id[1], HW_STORE_PENDING, 1, 503);
    check_event(s, id[2], HW_STORE_PENDING, 0, 0); /* stale fence: untouched */
    check_event(s, id[3], HW_STORE_FAILED, 1, 0);
    check_event(s, id[4], HW_STORE_PENDING, 0, 0); /* refused up front */
    CHECK_EQ(attempt_count(s, id[2]), 0);
    CHECK_EQ(attempt_count(s, id[4]), 0);
    CHECK_EQ(hw_store_attempts(s, id[0], &at), 0);
    CHECK_EQ(at.n, 1);
    CHECK_EQ(at.v[0]->duration_ms, 3);
    CHECK_EQ(at.v[0]->excerpt_len, 3);
    CHECK_MEM(at.v[0]->excerpt, "ok\n", 3);
    hw_store_attempts_cleanup(&at);
    CHECK_EQ(hw_store_attempts(s, id[3], &at), 0);
    CHECK_EQ(at.n, 1);
    CHECK_EQ(strlen(at.v[0]->error), HW_STORE_ERROR_MAX);
    hw_store_attempts_cleanup(&at);

    /* The refused ones keep their claim: their own lease still records them. */
    v[0] = (struct hw_store_outcome){ id[2], lease[2], &ok, HW_STORE_DELIVERED, 0, 99 };
    v[1] = (struct hw_store_outcome){ id[4], lease[4], &retry, HW_STORE_FAILED, 0, 99 };
    /* And a finished claim cannot record a second time. */
    v[2] = (struct hw_store_outcome){ id[0], lease[0], &ok, HW_STORE_DELIVERED, 0, 99 };
    CHECK_EQ(hw_store_record_attempts(s, v, 3), 0);
    CHECK_EQ(v[0].err, 0);
    CHECK_EQ(v[1].err, 0);
    CHECK_EQ(v[2].err, HW_ELEASE);
    check_event(s, id[2], HW_STORE_DELIVERED, 1, 200);
    check_event(s, id[4], HW_STORE_FAILED, 1, 503);
    CHECK_EQ(attempt_count(s, id[0]), 1);

    /* The retry is not due for an hour: nothing is claimable. */
    CHECK_EQ(hw_store_claim(s, NULL, 60000, 10, 0, &l), 0);
    CHECK_EQ(l.n, 0);
    hw_store_events_cleanup(&l);

    CHECK_EQ(hw_store_record_attempts(s, v, 0), HW_EINVAL);
    CHECK_EQ(hw_store_record_attempts(s, v, HW_STORE_RECORD_MAX + 1), HW_EINVAL);
    hw_store_close(s);
    tu_db_drop(&d, g_mysql);
}

/*
 * A lease that ran out and passed to another handle, inside a batch: the
 * new holder's "delivered" stands, the old holder's batch records its other
 * events and nothing for that one.
 */
static void test_batch_stale_lease(void)
{
    struct tu_db d;
    struct hw_store *s = NULL, *other = NULL;
    struct hw_store_attempt a = { 0 }, fail = { 0 };
    struct hw_store_outcome v[3];
    struct hw_store_events l;
    char id[3][HW_ID_LEN + 1], late[1][HW_ID_LEN + 1];
    int64_t lease[3], until[3], late_lease[1], deadline, b_lease;

    tu_db_fresh(&d, g_mysql);
    CHECK_EQ(hw_store_open(d.url, NULL, &s), 0);
    CHECK_EQ(hw_store_open(d.url, NULL, &other), 0);
    /* One event with a short lease, then two with a long one. */
    append_claim(s, 50, 1, late, late_lease, until);
    append_claim(s, 60000, 2, id, lease, NULL);
    deadline = tu_now_ms() + 10000;
    for (;;) {
        CHECK_EQ(hw_store_claim(other, NULL, 60000, 10, 0, &l), 0);
        if (l.n)
            break;
        hw_store_events_cleanup(&l);
        CHECK(tu_now_ms() < deadline);
        tu_pause_ms(5);
    }
    CHECK_EQ(l.n, 1);
    CHECK_STR(l.v[0]->id, late[0]);
    b_lease = l.v[0]->lease;
    hw_store_events_cleanup(&l);
    a.at_ms = tu_now_ms();
    a.http_status = 200;
    CHECK_EQ(hw_store_record_attempt(other, late[0], b_lease, &a, HW_STORE_DELIVERED, 0), 0);

    fail.at_ms = tu_now_ms();
    fail.http_status = 500;
    v[0] = (struct hw_store_outcome){ id[0], lease[0], &a, HW_STORE_DELIVERED, 0, 99 };
    v[1] = (struct hw_store_outcome){ late[0], late_lease[0], &fail, HW_STORE_FAILED, 0, 99 };
    v[2] = (struct hw_store_outcome){ id[1], lease[1], &fail, HW_STORE_FAILED, 0, 99 };
    CHECK_EQ(hw_store_record_attempts(s, v, 3), 0);
    CHECK_EQ(v[0].err, 0);
    CHECK_EQ(v[1].err, HW_ELEASE);
    CHECK_EQ(v[2].err, 0);
    check_event(s, late[0], HW_STORE_DELIVERED, 1, 200);
    CHECK_EQ(attempt_count(s, late[0]), 1);
    check_event(s, id[0], HW_STORE_DELIVERED, 1, 200);
    check_event(s, id[1], HW_STORE_FAILED, 1, 500);

    /* A batch made only of stale outcomes commits nothing and says so for each. */
    v[0].lease = lease[0];
    v[1] = (struct hw_store_outcome){ late[0], b_lease, &fail, HW_STORE_FAILED, 0, 99 };
    CHECK_EQ(hw_store_record_attempts(s, v, 2), 0);
    CHECK_EQ(v[0].err, HW_ELEASE);
    CHECK_EQ(v[1].err, HW_ELEASE);
    check_event(s, late[0], HW_STORE_DELIVERED, 1, 200);
    hw_store_close(other);
    hw_store_close(s);
    tu_db_drop(&d, g_mysql);
}

/* A batch of hundreds goes through in one call (on MySQL in a few statements). */
static void test_batch_full(void)
{
    enum { M = 300 };
    struct tu_db d;
    struct hw_store *s = NULL;
    struct hw_store_attempt a = { 0 };
    struct hw_store_outcome *v = calloc(M, sizeof(*v));
    char(*id)[HW_ID_LEN + 1] = calloc(M, sizeof(*id));
    int64_t *lease = calloc(M, sizeof(*lease));
    struct hw_store_summary sum;

    CHECK(v && id && lease);
    tu_db_fresh(&d, g_mysql);
    CHECK_EQ(hw_store_open(d.url, NULL, &s), 0);
    append_claim(s, 60000, M, id, lease, NULL);
    a.at_ms = tu_now_ms();
    a.http_status = 204;
    for (size_t i = 0; i < M; i++)
        v[i] = (struct hw_store_outcome){ id[i], lease[i], &a, HW_STORE_DELIVERED, 0, 99 };
    CHECK_EQ(hw_store_record_attempts(s, v, M), 0);
    for (size_t i = 0; i < M; i++)
        CHECK_EQ(v[i].err, 0);
    check_event(s, id[0], HW_STORE_DELIVERED, 1, 204);
    check_event(s, id[M - 1], HW_STORE_DELIVERED, 1, 204);
    CHECK_EQ(attempt_count(s, id[M / 2]), 1);
    /* Again: every outcome is stale now, none is recorded twice. */
    CHECK_EQ(hw_store_record_attempts(s, v, M), 0);
    for (size_t i = 0; i < M; i++)
        CHECK_EQ(v[i].err, HW_ELEASE);
    CHECK_EQ(attempt_count(s, id[M / 2]), 1);
    memset(&sum, 0, sizeof(sum));
    CHECK_EQ(hw_store_summarize(s, 0, &sum), 0);
    CHECK_EQ(sum.by_status[HW_STORE_DELIVERED], M);
    CHECK_EQ(sum.by_status[HW_STORE_PENDING], 0);
    hw_store_summary_cleanup(&sum);
    hw_store_close(s);
    tu_db_drop(&d, g_mysql);
    free(v);
    free(id);
    free(lease);
}

static void run_suite(const char *mysql_url)
{
    g_mysql = mysql_url;
    fprintf(stderr, "%s backend\n", mysql_url ? "MySQL" : "SQLite");
    RUN(test_batch_mixed);
    RUN(test_batch_stale_lease);
    RUN(test_batch_full);
}

int main(void)
{
    const char *mysql_url = tu_mysql_url();

    CHECK(sodium_init() >= 0);
    tu_init_dir();
    run_suite(NULL);
    if (mysql_url)
        run_suite(mysql_url);
    tu_remove_dir();
    return 0;
}
