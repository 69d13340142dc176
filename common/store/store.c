/*
 * The store's front: opens the backend named by the URL (the store threads
 * and their connections are store_writers.c's), checks arguments, serialises
 * calls on the handle's connection lock, and runs the transaction around
 * recorded outcomes. Any thread; see store.h.
 */
#include "store.h"

#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "store_backend.h"
#include "store_handle.h"
#include "store_queue.h"
#include "store_schema.h"
#include "store_url.h"

#define LIST_LIMIT_DEFAULT 100u
#define LIST_LIMIT_MAX     1000u
#define CLAIM_MAX          1000u

static int valid_name(const char *s)
{
    size_t n = s ? strlen(s) : 0;

    return n >= 1 && n <= HW_STORE_NAME_MAX;
}

/* Checks an event given to append. */
static int event_check(const struct hw_store_event *ev)
{
    if (!valid_name(ev->source) || !ev->method || !ev->method[0] || !ev->path ||
        (ev->headers_len && !ev->headers) || (ev->body_len && !ev->body) ||
        ev->verify < HW_STORE_UNVERIFIED || ev->verify > HW_STORE_VERIFY_FAILED ||
        ev->received_ms < 0 || ev->received_ms >= (int64_t)1 << 48 || ev->next_attempt_ms < 0)
        return HW_EINVAL;
    if (strlen(ev->method) > HW_STORE_METHOD_MAX || strlen(ev->path) > HW_STORE_TARGET_MAX ||
        (ev->query && strlen(ev->query) > HW_STORE_TARGET_MAX) ||
        ev->headers_len > HW_STORE_HEADERS_MAX || ev->body_len > HW_STORE_BODY_MAX ||
        (ev->dedup_key && strlen(ev->dedup_key) > HW_STORE_DEDUP_MAX))
        return HW_E2BIG;
    return 0;
}

/* Fills in the defaults and a new id (unless keep_id); ev's pointers stay borrowed. */
static void event_stamp(struct hw_store_event *ev, int keep_id)
{
    if (!ev->received_ms)
        ev->received_ms = hw_wall_ms();
    if (!ev->next_attempt_ms)
        ev->next_attempt_ms = ev->received_ms;
    if (!ev->query)
        ev->query = "";
    if (!ev->headers)
        ev->headers = "";
    if (!ev->body)
        ev->body = "";
    if (ev->dedup_key && !ev->dedup_key[0])
        ev->dedup_key = NULL;
    ev->lease_until_ms = 0;
    ev->lease = 0;
    if (!keep_id)
        hw_id_new_at(ev->id, (uint64_t)ev->received_ms);
}

static void make_owner(struct hw_store *s)
{
    char host[HW_STORE_OWNER_MAX + 1] = "";
    unsigned char rnd[4];
    char hex[2 * sizeof(rnd) + 1];

    gethostname(host, sizeof(host) - 1);
    randombytes_buf(rnd, sizeof(rnd));
    sodium_bin2hex(hex, sizeof(hex), rnd, sizeof(rnd));
    snprintf(s->owner, sizeof(s->owner), "%.32s/%ld/%s", host, (long)getpid(), hex);
}

int hw_store_open(const char *url, const struct hw_store_opts *opts, struct hw_store **out)
{
    struct hw_store *s = calloc(1, sizeof(*s));
    int err;

    if (!s)
        return HW_ENOMEM;
    if (sodium_init() < 0) {
        err = HW_EIO;
        goto fail_url;
    }
    err = hw_store_url_parse(url, &s->url);
    if (err)
        goto fail_url;
    s->ops = s->url.kind == HW_STORE_KIND_MYSQL ? &hw_store_mysql_ops : &hw_store_sqlite_ops;
    pthread_mutex_init(&s->lock, NULL);
    err = s->ops->open(&s->url, &s->be);
    if (err)
        goto fail_open;
    err = hw_store_schema_migrate(s->ops, s->be, s->url.kind, s->url.name);
    if (err)
        goto fail_schema;
    make_owner(s);
    if (opts && opts->wake) {
        err = hw_store_writers_start(s, opts);
        if (err)
            goto fail_schema;
    }
    *out = s;
    return 0;

fail_schema:
    s->ops->close(s->be);
fail_open:
    HW_ERR("store %s: cannot open: %s", s->url.name, hw_strerror(err));
    pthread_mutex_destroy(&s->lock);
fail_url:
    hw_store_url_cleanup(&s->url);
    free(s);
    return err;
}

