/*
 * The store's writer side: the store threads' connections (the handle's
 * with one writer, one each with several), the group commit the queue in
 * store_queue.c calls per batch (one transaction, settled on the writer's
 * own connection when its commit went unanswered, each event on its own
 * when the batch fails) and the outage probe among several writers. Called
 * on the store threads, and by hw_store_append() on the caller's thread.
 */
#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "store.h"
#include "store_backend.h"
#include "store_handle.h"
#include "store_queue.h"
#include "store_sched.h"

#define QUEUE_MAX_DEFAULT   16384u
#define QUEUE_BYTES_DEFAULT (256u * 1024u * 1024u)
#define BATCH_ITEMS         1024u
#define BATCH_BYTES         (32u * 1024u * 1024u)
/*
 * How long finished appends (a relay's live history, answered already) may
 * wait for company before a commit: fewer, larger packs and commits, and
 * fewer wake-ups of the store thread (bench/RESULTS.md, "Packed live history"
 * and "Tunnel: fewer, larger batches of live history").
 */
#define FINISHED_LINGER_MS 20

/* Insertion order: by (source, dedup_key), so that concurrent batches take their locks alike. */
static int row_cmp(const void *pa, const void *pb)
{
    const struct hw_store_event *a = ((const struct hw_store_row *)pa)->ev;
    const struct hw_store_event *b = ((const struct hw_store_row *)pb)->ev;
    int c = strcmp(a->source, b->source);

    if (c)
        return c;
    if (!a->dedup_key || !b->dedup_key)
        c = !!a->dedup_key - !!b->dedup_key;
    else
        c = strcmp(a->dedup_key, b->dedup_key);
    if (c)
        return c;
    return ((const struct hw_store_row *)pa)->order < ((const struct hw_store_row *)pb)->order ? -1
                                                                                               : 1;
}

/* Whether rows[0..n) are in row_cmp's order already (a batch of one channel's live webhooks). */
static int in_order(const struct hw_store_row *rows, size_t n)
{
    for (size_t i = 1; i < n; i++)
        if (row_cmp(&rows[i - 1], &rows[i]) > 0)
            return 0;
    return 1;
}

/*
 * Inserts v[0..n) in one transaction on c. Returns 0, or the first error
 * with all rolled back; *sent says whether the COMMIT went (after it, an
 * error may hide a commit that took).
 */
static int insert_txn(struct hw_store *s, struct hw_store_conn *c, struct hw_store_pending **v,
                      size_t n, int *sent)
{
    struct hw_store_row one, *rows = n == 1 ? &one : calloc(n, sizeof(*rows));
    int err;

    if (!rows)
        return HW_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        memset(&v[i]->res, 0, sizeof(v[i]->res));
        rows[i].ev = &v[i]->ev;
        rows[i].res = &v[i]->res;
        rows[i].order = i;
        rows[i].done = v[i]->finished ? &v[i]->done : NULL;
    }
    if (n > 1 && !in_order(rows, n))
        qsort(rows, n, sizeof(*rows), row_cmp);
    /*
     * A batch is all pending or all finished (store_batch). Finished events
     * had their answer before they were written: their commit may leave the
     * fsync to the next durable commit (ops->begin_finished); a batch with a
     * pending event is durable before its callbacks run.
     */
    err = v[0]->finished && s->ops->begin_finished ? s->ops->begin_finished(c->be)
                                                   : s->ops->begin(c->be);
    if (!err)
        err = v[0]->finished ? s->ops->insert_finished(c->be, rows, n)
                             : s->ops->insert(c->be, rows, n);
    if (!err && c->writer >= 0)
        hw_store_queue_committing(s->queue, (unsigned)c->writer);
    *sent = !err;
    if (!err)
        err = s->ops->commit(c->be);
    if (err)
        s->ops->rollback(c->be);
    if (rows != &one)
        free(rows);
    return err;
}

/*
 * After a transaction failed as "unavailable", finds out whether it had in
 * fact committed (the connection may have dropped after the server's
 * commit, before its answer): the transaction is all or nothing, so one
 * event it wrote tells (asked on c, the transaction's own connection, which
 * reconnects). Returns 1 committed, 0 not, or an error when the answer
 * cannot be had.
 */
