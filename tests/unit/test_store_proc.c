/*
 * Event store tests that need more than one process or a failing database:
 * durability across SIGKILL, two processes claiming from one store (never
 * the same event; a dead holder's events return after the lease), MariaDB
 * stopped and restarted under a running client (a dedicated server started
 * with scripts/mariadb), and read-only, full or deleted SQLite files.
 */
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "check.h"
#include "core/err.h"
#include "store/store.h"
#include "store_util.h"

static const char *g_mysql;

/* --- durability ------------------------------------------------------------------------- */

struct child_ctx {
    int out_fd;
    int inflight;
};

static void durable_done(void *arg, int err, const struct hw_store_result *res)
{
    struct child_ctx *c = arg;

    c->inflight--;
    if (err)
        _exit(3);
    /* Written only now, after the commit: every id the parent reads is durable. */
    if (write(c->out_fd, res->id, HW_ID_LEN) != HW_ID_LEN)
        _exit(4);
}

static void durable_child(const char *url, int out_fd)
{
    struct child_ctx c = { .out_fd = out_fd };
    struct hw_store_event ev;
    struct hw_store *s;
    struct tu_wake w;
    char body[1024];

    tu_wake_init(&w);
    /* Two writers each (MySQL): four transactions in flight meet on the same keys. */
    if (hw_store_open(
            url, &(struct hw_store_opts){ .wake = tu_wake_fn, .wake_arg = &w, .writers = 2 }, &s))
        _exit(2);
    memset(body, 'd', sizeof(body));
    tu_event(&ev, "durable", "");
    ev.body = body;
    ev.body_len = sizeof(body);
    for (;;) {
        while (c.inflight < 32) {
            if (hw_store_append_async(s, &ev, durable_done, &c))
                _exit(5);
            c.inflight++;
        }
        tu_wake_poll(&w, s, 1000);
    }
}

static void test_durability_sigkill(void)
{
    enum { WANT = 300 };
    char(*ids)[HW_ID_LEN + 1] = calloc(100000, sizeof(*ids));
    struct hw_store_event *got;
    struct hw_store *s;
    struct tu_db d;
    int64_t deadline;
    size_t n = 0;
    int fd[2], status;
    pid_t pid;

    CHECK(ids != NULL);
    tu_db_fresh(&d, g_mysql);
    CHECK_EQ(hw_store_open(d.url, NULL, &s), 0); /* creates the schema */
    hw_store_close(s);
    CHECK_EQ(pipe(fd), 0);
    pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        close(fd[0]);
        durable_child(d.url, fd[1]);
    }
    close(fd[1]);
    deadline = tu_now_ms() + 60000;
    while (n < WANT) {
        CHECK_EQ(read(fd[0], ids[n], HW_ID_LEN), HW_ID_LEN);
        n++;
        CHECK(tu_now_ms() < deadline);
    }
    /* Killed while it has further appends in flight. */
    CHECK_EQ(kill(pid, SIGKILL), 0);
    CHECK_EQ(waitpid(pid, &status, 0), pid);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    /* Completions reported before the kill still sit in the pipe. */
    while (n < 100000 && read(fd[0], ids[n], HW_ID_LEN) == HW_ID_LEN)
        n++;
    close(fd[0]);

    CHECK_EQ(hw_store_open(d.url, NULL, &s), 0);
    for (size_t i = 0; i < n; i++) {
        CHECK_EQ(hw_store_get(s, ids[i], &got), 0);
        CHECK_EQ(got->body_len, 1024);
        hw_store_event_free(got);
    }
    fprintf(stderr, "    %zu completed appends all found after SIGKILL\n", n);
    hw_store_close(s);
    tu_db_drop(&d, g_mysql);
    free(ids);
}

/* --- claims across processes -------------------------------------------------------------- */

struct claim_rec {
    char id[HW_ID_LEN];
    char who;
    int64_t lease_until_ms;
};

