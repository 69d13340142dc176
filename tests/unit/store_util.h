#ifndef HW_TEST_STORE_UTIL_H
#define HW_TEST_STORE_UTIL_H

/*
 * Helpers shared by the store tests: which backends to run (SQLite always;
 * MySQL from HOOKWIRE_TEST_MYSQL_URL, required unless HOOKWIRE_TEST_NO_MYSQL=1),
 * a fresh database per test (a new SQLite file, or a new MySQL database next
 * to the one in the URL), fixture loading, a pipe-based wake for the async
 * API, and small time helpers.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <mysql.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "store/store.h"
#include "store/store_url.h"

struct tu_db {
    int mysql;
    char url[2048];
    char name[320]; /* MySQL database name, or the SQLite file path */
};

static char tu_dir[256];
static int tu_serial;

static inline int64_t tu_now_ms(void)
{
    struct timespec t;

    clock_gettime(CLOCK_REALTIME, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* A short pause between polls of a condition that has its own deadline. */
static inline void tu_pause_ms(int ms)
{
    struct timespec t = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

    nanosleep(&t, NULL);
}

/*
 * A gate: a store job that holds the store thread until the test opens
 * it, so that the appends queued meanwhile go as one batch. The job gives
 * up (HW_EIO, a failed check) if the test never opens it within 10 s.
 */
struct tu_gate {
    _Atomic int open; /* set by the test */
    _Atomic int held; /* set by the job once it runs */
};

static inline int tu_gate_job(struct hw_store *s, void *arg)
{
    struct tu_gate *g = arg;
    int64_t deadline = tu_now_ms() + 10000;

    (void)s;
    g->held = 1;
    while (!g->open && tu_now_ms() < deadline)
        tu_pause_ms(1);
    return g->open ? 0 : HW_EIO;
}

static inline void tu_gate_done(void *arg, int err)
{
    (void)arg;
    CHECK_EQ(err, 0);
}

/* Queues the gate job on s and returns once the store thread runs it. */
static inline void tu_gate_hold(struct hw_store *s, struct tu_gate *g)
{
    int64_t deadline = tu_now_ms() + 10000;

    g->open = g->held = 0;
    CHECK_EQ(hw_store_job_async(s, tu_gate_job, tu_gate_done, g), 0);
    while (!g->held) {
        CHECK(tu_now_ms() < deadline);
        tu_pause_ms(1);
    }
}

static inline int tu_rm_entry(const char *path, const struct stat *st, int type, struct FTW *f)
{
    return remove(path);
}

/* Removes the test directory and everything in it (SQLite files, a MariaDB datadir). */
static inline void tu_remove_dir(void)
{
    nftw(tu_dir, tu_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static inline void tu_init_dir(void)
{
    snprintf(tu_dir, sizeof(tu_dir), "/tmp/hw-store-test-XXXXXX");
    CHECK(mkdtemp(tu_dir) != NULL);
}

/*
 * Returns the MySQL URL to test against, or NULL when the MySQL half may be
 * skipped. Exits with a failure when it is missing without the explicit
 * opt-out, so that CI cannot skip it by accident.
 */
static inline const char *tu_mysql_url(void)
{
    const char *url = getenv("HOOKWIRE_TEST_MYSQL_URL");
    const char *no = getenv("HOOKWIRE_TEST_NO_MYSQL");

    if (url && *url)
        return url;
    if (no && strcmp(no, "1") == 0) {
        fprintf(stderr, "  MySQL half NOT run: HOOKWIRE_TEST_NO_MYSQL=1\n");
        return NULL;
    }
    fprintf(stderr, "HOOKWIRE_TEST_MYSQL_URL is not set: start a server with scripts/mariadb "
                    "start DIR and export its env lines (or set HOOKWIRE_TEST_NO_MYSQL=1 to "
                    "run the SQLite half only)\n");
    exit(1);
}

/*
 * A store test's main(): runs suite(NULL) on SQLite, then suite(url) on
 * MySQL when tu_mysql_url() gives one (it exits when the URL is missing
 * without the opt-out), each half announced, in a fresh test directory
 * removed afterwards. Returns main's status (a failed check aborts first).
 */
static inline int tu_run_backends(void (*suite)(const char *mysql_url))
{
    const char *mysql_url = tu_mysql_url();

    CHECK(sodium_init() >= 0);
    tu_init_dir();
    fprintf(stderr, "SQLite backend\n");
    suite(NULL);
    if (mysql_url) {
        fprintf(stderr, "MySQL backend\n");
        suite(mysql_url);
    }
    tu_remove_dir();
    return 0;
}

/* Connects to the server of a mysql:// URL without choosing a database. */
static inline MYSQL *tu_mysql_connect(const char *url)
{
    struct hw_store_url u;
    MYSQL *c;

    CHECK_EQ(hw_store_url_parse(url, &u), 0);
    c = mysql_init(NULL);
    CHECK(c != NULL);
    if (!mysql_real_connect(c, u.host, u.user, u.password, NULL, u.port, u.socket,
                            CLIENT_MULTI_STATEMENTS)) {
        fprintf(stderr, "connect %s: %s\n", u.name, mysql_error(c));
        abort();
    }
    hw_store_url_cleanup(&u);
    return c;
}

/* The number in column col of the one row sql returns on c. Borrows c. */
static inline long long tu_mysql_number(MYSQL *c, const char *sql, unsigned col)
{
    MYSQL_RES *r;
    MYSQL_ROW row;
    long long v;

    if (mysql_query(c, sql)) {
        fprintf(stderr, "mysql: %s: %s\n", sql, mysql_error(c));
        abort();
    }
    r = mysql_store_result(c);
    CHECK(r != NULL);
    CHECK(mysql_num_fields(r) > col);
    row = mysql_fetch_row(r);
    CHECK(row != NULL && row[col] != NULL);
    v = strtoll(row[col], NULL, 10);
    mysql_free_result(r);
    return v;
}

/* Runs SQL (several statements allowed) and discards any results. */
static inline void tu_mysql_exec(MYSQL *c, const char *sql)
{
    if (mysql_query(c, sql)) {
        fprintf(stderr, "mysql: %s: %s\n", sql, mysql_error(c));
        abort();
    }
    do {
        MYSQL_RES *r = mysql_store_result(c);
        if (r)
            mysql_free_result(r);
    } while (mysql_next_result(c) == 0);
}

/* Replaces the database of a mysql:// URL. */
static inline void tu_url_with_db(char *out, size_t cap, const char *url, const char *db)
{
    const char *at = strrchr(url, '@');
    const char *slash = at ? strchr(at, '/') : NULL;
    const char *q = slash ? strchr(slash, '?') : NULL;

    CHECK(slash != NULL);
    snprintf(out, cap, "%.*s/%s%s", (int)(slash - url), url, db, q ? q : "");
}

/* Makes a fresh, empty database for one test. */
static inline void tu_db_fresh(struct tu_db *d, const char *mysql_url)
{
    memset(d, 0, sizeof(*d));
    tu_serial++;
    if (!mysql_url) {
        snprintf(d->name, sizeof(d->name), "%s/store%d.db", tu_dir, tu_serial);
        snprintf(d->url, sizeof(d->url), "sqlite:%s", d->name);
        return;
    }
    MYSQL *c = tu_mysql_connect(mysql_url);
    char sql[1024];

    d->mysql = 1;
    snprintf(d->name, sizeof(d->name), "hookwire_test_s%ld_%d", (long)getpid(), tu_serial);
    snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s; CREATE DATABASE %s", d->name, d->name);
    tu_mysql_exec(c, sql);
    mysql_close(c);
    tu_url_with_db(d->url, sizeof(d->url), mysql_url, d->name);
}

static inline void tu_db_drop(struct tu_db *d, const char *mysql_url)
{
    char path[400];

    if (d->mysql) {
        MYSQL *c = tu_mysql_connect(mysql_url);
        char sql[1024];
        snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s", d->name);
        tu_mysql_exec(c, sql);
        mysql_close(c);
        return;
    }
    unlink(d->name);
    snprintf(path, sizeof(path), "%s-wal", d->name);
    unlink(path);
    snprintf(path, sizeof(path), "%s-shm", d->name);
    unlink(path);
}

/* Runs SQL directly on a test database, around the store (fixtures, tampering). */
static inline void tu_db_exec(const struct tu_db *d, const char *sql)
{
    if (d->mysql) {
        char server_url[2048];
        MYSQL *c;

        snprintf(server_url, sizeof(server_url), "%s", d->url);
        c = tu_mysql_connect(server_url);
        CHECK_EQ(mysql_select_db(c, d->name), 0);
        tu_mysql_exec(c, sql);
        mysql_close(c);
        return;
    }
    sqlite3 *db;
    char *msg = NULL;

    CHECK_EQ(sqlite3_open(d->name, &db), SQLITE_OK);
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        fprintf(stderr, "sqlite: %s\n", msg);
        abort();
    }
    sqlite3_close(db);
}

/* The number in the first column of the one row sql returns, read directly on a test database. */
static inline long long tu_db_number(const struct tu_db *d, const char *sql)
{
    long long v;

    if (d->mysql) {
        MYSQL *c = tu_mysql_connect(d->url);

        CHECK_EQ(mysql_select_db(c, d->name), 0);
        v = tu_mysql_number(c, sql, 0);
        mysql_close(c);
        return v;
    }
    sqlite3 *db;
    sqlite3_stmt *st;

    CHECK_EQ(sqlite3_open(d->name, &db), SQLITE_OK);
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        fprintf(stderr, "sqlite: %s: %s\n", sql, sqlite3_errmsg(db));
        abort();
    }
    CHECK_EQ(sqlite3_step(st), SQLITE_ROW);
    v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

/* Reads tests/fixtures/NAME (from HW_FIXTURES) into a new NUL-terminated string. */
static inline char *tu_fixture(const char *name)
{
    const char *dir = getenv("HW_FIXTURES");
    char path[1024];
    struct stat st;
    char *buf;
    FILE *f;

    CHECK(dir != NULL);
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "cannot open fixture %s: %s\n", path, strerror(errno));
        abort();
    }
    CHECK_EQ(fstat(fileno(f), &st), 0);
    buf = malloc((size_t)st.st_size + 1);
    CHECK(buf != NULL);
    CHECK_EQ(fread(buf, 1, (size_t)st.st_size, f), (size_t)st.st_size);
    buf[st.st_size] = '\0';
    fclose(f);
    return buf;
}

/* A wake function for tests: one byte into a non-blocking pipe. */
struct tu_wake {
    int fd[2];
};

static inline void tu_wake_init(struct tu_wake *w)
{
    CHECK_EQ(pipe(w->fd), 0);
    fcntl(w->fd[0], F_SETFL, O_NONBLOCK);
    fcntl(w->fd[1], F_SETFL, O_NONBLOCK);
}

static inline void tu_wake_fn(void *arg)
{
    struct tu_wake *w = arg;
    char c = 1;

    /* A full pipe already holds a pending wake-up. */
    if (write(w->fd[1], &c, 1) < 0 && errno != EAGAIN)
        abort();
}

/* Waits up to timeout_ms for a wake-up, drains the pipe, then polls completions. */
static inline int tu_wake_poll(struct tu_wake *w, struct hw_store *s, int timeout_ms)
{
    struct pollfd p = { .fd = w->fd[0], .events = POLLIN };
    char buf[256];

    if (poll(&p, 1, timeout_ms) > 0)
        while (read(w->fd[0], buf, sizeof(buf)) > 0)
            ;
    return hw_store_poll_completions(s);
}

static inline void tu_wake_cleanup(struct tu_wake *w)
{
    close(w->fd[0]);
    close(w->fd[1]);
}

/* The header block of tu_event(). */
#define TU_HEADERS "Content-Type: application/json\r\nX-Test: 1\r\n"

/*
 * Claims up to max events of source (NULL: all) for a 60 s lease, again
 * and again until a claim returns some (they are in *l), failing the test
 * at deadline_ms: for events that come due when a lease lapses.
 */
static inline void tu_claim_when_due(struct hw_store *s, const char *source, size_t max,
                                     int64_t deadline_ms, struct hw_store_events *l)
{
    for (;;) {
        CHECK_EQ(hw_store_claim(s, source, 60000, max, 0, l), 0);
        if (l->n)
            return;
        hw_store_events_cleanup(l);
        CHECK(tu_now_ms() < deadline_ms);
        tu_pause_ms(20);
    }
}

/* Fills ev with a small event from source with the given body. */
static inline void tu_event(struct hw_store_event *ev, const char *source, const char *body)
{
    static const char headers[] = TU_HEADERS;

    memset(ev, 0, sizeof(*ev));
    ev->source = source;
    ev->method = "POST";
    ev->path = "/hook";
    ev->query = "";
    ev->headers = headers;
    ev->headers_len = sizeof(headers) - 1;
    ev->body = body;
    ev->body_len = strlen(body);
}

/* Appends n events to source alice, bodies {"n":i}; ids[i] in append order. */
static inline void tu_append_n(struct hw_store *s, size_t n, char (*ids)[HW_ID_LEN + 1])
{
    for (size_t i = 0; i < n; i++) {
        struct hw_store_event ev;
        struct hw_store_result r;
        char body[32];

        snprintf(body, sizeof(body), "{\"n\":%zu}", i);
        tu_event(&ev, "alice", body);
        CHECK_EQ(hw_store_append(s, &ev, &r), 0);
        memcpy(ids[i], r.id, HW_ID_LEN + 1);
    }
}

/*
 * Claims from source alice on s for 60 s and checks that the claim takes
 * exactly the events ids[0..n); lease[i] gets each one's fencing value.
 */
static inline void tu_claim_exactly(struct hw_store *s, size_t n, char (*ids)[HW_ID_LEN + 1],
                                    int64_t *lease)
{
    struct hw_store_events l;

    CHECK_EQ(hw_store_claim(s, "alice", 60000, n + 1, 0, &l), 0);
    CHECK_EQ(l.n, n);
    for (size_t i = 0; i < n; i++) {
        size_t j = 0;

        while (j < n && strcmp(ids[j], l.v[i]->id) != 0)
            j++;
        CHECK(j < n);
        lease[j] = l.v[i]->lease;
    }
    hw_store_events_cleanup(&l);
}

/* --- a test's own MariaDB ------------------------------------------------------------------ */

static pid_t tu_server_pid; /* the dedicated server, stopped on abort too */
static char tu_script[1024];

static inline void tu_stop_server_on_abort(int sig)
{
    if (tu_server_pid > 0)
        kill(tu_server_pid, SIGTERM);
    signal(sig, SIG_DFL);
    raise(sig);
}

static inline void tu_find_script(void)
{
    const char *src = getenv("HW_SOURCE");
    const char *fx = getenv("HW_FIXTURES");

    if (src)
        snprintf(tu_script, sizeof(tu_script), "%s/scripts/mariadb", src);
    else
        snprintf(tu_script, sizeof(tu_script), "%s/../../scripts/mariadb",
                 fx ? fx : "tests/fixtures");
    if (access(tu_script, X_OK) != 0) {
        fprintf(stderr, "cannot run %s: set HW_SOURCE or HW_FIXTURES\n", tu_script);
        abort();
    }
}

/*
 * Runs scripts/mariadb ACTION DIR (a test's own server: private datadir, loopback port); on
 * start, returns the TCP URL it printed in url and notes the server's pid in tu_server_pid.
 */
static inline void tu_mariadb(const char *action, const char *dir, char *url, size_t cap)
{
    char cmd[2048], line[2048];
    FILE *p;

    if (!tu_script[0])
        tu_find_script();
    snprintf(cmd, sizeof(cmd), "'%s' %s '%s'", tu_script, action, dir);
    p = popen(cmd, "r");
    CHECK(p != NULL);
    while (fgets(line, sizeof(line), p)) {
        line[strcspn(line, "\n")] = '\0';
        if (url && strncmp(line, "HOOKWIRE_TEST_MYSQL_URL=", 24) == 0)
            snprintf(url, cap, "%s", line + 24);
        if (strncmp(line, "HOOKWIRE_TEST_MYSQL_PID=", 24) == 0)
            tu_server_pid = (pid_t)strtol(line + 24, NULL, 10);
    }
    CHECK_EQ(pclose(p), 0);
    if (strcmp(action, "stop") == 0)
        tu_server_pid = 0;
}

#endif
