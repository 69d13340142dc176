/*
 * Appends that lease the event to their appender (hw_store_append_leased_async),
 * on SQLite and on MySQL: the callback receives the stored event with its
 * headers, body and lease; no claim takes it while the lease holds; its
 * outcome is recorded with that lease like a claimed one's; a duplicate
 * hands nothing over; and once the lease lapses a claim takes the event and
 * the appender's stale lease changes nothing.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/err.h"
#include "store/store.h"
#include "store_util.h"

#define NEV 6

static const char *g_mysql;

/* One completion: the error, the result's id and duplicate flag, and the event handed over. */
struct got {
    int calls, err, dup;
    char id[HW_ID_LEN + 1];
    struct hw_store_event *ev;
};

static void on_done(void *arg, int err, const struct hw_store_result *res)
{
    struct got *g = arg;

    g->calls++;
    g->err = err;
    if (res) {
        g->dup = res->duplicate;
        memcpy(g->id, res->id, sizeof(g->id));
        g->ev = res->event;
    }
}

static void wait_calls(struct tu_wake *w, struct hw_store *s, struct got *g, int n)
{
    int64_t deadline = tu_now_ms() + 30000;

    for (;;) {
        int done = 0;

        tu_wake_poll(w, s, 200);
        for (int i = 0; i < n; i++)
            done += g[i].calls;
        if (done == n)
            return;
        CHECK(tu_now_ms() < deadline);
    }
}

static struct hw_store *open_async(struct tu_db *d, struct tu_wake *w)
{
    struct hw_store *s = NULL;

    tu_wake_init(w);
    tu_db_fresh(d, g_mysql);
    CHECK_EQ(
        hw_store_open(d->url, &(struct hw_store_opts){ .wake = tu_wake_fn, .wake_arg = w }, &s), 0);
    return s;
}

static void close_drop(struct hw_store *s, struct tu_db *d, struct tu_wake *w)
{
    hw_store_close(s);
    tu_wake_cleanup(w);
    tu_db_drop(d, g_mysql);
}

/* Leased events come back whole, stay out of claims, and record with their lease. */
static void test_leased_handed_over(void)
{
    struct hw_store_outcome v[NEV];
    struct hw_store_event ev, *stored;
    struct hw_store_events l;
    struct got g[NEV + 1] = { 0 };
    struct tu_wake w;
    struct tu_db d;
    struct hw_store *s = open_async(&d, &w);
    int64_t until = tu_now_ms() + 60000;
    char body[32];

    for (int i = 0; i < NEV; i++) {
        snprintf(body, sizeof(body), "{\"n\":%d}", i);
        tu_event(&ev, "leased", body);
        CHECK_EQ(hw_store_append_leased_async(s, &ev, until, on_done, &g[i]), 0);
    }
    tu_event(&ev, "leased", "due");
    CHECK_EQ(hw_store_append_async(s, &ev, on_done, &g[NEV]), 0);
    wait_calls(&w, s, g, NEV + 1);
    CHECK(g[NEV].ev == NULL); /* a plain append hands nothing over */
    for (int i = 0; i < NEV; i++) {
        struct hw_store_event *e = g[i].ev;

        CHECK_EQ(g[i].err, 0);
        CHECK(e != NULL);
        CHECK_STR(e->id, g[i].id);
        snprintf(body, sizeof(body), "{\"n\":%d}", i);
        CHECK_EQ(e->body_len, strlen(body));
        CHECK(memcmp(e->body, body, e->body_len) == 0);
        CHECK_EQ(e->headers_len, strlen(TU_HEADERS));
        CHECK(memcmp(e->headers, TU_HEADERS, e->headers_len) == 0);
        CHECK_STR(e->source, "leased");
        CHECK_EQ(e->status, HW_STORE_PENDING);
        CHECK_EQ(e->attempts, 0);
        CHECK_EQ(e->lease, 0);
        CHECK_EQ(e->lease_until_ms, until);
        /* As stored: pending and not due before the lease ends. */
        CHECK_EQ(hw_store_get(s, e->id, &stored), 0);
        CHECK_EQ(stored->status, HW_STORE_PENDING);
        CHECK_EQ(stored->lease_until_ms, until);
        CHECK_EQ(stored->next_attempt_ms, until);
        hw_store_event_free(stored);
    }

    /* A claim finds only the plain append. */
    CHECK_EQ(hw_store_claim(s, NULL, 60000, 100, 0, &l), 0);
    CHECK_EQ(l.n, 1);
    CHECK_STR(l.v[0]->id, g[NEV].id);
    hw_store_events_cleanup(&l);

    /* Outcomes recorded with the append's lease, as after a claim; a wrong value is refused. */
    for (int i = 0; i < NEV; i++)
        v[i] = (struct hw_store_outcome){
            .id = g[i].ev->id,
            .lease = i == 0 ? 1 : g[i].ev->lease,
            .attempt = { .at_ms = tu_now_ms(), .http_status = i == 1 ? 500 : 200 },
            .status = i == 1 ? HW_STORE_PENDING : HW_STORE_DELIVERED,
            .next_attempt_ms = i == 1 ? tu_now_ms() - 1 : 0,
        };
    CHECK_EQ(hw_store_record_attempts(s, v, NEV), 0);
    CHECK_EQ(v[0].err, HW_ELEASE);
    for (int i = 1; i < NEV; i++)
        CHECK_EQ(v[i].err, 0);
    CHECK_EQ(hw_store_get(s, g[2].ev->id, &stored), 0);
    CHECK_EQ(stored->status, HW_STORE_DELIVERED);
    CHECK_EQ(stored->attempts, 1);
    CHECK_EQ(stored->lease_until_ms, 0);
    hw_store_event_free(stored);
    /* The retried one is due again, for a claim. */
    CHECK_EQ(hw_store_claim(s, NULL, 60000, 100, 0, &l), 0);
    CHECK_EQ(l.n, 1);
    CHECK_STR(l.v[0]->id, g[1].ev->id);
    CHECK_EQ(l.v[0]->attempts, 1);
    hw_store_events_cleanup(&l);

    for (int i = 0; i < NEV; i++)
        hw_store_event_free(g[i].ev);
    close_drop(s, &d, &w);
}