/* Claims in small batches until nothing is left, reporting and delivering each event. */
static void claim_child(const char *url, int go_fd, int out_fd, char who)
{
    struct hw_store_attempt a = { .http_status = 200 };
    struct hw_store_events l;
    struct hw_store *s;
    char c;

    if (hw_store_open(url, NULL, &s))
        _exit(2);
    if (read(go_fd, &c, 1) < 0) /* both start together when the parent closes the pipe */
        _exit(3);
    for (;;) {
        if (hw_store_claim(s, "race", 60000, 3, 0, &l))
            _exit(4);
        if (l.n == 0)
            break;
        /* Delivering takes a moment, outside any transaction: the other claimer gets a turn. */
        tu_pause_ms(2);
        for (size_t i = 0; i < l.n; i++) {
            struct claim_rec r = { .who = who, .lease_until_ms = l.v[i]->lease_until_ms };
            memcpy(r.id, l.v[i]->id, HW_ID_LEN);
            if (write(out_fd, &r, sizeof(r)) != sizeof(r))
                _exit(5);
            a.at_ms = tu_now_ms();
            if (hw_store_record_attempt(s, l.v[i]->id, l.v[i]->lease, &a, HW_STORE_DELIVERED, 0))
                _exit(6);
        }
        hw_store_events_cleanup(&l);
    }
    hw_store_close(s);
    _exit(0);
}

static int cmp_rec(const void *a, const void *b)
{
    return memcmp(((const struct claim_rec *)a)->id, ((const struct claim_rec *)b)->id, HW_ID_LEN);
}

static void test_two_claimers(void)
{
    enum { M = 300 };
    struct claim_rec recs[M + 10];
    struct hw_store_event ev;
    struct hw_store_result r;
    struct hw_store *s;
    struct tu_db d;
    int go[2], out[2], status, by_a = 0;
    size_t n = 0;
    pid_t pids[2];

    tu_db_fresh(&d, g_mysql);
    CHECK_EQ(hw_store_open(d.url, NULL, &s), 0);
    tu_event(&ev, "race", "claim me");
    for (int i = 0; i < M; i++)
        CHECK_EQ(hw_store_append(s, &ev, &r), 0);
    CHECK_EQ(pipe(go), 0);
    CHECK_EQ(pipe(out), 0);
    for (int i = 0; i < 2; i++) {
        pids[i] = fork();
        CHECK(pids[i] >= 0);
        if (pids[i] == 0) {
            close(go[1]);
            close(out[0]);
            claim_child(d.url, go[0], out[1], i ? 'B' : 'A');
        }
    }
    close(go[0]);
    close(out[1]);
    close(go[1]);
    while (n < M + 10 && read(out[0], &recs[n], sizeof(recs[n])) == sizeof(recs[n]))
        n++;
    close(out[0]);
    for (int i = 0; i < 2; i++) {
        CHECK_EQ(waitpid(pids[i], &status, 0), pids[i]);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }

    /* Every event was claimed exactly once between the two. */
    CHECK_EQ(n, M);
    qsort(recs, n, sizeof(recs[0]), cmp_rec);
    for (size_t i = 0; i < n; i++) {
        if (i)
            CHECK(memcmp(recs[i - 1].id, recs[i].id, HW_ID_LEN) != 0);
        by_a += recs[i].who == 'A';
    }
    fprintf(stderr, "    %d claimed by A, %d by B, none twice\n", by_a, M - by_a);
    CHECK(by_a > 0 && by_a < M);
    hw_store_close(s);
    tu_db_drop(&d, g_mysql);
}

/* Claims five events with a short lease, reports them, then waits to be killed. */
static void lease_child(const char *url, int out_fd, int lease_ms)
{
    struct hw_store_events l;
    struct hw_store *s;

    if (hw_store_open(url, NULL, &s) || hw_store_claim(s, "lease", lease_ms, 5, 0, &l) || l.n != 5)
        _exit(2);
    for (size_t i = 0; i < l.n; i++) {
        struct claim_rec r = { .who = 'C', .lease_until_ms = l.v[i]->lease_until_ms };
        memcpy(r.id, l.v[i]->id, HW_ID_LEN);
        if (write(out_fd, &r, sizeof(r)) != sizeof(r))
            _exit(3);
    }
    for (;;)
        pause();
}

