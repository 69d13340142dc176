#ifndef RELAY_EDGE_H
#define RELAY_EDGE_H

/*
 * Signature verification at the relay's edge: the [channel NAME] sections of
 * the config (verify = PROVIDER, secret = ..., tolerance, enforce, and the
 * generic-HMAC keys). A webhook that fails is refused with 401 HW_SIGNATURE
 * before it reaches the agent, or, with enforce = false, forwarded marked
 * Hookwire-Verified: false. Built at startup and again on SIGHUP (reload.c
 * swaps the whole set); read on the service thread.
 */
#include <stddef.h>

#include "http/http1.h"

struct relay_edge;

/* Outcome of checking one request. */
enum relay_edge_verdict {
    RELAY_EDGE_NONE,   /* the channel has no verification configured */
    RELAY_EDGE_PASS,   /* verified */
    RELAY_EDGE_MARK,   /* failed, but enforce = false: forward marked */
    RELAY_EDGE_REJECT, /* failed: answer 401 */
};

struct relay_edge *relay_edge_new(void);
void relay_edge_free(struct relay_edge *e);

/*
 * hw_opt_section_fn for the relay's config: takes keys of [channel NAME]
 * sections (ctx is the relay_edge). Returns 0 or HW_EINVAL with err set.
 */
int relay_edge_config(void *ctx, const char *where, const char *section, const char *key,
                      const char *value, char *err, size_t errlen);

/*
 * Completes every channel's configuration. Returns 0, or HW_ECONFIG with
 * the reason ("FILE:LINE: [channel NAME] ...", the line of its header) in
 * err.
 */
int relay_edge_finalize(struct relay_edge *e, char *err, size_t errlen);

/*
 * Checks a complete request for channel[0..len): base_url is the relay's
 * public base URL; head and body as received. Logs a failure's reason (never
 * a secret or signature). Returns the verdict.
 */
enum relay_edge_verdict relay_edge_check(const struct relay_edge *e, const char *channel,
                                         size_t len, const char *base_url,
                                         const struct hw_http_head *head, const void *body,
                                         size_t body_len, const char *peer);

/*
 * The offline policy of channel[0..len): its section's "offline = queue |
 * reject", or fallback (the relay's --offline). Static or borrowed string.
 */
const char *relay_edge_offline(const struct relay_edge *e, const char *channel, size_t len,
                               const char *fallback);

#endif
