#ifndef HW_STORE_H
#define HW_STORE_H

/*
 * The event store: webhooks kept durably for the relay (offline queue,
 * history, tokens), the receiver (ingest, delivery queue) and the replay CLI.
 * One interface, two backends chosen by URL:
 *
 *   sqlite:PATH                                  embedded; WAL, synchronous=FULL
 *   mysql://USER[:PASS]@HOST[:PORT]/DB[?socket=PATH]
 *
 * A MySQL password may also come from the environment variable
 * HOOKWIRE_MYSQL_PASSWORD (used when the URL has none); URL parts may be
 * percent-encoded. Passwords are never logged.
 *
 * Threads. A handle serialises every call on one lock around its database
 * connection, so the synchronous functions below may be called from any
 * thread; each blocks for its round trips and, for writes, one durable commit.
 * Event-loop callers use hw_store_append_async() instead: a store thread owned
 * by the handle batches all queued appends into one transaction (group
 * commit) and hands completions back through hw_store_poll_completions() on
 * the caller's own thread; on MySQL several such threads, each with its own
 * connection, may commit batches at once (hw_store_opts.writers). See
 * docs/store.md.
 *
 * Every function returns 0 or a negative code: HW_E* from err.h or -errno.
 * HW_EUNAVAIL means the database is unreachable right now (answer 503 and let
 * the sender retry); the handle reconnects by itself.
 */
#include <stddef.h>
#include <stdint.h>

#include "core/id.h"

#define HW_STORE_SCHEMA_VERSION 12

/* Size caps, enforced on append with HW_E2BIG. */
#define HW_STORE_BODY_MAX    (25u * 1024u * 1024u) /* raw body */
#define HW_STORE_HEADERS_MAX (1024u * 1024u)       /* raw header block */
#define HW_STORE_TARGET_MAX  65535u                /* path, and query, each */
#define HW_STORE_NAME_MAX    63u                   /* source or channel name */
#define HW_STORE_METHOD_MAX  32u
#define HW_STORE_DEDUP_MAX   255u
/* Attempt fields longer than these are cut, not refused. */
#define HW_STORE_ERROR_MAX   511u
#define HW_STORE_EXCERPT_MAX 2048u

#define HW_STORE_SHA256_LEN 32

/* Event status. Zero is left free so that a zeroed filter means "any". */
enum hw_store_status {
    HW_STORE_PENDING = 1,   /* waiting for (another) delivery attempt */
    HW_STORE_DELIVERED = 2, /* the target accepted it */
    HW_STORE_FAILED = 3,    /* retries exhausted; waits for a replay */
};

/* Signature verification result recorded with an event. */
enum hw_store_verify {
    HW_STORE_UNVERIFIED = 0, /* not checked (no secret configured, or the relay) */
    HW_STORE_VERIFIED = 1,
    HW_STORE_VERIFY_FAILED = 2,
};

/*
 * One webhook. On append the caller fills the "in" fields; strings are
 * NUL-terminated, headers and body are counted bytes. Events returned by the
 * store are single heap blocks owning all their strings (free them with
 * hw_store_event_free()).
 */
struct hw_store_event {
    char id[HW_ID_LEN + 1]; /* out: public id */
    int64_t seq;            /* out: store order, increasing with each append */

    const char *source;      /* in: receiver source or relay channel, 1..63 bytes */
    int64_t received_ms;     /* in: Unix ms; 0 means now */
    const char *method;      /* in: request method as received */
    const char *path;        /* in: request path as received */
    const char *query;       /* in: query string without '?'; NULL means "" */
    const char *headers;     /* in: raw "Name: value\r\n" lines, exact bytes, in order */
    size_t headers_len;      /* in */
    const char *body;        /* in: raw body (may hold NULs) */
    size_t body_len;         /* in */
    int verify;              /* in: enum hw_store_verify */
    const char *dedup_key;   /* in: provider delivery id; NULL or "" for none */
    int64_t next_attempt_ms; /* in: first delivery, 0 for received_ms; out: the next one */
    unsigned char body_sha256[HW_STORE_SHA256_LEN]; /* out: computed by append */

    int status;             /* out: enum hw_store_status */
    int attempts;           /* out: delivery attempts so far */
    int last_status;        /* out: HTTP status of the last attempt, 0 if none */
    const char *last_error; /* out: error of the last attempt, "" if none */
    int64_t lease_until_ms; /* out: lease expiry (a claim's or the appender's), 0 if none */
    int64_t lease;          /* out: fencing value of the latest claim (hw_store_record_attempt) */
};