static int has_id(const struct claim_rec *recs, size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (memcmp(recs[i].id, id, HW_ID_LEN) == 0)
            return 1;
    return 0;
}

static void test_lease_expiry(void)
{
    /* Long enough that a loaded machine still claims the other five inside it. */
    const int lease_ms = 5000;
    struct claim_rec recs[5];
    struct hw_store_events l;
    struct hw_store_event ev;
    struct hw_store_result r;
    struct hw_store *s;
    struct tu_db d;
    int out[2], status;
    int64_t until = 0;
    pid_t pid;

    tu_db_fresh(&d, g_mysql);
    CHECK_EQ(hw_store_open(d.url, NULL, &s), 0);
    tu_event(&ev, "lease", "held by a process that dies");
    for (int i = 0; i < 10; i++)
        CHECK_EQ(hw_store_append(s, &ev, &r), 0);
    CHECK_EQ(pipe(out), 0);
    pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        close(out[0]);
        lease_child(d.url, out[1], lease_ms);
    }
    close(out[1]);
    for (int i = 0; i < 5; i++) {
        CHECK_EQ(read(out[0], &recs[i], sizeof(recs[i])), sizeof(recs[i]));
        if (recs[i].lease_until_ms > until)
            until = recs[i].lease_until_ms;
    }
    close(out[0]);
    CHECK_EQ(kill(pid, SIGKILL), 0);
    CHECK_EQ(waitpid(pid, &status, 0), pid);

    /* While the dead holder's leases run, only the other five are claimable. */
    CHECK_EQ(hw_store_claim(s, "lease", 60000, 10, 0, &l), 0);
    CHECK(tu_now_ms() < until); /* the check above ran inside the lease */
    CHECK_EQ(l.n, 5);
    for (size_t i = 0; i < l.n; i++)
        CHECK(!has_id(recs, 5, l.v[i]->id));
    hw_store_events_cleanup(&l);

    /* After the lease expires they come back, all five, and not before. */
    tu_claim_when_due(s, "lease", 10, tu_now_ms() + 20000, &l);
    CHECK(tu_now_ms() >= until);
    CHECK_EQ(l.n, 5);
    for (size_t i = 0; i < l.n; i++)
        CHECK(has_id(recs, 5, l.v[i]->id));
    hw_store_events_cleanup(&l);
    hw_store_close(s);
    tu_db_drop(&d, g_mysql);
}

/* --- two appenders, overlapping keys in opposite orders ------------------------------------- */

#define DEDUP_N 10000

struct dedup_ctx {
    int inflight, ok, dup, failed;
};

static void dedup_done(void *arg, int err, const struct hw_store_result *res)
{
    struct dedup_ctx *c = arg;

    c->inflight--;
    if (err)
        c->failed++;
    else if (res->duplicate)
        c->dup++;
    else
        c->ok++;
}

/* Appends keys 0..N-1 (or N-1..0) with up to 256 in flight; writes ok, dup, failed to out_fd. */
static void dedup_child(const char *url, int reverse, int go_fd, int out_fd)
{
    struct dedup_ctx c = { 0 };
    struct hw_store_event ev;
    struct hw_store *s;
    struct tu_wake w;
    char key[32], body[32], go;
    int res[3];

    tu_wake_init(&w);
    /* Two writers each (MySQL): four transactions in flight meet on the same keys. */
    if (hw_store_open(
            url, &(struct hw_store_opts){ .wake = tu_wake_fn, .wake_arg = &w, .writers = 2 }, &s))
        _exit(2);
    if (read(go_fd, &go, 1) < 0)
        _exit(3);
    for (int i = 0; i < DEDUP_N; i++) {
        int k = reverse ? DEDUP_N - 1 - i : i;

        snprintf(key, sizeof(key), "delivery-%05d", k);
        snprintf(body, sizeof(body), "{\"n\":%d}", k);
        tu_event(&ev, "race", body);
        ev.dedup_key = key;
        while (c.inflight >= 256)
            tu_wake_poll(&w, s, 1000);
        if (hw_store_append_async(s, &ev, dedup_done, &c))
            _exit(4);
        c.inflight++;
    }
    while (c.inflight)
        tu_wake_poll(&w, s, 1000);
    hw_store_close(s);
    res[0] = c.ok;
    res[1] = c.dup;
    res[2] = c.failed;
    if (write(out_fd, res, sizeof(res)) != sizeof(res))
        _exit(5);
    _exit(0);
}

