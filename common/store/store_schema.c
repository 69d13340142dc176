/*
 * The store schema, as an ordered list of migrations in both SQL dialects.
 * A new store runs every migration from version 1, so the upgrade path is
 * the path every store takes. Never edit a released migration: add one.
 * Runs at open on the opening thread.
 */
#include "store_schema.h"

#include <stddef.h>

#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"

/*
 * Version 1: events and their delivery attempts. Raw request parts are
 * binary columns so that any bytes round-trip exactly; the unique
 * (source, dedup_key) index makes redelivery detection atomic (NULL keys
 * never collide).
 */
static const char *const sqlite_v1[] = {
    "CREATE TABLE hookwire_schema (version INTEGER PRIMARY KEY, applied_ms INTEGER NOT NULL)",
    "CREATE TABLE hookwire_events ("
    " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    " id TEXT NOT NULL UNIQUE,"
    " source BLOB NOT NULL,"
    " received_ms INTEGER NOT NULL,"
    " method BLOB NOT NULL,"
    " path BLOB NOT NULL,"
    " query BLOB NOT NULL,"
    " headers BLOB NOT NULL,"
    " body BLOB NOT NULL,"
    " body_len INTEGER NOT NULL,"
    " body_sha256 BLOB NOT NULL,"
    " verify INTEGER NOT NULL,"
    " dedup_key BLOB,"
    " status INTEGER NOT NULL,"
    " attempts INTEGER NOT NULL DEFAULT 0,"
    " next_attempt_ms INTEGER NOT NULL,"
    " last_status INTEGER NOT NULL DEFAULT 0,"
    " last_error BLOB)",
    "CREATE UNIQUE INDEX hookwire_events_dedup ON hookwire_events (source, dedup_key)",
    "CREATE INDEX hookwire_events_status ON hookwire_events (status, next_attempt_ms)",
    "CREATE INDEX hookwire_events_received ON hookwire_events (received_ms)",
    "CREATE TABLE hookwire_attempts ("
    " n INTEGER PRIMARY KEY,"
    " event_id TEXT NOT NULL,"
    " at_ms INTEGER NOT NULL,"
    " duration_ms INTEGER NOT NULL,"
    " http_status INTEGER NOT NULL,"
    " error BLOB NOT NULL,"
    " excerpt BLOB NOT NULL)",
    "CREATE INDEX hookwire_attempts_event ON hookwire_attempts (event_id)",
    NULL,
};

static const char *const mysql_v1[] = {
    "CREATE TABLE hookwire_schema (version INT NOT NULL PRIMARY KEY,"
    " applied_ms BIGINT NOT NULL) ENGINE=InnoDB",
    "CREATE TABLE hookwire_events ("
    " seq BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,"
    " id CHAR(30) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,"
    " source VARBINARY(64) NOT NULL,"
    " received_ms BIGINT NOT NULL,"
    " method VARBINARY(32) NOT NULL,"
    " path BLOB NOT NULL,"
    " query BLOB NOT NULL,"
    " headers MEDIUMBLOB NOT NULL,"
    " body LONGBLOB NOT NULL,"
    " body_len BIGINT NOT NULL,"
    " body_sha256 BINARY(32) NOT NULL,"
    " verify TINYINT NOT NULL,"
    " dedup_key VARBINARY(255) NULL,"
    " status TINYINT NOT NULL,"
    " attempts INT NOT NULL DEFAULT 0,"
    " next_attempt_ms BIGINT NOT NULL,"
    " last_status INT NOT NULL DEFAULT 0,"
    " last_error VARBINARY(512) NULL,"
    " UNIQUE KEY hookwire_events_id (id),"
    " UNIQUE KEY hookwire_events_dedup (source, dedup_key),"
    " KEY hookwire_events_status (status, next_attempt_ms),"
    " KEY hookwire_events_received (received_ms)"
    ") ENGINE=InnoDB",
    "CREATE TABLE hookwire_attempts ("
    " n BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,"
    " event_id CHAR(30) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,"
    " at_ms BIGINT NOT NULL,"
    " duration_ms INT NOT NULL,"
    " http_status INT NOT NULL,"
    " error VARBINARY(512) NOT NULL,"
    " excerpt BLOB NOT NULL,"
    " KEY hookwire_attempts_event (event_id)"
    ") ENGINE=InnoDB",
    NULL,
};

