/*
 * list and show: reading the store. list streams pages of up to 1000
 * events (bounded memory whatever --limit is) into the table or JSON
 * lines; show prints one event, or writes its raw body. Main thread.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "core/err.h"
#include "core/id.h"
#include "core/text.h"
#include "db.h"
#include "json.h"
#include "table.h"

#define PAGE_MAX 1000

void replay_filter_from(const struct replay_opts *o, struct hw_store_filter *f)
{
    memset(f, 0, sizeof(*f));
    f->status = o->status > 0 ? o->status : 0;
    f->source = o->source;
    f->since_ms = o->since_ms;
    f->until_ms = o->until_ms;
    f->path = o->path;
}

int replay_cmd_list(const struct replay_cmd *cmd, struct replay_opts *o)
{
    struct hw_store_filter f;
    struct replay_table t;
    long want = o->limit < 0 ? 50 : o->limit, shown = 0;
    int more = 0, err = 0;

    if (o->nargs) {
        replay_fail("list: unexpected argument %s (see hookwire-replay list --help)", o->args[0]);
        return REPLAY_EXIT_USAGE;
    }
    replay_filter_from(o, &f);
    replay_table_init(&t, stdout);
    for (;;) {
        struct hw_store_events page = { 0 };
        long left = want ? want - shown : PAGE_MAX;

        f.limit = (size_t)(left < PAGE_MAX ? left : PAGE_MAX);
        err = hw_store_list(o->st, &f, &page);
        if (err)
            break;
        for (size_t i = 0; i < page.n; i++) {
            if (o->json)
                replay_json_event(stdout, page.v[i]);
            else
                replay_table_row(&t, page.v[i]);
        }
        shown += (long)page.n;
        f.cursor = page.next_cursor;
        hw_store_events_cleanup(&page);
        if (!f.cursor)
            break;
        if (want && shown >= want) {
            more = 1;
            break;
        }
    }
    if (err)
        return replay_db_fail(o, err, "list");
    if (!o->json)
        replay_table_end(&t, more);
    (void)cmd;
    return fflush(stdout) == 0 ? REPLAY_EXIT_OK : REPLAY_EXIT_ERR;
}

static int write_body(const struct hw_store_event *ev)
{
    size_t off = 0;

    if (isatty(STDOUT_FILENO) && hw_text_binary(ev->body, ev->body_len)) {
        replay_fail("show: the body of %s is binary (%zu bytes): redirect stdout, e.g. "
                    "hookwire-replay show %s --body > body.bin",
                    ev->id, ev->body_len, ev->id);
        return REPLAY_EXIT_ERR;
    }
    /* Straight to the descriptor: nothing may add, convert or buffer bytes. */
    while (off < ev->body_len) {
        ssize_t n = write(STDOUT_FILENO, ev->body + off, ev->body_len - off);

        if (n < 0) {
            replay_fail("show: writing the body: %s", hw_strerror(-errno));
            return REPLAY_EXIT_ERR;
        }
        off += (size_t)n;
    }
    return REPLAY_EXIT_OK;
}

int replay_one_id(const struct replay_cmd *cmd, const struct replay_opts *o)
{
    if (o->nargs != 1) {
        replay_fail("%s: %s (see hookwire-replay %s --help)", cmd->name,
                    o->nargs ? "one event id only" : "which event? give its id (evt_...)",
                    cmd->name);
        return REPLAY_EXIT_USAGE;
    }
    if (!hw_id_valid(o->args[0])) {
        char clean[160];

        replay_fail("%s: not an event id: %s (ids look like evt_ and 26 letters and digits)",
                    cmd->name, replay_clean(o->args[0], clean, sizeof(clean)));
        return REPLAY_EXIT_USAGE;
    }
    return 0;
}

int replay_cmd_show(const struct replay_cmd *cmd, struct replay_opts *o)
{
    struct hw_store_event *ev = NULL;
    struct hw_store_attempts at = { 0 };
    int rc = replay_one_id(cmd, o), err;

    if (rc)
        return rc;
    if (o->body && o->json) {
        replay_fail("show: --body or --json, not both (see hookwire-replay show --help)");
        return REPLAY_EXIT_USAGE;
    }
    err = hw_store_inspect(o->st, o->args[0], &ev, &at);
    if (err == HW_ENOTFOUND) {
        replay_fail("show: no event %s in %s", o->args[0], hw_store_name(o->st));
        return REPLAY_EXIT_ERR;
    }
    if (err)
        return replay_db_fail(o, err, "show");
    if (o->body)
        rc = write_body(ev);
    else if (o->json)
        replay_json_show(stdout, ev, &at);
    else
        replay_show_page(stdout, ev, &at);
    hw_store_event_free(ev);
    hw_store_attempts_cleanup(&at);
    if (fflush(stdout) != 0)
        rc = REPLAY_EXIT_ERR;
    return rc;
}
