/*
 * Retention by count of one source's history (hw_store_purge_excess()):
 * batches of the backend's purge_excess_batch, the handle's lock let go
 * between them so that appends and claims run in between. Any thread; see
 * store.h.
 */
#include <string.h>

#include "core/err.h"
#include "store.h"
#include "store_handle.h"

int hw_store_purge_excess(struct hw_store *s, const char *source, uint64_t keep, uint64_t *removed)
{
    uint64_t total = 0, n;
    int err = 0;

    if (removed)
        *removed = 0;
    if (!source || !source[0] || strlen(source) > HW_STORE_NAME_MAX || !keep)
        return HW_EINVAL;
    do {
        n = 0;
        hw_store_enter(s, &s->lock, s->be);
        err = hw_store_public_err(s, s->ops->purge_excess_batch(s->be, source, keep, &n));
        hw_store_leave(s, &s->lock, s->be);
        total += n;
    } while (!err && n);
    if (removed)
        *removed = total;
    return err;
}
