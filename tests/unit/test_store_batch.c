/*
 * A group commit's batch written together (on MySQL one INSERT of the
 * batch's exact size, kept prepared per size): values of every byte (quotes,
 * backslashes, NUL, bytes that are not UTF-8) come back byte-exact in every
 * column;
 * duplicates of stored keys and within the batch are found, the first of
 * two copies winning, all in one commit; a batch of five 6 MiB bodies (on
 * MySQL one statement of 30 MiB, near the bound of half the test server's
 * max_allowed_packet) is stored whole and exact. A job holds the store
 * thread while a batch is queued, so that it is taken as one. Appends
 * withdrawn while they wait are never written and never called back; the
 * queue's tail stays right when the last one goes. On SQLite and on MySQL.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/err.h"
#include "core/id.h"
#include "store/store.h"
#include "store_util.h"

static const char *g_mysql;

#define N 40 /* events in the escaping batch */

/* Bytes the SQL text would misread unescaped; NUL is in the body and headers only. */
static const char nasty[] = "'\"\\\n\r\x1a\\'' \\\\ \xc3' \xff\\";

struct done {
    int calls, err, dup;
    char id[HW_ID_LEN + 1];
};

static void on_done(void *arg, int err, const struct hw_store_result *res)
{
    struct done *dn = arg;

    dn->calls++;
    dn->err = err;
    if (!err) {
        dn->dup = res->duplicate;
        memcpy(dn->id, res->id, sizeof(dn->id));
    }
}

static void wait_all(struct tu_wake *w, struct hw_store *s, struct done *dn, int n)
{
    int64_t deadline = tu_now_ms() + 60000;

    for (;;) {
        int done = 0;

        tu_wake_poll(w, s, 200);
        for (int i = 0; i < n; i++)
            done += dn[i].calls;
        if (done == n)
            return;
        CHECK(tu_now_ms() < deadline);
    }
}

/* Holds the store thread until the test has queued a whole batch. */
static struct tu_gate g_gate;

struct nasty_ev {
    char source[64], method[16], path[128], query[128], key[64];
    unsigned char headers[300], body[600];
    size_t body_len;
};

static void fill(struct nasty_ev *e, int i)
{
    snprintf(e->source, sizeof(e->source), "s'%d\\\"", i % 3);
    snprintf(e->method, sizeof(e->method), "P'\\%d", i % 2);
    snprintf(e->path, sizeof(e->path), "/p/%s/%d", nasty, i);
    snprintf(e->query, sizeof(e->query), "q='%d'&r=%s", i, nasty);
    snprintf(e->key, sizeof(e->key), "k'%d\\%s", i, i % 2 ? "\"" : "\x1a");
    for (size_t j = 0; j < sizeof(e->headers); j++)
        e->headers[j] = (unsigned char)(j + (size_t)i);
    e->body_len = 256 + (size_t)i * 7;
    for (size_t j = 0; j < e->body_len; j++)
        e->body[j] = (unsigned char)(j * 31 + (size_t)i);
    memcpy(e->body + 256, nasty, sizeof(nasty) - 1);
    e->body[0] = 0;
}

static void event_of(struct hw_store_event *ev, const struct nasty_ev *e, const char *key)
{
    memset(ev, 0, sizeof(*ev));
    ev->source = e->source;
    ev->method = e->method;
    ev->path = e->path;
    ev->query = e->query;
    ev->headers = (const char *)e->headers;
    ev->headers_len = sizeof(e->headers);
    ev->body = (const char *)e->body;
    ev->body_len = e->body_len;
    ev->dedup_key = key;
    ev->verify = HW_STORE_VERIFIED;
}

static void check_stored(struct hw_store *s, const char *id, const struct nasty_ev *e,
                         const char *key)
{
    struct hw_store_event *got = NULL;
    unsigned char sha[32];

    CHECK_EQ(hw_store_get(s, id, &got), 0);
    CHECK_STR(got->source, e->source);
    CHECK_STR(got->method, e->method);
    CHECK_STR(got->path, e->path);
    CHECK_STR(got->query, e->query);
    CHECK_EQ(got->headers_len, sizeof(e->headers));
    CHECK_MEM(got->headers, e->headers, sizeof(e->headers));
    CHECK_EQ(got->body_len, e->body_len);
    CHECK_MEM(got->body, e->body, e->body_len);
    crypto_hash_sha256(sha, e->body, e->body_len);
    CHECK_MEM(got->body_sha256, sha, 32);
    if (key)
        CHECK_STR(got->dedup_key, key);
    else
        CHECK(!got->dedup_key || !got->dedup_key[0]);
    CHECK_EQ(got->verify, HW_STORE_VERIFIED);
    CHECK_EQ(got->status, HW_STORE_PENDING);
    hw_store_event_free(got);
}

