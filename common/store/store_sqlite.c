/*
 * SQLite backend of the event store: one connection in WAL mode with
 * synchronous=FULL, so a returned commit survives power loss. Writers use
 * BEGIN IMMEDIATE: SQLite has one writer at a time, which is what makes a
 * claim exclusive here. Statements are prepared once, on first use. Called
 * only through store.c, under the handle's lock.
 */
#include "store_sqlite.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"

static const char *const sql_text[HW_LITE_COUNT] = {
    [HW_LITE_BEGIN] = "BEGIN IMMEDIATE",
    [HW_LITE_COMMIT] = "COMMIT",
    [HW_LITE_ROLLBACK] = "ROLLBACK",
    [HW_LITE_INSERT] = HW_SQL_INSERT,
    [HW_LITE_INSERT_DONE] = HW_SQL_INSERT_DONE,
    [HW_LITE_EXCESS_UPPER] = HW_SQL_EXCESS_UPPER_("INDEXED BY hookwire_events_source"),
    [HW_LITE_EXCESS_ATTEMPTS] = HW_SQL_EXCESS_ATTEMPTS,
    [HW_LITE_EXCESS_EVENTS] = HW_SQL_EXCESS_EVENTS,
    [HW_LITE_FIND_DUP] = HW_SQL_FIND_DUP,
    [HW_LITE_GET] = HW_SQL_GET,
    [HW_LITE_CLAIM] = HW_SQL_CLAIM,
    [HW_LITE_CLAIM_SOURCE] = HW_SQL_CLAIM_SOURCE,
    [HW_LITE_FINISH] = HW_SQL_FINISH,
    [HW_LITE_SETTLE] = HW_SQL_SETTLE,
    [HW_LITE_RELEASE] = HW_SQL_RELEASE,
    [HW_LITE_NEXT_SOURCE] = HW_SQL_NEXT_SOURCE,
    [HW_LITE_EXISTS] = HW_SQL_EXISTS,
    [HW_LITE_ADD_ATTEMPT] = HW_SQL_ADD_ATTEMPT,
    [HW_LITE_OUTCOME_STORED] = HW_SQL_OUTCOME_STORED,
    [HW_LITE_ATTEMPTS] = HW_SQL_ATTEMPTS,
    [HW_LITE_REQUEUE] = HW_SQL_REQUEUE,
    [HW_LITE_STATUS_OF] = HW_SQL_STATUS_OF,
    [HW_LITE_PURGE_PICK] = HW_SQL_PURGE_PICK,
    [HW_LITE_PURGE_ATTEMPTS] = HW_SQL_PURGE_ATTEMPTS,
    [HW_LITE_PURGE_EVENT] = HW_SQL_PURGE_EVENT,
    [HW_LITE_TOKEN_ADD] = HW_SQL_TOKEN_ADD,
    [HW_LITE_TOKEN_REVOKE] = HW_SQL_TOKEN_REVOKE,
    [HW_LITE_TOKEN_LOOKUP] = HW_SQL_TOKEN_LOOKUP,
    [HW_LITE_TOKEN_LIST] = HW_SQL_TOKEN_LIST,
    [HW_LITE_SCHEMA_RECORD] = HW_SQL_SCHEMA_RECORD,
    [HW_LITE_PACK_RESERVE] = HW_SQL_PACK_RESERVE,
    [HW_LITE_PACK_START] = HW_SQL_PACK_START,
    [HW_LITE_PACK_INSERT] = HW_SQL_PACK_INSERT,
    [HW_LITE_PACK_FIND] = HW_SQL_PACK_FIND,
    [HW_LITE_PACK_DATA] = HW_SQL_PACK_DATA,
    [HW_LITE_PACK_UPDATE] = HW_SQL_PACK_UPDATE,
    [HW_LITE_PACK_DELETE] = HW_SQL_PACK_DELETE,
    [HW_LITE_PACK_UNPACK] = HW_SQL_PACK_UNPACK,
    [HW_LITE_PACK_SEG_LOWEST] = HW_SQL_PACK_SEG_LOWEST,
};

