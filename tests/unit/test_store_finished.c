/*
 * hw_store_append_finished_async() and hw_store_append_finished_lend(): an event written once,
 * already finished (the relay's history of live webhooks). A plain success is one row with no
 * attempt row; a failure keeps its attempt; neither is ever claimable or pending; batches larger
 * than one multi-row statement, mixed with pending appends, all commit with their own ids.
 * Retention by count (hw_store_purge_excess()) keeps a source's newest events and every pending
 * one, across several batches, and leaves other sources alone. On SQLite and
 * on MySQL.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/err.h"
#include "core/id.h"
#include "store/store.h"
#include "store/store_backend.h" /* hw_store_event_build() */
#include "store_util.h"

static const char *g_mysql;

#define MANY 50 /* more than one multi-row statement (16), not a multiple of it */

struct done {
    int ran, failed;
};

static void on_append(void *arg, int err, const struct hw_store_result *res)
{
    struct done *d = arg;

    (void)res;
    d->ran++;
    if (err)
        d->failed++;
}

static struct hw_store *open_async(struct tu_db *d, struct tu_wake *w)
{
    struct hw_store *s = NULL;

    tu_db_fresh(d, g_mysql);
    tu_wake_init(w);
    CHECK_EQ(
        hw_store_open(d->url, &(struct hw_store_opts){ .wake = tu_wake_fn, .wake_arg = w }, &s), 0);
    return s;
}

static void wait_for(struct tu_wake *w, struct hw_store *s, struct done *x, int n)
{
    int64_t deadline = tu_now_ms() + 20000;

    while (x->ran < n && tu_now_ms() < deadline)
        tu_wake_poll(w, s, 100);
    CHECK_EQ(x->ran, n);
    CHECK_EQ(x->failed, 0);
}

static void test_one_row_each(void)
{
    struct tu_db d;
    struct tu_wake w;
    struct hw_store *s = open_async(&d, &w);
    struct hw_store_event ev, *got;
    struct hw_store_attempts at;
    struct hw_store_events claimed;
    struct hw_store_filter f = { .status = HW_STORE_PENDING };
    struct hw_store_attempt ok = { .at_ms = tu_now_ms(), .duration_ms = 3, .http_status = 200 };
    struct hw_store_attempt bad = {
        .at_ms = tu_now_ms(), .duration_ms = 9, .http_status = 502, .error = "bad gateway"
    };
    char id_ok[HW_ID_LEN + 1], id_bad[HW_ID_LEN + 1];
    struct done x = { 0 };

    tu_event(&ev, "alice", "{\"a\":1}");
    hw_id_new(ev.id);
    memcpy(id_ok, ev.id, sizeof(id_ok));
    CHECK_EQ(hw_store_append_finished_async(s, &ev, &ok, HW_STORE_DELIVERED, on_append, &x), 0);
    hw_id_new(ev.id);
    memcpy(id_bad, ev.id, sizeof(id_bad));
    CHECK_EQ(hw_store_append_finished_async(s, &ev, &bad, HW_STORE_FAILED, on_append, &x), 0);
    /* Refused up front: a pending status, no attempt. */
    CHECK_EQ(hw_store_append_finished_async(s, &ev, &ok, HW_STORE_PENDING, on_append, &x),
             HW_EINVAL);
    CHECK_EQ(hw_store_append_finished_async(s, &ev, NULL, HW_STORE_FAILED, on_append, &x),
             HW_EINVAL);
    wait_for(&w, s, &x, 2);

    CHECK_EQ(hw_store_inspect(s, id_ok, &got, &at), 0);
    CHECK_EQ(got->status, HW_STORE_DELIVERED);
    CHECK_EQ(got->attempts, 1);
    CHECK_EQ(got->last_status, 200);
    CHECK_STR(got->last_error, "");
    CHECK_EQ(got->body_len, 7);
    CHECK(memcmp(got->body, "{\"a\":1}", 7) == 0);
    CHECK_EQ(at.n, 0); /* a plain success: the event's row says it all */
    hw_store_event_free(got);
    hw_store_attempts_cleanup(&at);

    CHECK_EQ(hw_store_inspect(s, id_bad, &got, &at), 0);
    CHECK_EQ(got->status, HW_STORE_FAILED);
    CHECK_EQ(got->attempts, 1);
    CHECK_EQ(got->last_status, 502);
    CHECK_STR(got->last_error, "bad gateway");
    CHECK_EQ(at.n, 1);
    CHECK_EQ(at.v[0]->http_status, 502);
    CHECK_EQ(at.v[0]->duration_ms, 9);
    CHECK_EQ(at.v[0]->at_ms, bad.at_ms);
    CHECK_STR(at.v[0]->error, "bad gateway");
    hw_store_event_free(got);
    hw_store_attempts_cleanup(&at);

    /* Never pending: no claim, no drain and no pending listing sees them. */
    CHECK_EQ(hw_store_claim(s, NULL, 1000, 10, 0, &claimed), 0);
    CHECK_EQ(claimed.n, 0);
    hw_store_events_cleanup(&claimed);
    CHECK_EQ(hw_store_next_pending(s, "alice", 0, 10, 0, &claimed), 0);
    CHECK_EQ(claimed.n, 0);
    hw_store_events_cleanup(&claimed);
    CHECK_EQ(hw_store_list(s, &f, &claimed), 0);
    CHECK_EQ(claimed.n, 0);
    hw_store_events_cleanup(&claimed);
    /* A failed one is replayable like any failed event. */
    CHECK_EQ(hw_store_requeue(s, id_bad, 0), 0);
    CHECK_EQ(hw_store_next_pending(s, "alice", 0, 10, 0, &claimed), 0);
    CHECK_EQ(claimed.n, 1);
    CHECK_STR(claimed.v[0]->id, id_bad);
    hw_store_events_cleanup(&claimed);

    hw_store_close(s);
    tu_wake_cleanup(&w);
    tu_db_drop(&d, g_mysql);
}

