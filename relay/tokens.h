#ifndef RELAY_TOKENS_H
#define RELAY_TOKENS_H

/*
 * Agent tokens: one per channel, stored only as a SHA-256 hash in the
 * relay's store (a SQLite table for now). The `token` subcommands and the
 * tunnel's authentication both use this. Service thread, or the CLI.
 */
#include <stddef.h>

struct relay_tokens;

/* Opens the store at url ("sqlite:PATH"). 0, or an error printed to stderr. */
int relay_tokens_open(const char *url, struct relay_tokens **out);
void relay_tokens_close(struct relay_tokens *t);

/*
 * Finds the channel a bearer token belongs to. Copies its name into
 * channel (cap bytes). Returns 0, HW_ENOTFOUND, or HW_EIO.
 */
int relay_tokens_lookup(struct relay_tokens *t, const char *token, size_t token_len, char *channel,
                        size_t cap);

/* Says whether the channel has a token (so it exists). 1, 0, or HW_EIO. */
int relay_tokens_channel_exists(struct relay_tokens *t, const char *channel);

/*
 * Runs "token add|list|revoke ..." from argv (argv[0] == "token").
 * Returns the process exit status.
 */
int relay_tokens_command(const char *url, int argc, char **argv);

#endif
