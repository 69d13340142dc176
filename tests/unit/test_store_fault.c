/*
 * The MySQL store under network faults, through a fault-injecting TCP proxy
 * (a thread of this test, between the store and MariaDB, reading the
 * client's MySQL packets): the answer to COMMIT dropped, the connection cut
 * in the middle of a batch (at its multi-row INSERT) or just before
 * its COMMIT, the server stalled after COMMIT past the timeout (the
 * store backs off, yet settles at once on a new connection), the answer to
 * COMMIT trickled a byte at a time, each within the read timeout (the call
 * is cut at its own deadline, before the answer is through), and so the
 * first statements of a store being opened. For each, with
 * synchronous and asynchronous appends: every event reported appended is
 * stored exactly once, no event reported failed is stored, an outcome that
 * could not be known is HW_EUNAVAIL with the event's id, nothing is stored
 * twice; the asynchronous cases also with two store threads (writers), each
 * settling on its own connection. With two writers, a second batch commits
 * on its own connection while the first one's COMMIT answer is held back,
 * and their completions still run in submission order. Then a hung server
 * (its own MariaDB, stopped with SIGSTOP): an append fails within the
 * configured timeout, ping never waits behind it, async appends over three
 * writers all fail within about one timeout, and after SIGCONT the same
 * handles append again.
 */
#include <dirent.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>

#include "check.h"
#include "core/err.h"
#include "store/store.h"
#include "store_proxy.h"
#include "store_util.h"

#define TIMEOUT_S 2 /* ?timeout= of the proxied store URL */
#define NEV       8 /* events per case */

/* --- checking what was stored ------------------------------------------------------------------
 */

/* Runs a one-number query on the test database directly (not through the proxy). */
static long long db_count(const struct tu_db *d, const char *sql)
{
    MYSQL *c = tu_mysql_connect(d->url);
    long long v;

    CHECK_EQ(mysql_select_db(c, d->name), 0);
    v = tu_mysql_number(c, sql, 0);
    mysql_close(c);
    return v;
}

struct outcome {
    int done, err, unknown;
    char id[HW_ID_LEN + 1];
    char body[64];
};

static void on_done(void *arg, int err, const struct hw_store_result *res)
{
    struct outcome *o = arg;

    o->done = 1;
    o->err = err;
    if (res) {
        snprintf(o->id, sizeof(o->id), "%s", res->id);
        o->unknown = res->unknown;
    }
}

/*
 * The promises: appended means stored once under that id; HW_EUNAVAIL
 * carries the id and is stored at most once (under that id), and not at
 * all when it says the outcome is known (unknown = 0); any other failure is
 * not stored; no body twice, nothing else stored.
 */
static void check_outcomes(const struct tu_db *d, struct outcome *o, int n, int *ok, int *unknown)
{
    char sql[256];
    long long total = 0;

    *ok = *unknown = 0;
    for (int i = 0; i < n; i++) {
        long long rows, same;

        snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM hookwire_events WHERE body = '%s'",
                 o[i].body);
        rows = db_count(d, sql);
        snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM hookwire_events WHERE id = '%s'", o[i].id);
        same = o[i].id[0] ? db_count(d, sql) : 0;
        total += rows;
        CHECK(rows <= 1);
        if (o[i].err == 0) {
            CHECK_EQ(rows, 1);
            CHECK_EQ(same, 1);
            (*ok)++;
        } else if (o[i].err == HW_EUNAVAIL) {
            CHECK_EQ(strlen(o[i].id), HW_ID_LEN);
            CHECK_EQ(rows, same);
            if (!o[i].unknown)
                CHECK_EQ(rows, 0);
            (*unknown)++;
        } else {
            CHECK_EQ(rows, 0);
        }
    }
    CHECK_EQ(db_count(d, "SELECT COUNT(*) FROM hookwire_events"), total);
}

static const char *fault_name(int f)
{
    return f == F_DROP_COMMIT_ANSWER  ? "COMMIT answer dropped"
           : f == F_CUT_MID_BATCH     ? "cut mid-batch"
           : f == F_CUT_BEFORE_COMMIT ? "cut before COMMIT"
           : f == F_TRICKLE_COMMIT    ? "COMMIT answer trickled"
                                      : "stalled after COMMIT";
}

/* Holds the store thread until the async appends are queued. */
static struct tu_gate gate;

