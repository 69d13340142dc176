#ifndef HW_STORE_BACKEND_H
#define HW_STORE_BACKEND_H

/*
 * The store's inside: the vtable each backend (store_sqlite.c, store_mysql.c)
 * implements, the SQL both share, and the helpers store.c lends them. Only
 * the store*.c files include this. A backend handle ("be") is used by one
 * thread at a time: store.c holds the handle's lock around every call.
 */
#include <stddef.h>
#include <stdint.h>

#include "store.h"
#include "store_url.h"

/*
 * A group commit's insert or commit hit a deadlock or a lock-wait timeout:
 * the transaction was rolled back whole and may simply be run again. Only
 * the batch functions (begin, insert, commit) return it; store.c never
 * passes it on (it becomes HW_EUNAVAIL).
 */
#define HW_STORE_ERETRY (-10900)

/* Default and cap of the bytes one claim returns. */
#define HW_STORE_CLAIM_BYTES_DEFAULT (64u * 1024u * 1024u)

/* One event to insert and where its result goes. */
struct hw_store_row {
    const struct hw_store_event *ev;
    struct hw_store_result *res;
    size_t order; /* submission order, the last sort key: the first of duplicates wins */
    /*
     * NULL: insert the event pending (ops->insert). Otherwise the one
     * attempt of an event inserted already finished (ops->insert_finished):
     * ev's status, last_status and last_error are its outcome.
     */
    const struct hw_store_attempt *done;
};

/*
 * Backend operations. Unless noted, each runs in its own transaction and
 * returns 0 or a negative code as documented for the public function of the
 * same name in store.h.
 */
struct hw_store_ops {
    const char *scheme;
    int (*open)(const struct hw_store_url *u, void **be);
    void (*close)(void *be);
    /* Called on the store thread as it starts and before it ends. */
    void (*thread_start)(void);
    void (*thread_end)(void);
    /*
     * A call on be begins (1: its lock was just taken) or ends (0: about to
     * be let go), through hw_store_enter() and hw_store_leave(). NULL: not
     * needed.
     */
    void (*call)(void *be, int begin);

    /*
     * Schema migration steps, driven by store_schema.c: begin takes the
     * migration lock (and a transaction where DDL is transactional), version
     * reads the applied version (0 for an empty database), exec runs one DDL
     * statement, record notes a version as applied, end releases the lock,
     * committing when ok is 1.
     */
    int (*schema_begin)(void *be);
    int (*schema_version)(void *be, int *version);
    int (*schema_exec)(void *be, const char *sql);
    int (*schema_record)(void *be, int version, int64_t now_ms);
    int (*schema_end)(void *be, int ok);

    /*
     * Group commit: begin, insert, then commit or rollback. insert writes
     * rows[0..n) in order and fills each res (new or first id); on error
     * the caller must roll back.
     */
    int (*begin)(void *be);
    int (*insert)(void *be, const struct hw_store_row *rows, size_t n);
    int (*commit)(void *be);
    void (*rollback)(void *be);
    /*
     * Inside a group commit, as insert, for rows that each carry done:
     * the event is written finished (ev->status, attempts 1, ev->last_status,
     * ev->last_error) in one row, and an attempt row (done) only when the
     * outcome is not a plain success (HW_SQL_DONE_PLAIN). An id already
     * stored is an earlier try of the same append that committed after all.
     */
    int (*insert_finished)(void *be, const struct hw_store_row *rows, size_t n);
    /*
     * Optional: begin for a group commit of insert_finished rows only,
     * whose commit need not be fsynced on its own (each event already had
     * its answer): it must still be atomic, and become durable with the
     * next durable commit or checkpoint. commit and rollback end it, and
     * every other transaction stays fully durable. NULL: begin is used.
     */
    int (*begin_finished)(void *be);
    /*
     * 1: insert_finished packs its events (schema 10, SQLite) and never
     * reads their body_sha256, which readers compute from the body: the
     * writer does not hash them.
     */
    int finished_packed;
    /*
     * Outside a transaction: 1 when an event with this id is stored, 0 when
     * not, or an error. Settles an append whose commit went unanswered.
     */
    int (*exists)(void *be, const char *id);

