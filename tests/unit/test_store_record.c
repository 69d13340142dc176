/*
 * hw_store_record_attempts() with claimed events: a batch that mixes valid
 * leases with stale ones (a wrong token, an expired lease, a requeued
 * event, an unleased outcome for a claimed event, an unknown id, an id
 * twice), together or one at a time, records the valid ones and changes
 * nothing for the others; a batch larger than one MySQL chunk records all,
 * and once only; outcomes setting different values share a batch. On MySQL
 * a batch of valid outcomes is recorded in batched statements, none one by
 * one (the store's fenced_singles counter); SQLite records one by one. A
 * success leaves the row's last_error NULL, as the append wrote it, in
 * MySQL's batched statement and in the one-by-one ones alike: the row keeps
 * its size, so that InnoDB can change it in place. An outcome recorded
 * again (its COMMIT's answer was lost) is done, once. On SQLite and on MySQL.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/err.h"
#include "store/store.h"
#include "store_util.h"

static const char *g_mysql;

static struct hw_store *open_fresh(struct tu_db *d)
{
    struct hw_store *s = NULL;

    tu_db_fresh(d, g_mysql);
    CHECK_EQ(hw_store_open(d->url, NULL, &s), 0);
    return s;
}

/* Appends n events to source alice and claims them all; ids[i] and lease[i] in append order. */
static void append_claim(struct hw_store *s, size_t n, char (*ids)[HW_ID_LEN + 1], int64_t *lease)
{
    tu_append_n(s, n, ids);
    tu_claim_exactly(s, n, ids, lease);
}

/* Checks an event's status and attempt count, and how many attempt rows it has. */
static void check_event(struct hw_store *s, const char *id, int status, int attempts)
{
    struct hw_store_event *ev;
    struct hw_store_attempts at;

    CHECK_EQ(hw_store_inspect(s, id, &ev, &at), 0);
    CHECK_EQ(ev->status, status);
    CHECK_EQ(ev->attempts, attempts);
    CHECK_EQ(at.n, (size_t)attempts);
    hw_store_event_free(ev);
    hw_store_attempts_cleanup(&at);
}

/* Outcomes the store has recorded one statement each (in calls of more than one). */
static uint64_t singles(struct hw_store *s)
{
    struct hw_store_stats st;

    hw_store_stats(s, &st);
    return st.fenced_singles;
}

/* After a batch of n valid outcomes: batched on MySQL, one by one on SQLite. */
static void check_batched(struct hw_store *s, uint64_t before, size_t n)
{
    CHECK_EQ(singles(s) - before, (g_mysql ? 0 : (uint64_t)n));
}

