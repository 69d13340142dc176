/*
 * The MySQL store under network faults, through a fault-injecting TCP proxy
 * (a thread of this test, between the store and MariaDB, reading the
 * client's MySQL packets): the answer to COMMIT dropped, the connection cut
 * in the middle of a batch (at its multi-row INSERT) or just before
 * its COMMIT, the server stalled after COMMIT. For each, with
 * synchronous and asynchronous appends: every event reported appended is
 * stored exactly once, no event reported failed is stored, an outcome that
 * could not be known is HW_EUNAVAIL with the event's id, nothing is stored
 * twice. Then a hung server (its own MariaDB, stopped with SIGSTOP): an
 * append fails within the configured timeout, ping never waits behind it,
 * and after SIGCONT the same handle appends again.
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
#include "store_util.h"

#define TIMEOUT_S 2 /* ?timeout= of the proxied store URL */
#define NEV       8 /* events per case */

/* --- the proxy ---------------------------------------------------------------------------------
 */

enum fault { F_NONE, F_DROP_COMMIT_ANSWER, F_CUT_MID_BATCH, F_CUT_BEFORE_COMMIT, F_STALL_COMMIT };

struct pair {
    int c, u;          /* client and upstream sockets; -1 when unused */
    char buf[1 << 16]; /* client bytes not yet a whole packet */
    size_t n;
    int drop_answer;     /* COMMIT forwarded: swallow the answer, then close both */
    int64_t stall_until; /* COMMIT forwarded: forward nothing until then, then close */
};

static struct {
    int lfd, port, up_port;
    struct pair p[16];
    _Atomic int fault;    /* armed fault; one-shot */
    _Atomic int fired;    /* how many faults were injected */
    _Atomic int cut_at;   /* F_CUT_*: cut at this INSERT (MID_BATCH) or COMMIT (BEFORE_COMMIT) */
    _Atomic int executes; /* INSERTs or COMMITs seen since the fault was armed */
    _Atomic int multi_prepares; /* multi-row INSERTs prepared (a batch of several events) */
    _Atomic int stop;
    pthread_t th;
} px;

static void pair_close(struct pair *p)
{
    if (p->c >= 0)
        close(p->c);
    if (p->u >= 0)
        close(p->u);
    p->c = p->u = -1;
    p->n = 0;
    p->drop_answer = 0;
    p->stall_until = 0;
}

static int write_all(int fd, const char *b, size_t n)
{
    while (n) {
        ssize_t w = write(fd, b, n);
        if (w <= 0)
            return -1;
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Forwards the whole packets in p->buf upstream, injecting the armed fault. 0, or -1 to close. */
static int client_packets(struct pair *p)
{
    size_t off = 0;

    while (p->n - off >= 4) {
        const unsigned char *h = (const unsigned char *)p->buf + off;
        size_t len = h[0] | (size_t)h[1] << 8 | (size_t)h[2] << 16;
        const char *payload = p->buf + off + 4;

        if (p->n - off < 4 + len)
            break;
        /* A prepared statement's execution: every INSERT of an append. */
        int insert = len >= 1 && payload[0] == 0x17;
        /* The multi-row INSERT a batch of several events goes in, prepared for its size. */
        int multi = len >= 1 && payload[0] == 0x16 && memmem(payload, len, "), (", 4) != NULL;
        int commit = len == 7 && memcmp(payload,
                                        "\x03"
                                        "COMMIT",
                                        7) == 0;

        if (multi)
            px.multi_prepares++;
        if (((insert && px.fault == F_CUT_MID_BATCH) ||
             (commit && px.fault == F_CUT_BEFORE_COMMIT)) &&
            ++px.executes >= px.cut_at) {
            px.fault = F_NONE;
            px.fired++;
            return -1; /* cut before the server sees this statement */
        }
        if (write_all(p->u, p->buf + off, 4 + len))
            return -1;
        if (commit) {
            if (px.fault == F_DROP_COMMIT_ANSWER) {
                px.fault = F_NONE;
                px.fired++;
                p->drop_answer = 1;
            } else if (px.fault == F_STALL_COMMIT) {
                px.fault = F_NONE;
                px.fired++;
                p->stall_until = tu_now_ms() + (TIMEOUT_S + 2) * 1000;
            }
        }
        off += 4 + len;
    }
    memmove(p->buf, p->buf + off, p->n - off);
    p->n -= off;
    return 0;
}

static void accept_one(void)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)px.up_port) };
    int c = accept(px.lfd, NULL, NULL), u;

    if (c < 0)
        return;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    u = socket(AF_INET, SOCK_STREAM, 0);
    if (u < 0 || connect(u, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(c);
        if (u >= 0)
            close(u);
        return;
    }
    for (int i = 0; i < 16; i++) {
        if (px.p[i].c < 0) {
            px.p[i].c = c;
            px.p[i].u = u;
            return;
        }
    }
    close(c);
    close(u);
}

