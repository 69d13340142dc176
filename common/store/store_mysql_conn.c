/*
 * The MySQL backend's connection: made within the call deadline (session,
 * durability check), dropped with its statements, its errors mapped to ours.
 * A dropped connection is rebuilt at the next call; after a failed connect or
 * a timeout, calls fail fast (HW_EUNAVAIL) for 250 ms doubling to 8 s. Only
 * through store.c, under the handle's lock.
 */
#include "store_mysql.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>

#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "store_mysql_row.h"

#define BACKOFF_MIN_MS 250  /* after a failed connect or a timeout, doubling... */
#define BACKOFF_MAX_MS 8000 /* ...up to this */
#define IDLE_PING_MS   1000 /* a connection idle this long is checked before use */

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

int hw_my_conn_fail(struct hw_my *b, const char *what)
{
    return my_fail(b, mysql_errno(b->conn), mysql_error(b->conn), what);
}

void hw_my_drop(struct hw_my *b)
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

/*
 * Checks that the server's settings make a commit durable, and warns once
 * when they do not: hookwire acknowledges an event only after its commit.
 */
static int check_durable(struct hw_my *b)
{
    int64_t flush = 1, log_bin = 0, sync_binlog = 1;
    int err = hw_my_query_int(b, "SELECT @@innodb_flush_log_at_trx_commit", NULL, &flush);
    int ok;

    if (!err)
        err = hw_my_query_int(b, "SELECT @@log_bin", NULL, &log_bin);
    if (!err)
        err = hw_my_query_int(b, "SELECT @@sync_binlog", NULL, &sync_binlog);
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
    return connect_within(b, (int64_t)HW_MY_CALL_LIMIT_TIMEOUTS * b->timeout_s * 1000, late);
#else
    const struct hw_store_url *u = b->url;

    *late = 0;
    return mysql_real_connect(b->conn, u->host, u->user, u->password, u->db, u->port, u->socket,
                              CLIENT_FOUND_ROWS);
#endif
}

int hw_my_connect(struct hw_my *b)
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
                    u->name, HW_MY_CALL_LIMIT_TIMEOUTS * b->timeout_s);
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
        err = hw_my_query_int(b, "SELECT @@max_allowed_packet", NULL, &max_packet);
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
    hw_my_drop(b);
    return err;
}

/* Makes sure there is a connection, or fails fast while the server is away. */
int hw_my_connected(struct hw_my *b)
{
    int64_t now = hw_wall_ms();

    hw_my_watch_touch(&b->watch, (int64_t)HW_MY_CALL_LIMIT_TIMEOUTS * b->timeout_s * 1000);
    /* An idle connection may have been closed by a restart or wait_timeout. */
    if (b->conn && !b->broken && now - b->used_ms > IDLE_PING_MS) {
        b->used_ms = now; /* the ping's own timeout is measured from here */
        if (mysql_ping(b->conn))
            hw_my_conn_fail(b, "ping");
    }
    if (b->broken)
        hw_my_drop(b);
    if (!b->conn) {
        if (now < b->retry_at_ms && !b->settle_now)
            return HW_EUNAVAIL;
        b->settle_now = 0;
        b->used_ms = now;
        if (hw_my_connect(b) < 0) {
            back_off(b, hw_wall_ms());
            return HW_EUNAVAIL;
        }
    }
    b->used_ms = now;
    return 0;
}

int hw_my_ready(struct hw_my *b)
{
    int err = hw_my_connected(b);

    /* Statements outside hw_my_begin() commit on their own. */
    if (!err && b->manual) {
        if (mysql_autocommit(b->conn, 1))
            return hw_my_conn_fail(b, "autocommit");
        b->manual = 0;
    }
    return err;
}
