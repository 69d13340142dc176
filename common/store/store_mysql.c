/*
 * MySQL backend of the event store, on the plain libmysqlclient API (so it
 * links against Oracle's client or MariaDB Connector/C). Owns one connection
 * and its prepared statements; when the server goes away every call fails
 * fast with HW_EUNAVAIL and the connection is rebuilt at most once a second.
 * Called only through store.c, under the handle's lock.
 */
#include "store_mysql.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "store_mysql_row.h"

#define TIMEOUT_S_DEFAULT 3    /* connect, read and write; ?timeout=S in the URL */
#define MIGRATE_TIMEOUT_S 600  /* a migration's DDL on a large table, or its lock wait */
#define BACKOFF_MIN_MS    250  /* after a failed connect or a timeout, doubling... */
#define BACKOFF_MAX_MS    8000 /* ...up to this */
#define IDLE_PING_MS      1000 /* a connection idle this long is checked before use */
/*
 * A whole call (its statements and their answers) may last this many times
 * the timeout, which bounds each read and write only: past it the watch
 * thread cuts the connection (store_mysql_watch.h).
 */
#define CALL_LIMIT_TIMEOUTS 4

/* Claims lock the rows they read and step over rows other claimers hold. */
#define LOCKING " FOR UPDATE SKIP LOCKED"

static const char *const sql_text[HW_MY_COUNT] = {
    [HW_MY_INSERT] = HW_SQL_INSERT,
    [HW_MY_FIND_DUP] = HW_SQL_FIND_DUP,
    [HW_MY_GET] = HW_SQL_GET,
    [HW_MY_CLAIM] = HW_SQL_CLAIM_MY LOCKING,
    [HW_MY_CLAIM_SOURCE] = HW_SQL_CLAIM_SOURCE_MY LOCKING,
    [HW_MY_PICK] = HW_SQL_CLAIM_MY,
    [HW_MY_PICK_SOURCE] = HW_SQL_CLAIM_SOURCE_MY,
    [HW_MY_FINISH] = HW_SQL_FINISH,
    [HW_MY_SETTLE] = HW_SQL_SETTLE,
    [HW_MY_RELEASE] = HW_SQL_RELEASE,
    [HW_MY_NEXT_SOURCE] = HW_SQL_NEXT_SOURCE,
    [HW_MY_EXISTS] = HW_SQL_EXISTS,
    [HW_MY_ADD_ATTEMPT] = HW_SQL_ADD_ATTEMPT,
    [HW_MY_OUTCOME_STORED] = HW_SQL_OUTCOME_STORED,
    [HW_MY_ATTEMPTS] = HW_SQL_ATTEMPTS,
    [HW_MY_REQUEUE] = HW_SQL_REQUEUE,
    [HW_MY_STATUS_OF] = HW_SQL_STATUS_OF,
    [HW_MY_PURGE_PICK] = HW_SQL_PURGE_PICK_MY,
    [HW_MY_PURGE_ATTEMPTS] = HW_SQL_PURGE_ATTEMPTS,
    [HW_MY_PURGE_EVENT] = HW_SQL_PURGE_EVENT,
    [HW_MY_TOKEN_ADD] = HW_SQL_TOKEN_ADD,
    [HW_MY_TOKEN_REVOKE] = HW_SQL_TOKEN_REVOKE,
    [HW_MY_TOKEN_LOOKUP] = HW_SQL_TOKEN_LOOKUP,
    [HW_MY_TOKEN_LIST] = HW_SQL_TOKEN_LIST,
    [HW_MY_SCHEMA_RECORD] = HW_SQL_SCHEMA_RECORD,
    [HW_MY_INSERT_DONE] = HW_SQL_INSERT_DONE,
    [HW_MY_INSERT_DONE_N] = HW_MY_SQL_INSERT_DONE_N,
    [HW_MY_EXCESS_CUTOFF] = HW_SQL_EXCESS_CUTOFF_("FORCE INDEX (hookwire_events_source)"),
    [HW_MY_EXCESS_UPPER] = HW_SQL_EXCESS_UPPER_("FORCE INDEX (hookwire_events_source)"),
    [HW_MY_EXCESS_ATTEMPTS] = HW_SQL_EXCESS_ATTEMPTS,
    [HW_MY_EXCESS_EVENTS] = HW_SQL_EXCESS_EVENTS,
};

