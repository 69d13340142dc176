/*
 * Durability that fails without fsync (SQLite): this test binary defines
 * fdatasync() and fsync(), so the SQLite library's calls come here and are
 * counted before being passed on. Every acknowledged append (a synchronous
 * return, or an async completion) must have been preceded by a storage sync
 * that began after the append was submitted. The same check is then run on
 * a store opened with the test-only "?unsafe_sync=off" (synchronous=OFF):
 * there it must find acknowledgements without a sync, which shows the check
 * can fail (it was also run once with the normal store forced to
 * synchronous=OFF, and failed).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <stdatomic.h>
#include <string.h>

#include "check.h"
#include "core/err.h"
#include "core/id.h"
#include "store/store.h"
#include "store_util.h"

static atomic_long g_syncs;

int fdatasync(int fd)
{
    static int (*real)(int);

    if (!real)
        real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    g_syncs++;
    return real(fd);
}

int fsync(int fd)
{
    static int (*real)(int);

    if (!real)
        real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    g_syncs++;
    return real(fd);
}

struct ack {
    long syncs_at_submit;
    int done, err, unsynced;
};

static void on_done(void *arg, int err, const struct hw_store_result *res)
{
    struct ack *a = arg;

    a->done = 1;
    a->err = err;
    a->unsynced = g_syncs == a->syncs_at_submit;
}

/* Appends n events each way and returns how many acknowledgements had no sync behind them. */
static int unsynced_acks(const char *url, int n)
{
    struct ack acks[64] = { { 0 } };
    struct hw_store_event ev;
    struct hw_store_events l;
    struct hw_store_result r;
    struct hw_store *s;
    struct tu_wake w;
    int64_t deadline;
    int bad = 0;

    CHECK(n <= 64);
    tu_wake_init(&w);
    CHECK_EQ(hw_store_open(url, &(struct hw_store_opts){ .wake = tu_wake_fn, .wake_arg = &w }, &s),
             0);
    tu_event(&ev, "sync", "must be on disk when acknowledged");
    for (int i = 0; i < n; i++) {
        long before = g_syncs;
        CHECK_EQ(hw_store_append(s, &ev, &r), 0);
        bad += g_syncs == before;
    }
    /* A claim commits its leases without a sync; the appends after it must still sync. */
    CHECK_EQ(hw_store_claim(s, NULL, 60000, 10, 0, &l), 0);
    CHECK_EQ(l.n, 10);
    hw_store_events_cleanup(&l);
    for (int i = 0; i < n; i++) {
        acks[i].syncs_at_submit = g_syncs;
        CHECK_EQ(hw_store_append_async(s, &ev, on_done, &acks[i]), 0);
    }
    deadline = tu_now_ms() + 20000;
    for (int i = 0; i < n; i++) {
        while (!acks[i].done) {
            tu_wake_poll(&w, s, 100);
            CHECK(tu_now_ms() < deadline);
        }
        CHECK_EQ(acks[i].err, 0);
        bad += acks[i].unsynced;
    }
    hw_store_close(s);
    tu_wake_cleanup(&w);
    return bad;
}

static void test_sync_before_ack(void)
{
    struct tu_db d;
    char url[2100];
    int bad;

    tu_db_fresh(&d, NULL);
    bad = unsynced_acks(d.url, 32);
    fprintf(stderr, "    synchronous=FULL: %d of 64 acknowledgements without a sync\n", bad);
    CHECK_EQ(bad, 0);
    tu_db_drop(&d, NULL);

    tu_db_fresh(&d, NULL);
    snprintf(url, sizeof(url), "%s?unsafe_sync=off", d.url);
    bad = unsynced_acks(url, 32);
    fprintf(stderr, "    synchronous=OFF:  %d of 64 acknowledgements without a sync\n", bad);
    CHECK_EQ(bad, 64); /* the check catches a store that does not sync */
    tu_db_drop(&d, NULL);
}

static void test_unsafe_is_reported(void)
{
    struct tu_db d;
    struct hw_store *s;
    char url[2100];

    tu_db_fresh(&d, NULL);
    CHECK_EQ(hw_store_open(d.url, NULL, &s), 0);
    CHECK_EQ(hw_store_durable(s), 1);
    hw_store_close(s);
    snprintf(url, sizeof(url), "%s?unsafe_sync=off", d.url);
    CHECK_EQ(hw_store_open(url, NULL, &s), 0);
    CHECK_EQ(hw_store_durable(s), 0);
    hw_store_close(s);
    tu_db_drop(&d, NULL);
}