    int (*get)(void *be, const char *id, struct hw_store_event **out);
    /* f is checked and limit resolved by the caller. */
    int (*list)(void *be, const struct hw_store_filter *f, size_t limit,
                struct hw_store_events *out);
    /*
     * owner NULL: hw_store_next_pending() instead (source set, now_ms is
     * the seq to read after, nothing is leased).
     */
    int (*claim)(void *be, const char *source, const char *owner, int64_t now_ms,
                 int64_t lease_until_ms, size_t max, size_t max_bytes, struct hw_store_events *out);
    /*
     * One attempt and outcome inside the caller's transaction (begin ..
     * commit, run by store.c). a's strings are already cut to size; error
     * is never NULL. lease HW_STORE_NO_LEASE: the unleased form
     * (HW_SQL_SETTLE). Returns 0; HW_ELEASE or HW_ENOTFOUND when the fence
     * refused this outcome alone (nothing changed); any other error means
     * roll back.
     */
    int (*record_one)(void *be, const char *id, int64_t lease, int64_t now_ms,
                      const struct hw_store_attempt *a, int status, int64_t next_attempt_ms);
    /*
     * Optional (NULL: record_one for each): v[0..n) (n >= 2, strings cut)
     * inside the caller's transaction in a few statements. Returns 0 when
     * every one was recorded; HW_ELEASE when any did not pass its fence or
     * an id came twice (the caller then rolls back and goes one by one);
     * any other error means roll back. Does not set v[i].err.
     */
    int (*record_batch)(void *be, int64_t now_ms, const struct hw_store_outcome *v, size_t n);
    /*
     * One lease given back inside the caller's transaction (HW_SQL_RELEASE;
     * lease >= 0). Returns 0; HW_ELEASE or HW_ENOTFOUND when the fence
     * refused this lease alone (nothing changed); any other error means
     * roll back.
     */
    int (*release_one)(void *be, const char *id, int64_t lease, int64_t now_ms);
    /*
     * Optional (NULL: release_one for each): v[0..n) (n >= 2) inside the
     * caller's transaction in a few statements. Returns 0 when every lease
     * was released; HW_ELEASE when any did not pass its fence or an id came
     * twice (the caller then rolls back and goes one by one); any other
     * error means roll back. Does not set v[i].err.
     */
    int (*release_batch)(void *be, int64_t now_ms, const struct hw_store_lease *v, size_t n);
    int (*attempts)(void *be, const char *id, struct hw_store_attempts *out);
    int (*requeue)(void *be, const char *id, int64_t now_ms, int force);
    /*
     * The failed ones among ids[0..n), 1 <= n <= HW_STORE_REQUEUE_MANY_MAX,
     * in one transaction; *rows: how many.
     */
    int (*requeue_failed)(void *be, const char *const *ids, size_t n, int64_t now_ms,
                          uint64_t *rows);
    /*
     * Deletes up to HW_STORE_PURGE_BATCH events received before before_ms
     * whose status is one of st[0..3) (0 for an unused slot), with their
     * attempts, in one transaction; *removed gets how many (0: done).
     */
    int (*purge_batch)(void *be, int64_t before_ms, const int st[3], uint64_t *removed);
    /*
     * Retention by count, one batch: deletes up to HW_STORE_PURGE_BATCH of
     * the oldest finished events of source that are not among its newest
     * keep events (keep >= 1), with their attempts, in one transaction;
     * *removed gets how many (0: done).
     */
    int (*purge_excess_batch)(void *be, const char *source, uint64_t keep, uint64_t *removed);
    /* Fills the counts of sum (not the latencies) as of now_ms. */
    int (*summarize)(void *be, int64_t now_ms, struct hw_store_summary *sum);
    /* Pending events of source and the received_ms of the one stored first (0 if none). */
    int (*backlog)(void *be, const char *source, uint64_t *pending, int64_t *oldest_ms);
    /*
     * Delivery latencies (delivered attempt end minus receipt) of attempts
     * at or after since_ms: *n gets their count, and lat[i] the value at
     * rank k[i] (0-based, ascending) for i < nk, each k[i] < *n.
     */
    int (*latency)(void *be, int64_t since_ms, uint64_t *n, const uint64_t *k, int *lat, size_t nk);
    int (*ping)(void *be);
    /* 1 when commits are durable as configured (see hw_store_durable()); never blocks. */
    int (*durable)(void *be);
    int (*token_add)(void *be, const char *channel, const unsigned char *hash, int64_t now_ms);
    int (*token_revoke)(void *be, const char *channel, unsigned *removed);
    int (*token_lookup)(void *be, const unsigned char *hash, char *channel);
    int (*token_list)(void *be, struct hw_store_token **out, size_t *n);
};

extern const struct hw_store_ops hw_store_sqlite_ops;
extern const struct hw_store_ops hw_store_mysql_ops;

/* Tells a backend that wants to know (ops->call) that a call on be begins (1) or ends (0). */
static inline void hw_store_mark_call(const struct hw_store_ops *ops, void *be, int begin)
{
    if (ops->call)
        ops->call(be, begin);
}

