/*
 * The group-commit queue (see store_queue.h). Owns the store threads (the
 * writers), the queue of appends waiting for a commit and the list of
 * finished appends waiting for their owner to poll. One mutex guards both
 * lists and the writers' states; the commit itself runs without it, so
 * submitters never wait for the disk.
 */
#include "store_queue.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "core/err.h"
#include "core/log.h"
#include "store_sched.h"

/* One store thread and the batch it holds. */
struct writer {
    struct hw_store_queue *q;
    unsigned index;
    pthread_t thread;
    int started;
    struct hw_store_pending **batch; /* cfg.batch_items slots */
    size_t n, bytes;                 /* the batch in hand */
    uint64_t ticket;                 /* the order in which it was taken */
    int job;                         /* the batch is one job, run alone */
    int writing;                     /* taken, its COMMIT not yet sent */
    int finished;                    /* committed, its completions not yet handed over */
    pid_t tid;                       /* the thread's id, for its scheduling policy */
    int idle;                        /* writes its batch in SCHED_IDLE (cfg.idle) */
    atomic_int lifted;               /* lift() ran since the batch was taken */
    int switched;                    /* the thread's own: it put itself in SCHED_IDLE */
};

struct hw_store_queue {
    struct hw_store_queue_cfg cfg;
    pthread_mutex_t lock;
    pthread_cond_t work;     /* an append was queued, a batch was handed over, or stop */
    pthread_cond_t released; /* a finished batch was handed over, or a thread started */
    struct hw_store_pending *head, **tail;      /* waiting for a commit */
    struct hw_store_pending *done, **done_tail; /* committed, waiting for a poll */
    size_t items;                               /* queued plus unpolled */
    size_t bytes;                               /* queued or in a batch not yet handed over */
    int stopping;
    uint64_t next_ticket;  /* given to the next batch taken */
    uint64_t next_release; /* the batch whose completions go next */
    unsigned inflight;     /* batches taken and not yet handed over */
    unsigned writing;      /* batches taken whose COMMIT is not yet sent (0 or 1) */
    int exclusive;         /* a job is running: nothing else starts */
    size_t waiting;        /* appends and jobs in the queue (not yet taken) */
    size_t urgent;         /* of those, the ones that are not finished appends */
    int lingering;         /* a writer lets finished appends gather (cfg.linger_ms) */
    int idle_broken;       /* a writer could not leave SCHED_IDLE: none enters it again */
    struct writer *w;      /* cfg.writers */
};

static int is_job(const struct hw_store_pending *p)
{
    return p->job_fn || p->tokens_cb;
}

/*
 * Whether a writer may take the next batch now (lock held). Appends wait
 * while another batch is still being written (its COMMIT not yet sent):
 * what arrives meanwhile makes the next batch, so that batches stay about
 * as large as with one writer and what overlaps is one batch's INSERT with
 * another's COMMIT (the log flush). A job (which may read what earlier
 * appends wrote, and whose effects later appends may rely on) waits until
 * every batch before it is done, and nothing starts while it runs: jobs
 * stay in order with the appends, as with one writer.
 */
static int can_take(const struct hw_store_queue *q)
{
    return q->head && !q->exclusive && (is_job(q->head) ? q->inflight == 0 : q->writing == 0);
}

/* The batch of w no longer holds the writing stage (lock held). */
static void stage_free(struct hw_store_queue *q, struct writer *w)
{
    if (!w->writing)
        return;
    w->writing = 0;
    q->writing--;
    if (can_take(q))
        pthread_cond_signal(&q->work);
}

/*
 * Takes every writer out of SCHED_IDLE (lock held): something is waited
 * for now, or the finished appends pile up faster than idle time writes
 * them. A writer switches itself only outside the lock (enter_idle()), so
 * lifted is set first: one that has not switched yet sees it and stays.
 */
static void lift(struct hw_store_queue *q)
{
    for (unsigned i = 0; i < q->cfg.writers; i++) {
        struct writer *w = &q->w[i];
        int err;

        if (!w->idle)
            continue;
        atomic_store(&w->lifted, 1);
        err = hw_sched_set_idle(w->tid, 0);
        if (!err) {
            w->idle = 0;
        } else if (!q->idle_broken) {
            /* hw_sched_idle_reversible() said it could: the process lost the privilege since. */
            q->idle_broken = 1;
            HW_ERR("store thread %u: cannot leave SCHED_IDLE: %s", i, hw_strerror(err));
        }
    }
}

/*
 * Whether work waited for, or a backlog, should lift idle writers (lock held).
 * A backlog is two full batches waiting: one full batch is what a linger
 * ends with at a high rate, not a writer falling behind.
 */
