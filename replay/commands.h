#ifndef REPLAY_COMMANDS_H
#define REPLAY_COMMANDS_H

/*
 * The replay commands: the table main() dispatches on (names, synopses,
 * help texts, accepted options) and each command's entry point. Every
 * entry point runs on the main thread with o->st open and returns an exit
 * status (cli.h).
 */
#include "cli.h"

extern const struct replay_cmd replay_commands[];

/* list: the events matching the filters, newest first, as a table or JSON lines. */
int replay_cmd_list(const struct replay_cmd *cmd, struct replay_opts *o);

/* show ID: one event with headers and attempts; --body writes the raw body. */
int replay_cmd_show(const struct replay_cmd *cmd, struct replay_opts *o);

/* retry ID... / retry --failed [filters]: requeue for the running receivers. */
int replay_cmd_retry(const struct replay_cmd *cmd, struct replay_opts *o);

/* deliver ID --to URL: one delivery now, signed as the receiver signs; the event is unchanged. */
int replay_cmd_deliver(const struct replay_cmd *cmd, struct replay_opts *o);

/* purge --before AGE: delete old delivered or failed events. */
int replay_cmd_purge(const struct replay_cmd *cmd, struct replay_opts *o);

/* stats: counts, oldest pending, last hour's failures and latency. */
int replay_cmd_stats(const struct replay_cmd *cmd, struct replay_opts *o);

/*
 * Checks that o has exactly one positional argument and that it is an event
 * id. Returns 0, or REPLAY_EXIT_USAGE after printing one line.
 */
int replay_one_id(const struct replay_cmd *cmd, const struct replay_opts *o);

/*
 * Copies o's filters into f (zeroing it first); status as given (0 for
 * any); cursor 0 and limit 0.
 */
struct hw_store_filter;
void replay_filter_from(const struct replay_opts *o, struct hw_store_filter *f);

#endif