/*
 * Version 2: claim leases, so that several delivery workers (and processes
 * sharing one MySQL) each take different events and a dead worker's events
 * come back. Claims scan pending events in arrival order, overall or per
 * source.
 */
static const char *const sqlite_v2[] = {
    "ALTER TABLE hookwire_events ADD COLUMN lease_owner BLOB",
    "ALTER TABLE hookwire_events ADD COLUMN lease_until INTEGER",
    "DROP INDEX hookwire_events_status",
    "CREATE INDEX hookwire_events_due ON hookwire_events (status, seq)",
    "CREATE INDEX hookwire_events_source ON hookwire_events (source, seq)",
    NULL,
};

/* One ALTER, so that MySQL applies it as a whole or not at all. */
static const char *const mysql_v2[] = {
    "ALTER TABLE hookwire_events"
    " ADD COLUMN lease_owner VARBINARY(64) NULL,"
    " ADD COLUMN lease_until BIGINT NULL,"
    " DROP INDEX hookwire_events_status,"
    " ADD INDEX hookwire_events_due (status, seq),"
    " ADD INDEX hookwire_events_source (source, seq)",
    NULL,
};

/* Version 3: relay tokens, stored as SHA-256 hashes, several per channel allowed. */
static const char *const sqlite_v3[] = {
    "CREATE TABLE hookwire_tokens (hash BLOB PRIMARY KEY, channel BLOB NOT NULL,"
    " created_ms INTEGER NOT NULL)",
    "CREATE INDEX hookwire_tokens_channel ON hookwire_tokens (channel)",
    NULL,
};

static const char *const mysql_v3[] = {
    "CREATE TABLE hookwire_tokens (hash BINARY(32) NOT NULL PRIMARY KEY,"
    " channel VARBINARY(64) NOT NULL, created_ms BIGINT NOT NULL,"
    " KEY hookwire_tokens_channel (channel)) ENGINE=InnoDB",
    NULL,
};

/*
 * Version 4: fenced leases and the indexes of the queries the delivery
 * workers, the receiver and the replay CLI run. lease_token counts the
 * claims of an event: recording an attempt needs the caller's own, latest
 * one. A claim moves next_attempt_ms to the lease's end, so the due scan is
 * one index range overall (status, next_attempt_ms, seq) and per source
 * (source, status, next_attempt_ms, seq); listings by status or source and
 * time use (status, received_ms) and (source, received_ms); the delivery
 * latency of the last hour reads attempts by time. Events leased under
 * version 3 get their lease end as next attempt time.
 */
static const char *const sqlite_v4[] = {
    "ALTER TABLE hookwire_events ADD COLUMN lease_token INTEGER NOT NULL DEFAULT 0",
    "UPDATE hookwire_events SET next_attempt_ms = lease_until WHERE status = 1 AND "
    "lease_until > next_attempt_ms",
    "CREATE INDEX hookwire_events_next ON hookwire_events (status, next_attempt_ms, seq)",
    "CREATE INDEX hookwire_events_source_next ON hookwire_events "
    "(source, status, next_attempt_ms, seq)",
    "CREATE INDEX hookwire_events_status_time ON hookwire_events (status, received_ms)",
    "CREATE INDEX hookwire_events_source_time ON hookwire_events (source, received_ms)",
    "CREATE INDEX hookwire_attempts_at ON hookwire_attempts (at_ms)",
    NULL,
};

/* Each step one statement; the UPDATE may safely run twice. */
static const char *const mysql_v4[] = {
    "ALTER TABLE hookwire_events"
    " ADD COLUMN lease_token BIGINT NOT NULL DEFAULT 0,"
    " ADD INDEX hookwire_events_next (status, next_attempt_ms, seq),"
    " ADD INDEX hookwire_events_source_next (source, status, next_attempt_ms, seq),"
    " ADD INDEX hookwire_events_status_time (status, received_ms),"
    " ADD INDEX hookwire_events_source_time (source, received_ms)",
    "UPDATE hookwire_events SET next_attempt_ms = lease_until WHERE status = 1 AND "
    "lease_until > next_attempt_ms",
    "ALTER TABLE hookwire_attempts ADD INDEX hookwire_attempts_at (at_ms)",
    NULL,
};

