#ifndef HW_STORE_SQLITE_H
#define HW_STORE_SQLITE_H

/*
 * Inside the SQLite store backend: the connection shared by store_sqlite.c
 * (open, errors, transactions, schema steps) and store_sqlite_events.c
 * (operations on events, attempts and tokens). Every function here runs
 * under the store handle's lock.
 */
#include <sqlite3.h>
#include <stddef.h>

#include "store_backend.h"
#include "store_pack.h"
#include "store_sqlite_seg.h"

/* The statements prepared once, on first use. */
enum hw_lite_stmt {
    HW_LITE_BEGIN,
    HW_LITE_COMMIT,
    HW_LITE_ROLLBACK,
    HW_LITE_INSERT,
    HW_LITE_FIND_DUP,
    HW_LITE_GET,
    HW_LITE_CLAIM,
    HW_LITE_CLAIM_SOURCE,
    HW_LITE_FINISH,
    HW_LITE_SETTLE,
    HW_LITE_RELEASE,
    HW_LITE_NEXT_SOURCE,
    HW_LITE_EXISTS,
    HW_LITE_ADD_ATTEMPT,
    HW_LITE_OUTCOME_STORED,
    HW_LITE_ATTEMPTS,
    HW_LITE_REQUEUE,
    HW_LITE_STATUS_OF,
    HW_LITE_PURGE_PICK,
    HW_LITE_PURGE_ATTEMPTS,
    HW_LITE_PURGE_EVENT,
    HW_LITE_TOKEN_ADD,
    HW_LITE_TOKEN_REVOKE,
    HW_LITE_TOKEN_LOOKUP,
    HW_LITE_TOKEN_LIST,
    HW_LITE_SCHEMA_RECORD,
    HW_LITE_INSERT_DONE,
    HW_LITE_EXCESS_UPPER,
    HW_LITE_EXCESS_ATTEMPTS,
    HW_LITE_EXCESS_EVENTS,
    HW_LITE_PACK_RESERVE,
    HW_LITE_PACK_START,
    HW_LITE_PACK_INSERT,
    HW_LITE_PACK_FIND,
    HW_LITE_PACK_DATA,
    HW_LITE_PACK_UPDATE,
    HW_LITE_PACK_DELETE,
    HW_LITE_PACK_UNPACK,
    HW_LITE_PACK_SEG_LOWEST,
    HW_LITE_COUNT,
};

struct hw_lite {
    sqlite3 *db;
    const char *name; /* borrowed from the URL */
    sqlite3_stmt *st[HW_LITE_COUNT];
    int nosync;  /* synchronous=OFF (a test-only URL parameter): not durable */
    int relaxed; /* synchronous=NORMAL for a batch of finished events, until set back */
    int batch;   /* that batch is open (hw_lite_begin_finished() until commit or rollback) */
    struct hw_lite_seg seg; /* pack data files (schema 12) */
    int file_fd;            /* the database file, to see it deleted under us; -1 in memory */
    int file_gone;          /* it was: every write fails from then on */
};

/* Maps a SQLite result code to ours (-EROFS, -ENOSPC, -errno, HW_EIO, ...) and logs it. */
int hw_lite_fail(struct hw_lite *b, int rc, const char *what);

/* Returns cached statement k, or NULL with *err set. */
sqlite3_stmt *hw_lite_stmt(struct hw_lite *b, int k, int *err);

/* Steps st to completion and resets it. Returns 0 or the mapped error. */
int hw_lite_run(struct hw_lite *b, sqlite3_stmt *st, const char *what);

/* Binds n bytes as a blob (never SQL NULL, even when empty). */
void hw_lite_bind_bytes(sqlite3_stmt *st, int i, const void *p, size_t n);

/* Binds a string's bytes as a blob; NULL binds SQL NULL. */
void hw_lite_bind_str(sqlite3_stmt *st, int i, const char *s);

/*
 * Binds the parameters every inserted event row starts with, 1 to
 * HW_LITE_EVENT_COLS (id, source, received, method, path, query, headers,
 * body, its length, its SHA-256, verification, dedup key). The plain and the
 * finished insert each bind their own parameters after these.
 */
#define HW_LITE_EVENT_COLS 12
void hw_lite_bind_event(sqlite3_stmt *st, const struct hw_store_event *ev);

/* Column i of the current row as a NUL-terminated string; "" for NULL. */
const char *hw_lite_col_str(sqlite3_stmt *st, int i);

/* Transactions (be is a struct hw_lite); see struct hw_store_ops. */
int hw_lite_begin(void *be);
int hw_lite_commit(void *be);
void hw_lite_rollback(void *be);
/*
 * Begins a group commit of finished events only (ops->begin_finished):
 * its commit is written to the WAL but not fsynced (synchronous=NORMAL);
 * the next fsynced commit or checkpoint makes it durable. Commit and
 * rollback set synchronous back to FULL; until that has succeeded, no
 * other statement runs (hw_lite_stmt() tries again and fails).
 */
int hw_lite_begin_finished(void *be);

/* Operations in store_sqlite_events.c, as in struct hw_store_ops. */
int hw_lite_insert(void *be, const struct hw_store_row *rows, size_t n);
/* In store_sqlite_history.c. */
int hw_lite_insert_finished(void *be, const struct hw_store_row *rows, size_t n);
int hw_lite_purge_excess_batch(void *be, const char *source, uint64_t keep, uint64_t *removed);
int hw_lite_get(void *be, const char *id, struct hw_store_event **out);
int hw_lite_list(void *be, const struct hw_store_filter *f, size_t limit,
                 struct hw_store_events *out);
