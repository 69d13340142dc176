/*
 * The database threads (db.h): the claimer takes due events per source with
 * a lease, checks readiness and caches each source's backlog; the recorder
 * writes outcomes in batches, one transaction for all that finished while
 * the last batch committed, and gives back the leases of events not sent
 * (hw_store_release()), one transaction per batch too. Also the count of
 * each source's events in memory: claimed, or leased at their append
 * (ingest.c) while the source has room and no backlog to claim. Owns the two handles, job lists and
 * cached figures; each handle is called by its one thread only.
 */
#include "db.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "recv.h"

/* Idle polling for due work: from POLL_MIN_MS, doubling to POLL_MAX_MS while nothing is due. */
#define POLL_MIN_MS 25
#define POLL_MAX_MS 1000
/* Readiness check and backlog periods. */
#define READY_MS   1000
#define BACKLOG_MS 5000
/*
 * A check that passed counts this long: a database that stops answering
 * (frozen, or a network that drops its packets) holds the next check until
 * its timeout, and the receiver reads as not ready meanwhile.
 */
#define READY_FOR_US (5 * 1000000ll)
/* A failed record is tried again after this, until its lease lapses. */
#define RECORD_RETRY_MS 250
/* Outcomes recorded in one transaction at most. */
#define RECORD_MAX 1000
/* Retry times remembered to wake exactly when one is due; past this the poll finds them. */
#define DUE_MAX 4096
/*
 * Events claimed ahead per source: CLAIM_AHEAD times its concurrency (at
 * most WINDOW_MAX), counted from the claim until the outcome is recorded.
 * A delivery slot is then never idle while a claim or a record commits.
 */
#define CLAIM_AHEAD 8
#define WINDOW_MAX  4096
#define CLAIM_MAX   1000 /* hw_store_claim's own cap */
/* Headers and bodies claimed at once per source. */
#define CLAIM_BYTES (16u * 1024u * 1024u)
/*
 * Headers and bodies of a source's claimed events held at once, until their
 * outcome is recorded: past it no claim runs (a claim takes at least one
 * event, so a source holds at most this plus one event), however large its
 * events and its window. Without it 8 times the concurrency of 25 MiB
 * events could be held.
 */
#define CLAIMED_BYTES (64u * 1024u * 1024u)
/*
 * Events leased at their append and not yet recorded, per source: at most
 * LEASED_AHEAD times its concurrency (WINDOW_MAX at most) and LEASED_BYTES of
 * headers and bodies. More than claims keep ahead: a new event waits in
 * memory while earlier outcomes commit, which at thousands a second is
 * several times the concurrency.
 */
#define LEASED_AHEAD 32
#define LEASED_BYTES (16u * 1024u * 1024u)

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
    /* Thread only. */
    struct src_state *src;
    int64_t due[DUE_MAX]; /* retry times recorded, for exact wake-ups */
    size_t ndue;
};

void recv_job_free(struct recv_job *j)
{
    if (!j)
        return;
    hw_store_event_free(j->ev);
    free(j->excerpt);
    free(j);
}

/* Waits up to RECORD_RETRY_MS on rec_cv unless stopping; mu is held. Returns 1 to go on. */
static int record_pause(struct recv_db *db)
{
    struct timespec ts;

    if (db->stop)
        return 0;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += RECORD_RETRY_MS * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&db->rec_cv, &db->mu, &ts);
    return !db->stop;
}

/*
 * After a try found the database away: keeps in j[0..*n) and the items
 * v[0..*n) (size bytes each) those whose lease outlasts another try (the
 * others are claimed again once it lapses; logged when what is set), then
 * pauses. Returns 1 to try again, 0 when none is left or the receiver
 * stops. mu is not held.
 */