/* A lent event and the appends it stands for: its callback frees the lender's block. */
struct lent {
    struct done *x;
    struct hw_store_event *block;
    int handed; /* res->event was set: it must not be for a lent append */
};

static void on_lent(void *arg, int err, const struct hw_store_result *res)
{
    struct lent *l = arg;

    l->handed = res && res->event;
    hw_store_event_free(l->block); /* the store must be done with it by now */
    l->block = NULL;
    on_append(l->x, err, res);
}

/*
 * hw_store_append_finished_lend(): the store reads the caller's event where
 * it is until the callback, which frees it (the sanitizer build sees a read
 * after that free, or a free by the store, as an error); an error before the
 * queue leaves the block to the caller, unchanged. An error longer than the
 * cap is cut, as with the copying call.
 */
static void test_lend(void)
{
    struct tu_db d;
    struct tu_wake w;
    struct hw_store *s = open_async(&d, &w);
    struct hw_store_event ev, *block, before, *got;
    char long_error[HW_STORE_ERROR_MAX + 40];
    struct hw_store_attempt bad = { .at_ms = tu_now_ms(), .duration_ms = 4, .http_status = 500 };
    char ids[3][HW_ID_LEN + 1];
    struct done x = { 0 };
    struct lent lent[3];

    memset(long_error, 'e', sizeof(long_error) - 1);
    long_error[sizeof(long_error) - 1] = '\0';
    bad.error = long_error;
    tu_event(&ev, "alice", "{\"lend\":1}");
    for (int i = 0; i < 3; i++) {
        hw_id_new(ev.id);
        memcpy(ids[i], ev.id, sizeof(ids[i]));
        lent[i] = (struct lent){ .x = &x, .block = hw_store_event_build(&ev) };
        CHECK(lent[i].block != NULL);
        CHECK_EQ(hw_store_append_finished_lend(s, lent[i].block, &bad, HW_STORE_FAILED, on_lent,
                                               &lent[i]),
                 0);
    }
    /* Refused: the block is the caller's, as it was. */
    block = hw_store_event_build(&ev);
    CHECK(block != NULL);
    before = *block;
    CHECK_EQ(hw_store_append_finished_lend(s, block, &bad, HW_STORE_PENDING, on_append, &x),
             HW_EINVAL);
    CHECK(memcmp(&before, block, sizeof(before)) == 0);
    hw_store_event_free(block);
    wait_for(&w, s, &x, 3);
    CHECK_EQ(x.failed, 0);

    for (int i = 0; i < 3; i++) {
        CHECK(lent[i].block == NULL);
        CHECK_EQ(lent[i].handed, 0);
        CHECK_EQ(hw_store_get(s, ids[i], &got), 0);
        CHECK_EQ(got->status, HW_STORE_FAILED);
        CHECK_EQ(got->last_status, 500);
        CHECK_EQ(strlen(got->last_error), HW_STORE_ERROR_MAX);
        CHECK_EQ(got->body_len, 10);
        CHECK(memcmp(got->body, "{\"lend\":1}", 10) == 0);
        hw_store_event_free(got);
    }
    hw_store_close(s);
    tu_wake_cleanup(&w);
    tu_db_drop(&d, g_mysql);
}