/* Maps a SQLite result code to ours and logs it with SQLite's message. */
int hw_lite_fail(struct hw_lite *b, int rc, const char *what)
{
    /*
     * SQLite keeps the system errno only on some paths; errno itself still
     * holds it when this runs right after the failing step. Only errnos that
     * say something about the storage are passed on.
     */
    int sys = sqlite3_system_errno(b->db) ? sqlite3_system_errno(b->db) : errno;
    int err;

    switch (rc & 0xff) {
    case SQLITE_READONLY:
        err = -EROFS;
        break;
    case SQLITE_FULL:
        err = -ENOSPC;
        break;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        err = HW_EUNAVAIL;
        break;
    case SQLITE_NOMEM:
        err = HW_ENOMEM;
        break;
    case SQLITE_TOOBIG:
        err = HW_E2BIG;
        break;
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
        if (sys == ENOSPC || sys == EDQUOT)
            err = -ENOSPC;
        else if (sys == EFBIG || sys == EROFS || sys == EACCES || sys == EPERM || sys == ENOENT ||
                 sys == ENOTDIR || sys == EISDIR)
            err = -sys;
        else
            err = HW_EIO;
        break;
    default:
        err = HW_EIO;
        break;
    }
    HW_ERR("store %s: %s: %s (%s; sqlite code %d)", b->name, what, sqlite3_errmsg(b->db),
           hw_strerror(err), rc);
    return err;
}

static int sync_full(struct hw_lite *b);

/* Returns the cached statement k, reset and ready to bind, or NULL (error logged in *err). */
sqlite3_stmt *hw_lite_stmt(struct hw_lite *b, int k, int *err)
{
    int rc;

    /*
     * Outside its batch, a relaxed connection would commit anything else
     * without an fsync: it is set back to FULL first, or nothing runs.
     */
    if (b->relaxed && !b->batch && sqlite3_get_autocommit(b->db)) {
        *err = sync_full(b);
        if (*err)
            return NULL;
    }
    if (b->st[k])
        return b->st[k];
    rc = sqlite3_prepare_v3(b->db, sql_text[k], -1, SQLITE_PREPARE_PERSISTENT, &b->st[k], NULL);
    if (rc != SQLITE_OK) {
        *err = hw_lite_fail(b, rc, "prepare");
        return NULL;
    }
    return b->st[k];
}

/* Steps st to completion and resets it. Returns 0 or the mapped error. */
int hw_lite_run(struct hw_lite *b, sqlite3_stmt *st, const char *what)
{
    int rc, err = 0;

    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        ;
    /* Map before the reset: resetting replaces the system errno SQLite kept. */
    if (rc != SQLITE_DONE)
        err = hw_lite_fail(b, rc, what);
    sqlite3_reset(st);
    return err;
}

/* Runs cached statement k with no parameters. */
static int run_k(struct hw_lite *b, int k, const char *what)
{
    int err = 0;
    sqlite3_stmt *st = hw_lite_stmt(b, k, &err);

    return st ? hw_lite_run(b, st, what) : err;
}

void hw_lite_bind_bytes(sqlite3_stmt *st, int i, const void *p, size_t n)
{
    /* A NULL pointer would bind SQL NULL; an empty value must stay an empty blob. */
    sqlite3_bind_blob64(st, i, p ? p : "", n, SQLITE_STATIC);
}

void hw_lite_bind_str(sqlite3_stmt *st, int i, const char *s)
{
    if (s)
        hw_lite_bind_bytes(st, i, s, strlen(s));
    else
        sqlite3_bind_null(st, i);
}

