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

/* One event to insert and where its result goes. */
struct hw_store_row {
    const struct hw_store_event *ev;
    struct hw_store_result *res;
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

    int (*get)(void *be, const char *id, struct hw_store_event **out);
    /* f is checked and limit resolved by the caller. */
    int (*list)(void *be, const struct hw_store_filter *f, size_t limit,
                struct hw_store_events *out);
    int (*claim)(void *be, const char *source, const char *owner, int64_t now_ms,
                 int64_t lease_until_ms, size_t max, struct hw_store_events *out);
    /* a's strings are already cut to size; error is never NULL. */
    int (*record_attempt)(void *be, const char *id, const char *owner,
                          const struct hw_store_attempt *a, int status, int64_t next_attempt_ms);
    int (*attempts)(void *be, const char *id, struct hw_store_attempts *out);
    int (*requeue)(void *be, const char *id, int64_t now_ms);
    int (*purge)(void *be, int64_t before_ms, int flags, uint64_t *removed);
    int (*ping)(void *be);
    int (*token_add)(void *be, const char *channel, const unsigned char *hash, int64_t now_ms);
    int (*token_revoke)(void *be, const char *channel, unsigned *removed);
    int (*token_lookup)(void *be, const unsigned char *hash, char *channel);
    int (*token_list)(void *be, struct hw_store_token **out, size_t *n);
};

extern const struct hw_store_ops hw_store_sqlite_ops;
extern const struct hw_store_ops hw_store_mysql_ops;

/*
 * SQL shared by both backends. Binary columns (everything but the id) are
 * bound as blobs so bytes come back exactly as they went in.
 */

/* Columns of an event row, in the order of enum hw_store_col. */
#define HW_SQL_EVENT_COLS                                                                         \
    "seq, id, source, received_ms, method, path, query, LENGTH(headers), body_len, body_sha256, " \
    "verify, dedup_key, status, attempts, next_attempt_ms, last_status, last_error, lease_until"
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
    HW_COL_SUMMARY_COUNT,
    HW_COL_HEADERS = HW_COL_SUMMARY_COUNT,
    HW_COL_BODY,
    HW_COL_FULL_COUNT,
};

/*
 * Parameters per row: id source received_ms method path query headers body
 * body_len sha256 verify dedup_key next_attempt_ms. MySQL repeats the row
 * to insert many events with one statement.
 */
#define HW_SQL_INSERT_HEAD                                                                       \
    "INSERT INTO hookwire_events (id, source, received_ms, method, path, query, headers, body, " \
    "body_len, body_sha256, verify, dedup_key, status, attempts, next_attempt_ms, last_status) " \
    "VALUES "
#define HW_SQL_INSERT_ROW    "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, 0, ?, 0)"
#define HW_SQL_INSERT_PARAMS 13
#define HW_SQL_INSERT        HW_SQL_INSERT_HEAD HW_SQL_INSERT_ROW
#define HW_SQL_FIND_DUP      "SELECT id FROM hookwire_events WHERE source = ? AND dedup_key = ?"
#define HW_SQL_GET           "SELECT " HW_SQL_EVENT_COLS_FULL " FROM hookwire_events WHERE id = ?"
#define HW_SQL_GET_SEQ       "SELECT " HW_SQL_EVENT_COLS_FULL " FROM hookwire_events WHERE seq = ?"
/* Parameters: now now max; the _SOURCE form has source before max. */
#define HW_SQL_CLAIM                                                                 \
    "SELECT seq FROM hookwire_events WHERE status = 1 AND next_attempt_ms <= ? AND " \
    "(lease_until IS NULL OR lease_until <= ?) ORDER BY seq LIMIT ?"
#define HW_SQL_CLAIM_SOURCE                                                          \
    "SELECT seq FROM hookwire_events WHERE status = 1 AND next_attempt_ms <= ? AND " \
    "(lease_until IS NULL OR lease_until <= ?) AND source = ? ORDER BY seq LIMIT ?"
#define HW_SQL_LEASE "UPDATE hookwire_events SET lease_owner = ?, lease_until = ? WHERE seq = ?"
/*
 * Parameters: status next_attempt_ms last_status last_error id owner. Only the
 * lease's holder (or anyone, for an event nobody holds) may finish an attempt:
 * a worker whose lease expired and passed to another must not overwrite it.
 */
#define HW_SQL_FINISH                                                                       \
    "UPDATE hookwire_events SET attempts = attempts + 1, status = ?, next_attempt_ms = ?, " \
    "last_status = ?, last_error = ?, lease_owner = NULL, lease_until = NULL WHERE id = ? " \
    "AND (lease_owner IS NULL OR lease_owner = ?)"
#define HW_SQL_EXISTS "SELECT id FROM hookwire_events WHERE id = ?"
#define HW_SQL_ADD_ATTEMPT                                                                       \
    "INSERT INTO hookwire_attempts (event_id, at_ms, duration_ms, http_status, error, excerpt) " \
    "VALUES (?, ?, ?, ?, ?, ?)"
#define HW_SQL_ATTEMPTS                                                              \
    "SELECT at_ms, duration_ms, http_status, error, excerpt FROM hookwire_attempts " \
    "WHERE event_id = ? ORDER BY n"
#define HW_SQL_REQUEUE                                                                 \
    "UPDATE hookwire_events SET status = 1, next_attempt_ms = ?, lease_owner = NULL, " \
    "lease_until = NULL WHERE id = ?"
/* Parameters: before_ms min_status (1 with pending events, 2 without). */
#define HW_SQL_PURGE_ATTEMPTS                                                          \
    "DELETE FROM hookwire_attempts WHERE event_id IN (SELECT id FROM hookwire_events " \
    "WHERE received_ms < ? AND status >= ?)"
#define HW_SQL_PURGE_EVENTS "DELETE FROM hookwire_events WHERE received_ms < ? AND status >= ?"
#define HW_SQL_TOKEN_ADD    "INSERT INTO hookwire_tokens (hash, channel, created_ms) VALUES (?, ?, ?)"
#define HW_SQL_TOKEN_REVOKE "DELETE FROM hookwire_tokens WHERE channel = ?"
#define HW_SQL_TOKEN_LOOKUP "SELECT channel FROM hookwire_tokens WHERE hash = ?"
#define HW_SQL_TOKEN_LIST \
    "SELECT channel, hash, created_ms FROM hookwire_tokens ORDER BY channel, created_ms"
#define HW_SQL_SCHEMA_RECORD  "INSERT INTO hookwire_schema (version, applied_ms) VALUES (?, ?)"
#define HW_SQL_SCHEMA_VERSION "SELECT MAX(version) FROM hookwire_schema"

/*
 * Builds the list query for f into sql (cap bytes). Its parameters, in
 * order, are present only for the filters that are set: status, source,
 * since_ms, until_ms, cursor (seq below it), then always the limit.
 */
void hw_store_list_sql(const struct hw_store_filter *f, char *sql, size_t cap);

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

/* Wall-clock time in Unix milliseconds. */
int64_t hw_store_now_ms(void);

#endif
