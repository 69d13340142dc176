#ifndef RELAY_LIVE_H
#define RELAY_LIVE_H

/*
 * Which channels have an agent connected, asked of the running relay: the
 * `token` subcommand is another process, and only the relay holds its
 * tunnels, so `token list` asks it over its tunnel port (GET /agents, which
 * answers clients on this machine only). Main thread of the CLI, blocking
 * with a deadline.
 */
#include <stddef.h>
#include <stdint.h>

#include "config.h"

struct relay_live_agent {
    char channel[64];
    char addr[64];    /* the agent's "IP:PORT" */
    int64_t since_ms; /* its connect time, ms since the epoch */
};

/*
 * Asks the relay configured by cfg (its --tunnel-listen port, on this
 * machine) for its connected agents. On success returns 0 with *out
 * (malloc'd, *n rows); otherwise a negative HW_E* code with a reason in why
 * (the relay is not running, answers without /agents, uses TLS, ...).
 */
int relay_live_ask(const struct relay_config *cfg, struct relay_live_agent **out, size_t *n,
                   char *why, size_t cap);

#endif