/*
 * Two processes, each with two writers on MySQL, append the same 10,000
 * dedup keys in opposite orders, so their batches collide (on MySQL:
 * deadlocks). Every append succeeds or is a duplicate, none fails, and the
 * store holds 10,000 distinct events.
 */
static void test_dedup_race(void)
{
    struct hw_store_summary sum;
    struct hw_store *s;
    struct tu_db d;
    int go[2], out[2], status, res[2][3];
    pid_t pids[2];

    tu_db_fresh(&d, g_mysql);
    CHECK_EQ(hw_store_open(d.url, NULL, &s), 0);
    CHECK_EQ(pipe(go), 0);
    CHECK_EQ(pipe(out), 0);
    for (int i = 0; i < 2; i++) {
        pids[i] = fork();
        CHECK(pids[i] >= 0);
        if (pids[i] == 0) {
            close(go[1]);
            close(out[0]);
            dedup_child(d.url, i, go[0], out[1]);
        }
    }
    close(go[0]);
    close(out[1]);
    close(go[1]); /* both start together */
    for (int i = 0; i < 2; i++) {
        CHECK_EQ(waitpid(pids[i], &status, 0), pids[i]);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    CHECK_EQ(read(out[0], res[0], sizeof(res[0])), sizeof(res[0]));
    CHECK_EQ(read(out[0], res[1], sizeof(res[1])), sizeof(res[1]));
    close(out[0]);
    fprintf(stderr,
            "    A: %d new, %d duplicates, %d failed; B: %d new, %d duplicates, %d failed\n",
            res[0][0], res[0][1], res[0][2], res[1][0], res[1][1], res[1][2]);
    CHECK_EQ(res[0][2], 0);
    CHECK_EQ(res[1][2], 0);
    CHECK_EQ(res[0][0] + res[0][1], DEDUP_N);
    CHECK_EQ(res[1][0] + res[1][1], DEDUP_N);
    CHECK_EQ(res[0][0] + res[1][0], DEDUP_N); /* each key new exactly once */
    CHECK_EQ(hw_store_summarize(s, 0, &sum), 0);
    CHECK_EQ(sum.by_status[HW_STORE_PENDING], DEDUP_N);
    CHECK_EQ(sum.by_status[HW_STORE_DELIVERED] + sum.by_status[HW_STORE_FAILED], 0);
    hw_store_summary_cleanup(&sum);
    hw_store_close(s);
    tu_db_drop(&d, g_mysql);
}

/* --- MariaDB outage ------------------------------------------------------------------------ */

struct outcome {
    int calls, err;
};

static void on_outcome(void *arg, int err, const struct hw_store_result *res)
{
    struct outcome *o = arg;

    o->calls++;
    o->err = err;
}

static void test_mysql_outage(void)
{
    struct hw_store_event ev, *got;
    struct hw_store_result r;
    struct hw_store_events l;
    struct hw_store_filter f = { 0 };
    struct tu_wake w;
    struct hw_store *s;
    char dir[512], url[2048] = "", first[HW_ID_LEN + 1];
    int64_t t0, deadline;
    int err, tries = 0;
    struct outcome dn = { 0 };

    snprintf(dir, sizeof(dir), "%s/outage-mariadb", tu_dir);
    signal(SIGABRT, tu_stop_server_on_abort);
    tu_mariadb("start", dir, url, sizeof(url));
    CHECK(url[0] != '\0');

    tu_wake_init(&w);
    /* Three writers: each has a connection of its own to lose and to rebuild. */
    CHECK_EQ(
        hw_store_open(
            url, &(struct hw_store_opts){ .wake = tu_wake_fn, .wake_arg = &w, .writers = 3 }, &s),
        0);
    CHECK_EQ(hw_store_writers(s), 3);
    tu_event(&ev, "outage", "before");
    CHECK_EQ(hw_store_append(s, &ev, &r), 0);
    memcpy(first, r.id, sizeof(first));

    tu_mariadb("stop", dir, NULL, 0);

    /* Down: appends fail with "unavailable", the first within the connect timeout... */
    t0 = tu_now_ms();
    CHECK_EQ(hw_store_append(s, &ev, &r), HW_EUNAVAIL);
    CHECK(tu_now_ms() - t0 < 5000);
    /* ...and the following ones at once, without waiting on the network. */
    t0 = tu_now_ms();
    CHECK_EQ(hw_store_append(s, &ev, &r), HW_EUNAVAIL);
    CHECK_EQ(hw_store_append(s, &ev, &r), HW_EUNAVAIL);
    CHECK(tu_now_ms() - t0 < 500);
    for (int i = 0; i < 6; i++) {
        dn.calls = 0;
        CHECK_EQ(hw_store_append_async(s, &ev, on_outcome, &dn), 0);
        deadline = tu_now_ms() + 10000;
        while (!dn.calls) {
            tu_wake_poll(&w, s, 200);
            CHECK(tu_now_ms() < deadline);
        }
        CHECK_EQ(dn.err, HW_EUNAVAIL);
    }
    CHECK_EQ(hw_store_ping(s), HW_EUNAVAIL);
    CHECK_EQ(hw_store_list(s, &f, &l), HW_EUNAVAIL);

    /* Back: the same handle reconnects by itself. */
    tu_mariadb("start", dir, NULL, 0);
    deadline = tu_now_ms() + 30000;
    while ((err = hw_store_append(s, &ev, &r)) != 0) {
        CHECK_EQ(err, HW_EUNAVAIL);
        CHECK(tu_now_ms() < deadline);
        tries++;
        tu_pause_ms(50);
    }
    fprintf(stderr, "    reconnected after %d failed appends\n", tries);
    /* Async appends recover too, whichever writer takes them (a writer may refuse once more). */
    for (int ok = 0; ok < 6;) {
        dn.calls = 0;
        CHECK_EQ(hw_store_append_async(s, &ev, on_outcome, &dn), 0);
        while (!dn.calls) {
            tu_wake_poll(&w, s, 200);
            CHECK(tu_now_ms() < deadline);
        }
        if (dn.err == 0) {
            ok++;
            continue;
        }
        CHECK_EQ(dn.err, HW_EUNAVAIL);
        CHECK(tu_now_ms() < deadline);
        tu_pause_ms(50);
    }
    CHECK_EQ(hw_store_get(s, first, &got), 0);
    CHECK_STR(got->body, "before");
    hw_store_event_free(got);
    CHECK_EQ(hw_store_ping(s), 0);
    hw_store_close(s);
    tu_wake_cleanup(&w);
    tu_mariadb("stop", dir, NULL, 0);
    signal(SIGABRT, SIG_DFL);
}

/* --- SQLite file errors -------------------------------------------------------------------- */

/* Runs fn in a child process and requires it to exit 0 (used to drop privileges or limits). */
static void in_child(void (*fn)(const char *), const char *arg)
{
    int status;
    pid_t pid = fork();

    CHECK(pid >= 0);
    if (pid == 0) {
        fn(arg);
        _exit(0);
    }
    CHECK_EQ(waitpid(pid, &status, 0), pid);
    CHECK(WIFEXITED(status));
    CHECK_EQ(WEXITSTATUS(status), 0);
}

static void open_read_only(const char *url)
{
    struct hw_store *s = NULL;

    /* root writes through any mode bits, so become nobody to meet a read-only file. */
    if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0))
        _exit(10);
    if (hw_store_open(url, NULL, &s) != -EROFS)
        _exit(11);
}