/*
 * What an append did: the event's id, or the first event's id for a
 * duplicate. When an append ends with HW_EUNAVAIL, id still holds the id the
 * event was given, and unknown says whether it may have been stored: 1 when
 * that could not be learnt (the database went away during the commit, after
 * an INSERT of it went through; hw_store_get() with the id tells later), 0
 * when it surely was not (nothing was sent, or nothing of it committed).
 */
struct hw_store_result {
    char id[HW_ID_LEN + 1];
    int duplicate; /* 1: (source, dedup_key) was already stored; nothing was written */
    int unknown;   /* HW_EUNAVAIL only: 1 when it may have been stored after all */
    /*
     * hw_store_append_leased_async() only, stored and not a duplicate: the
     * event as stored, with headers and body and its lease, handed to the
     * callback, which owns it (hw_store_event_free()). NULL otherwise.
     */
    struct hw_store_event *event;
};

/* An owned list of events; next_cursor continues a hw_store_list() page. */
struct hw_store_events {
    struct hw_store_event **v;
    size_t n;
    int64_t next_cursor; /* 0 when there are no more pages */
    int capped;          /* hw_store_claim(): max_bytes stopped it, with due events left */
};

/* A delivery attempt. Strings are NUL-terminated except the counted excerpt. */
struct hw_store_attempt {
    int64_t at_ms;       /* start, Unix ms */
    int duration_ms;     /* until the response or the error */
    int http_status;     /* the response status, 0 when there was no response */
    const char *error;   /* what went wrong ("timeout", "connect: refused"), NULL or "" if none */
    const char *excerpt; /* the start of the response body (cut at HW_STORE_EXCERPT_MAX) */
    size_t excerpt_len;
};

struct hw_store_attempts {
    struct hw_store_attempt **v;
    size_t n;
};

/* Filters for hw_store_list(). A zeroed filter lists everything, newest first. */
struct hw_store_filter {
    int status;         /* enum hw_store_status, 0 for any */
    const char *source; /* NULL for any */
    int64_t since_ms;   /* received_ms >= since_ms, 0 for no bound */
    int64_t until_ms;   /* received_ms < until_ms, 0 for no bound */
    int64_t cursor;     /* 0 for the first page, else the previous page's next_cursor */
    size_t limit;       /* page size; 0 means 100; at most 1000 */
    const char *path;   /* glob on the path ('*' any bytes, '?' one byte); NULL for any */
};

/* A relay token: only the SHA-256 of the token is stored. */
struct hw_store_token {
    char channel[HW_STORE_NAME_MAX + 1];
    unsigned char hash[HW_STORE_SHA256_LEN];
    int64_t created_ms;
};

struct hw_store;

/* Called on a store thread after completions are queued; must not block (lws_cancel_service). */
typedef void (*hw_store_wake_fn)(void *arg);

/*
 * Runs inside hw_store_poll_completions(), on the polling thread. res is
 * valid if err == 0, and also for HW_EUNAVAIL (res->id: the id the event was
 * given, see struct hw_store_result); NULL otherwise.
 */
typedef void (*hw_store_append_cb)(void *arg, int err, const struct hw_store_result *res);

struct hw_store_opts {
    hw_store_wake_fn wake; /* non-NULL starts the store thread and enables the async API */
    void *wake_arg;
    size_t queue_max;       /* appends queued or unpolled before HW_EFULL; 0 means 16384 */
    size_t queue_bytes_max; /* bytes of queued events before HW_EFULL; 0 means 256 MiB */
    /*
     * Store threads committing batches at the same time, each on its own
     * database connection (MySQL only; SQLite has one writer and always
     * gets 1): 0 or 1 means one, committing in the handle's connection,
     * which keeps appends visible in seq order (the relay's offline queue
     * reads by seq cursor and needs that). More than one overlaps one
     * batch's INSERT with another's COMMIT flush; the commits of
     * concurrent batches may then become visible out of seq order. At most
     * HW_STORE_WRITERS_MAX. See docs/store.md.
     */
    unsigned writers;
    /*
     * Added to each store thread's nice value as it starts (Linux keeps one
     * per thread); 0 leaves them as their creator. A program whose store
     * thread does background work beside an event loop on the same cores
     * (the relay's live history) sets it, so that the loop's wake-ups take
     * the core at once instead of waiting for the thread's time slice.
     * Failing to set it is logged, not an error.
     */
    int thread_nice;
    /*
     * 1: while a store thread writes only finished appends (history nobody
     * waits for) and less than a batch of them waits, it runs in
     * SCHED_IDLE: any other thread that wakes takes its core at once.
     * Anything waited for (a pending append, a job), a full batch waiting
     * or the close puts it back in SCHED_OTHER at once. Used only where the
     * process may leave SCHED_IDLE again (CAP_SYS_NICE, or RLIMIT_NICE
     * covering thread_nice); otherwise one log line says why and the
     * threads keep SCHED_OTHER.
     */
    int thread_idle;
};