/*
 * SQL shared by both backends. Binary columns (everything but the id) are
 * bound as blobs so bytes come back exactly as they went in.
 */

/* Columns of an event row, in the order of enum hw_store_col. */
#define HW_SQL_EVENT_COLS                                                                          \
    "seq, id, source, received_ms, method, path, query, LENGTH(headers), body_len, body_sha256, "  \
    "verify, dedup_key, status, attempts, next_attempt_ms, last_status, last_error, lease_until, " \
    "lease_token"
#define HW_SQL_EVENT_COLS_FULL HW_SQL_EVENT_COLS ", headers, body"

enum hw_store_col {
    HW_COL_SEQ,
    HW_COL_ID,
    HW_COL_SOURCE,
    HW_COL_RECEIVED,
    HW_COL_METHOD,
    HW_COL_PATH,
    HW_COL_QUERY,
    HW_COL_HEADERS_LEN,
    HW_COL_BODY_LEN,
    HW_COL_SHA256,
    HW_COL_VERIFY,
    HW_COL_DEDUP,
    HW_COL_STATUS,
    HW_COL_ATTEMPTS,
    HW_COL_NEXT_ATTEMPT,
    HW_COL_LAST_STATUS,
    HW_COL_LAST_ERROR,
    HW_COL_LEASE_UNTIL,
    HW_COL_LEASE_TOKEN,
    HW_COL_SUMMARY_COUNT,
    HW_COL_HEADERS = HW_COL_SUMMARY_COUNT,
    HW_COL_BODY,
    HW_COL_FULL_COUNT,
};

/*
 * Parameters per row: id source received_ms method path query headers body
 * body_len sha256 verify dedup_key next_attempt_ms lease_until (0, or the
 * lease its appender took: hw_store_append_leased_async()). MySQL repeats
 * the row to insert many events with one statement.
 */
#define HW_SQL_INSERT_HEAD                                                                       \
    "INSERT INTO hookwire_events (id, source, received_ms, method, path, query, headers, body, " \
    "body_len, body_sha256, verify, dedup_key, status, attempts, next_attempt_ms, last_status, " \
    "lease_until) VALUES "
#define HW_SQL_INSERT_ROW    "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, 0, ?, 0, ?)"
#define HW_SQL_INSERT_PARAMS 14
#define HW_SQL_INSERT        HW_SQL_INSERT_HEAD HW_SQL_INSERT_ROW
/*
 * An event inserted already finished: the columns of HW_SQL_INSERT_HEAD and
 * last_error, all bound (parameters: the first 12 of HW_SQL_INSERT_ROW, then
 * status next_attempt_ms last_status last_error). MySQL repeats the row.
 */
#define HW_SQL_INSERT_DONE_HEAD                                                                  \
    "INSERT INTO hookwire_events (id, source, received_ms, method, path, query, headers, body, " \
    "body_len, body_sha256, verify, dedup_key, status, attempts, next_attempt_ms, last_status, " \
    "last_error) VALUES "
#define HW_SQL_INSERT_DONE_ROW    "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?)"
#define HW_SQL_INSERT_DONE_PARAMS 16
#define HW_SQL_INSERT_DONE        HW_SQL_INSERT_DONE_HEAD HW_SQL_INSERT_DONE_ROW
/* A finished event whose attempt needs no row of its own: delivered, without an error. */
#define HW_SQL_DONE_PLAIN(ev) \
    ((ev)->status == HW_STORE_DELIVERED && !((ev)->last_error && (ev)->last_error[0]))
#define HW_SQL_FIND_DUP "SELECT id FROM hookwire_events WHERE source = ? AND dedup_key = ?"
#define HW_SQL_GET      "SELECT " HW_SQL_EVENT_COLS_FULL " FROM hookwire_events WHERE id = ?"
/*
 * A claim moves next_attempt_ms to the lease's end, so a leased event is
 * simply "not due" until its lease runs out: the claim is one range of the
 * (status, next_attempt_ms, seq) index, with no rows to step over.
 * Parameters: now max; the _SOURCE form has source first. The claimer reads
 * each row's size to honour its byte cap.
 */
#define HW_SQL_CLAIM_(hint)                                                                      \
    "SELECT seq, LENGTH(headers) + body_len FROM hookwire_events " hint " WHERE status = 1 AND " \
    "next_attempt_ms <= ? ORDER BY next_attempt_ms, seq LIMIT ?"
