#ifndef RELAY_TOKENS_H
#define RELAY_TOKENS_H

/*
 * Agent tokens: one per channel, kept in the relay's event store (SQLite or
 * MySQL, common/store/store.h) only as a SHA-256 hash. The `token` subcommands and
 * the tunnel's authentication both use this. Service thread, or the CLI.
 */
#include <stddef.h>

struct relay_tokens;
struct hw_store;

/* Wraps an open store (borrowed). Returns NULL when out of memory. */
struct relay_tokens *relay_tokens_new(struct hw_store *store);
void relay_tokens_free(struct relay_tokens *t);

/*
 * Finds the channel a bearer token belongs to. Copies its name into
 * channel (cap bytes). Returns 0, HW_ENOTFOUND, or a store error
 * (HW_EUNAVAIL when MySQL is down).
 */
int relay_tokens_lookup(struct relay_tokens *t, const char *token, size_t token_len, char *channel,
                        size_t cap);

/*
 * Says whether the channel has a token (so it exists): 1, 0, or a store
 * error. Answers from a list read at most once a second, since unknown and
 * offline channels are what a flood of bad requests would ask about.
 */
int relay_tokens_channel_exists(struct relay_tokens *t, const char *channel);

/*
 * Runs "token add|list|revoke ..." from argv (argv[0] == "token") against
 * the store at url. Returns the process exit status.
 */
int relay_tokens_command(const char *url, int argc, char **argv);

#endif