/*
 * Version 5 (SQLite): fewer b-trees per append. A new event is pending, so
 * an index that holds only finished events (delivered, failed) costs an
 * append nothing; one that holds only pending events stays a tenth of the
 * table. The claim indexes keep pending events only (the rowid, seq, ends
 * every SQLite index), and the listings by status, newest first or by time,
 * keep finished ones only (a listing of pending events walks a claim
 * index and sorts what it finds). SQLite takes a partial
 * index only when the query repeats its condition word for word, so the
 * queries on them say "status > 1" too. MySQL has no partial
 * indexes: its version 5 changes nothing.
 */
static const char *const sqlite_v5[] = {
    "DROP INDEX hookwire_events_next",
    "CREATE INDEX hookwire_events_next ON hookwire_events (next_attempt_ms) WHERE status = 1",
    "DROP INDEX hookwire_events_source_next",
    "CREATE INDEX hookwire_events_source_next ON hookwire_events (source, next_attempt_ms) "
    "WHERE status = 1",
    "DROP INDEX hookwire_events_due",
    "CREATE INDEX hookwire_events_due ON hookwire_events (status) WHERE status > 1",
    "DROP INDEX hookwire_events_status_time",
    "CREATE INDEX hookwire_events_status_time ON hookwire_events (status, received_ms) "
    "WHERE status > 1",
    NULL,
};

static const char *const mysql_v5[] = {
    NULL,
};

/*
 * Version 6 (SQLite): one b-tree fewer for an append without a dedup key.
 * NULL keys never collide, so the unique (source, dedup_key) index need
 * not hold them: as a partial index it keeps only keyed events, enforces
 * the same uniqueness, and still serves the duplicate lookup (SQLite knows
 * that "dedup_key = ?" implies "dedup_key IS NOT NULL"). MySQL has no
 * partial indexes: its version 6 changes nothing.
 */
static const char *const sqlite_v6[] = {
    "DROP INDEX hookwire_events_dedup",
    "CREATE UNIQUE INDEX hookwire_events_dedup ON hookwire_events (source, dedup_key) "
    "WHERE dedup_key IS NOT NULL",
    NULL,
};

static const char *const mysql_v6[] = {
    NULL,
};

/*
 * Version 7 (SQLite): two b-trees fewer for a delivered event. Most
 * finished events are delivered (every live webhook a relay records), and
 * listings by status ask for the failed ones: the two status indexes keep
 * failed events only. A listing of delivered events walks the table newest
 * first (they are most of it), the source index, or the time indexes, and
 * filters the status (store_event.c). MySQL has no partial indexes: its
 * version 7 changes nothing.
 */
static const char *const sqlite_v7[] = {
    "DROP INDEX hookwire_events_due",
    "CREATE INDEX hookwire_events_due ON hookwire_events (status) WHERE status = 3",
    "DROP INDEX hookwire_events_status_time",
    "CREATE INDEX hookwire_events_status_time ON hookwire_events (status, received_ms) "
    "WHERE status = 3",
    NULL,
};

static const char *const mysql_v7[] = {
    NULL,
};

/*
 * Version 8: one index fewer for every event row on SQLite, two on MySQL.
 * The (source, received_ms) and (status, received_ms) indexes served only
 * listings with times and the summary's failures of the last hour: those
 * now read the time window from the received_ms index and filter the
 * source or status there (a window's worth of rows, never the table), so
 * a delivered event on SQLite updates four b-trees (table, id, received_ms,
 * (source, seq)), and on MySQL an append updates seven secondary indexes
 * and an outcome moves its status in three. The oldest pending event is
 * found on the claim index (the backlog, not the table). One ALTER on
 * MySQL, so that it is applied whole or not at all.
 */
static const char *const sqlite_v8[] = {
    "DROP INDEX hookwire_events_source_time",
    "DROP INDEX hookwire_events_status_time",
    NULL,
};

static const char *const mysql_v8[] = {
    "ALTER TABLE hookwire_events DROP INDEX hookwire_events_source_time,"
    " DROP INDEX hookwire_events_status_time",
    NULL,
};

