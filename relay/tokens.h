#ifndef RELAY_TOKENS_H
#define RELAY_TOKENS_H

/*
 * Agent tokens: one per channel, kept in the relay's event store (SQLite or
 * MySQL, common/store/store.h) only as a SHA-256 hash. The `token` subcommands and
 * the tunnel's authentication both use this. The relay answers from memory:
 * a copy of the token table read every 200 ms through the store thread, so
 * a slow or hung database never stops the service thread. Service thread,
 * or the CLI.
 */
#include <stddef.h>

struct relay_tokens;
struct hw_store;
struct relay;

/* Wraps an open store (borrowed; opened with relay_store_wake). NULL when out of memory. */
struct relay_tokens *relay_tokens_new(struct hw_store *store);

/*
 * Reads the table once (at start-up, before the loop runs: waiting is
 * harmless there) and starts the periodic refresh on r's context. After
 * each refresh, a connected agent whose channel no longer has a token is
 * disconnected (a revoke takes effect within REFRESH_MS). Returns 0. Main
 * thread.
 */
int relay_tokens_start(struct relay_tokens *t, struct relay *r);

/* Stops the refresh timer (before the store closes). NULL is ignored. */
void relay_tokens_stop(struct relay_tokens *t);

/* Frees t; a read still in flight frees it when the store closes. NULL is ignored. */
void relay_tokens_free(struct relay_tokens *t);

/* The store's wake function for the relay (arg: struct relay *): wakes its lws loop. */
void relay_store_wake(void *arg);

/*
 * Finds the channel a bearer token belongs to, in memory; never waits.
 * Copies its name into channel (cap bytes). Returns 0; HW_ENOTFOUND when
 * the table, read within the last second, does not know it; HW_EUNAVAIL
 * when the table is older than that (the store is slow or down: answer 503
 * so the agent retries) and a new read is queued.
 */
int relay_tokens_lookup(struct relay_tokens *t, const char *token, size_t token_len, char *channel,
                        size_t cap);

/*
 * Says whether the channel has a token (so it exists), in memory: 1, 0, or
 * HW_EUNAVAIL as for relay_tokens_lookup().
 */
int relay_tokens_channel_exists(struct relay_tokens *t, const char *channel);

/*
 * Runs "token add|list|revoke ..." from argv (argv[0] == "token") against
 * cfg's store. add prints the token alone on stdout, then the webhook URL and
 * the agent command on stderr; list prints "channel TAB created TAB agent",
 * the agent column asked of the running relay (live.h). Returns the process
 * exit status.
 */
struct relay_config;
int relay_tokens_command(const struct relay_config *cfg, int argc, char **argv);

#endif
