#ifndef RELAY_REFUSED_H
#define RELAY_REFUSED_H

/*
 * The webhooks the relay refused instead of delivering (a bad signature at
 * the edge, no agent with --offline reject, no answer in time), kept in
 * memory in one bounded ring so a channel's developer can see what never
 * reached the app and why (the history API's GET /api/refused). Nothing
 * here is durable: a restart forgets them. Service thread only.
 */
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

struct relay_refused;

/* Refusals kept in all, and the bytes of each one's head and body kept at most. */
#define RELAY_REFUSED_MAX      256
#define RELAY_REFUSED_HEAD_MAX 16384
#define RELAY_REFUSED_BODY_MAX 16384

/* Returns an empty ring, or NULL when out of memory. */
struct relay_refused *relay_refused_new(void);
void relay_refused_free(struct relay_refused *rf);

/*
 * Keeps one refusal of channel (borrowed, channel_len bytes): its event id,
 * the status answered, a short reason (static text), the request head as
 * received (raw, may be NULL) and its body (may be NULL), each cut to its
 * cap. The oldest refusal makes room. NULL rf or out of memory: nothing is
 * kept (a refusal is a courtesy to the developer, never a reason to fail).
 */
void relay_refused_add(struct relay_refused *rf, const char *channel, size_t channel_len,
                       const char *id, int status, const char *reason, const char *head,
                       size_t head_len, const void *body, size_t body_len);

/*
 * Appends channel's refusals, newest first, as a JSON document
 * {"refused":[{"id","at_ms","status","reason","head","body_b64","body_len",
 * "cut"}...]} to out. Returns 0 or the buffer's error.
 */
int relay_refused_json(const struct relay_refused *rf, const char *channel, struct hw_buf *out);

#endif