/* A duplicate, in one batch or after the first committed, hands nothing over. */
static void test_leased_duplicate(void)
{
    struct hw_store_event ev;
    struct got g[3] = { 0 };
    struct tu_wake w;
    struct tu_db d;
    struct hw_store *s = open_async(&d, &w);
    int64_t until = tu_now_ms() + 60000;

    tu_event(&ev, "leased", "once");
    ev.dedup_key = "delivery-1";
    CHECK_EQ(hw_store_append_leased_async(s, &ev, until, on_done, &g[0]), 0);
    CHECK_EQ(hw_store_append_leased_async(s, &ev, until, on_done, &g[1]), 0);
    wait_calls(&w, s, g, 2);
    CHECK_EQ(hw_store_append_leased_async(s, &ev, until, on_done, &g[2]), 0);
    wait_calls(&w, s, g, 3);
    CHECK_EQ(g[0].err, 0);
    CHECK_EQ(g[0].dup, 0);
    CHECK(g[0].ev != NULL);
    for (int i = 1; i < 3; i++) {
        CHECK_EQ(g[i].err, 0);
        CHECK_EQ(g[i].dup, 1);
        CHECK_STR(g[i].id, g[0].id);
        CHECK(g[i].ev == NULL);
    }
    hw_store_event_free(g[0].ev);

    /* A lease that has already ended is a mistake, not an append. */
    CHECK_EQ(hw_store_append_leased_async(s, &ev, tu_now_ms() - 1, on_done, &g[0]), HW_EINVAL);
    close_drop(s, &d, &w);
}

/* The appender died: after its lease a claim takes the event, and the old lease is fenced. */
static void test_leased_lapses(void)
{
    struct hw_store_attempt a = { .at_ms = tu_now_ms(), .http_status = 200 };
    struct hw_store_event ev;
    struct hw_store_events l = { 0 };
    struct got g = { 0 };
    struct tu_wake w;
    struct tu_db d;
    struct hw_store *s = open_async(&d, &w);
    int64_t until = tu_now_ms() + 300, deadline = tu_now_ms() + 10000;

    tu_event(&ev, "leased", "lapse");
    CHECK_EQ(hw_store_append_leased_async(s, &ev, until, on_done, &g), 0);
    wait_calls(&w, s, &g, 1);
    CHECK(g.ev != NULL);
    tu_claim_when_due(s, NULL, 100, deadline, &l);
    /* Never while the lease held. */
    CHECK(tu_now_ms() >= until);
    CHECK_EQ(l.n, 1);
    CHECK_STR(l.v[0]->id, g.ev->id);
    CHECK(l.v[0]->lease > g.ev->lease);
    CHECK_EQ(hw_store_record_attempt(s, g.ev->id, g.ev->lease, &a, HW_STORE_DELIVERED, 0),
             HW_ELEASE);
    CHECK_EQ(hw_store_record_attempt(s, l.v[0]->id, l.v[0]->lease, &a, HW_STORE_DELIVERED, 0), 0);
    hw_store_events_cleanup(&l);
    hw_store_event_free(g.ev);
    close_drop(s, &d, &w);
}

static void run_suite(const char *mysql_url)
{
    g_mysql = mysql_url;
    RUN(test_leased_handed_over);
    RUN(test_leased_duplicate);
    RUN(test_leased_lapses);
}

int main(void)
{
    return tu_run_backends(run_suite);
}