void hw_lite_bind_event(sqlite3_stmt *st, const struct hw_store_event *ev)
{
    sqlite3_bind_text(st, 1, ev->id, -1, SQLITE_STATIC);
    hw_lite_bind_str(st, 2, ev->source);
    sqlite3_bind_int64(st, 3, ev->received_ms);
    hw_lite_bind_str(st, 4, ev->method);
    hw_lite_bind_str(st, 5, ev->path);
    hw_lite_bind_str(st, 6, ev->query);
    hw_lite_bind_bytes(st, 7, ev->headers, ev->headers_len);
    hw_lite_bind_bytes(st, 8, ev->body, ev->body_len);
    sqlite3_bind_int64(st, 9, (sqlite3_int64)ev->body_len);
    hw_lite_bind_bytes(st, 10, ev->body_sha256, HW_STORE_SHA256_LEN);
    sqlite3_bind_int(st, 11, ev->verify);
    hw_lite_bind_str(st, 12, ev->dedup_key && ev->dedup_key[0] ? ev->dedup_key : NULL);
}

const char *hw_lite_col_str(sqlite3_stmt *st, int i)
{
    const char *s = (const char *)sqlite3_column_text(st, i);

    return s ? s : "";
}

/*
 * Waits for another connection's lock in steps of BUSY_STEP_NS, BUSY_TRIES
 * times at most (about 10 s). SQLite's own busy timeout sleeps longer the
 * longer it has waited, up to 100 ms a try: a commit queued behind another
 * connection's short transaction (the receiver's appender, claimer and
 * recorder each have one) could sleep on for tens of milliseconds after
 * the lock was free.
 */
#define BUSY_STEP_NS 500000L
#define BUSY_TRIES   20000

/* hw_store_stopping(): the monotonic ms from which no lock is waited for; 0 while serving. */
static _Atomic int64_t stop_waiting_at;

void hw_store_stopping(unsigned ms)
{
    atomic_store(&stop_waiting_at, hw_mono_ms() + (int64_t)ms);
}

static int busy_wait(void *arg, int tries)
{
    struct timespec t = { .tv_sec = 0, .tv_nsec = BUSY_STEP_NS };
    int64_t stop = atomic_load(&stop_waiting_at);

    (void)arg;
    if (tries >= BUSY_TRIES || (stop && hw_mono_ms() >= stop))
        return 0;
    nanosleep(&t, NULL);
    return 1;
}

/*
 * Whether the open database file still has a name. In WAL mode SQLite goes
 * on writing to a file that was deleted (or replaced by a rename) while
 * open, and all of it is lost when the program ends; so a write
 * transaction, and a ping, first checks that the file still has a link.
 * Returns 0, or -ENOENT (logged once) from then on.
 */
static int file_check(struct hw_lite *b)
{
    struct stat st;

    if (b->file_fd < 0)
        return 0;
    if (!b->file_gone && fstat(b->file_fd, &st) == 0 && st.st_nlink > 0)
        return 0;
    if (!b->file_gone)
        HW_ERR("store %s: the database file was deleted or replaced while in use: nothing more "
               "can be stored in it; restart to open the file at its path again",
               b->name);
    b->file_gone = 1;
    return -ENOENT;
}

/* Opens a descriptor of the database file for file_check() (none for a store in memory). */
static int file_watch(struct hw_lite *b)
{
    const char *path = sqlite3_db_filename(b->db, "main");

    if (!path || !*path)
        return 0;
    b->file_fd = open(path, O_RDONLY | O_CLOEXEC);
    if (b->file_fd < 0) {
        int e = errno;

        HW_ERR("store %s: cannot open %s: %s", b->name, path, strerror(e));
        return -e;
    }
    return 0;
}