static void test_batch_mixed(void)
{
    enum { N = 8 };
    struct tu_db d;
    struct hw_store *s = open_fresh(&d);
    char ids[N][HW_ID_LEN + 1], sql[256];
    int64_t lease[N], now = tu_now_ms();
    struct hw_store_attempt ok = {
        .at_ms = now, .duration_ms = 7, .http_status = 204, .excerpt = "fine", .excerpt_len = 4
    };
    struct hw_store_attempt bad = { .at_ms = now, .http_status = 503, .error = "busy" };
    struct hw_store_event *ev;
    struct hw_store_attempts at;

    append_claim(s, N, ids, lease);
    /* ids[3]: its lease ran out (as if the clock had passed it). */
    snprintf(sql, sizeof(sql), "UPDATE hookwire_events SET lease_until = %lld WHERE id = '%s'",
             (long long)(now - 1000), ids[3]);
    tu_db_exec(&d, sql);
    /* ids[5]: requeued by an operator, which cancels the lease. */
    CHECK_EQ(hw_store_requeue(s, ids[5], 0), 0);
    {
        struct hw_store_outcome v[] = {
            { .id = ids[0], .lease = lease[0], .attempt = ok, .status = HW_STORE_DELIVERED },
            { .id = ids[1],
              .lease = lease[1],
              .attempt = bad,
              .status = HW_STORE_PENDING,
              .next_attempt_ms = now + 3600000 },
            { .id = ids[2], .lease = lease[2] - 1, .attempt = ok, .status = HW_STORE_DELIVERED },
            { .id = ids[3], .lease = lease[3], .attempt = ok, .status = HW_STORE_DELIVERED },
            { .id = ids[4], .lease = lease[4], .attempt = bad, .status = HW_STORE_FAILED },
            { .id = ids[5], .lease = lease[5], .attempt = ok, .status = HW_STORE_DELIVERED },
            { .id = ids[6],
              .lease = HW_STORE_NO_LEASE,
              .attempt = ok,
              .status = HW_STORE_DELIVERED },
            { .id = "evt_00000000000000000000000000",
              .lease = lease[7],
              .attempt = ok,
              .status = HW_STORE_DELIVERED },
            { .id = ids[7], .lease = lease[7], .attempt = ok, .status = HW_STORE_DELIVERED },
            { .id = ids[0], .lease = lease[0], .attempt = bad, .status = HW_STORE_FAILED },
        };
        static const int want[] = { 0,         0,         HW_ELEASE,    HW_ELEASE, 0,
                                    HW_ELEASE, HW_ELEASE, HW_ENOTFOUND, 0,         HW_ELEASE };

        CHECK_EQ(hw_store_record_attempts(s, v, sizeof(v) / sizeof(v[0])), 0);
        for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
            CHECK_EQ(v[i].err, want[i]);
    }
    check_event(s, ids[0], HW_STORE_DELIVERED, 1); /* once, not twice */
    check_event(s, ids[4], HW_STORE_FAILED, 1);
    check_event(s, ids[7], HW_STORE_DELIVERED, 1);
    CHECK_EQ(hw_store_inspect(s, ids[1], &ev, &at), 0);
    CHECK_EQ(ev->status, HW_STORE_PENDING);
    CHECK_EQ(ev->attempts, 1);
    CHECK_EQ(ev->last_status, 503);
    CHECK_EQ(ev->next_attempt_ms, now + 3600000);
    CHECK_EQ(at.n, 1);
    CHECK_STR(at.v[0]->error, "busy");
    hw_store_event_free(ev);
    hw_store_attempts_cleanup(&at);
    CHECK_EQ(hw_store_attempts(s, ids[0], &at), 0);
    CHECK_EQ(at.n, 1);
    CHECK_EQ(at.v[0]->http_status, 204);
    CHECK_EQ(at.v[0]->duration_ms, 7);
    CHECK_EQ(at.v[0]->excerpt_len, 4);
    CHECK_MEM(at.v[0]->excerpt, "fine", 4);
    hw_store_attempts_cleanup(&at);
    /* The refused ones changed nothing: still pending, no attempt recorded. */
    for (int i = 2; i <= 6; i++) {
        if (i != 4)
            check_event(s, ids[i], HW_STORE_PENDING, 0);
    }
    /* ids[2] and ids[6] are still held by their claim: the right lease records them now. */
    {
        struct hw_store_outcome v[] = {
            { .id = ids[2], .lease = lease[2], .attempt = ok, .status = HW_STORE_DELIVERED },
            { .id = ids[6], .lease = lease[6], .attempt = ok, .status = HW_STORE_DELIVERED },
        };

        CHECK_EQ(hw_store_record_attempts(s, v, 2), 0);
        CHECK_EQ(v[0].err, 0);
        CHECK_EQ(v[1].err, 0);
    }
    check_event(s, ids[2], HW_STORE_DELIVERED, 1);
    check_event(s, ids[6], HW_STORE_DELIVERED, 1);
    hw_store_close(s);
    tu_db_drop(&d, g_mysql);
}

enum stale { WRONG_TOKEN, EXPIRED, REQUEUED, UNLEASED, UNKNOWN, TWICE, STALE_KINDS };

/*
 * A batch of three where only the middle outcome is stale, in one way: so
 * that the batch's own fence (not another refusal in the batch) must catch
 * it. The two valid ones are recorded, the stale one changes nothing.
 */