#define HW_STORE_WRITERS_MAX 16

/*
 * URL parameters (after '?', joined with '&'):
 *   mysql: socket=PATH; timeout=SECONDS (read/write timeout of each round
 *          trip, 1..3600, default 3: a hung server fails calls with
 *          HW_EUNAVAIL after about this long, never longer)
 *   sqlite: unsafe_sync=off (TESTS ONLY: synchronous=OFF, commits are not
 *           fsynced and a crash loses acknowledged events; logged, and
 *           hw_store_durable() reports 0)
 */

/*
 * Opens the store named by url (borrowed), applies pending schema
 * migrations, and returns an owned handle in *out. opts may be NULL
 * (synchronous use only).
 * Returns 0; HW_ECONFIG for a malformed URL; HW_EVERSION when the store was
 * written by a newer hookwire (logged with both versions); HW_EUNAVAIL when
 * MySQL cannot be reached; -errno or HW_EIO when the SQLite file cannot be
 * opened or written (-EROFS read-only, -ENOSPC full); HW_ENOMEM. Errors are
 * logged with the URL minus its password. Any thread.
 */
int hw_store_open(const char *url, const struct hw_store_opts *opts, struct hw_store **out);

/*
 * The program is stopping: from ms milliseconds after this call, whatever
 * waits for another connection's lock on a SQLite file gives up at once
 * (HW_EUNAVAIL), instead of waiting the full busy limit (about 10 s) for
 * each of the calls an exit still makes (commits in flight, lease
 * releases). Nothing changes for a file nobody else holds, nor for MySQL,
 * whose calls have their own timeout. Process-wide; any thread.
 */
void hw_store_stopping(unsigned ms);

/*
 * Stops the store threads after they have committed everything queued, runs the
 * outstanding completion callbacks on the calling thread, closes the
 * connections and frees the handle. NULL is ignored. The caller must not use
 * s from any other thread during or after the call.
 */
void hw_store_close(struct hw_store *s);

/* The URL without its password, for logs. Borrowed; lives as long as s. Any thread. */
const char *hw_store_name(const struct hw_store *s);

/*
 * url with its password written as ***, into out (cap bytes), for messages
 * about a store that could not be opened. Any thread.
 */
void hw_store_url_masked(const char *url, char *out, size_t cap);

/* How many store threads commit appends (1 without a store thread). Any thread. */
unsigned hw_store_writers(const struct hw_store *s);

/*
 * Appends one event (borrowed; copied as needed) in its own transaction and
 * returns after the commit. res->id receives the new id, or the first id
 * with res->duplicate = 1 when (source, dedup_key) is already stored.
 * Returns 0; HW_EINVAL for a missing or malformed field; HW_E2BIG past a size
 * cap; HW_EUNAVAIL; -ENOSPC/-EROFS/-errno/HW_EIO on storage errors. On error
 * nothing of the event is visible. Any thread.
 */
int hw_store_append(struct hw_store *s, const struct hw_store_event *ev,
                    struct hw_store_result *res);

/*
 * Queues one event (copied before return) for the store thread, which
 * commits it with whatever else is queued, then queues cb(arg, err, res) and
 * calls the wake function. cb runs in a later hw_store_poll_completions()
 * call, never before the transaction holding the event has committed.
 * Returns 0 (cb will run exactly once); HW_EINVAL (no store thread, or a bad
 * field); HW_E2BIG; HW_EFULL when the queue is at its cap (answer 429 or
 * 503); HW_EUNAVAIL once hw_store_close() has begun (e.g. from a callback it
 * runs); HW_ENOMEM. Any thread.
 */
int hw_store_append_async(struct hw_store *s, const struct hw_store_event *ev,
                          hw_store_append_cb cb, void *arg);