void hw_store_close(struct hw_store *s)
{
    if (!s)
        return;
    hw_store_writers_stop(s);
    s->ops->close(s->be);
    pthread_mutex_destroy(&s->lock);
    hw_store_url_cleanup(&s->url);
    free(s);
}

const char *hw_store_name(const struct hw_store *s)
{
    return s->url.name;
}

unsigned hw_store_writers(const struct hw_store *s)
{
    return s->nwriters ? s->nwriters : 1;
}

int hw_store_append(struct hw_store *s, const struct hw_store_event *ev,
                    struct hw_store_result *res)
{
    struct hw_store_pending p = { .ev = *ev };
    struct hw_store_pending *v = &p;
    int err = event_check(ev);

    if (err)
        return err;
    event_stamp(&p.ev, 0);
    hw_store_commit(s, &(struct hw_store_conn){ .be = s->be, .lock = &s->lock, .writer = -1 }, &v,
                    1);
    if (!p.err || p.err == HW_EUNAVAIL)
        *res = p.res;
    return p.err;
}

/*
 * Queues ev; done (NULL for a pending append) is the attempt of an event
 * written finished with status; lease_until_ms (0: none) the lease of an
 * event written leased to its appender. lent: ev is read where it is until
 * the callback, not copied (not a leased append's).
 */
static int append_async(struct hw_store *s, const struct hw_store_event *ev, int keep_id,
                        const struct hw_store_attempt *done, int status, int64_t lease_until_ms,
                        int lent, hw_store_append_cb cb, void *arg)
{
    const char *why = done && done->error ? done->error : "";
    size_t elen = strnlen(why, HW_STORE_ERROR_MAX);
    struct hw_store_pending *p;
    char *error;
    int err = event_check(ev);

    if (err)
        return err;
    if (done && (status != HW_STORE_DELIVERED && status != HW_STORE_FAILED))
        return HW_EINVAL;
    if (keep_id && !hw_id_valid(ev->id))
        return HW_EINVAL;
    if (!s->queue || !cb)
        return HW_EINVAL;
    /* The attempt's error, cut to the cap, lives after p (as long as the copy is needed). */
    p = calloc(1, sizeof(*p) + elen + 1);
    if (!p)
        return HW_ENOMEM;
    error = (char *)(p + 1);
    memcpy(error, why, elen);
    p->ev = *ev;
    event_stamp(&p->ev, keep_id);
    if (lease_until_ms) {
        /* Not due before the lease runs out, as after a claim; the first fencing value is 0. */
        p->ev.lease_until_ms = lease_until_ms;
        p->ev.next_attempt_ms = lease_until_ms;
        p->ev.status = HW_STORE_PENDING;
        p->leased = 1;
    }
    if (done) {
        p->ev.status = status;
        p->ev.attempts = 1;
        p->ev.last_status = done->http_status;
        p->ev.last_error = error;
    }
    if (!lent) {
        p->copy = hw_store_event_build(&p->ev);
        if (!p->copy) {
            free(p);
            return HW_ENOMEM;
        }
        p->ev = *p->copy;
    }
    if (done) {
        p->finished = 1;
        p->done = (struct hw_store_attempt){
            .at_ms = done->at_ms,
            .duration_ms = done->duration_ms,
            .http_status = done->http_status,
            .error = p->ev.last_error,
            .excerpt = "",
        };
    }
    p->bytes = p->ev.headers_len + p->ev.body_len + sizeof(*p);
    p->cb = cb;
    p->arg = arg;
    /* The commit reads p->ev (pointing into the copy, or the lender's event). */
    err = hw_store_queue_submit(s->queue, p);
    if (err) {
        hw_store_event_free(p->copy);
        free(p);
    }
    return err;
}