static pthread_once_t library_once = PTHREAD_ONCE_INIT;

static void library_init(void)
{
    mysql_library_init(0, NULL, NULL);
}

/* Server errors that mean "this connection or this server cannot serve now". */
static int connection_error(unsigned e)
{
    switch (e) {
    case 2002: /* CR_CONNECTION_ERROR */
    case 2003: /* CR_CONN_HOST_ERROR */
    case 2006: /* CR_SERVER_GONE_ERROR */
    case 2013: /* CR_SERVER_LOST */
    case 2055: /* CR_SERVER_LOST_EXTENDED */
    case 1053: /* ER_SERVER_SHUTDOWN */
    case 1927: /* ER_CONNECTION_KILLED */
    case 4031: /* ER_CLIENT_INTERACTION_TIMEOUT */
    case 1290: /* ER_OPTION_PREVENTS_STATEMENT: read-only, e.g. a demoted primary */
    case 1836: /* ER_READ_ONLY_MODE */
    case 1153: /* ER_NET_PACKET_TOO_LARGE: the server closes the connection */
        return 1;
    default:
        return 0;
    }
}

/* Schedules the next connection attempt, waiting longer after each failure in a row. */
static void back_off(struct hw_my *b, int64_t now)
{
    b->backoff_ms = b->backoff_ms ? b->backoff_ms * 2 : BACKOFF_MIN_MS;
    if (b->backoff_ms > BACKOFF_MAX_MS)
        b->backoff_ms = BACKOFF_MAX_MS;
    b->retry_at_ms = now + b->backoff_ms;
}

/* Maps a failed call's error number and text to our code, logging as needed. */
static int my_fail(struct hw_my *b, unsigned e, const char *msg, const char *what)
{
    if (e == 1062) /* ER_DUP_ENTRY: the caller decides */
        return HW_EEXIST;
    if (connection_error(e)) {
        int64_t now = hw_wall_ms();

        if (!b->down)
            HW_WARN("store %s: MySQL unavailable (%s): %s", b->url->name, what, msg);
        b->down = 1;
        b->broken = 1;
        /*
         * A call that ran into the timeout met a hung server or network: do
         * not reconnect at once (that would wait the timeout again), back off.
         * A connection that merely dropped is rebuilt on the next call.
         */
        if (now - b->used_ms >= (int64_t)b->timeout_s * 1000 - 200)
            back_off(b, now);
        return e == 1153 ? HW_E2BIG : HW_EUNAVAIL;
    }
    if (e == 1213 || e == 1205) { /* deadlock, lock wait timeout: the transaction may run again */
        if (!b->batch)
            HW_WARN("store %s: %s: %s", b->url->name, what, msg);
        return b->batch ? HW_STORE_ERETRY : HW_EUNAVAIL;
    }
    HW_ERR("store %s: %s: %s (error %u)", b->url->name, what, msg, e);
    return e == 1406 || e == 1301 ? HW_E2BIG : HW_EIO;
}

int hw_my_stmt_fail(struct hw_my *b, MYSQL_STMT *st, const char *what)
{
    return my_fail(b, mysql_stmt_errno(st), mysql_stmt_error(st), what);
}

static int conn_fail(struct hw_my *b, const char *what)
{
    return my_fail(b, mysql_errno(b->conn), mysql_error(b->conn), what);
}