int hw_lite_exists(void *be, const char *id);
int hw_lite_claim(void *be, const char *source, const char *owner, int64_t now_ms,
                  int64_t lease_until_ms, size_t max, size_t max_bytes,
                  struct hw_store_events *out);
int hw_lite_record_one(void *be, const char *id, int64_t lease, int64_t now_ms,
                       const struct hw_store_attempt *a, int status, int64_t next_attempt_ms);
int hw_lite_release_one(void *be, const char *id, int64_t lease, int64_t now_ms);
int hw_lite_attempts(void *be, const char *id, struct hw_store_attempts *out);
int hw_lite_requeue(void *be, const char *id, int64_t now_ms, int force);
int hw_lite_requeue_failed(void *be, const char *const *ids, size_t n, int64_t now_ms,
                           uint64_t *rows);
int hw_lite_purge_batch(void *be, int64_t before_ms, const int st[3], uint64_t *removed);
int hw_lite_summarize(void *be, int64_t now_ms, struct hw_store_summary *sum);
int hw_lite_backlog(void *be, const char *source, uint64_t *pending, int64_t *oldest_ms);
int hw_lite_latency(void *be, int64_t since_ms, uint64_t *n, const uint64_t *k, int *lat,
                    size_t nk);
int hw_lite_token_add(void *be, const char *channel, const unsigned char *hash, int64_t now_ms);
int hw_lite_token_revoke(void *be, const char *channel, unsigned *removed);
int hw_lite_token_lookup(void *be, const unsigned char *hash, char *channel);
int hw_lite_token_list(void *be, struct hw_store_token **out, size_t *n);

/*
 * Packed live history (schema 10): store_sqlite_pack.c writes packs and
 * finds a webhook by id; store_sqlite_packscan.c lists, purges and counts.
 */

/*
 * Writes rows[0..n) (finished, sorted by source) as packs, one per run of a
 * source within HW_PACK_SPAN_MS; a row that cannot be packed (a dedup key)
 * goes through one(). Fills each result. Inside the caller's transaction.
 */
int hw_lite_pack_insert(struct hw_lite *b, const struct hw_store_row *rows, size_t n,
                        int (*one)(struct hw_lite *, const struct hw_store_row *));

/*
 * Commits the transaction that purged webhooks from packs (dropped: how
 * many; 0 commits only), then removes the data files no pack refers to any
 * more (hw_lite_seg_reclaim()). Returns hw_lite_commit()'s result.
 */
int hw_lite_pack_commit(struct hw_lite *b, uint64_t dropped);

/* A webhook found in a pack: owned copies of the pack's meta (and data when asked for). */
struct hw_lite_packed {
    int64_t pack; /* the pack's seq (its row) */
    int64_t seq;  /* the webhook's */
    char source[HW_STORE_NAME_MAX + 1];
    unsigned char *meta, *data;
    size_t meta_len, data_len;
    struct hw_pack_entry e; /* points into meta */
};

/*
 * Finds the webhook id still in a pack (not moved or purged), with the
 * pack's data when data is 1. Returns 0 (free k with
 * hw_lite_packed_free()), HW_ENOTFOUND, HW_EIO (a bad pack), or the mapped
 * error.
 */
int hw_lite_pack_find(struct hw_lite *b, const char *id, int data, struct hw_lite_packed *k);
void hw_lite_packed_free(struct hw_lite_packed *k);
/* hw_lite_get(), hw_lite_attempts() for a packed webhook (attempts: none found is 0). */
int hw_lite_pack_get(struct hw_lite *b, const char *id, struct hw_store_event **out);
int hw_lite_pack_attempts(struct hw_lite *b, const char *id, struct hw_store_attempts *out);
/*
 * Requeues a packed webhook inside the caller's transaction: it becomes a
 * pending row under its own seq (with its attempt) and is marked moved in
 * its pack. Returns 0, HW_ENOTFOUND, HW_EEXIST (delivered, no force), or
 * an error (roll back).
 */
int hw_lite_pack_requeue(struct hw_lite *b, const char *id, int64_t now_ms, int force);
/* Writes a pack's changed meta and takes delivered and failed off its counts. */
int hw_lite_pack_mark(struct hw_lite *b, int64_t pack, unsigned char *meta, size_t meta_len,
                      int64_t delivered, int64_t failed);

/*
 * Up to limit packed webhooks matching f (path: the GLOB pattern or NULL),
 * newest first, without headers and body, appended to out.
 */
int hw_lite_pack_list(struct hw_lite *b, const struct hw_store_filter *f, const char *path,
                      size_t limit, struct hw_store_events *out);
/* Purge by age of packed webhooks, up to HW_STORE_PURGE_BATCH, in the caller's transaction. */
int hw_lite_pack_purge(struct hw_lite *b, int64_t before_ms, const int st[3], uint64_t *removed);
/*
 * The seq of the newest event of source past its keep newest, rows and
 * packed webhooks together, in *cutoff. Returns 0, HW_ENOTFOUND (no more
 * than keep), or an error.
 */
int hw_lite_pack_cutoff(struct hw_lite *b, const char *source, uint64_t keep, int64_t *cutoff);
/* Removes source's packed webhooks at or below seq upper (up to a batch); *removed: how many. */
int hw_lite_pack_excess(struct hw_lite *b, const char *source, int64_t upper, uint64_t *removed);
/* Adds the packed webhooks to sum's counts (by status, by source, failed since since). */
int hw_lite_pack_summarize(struct hw_lite *b, int64_t since, struct hw_store_summary *sum);

#endif