/*
 * A fresh database with its schema made straight on the server, not
 * through the proxy (its DDL can outlast the short timeout on a loaded
 * machine, and the faults under test are in appends, not in migrations);
 * url gets the proxied URL of it with ?timeout=timeout_s.
 */
static void proxied_db(const char *server_url, struct tu_db *d, char *url, size_t cap,
                       int timeout_s)
{
    struct hw_store_url u;
    struct hw_store *s;

    tu_db_fresh(d, server_url);
    CHECK_EQ(hw_store_open(d->url, NULL, &s), 0);
    hw_store_close(s);
    CHECK_EQ(hw_store_url_parse(d->url, &u), 0);
    snprintf(url, cap, "mysql://%s:%s@127.0.0.1:%d/%s?timeout=%d", u.user,
             u.password ? u.password : "", px.port, u.db, timeout_s);
    hw_store_url_cleanup(&u);
}

static void run_case(const char *server_url, int fault, int async, unsigned writers)
{
    struct outcome o[NEV];
    struct hw_store_event ev;
    struct hw_store_result r;
    struct hw_store *s;
    struct tu_wake w;
    struct tu_db d;
    char url[2048], key[64];
    int64_t t0, deadline;
    int ok, unknown, err;

    proxied_db(server_url, &d, url, sizeof(url), TIMEOUT_S);
    tu_wake_init(&w);
    CHECK_EQ(hw_store_open(
                 url,
                 &(struct hw_store_opts){ .wake = tu_wake_fn, .wake_arg = &w, .writers = writers },
                 &s),
             0);
    CHECK_EQ(hw_store_writers(s), writers ? writers : 1);
    memset(o, 0, sizeof(o));
    /*
     * Async: a job holds the store threads until all NEV appends are queued,
     * so that they go as one batch, one INSERT of NEV rows: the cut
     * falls in that statement, or just before its COMMIT. With two writers
     * the batch runs on a writer's own connection, which settles it.
     */
    if (async)
        tu_gate_hold(s, &gate);
    arm(fault, 1);
    px.multi_prepares = 0;
    t0 = tu_now_ms();
    for (int i = 0; i < NEV; i++) {
        snprintf(o[i].body, sizeof(o[i].body), "f%d-a%d-%d", fault, async, i);
        snprintf(key, sizeof(key), "key-%d", i);
        tu_event(&ev, "fault", o[i].body);
        ev.dedup_key = i % 2 ? key : NULL; /* with and without a dedup key */
        if (async) {
            CHECK_EQ(hw_store_append_async(s, &ev, on_done, &o[i]), 0);
            continue;
        }
        err = hw_store_append(s, &ev, &r);
        o[i].done = 1;
        o[i].err = err;
        if (!err || err == HW_EUNAVAIL)
            snprintf(o[i].id, sizeof(o[i].id), "%s", r.id);
        o[i].unknown = r.unknown;
        CHECK(!err || err == HW_EUNAVAIL);
    }
    gate.open = 1;
    deadline = tu_now_ms() + 30000;
    for (int i = 0; i < NEV; i++) {
        while (!o[i].done) {
            tu_wake_poll(&w, s, 100);
            CHECK(tu_now_ms() < deadline);
        }
    }
    CHECK_EQ(px.fired, 1);
    /* The async batch was one multi-row statement (sync appends go one row at a time). */
    if (async)
        CHECK(px.multi_prepares >= 1);
    check_outcomes(&d, o, NEV, &ok, &unknown);
    fprintf(stderr,
            "    %s, %s, %u writer%s: %d appended, %d unknown (HW_EUNAVAIL with id), %lld ms\n",
            fault_name(fault), async ? "async" : "sync", hw_store_writers(s),
            hw_store_writers(s) == 1 ? "" : "s", ok, unknown, (long long)(tu_now_ms() - t0));
    /*
     * A lost answer, a cut connection or a commit whose answer never came
     * (the stall: the client times out and backs off) is settled on a new
     * connection: nothing is unknown.
     */
    CHECK_EQ(ok, NEV);
    /* The trickled answer was not waited out: the call was cut with bytes still to come. */
    if (fault == F_TRICKLE_COMMIT)
        CHECK_EQ(proxy_trickle_cut(5000), 1);
    /* The same handle carries on once the fault is over. */
    tu_event(&ev, "fault", "after");
    deadline = tu_now_ms() + 20000;
    while ((err = hw_store_append(s, &ev, &r)) != 0) {
        CHECK_EQ(err, HW_EUNAVAIL);
        CHECK(tu_now_ms() < deadline);
        tu_pause_ms(50);
    }
    px.fired = 0;
    hw_store_close(s);
    tu_wake_cleanup(&w);
    tu_db_drop(&d, server_url);
}

