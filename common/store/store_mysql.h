#ifndef HW_STORE_MYSQL_H
#define HW_STORE_MYSQL_H

/*
 * Inside the MySQL store backend: the connection state shared by
 * store_mysql_conn.c (connection, errors), store_mysql.c (statements,
 * transactions, schema steps) and store_mysql_events.c and its siblings
 * (operations on events, attempts and tokens). Every function here runs
 * under the store handle's lock.
 */
#include <mysql.h>
#include <stdint.h>

#include "store_backend.h"
#include "store_mysql_watch.h"

/* Room for the statement around an event's bytes in one packet. */
#define HW_MY_PACKET_SLACK (64u * 1024u)

/*
 * The most rows one INSERT statement carries. A group commit's pending
 * events go as one statement of the batch's exact size up to this (kept
 * prepared per size, hw_my_insert), so a commit of up to this many events
 * costs two round trips, INSERT and COMMIT (64 connections of a receiver
 * never make a larger batch).
 */
#define HW_MY_ROWS_MAX 64

/*
 * A whole call (its statements and their answers) may last this many times
 * the timeout, which bounds each read and write only: past it the watch
 * thread cuts the connection (store_mysql_watch.h).
 */
#define HW_MY_CALL_LIMIT_TIMEOUTS 4

/* Rows of one multi-row insert of finished events (store_mysql_history.c), and its SQL. */
#define HW_MY_DONE_ROWS 16
#define HW_MY_DONE_ROWS_4                                                          \
    HW_SQL_INSERT_DONE_ROW ", " HW_SQL_INSERT_DONE_ROW ", " HW_SQL_INSERT_DONE_ROW \
                           ", " HW_SQL_INSERT_DONE_ROW
#define HW_MY_SQL_INSERT_DONE_N                                                             \
    HW_SQL_INSERT_DONE_HEAD HW_MY_DONE_ROWS_4 ", " HW_MY_DONE_ROWS_4 ", " HW_MY_DONE_ROWS_4 \
                                              ", " HW_MY_DONE_ROWS_4

/* The statements prepared once per connection. */
enum hw_my_stmt {
    HW_MY_INSERT,
    HW_MY_FIND_DUP,
    HW_MY_GET,
    HW_MY_CLAIM,
    HW_MY_CLAIM_SOURCE,
    HW_MY_PICK, /* the claim's picks, read without a lock */
    HW_MY_PICK_SOURCE,
    HW_MY_FINISH,
    HW_MY_SETTLE,
    HW_MY_RELEASE,
    HW_MY_NEXT_SOURCE,
    HW_MY_EXISTS,
    HW_MY_ADD_ATTEMPT,
    HW_MY_OUTCOME_STORED,
    HW_MY_ATTEMPTS,
    HW_MY_REQUEUE,
    HW_MY_STATUS_OF,
    HW_MY_PURGE_PICK,
    HW_MY_PURGE_ATTEMPTS,
    HW_MY_PURGE_EVENT,
    HW_MY_TOKEN_ADD,
    HW_MY_TOKEN_REVOKE,
    HW_MY_TOKEN_LOOKUP,
    HW_MY_TOKEN_LIST,
    HW_MY_SCHEMA_RECORD,
    HW_MY_INSERT_DONE,
    HW_MY_INSERT_DONE_N,
    HW_MY_EXCESS_CUTOFF,
    HW_MY_EXCESS_UPPER,
    HW_MY_EXCESS_ATTEMPTS,
    HW_MY_EXCESS_EVENTS,
    HW_MY_COUNT,
};

