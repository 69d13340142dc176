/*
 * MySQL backend of the event store, on the plain libmysqlclient API (so it
 * links against Oracle's client or MariaDB Connector/C): the ops table, open
 * and close, the statements kept prepared on the connection and the helpers
 * that run them, transactions, and the schema hooks. The connection itself
 * is store_mysql_conn.c's. Called only through store.c, under the handle's lock.
 */
#include "store_mysql.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "store_mysql_row.h"

#define TIMEOUT_S_DEFAULT 3   /* connect, read and write; ?timeout=S in the URL */
#define MIGRATE_TIMEOUT_S 600 /* a migration's DDL on a large table, or its lock wait */

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

/* Reads one integer from a one-row, one-column query with up to one string parameter. */
int hw_my_query_int(struct hw_my *b, const char *sql, const char *param, int64_t *v)
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
    hw_my_watch_touch(&b->watch, (int64_t)HW_MY_CALL_LIMIT_TIMEOUTS * b->timeout_s * 1000);
    err = hw_my_connect(b);
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

    hw_my_drop(b);
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
    int err = hw_my_connected(b);

    if (!err && !b->manual) {
        if (mysql_autocommit(b->conn, 0))
            return hw_my_conn_fail(b, "begin");
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
    err = hw_my_conn_fail(b, "commit");
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
        hw_my_conn_fail(b, "rollback");
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

    hw_my_drop(b);
    b->timeout_s = call_timeout(b) > MIGRATE_TIMEOUT_S ? call_timeout(b) : MIGRATE_TIMEOUT_S;
    err = hw_my_connect(b);
    if (!err)
        err = hw_my_query_int(b, "SELECT GET_LOCK(CONCAT('hookwire_schema.', DATABASE()), 60)",
                              NULL, &got);
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
    int err =
        b->conn ? hw_my_query_int(b, "SELECT RELEASE_LOCK(CONCAT('hookwire_schema.', DATABASE()))",
                                  NULL, &got)
                : 0;

    (void)ok;
    hw_my_drop(b); /* also releases the lock if the query above could not */
    b->timeout_s = call_timeout(b);
    b->retry_at_ms = 0;
    /* Connected again, with the ordinary timeout, as an open store is. */
    return hw_my_connect(b) ? HW_EUNAVAIL : err;
}

static int my_schema_version(void *be, int *version)
{
    struct hw_my *b = be;
    int64_t exists = 0, v = 0;
    int err = hw_my_ready(b);

    if (!err)
        err = hw_my_query_int(b,
                              "SELECT COUNT(*) FROM information_schema.tables WHERE "
                              "table_schema = DATABASE() AND table_name = ?",
                              "hookwire_schema", &exists);
    if (!err && exists)
        err = hw_my_query_int(b, HW_SQL_SCHEMA_VERSION, NULL, &v);
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
        err = hw_my_conn_fail(b, "ping");
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
