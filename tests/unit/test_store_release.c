/*
 * hw_store_release() on SQLite and on MySQL: a released lease (a claim's,
 * or one a leased append took) leaves its event unleased and due, so that
 * another handle claims it at once, with no attempt counted or recorded and
 * its last result kept; a released lease records no outcome and releases
 * nothing again. A wrong token, an expired lease, a lease another claim took
 * since, an unknown id or an id twice are refused alone and change nothing;
 * an unleased value or a NULL id refuses the call. A batch larger than one
 * MySQL chunk releases all, batched on MySQL (none one by one: the store's
 * fenced_singles counter).
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/err.h"
#include "store/store.h"
#include "store_util.h"

static const char *g_mysql;

/* How many events a claim on s takes now (they stay leased to s). */
static size_t claimable(struct hw_store *s)
{
    struct hw_store_events l;
    size_t n;

    CHECK_EQ(hw_store_claim(s, "alice", 60000, 1000, 0, &l), 0);
    n = l.n;
    hw_store_events_cleanup(&l);
    return n;
}

/* The stored event id (owned by the caller) and the number of its attempt rows. */
static struct hw_store_event *inspect(struct hw_store *s, const char *id, size_t *rows)
{
    struct hw_store_event *ev;
    struct hw_store_attempts at;

    CHECK_EQ(hw_store_inspect(s, id, &ev, &at), 0);
    *rows = at.n;
    hw_store_attempts_cleanup(&at);
    return ev;
}

/* Checks that a refused release left the event as it was before (a, b: its rows then and now). */
static void check_same(const struct hw_store_event *a, const struct hw_store_event *b)
{
    CHECK_EQ(b->status, a->status);
    CHECK_EQ(b->attempts, a->attempts);
    CHECK_EQ(b->next_attempt_ms, a->next_attempt_ms);
    CHECK_EQ(b->lease_until_ms, a->lease_until_ms);
    CHECK_EQ(b->lease, a->lease);
    CHECK_EQ(b->last_status, a->last_status);
}

/*
 * Released claims are due at once for another handle; attempts, last
 * result and attempt rows stay as they were; the released lease is spent.
 */
