/*
 * Several store threads (hw_store_opts.writers), each committing on its own
 * connection: MySQL opens the count asked for (SQLite one; the count is
 * capped; one by default) and the server sees the connections; 8,192 appends
 * of 1,024 dedup keys, each key spread over concurrent batches, all come
 * back appended or duplicate with one id per key and one row per key;
 * completions run in submission order; a job sees exactly the appends queued
 * before it; the queue's count cap holds; close commits everything queued;
 * and with the default one writer a seq-cursor reader (the relay's offline
 * queue) never steps over an event that commits late. On SQLite and on
 * MySQL.
 */
#include <pthread.h>
#include <stdatomic.h>

#include "check.h"
#include "core/err.h"
#include "store/store.h"
#include "store_util.h"

static const char *g_mysql;

#define WRITERS 4

static struct hw_store *open_with(struct tu_db *d, struct tu_wake *w, unsigned writers,
                                  size_t queue_max)
{
    struct hw_store *s = NULL;

    tu_wake_init(w);
    CHECK_EQ(hw_store_open(d->url,
                           &(struct hw_store_opts){ .wake = tu_wake_fn,
                                                    .wake_arg = w,
                                                    .writers = writers,
                                                    .queue_max = queue_max },
                           &s),
             0);
    return s;
}

static void close_all(struct hw_store *s, struct tu_wake *w, struct tu_db *d)
{
    hw_store_close(s);
    tu_wake_cleanup(w);
    tu_db_drop(d, g_mysql);
}

/* Connections the server has open to d's database. */
static long long server_connections(const struct tu_db *d)
{
    MYSQL *c = tu_mysql_connect(d->url);
    char sql[512];
    long long n;

    snprintf(sql, sizeof(sql),
             "SELECT COUNT(*) FROM information_schema.processlist WHERE db = '%s'", d->name);
    n = tu_mysql_number(c, sql, 0);
    mysql_close(c);
    return n;
}

static void test_writer_count(void)
{
    static const unsigned asked[] = { 0, 1, WRITERS, 1000 };
    static const unsigned mysql_gets[] = { 1, 1, WRITERS, HW_STORE_WRITERS_MAX };

    for (size_t i = 0; i < sizeof(asked) / sizeof(asked[0]); i++) {
        struct tu_wake w;
        struct tu_db d;
        struct hw_store *s;

        tu_db_fresh(&d, g_mysql);
        s = open_with(&d, &w, asked[i], 0);
        CHECK_EQ(hw_store_writers(s), g_mysql ? mysql_gets[i] : 1);
        /* The handle's own connection plus one per writer when there are several. */
        if (g_mysql)
            CHECK_EQ(server_connections(&d), 1 + (mysql_gets[i] > 1 ? mysql_gets[i] : 0));
        close_all(s, &w, &d);
    }
}

/* --- duplicates across concurrent batches ---------------------------------------------------- */

#define KEYS   1024
#define COPIES 8
#define TOTAL  (KEYS * COPIES)

struct rec {
    int calls, err, dup;
    long order; /* when its callback ran, counting from 0 */
    char id[HW_ID_LEN + 1];
};

static long g_order;

static void on_rec(void *arg, int err, const struct hw_store_result *res)
{
    struct rec *r = arg;

    r->calls++;
    r->err = err;
    r->order = g_order++;
    if (res) {
        r->dup = res->duplicate;
        memcpy(r->id, res->id, sizeof(r->id));
    }
}

static void poll_until(struct tu_wake *w, struct hw_store *s, const int *inflight, int at_most)
{
    int64_t deadline = tu_now_ms() + 120000;

    while (*inflight > at_most) {
        tu_wake_poll(w, s, 200);
        CHECK(tu_now_ms() < deadline);
    }
}

static int g_inflight;

static void on_rec_count(void *arg, int err, const struct hw_store_result *res)
{
    on_rec(arg, err, res);
    g_inflight--;
}

#define SPREAD 64 /* the copies of a key are this many appends apart */

/* The key of append i: blocks of SPREAD keys, each block's copies interleaved. */
static int key_of(int i)
{
    return i / (SPREAD * COPIES) * SPREAD + i % SPREAD;
}

/*
 * The copies of a key are SPREAD appends apart, so with up to 256 in
 * flight over several writers they land in different batches that are in
 * flight together: a later batch's INSERT meets an earlier one's
 * uncommitted row on the dedup index and waits for its commit. Every
 * append must come back appended or duplicate, the first copy stored.
 */