/* A SQLite store at tu_dir/name/events.db holding one event; fills dir, path and url. */
static struct hw_store *sqlite_in_dir(const char *name, char dir[512], char path[600],
                                      char url[700])
{
    struct hw_store_event ev;
    struct hw_store_result r;
    struct hw_store *s;

    snprintf(dir, 512, "%s/%s", tu_dir, name);
    CHECK_EQ(mkdir(dir, 0755), 0);
    snprintf(path, 600, "%s/events.db", dir);
    snprintf(url, 700, "sqlite:%s", path);
    CHECK_EQ(hw_store_open(url, NULL, &s), 0);
    tu_event(&ev, name, "before");
    CHECK_EQ(hw_store_append(s, &ev, &r), 0);
    return s;
}

static void test_sqlite_read_only(void)
{
    char dir[512], path[600], url[700];

    CHECK_EQ(chmod(tu_dir, 0755), 0);
    hw_store_close(sqlite_in_dir("ro", dir, path, url));
    CHECK_EQ(chmod(path, 0444), 0);
    CHECK_EQ(chmod(dir, 0555), 0);
    in_child(open_read_only, url);
    CHECK_EQ(chmod(dir, 0755), 0);
    CHECK_EQ(chmod(tu_dir, 0700), 0);
    unlink(path);
    rmdir(dir);
}