static void test_many_mixed(void)
{
    struct tu_db d;
    struct tu_wake w;
    struct hw_store *s = open_async(&d, &w);
    struct hw_store_event ev, *got;
    struct hw_store_attempt ok = { .at_ms = tu_now_ms(), .http_status = 204 };
    struct hw_store_attempt gone = { .at_ms = tu_now_ms(), .error = "the sender went away" };
    char ids[MANY][HW_ID_LEN + 1], body[32];
    struct done x = { 0 };
    struct hw_store_summary sum;

    for (int i = 0; i < MANY; i++) {
        snprintf(body, sizeof(body), "{\"n\":%d}", i);
        tu_event(&ev, i % 2 ? "alice" : "bob", body);
        hw_id_new(ev.id);
        memcpy(ids[i], ev.id, sizeof(ids[i]));
        if (i >= 40 && i % 2) /* pending appends after a run longer than one statement */
            CHECK_EQ(hw_store_append_async_with_id(s, &ev, on_append, &x), 0);
        else
            CHECK_EQ(hw_store_append_finished_async(
                         s, &ev, i % 7 == 3 ? &gone : &ok,
                         i % 7 == 3 ? HW_STORE_FAILED : HW_STORE_DELIVERED, on_append, &x),
                     0);
    }
    wait_for(&w, s, &x, MANY);
    for (int i = 0; i < MANY; i++) {
        int want = i >= 40 && i % 2 ? HW_STORE_PENDING
                   : i % 7 == 3     ? HW_STORE_FAILED
                                    : HW_STORE_DELIVERED;

        snprintf(body, sizeof(body), "{\"n\":%d}", i);
        CHECK_EQ(hw_store_get(s, ids[i], &got), 0);
        CHECK_EQ(got->status, want);
        CHECK_EQ(got->attempts, want == HW_STORE_PENDING ? 0 : 1);
        CHECK_EQ(got->body_len, strlen(body));
        CHECK(memcmp(got->body, body, got->body_len) == 0);
        CHECK_STR(got->source, i % 2 ? "alice" : "bob");
        hw_store_event_free(got);
    }
    CHECK_EQ(hw_store_summarize(s, 0, &sum), 0);
    CHECK_EQ(sum.by_status[HW_STORE_PENDING], 5);
    CHECK_EQ(sum.by_status[HW_STORE_FAILED], 6);
    CHECK_EQ(sum.by_status[HW_STORE_DELIVERED], MANY - 5 - 6);
    hw_store_summary_cleanup(&sum);
    hw_store_close(s);
    tu_wake_cleanup(&w);
    tu_db_drop(&d, g_mysql);
}

#define OLD  2100 /* more than two purge batches of 1000 */
#define KEEP 10

