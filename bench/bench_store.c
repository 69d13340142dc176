/*
 * Durable appends/s of 1 KiB events through the event store, per store URL:
 * the baseline of one INSERT + COMMIT per event (hw_store_append, one
 * submitter; with -c also several connections at once), then group commit
 * (hw_store_append_async from one event-loop thread keeping 1, 16 and 256
 * appends in flight). Configurations alternate over -r rounds so that drift
 * on a shared machine hits all of them alike; prints one Markdown table,
 * with this process's CPU time per append (submitters, store thread and,
 * for SQLite, the database work: a figure that load on the machine does not
 * move the way it moves the rates).
 *
 *   bench_store [-t SECONDS] [-r ROUNDS] [-c CONNECTIONS] [-w WRITERS] URL...
 *
 * -w sets hw_store_opts.writers for the group-commit rows (MySQL only).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "core/err.h"
#include "core/log.h"
#include "store/store.h"

#define BODY_LEN 1024

static const char headers[] = "Host: hooks.example.com\r\nContent-Type: application/json\r\n"
                              "User-Agent: bench\r\nX-Delivery: 1\r\n";
static char body[BODY_LEN];
static unsigned writers; /* -w: store threads of the group-commit rows (0: the default) */

static int64_t now_us(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

static void bench_event(struct hw_store_event *ev)
{
    memset(ev, 0, sizeof(*ev));
    ev->source = "bench";
    ev->method = "POST";
    ev->path = "/t/bench/hook";
    ev->headers = headers;
    ev->headers_len = sizeof(headers) - 1;
    ev->body = body;
    ev->body_len = sizeof(body);
}

/* Latencies of one run, in microseconds. */
struct lat {
    int64_t *v;
    size_t n, cap;
};

static void lat_add(struct lat *l, int64_t us)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 65536;
        int64_t *v = realloc(l->v, cap * sizeof(*v));
        if (!v) {
            fprintf(stderr, "bench_store: out of memory\n");
            exit(1);
        }
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = us;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return x < y ? -1 : x > y;
}

static double pct_ms(struct lat *l, double p)
{
    if (!l->n)
        return 0;
    return (double)l->v[(size_t)(p * (double)(l->n - 1))] / 1000.0;
}

/* One configuration's results, summed over rounds. */
struct result {
    struct lat lat;
    double rate[16]; /* appends/s of each round */
    int rounds;
    uint64_t appended, commits;
    int errors;
    int64_t cpu_us; /* this process's CPU time (user + system) over the rounds */
};

