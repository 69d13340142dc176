/*
 * Leases given back unused (hw_store_release()): the argument checks and
 * the one transaction around them (hw_store_fenced_locked(), in store.c,
 * as for recorded outcomes: run again lease by lease when one is refused,
 * and after a deadlock). Any thread; the handle's lock is held around the
 * transaction.
 */
#include <pthread.h>
#include <stdlib.h>

#include "core/err.h"
#include "store.h"
#include "store_backend.h"
#include "store_handle.h"

/* The leases of hw_store_release(), for hw_store_fenced_locked(). */
struct release_items {
    struct hw_store_lease *v;
    size_t n;
};

static int release_all(struct hw_store *s, void *arg, int64_t now_ms)
{
    struct release_items *r = arg;
    int err = s->ops->release_batch(s->be, now_ms, r->v, r->n);

    for (size_t i = 0; i < r->n && !err; i++)
        r->v[i].err = 0;
    return err;
}

static int release_item(struct hw_store *s, void *arg, size_t i, int64_t now_ms)
{
    struct hw_store_lease *l = &((struct release_items *)arg)->v[i];

    l->err = s->ops->release_one(s->be, l->id, l->lease, now_ms);
    return l->err;
}

/* Releases v[0..n) in one transaction, lock held. */
static int release_locked(struct hw_store *s, struct hw_store_lease *v, size_t n)
{
    struct release_items items = { v, n };
    struct hw_store_fenced f = {
        .batch = s->ops->release_batch ? release_all : NULL,
        .one = release_item,
        .arg = &items,
        .n = n,
    };

    return hw_store_fenced_locked(s, &f);
}

int hw_store_release(struct hw_store *s, struct hw_store_lease *v, size_t n)
{
    int err;

    for (size_t i = 0; i < n; i++)
        if (!v[i].id || v[i].lease < 0)
            return HW_EINVAL;
    if (!n)
        return 0;
    hw_store_enter(s, &s->lock, s->be);
    err = hw_store_public_err(s, release_locked(s, v, n));
    hw_store_leave(s, &s->lock, s->be);
    if (err)
        for (size_t i = 0; i < n; i++)
            v[i].err = err;
    return err;
}
