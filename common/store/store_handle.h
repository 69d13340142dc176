#ifndef HW_STORE_HANDLE_H
#define HW_STORE_HANDLE_H

/*
 * The store handle's inside, shared by store.c (open, appends, events),
 * store_writers.c (store threads, group commits), store_admin.c (requeue,
 * purge, summaries, tokens), store_history.c (finished appends, retention
 * by count) and store_release.c (leases given back). Only those include it.
 */
#include <pthread.h>
#include <stdatomic.h>

#include "store.h"
#include "store_backend.h"
#include "store_queue.h"
#include "store_url.h"

#define HW_STORE_OWNER_MAX      64
#define HW_STORE_DEADLOCK_TRIES 3 /* a transaction runs this often before it gives up */

/* A connection group commits run on: the handle's own, or a writer's (hw_store_opts.writers). */
struct hw_store_conn {
    void *be;
    pthread_mutex_t *lock; /* held around every use of be */
    pthread_mutex_t own;   /* a writer's own connection's lock (unused for the handle's) */
    int writer;            /* its store thread's number; -1 for a synchronous append */
};

struct hw_store {
    const struct hw_store_ops *ops;
    void *be;
    pthread_mutex_t lock;          /* held around every use of be */
    struct hw_store_conn *writers; /* one per store thread; NULL without a store thread */
    unsigned nwriters;
    int thread_nice; /* hw_store_opts.thread_nice, applied by each store thread */
    struct hw_store_url url;
    struct hw_store_queue *queue;       /* NULL without a store thread */
    char owner[HW_STORE_OWNER_MAX + 1]; /* lease owner: host/pid/random */
    atomic_uint_fast64_t appended, duplicates, failed, commits, fenced_singles;
    atomic_int down;              /* the last call found the database unavailable (for ping) */
    atomic_int outage;            /* several writers: a commit found the database unavailable */
    atomic_int probe;             /* ...and this writer alone tries it until one gets an answer */
    atomic_int probing;           /* ...and a writer is trying it now */
    _Atomic int64_t probe_end_ms; /* ...and the probe's last try ended then (monotonic) */
    pthread_mutex_t outage_lock;  /* several writers: held to start or end a probe's try */
    pthread_cond_t probe_done;    /* ...broadcast when a try ends (with outage_lock) */
};

/* Takes lock, held around every use of be, and tells the backend a call begins. */
static inline void hw_store_enter(const struct hw_store *s, pthread_mutex_t *lock, void *be)
{
    pthread_mutex_lock(lock);
    hw_store_mark_call(s->ops, be, 1);
}

/* Tells the backend its call ended and lets go of lock. */
static inline void hw_store_leave(const struct hw_store *s, pthread_mutex_t *lock, void *be)
{
    hw_store_mark_call(s->ops, be, 0);
    pthread_mutex_unlock(lock);
}

/* Maps a backend result for a public caller: HW_STORE_ERETRY becomes HW_EUNAVAIL. */
static inline int hw_store_public_err(struct hw_store *s, int err)
{
    if (err == HW_STORE_ERETRY)
        err = HW_EUNAVAIL;
    if (err == HW_EUNAVAIL || err == 0)
        s->down = err == HW_EUNAVAIL;
    return err;
}

/*
 * A fenced write of n items (recorded outcomes, released leases): batch
 * (NULL when the backend has none) writes them all in a few statements
 * and gives HW_ELEASE when any item did not pass its fence; one writes
 * item i alone and returns its own verdict, 0, HW_ELEASE or HW_ENOTFOUND
 * (which leave the other items alone) or an error (which fails them all).
 * Each sets the items' verdicts it decides.
 */
struct hw_store_fenced {
    int (*batch)(struct hw_store *s, void *arg, int64_t now_ms);
    int (*one)(struct hw_store *s, void *arg, size_t i, int64_t now_ms);
    void *arg;
    size_t n;
};

/*
 * Runs f in one transaction, s->lock held: in a batch when there is one
 * and n > 1; a batch with a refused item runs again item by item, so that
 * each gets its own verdict; a deadlock runs it again after a pause
 * (HW_STORE_DEADLOCK_TRIES in all). Items of more than one written one
 * by one are counted in s->fenced_singles. Returns 0 or the error that
 * rolled it back.
 */
int hw_store_fenced_locked(struct hw_store *s, const struct hw_store_fenced *f);

/*
 * Opens the writers' connections (hw_store_opts.writers; one on SQLite) and
 * starts the store threads and their queue (s->queue). Returns 0, or the
 * open's or the queue's error with nothing left started. Called by
 * hw_store_open() once the schema is migrated.
 */
int hw_store_writers_start(struct hw_store *s, const struct hw_store_opts *opts);

/*
 * Lets the store threads commit what is queued, joins them and closes the
 * writers' own connections (the handle's stays open). Harmless without
 * hw_store_writers_start().
 */
void hw_store_writers_stop(struct hw_store *s);

/*
 * Commits v[0..n) on c (its lock taken here) and sets each err and res:
 * the queue's batches on a writer's connection, and hw_store_append() on
 * the handle's (c->writer = -1). Counts the outcomes in s's statistics.
 */
void hw_store_commit(struct hw_store *s, struct hw_store_conn *c, struct hw_store_pending **v,
                     size_t n);

/* A short random pause after a deadlock, so that the two sides do not meet again at once. */
void hw_store_deadlock_pause(void);

#endif