/* Polls completions until the test's condition holds, with a deadline. */
#define POLL_UNTIL(w, s, cond, ms)           \
    do {                                     \
        int64_t until_ = tu_now_ms() + (ms); \
        while (!(cond)) {                    \
            CHECK(tu_now_ms() < until_);     \
            tu_wake_poll((w), (s), 20);      \
        }                                    \
    } while (0)

static long g_seq; /* completions so far, in the order they ran */

struct ordered {
    struct outcome o;
    long seq;
};

static void on_ordered(void *arg, int err, const struct hw_store_result *res)
{
    struct ordered *x = arg;

    on_done(&x->o, err, res);
    x->seq = g_seq++;
}

/*
 * Two writers: the first batch's COMMIT reaches the server (which commits)
 * but its answer is held in the proxy; a second batch is meanwhile written
 * and committed on the other writer's connection (it is in the database
 * while the first writer still waits), yet no completion runs before the
 * first batch's: callbacks stay in submission order. Once the answer goes
 * through, every append is reported appended, once.
 */
static void test_overlap(const char *server_url)
{
    enum { K = 4 };
    struct ordered a = { 0 }, b[K];
    struct hw_store_event ev;
    struct hw_store *s;
    struct tu_wake w;
    struct tu_db d;
    char url[2048];
    struct outcome all[K + 1];
    int ok, unknown;

    fprintf(stderr, "  test_overlap\n");
    /* A long timeout: the held COMMIT must not time out while the test looks. */
    proxied_db(server_url, &d, url, sizeof(url), 30);
    tu_wake_init(&w);
    CHECK_EQ(
        hw_store_open(
            url, &(struct hw_store_opts){ .wake = tu_wake_fn, .wake_arg = &w, .writers = 2 }, &s),
        0);
    g_seq = 0;
    memset(b, 0, sizeof(b));
    arm(F_HOLD_COMMIT, 1);
    snprintf(a.o.body, sizeof(a.o.body), "overlap-a");
    tu_event(&ev, "overlap", a.o.body);
    CHECK_EQ(hw_store_append_async(s, &ev, on_ordered, &a), 0);
    POLL_UNTIL(&w, s, px.fired == 1, 20000); /* A's COMMIT is at the server, its answer held */
    for (int i = 0; i < K; i++) {
        snprintf(b[i].o.body, sizeof(b[i].o.body), "overlap-b%d", i);
        tu_event(&ev, "overlap", b[i].o.body);
        CHECK_EQ(hw_store_append_async(s, &ev, on_ordered, &b[i]), 0);
    }
    /* B's first batch commits on the other connection while A's answer is held. */
    POLL_UNTIL(&w, s,
               db_count(&d, "SELECT COUNT(*) FROM hookwire_events WHERE body LIKE 'overlap-b%'") >=
                   1,
               20000);
    CHECK_EQ(px.commits, 2);
    tu_wake_poll(&w, s, 100);
    CHECK_EQ(a.o.done, 0);
    CHECK_EQ(b[0].o.done, 0); /* committed, but its completion waits for A's */
    fprintf(stderr, "    a second batch committed while the first one's COMMIT answer was held\n");
    px.release = 1;
    POLL_UNTIL(&w, s, a.o.done && b[K - 1].o.done, 20000);
    CHECK_EQ(a.seq, 0);
    all[0] = a.o;
    for (int i = 0; i < K; i++) {
        CHECK_EQ(b[i].seq, i + 1);
        all[i + 1] = b[i].o;
    }
    check_outcomes(&d, all, K + 1, &ok, &unknown);
    CHECK_EQ(ok, K + 1);
    hw_store_close(s);
    tu_wake_cleanup(&w);
    tu_db_drop(&d, server_url);
}

