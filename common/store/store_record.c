/*
 * Delivery outcomes: one (hw_store_record_attempt) or many in one
 * transaction (hw_store_record_attempts), each fenced by its claim's lease.
 * Argument checks and cutting of the attempt's strings are shared. Any
 * thread; calls serialise on the handle's connection lock.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "store.h"
#include "store_backend.h"
#include "store_handle.h"

/* Checks an outcome's fields; the attempt's strings are cut later, with cut_attempt(). */
static int outcome_check(const char *id, const struct hw_store_attempt *a, int new_status)
{
    if (!id || !a || new_status < HW_STORE_PENDING || new_status > HW_STORE_FAILED ||
        (a->excerpt_len && !a->excerpt))
        return HW_EINVAL;
    return 0;
}

/* *cut gets a with its error (copied into error) and excerpt cut to the stored sizes. */
static void cut_attempt(const struct hw_store_attempt *a, struct hw_store_attempt *cut,
                        char error[HW_STORE_ERROR_MAX + 1])
{
    *cut = *a;
    snprintf(error, HW_STORE_ERROR_MAX + 1, "%s", a->error ? a->error : "");
    cut->error = error;
    if (!cut->excerpt)
        cut->excerpt = "";
    if (cut->excerpt_len > HW_STORE_EXCERPT_MAX)
        cut->excerpt_len = HW_STORE_EXCERPT_MAX;
}

/* By event id, so that concurrent batches on one database take their row locks alike. */
static int outcome_cmp(const void *pa, const void *pb)
{
    return strcmp((*(struct hw_store_outcome *const *)pa)->id,
                  (*(struct hw_store_outcome *const *)pb)->id);
}

/*
 * Runs the checked outcomes o[0..n), their attempts cut into cut[0..n), in
 * one transaction (lock held). many: in a few statements where the backend
 * can (HW_ELEASE then means "go one by one"); else one by one, where a
 * fenced refusal is the outcome's own. Any other error rolls back.
 */
static int record_txn(struct hw_store *s, struct hw_store_outcome **o,
                      const struct hw_store_attempt *cut, size_t n, int many)
{
    int64_t now = hw_store_now_ms();
    int err = s->ops->begin(s->be);

    if (!err && many) {
        err = s->ops->record_many(s->be, (const struct hw_store_outcome *const *)o, cut, n, now);
        for (size_t i = 0; i < n && !err; i++)
            o[i]->err = 0;
    }
    for (size_t i = 0; i < n && !err && !many; i++) {
        o[i]->err = s->ops->record_one(s->be, o[i]->id, o[i]->lease, now, &cut[i], o[i]->new_status,
                                       o[i]->next_attempt_ms);
        if (o[i]->err != HW_ELEASE && o[i]->err != HW_ENOTFOUND)
            err = o[i]->err;
    }
    if (!err)
        err = s->ops->commit(s->be);
    if (err)
        s->ops->rollback(s->be);
    return err;
}

int hw_store_record_attempt(struct hw_store *s, const char *id, int64_t lease,
                            const struct hw_store_attempt *a, int new_status,
                            int64_t next_attempt_ms)
{
    struct hw_store_attempt cut;
    char error[HW_STORE_ERROR_MAX + 1];
    int err = outcome_check(id, a, new_status);

    if (err)
        return err;
    cut_attempt(a, &cut, error);
    pthread_mutex_lock(&s->lock);
    err = hw_store_public_err(s, s->ops->record_attempt(s->be, id, lease, hw_store_now_ms(), &cut,
                                                        new_status, next_attempt_ms));
    pthread_mutex_unlock(&s->lock);
    return err;
}

int hw_store_record_attempts(struct hw_store *s, struct hw_store_outcome *v, size_t n)
{
    struct hw_store_outcome **o;
    struct hw_store_attempt *cut;
    char(*errors)[HW_STORE_ERROR_MAX + 1];
    size_t k = 0;
    int err = 0, tries = 0, many;

    if (n == 0 || n > HW_STORE_RECORD_MAX)
        return HW_EINVAL;
    o = calloc(n, sizeof(*o));
    cut = calloc(n, sizeof(*cut));
    errors = malloc(n * sizeof(*errors));
    if (!o || !cut || !errors) {
        for (size_t i = 0; i < n; i++)
            v[i].err = HW_ENOMEM;
        err = HW_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        v[i].err = outcome_check(v[i].id, v[i].a, v[i].new_status);
        if (!v[i].err)
            o[k++] = &v[i];
    }
    qsort(o, k, sizeof(*o), outcome_cmp);
    for (size_t i = 0; i < k; i++)
        cut_attempt(o[i]->a, &cut[i], errors[i]);
    many = s->ops->record_many && k > 1;
    pthread_mutex_lock(&s->lock);
    while (k) {
        err = record_txn(s, o, cut, k, many);
        if (err == HW_ELEASE && many) {
            many = 0; /* a stale outcome in the batch: each gets its own verdict */
            continue;
        }
        if (err != HW_STORE_ERETRY || ++tries >= HW_STORE_DEADLOCK_TRIES)
            break;
        hw_store_deadlock_pause();
    }
    err = hw_store_public_err(s, err);
    pthread_mutex_unlock(&s->lock);
    for (size_t i = 0; err && i < k; i++)
        o[i]->err = err;
out:
    free(o);
    free(cut);
    free(errors);
    return err;
}
