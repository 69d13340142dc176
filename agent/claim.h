#ifndef AGENT_CLAIM_H
#define AGENT_CLAIM_H

/*
 * The agent's side of "one channel, one agent": the upgrade's takeover
 * header, the relay's 409 HW_CHANNEL_BUSY (one retry when the relay asks
 * for it, then one line naming the holder and exit status 1), and a GOAWAY
 * saying another agent took the channel over (one line, exit status 1, no
 * reconnect). Service thread only.
 */
#include <stddef.h>

struct agent;

/*
 * The upgrade's extra header line, "Hookwire-Takeover: 1\r\n", when
 * --takeover is on and this agent has not been online yet (it replaces a
 * holder once, at start, and never fights for the channel afterwards); else
 * NULL.
 */
const char *agent_claim_header(const struct agent *a);

/*
 * Handles the relay's 409 to the upgrade (answer: its head, len bytes):
 * sets a->retry_after_ms for the one retry the relay asked for, or logs the
 * holder and sets a->fatal.
 */
void agent_claim_on_busy(struct agent *a, const char *answer, size_t len);

/* Handles a GOAWAY's reason text: "taken over by ..." logs one line and sets a->fatal. */
void agent_claim_on_goaway(struct agent *a, const char *text, size_t len);

#endif