static int wants_lift(const struct hw_store_queue *q)
{
    return q->cfg.idle && (q->urgent || q->waiting >= 2 * q->cfg.batch_items || q->stopping);
}

/*
 * Chooses w's policy for the batch it just took (lock held): SCHED_IDLE
 * when the batch holds finished appends only and neither work waited for
 * nor a backlog is left queued, so that writing history nobody waits for
 * takes only time no other thread wants. The
 * writer switches after it lets go of the lock and back before it takes
 * it again: a thread in SCHED_IDLE gets no core while others want one,
 * and the submitters would wait for it if it held the lock then.
 */
static void choose_policy(struct hw_store_queue *q, struct writer *w, size_t urgent)
{
    w->idle = q->cfg.idle && !q->idle_broken && !w->job && !urgent && !wants_lift(q);
    atomic_store(&w->lifted, 0);
}

/* Puts w in SCHED_IDLE for its batch, and back out if it was lifted meanwhile. */
static void enter_idle(struct writer *w)
{
    if (hw_sched_set_idle(w->tid, 1) != 0)
        return;
    w->switched = 1;
    /* A lift between the choice and the switch: it may have run before the switch. */
    if (atomic_load(&w->lifted))
        hw_sched_set_idle(w->tid, 0);
}

/* Takes w out of SCHED_IDLE after its batch, before it takes the lock again. */
static void leave_idle(struct hw_store_queue *q, struct writer *w)
{
    int err;

    if (!w->switched)
        return;
    w->switched = 0;
    err = hw_sched_set_idle(w->tid, 0);
    if (err) {
        pthread_mutex_lock(&q->lock);
        if (!q->idle_broken)
            HW_ERR("store thread %u: cannot leave SCHED_IDLE: %s", w->index, hw_strerror(err));
        q->idle_broken = 1;
        pthread_mutex_unlock(&q->lock);
    }
}

/* Takes the next batch off the queue into w (lock held, can_take true). */
static void queue_take(struct hw_store_queue *q, struct writer *w)
{
    size_t n = 0, bytes = 0, urgent = 0;

    w->job = is_job(q->head);
    if (w->job) {
        q->exclusive = 1;
        w->batch[n++] = q->head;
        q->head = q->head->next;
    } else {
        while (q->head && !is_job(q->head) && n < q->cfg.batch_items &&
               (n == 0 || bytes + q->head->bytes <= q->cfg.batch_bytes)) {
            struct hw_store_pending *p = q->head;
            q->head = p->next;
            w->batch[n++] = p;
            bytes += p->bytes;
        }
    }
    for (size_t i = 0; i < n; i++)
        urgent += !w->batch[i]->finished;
    q->urgent -= urgent;
    q->waiting -= n;
    for (size_t i = 0; i < n; i++)
        w->batch[i]->next = NULL;
    if (!q->head)
        q->tail = &q->head;
    w->n = n;
    w->bytes = bytes;
    w->ticket = q->next_ticket++;
    w->finished = 0;
    w->writing = !w->job;
    q->writing += (unsigned)w->writing;
    q->inflight++;
    choose_policy(q, w, urgent);
}

/*
 * Hands the finished batches over to the completion list in the order they
 * were taken, as far as they are finished (lock held). Returns how many
 * batches went.
 */
static unsigned release_in_order(struct hw_store_queue *q)
{
    unsigned went = 0;

    for (;;) {
        struct writer *w = NULL;

        for (unsigned i = 0; i < q->cfg.writers; i++) {
            if (q->w[i].finished && q->w[i].ticket == q->next_release) {
                w = &q->w[i];
                break;
            }
        }
        if (!w)
            return went;
        q->bytes -= w->bytes;
        for (size_t i = 0; i < w->n; i++) {
            *q->done_tail = w->batch[i];
            q->done_tail = &w->batch[i]->next;
        }
        w->finished = 0;
        w->n = 0;
        q->inflight--;
        q->next_release++;
        went++;
    }
}

/* Only finished appends wait, fewer than a batch, and no stop is asked for (lock held). */
static int lingers(const struct hw_store_queue *q)
{
    return q->cfg.linger_ms > 0 && q->head && !q->urgent && q->waiting < q->cfg.batch_items &&
           !q->stopping;
}

/*
 * Lets finished appends gather until cfg.linger_ms has passed, a batch is
 * full, or something else is queued (lock held). Returns whether a batch
 * may be taken now.
 */
static int linger(struct hw_store_queue *q)
{
    struct timespec until;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += (long)q->cfg.linger_ms * 1000000L;
    until.tv_sec += until.tv_nsec / 1000000000L;
    until.tv_nsec %= 1000000000L;
    q->lingering = 1;
    while (lingers(q) && pthread_cond_timedwait(&q->work, &q->lock, &until) == 0)
        ;
    q->lingering = 0;
    return can_take(q);
}

