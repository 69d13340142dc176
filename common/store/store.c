/*
 * The store's front: opens the backend named by the URL, checks arguments,
 * serialises calls on the handle's connection lock, and runs group commits
 * for the queue in store_queue.c (one transaction per batch, each event on
 * its own only when the batch fails). Any thread; see store.h.
 */
#include "store.h"

#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/err.h"
#include "core/log.h"
#include "core/text.h"
#include "store_backend.h"
#include "store_queue.h"
#include "store_schema.h"
#include "store_url.h"

#define QUEUE_MAX_DEFAULT   16384u
#define QUEUE_BYTES_DEFAULT (256u * 1024u * 1024u)
#define BATCH_ITEMS         1024u
#define BATCH_BYTES         (32u * 1024u * 1024u)
#define LIST_LIMIT_DEFAULT  100u
#define LIST_LIMIT_MAX      1000u
#define CLAIM_MAX           1000u
#define OWNER_MAX           64

struct hw_store {
    const struct hw_store_ops *ops;
    void *be;
    pthread_mutex_t lock; /* held around every use of be */
    struct hw_store_url url;
    struct hw_store_queue *queue; /* NULL without a store thread */
    char owner[OWNER_MAX + 1];    /* lease owner: host/pid/random */
    atomic_uint_fast64_t appended, duplicates, failed, commits;
};

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

/* Fills in the defaults and a new id; ev's pointers stay borrowed. */
static void event_stamp(struct hw_store_event *ev)
{
    if (!ev->received_ms)
        ev->received_ms = hw_store_now_ms();
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
    hw_id_new_at(ev->id, (uint64_t)ev->received_ms);
}

/* Inserts v[0..n) in one transaction. Returns 0, or the first error with all rolled back. */
static int insert_txn(struct hw_store *s, struct hw_store_pending **v, size_t n)
{
    struct hw_store_row one, *rows = n == 1 ? &one : calloc(n, sizeof(*rows));
    int err;

    if (!rows)
        return HW_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        rows[i].ev = &v[i]->ev;
        rows[i].res = &v[i]->res;
    }
    err = s->ops->begin(s->be);
    if (!err)
        err = s->ops->insert(s->be, rows, n);
    if (!err)
        err = s->ops->commit(s->be);
    if (err)
        s->ops->rollback(s->be);
    if (rows != &one)
        free(rows);
    return err;
}

/* The queue's commit function; also used for single synchronous appends. */
static void store_commit(void *ctx, struct hw_store_pending **v, size_t n)
{
    struct hw_store *s = ctx;
    int err;

    for (size_t i = 0; i < n; i++)
        crypto_hash_sha256(v[i]->ev.body_sha256, (const unsigned char *)v[i]->ev.body,
                           v[i]->ev.body_len);
    pthread_mutex_lock(&s->lock);
    err = insert_txn(s, v, n);
    /*
     * A MySQL deadlock or lock-wait timeout also comes back as "unavailable"
     * (the transaction was rolled back whole): one more try clears it. When
     * the database is really down the backend fails the retry at once.
     */
    if (err == HW_EUNAVAIL)
        err = insert_txn(s, v, n);
    if (err && err != HW_EUNAVAIL && n > 1) {
        /* One bad event must not fail the others: commit each on its own. */
        for (size_t i = 0; i < n; i++) {
            v[i]->err = insert_txn(s, v + i, 1);
            if (!v[i]->err)
                s->commits++;
        }
    } else {
        for (size_t i = 0; i < n; i++)
            v[i]->err = err;
        if (!err)
            s->commits++;
    }
    pthread_mutex_unlock(&s->lock);
    for (size_t i = 0; i < n; i++) {
        if (v[i]->err)
            s->failed++;
        else if (v[i]->res.duplicate)
            s->duplicates++;
        else
            s->appended++;
    }
}

static void store_thread(void *ctx, int starting)
{
    struct hw_store *s = ctx;

    if (starting && s->ops->thread_start)
        s->ops->thread_start();
    if (!starting && s->ops->thread_end)
        s->ops->thread_end();
}