static void test_batch_one_stale(void)
{
    for (int kind = 0; kind < STALE_KINDS; kind++) {
        struct tu_db d;
        struct hw_store *s = open_fresh(&d);
        char ids[3][HW_ID_LEN + 1], sql[256];
        int64_t lease[3], now = tu_now_ms();
        struct hw_store_attempt ok = { .at_ms = now, .http_status = 200 };
        struct hw_store_outcome v[3];
        /* The same outcome twice (claims' first lease values are equal) is done, written once. */
        int want = kind == UNKNOWN ? HW_ENOTFOUND : kind == TWICE ? 0 : HW_ELEASE;

        fprintf(stderr, "    stale kind %d\n", kind);
        append_claim(s, 3, ids, lease);
        for (int i = 0; i < 3; i++)
            v[i] = (struct hw_store_outcome){
                .id = ids[i], .lease = lease[i], .attempt = ok, .status = HW_STORE_DELIVERED
            };
        if (kind == WRONG_TOKEN)
            v[1].lease = lease[1] + 1;
        if (kind == EXPIRED) {
            snprintf(sql, sizeof(sql),
                     "UPDATE hookwire_events SET lease_until = %lld WHERE id = '%s'",
                     (long long)(now - 1000), ids[1]);
            tu_db_exec(&d, sql);
        }
        if (kind == REQUEUED)
            CHECK_EQ(hw_store_requeue(s, ids[1], 0), 0);
        if (kind == UNLEASED)
            v[1].lease = HW_STORE_NO_LEASE;
        if (kind == UNKNOWN)
            v[1].id = "evt_00000000000000000000000000";
        if (kind == TWICE)
            v[1].id = ids[0];
        CHECK_EQ(hw_store_record_attempts(s, v, 3), 0);
        CHECK_EQ(v[0].err, 0);
        CHECK_EQ(v[1].err, want);
        CHECK_EQ(v[2].err, 0);
        check_event(s, ids[0], HW_STORE_DELIVERED, 1);
        check_event(s, ids[1], HW_STORE_PENDING, 0);
        check_event(s, ids[2], HW_STORE_DELIVERED, 1);
        hw_store_close(s);
        tu_db_drop(&d, g_mysql);
    }
}

/* More outcomes than one MySQL chunk (256): all recorded once; again, all done, still once. */
static void test_batch_large(void)
{
    enum { M = 300 };
    struct tu_db d;
    struct hw_store *s = open_fresh(&d);
    char(*ids)[HW_ID_LEN + 1] = calloc(M, sizeof(*ids));
    int64_t *lease = calloc(M, sizeof(*lease));
    struct hw_store_outcome *v = calloc(M, sizeof(*v));
    struct hw_store_attempt ok = { .at_ms = tu_now_ms(), .http_status = 200 };
    uint64_t before;

    CHECK(ids && lease && v);
    append_claim(s, M, ids, lease);
    for (size_t i = 0; i < M; i++)
        v[i] = (struct hw_store_outcome){
            .id = ids[i], .lease = lease[i], .attempt = ok, .status = HW_STORE_DELIVERED
        };
    before = singles(s);
    CHECK_EQ(hw_store_record_attempts(s, v, M), 0);
    check_batched(s, before, M);
    for (size_t i = 0; i < M; i++)
        CHECK_EQ(v[i].err, 0);
    check_event(s, ids[0], HW_STORE_DELIVERED, 1);
    check_event(s, ids[M / 2], HW_STORE_DELIVERED, 1);
    check_event(s, ids[M - 1], HW_STORE_DELIVERED, 1);
    /* Again, as after a lost COMMIT answer: each is done, and still written once. */
    CHECK_EQ(hw_store_record_attempts(s, v, M), 0);
    for (size_t i = 0; i < M; i++)
        CHECK_EQ(v[i].err, 0);
    check_event(s, ids[M / 2], HW_STORE_DELIVERED, 1);
    hw_store_close(s);
    tu_db_drop(&d, g_mysql);
    free(ids);
    free(lease);
    free(v);
}

/* Outcomes without a lease (an owner's own events) take the batched path too. */
static void test_batch_unleased(void)
{
    struct tu_db d;
    struct hw_store *s = open_fresh(&d);
    char ids[3][HW_ID_LEN + 1];
    struct hw_store_attempt ok = { .at_ms = tu_now_ms(), .http_status = 200 };
    struct hw_store_outcome v[3];
    uint64_t before;

    for (int i = 0; i < 3; i++) {
        struct hw_store_event ev;
        struct hw_store_result r;

        tu_event(&ev, "alice", "{}");
        CHECK_EQ(hw_store_append(s, &ev, &r), 0);
        memcpy(ids[i], r.id, HW_ID_LEN + 1);
        v[i] = (struct hw_store_outcome){
            .id = ids[i], .lease = HW_STORE_NO_LEASE, .attempt = ok, .status = HW_STORE_DELIVERED
        };
    }
    before = singles(s);
    CHECK_EQ(hw_store_record_attempts(s, v, 3), 0);
    check_batched(s, before, 3);
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(v[i].err, 0);
        check_event(s, ids[i], HW_STORE_DELIVERED, 1);
    }
    hw_store_close(s);
    tu_db_drop(&d, g_mysql);
}

/*
 * Valid outcomes that set different values (delivered with 200 and with
 * 204, a retry, a failure) share one batch: each event gets its own.
 */