static void test_purge_excess(void)
{
    struct tu_db d;
    struct tu_wake w;
    struct hw_store *s = open_async(&d, &w);
    struct hw_store_event ev;
    struct hw_store_attempt bad = { .at_ms = tu_now_ms(), .http_status = 500, .error = "boom" };
    struct hw_store_filter f = { .source = "alice", .limit = 1000 };
    struct hw_store_events l;
    struct hw_store_attempts at;
    char pending_id[HW_ID_LEN + 1], failed_id[HW_ID_LEN + 1], newest[KEEP][HW_ID_LEN + 1];
    struct done x = { 0 };
    uint64_t removed = 99;
    int total = 0;

    /* alice: one pending event among the oldest, OLD finished ones, then KEEP newest. */
    for (int i = 0; i < OLD + KEEP; i++) {
        tu_event(&ev, "alice", "{}");
        hw_id_new(ev.id);
        if (i == 5) {
            memcpy(pending_id, ev.id, sizeof(pending_id));
            CHECK_EQ(hw_store_append_async_with_id(s, &ev, on_append, &x), 0);
        } else {
            if (i == 6)
                memcpy(failed_id, ev.id, sizeof(failed_id));
            if (i >= OLD)
                memcpy(newest[i - OLD], ev.id, sizeof(newest[0]));
            CHECK_EQ(hw_store_append_finished_async(s, &ev, &bad, HW_STORE_FAILED, on_append, &x),
                     0);
        }
        total++;
        if (total % 500 == 0) /* within the store queue's caps */
            wait_for(&w, s, &x, total);
    }
    for (int i = 0; i < 3; i++) {
        tu_event(&ev, "bob", "{}");
        hw_id_new(ev.id);
        CHECK_EQ(hw_store_append_finished_async(s, &ev, &bad, HW_STORE_FAILED, on_append, &x), 0);
        total++;
    }
    wait_for(&w, s, &x, total);

    CHECK_EQ(hw_store_purge_excess(s, "alice", 0, &removed), HW_EINVAL);
    CHECK_EQ(removed, 0);
    CHECK_EQ(hw_store_purge_excess(s, NULL, 5, NULL), HW_EINVAL);
    CHECK_EQ(hw_store_purge_excess(s, "alice", KEEP, &removed), 0);
    CHECK_EQ(removed, OLD - 1); /* all the older ones but the pending one */
    CHECK_EQ(hw_store_list(s, &f, &l), 0);
    CHECK_EQ(l.n, KEEP + 1);
    for (int i = 0; i < KEEP; i++)
        CHECK_STR(l.v[i]->id, newest[KEEP - 1 - i]); /* newest first */
    CHECK_STR(l.v[KEEP]->id, pending_id);
    hw_store_events_cleanup(&l);
    /* The attempts of the deleted events went with them. */
    CHECK_EQ(hw_store_attempts(s, failed_id, &at), 0);
    CHECK_EQ(at.n, 0);
    hw_store_attempts_cleanup(&at);
    CHECK_EQ(hw_store_attempts(s, newest[0], &at), 0);
    CHECK_EQ(at.n, 1);
    hw_store_attempts_cleanup(&at);
    /* Again: nothing more to do. Another source is untouched. */
    CHECK_EQ(hw_store_purge_excess(s, "alice", KEEP, &removed), 0);
    CHECK_EQ(removed, 0);
    f.source = "bob";
    CHECK_EQ(hw_store_list(s, &f, &l), 0);
    CHECK_EQ(l.n, 3);
    hw_store_events_cleanup(&l);
    CHECK_EQ(hw_store_purge_excess(s, "bob", 1, &removed), 0);
    CHECK_EQ(removed, 2);
    hw_store_close(s);
    tu_wake_cleanup(&w);
    tu_db_drop(&d, g_mysql);
}

static void run_suite(const char *mysql_url)
{
    g_mysql = mysql_url;
    RUN(test_one_row_each);
    RUN(test_lend);
    RUN(test_many_mixed);
    RUN(test_purge_excess);
}

int main(void)
{
    return tu_run_backends(run_suite);
}