static int keep_for_retry(struct recv_db *db, struct recv_job **j, void *v, size_t size, size_t *n,
                          int rc, const char *what)
{
    unsigned char *items = v;
    size_t k = 0;
    int again;

    for (size_t i = 0; i < *n; i++) {
        if (hw_wall_ms() + RECORD_RETRY_MS < j[i]->ev->lease_until_ms) {
            memmove(items + k * size, items + i * size, size);
            j[k++] = j[i];
        } else if (what) {
            /* Unavailable: the COMMIT may have been made with only its answer lost. */
            HW_ERR("evt=%s cannot %s: %s (the outcome is unknown: it may have been recorded; if "
                   "not, the lease lapses and it is retried)",
                   j[i]->ev->id, what, hw_strerror(rc));
        }
    }
    *n = k;
    pthread_mutex_lock(&db->mu);
    again = k && record_pause(db);
    pthread_mutex_unlock(&db->mu);
    return again;
}

/*
 * Records the outcomes of j[0..n) (none abandoned) in one transaction on
 * the recorder's handle: one durable commit for the lot. While the
 * database is away it tries again, each outcome until its lease would run
 * out (the event is then claimed again anyway) or the receiver stops. mu
 * is not held.
 */
static void record_batch(struct recv_db *db, struct recv_job **j, struct hw_store_outcome *v,
                         size_t n)
{
    int64_t due[RECORD_MAX];
    size_t ndue = 0;
    int rc;

    for (size_t i = 0; i < n; i++)
        v[i] = (struct hw_store_outcome){ .id = j[i]->ev->id,
                                          .lease = j[i]->ev->lease,
                                          .attempt = j[i]->attempt,
                                          .status = j[i]->new_status,
                                          .next_attempt_ms = j[i]->next_ms };
    do
        rc = hw_store_record_attempts(db->rec_store, v, n);
    while (rc == HW_EUNAVAIL && keep_for_retry(db, j, v, sizeof(*v), &n, rc, "record the attempt"));
    for (size_t i = 0; i < n; i++) {
        int e = rc == HW_EUNAVAIL ? rc : v[i].err;

        if (e == HW_ELEASE)
            HW_WARN("evt=%s lease lapsed before its outcome was recorded: another attempt follows",
                    j[i]->ev->id);
        else if (e == HW_EUNAVAIL)
            HW_ERR("evt=%s cannot record the attempt: %s (the outcome is unknown: it may have been "
                   "recorded; if not, the lease lapses and it is retried)",
                   j[i]->ev->id, hw_strerror(e));
        else if (e < 0)
            HW_ERR("evt=%s cannot record the attempt: %s (the lease lapses and it is retried)",
                   j[i]->ev->id, hw_strerror(e));
        else if (j[i]->new_status == HW_STORE_PENDING)
            due[ndue++] = j[i]->next_ms;
    }
    pthread_mutex_lock(&db->mu);
    for (size_t i = 0; i < ndue && db->ndue < DUE_MAX; i++)
        db->due[db->ndue++] = due[i];
    pthread_mutex_unlock(&db->mu);
}

/*
 * Gives back the leases of j[0..n) (abandoned: not sent, or cut by the
 * shutdown) in one transaction on the recorder's handle, so that their
 * events are due at once for a claim, here or in another instance, and
 * not only once the lease has run out. While the database is away it
 * tries again as record_batch() does: each lease until it would run out
 * anyway, or the receiver stops. mu is not held.
 */
static void release_batch(struct recv_db *db, struct recv_job **j, struct hw_store_lease *v,
                          size_t n)
{
    size_t total = n, released = 0, gone = 0;
    int rc;

    for (size_t i = 0; i < n; i++)
        v[i] = (struct hw_store_lease){ .id = j[i]->ev->id, .lease = j[i]->ev->lease };
    do
        rc = hw_store_release(db->rec_store, v, n);
    while (rc == HW_EUNAVAIL && keep_for_retry(db, j, v, sizeof(*v), &n, rc, NULL));
    if (rc < 0)
        HW_WARN("cannot release %zu lease%s of events not sent: %s (they lapse)", total,
                total == 1 ? "" : "s", hw_strerror(rc));
    for (size_t i = 0; i < n && rc == 0; i++) {
        released += v[i].err == 0;
        gone += v[i].err != 0;
    }
    pthread_mutex_lock(&db->mu);
    db->leases[0] += released;
    db->leases[1] += gone;
    db->leases[2] += total - released - gone;
    if (!released) {
        pthread_mutex_unlock(&db->mu);
        return;
    }
    /*
     * The released events are due now and only a claim finds them: claim
     * at once, and append new events of their sources due behind them.
     */
    for (size_t i = 0; i < n; i++)
        if (rc == 0 && v[i].err == 0)
            db->src[j[i]->src->index].due_left = 1;
    db->kicked = 1;
    pthread_mutex_unlock(&db->mu);
}