static void test_concurrent_duplicates(void)
{
    static struct rec r[TOTAL];
    static int first[KEYS];
    struct hw_store_summary sum;
    struct hw_store_stats st;
    struct hw_store_event ev;
    struct tu_wake w;
    struct tu_db d;
    struct hw_store *s;
    char key[32], body[48];
    int news = 0;

    tu_db_fresh(&d, g_mysql);
    s = open_with(&d, &w, WRITERS, 0);
    memset(r, 0, sizeof(r));
    for (int k = 0; k < KEYS; k++)
        first[k] = -1;
    g_order = 0;
    g_inflight = 0;
    for (int i = 0; i < TOTAL; i++) {
        int k = key_of(i);

        if (first[k] < 0)
            first[k] = i;
        snprintf(key, sizeof(key), "delivery-%04d", k);
        snprintf(body, sizeof(body), "{\"key\":%d,\"n\":%d}", k, i);
        tu_event(&ev, k % 2 ? "odd" : "even", body);
        ev.dedup_key = key;
        poll_until(&w, s, &g_inflight, 255);
        CHECK_EQ(hw_store_append_async(s, &ev, on_rec_count, &r[i]), 0);
        g_inflight++;
    }
    poll_until(&w, s, &g_inflight, 0);
    hw_store_stats(s, &st);
    fprintf(stderr, "    %d appends in %llu commits, %llu new, %llu duplicates\n", TOTAL,
            (unsigned long long)st.commits, (unsigned long long)st.appended,
            (unsigned long long)st.duplicates);
    for (int i = 0; i < TOTAL; i++) {
        int k = key_of(i);

        CHECK_EQ(r[i].calls, 1);
        CHECK_EQ(r[i].err, 0);
        CHECK_EQ(r[i].order, i); /* completions in submission order */
        CHECK_STR(r[i].id, r[first[k]].id);
        CHECK_EQ(r[i].dup, i != first[k]); /* the first copy is the one stored */
        news += !r[i].dup;
    }
    CHECK_EQ(news, KEYS);
    CHECK_EQ(st.appended, KEYS);
    CHECK_EQ(st.duplicates, TOTAL - KEYS);
    CHECK_EQ(hw_store_summarize(s, 0, &sum), 0);
    CHECK_EQ(sum.by_status[HW_STORE_PENDING], KEYS);
    hw_store_summary_cleanup(&sum);
    close_all(s, &w, &d);
}

/* --- jobs in order with the appends, the count cap, close ----------------------------------- */

struct job_ctx {
    uint64_t seen; /* events stored when the job ran */
    int calls, err;
};

static int count_job(struct hw_store *s, void *arg)
{
    struct job_ctx *j = arg;
    struct hw_store_summary sum;
    int err = hw_store_summarize(s, 0, &sum);

    if (!err) {
        j->seen = sum.by_status[HW_STORE_PENDING];
        hw_store_summary_cleanup(&sum);
    }
    return err;
}

static void count_done(void *arg, int err)
{
    struct job_ctx *j = arg;

    j->calls++;
    j->err = err;
}

/* Holds every writer: a job runs alone, so nothing else starts until it returns. */
static struct tu_gate g_gate;

static void test_jobs_caps_close(void)
{
    enum { BEFORE = 300, AFTER = 300, CAP = 64 };
    static struct rec r[BEFORE + AFTER];
    struct job_ctx j = { 0 };
    struct hw_store_event ev;
    struct tu_wake w;
    struct tu_db d;
    struct hw_store *s;
    char body[32];
    int64_t deadline;
    int queued = 0;

    /* A job sees exactly the appends queued before it, none after, with writers busy. */
    tu_db_fresh(&d, g_mysql);
    s = open_with(&d, &w, WRITERS, 0);
    memset(r, 0, sizeof(r));
    g_order = 0;
    for (int i = 0; i < BEFORE + AFTER; i++) {
        snprintf(body, sizeof(body), "{\"n\":%d}", i);
        tu_event(&ev, "jobs", body);
        if (i == BEFORE)
            CHECK_EQ(hw_store_job_async(s, count_job, count_done, &j), 0);
        CHECK_EQ(hw_store_append_async(s, &ev, on_rec, &r[i]), 0);
        if (i % 16 == 0)
            hw_store_poll_completions(s); /* let the writers run while we queue */
    }
    deadline = tu_now_ms() + 60000;
    while (g_order < BEFORE + AFTER || !j.calls) {
        tu_wake_poll(&w, s, 200);
        CHECK(tu_now_ms() < deadline);
    }
    CHECK_EQ(j.err, 0);
    CHECK_EQ(j.seen, BEFORE);
    for (int i = 0; i < BEFORE + AFTER; i++) {
        CHECK_EQ(r[i].err, 0);
        CHECK_EQ(r[i].order, i);
    }
    close_all(s, &w, &d);

    /*
     * The count cap: with the writers held, CAP appends are taken and the
     * next one is refused; then close commits everything queued and runs
     * every callback.
     */
    tu_db_fresh(&d, g_mysql);
    s = open_with(&d, &w, WRITERS, CAP);
    tu_gate_hold(s, &g_gate);
    memset(r, 0, sizeof(r));
    g_order = 0;
    for (;;) {
        int err;

        snprintf(body, sizeof(body), "{\"cap\":%d}", queued);
        tu_event(&ev, "cap", body);
        err = hw_store_append_async(s, &ev, on_rec, &r[queued]);
        if (err) {
            CHECK_EQ(err, HW_EFULL);
            break;
        }
        queued++;
        CHECK(queued < BEFORE);
    }
    CHECK_EQ(queued, CAP - 1); /* the gate job counts as one */
    g_gate.open = 1;
    hw_store_close(s);
    CHECK_EQ(g_order, queued);
    for (int i = 0; i < queued; i++)
        CHECK_EQ(r[i].err, 0);
    CHECK_EQ(hw_store_open(d.url, NULL, &s), 0);
    {
        struct hw_store_summary sum;

        CHECK_EQ(hw_store_summarize(s, 0, &sum), 0);
        CHECK_EQ(sum.by_status[HW_STORE_PENDING], (uint64_t)queued);
        hw_store_summary_cleanup(&sum);
    }
    hw_store_close(s);
    tu_wake_cleanup(&w);
    tu_db_drop(&d, g_mysql);
}

