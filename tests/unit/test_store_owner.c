/*
 * The store calls an owner that delivers its own events uses (the relay's
 * offline queue): hw_store_next_pending() in store order after a cursor,
 * unleased outcomes (HW_STORE_NO_LEASE) refused for claimed or finished
 * events, hw_store_record_attempts() with one refused outcome among good
 * ones, hw_store_job_async() in order with the appends, and
 * hw_store_append_async_with_id(). On SQLite and on MySQL.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/err.h"
#include "core/id.h"
#include "store/store.h"
#include "store_util.h"

static const char *g_mysql;

static struct hw_store *open_fresh(struct tu_db *d, struct tu_wake *w)
{
    struct hw_store *s = NULL;

    tu_db_fresh(d, g_mysql);
    if (w) {
        tu_wake_init(w);
        CHECK_EQ(
            hw_store_open(d->url, &(struct hw_store_opts){ .wake = tu_wake_fn, .wake_arg = w }, &s),
            0);
    } else {
        CHECK_EQ(hw_store_open(d->url, NULL, &s), 0);
    }
    return s;
}

static void append(struct hw_store *s, const char *source, const char *body, char *id)
{
    struct hw_store_event ev;
    struct hw_store_result r;

    tu_event(&ev, source, body);
    CHECK_EQ(hw_store_append(s, &ev, &r), 0);
    memcpy(id, r.id, HW_ID_LEN + 1);
}

static void test_next_pending_in_order(void)
{
    struct tu_db d;
    struct hw_store *s = open_fresh(&d, NULL);
    char ids[6][HW_ID_LEN + 1], other[HW_ID_LEN + 1];
    struct hw_store_events l;
    struct hw_store_attempt a = { .at_ms = tu_now_ms(), .http_status = 200 };

    for (int i = 0; i < 6; i++) {
        char body[16];

        snprintf(body, sizeof(body), "{\"n\":%d}", i);
        append(s, "alice", body, ids[i]);
        if (i == 2)
            append(s, "bob", "{}", other);
    }
    /* Event 1 finished: it is skipped; bob's event is not alice's. */
    CHECK_EQ(hw_store_record_attempt(s, ids[1], HW_STORE_NO_LEASE, &a, HW_STORE_DELIVERED, 0), 0);
    CHECK_EQ(hw_store_next_pending(s, "alice", 0, 3, 0, &l), 0);
    CHECK_EQ(l.n, 3);
    CHECK_STR(l.v[0]->id, ids[0]);
    CHECK_STR(l.v[1]->id, ids[2]);
    CHECK_STR(l.v[2]->id, ids[3]);
    CHECK_EQ(l.v[1]->body_len, strlen("{\"n\":2}"));
    CHECK_MEM(l.v[1]->body, "{\"n\":2}", l.v[1]->body_len);
    CHECK_EQ(l.v[0]->lease_until_ms, 0); /* nothing leased */
    {
        int64_t after = l.v[2]->seq;

        hw_store_events_cleanup(&l);
        CHECK_EQ(hw_store_next_pending(s, "alice", after, 100, 0, &l), 0);
    }
    CHECK_EQ(l.n, 2);
    CHECK_STR(l.v[0]->id, ids[4]);
    CHECK_STR(l.v[1]->id, ids[5]);
    hw_store_events_cleanup(&l);
    /* The byte cap stops early but always takes one. */
    CHECK_EQ(hw_store_next_pending(s, "alice", 0, 100, 1, &l), 0);
    CHECK_EQ(l.n, 1);
    hw_store_events_cleanup(&l);
    CHECK_EQ(hw_store_next_pending(s, NULL, 0, 1, 0, &l), HW_EINVAL);
    hw_store_close(s);
    tu_db_drop(&d, g_mysql);
}