static void *queue_main(void *arg)
{
    struct writer *w = arg;
    struct hw_store_queue *q = w->q;

    pthread_setname_np(pthread_self(), "hw-store");
    if (q->cfg.thread)
        q->cfg.thread(q->cfg.ctx, 1);
    pthread_mutex_lock(&q->lock);
    w->tid = gettid();
    pthread_cond_broadcast(&q->released); /* set up: hw_store_queue_new() may return */
    for (;;) {
        unsigned went;
        int idle;

        while (!can_take(q) && !(q->stopping && !q->head))
            pthread_cond_wait(&q->work, &q->lock);
        if (!q->head)
            break;
        if (lingers(q) && !linger(q))
            continue;
        queue_take(q, w);
        idle = w->idle;
        pthread_mutex_unlock(&q->lock);

        /*
         * The event copies stay until the poll frees them (or hands a leased
         * one over) on the thread that submitted them: glibc returns a block
         * freed on another thread to its arena under the arena's lock, which
         * the submitter's own allocations then wait for.
         */
        if (idle)
            enter_idle(w);
        q->cfg.commit(q->cfg.ctx, w->index, w->batch, w->n);
        leave_idle(q, w);

        pthread_mutex_lock(&q->lock);
        w->idle = 0;
        w->finished = 1;
        stage_free(q, w); /* a batch that failed before its COMMIT */
        if (w->job)
            q->exclusive = 0;
        went = release_in_order(q);
        if (went) {
            /* Writers held behind this batch, and a job waiting for quiet, may go on. */
            pthread_cond_broadcast(&q->released);
            pthread_cond_broadcast(&q->work);
            pthread_mutex_unlock(&q->lock);
            if (q->cfg.wake)
                q->cfg.wake(q->cfg.wake_arg);
            pthread_mutex_lock(&q->lock);
        }
        /*
         * Committed before a batch taken earlier: keep the batch (and this
         * writer) until that one is done, so completions stay in order and
         * at most one batch per writer is ever in flight.
         */
        while (w->finished)
            pthread_cond_wait(&q->released, &q->lock);
    }
    pthread_mutex_unlock(&q->lock);
    if (q->cfg.thread)
        q->cfg.thread(q->cfg.ctx, 0);
    return NULL;
}

/* Stops and joins the writers that were started, then frees q (no thread may use it). */
static void queue_destroy(struct hw_store_queue *q)
{
    pthread_mutex_lock(&q->lock);
    q->stopping = 1;
    lift(q); /* what is left is written before the threads end, not on idle time */
    pthread_cond_broadcast(&q->work);
    pthread_mutex_unlock(&q->lock);
    for (unsigned i = 0; q->w && i < q->cfg.writers; i++) {
        if (q->w[i].started)
            pthread_join(q->w[i].thread, NULL);
        free(q->w[i].batch);
    }
    hw_store_queue_poll(q);
    pthread_cond_destroy(&q->released);
    pthread_cond_destroy(&q->work);
    pthread_mutex_destroy(&q->lock);
    free(q->w);
    free(q);
}

int hw_store_queue_new(const struct hw_store_queue_cfg *cfg, struct hw_store_queue **out)
{
    struct hw_store_queue *q;
    int err = 0;

    if (cfg->writers < 1 || cfg->writers > HW_STORE_WRITERS_MAX || cfg->batch_items < 1)
        return HW_EINVAL;
    q = calloc(1, sizeof(*q));
    if (!q)
        return HW_ENOMEM;
    q->cfg = *cfg;
    q->tail = &q->head;
    q->done_tail = &q->done;
    pthread_mutex_init(&q->lock, NULL);
    pthread_cond_init(&q->work, NULL);
    pthread_cond_init(&q->released, NULL);
    q->w = calloc(cfg->writers, sizeof(*q->w));
    for (unsigned i = 0; q->w && i < cfg->writers; i++) {
        q->w[i].q = q;
        q->w[i].index = i;
        q->w[i].batch = calloc(cfg->batch_items, sizeof(*q->w[i].batch));
        if (!q->w[i].batch)
            err = HW_ENOMEM;
    }
    if (!q->w)
        err = HW_ENOMEM;
    for (unsigned i = 0; !err && i < cfg->writers; i++) {
        err = -pthread_create(&q->w[i].thread, NULL, queue_main, &q->w[i]);
        q->w[i].started = !err;
    }
    if (err) {
        queue_destroy(q);
        return err;
    }
    /* Each thread has its name, nice value and id before the store is used (or looked at). */
    pthread_mutex_lock(&q->lock);
    for (unsigned i = 0; i < cfg->writers; i++) {
        while (!q->w[i].tid)
            pthread_cond_wait(&q->released, &q->lock);
    }
    pthread_mutex_unlock(&q->lock);
    *out = q;
    return 0;
}