int hw_store_append_async(struct hw_store *s, const struct hw_store_event *ev,
                          hw_store_append_cb cb, void *arg)
{
    return append_async(s, ev, 0, NULL, 0, 0, 0, cb, arg);
}

int hw_store_append_leased_async(struct hw_store *s, const struct hw_store_event *ev,
                                 int64_t lease_until_ms, hw_store_append_cb cb, void *arg)
{
    if (lease_until_ms <= hw_wall_ms())
        return HW_EINVAL;
    return append_async(s, ev, 0, NULL, 0, lease_until_ms, 0, cb, arg);
}

int hw_store_append_leased_async_with_id(struct hw_store *s, const struct hw_store_event *ev,
                                         int64_t lease_until_ms, hw_store_append_cb cb, void *arg)
{
    if (lease_until_ms <= hw_wall_ms())
        return HW_EINVAL;
    return append_async(s, ev, 1, NULL, 0, lease_until_ms, 0, cb, arg);
}

int hw_store_append_async_with_id(struct hw_store *s, const struct hw_store_event *ev,
                                  hw_store_append_cb cb, void *arg)
{
    return append_async(s, ev, 1, NULL, 0, 0, 0, cb, arg);
}

int hw_store_append_finished_async(struct hw_store *s, const struct hw_store_event *ev,
                                   const struct hw_store_attempt *a, int status,
                                   hw_store_append_cb cb, void *arg)
{
    if (!a)
        return HW_EINVAL;
    return append_async(s, ev, 1, a, status, 0, 0, cb, arg);
}

int hw_store_append_finished_lend(struct hw_store *s, const struct hw_store_event *ev,
                                  const struct hw_store_attempt *a, int status,
                                  hw_store_append_cb cb, void *arg)
{
    if (!a || !ev)
        return HW_EINVAL;
    return append_async(s, ev, 1, a, status, 0, 1, cb, arg);
}

int hw_store_withdraw(struct hw_store *s, hw_store_append_cb cb, void *arg)
{
    return s->queue ? hw_store_queue_withdraw(s->queue, cb, arg) : HW_ENOTFOUND;
}

int hw_store_withdraw_job(struct hw_store *s, hw_store_job_cb cb, void *arg)
{
    return s->queue ? hw_store_queue_withdraw_job(s->queue, cb, arg) : HW_ENOTFOUND;
}

int hw_store_poll_completions(struct hw_store *s)
{
    return s->queue ? hw_store_queue_poll(s->queue) : 0;
}

int hw_store_get(struct hw_store *s, const char *id, struct hw_store_event **out)
{
    int err;

    if (!id)
        return HW_EINVAL;
    hw_store_enter(s, &s->lock, s->be);
    err = hw_store_public_err(s, s->ops->get(s->be, id, out));
    hw_store_leave(s, &s->lock, s->be);
    return err;
}

int hw_store_list(struct hw_store *s, const struct hw_store_filter *f, struct hw_store_events *out)
{
    size_t limit = f->limit ? f->limit : LIST_LIMIT_DEFAULT;
    int err;

    memset(out, 0, sizeof(*out));
    if (limit > LIST_LIMIT_MAX || f->status < 0 || f->status > HW_STORE_FAILED || f->cursor < 0 ||
        (f->path && strlen(f->path) > HW_STORE_TARGET_MAX))
        return HW_EINVAL;
    hw_store_enter(s, &s->lock, s->be);
    err = hw_store_public_err(s, s->ops->list(s->be, f, limit, out));
    hw_store_leave(s, &s->lock, s->be);
    if (err) {
        hw_store_events_cleanup(out);
        return err;
    }
    out->next_cursor = out->n == limit ? out->v[out->n - 1]->seq : 0;
    return 0;
}

