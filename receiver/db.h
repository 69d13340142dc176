#ifndef RECV_DB_H
#define RECV_DB_H

/*
 * The receiver's database threads: store handles of their own, used
 * synchronously, for everything but appends (which go through the service
 * thread's group commit): claiming due events for delivery with a lease
 * (one claimer thread), recording the attempts' outcomes (one recorder
 * thread, a batch per transaction), and the store figures /readyz and
 * /metrics show. The service thread never waits on them: jobs cross over
 * through two lists under a mutex, and the service thread is woken with
 * lws_cancel_service() when claimed events are ready.
 */
#include <libwebsockets.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "core/buf.h"
#include "store/store.h"

/* One claimed event on its way to the backend and back. */
struct recv_job {
    struct recv_job *next;
    const struct recv_source *src;
    struct hw_store_event *ev; /* claimed or leased at its append, with headers and body; owned */
    size_t leased_bytes;       /* leased at its append: the bytes recv_db_reserve() counted */
    size_t claimed_bytes;      /* claimed: its headers and body, counted against CLAIMED_BYTES */
    /* Filled on the service thread before recv_db_finish(). */
    int abandon;     /* 1: not sent, or cut by the shutdown: no attempt, the lease released */
    int new_status;  /* enum hw_store_status after this attempt */
    int64_t next_ms; /* next attempt (pending) */
    struct hw_store_attempt attempt;
    char error[128];
    char *excerpt; /* owned copy of the answer's first bytes */
};

struct recv_db;

/*
 * Opens the handles on cfg->store (cfg borrowed for the threads' life) and
 * starts the threads; cx is woken when claimed jobs are ready. Returns 0
 * with *out, or the store's error (HW_EUNAVAIL, HW_ECONFIG...) or -errno.
 */
int recv_db_start(const struct recv_config *cfg, struct lws_context *cx, struct recv_db **out);

/*
 * Makes room for an event of source src, of bytes headers and body, that
 * its append leases to this receiver (hw_store_append_leased_async()): it
 * is then delivered from memory with no claim. Returns 1 when the source's
 * window and byte budget have room, counting it as outstanding (undo with
 * recv_db_unreserve() when the append stores nothing new); 0 when the
 * event should be appended due instead, for a claim to find. Any thread.
 */
int recv_db_reserve(struct recv_db *db, const struct recv_source *src, size_t bytes);

/* Gives back what recv_db_reserve() counted, for an append that handed no event. Any thread. */
void recv_db_unreserve(struct recv_db *db, const struct recv_source *src, size_t bytes);

/* A job for the event a leased append handed over (owned; reserved with bytes), or NULL. */
struct recv_job *recv_db_leased_job(const struct recv_source *src, struct hw_store_event *ev,
                                    size_t bytes);

/* Takes the claimed jobs (a list in claim order, or NULL). Service thread. */
struct recv_job *recv_db_take_claimed(struct recv_db *db);

/*
 * Hands back a job whose outcome is filled in (or abandoned: its lease is
 * released instead), to be recorded and freed on the recorder. Any thread.
 */
void recv_db_finish(struct recv_db *db, struct recv_job *j);

/* New events were committed: look for due work now rather than at the next poll. Any thread. */
void recv_db_kick(struct recv_db *db);

/* Stops claiming (SIGTERM); jobs already claimed still come and are still recorded. Any thread. */
void recv_db_stop_claiming(struct recv_db *db);

/*
 * 1 while the store answered its last check, no more than 5 s ago, with
 * current migrations. Any thread.
 */
int recv_db_ready(struct recv_db *db);

/*
 * Events of a source with this concurrency that may be claimed and not yet
 * recorded at once: several times the concurrency, so that deliveries go on
 * while claims and records commit; the HTTP client still sends at most
 * `concurrency` at a time and queues the rest. Any thread.
 */
size_t recv_db_window(unsigned concurrency);

/*
 * Appends the database thread's figures as Prometheus text: events taken
 * by claims so far, and the backlog by source and the oldest pending age
 * as last read (every 5 s), and readiness.
 */
int recv_db_render(struct recv_db *db, struct hw_buf *out);

/*
 * Stops the threads once the outcomes already handed back are recorded and
 * the leases of jobs not sent (abandoned ones, and claimed ones nobody
 * took) are released, one try each while the database is away; logs how
 * many leases were released and how many could not be (those lapse).
 * Closes the handles. NULL is ignored. Main thread, after the service loop
 * has ended, the HTTP client is freed and the appends have committed.
 */
void recv_db_stop(struct recv_db *db);

/* Frees a job and what it owns. */
void recv_job_free(struct recv_job *j);

#endif