/*
 * The recorder: takes every handed-back job (up to RECORD_MAX at a time),
 * records the outcomes of those sent in one transaction and releases the
 * leases of those not sent in another, until stopped and none is left.
 * Jobs that come in while a batch commits form the next batch, so the
 * batch grows with the delivery rate.
 */
static void *recorder_run(void *arg)
{
    struct recv_db *db = arg;
    struct recv_job **jobs = db->rec_jobs, **rec = db->rec_live, **gone = db->rec_gone;
    struct hw_store_outcome *v = db->rec_v;

    pthread_mutex_lock(&db->mu);
    for (;;) {
        size_t n = 0, k = 0, g = 0;

        if (!db->finished) {
            if (db->rec_stop)
                break;
            pthread_cond_wait(&db->rec_cv, &db->mu);
            continue;
        }
        while (db->finished && n < RECORD_MAX) {
            jobs[n++] = db->finished;
            db->finished = db->finished->next;
        }
        pthread_mutex_unlock(&db->mu);
        for (size_t i = 0; i < n; i++) {
            if (jobs[i]->abandon)
                gone[g++] = jobs[i];
            else
                rec[k++] = jobs[i];
        }
        if (k)
            record_batch(db, rec, v, k);
        if (g)
            release_batch(db, gone, db->rec_leases, g);
        pthread_mutex_lock(&db->mu);
        for (size_t i = 0; i < n; i++) {
            db->src[jobs[i]->src->index].outstanding--;
            db->src[jobs[i]->src->index].leased_bytes -= jobs[i]->leased_bytes;
            db->src[jobs[i]->src->index].claimed_bytes -= jobs[i]->claimed_bytes;
        }
        /* Room for another claim. */
        pthread_cond_signal(&db->cv);
        pthread_mutex_unlock(&db->mu);
        for (size_t i = 0; i < n; i++)
            recv_job_free(jobs[i]);
        pthread_mutex_lock(&db->mu);
    }
    pthread_mutex_unlock(&db->mu);
    return NULL;
}

/* Claims for one source; mu is held on entry and exit. Returns how many were claimed. */
static size_t claim_source(struct recv_db *db, const struct recv_source *s)
{
    struct src_state *st = &db->src[s->index];
    size_t room = recv_db_window(s->concurrency) - st->outstanding;
    size_t bytes = CLAIMED_BYTES - st->claimed_bytes; /* has_room(): more than 0 */
    struct hw_store_events got = { 0 };
    size_t n = 0;
    int rc;

    pthread_mutex_unlock(&db->mu);
    if (room > CLAIM_MAX)
        room = CLAIM_MAX;
    rc = hw_store_claim(db->store, s->name, (int)db->cfg->lease_ms, room,
                        bytes < CLAIM_BYTES ? bytes : CLAIM_BYTES, &got);
    pthread_mutex_lock(&db->mu);
    if (rc < 0) {
        /* Once per failure, not once per claim (a deleted SQLite file fails every second). */
        if (rc != HW_EUNAVAIL && rc != st->claim_err) {
            HW_ERR("source=%s cannot claim events: %s (said once until it changes)", s->name,
                   hw_strerror(rc));
            st->claim_err = rc;
        }
        st->more = 0;
        return 0;
    }
    if (st->claim_err)
        HW_INFO("source=%s claims events again", s->name);
    st->claim_err = 0;
    if (got.n < room && !got.capped)
        st->due_left = 0; /* every due event is in memory now */
    db->claimed_total += got.n;
    for (size_t i = 0; i < got.n; i++) {
        struct recv_job *j = calloc(1, sizeof(*j));

        if (!j) {
            /* Not delivered now; its lease lapses and it is claimed again. */
            hw_store_event_free(got.v[i]);
            continue;
        }
        j->src = s;
        j->ev = got.v[i];
        j->claimed_bytes = j->ev->headers_len + j->ev->body_len;
        *db->claimed_tail = j;
        db->claimed_tail = &j->next;
        st->outstanding++;
        st->claimed_bytes += j->claimed_bytes;
        n++;
    }
    free(got.v);
    st->more = got.n == room || got.capped;
    return n;
}