/* The CPU time this process has used (every thread: submitters, store thread, SQLite), in us. */
static int64_t cpu_us(void)
{
    struct rusage u;

    getrusage(RUSAGE_SELF, &u);
    return (int64_t)(u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1000000 + u.ru_utime.tv_usec +
           u.ru_stime.tv_usec;
}

static void result_add(struct result *r, struct lat *l, int64_t elapsed_us, int64_t cpu,
                       const struct hw_store_stats *st, int errors)
{
    r->cpu_us += cpu;
    if (r->rounds < 16)
        r->rate[r->rounds++] = (double)l->n * 1e6 / (double)elapsed_us;
    for (size_t i = 0; i < l->n; i++)
        lat_add(&r->lat, l->v[i]);
    r->appended += st ? st->appended : l->n;
    r->commits += st ? st->commits : l->n;
    r->errors += errors;
    l->n = 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

/* Prints the table row and returns the median appends/s; *mean_ms gets the mean latency. */
static double report(const char *backend, const char *mode, int submitters, struct result *r,
                     double *mean_ms)
{
    double sum = 0, median;

    qsort(r->lat.v, r->lat.n, sizeof(r->lat.v[0]), cmp_i64);
    qsort(r->rate, (size_t)r->rounds, sizeof(r->rate[0]), cmp_double);
    median = r->rounds ? r->rate[r->rounds / 2] : 0;
    for (size_t i = 0; i < r->lat.n; i++)
        sum += (double)r->lat.v[i];
    *mean_ms = r->lat.n ? sum / (double)r->lat.n / 1000.0 : 0;
    printf("| %s | %s | %d | %zu | %.0f | %.0f-%.0f | %.2f | %.2f | %.2f | %.1f | %.1f | %d |\n",
           backend, mode, submitters, r->lat.n, median, r->rate[0],
           r->rounds ? r->rate[r->rounds - 1] : 0, pct_ms(&r->lat, 0.5), *mean_ms,
           pct_ms(&r->lat, 0.99), r->commits ? (double)r->appended / (double)r->commits : 0,
           r->lat.n ? (double)r->cpu_us / (double)r->lat.n : 0, r->errors);
    fflush(stdout);
    return median;
}

/* Baseline: each append is its own INSERT + COMMIT on one connection. */
struct base_arg {
    const char *url;
    int64_t until_us;
    struct lat lat;
    int errors;
};

static void *baseline_thread(void *p)
{
    struct base_arg *a = p;
    struct hw_store_event ev;
    struct hw_store_result r;
    struct hw_store *s;

    if (hw_store_open(a->url, NULL, &s)) {
        a->errors = -1;
        return NULL;
    }
    bench_event(&ev);
    while (now_us() < a->until_us) {
        int64_t t0 = now_us();
        if (hw_store_append(s, &ev, &r))
            a->errors++;
        else
            lat_add(&a->lat, now_us() - t0);
    }
    hw_store_close(s);
    return NULL;
}

static void run_baseline(const char *url, int conns, int seconds, struct result *res)
{
    struct base_arg *a = calloc((size_t)conns, sizeof(*a));
    pthread_t *t = calloc((size_t)conns, sizeof(*t));
    struct lat all = { 0 };
    int64_t t0 = now_us(), cpu0 = cpu_us();
    int errors = 0;

    for (int i = 0; i < conns; i++) {
        a[i].url = url;
        a[i].until_us = t0 + (int64_t)seconds * 1000000;
        pthread_create(&t[i], NULL, baseline_thread, &a[i]);
    }
    for (int i = 0; i < conns; i++) {
        pthread_join(t[i], NULL);
        for (size_t j = 0; j < a[i].lat.n; j++)
            lat_add(&all, a[i].lat.v[j]);
        errors += a[i].errors;
        free(a[i].lat.v);
    }
    result_add(res, &all, now_us() - t0, cpu_us() - cpu0, NULL, errors);
    free(all.v);
    free(a);
    free(t);
}

/* Group commit: one loop thread keeps n appends in flight, like the relay's event loop. */
struct loop {
    struct hw_store *s;
    struct hw_store_event ev;
    struct lat lat;
    int64_t until_us;
    int inflight, errors;
    int wake[2];
};

struct slot {
    struct loop *l;
    int64_t t0;
};

static void on_done(void *arg, int err, const struct hw_store_result *res);

static void submit(struct slot *sl)
{
    sl->t0 = now_us();
    if (hw_store_append_async(sl->l->s, &sl->l->ev, on_done, sl) == 0)
        sl->l->inflight++;
    else
        sl->l->errors++;
}

static void on_done(void *arg, int err, const struct hw_store_result *res)
{
    struct slot *sl = arg;
    int64_t t = now_us();

    sl->l->inflight--;
    if (err)
        sl->l->errors++;
    else
        lat_add(&sl->l->lat, t - sl->t0);
    if (t < sl->l->until_us)
        submit(sl);
}

static void wake_pipe(void *arg)
{
    struct loop *l = arg;
    char c = 1;

    if (write(l->wake[1], &c, 1) < 0 && errno != EAGAIN)
        abort();
}

static void run_group(const char *url, int n, int seconds, struct result *res)
{
    struct loop l = { 0 };
    struct slot *slots = calloc((size_t)n, sizeof(*slots));
    struct hw_store_stats st;
    struct pollfd p;
    char buf[256];
    int64_t t0, cpu0 = cpu_us();

    if (!slots || pipe(l.wake) != 0)
        exit(1);
    fcntl(l.wake[0], F_SETFL, O_NONBLOCK);
    fcntl(l.wake[1], F_SETFL, O_NONBLOCK);
    if (hw_store_open(
            url, &(struct hw_store_opts){ .wake = wake_pipe, .wake_arg = &l, .writers = writers },
            &l.s)) {
        fprintf(stderr, "bench_store: cannot open %s\n", url);
        exit(1);
    }
    bench_event(&l.ev);
    t0 = now_us();
    l.until_us = t0 + (int64_t)seconds * 1000000;
    for (int i = 0; i < n; i++) {
        slots[i].l = &l;
        submit(&slots[i]);
    }
    p.fd = l.wake[0];
    p.events = POLLIN;
    while (l.inflight > 0) {
        if (poll(&p, 1, 1000) > 0)
            while (read(l.wake[0], buf, sizeof(buf)) > 0)
                ;
        hw_store_poll_completions(l.s);
    }
    hw_store_stats(l.s, &st);
    result_add(res, &l.lat, now_us() - t0, cpu_us() - cpu0, &st, l.errors);
    hw_store_close(l.s);
    close(l.wake[0]);
    close(l.wake[1]);
    free(l.lat.v);
    free(slots);
}

int main(int argc, char **argv)
{
    static const int submitters[] = { 1, 16, 256 };
    enum { BASE, BASE_CONNS, GROUP, NCONF = GROUP + 3 };
    int seconds = 5, rounds = 3, conns = 0, opt, nurl;
    struct result(*res)[NCONF];

    while ((opt = getopt(argc, argv, "t:r:c:w:")) != -1) {
        char *end;
        long v = strtol(optarg, &end, 10);
        if (*end || v <= 0 || v > 3600 || ((opt == 'r' || opt == 'w') && v > 16)) {
            fprintf(stderr, "bench_store: bad number %s\n", optarg);
            return 2;
        }
        if (opt == 't')
            seconds = (int)v;
        else if (opt == 'r')
            rounds = (int)v;
        else if (opt == 'w')
            writers = (unsigned)v;
        else
            conns = (int)v;
    }
    if (optind >= argc) {
        fprintf(
            stderr,
            "usage: bench_store [-t SECONDS] [-r ROUNDS] [-c CONNECTIONS] [-w WRITERS] URL...\n");
        return 2;
    }
    nurl = argc - optind;
    res = calloc((size_t)nurl, sizeof(*res));
    if (!res)
        return 1;
    hw_log_init("bench_store");
    hw_log_set_level("warn");
    for (size_t i = 0; i < sizeof(body); i++)
        body[i] = (char)('a' + i % 26);

    for (int r = 0; r < rounds; r++) {
        for (int u = 0; u < nurl; u++) {
            const char *url = argv[optind + u];
            run_baseline(url, 1, seconds, &res[u][BASE]);
            if (conns > 1)
                run_baseline(url, conns, seconds, &res[u][BASE_CONNS]);
            for (int i = 0; i < 3; i++)
                run_group(url, submitters[i], seconds, &res[u][GROUP + i]);
        }
        fprintf(stderr, "round %d of %d done\n", r + 1, rounds);
    }

    printf("| backend | mode | submitters | events | appends/s (median) | range | p50 ms | mean ms "
           "| p99 ms | events/commit | CPU us/append | errors |\n");
    printf("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for (int u = 0; u < nurl; u++) {
        const char *backend = strncmp(argv[optind + u], "mysql:", 6) == 0 ? "MariaDB" : "SQLite";
        double base, base_mean, top, one_mean, mean;

        base = report(backend, "baseline: INSERT+COMMIT per event", 1, &res[u][BASE], &base_mean);
        if (conns > 1)
            report(backend, "baseline, one connection each", conns, &res[u][BASE_CONNS], &mean);
        report(backend, "group commit (async)", 1, &res[u][GROUP], &one_mean);
        report(backend, "group commit (async)", 16, &res[u][GROUP + 1], &mean);
        top = report(backend, "group commit (async)", 256, &res[u][GROUP + 2], &mean);
        fprintf(stderr,
                "%s: 256 submitters %.1fx the baseline; one submitter's mean latency %.2fx "
                "one commit\n",
                backend, top / base, one_mean / base_mean);
    }
    return 0;
}
