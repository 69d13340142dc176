/*
 * retry: requeue events for the running receivers (next attempt now,
 * attempt count kept). By id one at a time, or every failed event matching
 * the filters in pages of 1000, each page in one store transaction that
 * touches only the page's events still failed (another run may have
 * requeued some since the listing, and a receiver be delivering them), with
 * a progress bar and Ctrl-C between pages. Main thread.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/id.h"
#include "db.h"
#include "progress.h"
#include "stop.h"
#include "table.h"

#define PAGE 1000

/*
 * Whether id is pending under a live lease: a delivery of it is under way
 * now, and a requeue (which cancels the lease) would send it a second time
 * alongside. Says so; --force requeues anyway.
 */
static int being_delivered(struct replay_opts *o, const char *id)
{
    struct hw_store_event *ev = NULL;
    int busy;

    if (hw_store_get(o->st, id, &ev) != 0)
        return 0; /* the requeue says what is wrong */
    busy = ev->status == HW_STORE_PENDING && ev->lease_until_ms > hw_wall_ms();
    if (busy)
        replay_fail("retry: %s is being delivered now (its lease runs %lld s more): a retry would "
                    "send it again alongside; wait for its outcome, or --force",
                    id, (long long)((ev->lease_until_ms - hw_wall_ms() + 999) / 1000));
    hw_store_event_free(ev);
    return busy;
}

static int retry_ids(struct replay_opts *o)
{
    int flags = o->force ? HW_STORE_REQUEUE_FORCE : 0, rc = REPLAY_EXIT_OK;

    for (int i = 0; i < o->nargs; i++) {
        if (!hw_id_valid(o->args[i])) {
            char clean[160];

            replay_fail("retry: not an event id: %s (see hookwire-replay retry --help)",
                        replay_clean(o->args[i], clean, sizeof(clean)));
            return REPLAY_EXIT_USAGE;
        }
    }
    for (int i = 0; i < o->nargs; i++) {
        const char *id = o->args[i];
        int err, dup = 0;

        for (int j = 0; j < i; j++)
            dup |= strcmp(o->args[j], id) == 0;
        if (dup)
            continue; /* one requeue per event */
        if (!o->force && being_delivered(o, id)) {
            rc = REPLAY_EXIT_ERR;
            continue;
        }
        err = hw_store_requeue(o->st, id, flags);

        if (err == 0)
            printf("requeued %s\n", id);
        else if (err == HW_ENOTFOUND)
            replay_fail("retry: no event %s in %s", id, hw_store_name(o->st));
        else if (err == HW_EEXIST)
            replay_fail("retry: %s was delivered; --force sends it again", id);
        else
            rc = replay_db_fail(o, err, "retry");
        if (err)
            rc = REPLAY_EXIT_ERR;
        if (err && err != HW_ENOTFOUND && err != HW_EEXIST)
            break;
    }
    return rc;
}

/* How many failed events a progress bar expects: known only without time or path filters. */
static uint64_t expected(struct replay_opts *o)
{
    struct hw_store_summary sum;
    uint64_t n = 0;

    if (o->since_ms || o->until_ms || o->path || hw_store_summarize(o->st, 0, &sum) < 0)
        return 0;
    if (!o->source)
        n = sum.by_status[HW_STORE_FAILED];
    for (size_t i = 0; o->source && i < sum.nsources; i++)
        if (!strcmp(sum.sources[i].source, o->source))
            n = sum.sources[i].by_status[HW_STORE_FAILED];
    hw_store_summary_cleanup(&sum);
    return n;
}

static int retry_failed(struct replay_opts *o)
{
    struct hw_store_filter f;
    struct replay_progress bar;
    struct replay_table t;
    const char *ids[PAGE];
    uint64_t done = 0, seen = 0;
    size_t unsure = 0; /* the page whose requeue failed: its commit's answer may be what was lost */
    int err = 0, stopped = 0;

    replay_filter_from(o, &f);
    f.status = HW_STORE_FAILED;
    f.limit = PAGE;
    if (o->dry_run)
        replay_table_init(&t, stdout);
    if (replay_stop_hold() < 0)
        return replay_db_fail(o, HW_EINVAL, "retry: cannot hold back Ctrl-C");
    replay_progress_start(&bar, o->dry_run ? "counting" : "requeueing",
                          isatty(STDERR_FILENO) ? expected(o) : 0);
    for (;;) {
        struct hw_store_events page = { 0 };
        uint64_t n = 0;

        if (replay_stop_requested()) {
            stopped = 1;
            break;
        }
        err = hw_store_list(o->st, &f, &page);
        if (err || page.n == 0) {
            hw_store_events_cleanup(&page);
            break;
        }
        for (size_t i = 0; i < page.n; i++) {
            ids[i] = page.v[i]->id;
            if (o->dry_run)
                replay_table_row(&t, page.v[i]);
        }
        if (!o->dry_run)
            err = hw_store_requeue_failed(o->st, ids, page.n, &n);
        if (err)
            unsure = page.n;
        seen += page.n;
        done += n;
        f.cursor = page.next_cursor;
        hw_store_events_cleanup(&page);
        replay_progress_update(&bar, o->dry_run ? seen : done);
        if (err || !f.cursor)
            break;
    }
    replay_progress_end(&bar);
    if (o->dry_run) {
        replay_table_end(&t, 0);
        printf("dry run: %llu failed event%s would be requeued; nothing changed\n",
               (unsigned long long)seen, seen == 1 ? "" : "s");
    } else if (unsure) {
        printf("requeued %llu failed event%s, and perhaps the %zu of the page the database did "
               "not confirm: hookwire-replay list --status failed shows what is left\n",
               (unsigned long long)done, done == 1 ? "" : "s", unsure);
    } else {
        printf("requeued %llu failed event%s\n", (unsigned long long)done, done == 1 ? "" : "s");
    }
    fflush(stdout);
    if (err)
        return replay_db_fail(o, err, "retry");
    if (stopped) {
        replay_fail("retry: interrupted: %llu event%s %s, the rest untouched",
                    (unsigned long long)(o->dry_run ? seen : done),
                    (o->dry_run ? seen : done) == 1 ? "" : "s",
                    o->dry_run ? "counted" : "requeued");
        return REPLAY_EXIT_ERR;
    }
    return REPLAY_EXIT_OK;
}

int replay_cmd_retry(const struct replay_cmd *cmd, struct replay_opts *o)
{
    int filtered = o->source || o->since_ms || o->until_ms || o->path;

    if (o->failed && o->nargs) {
        replay_fail("retry: event ids or --failed, not both (see hookwire-replay retry --help)");
        return REPLAY_EXIT_USAGE;
    }
    if (!o->failed && !o->nargs) {
        replay_fail("retry: which events? give ids or --failed (see hookwire-replay retry --help)");
        return REPLAY_EXIT_USAGE;
    }
    if (o->failed && o->force) {
        replay_fail("retry: --force goes with ids: --failed requeues only events still failed "
                    "(see hookwire-replay retry --help)");
        return REPLAY_EXIT_USAGE;
    }
    if (!o->failed && (filtered || o->dry_run)) {
        replay_fail("retry: filters and --dry-run go with --failed (see hookwire-replay retry "
                    "--help)");
        return REPLAY_EXIT_USAGE;
    }
    (void)cmd;
    return o->failed ? retry_failed(o) : retry_ids(o);
}
