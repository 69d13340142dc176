/*
 * The recorder (db_int.h): takes the jobs handed back by recv_db_finish()
 * (any thread), records the outcomes of those sent in batches, one
 * transaction for all that finished while the last batch committed, and
 * gives back the leases of events not sent (hw_store_release()), one
 * transaction per batch too. The rest runs on the recorder thread, the only
 * one to use its store handle (rec_store).
 */
#include "db_int.h"

#include <pthread.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"

/* A failed record is tried again after this, until its lease lapses. */
#define RECORD_RETRY_MS 250

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
void *recv_db_recorder_run(void *arg)
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

void recv_db_finish(struct recv_db *db, struct recv_job *j)
{
    pthread_mutex_lock(&db->mu);
    j->next = db->finished;
    db->finished = j;
    pthread_cond_signal(&db->rec_cv);
    pthread_mutex_unlock(&db->mu);
}