static void test_release_claimed(void)
{
    enum { N = 3 };
    struct tu_db d;
    struct hw_store *a, *b;
    char ids[N][HW_ID_LEN + 1];
    int64_t lease[N], before;
    struct hw_store_lease v[N];
    struct hw_store_attempt fail = { .at_ms = tu_now_ms(), .http_status = 503, .error = "boom" };
    struct hw_store_attempt ok = { .at_ms = tu_now_ms(), .http_status = 200 };
    static const int attempts[N] = { 0, 0, 1 };

    tu_db_fresh(&d, g_mysql);
    CHECK_EQ(hw_store_open(d.url, NULL, &a), 0);
    CHECK_EQ(hw_store_open(d.url, NULL, &b), 0);
    tu_append_n(a, N, ids);
    tu_claim_exactly(a, N, ids, lease);
    /* The last one had an attempt already: retried, due again, claimed again. */
    CHECK_EQ(hw_store_record_attempt(a, ids[2], lease[2], &fail, HW_STORE_PENDING, tu_now_ms() - 1),
             0);
    tu_claim_exactly(a, 1, ids + 2, lease + 2);
    CHECK_EQ(claimable(b), 0); /* all leased to a */

    for (int i = 0; i < N; i++)
        v[i] = (struct hw_store_lease){ .id = ids[i], .lease = lease[i], .err = -1 };
    before = tu_now_ms();
    CHECK_EQ(hw_store_release(a, v, N), 0);
    for (int i = 0; i < N; i++) {
        size_t rows;
        struct hw_store_event *ev = inspect(a, ids[i], &rows);

        CHECK_EQ(v[i].err, 0);
        CHECK_EQ(ev->status, HW_STORE_PENDING);
        CHECK_EQ(ev->lease_until_ms, 0);
        CHECK(ev->next_attempt_ms >= before && ev->next_attempt_ms <= tu_now_ms());
        CHECK_EQ(ev->attempts, attempts[i]);
        CHECK_EQ(rows, (size_t)attempts[i]);
        CHECK_EQ(ev->last_status, i == 2 ? 503 : 0);
        CHECK_STR(ev->last_error, i == 2 ? "boom" : "");
        hw_store_event_free(ev);
    }

    /* Spent: no outcome, no second release, and nothing changed by either. */
    CHECK_EQ(hw_store_record_attempt(a, ids[0], lease[0], &ok, HW_STORE_DELIVERED, 0), HW_ELEASE);
    CHECK_EQ(hw_store_release(a, v, 1), 0);
    CHECK_EQ(v[0].err, HW_ELEASE);
    {
        size_t rows;
        struct hw_store_event *ev = inspect(a, ids[0], &rows);

        CHECK_EQ(ev->status, HW_STORE_PENDING);
        CHECK_EQ(ev->attempts, 0);
        CHECK_EQ(rows, 0);
        hw_store_event_free(ev);
    }

    /* Another handle claims them at once, and its outcomes stand. */
    tu_claim_exactly(b, N, ids, lease);
    for (int i = 0; i < N; i++)
        CHECK_EQ(hw_store_record_attempt(b, ids[i], lease[i], &ok, HW_STORE_DELIVERED, 0), 0);
    CHECK_EQ(hw_store_release(a, v, N), 0);
    for (int i = 0; i < N; i++) {
        size_t rows;
        struct hw_store_event *ev = inspect(a, ids[i], &rows);

        CHECK_EQ(v[i].err, HW_ELEASE);
        CHECK_EQ(ev->status, HW_STORE_DELIVERED);
        CHECK_EQ(ev->attempts, attempts[i] + 1);
        hw_store_event_free(ev);
    }
    hw_store_close(b);
    hw_store_close(a);
    tu_db_drop(&d, g_mysql);
}

/* Each kind of stale lease, next to two valid ones: refused alone, nothing changed. */
static void test_release_one_stale(void)
{
    enum { WRONG_TOKEN, EXPIRED, TAKEN, UNKNOWN, TWICE, KINDS };
    static const int want[KINDS] = { HW_ELEASE, HW_ELEASE, HW_ELEASE, HW_ENOTFOUND, HW_ELEASE };

    for (int kind = 0; kind < KINDS; kind++) {
        struct tu_db d;
        struct hw_store *a, *b;
        char ids[3][HW_ID_LEN + 1], sql[256];
        int64_t lease[3], taken = 0;
        struct hw_store_lease v[3];
        struct hw_store_event *was, *now;
        struct hw_store_events l;
        struct hw_store_attempt ok = { .at_ms = tu_now_ms(), .http_status = 200 };
        size_t rows;

        fprintf(stderr, "    stale kind %d\n", kind);
        tu_db_fresh(&d, g_mysql);
        CHECK_EQ(hw_store_open(d.url, NULL, &a), 0);
        CHECK_EQ(hw_store_open(d.url, NULL, &b), 0);
        tu_append_n(a, 3, ids);
        tu_claim_exactly(a, 3, ids, lease);
        for (int i = 0; i < 3; i++)
            v[i] = (struct hw_store_lease){ .id = ids[i], .lease = lease[i] };
        if (kind == WRONG_TOKEN)
            v[1].lease = lease[1] + 1;
        if (kind == EXPIRED || kind == TAKEN) {
            /* Lapsed; TAKEN also due, for another claim to take. */
            long long past = (long long)(tu_now_ms() - 1000);

            if (kind == EXPIRED)
                snprintf(sql, sizeof(sql),
                         "UPDATE hookwire_events SET lease_until = %lld WHERE id = '%s'", past,
                         ids[1]);
            else
                snprintf(sql, sizeof(sql),
                         "UPDATE hookwire_events SET lease_until = %lld, next_attempt_ms = %lld "
                         "WHERE id = '%s'",
                         past, past, ids[1]);
            tu_db_exec(&d, sql);
        }
        if (kind == TAKEN) {
            CHECK_EQ(hw_store_claim(b, "alice", 60000, 10, 0, &l), 0);
            CHECK_EQ(l.n, 1);
            CHECK_STR(l.v[0]->id, ids[1]);
            taken = l.v[0]->lease;
            hw_store_events_cleanup(&l);
        }
        if (kind == UNKNOWN)
            v[1].id = "evt_00000000000000000000000000";
        if (kind == TWICE)
            v[1] = v[0];
        was = inspect(a, ids[1], &rows);
        CHECK_EQ(hw_store_release(a, v, 3), 0);
        CHECK_EQ(v[0].err, 0);
        CHECK_EQ(v[1].err, want[kind]);
        CHECK_EQ(v[2].err, 0);
        /* ids[1] was not released (TWICE: it was never named). */
        now = inspect(a, ids[1], &rows);
        check_same(was, now);
        CHECK_EQ(rows, 0);
        hw_store_event_free(was);
        hw_store_event_free(now);
        /* The two valid ones, and only they, are due for another handle. */
        CHECK_EQ(hw_store_claim(b, "alice", 60000, 10, 0, &l), 0);
        CHECK_EQ(l.n, 2);
        CHECK(strcmp(l.v[0]->id, ids[1]) != 0 && strcmp(l.v[1]->id, ids[1]) != 0);
        CHECK_EQ(l.v[0]->attempts, 0);
        CHECK_EQ(l.v[1]->attempts, 0);
        hw_store_events_cleanup(&l);
        /* A lease taken since stays its new holder's. */
        if (kind == TAKEN)
            CHECK_EQ(hw_store_record_attempt(b, ids[1], taken, &ok, HW_STORE_DELIVERED, 0), 0);
        hw_store_close(b);
        hw_store_close(a);
        tu_db_drop(&d, g_mysql);
    }
}