void hw_store_queue_committing(struct hw_store_queue *q, unsigned writer)
{
    /* A single writer holds nobody up: its stage ends with the batch, under the lock. */
    if (q->cfg.writers == 1)
        return;
    /* Its COMMIT's round trip is written in SCHED_OTHER: the lock is not taken in SCHED_IDLE. */
    leave_idle(q, &q->w[writer]);
    pthread_mutex_lock(&q->lock);
    stage_free(q, &q->w[writer]);
    pthread_mutex_unlock(&q->lock);
}

int hw_store_queue_submit(struct hw_store_queue *q, struct hw_store_pending *p)
{
    pthread_mutex_lock(&q->lock);
    if (q->stopping) {
        /* Closing: the threads may be gone, so nothing queued now would ever commit. */
        pthread_mutex_unlock(&q->lock);
        return HW_EUNAVAIL;
    }
    if (p->bytes > q->cfg.max_bytes) {
        pthread_mutex_unlock(&q->lock);
        return HW_E2BIG;
    }
    if (q->items >= q->cfg.max_items || p->bytes > q->cfg.max_bytes - q->bytes) {
        pthread_mutex_unlock(&q->lock);
        return HW_EFULL;
    }
    p->next = NULL;
    *q->tail = p;
    q->tail = &p->next;
    q->items++;
    q->bytes += p->bytes;
    q->waiting++;
    q->urgent += !p->finished;
    if (wants_lift(q))
        lift(q);
    /* A lingering writer need not wake for one more finished append: it comes for them. */
    if (!(q->lingering && p->finished && q->waiting < q->cfg.batch_items))
        pthread_cond_signal(&q->work);
    pthread_mutex_unlock(&q->lock);
    return 0;
}

/*
 * Takes the first waiting append with cb and arg (or, with jcb, the first
 * waiting job with jcb and arg) off the queue. Returns it, or NULL.
 */
static struct hw_store_pending *take_waiting(struct hw_store_queue *q, hw_store_append_cb cb,
                                             hw_store_job_cb jcb, void *arg)
{
    struct hw_store_pending **pp, *p = NULL;

    pthread_mutex_lock(&q->lock);
    for (pp = &q->head; *pp; pp = &(*pp)->next) {
        if ((*pp)->arg != arg ||
            (jcb ? !(*pp)->job_fn || (*pp)->job_cb != jcb : is_job(*pp) || (*pp)->cb != cb))
            continue;
        p = *pp;
        *pp = p->next;
        if (q->tail == &p->next)
            q->tail = pp;
        q->items--;
        q->bytes -= p->bytes;
        q->waiting--;
        q->urgent -= !p->finished;
        break;
    }
    pthread_mutex_unlock(&q->lock);
    return p;
}

int hw_store_queue_withdraw(struct hw_store_queue *q, hw_store_append_cb cb, void *arg)
{
    struct hw_store_pending *p = take_waiting(q, cb, NULL, arg);

    if (!p)
        return HW_ENOTFOUND;
    hw_store_event_free(p->copy);
    free(p);
    return 0;
}

int hw_store_queue_withdraw_job(struct hw_store_queue *q, hw_store_job_cb cb, void *arg)
{
    struct hw_store_pending *p = take_waiting(q, NULL, cb, arg);

    if (!p)
        return HW_ENOTFOUND;
    free(p);
    return 0;
}

/* Runs an append's callback; a leased one stored hands its event over. */
static void complete(struct hw_store_pending *p)
{
    p->res.event = NULL;
    if (p->leased && !p->err && !p->res.duplicate) {
        p->res.event = p->copy;
        p->copy = NULL;
    }
    hw_store_event_free(p->copy);
    p->copy = NULL;
    p->cb(p->arg, p->err, !p->err || (p->err == HW_EUNAVAIL && p->res.id[0]) ? &p->res : NULL);
}

int hw_store_queue_poll(struct hw_store_queue *q)
{
    struct hw_store_pending *p, *next;
    int n = 0;

    pthread_mutex_lock(&q->lock);
    p = q->done;
    q->done = NULL;
    q->done_tail = &q->done;
    for (next = p; next; next = next->next)
        q->items--;
    pthread_mutex_unlock(&q->lock);

    for (; p; p = next) {
        next = p->next;
        if (p->tokens_cb)
            p->tokens_cb(p->arg, p->err, p->tokens, p->ntokens);
        else if (p->job_fn)
            p->job_cb(p->arg, p->err);
        else
            complete(p);
        free(p);
        n++;
    }
    return n;
}

void hw_store_queue_free(struct hw_store_queue *q)
{
    if (q)
        queue_destroy(q);
}