static int settle(struct hw_store *s, struct hw_store_conn *c, struct hw_store_pending **v,
                  size_t n)
{
    for (size_t i = 0; i < n; i++) {
        /* res.id is set for an event once its INSERT succeeded. */
        if (v[i]->res.id[0] && !v[i]->res.duplicate && strcmp(v[i]->res.id, v[i]->ev.id) == 0)
            return s->ops->exists(c->be, v[i]->ev.id);
    }
    return 0; /* no INSERT of this transaction succeeded: nothing could have committed */
}

/* A short random pause after a deadlock, so that the two sides do not meet again at once. */
void hw_store_deadlock_pause(void)
{
    struct timespec t = { 0, (long)(1 + randombytes_uniform(20)) * 1000000L };

    nanosleep(&t, NULL);
}

/*
 * Commits v[0..n) in one transaction, as well as can be known: a deadlock
 * is run again (HW_STORE_DEADLOCK_TRIES in all); an unanswered commit is settled and
 * tried once more on a new connection. Returns 0, HW_STORE_ERETRY after the
 * last deadlock, HW_EUNAVAIL when the outcome cannot be known (*unknown = 1:
 * the COMMIT went and the settling could not ask) or nothing can have
 * committed (*unknown = 0), or the error of the failed statement.
 */
static int commit_batch(struct hw_store *s, struct hw_store_conn *c, struct hw_store_pending **v,
                        size_t n, int *unknown)
{
    int deadlocks = 0, unavail = 0, err, k, sent;

    *unknown = 0;
    for (;;) {
        err = insert_txn(s, c, v, n, &sent);
        if (err == HW_STORE_ERETRY) {
            if (++deadlocks >= HW_STORE_DEADLOCK_TRIES)
                return err;
            hw_store_deadlock_pause();
            continue;
        }
        if (err != HW_EUNAVAIL)
            return err;
        /* Without a COMMIT sent nothing can have committed: no need to ask. */
        k = sent ? settle(s, c, v, n) : 0;
        if (k == 1) {
            /* Committed after all: the results the INSERTs gave stand. */
            HW_INFO("store %s: a commit whose answer was lost had succeeded", s->url.name);
            return 0;
        }
        *unknown = k < 0 && sent;
        if (k < 0 || unavail++)
            return HW_EUNAVAIL; /* unknown, or still failing: the sender retries */
    }
}

/*
 * With several writers an outage is met by one of them at a time: once a
 * commit found the database unavailable, that writer (the probe) goes on
 * trying its own connection, which backs off as usual, while the others
 * fail their batches at once (HW_EUNAVAIL, nothing sent); the next commit
 * that gets an answer ends the outage. Otherwise each writer's connection
 * would in turn wait out the timeout of a hung server. A writer whose batch
 * comes when the probe has not tried for PROBE_IDLE_MS becomes the probe
 * and tries: the probe may have no batch of its own left, and a recovered
 * database must not stay refused until it gets one. A writer whose batch
 * comes while the probe is trying waits for that try's verdict instead of
 * failing at once: the outage flag stays set while no commit runs, so the
 * first batches after the database came back find a probe reconnecting,
 * and refusing them then would turn a burst into 503s with the database
 * up. So at most one writer waits on the database at a time, and the others
 * wait at most for that one. Returns 0 when c must not use the database, 1
 * when it may, 2 when it may as the probe (outage_leave() ends the try).
 */
#define PROBE_IDLE_MS 1000

static int outage_enter(struct hw_store *s, const struct hw_store_conn *c)
{
    int may = 0;

    if (c->writer < 0 || s->nwriters < 2 || !s->outage)
        return 1;
    pthread_mutex_lock(&s->outage_lock);
    while (s->probing && s->probe != c->writer)
        pthread_cond_wait(&s->probe_done, &s->outage_lock);
    if (!s->outage) {
        may = 1; /* the probe got an answer: commit as usual */
    } else if (s->probe == c->writer || hw_mono_ms() - s->probe_end_ms >= PROBE_IDLE_MS) {
        s->probe = c->writer;
        s->probing = 1;
        may = 2;
    }
    pthread_mutex_unlock(&s->outage_lock);
    return may;
}