/*
 * Version 9 (MySQL): a claim's lease written in place. A claim sets
 * lease_owner and lease_until on up to 100 rows; as NULL-able variable-width
 * columns they change each record's size (NULL takes no bytes), so InnoDB
 * rewrote every claimed record, reorganising pages and logging them whole:
 * about 270 KB of redo per 100-row claim, against 35 KB when the record
 * keeps its size. Fixed-width NOT NULL columns keep it: no lease is
 * lease_owner '' (stored zero-padded, 64 bytes, the owner's cap) and
 * lease_until 0 (never in the future, so no fence accepts it). IGNORE only
 * turns the NULLs into those defaults (the unique keys hold already; strict
 * mode would refuse the conversion). SQLite rewrites a row on any update:
 * its version 9 changes nothing, and its lease columns may hold NULL or
 * ''/0 alike for "no lease".
 */
static const char *const sqlite_v9[] = {
    NULL,
};

static const char *const mysql_v9[] = {
    "ALTER IGNORE TABLE hookwire_events"
    " MODIFY lease_owner BINARY(64) NOT NULL DEFAULT '',"
    " MODIFY lease_until BIGINT NOT NULL DEFAULT 0",
    NULL,
};

/*
 * Version 10 (SQLite): packed live history. The finished live webhooks of
 * one source that one group commit writes go into one row here (meta:
 * each webhook's fields; data: headers and bodies; store_pack.h) instead
 * of one row each in hookwire_events with its index entries. seq is the
 * seq of the pack's last webhook: its n webhooks hold seq - n + 1 .. seq,
 * taken from hookwire_events' AUTOINCREMENT sequence so that events and
 * packed webhooks share one store order. id_lo and id_hi bound the times
 * in the webhooks' ids (a reader with an id finds its pack on the id_lo
 * index); received_lo and received_hi their received_ms (listing windows,
 * purge by age); delivered and failed count the webhooks still in the
 * pack (summary; listings by status skip packs without one). MySQL keeps
 * one row per webhook: its version 10 changes nothing.
 */
static const char *const sqlite_v10[] = {
    "CREATE TABLE hookwire_packs ("
    " seq INTEGER PRIMARY KEY,"
    " n INTEGER NOT NULL,"
    " source BLOB NOT NULL,"
    " id_lo INTEGER NOT NULL,"
    " id_hi INTEGER NOT NULL,"
    " received_lo INTEGER NOT NULL,"
    " received_hi INTEGER NOT NULL,"
    " delivered INTEGER NOT NULL,"
    " failed INTEGER NOT NULL,"
    " meta BLOB NOT NULL,"
    " data BLOB NOT NULL)",
    "CREATE INDEX hookwire_packs_id ON hookwire_packs (id_lo, id_hi)",
    "CREATE INDEX hookwire_packs_source ON hookwire_packs (source)",
    "CREATE INDEX hookwire_packs_received ON hookwire_packs (received_lo)",
    NULL,
};

static const char *const mysql_v10[] = {
    NULL,
};

/*
 * Version 11 (MySQL): one status index fewer to move per outcome. The
 * (status, next_attempt_ms, seq) index served only claims across all
 * sources, which no program makes (the receiver claims per source, on
 * (source, status, next_attempt_ms, seq); the relay owns its channels),
 * and the oldest pending event, which the (status, seq) index finds in
 * the same backlog range. Every outcome moved an event in it: measured,
 * dropping it took a batched outcome's UPDATE from 32-39 to 24-26 µs of
 * server CPU per event (bench/RESULTS.md). A claim across all sources
 * still works, on the (status, seq) index with a sort of the due backlog.
 * SQLite's index holds pending events only (version 5) and stays.
 */
static const char *const sqlite_v11[] = {
    NULL,
};

static const char *const mysql_v11[] = {
    "ALTER TABLE hookwire_events DROP INDEX hookwire_events_next",
    NULL,
};