/*
 * A store being opened through a fault: the server's greeting, and so the
 * login, trickle in (F_TRICKLE_GREETING: a hundred bytes, each within the
 * read timeout), its connection's first statements (the session's settings,
 * the durability check) trickle in (F_TRICKLE_FIRST), or, its schema being
 * current, the server stops
 * answering when the schema is read (F_HOLD_SCHEMA: no migration connection,
 * with its long timeout of minutes, is taken for a current schema). Either
 * way the open fails within the call deadline (four timeouts) instead of
 * waiting, and the same URL opens once the fault is over.
 */
static void test_open_faulted(const char *server_url, int fault)
{
    struct hw_store *s = NULL;
    struct tu_db d;
    char url[2048];
    int64_t t0;
    int err;

    proxied_db(server_url, &d, url, sizeof(url), TIMEOUT_S);
    arm(fault, 1);
    t0 = tu_now_ms();
    err = hw_store_open(url, NULL, &s);
    fprintf(stderr, "    open with %s: %s after %lld ms\n",
            fault == F_TRICKLE_GREETING ? "its greeting trickled"
            : fault == F_TRICKLE_FIRST  ? "its first answers trickled"
                                        : "the schema's answer held",
            hw_strerror(err), (long long)(tu_now_ms() - t0));
    CHECK_EQ(err, HW_EUNAVAIL);
    CHECK_EQ(px.fired, 1);
    if (fault == F_TRICKLE_FIRST || fault == F_TRICKLE_GREETING)
        CHECK_EQ(proxy_trickle_cut(5000), 1);
    CHECK(tu_now_ms() - t0 < (4 * TIMEOUT_S + 3) * 1000);
    px.release = 1;
    px.fired = 0;
    CHECK_EQ(hw_store_open(url, NULL, &s), 0);
    hw_store_close(s);
    tu_db_drop(&d, server_url);
}

static void test_proxy_faults(const char *server_url)
{
    struct hw_store_url u;

    CHECK_EQ(hw_store_url_parse(server_url, &u), 0);
    CHECK(u.port != 0);
    proxy_start((int)u.port, (TIMEOUT_S + 2) * 1000);
    hw_store_url_cleanup(&u);
    /* Sync, async with one writer, async with two. */
    for (int k = 0; k < 3; k++) {
        run_case(server_url, F_DROP_COMMIT_ANSWER, k > 0, k == 2 ? 2 : 0);
        run_case(server_url, F_CUT_MID_BATCH, k > 0, k == 2 ? 2 : 0);
        run_case(server_url, F_CUT_BEFORE_COMMIT, k > 0, k == 2 ? 2 : 0);
        run_case(server_url, F_STALL_COMMIT, k > 0, k == 2 ? 2 : 0);
    }
    run_case(server_url, F_TRICKLE_COMMIT, 0, 0);
    run_case(server_url, F_TRICKLE_COMMIT, 1, 2);
    test_open_faulted(server_url, F_TRICKLE_GREETING);
    test_open_faulted(server_url, F_TRICKLE_FIRST);
    test_open_faulted(server_url, F_HOLD_SCHEMA);
    test_overlap(server_url);
    proxy_stop();
}

/* --- a hung server --------------------------------------------------------------------------- */

/* Appends in a loop on another thread, noting when each call began. */
struct bg {
    struct hw_store *s;
    _Atomic int stop, in_call;
    _Atomic int64_t call_start;
};

static void *bg_append(void *arg)
{
    struct bg *b = arg;
    struct hw_store_event ev;
    struct hw_store_result r;

    tu_event(&ev, "hung", "from another thread");
    while (!b->stop) {
        b->call_start = tu_now_ms();
        b->in_call = 1;
        if (hw_store_append(b->s, &ev, &r) != HW_EUNAVAIL)
            abort(); /* the server is stopped the whole time */
        b->in_call = 0;
        tu_pause_ms(5); /* fails fast while backing off: no need to spin */
    }
    return NULL;
}

/*
 * SIGSTOP takes effect when each of the server's threads is next scheduled:
 * on a busy machine one may still answer a query sent right after kill().
 * Waits (5 s at most) until every thread of pid shows state T.
 */