static void *proxy_main(void *arg)
{
    while (!px.stop) {
        struct pollfd f[33];
        int idx[33], n = 0;
        int64_t now = tu_now_ms();

        f[n] = (struct pollfd){ .fd = px.lfd, .events = POLLIN };
        idx[n++] = -1;
        for (int i = 0; i < 16; i++) {
            struct pair *p = &px.p[i];
            if (p->c < 0)
                continue;
            if (p->stall_until) {
                if (now >= p->stall_until)
                    pair_close(p); /* the stall ends with the connection gone */
                continue;
            }
            f[n] = (struct pollfd){ .fd = p->c, .events = POLLIN };
            idx[n++] = i * 2;
            f[n] = (struct pollfd){ .fd = p->u, .events = POLLIN };
            idx[n++] = i * 2 + 1;
        }
        if (poll(f, (nfds_t)n, 50) <= 0)
            continue;
        for (int k = 0; k < n; k++) {
            struct pair *p;
            char b[1 << 15];
            ssize_t r;

            if (!(f[k].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            if (idx[k] < 0) {
                accept_one();
                continue;
            }
            p = &px.p[idx[k] / 2];
            if (p->c < 0 || p->stall_until)
                continue;
            if (idx[k] % 2 == 0) {
                r = read(p->c, p->buf + p->n, sizeof(p->buf) - p->n);
                if (r <= 0) {
                    pair_close(p);
                    continue;
                }
                p->n += (size_t)r;
                if (client_packets(p) || p->n == sizeof(p->buf))
                    pair_close(p);
            } else {
                r = read(p->u, b, sizeof(b));
                /* The server answered COMMIT (it has committed): the client never hears it. */
                if (r <= 0 || p->drop_answer || write_all(p->c, b, (size_t)r))
                    pair_close(p);
            }
        }
    }
    for (int i = 0; i < 16; i++)
        pair_close(&px.p[i]);
    return NULL;
}

static void proxy_start(int up_port)
{
    struct sockaddr_in a = { .sin_family = AF_INET };
    socklen_t len = sizeof(a);

    px.up_port = up_port;
    for (int i = 0; i < 16; i++)
        px.p[i].c = px.p[i].u = -1;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    px.lfd = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(px.lfd >= 0);
    CHECK_EQ(bind(px.lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    CHECK_EQ(listen(px.lfd, 16), 0);
    CHECK_EQ(getsockname(px.lfd, (struct sockaddr *)&a, &len), 0);
    px.port = ntohs(a.sin_port);
    CHECK_EQ(pthread_create(&px.th, NULL, proxy_main, NULL), 0);
}

static void proxy_stop(void)
{
    px.stop = 1;
    pthread_join(px.th, NULL);
    close(px.lfd);
}

static void arm(int fault, int cut_at)
{
    px.executes = 0;
    px.cut_at = cut_at;
    px.fault = fault;
}

/* --- checking what was stored ------------------------------------------------------------------
 */

/* Runs a one-number query on the test database directly (not through the proxy). */
static long long db_count(const struct tu_db *d, const char *sql)
{
    MYSQL *c = tu_mysql_connect(d->url);
    MYSQL_RES *r;
    MYSQL_ROW row;
    long long v;

    CHECK_EQ(mysql_select_db(c, d->name), 0);
    CHECK_EQ(mysql_query(c, sql), 0);
    r = mysql_store_result(c);
    CHECK(r != NULL);
    row = mysql_fetch_row(r);
    CHECK(row != NULL && row[0] != NULL);
    v = strtoll(row[0], NULL, 10);
    mysql_free_result(r);
    mysql_close(c);
    return v;
}

struct outcome {
    int done, err;
    char id[HW_ID_LEN + 1];
    char body[64];
};

static void on_done(void *arg, int err, const struct hw_store_result *res)
{
    struct outcome *o = arg;

    o->done = 1;
    o->err = err;
    if (res)
        snprintf(o->id, sizeof(o->id), "%s", res->id);
}

/*
 * The promises: appended means stored once under that id; HW_EUNAVAIL
 * carries the id and is stored at most once (under that id); any other
 * failure is not stored; no body twice, nothing else stored.
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
                                      : "stalled after COMMIT";
}

/* Set once the async appends are queued: gate_job holds the store thread until then. */
static _Atomic int gate, held; /* released by the test; set by the job once running */

static int gate_job(struct hw_store *s, void *arg)
{
    int64_t deadline = tu_now_ms() + 10000;

    (void)s;
    (void)arg;
    held = 1;
    while (!gate && tu_now_ms() < deadline)
        tu_pause_ms(1);
    return gate ? 0 : HW_EIO; /* the test never released it */
}

static void gate_done(void *arg, int err)
{
    (void)arg;
    CHECK_EQ(err, 0);
}

static void run_case(const char *server_url, int fault, int async)
{
    struct outcome o[NEV];
    struct hw_store_event ev;
    struct hw_store_result r;
    struct hw_store_url u;
    struct hw_store *s;
    struct tu_wake w;
    struct tu_db d;
    char url[2048], key[64];
    int64_t t0, deadline;
    int ok, unknown, err;

    tu_db_fresh(&d, server_url);
    /*
     * Create the schema straight on the server, not through the proxy: its
     * DDL can outlast the short timeout on a loaded machine, and the faults
     * under test are in appends, not in migrations.
     */
    CHECK_EQ(hw_store_open(d.url, NULL, &s), 0);
    hw_store_close(s);
    CHECK_EQ(hw_store_url_parse(d.url, &u), 0);
    snprintf(url, sizeof(url), "mysql://%s:%s@127.0.0.1:%d/%s?timeout=%d", u.user,
             u.password ? u.password : "", px.port, u.db, TIMEOUT_S);
    hw_store_url_cleanup(&u);
    tu_wake_init(&w);
    CHECK_EQ(hw_store_open(url, &(struct hw_store_opts){ .wake = tu_wake_fn, .wake_arg = &w }, &s),
             0);
    memset(o, 0, sizeof(o));
    /*
     * Async: a job holds the store thread until all NEV appends are queued,
     * so that they go as one batch, one INSERT of NEV rows: the cut
     * falls in that statement, or just before its COMMIT.
     */
    gate = held = 0;
    if (async) {
        CHECK_EQ(hw_store_job_async(s, gate_job, gate_done, NULL), 0);
        deadline = tu_now_ms() + 10000;
        while (!held) {
            CHECK(tu_now_ms() < deadline);
            tu_pause_ms(1);
        }
    }
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
        CHECK(!err || err == HW_EUNAVAIL);
    }
    gate = 1;
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
    fprintf(stderr, "    %s, %s: %d appended, %d unknown (HW_EUNAVAIL with id), %lld ms\n",
            fault_name(fault), async ? "async" : "sync", ok, unknown,
            (long long)(tu_now_ms() - t0));
    /* A lost answer or a cut connection is settled on a new connection: nothing is unknown. */
    if (fault != F_STALL_COMMIT)
        CHECK_EQ(ok, NEV);
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

static void test_proxy_faults(const char *server_url)
{
    struct hw_store_url u;

    CHECK_EQ(hw_store_url_parse(server_url, &u), 0);
    CHECK(u.port != 0);
    proxy_start((int)u.port);
    hw_store_url_cleanup(&u);
    for (int async = 0; async < 2; async++) {
        run_case(server_url, F_DROP_COMMIT_ANSWER, async);
        run_case(server_url, F_CUT_MID_BATCH, async);
        run_case(server_url, F_CUT_BEFORE_COMMIT, async);
        run_case(server_url, F_STALL_COMMIT, async);
    }
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

static void test_hung_server(void)
{
    struct hw_store_event ev, *got;
    struct hw_store_result r;
    struct hw_store *s;
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
    CHECK_EQ(strlen(r.id), HW_ID_LEN); /* the outcome is unknown: the id to look for later */
    snprintf(hung_id, sizeof(hung_id), "%s", r.id);
    /* Backing off: the next calls fail at once instead of waiting the timeout again. */
    t0 = tu_now_ms();
    CHECK_EQ(hw_store_append(s, &ev, &r), HW_EUNAVAIL);
    CHECK(tu_now_ms() - t0 < 200);

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
    /* The append whose outcome was unknown is stored once or not at all, under its id. */
    err = hw_store_get(s, hung_id, &got);
    CHECK(err == 0 || err == HW_ENOTFOUND);
    if (!err)
        hw_store_event_free(got);
    CHECK_EQ(hw_store_durable(s), 1);
    hw_store_close(s);

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