/* Events of a source kept in memory at once: ahead times its concurrency, WINDOW_MAX at most. */
static size_t window(unsigned concurrency, size_t ahead)
{
    size_t w = (size_t)concurrency * ahead;

    return w < WINDOW_MAX ? w : WINDOW_MAX;
}

size_t recv_db_window(unsigned concurrency)
{
    return window(concurrency, CLAIM_AHEAD);
}

int recv_db_reserve(struct recv_db *db, const struct recv_source *src, size_t bytes)
{
    struct src_state *st = &db->src[src->index];
    size_t w = window(src->concurrency, LEASED_AHEAD);
    int ok;

    pthread_mutex_lock(&db->mu);
    ok = !st->due_left && !db->no_claims && st->outstanding < w &&
         st->leased_bytes + bytes <= LEASED_BYTES;
    if (ok) {
        st->outstanding++;
        st->leased_bytes += bytes;
    } else {
        /* Appended due: a claim takes it, and the ones after it, in store order. */
        st->due_left = 1;
    }
    pthread_mutex_unlock(&db->mu);
    return ok;
}

void recv_db_unreserve(struct recv_db *db, const struct recv_source *src, size_t bytes)
{
    pthread_mutex_lock(&db->mu);
    db->src[src->index].outstanding--;
    db->src[src->index].leased_bytes -= bytes;
    pthread_cond_signal(&db->cv);
    pthread_mutex_unlock(&db->mu);
}

struct recv_job *recv_db_leased_job(const struct recv_source *src, struct hw_store_event *ev,
                                    size_t bytes)
{
    struct recv_job *j = calloc(1, sizeof(*j));

    if (!j)
        return NULL;
    j->src = src;
    j->ev = ev;
    j->leased_bytes = bytes;
    return j;
}

/*
 * Whether to claim for a source now: when nothing of it is outstanding, or
 * a quarter of its window is free and its claimed events hold less than
 * CLAIMED_BYTES. A claim is a write transaction of its own; claiming one
 * event each time one finishes would double the commits per delivery.
 */
static int has_room(const struct recv_source *s, const struct src_state *st)
{
    size_t w = recv_db_window(s->concurrency), batch = w / 4 ? w / 4 : 1;

    return st->outstanding == 0 ||
           (st->outstanding + batch <= w && st->claimed_bytes < CLAIMED_BYTES);
}

/* Forgets retry times that have come (the claim about to run finds them). */
static int due_now(struct recv_db *db, int64_t now, int64_t *next)
{
    int any = 0;

    for (size_t i = 0; i < db->ndue;) {
        if (db->due[i] <= now) {
            db->due[i] = db->due[--db->ndue];
            any = 1;
            continue;
        }
        if (db->due[i] < *next)
            *next = db->due[i];
        i++;
    }
    return any;
}

/* Whether the last check passed, no more than READY_FOR_US ago (mu held). */
static int ready_now(const struct recv_db *db)
{
    return recv_now_us() < db->ready_until_us;
}

static void check_ready(struct recv_db *db)
{
    int version = 0, ok;

    pthread_mutex_unlock(&db->mu);
    ok = hw_store_ping(db->store) == 0 && hw_store_schema_version(db->store, &version) == 0 &&
         version == HW_STORE_SCHEMA_VERSION;
    pthread_mutex_lock(&db->mu);
    db->ready_until_us = ok ? recv_now_us() + READY_FOR_US : 0;
}