struct hw_my {
    const struct hw_store_url *url; /* borrowed from the handle */
    MYSQL *conn;                    /* NULL while disconnected */
    MYSQL_STMT *st[HW_MY_COUNT];    /* prepared on first use on this connection */
    int broken;                     /* the connection failed; rebuild before next use */
    int manual;                     /* autocommit is off (see hw_my_begin) */
    int down;                       /* unavailability was logged; log the recovery */
    int batch;                      /* in a group commit: a deadlock is HW_STORE_ERETRY */
    unsigned timeout_s;             /* connect, read and write timeout */
    int64_t retry_at_ms;            /* no reconnection attempt before this... */
    int settle_now;                 /* ...unless a commit's answer was lost: one try, to settle */
    int64_t backoff_ms;             /* the wait after the next failed connect */
    int64_t used_ms;                /* start of the current call */
    int durable_warned;             /* the durability warning was logged */
    _Atomic int durable;            /* the server's settings make commits durable */
    unsigned long max_packet;       /* the server's max_allowed_packet */
    MYSQL_STMT *in_st[2];           /* a claim's lease and read (run_in), kept prepared... */
    size_t in_n[2];                 /* ...for this many seqs */
    MYSQL_BIND rows[HW_MY_ROWS_MAX * HW_SQL_INSERT_PARAMS]; /* multi-row insert parameters */
    int64_t body_len[HW_MY_ROWS_MAX];
    MYSQL_STMT *ins[HW_MY_ROWS_MAX + 1]; /* INSERT of k pending events, k = 2.., prepared on use */
    MYSQL_STMT *set[2][HW_MY_ROWS_MAX + 1]; /* outcomes' UPDATE, [leased][k], prepared on use */
    MYSQL_STMT *add[HW_MY_ROWS_MAX + 1];    /* INSERT of k attempts, prepared on use */
    struct hw_my_watch watch;               /* the deadline of a whole call */
};

/*
 * Connects b (b->conn is NULL) with b->timeout_s: the handshake within the
 * call deadline where the client library allows it, the session's settings,
 * the server's max_allowed_packet and durability read. Returns 0 (a recovery
 * logged, the back-off reset), HW_ENOMEM, HW_EUNAVAIL (logged once per
 * outage) or the mapped error of a setup statement; a failed connection is
 * dropped.
 */
int hw_my_connect(struct hw_my *b);

/*
 * Closes b's prepared statements and its connection (the watch thread lets go
 * of the socket first); b->conn is NULL after. b may already be disconnected.
 */
void hw_my_drop(struct hw_my *b);

/*
 * Makes sure there is a connection, leaving autocommit as it is: checks one
 * that sat idle, rebuilds a broken one, and while the server is away fails
 * fast (no attempt before the back-off is over, unless a lost commit answer
 * must be settled). The call's statements may last from now on
 * (hw_my_watch_touch()). Returns 0 or HW_EUNAVAIL.
 */
int hw_my_connected(struct hw_my *b);

/*
 * Makes sure there is a usable connection in autocommit mode: rebuilds a
 * broken one, checks one that sat idle, and while the server is away fails
 * fast with HW_EUNAVAIL (after a failed connect, the next waits its back-off).
 * Returns 0 or HW_EUNAVAIL.
 */
int hw_my_ready(struct hw_my *b);

/* Returns statement k prepared on the current connection, or NULL with *err set. */
MYSQL_STMT *hw_my_stmt(struct hw_my *b, int k, int *err);

/* Prepares sql[0..len) into *slot (which keeps it); returns it, or NULL with *err set. */
MYSQL_STMT *hw_my_prepare(struct hw_my *b, MYSQL_STMT **slot, const char *sql, size_t len,
                          int *err);

/* Binds p (may be NULL) and executes st. Returns 0 or the mapped error. */
int hw_my_execute(struct hw_my *b, MYSQL_STMT *st, MYSQL_BIND *p, const char *what);

/* Runs statement k with parameters p; *rows (may be NULL) gets the affected rows. */
int hw_my_run(struct hw_my *b, int k, MYSQL_BIND *p, uint64_t *rows, const char *what);

/*
 * Reads one integer into *v (0 for NULL) from a one-row, one-column query
 * with up to one string parameter (param may be NULL), prepared for this
 * call only. Returns 0, HW_ENOMEM or the mapped error.
 */