static void my_drop(struct hw_my *b)
{
    for (int i = 0; i < HW_MY_COUNT; i++) {
        if (b->st[i])
            mysql_stmt_close(b->st[i]);
        b->st[i] = NULL;
    }
    for (int i = 0; i <= HW_MY_ROWS_MAX; i++) {
        MYSQL_STMT **kept[] = { &b->ins[i], &b->set[0][i], &b->set[1][i], &b->add[i] };

        for (size_t j = 0; j < sizeof(kept) / sizeof(kept[0]); j++) {
            if (*kept[j])
                mysql_stmt_close(*kept[j]);
            *kept[j] = NULL;
        }
    }
    for (int i = 0; i < 2; i++) {
        if (b->in_st[i])
            mysql_stmt_close(b->in_st[i]);
        b->in_st[i] = NULL;
    }
    /* The watch thread lets go of the socket before its number can be given to another file. */
    hw_my_watch_socket(&b->watch, -1);
    if (b->conn)
        mysql_close(b->conn);
    b->conn = NULL;
    b->broken = 0;
    b->manual = 0;
}

/* Prepares and runs one statement without parameters or results (setup and DDL). */
static int exec_sql(struct hw_my *b, const char *sql, const char *what)
{
    MYSQL_STMT *st = mysql_stmt_init(b->conn);
    int err = 0;

    if (!st)
        return HW_ENOMEM;
    if (mysql_stmt_prepare(st, sql, strlen(sql)) || mysql_stmt_execute(st))
        err = hw_my_stmt_fail(b, st, what);
    mysql_stmt_close(st);
    return err;
}

/* Reads one integer from a one-row, one-column query with up to one string parameter. */
static int query_int(struct hw_my *b, const char *sql, const char *param, int64_t *v)
{
    MYSQL_STMT *st = mysql_stmt_init(b->conn);
    MYSQL_BIND p[1], r[1];
    hw_my_flag nul = 0;
    int err = 0;

    if (!st)
        return HW_ENOMEM;
    *v = 0;
    hw_my_param_str(&p[0], param);
    hw_my_result_i64(&r[0], v, &nul);
    if (mysql_stmt_prepare(st, sql, strlen(sql)) || (param && mysql_stmt_bind_param(st, p)) ||
        mysql_stmt_execute(st) || mysql_stmt_bind_result(st, r))
        err = hw_my_stmt_fail(b, st, sql);
    else if (mysql_stmt_fetch(st) == 1)
        err = hw_my_stmt_fail(b, st, sql);
    if (nul)
        *v = 0;
    mysql_stmt_close(st);
    return err;
}

/*
 * Checks that the server's settings make a commit durable, and warns once
 * when they do not: hookwire acknowledges an event only after its commit.
 */
static int check_durable(struct hw_my *b)
{
    int64_t flush = 1, log_bin = 0, sync_binlog = 1;
    int err = query_int(b, "SELECT @@innodb_flush_log_at_trx_commit", NULL, &flush);
    int ok;

    if (!err)
        err = query_int(b, "SELECT @@log_bin", NULL, &log_bin);
    if (!err)
        err = query_int(b, "SELECT @@sync_binlog", NULL, &sync_binlog);
    if (err)
        return err;
    ok = flush == 1 && (!log_bin || sync_binlog == 1);
    if (!ok && !b->durable_warned)
        HW_WARN("store %s: the MySQL server is not durable: innodb_flush_log_at_trx_commit=%lld, "
                "log_bin=%lld, sync_binlog=%lld; acknowledged events can be lost in a crash "
                "(set innodb_flush_log_at_trx_commit=1, and sync_binlog=1 with the binary log)",
                b->url->name, (long long)flush, (long long)log_bin, (long long)sync_binlog);
    b->durable_warned |= !ok;
    b->durable = ok;
    return 0;
}