#define HW_SQL_CLAIM_SOURCE_(hint)                                                               \
    "SELECT seq, LENGTH(headers) + body_len FROM hookwire_events " hint " WHERE source = ? AND " \
    "status = 1 AND next_attempt_ms <= ? ORDER BY next_attempt_ms, seq LIMIT ?"
#define HW_SQL_CLAIM        HW_SQL_CLAIM_("")
#define HW_SQL_CLAIM_SOURCE HW_SQL_CLAIM_SOURCE_("")
/*
 * MySQL names the index: with fresh statistics under load, MariaDB was seen
 * to claim one source by intersecting the status and source indexes and
 * sorting the result instead of walking one range. MySQL has no index for
 * a claim across all sources (schema 11): the pending range of the status
 * index, the due ones sorted.
 */
#define HW_SQL_CLAIM_MY        HW_SQL_CLAIM_("FORCE INDEX (hookwire_events_due)")
#define HW_SQL_CLAIM_SOURCE_MY HW_SQL_CLAIM_SOURCE_("FORCE INDEX (hookwire_events_source_next)")
/*
 * Parameters: owner lease_until lease_until, then the claimed seqs (one
 * statement for all of them: hw_store_in_sql()). Each claim raises the
 * fencing value.
 */
#define HW_SQL_LEASE_IN                                                                  \
    "UPDATE hookwire_events SET lease_owner = ?, lease_until = ?, next_attempt_ms = ?, " \
    "lease_token = lease_token + 1 WHERE seq IN "
/* Parameters: the seqs. */
#define HW_SQL_GET_IN "SELECT " HW_SQL_EVENT_COLS_FULL " FROM hookwire_events WHERE seq IN "
/*
 * MySQL: locks and reads the claim's picked events by primary key, those
 * still due, skipping rows other claimers hold. Parameters: now, then the
 * seqs (hw_store_in_sql()), then HW_SQL_LOCK_PICKED_TAIL. The picks come
 * from HW_SQL_CLAIM_MY without a lock: a locking read of the due range
 * itself steps, row by row and with a lock check on each, over the index
 * entries earlier claims left delete-marked at its head until InnoDB's
 * purge removes them (86 ms for one claim read after 62 back-to-back
 * claims, against 0.5 ms for the same range read without a lock).
 */
#define HW_SQL_LOCK_PICKED                                                          \
    "SELECT " HW_SQL_EVENT_COLS_FULL " FROM hookwire_events FORCE INDEX (PRIMARY) " \
    "WHERE status = 1 AND next_attempt_ms <= ? AND seq IN "
#define HW_SQL_LOCK_PICKED_TAIL " FOR UPDATE SKIP LOCKED"
/*
 * What an outcome sets, parameters status next_attempt_ms last_status
 * last_error. An empty error is written NULL, as the append left it: a
 * success then changes no column's length, and InnoDB updates the row in
 * place. A row that grows is rebuilt in its page instead: measured on
 * MariaDB 10.11, 11 KB of redo per delivered 1 KiB webhook against 0.3 KB
 * in place, five times what its append logs.
 */
#define HW_SQL_OUTCOME_SET                                                                  \
    "UPDATE hookwire_events SET attempts = attempts + 1, status = ?, next_attempt_ms = ?, " \
    "last_status = ?, last_error = NULLIF(?, x''), lease_owner = '', lease_until = 0 "
/*
 * Parameters: status next_attempt_ms last_status last_error id lease now.
 * Fenced: only the holder of the latest claim, while it is valid, may
 * finish an attempt; a worker whose lease expired (and perhaps passed to
 * another) changes nothing.
 */
#define HW_SQL_FINISH \
    HW_SQL_OUTCOME_SET "WHERE id = ? AND status = 1 AND lease_token = ? AND lease_until > ?"
/*
 * Parameters as HW_SQL_FINISH (the lease is bound but must be -1): an
 * outcome for an event that no claim holds, the relay's own events (one
 * relay owns its channels and never claims them).
 */
#define HW_SQL_SETTLE                                                                  \
    HW_SQL_OUTCOME_SET "WHERE id = ? AND status = 1 AND COALESCE(lease_until, 0) = 0 " \
                       "AND ? = -1 AND ? > 0"
/*
 * Parameters: now id lease now. A lease given back unused, behind
 * HW_SQL_FINISH's fence: the event is left unleased and due now, its
 * attempts and last result as they were.
 */
#define HW_SQL_RELEASE                                                                   \
    "UPDATE hookwire_events SET next_attempt_ms = ?, lease_owner = '', lease_until = 0 " \
    "WHERE id = ? AND status = 1 AND lease_token = ? AND lease_until > ?"