int hw_my_query_int(struct hw_my *b, const char *sql, const char *param, int64_t *v);

/*
 * Maps st's error to our code: HW_EEXIST for a duplicate key (not logged),
 * HW_EUNAVAIL when the connection or server is gone (marks it broken, logs
 * once per outage) or on deadlock, HW_E2BIG, else HW_EIO (logged).
 */
int hw_my_stmt_fail(struct hw_my *b, MYSQL_STMT *st, const char *what);

/* Maps the error of the last call on b->conn itself (open), as hw_my_stmt_fail() does. */
int hw_my_conn_fail(struct hw_my *b, const char *what);

/* Transactions (be is a struct hw_my); see struct hw_store_ops. */
int hw_my_begin(void *be);
int hw_my_commit(void *be);
void hw_my_rollback(void *be);

/* Operations in store_mysql_events.c, as in struct hw_store_ops. */
int hw_my_insert(void *be, const struct hw_store_row *rows, size_t n);
/* In store_mysql_history.c. */
int hw_my_insert_finished(void *be, const struct hw_store_row *rows, size_t n);
int hw_my_purge_excess_batch(void *be, const char *source, uint64_t keep, uint64_t *removed);
int hw_my_get(void *be, const char *id, struct hw_store_event **out);
int hw_my_list(void *be, const struct hw_store_filter *f, size_t limit,
               struct hw_store_events *out);
int hw_my_exists(void *be, const char *id);
int hw_my_claim(void *be, const char *source, const char *owner, int64_t now_ms,
                int64_t lease_until_ms, size_t max, size_t max_bytes, struct hw_store_events *out);
int hw_my_record_one(void *be, const char *id, int64_t lease, int64_t now_ms,
                     const struct hw_store_attempt *a, int status, int64_t next_attempt_ms);
int hw_my_release_one(void *be, const char *id, int64_t lease, int64_t now_ms);
/* In store_mysql_record.c. */
int hw_my_record_batch(void *be, int64_t now_ms, const struct hw_store_outcome *v, size_t n);
/*
 * The text of a fenced UPDATE of k events (owned, length in *len; NULL
 * without memory): head (up to "WHERE status = 1 AND "), then for leased
 * events "lease_until > ? AND id IN (k ids) AND (id, lease_token) IN (k
 * pairs)", else "lease_until = 0 AND id IN (k ids)".
 */
char *hw_my_fence_sql(const char *head, int leased, size_t k, size_t *len);

/* In store_mysql_release.c. */
int hw_my_release_batch(void *be, int64_t now_ms, const struct hw_store_lease *v, size_t n);
int hw_my_attempts(void *be, const char *id, struct hw_store_attempts *out);
int hw_my_requeue(void *be, const char *id, int64_t now_ms, int force);
int hw_my_requeue_failed(void *be, const char *const *ids, size_t n, int64_t now_ms,
                         uint64_t *rows);
int hw_my_purge_batch(void *be, int64_t before_ms, const int st[3], uint64_t *removed);
int hw_my_summarize(void *be, int64_t now_ms, struct hw_store_summary *sum);
int hw_my_backlog(void *be, const char *source, uint64_t *pending, int64_t *oldest_ms);
int hw_my_latency(void *be, int64_t since_ms, uint64_t *n, const uint64_t *k, int *lat, size_t nk);

/* Runs a one-row, one-integer query with up to two integer parameters (nb of them). */
int hw_my_query_i64(struct hw_my *b, const char *sql, const int64_t *v, int nb, int64_t *out);
int hw_my_token_add(void *be, const char *channel, const unsigned char *hash, int64_t now_ms);
int hw_my_token_revoke(void *be, const char *channel, unsigned *removed);
int hw_my_token_lookup(void *be, const unsigned char *hash, char *channel);
int hw_my_token_list(void *be, struct hw_store_token **out, size_t *n);

#endif