/*
 * Takes back an append queued by hw_store_append_async() (or a variant) with
 * this cb and arg, if no store thread has taken it yet: it is never written
 * and cb never runs. Returns 0, or HW_ENOTFOUND when it is being committed
 * or done (cb runs as usual). For a caller that stopped waiting, such as an
 * answer timeout, so that a store that stalls does not commit later what
 * was refused. Call it on the thread that polls the completions.
 */
int hw_store_withdraw(struct hw_store *s, hw_store_append_cb cb, void *arg);

/*
 * hw_store_append_async() keeping ev->id, an id the caller made with
 * hw_id_new() and may already have shown (the relay's Hookwire-Event-Id of
 * a webhook it forwards live). HW_EINVAL when ev->id is not a valid id; an
 * id already stored fails the append (its callback gets the error).
 */
int hw_store_append_async_with_id(struct hw_store *s, const struct hw_store_event *ev,
                                  hw_store_append_cb cb, void *arg);

/*
 * hw_store_append_async_with_id() for an event whose one delivery attempt a
 * (borrowed) has already ended, so that it is written once, finished: one
 * row with status (HW_STORE_DELIVERED or HW_STORE_FAILED), attempts 1,
 * last_status a->http_status and last_error a->error (cut to
 * HW_STORE_ERROR_MAX). The attempt gets a row of its own (hw_store_attempts())
 * only when it is not a plain success (delivered without an error);
 * a->excerpt is not kept. The event never appears pending, so no claim or
 * drain sees it. For history of webhooks delivered by their receiver (the
 * relay's live passthrough): recorded after the answer, at the cost of one
 * insert. Returns as hw_store_append_async_with_id(), and HW_EINVAL for
 * another status.
 */
int hw_store_append_finished_async(struct hw_store *s, const struct hw_store_event *ev,
                                   const struct hw_store_attempt *a, int status,
                                   hw_store_append_cb cb, void *arg);

/*
 * hw_store_append_finished_async() without the store's copy: on 0 the store
 * reads ev (the struct and every string and byte it points at) until cb
 * runs, so the caller must neither change nor free it before then; it stays
 * the caller's. On an error the store never looks at it again. For a caller
 * that keeps its own copy of the webhook anyway (the relay's live history,
 * in the same block as the record that owns it): no copy and no allocation
 * for the event.
 */
int hw_store_append_finished_lend(struct hw_store *s, const struct hw_store_event *ev,
                                  const struct hw_store_attempt *a, int status,
                                  hw_store_append_cb cb, void *arg);

/*
 * hw_store_append_async() for an event its appender delivers itself, with
 * no claim: the row is written pending and already leased until
 * lease_until_ms (Unix ms, in the future), so no claim takes it before
 * then, and it is due then if no outcome was recorded (the appender died).
 * Once committed, res->event hands the stored event (id, headers, body,
 * status pending, attempts 0, lease and lease_until_ms) to the callback,
 * which owns it; its outcome is recorded with hw_store_record_attempt(s)
 * and ev->lease, fenced exactly as after hw_store_claim(). A duplicate
 * hands no event (the first one is someone else's to deliver). Returns as
 * hw_store_append_async().
 */
int hw_store_append_leased_async(struct hw_store *s, const struct hw_store_event *ev,
                                 int64_t lease_until_ms, hw_store_append_cb cb, void *arg);

/*
 * hw_store_append_leased_async() keeping ev->id, as
 * hw_store_append_async_with_id() does: for an appender that names the
 * event in its log before the commit has answered (the receiver at its
 * answer timeout). Returns as hw_store_append_async_with_id().
 */
int hw_store_append_leased_async_with_id(struct hw_store *s, const struct hw_store_event *ev,
                                         int64_t lease_until_ms, hw_store_append_cb cb, void *arg);

/*
 * Runs the callbacks of all completed async appends on the calling thread,
 * in submission order, and returns how many ran. Call it when woken; calling
 * it more often is harmless. Callbacks may submit further appends.
 */
int hw_store_poll_completions(struct hw_store *s);

/*
 * Looks up one event by id (borrowed) and returns it with headers and body
 * as an owned block in *out. Returns 0, HW_ENOTFOUND, HW_EUNAVAIL, HW_EIO,
 * HW_ENOMEM. Any thread.
 */
int hw_store_get(struct hw_store *s, const char *id, struct hw_store_event **out);