static void test_unleased_outcomes(void)
{
    struct tu_db d;
    struct hw_store *s = open_fresh(&d, NULL);
    char a1[HW_ID_LEN + 1], a2[HW_ID_LEN + 1], a3[HW_ID_LEN + 1];
    struct hw_store_attempt ok = { .at_ms = tu_now_ms(), .http_status = 200 };
    struct hw_store_attempt bad = { .at_ms = tu_now_ms(), .http_status = 500, .error = "boom" };
    struct hw_store_events l;
    struct hw_store_event *ev;
    struct hw_store_attempts at;

    append(s, "alice", "1", a1);
    append(s, "alice", "2", a2);
    append(s, "alice", "3", a3);
    /* A claimed event is not the owner's to settle without its lease. */
    CHECK_EQ(hw_store_claim(s, "alice", 60000, 1, 0, &l), 0);
    CHECK_EQ(l.n, 1);
    CHECK_STR(l.v[0]->id, a1);
    hw_store_events_cleanup(&l);
    CHECK_EQ(hw_store_record_attempt(s, a1, HW_STORE_NO_LEASE, &ok, HW_STORE_DELIVERED, 0),
             HW_ELEASE);
    {
        struct hw_store_outcome v[3] = {
            { .id = a2, .lease = HW_STORE_NO_LEASE, .attempt = bad, .status = HW_STORE_PENDING },
            { .id = a1, .lease = HW_STORE_NO_LEASE, .attempt = ok, .status = HW_STORE_DELIVERED },
            { .id = a3, .lease = HW_STORE_NO_LEASE, .attempt = ok, .status = HW_STORE_DELIVERED },
        };

        CHECK_EQ(hw_store_record_attempts(s, v, 3), 0);
        CHECK_EQ(v[0].err, 0);
        CHECK_EQ(v[1].err, HW_ELEASE);
        CHECK_EQ(v[2].err, 0);
    }
    CHECK_EQ(hw_store_inspect(s, a2, &ev, &at), 0);
    CHECK_EQ(ev->status, HW_STORE_PENDING);
    CHECK_EQ(ev->attempts, 1);
    CHECK_EQ(at.n, 1);
    CHECK_EQ(at.v[0]->http_status, 500);
    CHECK_STR(at.v[0]->error, "boom");
    hw_store_event_free(ev);
    hw_store_attempts_cleanup(&at);
    CHECK_EQ(hw_store_get(s, a3, &ev), 0);
    CHECK_EQ(ev->status, HW_STORE_DELIVERED);
    hw_store_event_free(ev);
    CHECK_EQ(hw_store_get(s, a1, &ev), 0);
    CHECK_EQ(ev->status, HW_STORE_PENDING); /* the refused outcome changed nothing */
    CHECK_EQ(ev->attempts, 0);
    hw_store_event_free(ev);
    /* A finished event takes no further unleased outcome. */
    CHECK_EQ(hw_store_record_attempt(s, a3, HW_STORE_NO_LEASE, &bad, HW_STORE_FAILED, 0),
             HW_ELEASE);
    CHECK_EQ(hw_store_record_attempt(s, "evt_00000000000000000000000000", HW_STORE_NO_LEASE, &ok,
                                     HW_STORE_DELIVERED, 0),
             HW_ENOTFOUND);
    hw_store_close(s);
    tu_db_drop(&d, g_mysql);
}

struct seen {
    int appended, jobs, found;
    char id[HW_ID_LEN + 1];
};

static void on_append(void *arg, int err, const struct hw_store_result *res)
{
    struct seen *x = arg;

    CHECK_EQ(err, 0);
    CHECK_STR(res->id, x->id);
    x->appended++;
}

/* Runs on the store thread after the append queued before it. */
static int job(struct hw_store *s, void *arg)
{
    struct seen *x = arg;
    struct hw_store_event *ev;
    int err = hw_store_get(s, x->id, &ev);

    if (!err) {
        x->found = 1;
        hw_store_event_free(ev);
    }
    return err ? err : 7;
}

static void on_job(void *arg, int err)
{
    struct seen *x = arg;

    CHECK_EQ(err, 7);
    CHECK_EQ(x->appended, 1); /* completions run in submission order */
    x->jobs++;
}

static void test_job_and_own_id(void)
{
    struct tu_db d;
    struct tu_wake w;
    struct hw_store *s = open_fresh(&d, &w);
    struct hw_store_event ev;
    struct seen x = { 0 };
    int64_t deadline = tu_now_ms() + 10000;

    tu_event(&ev, "alice", "{}");
    hw_id_new(ev.id);
    memcpy(x.id, ev.id, sizeof(x.id));
    CHECK_EQ(hw_store_append_async_with_id(s, &ev, on_append, &x), 0);
    CHECK_EQ(hw_store_job_async(s, job, on_job, &x), 0);
    while (x.jobs < 1 && tu_now_ms() < deadline)
        tu_wake_poll(&w, s, 100);
    CHECK_EQ(x.jobs, 1);
    CHECK_EQ(x.found, 1); /* the job ran after the append committed */
    /* A malformed caller id is refused up front. */
    memcpy(ev.id, "not-an-id", 10);
    CHECK_EQ(hw_store_append_async_with_id(s, &ev, on_append, &x), HW_EINVAL);
    hw_store_close(s);
    tu_wake_cleanup(&w);
    tu_db_drop(&d, g_mysql);
}

static void run_suite(const char *mysql_url)
{
    g_mysql = mysql_url;
    RUN(test_next_pending_in_order);
    RUN(test_unleased_outcomes);
    RUN(test_job_and_own_id);
}

int main(void)
{
    return tu_run_backends(run_suite);
}