static void test_escaping_and_duplicates(void)
{
    static struct nasty_ev e[N];
    struct done dn[N], again[N + 2];
    struct hw_store_event ev;
    struct hw_store_stats st0, st1;
    struct tu_wake w;
    struct tu_db d;
    struct hw_store *s = NULL;

    tu_wake_init(&w);
    tu_db_fresh(&d, g_mysql);
    CHECK_EQ(
        hw_store_open(d.url, &(struct hw_store_opts){ .wake = tu_wake_fn, .wake_arg = &w }, &s), 0);
    memset(dn, 0, sizeof(dn));
    hw_store_stats(s, &st0);
    tu_gate_hold(s, &g_gate);
    for (int i = 0; i < N; i++) {
        fill(&e[i], i);
        event_of(&ev, &e[i], i % 4 ? e[i].key : NULL); /* keyed and unkeyed */
        CHECK_EQ(hw_store_append_async(s, &ev, on_done, &dn[i]), 0);
    }
    g_gate.open = 1;
    wait_all(&w, s, dn, N);
    hw_store_stats(s, &st1);
    CHECK_EQ(st1.commits - st0.commits, 1); /* the whole batch in one transaction */
    CHECK_EQ(st1.appended - st0.appended, N);
    for (int i = 0; i < N; i++) {
        CHECK_EQ(dn[i].err, 0);
        CHECK_EQ(dn[i].dup, 0);
        check_stored(s, dn[i].id, &e[i], i % 4 ? e[i].key : NULL);
    }

    /*
     * The same keys again, with two copies of a new key and unkeyed events
     * among them: the stored keys answer with the first ids, the new key is
     * stored once (its first copy), the rest are new; still one commit.
     */
    memset(again, 0, sizeof(again));
    hw_store_stats(s, &st0);
    tu_gate_hold(s, &g_gate);
    for (int i = 0; i < N; i++) {
        event_of(&ev, &e[i], i % 4 ? e[i].key : NULL);
        CHECK_EQ(hw_store_append_async(s, &ev, on_done, &again[i]), 0);
    }
    for (int i = 0; i < 2; i++) {
        event_of(&ev, &e[0], "new'\\key"); /* two copies: one source, one key */
        CHECK_EQ(hw_store_append_async(s, &ev, on_done, &again[N + i]), 0);
    }
    g_gate.open = 1;
    wait_all(&w, s, again, N + 2);
    hw_store_stats(s, &st1);
    CHECK_EQ(st1.commits - st0.commits, 1);
    for (int i = 0; i < N; i++) {
        CHECK_EQ(again[i].err, 0);
        CHECK_EQ(again[i].dup, i % 4 ? 1 : 0);
        if (i % 4)
            CHECK_STR(again[i].id, dn[i].id);
        else
            check_stored(s, again[i].id, &e[i], NULL);
    }
    CHECK_EQ(again[N].err, 0);
    CHECK_EQ(again[N].dup, 0);
    CHECK_EQ(again[N + 1].err, 0);
    CHECK_EQ(again[N + 1].dup, 1);
    CHECK_STR(again[N + 1].id, again[N].id);
    check_stored(s, again[N].id, &e[0], "new'\\key");
    CHECK_EQ(st1.appended - st0.appended, N / 4 + 1);
    CHECK_EQ(st1.duplicates - st0.duplicates, N - N / 4 + 1);
    hw_store_close(s);
    tu_db_drop(&d, g_mysql);
    tu_wake_cleanup(&w);
}

/*
 * Five 6 MiB bodies of random bytes in one batch, one commit: on MySQL one
 * statement of about 30 MiB, within half of the test server's 64 MiB
 * max_allowed_packet (the queue's 32 MiB batch cap keeps a batch from
 * passing that bound on this server, so a split by bytes is not reached).
 */
static void test_large_batch(void)
{
    enum { K = 5, SIZE = 6 << 20 };
    unsigned char *body[K];
    struct done dn[K];
    struct hw_store_event ev, *got = NULL;
    struct hw_store_stats st0, st1;
    struct tu_wake w;
    struct tu_db d;
    struct hw_store *s = NULL;

    tu_wake_init(&w);
    tu_db_fresh(&d, g_mysql);
    CHECK_EQ(
        hw_store_open(d.url, &(struct hw_store_opts){ .wake = tu_wake_fn, .wake_arg = &w }, &s), 0);
    memset(dn, 0, sizeof(dn));
    hw_store_stats(s, &st0);
    tu_gate_hold(s, &g_gate);
    for (int i = 0; i < K; i++) {
        body[i] = malloc(SIZE);
        CHECK(body[i] != NULL);
        randombytes_buf(body[i], SIZE);
        body[i][i] = '\'';
        tu_event(&ev, "large", "");
        ev.body = (const char *)body[i];
        ev.body_len = SIZE;
        CHECK_EQ(hw_store_append_async(s, &ev, on_done, &dn[i]), 0);
    }
    g_gate.open = 1;
    wait_all(&w, s, dn, K);
    hw_store_stats(s, &st1);
    CHECK_EQ(st1.commits - st0.commits, 1);
    for (int i = 0; i < K; i++) {
        CHECK_EQ(dn[i].err, 0);
        CHECK_EQ(hw_store_get(s, dn[i].id, &got), 0);
        CHECK_EQ(got->body_len, (size_t)SIZE);
        CHECK_MEM(got->body, body[i], SIZE);
        hw_store_event_free(got);
        free(body[i]);
    }
    hw_store_close(s);
    tu_db_drop(&d, g_mysql);
    tu_wake_cleanup(&w);
}