/* An unleased value or a NULL id refuses the whole call: even the valid lease stays held. */
static void test_release_invalid(void)
{
    struct tu_db d;
    struct hw_store *a, *b;
    char ids[2][HW_ID_LEN + 1];
    int64_t lease[2];
    struct hw_store_lease v[2];

    tu_db_fresh(&d, g_mysql);
    CHECK_EQ(hw_store_open(d.url, NULL, &a), 0);
    CHECK_EQ(hw_store_open(d.url, NULL, &b), 0);
    tu_append_n(a, 2, ids);
    tu_claim_exactly(a, 2, ids, lease);
    v[0] = (struct hw_store_lease){ .id = ids[0], .lease = lease[0] };
    v[1] = (struct hw_store_lease){ .id = ids[1], .lease = HW_STORE_NO_LEASE };
    CHECK_EQ(hw_store_release(a, v, 2), HW_EINVAL);
    v[1] = (struct hw_store_lease){ .id = NULL, .lease = lease[1] };
    CHECK_EQ(hw_store_release(a, v, 2), HW_EINVAL);
    CHECK_EQ(claimable(b), 0);
    CHECK_EQ(hw_store_release(a, v, 0), 0);
    hw_store_close(b);
    hw_store_close(a);
    tu_db_drop(&d, g_mysql);
}

/* One completion of a leased append: the event handed over. */
static void on_leased(void *arg, int err, const struct hw_store_result *res)
{
    struct hw_store_event **out = arg;

    CHECK_EQ(err, 0);
    CHECK(res && res->event);
    *out = res->event;
}

