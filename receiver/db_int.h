#ifndef RECV_DB_INT_H
#define RECV_DB_INT_H

/*
 * Internal to the database threads, db.c (the claimer, the start and the
 * stop) and db_recorder.c (the recorder): the state they share, whose
 * comments say which fields are under mu, and the recorder's entry point.
 * Both threads, and the callers of db.h through its functions.
 */
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "db.h"

/* Outcomes recorded in one transaction at most. */
#define RECORD_MAX 1000
/* Retry times remembered to wake exactly when one is due; past this the poll finds them. */
#define DUE_MAX 4096

struct src_state {
    size_t outstanding;   /* claimed or leased at append, and not yet recorded */
    size_t leased_bytes;  /* headers and bodies of those leased at append */
    size_t claimed_bytes; /* headers and bodies of those claimed */
    int more;             /* the last claim was full: more may be due */
    /*
     * Events may be due that only a claim finds (left by an earlier run,
     * or appended due while the window was full): new ones are appended
     * due too, behind them, until a claim comes back short.
     */
    int due_left;
    int claim_err; /* the error the last claim failed with and logged, 0 after a good one */
};

struct recv_db {
    const struct recv_config *cfg;
    struct lws_context *cx;
    struct hw_store *store; /* the claiming thread's */
    pthread_t thread;
    int started;
    struct hw_store *rec_store; /* the recorder's */
    pthread_t rec_thread;
    int rec_started;
    /* The recorder's batch (RECORD_MAX each): jobs taken, to record, to release; their rows. */
    struct recv_job **rec_jobs, **rec_live, **rec_gone;
    struct hw_store_outcome *rec_v;
    struct hw_store_lease *rec_leases;
    /*
     * Leases of events not sent (under mu): given back, found no longer this
     * receiver's (another took the event over, or it ended), and left to
     * lapse (the database was away); at_stop: the same when the stop began.
     */
    uint64_t leases[3], leases_at_stop[3];
    pthread_mutex_t mu;
    pthread_cond_t cv;       /* the claimer waits here */
    pthread_cond_t rec_cv;   /* the recorder waits here */
    pthread_cond_t swept_cv; /* recv_db_start() waits here for the first claims */
    /* Under mu. */
    struct recv_job *claimed, **claimed_tail; /* for the service thread */
    struct recv_job *finished;                /* back from it, to record */
    int kicked, stop, no_claims, swept;
    int rec_stop;           /* the recorder leaves once nothing is left to record or release */
    uint64_t claimed_total; /* events taken by claims */
    uint64_t *backlog;      /* pending per source, by index, from the last backlog check */
    int64_t oldest_pending_ms;
    int have_backlog;
    int64_t ready_until_us; /* recv_now_us() until which the last check counts, 0 if it failed */
    /* Under mu: the claimer's, which the recorder updates too. */
    struct src_state *src;
    int64_t due[DUE_MAX]; /* retry times recorded, for exact wake-ups */
    size_t ndue;
};

/*
 * The recorder thread (db_recorder.c), started by recv_db_start() with the
 * struct recv_db as arg; returns NULL once rec_stop is set and nothing is
 * left to record or release.
 */
void *recv_db_recorder_run(void *arg);

#endif