static void test_batch_groups(void)
{
    enum { N = 6 };
    struct tu_db d;
    struct hw_store *s = open_fresh(&d);
    char ids[N][HW_ID_LEN + 1];
    int64_t lease[N], now = tu_now_ms();
    struct hw_store_attempt ok = { .at_ms = now, .http_status = 200 };
    struct hw_store_attempt no_content = { .at_ms = now, .http_status = 204 };
    struct hw_store_attempt busy = { .at_ms = now, .http_status = 503, .error = "busy" };
    struct hw_store_attempt gone = { .at_ms = now, .http_status = 410, .error = "gone" };
    struct hw_store_outcome v[N];
    static const int want_status[N] = { HW_STORE_DELIVERED, HW_STORE_PENDING, HW_STORE_DELIVERED,
                                        HW_STORE_FAILED,    HW_STORE_PENDING, HW_STORE_DELIVERED };
    static const int want_last[N] = { 200, 503, 204, 410, 503, 200 };
    uint64_t before;

    append_claim(s, N, ids, lease);
    v[0] = (struct hw_store_outcome){
        .id = ids[0], .lease = lease[0], .attempt = ok, .status = HW_STORE_DELIVERED
    };
    v[1] = (struct hw_store_outcome){ .id = ids[1],
                                      .lease = lease[1],
                                      .attempt = busy,
                                      .status = HW_STORE_PENDING,
                                      .next_attempt_ms = now + 5000 };
    v[2] = (struct hw_store_outcome){
        .id = ids[2], .lease = lease[2], .attempt = no_content, .status = HW_STORE_DELIVERED
    };
    v[3] = (struct hw_store_outcome){
        .id = ids[3], .lease = lease[3], .attempt = gone, .status = HW_STORE_FAILED
    };
    v[4] = (struct hw_store_outcome){ .id = ids[4],
                                      .lease = lease[4],
                                      .attempt = busy,
                                      .status = HW_STORE_PENDING,
                                      .next_attempt_ms = now + 7000 };
    v[5] = (struct hw_store_outcome){
        .id = ids[5], .lease = lease[5], .attempt = ok, .status = HW_STORE_DELIVERED
    };
    before = singles(s);
    CHECK_EQ(hw_store_record_attempts(s, v, N), 0);
    check_batched(s, before, N);
    for (size_t i = 0; i < N; i++) {
        struct hw_store_event *ev;
        struct hw_store_attempts at;

        CHECK_EQ(v[i].err, 0);
        CHECK_EQ(hw_store_inspect(s, ids[i], &ev, &at), 0);
        CHECK_EQ(ev->status, want_status[i]);
        CHECK_EQ(ev->attempts, 1);
        CHECK_EQ(ev->last_status, want_last[i]);
        CHECK_EQ(strcmp(ev->last_error, v[i].attempt.error ? v[i].attempt.error : ""), 0);
        if (want_status[i] == HW_STORE_PENDING)
            CHECK_EQ(ev->next_attempt_ms, v[i].next_attempt_ms);
        CHECK_EQ(at.n, 1);
        CHECK_EQ(at.v[0]->http_status, want_last[i]);
        hw_store_event_free(ev);
        hw_store_attempts_cleanup(&at);
    }
    hw_store_close(s);
    tu_db_drop(&d, g_mysql);
}

/* Rows whose last_error was written as something other than NULL. */
static long long errors_written(const struct tu_db *d)
{
    return tu_db_number(d, "SELECT COUNT(*) FROM hookwire_events WHERE last_error IS NOT NULL");
}

/*
 * Successes record no error: last_error stays NULL, through the batched
 * UPDATE (two valid outcomes together, leased and unleased: one statement
 * each on MySQL), through the one-by-one statements a stale outcome in a
 * batch falls back to (leased and unleased) and through a single outcome;
 * a failure's error is written and read back.
 */