/* Leases taken by the append itself go back the same way, and the events are due at once. */
static void test_release_leased_append(void)
{
    enum { N = 5 };
    struct tu_db d;
    struct tu_wake w;
    struct hw_store *a, *b;
    struct hw_store_event ev, *got[N] = { 0 };
    struct hw_store_lease v[N];
    struct hw_store_events l;
    int64_t deadline = tu_now_ms() + 30000;
    int done = 0;

    tu_wake_init(&w);
    tu_db_fresh(&d, g_mysql);
    CHECK_EQ(
        hw_store_open(d.url, &(struct hw_store_opts){ .wake = tu_wake_fn, .wake_arg = &w }, &a), 0);
    CHECK_EQ(hw_store_open(d.url, NULL, &b), 0);
    for (int i = 0; i < N; i++) {
        tu_event(&ev, "alice", "leased");
        CHECK_EQ(hw_store_append_leased_async(a, &ev, tu_now_ms() + 60000, on_leased, &got[i]), 0);
    }
    while (done < N) {
        CHECK(tu_now_ms() < deadline);
        tu_wake_poll(&w, a, 200);
        done = 0;
        for (int i = 0; i < N; i++)
            done += got[i] != NULL;
    }
    CHECK_EQ(claimable(b), 0);
    for (int i = 0; i < N; i++)
        v[i] = (struct hw_store_lease){ .id = got[i]->id, .lease = got[i]->lease };
    CHECK_EQ(hw_store_release(a, v, N), 0);
    for (int i = 0; i < N; i++)
        CHECK_EQ(v[i].err, 0);
    CHECK_EQ(hw_store_claim(b, "alice", 60000, 100, 0, &l), 0);
    CHECK_EQ(l.n, N);
    for (size_t i = 0; i < l.n; i++) {
        CHECK_EQ(l.v[i]->attempts, 0);
        CHECK(l.v[i]->lease > 0);
    }
    hw_store_events_cleanup(&l);
    for (int i = 0; i < N; i++)
        hw_store_event_free(got[i]);
    hw_store_close(b);
    hw_store_close(a);
    tu_wake_cleanup(&w);
    tu_db_drop(&d, g_mysql);
}

/* Items the store has written one statement each (in calls of more than one). */
static uint64_t singles(struct hw_store *s)
{
    struct hw_store_stats st;

    hw_store_stats(s, &st);
    return st.fenced_singles;
}

/* More leases than one MySQL chunk (256): all released; again, all refused. */
static void test_release_large(void)
{
    enum { M = 300 };
    struct tu_db d;
    struct hw_store *a, *b;
    char(*ids)[HW_ID_LEN + 1] = calloc(M, sizeof(*ids));
    int64_t *lease = calloc(M, sizeof(*lease));
    struct hw_store_lease *v = calloc(M, sizeof(*v));
    uint64_t before;

    CHECK(ids && lease && v);
    tu_db_fresh(&d, g_mysql);
    CHECK_EQ(hw_store_open(d.url, NULL, &a), 0);
    CHECK_EQ(hw_store_open(d.url, NULL, &b), 0);
    tu_append_n(a, M, ids);
    tu_claim_exactly(a, M, ids, lease);
    for (size_t i = 0; i < M; i++)
        v[i] = (struct hw_store_lease){ .id = ids[i], .lease = lease[i] };
    before = singles(a);
    CHECK_EQ(hw_store_release(a, v, M), 0);
    /* Batched on MySQL (several chunks), one by one on SQLite. */
    CHECK_EQ(singles(a) - before, (g_mysql ? 0 : (uint64_t)M));
    for (size_t i = 0; i < M; i++)
        CHECK_EQ(v[i].err, 0);
    CHECK_EQ(hw_store_release(a, v, M), 0);
    for (size_t i = 0; i < M; i++)
        CHECK_EQ(v[i].err, HW_ELEASE);
    CHECK_EQ(claimable(b), M);
    hw_store_close(b);
    hw_store_close(a);
    tu_db_drop(&d, g_mysql);
    free(ids);
    free(lease);
    free(v);
}

static void run_suite(const char *mysql_url)
{
    g_mysql = mysql_url;
    RUN(test_release_claimed);
    RUN(test_release_one_stale);
    RUN(test_release_invalid);
    RUN(test_release_leased_append);
    RUN(test_release_large);
}

int main(void)
{
    return tu_run_backends(run_suite);
}
