/*
 * The store's maintenance and token calls: requeue (replay), purge in
 * batches, the summary for the replay CLI and /metrics, and relay tokens,
 * synchronous or through the store thread. Argument checks and the
 * handle's lock around the backend, as in store.c. Any thread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/err.h"
#include "core/text.h"
#include "store.h"
#include "store_handle.h"

int hw_store_requeue(struct hw_store *s, const char *id, int flags)
{
    int err;

    if (!id || (flags & ~HW_STORE_REQUEUE_FORCE))
        return HW_EINVAL;
    hw_store_enter(s, &s->lock, s->be);
    err = hw_store_public_err(
        s, s->ops->requeue(s->be, id, hw_wall_ms(), !!(flags & HW_STORE_REQUEUE_FORCE)));
    hw_store_leave(s, &s->lock, s->be);
    return err;
}

int hw_store_requeue_failed(struct hw_store *s, const char *const *ids, size_t n,
                            uint64_t *requeued)
{
    uint64_t rows = 0;
    int err = 0;

    if (requeued)
        *requeued = 0;
    if (n > HW_STORE_REQUEUE_MANY_MAX || (n && !ids))
        return HW_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (!ids[i])
            return HW_EINVAL;
    if (n == 0)
        return 0;
    hw_store_enter(s, &s->lock, s->be);
    err = hw_store_public_err(s, s->ops->requeue_failed(s->be, ids, n, hw_wall_ms(), &rows));
    hw_store_leave(s, &s->lock, s->be);
    if (!err && requeued)
        *requeued = rows;
    return err;
}

int hw_store_purge(struct hw_store *s, int64_t before_ms, int flags, uint64_t *removed)
{
    const int all = HW_STORE_PURGE_PENDING | HW_STORE_PURGE_DELIVERED | HW_STORE_PURGE_FAILED;
    int st[3] = { 0, 0, 0 }, err = 0;
    uint64_t total = 0, n;

    if (removed)
        *removed = 0;
    if (flags & ~all)
        return HW_EINVAL;
    if (!(flags & (HW_STORE_PURGE_DELIVERED | HW_STORE_PURGE_FAILED)))
        flags |= HW_STORE_PURGE_DELIVERED | HW_STORE_PURGE_FAILED;
    if (flags & HW_STORE_PURGE_PENDING)
        st[0] = HW_STORE_PENDING;
    if (flags & HW_STORE_PURGE_DELIVERED)
        st[1] = HW_STORE_DELIVERED;
    if (flags & HW_STORE_PURGE_FAILED)
        st[2] = HW_STORE_FAILED;
    /* The lock is let go between batches: appends and claims run in between. */
    do {
        n = 0;
        hw_store_enter(s, &s->lock, s->be);
        err = hw_store_public_err(s, s->ops->purge_batch(s->be, before_ms, st, &n));
        hw_store_leave(s, &s->lock, s->be);
        total += err ? 0 : n;
    } while (!err && n == HW_STORE_PURGE_BATCH);
    if (removed)
        *removed = total;
    return err;
}

int hw_store_backlog(struct hw_store *s, const char *source, uint64_t *pending, int64_t *oldest_ms)
{
    int err;

    *pending = 0;
    *oldest_ms = 0;
    if (!source || !*source)
        return HW_EINVAL;
    hw_store_enter(s, &s->lock, s->be);
    err = hw_store_public_err(s, s->ops->backlog(s->be, source, pending, oldest_ms));
    hw_store_leave(s, &s->lock, s->be);
    return err;
}

int hw_store_summarize(struct hw_store *s, int64_t now_ms, struct hw_store_summary *out)
{
    uint64_t k[3], n = 0;
    int lat[3] = { 0, 0, 0 }, err;

    memset(out, 0, sizeof(*out));
    if (!now_ms)
        now_ms = hw_wall_ms();
    hw_store_enter(s, &s->lock, s->be);
    err = s->ops->summarize(s->be, now_ms, out);
    if (!err)
        err = s->ops->latency(s->be, now_ms - 3600 * 1000, &n, NULL, NULL, 0);
    if (!err && n) {
        /* Nearest-rank percentiles: the value at rank ceil(p * n), 1-based. */
        k[0] = (n * 50 + 99) / 100 - 1;
        k[1] = (n * 90 + 99) / 100 - 1;
        k[2] = (n * 99 + 99) / 100 - 1;
        err = s->ops->latency(s->be, now_ms - 3600 * 1000, &n, k, lat, 3);
    }
    err = hw_store_public_err(s, err);
    hw_store_leave(s, &s->lock, s->be);
    if (err) {
        hw_store_summary_cleanup(out);
        return err;
    }
    out->delivered_last_hour = n;
    out->latency_p50_ms = lat[0];
    out->latency_p90_ms = lat[1];
    out->latency_p99_ms = lat[2];
    return 0;
}

