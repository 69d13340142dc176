#ifndef REPLAY_DB_H
#define REPLAY_DB_H

/*
 * The replay CLI's store: opened from the URL the command line names, and
 * the one line said for each way a store call can fail (a bad URL, an
 * unreachable MySQL, a schema newer than this binary). Main thread.
 */
#include "cli.h"
#include "store/store.h"

/*
 * Opens the store for o (synchronous use only) into o->st. Returns 0, or an
 * exit status after printing one line: REPLAY_EXIT_USAGE when no store was
 * named or its URL is malformed, REPLAY_EXIT_ERR when it cannot be opened.
 */
int replay_db_open(struct replay_opts *o);

/*
 * Prints one line for err from a store call ("what: reason"), naming the
 * store (without its password). Returns REPLAY_EXIT_ERR.
 */
int replay_db_fail(const struct replay_opts *o, int err, const char *what);

#endif