static void outage_leave(struct hw_store *s, const struct hw_store_conn *c, int err, int probed)
{
    if (c->writer < 0 || s->nwriters < 2)
        return;
    pthread_mutex_lock(&s->outage_lock);
    s->probe_end_ms = hw_mono_ms();
    if (probed)
        s->probing = 0;
    if (err != HW_EUNAVAIL) {
        s->outage = 0;
    } else if (!s->outage) {
        s->probe = c->writer;
        s->outage = 1;
    }
    pthread_cond_broadcast(&s->probe_done);
    pthread_mutex_unlock(&s->outage_lock);
}

void hw_store_commit(struct hw_store *s, struct hw_store_conn *c, struct hw_store_pending **v,
                     size_t n)
{
    int err, tried, unknown = 0;

    /*
     * OpenSSL's SHA-256 uses the CPU's SHA instructions: about 6x libsodium's
     * on 1 KiB. A packed finished event is hashed when read, not here.
     */
    for (size_t i = 0; i < n; i++)
        if (!(v[i]->finished && s->ops->finished_packed))
            hw_store_body_hash(v[i]->ev.body, v[i]->ev.body_len, v[i]->ev.body_sha256);
    hw_store_enter(s, c->lock, c->be);
    tried = outage_enter(s, c);
    err = tried ? commit_batch(s, c, v, n, &unknown) : HW_EUNAVAIL;
    if (tried)
        outage_leave(s, c, err, tried == 2);
    if (err && err != HW_EUNAVAIL && n > 1) {
        /*
         * One bad event, or a deadlock that kept coming back, must not fail
         * the others: commit each on its own.
         */
        for (size_t i = 0; i < n; i++) {
            v[i]->err = commit_batch(s, c, v + i, 1, &v[i]->res.unknown);
            if (!v[i]->err)
                s->commits++;
        }
    } else {
        for (size_t i = 0; i < n; i++) {
            v[i]->err = err;
            v[i]->res.unknown = unknown;
        }
        if (!err)
            s->commits++;
    }
    for (size_t i = 0; i < n; i++) {
        v[i]->err = hw_store_public_err(s, v[i]->err);
        /* The outcome is unknown to the caller: give it the id to look for later. */
        if (v[i]->err == HW_EUNAVAIL) {
            memcpy(v[i]->res.id, v[i]->ev.id, sizeof(v[i]->res.id));
            v[i]->res.duplicate = 0;
        } else {
            v[i]->res.unknown = 0;
        }
    }
    hw_store_leave(s, c->lock, c->be);
    for (size_t i = 0; i < n; i++) {
        if (v[i]->err)
            s->failed++;
        else if (v[i]->res.duplicate)
            s->duplicates++;
        else
            s->appended++;
    }
}

/*
 * The queue's batch, on store thread number writer: appends commit together
 * on that writer's connection; a job or a token list (which the queue hands
 * over alone) runs on the handle's.
 */
static void store_batch(void *ctx, unsigned writer, struct hw_store_pending **v, size_t n)
{
    struct hw_store *s = ctx;
    size_t i = 0;

    while (i < n) {
        size_t j = i;

        if (v[i]->job_fn) {
            /* The job calls the synchronous API, which takes the lock itself. */
            v[i]->err = v[i]->job_fn(s, v[i]->arg);
            i++;
            continue;
        }
        if (v[i]->tokens_cb) {
            hw_store_enter(s, &s->lock, s->be);
            v[i]->err =
                hw_store_public_err(s, s->ops->token_list(s->be, &v[i]->tokens, &v[i]->ntokens));
            hw_store_leave(s, &s->lock, s->be);
            if (v[i]->err) {
                free(v[i]->tokens);
                v[i]->tokens = NULL;
                v[i]->ntokens = 0;
            }
            i++;
            continue;
        }
        while (j < n && !v[j]->tokens_cb && !v[j]->job_fn && v[j]->finished == v[i]->finished)
            j++;
        hw_store_commit(s, &s->writers[writer], v + i, j - i);
        i = j;
    }
}

