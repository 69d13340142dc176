#ifndef RELAY_CHANNELS_H
#define RELAY_CHANNELS_H

/*
 * The channel registry: which connected agent serves which channel. One
 * agent per channel (claim.c decides who may take a held one). Service
 * thread only.
 */
#include <stddef.h>

struct relay_agent;
struct relay_channels;

struct relay_channels *relay_channels_new(void);
void relay_channels_free(struct relay_channels *c);

/* The agent serving channel name[0..len), or NULL. */
struct relay_agent *relay_channels_get(struct relay_channels *c, const char *name, size_t len);

/*
 * Makes agent the one serving name. Returns the agent it replaced, or NULL.
 * Returns NULL and does nothing when out of memory (HW_ENOMEM in *err).
 */
struct relay_agent *relay_channels_set(struct relay_channels *c, const char *name,
                                       struct relay_agent *agent, int *err);

/* Removes name's entry if agent is the one serving it. */
void relay_channels_remove(struct relay_channels *c, const char *name, struct relay_agent *agent);

/* Calls fn for every connected channel, in no particular order; fn may remove its own entry. */
void relay_channels_foreach(struct relay_channels *c,
                            void (*fn)(void *arg, const char *name, struct relay_agent *a),
                            void *arg);

size_t relay_channels_count(const struct relay_channels *c);

#endif