/*
 * The backlog of each source and the oldest pending event, for /metrics:
 * a query per source on its pending events (hw_store_backlog), never a
 * count of the whole store. A source whose query fails keeps its last
 * figure. mu is held on entry and exit.
 */
static void take_backlog(struct recv_db *db)
{
    int64_t oldest = 0;
    int any = 0;

    for (const struct recv_source *s = db->cfg->sources.head; s; s = s->next) {
        uint64_t pending;
        int64_t first;
        int rc;

        pthread_mutex_unlock(&db->mu);
        rc = hw_store_backlog(db->store, s->name, &pending, &first);
        pthread_mutex_lock(&db->mu);
        if (rc < 0)
            continue;
        any = 1;
        db->backlog[s->index] = pending;
        if (first && (!oldest || first < oldest))
            oldest = first;
    }
    if (!any)
        return;
    db->oldest_pending_ms = oldest;
    db->have_backlog = 1;
}

static void *run(void *arg)
{
    struct recv_db *db = arg;
    int64_t poll_ms = POLL_MIN_MS, next_poll = 0, next_ready = 0, next_backlog = 0;

    pthread_mutex_lock(&db->mu);
    while (!db->stop) {
        int64_t now = hw_wall_ms(), wake;
        int poll_all, claimed = 0, busy;

        if (now >= next_ready) {
            check_ready(db);
            next_ready = hw_wall_ms() + READY_MS;
        }
        if (now >= next_backlog) {
            take_backlog(db);
            next_backlog = hw_wall_ms() + BACKLOG_MS;
        }
        now = hw_wall_ms();
        wake = next_ready < next_backlog ? next_ready : next_backlog;
        poll_all = db->kicked || now >= next_poll;
        poll_all |= due_now(db, now, &wake);
        db->kicked = 0;
        for (const struct recv_source *s = db->cfg->sources.head; s && !db->no_claims && !db->stop;
             s = s->next) {
            struct src_state *st = &db->src[s->index];

            if (has_room(s, st) && (poll_all || st->more))
                claimed += (int)claim_source(db, s);
        }
        if (!db->swept) {
            /* Every source has had its first claim: new events may be leased at append. */
            db->swept = 1;
            pthread_cond_broadcast(&db->swept_cv);
        }
        if (claimed) {
            lws_cancel_service(db->cx);
            poll_ms = POLL_MIN_MS;
        } else if (poll_all && now >= next_poll) {
            poll_ms = poll_ms * 2 > POLL_MAX_MS ? POLL_MAX_MS : poll_ms * 2;
        }
        if (poll_all)
            next_poll = hw_wall_ms() + poll_ms;
        if (next_poll < wake)
            wake = next_poll;
        /* Sleep until the next due time unless work arrived meanwhile. */
        busy = db->kicked;
        for (const struct recv_source *s = db->cfg->sources.head; s && !busy; s = s->next)
            busy = db->src[s->index].more && has_room(s, &db->src[s->index]);
        if (!busy && !db->stop) {
            struct timespec ts;
            int64_t w = wake - hw_wall_ms();

            if (w > 0) {
                clock_gettime(CLOCK_REALTIME, &ts);
                ts.tv_sec += (time_t)(w / 1000);
                ts.tv_nsec += (long)(w % 1000) * 1000000;
                if (ts.tv_nsec >= 1000000000) {
                    ts.tv_sec++;
                    ts.tv_nsec -= 1000000000;
                }
                pthread_cond_timedwait(&db->cv, &db->mu, &ts);
            }
        }
    }
    pthread_mutex_unlock(&db->mu);
    return NULL;
}