int hw_store_claim(struct hw_store *s, const char *source, int lease_ms, size_t max,
                   size_t max_bytes, struct hw_store_events *out)
{
    int64_t now = hw_wall_ms();
    int err;

    memset(out, 0, sizeof(*out));
    if (lease_ms <= 0 || max == 0 || max > CLAIM_MAX)
        return HW_EINVAL;
    if (!max_bytes)
        max_bytes = HW_STORE_CLAIM_BYTES_DEFAULT;
    hw_store_enter(s, &s->lock, s->be);
    err = hw_store_public_err(
        s, s->ops->claim(s->be, source, s->owner, now, now + lease_ms, max, max_bytes, out));
    hw_store_leave(s, &s->lock, s->be);
    if (err)
        hw_store_events_cleanup(out);
    return err;
}

int hw_store_next_pending(struct hw_store *s, const char *source, int64_t after_seq, size_t max,
                          size_t max_bytes, struct hw_store_events *out)
{
    int err;

    memset(out, 0, sizeof(*out));
    if (!source || !max || max > 1000 || after_seq < 0)
        return HW_EINVAL;
    if (!max_bytes)
        max_bytes = HW_STORE_CLAIM_BYTES_DEFAULT;
    hw_store_enter(s, &s->lock, s->be);
    err = hw_store_public_err(
        s, s->ops->claim(s->be, source, NULL, after_seq, 0, max, max_bytes, out));
    hw_store_leave(s, &s->lock, s->be);
    if (err)
        hw_store_events_cleanup(out);
    return err;
}

int hw_store_record_attempt(struct hw_store *s, const char *id, int64_t lease,
                            const struct hw_store_attempt *a, int new_status,
                            int64_t next_attempt_ms)
{
    struct hw_store_outcome o = {
        .id = id,
        .lease = lease,
        .attempt = *a,
        .status = new_status,
        .next_attempt_ms = next_attempt_ms,
    };
    int err = hw_store_record_attempts(s, &o, 1);

    return err ? err : o.err;
}

/* One transaction of hw_store_fenced_locked(): the batch, or item by item. */
static int fenced_txn(struct hw_store *s, const struct hw_store_fenced *f, int batch)
{
    int64_t now = hw_wall_ms();
    int err = s->ops->begin(s->be);

    if (!err && batch)
        err = f->batch(s, f->arg, now);
    for (size_t i = 0; i < f->n && !err && !batch; i++) {
        err = f->one(s, f->arg, i, now);
        if (err == HW_ELEASE || err == HW_ENOTFOUND)
            err = 0; /* that item's own verdict */
    }
    if (!err)
        err = s->ops->commit(s->be);
    if (err)
        s->ops->rollback(s->be);
    return err;
}

int hw_store_fenced_locked(struct hw_store *s, const struct hw_store_fenced *f)
{
    int batch = f->n > 1 && f->batch, deadlocks = 0, err;

    for (;;) {
        err = fenced_txn(s, f, batch);
        if (err == HW_ELEASE && batch) {
            batch = 0; /* each item gets its own verdict */
            continue;
        }
        if (err != HW_STORE_ERETRY || ++deadlocks >= HW_STORE_DEADLOCK_TRIES)
            break;
        hw_store_deadlock_pause();
    }
    if (!err && !batch && f->n > 1)
        s->fenced_singles += f->n;
    return err;
}

/* The outcomes of hw_store_record_attempts(), checked and cut, for hw_store_fenced_locked(). */
struct record_items {
    struct hw_store_outcome *v;
    size_t n;
};

static int record_all(struct hw_store *s, void *arg, int64_t now_ms)
{
    struct record_items *r = arg;
    int err = s->ops->record_batch(s->be, now_ms, r->v, r->n);

    for (size_t i = 0; i < r->n && !err; i++)
        r->v[i].err = 0;
    return err;
}

static int record_item(struct hw_store *s, void *arg, size_t i, int64_t now_ms)
{
    struct hw_store_outcome *o = &((struct record_items *)arg)->v[i];

    o->err = s->ops->record_one(s->be, o->id, o->lease, now_ms, &o->attempt, o->status,
                                o->next_attempt_ms);
    return o->err;
}

/* Records v[0..n) (checked, strings cut) in one transaction, lock held. */
static int record_locked(struct hw_store *s, struct hw_store_outcome *v, size_t n)
{
    struct record_items items = { v, n };
    struct hw_store_fenced f = {
        .batch = s->ops->record_batch ? record_all : NULL,
        .one = record_item,
        .arg = &items,
        .n = n,
    };

    return hw_store_fenced_locked(s, &f);
}