/* Parameters: source after_seq max. Pending events of one source in store order, no lease. */
#define HW_SQL_NEXT_SOURCE                                                              \
    "SELECT seq, LENGTH(headers) + body_len FROM hookwire_events WHERE source = ? AND " \
    "status = 1 AND seq > ? ORDER BY seq LIMIT ?"
#define HW_SQL_EXISTS "SELECT id FROM hookwire_events WHERE id = ?"
#define HW_SQL_ADD_ATTEMPT                                                                       \
    "INSERT INTO hookwire_attempts (event_id, at_ms, duration_ms, http_status, error, excerpt) " \
    "VALUES (?, ?, ?, ?, ?, ?)"
/*
 * Parameters: id at_ms http_status status lease lease. Whether this very
 * outcome is stored under the caller's claim (lease -1: an unleased one):
 * a retried outcome whose earlier try committed though its answer was
 * lost. Two attempts of one event never start in the same millisecond,
 * and an outcome leaves the claim's lease_token as it was.
 */
#define HW_SQL_OUTCOME_STORED                                                                 \
    "SELECT a.event_id FROM hookwire_attempts a JOIN hookwire_events e ON e.id = a.event_id " \
    "WHERE a.event_id = ? AND a.at_ms = ? AND a.http_status = ? AND e.status = ? AND "        \
    "(? = -1 OR e.lease_token = ?)"
#define HW_SQL_ATTEMPTS                                                              \
    "SELECT at_ms, duration_ms, http_status, error, excerpt FROM hookwire_attempts " \
    "WHERE event_id = ? ORDER BY n"
/* Parameters: now id force (1 also requeues a delivered event). Cancels any lease. */
#define HW_SQL_REQUEUE                                                               \
    "UPDATE hookwire_events SET status = 1, next_attempt_ms = ?, lease_owner = '', " \
    "lease_until = 0, lease_token = lease_token + 1 WHERE id = ? AND (status <> 2 OR ? = 1)"
/*
 * Parameters: now, then the ids (hw_store_in_sql()). One statement: all or
 * none. Failed only (status 3): what another bulk replay requeued meanwhile
 * is left alone.
 */
#define HW_SQL_REQUEUE_FAILED_IN                                                     \
    "UPDATE hookwire_events SET status = 1, next_attempt_ms = ?, lease_owner = '', " \
    "lease_until = 0, lease_token = lease_token + 1 WHERE status = 3 AND id IN "
#define HW_SQL_STATUS_OF "SELECT status FROM hookwire_events WHERE id = ?"
/*
 * Parameters: before_ms st0 st1 st2 limit. The oldest first, on the time
 * index even when most of the table is older (MySQL would scan it all).
 */
#define HW_STORE_PURGE_BATCH 1000
#define HW_SQL_PURGE_PICK_(hint)                                                        \
    "SELECT seq, id FROM hookwire_events " hint " WHERE received_ms < ? AND status IN " \
    "(?, ?, ?) ORDER BY received_ms LIMIT ?"
#define HW_SQL_PURGE_PICK    HW_SQL_PURGE_PICK_("INDEXED BY hookwire_events_received")
#define HW_SQL_PURGE_PICK_MY HW_SQL_PURGE_PICK_("FORCE INDEX (hookwire_events_received)")
/*
 * Retention by count (purge_excess_batch). CUTOFF (source keep): the seq
 * of the newest event past the keep newest of a source; UPPER (source
 * cutoff offset): the seq of the batch's last finished event at or below
 * it; then the attempts and events of the source's finished events at or
 * below that (source upper).
 */
#define HW_SQL_EXCESS_CUTOFF_(hint) \
    "SELECT seq FROM hookwire_events " hint " WHERE source = ? ORDER BY seq DESC LIMIT 1 OFFSET ?"
#define HW_SQL_EXCESS_UPPER_(hint)                                                           \
    "SELECT seq FROM hookwire_events " hint " WHERE source = ? AND seq <= ? AND status > 1 " \
    "ORDER BY seq LIMIT 1 OFFSET ?"
#define HW_SQL_EXCESS_ATTEMPTS                                                               \
    "DELETE FROM hookwire_attempts WHERE event_id IN (SELECT id FROM hookwire_events WHERE " \
    "source = ? AND seq <= ? AND status > 1)"
#define HW_SQL_EXCESS_EVENTS \
    "DELETE FROM hookwire_events WHERE source = ? AND seq <= ? AND status > 1"
