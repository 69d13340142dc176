/*
 * The claimer (db.h; the recorder is db_recorder.c): takes due events per
 * source with a lease, checks readiness, caches each source's backlog and
 * counts each source's events in memory (claimed, or leased at their append
 * by ingest.c while the source has room and no backlog to claim). Starts and
 * stops both database threads and owns their handles, job lists and cached
 * figures; each handle is called by its one thread only.
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
#include "db_int.h"
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

void recv_job_free(struct recv_job *j)
{
    if (!j)
        return;
    hw_store_event_free(j->ev);
    free(j->excerpt);
    free(j);
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
    rc = pthread_create(&db->rec_thread, NULL, recv_db_recorder_run, db);
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