#ifdef LIBMARIADB
/* What a non-blocking call waits for, as poll() events, and back. */
static short wait_events(int status)
{
    return (short)(((status & MYSQL_WAIT_READ) ? POLLIN : 0) |
                   ((status & MYSQL_WAIT_WRITE) ? POLLOUT : 0) |
                   ((status & MYSQL_WAIT_EXCEPT) ? POLLPRI : 0));
}

static int ready_status(short revents)
{
    return ((revents & (POLLIN | POLLHUP | POLLERR)) ? MYSQL_WAIT_READ : 0) |
           ((revents & (POLLOUT | POLLHUP | POLLERR)) ? MYSQL_WAIT_WRITE : 0) |
           ((revents & POLLPRI) ? MYSQL_WAIT_EXCEPT : 0);
}

/*
 * mysql_real_connect() within limit_ms in all: the connection, the server's
 * greeting and the login, however slowly their bytes come (the client's own
 * timeouts bound each read only, and the watch thread cannot know the socket
 * before the call returns). Connector/C's non-blocking API, each wait a
 * poll() within what is left; past the deadline the socket is shut down and
 * the call fails. Sets *late when that is why it failed.
 */
static MYSQL *connect_within(struct hw_my *b, int64_t limit_ms, int *late)
{
    const struct hw_store_url *u = b->url;
    int64_t deadline = hw_mono_ms() + limit_ms;
    MYSQL *ret = NULL;
    int status;

    *late = 0;
    if (mysql_options(b->conn, MYSQL_OPT_NONBLOCK, 0))
        return mysql_real_connect(b->conn, u->host, u->user, u->password, u->db, u->port, u->socket,
                                  CLIENT_FOUND_ROWS);
    status = mysql_real_connect_start(&ret, b->conn, u->host, u->user, u->password, u->db, u->port,
                                      u->socket, CLIENT_FOUND_ROWS);
    while (status) {
        struct pollfd p = { .fd = (int)mysql_get_socket(b->conn), .events = wait_events(status) };
        int64_t left = deadline - hw_mono_ms();
        int64_t wait = left > 0 ? left : 0;
        int n;

        if ((status & MYSQL_WAIT_TIMEOUT) && mysql_get_timeout_value_ms(b->conn) < wait)
            wait = mysql_get_timeout_value_ms(b->conn);
        n = poll(&p, 1, (int)wait);
        if (n < 0 && errno == EINTR)
            continue; /* wait again, within what is left */
        if ((n < 0 || (n == 0 && hw_mono_ms() >= deadline)) && !*late) {
            /*
             * Out of time (or poll() itself failed): the call ends at once on
             * a socket that can neither read nor write.
             */
            *late = 1;
            shutdown(p.fd, SHUT_RDWR);
        }
        status = mysql_real_connect_cont(&ret, b->conn,
                                         n > 0   ? ready_status(p.revents)
                                         : n < 0 ? MYSQL_WAIT_READ
                                                 : MYSQL_WAIT_TIMEOUT);
    }
    return ret;
}
#endif

/* mysql_real_connect(), within the call deadline where the client library allows it. */
static MYSQL *connect_now(struct hw_my *b, int *late)
{
#ifdef LIBMARIADB
    return connect_within(b, (int64_t)CALL_LIMIT_TIMEOUTS * b->timeout_s * 1000, late);
#else
    const struct hw_store_url *u = b->url;

    *late = 0;
    return mysql_real_connect(b->conn, u->host, u->user, u->password, u->db, u->port, u->socket,
                              CLIENT_FOUND_ROWS);
#endif
}