#define HW_SQL_PURGE_ATTEMPTS "DELETE FROM hookwire_attempts WHERE event_id = ?"
#define HW_SQL_PURGE_EVENT    "DELETE FROM hookwire_events WHERE seq = ?"
/* Summary queries. */
#define HW_SQL_COUNT_STATUS "SELECT status, COUNT(*) FROM hookwire_events GROUP BY status"
/*
 * Adds count to source's entry of sum for status: a row of
 * HW_SQL_COUNT_SOURCE, or a pack's counts (SQLite). Sources are kept sorted
 * by name; a new one opens an entry, up to HW_STORE_SUMMARY_SOURCES of them,
 * and later new ones are left out. Returns 0 or HW_ENOMEM. Both backends'
 * summarize() use it (store_admin.c).
 */
#define HW_STORE_SUMMARY_SOURCES 1000
int hw_store_summary_count(struct hw_store_summary *sum, const char *source, int status,
                           uint64_t count);

#define HW_SQL_COUNT_SOURCE                                                                  \
    "SELECT source, status, COUNT(*) FROM hookwire_events GROUP BY source, status ORDER BY " \
    "source, status"
/*
 * The oldest pending event: the pending range of a status index (on SQLite
 * the claim index, on MySQL the (status, seq) one), the backlog's rows and
 * no other (walking received_ms from the oldest would step over every
 * finished event older than it). "status = 1": the SQLite index holds
 * pending events only. As for the backlog below, the receipt of the
 * pending event stored first: MIN(seq) reads the index alone.
 */
#define HW_SQL_OLDEST_PENDING_(hint)                                                       \
    "SELECT e.received_ms FROM (SELECT MIN(seq) AS s FROM hookwire_events " hint " WHERE " \
    "status = 1) m LEFT JOIN hookwire_events e ON e.seq = m.s"
#define HW_SQL_OLDEST_PENDING    HW_SQL_OLDEST_PENDING_("INDEXED BY hookwire_events_next")
#define HW_SQL_OLDEST_PENDING_MY HW_SQL_OLDEST_PENDING_("FORCE INDEX (hookwire_events_due)")
/*
 * Parameters: source. One source's backlog: its pending events and the
 * receipt of the one stored first, from the pending range of its claim
 * index (the backlog's rows, never the source's history). The count and
 * MIN(seq) read the index alone; only that one row is read from the table.
 * MIN(received_ms) would read every pending row: 2 s of a MariaDB server
 * with 200,000 pending, far past its buffer pool.
 */
#define HW_SQL_BACKLOG_(hint)                                                                \
    "SELECT c.n, COALESCE(e.received_ms, 0) FROM (SELECT COUNT(*) AS n, MIN(seq) AS s FROM " \
    "hookwire_events " hint " WHERE source = ? AND status = 1) c "                           \
    "LEFT JOIN hookwire_events e ON e.seq = c.s"
#define HW_SQL_BACKLOG    HW_SQL_BACKLOG_("INDEXED BY hookwire_events_source_next")
#define HW_SQL_BACKLOG_MY HW_SQL_BACKLOG_("FORCE INDEX (hookwire_events_source_next)")
/*
 * Parameters: since. The hour's range of the time index with the status
 * filtered (schema 8 has no (status, received_ms) index): the work follows
 * the last hour's traffic, not the failures kept since the last purge.
 */
#define HW_SQL_FAILED_SINCE_(hint) \
    "SELECT COUNT(*) FROM hookwire_events " hint " WHERE status = 3 AND received_ms >= ?"
#define HW_SQL_FAILED_SINCE    HW_SQL_FAILED_SINCE_("INDEXED BY hookwire_events_received")
#define HW_SQL_FAILED_SINCE_MY HW_SQL_FAILED_SINCE_("FORCE INDEX (hookwire_events_received)")
/* Delivered attempts since a time, with the time from receipt to the end of the attempt. */
#define HW_SQL_LATENCY_FROM                                                                     \
    " FROM hookwire_attempts a JOIN hookwire_events e ON e.id = a.event_id WHERE a.at_ms >= ? " \
    "AND a.http_status BETWEEN 200 AND 299"
#define HW_SQL_LATENCY_COUNT "SELECT COUNT(*)" HW_SQL_LATENCY_FROM
#define HW_SQL_LATENCY_AT                                                                    \
    "SELECT a.at_ms + a.duration_ms - e.received_ms AS lat" HW_SQL_LATENCY_FROM " ORDER BY " \
    "lat LIMIT 1 OFFSET ?"