/* --- the relay's seq cursor with the default writer ----------------------------------------- */

#define CURSOR_N 3000

struct reader {
    struct hw_store *s;
    _Atomic int stop;
    int64_t last_seq;
    int seen, out_of_order;
};

/* Reads pending events after a seq cursor, as the relay's offline queue does. */
static void *cursor_reader(void *arg)
{
    struct reader *rd = arg;

    for (;;) {
        struct hw_store_events l;
        int stop = rd->stop; /* read before the last pass: it sees every commit */
        size_t n;

        CHECK_EQ(hw_store_next_pending(rd->s, "relay", rd->last_seq, 100, 0, &l), 0);
        for (size_t i = 0; i < l.n; i++) {
            if (l.v[i]->seq <= rd->last_seq)
                rd->out_of_order++;
            rd->last_seq = l.v[i]->seq;
            rd->seen++;
        }
        n = l.n;
        hw_store_events_cleanup(&l);
        if (stop && n == 0)
            return NULL;
    }
}

static void on_plain(void *arg, int err, const struct hw_store_result *res)
{
    (void)res;
    CHECK_EQ(err, 0);
    (*(int *)arg)--;
}

/*
 * The relay opens its store without writers: one writer commits batches in
 * seq order, so a reader moving its cursor past every seq it saw, while
 * appends keep committing, still sees every event exactly once.
 */
static void test_default_keeps_seq_order(void)
{
    struct hw_store_event ev;
    struct reader rd = { 0 };
    struct hw_store *reader_s;
    struct tu_wake w;
    struct tu_db d;
    struct hw_store *s;
    pthread_t th;
    char body[32];
    int inflight = 0;

    tu_db_fresh(&d, g_mysql);
    s = open_with(&d, &w, 0, 0);
    CHECK_EQ(hw_store_writers(s), 1);
    CHECK_EQ(hw_store_open(d.url, NULL, &reader_s), 0);
    rd.s = reader_s;
    CHECK_EQ(pthread_create(&th, NULL, cursor_reader, &rd), 0);
    for (int i = 0; i < CURSOR_N; i++) {
        snprintf(body, sizeof(body), "{\"q\":%d}", i);
        tu_event(&ev, "relay", body);
        poll_until(&w, s, &inflight, 127);
        CHECK_EQ(hw_store_append_async(s, &ev, on_plain, &inflight), 0);
        inflight++;
    }
    poll_until(&w, s, &inflight, 0);
    rd.stop = 1;
    pthread_join(th, NULL);
    fprintf(stderr, "    cursor reader saw %d of %d events\n", rd.seen, CURSOR_N);
    CHECK_EQ(rd.out_of_order, 0);
    CHECK_EQ(rd.seen, CURSOR_N);
    hw_store_close(reader_s);
    close_all(s, &w, &d);
}

static void run_suite(const char *mysql_url)
{
    g_mysql = mysql_url;
    fprintf(stderr, "%s backend\n", mysql_url ? "MySQL" : "SQLite");
    RUN(test_writer_count);
    RUN(test_concurrent_duplicates);
    RUN(test_jobs_caps_close);
    RUN(test_default_keeps_seq_order);
}

int main(void)
{
    const char *mysql_url = tu_mysql_url();

    tu_init_dir();
    run_suite(NULL);
    if (mysql_url)
        run_suite(mysql_url);
    tu_remove_dir();
    return 0;
}