static void wait_stopped(pid_t pid)
{
    int64_t deadline = tu_now_ms() + 5000;
    char path[64];

    snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
    for (;;) {
        DIR *d = opendir(path);
        struct dirent *e;
        int running = 0;

        CHECK(d != NULL);
        while ((e = readdir(d))) {
            char stat[600], buf[512], *p;
            FILE *f;

            if (e->d_name[0] == '.')
                continue;
            snprintf(stat, sizeof(stat), "%s/%s/stat", path, e->d_name);
            f = fopen(stat, "r");
            if (!f)
                continue; /* the thread ended */
            p = fgets(buf, sizeof(buf), f) ? strrchr(buf, ')') : NULL;
            fclose(f);
            if (p && p[1] == ' ' && p[2] != 'T' && p[2] != 't')
                running = 1;
        }
        closedir(d);
        if (!running)
            return;
        CHECK(tu_now_ms() < deadline);
        tu_pause_ms(2);
    }
}

/* One async append on as; returns its outcome (waits up to 30 s for it). */
static int async_one(struct hw_store *as, struct tu_wake *aw, const char *body)
{
    struct outcome o = { 0 };
    struct hw_store_event ev;
    int64_t deadline = tu_now_ms() + 30000;

    tu_event(&ev, "hung", body);
    CHECK_EQ(hw_store_append_async(as, &ev, on_done, &o), 0);
    while (!o.done) {
        CHECK(tu_now_ms() < deadline);
        tu_wake_poll(aw, as, 50);
    }
    return o.err;
}

/*
 * Async appends over three writers on the hung server: the first fails
 * within about the timeout; the writer that met it backs off and the other
 * writers fail theirs at once instead of each waiting out the timeout on
 * its own connection, so the ones after it all fail fast.
 */
static void hung_writers(struct hw_store *as, struct tu_wake *aw)
{
    int64_t t0 = tu_now_ms(), took;

    CHECK_EQ(async_one(as, aw, "async while stopped"), HW_EUNAVAIL);
    took = tu_now_ms() - t0;
    CHECK(took < TIMEOUT_S * 1000 + 1000);
    t0 = tu_now_ms();
    for (int i = 0; i < 6; i++)
        CHECK_EQ(async_one(as, aw, "async while stopped, after"), HW_EUNAVAIL);
    fprintf(stderr,
            "    async, 3 writers: the first append failed after %lld ms, six more in %lld ms\n",
            (long long)took, (long long)(tu_now_ms() - t0));
    CHECK(tu_now_ms() - t0 < 1000);
}