#define HW_SQL_TOKEN_ADD    "INSERT INTO hookwire_tokens (hash, channel, created_ms) VALUES (?, ?, ?)"
#define HW_SQL_TOKEN_REVOKE "DELETE FROM hookwire_tokens WHERE channel = ?"
#define HW_SQL_TOKEN_LOOKUP "SELECT channel FROM hookwire_tokens WHERE hash = ?"
#define HW_SQL_TOKEN_LIST \
    "SELECT channel, hash, created_ms FROM hookwire_tokens ORDER BY channel, created_ms"
#define HW_SQL_SCHEMA_RECORD  "INSERT INTO hookwire_schema (version, applied_ms) VALUES (?, ?)"
#define HW_SQL_SCHEMA_VERSION "SELECT MAX(version) FROM hookwire_schema"

/*
 * Packed live history (schema 10, SQLite only; store_pack.h). RESERVE
 * (count) takes count seqs from hookwire_events' AUTOINCREMENT sequence and
 * returns the last; START (count) creates the sequence's row on a store
 * that never had an event. PACK_INSERT parameters: seq n source id_lo
 * id_hi received_lo received_hi delivered failed meta data seg seg_off
 * seg_len (schema 12: data empty and the bytes in file seg; or data and
 * three NULLs, for a store without a file).
 */
#define HW_SQL_PACK_RESERVE \
    "UPDATE sqlite_sequence SET seq = seq + ? WHERE name = 'hookwire_events' RETURNING seq"
#define HW_SQL_PACK_START "INSERT INTO sqlite_sequence (name, seq) VALUES ('hookwire_events', ?)"
#define HW_SQL_PACK_INSERT                                                                         \
    "INSERT INTO hookwire_packs (seq, n, source, id_lo, id_hi, received_lo, received_hi, "         \
    "delivered, failed, meta, data, seg, seg_off, seg_len) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, " \
    "?, ?, ?, ?)"
/*
 * The packs that may hold an id whose time is t. Parameters: t - span, t, t
 * (span HW_PACK_SPAN_MS: no pack's ids span more). The data's length:
 * seg_len, or LENGTH(data), read from the record header, not the blob.
 */
#define HW_SQL_PACK_FIND                                                                \
    "SELECT seq, n, source, meta, COALESCE(seg_len, LENGTH(data)) FROM hookwire_packs " \
    "INDEXED BY hookwire_packs_id WHERE id_lo BETWEEN ? AND ? AND id_hi >= ?"
#define HW_SQL_PACK_DATA "SELECT data, seg, seg_off, seg_len FROM hookwire_packs WHERE seq = ?"
/* The lowest data file a pack still refers to (NULL: none); files below it can go. */
#define HW_SQL_PACK_SEG_LOWEST                                                            \
    "SELECT MIN(seg) FROM hookwire_packs INDEXED BY hookwire_packs_seg WHERE seg IS NOT " \
    "NULL"
/* Parameters: meta delivered failed seq (counts taken off: the webhooks that left). */
#define HW_SQL_PACK_UPDATE                                                                      \
    "UPDATE hookwire_packs SET meta = ?, delivered = delivered - ?, failed = failed - ? WHERE " \
    "seq = ?"
/* A pack is dropped once no webhook is left in it. */
#define HW_SQL_PACK_DELETE "DELETE FROM hookwire_packs WHERE seq = ? AND delivered + failed = 0"
/* A requeued packed webhook becomes a row with its own seq: HW_SQL_INSERT_DONE with seq last. */
#define HW_SQL_PACK_UNPACK                                                                 \
    "INSERT INTO hookwire_events (id, source, received_ms, method, path, query, headers, " \
    "body, body_len, body_sha256, verify, dedup_key, status, attempts, next_attempt_ms, "  \
    "last_status, last_error, seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, 1, ?, ?, ?, ?)"
/*
 * Listing packs newest first (parameters present as for hw_store_list_sql:
 * source, since, until, cursor twice; the status is written in). A pack
 * holds at most HW_PACK_MAX seqs, so "seq < cursor + 4096" bounds the rowid
 * range and "seq - n < cursor - 1" keeps the packs with a seq below it.
 */
void hw_store_pack_list_sql(const struct hw_store_filter *f, char *sql, size_t cap);
/*
 * Parameters: before, then where the previous page ended (received_lo
 * twice, seq). The oldest packs first, on their time index, a page at a time.
 */
#define HW_SQL_PACK_PURGE_PICK                                                                 \
    "SELECT seq, n, meta, received_lo FROM hookwire_packs INDEXED BY hookwire_packs_received " \
    "WHERE received_lo < ? AND (received_lo > ? OR (received_lo = ? AND seq > ?)) ORDER BY "   \
    "received_lo, seq LIMIT 64"