/*
 * Lists events matching f (borrowed), newest first, into *out (owned; free
 * with hw_store_events_cleanup()). Listed events carry headers_len and
 * body_len but no headers or body (NULL); use hw_store_get() for those.
 * Returns 0, HW_EINVAL (limit above 1000), HW_EUNAVAIL, HW_EIO, HW_ENOMEM.
 * Any thread.
 */
int hw_store_list(struct hw_store *s, const struct hw_store_filter *f, struct hw_store_events *out);

/*
 * Claims up to max pending events that are due (next attempt time reached)
 * and not leased by anyone, earliest due first (then in store order),
 * optionally only from one source (NULL for all), and leases them to this
 * handle for lease_ms. Stops before the headers and bodies claimed would
 * exceed max_bytes (0 means 64 MiB), but always takes at least one event;
 * out->capped says it stopped so, with due events left behind.
 * Until the lease expires no other handle, in this or another process,
 * claims them; after that, if no attempt was recorded, they are claimable
 * again (the holder died). Each claim gives the event a new fencing value
 * (ev->lease) that hw_store_record_attempt() requires. Events come with
 * headers and body, in *out (owned).
 * Returns 0 (out->n may be 0), HW_EINVAL, HW_EUNAVAIL, HW_EIO, HW_ENOMEM.
 * Any thread. Leases compare wall clocks: hosts sharing a MySQL need NTP.
 */
int hw_store_claim(struct hw_store *s, const char *source, int lease_ms, size_t max,
                   size_t max_bytes, struct hw_store_events *out);

/*
 * Records one delivery attempt for event id (both borrowed) and sets the
 * event's outcome in the same transaction: attempts + 1, last status and
 * error from a, status = new_status (enum hw_store_status), next attempt
 * time = next_attempt_ms (for HW_STORE_PENDING: the retry time), and the
 * lease released. Fenced: lease must be the ev->lease of the caller's own
 * claim, and that claim must still be valid (not expired, not requeued,
 * not claimed again since, event still pending). Anything else gets
 * HW_ELEASE and changes nothing (the attempt is not recorded), so a worker
 * whose lease expired can never overwrite the new holder's outcome.
 * Returns 0, HW_ENOTFOUND, HW_ELEASE, HW_EINVAL, HW_EUNAVAIL, HW_EIO. Any
 * thread.
 */
int hw_store_record_attempt(struct hw_store *s, const char *id, int64_t lease,
                            const struct hw_store_attempt *a, int new_status,
                            int64_t next_attempt_ms);

/*
 * The lease value for hw_store_record_attempt() on an event that no claim
 * holds: events whose one owner delivers them itself (the relay's channels,
 * which one relay serves) rather than through claims. Recorded only while
 * the event is pending and unleased; otherwise HW_ELEASE.
 */
#define HW_STORE_NO_LEASE (-1)

/*
 * Reads up to max pending events of source (borrowed, required) with seq
 * above after_seq, in store order, with headers and body, into *out
 * (owned), stopping before max_bytes (0 means 64 MiB) as hw_store_claim()
 * does. Leases nothing: for an owner that keeps its own in-order cursor.
 * Returns 0 (out->n may be 0), HW_EINVAL, HW_EUNAVAIL, HW_EIO, HW_ENOMEM.
 * Any thread.
 */
int hw_store_next_pending(struct hw_store *s, const char *source, int64_t after_seq, size_t max,
                          size_t max_bytes, struct hw_store_events *out);

/* One outcome for hw_store_record_attempts(): the arguments of hw_store_record_attempt(). */
struct hw_store_outcome {
    const char *id;
    int64_t lease; /* the claim's ev->lease, or HW_STORE_NO_LEASE */
    struct hw_store_attempt attempt;
    int status;
    int64_t next_attempt_ms;
    int err; /* out: 0, HW_ELEASE or HW_ENOTFOUND for this outcome alone */
};

/*
 * hw_store_record_attempt() for v[0..n) in one transaction (one commit for
 * all, as a drain of many events needs). An outcome refused on its own
 * (HW_ELEASE, HW_ENOTFOUND in v[i].err) changes nothing and does not fail
 * the others. Returns 0 (see each err), HW_EINVAL (a bad outcome; nothing
 * done), or HW_EUNAVAIL/HW_EIO with nothing recorded. Any thread.
 */
int hw_store_record_attempts(struct hw_store *s, struct hw_store_outcome *v, size_t n);