static int lite_open(const struct hw_store_url *u, void **be)
{
    static const char *const pragmas[] = { "PRAGMA synchronous = FULL",
                                           "PRAGMA foreign_keys = OFF" };
    struct hw_lite *b = calloc(1, sizeof(*b));
    sqlite3_stmt *st = NULL;
    int rc, err;

    if (!b)
        return HW_ENOMEM;
    b->seg.fd = -1;
    b->file_fd = -1;
    b->name = u->name;
    rc = sqlite3_open_v2(u->path, &b->db,
                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        err = b->db ? hw_lite_fail(b, rc, "open") : HW_ENOMEM;
        goto fail;
    }
    sqlite3_extended_result_codes(b->db, 1);
    /* SQLite opens a write-protected file read-only without a word; say so here. */
    if (sqlite3_db_readonly(b->db, "main") == 1) {
        HW_ERR("store %s: the database file is read-only", b->name);
        err = -EROFS;
        goto fail;
    }
    sqlite3_busy_handler(b->db, busy_wait, NULL);
    err = file_watch(b);
    if (err)
        goto fail;
    /* Pack data goes to files beside the database ("" for a store in memory: into rows). */
    err = hw_lite_seg_init(&b->seg, sqlite3_db_filename(b->db, "main"));
    if (err)
        goto fail;
    rc = sqlite3_prepare_v2(b->db, "PRAGMA journal_mode = WAL", -1, &st, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    if (rc != SQLITE_ROW || strcmp(hw_lite_col_str(st, 0), "wal") != 0) {
        err = rc == SQLITE_ROW ? HW_EIO : hw_lite_fail(b, rc, "enable WAL");
        if (rc == SQLITE_ROW)
            HW_ERR("store %s: cannot switch to WAL mode", b->name);
        goto fail;
    }
    sqlite3_finalize(st);
    st = NULL;
    for (size_t i = 0; i < sizeof(pragmas) / sizeof(pragmas[0]); i++) {
        rc = sqlite3_prepare_v2(b->db, pragmas[i], -1, &st, NULL);
        if (rc == SQLITE_OK)
            rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(b->db);
        sqlite3_finalize(st);
        st = NULL;
        if (rc != SQLITE_OK) {
            err = hw_lite_fail(b, rc, pragmas[i]);
            goto fail;
        }
    }
    if (u->unsafe_nosync) {
        /* Tests use this to show that a missing fsync is caught; it loses data on a crash. */
        rc = sqlite3_exec(b->db, "PRAGMA synchronous = OFF", NULL, NULL, NULL);
        if (rc != SQLITE_OK) {
            err = hw_lite_fail(b, rc, "synchronous=OFF");
            goto fail;
        }
        b->nosync = 1;
        HW_WARN("store %s: UNSAFE: synchronous=OFF, commits are not fsynced (tests only)", b->name);
    }
    *be = b;
    return 0;

fail:
    sqlite3_finalize(st);
    sqlite3_close(b->db);
    hw_lite_seg_close(&b->seg);
    if (b->file_fd >= 0)
        close(b->file_fd);
    free(b);
    return err;
}

static void lite_close(void *be)
{
    struct hw_lite *b = be;

    for (int i = 0; i < HW_LITE_COUNT; i++)
        sqlite3_finalize(b->st[i]);
    sqlite3_close(b->db);
    hw_lite_seg_close(&b->seg);
    if (b->file_fd >= 0)
        close(b->file_fd);
    free(b);
}

/* Sets synchronous back to FULL after a relaxed batch. Returns 0 or the mapped error. */
static int sync_full(struct hw_lite *b)
{
    /* Not a cached statement: SQLite applies this PRAGMA when it compiles it, not when it runs. */
    int rc = sqlite3_exec(b->db, "PRAGMA synchronous = FULL", NULL, NULL, NULL);

    if (rc != SQLITE_OK)
        return hw_lite_fail(b, rc, "synchronous=FULL");
    b->relaxed = 0;
    return 0;
}

int hw_lite_begin(void *be)
{
    int err = file_check(be);

    return err ? err : run_k(be, HW_LITE_BEGIN, "begin");
}

int hw_lite_begin_finished(void *be)
{
    struct hw_lite *b = be;
    int rc;

    if (b->nosync)
        return hw_lite_begin(b); /* already OFF, and it stays so */
    b->relaxed = 1;              /* even on an error: FULL is then set again before anything else */
    rc = sqlite3_exec(b->db, "PRAGMA synchronous = NORMAL", NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return hw_lite_fail(b, rc, "synchronous=NORMAL");
    b->batch = 1;
    return hw_lite_begin(b);
}

int hw_lite_commit(void *be)
{
    struct hw_lite *b = be;
    int err = run_k(b, HW_LITE_COMMIT, "commit");

    /* Committed or not, the batch is over; a failure here is retried by the next statement. */
    b->batch = 0;
    if (b->relaxed)
        sync_full(b);
    return err;
}

void hw_lite_rollback(void *be)
{
    struct hw_lite *b = be;

    if (!sqlite3_get_autocommit(b->db))
        run_k(b, HW_LITE_ROLLBACK, "rollback");
    b->batch = 0;
    if (b->relaxed)
        sync_full(b);
}

static int lite_schema_begin(void *be)
{
    return hw_lite_begin(be);
}

static int lite_schema_end(void *be, int ok)
{
    if (ok)
        return hw_lite_commit(be);
    hw_lite_rollback(be);
    return 0;
}

static int lite_schema_exec(void *be, const char *sql)
{
    struct hw_lite *b = be;
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(b->db, sql, -1, &st, NULL);

    if (rc != SQLITE_OK)
        return hw_lite_fail(b, rc, "migrate");
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : hw_lite_fail(b, rc, "migrate");
}

static int lite_schema_version(void *be, int *version)
{
    static const char probe[] =
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'hookwire_schema'";
    struct hw_lite *b = be;
    sqlite3_stmt *st = NULL;
    int rc, exists;

    *version = 0;
    rc = sqlite3_prepare_v2(b->db, probe, -1, &st, NULL);
    if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW)
        rc = SQLITE_OK;
    exists = rc == SQLITE_OK && sqlite3_column_int(st, 0) > 0;
    sqlite3_finalize(st);
    st = NULL;
    if (rc == SQLITE_OK && exists) {
        rc = sqlite3_prepare_v2(b->db, HW_SQL_SCHEMA_VERSION, -1, &st, NULL);
        if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
            *version = sqlite3_column_int(st, 0);
            rc = SQLITE_OK;
        }
        sqlite3_finalize(st);
    }
    return rc == SQLITE_OK ? 0 : hw_lite_fail(b, rc, "read schema version");
}