static void test_hung_server(void)
{
    struct hw_store_event ev, *got;
    struct hw_store_result r;
    struct hw_store *s, *as;
    struct tu_wake aw;
    struct bg b = { 0 };
    char sock[600];
    MYSQL *root;
    pthread_t th;
    char dir[512], url[2048] = "", full[2100], hung_id[HW_ID_LEN + 1];
    int64_t t0, took, deadline;
    int err, tries = 0;
    pid_t pid;

    snprintf(dir, sizeof(dir), "%s/hung-mariadb", tu_dir);
    signal(SIGABRT, tu_stop_server_on_abort);
    tu_mariadb("start", dir, url, sizeof(url));
    CHECK(url[0] != '\0' && tu_server_pid > 0);
    pid = tu_server_pid;
    snprintf(full, sizeof(full), "%s?timeout=%d", url, TIMEOUT_S);
    CHECK_EQ(hw_store_open(full, NULL, &s), 0);
    tu_event(&ev, "hung", "before");
    CHECK_EQ(hw_store_append(s, &ev, &r), 0);
    tu_wake_init(&aw);
    CHECK_EQ(hw_store_open(
                 full, &(struct hw_store_opts){ .wake = tu_wake_fn, .wake_arg = &aw, .writers = 3 },
                 &as),
             0);
    CHECK_EQ(async_one(as, &aw, "async before"), 0);

    CHECK_EQ(kill(pid, SIGSTOP), 0);
    wait_stopped(pid);
    tu_event(&ev, "hung", "while stopped");
    t0 = tu_now_ms();
    err = hw_store_append(s, &ev, &r);
    took = tu_now_ms() - t0;
    fprintf(stderr, "    append with mariadbd stopped: %s after %lld ms (timeout %d s)\n",
            hw_strerror(err), (long long)took, TIMEOUT_S);
    CHECK_EQ(err, HW_EUNAVAIL);
    CHECK(took < TIMEOUT_S * 1000 + 1000);
    CHECK_EQ(strlen(r.id), HW_ID_LEN); /* the id it was given */
    /* Its INSERT got no answer, so no COMMIT went: surely not stored (checked below). */
    CHECK_EQ(r.unknown, 0);
    snprintf(hung_id, sizeof(hung_id), "%s", r.id);
    /* Backing off: the next calls fail at once instead of waiting the timeout again. */
    t0 = tu_now_ms();
    CHECK_EQ(hw_store_append(s, &ev, &r), HW_EUNAVAIL);
    CHECK(tu_now_ms() - t0 < 200);
    hung_writers(as, &aw);

    /*
     * A call stuck on the hung server (here: a reconnection attempt once the
     * back-off ran out) does not make ping wait: it answers from the last state.
     */
    b.s = s;
    CHECK_EQ(pthread_create(&th, NULL, bg_append, &b), 0);
    deadline = tu_now_ms() + 30000;
    while (!(b.in_call && tu_now_ms() - b.call_start > 100)) {
        CHECK(tu_now_ms() < deadline);
        tu_pause_ms(5);
    }
    t0 = tu_now_ms();
    CHECK_EQ(hw_store_ping(s), HW_EUNAVAIL);
    took = tu_now_ms() - t0;
    fprintf(stderr, "    ping while another call waits on the server: %lld ms\n", (long long)took);
    CHECK(took < 200);
    b.stop = 1;
    pthread_join(th, NULL);

    CHECK_EQ(kill(pid, SIGCONT), 0);
    tu_event(&ev, "hung", "after");
    deadline = tu_now_ms() + 30000;
    while ((err = hw_store_append(s, &ev, &r)) != 0) {
        CHECK_EQ(err, HW_EUNAVAIL);
        CHECK(tu_now_ms() < deadline);
        tries++;
        tu_pause_ms(50);
    }
    fprintf(stderr, "    after SIGCONT: appended again after %d refusals, same handle\n", tries);
    CHECK_EQ(hw_store_ping(s), 0);
    /* The append refused with unknown = 0 was not stored: its transaction never committed. */
    err = hw_store_get(s, hung_id, &got);
    CHECK_EQ(err, HW_ENOTFOUND);
    if (!err)
        hw_store_event_free(got);
    CHECK_EQ(hw_store_durable(s), 1);
    hw_store_close(s);
    /* The writers' handle recovers too: appends go through again, whichever writer takes them. */
    deadline = tu_now_ms() + 30000;
    tries = 0;
    for (int ok = 0; ok < 6;) {
        err = async_one(as, &aw, "async after");
        if (err == 0) {
            ok++;
            continue;
        }
        CHECK_EQ(err, HW_EUNAVAIL);
        CHECK(tu_now_ms() < deadline);
        tries++;
        tu_pause_ms(50);
    }
    fprintf(stderr, "    async, 3 writers: appending again after %d refusals\n", tries);
    hw_store_close(as);
    tu_wake_cleanup(&aw);

    /* A server that does not flush its log at each commit is reported not durable. */
    snprintf(sock, sizeof(sock), "%s/mysqld.sock", dir);
    root = mysql_init(NULL);
    CHECK(root != NULL);
    CHECK(mysql_real_connect(root, NULL, "root", NULL, NULL, 0, sock, 0) != NULL);
    CHECK_EQ(mysql_query(root, "SET GLOBAL innodb_flush_log_at_trx_commit = 2"), 0);
    CHECK_EQ(hw_store_open(full, NULL, &s), 0);
    CHECK_EQ(hw_store_durable(s), 0);
    hw_store_close(s);
    CHECK_EQ(mysql_query(root, "SET GLOBAL innodb_flush_log_at_trx_commit = 1"), 0);
    mysql_close(root);
    tu_mariadb("stop", dir, NULL, 0);
    signal(SIGABRT, SIG_DFL);
}

int main(void)
{
    const char *mysql_url = tu_mysql_url();

    if (!mysql_url)
        return 0; /* MySQL only; tu_mysql_url() said why it may be skipped */
    tu_init_dir();
    signal(SIGPIPE, SIG_IGN);
    fprintf(stderr, "MySQL backend\n");
    fprintf(stderr, "  test_proxy_faults\n");
    test_proxy_faults(mysql_url);
    RUN(test_hung_server);
    tu_remove_dir();
    return 0;
}