static int my_connect(struct hw_my *b)
{
    const struct hw_store_url *u = b->url;
    unsigned int connect_timeout = b->timeout_s, io_timeout = b->timeout_s;
    unsigned long packet = 1ul << 30;
    hw_my_flag reconnect = 0;
    int64_t max_packet;
    int err, late = 0;

    b->conn = mysql_init(NULL);
    if (!b->conn)
        return HW_ENOMEM;
    mysql_options(b->conn, MYSQL_OPT_CONNECT_TIMEOUT, &connect_timeout);
    mysql_options(b->conn, MYSQL_OPT_READ_TIMEOUT, &io_timeout);
    mysql_options(b->conn, MYSQL_OPT_WRITE_TIMEOUT, &io_timeout);
    mysql_options(b->conn, MYSQL_OPT_MAX_ALLOWED_PACKET, &packet);
    /* Reconnecting silently would lose prepared statements and transactions; we do it. */
    mysql_options(b->conn, MYSQL_OPT_RECONNECT, &reconnect);
    mysql_options(b->conn, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    if (!connect_now(b, &late)) {
        /* Refused logins and unknown databases also leave the store unusable for now. */
        if (!b->down && late)
            HW_WARN("store %s: MySQL unavailable: the server's greeting and login took over %u "
                    "s: connection cut",
                    u->name, CALL_LIMIT_TIMEOUTS * b->timeout_s);
        else if (!b->down)
            HW_WARN("store %s: MySQL unavailable: cannot connect: %s", u->name,
                    mysql_error(b->conn));
        b->down = 1;
        err = HW_EUNAVAIL;
        goto fail;
    }
#ifdef LIBMARIADB
    hw_my_watch_socket(&b->watch, (int)mysql_get_socket(b->conn));
#endif
    /*
     * READ COMMITTED keeps claims from gap-locking ranges that appends insert
     * into; strict mode turns silent truncation into errors.
     */
    err = exec_sql(b, "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED", "session");
    if (!err)
        err = exec_sql(b, "SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION'",
                       "session");
    if (!err)
        err = query_int(b, "SELECT @@max_allowed_packet", NULL, &max_packet);
    if (!err)
        err = check_durable(b);
    if (err)
        goto fail;
    b->max_packet = (unsigned long)max_packet;
    if (b->max_packet < HW_STORE_BODY_MAX + HW_STORE_HEADERS_MAX + HW_MY_PACKET_SLACK)
        HW_WARN("store %s: max_allowed_packet is %lu bytes: events larger than that fail; "
                "set it to 64M for 25 MiB bodies",
                u->name, b->max_packet);
    if (b->down)
        HW_INFO("store %s: MySQL reachable again", u->name);
    b->down = 0;
    b->backoff_ms = 0;
    return 0;

fail:
    my_drop(b);
    return err;
}

/* Makes sure there is a connection, or fails fast while the server is away. */
static int connected(struct hw_my *b)
{
    int64_t now = hw_wall_ms();

    hw_my_watch_touch(&b->watch, (int64_t)CALL_LIMIT_TIMEOUTS * b->timeout_s * 1000);
    /* An idle connection may have been closed by a restart or wait_timeout. */
    if (b->conn && !b->broken && now - b->used_ms > IDLE_PING_MS) {
        b->used_ms = now; /* the ping's own timeout is measured from here */
        if (mysql_ping(b->conn))
            conn_fail(b, "ping");
    }
    if (b->broken)
        my_drop(b);
    if (!b->conn) {
        if (now < b->retry_at_ms && !b->settle_now)
            return HW_EUNAVAIL;
        b->settle_now = 0;
        b->used_ms = now;
        if (my_connect(b) < 0) {
            back_off(b, hw_wall_ms());
            return HW_EUNAVAIL;
        }
    }
    b->used_ms = now;
    return 0;
}

int hw_my_ready(struct hw_my *b)
{
    int err = connected(b);

    /* Statements outside hw_my_begin() commit on their own. */
    if (!err && b->manual) {
        if (mysql_autocommit(b->conn, 1))
            return conn_fail(b, "autocommit");
        b->manual = 0;
    }
    return err;
}

/* Returns the prepared statement k on the current connection, or NULL with *err set. */
MYSQL_STMT *hw_my_stmt(struct hw_my *b, int k, int *err)
{
    MYSQL_STMT *st;

    if (b->st[k])
        return b->st[k];
    st = mysql_stmt_init(b->conn);
    if (!st) {
        *err = HW_ENOMEM;
        return NULL;
    }
    if (mysql_stmt_prepare(st, sql_text[k], strlen(sql_text[k]))) {
        *err = hw_my_stmt_fail(b, st, "prepare");
        mysql_stmt_close(st);
        return NULL;
    }
    b->st[k] = st;
    return st;
}

MYSQL_STMT *hw_my_prepare(struct hw_my *b, MYSQL_STMT **slot, const char *sql, size_t len, int *err)
{
    MYSQL_STMT *st = mysql_stmt_init(b->conn);

    if (!st) {
        *err = HW_ENOMEM;
        return NULL;
    }
    if (mysql_stmt_prepare(st, sql, (unsigned long)len)) {
        *err = hw_my_stmt_fail(b, st, "prepare");
        mysql_stmt_close(st);
        return NULL;
    }
    *slot = st;
    return st;
}

/* Binds p (may be NULL) and executes st. */
int hw_my_execute(struct hw_my *b, MYSQL_STMT *st, MYSQL_BIND *p, const char *what)
{
    if ((p && mysql_stmt_bind_param(st, p)) || mysql_stmt_execute(st))
        return hw_my_stmt_fail(b, st, what);
    return 0;
}

/* Runs cached statement k with parameters p; *rows (may be NULL) gets the affected rows. */
int hw_my_run(struct hw_my *b, int k, MYSQL_BIND *p, uint64_t *rows, const char *what)
{
    int err = 0;
    MYSQL_STMT *st = hw_my_stmt(b, k, &err);

    if (!st)
        return err;
    err = hw_my_execute(b, st, p, what);
    if (!err && rows)
        *rows = (uint64_t)mysql_stmt_affected_rows(st);
    return err;
}

static int my_open(const struct hw_store_url *u, void **be)
{
    struct hw_my *b = calloc(1, sizeof(*b));
    int err;

    if (!b)
        return HW_ENOMEM;
    pthread_once(&library_once, library_init);
    b->url = u;
    b->timeout_s = u->timeout_s ? u->timeout_s : TIMEOUT_S_DEFAULT;
    b->used_ms = hw_wall_ms();
    hw_my_watch_add(&b->watch, u->name);
    /* The first connection's own statements (session, durability) have the same deadline. */
    hw_my_watch_call(&b->watch, 1);
    hw_my_watch_touch(&b->watch, (int64_t)CALL_LIMIT_TIMEOUTS * b->timeout_s * 1000);
    err = my_connect(b);
    hw_my_watch_call(&b->watch, 0);
    if (err) {
        hw_my_watch_remove(&b->watch);
        free(b);
        return err;
    }
    b->used_ms = hw_wall_ms();
    *be = b;
    return 0;
}

static void my_close(void *be)
{
    struct hw_my *b = be;

    my_drop(b);
    hw_my_watch_remove(&b->watch);
    free(b);
}

static void my_call(void *be, int begin)
{
    hw_my_watch_call(&((struct hw_my *)be)->watch, begin);
}

static void my_thread_start(void)
{
    mysql_thread_init();
}

static void my_thread_end(void)
{
    mysql_thread_end();
}

/*
 * Autocommit stays off after a transaction, so that back-to-back group
 * commits cost one round trip for the INSERT and one for the COMMIT; the
 * next statement outside a transaction turns it back on (hw_my_ready).
 */
/* A group commit: deadlocks in it are worth running again (HW_STORE_ERETRY). */
static int my_batch_begin(void *be)
{
    struct hw_my *b = be;

    b->batch = 1;
    return hw_my_begin(b);
}

static int my_batch_commit(void *be)
{
    struct hw_my *b = be;
    int err = hw_my_commit(b);

    b->batch = 0;
    return err;
}

static void my_batch_rollback(void *be)
{
    struct hw_my *b = be;

    hw_my_rollback(b);
    b->batch = 0;
}

int hw_my_begin(void *be)
{
    struct hw_my *b = be;
    int err = connected(b);

    if (!err && !b->manual) {
        if (mysql_autocommit(b->conn, 0))
            return conn_fail(b, "begin");
        b->manual = 1;
    }
    return err;
}

int hw_my_commit(void *be)
{
    struct hw_my *b = be;

    int err;

    if (!mysql_commit(b->conn))
        return 0;
    err = conn_fail(b, "commit");
    /*
     * The server may have committed and its answer been lost (a dropped
     * packet, a proxy, a timeout just after the commit). The caller settles
     * that with one query; its reconnection may not wait for the back-off,
     * or a stored event would be reported failed and sent again.
     */
    b->settle_now = err == HW_EUNAVAIL;
    return err;
}

void hw_my_rollback(void *be)
{
    struct hw_my *b = be;

    /* A broken connection has rolled back already: the server drops its transaction. */
    if (b->conn && !b->broken && mysql_rollback(b->conn))
        conn_fail(b, "rollback");
}

/* The fail-fast timeout of every call but a migration's (?timeout=S, or the default). */
static unsigned call_timeout(const struct hw_my *b)
{
    return b->url->timeout_s ? b->url->timeout_s : TIMEOUT_S_DEFAULT;
}

/*
 * A migration runs on a connection of its own with a long timeout: creating an
 * index on a large table, or waiting up to 60 s for another process's migration,
 * takes longer than the fail-fast timeout of ordinary calls, and the client
 * library reads its timeouts only when it connects. my_schema_end() drops that
 * connection and connects again with the ordinary timeout.
 */
static int my_schema_begin(void *be)
{
    struct hw_my *b = be;
    int64_t got = 0;
    int err;

    my_drop(b);
    b->timeout_s = call_timeout(b) > MIGRATE_TIMEOUT_S ? call_timeout(b) : MIGRATE_TIMEOUT_S;
    err = my_connect(b);
    if (!err)
        err =
            query_int(b, "SELECT GET_LOCK(CONCAT('hookwire_schema.', DATABASE()), 60)", NULL, &got);
    if (!err && got != 1) {
        HW_ERR("store %s: another process holds the schema migration lock", b->url->name);
        err = HW_EUNAVAIL;
    }
    return err;
}

static int my_schema_end(void *be, int ok)
{
    struct hw_my *b = be;
    int64_t got;
    int err = b->conn ? query_int(b, "SELECT RELEASE_LOCK(CONCAT('hookwire_schema.', DATABASE()))",
                                  NULL, &got)
                      : 0;

    (void)ok;
    my_drop(b); /* also releases the lock if the query above could not */
    b->timeout_s = call_timeout(b);
    b->retry_at_ms = 0;
    /* Connected again, with the ordinary timeout, as an open store is. */
    return my_connect(b) ? HW_EUNAVAIL : err;
}

static int my_schema_version(void *be, int *version)
{
    struct hw_my *b = be;
    int64_t exists = 0, v = 0;
    int err = hw_my_ready(b);

    if (!err)
        err = query_int(b,
                        "SELECT COUNT(*) FROM information_schema.tables WHERE "
                        "table_schema = DATABASE() AND table_name = ?",
                        "hookwire_schema", &exists);
    if (!err && exists)
        err = query_int(b, HW_SQL_SCHEMA_VERSION, NULL, &v);
    *version = (int)v;
    return err;
}

static int my_schema_exec(void *be, const char *sql)
{
    struct hw_my *b = be;
    MYSQL_STMT *st = mysql_stmt_init(b->conn);
    unsigned e;
    int err = 0;

    if (!st)
        return HW_ENOMEM;
    if (mysql_stmt_prepare(st, sql, strlen(sql)) || mysql_stmt_execute(st)) {
        e = mysql_stmt_errno(st);
        /*
         * MySQL commits each DDL statement on its own. If a process died
         * between a migration's DDL and its version record, the DDL is
         * already there: table (1050), column (1060) or index (1061)
         * exists, index already dropped (1091). Each migration step is one
         * statement, so such an error means the step was applied whole.
         */
        if (e == 1050 || e == 1060 || e == 1061 || e == 1091)
            HW_WARN("store %s: migration step already applied: %s", b->url->name,
                    mysql_stmt_error(st));
        else
            err = hw_my_stmt_fail(b, st, "migrate");
    }
    mysql_stmt_close(st);
    return err;
}

static int my_schema_record(void *be, int version, int64_t now_ms)
{
    MYSQL_BIND p[2];

    hw_my_param_int(&p[0], &version);
    hw_my_param_i64(&p[1], &now_ms);
    return hw_my_run(be, HW_MY_SCHEMA_RECORD, p, NULL, "record schema version");
}

static int my_ping(void *be)
{
    struct hw_my *b = be;
    int err = hw_my_ready(b);

    if (!err && mysql_ping(b->conn))
        err = conn_fail(b, "ping");
    return err;
}

static int my_durable(void *be)
{
    return ((struct hw_my *)be)->durable;
}

int hw_my_query_i64(struct hw_my *b, const char *sql, const int64_t *v, int nb, int64_t *out)
{
    MYSQL_STMT *st = mysql_stmt_init(b->conn);
    MYSQL_BIND p[2], r[1];
    hw_my_flag nul = 0;
    int err = 0;

    if (!st)
        return HW_ENOMEM;
    *out = 0;
    for (int i = 0; i < nb; i++)
        hw_my_param_i64(&p[i], &v[i]);
    hw_my_result_i64(&r[0], out, &nul);
    if (mysql_stmt_prepare(st, sql, strlen(sql)) || (nb && mysql_stmt_bind_param(st, p)) ||
        mysql_stmt_execute(st) || mysql_stmt_bind_result(st, r))
        err = hw_my_stmt_fail(b, st, "summary");
    else if (mysql_stmt_fetch(st) == 1)
        err = hw_my_stmt_fail(b, st, "summary");
    if (nul)
        *out = 0;
    mysql_stmt_close(st);
    return err;
}

const struct hw_store_ops hw_store_mysql_ops = {
    .scheme = "mysql",
    .open = my_open,
    .close = my_close,
    .thread_start = my_thread_start,
    .thread_end = my_thread_end,
    .call = my_call,
    .schema_begin = my_schema_begin,
    .schema_version = my_schema_version,
    .schema_exec = my_schema_exec,
    .schema_record = my_schema_record,
    .schema_end = my_schema_end,
    .begin = my_batch_begin,
    .insert = hw_my_insert,
    .insert_finished = hw_my_insert_finished,
    .commit = my_batch_commit,
    .rollback = my_batch_rollback,
    .exists = hw_my_exists,
    .get = hw_my_get,
    .list = hw_my_list,
    .claim = hw_my_claim,
    .record_one = hw_my_record_one,
    .record_batch = hw_my_record_batch,
    .release_one = hw_my_release_one,
    .release_batch = hw_my_release_batch,
    .attempts = hw_my_attempts,
    .requeue = hw_my_requeue,
    .requeue_failed = hw_my_requeue_failed,
    .purge_batch = hw_my_purge_batch,
    .purge_excess_batch = hw_my_purge_excess_batch,
    .summarize = hw_my_summarize,
    .backlog = hw_my_backlog,
    .latency = hw_my_latency,
    .ping = my_ping,
    .durable = my_durable,
    .token_add = hw_my_token_add,
    .token_revoke = hw_my_token_revoke,
    .token_lookup = hw_my_token_lookup,
    .token_list = hw_my_token_list,
};