/* A job's runs and callbacks, for test_withdraw(). */
struct job_count {
    int runs, calls;
};

static int job_run(struct hw_store *s, void *arg)
{
    (void)s;
    ((struct job_count *)arg)->runs++;
    return 0;
}

static void job_done(void *arg, int err)
{
    CHECK_EQ(err, 0);
    ((struct job_count *)arg)->calls++;
}

/*
 * Four appends wait behind the gate; the second and the last (the queue's
 * tail) are withdrawn, then a fifth is queued behind what is left. The
 * other three are written in one commit, the withdrawn two never, and their
 * callbacks never run. An append being written or done is not withdrawn.
 * Two jobs wait behind them: one is withdrawn (it never runs, nor its
 * callback), the other runs once; neither is taken as an append, nor an
 * append as a job.
 */
static void test_withdraw(void)
{
    struct job_count kept = { 0 }, dropped = { 0 };
    enum { K = 5 };
    struct done dn[K];
    struct done *live[] = { &dn[0], &dn[2], &dn[4] };
    struct hw_store_event ev, *got = NULL;
    struct hw_store_stats st0, st1;
    struct tu_wake w;
    struct tu_db d;
    struct hw_store *s = NULL;

    tu_wake_init(&w);
    tu_db_fresh(&d, g_mysql);
    CHECK_EQ(
        hw_store_open(d.url, &(struct hw_store_opts){ .wake = tu_wake_fn, .wake_arg = &w }, &s), 0);
    memset(dn, 0, sizeof(dn));
    hw_store_stats(s, &st0);
    tu_gate_hold(s, &g_gate);
    tu_event(&ev, "withdraw", "");
    for (int i = 0; i < K - 1; i++)
        CHECK_EQ(hw_store_append_async(s, &ev, on_done, &dn[i]), 0);
    CHECK_EQ(hw_store_withdraw(s, on_done, &dn[1]), 0);
    CHECK_EQ(hw_store_withdraw(s, on_done, &dn[1]), HW_ENOTFOUND);
    CHECK_EQ(hw_store_withdraw(s, on_done, &dn[3]), 0);
    CHECK_EQ(hw_store_withdraw(s, on_done, &w), HW_ENOTFOUND);
    CHECK_EQ(hw_store_append_async(s, &ev, on_done, &dn[4]), 0);
    CHECK_EQ(hw_store_job_async(s, job_run, job_done, &dropped), 0);
    CHECK_EQ(hw_store_job_async(s, job_run, job_done, &kept), 0);
    CHECK_EQ(hw_store_withdraw(s, on_done, &dropped), HW_ENOTFOUND);
    CHECK_EQ(hw_store_withdraw_job(s, job_done, &dn[0]), HW_ENOTFOUND);
    CHECK_EQ(hw_store_withdraw_job(s, job_done, &dropped), 0);
    CHECK_EQ(hw_store_withdraw_job(s, job_done, &dropped), HW_ENOTFOUND);
    g_gate.open = 1;
    for (int i = 0; i < 3; i++)
        wait_all(&w, s, live[i], 1);
    for (int64_t until = tu_now_ms() + 10000; !kept.calls && tu_now_ms() < until;)
        tu_wake_poll(&w, s, 100);
    CHECK_EQ(kept.runs, 1);
    CHECK_EQ(kept.calls, 1);
    CHECK_EQ(dropped.runs, 0);
    CHECK_EQ(dropped.calls, 0);
    CHECK_EQ(hw_store_withdraw_job(s, job_done, &kept), HW_ENOTFOUND);
    CHECK_EQ(dn[1].calls, 0); /* the batch's completions came together */
    CHECK_EQ(dn[3].calls, 0);
    hw_store_stats(s, &st1);
    CHECK_EQ(st1.commits - st0.commits, 1);
    CHECK_EQ(st1.appended - st0.appended, 3);
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(live[i]->err, 0);
        CHECK_EQ(hw_store_get(s, live[i]->id, &got), 0);
        hw_store_event_free(got);
    }
    CHECK_EQ(hw_store_withdraw(s, on_done, &dn[0]), HW_ENOTFOUND);
    hw_store_close(s);
    tu_db_drop(&d, g_mysql);
    tu_wake_cleanup(&w);
}

static void run_suite(const char *mysql_url)
{
    g_mysql = mysql_url;
    RUN(test_escaping_and_duplicates);
    RUN(test_large_batch);
    RUN(test_withdraw);
}

int main(void)
{
    return tu_run_backends(run_suite);
}