/* Appends n finished events, the first one's id into first, and waits for them all. */
static void finished_round(struct hw_store *s, struct tu_wake *w, struct hw_store_event *ev,
                           const struct hw_store_attempt *a, struct ack *fin, int n, char *first)
{
    int64_t deadline = tu_now_ms() + 20000;

    for (int i = 0; i < n; i++) {
        hw_id_new(ev->id);
        if (i == 0)
            memcpy(first, ev->id, HW_ID_LEN + 1);
        CHECK_EQ(hw_store_append_finished_async(s, ev, a, HW_STORE_DELIVERED, on_done, &fin[i]), 0);
    }
    for (int i = 0; i < n; i++) {
        while (!fin[i].done) {
            tu_wake_poll(w, s, 100);
            CHECK(tu_now_ms() < deadline);
        }
        CHECK_EQ(fin[i].err, 0);
    }
}

/*
 * The rule for a relay's live history (finished events, written after their
 * answer): a batch of finished events only is committed without an fsync;
 * a batch with a pending event is synced before its acknowledgement, also
 * right after such a batch, and that sync makes the finished events before
 * it durable too (one WAL, synced up to its end).
 */
static void test_finished_sync_rule(void)
{
    enum { N = 24 };
    struct ack fin[N] = { { 0 } }, pend[N] = { { 0 } };
    struct hw_store_attempt a = { .at_ms = tu_now_ms(), .duration_ms = 3, .http_status = 200 };
    char first[HW_ID_LEN + 1], last[HW_ID_LEN + 1];
    struct hw_store_event ev, *got;
    struct hw_store_result r;
    struct hw_store *s;
    struct tu_wake w;
    struct tu_db d;
    int64_t deadline;
    long before;
    int bad = 0;

    tu_db_fresh(&d, NULL);
    tu_wake_init(&w);
    CHECK_EQ(
        hw_store_open(d.url, &(struct hw_store_opts){ .wake = tu_wake_fn, .wake_arg = &w }, &s), 0);
    tu_event(&ev, "live", "answered before it is written");
    CHECK_EQ(hw_store_append(s, &ev, &r), 0); /* the schema and a first durable commit */

    /*
     * Finished events alone: committed, none of them synced. Round 0 warms
     * up: the first write after a checkpoint starts the WAL over, and SQLite
     * syncs its new header once, whatever the synchronous level.
     */
    for (int round = 0; round < 2; round++) {
        before = g_syncs;
        for (int i = 0; i < N; i++)
            memset(&fin[i], 0, sizeof(fin[i]));
        finished_round(s, &w, &ev, &a, fin, N, first);
        fprintf(stderr, "    round %d, %d finished events: %ld syncs\n", round, N,
                g_syncs - before);
    }
    CHECK_EQ(g_syncs, before);

    /* Pending and finished interleaved: every pending acknowledgement has a sync behind it. */
    for (int i = 0; i < N; i++) {
        memset(&fin[i], 0, sizeof(fin[i]));
        pend[i].syncs_at_submit = g_syncs;
        ev.id[0] = '\0';
        CHECK_EQ(hw_store_append_async(s, &ev, on_done, &pend[i]), 0);
        hw_id_new(ev.id);
        memcpy(last, ev.id, sizeof(last));
        CHECK_EQ(hw_store_append_finished_async(s, &ev, &a, HW_STORE_FAILED, on_done, &fin[i]), 0);
    }
    deadline = tu_now_ms() + 20000;
    for (int i = 0; i < N; i++) {
        while (!pend[i].done || !fin[i].done) {
            tu_wake_poll(&w, s, 100);
            CHECK(tu_now_ms() < deadline);
        }
        CHECK_EQ(pend[i].err, 0);
        CHECK_EQ(fin[i].err, 0);
        bad += pend[i].unsynced;
    }
    fprintf(stderr, "    pending among finished: %d of %d acknowledgements without a sync\n", bad,
            N);
    CHECK_EQ(bad, 0);

    /* A later durable commit syncs the WAL with the finished events before it. */
    before = g_syncs;
    ev.id[0] = '\0';
    CHECK_EQ(hw_store_append(s, &ev, &r), 0);
    CHECK(g_syncs > before);
    CHECK_EQ(hw_store_get(s, first, &got), 0);
    CHECK_EQ(got->status, HW_STORE_DELIVERED);
    hw_store_event_free(got);
    CHECK_EQ(hw_store_get(s, last, &got), 0);
    CHECK_EQ(got->status, HW_STORE_FAILED);
    hw_store_event_free(got);
    hw_store_close(s);
    tu_wake_cleanup(&w);
    tu_db_drop(&d, NULL);
}

int main(void)
{
    tu_init_dir();
    fprintf(stderr, "SQLite backend\n");
    RUN(test_sync_before_ack);
    RUN(test_unsafe_is_reported);
    RUN(test_finished_sync_rule);
    tu_remove_dir();
    return 0;
}