static void test_success_keeps_null(void)
{
    enum { N = 6, F = 4 };
    struct tu_db d;
    struct hw_store *s = open_fresh(&d);
    char ids[N][HW_ID_LEN + 1], free_ids[F][HW_ID_LEN + 1];
    int64_t lease[N], now = tu_now_ms();
    struct hw_store_attempt ok = { .at_ms = now, .http_status = 200 };
    struct hw_store_attempt refused = { .at_ms = now, .error = "connect: refused" };
    struct hw_store_outcome v[N], u[F];
    struct hw_store_event *ev;
    uint64_t before;

    append_claim(s, N, ids, lease);
    tu_append_n(s, F, free_ids); /* appended after the claim: not leased */
    for (int i = 0; i < N; i++)
        v[i] = (struct hw_store_outcome){
            .id = ids[i], .lease = lease[i], .attempt = ok, .status = HW_STORE_DELIVERED
        };
    for (int i = 0; i < F; i++)
        u[i] = (struct hw_store_outcome){ .id = free_ids[i],
                                          .lease = HW_STORE_NO_LEASE,
                                          .attempt = ok,
                                          .status = HW_STORE_DELIVERED };
    CHECK_EQ(errors_written(&d), 0);
    /* Valid batches: one statement each on MySQL. */
    before = singles(s);
    CHECK_EQ(hw_store_record_attempts(s, v, 2), 0);
    CHECK_EQ(hw_store_record_attempts(s, u, 2), 0);
    check_batched(s, before, 4);
    CHECK_EQ(v[0].err | v[1].err | u[0].err | u[1].err, 0);
    CHECK_EQ(errors_written(&d), 0);
    /* A stale lease, an unknown id: the others go one by one. */
    v[3].lease = lease[3] + 1;
    CHECK_EQ(hw_store_record_attempts(s, v + 2, 3), 0);
    CHECK_EQ(v[2].err, 0);
    CHECK_EQ(v[3].err, HW_ELEASE);
    CHECK_EQ(v[4].err, 0);
    u[3].id = "evt_00000000000000000000000000";
    CHECK_EQ(hw_store_record_attempts(s, u + 2, 2), 0);
    CHECK_EQ(u[2].err, 0);
    CHECK_EQ(u[3].err, HW_ENOTFOUND);
    /* One outcome alone. */
    CHECK_EQ(hw_store_record_attempt(s, ids[5], lease[5], &ok, HW_STORE_DELIVERED, 0), 0);
    CHECK_EQ(errors_written(&d), 0);
    CHECK_EQ(tu_db_number(&d, "SELECT COUNT(*) FROM hookwire_events WHERE status = 2"), 8);
    /* A failure writes its error, and reading it back is unchanged. */
    CHECK_EQ(hw_store_record_attempt(s, ids[3], lease[3], &refused, HW_STORE_PENDING, now + 5000),
             0);
    CHECK_EQ(errors_written(&d), 1);
    CHECK_EQ(hw_store_get(s, ids[3], &ev), 0);
    CHECK_EQ(strcmp(ev->last_error, "connect: refused"), 0);
    hw_store_event_free(ev);
    CHECK_EQ(hw_store_get(s, ids[0], &ev), 0);
    CHECK_EQ(strcmp(ev->last_error, ""), 0);
    CHECK_EQ(ev->last_status, 200);
    hw_store_event_free(ev);
    hw_store_close(s);
    tu_db_drop(&d, g_mysql);
}

/*
 * The same outcomes again, as after a COMMIT whose answer was lost (the
 * caller cannot know it committed): each is done, not refused, and written
 * once. Another attempt under the same claim is still refused.
 */
static void test_retry_after_lost_answer(void)
{
    struct tu_db d;
    struct hw_store *s = open_fresh(&d);
    char ids[3][HW_ID_LEN + 1];
    int64_t lease[3], now = tu_now_ms();
    struct hw_store_attempt ok = { .at_ms = now, .http_status = 200 };
    struct hw_store_outcome v[3];

    append_claim(s, 3, ids, lease);
    for (int i = 0; i < 3; i++)
        v[i] = (struct hw_store_outcome){
            .id = ids[i], .lease = lease[i], .attempt = ok, .status = HW_STORE_DELIVERED
        };
    CHECK_EQ(hw_store_record_attempts(s, v, 3), 0);
    CHECK_EQ(hw_store_record_attempts(s, v, 3), 0);
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(v[i].err, 0);
        check_event(s, ids[i], HW_STORE_DELIVERED, 1);
    }
    CHECK_EQ(hw_store_record_attempts(s, v, 1), 0);
    CHECK_EQ(v[0].err, 0);
    v[1].attempt.at_ms = now + 1;
    CHECK_EQ(hw_store_record_attempts(s, v + 1, 1), 0);
    CHECK_EQ(v[1].err, HW_ELEASE);
    check_event(s, ids[1], HW_STORE_DELIVERED, 1);
    hw_store_close(s);
    tu_db_drop(&d, g_mysql);
}

static void run_suite(const char *mysql_url)
{
    g_mysql = mysql_url;
    RUN(test_batch_mixed);
    RUN(test_batch_one_stale);
    RUN(test_batch_large);
    RUN(test_batch_groups);
    RUN(test_batch_unleased);
    RUN(test_success_keeps_null);
    RUN(test_retry_after_lost_answer);
}

int main(void)
{
    return tu_run_backends(run_suite);
}