/* One lease for hw_store_release(): an event and the fencing value its holder got. */
struct hw_store_lease {
    const char *id;
    int64_t lease; /* the claim's (or leased append's) ev->lease */
    int err;       /* out: 0, HW_ELEASE or HW_ENOTFOUND for this lease alone */
};

/*
 * Gives back the leases v[0..n) of events their holder will not attempt
 * (a receiver that stops, or one that would not finish before its lease
 * ends), in one transaction: each event whose lease passes the fence of
 * hw_store_record_attempt() (lease is its current fencing value, the lease
 * has not expired, the event is still pending) is left unleased and due
 * now, so that any handle claims it at once instead of after the lease.
 * No attempt is counted: attempts, last status and last error stay, and
 * no attempt is recorded. A released lease is spent: recording an outcome
 * or releasing with it again gets HW_ELEASE. A lease refused on its own
 * (HW_ELEASE, HW_ENOTFOUND in v[i].err) changes nothing and does not fail
 * the others. Returns 0 (see each err), HW_EINVAL (a NULL id, or a lease
 * below 0 such as HW_STORE_NO_LEASE: there is nothing to give back;
 * nothing done), or HW_EUNAVAIL/HW_EIO with nothing released. Any thread.
 */
int hw_store_release(struct hw_store *s, struct hw_store_lease *v, size_t n);

/*
 * Returns the attempts of event id in the order they were recorded, in *out
 * (owned; free with hw_store_attempts_cleanup()). An unknown id gives an
 * empty list. Returns 0, HW_EUNAVAIL, HW_EIO, HW_ENOMEM. Any thread.
 */
int hw_store_attempts(struct hw_store *s, const char *id, struct hw_store_attempts *out);

/*
 * hw_store_get() and hw_store_attempts() under one hold of the handle's
 * lock (no other call of this handle runs between them): the event with
 * headers and body in *ev (owned; free with hw_store_event_free()) and its
 * attempts in *attempts (owned; free with hw_store_attempts_cleanup()).
 * Returns 0, HW_ENOTFOUND, HW_EUNAVAIL, HW_EIO, HW_ENOMEM; on error
 * nothing is owned by the caller. Any thread.
 */
int hw_store_inspect(struct hw_store *s, const char *id, struct hw_store_event **ev,
                     struct hw_store_attempts *attempts);

/* Flags for hw_store_requeue(). */
#define HW_STORE_REQUEUE_FORCE 1 /* requeue a delivered event too */

/*
 * Makes event id pending and due now again (replay): any lease is cancelled
 * (its holder's record gets HW_ELEASE); the attempt count and history stay.
 * A delivered event is refused with HW_EEXIST unless flags has
 * HW_STORE_REQUEUE_FORCE. Returns 0, HW_ENOTFOUND, HW_EEXIST, HW_EUNAVAIL,
 * HW_EIO. Any thread.
 */
int hw_store_requeue(struct hw_store *s, const char *id, int flags);

/* Most ids one hw_store_requeue_failed() call takes (a list page). */
#define HW_STORE_REQUEUE_MANY_MAX 1000

/*
 * hw_store_requeue() for those of the events ids[0..n) (borrowed; n at most
 * HW_STORE_REQUEUE_MANY_MAX) that are failed when it runs, in one statement
 * and one commit: all of them or none. Any other (unknown, delivered, or
 * pending: requeued by someone else since it was listed, perhaps under a
 * live lease) is left as it is, so that concurrent bulk replays never cancel
 * a lease nor count an event twice. *requeued (may be NULL) gets how many
 * were requeued, 0 on error. For bulk replays, where one commit per event
 * would dominate. Returns 0, HW_EINVAL (n above the cap, a NULL id),
 * HW_EUNAVAIL, HW_EIO, HW_ENOMEM. Any thread.
 */
int hw_store_requeue_failed(struct hw_store *s, const char *const *ids, size_t n,
                            uint64_t *requeued);

/* Flags for hw_store_purge(): which statuses go. Neither DELIVERED nor FAILED means both. */
#define HW_STORE_PURGE_PENDING   1 /* also events still waiting for delivery */
#define HW_STORE_PURGE_DELIVERED 2
#define HW_STORE_PURGE_FAILED    4

