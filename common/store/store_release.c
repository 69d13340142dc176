/*
 * Leases given back unused (hw_store_release()): the argument checks and
 * the one transaction around them, run again lease by lease when one is
 * refused and after a deadlock, as for recorded outcomes. Any thread; the
 * handle's lock is held around the transaction.
 */
#include <pthread.h>
#include <stdlib.h>

#include "core/clock.h"
#include "core/err.h"
#include "store.h"
#include "store_backend.h"
#include "store_handle.h"

/*
 * Releases v[0..n) in one transaction, lock held: in a few statements
 * when batch is set, else lease by lease, where a fenced refusal is that
 * lease's own. Any other error rolls back.
 */
static int release_txn(struct hw_store *s, struct hw_store_lease *v, size_t n, int batch)
{
    int64_t now = hw_wall_ms();
    int err = s->ops->begin(s->be);

    if (!err && batch)
        err = s->ops->release_batch(s->be, now, v, n);
    for (size_t i = 0; i < n && !err; i++) {
        v[i].err = batch ? 0 : s->ops->release_one(s->be, v[i].id, v[i].lease, now);
        if (v[i].err != HW_ELEASE && v[i].err != HW_ENOTFOUND)
            err = v[i].err;
    }
    if (!err)
        err = s->ops->commit(s->be);
    if (err)
        s->ops->rollback(s->be);
    return err;
}

/* release_txn() with its retries, as record_locked() in store.c does for outcomes. */
static int release_locked(struct hw_store *s, struct hw_store_lease *v, size_t n)
{
    int batch = n > 1 && s->ops->release_batch, deadlocks = 0, err;

    for (;;) {
        err = release_txn(s, v, n, batch);
        if (err == HW_ELEASE && batch) {
            batch = 0; /* each lease gets its own verdict */
            continue;
        }
        if (err != HW_STORE_ERETRY || ++deadlocks >= HW_STORE_DEADLOCK_TRIES)
            return err;
        hw_store_deadlock_pause();
    }
}

int hw_store_release(struct hw_store *s, struct hw_store_lease *v, size_t n)
{
    int err;

    for (size_t i = 0; i < n; i++)
        if (!v[i].id || v[i].lease < 0)
            return HW_EINVAL;
    if (!n)
        return 0;
    pthread_mutex_lock(&s->lock);
    err = hw_store_public_err(s, release_locked(s, v, n));
    pthread_mutex_unlock(&s->lock);
    if (err)
        for (size_t i = 0; i < n; i++)
            v[i].err = err;
    return err;
}