static void store_thread(void *ctx, int starting)
{
    struct hw_store *s = ctx;

    if (starting && s->thread_nice) {
        errno = 0;
        if (nice(s->thread_nice) == -1 && errno)
            HW_WARN("store %s: cannot change the store thread's nice value by %d: %s", s->url.name,
                    s->thread_nice, strerror(errno));
    }
    if (starting && s->ops->thread_start)
        s->ops->thread_start();
    if (!starting && s->ops->thread_end)
        s->ops->thread_end();
}

/*
 * Sets up the connections of n store threads: with one, it commits on the
 * handle's connection as every other call does; with more, each gets a
 * connection of its own from the same URL. Returns 0 or the open's error.
 */
static int writers_open(struct hw_store *s, unsigned n)
{
    s->writers = calloc(n, sizeof(*s->writers));
    if (!s->writers)
        return HW_ENOMEM;
    for (unsigned i = 0; i < n; i++)
        s->writers[i].writer = (int)i;
    pthread_mutex_init(&s->outage_lock, NULL);
    pthread_cond_init(&s->probe_done, NULL);
    if (n == 1) {
        s->writers[0].be = s->be;
        s->writers[0].lock = &s->lock;
        s->nwriters = 1;
        return 0;
    }
    for (; s->nwriters < n; s->nwriters++) {
        struct hw_store_conn *c = &s->writers[s->nwriters];
        int err = s->ops->open(&s->url, &c->be);

        if (err)
            return err;
        pthread_mutex_init(&c->own, NULL);
        c->lock = &c->own;
    }
    return 0;
}

/* Closes the writers' own connections (after their threads ended). */
static void writers_close(struct hw_store *s)
{
    if (!s->writers)
        return;
    for (unsigned i = 0; i < s->nwriters; i++) {
        struct hw_store_conn *c = &s->writers[i];

        if (c->be == s->be)
            continue;
        s->ops->close(c->be);
        pthread_mutex_destroy(&c->own);
    }
    pthread_cond_destroy(&s->probe_done);
    pthread_mutex_destroy(&s->outage_lock);
    free(s->writers);
    s->writers = NULL;
    s->nwriters = 0;
}

/*
 * The number of store threads: as asked, within bounds, and one on SQLite,
 * whose database takes one writer at a time anyway.
 */
static unsigned writers_wanted(const struct hw_store *s, const struct hw_store_opts *opts)
{
    unsigned n = opts->writers ? opts->writers : 1;

    if (s->url.kind != HW_STORE_KIND_MYSQL)
        return 1;
    return n > HW_STORE_WRITERS_MAX ? HW_STORE_WRITERS_MAX : n;
}

int hw_store_writers_start(struct hw_store *s, const struct hw_store_opts *opts)
{
    struct hw_store_queue_cfg cfg = {
        .commit = store_batch,
        .thread = store_thread,
        .ctx = s,
        .wake = opts->wake,
        .wake_arg = opts->wake_arg,
        .max_items = opts->queue_max ? opts->queue_max : QUEUE_MAX_DEFAULT,
        .max_bytes = opts->queue_bytes_max ? opts->queue_bytes_max : QUEUE_BYTES_DEFAULT,
        .batch_items = BATCH_ITEMS,
        .batch_bytes = BATCH_BYTES,
        .linger_ms = FINISHED_LINGER_MS,
    };
    int err = writers_open(s, writers_wanted(s, opts));

    if (err)
        goto fail;
    s->thread_nice = opts->thread_nice;
    cfg.writers = s->nwriters;
    if (opts->thread_idle) {
        const char *why;

        cfg.idle = hw_sched_idle_reversible(opts->thread_nice, &why);
        if (!cfg.idle)
            HW_INFO("store %s: the store thread keeps its share of busy cores: %s", s->url.name,
                    why);
    }
    err = hw_store_queue_new(&cfg, &s->queue);
    if (err)
        goto fail;
    return 0;

fail:
    writers_close(s);
    return err;
}

void hw_store_writers_stop(struct hw_store *s)
{
    hw_store_queue_free(s->queue);
    s->queue = NULL;
    writers_close(s);
}