int recv_db_start(const struct recv_config *cfg, struct lws_context *cx, struct recv_db **out)
{
    struct recv_db *db = calloc(1, sizeof(*db));
    int rc = HW_ENOMEM;

    *out = NULL;
    if (!db)
        return HW_ENOMEM;
    db->cfg = cfg;
    db->cx = cx;
    db->claimed_tail = &db->claimed;
    pthread_mutex_init(&db->mu, NULL);
    pthread_cond_init(&db->cv, NULL);
    pthread_cond_init(&db->rec_cv, NULL);
    pthread_cond_init(&db->swept_cv, NULL);
    db->rec_jobs = calloc(RECORD_MAX, sizeof(*db->rec_jobs));
    db->rec_live = calloc(RECORD_MAX, sizeof(*db->rec_live));
    db->rec_gone = calloc(RECORD_MAX, sizeof(*db->rec_gone));
    db->rec_v = calloc(RECORD_MAX, sizeof(*db->rec_v));
    db->rec_leases = calloc(RECORD_MAX, sizeof(*db->rec_leases));
    db->src = calloc(cfg->sources.n, sizeof(*db->src));
    db->backlog = calloc(cfg->sources.n, sizeof(*db->backlog));
    if (!db->src || !db->backlog || !db->rec_jobs || !db->rec_live || !db->rec_gone || !db->rec_v ||
        !db->rec_leases)
        goto fail;
    /* An earlier run may have left events due: the first claims find them. */
    for (size_t i = 0; i < cfg->sources.n; i++)
        db->src[i].due_left = 1;
    rc = hw_store_open(cfg->store, NULL, &db->store);
    if (rc < 0)
        goto fail;
    rc = hw_store_open(cfg->store, NULL, &db->rec_store);
    if (rc < 0)
        goto fail;
    rc = pthread_create(&db->rec_thread, NULL, recorder_run, db);
    if (rc) {
        rc = -rc;
        goto fail;
    }
    db->rec_started = 1;
    rc = pthread_create(&db->thread, NULL, run, db);
    if (rc) {
        rc = -rc;
        goto fail;
    }
    db->started = 1;
    /*
     * Ingest starts once the first claims have taken what an earlier run
     * left due, so that new events do not go ahead of it.
     */
    pthread_mutex_lock(&db->mu);
    while (!db->swept)
        pthread_cond_wait(&db->swept_cv, &db->mu);
    pthread_mutex_unlock(&db->mu);
    *out = db;
    return 0;
fail:
    recv_db_stop(db);
    return rc;
}

struct recv_job *recv_db_take_claimed(struct recv_db *db)
{
    struct recv_job *list;

    pthread_mutex_lock(&db->mu);
    list = db->claimed;
    db->claimed = NULL;
    db->claimed_tail = &db->claimed;
    pthread_mutex_unlock(&db->mu);
    return list;
}

void recv_db_finish(struct recv_db *db, struct recv_job *j)
{
    pthread_mutex_lock(&db->mu);
    j->next = db->finished;
    db->finished = j;
    pthread_cond_signal(&db->rec_cv);
    pthread_mutex_unlock(&db->mu);
}

void recv_db_kick(struct recv_db *db)
{
    int room = 0;

    pthread_mutex_lock(&db->mu);
    if (!db->kicked) {
        db->kicked = 1;
        /*
         * A claimer with no room for any source would wake for nothing on
         * every commit: the recorder signals it when it frees room, and the
         * claimer then sees the kick.
         */
        for (const struct recv_source *s = db->cfg->sources.head; s && !room; s = s->next)
            room = has_room(s, &db->src[s->index]);
        if (room)
            pthread_cond_signal(&db->cv);
    }
    pthread_mutex_unlock(&db->mu);
}

void recv_db_stop_claiming(struct recv_db *db)
{
    pthread_mutex_lock(&db->mu);
    db->no_claims = 1;
    /* The stop begins: the exit's line counts the leases given back from here on. */
    memcpy(db->leases_at_stop, db->leases, sizeof(db->leases));
    pthread_mutex_unlock(&db->mu);
}

int recv_db_ready(struct recv_db *db)
{
    int r;

    pthread_mutex_lock(&db->mu);
    r = ready_now(db);
    pthread_mutex_unlock(&db->mu);
    return r;
}

