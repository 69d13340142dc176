/*
 * The group-commit queue (see store_queue.h). Owns the store thread, the
 * queue of appends waiting for a commit and the list of finished appends
 * waiting for their owner to poll. One mutex guards both lists; the commit
 * itself runs without it, so submitters never wait for the disk.
 */
#include "store_queue.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "core/err.h"

struct hw_store_queue {
    struct hw_store_queue_cfg cfg;
    pthread_mutex_t lock;
    pthread_cond_t work;                        /* signalled when an append is queued or on stop */
    struct hw_store_pending *head, **tail;      /* waiting for a commit */
    struct hw_store_pending *done, **done_tail; /* committed, waiting for a poll */
    size_t items;                               /* queued plus unpolled */
    size_t bytes;                               /* queued */
    int stopping;
    struct hw_store_pending **batch; /* cfg.batch_items slots, used by the thread */
    pthread_t thread;
};

/* Takes the next batch off the queue; the caller holds the lock and the queue is not empty. */
static size_t queue_take(struct hw_store_queue *q, size_t *bytes)
{
    size_t n = 0;

    *bytes = 0;
    while (q->head && n < q->cfg.batch_items &&
           (n == 0 || *bytes + q->head->bytes <= q->cfg.batch_bytes)) {
        struct hw_store_pending *p = q->head;
        q->head = p->next;
        p->next = NULL;
        q->batch[n++] = p;
        *bytes += p->bytes;
    }
    if (!q->head)
        q->tail = &q->head;
    return n;
}

static void *queue_main(void *arg)
{
    struct hw_store_queue *q = arg;

    if (q->cfg.thread)
        q->cfg.thread(q->cfg.ctx, 1);
    pthread_mutex_lock(&q->lock);
    for (;;) {
        size_t n, bytes;

        while (!q->head && !q->stopping)
            pthread_cond_wait(&q->work, &q->lock);
        if (!q->head)
            break;
        n = queue_take(q, &bytes);
        pthread_mutex_unlock(&q->lock);

        q->cfg.commit(q->cfg.ctx, q->batch, n);
        /* The event copies are not needed past the commit; free them before the poll. */
        for (size_t i = 0; i < n; i++) {
            hw_store_event_free(q->batch[i]->copy);
            q->batch[i]->copy = NULL;
        }

        pthread_mutex_lock(&q->lock);
        q->bytes -= bytes;
        for (size_t i = 0; i < n; i++) {
            *q->done_tail = q->batch[i];
            q->done_tail = &q->batch[i]->next;
        }
        pthread_mutex_unlock(&q->lock);
        if (q->cfg.wake)
            q->cfg.wake(q->cfg.wake_arg);
        pthread_mutex_lock(&q->lock);
    }
    pthread_mutex_unlock(&q->lock);
    if (q->cfg.thread)
        q->cfg.thread(q->cfg.ctx, 0);
    return NULL;
}

int hw_store_queue_new(const struct hw_store_queue_cfg *cfg, struct hw_store_queue **out)
{
    struct hw_store_queue *q = calloc(1, sizeof(*q));
    int err;

    if (!q)
        return HW_ENOMEM;
    q->cfg = *cfg;
    q->tail = &q->head;
    q->done_tail = &q->done;
    q->batch = calloc(cfg->batch_items, sizeof(*q->batch));
    if (!q->batch) {
        err = HW_ENOMEM;
        goto fail_batch;
    }
    pthread_mutex_init(&q->lock, NULL);
    pthread_cond_init(&q->work, NULL);
    err = pthread_create(&q->thread, NULL, queue_main, q);
    if (err) {
        err = -err;
        goto fail_thread;
    }
    *out = q;
    return 0;

fail_thread:
    pthread_cond_destroy(&q->work);
    pthread_mutex_destroy(&q->lock);
    free(q->batch);
fail_batch:
    free(q);
    return err;
}

int hw_store_queue_submit(struct hw_store_queue *q, struct hw_store_pending *p)
{
    pthread_mutex_lock(&q->lock);
    if (q->stopping) {
        /* Closing: the thread may be gone, so nothing queued now would ever commit. */
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
    pthread_cond_signal(&q->work);
    pthread_mutex_unlock(&q->lock);
    return 0;
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
            p->cb(p->arg, p->err,
                  !p->err || (p->err == HW_EUNAVAIL && p->res.id[0]) ? &p->res : NULL);
        free(p);
        n++;
    }
    return n;
}

void hw_store_queue_free(struct hw_store_queue *q)
{
    if (!q)
        return;
    pthread_mutex_lock(&q->lock);
    q->stopping = 1;
    pthread_cond_signal(&q->work);
    pthread_mutex_unlock(&q->lock);
    pthread_join(q->thread, NULL);
    hw_store_queue_poll(q);
    pthread_cond_destroy(&q->work);
    pthread_mutex_destroy(&q->lock);
    free(q->batch);
    free(q);
}
