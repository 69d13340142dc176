/*
 * purge and stats: the store's housekeeping views. purge deletes delivered
 * and failed events received before a time (the store works in
 * transactions of 1000); --dry-run counts them in pages. stats prints the
 * store's summary. Main thread.
 */
#include <string.h>

#include "commands.h"
#include "core/clock.h"
#include "core/err.h"
#include "db.h"
#include "json.h"
#include "progress.h"
#include "stop.h"
#include "table.h"
#include "when.h"

/* Counts events of one status received before before_ms, page by page. */
static int count_before(struct replay_opts *o, int status, int64_t before_ms,
                        struct replay_progress *bar, uint64_t *n)
{
    struct hw_store_filter f;
    int err = 0;

    memset(&f, 0, sizeof(f));
    f.status = status;
    f.until_ms = before_ms;
    f.limit = 1000;
    do {
        struct hw_store_events page = { 0 };

        if (replay_stop_requested())
            return HW_EAGAIN;
        err = hw_store_list(o->st, &f, &page);
        *n += err ? 0 : page.n;
        f.cursor = err ? 0 : page.next_cursor;
        hw_store_events_cleanup(&page);
        replay_progress_update(bar, *n);
    } while (!err && f.cursor);
    return err;
}

int replay_cmd_purge(const struct replay_cmd *cmd, struct replay_opts *o)
{
    struct replay_progress bar;
    char when[32];
    uint64_t n = 0;
    int flags = 0, err = 0;

    if (o->nargs || !o->before_ms || o->status == HW_STORE_PENDING) {
        replay_fail("purge: %s (see hookwire-replay purge --help)",
                    o->nargs                        ? "unexpected argument"
                    : o->status == HW_STORE_PENDING ? "pending events are never purged"
                                                    : "--before AGE is required");
        return REPLAY_EXIT_USAGE;
    }
    if (o->status == HW_STORE_DELIVERED)
        flags = HW_STORE_PURGE_DELIVERED;
    else if (o->status == HW_STORE_FAILED)
        flags = HW_STORE_PURGE_FAILED;
    replay_when_format(o->before_ms, when, sizeof(when));
    if (replay_stop_hold() < 0)
        return replay_db_fail(o, HW_EINVAL, "purge: cannot hold back Ctrl-C");
    if (o->dry_run) {
        replay_progress_start(&bar, "counting", 0);
        if (flags != HW_STORE_PURGE_FAILED)
            err = count_before(o, HW_STORE_DELIVERED, o->before_ms, &bar, &n);
        if (!err && flags != HW_STORE_PURGE_DELIVERED)
            err = count_before(o, HW_STORE_FAILED, o->before_ms, &bar, &n);
        replay_progress_end(&bar);
        if (err == HW_EAGAIN) {
            replay_fail("purge: interrupted while counting; nothing changed");
            return REPLAY_EXIT_ERR;
        }
        if (err)
            return replay_db_fail(o, err, "purge");
        printf("dry run: %llu event%s received before %s UTC would be purged; nothing changed\n",
               (unsigned long long)n, n == 1 ? "" : "s", when);
        return REPLAY_EXIT_OK;
    }
    /*
     * The store deletes in transactions of 1000 and lets its lock go between
     * them; Ctrl-C is held back until it returns, so the count printed is
     * exactly what went.
     */
    err = hw_store_purge(o->st, o->before_ms, flags, &n);
    printf("purged %llu event%s received before %s UTC\n", (unsigned long long)n, n == 1 ? "" : "s",
           when);
    fflush(stdout);
    (void)cmd;
    return err ? replay_db_fail(o, err, "purge") : REPLAY_EXIT_OK;
}

static void print_summary(const struct hw_store_summary *sum, const char *name, int schema)
{
    uint64_t total = 0;
    char when[32], span[32];

    for (int s = HW_STORE_PENDING; s <= HW_STORE_FAILED; s++)
        total += sum->by_status[s];
    printf("store        %s (schema version %d)\nevents       %llu\n", name, schema,
           (unsigned long long)total);
    for (int s = HW_STORE_PENDING; s <= HW_STORE_FAILED; s++)
        printf("  %-10s %llu\n", hw_store_status_name(s), (unsigned long long)sum->by_status[s]);
    if (sum->oldest_pending_ms) {
        replay_when_format(sum->oldest_pending_ms, when, sizeof(when));
        replay_when_span(hw_wall_ms() - sum->oldest_pending_ms, span, sizeof(span));
        printf("oldest pending received %s UTC (%s ago)\n", when, span);
    }
    printf("last hour    %llu received now failed; %llu delivered",
           (unsigned long long)sum->failed_last_hour, (unsigned long long)sum->delivered_last_hour);
    if (sum->delivered_last_hour)
        printf(", latency p50 %d ms, p90 %d ms, p99 %d ms", sum->latency_p50_ms,
               sum->latency_p90_ms, sum->latency_p99_ms);
    printf("\n");
    if (!sum->nsources)
        return;
    printf("by source    %-20s %10s %10s %10s\n", "", "pending", "delivered", "failed");
    for (size_t i = 0; i < sum->nsources; i++) {
        const struct hw_store_source_counts *c = &sum->sources[i];
        char clean[1024];

        printf("             %-20s %10llu %10llu %10llu\n",
               replay_clean(c->source, clean, sizeof(clean)),
               (unsigned long long)c->by_status[HW_STORE_PENDING],
               (unsigned long long)c->by_status[HW_STORE_DELIVERED],
               (unsigned long long)c->by_status[HW_STORE_FAILED]);
    }
}

int replay_cmd_stats(const struct replay_cmd *cmd, struct replay_opts *o)
{
    struct hw_store_summary sum;
    int schema = 0, err;

    if (o->nargs) {
        replay_fail("stats: unexpected argument %s (see hookwire-replay stats --help)", o->args[0]);
        return REPLAY_EXIT_USAGE;
    }
    err = hw_store_schema_version(o->st, &schema);
    err = err ? err : hw_store_summarize(o->st, 0, &sum);
    if (err)
        return replay_db_fail(o, err, "stats");
    if (o->json)
        replay_json_summary(stdout, &sum, schema);
    else
        print_summary(&sum, hw_store_name(o->st), schema);
    hw_store_summary_cleanup(&sum);
    (void)cmd;
    return fflush(stdout) == 0 ? REPLAY_EXIT_OK : REPLAY_EXIT_ERR;
}