/*
 * Version 12 (SQLite): a pack's headers and bodies in a file next to the
 * store (PATH-packs/, store_sqlite_seg.c) instead of its data blob: the
 * bytes are written once, not into the WAL and again into the database at
 * checkpoint. seg is the file's number, seg_off and seg_len where the
 * pack's data lies in it; NULL for packs written before (data holds the
 * bytes) and for a store without a file. The index finds the lowest file
 * still in use, below which files are removed. MySQL: nothing.
 */
static const char *const sqlite_v12[] = {
    "ALTER TABLE hookwire_packs ADD COLUMN seg INTEGER",
    "ALTER TABLE hookwire_packs ADD COLUMN seg_off INTEGER",
    "ALTER TABLE hookwire_packs ADD COLUMN seg_len INTEGER",
    "CREATE INDEX hookwire_packs_seg ON hookwire_packs (seg) WHERE seg IS NOT NULL",
    NULL,
};

static const char *const mysql_v12[] = {
    NULL,
};

static const struct {
    int version;
    const char *what;
    const char *const *sqlite;
    const char *const *mysql;
} migrations[] = {
    { 1, "events and attempts", sqlite_v1, mysql_v1 },
    { 2, "claim leases", sqlite_v2, mysql_v2 },
    { 3, "relay tokens", sqlite_v3, mysql_v3 },
    { 4, "fenced leases, query indexes", sqlite_v4, mysql_v4 },
    { 5, "partial indexes (SQLite)", sqlite_v5, mysql_v5 },
    { 6, "partial dedup index (SQLite)", sqlite_v6, mysql_v6 },
    { 7, "failed-only status indexes (SQLite)", sqlite_v7, mysql_v7 },
    { 8, "no time indexes by source or status", sqlite_v8, mysql_v8 },
    { 9, "fixed-width lease columns (MySQL)", sqlite_v9, mysql_v9 },
    { 10, "packed live history (SQLite)", sqlite_v10, mysql_v10 },
    { 11, "no claim index across sources (MySQL)", sqlite_v11, mysql_v11 },
    { 12, "pack data in files (SQLite)", sqlite_v12, mysql_v12 },
};

_Static_assert(sizeof(migrations) / sizeof(migrations[0]) == HW_STORE_SCHEMA_VERSION,
               "one migration per schema version");

int hw_store_schema_migrate(const struct hw_store_ops *ops, void *be, int kind, const char *name)
{
    int version = 0, created, err, end_err;

    /*
     * Every open but the first after an upgrade finds the schema current.
     * That is read on the ordinary connection, within the ordinary call
     * deadline: the migration's lock and long timeout (minutes, for a DDL
     * or another process's migration) are taken only for a migration, so a
     * server that stops answering fails an ordinary open in seconds. The
     * version is read again under the lock before anything changes.
     */
    hw_store_mark_call(ops, be, 1);
    err = ops->schema_version(be, &version);
    hw_store_mark_call(ops, be, 0);
    if (err || version == HW_STORE_SCHEMA_VERSION)
        return err;
    err = ops->schema_begin(be);
    if (err)
        return err;
    err = ops->schema_version(be, &version);
    if (!err && version > HW_STORE_SCHEMA_VERSION) {
        HW_ERR("store %s: schema version %d is newer than this hookwire supports (%d); "
               "run a hookwire at least as new as the one that wrote it",
               name, version, HW_STORE_SCHEMA_VERSION);
        err = HW_EVERSION;
    }
    created = !err && version == 0;
    if (created)
        HW_INFO("store %s: creating schema version %d", name, HW_STORE_SCHEMA_VERSION);
    for (size_t i = 0; !err && i < sizeof(migrations) / sizeof(migrations[0]); i++) {
        const char *const *sql;

        if (migrations[i].version <= version)
            continue;
        if (!created)
            HW_INFO("store %s: migrating schema from version %d to %d (%s)", name, version,
                    migrations[i].version, migrations[i].what);
        sql = kind == HW_STORE_KIND_MYSQL ? migrations[i].mysql : migrations[i].sqlite;
        for (; !err && *sql; sql++)
            err = ops->schema_exec(be, *sql);
        if (!err)
            err = ops->schema_record(be, migrations[i].version, hw_wall_ms());
        if (!err)
            version = migrations[i].version;
    }
    end_err = ops->schema_end(be, !err);
    return err ? err : end_err;
}
