#ifndef AGENT_CLAIM_H
#define AGENT_CLAIM_H

/*
 * The agent's side of "one channel, one agent": the upgrade's takeover
 * header, the relay's 409 HW_CHANNEL_BUSY (one retry when the relay asks
 * for it, then one line naming the holder and exit status 1), and a GOAWAY
 * saying another agent took the channel over (one line, exit status 1, no
 * reconnect). Service thread only.
 */
#include <libwebsockets.h>
#include <stddef.h>

struct agent;

/*
 * Appends "Hookwire-Takeover: 1\r\n" at *p (len bytes left) when --takeover
 * is on and this agent has not been online yet: it replaces a holder once,
 * at start, and never fights for the channel afterwards. Returns 0, or -1
 * when it does not fit.
 */
int agent_claim_append_header(struct agent *a, char **p, size_t len);

/*
 * Handles the relay's 409 to the upgrade on wsi (headers still readable):
 * sets a->retry_after_ms for the one retry the relay asked for, or logs the
 * holder and sets a->fatal.
 */
void agent_claim_on_busy(struct agent *a, struct lws *wsi);

/* Handles a GOAWAY's reason text: "taken over by ..." logs one line and sets a->fatal. */
void agent_claim_on_goaway(struct agent *a, const char *text, size_t len);

#endif