int hw_store_record_attempts(struct hw_store *s, struct hw_store_outcome *v, size_t n)
{
    struct hw_store_outcome one, *cut = n == 1 ? &one : calloc(n, sizeof(*cut));
    char one_error[HW_STORE_ERROR_MAX + 1];
    char(*errors)[HW_STORE_ERROR_MAX + 1] = n == 1 ? &one_error : calloc(n, sizeof(*errors));
    int err = 0;

    if (!n)
        goto out;
    if (!cut || !errors) {
        err = HW_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const struct hw_store_attempt *a = &v[i].attempt;

        if (!v[i].id || v[i].status < HW_STORE_PENDING || v[i].status > HW_STORE_FAILED ||
            (a->excerpt_len && !a->excerpt)) {
            err = HW_EINVAL;
            goto out;
        }
        cut[i] = v[i];
        snprintf(errors[i], sizeof(errors[i]), "%s", a->error ? a->error : "");
        cut[i].attempt.error = errors[i];
        if (!cut[i].attempt.excerpt)
            cut[i].attempt.excerpt = "";
        if (cut[i].attempt.excerpt_len > HW_STORE_EXCERPT_MAX)
            cut[i].attempt.excerpt_len = HW_STORE_EXCERPT_MAX;
    }
    hw_store_enter(s, &s->lock, s->be);
    err = hw_store_public_err(s, record_locked(s, cut, n));
    hw_store_leave(s, &s->lock, s->be);
    for (size_t i = 0; i < n; i++)
        v[i].err = err ? err : cut[i].err;
out:
    if (cut != &one)
        free(cut);
    if (errors != &one_error)
        free(errors);
    return err;
}

int hw_store_attempts(struct hw_store *s, const char *id, struct hw_store_attempts *out)
{
    int err;

    memset(out, 0, sizeof(*out));
    if (!id)
        return HW_EINVAL;
    hw_store_enter(s, &s->lock, s->be);
    err = hw_store_public_err(s, s->ops->attempts(s->be, id, out));
    hw_store_leave(s, &s->lock, s->be);
    if (err)
        hw_store_attempts_cleanup(out);
    return err;
}

int hw_store_inspect(struct hw_store *s, const char *id, struct hw_store_event **ev,
                     struct hw_store_attempts *attempts)
{
    int err;

    *ev = NULL;
    memset(attempts, 0, sizeof(*attempts));
    if (!id)
        return HW_EINVAL;
    hw_store_enter(s, &s->lock, s->be);
    err = s->ops->get(s->be, id, ev);
    if (!err)
        err = s->ops->attempts(s->be, id, attempts);
    err = hw_store_public_err(s, err);
    hw_store_leave(s, &s->lock, s->be);
    if (err) {
        hw_store_event_free(*ev);
        *ev = NULL;
        hw_store_attempts_cleanup(attempts);
    }
    return err;
}

int hw_store_ping(struct hw_store *s)
{
    int err;

    /* Busy: someone is using the connection right now; answer from what it last saw. */
    if (pthread_mutex_trylock(&s->lock) != 0)
        return s->down ? HW_EUNAVAIL : 0;
    hw_store_mark_call(s->ops, s->be, 1);
    err = hw_store_public_err(s, s->ops->ping(s->be));
    hw_store_leave(s, &s->lock, s->be);
    return err;
}

int hw_store_durable(const struct hw_store *s)
{
    return s->ops->durable(s->be);
}

void hw_store_stats(struct hw_store *s, struct hw_store_stats *out)
{
    out->appended = s->appended;
    out->duplicates = s->duplicates;
    out->failed = s->failed;
    out->commits = s->commits;
    out->fenced_singles = s->fenced_singles;
}

int hw_store_schema_version(struct hw_store *s, int *version)
{
    int err;

    hw_store_enter(s, &s->lock, s->be);
    err = hw_store_public_err(s, s->ops->schema_version(s->be, version));
    hw_store_leave(s, &s->lock, s->be);
    return err;
}
