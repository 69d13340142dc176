/*
 * The event store's queries at scale, per store URL: fills a fresh store
 * with N events (default 1,000,000; received over the last 30 days, 10%
 * pending and due, 10% failed, the rest delivered), then times claiming the
 * next 100 due events (overall and for one source), listing "failed in the
 * last hour" and "failed, newest first", and a summary. Prints one Markdown
 * table; medians and p90 over -r runs of each query.
 *
 *   bench_store_scale [-n EVENTS] [-r RUNS] [-k] [-c] URL...
 *
 * -k keeps what the stores hold (filled by an earlier run) and only measures.
 * -c times the claims only (so that a server's CPU time and counters, read
 * around the run, are the claims' own); each claim row is followed by the
 * benchmark process's CPU time per claim on stderr.
 */
#include <errno.h>
#include <fcntl.h>
#include <mysql.h>
#include <poll.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "store/store.h"
#include "store/store_url.h"

#define SOURCES 8

static int64_t now_us(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

static int64_t wall_ms(void)
{
    struct timespec t;

    clock_gettime(CLOCK_REALTIME, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Runs SQL on the store's database directly (the bench sets statuses in bulk). */
static void raw_sql(const char *url, const char *sql)
{
    struct hw_store_url u;

    if (hw_store_url_parse(url, &u))
        exit(1);
    if (u.kind == HW_STORE_KIND_SQLITE) {
        sqlite3 *db;
        char *msg = NULL;

        if (sqlite3_open(u.path, &db) != SQLITE_OK ||
            sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
            fprintf(stderr, "bench_store_scale: %s: %s\n", sql, msg ? msg : "open failed");
            exit(1);
        }
        sqlite3_close(db);
    } else {
        MYSQL *c = mysql_init(NULL);

        if (!c || !mysql_real_connect(c, u.host, u.user, u.password, u.db, u.port, u.socket, 0) ||
            mysql_query(c, sql)) {
            fprintf(stderr, "bench_store_scale: %s: %s\n", sql, c ? mysql_error(c) : "init");
            exit(1);
        }
        mysql_close(c);
    }
    hw_store_url_cleanup(&u);
}

struct fill {
    struct hw_store *s;
    int wake[2];
    int inflight, errors;
};

static void on_done(void *arg, int err, const struct hw_store_result *res)
{
    struct fill *f = arg;

    f->inflight--;
    f->errors += err != 0;
}

static void wake_pipe(void *arg)
{
    struct fill *f = arg;
    char c = 1;

    if (write(f->wake[1], &c, 1) < 0 && errno != EAGAIN)
        abort();
}

static void poll_once(struct fill *f)
{
    struct pollfd p = { .fd = f->wake[0], .events = POLLIN };
    char buf[256];

    if (poll(&p, 1, 1000) > 0)
        while (read(f->wake[0], buf, sizeof(buf)) > 0)
            ;
    hw_store_poll_completions(f->s);
}

/* Appends n events with 256 in flight, received over the last 30 days in order. */
static void fill_store(const char *url, long n)
{
    static const char headers[] = "Content-Type: application/json\r\nX-Delivery: 1\r\n";
    static char body[256];
    struct fill f = { 0 };
    struct hw_store_event ev;
    char src[16];
    int64_t now = wall_ms(), span = 30LL * 24 * 3600 * 1000, t0 = now_us();
    char sql[512];
    long chunk = 100000;

    memset(body, 'b', sizeof(body));
    if (pipe(f.wake) != 0)
        exit(1);
    fcntl(f.wake[0], F_SETFL, O_NONBLOCK);
    fcntl(f.wake[1], F_SETFL, O_NONBLOCK);
    if (hw_store_open(url, &(struct hw_store_opts){ .wake = wake_pipe, .wake_arg = &f }, &f.s))
        exit(1);
    for (long i = 0; i < n; i++) {
        memset(&ev, 0, sizeof(ev));
        snprintf(src, sizeof(src), "src%ld", i % SOURCES);
        ev.source = src;
        ev.method = "POST";
        ev.path = "/hook";
        ev.headers = headers;
        ev.headers_len = sizeof(headers) - 1;
        ev.body = body;
        ev.body_len = sizeof(body);
        ev.received_ms = now - span + span * i / n;
        while (f.inflight >= 256)
            poll_once(&f);
        if (hw_store_append_async(f.s, &ev, on_done, &f))
            exit(1);
        f.inflight++;
    }
    while (f.inflight)
        poll_once(&f);
    hw_store_close(f.s);
    close(f.wake[0]);
    close(f.wake[1]);
    if (f.errors) {
        fprintf(stderr, "bench_store_scale: %d appends failed\n", f.errors);
        exit(1);
    }
    fprintf(stderr, "  %ld events appended in %.1f s\n", n, (double)(now_us() - t0) / 1e6);
    /* 10% stay pending (due since receipt), 10% failed, the rest delivered. */
    t0 = now_us();
    for (long lo = 0; lo <= n; lo += chunk) {
        snprintf(sql, sizeof(sql),
                 "UPDATE hookwire_events SET status = CASE WHEN seq %% 10 = 0 THEN 1 "
                 "WHEN seq %% 10 = 9 THEN 3 ELSE 2 END, attempts = CASE WHEN seq %% 10 = 0 "
                 "THEN 0 ELSE 1 END WHERE seq > %ld AND seq <= %ld",
                 lo, lo + chunk);
        raw_sql(url, sql);
    }
    raw_sql(url, strncmp(url, "sqlite:", 7) == 0 ? "ANALYZE" : "ANALYZE TABLE hookwire_events");
    fprintf(stderr, "  statuses set in %.1f s\n", (double)(now_us() - t0) / 1e6);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return x < y ? -1 : x > y;
}

static void row(const char *backend, const char *what, int64_t *us, int runs, size_t got)
{
    qsort(us, (size_t)runs, sizeof(*us), cmp_i64);
    printf("| %s | %s | %zu | %.2f | %.2f | %.2f |\n", backend, what, got,
           (double)us[runs / 2] / 1000, (double)us[runs * 9 / 10] / 1000,
           (double)us[runs - 1] / 1000);
}

/* The CPU time (user + system) this process has used, in microseconds. */
static int64_t cpu_us(void)
{
    struct rusage u;

    getrusage(RUSAGE_SELF, &u);
    return (int64_t)(u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1000000 + u.ru_utime.tv_usec +
           u.ru_stime.tv_usec;
}

static void measure(const char *url, int runs, int claims_only)
{
    const char *backend = strncmp(url, "sqlite:", 7) == 0 ? "SQLite" : "MariaDB";
    int64_t *us = calloc((size_t)runs, sizeof(*us)), t0;
    struct hw_store_events l;
    struct hw_store_filter f;
    struct hw_store_summary sum;
    struct hw_store *s;
    size_t got = 0;
    int64_t cpu0;

    if (!us || hw_store_open(url, NULL, &s))
        exit(1);
    cpu0 = cpu_us();
    for (int i = 0; i < runs; i++) {
        t0 = now_us();
        if (hw_store_claim(s, NULL, 600000, 100, 0, &l))
            exit(1);
        us[i] = now_us() - t0;
        got = l.n > got ? l.n : got;
        hw_store_events_cleanup(&l);
    }
    row(backend, "claim next 100 due", us, runs, got);
    fprintf(stderr, "  claim: %.0f us of CPU per claim in this process\n",
            (double)(cpu_us() - cpu0) / runs);
    got = 0;
    cpu0 = cpu_us();
    for (int i = 0; i < runs; i++) {
        t0 = now_us();
        if (hw_store_claim(s, "src3", 600000, 100, 0, &l))
            exit(1);
        us[i] = now_us() - t0;
        got = l.n > got ? l.n : got;
        hw_store_events_cleanup(&l);
    }
    row(backend, "claim next 100 due of one source", us, runs, got);
    fprintf(stderr, "  claim of one source: %.0f us of CPU per claim in this process\n",
            (double)(cpu_us() - cpu0) / runs);
    if (claims_only) {
        hw_store_close(s);
        free(us);
        return;
    }
    got = 0;
    for (int i = 0; i < runs; i++) {
        memset(&f, 0, sizeof(f));
        f.status = HW_STORE_FAILED;
        f.since_ms = wall_ms() - 3600 * 1000;
        t0 = now_us();
        if (hw_store_list(s, &f, &l))
            exit(1);
        us[i] = now_us() - t0;
        got = l.n > got ? l.n : got;
        hw_store_events_cleanup(&l);
    }
    row(backend, "list failed in the last hour", us, runs, got);
    for (int i = 0; i < runs; i++) {
        memset(&f, 0, sizeof(f));
        f.status = HW_STORE_FAILED;
        t0 = now_us();
        if (hw_store_list(s, &f, &l))
            exit(1);
        us[i] = now_us() - t0;
        got = l.n > got ? l.n : got;
        hw_store_events_cleanup(&l);
    }
    row(backend, "list failed, newest 100", us, runs, got);
    t0 = now_us();
    if (hw_store_summarize(s, 0, &sum))
        exit(1);
    us[0] = now_us() - t0;
    row(backend, "summary (counts by status and source)", us, 1,
        (size_t)(sum.by_status[1] + sum.by_status[2] + sum.by_status[3]));
    hw_store_summary_cleanup(&sum);
    hw_store_close(s);
    free(us);
}

int main(int argc, char **argv)
{
    long n = 1000000;
    int runs = 101, keep = 0, claims_only = 0, opt;

    while ((opt = getopt(argc, argv, "n:r:kc")) != -1) {
        char *end;
        long v;

        if (opt == 'k' || opt == 'c') {
            keep |= opt == 'k';
            claims_only |= opt == 'c';
            continue;
        }
        if (opt != 'n' && opt != 'r')
            return 2;
        v = strtol(optarg, &end, 10);
        if (*end || v <= 0 || v > 100000000) {
            fprintf(stderr, "bench_store_scale: bad number %s\n", optarg);
            return 2;
        }
        if (opt == 'n')
            n = v;
        else
            runs = (int)(v > 1000 ? 1000 : v);
    }
    if (optind >= argc) {
        fprintf(stderr, "usage: bench_store_scale [-n EVENTS] [-r RUNS] [-k] [-c] URL...\n");
        return 2;
    }
    hw_log_init("bench_store_scale");
    hw_log_set_level("warn");
    printf("| backend | query | rows | median ms | p90 ms | max ms |\n");
    printf("|---|---|---:|---:|---:|---:|\n");
    for (int u = optind; u < argc; u++) {
        fprintf(stderr, "%s\n", argv[u]);
        if (!keep)
            fill_store(argv[u], n);
        measure(argv[u], runs, claims_only);
        fflush(stdout);
    }
    return 0;
}