/*
 * Deletes events received before before_ms, with their attempts, in
 * transactions of at most 1000 events (so a large purge never holds locks
 * for long); each committed batch stays deleted if a later one fails.
 * *removed (may be NULL) gets the number of events deleted, also on error.
 * Returns 0, HW_EINVAL (unknown flags), HW_EUNAVAIL, HW_EIO. Any thread.
 */
int hw_store_purge(struct hw_store *s, int64_t before_ms, int flags, uint64_t *removed);

/*
 * Retention by count for one source (borrowed): deletes its delivered and
 * failed events other than its newest keep events (in store order, pending
 * ones included in the count), with their attempts, in transactions of at
 * most 1000 events, as hw_store_purge() does. Pending events are never
 * deleted. *removed (may be NULL) gets how many, also on error. Returns 0,
 * HW_EINVAL (no source, keep 0), HW_EUNAVAIL, HW_EIO. Any thread.
 */
int hw_store_purge_excess(struct hw_store *s, const char *source, uint64_t keep, uint64_t *removed);

/*
 * Checks that the database answers (for /readyz). Never waits behind
 * another call: while the connection is busy it answers from the last
 * known state. The check itself is bounded by the MySQL timeout. Returns 0
 * or HW_EUNAVAIL. Any thread (not an event loop: it may wait that long).
 */
int hw_store_ping(struct hw_store *s);

/*
 * 1 when a commit survives a power loss as configured: SQLite with
 * synchronous=FULL; MySQL with innodb_flush_log_at_trx_commit = 1 and, with
 * the binary log on, sync_binlog = 1 (checked at each connect; a warning is
 * logged once). 0 otherwise. Never blocks. Any thread (for /metrics).
 */
int hw_store_durable(const struct hw_store *s);

/* Frees an event returned by the store. NULL is ignored. */
void hw_store_event_free(struct hw_store_event *ev);

/* Frees the events in l and empties it. */
void hw_store_events_cleanup(struct hw_store_events *l);

/* Frees the attempts in l and empties it. */
void hw_store_attempts_cleanup(struct hw_store_attempts *l);

/* "pending", "delivered", "failed", or "?" for anything else. Static string. */
const char *hw_store_status_name(int status);

/* Parses a status name; returns the enum value, or HW_EINVAL. */
int hw_store_status_parse(const char *name);

/*
 * Relay tokens. A channel may hold several tokens at once (so a new one can
 * be issued before the old one is revoked); a token hash belongs to one
 * channel. Callers hash the token with SHA-256 and never store the token.
 */

/*
 * Stores hash for channel (both borrowed). Returns 0, HW_EEXIST when the
 * hash is already stored, HW_EINVAL for a bad channel name, HW_EUNAVAIL,
 * HW_EIO. Any thread.
 */
int hw_store_token_add(struct hw_store *s, const char *channel,
                       const unsigned char hash[HW_STORE_SHA256_LEN]);

/*
 * Deletes every token of channel; *removed (may be NULL) gets how many.
 * Returns 0, HW_ENOTFOUND when the channel had none, HW_EUNAVAIL, HW_EIO.
 * Any thread.
 */
int hw_store_token_revoke(struct hw_store *s, const char *channel, unsigned *removed);

/*
 * Finds the channel that hash belongs to and copies its name into channel.
 * Returns 0, HW_ENOTFOUND, HW_EUNAVAIL, HW_EIO. Any thread.
 */
int hw_store_token_lookup(struct hw_store *s, const unsigned char hash[HW_STORE_SHA256_LEN],
                          char channel[HW_STORE_NAME_MAX + 1]);

/*
 * Lists all tokens ordered by channel, then age, as an owned array in *out
 * (free() it; NULL when *n is 0). Returns 0, HW_EUNAVAIL, HW_EIO, HW_ENOMEM.
 * Any thread.
 */
int hw_store_token_list(struct hw_store *s, struct hw_store_token **out, size_t *n);

/* Runs on the polling thread with the token list (owned by the callback: free() it) or an error. */
typedef void (*hw_store_tokens_cb)(void *arg, int err, struct hw_store_token *list, size_t n);

/*
 * hw_store_token_list() on the store thread, for event-loop callers that
 * must never wait on the database: returns at once, and cb runs in a later
 * hw_store_poll_completions(), in order with the appends. Returns 0 (cb
 * will run exactly once), HW_EINVAL (no store thread), HW_EFULL,
 * HW_EUNAVAIL (closing), HW_ENOMEM. Any thread.
 */
