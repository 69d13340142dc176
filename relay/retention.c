/*
 * History retention: every minute (and soon after start) events older than
 * --retention that are finished (delivered or failed) are deleted, and with
 * --max-events every few seconds each channel's finished events beyond its
 * newest N, through the store thread, so the loop never waits on the purge.
 * Queued events are never purged: they are still owed to their agent.
 * Service thread, except purge_run (store thread, touching only its purge).
 */
#include "retention.h"

#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "queue.h"
#include "relay.h"
#include "store/store.h"

#define PURGE_EVERY_MS (60 * 1000)
#define FIRST_MS       (2 * 1000)
/* With --max-events: a busy channel outgrows N by at most this long's worth of webhooks. */
#define COUNT_EVERY_MS (5 * 1000)

struct purge {
    int64_t before_ms;
    uint64_t keep; /* --max-events, 0 for none */
    uint64_t removed, excess;
};

/* Each channel that has a token keeps its newest p->keep events. */
static int purge_excess(struct hw_store *s, struct purge *p)
{
    struct hw_store_token *t = NULL;
    size_t n = 0;
    int err = hw_store_token_list(s, &t, &n);

    /* Tokens come ordered by channel: each channel once. */
    for (size_t i = 0; i < n && !err; i++) {
        uint64_t k = 0;

        if (i && strcmp(t[i].channel, t[i - 1].channel) == 0)
            continue;
        err = hw_store_purge_excess(s, t[i].channel, p->keep, &k);
        p->excess += k;
    }
    free(t);
    return err;
}

static lws_sorted_usec_list_t timer;
static struct relay *owner;
static struct purge *inflight; /* queued or running on the store thread */

static int purge_run(struct hw_store *s, void *arg)
{
    struct purge *p = arg;
    int err = hw_store_purge(s, p->before_ms, HW_STORE_PURGE_DELIVERED | HW_STORE_PURGE_FAILED,
                             &p->removed);

    return err || !p->keep ? err : purge_excess(s, p);
}

static void purge_done(void *arg, int err)
{
    struct purge *p = arg;

    inflight = NULL;
    if (err)
        HW_WARN("retention: purge failed: %s (%llu removed)", hw_strerror(err),
                (unsigned long long)p->removed);
    if (p->removed)
        HW_INFO("retention: %llu events older than --retention removed",
                (unsigned long long)p->removed);
    if (p->excess)
        HW_INFO("retention: %llu events beyond --max-events removed",
                (unsigned long long)p->excess);
    free(p);
}

/*
 * Once a minute, or as often as the retention itself when it is shorter
 * (tests), and every COUNT_EVERY_MS with --max-events.
 */
static unsigned period_ms(void)
{
    unsigned r = owner->cfg.retention_ms;

    if (owner->cfg.max_events && r > COUNT_EVERY_MS)
        r = COUNT_EVERY_MS;
    return r >= PURGE_EVERY_MS ? PURGE_EVERY_MS : r < 1000 ? 1000 : r;
}

static void tick(lws_sorted_usec_list_t *sul)
{
    struct purge *p;

    if (!inflight && owner->store && (p = calloc(1, sizeof(*p)))) {
        p->before_ms = hw_wall_ms() - (int64_t)owner->cfg.retention_ms;
        p->keep = owner->cfg.max_events;
        if (hw_store_job_async(owner->store, purge_run, purge_done, p) == 0)
            inflight = p;
        else
            free(p);
    }
    lws_sul_schedule(owner->context, 0, &timer, tick, (lws_usec_t)period_ms() * 1000);
}

void relay_retention_start(struct relay *r)
{
    owner = r;
    lws_sul_schedule(r->context, 0, &timer, tick, (lws_usec_t)FIRST_MS * 1000);
}

void relay_retention_stop(struct relay *r)
{
    if (owner != r)
        return;
    lws_sul_cancel(&timer);
    /* A purge not started yet is not waited for at the stop (the next start purges). */
    if (inflight && r->store && hw_store_withdraw_job(r->store, purge_done, inflight) == 0) {
        free(inflight);
        inflight = NULL;
    }
}