int hw_store_summary_count(struct hw_store_summary *sum, const char *source, int status,
                           uint64_t count)
{
    struct hw_store_source_counts *c;
    size_t i = 0;

    if (status < HW_STORE_PENDING || status > HW_STORE_FAILED)
        return 0;
    /* Rows ordered by source (the common case) end at the last entry or after it. */
    if (sum->nsources && strcmp(sum->sources[sum->nsources - 1].source, source) <= 0)
        i = sum->nsources - 1;
    while (i < sum->nsources && strcmp(sum->sources[i].source, source) < 0)
        i++;
    if (i == sum->nsources || strcmp(sum->sources[i].source, source) != 0) {
        if (sum->nsources == HW_STORE_SUMMARY_SOURCES)
            return 0;
        c = realloc(sum->sources, (sum->nsources + 1) * sizeof(*c));
        if (!c)
            return HW_ENOMEM;
        sum->sources = c;
        memmove(&c[i + 1], &c[i], (sum->nsources - i) * sizeof(*c));
        memset(&c[i], 0, sizeof(*c));
        snprintf(c[i].source, sizeof(c->source), "%.63s", source);
        sum->nsources++;
    }
    sum->sources[i].by_status[status] += count;
    return 0;
}

void hw_store_summary_cleanup(struct hw_store_summary *sum)
{
    free(sum->sources);
    memset(sum, 0, sizeof(*sum));
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
    hw_store_enter(s, &s->lock, s->be);
    err = hw_store_public_err(s, s->ops->token_add(s->be, channel, hash, hw_wall_ms()));
    hw_store_leave(s, &s->lock, s->be);
    return err;
}

int hw_store_token_revoke(struct hw_store *s, const char *channel, unsigned *removed)
{
    size_t len = channel ? strlen(channel) : 0;
    unsigned n = 0;
    int err;

    if (len < 1 || len > HW_STORE_NAME_MAX)
        return HW_EINVAL;
    hw_store_enter(s, &s->lock, s->be);
    err = hw_store_public_err(s, s->ops->token_revoke(s->be, channel, &n));
    hw_store_leave(s, &s->lock, s->be);
    if (removed)
        *removed = n;
    return err ? err : n ? 0 : HW_ENOTFOUND;
}

int hw_store_token_lookup(struct hw_store *s, const unsigned char hash[HW_STORE_SHA256_LEN],
                          char channel[HW_STORE_NAME_MAX + 1])
{
    int err;

    hw_store_enter(s, &s->lock, s->be);
    err = hw_store_public_err(s, s->ops->token_lookup(s->be, hash, channel));
    hw_store_leave(s, &s->lock, s->be);
    return err;
}

int hw_store_token_list(struct hw_store *s, struct hw_store_token **out, size_t *n)
{
    int err;

    *out = NULL;
    *n = 0;
    hw_store_enter(s, &s->lock, s->be);
    err = hw_store_public_err(s, s->ops->token_list(s->be, out, n));
    hw_store_leave(s, &s->lock, s->be);
    if (err) {
        free(*out);
        *out = NULL;
        *n = 0;
    }
    return err;
}

int hw_store_token_list_async(struct hw_store *s, hw_store_tokens_cb cb, void *arg)
{
    struct hw_store_pending *p;
    int err;

    if (!s->queue || !cb)
        return HW_EINVAL;
    p = calloc(1, sizeof(*p));
    if (!p)
        return HW_ENOMEM;
    p->tokens_cb = cb;
    p->arg = arg;
    p->bytes = sizeof(*p);
    err = hw_store_queue_submit(s->queue, p);
    if (err)
        free(p);
    return err;
}

int hw_store_job_async(struct hw_store *s, hw_store_job_fn fn, hw_store_job_cb cb, void *arg)
{
    struct hw_store_pending *p;
    int err;

    if (!s->queue || !fn || !cb)
        return HW_EINVAL;
    p = calloc(1, sizeof(*p));
    if (!p)
        return HW_ENOMEM;
    p->job_fn = fn;
    p->job_cb = cb;
    p->arg = arg;
    p->bytes = sizeof(*p);
    err = hw_store_queue_submit(s->queue, p);
    if (err)
        free(p);
    return err;
}