int hw_store_token_list_async(struct hw_store *s, hw_store_tokens_cb cb, void *arg);

/* Work run on the store thread by hw_store_job_async(): may call this handle's synchronous API. */
typedef int (*hw_store_job_fn)(struct hw_store *s, void *arg);
/* Runs on the polling thread with the job's return value. */
typedef void (*hw_store_job_cb)(void *arg, int err);

/*
 * Runs fn(s, arg) on a store thread, after every append queued before it
 * has committed and before any queued after it starts (with several
 * writers too: a job runs alone), then cb(arg, err) in a later
 * hw_store_poll_completions(), in order with the appends: event loops use
 * it for claims, outcomes, listings and purges that must never wait on the
 * database there. Returns
 * 0 (cb will run exactly once), HW_EINVAL (no store thread), HW_EFULL,
 * HW_EUNAVAIL (closing), HW_ENOMEM. Any thread.
 */
int hw_store_job_async(struct hw_store *s, hw_store_job_fn fn, hw_store_job_cb cb, void *arg);

/*
 * Takes back a job queued by hw_store_job_async() with this cb and arg, if
 * no store thread has started it: fn and cb never run. Returns 0, or
 * HW_ENOTFOUND when it is running or done (cb runs as usual). For a caller
 * that stopped waiting (an API call answered 503), or a stop that should
 * not wait for work nobody needs. Call it on the thread that polls.
 */
int hw_store_withdraw_job(struct hw_store *s, hw_store_job_cb cb, void *arg);

/* Counters since open, for /metrics and tests. */
struct hw_store_stats {
    uint64_t appended;   /* events written by hw_store_append[_async] */
    uint64_t duplicates; /* appends answered with an existing event */
    uint64_t failed;     /* appends whose transaction failed (not those refused up front) */
    uint64_t commits;    /* transactions that committed appends */
    /*
     * Outcomes (hw_store_record_attempts()) and released leases
     * (hw_store_release()) of calls of more than one that were written one
     * statement each: a batch with a refused item, or a backend without
     * batches.
     */
    uint64_t fenced_singles;
};

/* Copies the counters into *out. Never blocks on the database. Any thread. */
void hw_store_stats(struct hw_store *s, struct hw_store_stats *out);

/* Event counts of one source. */
struct hw_store_source_counts {
    char source[HW_STORE_NAME_MAX + 1];
    uint64_t by_status[4]; /* indexed by enum hw_store_status; [0] unused */
};

/* What is in the store, for the replay CLI and /metrics. */
struct hw_store_summary {
    uint64_t by_status[4];                  /* indexed by enum hw_store_status */
    struct hw_store_source_counts *sources; /* owned; by source name */
    size_t nsources;
    int64_t oldest_pending_ms;    /* received_ms of the pending event stored first, 0 if none */
    uint64_t failed_last_hour;    /* events received in the last hour now failed */
    uint64_t delivered_last_hour; /* attempts in the last hour that delivered (2xx) */
    int latency_p50_ms;           /* receipt to delivery of those, percentiles; 0 if none */
    int latency_p90_ms;
    int latency_p99_ms;
};

/*
 * Fills *out (free with hw_store_summary_cleanup()) as of now_ms (0 for
 * now): counts by status and by source (at most 1000 sources), the oldest
 * pending event, failures and delivery latency of the last hour. Each part
 * is an indexed query; the source counts scan the (source, status) index.
 * Returns 0, HW_EUNAVAIL, HW_EIO, HW_ENOMEM. Any thread.
 */
int hw_store_summarize(struct hw_store *s, int64_t now_ms, struct hw_store_summary *out);

/*
 * The backlog of one source (borrowed): *pending gets its pending events,
 * *oldest_ms the received_ms of the one stored first (0 if none). Reads
 * the source's pending range of its claim index and one row, never its
 * history nor every pending row, so it costs little on a store of any size
 * and backlog: what a server can ask every few seconds, where
 * hw_store_summarize() counts every event.
 * Returns 0, HW_EINVAL, HW_EUNAVAIL, HW_EIO. Any thread.
 */
int hw_store_backlog(struct hw_store *s, const char *source, uint64_t *pending, int64_t *oldest_ms);

void hw_store_summary_cleanup(struct hw_store_summary *sum);

/* Reads the schema version of the open store into *version. Returns 0, HW_EUNAVAIL, HW_EIO. */
int hw_store_schema_version(struct hw_store *s, int *version);

#endif