static int lite_schema_record(void *be, int version, int64_t now_ms)
{
    struct hw_lite *b = be;
    int err = 0;
    sqlite3_stmt *st = hw_lite_stmt(b, HW_LITE_SCHEMA_RECORD, &err);

    if (!st)
        return err;
    sqlite3_bind_int(st, 1, version);
    sqlite3_bind_int64(st, 2, now_ms);
    return hw_lite_run(b, st, "record schema version");
}

static int lite_ping(void *be)
{
    return file_check(be);
}

static int lite_durable(void *be)
{
    return !((struct hw_lite *)be)->nosync;
}

const struct hw_store_ops hw_store_sqlite_ops = {
    .scheme = "sqlite",
    .open = lite_open,
    .close = lite_close,
    .schema_begin = lite_schema_begin,
    .schema_version = lite_schema_version,
    .schema_exec = lite_schema_exec,
    .schema_record = lite_schema_record,
    .schema_end = lite_schema_end,
    .begin = hw_lite_begin,
    .begin_finished = hw_lite_begin_finished,
    .insert = hw_lite_insert,
    .insert_finished = hw_lite_insert_finished,
    .finished_packed = 1,
    .commit = hw_lite_commit,
    .rollback = hw_lite_rollback,
    .exists = hw_lite_exists,
    .get = hw_lite_get,
    .list = hw_lite_list,
    .claim = hw_lite_claim,
    .record_one = hw_lite_record_one,
    .release_one = hw_lite_release_one,
    .attempts = hw_lite_attempts,
    .requeue = hw_lite_requeue,
    .requeue_failed = hw_lite_requeue_failed,
    .purge_batch = hw_lite_purge_batch,
    .purge_excess_batch = hw_lite_purge_excess_batch,
    .summarize = hw_lite_summarize,
    .backlog = hw_lite_backlog,
    .latency = hw_lite_latency,
    .ping = lite_ping,
    .durable = lite_durable,
    .token_add = hw_lite_token_add,
    .token_revoke = hw_lite_token_revoke,
    .token_lookup = hw_lite_token_lookup,
    .token_list = hw_lite_token_list,
};