static void make_owner(struct hw_store *s)
{
    char host[OWNER_MAX + 1] = "";
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
        struct hw_store_queue_cfg cfg = {
            .commit = store_commit,
            .thread = store_thread,
            .ctx = s,
            .wake = opts->wake,
            .wake_arg = opts->wake_arg,
            .max_items = opts->queue_max ? opts->queue_max : QUEUE_MAX_DEFAULT,
            .max_bytes = opts->queue_bytes_max ? opts->queue_bytes_max : QUEUE_BYTES_DEFAULT,
            .batch_items = BATCH_ITEMS,
            .batch_bytes = BATCH_BYTES,
        };
        err = hw_store_queue_new(&cfg, &s->queue);
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
    hw_store_queue_free(s->queue);
    s->ops->close(s->be);
    pthread_mutex_destroy(&s->lock);
    hw_store_url_cleanup(&s->url);
    free(s);
}

const char *hw_store_name(const struct hw_store *s)
{
    return s->url.name;
}

int hw_store_append(struct hw_store *s, const struct hw_store_event *ev,
                    struct hw_store_result *res)
{
    struct hw_store_pending p = { .ev = *ev };
    struct hw_store_pending *v = &p;
    int err = event_check(ev);

    if (err)
        return err;
    event_stamp(&p.ev);
    store_commit(s, &v, 1);
    if (!p.err)
        *res = p.res;
    return p.err;
}

int hw_store_append_async(struct hw_store *s, const struct hw_store_event *ev,
                          hw_store_append_cb cb, void *arg)
{
    struct hw_store_pending *p;
    int err = event_check(ev);

    if (err)
        return err;
    if (!s->queue || !cb)
        return HW_EINVAL;
    p = calloc(1, sizeof(*p));
    if (!p)
        return HW_ENOMEM;
    p->ev = *ev;
    event_stamp(&p->ev);
    p->copy = hw_store_event_build(&p->ev);
    if (!p->copy) {
        free(p);
        return HW_ENOMEM;
    }
    p->ev = *p->copy;
    p->bytes = p->ev.headers_len + p->ev.body_len + sizeof(*p);
    p->cb = cb;
    p->arg = arg;
    err = hw_store_queue_submit(s->queue, p);
    if (err) {
        hw_store_event_free(p->copy);
        free(p);
    }
    return err;
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
    pthread_mutex_lock(&s->lock);
    err = s->ops->get(s->be, id, out);
    pthread_mutex_unlock(&s->lock);
    return err;
}

int hw_store_list(struct hw_store *s, const struct hw_store_filter *f, struct hw_store_events *out)
{
    size_t limit = f->limit ? f->limit : LIST_LIMIT_DEFAULT;
    int err;

    memset(out, 0, sizeof(*out));
    if (limit > LIST_LIMIT_MAX || f->status < 0 || f->status > HW_STORE_FAILED || f->cursor < 0)
        return HW_EINVAL;
    pthread_mutex_lock(&s->lock);
    err = s->ops->list(s->be, f, limit, out);
    pthread_mutex_unlock(&s->lock);
    if (err) {
        hw_store_events_cleanup(out);
        return err;
    }
    out->next_cursor = out->n == limit ? out->v[out->n - 1]->seq : 0;
    return 0;
}

int hw_store_claim(struct hw_store *s, const char *source, int lease_ms, size_t max,
                   struct hw_store_events *out)
{
    int64_t now = hw_store_now_ms();
    int err;

    memset(out, 0, sizeof(*out));
    if (lease_ms <= 0 || max == 0 || max > CLAIM_MAX)
        return HW_EINVAL;
    pthread_mutex_lock(&s->lock);
    err = s->ops->claim(s->be, source, s->owner, now, now + lease_ms, max, out);
    pthread_mutex_unlock(&s->lock);
    if (err)
        hw_store_events_cleanup(out);
    return err;
}