/* Parameters: source. A source's packs newest first (retention by count). */
#define HW_SQL_PACK_SOURCE                                                                   \
    "SELECT seq, n, meta FROM hookwire_packs INDEXED BY hookwire_packs_source WHERE source " \
    "= ? ORDER BY seq DESC"
/*
 * Parameters: source upper, then the seq where the previous page ended. A
 * source's oldest packs holding a seq at or below upper, a page at a time.
 */
#define HW_SQL_PACK_EXCESS                                                                 \
    "SELECT seq, n, meta, seq FROM hookwire_packs INDEXED BY hookwire_packs_source WHERE " \
    "source = ? AND seq - n < ? AND seq > ? ORDER BY seq LIMIT 64"
#define HW_SQL_PACK_SOURCE_ROWS                                                           \
    "SELECT seq FROM hookwire_events INDEXED BY hookwire_events_source WHERE source = ? " \
    "ORDER BY seq DESC"
/* Summary: the webhooks still in packs, by status and by source. */
#define HW_SQL_PACK_COUNT "SELECT SUM(delivered), SUM(failed) FROM hookwire_packs"
#define HW_SQL_PACK_COUNT_SOURCE                                                 \
    "SELECT source, SUM(delivered), SUM(failed) FROM hookwire_packs INDEXED BY " \
    "hookwire_packs_source GROUP BY source ORDER BY source"
/* Parameters: since. Packs with failures received in the window (decoded to count them). */
#define HW_SQL_PACK_FAILED_SINCE                                                          \
    "SELECT seq, n, source, meta FROM hookwire_packs INDEXED BY hookwire_packs_received " \
    "WHERE received_lo >= ? - 60000 AND received_hi >= ? AND failed > 0"

/*
 * Builds the list query for f into sql (cap bytes), in the dialect of kind
 * (enum hw_store_kind). The status, when set, is written into the SQL. Its
 * parameters, in order, are present only for the filters that are set:
 * source, since_ms, until_ms, cursor (seq
 * below it), path (a LIKE pattern from hw_store_glob_like()), then always
 * the limit. The index to use is named, so that a small LIMIT never tempts
 * the planner into walking the whole table in seq order.
 */
void hw_store_list_sql(const struct hw_store_filter *f, int kind, char *sql, size_t cap);

/*
 * Turns a path glob ('*' any bytes, '?' one byte, nothing else special)
 * into the pattern the list query of kind compares with: SQLite GLOB
 * ('[' escaped), MySQL LIKE with '!' as escape character. Returns 0 or
 * HW_E2BIG when out (cap bytes) is too small.
 */
int hw_store_glob_pattern(const char *glob, int kind, char *out, size_t cap);

/*
 * SHA-256 of a body into out (HW_STORE_SHA256_LEN bytes), with OpenSSL's
 * digest fetched once per process: OpenSSL 3's one-shot SHA256() looks the
 * algorithm up on every call (about a third of its time on 1 KiB). Any thread.
 */
void hw_store_body_hash(const void *body, size_t len, unsigned char *out);

/*
 * Copies src (all strings and bytes it points to) into one owned heap block;
 * NULL strings become "" except headers and body, which stay NULL when src
 * has them NULL. Returns NULL when out of memory.
 */
struct hw_store_event *hw_store_event_build(const struct hw_store_event *src);

/* Same for an attempt; error and excerpt are never NULL in the copy. */
struct hw_store_attempt *hw_store_attempt_build(const struct hw_store_attempt *src);

/* Appends ev (taken) to l. Returns 0 or HW_ENOMEM (ev is then freed). */
int hw_store_events_push(struct hw_store_events *l, struct hw_store_event *ev);
int hw_store_attempts_push(struct hw_store_attempts *l, struct hw_store_attempt *a);

/*
 * Ends a lookup of one event: err is the result of reading rows into l.
 * When err is 0 and l holds an event, the first moves to *out (owned by the
 * caller). l is emptied either way. Returns err, or HW_ENOTFOUND for an
 * empty l.
 */
int hw_store_events_take_first(struct hw_store_events *l, int err, struct hw_store_event **out);

/*
 * Returns a new string: head followed by "(?,?,...)" with n placeholders
 * (n >= 1), or NULL when out of memory. For statements on a claimed set of
 * rows, so that a claim costs a few round trips, not a few per event.
 */
char *hw_store_in_sql(const char *head, size_t n);

/* Puts l's events in the order of seqs[0..n) (each seq once; events not in seqs go last). */
void hw_store_events_order(struct hw_store_events *l, const int64_t *seqs, size_t n);

#endif