static void append_until_full(const char *url)
{
    struct rlimit lim = { .rlim_cur = 512 * 1024, .rlim_max = 512 * 1024 };
    static char body[16384];
    struct hw_store_event ev, *got;
    struct hw_store_result r, first;
    struct hw_store *s;
    int err = 0;

    /* The file-size limit makes the disk "full" for this process only. */
    signal(SIGXFSZ, SIG_IGN);
    if (setrlimit(RLIMIT_FSIZE, &lim) != 0 || hw_store_open(url, NULL, &s) != 0)
        _exit(10);
    memset(body, 'f', sizeof(body));
    tu_event(&ev, "full", "");
    ev.body = body;
    ev.body_len = sizeof(body);
    if (hw_store_append(s, &ev, &first) != 0)
        _exit(11);
    for (int i = 0; i < 100 && !err; i++)
        err = hw_store_append(s, &ev, &r);
    fprintf(stderr, "    full file: %s\n", hw_strerror(err));
    if (err != -ENOSPC && err != -EFBIG)
        _exit(12);
    /* What was committed before stays readable. */
    if (hw_store_get(s, first.id, &got) != 0 || got->body_len != sizeof(body))
        _exit(13);
    hw_store_event_free(got);
    hw_store_close(s);
}

static void test_sqlite_full(void)
{
    struct tu_db d;
    struct hw_store *s;

    tu_db_fresh(&d, NULL);
    CHECK_EQ(hw_store_open(d.url, NULL, &s), 0);
    hw_store_close(s);
    in_child(append_until_full, d.url);
    tu_db_drop(&d, NULL);
}

/*
 * The database file deleted while the store is open (its directory removed,
 * say): SQLite would go on writing to the nameless file, to be lost at exit.
 * Every write and ping fails instead; what was appended before was answered
 * while the file was there.
 */
static void test_sqlite_deleted(void)
{
    static const char *const ends[] = { "", "-wal", "-shm" };
    char dir[512], path[600], url[700];
    struct hw_store_event ev;
    struct hw_store_result r;
    struct hw_store *s = sqlite_in_dir("gone", dir, path, url);

    CHECK_EQ(hw_store_ping(s), 0);
    for (size_t i = 0; i < sizeof(ends) / sizeof(ends[0]); i++) {
        char f[700];

        snprintf(f, sizeof(f), "%s%s", path, ends[i]);
        unlink(f);
    }
    CHECK_EQ(rmdir(dir), 0);
    tu_event(&ev, "gone", "after");
    CHECK_EQ(hw_store_append(s, &ev, &r), -ENOENT);
    CHECK_EQ(hw_store_ping(s), -ENOENT);
    tu_event(&ev, "gone", "again");
    CHECK_EQ(hw_store_append(s, &ev, &r), -ENOENT);
    hw_store_close(s);
}

static void run_backend(const char *mysql_url)
{
    g_mysql = mysql_url;
    RUN(test_durability_sigkill);
    RUN(test_two_claimers);
    RUN(test_lease_expiry);
    RUN(test_dedup_race);
    if (mysql_url) {
        RUN(test_mysql_outage);
    } else {
        RUN(test_sqlite_read_only);
        RUN(test_sqlite_full);
        RUN(test_sqlite_deleted);
    }
}

int main(void)
{
    return tu_run_backends(run_backend);
}
