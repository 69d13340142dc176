/*
 * hookwire-replay: find, inspect and re-deliver the webhooks in an event
 * store. Wiring only: the command table (commands.c), the command line
 * (cli.c), the store (db.c), then the command. Main thread; single-threaded.
 */
#include <mysql.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "core/clock.h"
#include "core/log.h"
#include "db.h"
#include "net/version.h"
#include "when.h"

/* Options given before the command ("--store URL list") apply as if given after it. */
static int leading_option(char **argv, int argc, int i, struct replay_opts *o)
{
    const char *a = argv[i];

    if (!strcmp(a, "--verbose")) {
        o->verbose = 1;
        return 1;
    }
    if ((!strcmp(a, "--store") || !strcmp(a, "--config")) && i + 1 < argc) {
        *(a[2] == 's' ? &o->store : &o->config) = argv[i + 1];
        return 2;
    }
    if (!strncmp(a, "--store=", 8) || !strncmp(a, "--config=", 9)) {
        *(a[2] == 's' ? &o->store : &o->config) = strchr(a, '=') + 1;
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct replay_opts o;
    const struct replay_cmd *cmd;
    int i = 1, n, rc, done;

    hw_log_init("hookwire-replay");
    /* The store's own log lines only with --verbose: every error here is one line. */
    hw_log_level = -1;
    memset(&o, 0, sizeof(o));
    o.status = -1;
    o.limit = -1;
    while (i < argc && (n = leading_option(argv, argc, i, &o)))
        i += n;
    if (i < argc && !strcmp(argv[i], "--version")) {
        char line[512], more[128];

        snprintf(more, sizeof(more), "SQLite %s, MariaDB client %s", sqlite3_libversion(),
                 mysql_get_client_info());
        printf("%s\n", hw_version_line(line, sizeof(line), "hookwire-replay", more));
        return REPLAY_EXIT_OK;
    }
    if (i >= argc) {
        replay_cli_usage(stderr, replay_commands);
        return REPLAY_EXIT_USAGE;
    }
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h") || !strcmp(argv[i], "help")) {
        replay_cli_usage(stdout, replay_commands);
        return REPLAY_EXIT_OK;
    }
    for (cmd = replay_commands; cmd->name && strcmp(cmd->name, argv[i]); cmd++)
        ;
    if (!cmd->name) {
        replay_fail("unknown command %s (commands: list, show, retry, deliver, purge, stats; "
                    "see hookwire-replay --help)",
                    argv[i]);
        return REPLAY_EXIT_USAGE;
    }
    rc = replay_cli_parse(cmd, argc, argv, i + 1, hw_wall_ms(), &o, &done);
    if (!done) {
        if (o.verbose)
            hw_log_level = HW_LOG_INFO;
        rc = replay_db_open(&o);
        if (!rc)
            rc = cmd->run(cmd, &o);
        hw_store_close(o.st);
    }
    free(o.args);
    return rc;
}
