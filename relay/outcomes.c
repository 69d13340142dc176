/*
 * Batched outcome writes (see outcomes.h). Owns the gathered outcomes and
 * the batch in flight. Service thread, except record_job, which runs on the
 * store thread and touches only its batch.
 */
#include "outcomes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/log.h"
#include "relay.h"

/* One outcome, owning its strings. */
struct outcome {
    char id[HW_ID_LEN + 1];
    struct hw_store_attempt a;
    char error[HW_STORE_ERROR_MAX + 1];
    char excerpt[HW_STORE_EXCERPT_MAX];
    int status;
};

struct relay_outcomes {
    struct relay *r;
    struct outcome **v; /* gathered while a write is in flight */
    size_t n, cap;
    int writing;
};

/* One write: the outcomes it took, and the store's view of them. */
struct batch {
    struct relay_outcomes *owner;
    struct outcome **v;
    size_t n;
    struct hw_store_outcome *rec;
};

struct relay_outcomes *relay_outcomes_new(struct relay *r)
{
    struct relay_outcomes *o = calloc(1, sizeof(*o));

    if (o)
        o->r = r;
    return o;
}

void relay_outcomes_free(struct relay_outcomes *o)
{
    if (!o)
        return;
    for (size_t i = 0; i < o->n; i++)
        free(o->v[i]);
    free(o->v);
    free(o);
}

static int record_job(struct hw_store *s, void *arg)
{
    struct batch *b = arg;

    b->rec = calloc(b->n, sizeof(*b->rec));
    if (!b->rec)
        return HW_ENOMEM;
    for (size_t i = 0; i < b->n; i++) {
        b->rec[i].id = b->v[i]->id;
        b->rec[i].lease = HW_STORE_NO_LEASE;
        b->rec[i].attempt = b->v[i]->a;
        b->rec[i].status = b->v[i]->status;
    }
    return hw_store_record_attempts(s, b->rec, b->n);
}

static void batch_free(struct batch *b)
{
    for (size_t i = 0; i < b->n; i++)
        free(b->v[i]);
    free(b->rec);
    free(b->v);
    free(b);
}

static void record_done(void *arg, int err)
{
    struct batch *b = arg;
    struct relay_outcomes *o = b->owner;

    for (size_t i = 0; i < b->n; i++) {
        int e = err ? err : b->rec[i].err;

        /* HW_ENOTFOUND: the webhook's own append failed, and was logged then. */
        if (e && e != HW_ENOTFOUND)
            HW_WARN("evt=%s cannot record the delivery outcome: %s", b->v[i]->id, hw_strerror(e));
    }
    batch_free(b);
    o->writing = 0;
    relay_outcomes_flush(o);
}

void relay_outcomes_flush(struct relay_outcomes *o)
{
    struct batch *b;

    if (o->writing || !o->n || !o->r->store)
        return;
    b = calloc(1, sizeof(*b));
    if (!b)
        return; /* tried again with the next outcome */
    b->owner = o;
    b->v = o->v;
    b->n = o->n;
    o->v = NULL;
    o->n = o->cap = 0;
    if (hw_store_job_async(o->r->store, record_job, record_done, b)) {
        HW_ERR("cannot queue %zu delivery outcomes for the store: those events are delivered "
               "again",
               b->n);
        batch_free(b);
        return;
    }
    o->writing = 1;
}

int relay_outcomes_idle(const struct relay_outcomes *o)
{
    return !o || (!o->writing && !o->n);
}

int relay_outcomes_holds(const struct relay_outcomes *o, const char *id)
{
    for (size_t i = 0; o && i < o->n; i++)
        if (strcmp(o->v[i]->id, id) == 0)
            return 1;
    return 0;
}

void relay_outcomes_add(struct relay_outcomes *o, const char *id, const struct hw_store_attempt *a,
                        int status)
{
    struct outcome *x = calloc(1, sizeof(*x));

    if (x && o->n == o->cap) {
        size_t cap = o->cap ? 2 * o->cap : 64;
        struct outcome **v = realloc(o->v, cap * sizeof(*v));

        if (v) {
            o->v = v;
            o->cap = cap;
        }
    }
    if (!x || o->n == o->cap) {
        HW_ERR("evt=%s out of memory recording an attempt", id);
        free(x);
        return;
    }
    snprintf(x->id, sizeof(x->id), "%s", id);
    snprintf(x->error, sizeof(x->error), "%s", a->error ? a->error : "");
    x->a = *a;
    x->a.error = x->error;
    x->a.excerpt_len = a->excerpt_len < sizeof(x->excerpt) ? a->excerpt_len : sizeof(x->excerpt);
    if (x->a.excerpt_len)
        memcpy(x->excerpt, a->excerpt, x->a.excerpt_len);
    x->a.excerpt = x->excerpt;
    x->status = status;
    o->v[o->n++] = x;
    relay_outcomes_flush(o);
}