int recv_db_render(struct recv_db *db, struct hw_buf *out)
{
    int err = 0;

    pthread_mutex_lock(&db->mu);
    err = hw_buf_printf(out,
                        "# HELP hookwire_receiver_claimed_total Events taken for delivery by a "
                        "claim (retries, recovery, past the in-memory window).\n"
                        "# TYPE hookwire_receiver_claimed_total counter\n"
                        "hookwire_receiver_claimed_total %llu\n",
                        (unsigned long long)db->claimed_total);
    if (!err && db->have_backlog) {
        err = hw_buf_puts(out, "# HELP hookwire_receiver_backlog Events pending delivery.\n"
                               "# TYPE hookwire_receiver_backlog gauge\n");
        for (const struct recv_source *s = db->cfg->sources.head; s && !err; s = s->next)
            err = hw_buf_printf(out, "hookwire_receiver_backlog{source=\"%s\"} %llu\n", s->name,
                                (unsigned long long)db->backlog[s->index]);
        err = err ? err
                  : hw_buf_printf(out,
                                  "# HELP hookwire_receiver_oldest_pending_seconds Age of the "
                                  "oldest pending event (the one stored first).\n"
                                  "# TYPE hookwire_receiver_oldest_pending_seconds gauge\n"
                                  "hookwire_receiver_oldest_pending_seconds %.3f\n",
                                  db->oldest_pending_ms
                                      ? (double)(hw_wall_ms() - db->oldest_pending_ms) / 1000.0
                                      : 0.0);
    }
    err = err ? err
              : hw_buf_printf(out,
                              "# HELP hookwire_receiver_ready Store reachable, migrations "
                              "current.\n# TYPE hookwire_receiver_ready gauge\n"
                              "hookwire_receiver_ready %d\n",
                              ready_now(db));
    pthread_mutex_unlock(&db->mu);
    return err;
}

void recv_db_stop(struct recv_db *db)
{
    struct recv_job *j;

    if (!db)
        return;
    pthread_mutex_lock(&db->mu);
    db->stop = 1;
    pthread_cond_broadcast(&db->cv);
    pthread_cond_broadcast(&db->rec_cv);
    pthread_mutex_unlock(&db->mu);
    if (db->started)
        pthread_join(db->thread, NULL);
    /*
     * Claimed jobs the service thread never took were not sent: their
     * leases go back with the others. The recorder then finishes what was
     * handed back before the stop (records and releases, one try each
     * while the database is away), and leaves.
     */
    pthread_mutex_lock(&db->mu);
    while ((j = db->claimed)) {
        db->claimed = j->next;
        j->abandon = 1;
        j->next = db->finished;
        db->finished = j;
    }
    db->claimed_tail = &db->claimed;
    db->rec_stop = 1;
    pthread_cond_broadcast(&db->rec_cv);
    pthread_mutex_unlock(&db->mu);
    if (db->rec_started) {
        pthread_join(db->rec_thread, NULL);
        /* The recorder has left: the counts are final. */
        HW_INFO("leases of events not sent, given back at the stop: %llu released, %llu no "
                "longer this receiver's, %llu not (they lapse)",
                (unsigned long long)(db->leases[0] - db->leases_at_stop[0]),
                (unsigned long long)(db->leases[1] - db->leases_at_stop[1]),
                (unsigned long long)(db->leases[2] - db->leases_at_stop[2]));
    }
    hw_store_close(db->rec_store);
    free(db->rec_jobs);
    free(db->rec_live);
    free(db->rec_gone);
    free(db->rec_v);
    free(db->rec_leases);
    while ((j = db->finished)) {
        db->finished = j->next;
        recv_job_free(j);
    }
    hw_store_close(db->store);
    pthread_mutex_destroy(&db->mu);
    pthread_cond_destroy(&db->cv);
    pthread_cond_destroy(&db->rec_cv);
    pthread_cond_destroy(&db->swept_cv);
    free(db->src);
    free(db->backlog);
    free(db);
}
