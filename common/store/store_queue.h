#ifndef HW_STORE_QUEUE_H
#define HW_STORE_QUEUE_H

/*
 * The group-commit queue behind hw_store_append_async(): submitters on any
 * thread queue appends; a store thread takes everything queued (within a
 * batch cap) and hands the batch to a commit function; finished appends wait
 * on a completion list until the owner polls, and the wake function tells
 * the owner when to poll. With several store threads (writers), each takes
 * the next batch as soon as it is free, so that one batch is written while
 * another commits; batches still complete in the order they were taken, and
 * a job runs alone. The queue knows nothing of SQL.
 */
#include <stddef.h>

#include "store.h"

/* One queued append, a token-list job (tokens_cb set) or a generic job (job_fn set). */
struct hw_store_pending {
    struct hw_store_event ev; /* fields point into copy, or into the lender's event */
    /* Owned until the poll (leased: handed to the callback); NULL for a lent event. */
    struct hw_store_event *copy;
    size_t bytes;               /* counted against the byte cap */
    struct hw_store_result res; /* set by the commit function */
    int err;                    /* set by the commit function */
    hw_store_append_cb cb;
    hw_store_tokens_cb tokens_cb;  /* a job: list the tokens instead of appending */
    struct hw_store_token *tokens; /* the job's result, handed to tokens_cb */
    size_t ntokens;
    hw_store_job_fn job_fn; /* a job: run this instead of appending */
    hw_store_job_cb job_cb;
    void *arg;
    int finished;                 /* hw_store_append_finished_async(): insert it finished */
    int leased;                   /* hw_store_append_leased_async(): copy goes to the callback */
    struct hw_store_attempt done; /* its attempt (error points past this struct, or into copy) */
    struct hw_store_pending *next;
};

/*
 * Commits v[0..n) as well as it can and sets err and res in each. Runs on
 * store thread number writer (0 .. writers - 1), concurrently with the
 * other writers' calls (never with a job's: a job is taken alone, while no
 * other batch is in flight).
 */
typedef void (*hw_store_commit_fn)(void *ctx, unsigned writer, struct hw_store_pending **v,
                                   size_t n);

/* Called on each store thread as it starts (starting = 1) and before it ends (0). */
typedef void (*hw_store_thread_fn)(void *ctx, int starting);

struct hw_store_queue_cfg {
    hw_store_commit_fn commit;
    hw_store_thread_fn thread;
    void *ctx;
    hw_store_wake_fn wake;
    void *wake_arg;
    size_t max_items;   /* queued plus unpolled appends */
    size_t max_bytes;   /* bytes of queued events */
    size_t batch_items; /* most appends per commit */
    size_t batch_bytes; /* most event bytes per commit (a larger event goes alone) */
    unsigned writers;   /* store threads, 1 .. HW_STORE_WRITERS_MAX */
    /*
     * When only finished appends wait (no pending append, no job), a writer
     * lets them gather for up to this long (or until a batch is full)
     * before it takes them: each was answered already, and fewer, larger
     * commits cost less per append. 0: take at once.
     */
    int linger_ms;
    /*
     * Writers run in SCHED_IDLE while they write finished appends alone and
     * fewer than a batch wait; anything else queued (a pending append, a
     * job), a full batch waiting or a stop lifts them back at once
     * (store_sched.h). Set only once hw_sched_idle_reversible() said yes.
     */
    int idle;
};

struct hw_store_queue;

/*
 * Starts the store threads and returns once each has run cfg.thread's
 * start call (its nice value set, named hw-store); *out receives the owned queue. Returns 0,
 * HW_EINVAL for a writer count out of range, HW_ENOMEM, or -errno from
 * pthread_create (the threads already started are stopped). Any thread.
 */
int hw_store_queue_new(const struct hw_store_queue_cfg *cfg, struct hw_store_queue **out);

/*
 * Queues p (taken: freed by the queue after its callback ran). Returns 0,
 * HW_E2BIG when p alone is larger than the byte cap (it could never fit),
 * HW_EFULL when a cap is reached, or HW_EUNAVAIL once the queue is being
 * freed (p is then still the caller's). Any thread.
 */
int hw_store_queue_submit(struct hw_store_queue *q, struct hw_store_pending *p);

/*
 * Takes back an append still waiting in the queue, not yet in a writer's
 * batch, found by its callback and argument: it is freed and its callback
 * never runs. Returns 0, or HW_ENOTFOUND when no such append waits (a
 * writer has it: it completes as usual). Call it on the thread that polls,
 * which made the copy it frees.
 */
int hw_store_queue_withdraw(struct hw_store_queue *q, hw_store_append_cb cb, void *arg);

/* hw_store_queue_withdraw() for a job queued with this cb and arg, not yet started. */
int hw_store_queue_withdraw_job(struct hw_store_queue *q, hw_store_job_cb cb, void *arg);

/*
 * Called by the commit function on store thread number writer as it sends
 * the batch's COMMIT: another writer may now take the next batch and write
 * it while this one's commit is flushed. Any later call for the same batch
 * is harmless; a batch that ends without it frees its turn when it ends.
 */
void hw_store_queue_committing(struct hw_store_queue *q, unsigned writer);

/*
 * Runs the callbacks of finished appends on the calling thread, in
 * submission order (a batch's completions are handed over only after those
 * of every batch taken before it); returns how many.
 */
int hw_store_queue_poll(struct hw_store_queue *q);

/*
 * Lets the store threads commit everything queued, joins them, runs the
 * remaining callbacks on the calling thread and frees q. NULL is ignored.
 */
void hw_store_queue_free(struct hw_store_queue *q);

#endif