int hw_store_record_attempt(struct hw_store *s, const char *id, const struct hw_store_attempt *a,
                            int new_status, int64_t next_attempt_ms)
{
    struct hw_store_attempt cut = *a;
    char error[HW_STORE_ERROR_MAX + 1];
    int err;

    if (!id || new_status < HW_STORE_PENDING || new_status > HW_STORE_FAILED ||
        (a->excerpt_len && !a->excerpt))
        return HW_EINVAL;
    snprintf(error, sizeof(error), "%s", a->error ? a->error : "");
    cut.error = error;
    if (!cut.excerpt)
        cut.excerpt = "";
    if (cut.excerpt_len > HW_STORE_EXCERPT_MAX)
        cut.excerpt_len = HW_STORE_EXCERPT_MAX;
    pthread_mutex_lock(&s->lock);
    err = s->ops->record_attempt(s->be, id, s->owner, &cut, new_status, next_attempt_ms);
    pthread_mutex_unlock(&s->lock);
    return err;
}

int hw_store_attempts(struct hw_store *s, const char *id, struct hw_store_attempts *out)
{
    int err;

    memset(out, 0, sizeof(*out));
    if (!id)
        return HW_EINVAL;
    pthread_mutex_lock(&s->lock);
    err = s->ops->attempts(s->be, id, out);
    pthread_mutex_unlock(&s->lock);
    if (err)
        hw_store_attempts_cleanup(out);
    return err;
}

int hw_store_requeue(struct hw_store *s, const char *id)
{
    int err;

    if (!id)
        return HW_EINVAL;
    pthread_mutex_lock(&s->lock);
    err = s->ops->requeue(s->be, id, hw_store_now_ms());
    pthread_mutex_unlock(&s->lock);
    return err;
}

int hw_store_purge(struct hw_store *s, int64_t before_ms, int flags, uint64_t *removed)
{
    uint64_t n = 0;
    int err;

    pthread_mutex_lock(&s->lock);
    err = s->ops->purge(s->be, before_ms, flags, &n);
    pthread_mutex_unlock(&s->lock);
    if (removed)
        *removed = err ? 0 : n;
    return err;
}

int hw_store_ping(struct hw_store *s)
{
    int err;

    pthread_mutex_lock(&s->lock);
    err = s->ops->ping(s->be);
    pthread_mutex_unlock(&s->lock);
    return err;
}

/* Channel names as the relay accepts them: [a-z0-9-]{1,63}. */
static int valid_channel(const char *c)
{
    return c && hw_text_channel_valid(c, strlen(c));
}

int hw_store_token_add(struct hw_store *s, const char *channel,
                       const unsigned char hash[HW_STORE_SHA256_LEN])
{
    int err;

    if (!valid_channel(channel))
        return HW_EINVAL;
    pthread_mutex_lock(&s->lock);
    err = s->ops->token_add(s->be, channel, hash, hw_store_now_ms());
    pthread_mutex_unlock(&s->lock);
    return err;
}

int hw_store_token_revoke(struct hw_store *s, const char *channel, unsigned *removed)
{
    unsigned n = 0;
    int err;

    if (!valid_name(channel))
        return HW_EINVAL;
    pthread_mutex_lock(&s->lock);
    err = s->ops->token_revoke(s->be, channel, &n);
    pthread_mutex_unlock(&s->lock);
    if (removed)
        *removed = n;
    return err ? err : n ? 0 : HW_ENOTFOUND;
}

int hw_store_token_lookup(struct hw_store *s, const unsigned char hash[HW_STORE_SHA256_LEN],
                          char channel[HW_STORE_NAME_MAX + 1])
{
    int err;

    pthread_mutex_lock(&s->lock);
    err = s->ops->token_lookup(s->be, hash, channel);
    pthread_mutex_unlock(&s->lock);
    return err;
}

int hw_store_token_list(struct hw_store *s, struct hw_store_token **out, size_t *n)
{
    int err;

    *out = NULL;
    *n = 0;
    pthread_mutex_lock(&s->lock);
    err = s->ops->token_list(s->be, out, n);
    pthread_mutex_unlock(&s->lock);
    if (err) {
        free(*out);
        *out = NULL;
        *n = 0;
    }
    return err;
}

void hw_store_stats(struct hw_store *s, struct hw_store_stats *out)
{
    out->appended = s->appended;
    out->duplicates = s->duplicates;
    out->failed = s->failed;
    out->commits = s->commits;
}

int hw_store_schema_version(struct hw_store *s, int *version)
{
    int err;

    pthread_mutex_lock(&s->lock);
    err = s->ops->schema_version(s->be, version);
    pthread_mutex_unlock(&s->lock);
    return err;
}
